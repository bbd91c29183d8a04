//! The on-disk ingest spool: an acknowledged batch is in here, fsynced, before the client hears
//! "accepted", and stays until the pipeline reports it durable downstream.
//!
//! Layout: append-only segment files `<first-seq>.spool` holding frames
//! `[payload length: u32 LE][seq: u64 LE][xxh3-64 of seq + payload: u64 LE][payload]`, and a
//! `committed` file holding the highest sequence number the pipeline has made durable
//! (written to a temporary file, fsynced and renamed). After a crash, [`Spool::open`] returns
//! every intact entry above the committed number; a torn frame at the end of the newest segment
//! (a crash mid-write, never acknowledged) is cut off.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use xxhash_rust::xxh3::Xxh3;

const HEADER_BYTES: usize = 20;
const COMMITTED_FILE: &str = "committed";
const SEGMENT_SUFFIX: &str = ".spool";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error("spool {path}: committed file holds \"{found}\", expected a sequence number")]
    BadCommitted { path: PathBuf, found: String },
    #[error(
        "spool is full: {pending_bytes} bytes wait for the pipeline, limit server.spool_max_bytes = {limit}"
    )]
    Full { pending_bytes: u64, limit: u64 },
    #[error("spool entry of {bytes} bytes is larger than a frame can hold (4 GiB)")]
    TooLarge { bytes: u64 },
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Size bounds of a spool.
#[derive(Clone, Copy, Debug)]
pub struct SpoolLimits {
    /// Bytes of uncommitted entries the spool holds before appends fail with [`SpoolError::Full`].
    pub max_pending_bytes: u64,
    /// A new segment file is started once the current one reaches this size.
    pub segment_bytes: u64,
}

impl SpoolLimits {
    pub fn new(max_pending_bytes: u64) -> SpoolLimits {
        SpoolLimits {
            max_pending_bytes,
            segment_bytes: (max_pending_bytes / 4).clamp(64 * 1024, 64 * 1024 * 1024),
        }
    }
}

/// One acknowledged entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolEntry {
    pub seq: u64,
    pub payload: Vec<u8>,
}

struct Segment {
    path: PathBuf,
    last_seq: u64,
}

struct Active {
    file: File,
    path: PathBuf,
    bytes: u64,
    last_seq: u64,
}

struct State {
    /// Closed segments, oldest first.
    closed: VecDeque<Segment>,
    active: Option<Active>,
    next_seq: u64,
    committed: u64,
    /// (seq, frame bytes) of every entry above `committed`.
    pending: VecDeque<(u64, u64)>,
    pending_bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    state: Mutex<State>,
}

fn checksum(seq: u64, parts: &[&[u8]]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&seq.to_le_bytes());
    for part in parts {
        h.update(part);
    }
    h.digest()
}

/// Writes `header` and then every part, as few write calls as the kernel allows.
fn write_all_parts(file: &mut File, header: &[u8], parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() + 1);
    slices.push(IoSlice::new(header));
    slices.extend(parts.iter().map(|p| IoSlice::new(p)));
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "syncing the directory"))
}

impl Spool {
    /// Opens (or creates) the spool in `dir` and returns it with every entry not yet committed,
    /// in sequence order.
    pub fn open(dir: &Path, limits: SpoolLimits) -> Result<(Spool, Vec<SpoolEntry>), SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir, "creating the directory"))?;
        let committed = read_committed(dir)?;
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .map_err(io_err(dir, "listing segments"))?
            .filter_map(|e| {
                let path = e.ok()?.path();
                let stem = path.file_name()?.to_str()?.strip_suffix(SEGMENT_SUFFIX)?;
                Some((stem.parse().ok()?, path))
            })
            .collect();
        names.sort();
        let mut closed = VecDeque::new();
        let mut pending_entries = Vec::new();
        let mut pending = VecDeque::new();
        let mut pending_bytes = 0;
        let mut max_seq = committed;
        let last = names.len().saturating_sub(1);
        for (i, (_, path)) in names.into_iter().enumerate() {
            let entries = read_segment(&path, i == last)?;
            let mut last_seq = 0;
            for e in entries {
                last_seq = e.seq;
                max_seq = max_seq.max(e.seq);
                if e.seq > committed {
                    let frame = (HEADER_BYTES + e.payload.len()) as u64;
                    pending.push_back((e.seq, frame));
                    pending_bytes += frame;
                    pending_entries.push(e);
                }
            }
            closed.push_back(Segment { path, last_seq });
        }
        let spool = Spool {
            dir: dir.to_path_buf(),
            limits,
            state: Mutex::new(State {
                closed,
                active: None,
                next_seq: max_seq + 1,
                committed,
                pending,
                pending_bytes,
            }),
        };
        spool.remove_committed_segments(&mut spool.lock())?;
        Ok((spool, pending_entries))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (every step is written
        // before the counters move), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one entry, the concatenation of `parts`, fsyncs it and returns its sequence
    /// number. `then` runs with the sequence number before the lock is released, so whatever
    /// it does happens in sequence order. The parts are written as they are (no copy of a
    /// megabyte-sized request body into one buffer first).
    pub fn append(&self, parts: &[&[u8]], then: impl FnOnce(u64)) -> Result<u64, SpoolError> {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(len_field) = u32::try_from(payload_len) else {
            return Err(SpoolError::TooLarge {
                bytes: payload_len as u64,
            });
        };
        let frame = (HEADER_BYTES + payload_len) as u64;
        let mut st = self.lock();
        if st.pending_bytes + frame > self.limits.max_pending_bytes {
            return Err(SpoolError::Full {
                pending_bytes: st.pending_bytes,
                limit: self.limits.max_pending_bytes,
            });
        }
        let seq = st.next_seq;
        if st
            .active
            .as_ref()
            .is_none_or(|a| a.bytes >= self.limits.segment_bytes)
        {
            self.start_segment(&mut st, seq)?;
        }
        let active = st.active.as_mut().expect("a segment was just started");
        let mut header = [0u8; HEADER_BYTES];
        header[..4].copy_from_slice(&len_field.to_le_bytes());
        header[4..12].copy_from_slice(&seq.to_le_bytes());
        header[12..].copy_from_slice(&checksum(seq, parts).to_le_bytes());
        let written = write_all_parts(&mut active.file, &header, parts)
            .and_then(|()| active.file.sync_data());
        if let Err(e) = written {
            // The frame may be half written: start a new segment for the next append, and let
            // recovery cut the torn tail of this one. A segment without an intact entry is
            // removed instead: the next one starts at the same sequence number, so it has the
            // same name (kept, its torn frame would come before the next segment's entries, and
            // committing would delete the file they are in).
            let path = active.path.clone();
            let last_seq = active.last_seq;
            let intact = active.bytes > 0;
            st.active = None;
            if intact {
                st.closed.push_back(Segment {
                    path: path.clone(),
                    last_seq,
                });
            } else if let Err(removing) = fs::remove_file(&path) {
                tracing::error!(
                    segment = %path.display(),
                    error = %removing,
                    "could not remove a spool segment whose first entry failed to write"
                );
            }
            return Err(io_err(&path, "writing an entry")(e));
        }
        active.bytes += frame;
        active.last_seq = seq;
        st.next_seq += 1;
        st.pending.push_back((seq, frame));
        st.pending_bytes += frame;
        then(seq);
        Ok(seq)
    }

    fn start_segment(&self, st: &mut State, first_seq: u64) -> Result<(), SpoolError> {
        if let Some(a) = st.active.take() {
            st.closed.push_back(Segment {
                path: a.path,
                last_seq: a.last_seq,
            });
        }
        let path = self.dir.join(format!("{first_seq:020}{SEGMENT_SUFFIX}"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path, "creating a segment"))?;
        sync_dir(&self.dir)?;
        st.active = Some(Active {
            file,
            path,
            bytes: 0,
            last_seq: first_seq.saturating_sub(1),
        });
        Ok(())
    }

    /// Records that every entry up to `seq` is durable downstream: they will not be replayed,
    /// and segments holding only such entries are deleted.
    pub fn commit(&self, seq: u64) -> Result<(), SpoolError> {
        let mut st = self.lock();
        if seq <= st.committed {
            return Ok(());
        }
        let seq = seq.min(st.next_seq - 1);
        let tmp = self.dir.join(format!("{COMMITTED_FILE}.tmp"));
        let path = self.dir.join(COMMITTED_FILE);
        let mut f = File::create(&tmp).map_err(io_err(&tmp, "writing the committed number"))?;
        f.write_all(format!("{seq}\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io_err(&tmp, "writing the committed number"))?;
        fs::rename(&tmp, &path).map_err(io_err(&path, "replacing the committed number"))?;
        sync_dir(&self.dir)?;
        st.committed = seq;
        while st.pending.front().is_some_and(|&(s, _)| s <= seq) {
            let (_, bytes) = st.pending.pop_front().expect("front was just checked");
            st.pending_bytes -= bytes;
        }
        self.remove_committed_segments(&mut st)
    }

    fn remove_committed_segments(&self, st: &mut State) -> Result<(), SpoolError> {
        while st
            .closed
            .front()
            .is_some_and(|s| s.last_seq <= st.committed)
        {
            let seg = st.closed.pop_front().expect("front was just checked");
            match fs::remove_file(&seg.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&seg.path, "removing a committed segment")(e)),
            }
        }
        Ok(())
    }

    /// The highest committed sequence number.
    pub fn committed(&self) -> u64 {
        self.lock().committed
    }

    /// The highest sequence number appended (0 before the first).
    pub fn last_appended(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// Bytes of entries not yet committed.
    pub fn pending_bytes(&self) -> u64 {
        self.lock().pending_bytes
    }
}

fn read_committed(dir: &Path) -> Result<u64, SpoolError> {
    let path = dir.join(COMMITTED_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| SpoolError::BadCommitted {
            path,
            found: text.trim().chars().take(40).collect(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(&path, "reading the committed number")(e)),
    }
}

/// Reads every intact frame of a segment. A bad frame ends the segment: in the newest segment
/// it is a write cut short by a crash (never acknowledged) and the file is truncated there; in
/// an older one it is damage, reported and skipped.
fn read_segment(path: &Path, newest: bool) -> Result<Vec<SpoolEntry>, SpoolError> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path, "reading a segment"))?;
    let mut entries = Vec::new();
    let mut at = 0;
    while at < data.len() {
        match parse_frame(&data[at..]) {
            Some((entry, len)) => {
                entries.push(entry);
                at += len;
            }
            None => {
                if newest {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = at,
                        "cutting a torn entry at the end of the spool (written, never acknowledged)"
                    );
                    OpenOptions::new()
                        .write(true)
                        .open(path)
                        .and_then(|f| {
                            f.set_len(at as u64)?;
                            f.sync_all()
                        })
                        .map_err(io_err(path, "truncating a torn entry"))?;
                } else {
                    tracing::error!(
                        segment = %path.display(),
                        offset = at,
                        "damaged spool segment: entries after this offset are lost"
                    );
                }
                break;
            }
        }
    }
    Ok(entries)
}

fn parse_frame(data: &[u8]) -> Option<(SpoolEntry, usize)> {
    let header = data.get(..HEADER_BYTES)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let seq = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let sum = u64::from_le_bytes(header[12..20].try_into().ok()?);
    let payload = data.get(HEADER_BYTES..HEADER_BYTES + len)?;
    (checksum(seq, &[payload]) == sum).then(|| {
        (
            SpoolEntry {
                seq,
                payload: payload.to_vec(),
            },
            HEADER_BYTES + len,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SpoolLimits {
        SpoolLimits {
            max_pending_bytes: 1 << 20,
            segment_bytes: 100,
        }
    }

    fn payloads(entries: &[SpoolEntry]) -> Vec<(u64, &[u8])> {
        entries
            .iter()
            .map(|e| (e.seq, e.payload.as_slice()))
            .collect()
    }

    #[test]
    fn uncommitted_entries_come_back_after_a_crash_and_committed_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (spool, pending) = Spool::open(dir.path(), limits()).unwrap();
            assert!(pending.is_empty());
            let mut order = Vec::new();
            for p in [&b"one"[..], b"two", b"three"] {
                spool.append(&[p], |seq| order.push(seq)).unwrap();
            }
            assert_eq!(order, vec![1, 2, 3]);
            spool.commit(1).unwrap();
            // dropped without committing 2 and 3: a crash
        }
        let (spool, pending) = Spool::open(dir.path(), limits()).unwrap();
        assert_eq!(
            payloads(&pending),
            vec![(2, &b"two"[..]), (3, &b"three"[..])]
        );
        assert_eq!(spool.append(&[b"four"], |_| {}).unwrap(), 4);
        spool.commit(4).unwrap();
        drop(spool);
        let (spool, pending) = Spool::open(dir.path(), limits()).unwrap();
        assert!(pending.is_empty());
        assert_eq!(spool.append(&[b"five"], |_| {}).unwrap(), 5);
    }

    #[test]
    fn segments_roll_over_and_committed_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), limits()).unwrap();
        for _ in 0..10 {
            spool.append(&[&[7u8; 60]], |_| {}).unwrap();
        }
        let segments = || {
            fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .to_string_lossy()
                        .ends_with(SEGMENT_SUFFIX)
                })
                .count()
        };
        assert_eq!(segments(), 5);
        spool.commit(6).unwrap();
        assert_eq!(segments(), 2);
        assert_eq!(spool.pending_bytes(), 4 * 80);
        drop(spool);
        let (_, pending) = Spool::open(dir.path(), limits()).unwrap();
        assert_eq!(
            pending.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![7, 8, 9, 10]
        );
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_intact_entries_survive() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        spool.append(&[b"kept"], |_| {}).unwrap();
        spool.append(&[b"torn-entry"], |_| {}).unwrap();
        drop(spool);
        let seg = dir.path().join(format!("{:020}{SEGMENT_SUFFIX}", 1));
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let (spool, pending) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        assert_eq!(payloads(&pending), vec![(1, &b"kept"[..])]);
        assert_eq!(fs::metadata(&seg).unwrap().len(), (HEADER_BYTES + 4) as u64);
        assert_eq!(spool.append(&[b"next"], |_| {}).unwrap(), 2);
        drop(spool);
        let (_, pending) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        assert_eq!(
            payloads(&pending),
            vec![(1, &b"kept"[..]), (2, &b"next"[..])]
        );
    }

    /// A failed write (here: the disk is full) leaves no trace that could cost a later entry.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_segment_whose_first_write_failed_is_replaced_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let seg = dir.path().join(format!("{:020}{SEGMENT_SUFFIX}", 1));
        let (spool, _) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        std::os::unix::fs::symlink("/dev/full", &seg).unwrap();
        let err = spool.append(&[b"lost"], |_| panic!("not acknowledged"));
        assert!(matches!(err, Err(SpoolError::Io { .. })), "{err:?}");
        assert_eq!(spool.append(&[b"one"], |_| {}).unwrap(), 1);
        assert!(!fs::symlink_metadata(&seg).unwrap().is_symlink());
        assert_eq!(spool.append(&[b"two"], |_| {}).unwrap(), 2);
        // Committing 1 must not delete the file that still holds 2.
        spool.commit(1).unwrap();
        assert!(seg.is_file());
        drop(spool);
        let (_, pending) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        assert_eq!(payloads(&pending), vec![(2, &b"two"[..])]);
    }

    #[test]
    fn an_entry_is_its_parts_joined() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (spool, _) = Spool::open(dir.path(), limits()).unwrap();
            spool.append(&[b"head\n", b"", b"body"], |_| {}).unwrap();
            spool.append(&[], |_| {}).unwrap();
        }
        let (_, pending) = Spool::open(dir.path(), limits()).unwrap();
        assert_eq!(
            payloads(&pending),
            vec![(1, &b"head\nbody"[..]), (2, &b""[..])]
        );
    }

    #[test]
    fn a_flipped_bit_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        spool.append(&[b"good"], |_| {}).unwrap();
        spool.append(&[b"flip"], |_| {}).unwrap();
        drop(spool);
        let seg = dir.path().join(format!("{:020}{SEGMENT_SUFFIX}", 1));
        let mut bytes = fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&seg, bytes).unwrap();
        let (_, pending) = Spool::open(dir.path(), SpoolLimits::new(1 << 20)).unwrap();
        assert_eq!(payloads(&pending), vec![(1, &b"good"[..])]);
    }

    #[test]
    fn a_full_spool_refuses_appends_until_commits_free_room() {
        let dir = tempfile::tempdir().unwrap();
        let lim = SpoolLimits {
            max_pending_bytes: 100,
            segment_bytes: 1000,
        };
        let (spool, _) = Spool::open(dir.path(), lim).unwrap();
        spool.append(&[&[0; 40]], |_| {}).unwrap();
        spool.append(&[&[0; 20]], |_| {}).unwrap();
        let err = spool
            .append(&[&[0; 20]], |_| panic!("not appended"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                SpoolError::Full {
                    pending_bytes: 100,
                    limit: 100
                }
            ),
            "{err}"
        );
        spool.commit(1).unwrap();
        spool.append(&[&[0; 20]], |_| {}).unwrap();
    }

    #[test]
    fn a_garbled_committed_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(COMMITTED_FILE), "twelve").unwrap();
        let err = Spool::open(dir.path(), limits()).err().unwrap().to_string();
        assert!(err.contains("committed file holds \"twelve\""), "{err}");
    }
}
