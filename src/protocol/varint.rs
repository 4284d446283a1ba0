//! Unsigned varints (LEB128: seven bits a byte, low bits first, the high bit set on every byte
//! but the last), the encoding both Kafka's flexible versions and Pulsar's protobuf metadata use.

use bytes::{BufMut, BytesMut};

/// Appends `v` as an unsigned varint.
pub fn put_unsigned(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}
