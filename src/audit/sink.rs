//! Where audit lines go: stdout or a file with size-based rotation, written by one thread
//! behind a bounded queue. The request path never waits on the disk beyond the queue; when the
//! queue is full, `block` waits for room (nothing lost) and `drop` counts the loss and reports
//! it in a line written before the next event.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

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

enum Msg {
    Line(Vec<u8>),
    /// Rendered on the writer thread, off the request path.
    Record(Box<super::Record>),
    Flush(mpsc::Sender<()>),
}

#[derive(Default, Debug)]
pub struct SinkCounters {
    pub depth: AtomicI64,
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub write_errors: AtomicU64,
}

pub struct Sink {
    tx: SyncSender<Msg>,
    on_full: OnFull,
    pub counters: Arc<SinkCounters>,
    /// Drops not yet reported in the log itself.
    unreported: Arc<AtomicU64>,
}

impl Sink {
    pub fn start(s: &SinkSettings) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(s.queue.max(1));
        let counters = Arc::new(SinkCounters::default());
        let unreported = Arc::new(AtomicU64::new(0));
        let mut writer = Writer::open(&s.output)?;
        let (c, u) = (counters.clone(), unreported.clone());
        std::thread::Builder::new().name("sluice-audit".into()).spawn(move || writer.run(rx, &c, &u))?;
        Ok(Self { tx, on_full: s.on_full, counters, unreported })
    }

    /// Queues one JSON line (without its newline).
    pub fn send(&self, line: Vec<u8>) {
        self.queue(Msg::Line(line));
    }

    /// Queues a request record; it is rendered as JSON on the writer thread.
    pub fn record(&self, r: Box<super::Record>) {
        self.queue(Msg::Record(r));
    }

    fn queue(&self, msg: Msg) {
        self.counters.depth.fetch_add(1, Ordering::Relaxed);
        let sent = match self.on_full {
            OnFull::Block => self.tx.send(msg).is_ok(),
            OnFull::Drop => match self.tx.try_send(msg) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    self.unreported.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.counters.depth.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Waits until everything queued so far is written and synced.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

/// How long the writer sleeps when the queue is empty. At 100,000 events/s a round holds 500
/// events, far below the default queue of 65,536.
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

    /// Drains the queue, then sleeps `POLL` when it is empty: producers never have to wake the
    /// writer (no syscall per event), each round is one write of many lines, and events reach
    /// the disk within milliseconds.
    fn run(&mut self, rx: Receiver<Msg>, c: &SinkCounters, unreported: &AtomicU64) {
        let mut line = Vec::with_capacity(2048);
        loop {
            let msg = match rx.try_recv() {
                Ok(m) => m,
                Err(mpsc::TryRecvError::Empty) => {
                    self.flush(false);
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            };
            match msg {
                Msg::Flush(done) => {
                    self.flush(true);
                    let _ = done.send(());
                    continue;
                }
                Msg::Line(l) => line = l,
                Msg::Record(r) => {
                    line.clear();
                    r.write_json(&mut line);
                }
            }
            let lost = unreported.swap(0, Ordering::Relaxed);
            if lost > 0 {
                let note = format!(
                    r#"{{"@timestamp":"{}","event":{{"kind":"alert","action":"audit_events_dropped","outcome":"failure"}},"sluice":{{"audit":{{"dropped":{lost}}}}}}}"#,
                    crate::clock::rfc3339(crate::clock::Clock::now_ms(&crate::clock::SystemClock))
                );
                self.write(note.as_bytes(), c);
            }
            self.write(&line, c);
            c.depth.fetch_sub(1, Ordering::Relaxed);
            c.written.fetch_add(1, Ordering::Relaxed);
        }
        self.flush(true);
    }

    fn write(&mut self, line: &[u8], c: &SinkCounters) {
        let ok = match &mut self.target {
            Target::Stdout(s) => {
                let mut l = s.lock();
                l.write_all(line).and_then(|()| l.write_all(b"\n")).is_ok()
            }
            Target::File { w, path, size, max_size, max_files } => {
                let need = line.len() as u64 + 1;
                if *size > 0 && *size + need > *max_size {
                    match rotate(w, path, *max_files).and_then(|()| open_append(path)) {
                        Ok((nw, ns)) => {
                            *w = nw;
                            *size = ns;
                        }
                        Err(e) => tracing::error!(error = %e, "audit file rotation failed"),
                    }
                }
                *size += need;
                w.write_all(line).and_then(|()| w.write_all(b"\n")).is_ok()
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
