//! The signal source: drainit blocks every signal it handles and takes
//! them with `sigtimedwait`, the wait of catatonit and tini but with the
//! nearest deadline as its only time-out.
//!
//! Blocking instead of installing handlers leaves every disposition as
//! drainit inherited it, so the child inherits them untouched, and no
//! handler can run in a forked child before it execs. A blocked signal is
//! queued even when its disposition is "ignore" (kernel `sig_ignored()`),
//! and even for PID 1, so nothing sent to drainit is lost.

use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Duration;

use crate::signals::Signal;

/// A signal taken from the queue, with who sent it.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub signal: Signal,
    /// The sender's pid (0 when it is outside drainit's PID namespace).
    pub sender: libc::pid_t,
    /// `si_code`: `SI_USER` for `kill`, `SI_KERNEL`, `SI_QUEUE`, ...
    pub code: libc::c_int,
}

/// The blocked set drainit waits on.
pub struct SignalSource {
    waited: libc::sigset_t,
}

/// The signal mask drainit started with, restored in its children.
#[derive(Clone, Copy)]
pub struct InheritedMask(libc::sigset_t);

impl SignalSource {
    /// Blocks every signal drainit handles; returns the source and the
    /// mask drainit had before.
    pub fn block() -> io::Result<(SignalSource, InheritedMask)> {
        let mut waited = empty_set();
        for sig in Signal::all_waited() {
            // SAFETY: `waited` is initialised and `sig` a valid signal.
            unsafe { libc::sigaddset(&mut waited, sig.raw()) };
        }
        let mut old = empty_set();
        // SAFETY: both sets are initialised.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &waited, &mut old) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // Entered at `drainit_entry`, drainit had most of them blocked already.
        let old = crate::entry::inherited_mask().unwrap_or(old);
        Ok((SignalSource { waited }, InheritedMask(old)))
    }

    /// Takes the next pending signal, waiting at most `timeout` (`None`:
    /// as long as it takes). `Ok(None)` when the time-out passed.
    pub fn next(&self, timeout: Option<Duration>) -> io::Result<Option<Received>> {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: the set is initialised, `info` is writable and `ts_ptr`
        // null or valid for the call.
        let n = unsafe { libc::sigtimedwait(&self.waited, info.as_mut_ptr(), ts_ptr) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
                _ => Err(err),
            };
        }
        // SAFETY: sigtimedwait filled `info` for the signal it returned.
        let info = unsafe { info.assume_init() };
        let Some(signal) = Signal::from_raw(n) else {
            return Ok(None);
        };
        // SAFETY: si_pid is meaningful for the codes drainit looks at
        // (SI_USER, SI_QUEUE) and zero otherwise.
        let sender = unsafe { info.si_pid() };
        Ok(Some(Received {
            signal,
            sender,
            code: info.si_code,
        }))
    }
}

impl InheritedMask {
    /// Sets the calling thread's mask back to the inherited one. Only
    /// async-signal-safe calls: it runs in a forked child before exec.
    pub fn restore(&self) -> io::Result<()> {
        // SAFETY: the set is initialised.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(())
    }

    /// The mask as nix's type, for posix_spawn's attributes.
    pub fn as_sig_set(&self) -> nix::sys::signal::SigSet {
        // SAFETY: `self.0` was filled in by pthread_sigmask.
        unsafe { nix::sys::signal::SigSet::from_sigset_t_unchecked(self.0) }
    }
}

fn empty_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: initialised just above.
    unsafe { set.assume_init() }
}
