//! The command line: every flag with its `DRAINIT_*` variable. The only
//! module that knows clap; it turns arguments and environment into a
//! validated `Config` or a usage error (exit 2).

use std::ffi::OsString;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use log::LevelFilter;

use crate::address::{self, Request, Target};
use crate::config::{Config, Invocation, Policy};
use crate::liveness::Schedule;
use crate::rewrite::{self, Rewrite, Rule};
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
        .arg(option("ready-listen", "ADDR", "DRAINIT_READY_LISTEN")
            .help("Answer HTTP health checks on ADDR (HOST:PORT, [IPV6]:PORT or :PORT): 200 while the app runs, 503 once a stop begins")
            .value_parser(address::parse_listen))
        .arg(option("drain-http", "[METHOD ]URL", "DRAINIT_DRAIN_HTTP")
            .help("Step 1 first makes this HTTP request (e.g. \"PUT http://eureka:8761/...\"), before the drain hook")
            .value_parser(parse_drain_http))
        .arg(option("liveness", "URL", "DRAINIT_LIVENESS")
            .help("Probe the app (tcp://HOST:PORT or http://HOST[:PORT][/PATH]); after --liveness-failures failures in a row, stop it and exit 75")
            .value_parser(address::parse_target))
        .arg(option("liveness-interval", "DURATION", "DRAINIT_LIVENESS_INTERVAL")
            .help("Time between liveness probes")
            .default_value("10s")
            .value_parser(positive_duration))
        .arg(option("liveness-timeout", "DURATION", "DRAINIT_LIVENESS_TIMEOUT")
            .help("Longest time one probe may take (also for --probe)")
            .default_value("1s")
            .value_parser(positive_duration))
        .arg(option("liveness-failures", "N", "DRAINIT_LIVENESS_FAILURES")
            .help("Consecutive failed probes that stop the app")
            .default_value("3")
            .value_parser(value_parser!(u32).range(1..)))
        .arg(option("liveness-start", "DURATION", "DRAINIT_LIVENESS_START")
            .help("Failures this soon after the app's start do not count (a pass ends this period)")
            .default_value("0"))
        .arg(
            Arg::new("probe")
                .long("probe")
                .value_name("URL")
                .help("Run one probe of URL (tcp:// or http://) and exit 0 when it passes, 1 when not; starts no command")
                .conflicts_with("command")
                .value_parser(address::parse_target),
        )
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
                .required_unless_present("probe")
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

/// `--drain-http`'s value; empty means no request, so that a flag can
/// switch off an image's `DRAINIT_DRAIN_HTTP`.
fn parse_drain_http(text: &str) -> Result<Option<Request>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    address::parse_request(text).map(Some)
}

/// A duration that is not zero: a probe interval or time-out of 0 would
/// probe without pause, or fail every probe.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration::parse(text)? {
        d if d.is_zero() => Err("must be more than 0".to_string()),
        d => Ok(d),
    }
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
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut cmd = command(args.first().is_some_and(|arg0| is_docker_init(arg0)));
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    let log_level = log_level(&matches).map_err(|msg| cmd.error(ErrorKind::InvalidValue, msg))?;
    let timeout = matches.get_one::<Duration>("liveness-timeout").copied();
    if let Some(target) = matches.remove_one::<Target>("probe") {
        return Ok(Invocation::Probe {
            target,
            timeout: timeout.unwrap_or_default(),
        });
    }
    Ok(Invocation::Run(Box::new(config(matches, log_level))))
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
        drain_http: matches
            .remove_one::<Option<Request>>("drain-http")
            .flatten(),
        liveness: matches.remove_one::<Target>("liveness").map(|target| {
            let schedule = Schedule {
                interval: duration(&matches, "liveness-interval").unwrap_or_default(),
                timeout: duration(&matches, "liveness-timeout").unwrap_or_default(),
                failures: matches.get_one("liveness-failures").copied().unwrap_or(1),
                start: duration(&matches, "liveness-start").unwrap_or_default(),
            };
            (target, schedule)
        }),
    };
    Config {
        command: matches
            .remove_many("command")
            .map(Iterator::collect)
            .unwrap_or_default(),
        policy,
        ready_listen: matches.get_one("ready-listen").copied(),
        log_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Config, clap::Error> {
        parse_invocation(args).map(|invocation| match invocation {
            Invocation::Run(config) => *config,
            Invocation::Probe { .. } => panic!("{args:?} is a probe"),
        })
    }

    fn parse_invocation(args: &[&str]) -> Result<Invocation, clap::Error> {
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
