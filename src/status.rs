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

/// The child's statuses that drainit reports as success
/// (`--success-code`, tini's `-e`), e.g. 143 for a JVM that exits with
/// SIGTERM's code when it stops as asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuccessCodes(Vec<u8>);

impl SuccessCodes {
    pub fn new(codes: Vec<u8>) -> SuccessCodes {
        SuccessCodes(codes)
    }

    /// drainit's exit code for the child's `code` (0-255, 128+N
    /// included): 0 when it is a success code, else `code` itself.
    pub fn exit_code(&self, code: i32) -> i32 {
        let listed = u8::try_from(code).is_ok_and(|c| self.0.contains(&c));
        if listed { 0 } else { code }
    }
}

/// Parses one exit status, 0-255, for `--success-code`.
pub fn parse_code(text: &str) -> Result<u8, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an exit status (0-255)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_codes_turn_exactly_their_statuses_into_0() {
        let codes = SuccessCodes::new(vec![143, 3]);
        assert_eq!(codes.exit_code(143), 0);
        assert_eq!(codes.exit_code(3), 0);
        for other in [0, 1, 130, 137, 255] {
            assert_eq!(codes.exit_code(other), other);
        }
        assert_eq!(SuccessCodes::default().exit_code(143), 143);
    }

    #[test]
    fn an_exit_status_is_0_to_255() {
        assert_eq!(parse_code("143"), Ok(143));
        assert_eq!(parse_code(" 0 "), Ok(0));
        for bad in ["256", "-1", "", "x", "1.5", "0x10"] {
            assert_eq!(
                parse_code(bad),
                Err(format!("{bad:?} is not an exit status (0-255)"))
            );
        }
    }

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

    /// The words of the exit line (`child exited with status 3; ...`).
    #[test]
    fn a_status_reads_as_the_log_says_it() {
        assert_eq!(ChildStatus::Exited(3).to_string(), "exited with status 3");
        assert_eq!(
            ChildStatus::Signaled(libc::SIGTERM).to_string(),
            "was killed by SIGTERM"
        );
        assert_eq!(
            ChildStatus::Signaled(32).to_string(),
            "was killed by signal 32"
        );
    }
}
