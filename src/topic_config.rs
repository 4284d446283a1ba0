//! Topic-level configs: the Kafka names a client may set, checked and typed once, and described
//! back with their defaults (DescribeConfigs).

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
    /// `cleanup.policy` includes `compact`: every record must have a key.
    pub compacted: bool,
    /// `cleanup.policy` includes `delete` (the default): retention and DeleteRecords may remove
    /// old records.
    pub deletes: bool,
    /// `message.timestamp.type=LogAppendTime`: the broker stamps each batch with the time it
    /// appends it, and every record in it reads that time.
    pub log_append_time: bool,
}

/// A config's type, numbered as DescribeConfigs v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum Kind {
    /// `true` or `false`.
    Boolean = 1,
    /// Free text.
    String = 2,
    /// A 32-bit integer.
    Int = 3,
    /// A 64-bit integer.
    Long = 5,
    /// A floating-point number.
    Double = 6,
    /// A comma-separated list.
    List = 7,
}

/// Where a described value comes from, numbered as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum Source {
    /// Set on the topic.
    Topic = 1,
    /// Set in the broker's configuration.
    StaticBroker = 4,
    /// The built-in default.
    Default = 5,
}

/// Where a config's value comes from when the topic does not set it.
#[derive(Debug, Clone, Copy)]
enum Fallback {
    /// Kafka's fixed default.
    Fixed(&'static str),
    /// The broker's setting, under this Kafka broker config name.
    Broker(&'static str),
}

/// One topic config this broker knows.
struct Spec {
    name: &'static str,
    kind: Kind,
    fallback: Fallback,
    /// The only values accepted, where the broker supports a subset.
    values: Option<&'static [&'static str]>,
    doc: &'static str,
}

const fn spec(name: &'static str, kind: Kind, fallback: Fallback, doc: &'static str) -> Spec {
    Spec { name, kind, fallback, values: None, doc }
}

const fn only(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    values: &'static [&'static str],
    doc: &'static str,
) -> Spec {
    Spec { name, kind, fallback: Fallback::Fixed(default), values: Some(values), doc }
}

use Fallback::{Broker, Fixed};

const STORED: &str = "Accepted and kept; this broker has no use for it.";
const LONG_MAX: &str = "9223372036854775807";

/// Every topic config we know. The first four are acted on, and `message.timestamp.type`;
/// `cleanup.policy=compact` keeps the topic whole (no retention deletes it) without compacting it
/// yet; batches keep the producer's compression whatever `compression.type` says. The rest tune
/// replication, the cleaner or on-disk details this broker does not have.
const CATALOGUE: &[Spec] = &[
    spec(
        "retention.ms",
        Kind::Long,
        Broker("log.retention.ms"),
        "Age after which whole segments are deleted; -1 keeps them.",
    ),
    spec(
        "retention.bytes",
        Kind::Long,
        Broker("log.retention.bytes"),
        "Size per partition beyond which the oldest segments are deleted; -1 for no limit.",
    ),
    spec("segment.bytes", Kind::Int, Broker("log.segment.bytes"), "Size at which a segment (a ledger) is rolled."),
    spec("max.message.bytes", Kind::Int, Broker("message.max.bytes"), "Largest record batch accepted."),
    only(
        "cleanup.policy",
        Kind::List,
        "delete",
        &["delete", "compact", "compact,delete", "delete,compact"],
        "delete: retention removes old segments; compact: the topic is kept whole (not compacted yet).",
    ),
    only(
        "compression.type",
        Kind::String,
        "producer",
        &["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"],
        "Batches are stored as the producer compressed them.",
    ),
    only(
        "message.timestamp.type",
        Kind::String,
        "CreateTime",
        &["CreateTime", "LogAppendTime"],
        "CreateTime: records keep the producer's timestamps; LogAppendTime: the broker's append time.",
    ),
    only("unclean.leader.election.enable", Kind::Boolean, "false", &["true", "false"], STORED),
    only("preallocate", Kind::Boolean, "false", &["true", "false"], STORED),
    only("message.downconversion.enable", Kind::Boolean, "true", &["true", "false"], STORED),
    only(
        "remote.storage.enable",
        Kind::Boolean,
        "false",
        &["false"],
        "Tiered storage is Pulsar's (offload), not Kafka's.",
    ),
    spec("min.insync.replicas", Kind::Int, Fixed("1"), STORED),
    spec("delete.retention.ms", Kind::Long, Fixed("86400000"), STORED),
    spec("file.delete.delay.ms", Kind::Long, Fixed("60000"), STORED),
    spec("flush.messages", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("flush.ms", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("index.interval.bytes", Kind::Int, Fixed("4096"), STORED),
    spec("max.compaction.lag.ms", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("min.compaction.lag.ms", Kind::Long, Fixed("0"), STORED),
    spec("min.cleanable.dirty.ratio", Kind::Double, Fixed("0.5"), STORED),
    spec("message.format.version", Kind::String, Fixed("3.0-IV1"), STORED),
    spec("message.timestamp.difference.max.ms", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("message.timestamp.before.max.ms", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("message.timestamp.after.max.ms", Kind::Long, Fixed(LONG_MAX), STORED),
    spec("segment.ms", Kind::Long, Fixed("604800000"), STORED),
    spec("segment.jitter.ms", Kind::Long, Fixed("0"), STORED),
    spec("segment.index.bytes", Kind::Int, Fixed("10485760"), STORED),
    spec("local.retention.ms", Kind::Long, Fixed("-2"), STORED),
    spec("local.retention.bytes", Kind::Long, Fixed("-2"), STORED),
    spec("compression.gzip.level", Kind::Int, Fixed("-1"), STORED),
    spec("compression.lz4.level", Kind::Int, Fixed("9"), STORED),
    spec("compression.zstd.level", Kind::Int, Fixed("3"), STORED),
    spec("leader.replication.throttled.replicas", Kind::List, Fixed(""), STORED),
    spec("follower.replication.throttled.replicas", Kind::List, Fixed(""), STORED),
];

/// A rejected topic config, with the reason a client is shown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// One config as DescribeConfigs shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// Config name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Where the value comes from.
    pub source: Source,
    /// The value's type.
    pub kind: Kind,
    /// What it does here.
    pub doc: &'static str,
    /// Whether it can only be changed in the broker's configuration file.
    pub read_only: bool,
    /// The values this one overrides, most specific first, itself included (Kafka's synonyms).
    pub synonyms: Vec<(String, String, Source)>,
}

impl TopicConfig {
    /// The broker-wide defaults.
    pub fn defaults(config: &Config) -> Self {
        TopicConfig {
            retention_ms: config.log_retention_ms,
            retention_bytes: config.log_retention_bytes,
            segment_bytes: config.log_segment_bytes,
            max_message_bytes: config.max_message_size,
            compacted: false,
            deletes: true,
            log_append_time: false,
        }
    }

    /// Applies a topic's configs over `defaults`, rejecting unknown names and bad values.
    pub fn resolve(defaults: TopicConfig, configs: &BTreeMap<String, String>) -> Result<Self, InvalidConfig> {
        let mut out = defaults;
        for (key, value) in configs {
            let bad = || InvalidConfig(format!("invalid value '{value}' for config '{key}'"));
            let spec = find(key).ok_or_else(|| InvalidConfig(format!("unknown topic config '{key}'")))?;
            if !spec.accepts(value) {
                return Err(bad());
            }
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
                "message.timestamp.type" => out.log_append_time = value == "LogAppendTime",
                _ => {}
            }
        }
        if let Some(policy) = configs.get("cleanup.policy") {
            out.compacted = policy.split(',').any(|v| v.trim() == "compact");
            out.deletes = policy.split(',').any(|v| v.trim() == "delete");
        }
        // A compacted topic keeps its latest values forever; until compaction exists, keep it all.
        if out.compacted && !out.deletes {
            out.retention_ms = -1;
            out.retention_bytes = -1;
        }
        Ok(out)
    }

    /// Whether `name` is a topic config this broker knows.
    pub fn is_known(name: &str) -> bool {
        find(name).is_some()
    }

    /// Whether `name` holds a comma-separated list (IncrementalAlterConfigs APPEND/SUBTRACT).
    pub fn is_list(name: &str) -> bool {
        find(name).is_some_and(|s| s.kind == Kind::List)
    }

    /// Every known config of a topic with `configs` set, with its effective value and source;
    /// `broker` is the broker's configuration, `keys` limits the answer to those names.
    pub fn describe(broker: &Config, configs: &BTreeMap<String, String>, keys: Option<&[&str]>) -> Vec<Described> {
        let ours = TopicConfig::defaults(broker);
        let builtin = TopicConfig::defaults(&Config::default());
        CATALOGUE
            .iter()
            .filter(|s| keys.is_none_or(|k| k.contains(&s.name)))
            .map(|s| {
                let (fallback_name, fallback_value, fallback_source) = match s.fallback {
                    Fixed(v) => (s.name, v.to_string(), Source::Default),
                    Broker(synonym) => {
                        let source = if ours.value(s.name) == builtin.value(s.name) {
                            Source::Default
                        } else {
                            Source::StaticBroker
                        };
                        (synonym, ours.value(s.name), source)
                    }
                };
                let mut synonyms = Vec::new();
                if let Some(v) = configs.get(s.name) {
                    synonyms.push((s.name.to_string(), v.clone(), Source::Topic));
                }
                synonyms.push((fallback_name.to_string(), fallback_value, fallback_source));
                let (_, value, source) = synonyms[0].clone();
                Described {
                    name: s.name.to_string(),
                    value,
                    source,
                    kind: s.kind,
                    doc: s.doc,
                    read_only: false,
                    synonyms,
                }
            })
            .collect()
    }

    /// The broker-level value behind a topic config that falls back to the broker.
    fn value(&self, name: &str) -> String {
        match name {
            "retention.ms" => self.retention_ms.to_string(),
            "retention.bytes" => self.retention_bytes.to_string(),
            "segment.bytes" => self.segment_bytes.to_string(),
            _ => self.max_message_bytes.to_string(),
        }
    }
}

fn find(name: &str) -> Option<&'static Spec> {
    CATALOGUE.iter().find(|s| s.name == name)
}

impl Spec {
    fn accepts(&self, value: &str) -> bool {
        if let Some(values) = self.values {
            return values.contains(&value);
        }
        match self.kind {
            Kind::Boolean => matches!(value, "true" | "false"),
            Kind::Int => value.parse::<i32>().is_ok(),
            Kind::Long => value.parse::<i64>().is_ok(),
            Kind::Double => value.parse::<f64>().is_ok_and(f64::is_finite),
            Kind::String | Kind::List => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TopicConfig {
        TopicConfig::defaults(&Config::default())
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn overrides_apply_and_unknown_names_fail() {
        let mut configs = map(&[("retention.ms", "1000"), ("cleanup.policy", "delete")]);
        let resolved = TopicConfig::resolve(defaults(), &configs).unwrap();
        assert_eq!(resolved.retention_ms, 1000);
        configs.insert("retention.bytes".to_string(), "-7".to_string());
        assert!(TopicConfig::resolve(defaults(), &configs).is_err());
        let compacted = map(&[("cleanup.policy", "compact"), ("compression.type", "lz4")]);
        let resolved = TopicConfig::resolve(defaults(), &compacted).unwrap();
        assert_eq!((resolved.retention_ms, resolved.retention_bytes), (-1, -1), "compacted topics are kept whole");
        assert!(resolved.compacted);
        let both = TopicConfig::resolve(defaults(), &map(&[("cleanup.policy", "delete,compact")])).unwrap();
        assert!(both.compacted && both.deletes && both.retention_ms > 0);
        assert!(defaults().deletes && !defaults().compacted);
        assert!(!resolved.deletes);
        assert!(TopicConfig::resolve(defaults(), &map(&[("no.such.config", "1")])).is_err());
    }

    #[test]
    fn stored_configs_are_checked_against_their_type() {
        assert!(TopicConfig::resolve(defaults(), &map(&[("min.insync.replicas", "2")])).is_ok());
        assert!(TopicConfig::resolve(defaults(), &map(&[("min.insync.replicas", "two")])).is_err());
        assert!(TopicConfig::resolve(defaults(), &map(&[("min.cleanable.dirty.ratio", "0.3")])).is_ok());
        assert!(TopicConfig::resolve(defaults(), &map(&[("preallocate", "yes")])).is_err());
    }

    #[test]
    fn describe_names_the_source_of_each_value() {
        let broker = Config { log_retention_bytes: 1 << 30, ..Config::default() };
        let configs = map(&[("retention.ms", "5000")]);
        let described = TopicConfig::describe(&broker, &configs, None);
        assert_eq!(described.len(), CATALOGUE.len());
        let get = |name: &str| described.iter().find(|d| d.name == name).unwrap().clone();
        let retention = get("retention.ms");
        assert_eq!((retention.value.as_str(), retention.source), ("5000", Source::Topic));
        assert_eq!(retention.synonyms[1].0, "log.retention.ms");
        let bytes = get("retention.bytes");
        assert_eq!((bytes.value.as_str(), bytes.source), ("1073741824", Source::StaticBroker));
        let policy = get("cleanup.policy");
        assert_eq!((policy.value.as_str(), policy.source, policy.kind), ("delete", Source::Default, Kind::List));
        let only = TopicConfig::describe(&broker, &configs, Some(&["segment.bytes", "nope"]));
        assert_eq!(only.len(), 1);
    }
}
