//! Who gets the child's signals: its process group, or the child alone
//! with `--single-child`. The only place drainit calls `kill(2)`: every
//! signal it sends goes through `kill` here, to the child or its group,
//! the drain hook's group, a name lookup's child, or drainit itself (job
//! control's stop), so that one function logs every failure the same way.

use std::fmt;

use nix::errno::Errno;

use crate::signals::Signal;

/// The child, and whether its group is signalled with it.
#[derive(Clone, Copy, Debug)]
pub struct SignalTarget {
    /// The child's pid, which is also its group's id.
    child: libc::pid_t,
    single_child: bool,
}

impl SignalTarget {
    pub fn new(child: libc::pid_t, single_child: bool) -> SignalTarget {
        SignalTarget {
            child,
            single_child,
        }
    }

    /// The child's pid.
    pub fn child(&self) -> libc::pid_t {
        self.child
    }

    /// Sends `sig` to the group (to the child alone with `--single-child`);
    /// `child_alive` says whether the child itself can still get it. True
    /// when it reached someone.
    pub fn send(&self, sig: Signal, child_alive: bool) -> bool {
        if self.single_child {
            return child_alive && kill(self.child, sig);
        }
        // A child that left its group (setsid) still gets the signal.
        self.send_to_group(sig) || (child_alive && kill(self.child, sig))
    }

    /// Sends `sig` to the child's group, whatever the mode: the rest of
    /// the group once the child is gone.
    pub fn send_to_group(&self, sig: Signal) -> bool {
        kill(-self.child, sig)
    }

    /// Whether no process of the child's group is left.
    pub fn group_gone(&self) -> bool {
        // SAFETY: signal 0 only checks that the group exists.
        let rc = unsafe { libc::kill(-self.child, 0) };
        rc == -1 && Errno::last() == Errno::ESRCH
    }
}

/// `process group 12` or `child 12`, for log lines.
impl fmt::Display for SignalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.single_child {
            write!(f, "child {}", self.child)
        } else {
            write!(f, "process group {}", self.child)
        }
    }
}

/// `kill(2)` that logs failures other than "no such process". `pid` is
/// never -1 or 0: drainit never signals outside the child's group.
pub fn kill(pid: libc::pid_t, sig: Signal) -> bool {
    if pid == -1 || pid == 0 {
        return false;
    }
    // SAFETY: plain syscall on a positive pid or a negative group id.
    if unsafe { libc::kill(pid, sig.raw()) } == 0 {
        return true;
    }
    match Errno::last() {
        Errno::ESRCH => log::debug!("no process left to receive {sig} ({pid})"),
        e => log::warn!("failed to send {sig} to {pid}: {}", e.desc()),
    }
    false
}
