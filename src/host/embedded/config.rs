//! Per-log settings of the embedded host, resolved from the broker config and topic configs.

use std::time::Duration;

use crate::config::{Config, FlushMode};
use crate::topic_config::TopicConfig;

/// When appends are forced to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Before each append is acknowledged.
    Always,
    /// By a background task at this period.
    Interval(Duration),
    /// Never by us; the OS writes back.
    Never,
}

/// Settings of one partition log.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Roll the active segment at this size.
    pub segment_bytes: u64,
    /// Time retention, -1 for none.
    pub retention_ms: i64,
    /// Size retention, -1 for none.
    pub retention_bytes: i64,
    /// Bytes between sparse index points.
    pub index_interval_bytes: u64,
    /// Flush policy.
    pub flush: FlushPolicy,
}

impl LogConfig {
    /// Combines the broker's storage settings with a topic's resolved configs.
    pub fn new(broker: &Config, topic: &TopicConfig) -> Self {
        LogConfig {
            segment_bytes: topic.segment_bytes,
            retention_ms: topic.retention_ms,
            retention_bytes: topic.retention_bytes,
            index_interval_bytes: broker.log_index_interval_bytes.max(1),
            flush: match broker.log_flush_policy {
                FlushMode::Always => FlushPolicy::Always,
                FlushMode::Interval => FlushPolicy::Interval(broker.flush_interval()),
                FlushMode::Never => FlushPolicy::Never,
            },
        }
    }
}
