//! Topic-level configs: the Kafka names a client may set at creation, checked and typed once.

use std::collections::BTreeMap;

use crate::config::Config;

/// Effective settings of one topic: its own configs over the broker defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicConfig {
    /// `retention.ms`: age after which whole segments are deleted; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: size per partition beyond which old segments are deleted; -1 for none.
    pub retention_bytes: i64,
    /// `segment.bytes`: size at which a segment (ledger) is rolled.
    pub segment_bytes: u64,
    /// `max.message.bytes`: largest record batch accepted.
    pub max_message_bytes: usize,
}

/// Configs we accept and act on.
const APPLIED: &[&str] = &["retention.ms", "retention.bytes", "segment.bytes", "max.message.bytes"];

/// Configs accepted with only these values. `cleanup.policy=compact` keeps the topic whole (no
/// retention deletes it) without compacting it yet; batches keep the producer's compression
/// whatever `compression.type` says; log-append timestamps are not supported.
const ACCEPTED: &[(&str, &[&str])] = &[
    ("cleanup.policy", &["delete", "compact", "compact,delete", "delete,compact"]),
    ("compression.type", &["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
    ("message.timestamp.type", &["CreateTime"]),
    ("unclean.leader.election.enable", &["true", "false"]),
    ("preallocate", &["true", "false"]),
    ("message.downconversion.enable", &["true", "false"]),
    ("remote.storage.enable", &["false"]),
];

/// Kafka topic configs accepted and stored with any value; they tune replication, the cleaner or
/// on-disk details this broker does not have.
const STORED: &[&str] = &[
    "min.insync.replicas",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "min.compaction.lag.ms",
    "min.cleanable.dirty.ratio",
    "message.format.version",
    "message.timestamp.difference.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms",
    "segment.ms",
    "segment.jitter.ms",
    "segment.index.bytes",
    "local.retention.ms",
    "local.retention.bytes",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

/// A rejected topic config, with the reason a client is shown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl TopicConfig {
    /// The broker-wide defaults.
    pub fn defaults(config: &Config) -> Self {
        TopicConfig {
            retention_ms: config.log_retention_ms,
            retention_bytes: config.log_retention_bytes,
            segment_bytes: config.log_segment_bytes,
            max_message_bytes: config.max_message_size,
        }
    }

    /// Applies a topic's configs over `defaults`, rejecting unknown names and bad values.
    pub fn resolve(defaults: TopicConfig, configs: &BTreeMap<String, String>) -> Result<Self, InvalidConfig> {
        let mut out = defaults;
        for (key, value) in configs {
            let bad = || InvalidConfig(format!("invalid value '{value}' for config '{key}'"));
            match key.as_str() {
                "retention.ms" => out.retention_ms = value.parse::<i64>().ok().filter(|v| *v >= -1).ok_or_else(bad)?,
                "retention.bytes" => {
                    out.retention_bytes = value.parse::<i64>().ok().filter(|v| *v >= -1).ok_or_else(bad)?
                }
                "segment.bytes" => {
                    out.segment_bytes = value.parse::<u64>().ok().filter(|v| *v >= 14).ok_or_else(bad)?
                }
                "max.message.bytes" => {
                    out.max_message_bytes = value.parse::<usize>().ok().filter(|v| *v > 0).ok_or_else(bad)?
                }
                other if STORED.contains(&other) => {}
                other => match ACCEPTED.iter().find(|(name, _)| *name == other) {
                    Some((_, values)) if values.contains(&value.as_str()) => {}
                    Some(_) => return Err(bad()),
                    None => return Err(InvalidConfig(format!("unknown topic config '{other}'"))),
                },
            }
        }
        // A compacted topic keeps its latest values forever; until compaction exists, keep it all.
        if configs.get("cleanup.policy").is_some_and(|p| p == "compact") {
            out.retention_ms = -1;
            out.retention_bytes = -1;
        }
        Ok(out)
    }

    /// Whether `name` is a topic config this broker knows.
    pub fn is_known(name: &str) -> bool {
        APPLIED.contains(&name) || STORED.contains(&name) || ACCEPTED.iter().any(|(n, _)| *n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TopicConfig {
        TopicConfig::defaults(&Config::default())
    }

    #[test]
    fn overrides_apply_and_unknown_names_fail() {
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "1000".to_string());
        configs.insert("cleanup.policy".to_string(), "delete".to_string());
        let resolved = TopicConfig::resolve(defaults(), &configs).unwrap();
        assert_eq!(resolved.retention_ms, 1000);
        configs.insert("retention.bytes".to_string(), "-7".to_string());
        assert!(TopicConfig::resolve(defaults(), &configs).is_err());
        let mut compacted = BTreeMap::new();
        compacted.insert("cleanup.policy".to_string(), "compact".to_string());
        compacted.insert("compression.type".to_string(), "lz4".to_string());
        let resolved = TopicConfig::resolve(defaults(), &compacted).unwrap();
        assert_eq!((resolved.retention_ms, resolved.retention_bytes), (-1, -1), "compacted topics are kept whole");
        let mut unknown = BTreeMap::new();
        unknown.insert("no.such.config".to_string(), "1".to_string());
        assert!(TopicConfig::resolve(defaults(), &unknown).is_err());
    }
}
