//! Test harness: runs the real drainit binary as PID 1 of a new PID
//! namespace (`unshare --pid --fork --mount-proc`) or as a plain child of
//! the test (a subreaper), reads its child's output line by line with
//! deadlines, and sends it real signals. Needs root and util-linux.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single expectation may take: generous, for a loaded
/// 2-core machine. Tests never sleep; they wait for a line or a state.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn drainit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_drainit")
}

/// The test fixture (examples/fixture.rs). A plain `cargo test` builds
/// it; `cargo test --test NAME` does not, so it is built here then.
pub fn fixture() -> String {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("examples").join("fixture");
    BUILD.call_once(|| {
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "--example", "fixture"])
                .status()
                .unwrap();
            assert!(ok.success(), "building the fixture failed");
        }
    });
    path.to_string_lossy().into_owned()
}

/// Where drainit runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a new PID namespace.
    Pid1,
    /// A child of the test process: drainit registers as subreaper.
    Subreaper,
}

pub const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

/// A running drainit.
pub struct Drainit {
    process: Child,
    /// drainit's pid as the test sees it.
    pub pid: i32,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// Options for starting drainit.
#[derive(Default)]
pub struct Start<'a> {
    pub env: Vec<(&'a str, &'a str)>,
    pub cwd: Option<&'a str>,
    /// Runs drainit under this wrapper argv (e.g. a shell that ignores
    /// signals before exec'ing drainit).
    pub wrapper: Vec<String>,
    /// drainit's stdin (default: /dev/null), e.g. a pty's slave side.
    pub stdin: Option<std::fs::File>,
    /// Another drainit binary than the test build (e.g. a static one).
    pub drainit: Option<PathBuf>,
}

impl Drainit {
    /// Starts `drainit ARGS...` with stdout piped for line reading.
    pub fn start<S: AsRef<OsStr>>(mode: Mode, args: &[S]) -> Drainit {
        Drainit::start_with(mode, args, Start::default())
    }

    pub fn start_with<S: AsRef<OsStr>>(mode: Mode, args: &[S], opts: Start) -> Drainit {
        let drainit = opts.drainit.clone().unwrap_or_else(|| drainit_bin().into());
        let mut cmd = match mode {
            Mode::Pid1 => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc"]);
                c.args(&opts.wrapper);
                c.arg(&drainit);
                c
            }
            Mode::Subreaper if opts.wrapper.is_empty() => Command::new(&drainit),
            Mode::Subreaper => {
                let mut c = Command::new(&opts.wrapper[0]);
                c.args(&opts.wrapper[1..]).arg(&drainit);
                c
            }
        };
        cmd.args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DRAINIT_") {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(opts.env.iter().copied());
        if let Some(cwd) = opts.cwd {
            cmd.current_dir(cwd);
        }
        cmd.stdin(opts.stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = cmd.spawn().expect("start drainit");
        let (tx, lines) = channel();
        let stdout = process.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err_pipe = process.stderr.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let outer = process.id() as i32;
        // Wrappers exec drainit, keeping their pid. Under unshare, drainit
        // is its child; one that exits at once may be gone before it is
        // seen (pid 0 then).
        let pid = if mode == Mode::Pid1 {
            wait_for(
                || {
                    let exited = matches!(process.try_wait(), Ok(Some(_)));
                    children(outer).first().copied().or(exited.then_some(0))
                },
                "drainit to start",
            )
        } else {
            outer
        };
        Drainit {
            process,
            pid,
            lines,
            stderr,
        }
    }

    /// Reads lines until one satisfies `pred`; panics at the deadline.
    pub fn expect(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no line {what} within {DEADLINE:?}; stderr:\n{}",
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("output ended before {what}; stderr:\n{}", self.stderr())
                }
            }
        }
    }

    /// Waits for the exact line.
    pub fn expect_line(&self, want: &str) -> String {
        self.expect(&format!("'{want}'"), |l| l == want)
    }

    /// Waits for `ready <pid>`; returns the fixture's pid as the test sees
    /// it (its pid inside the namespace is not the test's).
    pub fn ready(&self) -> i32 {
        self.expect("ready", |l| {
            l.starts_with("ready ") || l.contains(" ready ")
        });
        self.child()
    }

    /// drainit's direct child, as the test sees it.
    pub fn child(&self) -> i32 {
        wait_for(|| children(self.pid).first().copied(), "drainit's child")
    }

    /// Every line still to come, until the output closes.
    pub fn rest(&self) -> Vec<String> {
        let end = Instant::now() + DEADLINE;
        let mut rest = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("output still open after {DEADLINE:?}: {rest:?}")
                }
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        send(self.pid, sig);
    }

    /// What drainit logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for drainit to exit; returns its status and everything it logged.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                // Give the reader thread the last of the output.
                let log_end = Instant::now() + Duration::from_secs(5);
                while Instant::now() < log_end && Arc::strong_count(&self.stderr) > 1 {
                    thread::yield_now();
                }
                return (status, self.stderr());
            }
            if Instant::now() > end {
                let _ = self.process.kill();
                panic!(
                    "drainit did not exit within {DEADLINE:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for drainit to exit; returns its exit code (panics on a signal death).
    pub fn exit_code(self) -> i32 {
        let (status, log) = self.wait();
        status
            .code()
            .unwrap_or_else(|| panic!("drainit died by a signal: {status:?}\n{log}"))
    }
}

impl Drop for Drainit {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            if self.pid > 0 {
                send(self.pid, libc::SIGKILL);
            }
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

pub fn send(pid: i32, sig: i32) {
    // kill(0) or kill(-1) would signal the test itself.
    assert!(pid > 0, "no process to signal (pid {pid})");
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Polls `probe` until it returns `Some`, for at most `DEADLINE`.
pub fn wait_for<T>(mut probe: impl FnMut() -> Option<T>, what: &str) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// The children of `pid`, from /proc.
pub fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A field of /proc/PID/status, e.g. `SigBlk`.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// The state letter of a process (R, S, Z, ...), if it exists.
pub fn state(pid: i32) -> Option<char> {
    status_field(pid, "State").and_then(|s| s.chars().next())
}

/// Children of `pid` that are zombies.
pub fn zombie_children(pid: i32) -> usize {
    children(pid)
        .into_iter()
        .filter(|&c| state(c) == Some('Z'))
        .count()
}

/// Pids whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised name: state ppid pgrp ...
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a.to_string()) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pgid) && fields[0] != "Z" {
            members.push(pid);
        }
    }
    members
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lines of an append-only log file (empty if it does not exist yet).
pub fn log_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A SigBlk/SigIgn value of /proc/PID/status as a bit mask.
pub fn mask(hex: &str) -> u64 {
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

/// The bit of signal `sig` in such a mask.
pub fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The signals from 32 up to SIGRTMIN belong to the C library (glibc: 32
/// and 33, musl: 32 to 34; glibc's `posix_spawn` leaves them ignored, and
/// musl will not block them), not to the caller or drainit: masks are
/// compared without them.
pub fn libc_own() -> u64 {
    (32..libc::SIGRTMIN()).map(bit).sum()
}

pub mod build;
pub mod early_term;
pub mod elf;
