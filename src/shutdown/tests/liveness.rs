//! The liveness watchdog's stops: its own reason, grace and exit code.

use super::*;

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
            term_starts_the_request(),
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
