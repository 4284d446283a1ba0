//! The record formats of `__consumer_offsets`, as Kafka (and KoP) write them, so offsets a Kafka
//! or KoP deployment stored can be replayed here.
//!
//! Keys: offset commit `v1 [group][topic][partition]`, group metadata `v2 [group]`. Values: offset
//! commit v3 `[offset][leader epoch][metadata][commit timestamp]` (v0-v2 are read too), group
//! metadata v3. A record with no value is a tombstone.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The offset of the next record to consume.
    pub offset: i64,
    /// Leader epoch of the record before `offset`, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata string.
    pub metadata: String,
    /// When it was committed (ms since the epoch).
    pub commit_timestamp: i64,
}

/// The durable part of a group's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Protocol type (`consumer`, ...), empty if none.
    pub protocol_type: String,
    /// Generation.
    pub generation: i32,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state.
    pub state_timestamp: i64,
}

/// One decoded record of the offsets log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An offset commit, or its deletion (`None`).
    Offset { group: String, topic: String, partition: i32, value: Option<Committed> },
    /// Group metadata, or the group's deletion (`None`).
    Group { group: String, value: Option<GroupRecord> },
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_i16(s.len() as i16);
    out.put_slice(s.as_bytes());
}

fn put_nullable(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

fn get_str(buf: &mut &[u8]) -> Option<String> {
    get_nullable(buf)?
}

fn get_nullable(buf: &mut &[u8]) -> Option<Option<String>> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = buf.get_i16();
    if len < 0 {
        return Some(None);
    }
    let len = len as usize;
    if buf.remaining() < len {
        return None;
    }
    let s = String::from_utf8(buf[..len].to_vec()).ok()?;
    buf.advance(len);
    Some(Some(s))
}

fn need(buf: &[u8], n: usize) -> Option<()> {
    (buf.remaining() >= n).then_some(())
}

/// Key of an offset commit.
pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(1);
    put_str(&mut out, group);
    put_str(&mut out, topic);
    out.put_i32(partition);
    out.freeze()
}

/// Value of an offset commit (v3).
pub fn offset_value(c: &Committed) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    out.put_i64(c.offset);
    out.put_i32(c.leader_epoch);
    put_str(&mut out, &c.metadata);
    out.put_i64(c.commit_timestamp);
    out.freeze()
}

/// Key of a group's metadata.
pub fn group_key(group: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(2);
    put_str(&mut out, group);
    out.freeze()
}

/// Value of a group's metadata (v3), without members: members rejoin after a coordinator change.
pub fn group_value(g: &GroupRecord) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    put_str(&mut out, &g.protocol_type);
    out.put_i32(g.generation);
    put_nullable(&mut out, g.protocol.as_deref());
    put_nullable(&mut out, g.leader.as_deref());
    out.put_i64(g.state_timestamp);
    out.put_i32(0);
    out.freeze()
}

fn decode_offset_value(mut v: &[u8]) -> Option<Committed> {
    need(v, 2)?;
    let version = v.get_i16();
    need(v, 8)?;
    let offset = v.get_i64();
    let leader_epoch = if version >= 3 {
        need(v, 4)?;
        v.get_i32()
    } else {
        -1
    };
    let metadata = get_str(&mut v)?;
    need(v, 8)?;
    let commit_timestamp = v.get_i64();
    Some(Committed { offset, leader_epoch, metadata, commit_timestamp })
}

fn decode_group_value(mut v: &[u8]) -> Option<GroupRecord> {
    need(v, 2)?;
    let version = v.get_i16();
    let protocol_type = get_str(&mut v)?;
    need(v, 4)?;
    let generation = v.get_i32();
    let protocol = get_nullable(&mut v)?;
    let leader = get_nullable(&mut v)?;
    let state_timestamp = if version >= 2 {
        need(v, 8)?;
        v.get_i64()
    } else {
        -1
    };
    Some(GroupRecord { protocol_type, generation, protocol, leader, state_timestamp })
}

/// Decodes one record; `None` for a record this version does not know (skipped on replay).
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Record> {
    let mut k = key;
    need(k, 2)?;
    match k.get_i16() {
        0 | 1 => {
            let group = get_str(&mut k)?;
            let topic = get_str(&mut k)?;
            need(k, 4)?;
            let partition = k.get_i32();
            let value = match value {
                None => None,
                Some(v) => Some(decode_offset_value(v)?),
            };
            Some(Record::Offset { group, topic, partition, value })
        }
        2 => {
            let group = get_str(&mut k)?;
            let value = match value {
                None => None,
                Some(v) => Some(decode_group_value(v)?),
            };
            Some(Record::Group { group, value })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_groups_round_trip() {
        let c = Committed { offset: 42, leader_epoch: 3, metadata: "m".into(), commit_timestamp: 1000 };
        let r = decode(&offset_key("g", "t", 7), Some(&offset_value(&c))).unwrap();
        assert_eq!(r, Record::Offset { group: "g".into(), topic: "t".into(), partition: 7, value: Some(c) });
        let g = GroupRecord {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: None,
            state_timestamp: 9,
        };
        assert_eq!(
            decode(&group_key("g"), Some(&group_value(&g))),
            Some(Record::Group { group: "g".into(), value: Some(g) })
        );
        assert_eq!(decode(&group_key("g"), None), Some(Record::Group { group: "g".into(), value: None }));
    }

    #[test]
    fn reads_kafka_v1_offset_values() {
        let mut v = BytesMut::new();
        v.put_i16(1);
        v.put_i64(17);
        put_str(&mut v, "meta");
        v.put_i64(111);
        v.put_i64(222); // expire timestamp, ignored
        let r = decode(&offset_key("g", "t", 0), Some(&v)).unwrap();
        let Record::Offset { value: Some(c), .. } = r else { panic!("offset") };
        assert_eq!((c.offset, c.leader_epoch, c.metadata.as_str(), c.commit_timestamp), (17, -1, "meta", 111));
    }
}
