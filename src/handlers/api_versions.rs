//! ApiVersions: what we serve, derived from the handler table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::VersionRange;

use super::{ready, Pending, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 4 };

/// Lists every API and version range we serve. Tagged fields stay at their defaults: librdkafka
/// before 2.2 misreads non-default ones here.
pub async fn handle(_nothing: (), _ctx: &RequestContext, _req: ApiVersionsRequest) -> Pending<ApiVersionsResponse> {
    ready(response(0))
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
