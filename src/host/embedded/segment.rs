//! One segment file: the embedded host's ledger.
//!
//! A segment is a run of entries, each a 32-byte header followed by one Kafka record batch:
//!
//! ```text
//! [u32 batch length][u32 crc32c][i64 base offset][i64 last offset][i64 max timestamp][batch]
//! ```
//!
//! The CRC covers everything after itself, so a torn or corrupted tail is found on recovery and
//! cut off. The sparse index maps offsets (and running max timestamps) to byte positions so lookups
//! read at most one index interval of headers.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, IoSlice, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// Size of the per-entry header.
pub const HEADER_LEN: usize = 32;

/// Entries larger than this are treated as corruption during recovery.
const MAX_ENTRY_LEN: u32 = 1 << 30;

/// The decoded header of one stored entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    /// Length of the batch that follows.
    pub len: u32,
    /// CRC32C of the header after this field and the batch.
    pub crc: u32,
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of the batch's last record.
    pub last_offset: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
}

impl EntryHeader {
    /// Builds the header for `batch`, computing its CRC.
    ///
    /// `batch` is the batch as the producer sent it; it is stored with `base_offset` in place of
    /// its first eight bytes (see [`Segment::append`]), and the CRC covers it as stored.
    pub fn for_batch(batch: &[u8], base_offset: i64, last_offset: i64, max_timestamp: i64) -> Self {
        let mut header = EntryHeader { len: batch.len() as u32, crc: 0, base_offset, last_offset, max_timestamp };
        let rest = batch.get(8..).unwrap_or_default();
        header.crc = crc32c::crc32c_append(header.checksum(&base_offset.to_be_bytes()), rest);
        header
    }

    fn checksum(&self, batch: &[u8]) -> u32 {
        crc32c::crc32c_append(crc32c::crc32c(&self.encode()[8..]), batch)
    }

    /// The header in its on-disk form.
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut raw = [0u8; HEADER_LEN];
        raw[0..4].copy_from_slice(&self.len.to_be_bytes());
        raw[4..8].copy_from_slice(&self.crc.to_be_bytes());
        raw[8..16].copy_from_slice(&self.base_offset.to_be_bytes());
        raw[16..24].copy_from_slice(&self.last_offset.to_be_bytes());
        raw[24..32].copy_from_slice(&self.max_timestamp.to_be_bytes());
        raw
    }

    /// Reads a header from its on-disk form.
    pub fn parse(buf: &[u8; HEADER_LEN]) -> Self {
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let i64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[i..i + 8]);
            i64::from_be_bytes(b)
        };
        EntryHeader {
            len: u32_at(0),
            crc: u32_at(4),
            base_offset: i64_at(8),
            last_offset: i64_at(16),
            max_timestamp: i64_at(24),
        }
    }

    /// Whether `batch` matches this header's CRC.
    pub fn verifies(&self, batch: &[u8]) -> bool {
        self.checksum(batch) == self.crc
    }

    /// Total stored size of the entry.
    pub fn stored_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// A point of the sparse index: an entry start and the largest timestamp stored before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPoint {
    /// Base offset of the entry at `pos`.
    pub offset: i64,
    /// Byte position of the entry in the segment.
    pub pos: u64,
    /// Largest timestamp of all entries before `pos` in this segment (`i64::MIN` if none).
    pub max_ts_before: i64,
}

/// A segment file and what is known about its contents.
pub struct Segment {
    /// The ledger id, also the file name.
    pub ledger_id: u64,
    path: PathBuf,
    file: Arc<File>,
    /// Offset of the first entry (equals `next_offset` while empty).
    pub base_offset: i64,
    /// Offset after the last entry.
    pub next_offset: i64,
    /// Valid bytes in the file.
    pub size: u64,
    /// Largest timestamp stored, `i64::MIN` when empty.
    pub max_timestamp: i64,
    /// Last offset of the entry holding `max_timestamp`.
    pub max_timestamp_offset: i64,
    /// Sparse index, in position order.
    pub index: Vec<IndexPoint>,
    index_interval: u64,
    bytes_since_index: u64,
}

/// The file name of a ledger's segment.
pub fn segment_path(dir: &Path, ledger_id: u64) -> PathBuf {
    dir.join(format!("{ledger_id:020}.log"))
}

/// The file name of a sealed ledger's persisted index.
pub fn index_path(dir: &Path, ledger_id: u64) -> PathBuf {
    dir.join(format!("{ledger_id:020}.index"))
}

/// How a recovery scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Every byte of the file was a valid entry.
    Clean,
    /// Bytes from this position on were torn or corrupt and have been cut off.
    Truncated {
        /// Where the valid data ends.
        at: u64,
        /// How many bytes were cut.
        dropped: u64,
    },
}

impl Segment {
    /// Creates an empty segment file.
    pub fn create(dir: &Path, ledger_id: u64, base_offset: i64, index_interval: u64) -> io::Result<Self> {
        let path = segment_path(dir, ledger_id);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        Ok(Segment {
            ledger_id,
            path,
            file: Arc::new(file),
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: i64::MIN,
            max_timestamp_offset: -1,
            index: Vec::new(),
            index_interval,
            bytes_since_index: 0,
        })
    }

    /// Opens an existing segment, scanning every entry; a torn or corrupt tail is truncated.
    /// `expected_base` is the offset the first entry must carry when the segment follows another.
    pub fn recover(
        dir: &Path,
        ledger_id: u64,
        expected_base: Option<i64>,
        index_interval: u64,
    ) -> io::Result<(Self, Recovery)> {
        let path = segment_path(dir, ledger_id);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let file_len = file.metadata()?.len();
        let mut segment = Segment {
            ledger_id,
            path,
            file: Arc::new(file),
            base_offset: expected_base.unwrap_or(0),
            next_offset: expected_base.unwrap_or(0),
            size: 0,
            max_timestamp: i64::MIN,
            max_timestamp_offset: -1,
            index: Vec::new(),
            index_interval,
            bytes_since_index: 0,
        };
        let file = Arc::clone(&segment.file);
        let mut reader = BufReader::with_capacity(1 << 20, file.as_ref());
        let mut pos = 0u64;
        let mut batch = Vec::new();
        loop {
            let mut raw = [0u8; HEADER_LEN];
            if !read_full(&mut reader, &mut raw)? {
                break;
            }
            let header = EntryHeader::parse(&raw);
            let fits = header.len <= MAX_ENTRY_LEN && pos + header.stored_len() <= file_len;
            let in_order = header.last_offset >= header.base_offset
                && (pos == 0 && expected_base.is_none_or(|b| header.base_offset == b)
                    || pos > 0 && header.base_offset == segment.next_offset);
            if !fits || !in_order {
                break;
            }
            batch.resize(header.len as usize, 0);
            if !read_full(&mut reader, &mut batch)? || !header.verifies(&batch) {
                break;
            }
            if pos == 0 {
                segment.base_offset = header.base_offset;
            }
            segment.note_appended(&header, pos);
            pos += header.stored_len();
        }
        drop(reader);
        let recovery = if pos < file_len {
            segment.file.set_len(pos)?;
            segment.file.sync_all()?;
            Recovery::Truncated { at: pos, dropped: file_len - pos }
        } else {
            Recovery::Clean
        };
        Ok((segment, recovery))
    }

    /// Opens a sealed segment from its persisted index, if the index is present and matches.
    pub fn open_sealed(dir: &Path, ledger_id: u64, index_interval: u64) -> io::Result<Option<Self>> {
        let Ok(raw) = std::fs::read(index_path(dir, ledger_id)) else {
            return Ok(None);
        };
        let Some(summary) = super::index_file::decode(&raw) else {
            return Ok(None);
        };
        let path = segment_path(dir, ledger_id);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        if file.metadata()?.len() != summary.size {
            return Ok(None);
        }
        Ok(Some(Segment {
            ledger_id,
            path,
            file: Arc::new(file),
            base_offset: summary.base_offset,
            next_offset: summary.next_offset,
            size: summary.size,
            max_timestamp: summary.max_timestamp,
            max_timestamp_offset: summary.max_timestamp_offset,
            index: summary.points,
            index_interval,
            bytes_since_index: 0,
        }))
    }

    /// Makes the segment durable and writes its index beside it so a restart need not scan it.
    pub fn seal(&self, dir: &Path) -> io::Result<()> {
        self.file.sync_data()?;
        self.write_index(dir)
    }

    /// Persists the segment's index beside it; the segment's data must already be synced.
    pub fn write_index(&self, dir: &Path) -> io::Result<()> {
        let encoded = super::index_file::encode(&super::index_file::Summary {
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            size: self.size,
            max_timestamp: self.max_timestamp,
            max_timestamp_offset: self.max_timestamp_offset,
            points: self.index.clone(),
        });
        super::atomic_write(&index_path(dir, self.ledger_id), &encoded)
    }

    fn note_appended(&mut self, header: &EntryHeader, pos: u64) {
        if self.index.is_empty() || self.bytes_since_index >= self.index_interval {
            self.index.push(IndexPoint { offset: header.base_offset, pos, max_ts_before: self.max_timestamp });
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.stored_len();
        if header.max_timestamp > self.max_timestamp || self.max_timestamp_offset < 0 {
            self.max_timestamp = header.max_timestamp;
            self.max_timestamp_offset = header.last_offset;
        }
        self.next_offset = header.last_offset + 1;
        self.size = pos + header.stored_len();
    }

    /// Writes one entry at the end of the file: `header`, then `batch` (as the producer sent it)
    /// with the header's base offset in place of its first eight bytes.
    pub fn append(&mut self, header: &EntryHeader, batch: &[u8]) -> io::Result<u64> {
        let pos = self.size;
        let head = header.encode();
        let base_offset = header.base_offset.to_be_bytes();
        let rest = batch.get(8..).unwrap_or_default();
        // One call from the request's own buffer: the kernel's copy into the page cache is the
        // only copy of the batch.
        let mut parts = [IoSlice::new(&head), IoSlice::new(&base_offset), IoSlice::new(rest)];
        if let Err(e) = write_all_vectored_at(&self.file, &mut parts, pos) {
            // Leave no partial entry behind for readers or the next append to trip over.
            let _ = self.file.set_len(pos);
            return Err(e);
        }
        self.note_appended(header, pos);
        Ok(pos)
    }

    /// Whether the segment holds no entries.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// A handle for reading outside the log's lock.
    pub fn reader(&self) -> SegmentReader {
        SegmentReader { file: Arc::clone(&self.file), limit: self.size }
    }

    /// Flushes written data to the device.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Removes the segment's files.
    pub fn remove_files(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_file(&self.path)?;
        match std::fs::remove_file(index_path(dir, self.ledger_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The index point to start a scan from for `offset`.
    pub fn scan_start_for_offset(&self, offset: i64) -> u64 {
        let i = self.index.partition_point(|p| p.offset <= offset);
        i.checked_sub(1).map_or(0, |i| self.index[i].pos)
    }

    /// The index point to start a scan from for the first entry with max timestamp >= `ts`.
    pub fn scan_start_for_timestamp(&self, ts: i64) -> u64 {
        let i = self.index.partition_point(|p| p.max_ts_before < ts);
        i.checked_sub(1).map_or(0, |i| self.index[i].pos)
    }
}

/// Reads a segment's valid bytes without holding the log lock.
#[derive(Clone)]
pub struct SegmentReader {
    file: Arc<File>,
    limit: u64,
}

impl SegmentReader {
    /// Flushes the segment file to the device.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Valid bytes in the segment when this reader was taken.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reads the header at `pos`, or `None` at the end.
    pub fn header_at(&self, pos: u64) -> io::Result<Option<EntryHeader>> {
        if pos.checked_add(HEADER_LEN as u64).is_none_or(|end| end > self.limit) {
            return Ok(None);
        }
        let mut raw = [0u8; HEADER_LEN];
        self.file.read_exact_at(&mut raw, pos)?;
        Ok(Some(EntryHeader::parse(&raw)))
    }

    /// Finds the first entry at or after `pos` for which `stop` is true, reading headers only.
    pub fn scan(&self, mut pos: u64, stop: impl Fn(&EntryHeader) -> bool) -> io::Result<Option<(u64, EntryHeader)>> {
        while let Some(header) = self.header_at(pos)? {
            if stop(&header) {
                return Ok(Some((pos, header)));
            }
            pos += header.stored_len();
        }
        Ok(None)
    }

    /// Reads whole entries from `pos`: at most `max_entries`, stopping before `max_bytes` of batch
    /// data would be exceeded, but always at least one entry. Returns `(pos, header, batch)` each.
    pub fn read_entries(
        &self,
        pos: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> io::Result<Vec<(u64, EntryHeader, Bytes)>> {
        let Some(first) = self.header_at(pos)? else {
            return Ok(Vec::new());
        };
        // One read covers the requested bytes (or the first entry, if larger), headers included.
        let want = first.stored_len().max((max_bytes as u64).saturating_add(HEADER_LEN as u64));
        let len = want.min(self.limit - pos) as usize;
        let mut buf = BytesMut::zeroed(len);
        self.file.read_exact_at(&mut buf, pos)?;
        let buf = buf.freeze();
        let mut out = Vec::new();
        let mut at = 0usize;
        let mut data_bytes = 0usize;
        while out.len() < max_entries && at + HEADER_LEN <= buf.len() {
            let mut raw = [0u8; HEADER_LEN];
            raw.copy_from_slice(&buf[at..at + HEADER_LEN]);
            let header = EntryHeader::parse(&raw);
            let end = at + header.stored_len() as usize;
            if end > buf.len() || (!out.is_empty() && data_bytes + header.len as usize > max_bytes) {
                break;
            }
            data_bytes += header.len as usize;
            out.push((pos + at as u64, header, buf.slice(at + HEADER_LEN..end)));
            at = end;
        }
        Ok(out)
    }
}

/// Writes all of `parts`, one after the other, at `pos` (`pwritev`, resumed after a short write).
fn write_all_vectored_at(file: &File, mut parts: &mut [IoSlice<'_>], mut pos: u64) -> io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        match rustix::io::pwritev(file, parts, pos) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                pos += n as u64;
                IoSlice::advance_slices(&mut parts, n);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes; `false` if the stream ended first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
