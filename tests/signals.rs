//! Signals (README "Signals"): forwarding to the child's group, the never
//! forwarded set, rewriting, `--single-child`, bursts, reaping.

mod common;

use common::*;

/// Every signal drainit forwards (all catchable ones but CHLD), realtime
/// and fault signals sent with `kill` included. Not as PID 1, TSTP, TTIN
/// and TTOU also stop drainit (tests/job_control.rs), so they are left out.
fn forwarded(mode: Mode) -> Vec<i32> {
    let job_stops = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
    (1..32)
        .filter(|s| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(s))
        .filter(|s| mode == Mode::Pid1 || !job_stops.contains(s))
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
        .collect()
}

fn every_forwardable_signal_arrives_and_chld_does_not(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(mode, &[&f, "child", "--exit-on", "10=0"]);
    d.ready();
    for sig in forwarded(mode).into_iter().filter(|&s| s != libc::SIGUSR1) {
        d.signal(sig);
        d.expect_line(&format!("sig {sig}"));
        // CHLD is drainit's own; the next line must be the marker.
        d.signal(libc::SIGCHLD);
    }
    d.signal(libc::SIGUSR1);
    assert_eq!(
        d.rest(),
        ["sig 10"],
        "{mode:?}: nothing else, CHLD least of all"
    );
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
}

both_modes!(every_forwardable_signal_arrives_and_chld_does_not);

fn the_group_gets_signals_and_single_child_sends_to_the_child_only(mode: Mode) {
    let f = fixture();
    // `sh` is the child; two fixtures in its group; the last command keeps
    // sh from exec'ing.
    let script = format!("{f} child --name a & {f} child --name b & wait; echo never");
    let d = Drainit::start(mode, &["sh", "-c", &script]);
    d.all_ready(&["a", "b"]);
    d.signal(libc::SIGUSR1);
    // sh died of USR1: the rest of the group gets TERM, then SIGKILL
    // after 5 s since the fixtures ignore it.
    let mut seen = d.rest();
    seen.sort();
    assert_eq!(
        seen,
        ["a sig 10", "a sig 15", "b sig 10", "b sig 15"],
        "{mode:?}"
    );
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(128 + libc::SIGUSR1), "{log}");
    assert!(log.contains("outstayed 5s: sent SIGKILL"), "{log}");

    let d = Drainit::start(mode, &["-c", "sh", "-c", &script]);
    d.all_ready(&["a", "b"]);
    let group = d.child();
    d.signal(libc::SIGUSR1);
    if mode == Mode::Pid1 {
        // drainit exited with sh at once, and its namespace with it:
        // neither fixture saw USR1.
        assert_eq!(d.rest(), Vec::<String>::new());
    } else {
        // drainit is gone; the fixtures never saw USR1 and still run.
        let members = wait_for(
            || Some(group_members(group)).filter(|m| m.len() == 2),
            "a and b",
        );
        for pid in members {
            send(pid, libc::SIGKILL);
        }
        assert_eq!(d.rest(), Vec::<String>::new());
    }
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(128 + libc::SIGUSR1), "{log}");
}

both_modes!(the_group_gets_signals_and_single_child_sends_to_the_child_only);

fn rewrite_rules_translate_swap_and_drop(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(
        mode,
        &[
            "-r",
            "TERM:QUIT",
            "--rewrite",
            "usr1:sigusr2",
            "-r",
            "USR2:10",
            "-r",
            "HUP:0",
            &f,
            "child",
            "--exit-on",
            "3=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 12");
    d.signal(libc::SIGUSR2);
    d.expect_line("sig 10");
    d.signal(libc::SIGHUP); // dropped: the next line is the INT marker
    d.signal(libc::SIGINT);
    d.expect_line("sig 2");
    d.signal(libc::SIGTERM);
    assert_eq!(d.rest(), ["sig 3"], "{mode:?}");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert!(log.contains("forwarded SIGQUIT to process group"), "{log}");
}

both_modes!(rewrite_rules_translate_swap_and_drop);

#[test]
fn drainit_rewrite_variable_and_flags_replace_it() {
    let f = fixture();
    let env = vec![("DRAINIT_REWRITE", " TERM:QUIT , HUP:0 ")];
    let opts = Start {
        env: env.clone(),
        ..Start::default()
    };
    let d = Drainit::start_with(Mode::Pid1, &[&f, "child", "--exit-on", "3=0"], opts);
    d.ready();
    d.signal(libc::SIGHUP);
    d.signal(libc::SIGTERM);
    assert_eq!(d.rest(), ["sig 3"]);
    assert_eq!(d.exit_code(), 0);

    // Any --rewrite flag replaces the whole list: HUP passes again, and
    // TERM is no longer rewritten.
    let opts = Start {
        env,
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Pid1,
        &["-r", "USR1:USR2", &f, "child", "--exit-on", "15=0"],
        opts,
    );
    d.ready();
    d.signal(libc::SIGHUP);
    d.expect_line("sig 1");
    d.signal(libc::SIGTERM);
    assert_eq!(d.rest(), ["sig 15"]);
    assert_eq!(d.exit_code(), 0);
}

fn a_burst_of_500_signals_loses_no_kind_and_no_realtime_signal(mode: Mode) {
    let f = fixture();
    let rt = libc::SIGRTMIN() + 1;
    // Queued signals are taken lowest number first, so RTMAX, sent
    // last, is also received last.
    let last = libc::SIGRTMAX();
    let exit_on = format!("{last}=0");
    let d = Drainit::start(mode, &[&f, "child", "--exit-on", &exit_on]);
    d.ready();
    for i in 0..500 {
        let sig = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP, rt, rt][i % 5];
        d.signal(sig);
    }
    d.signal(last);
    let mut lines = d.rest();
    assert_eq!(lines.pop(), Some(format!("sig {last}")), "{mode:?}");
    // Standard signals may merge; realtime ones queue: all 200 arrive.
    for sig in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP] {
        assert!(lines.contains(&format!("sig {sig}")), "{mode:?}: no {sig}");
    }
    let rt_count = lines.iter().filter(|l| **l == format!("sig {rt}")).count();
    assert_eq!(rt_count, 200, "{mode:?}");
    assert_eq!(d.exit_code(), 0);
}

both_modes!(a_burst_of_500_signals_loses_no_kind_and_no_realtime_signal);

fn two_thousand_orphans_leave_no_zombie(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(
        mode,
        &["-v", &f, "child", "--orphans", "2000", "--exit-on", "15=0"],
    );
    d.ready();
    // The orphans were re-parented to drainit, which reaped them all.
    let pid = d.pid;
    wait_for(
        || {
            let reaped = d.stderr().matches("reaped process").count();
            (reaped >= 2000 && zombie_children(pid) == 0).then_some(())
        },
        "2000 orphans reaped",
    );
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{mode:?}");
    assert_eq!(log.matches("reaped process").count(), 2000, "{mode:?}");
}

both_modes!(two_thousand_orphans_leave_no_zombie);
