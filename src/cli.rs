//! The command line: every flag with its `DRAINIT_*` variable. The only
//! module that knows clap; it turns arguments and environment into a
//! validated `Config` or a usage error (exit 2).

use std::ffi::OsString;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use log::LevelFilter;

use crate::address::{self, Request, Target};
use crate::config::{Config, Invocation, Policy};
use crate::liveness::Schedule;
use crate::parent_death::ParentDeath;
use crate::rewrite::{self, Rewrite, Rule};
use crate::signals::Signal;
use crate::status::{self, SuccessCodes};
use crate::{duration, peers, words};

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
             Durations: 10s, 1500ms, 1m30s, 2h, 0.5s, or bare seconds.\n\
             Also read when drainit's own flag and variable are unset: DUMB_INIT_SETSID=0 \
             (--single-child), TINI_VERBOSITY=0-3 and DUMB_INIT_DEBUG=1 (--log); \
             TINI_SUBREAPER and TINI_KILL_PROCESS_GROUP change nothing.",
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
        .arg(option("log", "LEVEL", "DRAINIT_LOG")
            .help("Log level: error, warn, info, debug, trace or off; -v and -q beat it")
            .default_value("info")
            // Parsed by `log_level`: -v and -q beat it, and a malformed
            // DRAINIT_LOG is then not read.
            .value_parser(value_parser!(String)))
        // tini's and dumb-init's flags that drainit lacked (README, "Moving
        // from tini or dumb-init").
        .arg(
            Arg::new("success-code")
                .short('e')
                .long("success-code")
                .value_name("CODE")
                .help("Exit 0 when the child's status (0-255, 143 for SIGTERM) is CODE; repeatable")
                .env("DRAINIT_SUCCESS_CODES")
                .value_delimiter(',')
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .value_parser(parse_code_item),
        )
        .arg(
            Arg::new("parent-death-signal")
                .short('p')
                .long("parent-death-signal")
                .value_name("SIG")
                .help("Act as if SIG was received when drainit's parent exits (shutdown if it is the stop signal)")
                .env("DRAINIT_PARENT_DEATH_SIGNAL")
                .allow_hyphen_values(true)
                .value_parser(parse_parent_death_signal),
        )
        .arg(
            Arg::new("subreaper")
                .short('s')
                .help("No effect (tini's flag): drainit always reaps, as a subreaper when not PID 1")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("kill-group")
                .short('g')
                .help("No effect (tini's flag): drainit always signals the child's process group, unless --single-child")
                .action(ArgAction::SetTrue),
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

/// One item of the success code list; a blank one adds none, as for
/// `--rewrite`.
fn parse_code_item(text: &str) -> Result<Option<u8>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    status::parse_code(text).map(Some)
}

/// Any signal drainit can wait for, and KILL, which ends drainit at once
/// as it ends tini (`tini -p SIGKILL`).
fn parse_parent_death_signal(text: &str) -> Result<Signal, String> {
    let sig = Signal::parse(text)?;
    if sig.is_never_forwarded() && sig != Signal::KILL {
        return Err(format!("{sig} cannot be received or forwarded by drainit"));
    }
    Ok(sig)
}

/// `error`, `warn`, `info`, `debug`, `trace` or `off`, any case.
fn parse_level(text: &str) -> Result<LevelFilter, String> {
    text.parse()
        .map_err(|_| "expected error, warn, info, debug, trace or off".to_string())
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

/// Why drainit stops before starting anything: `--help` or `--version`
/// (exit 0, on stdout), or a usage error (exit 2, on stderr).
#[derive(Debug)]
pub struct Exit {
    text: String,
    code: i32,
}

impl Exit {
    pub fn print(&self) -> std::io::Result<()> {
        use std::io::Write;
        if self.code == 0 {
            std::io::stdout().write_all(self.text.as_bytes())
        } else {
            std::io::stderr().write_all(self.text.as_bytes())
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

/// The text as printed.
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses the arguments (the first being the program name) and the
/// `DRAINIT_*` variables (and the peers' that drainit honours).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation, Exit> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut cmd = command_for(&args);
    let matches = match cmd.try_get_matches_from_mut(&args) {
        Ok(matches) => matches,
        Err(e) => return Err(from_clap(&cmd, &args, e)),
    };
    let usage = |text: String| Exit {
        text: format!("drainit: {text}\n"),
        code: 2,
    };
    let set = |id| matches.value_source(id) != Some(ValueSource::DefaultValue);
    let log_set = set("log") || matches.get_flag("quiet") || matches.get_count("verbose") > 0;
    let peers =
        peers::read(|name| std::env::var_os(name), set("single-child"), log_set).map_err(usage)?;
    let log_level = log_level(&matches, peers.log_level).map_err(usage)?;
    if let Some(target) = matches.get_one::<Target>("probe") {
        return Ok(Invocation::Probe {
            target: target.clone(),
            timeout: defaulted(&matches, "liveness-timeout"),
        });
    }
    Ok(Invocation::Run(Box::new(config(matches, log_level, peers))))
}

/// The definition for these arguments: the version line depends on the
/// name drainit runs under.
fn command_for(args: &[OsString]) -> Command {
    command(args.first().is_some_and(|arg0| is_docker_init(arg0)))
}

/// clap's error as drainit prints it: the first line starts with
/// `drainit:` and names what the user wrote, the flag or its variable.
fn from_clap(cmd: &Command, args: &[OsString], e: clap::Error) -> Exit {
    let code = e.exit_code();
    let mut text = e.render().to_string();
    if code == 0 {
        return Exit { text, code };
    }
    if let Some(rest) = text.strip_prefix("error: ") {
        text = format!("drainit: {rest}");
    }
    // "the following required arguments were not provided:\n  <COMMAND>..."
    if let Some((first, rest)) = text.split_once(":\n  ") {
        text = format!("{first}: {rest}");
    }
    if let Some(ContextValue::String(shown)) = e.get(ContextKind::InvalidArg)
        && let Some(arg) = cmd.get_arguments().find(|a| a.to_string() == *shown)
        && let Some(var) = variable_behind(args, arg)
    {
        text = text.replacen(&format!("'{shown}'"), &var, 1);
    }
    // clap says "invalid UTF-8 was detected in one or more arguments".
    if e.kind() == ErrorKind::InvalidUtf8
        && let Some(name) = not_utf8(args)
    {
        text = format!("drainit: invalid UTF-8 in the value of {name}\n");
    }
    Exit { text, code }
}

/// The arguments parsed again with every value of an option taken as it
/// is, to tell what clap's errors do not say: where a bad value came from.
/// The definition is built (`try_get_matches_from_mut`), so that its
/// arguments show as clap shows them (`--grace <DURATION>`).
fn lenient(args: &[OsString]) -> Option<(Command, ArgMatches)> {
    // A fresh definition: clap does not take changes to a built one.
    let mut cmd = command_for(args);
    let ids: Vec<_> = cmd
        .get_arguments()
        .filter(|a| a.get_env().is_some())
        .map(|a| a.get_id().clone())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| a.value_parser(value_parser!(OsString)));
    }
    let matches = cmd.try_get_matches_from_mut(args).ok()?;
    Some((cmd, matches))
}

/// The variable that gave `arg` its (bad) value, when the user set the
/// variable and not the flag.
fn variable_behind(args: &[OsString], arg: &Arg) -> Option<String> {
    let var = arg.get_env()?.to_string_lossy().into_owned();
    let (_, matches) = lenient(args)?;
    (matches.value_source(arg.get_id().as_str()) == Some(ValueSource::EnvVariable)).then_some(var)
}

/// The flag or variable whose value is not UTF-8.
fn not_utf8(args: &[OsString]) -> Option<String> {
    let (cmd, matches) = lenient(args)?;
    let arg = cmd
        .get_arguments()
        .filter(|a| a.get_env().is_some())
        .find(|a| {
            let id = a.get_id().as_str();
            matches
                .get_raw(id)
                .is_some_and(|mut values| values.any(|v| v.to_str().is_none()))
        })?;
    Some(match matches.value_source(arg.get_id().as_str()) {
        Some(ValueSource::EnvVariable) => arg.get_env()?.to_string_lossy().into_owned(),
        _ => format!("'{arg}'"),
    })
}

/// Whether drainit runs under Docker's name for its init: dockerd execs
/// `--init-path` as given, and mounts it at `/sbin/docker-init` in the
/// container, so the basename is the only sign.
fn is_docker_init(arg0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(arg0)
        .file_name()
        .is_some_and(|name| name == "docker-init")
}

/// `-q`, `-v`, `-vv` beat `--log`/`DRAINIT_LOG`, which beat the peers'
/// variables (read only when neither is set), which beat `--log`'s
/// default.
fn log_level(matches: &ArgMatches, peers: Option<LevelFilter>) -> Result<LevelFilter, String> {
    if matches.get_flag("quiet") {
        return Ok(LevelFilter::Error);
    }
    match matches.get_count("verbose") {
        0 => {}
        1 => return Ok(LevelFilter::Debug),
        _ => return Ok(LevelFilter::Trace),
    }
    let log_given = matches.value_source("log") != Some(ValueSource::DefaultValue);
    if let Some(level) = peers.filter(|_| !log_given) {
        return Ok(level);
    }
    let text: String = defaulted(matches, "log");
    parse_level(&text).map_err(|why| {
        let name = match matches.value_source("log") {
            Some(ValueSource::EnvVariable) => "DRAINIT_LOG",
            _ => "'--log <LEVEL>'",
        };
        format!("invalid value '{text}' for {name}: {why}")
    })
}

/// The value of an option with a default: clap always has one, given,
/// from its variable, or the default; the default is written once, in
/// `command`.
fn defaulted<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> T {
    matches
        .get_one::<T>(id)
        .cloned()
        .expect("an option with a default always has a value")
}

fn config(mut matches: ArgMatches, log_level: LevelFilter, peers: peers::Peers) -> Config {
    let duration = |m: &ArgMatches, id: &str| m.get_one::<Duration>(id).copied();
    let policy = Policy {
        stop_signal: defaulted(&matches, "stop-signal"),
        rewrite: Rewrite::new(
            matches
                .remove_many::<Option<Rule>>("rewrite")
                .map(|items| items.flatten().collect())
                .unwrap_or_default(),
        ),
        drain_exec: matches.remove_one("drain-exec").unwrap_or_default(),
        drain_timeout: defaulted(&matches, "drain-timeout"),
        prestop_sleep: defaulted(&matches, "prestop-sleep"),
        grace: duration(&matches, "grace"),
        single_child: matches.get_flag("single-child") || peers.single_child,
        drain_http: matches
            .remove_one::<Option<Request>>("drain-http")
            .flatten(),
        liveness: matches.remove_one::<Target>("liveness").map(|target| {
            let schedule = Schedule {
                interval: defaulted(&matches, "liveness-interval"),
                timeout: defaulted(&matches, "liveness-timeout"),
                failures: defaulted(&matches, "liveness-failures"),
                start: defaulted(&matches, "liveness-start"),
            };
            (target, schedule)
        }),
        success_codes: SuccessCodes::new(
            matches
                .remove_many::<Option<u8>>("success-code")
                .map(|items| items.flatten().collect())
                .unwrap_or_default(),
        ),
    };
    Config {
        command: matches
            .remove_many("command")
            .map(Iterator::collect)
            .unwrap_or_default(),
        policy,
        ready_listen: matches.get_one("ready-listen").copied(),
        log_level,
        parent_death: matches
            .get_one::<Signal>("parent-death-signal")
            .map(|&sig| ParentDeath::of_current_parent(sig)),
        notes: peers.notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Config, Exit> {
        parse_invocation(args).map(|invocation| match invocation {
            Invocation::Run(config) => *config,
            Invocation::Probe { .. } => panic!("{args:?} is a probe"),
        })
    }

    fn parse_invocation(args: &[&str]) -> Result<Invocation, Exit> {
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
    fn tinis_flags_are_accepted() {
        let c =
            parse_args(&["-e", "143", "-e", "3,4", "-p", "sigusr1", "-s", "-g", "app"]).unwrap();
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
        let err = parse(args).unwrap_err().to_string();
        assert_eq!(
            err,
            "drainit: invalid UTF-8 in the value of '--grace <DURATION>'\n"
        );
    }

    #[test]
    fn the_log_level_flags_beat_log_which_beats_the_peers() {
        let level = |args: &[&str], peers: Option<LevelFilter>| {
            let mut cmd = command(false);
            let matches = cmd
                .try_get_matches_from_mut(["drainit"].iter().chain(args).chain(&["app"]))
                .unwrap();
            log_level(&matches, peers).unwrap()
        };
        let debug = Some(LevelFilter::Debug);
        assert_eq!(level(&[], None), LevelFilter::Info);
        assert_eq!(level(&[], debug), LevelFilter::Debug);
        assert_eq!(level(&["--log", "WARN"], debug), LevelFilter::Warn);
        assert_eq!(level(&["--log", "off", "-v"], None), LevelFilter::Debug);
        assert_eq!(level(&["-vv"], debug), LevelFilter::Trace);
        assert_eq!(level(&["-q"], debug), LevelFilter::Error);
        let mut cmd = command(false);
        let matches = cmd
            .try_get_matches_from_mut(["drainit", "--log", "loud", "app"])
            .unwrap();
        assert_eq!(
            log_level(&matches, None).unwrap_err(),
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
}
