//! The machine as a table: `(phase, event) -> (phase, actions)`.

use super::*;
use crate::address::parse_target;
use crate::config::Policy;
use crate::liveness::Schedule;
use crate::rewrite::{Rewrite, Rule};
use crate::status::SuccessCodes;
use crate::target::StopScope;
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
        stop_scope: StopScope::Group,
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

/// Step 2 with no rewrite: `stop` is what will be sent.
fn sleep(secs: u32, stop: Signal) -> Action {
    Sleep {
        duration: secs * SEC,
        stop,
        send: Some(stop),
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

/// At 0 s, TERM starts the sequence with the drain request (30 s for
/// step 1).
fn term_starts_the_request() -> Step {
    (
        0,
        got(TERM),
        then(begin(TERM, Reason::Signal), &[StartRequest]),
        |t| Phase::Requesting { until: at(t, 30) },
    )
}

/// Drives a machine through `steps`.
fn run(policy: Policy, steps: Vec<Step>) {
    let t0 = Instant::now();
    let mut machine = Shutdown::new(policy, t0);
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
            term_starts_the_request(),
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
            term_starts_the_request(),
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
            term_starts_the_request(),
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
                then(
                    begin(TERM, Reason::Signal),
                    &[Sleep {
                        duration: 5 * SEC,
                        stop: TERM,
                        send: Some(sig("QUIT")),
                    }],
                ),
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
    let sleep_then_nothing = Sleep {
        duration: 5 * SEC,
        stop: TERM,
        send: None,
    };
    run(
        Policy {
            prestop_sleep: 5 * SEC,
            ..dropped.clone()
        },
        vec![(
            0,
            got(TERM),
            then(begin(TERM, Reason::Signal), &[sleep_then_nothing]),
            |t| Phase::Sleeping { until: at(t, 5) },
        )],
    );
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

mod liveness;
