//! Any bytes as a partition directory at start: a sealed segment with its persisted index (the
//! index's checksum made to match, so its contents are trusted as far as recovery trusts them)
//! and an active segment. The log opens or refuses, and everything it then serves reads back.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use futures::executor::block_on;
use kop::host::embedded::config::{FlushPolicy, LogConfig};
use kop::host::embedded::segment::{index_path, segment_path};
use kop::host::embedded::segment_log::SegmentLog;
use kop::host::Log;
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // tmpfs where there is one: every run rewrites the files.
        let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
        base.join(format!("kop-fuzz-segments-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // Four bytes say how the rest splits: sealed segment, index body, active segment.
    let sealed_len = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let index_len = usize::from(u16::from_le_bytes([data[2], data[3]]));
    let rest = &data[4..];
    let (sealed, rest) = rest.split_at(sealed_len.min(rest.len()));
    let (index, active) = rest.split_at(index_len.min(rest.len()));
    let dir = scratch();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("scratch dir");
    std::fs::write(segment_path(dir, 1), sealed).expect("write");
    let mut index = index.to_vec();
    index.extend_from_slice(&crc32c::crc32c(&index).to_be_bytes());
    std::fs::write(index_path(dir, 1), &index).expect("write");
    std::fs::write(segment_path(dir, 2), active).expect("write");
    let config = LogConfig {
        segment_bytes: 1 << 20,
        retention_ms: -1,
        retention_bytes: -1,
        index_interval_bytes: 256,
        flush: FlushPolicy::Interval(Duration::from_secs(60)),
    };
    let Ok(log) = SegmentLog::open(dir, config) else { return };
    let (start, end) = (log.start_offset(), log.end_offset());
    assert!(start <= end, "start {start} past end {end}");
    // A sealed segment with an intact index is not rescanned, so its entries are served as
    // stored; reading them must still end, and never panic.
    let mut offset = start;
    for _ in 0..1024 {
        if offset >= end {
            break;
        }
        let Ok(Some(position)) = block_on(log.find_position(offset)) else { break };
        let Ok(read) = block_on(log.read(position, 64, 1 << 16)) else { break };
        let Some(last) = read.entries.last() else { break };
        offset = offset.saturating_add(1).max(last.last_offset.saturating_add(1));
    }
    let _ = block_on(log.find_by_timestamp(0));
    let _ = log.max_timestamp();
});
