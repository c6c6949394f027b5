//! Robustness (issue 6): drainit as PID 1 under signal and orphan storms and
//! a large process group, with faulty drain hooks, a hostile caller (every
//! signal blocked, a dead terminal, a broken stderr), the stop signal at the
//! child's first instant, and malformed configuration. In every case drainit
//! must stay up, lose nothing it was sent, and exit with the right status.
//!
//! Needs root, util-linux (`unshare`, `setpriv`, `prlimit`) and `sh`.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use common::*;

fn sig_line(sig: i32) -> String {
    format!("sig {sig}")
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z')
}

/// Sends `sig`, retrying while the kernel's queue of realtime signals is
/// full (EAGAIN): the sender may have to wait, but nothing is dropped.
fn send_queued(pid: i32, sig: i32) {
    loop {
        // SAFETY: plain syscall.
        if unsafe { libc::kill(pid, sig) } == 0 {
            return;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EAGAIN),
            "kill({pid}, {sig}): {e}"
        );
        std::thread::yield_now();
    }
}

/// Every kind a storm mixes: all forwardable standard signals but TERM
/// (the stop signal) and a spread of realtime ones. RTMAX is kept as the
/// marker that ends each burst.
fn storm_kinds() -> Vec<i32> {
    let rt = libc::SIGRTMIN();
    let mut kinds = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGSTKFLT,
        libc::SIGCONT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGURG,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
    ];
    kinds.extend([rt, rt + 1, rt + 7, libc::SIGRTMAX() - 1]);
    kinds
}

/// 10,000 signals of 25 kinds in 20 bursts, while the child leaves 2,000
/// orphans: every kind reaches the child, every orphan is reaped by drainit
/// (one `reaped process` line each), and the exit status is the child's.
fn signal_storm(mode: Mode) {
    const BURSTS: usize = 20;
    const PER_BURST: usize = 500;
    const ORPHANS: usize = 2000;
    let f = fixture();
    let orphans = ORPHANS.to_string();
    let d = Drainit::start(
        mode,
        &[
            "-v",
            "--",
            &f,
            "child",
            "--orphan-storm",
            &orphans,
            "--exit-on",
            "15=42",
        ],
    );
    let child = d.ready();
    let kinds = storm_kinds();
    let marker = libc::SIGRTMAX();
    let mut storm_done = false;
    let mut sent = 0;
    let stops = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
    for burst in 0..BURSTS {
        // The kernel discards a pending SIGCONT when a stop signal comes,
        // and pending stop signals when SIGCONT comes (prepare_signal() in
        // kernel/signal.c), whatever the disposition: bursts mix one side
        // or the other, never both.
        let burst_kinds: Vec<i32> = kinds
            .iter()
            .copied()
            .filter(|k| match burst % 2 {
                0 => *k != libc::SIGCONT,
                _ => !stops.contains(k),
            })
            .collect();
        for i in 0..PER_BURST - 1 {
            send_queued(d.pid, burst_kinds[i % burst_kinds.len()]);
            sent += 1;
        }
        // Realtime signals queue, and the lowest pending signal is taken
        // first: once the child prints the marker, it has had the burst.
        send_queued(d.pid, marker);
        sent += 1;
        // Skipped: standard signals merge, so how many lines a burst gives
        // is the kernel's choice; every one is checked below.
        let (lines, _) = d.skip_until(&format!("marker {burst}"), |l| l == sig_line(marker));
        let mut seen = HashSet::new();
        for line in lines {
            if line == "storm done" {
                storm_done = true;
                continue;
            }
            let sig = line
                .strip_prefix("sig ")
                .and_then(|n| n.parse::<i32>().ok());
            // CHLD is the child's own: the kernel's, for the middle
            // processes of its orphans (drainit never forwards it).
            if sig == Some(libc::SIGCHLD) {
                continue;
            }
            assert!(
                sig.is_some_and(|s| burst_kinds.contains(&s)),
                "{mode:?}: burst {burst}: unexpected line {line:?}"
            );
            seen.extend(sig);
        }
        // Every kind of this burst, before its marker.
        for kind in &burst_kinds {
            assert!(
                seen.contains(kind),
                "{mode:?}: burst {burst}: signal {kind} was lost; seen {seen:?}"
            );
        }
    }
    assert_eq!(sent, 10_000);
    if !storm_done {
        // Skipped: the child's own CHLDs, from its last orphans.
        let (chld, _) = d.skip_until("storm done", |l| l == "storm done");
        assert!(
            chld.iter().all(|l| *l == sig_line(libc::SIGCHLD)),
            "{chld:?}"
        );
    }
    // drainit logs each orphan it reaps (-v); while the child lives, the
    // middle processes are the child's to reap, so there is no other.
    let reaped = || {
        let log = d.stderr();
        log.lines().filter(|l| l.contains("reaped process")).count()
    };
    wait_for(
        || (reaped() >= ORPHANS).then_some(()),
        "every orphan reaped",
    );
    assert_eq!(reaped(), ORPHANS, "{mode:?}");
    // No zombie and no orphan left: drainit's only child is the child.
    assert_eq!(children(d.pid), [child], "{mode:?}");
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(42), "{mode:?}: {log}");
}

#[test]
fn a_storm_of_10000_signals_with_orphans_loses_no_kind_as_pid1() {
    signal_storm(Mode::Pid1);
}

#[test]
fn a_storm_of_10000_signals_with_orphans_loses_no_kind_as_subreaper() {
    signal_storm(Mode::Subreaper);
}

/// 1,000 orphans from the drain hook during step 1, then 10,000 from the
/// child on the forwarded TERM, with a pre-stop sleep between: drainit
/// reaps every one (one `reaped process` line each) before it exits.
#[test]
fn eleven_thousand_orphans_during_the_shutdown_sequence_are_all_reaped() {
    let f = fixture();
    let hook = format!("{f} orphans 1000");
    let d = Drainit::start(
        Mode::Pid1,
        &[
            "-v",
            "--drain-exec",
            &hook,
            "--prestop-sleep",
            "100ms",
            "--",
            &f,
            "child",
            "--orphans-on",
            "15=10000",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("orphans 1000");
    d.expect_line("sig 15");
    d.expect_line("orphans 10000");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("drain hook finished"), "{log}");
    let reaped = log.lines().filter(|l| l.contains("reaped process")).count();
    assert_eq!(reaped, 11_000);
}

/// A group of 500 processes besides the child, all ignoring TERM: every one
/// of them gets the stop signal, and the grace SIGKILL leaves none.
#[test]
fn a_group_of_500_all_get_the_stop_signal_and_the_grace_kill_leaves_none() {
    let dir = temp_dir("group500");
    let log = dir.join("log");
    let f = fixture();
    let d = Drainit::start(
        Mode::Subreaper,
        &[
            "--grace",
            "3s",
            "--",
            &f,
            "child",
            "--group",
            "500",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let child = d.ready();
    wait_for(
        || (group_members(child).len() == 501).then_some(()),
        "501 members",
    );
    let members: BTreeSet<i32> = group_members(child)
        .into_iter()
        .filter(|&p| p != child)
        .collect();
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    let (status, stderr) = d.wait();
    let elapsed = start.elapsed();
    // The child's own status counts: SIGKILL.
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{stderr}");
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    assert!(
        stderr.contains("grace period of 3s is over: sent SIGKILL"),
        "{stderr}"
    );
    let lines = log_lines(&log);
    let got: BTreeSet<i32> = lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("member ")?
                .strip_suffix(" sig 15")?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(got, members, "members without the stop signal");
    assert!(lines.iter().any(|l| l.starts_with("child 15 ")));
    wait_for(
        || group_members(child).is_empty().then_some(()),
        "the group to be gone",
    );
}

/// Starts drainit with `hook` as drain hook and a child that exits 0 on
/// TERM, sends TERM, and returns how long the forward took, and the log.
fn run_hook(mode: Mode, hook: &str, extra: &[&str]) -> (Duration, String) {
    let f = fixture();
    let mut args = vec!["--drain-exec", hook];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", &f, "child", "--exit-on", "15=0"]);
    let d = Drainit::start(mode, &args);
    d.ready();
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let elapsed = start.elapsed();
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{hook}: {log}");
    assert!(log.contains("forwarded SIGTERM"), "{hook}: {log}");
    (elapsed, log)
}

/// A hanging hook and the grandchild it forked are both killed at the
/// time-out (its whole group), and the stop goes on then, not before.
#[test]
fn a_hanging_hook_is_killed_with_its_group_at_the_time_out() {
    let dir = temp_dir("hook-hangs");
    let pids = dir.join("pids");
    let hook = format!("sh -c 'sleep 300 & echo $$ $! > {}; wait'", pids.display());
    let (elapsed, log) = run_hook(Mode::Subreaper, &hook, &["--drain-timeout", "1s"]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert!(
        log.contains("drain hook timed out after 1s: killed its process group; going on"),
        "{log}"
    );
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace().map(|p| p.parse::<i32>().unwrap()) {
        wait_for(
            || (!alive(pid)).then_some(()),
            "the hook's group to be dead",
        );
    }
}

/// A hook that leaves a daemon (one in a new session, one in its group)
/// and exits: the stop goes on at once, without waiting for the daemons,
/// and the one outside every group drainit owns is not touched.
#[test]
fn a_hook_that_leaves_a_daemon_does_not_hold_up_the_stop() {
    let dir = temp_dir("hook-daemon");
    let pids = dir.join("pids");
    let hook = format!(
        "sh -c 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {p}.1; \
         sleep 301 </dev/null >/dev/null 2>&1 & echo $! > {p}.2; exit 0'",
        p = pids.display()
    );
    let (elapsed, log) = run_hook(Mode::Subreaper, &hook, &["--drain-timeout", "60s"]);
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert!(log.contains("drain hook finished"), "{log}");
    let read = |ext: &str| -> i32 {
        let path = dir.join(format!("pids.{ext}"));
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (outside, inside) = (read("1"), read("2"));
    assert!(alive(outside), "the daemon in its own session was killed");
    for pid in [outside, inside] {
        // SAFETY: plain syscall on processes this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Failing hooks of every kind: the stop always goes on, and the log
/// names what happened.
#[test]
fn a_failing_missing_or_odd_hook_is_logged_and_the_stop_goes_on() {
    let dir = temp_dir("hook-faults");
    let f = fixture();
    let not_exec = dir.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let hook_log = dir.join("hook.log");
    let cases = [
        (
            format!("{f} hook --log {} --exit 3", hook_log.display()),
            "drain hook failed (exited with status 3); going on".to_string(),
        ),
        (
            "sh -c 'kill -SEGV $$'".to_string(),
            "drain hook failed (was killed by SIGSEGV); going on".to_string(),
        ),
        (
            "/nonexistent/hook --now".to_string(),
            "failed to run drain hook '/nonexistent/hook --now': No such file or directory; going on"
                .to_string(),
        ),
        (
            not_exec.display().to_string(),
            format!(
                "failed to run drain hook '{}': Permission denied; going on",
                not_exec.display()
            ),
        ),
        (
            dir.display().to_string(),
            "failed to run drain hook".to_string(),
        ),
        (
            "sh -c 'exec <&- >&- 2>&-; exit 0'".to_string(),
            "drain hook finished".to_string(),
        ),
    ];
    for (hook, want) in &cases {
        let (_, log) = run_hook(Mode::Pid1, hook, &[]);
        assert!(
            log.contains(want.as_str()),
            "{hook}: want {want:?} in\n{log}"
        );
    }
    assert!(
        log_lines(&hook_log)
            .iter()
            .any(|l| l.starts_with("hook-end "))
    );
}

/// A hook that writes 4 MB to stdout and 4 MB to stderr (drainit's own)
/// finishes, and every byte of it comes through.
#[test]
fn a_hook_that_prints_megabytes_finishes_and_the_stop_goes_on() {
    let f = fixture();
    let hook = "sh -c 'yes hookout | head -c 4000000; yes hookerr | head -c 4000000 >&2'";
    let d = Drainit::start(
        Mode::Pid1,
        &["--drain-exec", hook, "--", &f, "child", "--exit-on", "15=0"],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    // Skipped: the hook's half a million lines, counted here.
    let (outs, _) = d.skip_until("sig 15", |l| l == "sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert_eq!(outs.len(), 500_000);
    assert!(outs.iter().all(|l| l == "hookout"), "a stray line");
    assert_eq!(log.lines().filter(|l| *l == "hookerr").count(), 500_000);
    assert!(log.contains("drain hook finished"));
}

/// As a non-root user at its RLIMIT_NPROC, drainit can start the child but
/// not the hook (fork fails with EAGAIN): logged, and the stop goes on.
/// One process lower, the child cannot start: exit 1 with one line.
#[test]
fn a_hook_that_cannot_be_forked_is_logged_and_the_stop_goes_on() {
    let f = fixture();
    // A uid of its own, so that no other process counts against the limit.
    let uid = (40_000 + std::process::id() % 20_000).to_string();
    let wrapper = [
        "prlimit",
        "--nproc=2",
        "setpriv",
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
    ];
    let opts = Start {
        wrapper: wrapper.iter().map(|s| s.to_string()).collect(),
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Pid1,
        &[
            "--drain-exec",
            "true",
            "--",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
        opts,
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("failed to run drain hook 'true': Try again; going on"),
        "{log}"
    );
    assert!(log.contains("forwarded SIGTERM"), "{log}");

    // One process short, drainit cannot start the child: exit 1, one line.
    let opts = Start {
        wrapper: [&["prlimit", "--nproc=1"], &wrapper[2..]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..Start::default()
    };
    let d = Drainit::start_with(Mode::Subreaper, &["true"], opts);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(1), "{log}");
    assert_eq!(log, "drainit: failed to run 'true': Try again\n");
}

/// drainit started with every signal blocked and seven ignored, in both
/// modes: the child sees that state in /proc (but SIGPIPE default), and
/// drainit still forwards every one of them.
#[test]
fn a_caller_blocking_everything_and_ignoring_some_is_passed_on_and_forwarding_works() {
    let f = fixture();
    let rt = libc::SIGRTMIN();
    let all: Vec<String> = (1..=64).map(|s: i32| s.to_string()).collect();
    let ignored = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGPIPE,
        libc::SIGTERM,
        rt + 1,
    ];
    let ignored_list: Vec<String> = ignored.iter().map(i32::to_string).collect();
    let opts = || Start {
        wrapper: vec![
            f.clone(),
            "with-signals".into(),
            all.join(","),
            ignored_list.join(","),
        ],
        ..Start::default()
    };
    // grep reports the state it was started with (a shell would not: dash
    // clears a fully blocked mask).
    let grep = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"];
    for mode in MODES {
        let d = Drainit::start_with(mode, &grep, opts());
        let blk = d.expect("SigBlk", |l| l.starts_with("SigBlk:"));
        let ign = d.expect("SigIgn", |l| l.starts_with("SigIgn:"));
        assert_eq!(d.exit_code(), 0);
        // KILL and STOP cannot be blocked; the C library keeps 32 and 33.
        let want_blk = !(bit(libc::SIGKILL) | bit(libc::SIGSTOP) | libc_own());
        assert_eq!(mask(&blk[7..]), want_blk, "{mode:?}: {blk}");
        let want_ign = ignored.iter().map(|&s| bit(s)).sum::<u64>() & !bit(libc::SIGPIPE);
        // 32 and 33 belong to the C library: glibc's posix_spawn, which std
        // uses to start the harness's first process, leaves them ignored.
        assert_eq!(mask(&ign[7..]) & !libc_own(), want_ign, "{mode:?}: {ign}");
        let d = Drainit::start_with(mode, &[&f, "child", "--exit-on", "15=0"], opts());
        d.ready();
        for sig in ignored
            .iter()
            .copied()
            .filter(|&s| s != libc::SIGTERM)
            .chain([libc::SIGUSR2, rt + 2])
        {
            d.signal(sig);
            d.expect_line(&sig_line(sig));
        }
        d.signal(libc::SIGTERM);
        d.expect_line("sig 15");
        assert_eq!(d.exit_code(), 0);
    }
}

/// SIGSTOP to drainit during a 5s pre-stop sleep, held past the sleep's
/// end, then SIGCONT: the stop signal goes out at once (the deadline held;
/// the sleep was not restarted), and never before the 5s.
fn stopped_during_the_sleep(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(
        mode,
        &[
            "--prestop-sleep",
            "5s",
            "--",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    wait_for(
        || d.stderr().contains("sleeping").then_some(()),
        "the sleep to start",
    );
    d.signal(libc::SIGSTOP);
    wait_for(
        || (state(d.pid) == Some('T')).then_some(()),
        "drainit to stop",
    );
    // Stay stopped past the end of the sleep.
    let resume_at = start + Duration::from_millis(5500);
    std::thread::sleep(resume_at.saturating_duration_since(Instant::now()));
    let resumed = Instant::now();
    d.signal(libc::SIGCONT);
    d.expect_line("sig 15");
    let (since_term, since_cont) = (start.elapsed(), resumed.elapsed());
    assert!(since_term >= Duration::from_secs(5), "{since_term:?}");
    // A sleep restarted from zero would take 5s more.
    assert!(
        since_cont < Duration::from_secs(4),
        "{mode:?}: {since_cont:?}"
    );
    assert_eq!(d.exit_code(), 0);
}

#[test]
fn sigstop_and_sigcont_during_the_prestop_sleep_keep_its_deadline_as_pid1() {
    stopped_during_the_sleep(Mode::Pid1);
}

#[test]
fn sigstop_and_sigcont_during_the_prestop_sleep_keep_its_deadline_as_subreaper() {
    stopped_during_the_sleep(Mode::Subreaper);
}

/// drainit's stderr is a pipe nobody reads: every log line (-v logs each
/// forward) fails with EPIPE and raises SIGPIPE in drainit. drainit goes
/// on, forwards every signal, never forwards its own SIGPIPE, and exits
/// with the child's status.
#[test]
fn a_broken_stderr_never_stops_drainit_nor_leaks_its_sigpipe() {
    let f = fixture();
    let opts = Start {
        wrapper: vec![f.clone(), "broken-stderr".into()],
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Pid1,
        &["-vv", "--", &f, "child", "--exit-on", "15=5"],
        opts,
    );
    d.ready();
    for i in 0..100 {
        let sig = [libc::SIGUSR1, libc::SIGHUP, libc::SIGUSR2][i % 3];
        d.signal(sig);
        d.expect_line(&sig_line(sig));
    }
    d.signal(libc::SIGTERM);
    let rest = {
        d.expect_line("sig 15");
        d.rest()
    };
    assert!(!rest.iter().any(|l| l == "sig 13"), "{rest:?}");
    assert_eq!(d.exit_code(), 5);
}

/// The child closes its stdin, stdout and stderr: drainit goes on.
#[test]
fn a_child_that_closes_its_std_descriptors_is_still_served() {
    let dir = temp_dir("close-std");
    let log = dir.join("log");
    let f = fixture();
    let d = Drainit::start(
        Mode::Subreaper,
        &[
            "--",
            &f,
            "child",
            "--close-std",
            "1",
            "--log",
            log.to_str().unwrap(),
            "--exit-on",
            "15=5",
        ],
    );
    d.ready();
    d.signal(libc::SIGUSR1);
    wait_for(
        || {
            log_lines(&log)
                .iter()
                .any(|l| l.starts_with("child 10 "))
                .then_some(())
        },
        "USR1 in the log",
    );
    d.signal(libc::SIGTERM);
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("forwarded SIGTERM"), "{stderr}");
}

/// drainit runs as a session leader on a pseudo terminal that goes away:
/// the kernel's SIGHUP reaches the child, and drainit (logging every
/// forward to the dead terminal with -v) still forwards and exits with the
/// child's status.
#[test]
fn the_terminal_going_away_does_not_stop_drainit() {
    let dir = temp_dir("pty-hangup");
    let log = dir.join("log");
    let f = fixture();
    let opts = Start {
        wrapper: vec![f.clone(), "pty-run".into()],
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Subreaper,
        &[
            "-v",
            "--",
            &f,
            "child",
            "--log",
            log.to_str().unwrap(),
            "--exit-on",
            "15=7",
        ],
        opts,
    );
    // Skipped: the terminal carries drainit's own log lines (-v) too.
    let (log_lines_before, _) = d.skip_until("ready", |l| l.starts_with("ready "));
    assert!(
        log_lines_before.iter().all(|l| l.starts_with("drainit: ")),
        "{log_lines_before:?}"
    );
    // `d.pid` is pty-run's (an exec wrapper's would be drainit's).
    let drainit = wait_for(|| children(d.pid).first().copied(), "drainit");
    let has = |sig: i32| {
        let prefix = format!("child {sig} ");
        log_lines(&log).iter().any(|l| l.starts_with(&prefix))
    };
    // The terminal's master closes: a hangup.
    d.signal(libc::SIGUSR1);
    wait_for(|| has(libc::SIGHUP).then_some(()), "SIGHUP in the child");
    send(drainit, libc::SIGUSR2);
    wait_for(|| has(libc::SIGUSR2).then_some(()), "USR2 in the child");
    send(drainit, libc::SIGTERM);
    assert_eq!(d.exit_code(), 7);
}

/// The stop signal sent the instant drainit's child exists, or earlier:
/// the instant drainit has blocked its signals, while it may still be
/// starting the child. Whether it hits the child before or after the child
/// could handle it, drainit never loses it nor hangs, and exits with the
/// child's status.
fn stop_signal_at_the_first_instant(mode: Mode) {
    let f = fixture();
    // drainit itself (in a namespace, its pid is first `unshare`'s, which
    // blocks TERM around its fork) with TERM blocked: between blocking and
    // its first wait. In sigtimedwait the waited signals show as unblocked,
    // so a drainit found there has its child already.
    let blocked = |pid| {
        status_field(pid, "Name").as_deref() == Some("drainit")
            && status_field(pid, "SigBlk").is_some_and(|m| mask(&m) & bit(libc::SIGTERM) != 0)
    };
    // One run: TERM at the child's first instant, or (`early`) as soon as
    // drainit blocks it. Returns whether drainit had no child yet.
    let run = |early: bool| -> bool {
        let d = Drainit::start(mode, &["--", &f, "child", "--exit-on", "15=3"]);
        let end = Instant::now() + DEADLINE;
        let no_child = loop {
            let no_child = children(d.pid).is_empty();
            if !no_child || early && blocked(d.pid) {
                break no_child;
            }
            assert!(Instant::now() < end, "drainit did not get that far");
        };
        d.signal(libc::SIGTERM);
        let (status, log) = d.wait();
        // 3: the fixture took it; 143: it came before it could.
        let code = status.code();
        assert!(
            code == Some(3) || code == Some(143),
            "{mode:?}: {status:?}\n{log}"
        );
        assert!(log.contains("received SIGTERM"), "{log}");
        no_child
    };
    for _ in 0..20 {
        run(false);
    }
    // Early runs until the signal came before the child three times: the
    // window is short, so how many runs that takes is chance; a few hundred
    // without a hit means the test no longer reaches it.
    let (mut runs, mut before_child) = (0, 0);
    while before_child < 3 {
        assert!(
            runs < 300,
            "{mode:?}: in {runs} runs the stop signal never came before the child"
        );
        runs += 1;
        before_child += usize::from(run(true));
    }
    eprintln!("{mode:?}: the stop signal came before the child in {before_child} of {runs} runs");
}

#[test]
fn the_stop_signal_at_the_childs_first_instant_is_never_lost_as_pid1() {
    stop_signal_at_the_first_instant(Mode::Pid1);
}

#[test]
fn the_stop_signal_at_the_childs_first_instant_is_never_lost_as_subreaper() {
    stop_signal_at_the_first_instant(Mode::Subreaper);
}

/// Shutdowns of every kind as a subreaper (grace kill, leftovers killed
/// after the child's own exit, --single-child, a hook killed at its
/// time-out, TERM rewritten to KILL) never reach a process outside the
/// child's and the hook's groups: a bystander of the same user gets no
/// signal at all.
#[test]
fn no_shutdown_signals_outside_the_childs_group() {
    let f = fixture();
    let mut bystander = Command::new(&f)
        .args(["child", "--name", "bystander"])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = channel();
    let out = bystander.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let by_pid = bystander.id() as i32;
    let first = lines.recv_timeout(DEADLINE).unwrap();
    assert!(first.starts_with("bystander ready"), "{first}");
    let runs: [&[&str]; 5] = [
        &["--grace", "0", "--", &f, "child", "--group", "3"],
        &[
            "--grace", "200ms", "--", &f, "child", "--group", "3", "--exit", "0",
        ],
        &["-c", "--grace", "0", "--", &f, "child", "--group", "2"],
        &[
            "--drain-exec",
            "sleep 100",
            "--drain-timeout",
            "200ms",
            "--",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
        &["-r", "TERM:KILL", "--", &f, "child", "--group", "2"],
    ];
    for args in runs {
        let d = Drainit::start(Mode::Subreaper, args);
        d.expect("ready", |l| l.starts_with("ready "));
        // With --exit the child ends by itself, its group left behind.
        if !args.contains(&"--exit") {
            d.signal(libc::SIGTERM);
        }
        let (status, log) = d.wait();
        assert!(status.code().is_some(), "{args:?}: {status:?}\n{log}");
        assert!(alive(by_pid), "{args:?} killed the bystander");
    }
    // Its first line after all that is the signal the test sends now.
    send(by_pid, libc::SIGUSR1);
    assert_eq!(lines.recv_timeout(DEADLINE).unwrap(), "bystander sig 10");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

/// A hook line full of shell syntax reaches the hook word for word: no
/// shell runs it (no file created, no glob expanded), and the hook gets
/// descriptors 0-2 only, though drainit inherited 5 and 7.
#[test]
fn the_hook_gets_its_words_literally_and_only_descriptors_0_to_2() {
    let dir = temp_dir("no-shell");
    std::fs::write(dir.join("existing"), "").unwrap();
    let probe = dir.join("probe.log");
    let f = fixture();
    let hook = format!(
        "{f} probe {} ; touch SEMI $(touch DOLLAR) `touch TICK` * > REDIR && touch AND ~ $HOME",
        probe.display()
    );
    let opts = Start {
        wrapper: vec![
            "sh".into(),
            "-c".into(),
            "exec 5</dev/null 7>/dev/null; exec \"$0\" \"$@\"".into(),
        ],
        cwd: Some(dir.to_str().unwrap()),
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Pid1,
        &[
            "--drain-exec",
            &hook,
            "--",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
        opts,
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    assert_eq!(d.exit_code(), 0);
    let lines = log_lines(&probe);
    let args: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("arg "))
        .collect();
    assert_eq!(
        args,
        [
            ";", "touch", "SEMI", "$(touch", "DOLLAR)", "`touch", "TICK`", "*", ">", "REDIR", "&&",
            "touch", "AND", "~", "$HOME"
        ]
    );
    for made in ["SEMI", "DOLLAR", "DOLLAR)", "TICK", "REDIR", "AND"] {
        assert!(!dir.join(made).exists(), "a shell ran: {made} exists");
    }
    let fds: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("fd ")).collect();
    assert_eq!(fds, ["0", "1", "2"]);
}

/// Runs drainit outside any namespace with `args` and `env` (all other
/// `DRAINIT_*` scrubbed), COMMAND being `touch MARKER`; returns the exit
/// code, stderr, and whether COMMAND ran.
fn run_config(args: &[&str], env: &[(&str, &str)], dir: &Path) -> (Option<i32>, String, bool) {
    let marker = dir.join("started");
    let _ = std::fs::remove_file(&marker);
    let mut cmd = Command::new(drainit_bin());
    cmd.args(args).arg("--").arg("touch").arg(&marker);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DRAINIT_") {
            cmd.env_remove(&key);
        }
    }
    let out = cmd
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, marker.exists())
}

/// Every option given a malformed value, as a flag and as its variable:
/// exit 2, one error line naming the flag and the expected form, and
/// COMMAND never started. A good flag beats a malformed variable, which is
/// then not read.
#[test]
fn every_malformed_flag_and_variable_is_a_usage_error_and_starts_nothing() {
    let dir = temp_dir("bad-config");
    // (flag, variable, bad values, what the error names, expected form)
    let cases: &[(&str, &str, &[&str], &str, &str)] = &[
        (
            "--rewrite",
            "DRAINIT_REWRITE",
            &[
                "TERM",
                "1:99",
                "KILL:TERM",
                "CHLD:0",
                "TERM:QUIT:HUP",
                "é:1",
                "-1:2",
            ],
            "--rewrite",
            "<FROM:TO>",
        ),
        (
            "--stop-signal",
            "DRAINIT_STOP_SIGNAL",
            &["KILL", "CHLD", "SEGV", "bogus", "0", "RTMAX+1", "", "-TERM"],
            "--stop-signal",
            "<SIG>",
        ),
        (
            "--drain-exec",
            "DRAINIT_DRAIN_EXEC",
            &["a 'b", "a \"b", "a\\"],
            "--drain-exec",
            "<COMMAND>",
        ),
        (
            "--drain-timeout",
            "DRAINIT_DRAIN_TIMEOUT",
            &["5x", "-1", "1m30", "", "99999999999999999999h"],
            "--drain-timeout",
            "<DURATION>",
        ),
        (
            "--prestop-sleep",
            "DRAINIT_PRESTOP_SLEEP",
            &["5 s", ".5s", "1e3", "½s"],
            "--prestop-sleep",
            "<DURATION>",
        ),
        (
            "--grace",
            "DRAINIT_GRACE",
            &["1m30", "+1", "10sec", "1h18446744074s"],
            "--grace",
            "<DURATION>",
        ),
    ];
    let check = |args: &[&str], env: &[(&str, &str)], name: &str, form: &str| {
        let (code, stderr, started) = run_config(args, env, &dir);
        let what = format!("{args:?} {env:?}");
        assert_eq!(code, Some(2), "{what}: {stderr}");
        assert!(!started, "{what}: COMMAND ran");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{what}: {stderr}");
        assert!(errors[0].contains(name), "{what}: {stderr}");
        assert!(errors[0].contains(form), "{what}: {stderr}");
    };
    for &(flag, var, bads, name, form) in cases {
        for &bad in bads {
            check(&[flag, bad], &[], name, form);
            let with_eq = format!("{flag}={bad}");
            check(&[&with_eq], &[], name, form);
            check(&[], &[(var, bad)], name, form);
            // The flag wins; the malformed variable is not read.
            let good = if flag == "--rewrite" {
                "HUP:0"
            } else if flag == "--stop-signal" {
                "INT"
            } else if flag == "--drain-exec" {
                ""
            } else {
                "1s"
            };
            let (code, stderr, started) = run_config(&[flag, good], &[(var, bad)], &dir);
            assert_eq!(
                (code, started),
                (Some(0), true),
                "{flag} {good} with {var}={bad}: {stderr}"
            );
        }
    }
    // The short forms.
    check(&["-r", "TERM"], &[], "--rewrite", "<FROM:TO>");
    // Booleans and the log level.
    for bad in ["maybe", "2", " 1", "tru"] {
        check(
            &[],
            &[("DRAINIT_SINGLE_CHILD", bad)],
            "--single-child",
            "expected 1, true, yes, on",
        );
        let (code, _, started) = run_config(&["-c"], &[("DRAINIT_SINGLE_CHILD", bad)], &dir);
        assert_eq!((code, started), (Some(0), true));
    }
    check(
        &["--single-child=yes"],
        &[],
        "--single-child",
        "unexpected value",
    );
    for bad in ["loud", "", "INFO2", "3"] {
        check(
            &[],
            &[("DRAINIT_LOG", bad)],
            "DRAINIT_LOG",
            "expected error, warn, info, debug, trace or off",
        );
        let (code, _, started) = run_config(&["-q"], &[("DRAINIT_LOG", bad)], &dir);
        assert_eq!((code, started), (Some(0), true));
    }
    check(&["-q", "-v"], &[], "--quiet", "cannot be used with");
    check(&["--bogus"], &[], "--bogus", "unexpected argument");
}

/// A storm of four kinds of signals from the stop signal on, through the
/// pre-stop sleep and the grace period: the sleep's and the grace's
/// deadlines hold (neither postponed by the storm nor cut short), and
/// every kind is still forwarded during the sequence.
#[test]
fn a_storm_during_the_sequence_neither_moves_its_deadlines_nor_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let f = fixture();
    let d = Drainit::start(
        Mode::Pid1,
        &["--prestop-sleep", "1s", "--grace", "3s", "--", &f, "child"],
    );
    d.ready();
    let kinds = [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    let storm = {
        let (stop, sent, pid) = (stop.clone(), sent.clone(), d.pid);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for sig in kinds {
                    send(pid, sig);
                }
                sent.fetch_add(kinds.len(), Ordering::Relaxed);
            }
        })
    };
    // Skipped: the storm's signals merge, so their number is the
    // kernel's choice; every kind is checked below.
    let (lines, _) = d.skip_until("sig 15", |l| l == "sig 15");
    let forwarded = start.elapsed();
    // Stopped well before the grace kill, so that no pid drainit leaves
    // behind is ever signalled.
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    let (status, log) = d.wait();
    let ended = start.elapsed();
    assert!(forwarded >= Duration::from_secs(1), "{forwarded:?}");
    assert!(forwarded < Duration::from_secs(10), "{forwarded:?}");
    assert!(ended >= forwarded + Duration::from_secs(3), "{ended:?}");
    assert!(ended < forwarded + Duration::from_secs(15), "{ended:?}");
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{log}");
    assert!(log.contains("grace period of 3s is over"), "{log}");
    let seen: HashSet<i32> = lines
        .iter()
        .map(|l| {
            let sig = l.strip_prefix("sig ").and_then(|n| n.parse().ok());
            sig.filter(|s| kinds.contains(s))
                .unwrap_or_else(|| panic!("unexpected line {l:?}"))
        })
        .collect();
    for kind in kinds {
        assert!(seen.contains(&kind), "{kind} lost in the sleep: {seen:?}");
    }
    assert!(
        sent.load(Ordering::Relaxed) >= 100,
        "the storm was too small"
    );
}
