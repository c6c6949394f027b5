//! drainit under test: started as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`) or as a plain child of the test
//! (a subreaper), its child's output read line by line with deadlines,
//! real signals sent to it. Needs root and util-linux.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{
    DEADLINE, children, collect_text, drainit_bin, line_reader, scrub_env, send, wait_for,
};

/// Where drainit runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a new PID namespace.
    Pid1,
    /// A child of the test process: drainit registers as subreaper.
    Subreaper,
}

/// Both modes, for a test that needs them in one run.
pub const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

/// One test per mode from `fn NAME(mode: Mode)`: `NAME::pid1` and
/// `NAME::subreaper` (`cargo test NAME` runs both), so that a failure in
/// one mode never hides the other's result.
macro_rules! both_modes {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn pid1() {
                super::$name(crate::common::Mode::Pid1);
            }

            #[test]
            fn subreaper() {
                super::$name(crate::common::Mode::Subreaper);
            }
        }
    )+};
}
pub(crate) use both_modes;

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
    pub drainit: Option<std::path::PathBuf>,
}

impl Drainit {
    /// Starts `drainit ARGS...` with stdout piped for line reading.
    pub fn start<S: AsRef<OsStr>>(mode: Mode, args: &[S]) -> Drainit {
        Drainit::start_with(mode, args, Start::default())
    }

    /// Starts `drainit ARGS...` with `opts`: its environment (with every
    /// variable drainit reads scrubbed from the test's own), directory,
    /// wrapper, stdin.
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
        scrub_env(&mut cmd).envs(opts.env.iter().copied());
        if let Some(cwd) = opts.cwd {
            cmd.current_dir(cwd);
        }
        cmd.stdin(opts.stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = cmd.spawn().expect("start drainit");
        let lines = line_reader(process.stdout.take().unwrap());
        let stderr = collect_text(process.stderr.take().unwrap());
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

    /// The next line, which must satisfy `pred`: strict, so that a stray
    /// line (a signal forwarded where none should be) fails the test.
    /// Panics at the deadline.
    pub fn expect(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let line = self.next_line(what);
        assert!(
            pred(&line),
            "want {what}, got the line {line:?}; stderr:\n{}",
            self.stderr()
        );
        line
    }

    /// Reads lines until one satisfies `pred`: for output the test does not
    /// check line by line (say why at the call). Returns the lines skipped
    /// and the one found.
    pub fn skip_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> (Vec<String>, String) {
        let mut skipped = Vec::new();
        loop {
            let line = self.next_line(what);
            if pred(&line) {
                return (skipped, line);
            }
            skipped.push(line);
        }
    }

    /// The next line of output, within the deadline.
    fn next_line(&self, what: &str) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no line ({what}) within {DEADLINE:?}; stderr:\n{}",
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("output ended before {what}; stderr:\n{}", self.stderr())
            }
        }
    }

    /// The next line, which must be exactly `want`.
    pub fn expect_line(&self, want: &str) -> String {
        self.expect(&format!("'{want}'"), |l| l == want)
    }

    /// The next line must be `[NAME ]ready <pid>`; returns the fixture's pid as the test sees
    /// it (its pid inside the namespace is not the test's).
    pub fn ready(&self) -> i32 {
        self.expect("ready", |l| {
            l.starts_with("ready ") || l.contains(" ready ")
        });
        self.child()
    }

    /// The next lines must be the `NAME ready <pid>` lines of these named
    /// fixtures, in any order (they start side by side).
    pub fn all_ready(&self, names: &[&str]) {
        let mut left: Vec<&str> = names.to_vec();
        while !left.is_empty() {
            let line = self.expect(&format!("one of {left:?} ready"), |l| {
                left.iter().any(|n| l.starts_with(&format!("{n} ready ")))
            });
            left.retain(|n| !line.starts_with(&format!("{n} ready ")));
        }
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
