//! Kafka framing: a 4-byte big-endian size, then the request.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

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
}

/// Reads frames from a socket, reusing one buffer.
pub struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    max_size: usize,
}

/// Smallest valid request: api key, version and correlation id.
const MIN_FRAME: usize = 8;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a reader; frames above `max_size` are refused.
    pub fn new(reader: R, max_size: usize) -> Self {
        FrameReader { reader, buf: BytesMut::with_capacity(64 * 1024), max_size }
    }

    /// The next frame's payload, or `None` when the peer closed cleanly between frames.
    pub async fn next(&mut self) -> Result<Option<Bytes>, FrameError> {
        loop {
            if self.buf.len() >= 4 {
                let size = (&self.buf[..4]).get_i32();
                let len = usize::try_from(size).ok().filter(|l| (MIN_FRAME..=self.max_size).contains(l));
                let Some(len) = len else {
                    return Err(FrameError::BadSize { size, max: self.max_size });
                };
                if self.buf.len() >= 4 + len {
                    self.buf.advance(4);
                    return Ok(Some(self.buf.split_to(len).freeze()));
                }
                self.buf.reserve(4 + len - self.buf.len());
            } else if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(64 * 1024);
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() { Ok(None) } else { Err(FrameError::Truncated) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_frames_and_refuses_bad_sizes() {
        let mut data = Vec::new();
        for body in [&b"12345678"[..], &b"abcdefghij"[..]] {
            data.extend_from_slice(&(body.len() as i32).to_be_bytes());
            data.extend_from_slice(body);
        }
        let mut r = FrameReader::new(&data[..], 100);
        assert_eq!(&r.next().await.unwrap().unwrap()[..], b"12345678");
        assert_eq!(&r.next().await.unwrap().unwrap()[..], b"abcdefghij");
        assert!(r.next().await.unwrap().is_none());

        let big = 1000i32.to_be_bytes();
        assert!(matches!(FrameReader::new(&big[..], 100).next().await, Err(FrameError::BadSize { .. })));
        let neg = (-5i32).to_be_bytes();
        assert!(matches!(FrameReader::new(&neg[..], 100).next().await, Err(FrameError::BadSize { .. })));
        let cut = [0u8, 0, 0, 20, 1, 2, 3];
        assert!(matches!(FrameReader::new(&cut[..], 100).next().await, Err(FrameError::Truncated)));
    }
}
