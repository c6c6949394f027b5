//! Terminals: with a terminal on stdin, the child's group is the
//! terminal's foreground group, so Ctrl-C reaches the child; a terminal
//! that goes away does not stop drainit.

mod common;

use std::io::Write;

use common::*;

fn the_child_is_the_terminals_foreground_group_and_ctrl_c_reaches_it(mode: Mode) {
    let f = fixture();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    // `setsid -c` makes the pty drainit's controlling terminal.
    let opts = Start {
        wrapper: vec!["setsid".into(), "-c".into()],
        stdin: Some(slave),
        ..Start::default()
    };
    let d = Drainit::start_with(mode, &[&f, "child", "--tty", "--die-on", "2"], opts);
    let tty = d.expect("tty", |l| l.starts_with("tty "));
    let (fg, pgrp) = tty
        .strip_prefix("tty fg=")
        .unwrap()
        .split_once(" pgrp=")
        .unwrap();
    assert_eq!(fg, pgrp, "{mode:?}: the child's group is in the foreground");
    d.ready();
    // Ctrl-C: the line discipline signals the foreground group.
    master.write_all(b"\x03").unwrap();
    d.expect_line("sig 2");
    assert_eq!(d.exit_code(), 130, "{mode:?}");
}

both_modes!(the_child_is_the_terminals_foreground_group_and_ctrl_c_reaches_it);

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
