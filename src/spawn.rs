//! Starting the child and the drain hook, and letting go of what drainit
//! inherited once the child runs.
//!
//! Both run with the signal state drainit inherited (CONTRACT.md, "Process
//! model"), in a new process group. They are started with posix_spawn(3),
//! not std's `Command`: glibc's and musl's spawn share drainit's memory
//! until exec (`CLONE_VM | CLONE_VFORK`), so no page table is copied and
//! drainit takes no copy-on-write faults afterwards, and its attributes do
//! what drainit needs in the child (group, mask, SIGPIPE default) with no
//! code of ours running there. The one exception is a child that must take
//! the terminal: see `spawn_in_foreground`.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::ptr;

use nix::errno::Errno;
use nix::spawn::{
    PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn, posix_spawnp,
};
use nix::sys::signal::{self as nix_signal, SigSet};
use nix::unistd::Pid;

use crate::events::InheritedMask;
use crate::signals::Signal;

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
/// terminal's foreground group when stdin is drainit's controlling
/// terminal. Returns its pid.
pub fn child(command: &[OsString], mask: InheritedMask) -> Result<libc::pid_t, SpawnError> {
    let started = if controls_terminal() {
        spawn_in_foreground(command, mask)
    } else {
        spawn(command, &environment(&[]), None, mask).map_err(io::Error::from)
    };
    started.map_err(|error| SpawnError {
        program: command.first().cloned().unwrap_or_default(),
        error,
    })
}

/// Starts the drain hook in its own process group, in `cwd`, with
/// `DRAINIT_CHILD_PID`, `DRAINIT_SIGNAL` and `DRAINIT_REASON` added to the
/// environment.
pub fn hook(
    words: &[String],
    cwd: Option<&Path>,
    mask: InheritedMask,
    child: libc::pid_t,
    stop: Signal,
    reason: &str,
) -> io::Result<libc::pid_t> {
    let extra = [
        format!("DRAINIT_CHILD_PID={child}"),
        format!("DRAINIT_SIGNAL={stop}"),
        format!("DRAINIT_REASON={reason}"),
    ]
    .map(|entry| CString::new(entry).unwrap_or_default());
    Ok(spawn(words, &environment(&extra), cwd, mask)?)
}

/// posix_spawnp(3) of `words` in a new process group, with the inherited
/// mask and SIGPIPE default, optionally in `cwd`.
fn spawn<W: AsRef<OsStr>>(
    words: &[W],
    env: &[&CStr],
    cwd: Option<&Path>,
    mask: InheritedMask,
) -> nix::Result<libc::pid_t> {
    let args = words
        .iter()
        .map(|word| c_string(word.as_ref()))
        .collect::<nix::Result<Vec<_>>>()?;
    let Some(program) = args.first() else {
        return Err(Errno::ENOENT);
    };
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    attr.set_pgroup(Pid::from_raw(0))?;
    attr.set_sigmask(&mask.as_sig_set())?;
    attr.set_sigdefault(&SigSet::from(nix_signal::Signal::SIGPIPE))?;
    let mut actions = PosixSpawnFileActions::init()?;
    if let Some(cwd) = cwd {
        let cwd = c_string(cwd.as_os_str())?;
        // SAFETY: `actions` is initialised (see `raw_actions`); the C
        // library copies the path.
        Errno::result(unsafe {
            libc::posix_spawn_file_actions_addchdir_np(raw_actions(&mut actions), cwd.as_ptr())
        })?;
    }
    match posix_spawnp(program, &actions, &attr, &args, env) {
        // execvp(3) runs a file the kernel cannot execute (a script without
        // `#!`) with /bin/sh, and so do tini and shells; posix_spawnp does not.
        Err(Errno::ENOEXEC) => {
            let script = find_in_path(program).ok_or(Errno::ENOEXEC)?;
            let sh = c"/bin/sh";
            let sh_args: Vec<&CStr> = [sh, &script]
                .into_iter()
                .chain(args[1..].iter().map(CString::as_c_str))
                .collect();
            posix_spawn(sh, &actions, &attr, &sh_args, env)
        }
        spawned => spawned,
    }
    .map(Pid::as_raw)
}

/// The file execvp(3) runs for `program`: the program itself when it
/// names a path, else the first executable `DIR/program` along PATH.
fn find_in_path(program: &CStr) -> Option<CString> {
    if program.to_bytes().contains(&b'/') {
        return Some(program.to_owned());
    }
    // glibc's default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(OsStr::from_bytes(program.to_bytes())))
        .find(|file| nix::unistd::access(file, nix::unistd::AccessFlags::X_OK).is_ok())
        .and_then(|file| c_string(file.as_os_str()).ok())
}

/// COMMAND as the terminal's foreground group, taken in the child before
/// exec so that the command never runs in the background. posix_spawn can
/// do that only on glibc (an `_np` extension, not in musl), so this path
/// forks with std's `Command`: it is the interactive case (`docker run
/// -it`), where start-up cost does not matter. std's `Command` runs execvp,
/// whose /bin/sh fallback for scripts without `#!` is glibc's (musl's
/// execvp has none).
fn spawn_in_foreground(command: &[OsString], mask: InheritedMask) -> io::Result<libc::pid_t> {
    let Some((program, args)) = command.split_first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    let take_terminal = move || {
        // From a background group tcsetpgrp(3) raises SIGTTOU unless it is
        // blocked (tini's `isolate_child`). A failure is not fatal: the
        // command runs anyway.
        SigSet::from(nix_signal::Signal::SIGTTOU).thread_block()?;
        // SAFETY: fd 0 is open: `controls_terminal` found a terminal there.
        let stdin = unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) };
        let _ = nix::unistd::tcsetpgrp(stdin, nix::unistd::getpgrp());
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        mask.restore()
    };
    // SAFETY: the closure makes only async-signal-safe calls
    // (signal-safety(7)): pthread_sigmask, tcsetpgrp, getpgrp, signal.
    unsafe { cmd.pre_exec(take_terminal) };
    // Dropping the `Child` neither waits nor kills: the reaper owns waitpid.
    let child = cmd.spawn()?;
    libc::pid_t::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// nix wraps no `_np` file action; its `PosixSpawnFileActions` is
/// `repr(transparent)` over libc's type, so the pointer casts.
fn raw_actions(actions: &mut PosixSpawnFileActions) -> *mut libc::posix_spawn_file_actions_t {
    ptr::from_mut(actions).cast()
}

/// drainit's environment, entry by entry as the C library holds it (no
/// copies), with the `NAME=value` entries of `extra` replacing their names.
fn environment(extra: &[CString]) -> Vec<&CStr> {
    let mut env: Vec<&CStr> = inherited_environment()
        .filter(|entry| !extra.iter().any(|e| env_name(e) == env_name(entry)))
        .collect();
    env.extend(extra.iter().map(CString::as_c_str));
    env
}

/// NAME of a `NAME=value` entry.
fn env_name(entry: &CStr) -> &[u8] {
    let bytes = entry.to_bytes();
    bytes.split(|&b| b == b'=').next().unwrap_or(bytes)
}

unsafe extern "C" {
    /// The process environment, environ(7); the libc crate declares it for
    /// glibc only.
    static environ: *const *const libc::c_char;
}

/// The entries of the C library's `environ`. drainit never changes its
/// own environment, so they live as long as drainit.
fn inherited_environment() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: reads the pointer; `environ` is NULL or a NULL-terminated
    // array of C strings.
    let mut next = unsafe { environ };
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        // SAFETY: `next` points into that array, at most at its NULL end.
        let entry = unsafe { *next };
        if entry.is_null() {
            return None;
        }
        // SAFETY: not past the end, which comes later; `entry` is a C string.
        unsafe {
            next = next.add(1);
            Some(CStr::from_ptr(entry))
        }
    })
}

fn c_string(s: &OsStr) -> nix::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL)
}

/// Whether stdin is drainit's controlling terminal, so that tcsetpgrp(3)
/// can succeed (a terminal that is not, e.g. after `setsid`, is left alone).
fn controls_terminal() -> bool {
    nix::sys::termios::tcgetsid(io::stdin()).is_ok()
}

/// After the spawn: drainit moves to `/` (so it pins no mount) and closes
/// its copies of inherited descriptors above 2 (so a pipe the child closes
/// really closes), all but `keep`, its own. Failures are logged: the child
/// is already running.
pub fn release_inherited(keep: &[RawFd]) {
    if let Err(e) = nix::unistd::chdir("/") {
        log::warn!("failed to change directory to /: {}", e.desc());
    }
    // SAFETY: closing descriptors drainit does not use; its own are in
    // `keep`, or close-on-exec ones created later, or 0-2. A raw syscall:
    // musl has no close_range wrapper.
    let close_range = |lo: RawFd, hi: libc::c_uint| unsafe {
        libc::syscall(libc::SYS_close_range, lo, hi, 0) == 0
    };
    // The ranges between the kept descriptors, from 3 up, lowest first
    // (`keep` has at most two: no sort needed).
    let mut first: RawFd = 3;
    let mut closed = true;
    while let Some(next) = keep.iter().copied().filter(|&fd| fd >= first).min() {
        if next > first {
            closed &= close_range(first, next.unsigned_abs() - 1);
        }
        first = next + 1;
    }
    closed &= close_range(first, libc::c_uint::MAX);
    if closed {
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
    let fds: Vec<RawFd> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: as above; EBADF for the listing's own, now closed, fd.
        unsafe { libc::close(fd) };
    }
}
