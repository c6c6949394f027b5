//! The one blocking wait: drainit blocks every signal it handles and
//! waits for the next one, a ready socket, or the nearest deadline.
//!
//! With no socket to watch (none of the health options), the wait is a
//! bare `sigtimedwait` with the nearest deadline as its only time-out: one
//! syscall per signal, nothing while idle. With sockets, a `signalfd` (as
//! catatonit reads) joins them in one `poll`; it is made on first use, so
//! a drainit without health options never has one.
//!
//! Blocking instead of installing handlers leaves every disposition as
//! drainit inherited it, so the child inherits them untouched, and no
//! handler can run in a forked child before it execs. A blocked signal is
//! queued even when its disposition is "ignore" (kernel `sig_ignored()`),
//! and even for PID 1, so nothing sent to drainit is lost.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::ptr;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};

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
    /// The same set as a descriptor, once sockets are watched too.
    fd: Option<SignalFd>,
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
        Ok((SignalSource { waited, fd: None }, InheritedMask(old)))
    }

    /// Makes the signal descriptor that lets `wait` watch sockets too;
    /// called once at start-up when a health option is set.
    pub fn watch_sockets(&mut self) -> io::Result<()> {
        // SAFETY: `waited` was filled in by sigemptyset/sigaddset.
        let set = unsafe { SigSet::from_sigset_t_unchecked(self.waited) };
        let flags = SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC;
        self.fd = Some(SignalFd::with_flags(&set, flags)?);
        Ok(())
    }

    /// The signal descriptor, once `watch_sockets` made it.
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.fd.as_ref().map(|fd| fd.as_fd().as_raw_fd())
    }

    /// Waits at most `timeout` (`None`: as long as it takes) for a signal
    /// or for one of `sockets` to be ready, whose `revents` it then fills.
    /// Returns the signal taken, if any (at most one per call). Sockets
    /// need `watch_sockets` first; without it they are not watched.
    pub fn wait<'a>(
        &'a self,
        sockets: &mut Vec<PollFd<'a>>,
        timeout: Option<Duration>,
    ) -> io::Result<Option<Received>> {
        let Some(fd) = self.fd.as_ref() else {
            return self.next(timeout);
        };
        let ms = timeout.map_or(PollTimeout::NONE, |t| {
            // Rounded up: a wake-up just before a deadline would be wasted.
            let ms = t.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        });
        sockets.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        let polled = poll(sockets, ms);
        let signal_ready = sockets
            .pop()
            .and_then(|p| p.revents())
            .is_some_and(|r| !r.is_empty());
        match polled {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if !signal_ready {
            return Ok(None);
        }
        match fd.read_signal() {
            Ok(Some(info)) => Ok(
                Signal::from_raw(info.ssi_signo as libc::c_int).map(|signal| Received {
                    signal,
                    sender: info.ssi_pid as libc::pid_t,
                    code: info.ssi_code,
                }),
            ),
            Ok(None) | Err(Errno::EINTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the next pending signal, waiting at most `timeout` (`None`:
    /// as long as it takes). `Ok(None)` when the time-out passed.
    fn next(&self, timeout: Option<Duration>) -> io::Result<Option<Received>> {
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
