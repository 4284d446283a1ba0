//! Kafka framing: a 4-byte big-endian size, then the request.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::budget::{Budget, Held};

/// Why a connection's byte stream cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The declared size is negative, too small for a header, or above the limit.
    #[error("frame size {size} outside 8..={max}")]
    BadSize {
        /// Declared size.
        size: i32,
        /// Configured maximum.
        max: usize,
    },
    /// The peer closed in the middle of a frame.
    #[error("connection closed mid-frame")]
    Truncated,
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// No request began within the idle timeout.
    #[error("idle for {0:?}")]
    Idle(Duration),
    /// A request did not arrive in full within the read timeout of its first byte.
    #[error("request not read in full within {0:?}")]
    Stalled(Duration),
}

/// The limits a connection's reads run under.
#[derive(Clone)]
pub struct ReadLimits {
    /// Largest frame accepted.
    pub max_size: usize,
    /// Bytes of requests being read or handled across all connections; each frame holds its
    /// size in permits from before its body is read until it is released.
    pub budget: Arc<Budget>,
    /// How long a connection may wait for its next request to begin.
    pub idle: Duration,
    /// How long a request may take to arrive once its first byte has.
    pub read: Duration,
}

/// A frame's payload, and its share of the request budget (released when dropped).
pub struct Frame {
    /// The request: header and body.
    pub bytes: Bytes,
    /// Held until the request has been handled.
    pub permit: Held,
}

/// Reads frames from a socket, reusing one buffer.
pub struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    limits: ReadLimits,
}

/// Smallest valid request: api key, version and correlation id.
const MIN_FRAME: usize = 8;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a reader that reads under `limits`.
    pub fn new(reader: R, limits: ReadLimits) -> Self {
        FrameReader { reader, buf: BytesMut::with_capacity(4096), limits }
    }

    /// The next frame, or `None` when the peer closed cleanly between frames. Memory for a
    /// frame's body is taken from the budget before any of it is read, so a size prefix alone
    /// reserves nothing, and a connection waiting for budget reads no more.
    pub async fn next(&mut self) -> Result<Option<Frame>, FrameError> {
        let mut permit: Option<Held> = None;
        let mut deadline = (!self.buf.is_empty()).then(|| Instant::now() + self.limits.read);
        loop {
            if self.buf.len() >= 4 {
                let size = (&self.buf[..4]).get_i32();
                let max = self.limits.max_size;
                let len = usize::try_from(size).ok().filter(|l| (MIN_FRAME..=max).contains(l));
                let Some(len) = len else {
                    return Err(FrameError::BadSize { size, max });
                };
                let held = match permit.take() {
                    Some(p) => p,
                    // `len` is at most maxRequestSize, which the config keeps within the budget.
                    None => self.limits.budget.take(len).await,
                };
                if self.buf.len() >= 4 + len {
                    self.buf.advance(4);
                    return Ok(Some(Frame { bytes: self.buf.split_to(len).freeze(), permit: held }));
                }
                permit = Some(held);
                self.buf.reserve(4 + len - self.buf.len());
            } else if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(4096);
            }
            let read = match deadline {
                None => tokio::time::timeout(self.limits.idle, self.reader.read_buf(&mut self.buf))
                    .await
                    .map_err(|_| FrameError::Idle(self.limits.idle))?,
                Some(at) => tokio::time::timeout_at(at, self.reader.read_buf(&mut self.buf))
                    .await
                    .map_err(|_| FrameError::Stalled(self.limits.read))?,
            };
            if read? == 0 {
                return if self.buf.is_empty() { Ok(None) } else { Err(FrameError::Truncated) };
            }
            deadline.get_or_insert_with(|| Instant::now() + self.limits.read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_size: usize) -> ReadLimits {
        ReadLimits {
            max_size,
            budget: Budget::new(1 << 20),
            idle: Duration::from_secs(5),
            read: Duration::from_secs(5),
        }
    }
    #[tokio::test]
    async fn splits_frames_and_refuses_bad_sizes() {
        let mut data = Vec::new();
        for body in [&b"12345678"[..], &b"abcdefghij"[..]] {
            data.extend_from_slice(&(body.len() as i32).to_be_bytes());
            data.extend_from_slice(body);
        }
        let mut r = FrameReader::new(&data[..], limits(100));
        assert_eq!(&r.next().await.unwrap().unwrap().bytes[..], b"12345678");
        assert_eq!(&r.next().await.unwrap().unwrap().bytes[..], b"abcdefghij");
        assert!(r.next().await.unwrap().is_none());

        let big = 1000i32.to_be_bytes();
        assert!(matches!(FrameReader::new(&big[..], limits(100)).next().await, Err(FrameError::BadSize { .. })));
        let neg = (-5i32).to_be_bytes();
        assert!(matches!(FrameReader::new(&neg[..], limits(100)).next().await, Err(FrameError::BadSize { .. })));
        let cut = [0u8, 0, 0, 20, 1, 2, 3];
        assert!(matches!(FrameReader::new(&cut[..], limits(100)).next().await, Err(FrameError::Truncated)));
    }
}
