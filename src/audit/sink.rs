//! Where audit lines go: stdout or a file with size-based rotation, written by one thread
//! behind a bounded queue. The request path never waits on the disk beyond the queue; when the
//! queue is full, `block` waits for room (nothing lost) and `drop` counts the loss and reports
//! it in a line written before the next event.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File { path: PathBuf, max_size: u64, max_files: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnFull {
    #[default]
    Block,
    Drop,
}

#[derive(Clone, Debug)]
pub struct SinkSettings {
    pub output: Output,
    pub queue: usize,
    pub on_full: OnFull,
}

#[derive(Default, Debug)]
pub struct SinkCounters {
    pub depth: AtomicI64,
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub write_errors: AtomicU64,
}

/// The queue: rendered lines waiting for the writer, in one buffer it swaps out whole.
#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    lines: usize,
    /// Flushes asked for, and the last one the writer completed (synced).
    flush_asked: u64,
    flush_done: u64,
    closed: bool,
    /// The writer thread ended (it only does when the sink closed, or if it panicked): nothing
    /// will make room any more, so nobody waits for it.
    writer_gone: bool,
}

struct State {
    queue: Mutex<Queue>,
    /// Wakes the writer before its poll: the queue is half full, a flush was asked for, or the
    /// sink closed.
    work: Condvar,
    /// Wakes senders waiting for room (`block`) and flushes waiting to complete.
    room: Condvar,
    capacity: usize,
    counters: Arc<SinkCounters>,
    /// Drops not yet reported in the log itself.
    unreported: AtomicU64,
}

pub struct Sink {
    state: Arc<State>,
    on_full: OnFull,
    pub counters: Arc<SinkCounters>,
}

thread_local! {
    /// Where a record is rendered before it is copied into the queue.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(2048));
}

impl Sink {
    pub fn start(s: &SinkSettings) -> std::io::Result<Self> {
        let (sink, mut writer) = Self::parts(s)?;
        let state = sink.state.clone();
        std::thread::Builder::new().name("sluice-audit".into()).spawn(move || writer.run(&state))?;
        Ok(sink)
    }

    fn parts(s: &SinkSettings) -> std::io::Result<(Self, Writer)> {
        let counters = Arc::new(SinkCounters::default());
        let state = Arc::new(State {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            capacity: s.queue.max(1),
            counters: counters.clone(),
            unreported: AtomicU64::new(0),
        });
        Ok((Self { state, on_full: s.on_full, counters }, Writer::open(&s.output)?))
    }

    /// Queues one line (an admin event).
    pub fn send(&self, line: Vec<u8>) {
        self.queue(&line);
    }

    /// Renders a request's record on the calling thread (its data is still in cache there) and
    /// queues the line.
    pub fn record(&self, r: &super::Record) {
        SCRATCH.with_borrow_mut(|line| {
            line.clear();
            r.write_json(line);
            self.queue(line);
        });
    }

    fn queue(&self, line: &[u8]) {
        let st = &*self.state;
        let lost = || {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            st.unreported.fetch_add(1, Ordering::Relaxed);
        };
        let Ok(mut q) = st.queue.lock() else { return lost() };
        while q.lines >= st.capacity && !q.closed {
            if self.on_full == OnFull::Drop || q.writer_gone {
                return lost();
            }
            st.work.notify_one();
            q = match st.room.wait(q) {
                Ok(q) => q,
                Err(_) => return lost(),
            };
        }
        q.buf.extend_from_slice(line);
        q.buf.push(b'\n');
        q.lines += 1;
        if q.lines == st.capacity.div_ceil(2) {
            // Half full: the writer takes the batch now rather than at its next poll.
            st.work.notify_one();
        }
        self.counters.depth.store(q.lines as i64, Ordering::Relaxed);
    }

    /// Returns once every line queued before the call is written and synced to the file.
    pub fn flush(&self) {
        let st = &*self.state;
        let Ok(mut q) = st.queue.lock() else { return };
        q.flush_asked += 1;
        let want = q.flush_asked;
        st.work.notify_one();
        while q.flush_done < want && !q.closed && !q.writer_gone {
            q = match st.room.wait(q) {
                Ok(q) => q,
                Err(_) => return,
            };
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Ok(mut q) = self.state.queue.lock() {
            q.closed = true;
        }
        self.state.work.notify_one();
    }
}

/// How often the writer takes the queue when nobody wakes it: lines reach the file within this.
const POLL: std::time::Duration = std::time::Duration::from_millis(5);

enum Target {
    Stdout(std::io::Stdout),
    File { w: BufWriter<File>, path: PathBuf, size: u64, max_size: u64, max_files: usize },
}

struct Writer {
    target: Target,
}

fn open_append(path: &Path) -> std::io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((BufWriter::with_capacity(64 * 1024, f), size))
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl Writer {
    fn open(o: &Output) -> std::io::Result<Self> {
        let target = match o {
            Output::Stdout => Target::Stdout(std::io::stdout()),
            Output::File { path, max_size, max_files } => {
                let (w, size) = open_append(path)?;
                Target::File { w, path: path.clone(), size, max_size: *max_size, max_files: *max_files }
            }
        };
        Ok(Self { target })
    }

    /// Takes the queue every `POLL` (producers wake it only when it is half full: no system
    /// call per event), each round one write of many lines; events reach the file within
    /// milliseconds. However it ends, waiting senders and flushes are released.
    fn run(&mut self, st: &State) {
        struct Gone<'a>(&'a State);
        impl Drop for Gone<'_> {
            fn drop(&mut self) {
                let mut q = self.0.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                q.writer_gone = true;
                self.0.room.notify_all();
            }
        }
        let _gone = Gone(st);
        let mut batch = Vec::with_capacity(64 * 1024);
        while self.step(st, &mut batch, true) {}
    }

    /// Takes what is queued (with `wait`, after up to `POLL` unless the queue is half full, a
    /// flush was asked for or the sink closed), writes it in as few writes as rotation allows and
    /// completes the flushes asked for meanwhile. False once the sink closed and all is written.
    fn step(&mut self, st: &State, batch: &mut Vec<u8>, wait: bool) -> bool {
        let (lines, flush, closed) = {
            let Ok(mut q) = st.queue.lock() else { return false };
            // Lines are written in batches, one per `POLL`, unless someone needs them sooner.
            if wait && q.lines < st.capacity.div_ceil(2) && q.flush_asked == q.flush_done && !q.closed {
                q = match st.work.wait_timeout(q, POLL) {
                    Ok((q, _)) => q,
                    Err(_) => return false,
                };
            }
            batch.clear();
            std::mem::swap(batch, &mut q.buf);
            let lines = std::mem::take(&mut q.lines);
            st.counters.depth.store(0, Ordering::Relaxed);
            st.room.notify_all();
            (lines, (q.flush_asked > q.flush_done).then_some(q.flush_asked), q.closed)
        };
        let c = &*st.counters;
        let lost = st.unreported.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let note = format!(
                r#"{{"@timestamp":"{}","event":{{"kind":"alert","action":"audit_events_dropped","outcome":"failure"}},"sluice":{{"audit":{{"dropped":{lost}}}}}}}"#,
                crate::clock::rfc3339(crate::clock::Clock::now_ms(&crate::clock::SystemClock))
            );
            self.write(format!("{note}\n").as_bytes(), c);
        }
        self.write(batch, c);
        c.written.fetch_add(lines as u64, Ordering::Relaxed);
        self.flush(flush.is_some() || closed);
        if let Some(asked) = flush {
            if let Ok(mut q) = st.queue.lock() {
                q.flush_done = q.flush_done.max(asked);
                st.room.notify_all();
            }
        }
        !(closed && lines == 0)
    }

    /// Writes whole lines (each ending in `\n`), as few writes as rotation allows.
    fn write(&mut self, mut lines: &[u8], c: &SinkCounters) {
        let ok = match &mut self.target {
            Target::Stdout(s) => s.lock().write_all(lines).is_ok(),
            Target::File { w, path, size, max_size, max_files } => {
                let mut ok = true;
                while !lines.is_empty() {
                    let room = max_size.saturating_sub(*size).min(lines.len() as u64) as usize;
                    // The whole lines that fit in this file; a line longer than a whole file
                    // gets a file of its own.
                    let mut take = if room == lines.len() { room } else { memchr::memrchr(b'\n', &lines[..room]).map_or(0, |i| i + 1) };
                    if take == 0 && *size > 0 {
                        match rotate(w, path, *max_files).and_then(|()| open_append(path)) {
                            Ok((nw, ns)) => {
                                *w = nw;
                                *size = ns;
                                continue;
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "audit file rotation failed");
                                take = lines.len();
                            }
                        }
                    }
                    if take == 0 {
                        take = memchr::memchr(b'\n', lines).map_or(lines.len(), |i| i + 1);
                    }
                    ok &= w.write_all(&lines[..take]).is_ok();
                    *size += take as u64;
                    lines = &lines[take..];
                }
                ok
            }
        };
        if !ok {
            c.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&mut self, sync: bool) {
        match &mut self.target {
            Target::Stdout(s) => {
                let _ = s.flush();
            }
            Target::File { w, .. } => {
                let _ = w.flush();
                if sync {
                    let _ = w.get_ref().sync_data();
                }
            }
        }
    }
}

/// `audit.log` -> `audit.log.1` -> … -> `audit.log.<max_files>` (the oldest is removed).
/// Like the lines in between, a rotated file reaches the disk through the OS's writeback (a sync
/// here would stall the writer for the whole file); `flush` and shutdown sync.
fn rotate(w: &mut BufWriter<File>, path: &Path, max_files: usize) -> std::io::Result<()> {
    w.flush()?;
    let _ = std::fs::remove_file(rotated(path, max_files.max(1)));
    for n in (1..max_files.max(1)).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(dir: &Path, queue: usize, on_full: OnFull) -> (Sink, Writer, PathBuf) {
        let path = dir.join("audit.log");
        let s = SinkSettings { output: Output::File { path: path.clone(), max_size: 1 << 20, max_files: 2 }, queue, on_full };
        let (sink, writer) = Sink::parts(&s).unwrap();
        (sink, writer, path)
    }

    #[test]
    fn a_full_queue_in_drop_mode_counts_the_loss_and_reports_it_before_the_next_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, mut writer, path) = sink(dir.path(), 2, OnFull::Drop);
        for i in 0..5 {
            sink.send(format!(r#"{{"n":{i}}}"#).into_bytes());
        }
        assert_eq!(sink.counters.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(sink.counters.depth.load(Ordering::Relaxed), 2);
        let mut batch = Vec::new();
        assert!(writer.step(&sink.state, &mut batch, false));
        sink.send(br#"{"n":5}"#.to_vec());
        assert!(writer.step(&sink.state, &mut batch, false));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0]["sluice"]["audit"]["dropped"], 3);
        assert_eq!((lines[1]["n"].as_u64(), lines[2]["n"].as_u64(), lines[3]["n"].as_u64()), (Some(0), Some(1), Some(5)));
        assert_eq!(sink.counters.written.load(Ordering::Relaxed), 3);
        assert_eq!(sink.counters.depth.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn block_mode_waits_for_room_and_flush_returns_once_everything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, mut writer, path) = sink(dir.path(), 1, OnFull::Block);
        let state = sink.state.clone();
        let t = std::thread::spawn(move || writer.run(&state));
        for i in 0..200 {
            sink.send(format!(r#"{{"n":{i}}}"#).into_bytes());
        }
        sink.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let got: Vec<u64> = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["n"].as_u64().unwrap()).collect();
        assert_eq!(got, (0..200).collect::<Vec<_>>(), "in order, none lost");
        assert_eq!(sink.counters.dropped.load(Ordering::Relaxed), 0);
        drop(sink);
        t.join().unwrap();
    }

    #[test]
    fn one_batch_is_split_across_rotated_files_at_line_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let s = SinkSettings { output: Output::File { path: path.clone(), max_size: 100, max_files: 50 }, queue: 100, on_full: OnFull::Block };
        let (sink, mut writer) = Sink::parts(&s).unwrap();
        let mut sent = Vec::new();
        for i in 0..20 {
            let line = if i == 7 { format!(r#"{{"n":{i},"pad":"{}"}}"#, "x".repeat(150)) } else { format!(r#"{{"n":{i}}}"#) };
            sent.push(line.clone());
            sink.send(line.into_bytes());
        }
        assert!(writer.step(&sink.state, &mut Vec::new(), false));
        writer.flush(true);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        // audit.log.N holds older lines the higher N is; audit.log the newest.
        files.sort_by_key(|p| std::cmp::Reverse(p.extension().and_then(|e| e.to_str()).and_then(|e| e.parse::<u32>().ok()).unwrap_or(0)));
        let mut got = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.len() <= 100 || text.lines().count() == 1, "{} holds {} bytes over the limit", f.display(), text.len());
            assert!(text.ends_with('\n'));
            got.extend(text.lines().map(str::to_string));
        }
        assert_eq!(got, sent);
    }

    #[test]
    fn without_a_writer_nobody_waits_and_the_loss_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, _writer, _) = sink(dir.path(), 1, OnFull::Block);
        sink.send(b"{}".to_vec());
        sink.state.queue.lock().unwrap().writer_gone = true;
        sink.send(b"{}".to_vec());
        sink.flush();
        assert_eq!(sink.counters.dropped.load(Ordering::Relaxed), 1);
    }
}
