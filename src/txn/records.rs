//! The records of `__transaction_state`, in Kafka's own layout (`TransactionLogKey` v0 and
//! `TransactionLogValue` v0 or v1): one record per change of a transactional id, the latest wins,
//! a tombstone forgets the id.
//!
//! A state that a transactions-version-2 end left (prepared or complete, its retry still to be
//! recognised) is written as v1, whose tagged fields say so: `ClientTransactionVersion` 2, and
//! `PreviousProducerId` where the end handed out a new producer id. From those the end's own
//! producer id and epoch follow (the epoch before the current one, or the last epoch of the
//! previous producer id), so a retry that reaches a restarted coordinator is still recognised.
//! Every other state is written as v0, which earlier kop versions read too.
//!
//! Anyone who can write to the topic can put bytes there, so decoding checks every length
//! against what remains and allocates by what is present, never by a count it reads.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TxnMeta, TxnState, EXHAUSTED_EPOCH};
use crate::protocol::varint;

/// `TransactionLogValue` tags (version 1).
const TAG_PREVIOUS_PRODUCER_ID: u32 = 0;
const TAG_CLIENT_TRANSACTION_VERSION: u32 = 2;

/// The key of `transactional_id`'s records.
pub fn key(transactional_id: &str) -> Bytes {
    let mut k = BytesMut::with_capacity(4 + transactional_id.len());
    k.put_i16(0);
    put_str(&mut k, transactional_id, false);
    k.freeze()
}

/// The value recording `meta`.
pub fn value(meta: &TxnMeta) -> Bytes {
    let mut v = BytesMut::with_capacity(64);
    let flexible = meta.last_end.is_some();
    v.put_i16(if flexible { 1 } else { 0 });
    v.put_i64(meta.producer_id);
    v.put_i16(meta.epoch);
    v.put_i32(meta.timeout_ms);
    v.put_i8(meta.state.code());
    let mut by_topic: Vec<(&str, Vec<i32>)> = Vec::new();
    for (topic, partition) in &meta.partitions {
        match by_topic.last_mut() {
            Some((t, ps)) if *t == topic.as_str() => ps.push(*partition),
            _ => by_topic.push((topic.as_str(), vec![*partition])),
        }
    }
    put_count(&mut v, by_topic.len(), flexible);
    for (topic, partitions) in by_topic {
        put_str(&mut v, topic, flexible);
        put_count(&mut v, partitions.len(), flexible);
        partitions.iter().for_each(|p| v.put_i32(*p));
        if flexible {
            put_uvarint(&mut v, 0);
        }
    }
    v.put_i64(meta.updated_ms);
    v.put_i64(meta.started_ms);
    if let Some((ended_producer, _)) = meta.last_end {
        let rotated = ended_producer != meta.producer_id;
        put_uvarint(&mut v, if rotated { 2 } else { 1 });
        if rotated {
            put_uvarint(&mut v, TAG_PREVIOUS_PRODUCER_ID);
            put_uvarint(&mut v, 8);
            v.put_i64(ended_producer);
        }
        put_uvarint(&mut v, TAG_CLIENT_TRANSACTION_VERSION);
        put_uvarint(&mut v, 2);
        v.put_i16(2);
    }
    v.freeze()
}

/// The transactional id a key names.
pub fn decode_key(mut key: &[u8]) -> Option<String> {
    if key.remaining() < 2 || key.get_i16() != 0 {
        return None;
    }
    get_str(&mut key, false)
}

/// The state a value records (`None` if it does not read as one).
pub fn decode_value(mut v: &[u8]) -> Option<TxnMeta> {
    if v.remaining() < 2 + 8 + 2 + 4 + 1 + 1 {
        return None;
    }
    let flexible = match v.get_i16() {
        0 => false,
        1 => true,
        _ => return None,
    };
    let producer_id = v.get_i64();
    let epoch = v.get_i16();
    let timeout_ms = v.get_i32();
    let state = TxnState::from_code(v.get_i8())?;
    let topics = get_count(&mut v, flexible)?;
    let mut partitions = BTreeSet::new();
    for _ in 0..topics {
        let topic = get_str(&mut v, flexible)?;
        let count = get_count(&mut v, flexible)?;
        for _ in 0..count {
            if v.remaining() < 4 {
                return None;
            }
            partitions.insert((topic.clone(), v.get_i32()));
        }
        if flexible {
            read_tagged(&mut v, |_, _| Some(()))?;
        }
    }
    if v.remaining() < 16 {
        return None;
    }
    let updated_ms = v.get_i64();
    let started_ms = v.get_i64();
    let (mut previous_producer_id, mut client_version) = (-1, 0);
    if flexible {
        read_tagged(&mut v, |tag, mut data| {
            match tag {
                TAG_PREVIOUS_PRODUCER_ID if data.remaining() >= 8 => previous_producer_id = data.get_i64(),
                TAG_CLIENT_TRANSACTION_VERSION if data.remaining() >= 2 => client_version = data.get_i16(),
                TAG_PREVIOUS_PRODUCER_ID | TAG_CLIENT_TRANSACTION_VERSION => return None,
                _ => {}
            }
            Some(())
        })?;
    }
    let ended = matches!(
        state,
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::CompleteCommit | TxnState::CompleteAbort
    );
    let last_end = match (client_version >= 2 && ended, previous_producer_id) {
        (false, _) => None,
        (true, -1) => epoch.checked_sub(1).map(|before| (producer_id, before)),
        // The end used the previous producer id's epochs up: it came with the last one a
        // producer may use.
        (true, previous) => Some((previous, EXHAUSTED_EPOCH - 1)),
    };
    Some(TxnMeta { producer_id, epoch, timeout_ms, state, partitions, updated_ms, started_ms, last_end })
}

/// An array's length: an `Int32`, or in the flexible version an unsigned varint of one more.
fn put_count(out: &mut BytesMut, n: usize, flexible: bool) {
    if flexible {
        put_uvarint(out, n as u32 + 1);
    } else {
        out.put_i32(n as i32);
    }
}

/// An array's length; a null array reads as empty. Only the caller's loop, bounded by what
/// remains, ever spends it.
fn get_count(buf: &mut &[u8], flexible: bool) -> Option<u32> {
    if flexible {
        return Some(get_uvarint(buf)?.saturating_sub(1));
    }
    if buf.remaining() < 4 {
        return None;
    }
    Some(buf.get_i32().max(0) as u32)
}

fn put_uvarint(out: &mut BytesMut, v: u32) {
    varint::put_unsigned(out, u64::from(v));
}

fn get_uvarint(buf: &mut &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for shift in [0, 7, 14, 21, 28] {
        if !buf.has_remaining() {
            return None;
        }
        let b = buf.get_u8();
        v |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Reads a tagged-field section, handing each field's tag and bytes to `field`.
fn read_tagged(buf: &mut &[u8], mut field: impl FnMut(u32, &[u8]) -> Option<()>) -> Option<()> {
    let count = get_uvarint(buf)?;
    for _ in 0..count {
        let tag = get_uvarint(buf)?;
        let size = usize::try_from(get_uvarint(buf)?).ok()?;
        if buf.remaining() < size {
            return None;
        }
        field(tag, &buf[..size])?;
        buf.advance(size);
    }
    Some(())
}

fn put_str(out: &mut BytesMut, s: &str, flexible: bool) {
    let len = s.len().min(i16::MAX as usize);
    if flexible {
        put_uvarint(out, len as u32 + 1);
    } else {
        out.put_i16(len as i16);
    }
    out.put_slice(&s.as_bytes()[..len]);
}

fn get_str(buf: &mut &[u8], flexible: bool) -> Option<String> {
    let len = if flexible {
        usize::try_from(get_uvarint(buf)?.checked_sub(1)?).ok()?
    } else {
        if buf.remaining() < 2 {
            return None;
        }
        usize::try_from(buf.get_i16()).ok()?
    };
    if buf.remaining() < len {
        return None;
    }
    let s = std::str::from_utf8(&buf[..len]).ok()?.to_string();
    buf.advance(len);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        let meta = TxnMeta {
            producer_id: 4096,
            epoch: 7,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [("a".to_string(), 0), ("a".to_string(), 2), ("b".to_string(), 1)].into_iter().collect(),
            updated_ms: 1_700_000_000_123,
            started_ms: 1_700_000_000_000,
            last_end: None,
        };
        assert_eq!(decode_key(&key("tx-1")).as_deref(), Some("tx-1"));
        assert_eq!(decode_value(&value(&meta)), Some(meta));
    }

    #[test]
    fn a_version_2_end_is_written_as_v1_and_its_retry_key_read_back() {
        let open = TxnMeta {
            partitions: [("a".to_string(), 0), ("b".to_string(), 3)].into_iter().collect(),
            state: TxnState::PrepareCommit,
            ..TxnMeta::new(77, 30_000, 5)
        };
        let prepared = TxnMeta { epoch: 4, last_end: Some((77, 3)), ..open.clone() };
        let done = TxnMeta { state: TxnState::CompleteCommit, partitions: Default::default(), ..prepared.clone() };
        let exhausted = TxnMeta { epoch: EXHAUSTED_EPOCH, last_end: Some((77, EXHAUSTED_EPOCH - 1)), ..open };
        let rotated = TxnMeta { producer_id: 78, epoch: 0, state: TxnState::CompleteAbort, ..exhausted.clone() };
        for meta in [prepared, done, exhausted, rotated] {
            let v = value(&meta);
            assert_eq!(i16::from_be_bytes([v[0], v[1]]), 1, "{meta:?} is flexible");
            assert_eq!(decode_value(&v), Some(meta.clone()));
            for cut in 0..v.len() {
                assert_eq!(decode_value(&v[..cut]), None, "{meta:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn a_v1_value_with_unknown_tags_and_no_version_2_end_reads() {
        let meta = TxnMeta { state: TxnState::CompleteCommit, epoch: 3, ..TxnMeta::new(9, 1000, 7) };
        let mut v = BytesMut::from(&value(&TxnMeta { last_end: Some((9, 2)), ..meta.clone() })[..]);
        // Replace the tagged fields (count 1: version 2) with an unknown tag and version 1.
        v.truncate(v.len() - 5);
        v.put_slice(&[2, 1, 2, 0xab, 0xcd, 2, 2, 0, 1]);
        assert_eq!(decode_value(&v), Some(meta), "version 1 ends are not retried by epoch");
    }

    #[test]
    fn cut_or_hostile_values_do_not_read() {
        let meta = TxnMeta::new(1, 30_000, 0);
        let v = value(&meta);
        for cut in 0..v.len() {
            assert_eq!(decode_value(&v[..cut]), None, "cut at {cut}");
        }
        // A value claiming two billion topics, with none present.
        let mut hostile = v[..19].to_vec();
        hostile.extend_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(decode_value(&hostile), None);
    }
}
