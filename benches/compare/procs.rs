//! The processes of a run: an init in its own namespace, the spinner that
//! keeps a core busy, and the small system-call helpers the sections share.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::common::{self, children};
use crate::{Init, this_exe};

/// An init running in its own PID namespace.
pub struct Running {
    pub unshare: Child,
    /// The init's pid as seen from here.
    pub init: i32,
    stdout: Option<BufReader<ChildStdout>>,
    pub stdin: Option<ChildStdin>,
}

impl Running {
    pub fn start(init: &Init, child: &[&OsStr], piped: bool) -> Running {
        let mut cmd = init.command(child);
        if piped {
            cmd.stdout(Stdio::piped()).stdin(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null());
        }
        let mut unshare = cmd.spawn().expect("spawn unshare");
        let init_pid = wait_for(|| children(unshare.id() as i32).first().copied());
        let stdout = unshare.stdout.take().map(BufReader::new);
        let stdin = unshare.stdin.take();
        Running {
            unshare,
            init: init_pid,
            stdout,
            stdin,
        }
    }

    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let reader = self.stdout.as_mut().expect("piped");
        reader.read_line(&mut line).expect("read child line");
        assert!(!line.is_empty(), "child closed its output");
        line.trim_end().to_string()
    }

    /// Waits until the init's child runs `comm` (exec is done).
    pub fn wait_child(&self, comm: &str) -> i32 {
        wait_for(|| {
            children(self.init).into_iter().find(|&pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            })
        })
    }

    /// A pidfd of the init, readable once it has exited.
    pub fn pidfd(&self) -> OwnedFd {
        // SAFETY: pidfd_open on a pid this bench started; checked below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.init, 0) } as i32;
        assert!(fd >= 0, "pidfd_open");
        // SAFETY: a descriptor just opened, owned by nobody else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }
}

/// Killing the init ends its namespace, so nothing is left behind, also
/// when a section panics.
impl Drop for Running {
    fn drop(&mut self) {
        // Once unshare is reaped, the init's pid may belong to another.
        if let Ok(None) = self.unshare.try_wait() {
            signal(self.init, libc::SIGKILL);
            let _ = self.unshare.wait();
        }
    }
}

/// Blocks until `pidfd` is readable (its process exited), for at most
/// 10 s; false when it did not.
pub fn wait_exit(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, 10_000) == 1 }
}

/// One process spinning on a core for as long as it lives: the load of a
/// busy node. `BENCH_BUSY_CPU=N` pins it to CPU N.
pub struct Busy {
    spinner: Child,
    cpu: Option<usize>,
}

impl Busy {
    pub fn start() -> Busy {
        let cpu: Option<usize> = std::env::var("BENCH_BUSY_CPU")
            .ok()
            .and_then(|c| c.parse().ok());
        let mut cmd = Command::new(this_exe());
        cmd.args(["__child", "spin"]);
        if let Some(cpu) = cpu {
            cmd.arg(cpu.to_string());
        }
        let spinner = cmd.spawn().expect("start the spinner");
        Busy { spinner, cpu }
    }

    pub fn describe(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("busy: one process spins on CPU {cpu} throughout"),
            None => "busy: one process spins (not pinned) throughout".into(),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.spinner.kill();
        let _ = self.spinner.wait();
    }
}

/// Polls `f` every 200 µs (start times are measured by it) until it
/// yields, for at most the tests' deadline.
pub fn wait_for<T>(f: impl FnMut() -> Option<T>) -> T {
    common::poll(common::DEADLINE, Duration::from_micros(200), f, || {
        "the bench's processes".into()
    })
}

pub fn count_children(pid: i32, buf: &mut String) -> usize {
    buf.clear();
    let path = format!("/proc/{pid}/task/{pid}/children");
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(buf);
    }
    buf.split_ascii_whitespace().count()
}

/// The number in a field of /proc/PID/status (`VmRSS`: kB).
pub fn status_number(pid: i32, field: &str) -> Option<u64> {
    common::status_field(pid, field)?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A field of /proc/PID/smaps_rollup, in kB (`Anonymous`, `Rss`...).
pub fn rollup_number(pid: i32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a pid this bench started.
    unsafe { libc::kill(pid, sig) };
}

/// CLOCK_MONOTONIC in nanoseconds, as the child programs stamp it.
pub fn monotonic_ns() -> u64 {
    crate::common::fixture_log::monotonic_ns() as u64
}
