//! The shutdown sequence (README "The shutdown sequence" and "Exit
//! codes"): the order hook → sleep → forward, proved through an
//! append-only log with monotonic timestamps; second stop signals, grace,
//! the shell-wrapper case, and the log lines of each step.

mod common;

use std::time::{Duration, Instant};

use common::health::{logged_at, span};
use common::*;

fn hook_then_sleep_then_forward_in_that_order_with_env_and_cwd(mode: Mode) {
    let f = fixture();
    let dir = temp_dir(&format!("order-{mode:?}"));
    let log = dir.join("log");
    let log_s = log.to_str().unwrap();
    let hook = format!("{f} hook --log {log_s} --sleep 300");
    let opts = Start {
        cwd: dir.to_str(),
        ..Start::default()
    };
    let d = Drainit::start_with(
        mode,
        &[
            "--drain-exec",
            &hook,
            "--prestop-sleep",
            "700ms",
            &f,
            "child",
            "--log",
            log_s,
            "--exit-on",
            "15=0",
        ],
        opts,
    );
    let child_pid_inside = d
        .expect("ready", |l| l.starts_with("ready "))
        .strip_prefix("ready ")
        .unwrap()
        .to_string();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");

    let lines = log_lines(&log);
    let order: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        order,
        ["hook-start", "env", "env", "cwd", "hook-end", "child"],
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("env DRAINIT_CHILD_PID={child_pid_inside}")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"env DRAINIT_SIGNAL=SIGTERM".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("cwd {}", dir.display())),
        "{lines:?}"
    );
    // The sleep is counted from the end of the hook.
    let slept = span(logged_at(&log, "hook-end"), logged_at(&log, "child"));
    assert!(
        slept >= Duration::from_millis(700),
        "forwarded {slept:?} after the hook"
    );
    // One line per step at the default level, none before the stop.
    let steps: Vec<&str> = stderr.lines().collect();
    assert_eq!(steps.len(), 6, "{stderr}");
    assert!(steps[0].starts_with("drainit: received SIGTERM: starting the shutdown sequence"));
    assert!(
        steps[1].starts_with("drainit: running drain hook: "),
        "{stderr}"
    );
    assert_eq!(steps[2], "drainit: drain hook finished");
    assert_eq!(steps[3], "drainit: sleeping 700ms before sending SIGTERM");
    assert!(steps[4].starts_with("drainit: forwarded SIGTERM to process group "));
    assert_eq!(
        steps[5],
        "drainit: child exited with status 0; exiting with 0"
    );
}

both_modes!(hook_then_sleep_then_forward_in_that_order_with_env_and_cwd);

#[test]
fn nothing_is_logged_while_running() {
    let f = fixture();
    let d = Drainit::start(Mode::Pid1, &[&f, "child", "--exit-on", "10=0"]);
    d.ready();
    d.signal(libc::SIGHUP);
    d.expect_line("sig 1");
    d.signal(libc::SIGUSR1);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert_eq!(log, "");
}

fn a_second_stop_signal_during_the_hook_kills_it_and_forwards_at_once(mode: Mode) {
    let f = fixture();
    let dir = temp_dir(&format!("second-stop-hook-{mode:?}"));
    let log = dir.join("log");
    let hook = format!("{f} hook --log {} --sleep 60000", log.display());
    let d = Drainit::start(
        mode,
        &[
            "--drain-exec",
            &hook,
            "--drain-timeout",
            "60s",
            "--prestop-sleep",
            "60s",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    wait_for(
        || {
            log_lines(&log)
                .iter()
                .any(|l| l.starts_with("cwd"))
                .then_some(())
        },
        "the hook to start",
    );
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "no wait for the hook nor the sleep"
    );
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert!(
        stderr.contains("second stop signal: killed the drain hook; forwarding at once"),
        "{stderr}"
    );
    assert!(
        !log_lines(&log).iter().any(|l| l.starts_with("hook-end")),
        "the hook was not killed"
    );
}

both_modes!(a_second_stop_signal_during_the_hook_kills_it_and_forwards_at_once);

/// drainit with a 60 s pre-stop sleep and a child that exits as
/// `--exit-on` says, sent TERM; returned once the sleep has begun.
fn in_the_sleep(exit_on: &str) -> Drainit {
    let f = fixture();
    let d = Drainit::start(
        Mode::Pid1,
        &["--prestop-sleep", "60s", &f, "child", "--exit-on", exit_on],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    wait_for(
        || d.stderr().contains("sleeping 60s").then_some(()),
        "the sleep",
    );
    d
}

#[test]
fn a_second_stop_signal_during_the_sleep_forwards_at_once() {
    let d = in_the_sleep("15=0");
    // Other signals are forwarded during the sleep.
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 10");
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(d.exit_code(), 0);
}

#[test]
fn the_child_exiting_during_the_sleep_ends_it() {
    let d = in_the_sleep("10=5");
    let t0 = Instant::now();
    d.signal(libc::SIGUSR1);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(5), "{log}");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(!log.contains("forwarded SIGTERM"), "{log}");
}

fn grace_kills_the_whole_group_and_exits_137(mode: Mode) {
    let f = fixture();
    // b (the child) and a (in its group) both ignore TERM.
    let script = format!("{f} child --name a & exec {f} child --name b");
    let d = Drainit::start(mode, &["--grace", "1s", "sh", "-c", &script]);
    d.all_ready(&["a", "b"]);
    let group = d.child();
    assert_eq!(group_members(group).len(), 2);
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!(status.code(), Some(137), "{log}");
    assert!(
        log.contains("grace period of 1s is over: sent SIGKILL to process group"),
        "{log}"
    );
    wait_for(
        || group_members(group).is_empty().then_some(()),
        "nothing left of the group",
    );
}

both_modes!(grace_kills_the_whole_group_and_exits_137);

#[test]
fn grace_zero_kills_right_after_the_stop_signal() {
    let f = fixture();
    let d = Drainit::start(Mode::Pid1, &["--grace", "0", &f, "child"]);
    d.ready();
    d.signal(libc::SIGTERM);
    assert_eq!(d.exit_code(), 137);
}

fn a_shell_wrapper_that_dies_at_once_does_not_cut_the_apps_drain_short(mode: Mode) {
    let f = fixture();
    // No `exec`: sh is the child and dies of TERM at once; the app needs 2 s.
    let script = format!("{f} child --drain-on 15=2000; echo unreachable");
    let d = Drainit::start(mode, &["sh", "-c", &script]);
    d.ready();
    let t0 = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    d.expect_line("draining");
    d.expect_line("drained");
    let (status, log) = d.wait();
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert_eq!(status.code(), Some(143), "{mode:?}: sh's own status; {log}");
}

both_modes!(a_shell_wrapper_that_dies_at_once_does_not_cut_the_apps_drain_short);

fn a_child_that_exits_by_itself_gets_its_group_stopped(mode: Mode) {
    let f = fixture();
    // The child (sh) exits with 7 of its own accord once `a`, in its group,
    // is ready: on the USR1 the test sends (the trap is set before `a`
    // starts). `a` drains 500 ms on TERM.
    let script = format!(
        "trap 'exit 7' USR1; {f} child --name a --drain-on 15=500 & while :; do sleep 1; done"
    );
    let d = Drainit::start(mode, &["sh", "-c", &script]);
    d.expect("a ready", |l| l.starts_with("a ready"));
    d.signal(libc::SIGUSR1);
    d.expect_line("a sig 10");
    d.expect_line("a sig 15");
    d.expect_line("a draining");
    d.expect_line("a drained");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(7), "{log}");
    assert!(
        log.contains("child has exited: sent SIGTERM to the rest of its process group"),
        "{log}"
    );
}

both_modes!(a_child_that_exits_by_itself_gets_its_group_stopped);

/// drainit with `flag value`, a 200 ms pre-stop sleep and a child that
/// exits 0 on QUIT.
fn start_with_quit(flag: &str, value: &str) -> Drainit {
    let f = fixture();
    let args = [flag, value, "--prestop-sleep", "200ms", &f, "child"];
    Drainit::start(Mode::Pid1, &[&args[..], &["--exit-on", "3=0"]].concat())
}

#[test]
fn a_custom_stop_signal_starts_the_sequence() {
    let d = start_with_quit("--stop-signal", "quit");
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    assert!(d.stderr().is_empty());
    d.signal(libc::SIGQUIT);
    d.expect_line("sig 3");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert!(
        log.contains("received SIGQUIT: starting the shutdown sequence"),
        "{log}"
    );
    assert!(
        log.contains("sleeping 200ms before sending SIGQUIT"),
        "{log}"
    );
}

/// The sleep's line names what will be sent, the rewritten signal, as the
/// forward's line does.
#[test]
fn the_sleeps_line_names_the_rewritten_signal() {
    let d = start_with_quit("-r", "TERM:QUIT");
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 3");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    let sleep = "received SIGTERM: starting the shutdown sequence\n\
                 drainit: sleeping 200ms before sending SIGQUIT\n\
                 drainit: forwarded SIGQUIT to process group";
    assert!(log.contains(sleep), "{log}");
}

#[test]
fn a_stop_signal_rewritten_to_zero_is_not_sent_but_grace_still_applies() {
    let f = fixture();
    let d = Drainit::start(
        Mode::Pid1,
        &[
            "-r",
            "TERM:0",
            "--grace",
            "500ms",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(137), "{log}");
    assert!(
        log.contains("SIGTERM is rewritten to 0: not forwarding it"),
        "{log}"
    );
}
