//! Configuration (README "Options"): every option from its DRAINIT_*
//! variable, flags beating variables, booleans, the log levels, and every
//! malformed value a usage error that starts nothing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn start_env(env: Vec<(&str, &str)>, args: &[&str]) -> Drainit {
    Drainit::start_with(
        Mode::Pid1,
        args,
        Start {
            env,
            ..Start::default()
        },
    )
}

#[test]
fn every_option_reads_its_variable() {
    let f = fixture();
    let dir = temp_dir("env-options");
    let log = dir.join("log");
    let hook = format!("{f} hook --log {} --sleep 60000", log.display());
    let env = vec![
        ("DRAINIT_STOP_SIGNAL", "SIGUSR2"),
        ("DRAINIT_REWRITE", "USR2:QUIT"),
        ("DRAINIT_DRAIN_EXEC", hook.as_str()),
        ("DRAINIT_DRAIN_TIMEOUT", "300ms"),
        ("DRAINIT_PRESTOP_SLEEP", "0.3s"),
        ("DRAINIT_GRACE", "500ms"),
        ("DRAINIT_SINGLE_CHILD", "Yes"),
    ];
    let d = start_env(env, &[&f, "child"]);
    d.ready();
    let t0 = Instant::now();
    d.signal(libc::SIGUSR2);
    d.expect_line("sig 3");
    let (status, stderr) = d.wait();
    assert!(
        t0.elapsed() >= Duration::from_millis(1100),
        "timeout + sleep + grace"
    );
    assert_eq!(status.code(), Some(137), "{stderr}");
    for said in [
        "received SIGUSR2",
        "drain hook timed out after 300ms",
        "sleeping 300ms before sending SIGQUIT",
        "forwarded SIGQUIT to child ",
        "grace period of 500ms is over: sent SIGKILL to child ",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
}

#[test]
fn a_flag_beats_its_variable_and_a_malformed_variable_is_then_not_read() {
    let f = fixture();
    let env = vec![
        ("DRAINIT_STOP_SIGNAL", "NOT-A-SIGNAL"),
        ("DRAINIT_PRESTOP_SLEEP", "forever"),
        ("DRAINIT_GRACE", "1h"),
        ("DRAINIT_SINGLE_CHILD", "perhaps"),
    ];
    let d = start_env(
        env,
        &[
            "--stop-signal",
            "INT",
            "--prestop-sleep",
            "0",
            "--grace",
            "0",
            "--single-child",
            &f,
            "child",
        ],
    );
    d.ready();
    d.signal(libc::SIGINT);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(137), "{log}");
    assert!(log.contains("sent SIGKILL to child"), "{log}");

    // Without the flags, the same variables are usage errors naming the
    // variable.
    let d = start_env(vec![("DRAINIT_GRACE", "forever")], &["true"]);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(2));
    assert!(
        log.starts_with("drainit: invalid value 'forever' for DRAINIT_GRACE: "),
        "{log}"
    );
}

#[test]
fn booleans_accept_the_documented_words_and_nothing_else() {
    for (value, code) in [
        ("1", 0),
        ("TRUE", 0),
        ("on", 0),
        ("no", 0),
        ("Off", 0),
        ("", 0),
        ("2", 2),
        ("y", 2),
    ] {
        let d = start_env(vec![("DRAINIT_SINGLE_CHILD", value)], &["true"]);
        let (status, log) = d.wait();
        assert_eq!(status.code(), Some(code), "{value:?}: {log}");
    }
}

#[test]
fn log_levels_from_flags_and_drainit_log() {
    let f = fixture();
    let run = |env: Vec<(&str, &str)>, flags: &[&str]| {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend([f.as_str(), "child", "--exit-on", "15=0"]);
        let d = start_env(env, &args);
        d.ready();
        d.signal(libc::SIGHUP);
        d.expect_line("sig 1");
        d.signal(libc::SIGTERM);
        let (status, log) = d.wait();
        assert_eq!(status.code(), Some(0));
        log
    };
    let info = run(vec![], &[]);
    assert!(
        info.contains("received SIGTERM") && !info.contains("forwarded SIGHUP"),
        "{info}"
    );
    let debug = run(vec![], &["-v"]);
    assert!(
        debug.contains("forwarded SIGHUP") && debug.contains("started child"),
        "{debug}"
    );
    assert_eq!(run(vec![], &["-q"]), "");
    assert_eq!(run(vec![("DRAINIT_LOG", "off")], &[]), "");
    assert_eq!(run(vec![("DRAINIT_LOG", "error")], &[]), "");
    assert!(run(vec![("DRAINIT_LOG", "debug")], &[]).contains("forwarded SIGHUP"));
    // -v and -q beat DRAINIT_LOG.
    assert!(run(vec![("DRAINIT_LOG", "off")], &["-v"]).contains("forwarded SIGHUP"));
    assert_eq!(run(vec![("DRAINIT_LOG", "debug")], &["-q"]), "");
    // Every line is prefixed.
    assert!(debug.lines().all(|l| l.starts_with("drainit: ")), "{debug}");

    let d = start_env(vec![("DRAINIT_LOG", "loud")], &["true"]);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(2));
    assert!(log.contains("DRAINIT_LOG"), "{log}");
}

#[test]
fn version_and_help() {
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("drainit {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = scrub_env(&mut Command::new(drainit_bin()))
        .arg("-h")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "DRAINIT_REWRITE",
        "DRAINIT_SINGLE_CHILD",
        "DRAINIT_STOP_SIGNAL",
        "DRAINIT_PRESTOP_SLEEP",
        "DRAINIT_DRAIN_EXEC",
        "DRAINIT_DRAIN_TIMEOUT",
        "DRAINIT_GRACE",
    ] {
        assert!(help.contains(var), "{var}");
    }
}

/// Runs drainit outside any namespace with `args` and `env` (all other
/// `DRAINIT_*` scrubbed), COMMAND being `touch MARKER`; returns the exit
/// code, stderr, and whether COMMAND ran.
fn run_config(args: &[&str], env: &[(&str, &str)], dir: &Path) -> (Option<i32>, String, bool) {
    let marker = dir.join("started");
    let _ = std::fs::remove_file(&marker);
    let mut cmd = Command::new(drainit_bin());
    cmd.args(args).arg("--").arg("touch").arg(&marker);
    let out = scrub_env(&mut cmd)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, marker.exists())
}

/// Every option given a malformed value, as a flag and as its variable:
/// exit 2, one error line naming the flag (or the variable) and the expected form, and
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
            &["KILL", "CHLD", "STOP", "bogus", "0", "RTMAX+1", "", "-TERM"],
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
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("drainit:"))
            .collect();
        assert_eq!(errors.len(), 1, "{what}: {stderr}");
        assert!(errors[0].contains(name), "{what}: {stderr}");
        assert!(errors[0].contains(form), "{what}: {stderr}");
    };
    for &(flag, var, bads, name, form) in cases {
        for &bad in bads {
            check(&[flag, bad], &[], name, form);
            let with_eq = format!("{flag}={bad}");
            check(&[&with_eq], &[], name, form);
            // The variable's error names the variable, not the flag.
            check(&[], &[(var, bad)], var, "invalid value");
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
            "DRAINIT_SINGLE_CHILD",
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
