//! The records of `__transaction_state`, in Kafka's own layout (`TransactionLogKey` v0 and
//! `TransactionLogValue` v0): one record per change of a transactional id, the latest wins, a
//! tombstone forgets the id.
//!
//! Anyone who can write to the topic can put bytes there, so decoding checks every length
//! against what remains and allocates by what is present, never by a count it reads.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TxnMeta, TxnState};

/// The key of `transactional_id`'s records.
pub fn key(transactional_id: &str) -> Bytes {
    let mut k = BytesMut::with_capacity(4 + transactional_id.len());
    k.put_i16(0);
    put_str(&mut k, transactional_id);
    k.freeze()
}

/// The value recording `meta`.
pub fn value(meta: &TxnMeta) -> Bytes {
    let mut v = BytesMut::with_capacity(64);
    v.put_i16(0);
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
    v.put_i32(by_topic.len() as i32);
    for (topic, partitions) in by_topic {
        put_str(&mut v, topic);
        v.put_i32(partitions.len() as i32);
        partitions.iter().for_each(|p| v.put_i32(*p));
    }
    v.put_i64(meta.updated_ms);
    v.put_i64(meta.started_ms);
    v.freeze()
}

/// The transactional id a key names.
pub fn decode_key(mut key: &[u8]) -> Option<String> {
    if key.remaining() < 2 || key.get_i16() != 0 {
        return None;
    }
    get_str(&mut key)
}

/// The state a value records (`None` if it does not read as one).
pub fn decode_value(mut v: &[u8]) -> Option<TxnMeta> {
    if v.remaining() < 2 + 8 + 2 + 4 + 1 + 4 {
        return None;
    }
    if v.get_i16() != 0 {
        return None;
    }
    let producer_id = v.get_i64();
    let epoch = v.get_i16();
    let timeout_ms = v.get_i32();
    let state = TxnState::from_code(v.get_i8())?;
    let topics = v.get_i32();
    let mut partitions = BTreeSet::new();
    for _ in 0..topics.max(0) {
        let topic = get_str(&mut v)?;
        if v.remaining() < 4 {
            return None;
        }
        let count = v.get_i32();
        for _ in 0..count.max(0) {
            if v.remaining() < 4 {
                return None;
            }
            partitions.insert((topic.clone(), v.get_i32()));
        }
    }
    if v.remaining() < 16 {
        return None;
    }
    let updated_ms = v.get_i64();
    let started_ms = v.get_i64();
    Some(TxnMeta { producer_id, epoch, timeout_ms, state, partitions, updated_ms, started_ms, last_end: None })
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_i16(s.len().min(i16::MAX as usize) as i16);
    out.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn get_str(buf: &mut &[u8]) -> Option<String> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = usize::try_from(buf.get_i16()).ok()?;
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
