//! The local spool of the ledger and of the audit decisions written behind
//! responses: every event is appended to a file in the data directory
//! before its response is released, so a process killed with events still
//! queued loses none of them. The batch writer
//! drains the queue into the database and tells the spool what is stored;
//! a drained file is truncated (or, once rotated, deleted). At start the
//! files a previous process left are replayed; inserts are idempotent on
//! the request id, so an event stored before the kill never counts twice.
//!
//! An append is a `write(2)` into the page cache, which survives the
//! process. Surviving the machine needs the data on disk: a syncer calls
//! `fdatasync` at most every 10 ms (sooner after 256 events), off the
//! request path, so a lost machine loses at most that window.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use sync::{syncer, SyncState};

/// A file is rotated past this size; the old one goes once drained.
const ROTATE_BYTES: u64 = 64 << 20;
/// Appends that wake the syncer early.
const SYNC_EVERY_EVENTS: usize = 256;
/// The group-commit window. Each sync is a blocking-pool round trip (two
/// context switches) and a disk flush, on the cores that serve requests:
/// at 2 ms the two spools synced up to 1,000 times a second.
const SYNC_WINDOW: Duration = Duration::from_millis(10);
/// The name every spool file of a queue starts with.
const SUFFIX: &str = ".spool";

/// One file of the spool, and how many of its events wait for the database.
struct Segment {
    path: PathBuf,
    file: Arc<File>,
    bytes: u64,
    pending: u64,
    /// Appended to since the last sync.
    dirty: bool,
}

struct Files {
    /// By sequence; the last is the one appended to.
    segments: BTreeMap<u64, Segment>,
    next: u64,
}

pub struct Spool {
    dir: PathBuf,
    prefix: String,
    files: Mutex<Files>,
    sync: Arc<SyncState>,
}

impl Drop for Spool {
    /// The last window's appends are synced here, not left to the syncer:
    /// it needs the spool to reach the files, and this is the spool's end.
    /// It blocks the dropping thread for one `fdatasync`, once, at a stop.
    fn drop(&mut self) {
        let dirty = self.take_dirty();
        if self.sync.unsynced.swap(0, Ordering::Relaxed) > 0 && !dirty.is_empty() {
            if let Err(e) = dirty.iter().try_for_each(|f| f.sync_data()) {
                tracing::error!(error = %e, "spool sync at close failed");
            }
            self.sync.syncs.fetch_add(1, Ordering::Relaxed);
        }
        self.sync.wake.notify_one();
    }
}

/// Where an event was spooled: what the writer hands back once stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64);

/// A spooled line (one event's JSON) and the mark it is spooled under.
pub type Line = (Mark, Vec<u8>);

/// Events a previous process left, with the mark each is spooled under.
pub struct Leftovers {
    pub lines: Vec<Line>,
    /// Lines that could not be read (a torn last line after a crash).
    pub unreadable: usize,
}

impl Spool {
    /// Opens the queue's spool in `dir`, taking over the files a previous
    /// process left (they are returned to be replayed) and starting a new
    /// one. A file another live process holds is left alone.
    pub fn open(dir: &Path, queue: &str) -> std::io::Result<(Arc<Spool>, Leftovers)> {
        Self::open_with(dir, queue, SYNC_WINDOW)
    }

    fn open_with(
        dir: &Path,
        queue: &str,
        window: Duration,
    ) -> std::io::Result<(Arc<Spool>, Leftovers)> {
        // Usage events name tenants, keys and end users: the owner only.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let prefix = format!("{queue}-");
        let mut files = Files {
            segments: BTreeMap::new(),
            next: 0,
        };
        let mut leftovers = Leftovers {
            lines: Vec::new(),
            unreadable: 0,
        };
        for path in left_behind(dir, &prefix)? {
            let Some(file) = take_over(&path)? else {
                continue;
            };
            let seq = files.next;
            files.next += 1;
            let (lines, unreadable) = read_lines(&file)?;
            leftovers.unreadable += unreadable;
            let pending = lines.len() as u64;
            leftovers
                .lines
                .extend(lines.into_iter().map(|l| (Mark(seq), l)));
            let bytes = file.metadata()?.len();
            let file = Arc::new(file);
            let seg = Segment {
                path,
                file,
                bytes,
                pending,
                dirty: false,
            };
            files.segments.insert(seq, seg);
        }
        let spool = Arc::new(Spool {
            dir: dir.to_path_buf(),
            prefix,
            files: Mutex::new(files),
            sync: Arc::new(SyncState {
                window,
                unsynced: AtomicUsize::new(0),
                wake: Notify::new(),
                syncs: AtomicUsize::new(0),
            }),
        });
        {
            let mut files = spool.lock();
            spool.start_segment(&mut files)?;
            // Files with nothing readable left go at once.
            let current = files.segments.keys().next_back().copied();
            let empty: Vec<u64> = files
                .segments
                .iter()
                .filter(|(seq, s)| s.pending == 0 && Some(**seq) != current)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in empty {
                if let Some(s) = files.segments.remove(&seq) {
                    remove(&s.path);
                }
            }
        }
        tokio::spawn(syncer(Arc::downgrade(&spool), spool.sync.clone()));
        Ok((spool, leftovers))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start_segment(&self, files: &mut Files) -> std::io::Result<()> {
        let seq = files.next;
        files.next += 1;
        let path = self.dir.join(format!(
            "{}{}-{seq}{SUFFIX}",
            self.prefix,
            uuid::Uuid::new_v4().simple()
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)?;
        // Held for this process's life: a replica starting beside it on
        // the same directory leaves the file alone.
        file.try_lock().map_err(std::io::Error::other)?;
        let seg = Segment {
            path,
            file: Arc::new(file),
            bytes: 0,
            pending: 0,
            dirty: false,
        };
        files.segments.insert(seq, seg);
        Ok(())
    }

    /// Appends one event (a JSON line ending in its newline) and says where.
    pub fn append(&self, buf: &[u8]) -> std::io::Result<Mark> {
        if buf.last() != Some(&b'\n') || buf[..buf.len() - 1].contains(&b'\n') {
            return Err(std::io::Error::other("a spool line is one line"));
        }
        let mut files = self.lock();
        let rotate = files
            .segments
            .values()
            .next_back()
            .is_none_or(|s| s.bytes >= ROTATE_BYTES);
        if rotate {
            self.start_segment(&mut files)?;
        }
        let (seq, seg) = files
            .segments
            .iter_mut()
            .next_back()
            .ok_or_else(|| std::io::Error::other("spool has no file"))?;
        (&*seg.file).write_all(buf)?;
        seg.bytes += buf.len() as u64;
        seg.pending += 1;
        seg.dirty = true;
        let mark = Mark(*seq);
        drop(files);
        // The first append of a window starts it; the 256th ends it early.
        let unsynced = self.sync.unsynced.fetch_add(1, Ordering::Relaxed) + 1;
        if unsynced == 1 || unsynced == SYNC_EVERY_EVENTS {
            self.sync.wake.notify_one();
        }
        Ok(mark)
    }

    /// Appends `value` as one JSON line and says where.
    pub fn append_json<T: serde::Serialize>(&self, value: &T) -> std::io::Result<Mark> {
        let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.append(&line)
    }

    /// Events under these marks are in the database: one `stored` call per
    /// run of one file, not per event (a batch rarely spans two files).
    pub fn stored_all(&self, marks: impl Iterator<Item = Mark>) {
        let mut run: Option<(Mark, u64)> = None;
        for mark in marks {
            match &mut run {
                Some((m, n)) if *m == mark => *n += 1,
                _ => {
                    if let Some((m, n)) = run.replace((mark, 1)) {
                        self.stored(m, n);
                    }
                }
            }
        }
        if let Some((m, n)) = run {
            self.stored(m, n);
        }
    }

    /// Events under `mark` are in the database: a drained file is
    /// truncated (the current one) or removed (an older one).
    pub fn stored(&self, mark: Mark, n: u64) {
        let mut files = self.lock();
        let last = files.segments.keys().next_back().copied();
        let Some(seg) = files.segments.get_mut(&mark.0) else {
            return;
        };
        seg.pending = seg.pending.saturating_sub(n);
        if seg.pending > 0 {
            return;
        }
        if Some(mark.0) == last {
            match seg.file.set_len(0) {
                Ok(()) => seg.bytes = 0,
                Err(e) => tracing::warn!(error = %e, "spool not truncated; it is rotated later"),
            }
        } else if let Some(seg) = files.segments.remove(&mark.0) {
            remove(&seg.path);
        }
    }

    /// At a clean stop, after the queue is flushed: drained files go, so
    /// the next start has nothing to replay.
    pub fn close(&self) {
        let mut files = self.lock();
        let drained: Vec<u64> = files
            .segments
            .iter()
            .filter(|(_, s)| s.pending == 0)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in drained {
            if let Some(s) = files.segments.remove(&seq) {
                remove(&s.path);
            }
        }
    }

    /// Events appended and not yet stored, across the spool's files.
    pub fn pending(&self) -> u64 {
        self.lock().segments.values().map(|s| s.pending).sum()
    }

    #[cfg(test)]
    fn syncs(&self) -> usize {
        self.sync.syncs.load(Ordering::Relaxed)
    }

    /// The files appended to since the last sync: the current one, and
    /// the one before it when a rotation came in the window (its last
    /// appends would otherwise never be synced).
    fn take_dirty(&self) -> Vec<Arc<File>> {
        let mut files = self.lock();
        files
            .segments
            .values_mut()
            .filter_map(|s| std::mem::take(&mut s.dirty).then(|| s.file.clone()))
            .collect()
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "a drained spool file stays");
    }
}

/// The queue's files in `dir`, oldest first by name.
fn left_behind(dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(prefix) && name.ends_with(SUFFIX) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Opens a left file for this process, or None while another holds it.
fn take_over(path: &Path) -> std::io::Result<Option<File>> {
    // Gone meanwhile: another replica on this directory drained it.
    let file = match OpenOptions::new().read(true).append(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The complete lines of a file; a line cut short by a crash (no newline)
/// is not an event and is counted apart.
fn read_lines(file: &File) -> std::io::Result<(Vec<Vec<u8>>, usize)> {
    let mut lines = Vec::new();
    let mut unreadable = 0;
    let mut reader = BufReader::new(file);
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if !line.is_empty() {
                lines.push(line);
            }
        } else {
            unreadable += 1;
        }
    }
    Ok((lines, unreadable))
}

mod sync;
#[cfg(test)]
mod tests;
