//! The transport between the Pulsar host and the Java shim: calls into the broker that return at
//! once (`bridge`), their completions arriving through native callbacks (`callbacks`), and the
//! stored-entry layout both sides agree on (`entry_parts`). The shim's entry points are in
//! `plugin`.

pub mod bridge;
mod callbacks;
mod entry_parts;
