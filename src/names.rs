//! Names and naming rules that every layer shares: Kafka's topic-name rule and the coordinators'
//! own topics. A leaf, so a host can check a name without reaching up into the core.

/// Longest legal Kafka topic name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Name of the offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Name of the transaction coordinator's log.
pub const TRANSACTION_TOPIC: &str = "__transaction_state";

/// Whether `name` is a legal Kafka topic name.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_NAME_LEN
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Whether `topic` is one of the logs the coordinators keep for themselves, which clients read
/// but never write.
pub fn is_internal(topic: &str) -> bool {
    topic == OFFSETS_TOPIC || topic == TRANSACTION_TOPIC
}

#[cfg(test)]
mod tests {
    use super::valid_topic_name;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(valid_topic_name("orders.v1_EU-2"));
        for bad in ["", ".", "..", "a b", "a/b", "ü", &"x".repeat(250)] {
            assert!(!valid_topic_name(bad), "{bad:?}");
        }
        assert!(valid_topic_name(&"x".repeat(249)));
    }
}
