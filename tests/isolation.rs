//! Isolation: drainit signals the child's group (the child alone with
//! `--single-child`) and the drain hook's group, and never anyone else,
//! whatever the shutdown.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn single_child_leaves_the_rest_of_the_group_alone() {
    let f = fixture();
    let script = format!("{f} child --name a & exec {f} child --name b --exit-on 10=0");
    let d = Drainit::start(Mode::Subreaper, &["-c", "sh", "-c", &script]);
    d.all_ready(&["a", "b"]);
    let b = d.child();
    let a = wait_for(|| children(b).first().copied(), "a, b's child");
    // After each signal to drainit, the test sends a a marker: a realtime
    // signal, which a takes only after every standard one pending, so a
    // forwarded USR1 or USR2 would print its line before the marker's.
    let marker = format!("a sig {}", libc::SIGRTMIN());
    d.signal(libc::SIGUSR2);
    d.expect_line("b sig 12");
    send(a, libc::SIGRTMIN());
    d.expect_line(&marker);
    d.signal(libc::SIGUSR1);
    d.expect_line("b sig 10");
    send(a, libc::SIGRTMIN());
    d.expect_line(&marker);
    assert_eq!(d.exit_code(), 0);
    // drainit has exited with b; a is still running.
    assert!(matches!(state(a), Some(s) if s != 'Z'), "a was killed");
    send(a, libc::SIGKILL);
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
    let lines = line_reader(bystander.stdout.take().unwrap());
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
