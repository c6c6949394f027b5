//! A hostile caller and child: drainit started with every signal blocked
//! and some ignored, with a stderr nobody reads, or a child that closes
//! its standard descriptors. drainit passes the caller's state on, stays
//! up, forwards everything, and exits with the child's status.

mod common;

use common::*;

fn sig_line(sig: i32) -> String {
    format!("sig {sig}")
}

/// drainit started with every signal blocked and seven ignored, in both
/// modes: the child sees that state in /proc (but SIGPIPE default), and
/// drainit still forwards every one of them.
fn a_caller_blocking_everything_and_ignoring_some_is_passed_on_and_forwarding_works(mode: Mode) {
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

both_modes!(a_caller_blocking_everything_and_ignoring_some_is_passed_on_and_forwarding_works);

/// A caller that ignores SIGCHLD passes that on through exec; the kernel
/// would then reap drainit's children itself, with no SIGCHLD and no
/// status, and drainit would wait forever. It sets SIGCHLD back to default
/// first: the child's status and the hook's end still come through.
fn a_caller_ignoring_sigchld_still_gets_the_childs_status(mode: Mode) {
    let f = fixture();
    let opts = || Start {
        wrapper: vec![
            f.clone(),
            "with-signals".into(),
            "-".into(),
            libc::SIGCHLD.to_string(),
        ],
        ..Start::default()
    };
    let d = Drainit::start_with(mode, &["sh", "-c", "exit 7"], opts());
    assert_eq!(d.exit_code(), 7, "{mode:?}");
    let log = temp_dir(&format!("ignored-chld-{mode:?}")).join("log");
    let hook = format!("{f} hook --log {}", log.display());
    let args = [
        "--drain-exec",
        &hook,
        "--",
        &f,
        "child",
        "--exit-on",
        "15=0",
    ];
    let d = Drainit::start_with(mode, &args, opts());
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{mode:?}: {log}");
    assert!(log.contains("drain hook finished"), "{mode:?}: {log}");
}

both_modes!(a_caller_ignoring_sigchld_still_gets_the_childs_status);

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
