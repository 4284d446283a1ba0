//! `SegmentLog`: the embedded host's [`Log`], a directory of segment files.
//!
//! Appends go to the last (active) segment under a short lock; a segment that would grow past
//! `segment_bytes` is sealed (fsynced, index persisted) and a new ledger begins. Reads take a
//! snapshot of one segment's file and valid length under the lock and read outside it.
//!
//! No file work runs on an async worker thread, where one slow disk operation would stall the
//! network I/O of every connection on it: appends queue for the log's writer, which runs on a
//! blocking thread while there is work (and with `logFlushPolicy=always` syncs once for all the
//! appends it took together), and reads, searches and deletes run on blocking threads too.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};
use tokio::sync::oneshot;

use super::config::{FlushPolicy, LogConfig};
use super::off_runtime;
use super::segment::{EntryHeader, Recovery, Segment, SegmentReader, HEADER_LEN};
use crate::host::{Appended, BatchMeta, Entry, HostError, HostResult, Log, Position, ReadEntries};

/// A partition log stored as segment files in one directory.
pub struct SegmentLog {
    dir: PathBuf,
    // Replaced whole when a topic's configs are altered; read once per use.
    config: RwLock<LogConfig>,
    segments: Mutex<Vec<Segment>>,
    // The effective start: the first segment's base offset, or the offset records were deleted
    // up to (persisted in START_FILE), whichever is higher.
    start_offset: AtomicI64,
    deleted_up_to: AtomicI64,
    end_offset: AtomicI64,
    dirty: AtomicBool,
    closed: AtomicBool,
    // Set when an fsync failed: the kernel may have dropped the unwritten pages and marked them
    // clean, so a retry could report success for data that is gone. Appends are refused until a
    // restart rescans the segment and keeps what verifies.
    failed: AtomicBool,
    writes: Mutex<Writes>,
    this: Weak<SegmentLog>,
}

/// Appends waiting for the writer, in the order they were called.
#[derive(Default)]
struct Writes {
    queued: VecDeque<(Bytes, BatchMeta, oneshot::Sender<HostResult<Appended>>)>,
    // Whether a writer is running; it drains `queued` until it finds it empty.
    writing: bool,
}

impl SegmentLog {
    /// Opens (or creates) the log in `dir`, recovering the active segment from a crash.
    pub fn open(dir: &Path, config: LogConfig) -> HostResult<Arc<Self>> {
        std::fs::create_dir_all(dir)?;
        let mut ids: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
            .collect();
        ids.sort_unstable();
        let interval = config.index_interval_bytes;
        let mut segments: Vec<Segment> = Vec::with_capacity(ids.len().max(1));
        for (i, &id) in ids.iter().enumerate() {
            let expected = segments.last().map(|s| s.next_offset);
            let is_active = i + 1 == ids.len();
            let sealed = if is_active { None } else { Segment::open_sealed(dir, id, interval)? };
            let segment = match sealed {
                Some(s) if expected.is_none_or(|e| e == s.base_offset) => s,
                _ => {
                    let (segment, recovery) = Segment::recover(dir, id, expected, interval)?;
                    if let Recovery::Truncated { at, dropped } = recovery {
                        tracing::warn!(dir = %dir.display(), ledger = id, at, dropped,
                            "cut a torn or corrupt tail off a segment");
                    }
                    if is_active {
                        // The active segment will grow, so an index left by an earlier seal is stale.
                        let _ = std::fs::remove_file(super::segment::index_path(dir, id));
                    } else {
                        segment.seal(dir)?;
                    }
                    segment
                }
            };
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 1, 0, interval)?);
        }
        let end = segments.last().map_or(0, |s| s.next_offset);
        let deleted_up_to = read_start_file(dir)?.min(end);
        let start = segments[0].base_offset.max(deleted_up_to);
        Ok(Arc::new_cyclic(|this| SegmentLog {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            segments: Mutex::new(segments),
            start_offset: AtomicI64::new(start),
            deleted_up_to: AtomicI64::new(deleted_up_to),
            end_offset: AtomicI64::new(end),
            dirty: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            writes: Mutex::default(),
            this: this.clone(),
        }))
    }

    fn config(&self) -> LogConfig {
        *self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies new settings (altered topic configs) from the next append or retention check on.
    pub fn set_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Segment>> {
        // A panic while holding the lock leaves segments consistent (every mutation is a single
        // push/remove or an append that updates state only after the write), so keep going.
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append_now(&self, batch: &[u8], meta: BatchMeta) -> HostResult<Appended> {
        if self.closed.load(Ordering::Acquire) {
            return Err(HostError::Closed);
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(HostError::Storage(std::io::Error::other(format!(
                "{}: an earlier fsync failed; restart the broker to recover the log",
                self.dir.display()
            ))));
        }
        if batch.len() < 8 {
            return Err(HostError::Invalid("an entry must be a record batch".into()));
        }
        let mut segments = self.lock();
        let Some(active) = segments.last() else {
            return Err(HostError::Closed);
        };
        let base_offset = active.next_offset;
        let last_offset = base_offset + i64::from(meta.record_count.max(1)) - 1;
        let stored_len = (HEADER_LEN + batch.len()) as u64;
        let config = self.config();
        if !active.is_empty() && active.size + stored_len > config.segment_bytes {
            // Sealing in two steps, so a failed sync fails the log while a failed index write
            // (a full disk) only fails this append.
            active.sync().map_err(|e| self.fsync_failed(e))?;
            active.write_index(&self.dir)?;
            let next = Segment::create(&self.dir, active.ledger_id + 1, base_offset, config.index_interval_bytes)?;
            segments.push(next);
        }
        // The stored batch carries its real base offset, so reads serve it unchanged.
        let header = EntryHeader::for_batch(batch, base_offset, last_offset, meta.max_timestamp);
        let active = segments.last_mut().ok_or(HostError::Closed)?;
        let pos = active.append(&header, batch)?;
        let position = Position { ledger_id: active.ledger_id, entry_id: pos };
        self.end_offset.store(last_offset + 1, Ordering::Release);
        self.dirty.store(true, Ordering::Release);
        Ok(Appended { position, base_offset })
    }

    /// The writer: appends what is queued, in order, until the queue is empty. With the
    /// `always` policy the appends taken together share one sync before any is acknowledged.
    fn write_queued(&self) {
        loop {
            let taken: Vec<_> = {
                let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
                if writes.queued.is_empty() {
                    writes.writing = false;
                    return;
                }
                writes.queued.drain(..).collect()
            };
            let mut done: Vec<_> =
                taken.into_iter().map(|(batch, meta, reply)| (reply, self.append_now(&batch, meta))).collect();
            if self.config().flush == FlushPolicy::Always && done.iter().any(|(_, r)| r.is_ok()) {
                let active = self.lock().last().map(|s| s.reader());
                if let Some(Err(e)) = active.map(|reader| reader.sync()) {
                    let message = e.to_string();
                    let _ = self.fsync_failed(e);
                    for (_, result) in done.iter_mut().filter(|(_, r)| r.is_ok()) {
                        *result = Err(HostError::Storage(std::io::Error::other(message.clone())));
                    }
                }
            }
            for (reply, result) in done {
                let _ = reply.send(result);
            }
        }
    }

    fn this(&self) -> HostResult<Arc<SegmentLog>> {
        self.this.upgrade().ok_or(HostError::Closed)
    }

    fn reader_for(&self, from: Position) -> Option<(u64, u64, SegmentReader)> {
        let segments = self.lock();
        let mut i = segments.partition_point(|s| s.ledger_id < from.ledger_id);
        let mut pos = from.entry_id;
        if segments.get(i).is_some_and(|s| s.ledger_id != from.ledger_id) {
            pos = 0; // the ledger was trimmed away; continue at the oldest one still stored
        }
        while let Some(s) = segments.get(i) {
            if pos < s.size || i + 1 == segments.len() {
                return Some((s.ledger_id, pos, s.reader()));
            }
            i += 1;
            pos = 0;
        }
        None
    }

    /// Flushes the active segment if anything was written since the last flush.
    pub fn flush(&self) -> HostResult<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let file = self.lock().last().map(|s| s.reader());
        if let Some(reader) = file {
            reader.sync().map_err(|e| self.fsync_failed(e))?;
        }
        Ok(())
    }

    /// Marks the log failed after an fsync error (see `failed`) and passes the error on.
    fn fsync_failed(&self, e: std::io::Error) -> HostError {
        self.failed.store(true, Ordering::Release);
        tracing::error!(dir = %self.dir.display(), error = %e, "fsync failed; the log takes no more writes until restart");
        HostError::Storage(e)
    }

    /// Deletes sealed segments beyond the time or size retention; returns how many went.
    pub fn enforce_retention(&self, now_ms: i64) -> HostResult<usize> {
        let config = self.config();
        let mut segments = self.lock();
        let mut removed = 0;
        let mut total: u64 = segments.iter().map(|s| s.size).sum();
        while segments.len() > 1 {
            let oldest = &segments[0];
            let expired = config.retention_ms >= 0
                && oldest.max_timestamp != i64::MIN
                && oldest.max_timestamp < now_ms.saturating_sub(config.retention_ms);
            let oversize =
                config.retention_bytes >= 0 && total.saturating_sub(oldest.size) >= config.retention_bytes as u64;
            if !(expired || oversize) {
                break;
            }
            total -= oldest.size;
            self.remove_oldest(&mut segments)?;
            removed += 1;
        }
        Ok(removed)
    }

    fn remove_oldest(&self, segments: &mut Vec<Segment>) -> HostResult<()> {
        let oldest = segments.remove(0);
        oldest.remove_files(&self.dir)?;
        let deleted_up_to = self.deleted_up_to.load(Ordering::Acquire);
        self.start_offset.store(segments[0].base_offset.max(deleted_up_to), Ordering::Release);
        Ok(())
    }

    fn delete_records_now(&self, offset: i64) -> HostResult<i64> {
        let mut segments = self.lock();
        // The range is the partition's to check; this only keeps the start where it can be.
        let offset = offset.min(self.end_offset.load(Ordering::Acquire)).max(self.start_offset());
        super::atomic_write(&self.dir.join(START_FILE), offset.to_string().as_bytes())?;
        self.deleted_up_to.store(offset, Ordering::Release);
        self.start_offset.store(offset, Ordering::Release);
        while segments.len() > 1 && segments[0].next_offset <= offset {
            self.remove_oldest(&mut segments)?;
        }
        Ok(self.start_offset())
    }

    /// Stops accepting appends (the topic is being deleted).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The flush policy this log was opened with.
    pub fn flush_policy(&self) -> FlushPolicy {
        self.config().flush
    }
}

fn to_entry(ledger_id: u64, (pos, header, data): (u64, EntryHeader, Bytes)) -> Entry {
    Entry {
        position: Position { ledger_id, entry_id: pos },
        base_offset: header.base_offset,
        last_offset: header.last_offset,
        max_timestamp: header.max_timestamp,
        data,
    }
}

/// Holds the offset records were deleted up to (DeleteRecords), when that is inside the first
/// segment.
const START_FILE: &str = "start-offset";

/// Holds the partition's producer-state snapshot, replaced whole by each save.
const SNAPSHOT_FILE: &str = "producer-state";

fn read_start_file(dir: &Path) -> HostResult<i64> {
    match std::fs::read_to_string(dir.join(START_FILE)) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| HostError::Corrupt(format!("{}: not an offset", dir.join(START_FILE).display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

impl Log for SegmentLog {
    fn append(&self, batch: Bytes, meta: BatchMeta) -> BoxFuture<'static, HostResult<Appended>> {
        let (reply, replied) = oneshot::channel();
        let start_writer = {
            let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
            writes.queued.push_back((batch, meta, reply));
            !std::mem::replace(&mut writes.writing, true)
        };
        if start_writer {
            match (self.this.upgrade(), tokio::runtime::Handle::try_current()) {
                (Some(log), Ok(runtime)) => drop(runtime.spawn_blocking(move || log.write_queued())),
                _ => self.write_queued(),
            }
        }
        async move { replied.await.unwrap_or(Err(HostError::Closed)) }.boxed()
    }

    fn read(
        &self,
        from: Position,
        max_entries: usize,
        max_bytes: usize,
    ) -> BoxFuture<'static, HostResult<ReadEntries>> {
        let Some((ledger_id, pos, reader)) = self.reader_for(from) else {
            return future::ready(Ok(ReadEntries::default())).boxed();
        };
        off_runtime(move || {
            let read = reader.read_entries(pos, max_entries, max_bytes)?;
            let next = read.last().map(|(at, header, _)| Position { ledger_id, entry_id: at + header.stored_len() });
            Ok(ReadEntries { entries: read.into_iter().map(|e| to_entry(ledger_id, e)).collect(), next })
        })
    }

    fn find_position(&self, offset: i64) -> BoxFuture<'static, HostResult<Option<Position>>> {
        if offset < self.start_offset() || offset >= self.end_offset() {
            return future::ready(Ok(None)).boxed();
        }
        let found = {
            let segments = self.lock();
            let i = segments.partition_point(|s| s.base_offset <= offset);
            i.checked_sub(1).map(|i| {
                let s = &segments[i];
                (s.ledger_id, s.scan_start_for_offset(offset), s.reader())
            })
        };
        let Some((ledger_id, start, reader)) = found else {
            return future::ready(Ok(None)).boxed();
        };
        off_runtime(move || {
            let hit = reader.scan(start, |h| h.last_offset >= offset)?;
            Ok(hit.map(|(pos, _)| Position { ledger_id, entry_id: pos }))
        })
    }

    fn find_by_timestamp(&self, timestamp: i64) -> BoxFuture<'static, HostResult<Option<Entry>>> {
        let found = {
            let segments = self.lock();
            segments
                .iter()
                .find(|s| s.max_timestamp >= timestamp && !s.is_empty())
                .map(|s| (s.ledger_id, s.scan_start_for_timestamp(timestamp), s.reader()))
        };
        let Some((ledger_id, start, reader)) = found else {
            return future::ready(Ok(None)).boxed();
        };
        off_runtime(move || {
            let Some((pos, _)) = reader.scan(start, |h| h.max_timestamp >= timestamp)? else {
                return Ok(None);
            };
            Ok(reader.read_entries(pos, 1, 0)?.into_iter().next().map(|e| to_entry(ledger_id, e)))
        })
    }

    fn start_offset(&self) -> i64 {
        self.start_offset.load(Ordering::Acquire)
    }

    fn end_offset(&self) -> i64 {
        self.end_offset.load(Ordering::Acquire)
    }

    fn max_timestamp(&self) -> Option<(i64, i64)> {
        let segments = self.lock();
        segments.iter().filter(|s| !s.is_empty()).map(|s| (s.max_timestamp, s.max_timestamp_offset)).fold(
            None,
            |best, cur| match best {
                Some(b) if b.0 >= cur.0 => Some(b),
                _ => Some(cur),
            },
        )
    }

    fn delete_records(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        match self.this() {
            Ok(log) => off_runtime(move || log.delete_records_now(offset)),
            Err(e) => future::ready(Err(e)).boxed(),
        }
    }

    fn load_snapshot(&self) -> BoxFuture<'static, HostResult<Option<Bytes>>> {
        let path = self.dir.join(SNAPSHOT_FILE);
        off_runtime(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    fn save_snapshot(&self, snapshot: Bytes) -> BoxFuture<'static, HostResult<()>> {
        let path = self.dir.join(SNAPSHOT_FILE);
        off_runtime(move || Ok(super::atomic_write(&path, &snapshot)?))
    }

    fn trim(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        let log = match self.this() {
            Ok(log) => log,
            Err(e) => return future::ready(Err(e)).boxed(),
        };
        off_runtime(move || {
            let mut segments = log.lock();
            while segments.len() > 1 && segments[0].next_offset <= offset {
                log.remove_oldest(&mut segments)?;
            }
            Ok(log.start_offset())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::time::Duration;

    use super::*;

    fn config(segment_bytes: u64) -> LogConfig {
        LogConfig {
            segment_bytes,
            retention_ms: -1,
            retention_bytes: -1,
            index_interval_bytes: 256,
            flush: FlushPolicy::Interval(Duration::from_secs(1)),
        }
    }

    /// A fake batch: what the log stores does not depend on the records inside.
    fn batch(tag: u8, len: usize) -> Bytes {
        let mut b = vec![tag; len.max(16)];
        b[..8].copy_from_slice(&0i64.to_be_bytes());
        Bytes::from(b)
    }

    fn append(log: &SegmentLog, tag: u8, records: u32, ts: i64) -> Appended {
        futures::executor::block_on(log.append(batch(tag, 100), BatchMeta { record_count: records, max_timestamp: ts }))
            .expect("append")
    }

    fn read_all(log: &SegmentLog) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut next = log.start_offset();
        while next < log.end_offset() {
            let pos = futures::executor::block_on(log.find_position(next)).unwrap().expect("position");
            let entries = futures::executor::block_on(log.read(pos, usize::MAX, 1 << 20)).unwrap().entries;
            next = entries.last().expect("progress").last_offset + 1;
            out.extend(entries);
        }
        out
    }

    #[test]
    fn assigns_offsets_and_reads_back_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
        for i in 0..30u8 {
            let appended = append(&log, i, 3, 1000 + i64::from(i));
            assert_eq!(appended.base_offset, i64::from(i) * 3);
        }
        assert_eq!(log.end_offset(), 90);
        let entries = read_all(&log);
        assert_eq!(entries.len(), 30);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.base_offset, i as i64 * 3);
            assert_eq!(crate::protocol::batch::base_offset_of(&e.data), Some(e.base_offset));
            assert_eq!(e.data[20], i as u8);
        }
        assert!(log.lock().len() > 3, "small segments roll");
        let mid = futures::executor::block_on(log.find_position(44)).unwrap().unwrap();
        let e = futures::executor::block_on(log.read(mid, 1, 0)).unwrap().entries;
        assert_eq!((e[0].base_offset, e[0].last_offset), (42, 44));
        assert_eq!(log.max_timestamp(), Some((1029, 89)));
        let by_time = futures::executor::block_on(log.find_by_timestamp(1017)).unwrap().unwrap();
        assert_eq!(by_time.base_offset, 51);
    }

    #[test]
    fn an_entry_is_stored_as_its_header_then_the_batch_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
        append(&log, 7, 2, 5);
        append(&log, 8, 1, 6);
        let path = crate::host::embedded::segment::segment_path(dir.path(), log.lock()[0].ledger_id);
        let raw = std::fs::read(path).unwrap();
        assert_eq!(raw.len(), 2 * (HEADER_LEN + 100));
        for (at, base, last, ts, tag) in [(0, 0i64, 1i64, 5i64, 7u8), (HEADER_LEN + 100, 2, 2, 6, 8)] {
            let head: &[u8; HEADER_LEN] = raw[at..at + HEADER_LEN].try_into().unwrap();
            let header = EntryHeader::parse(head);
            assert_eq!(
                (header.len, header.base_offset, header.last_offset, header.max_timestamp),
                (100, base, last, ts)
            );
            let stored = &raw[at + HEADER_LEN..at + HEADER_LEN + 100];
            assert_eq!(stored[..8], base.to_be_bytes());
            assert!(stored[8..].iter().all(|b| *b == tag));
            assert!(header.verifies(stored));
        }
    }

    #[test]
    fn deleted_records_stay_deleted_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
            for i in 0..30u8 {
                append(&log, i, 3, 0);
            }
            let segments = log.lock().len();
            assert_eq!(futures::executor::block_on(log.delete_records(44)).unwrap(), 44);
            assert!(log.lock().len() < segments, "whole segments below the new start are freed");
            assert_eq!(futures::executor::block_on(log.delete_records(10)).unwrap(), 44, "never moves back");
            assert_eq!(futures::executor::block_on(log.find_position(43)).unwrap(), None);
        }
        let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
        assert_eq!((log.start_offset(), log.end_offset()), (44, 90));
        let first = read_all(&log).into_iter().next().expect("an entry");
        assert_eq!((first.base_offset, first.last_offset), (42, 44), "the batch holding the start");
        assert_eq!(futures::executor::block_on(log.delete_records(90)).unwrap(), 90);
        assert_eq!(append(&log, 7, 1, 0).base_offset, 90);
    }

    #[test]
    fn reopens_from_persisted_indexes_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
            for i in 0..20u8 {
                append(&log, i, 1, 0);
            }
        }
        let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
        assert_eq!(log.end_offset(), 20);
        assert_eq!(append(&log, 99, 1, 0).base_offset, 20);
        assert_eq!(read_all(&log).len(), 21);
    }

    #[test]
    fn the_producer_state_snapshot_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
            append(&log, 1, 1, 0);
            futures::executor::block_on(log.save_snapshot(Bytes::from_static(b"state"))).unwrap();
        }
        let log = SegmentLog::open(dir.path(), config(1000)).unwrap();
        assert_eq!(log.end_offset(), 1, "the snapshot file is no segment");
        assert_eq!(futures::executor::block_on(log.load_snapshot()).unwrap().as_deref(), Some(&b"state"[..]));
    }

    #[test]
    fn cuts_a_torn_tail_and_keeps_everything_before_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
            for i in 0..5u8 {
                append(&log, i, 2, 0);
            }
        }
        let path = super::super::segment::segment_path(dir.path(), 1);
        let len = std::fs::metadata(&path).unwrap().len();
        // A crash mid-write: the last entry is only partly on disk.
        OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 37).unwrap();
        let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(log.end_offset(), 8);
        assert_eq!(read_all(&log).len(), 4);
        assert_eq!(append(&log, 7, 1, 0).base_offset, 8);
    }

    #[test]
    fn a_corrupt_entry_ends_the_log_at_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
            for i in 0..5u8 {
                append(&log, i, 1, 0);
            }
        }
        let path = super::super::segment::segment_path(dir.path(), 1);
        let mut raw = std::fs::read(&path).unwrap();
        let third = 2 * (HEADER_LEN + 100) + HEADER_LEN + 50;
        raw[third] ^= 0xff;
        std::fs::write(&path, &raw).unwrap();
        let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(log.end_offset(), 2);
    }

    #[test]
    fn after_an_fsync_error_appends_are_refused_until_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
        append(&log, 1, 2, 10);
        let _ = log.fsync_failed(std::io::Error::other("injected"));
        let refused =
            futures::executor::block_on(log.append(batch(2, 100), BatchMeta { record_count: 1, max_timestamp: 11 }));
        assert!(matches!(refused, Err(HostError::Storage(_))), "{refused:?}");
        assert_eq!(read_all(&log).len(), 1, "what was written stays readable");
        drop(log);
        let reopened = SegmentLog::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(append(&reopened, 3, 1, 12).base_offset, 2);
    }

    #[test]
    fn retention_drops_whole_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(300);
        cfg.retention_bytes = 600;
        let log = SegmentLog::open(dir.path(), cfg).unwrap();
        for i in 0..10u8 {
            append(&log, i, 1, 0);
        }
        let removed = log.enforce_retention(0).unwrap();
        assert!(removed > 0);
        assert!(log.start_offset() > 0);
        let entries = read_all(&log);
        assert_eq!(entries.first().unwrap().base_offset, log.start_offset());
        assert_eq!(entries.last().unwrap().last_offset, 9);
        // Trimming works in whole segments: offset 8 shares a segment with 9 and stays.
        assert_eq!(futures::executor::block_on(log.trim(9)).unwrap(), 8);
    }
}
