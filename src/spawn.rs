//! Starting the child and the drain hook, and letting go of what drainit
//! inherited once the child runs.
//!
//! Both run with the signal state drainit inherited (CONTRACT.md, "Process
//! model"): std's `Command` would hand on drainit's own mask, in which
//! every handled signal is blocked (rust-lang/rust#101077), so the mask is
//! restored in the forked child before exec.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::errno::Errno;

use crate::signals::Signal;
use crate::sigwait::InheritedMask;

/// Why COMMAND could not be started, with the exit code it maps to.
#[derive(Debug)]
pub struct SpawnError {
    program: OsString,
    error: io::Error,
}

impl SpawnError {
    /// 127 when COMMAND was not found, 126 when it exists but cannot be
    /// executed, 1 for anything else (as tini and shells do).
    pub fn exit_code(&self) -> i32 {
        match self.error.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => 127,
            Some(
                libc::EACCES
                | libc::EPERM
                | libc::ENOEXEC
                | libc::EISDIR
                | libc::ETXTBSY
                | libc::ELOOP,
            ) => 126,
            _ => 1,
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to run '{}': {}",
            self.program.to_string_lossy(),
            describe(&self.error)
        )
    }
}

/// An `io::Error` as a short cause, without Rust's "(os error N)".
pub fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}

/// Starts COMMAND (looked up in PATH) in a new process group, made the
/// terminal's foreground group when stdin is a terminal. Returns its pid.
pub fn child(command: &[OsString], mask: InheritedMask) -> Result<libc::pid_t, SpawnError> {
    let Some((program, args)) = command.split_first() else {
        return Err(SpawnError {
            program: OsString::new(),
            error: io::Error::from_raw_os_error(libc::ENOENT),
        });
    };
    let foreground = nix::unistd::isatty(io::stdin()).unwrap_or(false);
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    restore_signal_state(&mut cmd, mask, foreground);
    spawn(&mut cmd).map_err(|error| SpawnError {
        program: program.clone(),
        error,
    })
}

/// Starts the drain hook in its own process group, in `cwd`, with
/// `DRAINIT_CHILD_PID` and `DRAINIT_SIGNAL` added to the environment.
pub fn hook(
    words: &[String],
    cwd: Option<&Path>,
    mask: InheritedMask,
    child: libc::pid_t,
    stop: Signal,
) -> io::Result<libc::pid_t> {
    let Some((program, args)) = words.split_first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .process_group(0)
        .env("DRAINIT_CHILD_PID", child.to_string())
        .env("DRAINIT_SIGNAL", stop.to_string());
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    restore_signal_state(&mut cmd, mask, false);
    spawn(&mut cmd)
}

fn spawn(cmd: &mut Command) -> io::Result<libc::pid_t> {
    // Dropping the `Child` neither waits nor kills: the reaper owns waitpid.
    let child = cmd.spawn()?;
    libc::pid_t::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// In the forked child, before exec: take the terminal if asked, give
/// SIGPIPE its default action (std ignores it in drainit), and put back the
/// inherited mask.
fn restore_signal_state(cmd: &mut Command, mask: InheritedMask, foreground: bool) {
    let closure = move || {
        if foreground {
            take_terminal();
        }
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        mask.restore()
    };
    // SAFETY: the closure only makes async-signal-safe calls (signal-safety(7)):
    // pthread_sigmask, sigaddset, tcsetpgrp, getpid, signal.
    unsafe { cmd.pre_exec(closure) };
}

/// Makes the calling process's group the foreground group of the terminal
/// on stdin. From a background group tcsetpgrp(3) raises SIGTTOU unless it
/// is blocked, so it is blocked first (tini's `isolate_child`). A failure
/// (no controlling terminal: ENOTTY) is not fatal: the child runs anyway.
fn take_terminal() {
    // SAFETY: async-signal-safe calls on a local, initialised set.
    unsafe {
        let mut ttou = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, std::ptr::null_mut());
        libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
    }
}

/// After the spawn: drainit moves to `/` (so it pins no mount) and closes
/// its copies of inherited descriptors above 2 (so a pipe the child closes
/// really closes). Failures are logged: the child is already running.
pub fn release_inherited() {
    if let Err(e) = nix::unistd::chdir("/") {
        log::warn!("failed to change directory to /: {}", e.desc());
    }
    // SAFETY: closing descriptors drainit does not use; its own are
    // close-on-exec ones created later, or 0-2.
    if unsafe { libc::close_range(3, libc::c_uint::MAX, 0) } == 0 {
        return;
    }
    // close_range(2) needs Linux 5.9; older hosts list /proc/self/fd.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        log::warn!(
            "failed to close inherited descriptors: {}",
            Errno::last().desc()
        );
        return;
    };
    let fds: Vec<libc::c_int> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: as above; EBADF for the listing's own, now closed, fd.
        unsafe { libc::close(fd) };
    }
}
