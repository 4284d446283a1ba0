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

/// Configs we accept and store, whose only meaningful value here is the one we already have
/// (a single-replica log, producer-chosen compression, delete retention).
const ACCEPTED: &[(&str, &[&str])] = &[
    ("cleanup.policy", &["delete"]),
    ("compression.type", &["producer"]),
    ("min.insync.replicas", &["1"]),
    ("message.timestamp.type", &["CreateTime"]),
    ("unclean.leader.election.enable", &["true", "false"]),
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
                other => match ACCEPTED.iter().find(|(name, _)| *name == other) {
                    Some((_, values)) if values.contains(&value.as_str()) => {}
                    Some(_) => return Err(bad()),
                    None => return Err(InvalidConfig(format!("unknown topic config '{other}'"))),
                },
            }
        }
        Ok(out)
    }

    /// Whether `name` is a topic config this broker knows.
    pub fn is_known(name: &str) -> bool {
        APPLIED.contains(&name) || ACCEPTED.iter().any(|(n, _)| *n == name)
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
        let mut unknown = BTreeMap::new();
        unknown.insert("no.such.config".to_string(), "1".to_string());
        assert!(TopicConfig::resolve(defaults(), &unknown).is_err());
    }
}
