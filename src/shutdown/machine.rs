//! The machine's transitions: each event, in each phase, gives the next
//! phase and the actions to perform.

use std::time::{Duration, Instant};

use super::{
    Action, Cut, Event, Grace, GroupKill, LEFTOVER_WAIT, LIVENESS_EXIT, LIVENESS_GRACE, Phase,
    Reason,
};
use crate::config::Policy;
use crate::liveness::{Liveness, Verdict};
use crate::ready::Readiness;
use crate::signals::Signal;
use crate::status::ChildStatus;

/// The state machine itself. It keeps the `Policy` it is given: the
/// settings are read there, never copied.
#[derive(Clone, Debug)]
pub struct Shutdown {
    policy: Policy,
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
    pub fn new(policy: Policy, now: Instant) -> Shutdown {
        let liveness = policy
            .liveness
            .as_ref()
            .map(|(_, schedule)| Liveness::new(*schedule, now));
        Shutdown {
            policy,
            liveness,
            phase: Phase::Running,
            reason: None,
        }
    }

    /// The settings it was given, for the supervisor to perform its
    /// actions with (the hook's words, the request, the probe's target).
    pub fn policy(&self) -> &Policy {
        &self.policy
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
        let is_stop = sig == self.policy.stop_signal;
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
            _ => actions.extend(self.policy.rewrite.translate(sig).map(Action::Forward)),
        }
    }

    /// A stop begins: readiness turns to draining, probing stops, step 1.
    fn begin(&mut self, reason: Reason, now: Instant, actions: &mut Vec<Action>) {
        self.reason = Some(reason);
        actions.push(Action::BeginShutdown {
            signal: self.policy.stop_signal,
            reason,
        });
        actions.push(Action::SetReadiness(Readiness::Draining));
        if self.liveness.take().is_some_and(|l| l.is_running()) {
            actions.push(Action::CancelProbe);
        }
        let until = after(now, self.policy.drain_timeout);
        if self.policy.drain_http.is_some() {
            actions.push(Action::StartRequest);
            self.phase = Phase::Requesting { until };
        } else {
            self.start_hook(until, now, actions);
        }
    }

    /// Step 1's hook, within step 1's deadline `until`, or step 2 (also
    /// when the drain request used up step 1's time).
    fn start_hook(&mut self, until: Option<Instant>, now: Instant, actions: &mut Vec<Action>) {
        if self.policy.has_hook() && until.is_none_or(|t| t > now) {
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
        if self.policy.single_child {
            return self.exit(status, actions);
        }
        match self.phase {
            Phase::Running
            | Phase::Requesting { .. }
            | Phase::Draining { .. }
            | Phase::Sleeping { .. } => {
                let stop = self.policy.rewrite.translate(self.policy.stop_signal);
                actions.push(Action::StopLeftovers(stop));
                let wait = self.policy.grace.unwrap_or(LEFTOVER_WAIT);
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
                actions.push(Action::CancelRequest(Cut::TimedOut(
                    self.policy.drain_timeout,
                )));
                self.after_hook(now, actions);
            }
            Phase::Draining { .. } => {
                actions.push(Action::KillHook(Cut::TimedOut(self.policy.drain_timeout)));
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
        let sleep = self.policy.prestop_sleep;
        if sleep.is_zero() {
            return self.forward_stop(now, actions);
        }
        let stop = self.policy.stop_signal;
        actions.push(Action::Sleep {
            duration: sleep,
            stop,
            send: self.policy.rewrite.translate(stop),
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
            signal: self.policy.rewrite.translate(self.policy.stop_signal),
            stop: self.policy.stop_signal,
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
            Some(Reason::Liveness) => Some(self.policy.grace.unwrap_or(LIVENESS_GRACE)),
            _ => self.policy.grace,
        }
    }

    fn exit(&mut self, status: ChildStatus, actions: &mut Vec<Action>) {
        let code = match self.reason {
            Some(Reason::Liveness) => LIVENESS_EXIT,
            _ => self.policy.success_codes.exit_code(status.exit_code()),
        };
        actions.push(Action::Exit {
            status,
            code,
            loud: self.reason.is_some(),
        });
        self.phase = Phase::Exited;
    }
}
