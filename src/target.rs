//! Who gets the child's signals: its process group, or the child alone
//! with `--single-child`; and who gets the stop signal (`--stop-scope`).
//! The only place drainit calls `kill(2)`: every signal it sends goes
//! through `kill` here, to the child or its group, the drain hook's group,
//! a name lookup's child, or drainit itself (job control's stop), so that
//! one function logs every failure the same way.

use std::fmt;

use nix::errno::Errno;

use crate::signals::Signal;

/// Who gets the stop signal (`--stop-scope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopScope {
    /// The child's whole process group.
    #[default]
    Group,
    /// drainit's own children in the child's group: the child, and what
    /// it leaves behind when it dies during the stop (re-parented to
    /// drainit); never their children, such as a worker pool.
    Children,
}

impl StopScope {
    /// `group` or `children`, any case.
    pub fn parse(text: &str) -> Result<StopScope, String> {
        match text.to_ascii_lowercase().as_str() {
            "group" => Ok(StopScope::Group),
            "children" => Ok(StopScope::Children),
            _ => Err("expected group or children".to_string()),
        }
    }
}

/// The child, and whether its group is signalled with it.
#[derive(Clone, Debug)]
pub struct SignalTarget {
    /// The child's pid, which is also its group's id.
    child: libc::pid_t,
    single_child: bool,
    scope: StopScope,
    /// With `StopScope::Children`: drainit's children that got the stop
    /// signal and are still there, so that each gets it once.
    stopped: Vec<libc::pid_t>,
}

impl SignalTarget {
    pub fn new(child: libc::pid_t, single_child: bool, scope: StopScope) -> SignalTarget {
        SignalTarget {
            child,
            single_child,
            scope,
            stopped: Vec::new(),
        }
    }

    /// Whether the stop signal goes to drainit's children only.
    fn children_only(&self) -> bool {
        self.scope == StopScope::Children && !self.single_child
    }

    /// Sends the stop signal `sig` as `--stop-scope` says: to the group
    /// (as `send`), or to the child (then `stop_left_behind` gives it to
    /// drainit's other children in the group). True when it reached someone.
    pub fn send_stop(&mut self, sig: Signal, child_alive: bool) -> bool {
        if !self.children_only() {
            return self.send(sig, child_alive);
        }
        self.stopped.clear();
        let reached = child_alive && kill(self.child, sig);
        if reached {
            self.stopped.push(self.child);
        }
        reached
    }

    /// With `--stop-scope children`, after the stop signal was sent: sends
    /// it to drainit's children in the child's group that have not had it
    /// (processes a dead child left behind, which the kernel re-parented to
    /// drainit); returns their pids. Their own children never get it.
    pub fn stop_left_behind(&mut self, sig: Signal) -> Vec<libc::pid_t> {
        if !self.children_only() {
            return Vec::new();
        }
        let children = own_children();
        self.stopped.retain(|pid| children.contains(pid));
        let mut sent = Vec::new();
        for pid in children {
            // SAFETY: getpgid only reads the process's group id.
            let in_group = unsafe { libc::getpgid(pid) } == self.child;
            if in_group && !self.stopped.contains(&pid) && kill(pid, sig) {
                self.stopped.push(pid);
                sent.push(pid);
            }
        }
        sent
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

impl SignalTarget {
    /// Who got the stop signal, for its log line: as `Display` says, or
    /// `child 12 (--stop-scope children)`.
    pub fn stop_target(&self) -> String {
        if self.children_only() {
            format!("child {} (--stop-scope children)", self.child)
        } else {
            self.to_string()
        }
    }
}

/// drainit's own children, from the kernel's list
/// (`/proc/self/task/PID/children`: drainit has one thread); none when
/// /proc cannot be read, which is logged.
fn own_children() -> Vec<libc::pid_t> {
    let pid = std::process::id();
    let path = format!("/proc/self/task/{pid}/children");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(e) => {
            log::warn!(
                "cannot list drainit's children ({path}: {e}): the stop signal reaches the child only"
            );
            Vec::new()
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_scope_parses_its_two_words_in_any_case_and_nothing_else() {
        assert_eq!(StopScope::parse("group"), Ok(StopScope::Group));
        assert_eq!(StopScope::parse("Children"), Ok(StopScope::Children));
        for bad in ["", "child", "pool", "group "] {
            assert!(StopScope::parse(bad).is_err(), "{bad:?}");
        }
    }
}
