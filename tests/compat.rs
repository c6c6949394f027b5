//! docs/moving-from-tini-or-dumb-init.md: tini's `-e`, `-p`, `-s`, `-g`;
//! fault signals sent by another process; the peers' variables; usage
//! errors naming what the user wrote. Job control: tests/job_control.rs.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::*;

fn env_start<'a>(env: Vec<(&'a str, &'a str)>) -> Start<'a> {
    Start {
        env,
        ..Start::default()
    }
}

/// tini's `-e 143`: a JVM-like app killed by the stop signal counts as
/// success; other statuses pass through.
fn success_code_turns_a_term_death_into_0(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(mode, &["-e", "143", &f, "child", "--die-on", "15"]);
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{mode:?}: {log}");
    assert!(
        log.contains("was killed by SIGTERM; exiting with 0 (143 is a success code)"),
        "{log}"
    );

    // From the variable, a list; a status not in it passes through.
    let opts = env_start(vec![("DRAINIT_SUCCESS_CODES", "1, 143")]);
    let d = Drainit::start_with(mode, &[&f, "child", "--die-on", "10"], opts);
    d.ready();
    d.signal(libc::SIGUSR1);
    assert_eq!(d.exit_code(), 128 + libc::SIGUSR1, "{mode:?}");
    let opts = env_start(vec![("DRAINIT_SUCCESS_CODES", "1, 143")]);
    let d = Drainit::start_with(mode, &["sh", "-c", "exit 1"], opts);
    assert_eq!(d.exit_code(), 0, "{mode:?}");
}

#[test]
fn success_code_turns_a_term_death_into_0_as_pid1() {
    success_code_turns_a_term_death_into_0(Mode::Pid1);
}

#[test]
fn success_code_turns_a_term_death_into_0_as_subreaper() {
    success_code_turns_a_term_death_into_0(Mode::Subreaper);
}

/// Waits until `pid` has exited (an orphan may stay a zombie: its new
/// parent need not reap it).
fn gone(pid: i32) {
    wait_for(
        || matches!(state(pid), None | Some('Z')).then_some(()),
        "drainit to exit",
    );
}

/// The parent of `pid`, from /proc.
fn parent_of(pid: i32) -> i32 {
    status_field(pid, "PPid").unwrap().parse().unwrap()
}

/// tini's `-p`: drainit's parent dies; the signal is forwarded (USR1), or
/// starts the shutdown sequence when it is the stop signal (TERM).
fn parent_death_signal_arrives_as_if_sent(mode: Mode) {
    let f = fixture();
    for (sig, number, line) in [
        ("USR1", libc::SIGUSR1, "forwarded SIGUSR1"),
        (
            "TERM",
            libc::SIGTERM,
            "received SIGTERM: starting the shutdown sequence",
        ),
    ] {
        let exit_on = format!("{number}=0");
        let args = ["-v", "-p", sig, &f, "child", "--exit-on", &exit_on];
        // Not as PID 1, a shell is the parent that dies; as PID 1 it is
        // unshare's process outside the namespace.
        let opts = Start {
            wrapper: match mode {
                Mode::Pid1 => vec![],
                Mode::Subreaper => ["sh", "-c", "\"$@\" & wait", "sh"]
                    .map(String::from)
                    .to_vec(),
            },
            ..Start::default()
        };
        let d = Drainit::start_with(mode, &args, opts);
        d.expect("ready", |l| l.starts_with("ready "));
        let (drainit, parent) = match mode {
            Mode::Pid1 => (d.pid, parent_of(d.pid)),
            Mode::Subreaper => (d.child(), d.pid),
        };
        send(parent, libc::SIGKILL);
        d.expect_line(&format!("sig {number}"));
        let (_, log) = d.wait();
        gone(drainit);
        assert!(log.contains(line), "{mode:?} -p {sig}: {log}");
    }
}

#[test]
fn parent_death_signal_arrives_as_if_sent_as_pid1() {
    parent_death_signal_arrives_as_if_sent(Mode::Pid1);
}

#[test]
fn parent_death_signal_arrives_as_if_sent_as_subreaper() {
    parent_death_signal_arrives_as_if_sent(Mode::Subreaper);
}

/// The parent dies before drainit asks the kernel for the signal (held
/// up in its first prctl by strace, its parent, which is then killed):
/// drainit sees that it was re-parented and acts on the signal at once.
/// Not as PID 1: there the parent is outside the namespace (getppid 0).
#[test]
fn a_parent_that_died_before_the_prctl_still_counts() {
    let f = fixture();
    let opts = Start {
        wrapper: [
            "strace",
            "-o",
            "/dev/null",
            "-e",
            "trace=prctl",
            "-e",
            "inject=prctl:delay_enter=60000000",
        ]
        .map(String::from)
        .to_vec(),
        ..Start::default()
    };
    // The stop signal, queued before the child starts: the child may get
    // it at its first instant, before it takes signals, and die of it.
    let d = Drainit::start_with(
        Mode::Subreaper,
        &["-p", "TERM", &f, "child", "--exit-on", "15=0"],
        opts,
    );
    let strace = d.pid;
    // x86_64's prctl is syscall 157; /proc shows it while strace holds it.
    // (strace may fork a short-lived helper first: any child will do.)
    let drainit = wait_for(
        || {
            children(strace).into_iter().find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                    .is_ok_and(|s| s.starts_with("157 "))
            })
        },
        "drainit held in prctl under strace",
    );
    send(strace, libc::SIGKILL);
    gone(drainit);
    let (_, log) = d.wait();
    for line in [
        "exited before drainit asked for SIGTERM on its death: acting on it now",
        "received SIGTERM: starting the shutdown sequence",
        "forwarded SIGTERM to process group",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
}

/// `docker kill -s ABRT` and friends: fault signals sent by another
/// process are forwarded, and may be rewritten.
fn fault_signals_sent_by_kill_are_forwarded(mode: Mode) {
    let f = fixture();
    let faults = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGABRT,
        libc::SIGTRAP,
        libc::SIGSYS,
    ];
    let d = Drainit::start(mode, &["-r", "ABRT:QUIT", &f, "child", "--exit-on", "10=0"]);
    d.ready();
    for sig in faults {
        d.signal(sig);
        let want = if sig == libc::SIGABRT {
            libc::SIGQUIT
        } else {
            sig
        };
        d.expect_line(&format!("sig {want}"));
    }
    d.signal(libc::SIGUSR1);
    assert_eq!(d.rest(), ["sig 10"], "{mode:?}");
    assert_eq!(d.exit_code(), 0, "{mode:?}");
}

#[test]
fn fault_signals_sent_by_kill_are_forwarded_as_pid1() {
    fault_signals_sent_by_kill_are_forwarded(Mode::Pid1);
}

#[test]
fn fault_signals_sent_by_kill_are_forwarded_as_subreaper() {
    fault_signals_sent_by_kill_are_forwarded(Mode::Subreaper);
}

/// drainit waits for the fault signals, yet a real fault in drainit still
/// ends it: the kernel forces a synchronous fault through the mask
/// (`force_sig_fault` unblocks it and restores the default action). The
/// kernel's part, shown on a process that blocks SIGSEGV, then faults.
#[test]
fn a_real_fault_ends_a_process_that_blocks_its_signal() {
    // SAFETY: the child only blocks a signal and writes to address 0.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGSEGV);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFSIGNALED(status), "status {status:#x}");
    assert_eq!(libc::WTERMSIG(status), libc::SIGSEGV);
}

/// dumb-init's and tini's variables, when drainit's own are unset.
fn the_peers_variables_are_honoured_when_drainits_are_unset(mode: Mode) {
    let f = fixture();
    let child = [f.as_str(), "child", "--exit-on", "10=0"];
    let run = |env: Vec<(&str, &str)>, args: &[&str]| -> String {
        let args: Vec<&str> = args.iter().chain(&child).copied().collect();
        let d = Drainit::start_with(mode, &args, env_start(env));
        d.ready();
        d.signal(libc::SIGHUP);
        d.expect_line("sig 1");
        d.signal(libc::SIGUSR1);
        let (status, log) = d.wait();
        assert_eq!(status.code(), Some(0), "{log}");
        log
    };
    // DUMB_INIT_SETSID=0: the child only.
    let log = run(vec![("DUMB_INIT_SETSID", "0")], &["-v"]);
    assert!(
        log.contains("DUMB_INIT_SETSID=0: signalling the child only"),
        "{log}"
    );
    assert!(log.contains("forwarded SIGHUP to child "), "{log}");
    // drainit's variable wins, and DUMB_INIT_SETSID is not read.
    let env = vec![("DUMB_INIT_SETSID", "0"), ("DRAINIT_SINGLE_CHILD", "no")];
    let log = run(env, &["-v"]);
    assert!(log.contains("forwarded SIGHUP to process group "), "{log}");
    assert!(!log.contains("DUMB_INIT_SETSID"), "{log}");

    // TINI_VERBOSITY: 2 is debug, 0 warnings only; DRAINIT_LOG wins.
    let log = run(vec![("TINI_VERBOSITY", "2")], &[]);
    assert!(log.contains("TINI_VERBOSITY=2: log level debug"), "{log}");
    assert!(log.contains("forwarded SIGHUP to process group "), "{log}");
    let log = run(vec![("TINI_VERBOSITY", "0")], &["--stop-signal", "USR1"]);
    assert_eq!(log, "");
    let log = run(vec![("TINI_VERBOSITY", "2"), ("DRAINIT_LOG", "info")], &[]);
    assert!(!log.contains("forwarded SIGHUP"), "{log}");
    // DUMB_INIT_DEBUG=1 is debug too.
    let log = run(vec![("DUMB_INIT_DEBUG", "1")], &[]);
    assert!(log.contains("DUMB_INIT_DEBUG=1: log level debug"), "{log}");

    // tini's two flags' variables change nothing but a debug line.
    let env = vec![("TINI_SUBREAPER", ""), ("TINI_KILL_PROCESS_GROUP", "1")];
    let log = run(env, &["-v"]);
    assert!(log.contains("TINI_SUBREAPER is set: no effect"), "{log}");
    assert!(
        log.contains("TINI_KILL_PROCESS_GROUP is set: no effect"),
        "{log}"
    );
    assert!(log.contains("forwarded SIGHUP to process group "), "{log}");
}

#[test]
fn the_peers_variables_are_honoured_when_drainits_are_unset_as_pid1() {
    the_peers_variables_are_honoured_when_drainits_are_unset(Mode::Pid1);
}

#[test]
fn the_peers_variables_are_honoured_when_drainits_are_unset_as_subreaper() {
    the_peers_variables_are_honoured_when_drainits_are_unset(Mode::Subreaper);
}

/// Runs drainit with `args` and `env` to its end (it must not start
/// COMMAND): its exit code and stderr.
fn run_usage(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn usage_errors_start_with_drainit_and_name_the_flag_or_the_variable() {
    for (args, env, first) in [
        (
            &["--grace", "abc", "true"][..],
            &[][..],
            "drainit: invalid value 'abc' for '--grace <DURATION>': expected a duration",
        ),
        (
            &["true"],
            &[("DRAINIT_GRACE", "abc")],
            "drainit: invalid value 'abc' for DRAINIT_GRACE: expected a duration",
        ),
        (
            &["true"],
            &[("DRAINIT_SUCCESS_CODES", "143,256")],
            "drainit: invalid value '256' for DRAINIT_SUCCESS_CODES: \"256\" is not an exit status (0-255)",
        ),
        (
            &["-e", "x", "true"],
            &[],
            "drainit: invalid value 'x' for '--success-code <CODE>': ",
        ),
        (
            &["true"],
            &[("DRAINIT_PARENT_DEATH_SIGNAL", "STOP")],
            "drainit: invalid value 'STOP' for DRAINIT_PARENT_DEATH_SIGNAL: SIGSTOP cannot be",
        ),
        (
            &["true"],
            &[("DRAINIT_LOG", "loud")],
            "drainit: invalid value 'loud' for DRAINIT_LOG: expected error, warn",
        ),
        (
            &["true"],
            &[("TINI_VERBOSITY", "9")],
            "drainit: invalid value '9' for TINI_VERBOSITY: expected 0, 1, 2 or 3",
        ),
        (
            &[],
            &[],
            "drainit: the following required arguments were not provided: [COMMAND]",
        ),
        (
            &["--bogus", "true"],
            &[],
            "drainit: unexpected argument '--bogus'",
        ),
    ] {
        let (code, stderr) = run_usage(args, env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {stderr}");
        let line = stderr.lines().next().unwrap_or_default();
        assert!(line.starts_with(first), "{args:?} {env:?}: {stderr}");
    }
    // A value that is not UTF-8 is named too.
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .arg("true")
        .env("DRAINIT_GRACE", OsStr::from_bytes(b"1\xffs"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "drainit: invalid UTF-8 in the value of DRAINIT_GRACE\n"
    );
    // A flag beats its variable, which is then not read; -s and -g are
    // accepted and change nothing.
    for (args, env) in [
        (
            &["-e", "3", "-s", "-g", "sh", "-c", "exit 3"][..],
            &[("DRAINIT_SUCCESS_CODES", "x")][..],
        ),
        (
            &["-q", "-sg", "-e", "3", "sh", "-c", "exit 3"],
            &[("DRAINIT_LOG", "loud"), ("TINI_VERBOSITY", "9")],
        ),
    ] {
        assert_eq!(run_usage(args, env), (Some(0), String::new()), "{args:?}");
    }
}

#[test]
fn help_lists_the_new_flags_and_drainit_log() {
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for want in [
        "-e, --success-code <CODE>",
        "[env: DRAINIT_SUCCESS_CODES=]",
        "-p, --parent-death-signal <SIG>",
        "[env: DRAINIT_PARENT_DEATH_SIGNAL=]",
        "--log <LEVEL>",
        "[env: DRAINIT_LOG=]",
        "-s    ",
        "-g    ",
        "No effect (tini's flag)",
        "DUMB_INIT_SETSID=0",
        "TINI_VERBOSITY",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
}

/// The hook's log line shows its words quoted as they were given.
#[test]
fn the_hook_line_quotes_its_words() {
    let f = fixture();
    let d = Drainit::start(
        Mode::Subreaper,
        &[
            "--drain-exec",
            "sh -c 'exit 0' \"a b\" ''",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("running drain hook: sh -c 'exit 0' 'a b' '' (pid "),
        "{log}"
    );
}
