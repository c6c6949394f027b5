//! `--stop-scope children` (`DRAINIT_STOP_SCOPE`): the stop signal goes to
//! drainit's own children in the child's group, never to their children
//! (a worker pool); when the child dies during the stop, what it leaves
//! behind (re-parented to drainit) gets it. Proven on a real Celery worker
//! in tests/servers_celery.rs; here with the fixture, in both modes.

mod common;

use std::process::Command;

use common::{Drainit, Mode, both_modes, drainit_bin, fixture, log_lines, scrub_env, temp_dir};

/// The pool: `fixture child --group 2` forks two members that log every
/// signal they get. The child takes the TERM and stays (it would wait for
/// its pool), so nothing is left behind: with the children scope the
/// members get no TERM; the group scope (the default) gives it to them
/// too. The grace's SIGKILL ends them all.
fn pool_hears_only_its_parent(mode: Mode) {
    for (scope, members_hear) in [("children", false), ("group", true)] {
        let dir = temp_dir(&format!("stop-scope-{scope}"));
        let log = dir.join("members.log");
        let log = log.to_str().unwrap();
        let d = Drainit::start(
            mode,
            &[
                "--stop-scope",
                scope,
                "--grace",
                "1s",
                "--",
                &fixture(),
                "child",
                "--group",
                "2",
                "--log",
                log,
            ],
        );
        d.ready();
        d.signal(libc::SIGTERM);
        d.expect_line("sig 15");
        let (status, stderr) = d.wait();
        assert_eq!(status.code(), Some(137), "{stderr}");
        assert!(stderr.contains("grace period of 1s is over"), "{stderr}");
        let heard = log_lines(&dir.join("members.log"))
            .iter()
            .filter(|l| l.starts_with("member ") && l.contains(" sig 15"))
            .count();
        assert_eq!(
            heard > 0,
            members_hear,
            "--stop-scope {scope}: {heard} TERMs reached the pool\n{stderr}"
        );
    }
}

/// `sh -c 'fixture child; ...'`: the shell dies of the TERM, and the
/// fixture it leaves behind gets the TERM from drainit, once.
fn a_shell_wrappers_orphan_gets_the_stop_signal(mode: Mode) {
    let script = format!("{} child --exit-on 15=0; echo not reached", fixture());
    let d = Drainit::start(
        mode,
        &["--stop-scope", "children", "--", "sh", "-c", &script],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    // The child (the shell) died of the TERM: its status is drainit's.
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("forwarded SIGTERM to child ")
            && stderr.contains(" (--stop-scope children)"),
        "{stderr}"
    );
    let left = stderr
        .lines()
        .filter(|l| l.contains("sent SIGTERM to process ") && l.contains("left behind"))
        .count();
    assert_eq!(left, 1, "the orphan got the TERM once:\n{stderr}");
}

both_modes!(
    pool_hears_only_its_parent,
    a_shell_wrappers_orphan_gets_the_stop_signal
);

/// A bad scope is a usage error naming the flag, or the variable.
#[test]
fn a_bad_scope_is_a_usage_error_naming_what_was_written() {
    for (args, env, names) in [
        (vec!["--stop-scope", "pool"], None, "'--stop-scope <SCOPE>'"),
        (vec![], Some("pool"), "DRAINIT_STOP_SCOPE"),
    ] {
        let mut cmd = Command::new(drainit_bin());
        scrub_env(&mut cmd).args(&args).args(["--", "true"]);
        if let Some(value) = env {
            cmd.env("DRAINIT_STOP_SCOPE", value);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("drainit: invalid value 'pool' for ") && first.contains(names),
            "{stderr}"
        );
        assert!(first.contains("expected group or children"), "{stderr}");
    }
}
