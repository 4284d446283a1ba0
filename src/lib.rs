//! kop: the Kafka protocol on Apache Pulsar's storage model, in Rust.
//!
//! One Kafka core, two hosts. The core speaks Kafka; a host gives it storage, topic ownership,
//! admin and authentication. Inside a Pulsar broker the host is the Java shim, reached through
//! JNI; as `kop serve`, it is an embedded engine of segment files in the same process.
//!
//! # Layers
//!
//! Each layer uses only those below it (the `layers` test holds every `crate::` path to this):
//!
//! - entry points: [`standalone`] (`kop serve`) and [`plugin`] (what the Pulsar shim calls);
//! - [`server`]: the listener, connections, framing and pipelined responses;
//! - [`handlers`]: one module per API group, and the API table ApiVersions is derived from;
//! - [`broker`]: what the handlers share (config, topics, coordinators, peers), handed out in
//!   parts: each handler takes the part it uses (`handlers::parts`);
//! - the coordinators: [`txn`] (the transaction coordinator over `__transaction_state`: producer
//!   ids and epochs, transactions, their markers and timeouts), which uses [`group`] (the group
//!   coordinator: its client API and the offsets log it keeps) to commit offsets sent to a
//!   transaction;
//! - [`partition`]: Kafka's rules over one log (offsets, reads, long-poll wake-ups, idempotent
//!   producers, open and aborted transactions and the last stable offset), the topic registry,
//!   and what both coordinators build on: a coordinator's log (`internal_log`) and the ownership
//!   of its partitions (`ownership`);
//! - [`host`]: the seam, the `Log` and `TopicStore` traits, `HostError` and its Kafka codes, and
//!   the in-memory host for tests;
//! - the hosts: [`host::embedded`], and [`host::pulsar`], which asks its broker through the
//!   `BrokerCalls` trait: the JNI transport [`jni`] answers it from the Java shim, a fake broker
//!   in memory answers it in unit tests;
//! - leaves any layer may use: [`protocol`] (bounded decoding, batches, records, formats),
//!   [`config`], [`topic_config`], [`names`], [`clock`], [`peers`], [`tls`].
//!
//! # The path of a Produce
//!
//! 1. `server/connection.rs`: `handle_frame` takes a frame off the socket within the request
//!    budget, decodes it with bounded allocations and dispatches it; responses go back in order.
//! 2. `handlers/produce.rs`: `handle` checks acks, topics and each partition's batch
//!    (`protocol::batch::validate`), and waits on every partition's append.
//! 3. `partition/mod.rs`: `Partition::append` applies the idempotent producer's sequence rules,
//!    assigns offsets and wakes long-polling fetches of that partition.
//! 4. `host/embedded/segment_log.rs`: the log's writer appends the batch to the active segment on
//!    a blocking thread, indexes it, syncs by the flush policy and rolls segments.
//! 5. or `host/pulsar/log.rs`: `PulsarLog::append` frames the batch as a Pulsar entry
//!    (`protocol::pulsar_entry`) and hands it to
//! 6. `jni/bridge.rs`: `Bridge` (the `BrokerCalls` of a real broker) starts the shim's
//!    `publishMessage` and returns at once; the completion comes back through `jni/callbacks.rs`.
//!
//! # Where a change goes
//!
//! A new API or version: a handler module, its row in the table in `handlers/mod.rs` (the
//! table tests check it against kafka-protocol; the row names the broker part the handler is
//! given) and its unit tests in `handlers/tests/`. A Kafka rule about a partition's data: in
//! `partition`, once, for both hosts. A new kind of host failure: a `HostError` variant and its
//! code in `host/errors.rs` (and, on Pulsar, a `Failure` kind in `host/pulsar/calls.rs` and the shim's `Failures.java`
//! row). A storage feature:
//! the `Log` or `TopicStore` trait, every host (the Pulsar one with its fake broker), and the
//! conformance suite in `host/conformance.rs`.
//! A transaction rule: the state machine in `txn/state.rs` (pure, unit-tested), its I/O in
//! `txn/mod.rs`, and what a partition must know of it in `partition/transactions.rs`.
//! A setting: `config.rs` with KoP's key name (and the shim's `ShimConfig` list), and
//! `docs/configuration.md`.

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
pub mod tls;
pub mod topic_config;
pub mod txn;
