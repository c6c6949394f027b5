//! Reaping: the subreaper registration, and the one `waitpid` loop.

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal};

use crate::status::ChildStatus;

/// Makes drainit the reaper of its orphaned descendants when it is not
/// PID 1 (PR_SET_CHILD_SUBREAPER, prctl(2)); PID 1 is one already. A kernel
/// that refuses (qemu-user answers EINVAL) costs only the orphans, so
/// drainit warns once and goes on, as tini does.
pub fn register() {
    if nix::unistd::getpid().as_raw() == 1 {
        return;
    }
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        log::warn!(
            "failed to become a child subreaper: {}; orphaned descendants will not be reaped",
            e.desc()
        );
    }
}

/// Makes sure drainit hears of its children's exits. A caller that
/// ignores SIGCHLD passes that on through exec, and then the kernel reaps
/// drainit's children itself, without a SIGCHLD or a status (wait(2),
/// "NOTES"): drainit would never see the child exit. So SIGCHLD is set
/// back to its default (it stays blocked and waited for); the child
/// inherits the default too.
pub fn hear_children() {
    // SAFETY: SIG_DFL installs no handler.
    let old = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    match old {
        Ok(SigHandler::SigIgn) => {
            log::debug!("SIGCHLD was ignored: set to default, to see the child exit")
        }
        Ok(_) => {}
        Err(e) => log::warn!("failed to set SIGCHLD to default: {}", e.desc()),
    }
}

/// Reaps one child that has exited: its pid and status, or `None` when
/// none is left to reap. Called until `None` after every SIGCHLD: the
/// kernel merges SIGCHLDs, so one may stand for many exits (catatonit #4).
pub fn reap_one() -> Option<(libc::pid_t, ChildStatus)> {
    loop {
        let mut raw = 0;
        // SAFETY: `raw` is a valid place for the status.
        let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        match pid {
            0 => return None,
            pid if pid > 0 => return Some((pid, ChildStatus::from_raw(raw))),
            _ => match Errno::last() {
                Errno::EINTR => {}
                // No children at all: the normal end.
                Errno::ECHILD => return None,
                e => {
                    log::error!("failed to wait for children: {}", e.desc());
                    return None;
                }
            },
        }
    }
}
