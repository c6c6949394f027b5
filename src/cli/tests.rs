//! The command line and its variables, parsed with an environment of
//! the test's own.

use std::time::Duration;

use clap::Command;
use log::LevelFilter;

use super::build::log_level;
use super::definition::{VERSION, command};
use super::values::parse_bool;
use super::*;
use crate::config::Config;
use crate::rewrite::{Rewrite, Rule};
use crate::signals::Signal;
use crate::status::SuccessCodes;

/// No variable at all, whatever the caller's environment holds.
fn no_env(_: &str) -> Option<OsString> {
    None
}

fn parse_args(args: &[&str]) -> Result<Config, Exit> {
    parse_with(args, &[])
}

/// Parses `args` (after `drainit`) with `vars` as the whole environment.
fn parse_with(args: &[&str], vars: &[(&str, &str)]) -> Result<Config, Exit> {
    let env = |name: &str| {
        let (_, value) = vars.iter().find(|(n, _)| *n == name)?;
        Some(OsString::from(value))
    };
    let all = std::iter::once("drainit").chain(args.iter().copied());
    parse(all.map(OsString::from), &env).map(|invocation| match invocation {
        Invocation::Run(config) => *config,
        Invocation::Probe { .. } => panic!("{args:?} is a probe"),
    })
}

/// The definition as `parse` uses it: its variables detached.
fn detached() -> Command {
    environment::Variables::detach(command(false), &no_env).0
}

#[test]
fn the_definition_is_consistent() {
    command(false).debug_assert();
    command(true).debug_assert();
    detached().debug_assert();
}

fn version_line(arg0: &str) -> String {
    let err = parse([arg0, "--version"].map(OsString::from), &no_env).unwrap_err();
    assert_eq!(err.exit_code(), 0);
    err.to_string()
}

/// The line moby's `parseInitVersion` splits: `X - git.COMMIT`, with
/// exactly one dot after ` - `.
#[test]
fn version_is_one_line_and_docker_init_gets_a_git_part() {
    for arg0 in ["drainit", "/usr/local/bin/drainit", "docker-init-not"] {
        assert_eq!(version_line(arg0), format!("drainit {VERSION}\n"));
    }
    for arg0 in [
        "docker-init",
        "/sbin/docker-init",
        "/opt/drainit/docker-init",
    ] {
        let line = version_line(arg0);
        assert_eq!(line, format!("drainit {VERSION} - git.drainit\n"));
        let (_, git) = line.trim().split_once(" - ").unwrap();
        assert_eq!(git.split('.').collect::<Vec<_>>(), ["git", "drainit"]);
    }
}

#[test]
fn options_end_at_the_first_operand() {
    let c = parse_args(&["-c", "app", "-v", "--grace", "1s", "--"]).unwrap();
    assert_eq!(c.command, ["app", "-v", "--grace", "1s", "--"]);
    assert!(c.policy.single_child);
    assert_eq!(c.log_level, LevelFilter::Info);
    let c = parse_args(&["--", "app", "--", "x"]).unwrap();
    assert_eq!(c.command, ["app", "--", "x"]);
}

#[test]
fn flags_are_typed_and_defaulted() {
    let c = parse_args(&[
        "-r",
        "TERM:QUIT",
        "--rewrite",
        "usr1:0",
        "--stop-signal",
        "sigint",
        "--drain-exec",
        "curl -X 'POST it'",
        "--drain-timeout",
        "5s",
        "--prestop-sleep",
        "1m30s",
        "--grace",
        "0",
        "-vv",
        "app",
    ])
    .unwrap();
    let p = &c.policy;
    assert_eq!(
        p.rewrite.translate(Signal::TERM),
        Some(Signal::parse("QUIT").unwrap())
    );
    assert_eq!(p.rewrite.translate(Signal::parse("USR1").unwrap()), None);
    assert_eq!(p.stop_signal, Signal::parse("INT").unwrap());
    assert_eq!(c.policy.drain_exec, ["curl", "-X", "POST it"]);
    assert!(p.has_hook());
    assert_eq!(p.drain_timeout, Duration::from_secs(5));
    assert_eq!(p.prestop_sleep, Duration::from_secs(90));
    assert_eq!(p.grace, Some(Duration::ZERO));
    assert_eq!(c.log_level, LevelFilter::Trace);

    let d = parse_args(&["app"]).unwrap();
    assert_eq!(d.policy.stop_signal, Signal::TERM);
    assert_eq!(d.policy.drain_timeout, Duration::from_secs(30));
    assert_eq!(d.policy.prestop_sleep, Duration::ZERO);
    assert_eq!(d.policy.grace, None);
    assert!(!d.policy.has_hook() && !d.policy.single_child);
}

#[test]
fn an_empty_rewrite_item_adds_no_rule() {
    let c = parse_args(&["-r", "", "-r", "HUP:0", "app"]).unwrap();
    assert_eq!(
        c.policy.rewrite,
        Rewrite::new(vec![Rule::parse("HUP:0").unwrap()])
    );
}

#[test]
fn an_empty_drain_exec_means_no_hook() {
    let c = parse_args(&["--drain-exec", "", "app"]).unwrap();
    assert!(!c.policy.has_hook());
}

#[test]
fn bad_values_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (&["--grace", "1m30", "app"][..], "--grace"),
        (&["--prestop-sleep", "-1", "app"], "--prestop-sleep"),
        (&["--drain-timeout", "5 s", "app"], "--drain-timeout"),
        (&["-r", "1:99", "app"], "--rewrite"),
        (&["-r", "KILL:TERM", "app"], "--rewrite"),
        (&["--stop-signal", "CHLD", "app"], "--stop-signal"),
        (&["--drain-exec", "a 'b", "app"], "--drain-exec"),
    ] {
        let err = parse_args(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
        assert!(err.to_string().contains(flag), "{args:?}: {err}");
    }
    for args in [&[][..], &["--bogus", "app"], &["-q", "-v", "app"]] {
        assert_eq!(parse_args(args).unwrap_err().exit_code(), 2, "{args:?}");
    }
}

#[test]
fn tinis_flags_are_accepted() {
    let c = parse_args(&["-e", "143", "-e", "3,4", "-p", "sigusr1", "-s", "-g", "app"]).unwrap();
    assert_eq!(c.policy.success_codes, SuccessCodes::new(vec![143, 3, 4]));
    let death = c.parent_death.unwrap();
    assert_eq!(death.signal, Signal::parse("USR1").unwrap());
    assert_eq!(death.parent, nix::unistd::getppid().as_raw());
    assert!(!c.policy.single_child);
    let c = parse_args(&["-sg", "-e", "", "--parent-death-signal", "KILL", "app"]).unwrap();
    assert_eq!(c.policy.success_codes, SuccessCodes::default());
    assert_eq!(c.parent_death.unwrap().signal, Signal::KILL);
    let d = parse_args(&["app"]).unwrap();
    assert_eq!(
        (d.policy.success_codes, d.parent_death),
        (SuccessCodes::default(), None)
    );
    for (args, flag) in [
        (&["-e", "256", "app"][..], "--success-code"),
        (&["-e", "-1", "app"], "--success-code"),
        (&["-p", "STOP", "app"], "--parent-death-signal"),
        (&["-p", "CHLD", "app"], "--parent-death-signal"),
    ] {
        let err = parse_args(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
        assert!(err.to_string().contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn usage_errors_start_with_drainit_on_one_line_naming_the_flag() {
    for (args, first) in [
        (
            &["--grace", "x", "app"][..],
            "drainit: invalid value 'x' for '--grace <DURATION>': ",
        ),
        (
            &["--bogus", "app"],
            "drainit: unexpected argument '--bogus' found",
        ),
        (
            &[],
            "drainit: the following required arguments were not provided: [COMMAND]...",
        ),
        (
            &["-q", "-v", "app"],
            "drainit: the argument '--quiet' cannot be used with '--verbose...'",
        ),
    ] {
        let err = parse_args(args).unwrap_err().to_string();
        let line = err.lines().next().unwrap();
        assert!(line.starts_with(first), "{args:?}: {err}");
    }
}

#[test]
fn a_value_that_is_not_utf8_is_named() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(b"\xff".to_vec());
    let args = ["drainit".into(), "--grace".into(), bad, "app".into()];
    let err = parse(args, &no_env).unwrap_err().to_string();
    assert_eq!(
        err,
        "drainit: invalid UTF-8 in the value of '--grace <DURATION>'\n"
    );
}

#[test]
fn the_log_level_flags_beat_log_which_beats_the_peers() {
    let level = |args: &[&str], peers: Option<LevelFilter>| {
        let matches = detached()
            .try_get_matches_from(["drainit"].iter().chain(args).chain(&["app"]))
            .unwrap();
        log_level(&matches, &Default::default(), peers).unwrap()
    };
    let debug = Some(LevelFilter::Debug);
    assert_eq!(level(&[], None), LevelFilter::Info);
    assert_eq!(level(&[], debug), LevelFilter::Debug);
    assert_eq!(level(&["--log", "WARN"], debug), LevelFilter::Warn);
    assert_eq!(level(&["--log", "off", "-v"], None), LevelFilter::Debug);
    assert_eq!(level(&["-vv"], debug), LevelFilter::Trace);
    assert_eq!(level(&["-q"], debug), LevelFilter::Error);
    let matches = detached()
        .try_get_matches_from(["drainit", "--log", "loud", "app"])
        .unwrap();
    assert_eq!(
        log_level(&matches, &Default::default(), None).unwrap_err(),
        "invalid value 'loud' for '--log <LEVEL>': expected error, warn, info, debug, trace or off"
    );
}

#[test]
fn booleans_accept_the_documented_words_only() {
    for yes in ["1", "true", "YES", "On"] {
        assert_eq!(parse_bool(yes), Ok(true));
    }
    for no in ["", "0", "false", "No", "OFF"] {
        assert_eq!(parse_bool(no), Ok(false));
    }
    for bad in ["2", "y", "enabled", " 1"] {
        assert!(parse_bool(bad).is_err());
    }
}

#[test]
fn variables_come_from_the_environment_given_and_a_flag_beats_its_variable() {
    let vars = [
        ("DRAINIT_GRACE", "5s"),
        ("DRAINIT_LOG", "debug"),
        ("DRAINIT_REWRITE", "TERM:QUIT,HUP:0"),
        ("DRAINIT_SINGLE_CHILD", "yes"),
    ];
    let c = parse_with(&["app"], &vars).unwrap();
    assert_eq!(c.policy.grace, Some(Duration::from_secs(5)));
    assert_eq!(c.log_level, LevelFilter::Debug);
    assert_eq!(
        c.policy.rewrite.translate(Signal::parse("HUP").unwrap()),
        None
    );
    assert!(c.policy.single_child);
    let c = parse_with(&["--grace", "1s", "-r", "", "-q", "app"], &vars).unwrap();
    assert_eq!(c.policy.grace, Some(Duration::from_secs(1)));
    assert_eq!(c.policy.rewrite, Rewrite::default());
    assert_eq!(c.log_level, LevelFilter::Error);
    // A flag's variable that says no is read, and keeps the peers' out.
    let off = [("DRAINIT_SINGLE_CHILD", "off"), ("DUMB_INIT_SETSID", "0")];
    assert!(!parse_with(&["app"], &off).unwrap().policy.single_child);
    assert!(parse_with(&["app"], &off[1..]).unwrap().policy.single_child);
}

#[test]
fn a_bad_variable_is_named_and_not_read_when_its_flag_is_given() {
    for (var, bad, first) in [
        (
            "DRAINIT_GRACE",
            "abc",
            "drainit: invalid value 'abc' for DRAINIT_GRACE: ",
        ),
        (
            "DRAINIT_SINGLE_CHILD",
            "maybe",
            "drainit: invalid value 'maybe' for DRAINIT_SINGLE_CHILD: expected 1",
        ),
        (
            "DRAINIT_LOG",
            "loud",
            "drainit: invalid value 'loud' for DRAINIT_LOG: ",
        ),
        (
            "TINI_VERBOSITY",
            "9",
            "drainit: invalid value '9' for TINI_VERBOSITY: ",
        ),
    ] {
        let err = parse_with(&["app"], &[(var, bad)]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with(first), "{var}: {err}");
    }
    for (flag, var, bad) in [
        ("--grace=1s", "DRAINIT_GRACE", "abc"),
        ("-c", "DRAINIT_SINGLE_CHILD", "maybe"),
        ("-q", "DRAINIT_LOG", "loud"),
    ] {
        assert!(
            parse_with(&[flag, "app"], &[(var, bad)]).is_ok(),
            "{flag} {var}"
        );
    }
}

#[test]
fn help_shows_each_variable_with_its_value_in_the_environment_given() {
    let env = |name: &str| (name == "DRAINIT_GRACE").then(|| OsString::from("7s"));
    let help = parse(["drainit", "--help"].map(OsString::from), &env)
        .unwrap_err()
        .to_string();
    assert!(help.contains("[env: DRAINIT_GRACE=7s]"), "{help}");
    assert!(
        help.contains("[env: DRAINIT_LOG=] [default: info]"),
        "{help}"
    );
}
