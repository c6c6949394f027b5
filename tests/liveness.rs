//! Liveness (`--liveness`), as PID 1 and as subreaper: an app whose accept
//! queue is full (connects hang) or that refuses connections is stopped
//! through the whole stop sequence, with `DRAINIT_REASON=liveness`, and
//! drainit exits 75; not before `start + (failures - 1) × interval`, and
//! within a generous bound. An app that fails and recovers is never
//! stopped; a healthy one under a storm of 10,000 signals is never stopped
//! and loses none of them; an app that ignores SIGTERM is killed 10 s after
//! the forward when `--grace` is not set.
//!
//! The probed "app" is a listener in the test process (tests/common/health.rs),
//! which the test switches between serving, refusing and hanging; drainit's
//! child is the fixture app, which reports the signals it gets.

mod common;

use std::path::Path;
use std::thread;
use std::time::Duration;

use common::health::*;
use common::*;

/// Short periods, so that a verdict takes about a second.
const INTERVAL_MS: u64 = 200;
const FAILURES: u64 = 3;

/// drainit probing `url` every 200 ms, 3 failures in a row stopping the
/// app, with a hook that logs its environment to `log`; returns once
/// the app is ready.
fn start(mode: Mode, url: &str, timing: &[&str], log: &Path, app_args: &[&str]) -> Drainit {
    let app = health_fixture();
    let hook = format!("{app} hook --log {}", log.display());
    let interval = format!("{INTERVAL_MS}ms");
    let failures = FAILURES.to_string();
    let mut args = words(&[
        "--liveness",
        url,
        "--liveness-interval",
        &interval,
        "--liveness-failures",
        &failures,
        "--drain-exec",
        &hook,
    ]);
    args.extend(words(timing));
    let mut app_args = app_args.to_vec();
    app_args.extend(["--log", log.to_str().unwrap()]);
    start_app(mode, args, &app_args, Start::default())
}

/// Runs drainit against an app that never passes, `timing` adding e.g.
/// `--liveness-start`; checks the stop sequence, the hook's environment,
/// the log lines and exit 75; returns how long after drainit's start
/// (and the child's, which is later) the hook ran.
fn stopped_for_liveness(mode: Mode, url: &str, timing: &[&str], name: &str) -> Duration {
    let dir = temp_dir(&format!("{name}-{mode:?}"));
    let log = dir.join("log");
    let started = now_ns();
    // The app's own status (3) is logged; drainit exits 75 whatever it is.
    let d = start(mode, url, timing, &log, &["--exit-on", "15=3"]);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(75), "{stderr}");
    assert_eq!(
        log_order(&log),
        [
            "hook-start",
            "env DRAINIT_REASON",
            "env DRAINIT_SIGNAL",
            "hook-end",
            "sig 15"
        ]
    );
    let lines = log_lines(&log);
    assert!(lines.contains(&"env DRAINIT_REASON=liveness".to_string()));
    assert!(lines.contains(&"env DRAINIT_SIGNAL=SIGTERM".to_string()));
    for said in [
        "warning: liveness probe failed (1 of 3): ",
        "warning: liveness probe failed (2 of 3): ",
        "warning: liveness: 3 probes failed in a row: stopping",
        "exiting with 75",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
    span(started, logged_at(&log, "hook-start"))
}

/// `--liveness-start 1s`, a full accept queue (each probe times out
/// after 100 ms): the hook runs after at least 1 s + 2 × 200 ms, and
/// within 1 s + 3 × 200 ms + 100 ms and a loaded machine's slack.
fn a_hung_app_is_stopped_after_the_start_period(mode: Mode) {
    let hung = FullBacklog::new();
    let url = format!("tcp://127.0.0.1:{}", hung.port);
    let timing = ["--liveness-start", "1s", "--liveness-timeout", "100ms"];
    let took = stopped_for_liveness(mode, &url, &timing, "hung");
    let interval = Duration::from_millis(INTERVAL_MS);
    let least = Duration::from_secs(1) + interval * (FAILURES as u32 - 1);
    let most = Duration::from_secs(1) + interval * FAILURES as u32 + Duration::from_secs(5);
    assert!(
        took >= least && took <= most,
        "{mode:?}: stopped after {took:?}"
    );
}

/// Probes that hang for their whole 5 s time-out, back to back: each
/// SIGUSR1 is forwarded at once, and a stop's 500 ms pre-stop sleep ends
/// on time.
fn a_hanging_probe_delays_no_signal_and_no_deadline(mode: Mode) {
    let dir = temp_dir(&format!("hanging-{mode:?}"));
    let log = dir.join("log");
    let hung = FullBacklog::new();
    let url = format!("tcp://127.0.0.1:{}", hung.port);
    let timing = [
        "--liveness-timeout",
        "5s",
        "--liveness-start",
        "1h",
        "--prestop-sleep",
        "500ms",
    ];
    let d = start(mode, &url, &timing, &log, &["--exit-on", "15=0"]);
    assert_forwarded_at_once(&d, 5);
    let sent = now_ns();
    d.signal(libc::SIGTERM);
    let took = span(sent, logged_at(&log, "sig 15"));
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1000),
        "{mode:?}: forwarded {took:?} after the stop signal"
    );
    d.expect_line("sig 15");
    assert_eq!(d.exit_code(), 0);
}

/// Nothing listens: each probe is refused at once.
fn a_refusing_app_is_stopped(mode: Mode) {
    let url = format!("http://127.0.0.1:{}/health", free_port());
    let took = stopped_for_liveness(mode, &url, &[], "refusing");
    let interval = Duration::from_millis(INTERVAL_MS);
    let least = interval * (FAILURES as u32 - 1);
    let most = interval * FAILURES as u32 + Duration::from_secs(5);
    assert!(
        took >= least && took <= most,
        "{mode:?}: stopped after {took:?}"
    );
}

/// Waits until `upstream` has answered `n` more probes with a success.
fn passes(upstream: &Upstream, n: u64) {
    let (ok, _) = upstream.answered();
    wait_for(
        || (upstream.answered().0 >= ok + n).then_some(()),
        &format!("{n} more passing probes"),
    );
}

/// 2 failures (one short of the verdict), a pass, then 2 failures
/// again: never stopped, since a pass resets the count; each failure
/// is a warning with its count, each recovery an info line.
fn an_app_that_fails_and_recovers_is_never_stopped(mode: Mode) {
    let dir = temp_dir(&format!("recovers-{mode:?}"));
    let log = dir.join("log");
    let upstream = Upstream::start(Answer::Status(200), None);
    let url = upstream.url("/health");
    let d = start(mode, &url, &[], &log, &["--exit-on", "15=0"]);
    passes(&upstream, 2);
    assert_eq!(d.stderr(), "", "a healthy app logs nothing");
    for round in 1..=2 {
        upstream.fail_next(2);
        wait_for(
            || (upstream.answered().1 == 2 * round || !alive(d.pid)).then_some(()),
            "two failed probes",
        );
        assert!(alive(d.pid), "round {round}: {}", d.stderr());
        // Enough intervals for a wrong count to reach 3 several times.
        passes(&upstream, 5);
        assert!(alive(d.pid), "{}", d.stderr());
    }
    let stderr = d.stderr();
    let count = |text: &str| stderr.matches(text).count();
    assert_eq!(count("liveness probe failed (1 of 3): "), 2, "{stderr}");
    assert_eq!(count("liveness probe failed (2 of 3): "), 2, "{stderr}");
    assert_eq!(count("liveness probe passed after 2 failure(s)"), 2);
    assert_eq!(count("(3 of 3)") + count("in a row"), 0, "{stderr}");
    assert!(stderr.contains("500"), "the cause: {stderr}");
    let stderr = stop_cleanly(d);
    assert!(!stderr.contains("exiting with 75"), "{stderr}");
    assert!(log_lines(&log).contains(&"env DRAINIT_REASON=signal".to_string()));
}

/// drainit with `options` probing a healthy app (exiting 0 on SIGTERM),
/// once a probe has passed.
fn passed_once(mode: Mode, options: &[&str]) -> (Drainit, Upstream) {
    let dir = temp_dir(&format!("passed-once-{mode:?}-{}", options.concat()));
    let upstream = Upstream::start(Answer::Status(200), None);
    let app_args = ["--exit-on", "15=0"];
    let d = start(
        mode,
        &upstream.url("/"),
        options,
        &dir.join("log"),
        &app_args,
    );
    passes(&upstream, 1);
    (d, upstream)
}

/// `--liveness-start 60s`, but the app passes once, then fails: a pass
/// ends the start period, so 3 failures stop it at once. With `-v`,
/// each probe has its line.
fn a_pass_ends_the_start_period(mode: Mode) {
    let (d, upstream) = passed_once(mode, &["--liveness-start", "60s", "-v"]);
    upstream.fail_next(1000);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("liveness probe passed"), "{stderr}");
    assert!(stderr.contains("3 probes failed in a row"), "{stderr}");
}

/// Once a stop begins, no probe is made: none during a 1 s pre-stop
/// sleep (5 intervals).
fn probing_stops_when_a_stop_begins(mode: Mode) {
    let (d, upstream) = passed_once(mode, &["--prestop-sleep", "1s"]);
    d.signal(libc::SIGTERM);
    wait_logged(&d, "sleep");
    // A probe started just before the stop may still be on its way.
    let at_stop = upstream.heads().len() + 1;
    d.expect_line("sig 15");
    assert!(upstream.heads().len() <= at_stop, "probed during the sleep");
    assert_eq!(d.exit_code(), 0);
}

/// 10,000 realtime signals in 20 bursts, each ended by a SIGRTMAX marker
/// that makes the app print its count, each sent while a probe waits for
/// its answer (the app answers 100 ms late): every signal arrives, every
/// probe passes, and nothing is logged.
fn a_healthy_app_under_a_signal_storm_is_never_stopped(mode: Mode) {
    const BURSTS: u64 = 20;
    const PER_BURST: u64 = 500;
    let dir = temp_dir(&format!("storm-{mode:?}"));
    let upstream = Upstream::start(Answer::Late(Duration::from_millis(100)), None);
    let counted = (libc::SIGRTMIN() + 1).to_string();
    let app_args = ["--exit-on", "15=0", "--count", &counted];
    let d = start(mode, &upstream.url("/"), &[], &dir.join("log"), &app_args);
    for burst in 1..=BURSTS {
        let probes = upstream.heads().len();
        wait_for(
            || (upstream.heads().len() > probes || !alive(d.pid)).then_some(()),
            "a probe in flight",
        );
        assert!(alive(d.pid), "burst {burst}: {}", d.stderr());
        for _ in 0..PER_BURST - 1 {
            send_queued(d.pid, libc::SIGRTMIN() + 1);
        }
        send_queued(d.pid, libc::SIGRTMAX());
        d.expect_line(&format!("count {}", burst * (PER_BURST - 1)));
    }
    let (passed, _) = upstream.answered();
    passes(&upstream, 2);
    assert_eq!(upstream.answered().1, 0);
    assert!(passed >= BURSTS - 1, "{passed} probes passed");
    assert_eq!(d.stderr(), "", "a healthy app logs nothing");
    stop_cleanly(d);
}

/// Sends `sig`, waiting while the queue of realtime signals is full.
fn send_queued(pid: i32, sig: i32) {
    // SAFETY: plain syscall.
    while unsafe { libc::kill(pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "kill: {e}");
        thread::yield_now();
    }
}

/// The app ignores SIGTERM: 10 s after it got it (no `--grace`), the
/// group is killed, and drainit still exits 75.
fn an_app_ignoring_sigterm_is_killed_10_s_after_the_forward(mode: Mode) {
    let took = killed_after_the_forward(mode, &[]);
    assert!(
        took >= Duration::from_millis(9900) && took <= Duration::from_secs(15),
        "{mode:?}: killed {took:?} after the forward"
    );
}

/// `--grace 1s` replaces the 10 s.
fn with_grace_the_kill_comes_at_the_grace(mode: Mode) {
    let took = killed_after_the_forward(mode, &["--grace", "1s"]);
    assert!(
        took >= Duration::from_millis(900) && took <= Duration::from_secs(5),
        "{mode:?}: killed {took:?} after the forward"
    );
}

/// A refusing app that ignores SIGTERM, stopped for liveness with
/// `options`: exit 75, a SIGKILL logged; how long after the app got
/// SIGTERM drainit ended.
fn killed_after_the_forward(mode: Mode, options: &[&str]) -> Duration {
    let dir = temp_dir(&format!("ignores-{mode:?}-{}", options.concat()));
    let log = dir.join("log");
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let d = start(mode, &url, options, &log, &[]);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    let ended = now_ns();
    assert_eq!(status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("SIGKILL"), "{stderr}");
    span(logged_at(&log, "sig 15"), ended)
}

both_modes!(
    a_hung_app_is_stopped_after_the_start_period,
    a_hanging_probe_delays_no_signal_and_no_deadline,
    with_grace_the_kill_comes_at_the_grace,
    a_pass_ends_the_start_period,
    probing_stops_when_a_stop_begins,
    a_refusing_app_is_stopped,
    an_app_that_fails_and_recovers_is_never_stopped,
    a_healthy_app_under_a_signal_storm_is_never_stopped,
    an_app_ignoring_sigterm_is_killed_10_s_after_the_forward,
);
