//! The caller's working directory. The child starts there, but drainit
//! leaves it before the spawn (so that it pins no mount), and the child
//! never sees drainit in it: with a move after the spawn, a child that
//! read `/proc/$PPID/cwd` at once (dumb-init's own test) found drainit
//! still there about one time in six under load. So drainit opens the
//! directory, moves to `/`, and the spawn's file actions move the child
//! back (`posix_spawn_file_actions_addfchdir_np`: glibc 2.29, musl 1.1.24).
//! An open descriptor rather than the path: a directory removed or renamed
//! meanwhile is still the one the caller was in.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// The caller's directory while the child is started.
pub struct CallerDir(Option<OwnedFd>);

impl CallerDir {
    /// Opens the caller's directory and moves drainit to `/`. When it
    /// cannot be opened, drainit stays there until `leave`, after the
    /// spawn, and the child inherits it as before.
    pub fn take() -> CallerDir {
        let opened = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(".");
        match opened {
            Ok(dir) => {
                to_root();
                CallerDir(Some(dir.into()))
            }
            Err(e) => {
                log::debug!(
                    "failed to open the working directory: {e}; leaving it after the spawn"
                );
                CallerDir(None)
            }
        }
    }

    /// The directory to start the child in, when drainit left it.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.0.as_ref().map(AsFd::as_fd)
    }

    /// After the spawn: closes the directory, or moves drainit to `/` now
    /// if `take` could not.
    pub fn leave(self) {
        if self.0.is_none() {
            to_root();
        }
    }
}

/// Moves drainit to `/`; a failure is logged (the child runs, or is about
/// to).
fn to_root() {
    if let Err(e) = nix::unistd::chdir("/") {
        log::warn!("failed to change directory to /: {}", e.desc());
    }
}
