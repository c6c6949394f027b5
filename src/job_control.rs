//! Job control when drainit runs under a shell (not PID 1), as dumb-init:
//! Ctrl-Z stops drainit with its child, so that the shell shows the job
//! stopped and regains the terminal, and `fg` resumes both.
//!
//! A shell's job is drainit's process group, while the child runs in its
//! own group, the terminal's foreground one. So drainit stops itself
//! (SIGSTOP) after it forwarded TSTP, TTIN or TTOU, and also when its
//! child was stopped by one of them straight from the terminal (Ctrl-Z
//! signals the foreground group, which drainit is not in). On SIGCONT
//! (`fg`), before forwarding it, drainit gives the terminal back to the
//! child's group if the shell gave it to drainit's. As PID 1 drainit never
//! stops itself: nothing would resume the container's init.

use log::debug;

use crate::signals::Signal;
use crate::target;

/// The signals of a terminal's job control that stop a process.
const JOB_STOPS: [libc::c_int; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// Before `sig` is forwarded: on CONT, the terminal goes back to the
/// child's group when the shell made drainit's group the foreground one
/// (`fg`). After `bg` the shell keeps it, and so does drainit.
pub fn before_forward(sig: Signal, child: libc::pid_t) {
    if sig.raw() != libc::SIGCONT {
        return;
    }
    // SAFETY: plain calls on descriptor 0; drainit blocks SIGTTOU, so
    // tcsetpgrp cannot stop it.
    unsafe {
        if libc::isatty(0) == 1
            && libc::tcgetpgrp(0) == libc::getpgrp()
            && libc::tcsetpgrp(0, child) == 0
        {
            debug!("gave the terminal back to process group {child}");
        }
    }
}

/// After a received `sig` was forwarded: TSTP, TTIN or TTOU stop drainit
/// too, unless it is PID 1 or `sig` is the stop signal (which runs the
/// shutdown sequence instead).
pub fn after_forward(sig: Signal, stop_signal: Signal, child: libc::pid_t, self_pid: libc::pid_t) {
    if self_pid != 1 && sig != stop_signal && JOB_STOPS.contains(&sig.raw()) {
        debug!("received {sig}: stopping drainit too until SIGCONT");
        stop_self(child);
    }
}

/// After reaping: when a terminal's job-control signal stopped the child
/// (Ctrl-Z reaches the child's group, not drainit's), drainit stops too.
pub fn after_reap(child: libc::pid_t, self_pid: libc::pid_t) {
    if self_pid == 1 {
        return;
    }
    if let Some(sig) = child_stop(child).filter(|n| JOB_STOPS.contains(n)) {
        let name = Signal::from_raw(sig).map_or(sig.to_string(), |s| s.to_string());
        debug!("child {child} was stopped by {name}: stopping drainit too until SIGCONT");
        stop_self(child);
    }
}

/// Stops drainit until a SIGCONT. The child's stop that drainit's own
/// stop answers is then taken, so that it does not stop drainit again.
fn stop_self(child: libc::pid_t) {
    // It returns once continued.
    target::kill(nix::unistd::getpid().as_raw(), Signal::STOP);
    child_stop(child);
}

/// The signal that stopped `child`, when a stop is there to report
/// (`waitid` with `WSTOPPED` only: it never reaps an exit).
fn child_stop(child: libc::pid_t) -> Option<libc::c_int> {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    let id = libc::id_t::try_from(child).ok()?;
    // SAFETY: `info` is writable; WNOHANG makes the call return at once.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            info.as_mut_ptr(),
            libc::WSTOPPED | libc::WNOHANG,
        )
    };
    // SAFETY: zeroed, then filled in by waitid when a stop was reported.
    let info = unsafe { info.assume_init() };
    // SAFETY: si_pid and si_status are set for the CLD_* codes.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    (rc == 0 && pid == child && info.si_code == libc::CLD_STOPPED).then_some(status)
}
