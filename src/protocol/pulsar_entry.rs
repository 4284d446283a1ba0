//! The bytes of a Kafka batch as Pulsar stores it, and the frame we publish: one format that the
//! Pulsar host and the JNI transport (which reads entry heads for the shim's searches) share.
//!
//! Published frame (what `Topic.publishMessage` takes): `[u32 metadata size][MessageMetadata]
//! [Kafka batch]`, with `num_messages_in_batch` = record count and property `entry.format=kafka`
//! as KoP writes it. Stored entry: the broker's `AppendIndexMetadataInterceptor` prepends
//! `[0x0e02][u32 size][BrokerEntryMetadata]` whose `index` is the offset of the entry's last record.

use super::varint;
use bytes::{BufMut, Bytes, BytesMut};

const BROKER_ENTRY_METADATA_MAGIC: u16 = 0x0e02;
const CHECKSUM_MAGIC: u16 = 0x0e01;

/// What a stored entry says about its Kafka batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    /// Offset of the last record (the broker entry metadata index).
    pub last_offset: i64,
    /// Records in the batch.
    pub records: i64,
    /// Where the Kafka batch starts in the entry.
    pub payload_at: usize,
}

impl EntryInfo {
    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.last_offset - (self.records - 1)
    }
}

fn put_bytes_field(out: &mut BytesMut, field: u32, bytes: &[u8]) {
    varint::put_unsigned(out, u64::from(field << 3 | 2));
    varint::put_unsigned(out, bytes.len() as u64);
    out.put_slice(bytes);
}

fn put_varint_field(out: &mut BytesMut, field: u32, v: u64) {
    varint::put_unsigned(out, u64::from(field << 3));
    varint::put_unsigned(out, v);
}

/// The frame to publish for one Kafka batch.
pub fn publish_frame(batch: &[u8], records: u32, publish_time_ms: u64) -> Bytes {
    let mut meta = BytesMut::with_capacity(64);
    put_bytes_field(&mut meta, 1, b"kop"); // producer_name
    put_varint_field(&mut meta, 2, 0); // sequence_id
    put_varint_field(&mut meta, 3, publish_time_ms); // publish_time
    let mut property = BytesMut::with_capacity(32);
    put_bytes_field(&mut property, 1, b"entry.format");
    put_bytes_field(&mut property, 2, b"kafka");
    put_bytes_field(&mut meta, 4, &property); // properties
    put_varint_field(&mut meta, 11, u64::from(records)); // num_messages_in_batch
    let mut out = BytesMut::with_capacity(4 + meta.len() + batch.len());
    out.put_u32(meta.len() as u32);
    out.put_slice(&meta);
    out.put_slice(batch);
    out.freeze()
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Calls `f(field, varint value)` for varint fields; skips the others.
    fn fields(mut self, mut f: impl FnMut(u32, u64)) -> Option<()> {
        while self.at < self.buf.len() {
            let key = self.varint()?;
            let field = (key >> 3) as u32;
            match key & 7 {
                0 => f(field, self.varint()?),
                1 => self.at += 8,
                2 => {
                    let len = usize::try_from(self.varint()?).ok()?;
                    self.at = self.at.checked_add(len)?;
                }
                5 => self.at += 4,
                _ => return None,
            }
        }
        (self.at == self.buf.len()).then_some(())
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]) as usize)
}

/// Parses the Pulsar headers of a stored entry (or of its first bytes).
pub fn parse(entry: &[u8]) -> Option<EntryInfo> {
    if u16_at(entry, 0)? != BROKER_ENTRY_METADATA_MAGIC {
        return None;
    }
    let size = u32_at(entry, 2)?;
    let mut index = None;
    Reader { buf: entry.get(6..6 + size)?, at: 0 }.fields(|field, v| {
        if field == 2 {
            index = Some(v as i64);
        }
    })?;
    let mut at = 6 + size;
    if u16_at(entry, at)? == CHECKSUM_MAGIC {
        at += 6;
    }
    let meta_size = u32_at(entry, at)?;
    at += 4;
    let mut records = 1i64;
    Reader { buf: entry.get(at..at + meta_size)?, at: 0 }.fields(|field, v| {
        if field == 11 {
            records = v as i64;
        }
    })?;
    Some(EntryInfo { last_offset: index?, records: records.max(1), payload_at: at + meta_size })
}

/// The max timestamp in the Kafka batch header of a stored entry.
pub fn max_timestamp(entry: &[u8], info: &EntryInfo) -> Option<i64> {
    let at = info.payload_at + 35;
    let b = entry.get(at..at + 8)?;
    let mut raw = [0u8; 8];
    raw.copy_from_slice(b);
    Some(i64::from_be_bytes(raw))
}

/// What the broker's `AppendIndexMetadataInterceptor` makes of a published frame whose last
/// record gets offset `index`: for fakes of the broker in tests.
#[cfg(test)]
pub fn stored(frame: &[u8], index: i64) -> Vec<u8> {
    let mut meta = BytesMut::new();
    put_varint_field(&mut meta, 1, 1_700_000_000_000); // broker_timestamp
    put_varint_field(&mut meta, 2, index as u64);
    let mut out = BytesMut::new();
    out.put_u16(BROKER_ENTRY_METADATA_MAGIC);
    out.put_u32(meta.len() as u32);
    out.put_slice(&meta);
    out.put_slice(frame);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_publishes() {
        let mut batch = vec![0u8; 70];
        batch[35..43].copy_from_slice(&1234i64.to_be_bytes());
        let frame = publish_frame(&batch, 5, 99);
        let entry = stored(&frame, 41);
        let info = parse(&entry).unwrap();
        assert_eq!((info.base_offset(), info.last_offset, info.records), (37, 41, 5));
        assert_eq!(&entry[info.payload_at..], &batch[..]);
        assert_eq!(max_timestamp(&entry, &info), Some(1234));
        assert_eq!(parse(&frame), None, "no broker entry metadata");
        assert_eq!(parse(&entry[..9]), None, "cut short");
    }
}
