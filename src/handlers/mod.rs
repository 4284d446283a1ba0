//! Request handlers, one module per Kafka API group, and the dispatcher that routes to them.
//!
//! Every handler is `async fn handle(part, ctx, request) -> Pending<Option<Response>>`, where
//! `part` is the piece of the broker it uses, named in its table row (see [`parts`]): the data
//! path gets the topic registry, group APIs the group coordinator, producer-id and transaction
//! APIs the broker's `Transactions` (so does Produce, whose transactional batches may join their
//! transaction), and only the APIs that answer for the cluster (Metadata,
//! topics, configs, FindCoordinator) the whole broker. So a handler's signature says what it can
//! touch, and its unit test builds no more than that. The
//! `async` part runs in request order on the connection (so a produce's appends are ordered);
//! the returned [`Pending`] completes later and may overlap with later requests (produce waits for
//! its appends, fetch for data). `None` means no response is sent (produce with `acks=0`).
//!
//! The API table below is the single source of what we serve: ApiVersions answers from it.

pub mod add_partitions;
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
pub mod producers;
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
    ($($key:ident => $request:ident, $versions:path, $handler:path [$part:ident];)*) => {
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
                    let pending = $handler(parts::$part(broker), &ctx, request).await;
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
    Produce => ProduceRequest, produce::VERSIONS, produce::handle [transactions];
    Fetch => FetchRequest, fetch::VERSIONS, fetch::handle [topics];
    ListOffsets => ListOffsetsRequest, list_offsets::VERSIONS, list_offsets::handle [topics];
    Metadata => MetadataRequest, metadata::VERSIONS, metadata::handle [cluster];
    ApiVersions => ApiVersionsRequest, api_versions::VERSIONS, api_versions::handle [config];
    CreateTopics => CreateTopicsRequest, topics::CREATE_VERSIONS, topics::create [cluster];
    DeleteTopics => DeleteTopicsRequest, topics::DELETE_VERSIONS, topics::delete [cluster];
    DeleteRecords => DeleteRecordsRequest, delete_records::VERSIONS, delete_records::handle [topics];
    CreatePartitions => CreatePartitionsRequest, topics::CREATE_PARTITIONS_VERSIONS, topics::create_partitions [cluster];
    InitProducerId => InitProducerIdRequest, producer_id::VERSIONS, producer_id::handle [transactions];
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, list_offsets::EPOCH_VERSIONS, list_offsets::leader_epoch [topics];
    FindCoordinator => FindCoordinatorRequest, groups::FIND_COORDINATOR_VERSIONS, groups::find_coordinator [cluster];
    JoinGroup => JoinGroupRequest, groups::JOIN_VERSIONS, groups::join [groups];
    SyncGroup => SyncGroupRequest, groups::SYNC_VERSIONS, groups::sync [groups];
    Heartbeat => HeartbeatRequest, groups::HEARTBEAT_VERSIONS, groups::heartbeat [groups];
    LeaveGroup => LeaveGroupRequest, groups::LEAVE_VERSIONS, groups::leave [groups];
    DescribeGroups => DescribeGroupsRequest, groups::DESCRIBE_VERSIONS, groups::describe [groups];
    ListGroups => ListGroupsRequest, groups::LIST_VERSIONS, groups::list [groups];
    DeleteGroups => DeleteGroupsRequest, groups::DELETE_VERSIONS, groups::delete [groups];
    OffsetCommit => OffsetCommitRequest, offsets::COMMIT_VERSIONS, offsets::commit [groups];
    OffsetFetch => OffsetFetchRequest, offsets::FETCH_VERSIONS, offsets::fetch [groups];
    OffsetDelete => OffsetDeleteRequest, offsets::DELETE_VERSIONS, offsets::delete [groups];
    DescribeConfigs => DescribeConfigsRequest, configs::DESCRIBE_VERSIONS, configs::describe [cluster];
    AlterConfigs => AlterConfigsRequest, configs::ALTER_VERSIONS, configs::alter [cluster];
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        configs::INCREMENTAL_ALTER_VERSIONS, configs::incremental_alter [cluster];
    SaslHandshake => SaslHandshakeRequest, sasl::HANDSHAKE_VERSIONS, sasl::handshake [config];
    SaslAuthenticate => SaslAuthenticateRequest, sasl::AUTHENTICATE_VERSIONS, sasl::authenticate [auth];
    AddPartitionsToTxn => AddPartitionsToTxnRequest, add_partitions::VERSIONS, add_partitions::handle [transactions];
    AddOffsetsToTxn => AddOffsetsToTxnRequest, transactions::ADD_OFFSETS_VERSIONS, transactions::add_offsets [transactions];
    TxnOffsetCommit => TxnOffsetCommitRequest,
        transactions::TXN_OFFSET_COMMIT_VERSIONS, transactions::txn_offset_commit [transactions];
    EndTxn => EndTxnRequest, transactions::END_TXN_VERSIONS, transactions::end_txn [transactions];
    ListTransactions => ListTransactionsRequest, transactions::LIST_VERSIONS, transactions::list [transactions];
    DescribeTransactions => DescribeTransactionsRequest, transactions::DESCRIBE_VERSIONS, transactions::describe [transactions];
    WriteTxnMarkers => WriteTxnMarkersRequest, txn_markers::VERSIONS, txn_markers::handle [transactions];
    DescribeProducers => DescribeProducersRequest, producers::VERSIONS, producers::describe [topics];
}

/// What each handler is given, as the table names it: the part of the broker it uses.
pub mod parts {
    use std::sync::Arc;

    use crate::broker::{Broker, Transactions};
    use crate::config::Config;
    use crate::group::GroupCoordinator;
    use crate::host::Authenticator;
    use crate::partition::TopicRegistry;

    /// The partitions of open topics (the data path).
    pub fn topics(broker: &Arc<Broker>) -> &Arc<TopicRegistry> {
        broker.topics()
    }

    /// Consumer groups and their offsets.
    pub fn groups(broker: &Arc<Broker>) -> &Arc<GroupCoordinator> {
        broker.groups()
    }

    /// Producer ids and transactions, and the partitions they write to (Produce: a batch of
    /// transactions version 2 joins its transaction as it is appended).
    pub fn transactions(broker: &Arc<Broker>) -> &Transactions {
        broker.transactions()
    }

    /// The configuration (which SASL mechanisms are offered, which features are announced).
    pub fn config(broker: &Arc<Broker>) -> &Config {
        broker.config()
    }

    /// The SASL authenticator.
    pub fn auth(broker: &Arc<Broker>) -> &Arc<dyn Authenticator> {
        broker.auth()
    }

    /// The whole broker, for the APIs that answer for the cluster: topics, owners, peers, config.
    pub fn cluster(broker: &Arc<Broker>) -> &Arc<Broker> {
        broker
    }
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
