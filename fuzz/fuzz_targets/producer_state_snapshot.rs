//! Any bytes as a partition's saved producer-state snapshot, as it comes back from the disk or
//! from the broker's metadata: the partition restores from it or ignores it, serves a marker and
//! its readers, and saves a snapshot of what it then knows; nothing panics. An input that starts
//! with 0xff is the rest framed with a valid version and CRC, so the fuzzer reaches the restore
//! with any contents, not only with the few mutations that keep the CRC.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use kop::host::memory::MemoryLog;
use kop::host::Log;
use kop::partition::snapshot::Snapshot;
use kop::partition::{Partition, ProducerStateSettings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let data = match input.split_first() {
        Some((0xff, body)) => [&[1u8][..], &crc32c::crc32c(body).to_be_bytes(), body].concat(),
        _ => input.to_vec(),
    };
    let data = &data[..];
    if let Ok(snapshot) = Snapshot::decode(data) {
        let _ = Snapshot::decode(&snapshot.encode(1 << 20));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        log.save_snapshot(Bytes::copy_from_slice(data)).await.expect("memory");
        // Every append saves a snapshot of the state restored from this one.
        let settings = ProducerStateSettings { snapshot_interval_ms: 0, ..ProducerStateSettings::default() };
        let p = Partition::with_settings(0, Arc::clone(&log), settings);
        if p.ready().await.is_err() {
            return;
        }
        let _ = (p.last_stable_offset(), p.producers());
        let _ = p.write_marker(1, 0, false, 0).await;
        tokio::task::yield_now().await;
        let _ = p.aborted_in(0, i64::MAX).await;
        let _ = p.write_marker(1, 1, true, 0).await;
        tokio::task::yield_now().await;
    });
});
