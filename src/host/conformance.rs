//! The rules every [`Log`] keeps, checked against each host's log by the same tests: the
//! segment log, the memory log, and the Pulsar log over a fake broker.

use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;

use super::{BatchMeta, Log};

/// A batch-shaped entry: logs store and return the bytes, whatever records they hold. The max
/// timestamp sits where a batch header keeps it, for hosts that read it from the bytes (Pulsar).
fn entry(tag: u8, max_timestamp: i64) -> Bytes {
    let mut b = vec![tag; 120];
    b[..8].copy_from_slice(&0i64.to_be_bytes());
    b[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
    Bytes::from(b)
}

fn append(log: &dyn Log, tag: u8, records: u32, ts: i64) -> i64 {
    block_on(log.append(entry(tag, ts), BatchMeta { record_count: records, max_timestamp: ts }))
        .expect("append")
        .base_offset
}

/// Every record offset from the start to the end, read the way a consumer does.
fn offsets(log: &dyn Log) -> Vec<(i64, i64, u8)> {
    let mut out = Vec::new();
    let mut next = log.start_offset();
    while next < log.end_offset() {
        let at = block_on(log.find_position(next)).expect("find").expect("a stored offset has a position");
        let read = block_on(log.read(at, 2, 1)).expect("read");
        assert!(!read.entries.is_empty(), "a read at a stored position returns at least one entry");
        assert!(read.entries.len() <= 2, "max_entries is kept");
        for e in &read.entries {
            out.push((e.base_offset, e.last_offset, e.data[8]));
        }
        next = read.entries.last().map_or(next, |e| e.last_offset + 1);
    }
    out
}

/// Runs every rule on logs made by `make`, each starting empty.
pub fn check(make: &dyn Fn() -> Arc<dyn Log>) {
    offsets_follow_append_order(&*make());
    positions_and_timestamps_are_found(&*make());
    deleted_records_stay_deleted(&*make());
    snapshots_are_replaced_whole(&*make());
}

fn snapshots_are_replaced_whole(log: &dyn Log) {
    assert_eq!(block_on(log.load_snapshot()).unwrap(), None, "a new log has none");
    block_on(log.save_snapshot(Bytes::from_static(b"a longer first snapshot"))).unwrap();
    block_on(log.save_snapshot(Bytes::from_static(b"second"))).unwrap();
    assert_eq!(block_on(log.load_snapshot()).unwrap().as_deref(), Some(&b"second"[..]));
}

fn offsets_follow_append_order(log: &dyn Log) {
    assert_eq!((log.start_offset(), log.end_offset(), log.max_timestamp()), (0, 0, None));
    let bases: Vec<i64> = [(3, 10), (1, 30), (5, 20), (2, 40)]
        .iter()
        .enumerate()
        .map(|(i, &(records, ts))| append(log, i as u8, records, ts))
        .collect();
    assert_eq!(bases, [0, 3, 4, 9]);
    assert_eq!(log.end_offset(), 11);
    assert_eq!(offsets(log), [(0, 2, 0), (3, 3, 1), (4, 8, 2), (9, 10, 3)]);
    assert_eq!(log.max_timestamp(), Some((40, 10)));
}

fn positions_and_timestamps_are_found(log: &dyn Log) {
    for (i, ts) in [100, 300, 200].into_iter().enumerate() {
        append(log, i as u8, 2, ts);
    }
    let inside = block_on(log.find_position(3)).unwrap().expect("offset 3 is stored");
    assert_eq!(block_on(log.read(inside, 1, 0)).unwrap().entries[0].base_offset, 2, "the entry holding 3");
    assert_eq!(block_on(log.find_position(6)).unwrap(), None, "the end is not stored");
    assert_eq!(block_on(log.find_position(-1)).unwrap(), None);
    let by_time = |ts| block_on(log.find_by_timestamp(ts)).unwrap().map(|e| e.base_offset);
    assert_eq!((by_time(50), by_time(250), by_time(301)), (Some(0), Some(2), None));
    // A reader that continues from `next` gets the following entry without a search.
    let first = block_on(log.read(block_on(log.find_position(0)).unwrap().unwrap(), 1, 0)).unwrap();
    if let Some(next) = first.next {
        let following = block_on(log.read(next, 1, 0)).unwrap();
        assert_eq!(following.entries.first().map(|e| e.base_offset), Some(2));
    }
}

fn deleted_records_stay_deleted(log: &dyn Log) {
    for i in 0..4 {
        append(log, i, 2, 1000 + i64::from(i));
    }
    assert_eq!(block_on(log.delete_records(3)).unwrap(), 3, "inside a batch");
    assert_eq!(log.start_offset(), 3);
    assert_eq!(block_on(log.find_position(2)).unwrap(), None, "gone for readers at once");
    assert_eq!(block_on(log.delete_records(1)).unwrap(), 3, "the start stays where it is");
    let trimmed = block_on(log.trim(5)).unwrap();
    assert!((3..=5).contains(&trimmed), "trim frees whole units only: start {trimmed}");
    assert_eq!(block_on(log.delete_records(8)).unwrap(), 8);
    assert_eq!((log.start_offset(), log.end_offset()), (8, 8));
    assert_eq!(append(log, 9, 1, 2000), 8, "appends continue at the end");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;
    use crate::host::embedded::config::{FlushPolicy, LogConfig};
    use crate::host::embedded::segment_log::SegmentLog;
    use crate::host::memory::MemoryLog;
    use crate::host::pulsar::{FakeBroker, PulsarLog};

    #[test]
    fn the_memory_log_keeps_the_rules() {
        check(&|| Arc::new(MemoryLog::default()));
    }

    #[test]
    fn the_pulsar_log_keeps_the_rules() {
        let broker = Arc::new(FakeBroker::default());
        let made = std::sync::atomic::AtomicUsize::new(0);
        check(&|| {
            let topic = format!("persistent://public/default/t{}", made.fetch_add(1, Ordering::Relaxed));
            broker.add_topic(&topic, 1, &[]);
            let log = PulsarLog::new(broker.clone(), format!("{topic}-partition-0"));
            block_on(log.open()).expect("open");
            Arc::new(log)
        });
    }

    #[test]
    fn the_segment_log_keeps_the_rules() {
        let dirs = std::sync::Mutex::new(Vec::new());
        check(&|| {
            let dir = tempfile::tempdir().expect("temp dir");
            // Segments of about two entries, so every rule also runs across segment boundaries.
            let config = LogConfig {
                segment_bytes: 320,
                retention_ms: -1,
                retention_bytes: -1,
                index_interval_bytes: 64,
                flush: FlushPolicy::Interval(Duration::from_secs(60)),
            };
            let log = SegmentLog::open(dir.path(), config).expect("open");
            dirs.lock().unwrap().push(dir);
            log
        });
    }
}
