//! The drain hook: its words reach it literally, it gets descriptors 0-2
//! only, and whatever it does (fail, hang, leave daemons, print
//! megabytes, fail to start) is logged and the stop goes on; its status is
//! never taken for the child's.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;

/// Starts drainit with `hook` as drain hook and a child that exits 0 on
/// TERM, sends TERM, and returns how long the forward took, and the log.
fn run_hook(mode: Mode, hook: &str, extra: &[&str]) -> (Duration, String) {
    run_hook_with(mode, hook, extra, Start::default())
}

/// The same, with drainit started with `opts`.
fn run_hook_with(mode: Mode, hook: &str, extra: &[&str], opts: Start) -> (Duration, String) {
    let f = fixture();
    let mut args = vec!["--drain-exec", hook];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", &f, "child", "--exit-on", "15=0"]);
    let d = Drainit::start_with(mode, &args, opts);
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

/// Failing hooks of every kind: the stop always goes on with its next
/// step (the pre-stop sleep), and the log names what happened.
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
            "sh -c 'kill -9 $$'".to_string(),
            "drain hook failed (was killed by SIGKILL); going on".to_string(),
        ),
        (
            "/nonexistent/hook --now".to_string(),
            "failed to run drain hook /nonexistent/hook --now: No such file or directory; going on"
                .to_string(),
        ),
        (
            not_exec.display().to_string(),
            format!(
                "failed to run drain hook {}: Permission denied; going on",
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
        let (_, log) = run_hook(Mode::Pid1, hook, &["--prestop-sleep", "100ms"]);
        assert!(
            log.contains(want.as_str()),
            "{hook}: want {want:?} in\n{log}"
        );
        // The stop goes on with its next step.
        assert!(log.contains("sleeping 100ms"), "{hook}: {log}");
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
    let (_, log) = run_hook_with(Mode::Pid1, "true", &[], opts);
    assert!(
        log.contains("failed to run drain hook true: Try again; going on"),
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
    run_hook_with(Mode::Pid1, &hook, &[], opts);
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

fn the_drain_hook_status_is_never_taken_for_the_childs(mode: Mode) {
    let f = fixture();
    let dir = temp_dir(&format!("hook-status-{mode:?}"));
    let log = dir.join("log");
    let hook = format!("{f} hook --log {} --exit 7", log.display());
    let d = Drainit::start(
        mode,
        &["--drain-exec", &hook, &f, "child", "--exit-on", "15=0"],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{mode:?}: {stderr}");
    assert!(
        stderr.contains("drain hook failed (exited with status 7)"),
        "{stderr}"
    );
}

both_modes!(the_drain_hook_status_is_never_taken_for_the_childs);

#[test]
fn an_empty_drain_exec_switches_off_the_variables_hook() {
    let f = fixture();
    let opts = Start {
        env: vec![("DRAINIT_DRAIN_EXEC", "sh -c 'exit 9'")],
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Pid1,
        &["--drain-exec", "", &f, "child", "--exit-on", "15=0"],
        opts,
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0));
    assert!(!log.contains("hook"), "{log}");
}
