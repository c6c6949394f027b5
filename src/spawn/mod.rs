//! Starting the child and the drain hook, and letting go of what drainit
//! inherited once the child runs.
//!
//! Both run with the signal state drainit inherited (README, "Signals"), in
//! a new process group. They are started with posix_spawn(3), not std's
//! `Command`: glibc's and musl's spawn share drainit's memory until exec
//! (`CLONE_VM | CLONE_VFORK`), so no page table is copied and drainit takes
//! no copy-on-write faults afterwards, and its attributes do what drainit
//! needs in the child (group, mask, dispositions) with no code of ours
//! running there. The one exception is a child that must take the
//! terminal: see `foreground`.
//!
//! | file | concern |
//! | --- | --- |
//! | `posix` | posix_spawn(3) with owned attributes and file actions |
//! | `script` | the `/bin/sh` fallback for a file the kernel cannot execute |
//! | `foreground` | a child that takes the terminal (fork, `pre_exec`) |
//! | `environ` | the child's environment, from the C library's `environ` |
//! | `dir` | the caller's directory: drainit leaves it, the child starts in it |
//! | `error` | why a spawn failed, and the exit code that maps to |
//! | `release` | what drainit lets go of once the child runs |

mod dir;
mod environ;
mod error;
mod foreground;
mod posix;
mod release;
mod script;

use std::ffi::OsString;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use crate::wait::InheritedMask;

pub use dir::CallerDir;
pub use error::{SpawnError, describe};
pub use release::release_inherited;

/// Where a spawned program starts.
#[derive(Clone, Copy)]
pub enum Dir<'a> {
    /// drainit's own directory.
    Inherited,
    /// A directory by its path (the hook: drainit keeps no descriptor open).
    Path(&'a Path),
    /// An open directory (the child: the caller's, which drainit left).
    Open(BorrowedFd<'a>),
}

/// Starts COMMAND (looked up in PATH) in a new process group, made the
/// terminal's foreground group when stdin is drainit's controlling
/// terminal (unless `keep_terminal`), in `dir` (the caller's directory).
/// Returns its pid.
pub fn child(
    command: &[OsString],
    dir: &CallerDir,
    mask: InheritedMask,
    keep_terminal: bool,
) -> Result<libc::pid_t, SpawnError> {
    let dir = dir.fd().map_or(Dir::Inherited, Dir::Open);
    let started = if !keep_terminal && foreground::controls_terminal() {
        foreground::spawn(command, dir, mask)
    } else {
        posix::spawn(command, &environ::with(&[]), dir, mask)
    };
    started.map_err(|error| SpawnError::new(command.first().cloned().unwrap_or_default(), error))
}

/// Starts the drain hook in its own process group, in `cwd`, with the
/// `(NAME, value)` pairs of `extra` added to drainit's environment (and
/// replacing those names).
pub fn hook(
    words: &[String],
    cwd: Option<&Path>,
    mask: InheritedMask,
    extra: &[(&str, String)],
) -> io::Result<libc::pid_t> {
    let dir = cwd.map_or(Dir::Inherited, Dir::Path);
    posix::spawn(words, &environ::with(extra), dir, mask)
}
