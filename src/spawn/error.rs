//! Why COMMAND could not be started, and the exit code that maps to.

use std::ffi::OsString;
use std::fmt;
use std::io;

use nix::errno::Errno;

/// Why COMMAND could not be started, with the exit code it maps to.
#[derive(Debug)]
pub struct SpawnError {
    program: OsString,
    error: io::Error,
}

impl SpawnError {
    pub(super) fn new(program: OsString, error: io::Error) -> SpawnError {
        SpawnError { program, error }
    }

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
