//! `--parent-death-signal SIG` (tini's `-p`): the kernel sends drainit SIG
//! when its parent exits (`PR_SET_PDEATHSIG`, prctl(2)). drainit blocks and
//! waits for SIG like any other signal, so it then runs the shutdown
//! sequence when SIG is the stop signal, and forwards it otherwise.

use log::info;
use nix::errno::Errno;

use crate::signals::Signal;

/// The signal asked for, and drainit's parent as it was when drainit read
/// its arguments: the parent whose death counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentDeath {
    pub signal: Signal,
    pub parent: libc::pid_t,
}

impl ParentDeath {
    /// `signal` on the death of the current parent.
    pub fn of_current_parent(signal: Signal) -> ParentDeath {
        ParentDeath {
            signal,
            parent: nix::unistd::getppid().as_raw(),
        }
    }
}

/// Asks the kernel for the signal; call it with the signal blocked. When
/// the parent already died before that (drainit was re-parented), the
/// kernel will never send it, so drainit queues it to itself: it arrives
/// as if the kernel had sent it. As PID 1 the parent is outside drainit's
/// PID namespace and `getppid()` is always 0, so that early death cannot
/// be seen there.
pub fn arm(watch: Option<ParentDeath>) -> Result<(), Errno> {
    let Some(ParentDeath { signal, parent }) = watch else {
        return Ok(());
    };
    // SAFETY: plain prctl with a valid signal number.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal.raw()) } != 0 {
        return Err(Errno::last());
    }
    let now = nix::unistd::getppid().as_raw();
    if now == parent {
        return Ok(());
    }
    info!(
        "parent {parent} exited before drainit asked for {signal} on its death: acting on it now"
    );
    // sigqueue, not kill: drainit passes on no SI_USER signal of its own
    // (those are the ones it raised by accident, e.g. SIGPIPE).
    let value = libc::sigval {
        sival_ptr: std::ptr::null_mut(),
    };
    // SAFETY: plain syscall on drainit's own pid.
    if unsafe { libc::sigqueue(libc::getpid(), signal.raw(), value) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
