//! kop: the Kafka protocol on Apache Pulsar's storage model, in Rust.
//!
//! One Kafka core, two hosts. [`server`] accepts Kafka clients and frames requests; [`handlers`]
//! answer them, one module per API group; [`partition`] holds the Kafka rules over each log; the
//! [`host`] traits are the seam to storage: the embedded host ([`host::embedded`], segment files
//! on local disk) for `kop serve`, and the Pulsar host reached through the Java shim.

pub mod broker;
pub mod clock;
pub mod config;
pub mod group;
pub mod handlers;
pub mod host;
pub mod jni;
#[cfg(test)]
mod layers;
pub mod names;
pub mod partition;
pub mod peers;
pub mod plugin;
pub mod protocol;
pub mod server;
pub mod standalone;
pub mod topic_config;
