//! Signal numbers, their names, and which ones drainit forwards.
//!
//! nix's `Signal` enum has no realtime signals, so drainit keeps its own
//! type over the raw `c_int`. Realtime numbers come from the C library
//! (`SIGRTMIN()`/`SIGRTMAX()`), which keeps the first few for itself.

use std::fmt;

use libc::c_int;

/// A signal number that names a real signal (standard or realtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(c_int);

/// Standard signal names without the `SIG` prefix, with their numbers.
/// Aliases (IOT, CLD, POLL) parse but never print.
const NAMES: &[(&str, c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
    ("IOT", libc::SIGIOT),
    ("CLD", libc::SIGCHLD),
    ("POLL", libc::SIGPOLL),
];

/// Synchronous fault signals. The kernel raises one for the faulting
/// thread itself (`si_code` > 0), and forces it through whatever the mask
/// and disposition (`force_sig_fault` unblocks it and restores the default
/// action), so a real fault in drainit still ends it even though drainit
/// blocks and waits for these. One sent by another process (`kill`,
/// `sigqueue`, `tgkill`: `si_code` <= 0, e.g. `docker kill -s ABRT`) is
/// forwarded like any other signal.
const FAULTS: [c_int; 7] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// The lowest realtime signal the C library leaves to programs.
pub fn rtmin() -> c_int {
    libc::SIGRTMIN()
}

/// The highest realtime signal.
pub fn rtmax() -> c_int {
    libc::SIGRTMAX()
}

impl Signal {
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// The default stop signal, which `cli` spells once, as text.
    #[cfg(test)]
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    pub const STOP: Signal = Signal(libc::SIGSTOP);

    /// The signal with number `n`, if it names one: 1-31, or a realtime
    /// signal the C library leaves to programs (not the ones it keeps,
    /// 32 and 33 with glibc).
    pub fn from_raw(n: c_int) -> Option<Signal> {
        let standard = (1..=31).contains(&n);
        let realtime = (rtmin()..=rtmax()).contains(&n);
        (standard || realtime).then_some(Signal(n))
    }

    /// The raw number, for syscalls.
    pub fn raw(self) -> c_int {
        self.0
    }

    /// True for the signals drainit never forwards: CHLD (drainit's own
    /// business), KILL and STOP (cannot be caught).
    pub fn is_never_forwarded(self) -> bool {
        self.0 == libc::SIGCHLD || self.is_uncatchable()
    }

    /// True when the kernel raised this fault signal for a fault (`code`
    /// is siginfo's `si_code`, > 0 then), rather than a process sending it:
    /// not the caller's to pass on.
    pub fn is_raised_fault(self, code: c_int) -> bool {
        FAULTS.contains(&self.0) && code > 0
    }

    /// KILL and STOP, which no process can catch, block or ignore.
    pub fn is_uncatchable(self) -> bool {
        self.0 == libc::SIGKILL || self.0 == libc::SIGSTOP
    }

    /// Parses `TERM`, `SIGTERM`, `term`, `15`, `RTMIN`, `SIGRTMIN+3`,
    /// `rtmax-2`. Numbers and names must name a real signal.
    pub fn parse(spec: &str) -> Result<Signal, String> {
        let invalid = || format!("{spec:?} is not a signal");
        let upper = spec.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            let n: c_int = name.parse().map_err(|_| invalid())?;
            return Signal::from_raw(n).ok_or_else(invalid);
        }
        if let Some(&(_, n)) = NAMES.iter().find(|(known, _)| *known == name) {
            return Ok(Signal(n));
        }
        let n = if let Some(rest) = name.strip_prefix("RTMIN") {
            rtmin().checked_add(realtime_offset(rest, '+').ok_or_else(invalid)?)
        } else if let Some(rest) = name.strip_prefix("RTMAX") {
            rtmax().checked_sub(realtime_offset(rest, '-').ok_or_else(invalid)?)
        } else {
            None
        };
        n.filter(|n| (rtmin()..=rtmax()).contains(n))
            .map(Signal)
            .ok_or_else(invalid)
    }

    /// Every signal drainit waits for: all real signals but KILL and STOP.
    /// CHLD is included (it drives reaping) though never forwarded.
    pub fn all_waited() -> impl Iterator<Item = Signal> {
        (1..=rtmax())
            .filter_map(Signal::from_raw)
            .filter(|s| !s.is_uncatchable())
    }
}

/// The `n` of `RTMIN+n` / `RTMAX-n`: empty means 0.
fn realtime_offset(rest: &str, sign: char) -> Option<c_int> {
    if rest.is_empty() {
        return Some(0);
    }
    let digits = rest.strip_prefix(sign)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `SIGTERM`, `SIGRTMIN`, `SIGRTMIN+3`, `SIGRTMAX-2`: the names `kill -l` uses.
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == self.0) {
            return write!(f, "SIG{name}");
        }
        let (lo, hi) = (rtmin(), rtmax());
        match self.0 {
            n if n == lo => write!(f, "SIGRTMIN"),
            n if n == hi => write!(f, "SIGRTMAX"),
            n if n - lo <= (hi - lo) / 2 => write!(f, "SIGRTMIN+{}", n - lo),
            n => write!(f, "SIGRTMAX-{}", hi - n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_every_form() {
        for spec in ["TERM", "SIGTERM", "term", "sigterm", "SigTerm", "15"] {
            assert_eq!(Signal::parse(spec), Ok(Signal::TERM), "{spec}");
        }
        assert_eq!(Signal::parse("IOT"), Ok(Signal(libc::SIGABRT)));
        assert_eq!(Signal::parse("cld"), Ok(Signal::CHLD));
    }

    #[test]
    fn parses_realtime_forms_with_the_c_library_numbering() {
        assert_eq!(Signal::parse("RTMIN"), Ok(Signal(rtmin())));
        assert_eq!(Signal::parse("SIGRTMIN+3"), Ok(Signal(rtmin() + 3)));
        assert_eq!(Signal::parse("rtmax-2"), Ok(Signal(rtmax() - 2)));
        assert_eq!(Signal::parse("RTMAX"), Ok(Signal(rtmax())));
        assert_eq!(Signal::parse(&rtmax().to_string()), Ok(Signal(rtmax())));
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        let too_far = format!("RTMIN+{}", rtmax() - rtmin() + 1);
        for spec in [
            "",
            "SIG",
            "0",
            "-1",
            "65",
            "32",
            "33",
            "TERMX",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+",
            "RTMIN+x",
            "RTMIN++1",
            &too_far,
            " TERM",
            "99999999999999999999",
        ] {
            let err = Signal::parse(spec).unwrap_err();
            assert_eq!(err, format!("{spec:?} is not a signal"));
        }
    }

    #[test]
    fn names_round_trip_for_every_signal() {
        for n in 1..=rtmax() {
            if let Some(sig) = Signal::from_raw(n) {
                let name = sig.to_string();
                assert_eq!(Signal::parse(&name), Ok(sig), "{name}");
            }
        }
        assert_eq!(Signal(rtmin() + 3).to_string(), "SIGRTMIN+3");
        assert_eq!(Signal(rtmax() - 1).to_string(), "SIGRTMAX-1");
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    }

    #[test]
    fn waits_for_everything_but_uncatchable() {
        let waited: Vec<c_int> = Signal::all_waited().map(Signal::raw).collect();
        for n in [
            libc::SIGTERM,
            libc::SIGCHLD,
            libc::SIGTSTP,
            libc::SIGTTOU,
            libc::SIGSEGV,
            libc::SIGABRT,
            rtmin(),
            rtmax(),
        ] {
            assert!(waited.contains(&n), "{n}");
        }
        for n in [libc::SIGKILL, libc::SIGSTOP, 32, 33] {
            assert!(!waited.contains(&n), "{n}");
        }
        assert!(Signal::CHLD.is_never_forwarded());
        assert!(!Signal::TERM.is_never_forwarded());
        assert!(!Signal(libc::SIGABRT).is_never_forwarded());
    }

    #[test]
    fn a_fault_is_raised_by_the_kernel_only_with_a_positive_code() {
        let segv = Signal(libc::SIGSEGV);
        // SEGV_MAPERR, which libc does not define for Linux.
        assert!(segv.is_raised_fault(1));
        assert!(segv.is_raised_fault(libc::SI_KERNEL));
        for sent in [libc::SI_USER, libc::SI_QUEUE, libc::SI_TKILL] {
            assert!(!segv.is_raised_fault(sent));
        }
        assert!(!Signal::TERM.is_raised_fault(libc::SI_KERNEL));
    }
}
