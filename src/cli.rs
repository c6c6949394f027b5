//! The command line: every flag with its `DRAINIT_*` variable. The only
//! module that knows clap; it turns arguments and environment into a
//! validated `Config` or a usage error (exit 2).

use std::ffi::OsString;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use log::LevelFilter;

use crate::config::Config;
use crate::rewrite::{self, Rewrite, Rule};
use crate::shutdown::Policy;
use crate::signals::Signal;
use crate::{duration, words};

/// What `--version` prints after `drainit `: the contract's `drainit X.Y.Z`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The same with a ` - git.drainit` suffix, for when drainit is installed
/// as Docker's init (`dockerd --init-path .../docker-init`). dockerd runs
/// `docker-init --version` for `docker info` and parses it with
/// `parseInitVersion` (moby daemon/info_unix.go), which wants tini's
/// `tini version 0.18.0 - git.fec3683`: without a ` - git.COMMIT` part (no
/// dot in COMMIT) it logs "failed to parse ... unknown output format" and
/// `docker info` shows no init version. With it, `init version: drainit`.
const DOCKER_INIT_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " - git.drainit");

/// The clap definition. `docker_init` picks the version line Docker parses.
fn command(docker_init: bool) -> Command {
    Command::new("drainit")
        .version(if docker_init {
            DOCKER_INIT_VERSION
        } else {
            VERSION
        })
        .about("A PID-1 init for containers that reaps zombies, forwards signals, and drains before it stops")
        .override_usage("drainit [OPTIONS] [--] COMMAND [ARG...]")
        .after_help(
            "On the stop signal: 1. run the drain hook (at most --drain-timeout), \
             2. sleep --prestop-sleep, 3. send the (rewritten) stop signal to the child's \
             process group, 4. SIGKILL the group after --grace.\n\
             Durations: 10s, 1500ms, 1m30s, 2h, 0.5s, or bare seconds.",
        )
        .arg(
            Arg::new("rewrite")
                .short('r')
                .long("rewrite")
                .value_name("FROM:TO")
                .help("Deliver signal TO instead of FROM (TO 0 drops FROM); repeatable")
                .env("DRAINIT_REWRITE")
                .value_delimiter(',')
                .action(ArgAction::Append)
                // `-r -1:2` must say what is wrong with `-1:2`, not call it
                // an unknown flag (and suggest running it as COMMAND).
                .allow_hyphen_values(true)
                .value_parser(parse_rewrite_item),
        )
        .arg(
            Arg::new("single-child")
                .short('c')
                .long("single-child")
                .help("Signal the child only, not its process group")
                .env("DRAINIT_SINGLE_CHILD")
                .action(ArgAction::SetTrue)
                .value_parser(parse_bool),
        )
        .arg(
            Arg::new("stop-signal")
                .long("stop-signal")
                .value_name("SIG")
                .help("The received signal that starts the shutdown sequence")
                .env("DRAINIT_STOP_SIGNAL")
                .default_value("TERM")
                .allow_hyphen_values(true)
                .value_parser(rewrite::parse_source),
        )
        .arg(option("drain-exec", "COMMAND", "DRAINIT_DRAIN_EXEC")
            .help("Drain hook run on the stop signal, split into words like a shell would (no shell is run)")
            .value_parser(words::split))
        .arg(option("drain-timeout", "DURATION", "DRAINIT_DRAIN_TIMEOUT")
            .help("Longest time the drain hook may run before its group gets SIGKILL")
            .default_value("30s"))
        .arg(option("prestop-sleep", "DURATION", "DRAINIT_PRESTOP_SLEEP")
            .help("Time to wait after the hook, before the stop signal is forwarded")
            .default_value("0"))
        .arg(option("grace", "DURATION", "DRAINIT_GRACE")
            .help("After the stop signal, SIGKILL the group if anything is left this long [default: wait as long as it takes]"))
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .help("Log more: -v every forwarded signal and reaped pid, -vv trace")
                .action(ArgAction::Count),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .help("Log errors only")
                .action(ArgAction::SetTrue)
                .conflicts_with("verbose"),
        )
        .arg(
            Arg::new("command")
                .value_name("COMMAND")
                .help("The command to run as the child, and its arguments")
                .required(true)
                .num_args(1..)
                .trailing_var_arg(true)
                .value_parser(value_parser!(OsString)),
        )
}

/// An option with one value, from `--long` or `env`; parsed as a duration
/// unless the caller sets another value parser.
fn option(long: &'static str, value_name: &'static str, env: &'static str) -> Arg {
    Arg::new(long)
        .long(long)
        .value_name(value_name)
        .env(env)
        .allow_hyphen_values(true)
        .value_parser(duration::parse)
}

/// One item of the rewrite list; a blank one (`DRAINIT_REWRITE=""`,
/// `--rewrite ""`) adds no rule, so a flag can empty an image's list.
fn parse_rewrite_item(text: &str) -> Result<Option<Rule>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    Rule::parse(text).map(Some)
}

/// Booleans for the `DRAINIT_*` variables: `1/true/yes/on` and
/// `0/false/no/off` or empty, any case.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected 1, true, yes, on, or 0, false, no, off, or empty".into()),
    }
}

/// Parses the arguments (the first being the program name) and the
/// `DRAINIT_*` variables. `Err` is clap's error, with exit code 2 for
/// usage errors and 0 for `--help`/`--version`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Config, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut cmd = command(args.first().is_some_and(|arg0| is_docker_init(arg0)));
    let matches = cmd.try_get_matches_from_mut(args)?;
    let log_level = log_level(&matches).map_err(|msg| cmd.error(ErrorKind::InvalidValue, msg))?;
    Ok(config(matches, log_level))
}

/// Whether drainit runs under Docker's name for its init: dockerd execs
/// `--init-path` as given, and mounts it at `/sbin/docker-init` in the
/// container, so the basename is the only sign.
fn is_docker_init(arg0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(arg0)
        .file_name()
        .is_some_and(|name| name == "docker-init")
}

/// `-q`, `-v`, `-vv` beat `DRAINIT_LOG`, which beats the default (info).
fn log_level(matches: &ArgMatches) -> Result<LevelFilter, String> {
    if matches.get_flag("quiet") {
        return Ok(LevelFilter::Error);
    }
    match matches.get_count("verbose") {
        0 => {}
        1 => return Ok(LevelFilter::Debug),
        _ => return Ok(LevelFilter::Trace),
    }
    let Some(value) = std::env::var_os("DRAINIT_LOG") else {
        return Ok(LevelFilter::Info);
    };
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            format!(
                "invalid value {value:?} for 'DRAINIT_LOG': expected error, warn, info, debug, trace or off"
            )
        })
}

fn config(mut matches: ArgMatches, log_level: LevelFilter) -> Config {
    let duration = |m: &ArgMatches, id: &str| m.get_one::<Duration>(id).copied();
    let policy = Policy {
        stop_signal: matches
            .get_one::<Signal>("stop-signal")
            .copied()
            .unwrap_or(Signal::TERM),
        rewrite: Rewrite::new(
            matches
                .remove_many::<Option<Rule>>("rewrite")
                .map(|items| items.flatten().collect())
                .unwrap_or_default(),
        ),
        drain_exec: matches.remove_one("drain-exec").unwrap_or_default(),
        drain_timeout: duration(&matches, "drain-timeout").unwrap_or_default(),
        prestop_sleep: duration(&matches, "prestop-sleep").unwrap_or_default(),
        grace: duration(&matches, "grace"),
        single_child: matches.get_flag("single-child"),
    };
    Config {
        command: matches
            .remove_many("command")
            .map(Iterator::collect)
            .unwrap_or_default(),
        policy,
        log_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Config, clap::Error> {
        parse(
            std::iter::once("drainit")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn the_definition_is_consistent() {
        command(false).debug_assert();
        command(true).debug_assert();
    }

    fn version_line(arg0: &str) -> String {
        let err = parse([arg0, "--version"].map(OsString::from)).unwrap_err();
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
}
