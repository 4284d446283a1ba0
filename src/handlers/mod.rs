//! Request handlers, one module per Kafka API group, and the dispatcher that routes to them.
//!
//! Every handler is `async fn handle(broker, ctx, request) -> Pending<Option<Response>>`. The
//! `async` part runs in request order on the connection (so a produce's appends are ordered);
//! the returned [`Pending`] completes later and may overlap with later requests (produce waits for
//! its appends, fetch for data). `None` means no response is sent (produce with `acks=0`).
//!
//! The API table below is the single source of what we serve: ApiVersions answers from it.

pub mod api_versions;
pub mod configs;
pub mod delete_records;
pub mod fetch;
pub mod groups;
pub mod list_offsets;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod sasl;
pub mod topics;
pub mod transactions;
pub mod txn_markers;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};
use kafka_protocol::messages::{self, ApiKey, RequestHeader};
use kafka_protocol::protocol::VersionRange;

use crate::broker::Broker;
use crate::protocol::response::{self, EncodeError};

/// A response still being worked on.
pub type Pending<T> = BoxFuture<'static, Option<T>>;

/// A response that is ready now.
pub fn ready<T: Send + 'static>(response: T) -> Pending<T> {
    future::ready(Some(response)).boxed()
}

/// Who is asking, from the request header.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's API version.
    pub version: i16,
    /// The client's id, if it sent one.
    pub client_id: Option<String>,
    /// The client's address as Kafka shows it (`/ip`).
    pub client_host: String,
    /// The connection's authentication state.
    pub session: Arc<sasl::Session>,
}

/// A request that cannot be served; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The API key is not one we serve at this version.
    #[error("unsupported API {api_key} v{version}")]
    Unsupported {
        /// Requested API key.
        api_key: i16,
        /// Requested version.
        version: i16,
    },
    /// The request does not decode.
    #[error("malformed {api:?} v{version} request: {source}")]
    Malformed {
        /// Which API.
        api: ApiKey,
        /// Which version.
        version: i16,
        /// What the decoder said.
        source: anyhow::Error,
    },
}

/// An encoded response frame on its way, or `None` when the request gets no response.
pub type Completion = BoxFuture<'static, Result<Option<Bytes>, EncodeError>>;

macro_rules! api_table {
    ($($key:ident => $request:ident, $versions:path, $handler:path;)*) => {
        /// Every API we serve and its version range, as the handlers declare them.
        pub fn supported_apis() -> Vec<(ApiKey, VersionRange)> {
            vec![$((ApiKey::$key, $versions)),*]
        }

        /// Decodes a request body of `api` at `version` as dispatch does, and drops it; `None` for
        /// an API not in the table. For tests and fuzzing of the decoding alone.
        pub fn decode_only(api: ApiKey, version: i16, body: &Bytes) -> Option<anyhow::Result<()>> {
            match api {
                $(ApiKey::$key => Some(crate::protocol::bounded::decode::<messages::$request>(body, version).map(drop)),)*
                _ => None,
            }
        }

        /// The versions kafka-protocol can decode for `api`'s request, for the table's range check.
        #[cfg(test)]
        pub fn decodable_versions(api: ApiKey) -> Option<VersionRange> {
            use kafka_protocol::protocol::Message;
            match api {
                $(ApiKey::$key => Some(<messages::$request as Message>::VERSIONS),)*
                _ => None,
            }
        }

        /// A default request of `api`, encoded at `version` (`None` where it cannot be).
        #[cfg(test)]
        pub fn default_request(api: ApiKey, version: i16) -> Option<Bytes> {
            use kafka_protocol::protocol::Encodable;
            let mut out = bytes::BytesMut::new();
            match api {
                $(ApiKey::$key => messages::$request::default().encode(&mut out, version).ok()?,)*
                _ => return None,
            }
            Some(out.freeze())
        }

        /// Decodes a request body and runs its handler's ordered part.
        pub async fn dispatch(
            broker: &Arc<Broker>,
            peer: std::net::SocketAddr,
            session: &Arc<sasl::Session>,
            header: RequestHeader,
            body: Bytes,
        ) -> Result<Completion, DispatchError> {
            let (api_key, version) = (header.request_api_key, header.request_api_version);
            let unsupported = DispatchError::Unsupported { api_key, version };
            let api = ApiKey::try_from(api_key).map_err(|_| unsupported)?;
            let correlation_id = header.correlation_id;
            let ctx = RequestContext {
                version,
                client_id: header.client_id.map(|s| s.to_string()),
                client_host: format!("/{}", peer.ip()),
                session: Arc::clone(session),
            };
            match api {
                $(ApiKey::$key if in_range($versions, version) => {
                    let request = crate::protocol::bounded::decode::<messages::$request>(&body, version)
                        .map_err(|source| DispatchError::Malformed { api, version, source })?;
                    let pending = $handler(broker, &ctx, request).await;
                    Ok(Box::pin(async move {
                        match pending.await {
                            Some(resp) => response::encode(api, version, correlation_id, &resp).map(Some),
                            None => Ok(None),
                        }
                    }))
                })*
                _ => Err(DispatchError::Unsupported { api_key, version }),
            }
        }
    };
}

api_table! {
    Produce => ProduceRequest, produce::VERSIONS, produce::handle;
    Fetch => FetchRequest, fetch::VERSIONS, fetch::handle;
    ListOffsets => ListOffsetsRequest, list_offsets::VERSIONS, list_offsets::handle;
    Metadata => MetadataRequest, metadata::VERSIONS, metadata::handle;
    ApiVersions => ApiVersionsRequest, api_versions::VERSIONS, api_versions::handle;
    CreateTopics => CreateTopicsRequest, topics::CREATE_VERSIONS, topics::create;
    DeleteTopics => DeleteTopicsRequest, topics::DELETE_VERSIONS, topics::delete;
    DeleteRecords => DeleteRecordsRequest, delete_records::VERSIONS, delete_records::handle;
    CreatePartitions => CreatePartitionsRequest, topics::CREATE_PARTITIONS_VERSIONS, topics::create_partitions;
    InitProducerId => InitProducerIdRequest, producer_id::VERSIONS, producer_id::handle;
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, list_offsets::EPOCH_VERSIONS, list_offsets::leader_epoch;
    FindCoordinator => FindCoordinatorRequest, groups::FIND_COORDINATOR_VERSIONS, groups::find_coordinator;
    JoinGroup => JoinGroupRequest, groups::JOIN_VERSIONS, groups::join;
    SyncGroup => SyncGroupRequest, groups::SYNC_VERSIONS, groups::sync;
    Heartbeat => HeartbeatRequest, groups::HEARTBEAT_VERSIONS, groups::heartbeat;
    LeaveGroup => LeaveGroupRequest, groups::LEAVE_VERSIONS, groups::leave;
    DescribeGroups => DescribeGroupsRequest, groups::DESCRIBE_VERSIONS, groups::describe;
    ListGroups => ListGroupsRequest, groups::LIST_VERSIONS, groups::list;
    DeleteGroups => DeleteGroupsRequest, groups::DELETE_VERSIONS, groups::delete;
    OffsetCommit => OffsetCommitRequest, offsets::COMMIT_VERSIONS, offsets::commit;
    OffsetFetch => OffsetFetchRequest, offsets::FETCH_VERSIONS, offsets::fetch;
    OffsetDelete => OffsetDeleteRequest, offsets::DELETE_VERSIONS, offsets::delete;
    DescribeConfigs => DescribeConfigsRequest, configs::DESCRIBE_VERSIONS, configs::describe;
    AlterConfigs => AlterConfigsRequest, configs::ALTER_VERSIONS, configs::alter;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        configs::INCREMENTAL_ALTER_VERSIONS, configs::incremental_alter;
    SaslHandshake => SaslHandshakeRequest, sasl::HANDSHAKE_VERSIONS, sasl::handshake;
    SaslAuthenticate => SaslAuthenticateRequest, sasl::AUTHENTICATE_VERSIONS, sasl::authenticate;
    AddPartitionsToTxn => AddPartitionsToTxnRequest,
        transactions::ADD_PARTITIONS_VERSIONS, transactions::add_partitions;
    AddOffsetsToTxn => AddOffsetsToTxnRequest, transactions::ADD_OFFSETS_VERSIONS, transactions::add_offsets;
    TxnOffsetCommit => TxnOffsetCommitRequest,
        transactions::TXN_OFFSET_COMMIT_VERSIONS, transactions::txn_offset_commit;
    EndTxn => EndTxnRequest, transactions::END_TXN_VERSIONS, transactions::end_txn;
    ListTransactions => ListTransactionsRequest, transactions::LIST_VERSIONS, transactions::list;
    DescribeTransactions => DescribeTransactionsRequest, transactions::DESCRIBE_VERSIONS, transactions::describe;
    WriteTxnMarkers => WriteTxnMarkersRequest, txn_markers::VERSIONS, txn_markers::handle;
}

/// Whether `version` lies in `range`.
pub fn in_range(range: VersionRange, version: i16) -> bool {
    (range.min..=range.max).contains(&version)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn every_served_range_is_one_the_decoder_supports() {
        for (api, served) in supported_apis() {
            let decodable = decodable_versions(api).expect("in the table");
            assert!(served.min <= served.max, "{api:?}: empty range {served:?}");
            assert!(
                decodable.min <= served.min && served.max <= decodable.max,
                "{api:?}: serves {served:?}, kafka-protocol decodes {decodable:?}"
            );
        }
    }

    #[test]
    fn each_api_is_in_the_table_once() {
        let apis = supported_apis();
        for (i, (api, _)) in apis.iter().enumerate() {
            assert!(!apis[i + 1..].iter().any(|(other, _)| other == api), "{api:?} twice");
        }
    }
}
