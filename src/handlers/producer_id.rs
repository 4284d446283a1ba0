//! InitProducerId for idempotent producers (transactions come with the transaction coordinator).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };

/// Hands out a new producer id, or bumps the epoch of the one the producer names (KIP-360).
pub async fn handle(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    req: InitProducerIdRequest,
) -> Pending<InitProducerIdResponse> {
    let response = InitProducerIdResponse::default();
    if req.transactional_id.is_some() {
        // Without a transaction coordinator a transactional producer cannot be served.
        return ready(
            response
                .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        );
    }
    let (id, epoch) = match (req.producer_id.0, req.producer_epoch) {
        (id, epoch) if id >= 0 && (0..i16::MAX - 1).contains(&epoch) => (id, epoch + 1),
        _ => (broker.next_producer_id(), 0),
    };
    ready(response.with_producer_id(ProducerId(id)).with_producer_epoch(epoch))
}
