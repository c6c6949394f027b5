//! The shutdown state machine: `(phase, event, now) -> (phase, actions)`.
//! No syscalls and no clock: the supervisor feeds it events with the time
//! and performs the actions it returns, which carry everything it needs
//! (durations, reasons, what to log), so the supervisor never decides.
//! It also owns the liveness watchdog's schedule, which can start a stop.
//!
//! This file holds what goes in and out (events, actions, phases);
//! `machine` the transitions; `tests` the table that proves them.

use std::time::{Duration, Instant};

use crate::liveness::Verdict;
use crate::ready::Readiness;
use crate::signals::Signal;
use crate::status::ChildStatus;

/// How long the rest of the group may stay after the child exited by
/// itself, when no `--grace` is given (README, "When the child exits").
pub const LEFTOVER_WAIT: Duration = Duration::from_secs(5);

/// Grace after a liveness stop when no `--grace` is given: no
/// orchestrator's kill follows a stop that drainit started itself.
pub const LIVENESS_GRACE: Duration = Duration::from_secs(10);

/// drainit's exit code after a liveness stop (EX_TEMPFAIL, sysexits.h):
/// a restart policy such as Docker's `on-failure` brings the app back.
pub const LIVENESS_EXIT: i32 = 75;

/// Why a stop began; the drain hook sees it as `DRAINIT_REASON`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The stop signal arrived.
    Signal,
    /// The liveness probe failed too often.
    Liveness,
}

impl Reason {
    /// `signal` or `liveness`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Signal => "signal",
            Reason::Liveness => "liveness",
        }
    }
}

/// Where drainit is in the child's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No stop yet.
    Running,
    /// Step 1, first part: the drain request, until it ends or `until`.
    Requesting { until: Option<Instant> },
    /// Step 1: the drain hook runs until it ends or `until`.
    Draining { until: Option<Instant> },
    /// Step 2: the pre-stop sleep.
    Sleeping { until: Option<Instant> },
    /// Steps 3-4: the stop signal went out; waiting for the child.
    Stopping { grace: Grace },
    /// The child is gone; waiting for the rest of its group, at most
    /// `wait` (until `until`).
    Lingering {
        status: ChildStatus,
        until: Option<Instant>,
        wait: Duration,
    },
    /// drainit is done and exits.
    Exited,
}

/// Step 4's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grace {
    /// No `--grace` (or one too long to count): wait as long as it takes.
    Unbounded,
    /// SIGKILL to the group at this instant.
    Until(Instant),
    /// The grace SIGKILL has been sent.
    Expired,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The child has just been started.
    Started,
    /// A signal to forward or act on (never CHLD).
    Signal(Signal),
    /// The drain request ended, well or not (the supervisor logs which).
    RequestEnded,
    /// The drain hook ended, failed or could not start.
    HookEnded,
    /// The liveness probe ended: passed, or failed with a cause.
    ProbeEnded(Result<(), String>),
    /// The main child was reaped.
    ChildExited(ChildStatus),
    /// No process of the child's group is left.
    GroupGone,
    /// Time passed; deadlines at or before `now` are due.
    Tick,
}

/// Why step 1's request or hook is cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Step 1 outlasted `--drain-timeout`, given here.
    TimedOut(Duration),
    SecondStop,
    ChildExited,
}

/// Why the child's group gets SIGKILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKill {
    /// The grace period ran out after the stop signal.
    GraceExpired,
    /// The child is gone, and the rest of its group outstayed its wait.
    LeftoversStayed,
}

/// What the supervisor must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A stop begins (log it): `signal` is the stop signal.
    BeginShutdown { signal: Signal, reason: Reason },
    /// What the readiness endpoint answers from now on.
    SetReadiness(Readiness),
    /// Close the readiness endpoint: connections are refused.
    CloseReadiness,
    /// Step 1: make the drain request.
    StartRequest,
    /// Abandon the drain request.
    CancelRequest(Cut),
    /// Step 1: start the drain hook.
    StartHook(Reason),
    /// SIGKILL to the drain hook's group.
    KillHook(Cut),
    /// Step 2 starts (log it; the wait itself is the phase's deadline):
    /// `send` is what step 3 will send, the `stop` signal rewritten
    /// (`None`: rewritten to 0).
    Sleep {
        duration: Duration,
        stop: Signal,
        send: Option<Signal>,
    },
    /// Step 3: `signal`, the rewritten `stop` signal, to the child's group
    /// (`None`: rewritten to 0); `grace` is step 4's bound, if any.
    SendStop {
        signal: Option<Signal>,
        stop: Signal,
        grace: Option<Duration>,
    },
    /// Forward a signal to the child's group.
    Forward(Signal),
    /// The child exited by itself: the (rewritten) stop signal to the rest
    /// of its group.
    StopLeftovers(Option<Signal>),
    /// SIGKILL to the child's group, `after` this long.
    KillGroup { why: GroupKill, after: Duration },
    /// Start a liveness probe.
    StartProbe,
    /// Abandon the running liveness probe.
    CancelProbe,
    /// What a liveness probe's result means (log it).
    Probed(Verdict),
    /// Exit with `code`; `status` is the child's. `loud`: log it at the
    /// default level (a stop was asked for), else at debug.
    Exit {
        status: ChildStatus,
        code: i32,
        loud: bool,
    },
}

mod machine;
#[cfg(test)]
mod tests;

pub use machine::Shutdown;
