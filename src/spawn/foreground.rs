//! A child that takes the terminal: COMMAND as the terminal's foreground
//! group, taken in the child before exec so that the command never runs in
//! the background.
//!
//! posix_spawn can do that only on glibc (an `_np` extension, not in musl),
//! so this path forks with std's `Command` and its one `pre_exec`: it is
//! the interactive case (`docker run -it`), where start-up cost does not
//! matter. std's `Command` runs execvp, whose /bin/sh fallback for scripts
//! without `#!` is glibc's (musl's execvp has none).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{SigSet, Signal};

use super::Dir;
use crate::wait::InheritedMask;

/// Whether stdin is drainit's controlling terminal, so that tcsetpgrp(3)
/// can succeed (a terminal that is not, e.g. after `setsid`, is left alone).
pub fn controls_terminal() -> bool {
    nix::sys::termios::tcgetsid(io::stdin()).is_ok()
}

/// Forks COMMAND in a new process group that takes the terminal, with the
/// inherited mask and SIGPIPE default, in `dir`.
pub fn spawn(command: &[OsString], dir: Dir, mask: InheritedMask) -> io::Result<libc::pid_t> {
    let Some((program, args)) = command.split_first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    let open_dir = match dir {
        Dir::Inherited => None,
        Dir::Path(path) => {
            cmd.current_dir(path);
            None
        }
        Dir::Open(fd) => Some(fd.as_raw_fd()),
    };
    let take_terminal = move || {
        if let Some(fd) = open_dir {
            // SAFETY: fchdir(2) on a descriptor open until the spawn
            // returns; before exec, so that PATH's relative entries and a
            // relative COMMAND are taken from there.
            if unsafe { libc::fchdir(fd) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // From a background group tcsetpgrp(3) raises SIGTTOU unless it is
        // blocked (tini's `isolate_child`). A failure is not fatal: the
        // command runs anyway.
        SigSet::from(Signal::SIGTTOU).thread_block()?;
        // SAFETY: fd 0 is open: `controls_terminal` found a terminal there.
        let stdin = unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) };
        let _ = nix::unistd::tcsetpgrp(stdin, nix::unistd::getpgrp());
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        mask.restore()
    };
    // SAFETY: the closure makes only async-signal-safe calls
    // (signal-safety(7)): fchdir, pthread_sigmask, tcsetpgrp, getpgrp, signal.
    unsafe { cmd.pre_exec(take_terminal) };
    // Dropping the `Child` neither waits nor kills: the reaper owns waitpid.
    let child = cmd.spawn()?;
    libc::pid_t::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}
