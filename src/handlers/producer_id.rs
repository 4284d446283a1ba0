//! InitProducerId: a new producer id for an idempotent producer, or the epoch bump it asks for
//! (KIP-360); for a transactional producer, the transaction coordinator's id and epoch for its
//! transactional id.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;

use super::transactions::fenced_as;
use super::{ready, Pending, RequestContext};
use crate::broker::Transactions;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };

/// The first version whose clients know PRODUCER_FENCED.
const FENCED_VERSION: i16 = 4;

/// Hands out a producer id and epoch.
pub async fn handle(
    txns: &Transactions,
    ctx: &RequestContext,
    req: InitProducerIdRequest,
) -> Pending<InitProducerIdResponse> {
    let response = InitProducerIdResponse::default();
    let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
    if let Some(transactional_id) = req.transactional_id {
        let outcome = match txns.coordinator() {
            Some(coordinator) => {
                coordinator.init_producer(&transactional_id, req.transaction_timeout_ms, expected).await
            }
            // Refused at once, with the code Kafka gives a producer it may not serve.
            None => Err(ResponseError::TransactionalIdAuthorizationFailed),
        };
        return ready(match outcome {
            Ok((id, epoch)) => response.with_producer_id(ProducerId(id)).with_producer_epoch(epoch),
            Err(e) => response
                .with_error_code(fenced_as(ctx.version, FENCED_VERSION, e).code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        });
    }
    let (id, epoch) = match expected {
        Some((id, epoch)) if (0..i16::MAX - 1).contains(&epoch) => (id, epoch + 1),
        _ => (txns.next_producer_id(), 0),
    };
    ready(response.with_producer_id(ProducerId(id)).with_producer_epoch(epoch))
}
