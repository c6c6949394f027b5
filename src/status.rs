//! The child's wait status and the exit code drainit passes on.

use std::fmt;

use crate::signals::Signal;

/// How the child ended, decoded from a raw `waitpid` status. Decoded by
/// hand because nix's `WaitStatus` fails on realtime signals, which would
/// lose the main child's status after it was reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    Exited(i32),
    Signaled(i32),
}

impl ChildStatus {
    /// Decodes a raw status from `waitpid` without `WUNTRACED`/`WCONTINUED`,
    /// which therefore always describes an exit or a fatal signal.
    pub fn from_raw(raw: libc::c_int) -> ChildStatus {
        if libc::WIFSIGNALED(raw) {
            ChildStatus::Signaled(libc::WTERMSIG(raw))
        } else {
            ChildStatus::Exited(libc::WEXITSTATUS(raw))
        }
    }

    /// The exit code a shell would report: the code, or 128+N for signal N.
    pub fn exit_code(self) -> i32 {
        match self {
            ChildStatus::Exited(code) => code,
            ChildStatus::Signaled(sig) => 128 + sig,
        }
    }
}

/// "exited with status 3", "was killed by SIGTERM".
impl fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChildStatus::Exited(code) => write!(f, "exited with status {code}"),
            ChildStatus::Signaled(n) => match Signal::from_raw(n) {
                Some(sig) => write!(f, "was killed by {sig}"),
                None => write!(f, "was killed by signal {n}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exits_and_every_signal() {
        for code in 0..=255 {
            let status = ChildStatus::from_raw(code << 8);
            assert_eq!(status, ChildStatus::Exited(code));
            assert_eq!(status.exit_code(), code);
        }
        for sig in 1..=libc::SIGRTMAX() {
            let status = ChildStatus::from_raw(sig);
            assert_eq!(status, ChildStatus::Signaled(sig));
            assert_eq!(status.exit_code(), 128 + sig);
        }
        // A core dump sets 0x80 beside the signal number.
        assert_eq!(
            ChildStatus::from_raw(0x80 | libc::SIGSEGV),
            ChildStatus::Signaled(libc::SIGSEGV)
        );
    }
}
