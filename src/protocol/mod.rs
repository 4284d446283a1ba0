//! The Kafka wire format: framing, response encoding, record batches and error codes.
//! Request and response bodies themselves come from the `kafka-protocol` crate.

pub mod batch;
pub mod bounded;
pub mod budget;
pub mod control;
pub mod frame;
pub mod pulsar_entry;
pub mod records;
pub mod response;
pub mod varint;
