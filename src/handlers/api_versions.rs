//! ApiVersions: what we serve, derived from the handler table, and from v3 the features Kafka 4
//! clients read (`transaction.version`, see `kafkaTransactionVersion`).

use std::sync::OnceLock;

use kafka_protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::clock::now_ms;
use crate::config::Config;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 4 };

/// The first version with features (tagged fields).
const FEATURES_VERSION: i16 = 3;
/// The feature whose level 2 turns transactions version 2 on in Kafka 4 clients (KIP-890).
const TRANSACTION_VERSION: &str = "transaction.version";
/// The highest `transaction.version` served.
const MAX_TRANSACTION_VERSION: i16 = 2;

/// Lists every API and version range we serve, and the finalized features.
pub async fn handle(config: &Config, ctx: &RequestContext, req: ApiVersionsRequest) -> Pending<ApiVersionsResponse> {
    let response = response(0);
    let level = if config.kafka_transaction_coordinator_enabled { config.kafka_transaction_version as i16 } else { 0 };
    if ctx.version < FEATURES_VERSION || level == 0 || misreads_features(&req) {
        return ready(response);
    }
    let name = || StrBytes::from_static_str(TRANSACTION_VERSION);
    ready(
        response
            .with_supported_features(vec![SupportedFeatureKey::default()
                .with_name(name())
                .with_min_version(0)
                .with_max_version(MAX_TRANSACTION_VERSION)])
            .with_finalized_features_epoch(features_epoch())
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name(name())
                .with_min_version_level(level)
                .with_max_version_level(level)]),
    )
}

/// The response, with `error_code`.
pub fn response(error_code: i16) -> ApiVersionsResponse {
    let api_keys = super::supported_apis()
        .into_iter()
        .map(|(key, range)| {
            ApiVersion::default().with_api_key(key as i16).with_min_version(range.min).with_max_version(range.max)
        })
        .collect();
    ApiVersionsResponse::default().with_error_code(error_code).with_api_keys(api_keys)
}

/// Features change only with the configuration, so at a restart: the process's start time is
/// an epoch that only grows, and clients take the features of the highest epoch they saw.
fn features_epoch() -> i64 {
    static STARTED: OnceLock<i64> = OnceLock::new();
    *STARTED.get_or_init(now_ms)
}

/// Whether the client is librdkafka before 2.2 (or a client built on it), which misreads
/// non-default tagged fields in this response. librdkafka names itself in the client software
/// name, or its wrappers put `rdkafka-<version>` in the software version
/// (`confluent-kafka-python` sends `2.6.1-rdkafka-2.6.1`).
fn misreads_features(req: &ApiVersionsRequest) -> bool {
    let (name, version) = (req.client_software_name.as_str(), req.client_software_version.as_str());
    let rdkafka = match version.split_once("rdkafka-") {
        Some((_, v)) => v,
        None if name.contains("rdkafka") => version,
        None => return false,
    };
    let mut parts = rdkafka.trim_start_matches('v').split(|c: char| !c.is_ascii_digit());
    let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok());
    match (number(), number()) {
        (Some(major), Some(minor)) => (major, minor) < (2, 2),
        // A version that does not read: assume the old one.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(name: &str, version: &str) -> ApiVersionsRequest {
        ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_string(name.to_string()))
            .with_client_software_version(StrBytes::from_string(version.to_string()))
    }

    #[test]
    fn old_librdkafka_is_recognised_however_it_is_wrapped() {
        assert!(misreads_features(&asking("librdkafka", "2.0.2")));
        assert!(misreads_features(&asking("librdkafka", "v1.9.0")));
        assert!(!misreads_features(&asking("librdkafka", "2.2.0")));
        assert!(!misreads_features(&asking("confluent-kafka-python", "2.6.1-rdkafka-2.6.1")));
        assert!(misreads_features(&asking("confluent-kafka-python", "1.9.2-rdkafka-1.9.2")));
        assert!(misreads_features(&asking("rust-rdkafka", "unknown")));
        assert!(!misreads_features(&asking("apache-kafka-java", "4.4.0")));
        assert!(!misreads_features(&asking("kgo", "v1.18.0")));
        assert!(!misreads_features(&asking("", "")));
    }
}
