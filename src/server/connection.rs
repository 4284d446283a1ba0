//! One client connection: a reader that decodes requests and runs their ordered part, and a
//! writer that sends responses in request order as they complete.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::future::FutureExt;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};

use crate::broker::Broker;
use crate::handlers::sasl::Session;
use crate::handlers::{self, api_versions, Completion, DispatchError};
use crate::protocol::frame::{Frame, FrameError, FrameReader, ReadLimits};
use crate::protocol::response::{self, EncodeError};

/// Why a connection was closed by us.
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    /// The frame itself: its size, or the client stalled or went idle.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// An API or version we do not serve, or a body that does not decode.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The request header does not decode.
    #[error("malformed request header: {0}")]
    Header(anyhow::Error),
    /// A response could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A request other than SASL or ApiVersions on a connection that has not authenticated.
    #[error("{0:?} request before SASL authentication")]
    Unauthenticated(ApiKey),
}

/// Serves a client (the two halves of its plain or TLS stream) until it leaves, sends something
/// we must refuse, or `shutdown` fires.
pub async fn serve<R, W>(
    broker: Arc<Broker>,
    read: R,
    write: W,
    peer: SocketAddr,
    limits: ReadLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (queue, pending) = mpsc::channel::<Completion>(broker.config().max_queued_requests);
    let writer = tokio::spawn(write_responses(write, pending, peer));
    let mut frames = FrameReader::new(read, limits);
    let config = broker.config();
    let session = Arc::new(Session::new(config.sasl_required()).with_super_users(config.super_users()));
    loop {
        let frame = tokio::select! {
            frame = frames.next() => frame,
            _ = shutdown.changed() => break,
        };
        let completion = match frame {
            Ok(None) => break,
            Ok(Some(Frame { bytes, permit })) => handle_frame(&broker, peer, &session, bytes).await.map(|done| {
                // The request's bytes count against the budget until its response is ready.
                async move {
                    let out = done.await;
                    drop(permit);
                    out
                }
                .boxed()
            }),
            Err(e) => Err(e.into()),
        };
        match completion {
            Ok(completion) => {
                if queue.send(completion).await.is_err() {
                    break; // the writer is gone: the client stopped reading
                }
                if session.should_close() {
                    tracing::debug!(%peer, "closing connection after failed authentication");
                    break;
                }
            }
            Err(CloseReason::Frame(FrameError::Idle(idle))) => {
                tracing::debug!(%peer, ?idle, "closing idle connection");
                break;
            }
            Err(reason) => {
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
        }
    }
    drop(queue);
    if let Err(e) = writer.await {
        tracing::error!(%peer, error = %e, "response writer failed");
    }
}

/// Reads one request frame (the bytes after its size) and runs its handler's ordered part; the
/// connection's whole input path after framing, and the fuzzer's way in.
pub async fn handle_frame(
    broker: &Arc<Broker>,
    peer: SocketAddr,
    session: &Arc<Session>,
    frame: Bytes,
) -> Result<Completion, CloseReason> {
    if frame.len() < 8 {
        return Err(CloseReason::Header(anyhow::anyhow!("a frame of {} bytes holds no request header", frame.len())));
    }
    let mut peek = &frame[..];
    let (api_key, version, correlation_id) = (peek.get_i16(), peek.get_i16(), peek.get_i32());
    if api_key == ApiKey::ApiVersions as i16 && version > api_versions::VERSIONS.max {
        // A newer client: answer in v0 with the versions we have, so it can pick one.
        let body = api_versions::response(ResponseError::UnsupportedVersion.code());
        let encoded = response::encode(ApiKey::ApiVersions, 0, correlation_id, &body)?;
        return Ok(futures::future::ready(Ok(Some(encoded))).boxed());
    }
    let unsupported = || DispatchError::Unsupported { api_key, version };
    let api = ApiKey::try_from(api_key).map_err(|_| unsupported())?;
    tracing::trace!(%peer, ?api, version, correlation_id, "request");
    if !session.allows(api) {
        return Err(CloseReason::Unauthenticated(api));
    }
    let mut body = frame;
    let header =
        crate::protocol::bounded::decode_prefix::<RequestHeader>(&mut body, api.request_header_version(version))
            .map_err(CloseReason::Header)?;
    Ok(handlers::dispatch(broker, peer, session, header, body).await?)
}

async fn write_responses<W: AsyncWrite + Unpin>(write: W, mut pending: mpsc::Receiver<Completion>, peer: SocketAddr) {
    let mut out = BufWriter::with_capacity(64 * 1024, write);
    while let Some(completion) = pending.recv().await {
        let result = match completion.await {
            Ok(Some(frame)) => {
                tracing::trace!(%peer, bytes = frame.len(), "response written");
                out.write_all(&frame).await
            }
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::error!(%peer, error = %e, "cannot encode response; closing connection");
                break;
            }
        };
        let result = match result {
            Ok(()) if pending.is_empty() => out.flush().await,
            other => other,
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "client went away");
            return;
        }
    }
    let _ = out.flush().await;
    let _ = out.shutdown().await;
}
