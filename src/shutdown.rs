//! The shutdown state machine: `(phase, event, now) -> (phase, actions)`.
//! No syscalls and no clock: the supervisor feeds it events with the time
//! and performs the actions it returns.

use std::time::{Duration, Instant};

use crate::rewrite::Rewrite;
use crate::signals::Signal;
use crate::status::ChildStatus;

/// How long the rest of the group may stay after the child exited by
/// itself, when no `--grace` is given (CONTRACT.md, "When the child exits").
pub const LEFTOVER_WAIT: Duration = Duration::from_secs(5);

/// What the configuration says about stopping.
#[derive(Clone, Debug)]
pub struct Policy {
    pub stop_signal: Signal,
    pub rewrite: Rewrite,
    /// The drain hook's words; empty means no hook.
    pub drain_exec: Vec<String>,
    pub drain_timeout: Duration,
    pub prestop_sleep: Duration,
    pub grace: Option<Duration>,
    pub single_child: bool,
}

impl Policy {
    /// Whether step 1 runs a drain hook.
    pub fn has_hook(&self) -> bool {
        !self.drain_exec.is_empty()
    }
}

/// Where drainit is in the child's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No stop signal yet.
    Running,
    /// Step 1: the drain hook runs until it ends or `until`.
    Draining { until: Option<Instant> },
    /// Step 2: the pre-stop sleep.
    Sleeping { until: Option<Instant> },
    /// Steps 3-4: the stop signal went out; waiting for the child.
    Stopping { grace: Grace },
    /// The child is gone; waiting for the rest of its group.
    Lingering {
        status: ChildStatus,
        until: Option<Instant>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A signal to forward or act on (never CHLD).
    Signal(Signal),
    /// The drain hook ended, failed or could not start.
    HookEnded,
    /// The main child was reaped.
    ChildExited(ChildStatus),
    /// No process of the child's group is left.
    GroupGone,
    /// Time passed; deadlines at or before `now` are due.
    Tick,
}

/// Why the hook's group is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKill {
    TimedOut,
    SecondStop,
    ChildExited,
}

/// Why the child's group gets SIGKILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKill {
    /// `--grace` ran out after the stop signal.
    GraceExpired,
    /// The child is gone, and the rest of its group outstayed its wait.
    LeftoversStayed,
}

/// What the supervisor must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The stop signal arrived: the sequence starts (log it).
    BeginShutdown(Signal),
    /// Step 1: start the drain hook.
    StartHook,
    /// SIGKILL to the drain hook's group.
    KillHook(HookKill),
    /// Step 2 starts (log it; the wait itself is the phase's deadline).
    Sleep(Duration),
    /// Step 3: the (rewritten) stop signal to the child's group; `None`
    /// when it was rewritten to 0.
    SendStop(Option<Signal>),
    /// Forward a signal to the child's group.
    Forward(Signal),
    /// The child exited by itself: the (rewritten) stop signal to the rest
    /// of its group.
    StopLeftovers(Option<Signal>),
    /// SIGKILL to the child's group.
    KillGroup(GroupKill),
    /// Exit with the child's status.
    Exit(ChildStatus),
}

/// The state machine itself.
#[derive(Clone, Debug)]
pub struct Shutdown {
    policy: Policy,
    phase: Phase,
    stop_received: bool,
}

/// `now + d`, or `None` (never) when that is past what `Instant` holds.
fn after(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

impl Shutdown {
    /// A machine for a freshly started child.
    pub fn new(policy: Policy) -> Shutdown {
        Shutdown {
            policy,
            phase: Phase::Running,
            stop_received: false,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True once the stop signal has started the sequence: from then on
    /// each step is logged at the default level.
    pub fn stop_received(&self) -> bool {
        self.stop_received
    }

    /// True while only the rest of the child's group is awaited.
    pub fn awaits_group(&self) -> bool {
        matches!(self.phase, Phase::Lingering { .. })
    }

    /// The next instant at which a `Tick` has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Draining { until }
            | Phase::Sleeping { until }
            | Phase::Lingering { until, .. } => until,
            Phase::Stopping {
                grace: Grace::Until(t),
            } => Some(t),
            _ => None,
        }
    }

    /// Feeds one event; returns the actions to perform, in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Signal(sig) => self.on_signal(sig, now, &mut actions),
            Event::HookEnded => {
                if let Phase::Draining { .. } = self.phase {
                    self.after_hook(now, &mut actions);
                }
            }
            Event::ChildExited(status) => self.on_child_exit(status, now, &mut actions),
            Event::GroupGone => {
                if let Phase::Lingering { status, .. } = self.phase {
                    self.exit(status, &mut actions);
                }
            }
            Event::Tick => self.on_tick(now, &mut actions),
        }
        actions
    }

    fn on_signal(&mut self, sig: Signal, now: Instant, actions: &mut Vec<Action>) {
        let is_stop = sig == self.policy.stop_signal;
        match self.phase {
            Phase::Running if is_stop => {
                self.stop_received = true;
                actions.push(Action::BeginShutdown(sig));
                if self.policy.has_hook() {
                    actions.push(Action::StartHook);
                    self.phase = Phase::Draining {
                        until: after(now, self.policy.drain_timeout),
                    };
                } else {
                    self.after_hook(now, actions);
                }
            }
            Phase::Draining { .. } if is_stop => {
                actions.push(Action::KillHook(HookKill::SecondStop));
                self.forward_stop(now, actions);
            }
            Phase::Sleeping { .. } if is_stop => self.forward_stop(now, actions),
            Phase::Exited => {}
            _ => actions.extend(self.policy.rewrite.translate(sig).map(Action::Forward)),
        }
    }

    fn on_child_exit(&mut self, status: ChildStatus, now: Instant, actions: &mut Vec<Action>) {
        if let Phase::Draining { .. } = self.phase {
            actions.push(Action::KillHook(HookKill::ChildExited));
        }
        if self.policy.single_child {
            return self.exit(status, actions);
        }
        match self.phase {
            Phase::Running | Phase::Draining { .. } | Phase::Sleeping { .. } => {
                let stop = self.policy.rewrite.translate(self.policy.stop_signal);
                actions.push(Action::StopLeftovers(stop));
                let wait = self.policy.grace.unwrap_or(LEFTOVER_WAIT);
                self.phase = Phase::Lingering {
                    status,
                    until: after(now, wait),
                };
            }
            Phase::Stopping { grace } => match grace {
                Grace::Unbounded => {
                    self.phase = Phase::Lingering {
                        status,
                        until: None,
                    }
                }
                Grace::Until(t) => {
                    self.phase = Phase::Lingering {
                        status,
                        until: Some(t),
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
            Phase::Draining { .. } => {
                actions.push(Action::KillHook(HookKill::TimedOut));
                self.after_hook(now, actions);
            }
            Phase::Sleeping { .. } => self.forward_stop(now, actions),
            Phase::Stopping { .. } => {
                actions.push(Action::KillGroup(GroupKill::GraceExpired));
                self.phase = Phase::Stopping {
                    grace: Grace::Expired,
                };
            }
            Phase::Lingering { status, .. } => {
                actions.push(Action::KillGroup(GroupKill::LeftoversStayed));
                self.exit(status, actions);
            }
            Phase::Running | Phase::Exited => {}
        }
    }

    /// Step 1 is over: step 2, or straight on to step 3.
    fn after_hook(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let sleep = self.policy.prestop_sleep;
        if sleep.is_zero() {
            return self.forward_stop(now, actions);
        }
        actions.push(Action::Sleep(sleep));
        self.phase = Phase::Sleeping {
            until: after(now, sleep),
        };
    }

    /// Step 3, and step 4's clock starts.
    fn forward_stop(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let stop = self.policy.rewrite.translate(self.policy.stop_signal);
        actions.push(Action::SendStop(stop));
        let grace = match self.policy.grace.and_then(|g| after(now, g)) {
            Some(t) => Grace::Until(t),
            None => Grace::Unbounded,
        };
        self.phase = Phase::Stopping { grace };
    }

    fn exit(&mut self, status: ChildStatus, actions: &mut Vec<Action>) {
        actions.push(Action::Exit(status));
        self.phase = Phase::Exited;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::Rule;
    use Action::*;
    use Event::{ChildExited, GroupGone, HookEnded, Tick};

    fn got(s: Signal) -> Event {
        Event::Signal(s)
    }

    const SEC: Duration = Duration::from_secs(1);

    fn sig(spec: &str) -> Signal {
        Signal::parse(spec).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            stop_signal: Signal::TERM,
            rewrite: Rewrite::default(),
            drain_exec: vec!["hook".into()],
            drain_timeout: 30 * SEC,
            prestop_sleep: 5 * SEC,
            grace: Some(10 * SEC),
            single_child: false,
        }
    }

    /// `(seconds since start, event, expected actions, expected phase)`.
    type Step<'a> = (u64, Event, &'a [Action], fn(Instant) -> Phase);

    /// Drives a machine through `steps`.
    fn run(policy: Policy, steps: &[Step]) {
        let t0 = Instant::now();
        let mut machine = Shutdown::new(policy);
        for (i, (secs, event, want_actions, want_phase)) in steps.iter().enumerate() {
            let now = t0 + Duration::from_secs(*secs);
            let actions = machine.handle(*event, now);
            assert_eq!(actions, *want_actions, "step {i}: {event:?}");
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
            &[
                (0, got(sig("HUP")), &[Forward(sig("HUP"))], |_| {
                    Phase::Running
                }),
                (
                    1,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 31) },
                ),
                (2, got(sig("USR1")), &[Forward(sig("USR1"))], |t| {
                    Phase::Draining { until: at(t, 31) }
                }),
                (3, HookEnded, &[Sleep(5 * SEC)], |t| Phase::Sleeping {
                    until: at(t, 8),
                }),
                (7, Tick, &[], |t| Phase::Sleeping { until: at(t, 8) }),
                (8, Tick, &[SendStop(Some(Signal::TERM))], |t| {
                    Phase::Stopping {
                        grace: Grace::Until(t + 18 * SEC),
                    }
                }),
                (9, got(Signal::TERM), &[Forward(Signal::TERM)], |t| {
                    Phase::Stopping {
                        grace: Grace::Until(t + 18 * SEC),
                    }
                }),
                (10, ChildExited(TERMED), &[], |t| Phase::Lingering {
                    status: TERMED,
                    until: at(t, 18),
                }),
                (11, GroupGone, &[Exit(TERMED)], |_| Phase::Exited),
                (12, got(Signal::TERM), &[], |_| Phase::Exited),
            ],
        );
    }

    #[test]
    fn hook_time_out_kills_the_hook_and_goes_on() {
        run(
            policy(),
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (
                    30,
                    Tick,
                    &[KillHook(HookKill::TimedOut), Sleep(5 * SEC)],
                    |t| Phase::Sleeping { until: at(t, 35) },
                ),
                (31, HookEnded, &[], |t| Phase::Sleeping { until: at(t, 35) }),
            ],
        );
    }

    #[test]
    fn second_stop_cuts_steps_one_and_two_short() {
        run(
            policy(),
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (
                    1,
                    got(Signal::TERM),
                    &[KillHook(HookKill::SecondStop), SendStop(Some(Signal::TERM))],
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
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), Sleep(5 * SEC)],
                    |t| Phase::Sleeping { until: at(t, 5) },
                ),
                (2, got(Signal::TERM), &[SendStop(Some(Signal::TERM))], |t| {
                    Phase::Stopping {
                        grace: Grace::Until(t + 12 * SEC),
                    }
                }),
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
        run(
            p,
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), SendStop(Some(Signal::TERM))],
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 10 * SEC),
                    },
                ),
                (10, Tick, &[KillGroup(GroupKill::GraceExpired)], |_| {
                    Phase::Stopping {
                        grace: Grace::Expired,
                    }
                }),
                (11, Tick, &[], |_| Phase::Stopping {
                    grace: Grace::Expired,
                }),
                (11, ChildExited(killed), &[Exit(killed)], |_| Phase::Exited),
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
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), SendStop(Some(Signal::TERM))],
                    |_| Phase::Stopping {
                        grace: Grace::Unbounded,
                    },
                ),
                (9999, Tick, &[], |_| Phase::Stopping {
                    grace: Grace::Unbounded,
                }),
                (9999, ChildExited(EXIT0), &[], |_| Phase::Lingering {
                    status: EXIT0,
                    until: None,
                }),
                (99999, Tick, &[], |_| Phase::Lingering {
                    status: EXIT0,
                    until: None,
                }),
                (99999, GroupGone, &[Exit(EXIT0)], |_| Phase::Exited),
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
            &[
                (
                    0,
                    ChildExited(EXIT0),
                    &[StopLeftovers(Some(Signal::TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 5),
                    },
                ),
                (1, got(sig("INT")), &[Forward(sig("INT"))], |t| {
                    Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 5),
                    }
                }),
                (
                    5,
                    Tick,
                    &[KillGroup(GroupKill::LeftoversStayed), Exit(EXIT0)],
                    |_| Phase::Exited,
                ),
            ],
        );
    }

    #[test]
    fn child_exit_during_hook_or_sleep_cuts_the_sequence_short() {
        run(
            policy(),
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (
                    1,
                    ChildExited(EXIT0),
                    &[
                        KillHook(HookKill::ChildExited),
                        StopLeftovers(Some(Signal::TERM)),
                    ],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 11),
                    },
                ),
                (2, HookEnded, &[], |t| Phase::Lingering {
                    status: EXIT0,
                    until: at(t, 11),
                }),
            ],
        );
        run(
            policy(),
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (1, HookEnded, &[Sleep(5 * SEC)], |t| Phase::Sleeping {
                    until: at(t, 6),
                }),
                (
                    2,
                    ChildExited(EXIT0),
                    &[StopLeftovers(Some(Signal::TERM))],
                    |t| Phase::Lingering {
                        status: EXIT0,
                        until: at(t, 12),
                    },
                ),
                (3, GroupGone, &[Exit(EXIT0)], |_| Phase::Exited),
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
            &[
                (0, got(sig("USR1")), &[], |_| Phase::Running),
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), Sleep(5 * SEC)],
                    |t| Phase::Sleeping { until: at(t, 5) },
                ),
                (
                    5,
                    Tick,
                    &[SendStop(Some(Signal::parse("QUIT").unwrap()))],
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
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), SendStop(None)],
                    |t| Phase::Stopping {
                        grace: Grace::Until(t + 10 * SEC),
                    },
                ),
                (10, Tick, &[KillGroup(GroupKill::GraceExpired)], |_| {
                    Phase::Stopping {
                        grace: Grace::Expired,
                    }
                }),
            ],
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
            &[(0, ChildExited(EXIT0), &[Exit(EXIT0)], |_| Phase::Exited)],
        );
        run(
            p,
            &[
                (
                    0,
                    got(Signal::TERM),
                    &[BeginShutdown(Signal::TERM), StartHook],
                    |t| Phase::Draining { until: at(t, 30) },
                ),
                (
                    1,
                    ChildExited(TERMED),
                    &[KillHook(HookKill::ChildExited), Exit(TERMED)],
                    |_| Phase::Exited,
                ),
            ],
        );
    }

    #[test]
    fn a_custom_stop_signal_starts_the_sequence_and_term_is_just_forwarded() {
        let p = Policy {
            stop_signal: sig("QUIT"),
            drain_exec: Vec::new(),
            ..policy()
        };
        run(
            p,
            &[
                (0, got(Signal::TERM), &[Forward(Signal::TERM)], |_| {
                    Phase::Running
                }),
                (
                    0,
                    got(sig("QUIT")),
                    &[BeginShutdown(sig("QUIT")), Sleep(5 * SEC)],
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
            &[(
                0,
                got(Signal::TERM),
                &[BeginShutdown(Signal::TERM), StartHook],
                |_| Phase::Draining { until: None },
            )],
        );
    }
}
