//! The one place where internal errors become Kafka error codes.

use kafka_protocol::error::ResponseError;

use crate::host::HostError;

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

/// Shorthand for the numeric code of `e`.
pub fn code(e: ResponseError) -> i16 {
    e.code()
}

/// The code for success.
pub const NONE: i16 = 0;
