//! The one place where host failures become Kafka error codes. (Decode, batch and SASL errors
//! carry their own codes where they are defined, in `protocol`; the shim's failures arrive
//! classified by exception type and become `HostError`s in `host::pulsar`.)

use kafka_protocol::error::ResponseError;

use super::HostError;

/// The Kafka error a host failure is reported as.
pub fn host_error(e: &HostError) -> ResponseError {
    match e {
        HostError::UnknownTopic(_) => ResponseError::UnknownTopicOrPartition,
        HostError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        HostError::Invalid(_) => ResponseError::InvalidRequest,
        HostError::InvalidConfig(_) => ResponseError::InvalidConfig,
        HostError::Closed | HostError::NotOwner(_) => ResponseError::NotLeaderOrFollower,
        HostError::TooLarge(_) => ResponseError::MessageTooLarge,
        // No Kafka code says "read-only"; this one is not retried, so producers fail at once.
        HostError::Terminated(_) => ResponseError::InvalidTopicException,
        HostError::Storage(_) | HostError::Corrupt(_) => ResponseError::KafkaStorageError,
    }
}
