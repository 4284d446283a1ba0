//! Response framing: size, header (v0 or flexible v1), body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion};

/// A response that could not be encoded (a bug, or a value out of the protocol's range).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {api:?} v{version} response: {source}")]
pub struct EncodeError {
    /// Which API.
    pub api: ApiKey,
    /// Which version.
    pub version: i16,
    /// What the encoder said.
    pub source: anyhow::Error,
}

/// Encodes a full response frame for `body` at `version`.
pub fn encode<R: Encodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, EncodeError> {
    let fail = |source| EncodeError { api, version, source };
    let header_version = R::header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = header.compute_size(header_version).map_err(fail)? + body.compute_size(version).map_err(fail)?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header.encode(&mut buf, header_version).map_err(fail)?;
    body.encode(&mut buf, version).map_err(fail)?;
    // A frame whose length prefix disagrees with its body would leave the client waiting for
    // bytes that never come.
    if buf.len() != 4 + size {
        return Err(fail(anyhow::anyhow!("encoded {} bytes, announced {size}", buf.len() - 4)));
    }
    Ok(buf.freeze())
}
