//! The shutdown state machine: `(phase, event, now) -> (phase, actions)`.
//! No syscalls and no clock: the supervisor feeds it events with the time
//! and performs the actions it returns, which carry everything it needs
//! (durations, reasons, what to log), so the supervisor never decides.
//! It also owns the liveness watchdog's schedule, which can start a stop.

use std::time::{Duration, Instant};

use crate::config::Policy;
use crate::liveness::{Liveness, Verdict};
use crate::ready::Readiness;
use crate::rewrite::Rewrite;
use crate::signals::Signal;
use crate::status::{ChildStatus, SuccessCodes};

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
    /// Step 2 starts (log it; the wait itself is the phase's deadline).
    Sleep { duration: Duration, stop: Signal },
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

/// The state machine itself.
#[derive(Clone, Debug)]
pub struct Shutdown {
    stop_signal: Signal,
    rewrite: Rewrite,
    has_request: bool,
    has_hook: bool,
    drain_timeout: Duration,
    prestop_sleep: Duration,
    grace: Option<Duration>,
    single_child: bool,
    success_codes: SuccessCodes,
    liveness: Option<Liveness>,
    phase: Phase,
    /// Why the stop began, once it has.
    reason: Option<Reason>,
}

/// `now + d`, or `None` (never) when that is past what `Instant` holds.
fn after(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

impl Shutdown {
    /// A machine for a child started at `now`.
    pub fn new(policy: &Policy, now: Instant) -> Shutdown {
        Shutdown {
            stop_signal: policy.stop_signal,
            rewrite: policy.rewrite.clone(),
            has_request: policy.drain_http.is_some(),
            has_hook: policy.has_hook(),
            drain_timeout: policy.drain_timeout,
            prestop_sleep: policy.prestop_sleep,
            grace: policy.grace,
            single_child: policy.single_child,
            success_codes: policy.success_codes.clone(),
            liveness: policy
                .liveness
                .as_ref()
                .map(|(_, schedule)| Liveness::new(*schedule, now)),
            phase: Phase::Running,
            reason: None,
        }
    }

    /// The current phase.
    #[cfg(test)]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True while only the rest of the child's group is awaited: its last
    /// member may be reaped by a parent outside the group, which sends
    /// drainit no SIGCHLD, so the supervisor checks on it.
    pub fn awaits_group(&self) -> bool {
        matches!(self.phase, Phase::Lingering { .. })
    }

    /// The next instant at which a `Tick` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Running => self.liveness.as_ref().map(Liveness::deadline),
            Phase::Requesting { until }
            | Phase::Draining { until }
            | Phase::Sleeping { until }
            | Phase::Lingering { until, .. } => until,
            Phase::Stopping {
                grace: Grace::Until(t),
            } => Some(t),
            _ => None,
        }
    }

    /// Feeds one event; appends the actions to perform, in order, to
    /// `actions` (the caller's buffer, so that the signal path allocates
    /// nothing).
    pub fn handle(&mut self, event: Event, now: Instant, actions: &mut Vec<Action>) {
        match event {
            Event::Started => actions.push(Action::SetReadiness(match self.liveness {
                Some(_) => Readiness::NotReady,
                None => Readiness::Ready,
            })),
            Event::Signal(sig) => self.on_signal(sig, now, actions),
            Event::RequestEnded => {
                if let Phase::Requesting { until } = self.phase {
                    self.start_hook(until, now, actions);
                }
            }
            Event::HookEnded => {
                if let Phase::Draining { .. } = self.phase {
                    self.after_hook(now, actions);
                }
            }
            Event::ProbeEnded(result) => {
                if self.phase == Phase::Running {
                    self.on_probe(result, now, actions);
                }
            }
            Event::ChildExited(status) => self.on_child_exit(status, now, actions),
            Event::GroupGone => {
                if let Phase::Lingering { status, .. } = self.phase {
                    self.exit(status, actions);
                }
            }
            Event::Tick => self.on_tick(now, actions),
        }
    }

    fn on_signal(&mut self, sig: Signal, now: Instant, actions: &mut Vec<Action>) {
        let is_stop = sig == self.stop_signal;
        match self.phase {
            Phase::Running if is_stop => self.begin(Reason::Signal, now, actions),
            Phase::Requesting { .. } if is_stop => {
                actions.push(Action::CancelRequest(Cut::SecondStop));
                self.forward_stop(now, actions);
            }
            Phase::Draining { .. } if is_stop => {
                actions.push(Action::KillHook(Cut::SecondStop));
                self.forward_stop(now, actions);
            }
            Phase::Sleeping { .. } if is_stop => self.forward_stop(now, actions),
            Phase::Exited => {}
            _ => actions.extend(self.rewrite.translate(sig).map(Action::Forward)),
        }
    }

    /// A stop begins: readiness turns to draining, probing stops, step 1.
    fn begin(&mut self, reason: Reason, now: Instant, actions: &mut Vec<Action>) {
        self.reason = Some(reason);
        actions.push(Action::BeginShutdown {
            signal: self.stop_signal,
            reason,
        });
        actions.push(Action::SetReadiness(Readiness::Draining));
        if self.liveness.take().is_some_and(|l| l.is_running()) {
            actions.push(Action::CancelProbe);
        }
        let until = after(now, self.drain_timeout);
        if self.has_request {
            actions.push(Action::StartRequest);
            self.phase = Phase::Requesting { until };
        } else {
            self.start_hook(until, now, actions);
        }
    }

    /// Step 1's hook, within step 1's deadline `until`, or step 2 (also
    /// when the drain request used up step 1's time).
    fn start_hook(&mut self, until: Option<Instant>, now: Instant, actions: &mut Vec<Action>) {
        if self.has_hook && until.is_none_or(|t| t > now) {
            actions.push(Action::StartHook(self.reason.unwrap_or(Reason::Signal)));
            self.phase = Phase::Draining { until };
        } else {
            self.after_hook(now, actions);
        }
    }

    fn on_probe(&mut self, result: Result<(), String>, now: Instant, actions: &mut Vec<Action>) {
        let Some(liveness) = self.liveness.as_mut() else {
            return;
        };
        let verdict = liveness.record(result, now);
        let readiness = match verdict {
            Verdict::Passed { .. } => Readiness::Ready,
            _ => Readiness::NotReady,
        };
        let dead = matches!(verdict, Verdict::Dead { .. });
        actions.push(Action::Probed(verdict));
        if dead {
            self.begin(Reason::Liveness, now, actions);
        } else {
            actions.push(Action::SetReadiness(readiness));
        }
    }

    fn on_child_exit(&mut self, status: ChildStatus, now: Instant, actions: &mut Vec<Action>) {
        match self.phase {
            Phase::Requesting { .. } => actions.push(Action::CancelRequest(Cut::ChildExited)),
            Phase::Draining { .. } => actions.push(Action::KillHook(Cut::ChildExited)),
            _ => {}
        }
        if self.liveness.take().is_some_and(|l| l.is_running()) {
            actions.push(Action::CancelProbe);
        }
        if self.phase == Phase::Running {
            actions.push(Action::SetReadiness(Readiness::Draining));
        }
        if self.single_child {
            return self.exit(status, actions);
        }
        match self.phase {
            Phase::Running
            | Phase::Requesting { .. }
            | Phase::Draining { .. }
            | Phase::Sleeping { .. } => {
                let stop = self.rewrite.translate(self.stop_signal);
                actions.push(Action::StopLeftovers(stop));
                let wait = self.grace.unwrap_or(LEFTOVER_WAIT);
                self.phase = Phase::Lingering {
                    status,
                    until: after(now, wait),
                    wait,
                };
            }
            Phase::Stopping { grace } => match grace {
                Grace::Unbounded => {
                    self.phase = Phase::Lingering {
                        status,
                        until: None,
                        wait: Duration::MAX,
                    }
                }
                Grace::Until(t) => {
                    self.phase = Phase::Lingering {
                        status,
                        until: Some(t),
                        wait: self.grace_period().unwrap_or_default(),
                    }
                }
                // The whole group already had SIGKILL.
                Grace::Expired => self.exit(status, actions),
            },
            Phase::Lingering { .. } | Phase::Exited => {}
        }
    }

    fn on_tick(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.deadline().is_none_or(|t| t > now) {
            return;
        }
        match self.phase {
            Phase::Running => self.on_probe_due(now, actions),
            Phase::Requesting { .. } => {
                actions.push(Action::CancelRequest(Cut::TimedOut(self.drain_timeout)));
                self.after_hook(now, actions);
            }
            Phase::Draining { .. } => {
                actions.push(Action::KillHook(Cut::TimedOut(self.drain_timeout)));
                self.after_hook(now, actions);
            }
            Phase::Sleeping { .. } => self.forward_stop(now, actions),
            Phase::Stopping { .. } => {
                actions.push(Action::KillGroup {
                    why: GroupKill::GraceExpired,
                    after: self.grace_period().unwrap_or_default(),
                });
                self.phase = Phase::Stopping {
                    grace: Grace::Expired,
                };
            }
            Phase::Lingering { status, wait, .. } => {
                actions.push(Action::KillGroup {
                    why: GroupKill::LeftoversStayed,
                    after: wait,
                });
                self.exit(status, actions);
            }
            Phase::Exited => {}
        }
    }

    /// A liveness deadline: a probe starts, or the running one timed out.
    fn on_probe_due(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let Some(liveness) = self.liveness.as_mut() else {
            return;
        };
        match liveness.due(now) {
            Some(true) => actions.push(Action::StartProbe),
            Some(false) => {
                actions.push(Action::CancelProbe);
                let timeout = liveness.timeout();
                self.on_probe(Err(format!("timed out after {timeout:?}")), now, actions);
            }
            None => {}
        }
    }

    /// Step 1 is over: step 2, or straight on to step 3.
    fn after_hook(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let sleep = self.prestop_sleep;
        if sleep.is_zero() {
            return self.forward_stop(now, actions);
        }
        actions.push(Action::Sleep {
            duration: sleep,
            stop: self.stop_signal,
        });
        self.phase = Phase::Sleeping {
            until: after(now, sleep),
        };
    }

    /// Step 3, and step 4's clock starts.
    fn forward_stop(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let grace = self.grace_period();
        // Closed first: from step 3 on, no health check may see the port
        // open while the app already has the stop signal.
        actions.push(Action::CloseReadiness);
        actions.push(Action::SendStop {
            signal: self.rewrite.translate(self.stop_signal),
            stop: self.stop_signal,
            grace,
        });
        self.phase = Phase::Stopping {
            grace: match grace.and_then(|g| after(now, g)) {
                Some(t) => Grace::Until(t),
                None => Grace::Unbounded,
            },
        };
    }

    /// Step 4's bound: `--grace`, or 10s after a liveness stop.
    fn grace_period(&self) -> Option<Duration> {
        match self.reason {
            Some(Reason::Liveness) => Some(self.grace.unwrap_or(LIVENESS_GRACE)),
            _ => self.grace,
        }
    }

    fn exit(&mut self, status: ChildStatus, actions: &mut Vec<Action>) {
        let code = match self.reason {
            Some(Reason::Liveness) => LIVENESS_EXIT,
            _ => self.success_codes.exit_code(status.exit_code()),
        };
        actions.push(Action::Exit {
            status,
            code,
            loud: self.reason.is_some(),
        });
        self.phase = Phase::Exited;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::parse_target;
    use crate::liveness::Schedule;
    use crate::rewrite::Rule;
    use Action::*;
    use Event::{ChildExited, GroupGone, HookEnded, ProbeEnded, RequestEnded, Tick};

    fn got(s: Signal) -> Event {
        Event::Signal(s)
    }

    const SEC: Duration = Duration::from_secs(1);
    const TERM: Signal = Signal::TERM;

    fn sig(spec: &str) -> Signal {
        Signal::parse(spec).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            stop_signal: TERM,
            rewrite: Rewrite::default(),
            drain_exec: vec!["hook".into()],
            drain_http: None,
            drain_timeout: 30 * SEC,
            prestop_sleep: 5 * SEC,
            grace: Some(10 * SEC),
            single_child: false,
            liveness: None,
            success_codes: SuccessCodes::default(),
        }
    }

    /// The actions that start a stop on `signal` for `reason`.
    fn begin(signal: Signal, reason: Reason) -> Vec<Action> {
        vec![
            BeginShutdown { signal, reason },
            SetReadiness(Readiness::Draining),
        ]
    }

    fn then(mut first: Vec<Action>, rest: &[Action]) -> Vec<Action> {
        first.extend_from_slice(rest);
        first
    }

    fn sleep(secs: u32, stop: Signal) -> Action {
        Sleep {
            duration: secs * SEC,
            stop,
        }
    }

    fn send(signal: Option<Signal>, grace: Option<Duration>) -> [Action; 2] {
        [
            CloseReadiness,
            SendStop {
                signal,
                stop: TERM,
                grace,
            },
        ]
    }

    fn exit(status: ChildStatus, loud: bool) -> Action {
        Exit {
            status,
            code: status.exit_code(),
            loud,
        }
    }

    /// `(seconds since start, event, expected actions, expected phase)`.
    type Step = (u64, Event, Vec<Action>, fn(Instant) -> Phase);

    /// At 0 s, TERM starts the sequence with the hook (30 s to run).
    fn term_starts_the_hook() -> Step {
        (
            0,
            got(TERM),
            then(begin(TERM, Reason::Signal), &[StartHook(Reason::Signal)]),
            |t| Phase::Draining { until: at(t, 30) },
        )
    }

    /// Drives a machine through `steps`.
    fn run(policy: Policy, steps: Vec<Step>) {
        let t0 = Instant::now();
        let mut machine = Shutdown::new(&policy, t0);
        for (i, (secs, event, want_actions, want_phase)) in steps.into_iter().enumerate() {
            let now = t0 + Duration::from_secs(secs);
            let mut actions = Vec::new();
            machine.handle(event.clone(), now, &mut actions);
            assert_eq!(actions, want_actions, "step {i}: {event:?}");
            assert_eq!(machine.phase(), want_phase(t0), "step {i}: {event:?}");
        }
    }

    fn at(t0: Instant, secs: u64) -> Option<Instant> {
        Some(t0 + Duration::from_secs(secs))
    }

    const EXIT0: ChildStatus = ChildStatus::Exited(0);
    const TERMED: ChildStatus = ChildStatus::Signaled(libc::SIGTERM);

    #[test]
    fn full_sequence_hook_sleep_forward_then_group() {
        run(
            policy(),
            vec![
                (
                    0,
                    Event::Started,
                    vec![SetReadiness(Readiness::Ready)],
                    |_| Phase::Running,
                ),
                (0, got(sig("HUP")), vec![Forward(sig("HUP"))], |_| {
                    Phase::Running
                }),
                (
                    1,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[StartHook(Reason::Signal)]),
                    |t| Phase::Draining { until: at(t, 31) },
                ),
                (2, got(sig("USR1")), vec![Forward(sig("USR1"))], |t| {
                    Phase::Draining { until: at(t, 31) }
                }),
                (3, HookEnded, vec![sleep(5, TERM)], |t| Phase::Sleeping {
                    until: at(t, 8),
                }),
                (7, Tick, vec![], |t| Phase::Sleeping { until: at(t, 8) }),
                (8, Tick, send(Some(TERM), Some(10 * SEC)).to_vec(), |t| {
                    Phase::Stopping {
                        grace: Grace::Until(t + 18 * SEC),
                    }
                }),
                (9, got(TERM), vec![Forward(TERM)], |t| Phase::Stopping {
                    grace: Grace::Until(t + 18 * SEC),
                }),
                (10, ChildExited(TERMED), vec![], |t| Phase::Lingering {
                    status: TERMED,
                    until: at(t, 18),
                    wait: 10 * SEC,
                }),
                (11, GroupGone, vec![exit(TERMED, true)], |_| Phase::Exited),
                (12, got(TERM), vec![], |_| Phase::Exited),
            ],
        );
    }

    #[test]
    fn the_drain_request_comes_first_and_step_one_shares_one_deadline() {
        let p = Policy {
            drain_http: Some(crate::address::parse_request("PUT http://h/x").unwrap()),
            ..policy()
        };
        run(
            p.clone(),
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[StartRequest]),
                    |t| Phase::Requesting { until: at(t, 30) },
                ),
                (4, RequestEnded, vec![StartHook(Reason::Signal)], |t| {
                    Phase::Draining { until: at(t, 30) }
                }),
                (
                    30,
                    Tick,
                    vec![KillHook(Cut::TimedOut(30 * SEC)), sleep(5, TERM)],
                    |t| Phase::Sleeping { until: at(t, 35) },
                ),
            ],
        );
        run(
            p.clone(),
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[StartRequest]),
                    |t| Phase::Requesting { until: at(t, 30) },
                ),
                (
                    30,
                    Tick,
                    vec![CancelRequest(Cut::TimedOut(30 * SEC)), sleep(5, TERM)],
                    |t| Phase::Sleeping { until: at(t, 35) },
                ),
                (31, RequestEnded, vec![], |t| Phase::Sleeping {
                    until: at(t, 35),
                }),
            ],
        );
        run(
            p,
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[StartRequest]),
                    |t| Phase::Requesting { until: at(t, 30) },
                ),
                (
                    1,
                    got(TERM),
                    then(
                        vec![CancelRequest(Cut::SecondStop)],
                        &send(Some(TERM), Some(10 * SEC)),
                    ),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 11 * SEC),
                    },
                ),
            ],
        );
    }

    #[test]
    fn hook_time_out_kills_the_hook_and_goes_on() {
        run(
            policy(),
            vec![
                term_starts_the_hook(),
                (
                    30,
                    Tick,
                    vec![KillHook(Cut::TimedOut(30 * SEC)), sleep(5, TERM)],
                    |t| Phase::Sleeping { until: at(t, 35) },
                ),
                (31, HookEnded, vec![], |t| Phase::Sleeping {
                    until: at(t, 35),
                }),
            ],
        );
    }

    #[test]
    fn second_stop_cuts_steps_one_and_two_short() {
        run(
            policy(),
            vec![
                term_starts_the_hook(),
                (
                    1,
                    got(TERM),
                    then(
                        vec![KillHook(Cut::SecondStop)],
                        &send(Some(TERM), Some(10 * SEC)),
                    ),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 11 * SEC),
                    },
                ),
            ],
        );
        let p = Policy {
            drain_exec: Vec::new(),
            ..policy()
        };
        run(
            p,
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[sleep(5, TERM)]),
                    |t| Phase::Sleeping { until: at(t, 5) },
                ),
                (
                    2,
                    got(TERM),
                    send(Some(TERM), Some(10 * SEC)).to_vec(),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 12 * SEC),
                    },
                ),
            ],
        );
    }

    #[test]
    fn grace_expiry_kills_the_group_then_exits_on_the_child() {
        let p = Policy {
            drain_exec: Vec::new(),
            prestop_sleep: Duration::ZERO,
            ..policy()
        };
        let killed = ChildStatus::Signaled(libc::SIGKILL);
        let grace_kill = KillGroup {
            why: GroupKill::GraceExpired,
            after: 10 * SEC,
        };
        run(
            p,
            vec![
                (
                    0,
                    got(TERM),
                    then(
                        begin(TERM, Reason::Signal),
                        &send(Some(TERM), Some(10 * SEC)),
                    ),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 10 * SEC),
                    },
                ),
                (10, Tick, vec![grace_kill], |_| Phase::Stopping {
                    grace: Grace::Expired,
                }),
                (11, Tick, vec![], |_| Phase::Stopping {
                    grace: Grace::Expired,
                }),
                (11, ChildExited(killed), vec![exit(killed, true)], |_| {
                    Phase::Exited
                }),
            ],
        );
    }

    #[test]
    fn without_grace_the_wait_is_unbounded() {
        let p = Policy {
            drain_exec: Vec::new(),
            prestop_sleep: Duration::ZERO,
            grace: None,
            ..policy()
        };
        run(
            p,
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &send(Some(TERM), None)),
                    |_| Phase::Stopping {
                        grace: Grace::Unbounded,
                    },
                ),
                (9999, Tick, vec![], |_| Phase::Stopping {
                    grace: Grace::Unbounded,
                }),
                (9999, ChildExited(EXIT0), vec![], |_| Phase::Lingering {
                    status: EXIT0,
                    until: None,
                    wait: Duration::MAX,
                }),
                (99999, Tick, vec![], |_| Phase::Lingering {
                    status: EXIT0,
                    until: None,
                    wait: Duration::MAX,
                }),
                (99999, GroupGone, vec![exit(EXIT0, true)], |_| Phase::Exited),
            ],
        );
    }

    #[test]
    fn child_exit_by_itself_stops_the_rest_and_waits_five_seconds() {
        let p = Policy {
            grace: None,
            ..policy()
        };
        run(
            p,
            vec![
                (
                    0,
                    ChildExited(EXIT0),
                    vec![SetReadiness(Readiness::Draining), StopLeftovers(Some(TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 5),
                        wait: 5 * SEC,
                    },
                ),
                (1, got(sig("INT")), vec![Forward(sig("INT"))], |t| {
                    Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 5),
                        wait: 5 * SEC,
                    }
                }),
                (
                    5,
                    Tick,
                    vec![
                        KillGroup {
                            why: GroupKill::LeftoversStayed,
                            after: 5 * SEC,
                        },
                        exit(EXIT0, false),
                    ],
                    |_| Phase::Exited,
                ),
            ],
        );
    }

    #[test]
    fn child_exit_during_hook_or_sleep_cuts_the_sequence_short() {
        run(
            policy(),
            vec![
                term_starts_the_hook(),
                (
                    1,
                    ChildExited(EXIT0),
                    vec![KillHook(Cut::ChildExited), StopLeftovers(Some(TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 11),
                        wait: 10 * SEC,
                    },
                ),
                (2, HookEnded, vec![], |t| Phase::Lingering {
                    status: EXIT0,
                    until: at(t, 11),
                    wait: 10 * SEC,
                }),
            ],
        );
        run(
            policy(),
            vec![
                term_starts_the_hook(),
                (1, HookEnded, vec![sleep(5, TERM)], |t| Phase::Sleeping {
                    until: at(t, 6),
                }),
                (
                    2,
                    ChildExited(EXIT0),
                    vec![StopLeftovers(Some(TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 12),
                        wait: 10 * SEC,
                    },
                ),
                (3, GroupGone, vec![exit(EXIT0, true)], |_| Phase::Exited),
            ],
        );
    }

    #[test]
    fn rewrites_apply_to_the_stop_signal_and_zero_skips_only_the_send() {
        let p = Policy {
            drain_exec: Vec::new(),
            rewrite: Rewrite::new(vec![
                Rule::parse("TERM:QUIT").unwrap(),
                Rule::parse("USR1:0").unwrap(),
            ]),
            ..policy()
        };
        run(
            p,
            vec![
                (0, got(sig("USR1")), vec![], |_| Phase::Running),
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[sleep(5, TERM)]),
                    |t| Phase::Sleeping { until: at(t, 5) },
                ),
                (
                    5,
                    Tick,
                    send(Some(sig("QUIT")), Some(10 * SEC)).to_vec(),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 15 * SEC),
                    },
                ),
            ],
        );
        let dropped = Policy {
            drain_exec: Vec::new(),
            prestop_sleep: Duration::ZERO,
            rewrite: Rewrite::new(vec![Rule::parse("TERM:0").unwrap()]),
            ..policy()
        };
        run(
            dropped,
            vec![(
                0,
                got(TERM),
                then(begin(TERM, Reason::Signal), &send(None, Some(10 * SEC))),
                |t| Phase::Stopping {
                    grace: Grace::Until(t + 10 * SEC),
                },
            )],
        );
    }

    #[test]
    fn single_child_exits_with_the_child_at_once() {
        let p = Policy {
            single_child: true,
            ..policy()
        };
        run(
            p.clone(),
            vec![(
                0,
                ChildExited(EXIT0),
                vec![SetReadiness(Readiness::Draining), exit(EXIT0, false)],
                |_| Phase::Exited,
            )],
        );
        run(
            p,
            vec![
                term_starts_the_hook(),
                (
                    1,
                    ChildExited(TERMED),
                    vec![KillHook(Cut::ChildExited), exit(TERMED, true)],
                    |_| Phase::Exited,
                ),
            ],
        );
    }

    #[test]
    fn a_custom_stop_signal_starts_the_sequence_and_term_is_just_forwarded() {
        let quit = sig("QUIT");
        let p = Policy {
            stop_signal: quit,
            drain_exec: Vec::new(),
            ..policy()
        };
        run(
            p,
            vec![
                (0, got(TERM), vec![Forward(TERM)], |_| Phase::Running),
                (
                    0,
                    got(quit),
                    then(begin(quit, Reason::Signal), &[sleep(5, quit)]),
                    |t| Phase::Sleeping { until: at(t, 5) },
                ),
            ],
        );
    }

    #[test]
    fn durations_past_what_instant_holds_mean_never() {
        let p = Policy {
            drain_timeout: Duration::MAX,
            ..policy()
        };
        run(
            p,
            vec![(
                0,
                got(TERM),
                then(begin(TERM, Reason::Signal), &[StartHook(Reason::Signal)]),
                |_| Phase::Draining { until: None },
            )],
        );
    }

    fn liveness_policy() -> Policy {
        let schedule = Schedule {
            interval: 10 * SEC,
            timeout: SEC,
            failures: 2,
            start: Duration::ZERO,
        };
        Policy {
            liveness: Some((parse_target("tcp://127.0.0.1:1").unwrap(), schedule)),
            grace: None,
            prestop_sleep: Duration::ZERO,
            ..policy()
        }
    }

    /// The verdict of the last allowed failure (2 of 2).
    fn dead(cause: &str) -> Action {
        Probed(Verdict::Dead {
            of: 2,
            cause: cause.into(),
        })
    }

    fn failed(count: u32, cause: &str) -> Action {
        Probed(Verdict::Failed {
            count,
            of: 2,
            cause: cause.into(),
        })
    }

    #[test]
    fn liveness_failures_stop_the_app_with_its_own_reason_grace_and_code() {
        let killed = ChildStatus::Signaled(libc::SIGKILL);
        run(
            liveness_policy(),
            vec![
                (
                    0,
                    Event::Started,
                    vec![SetReadiness(Readiness::NotReady)],
                    |_| Phase::Running,
                ),
                (0, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    0,
                    ProbeEnded(Ok(())),
                    vec![
                        Probed(Verdict::Passed { after: 0 }),
                        SetReadiness(Readiness::Ready),
                    ],
                    |_| Phase::Running,
                ),
                (9, Tick, vec![], |_| Phase::Running),
                (10, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    11,
                    Tick,
                    vec![
                        CancelProbe,
                        failed(1, "timed out after 1s"),
                        SetReadiness(Readiness::NotReady),
                    ],
                    |_| Phase::Running,
                ),
                (20, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    20,
                    ProbeEnded(Err("refused".into())),
                    then(
                        vec![dead("refused")],
                        &then(
                            begin(TERM, Reason::Liveness),
                            &[StartHook(Reason::Liveness)],
                        ),
                    ),
                    |t| Phase::Draining { until: at(t, 50) },
                ),
                (
                    21,
                    HookEnded,
                    send(Some(TERM), Some(10 * SEC)).to_vec(),
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 31 * SEC),
                    },
                ),
                (
                    31,
                    Tick,
                    vec![KillGroup {
                        why: GroupKill::GraceExpired,
                        after: 10 * SEC,
                    }],
                    |_| Phase::Stopping {
                        grace: Grace::Expired,
                    },
                ),
                (
                    31,
                    ChildExited(killed),
                    vec![Exit {
                        status: killed,
                        code: LIVENESS_EXIT,
                        loud: true,
                    }],
                    |_| Phase::Exited,
                ),
            ],
        );
    }

    #[test]
    fn a_stop_signal_during_a_probe_cancels_it_and_probing_ends() {
        run(
            liveness_policy(),
            vec![
                (0, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    0,
                    got(TERM),
                    then(
                        begin(TERM, Reason::Signal),
                        &[CancelProbe, StartHook(Reason::Signal)],
                    ),
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (0, ProbeEnded(Err("late".into())), vec![], |t| {
                    Phase::Draining { until: at(t, 30) }
                }),
            ],
        );
    }

    #[test]
    fn a_drain_request_that_used_up_step_one_leaves_no_time_for_the_hook() {
        let p = Policy {
            drain_http: Some(crate::address::parse_request("PUT http://h/x").unwrap()),
            ..policy()
        };
        run(
            p,
            vec![
                (
                    0,
                    got(TERM),
                    then(begin(TERM, Reason::Signal), &[StartRequest]),
                    |t| Phase::Requesting { until: at(t, 30) },
                ),
                // Its answer and the deadline came in the same wake-up.
                (30, RequestEnded, vec![sleep(5, TERM)], |t| {
                    Phase::Sleeping { until: at(t, 35) }
                }),
            ],
        );
    }

    #[test]
    fn a_child_gone_during_a_liveness_stops_sleep_leaves_its_group_five_seconds() {
        run(
            Policy {
                prestop_sleep: 5 * SEC,
                drain_exec: Vec::new(),
                ..liveness_policy()
            },
            vec![
                (0, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    0,
                    ProbeEnded(Err("x".into())),
                    vec![failed(1, "x"), SetReadiness(Readiness::NotReady)],
                    |_| Phase::Running,
                ),
                (10, Tick, vec![StartProbe], |_| Phase::Running),
                (
                    10,
                    ProbeEnded(Err("x".into())),
                    then(
                        vec![dead("x")],
                        &then(begin(TERM, Reason::Liveness), &[sleep(5, TERM)]),
                    ),
                    |t| Phase::Sleeping { until: at(t, 15) },
                ),
                (
                    11,
                    ChildExited(EXIT0),
                    vec![StopLeftovers(Some(TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 16),
                        wait: 5 * SEC,
                    },
                ),
                (
                    16,
                    Tick,
                    vec![
                        KillGroup {
                            why: GroupKill::LeftoversStayed,
                            after: 5 * SEC,
                        },
                        Exit {
                            status: EXIT0,
                            code: LIVENESS_EXIT,
                            loud: true,
                        },
                    ],
                    |_| Phase::Exited,
                ),
            ],
        );
    }
}
