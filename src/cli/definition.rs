//! The clap definition: every flag, its `DRAINIT_*` variable, its
//! default and its help. The one place that says what drainit accepts.

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command, value_parser};

use super::values;
use crate::target::StopScope;
use crate::{address, duration, rewrite, words};

/// What `--version` prints after `drainit `: the contract's `drainit X.Y.Z`.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The same with a ` - git.drainit` suffix, for when drainit is installed
/// as Docker's init (`dockerd --init-path .../docker-init`). dockerd runs
/// `docker-init --version` for `docker info` and parses it with
/// `parseInitVersion` (moby daemon/info_unix.go), which wants tini's
/// `tini version 0.18.0 - git.fec3683`: without a ` - git.COMMIT` part (no
/// dot in COMMIT) it logs "failed to parse ... unknown output format" and
/// `docker info` shows no init version. With it, `init version: drainit`.
const DOCKER_INIT_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " - git.drainit");

/// The clap definition. `docker_init` picks the version line Docker parses.
/// The flags are added in groups, each by a function of its own
/// (`#[inline(never)]`): as one chain, the clap values built on the way
/// took a 32 KiB stack frame, every page of it touched by the stack probe
/// and resident for drainit's whole life (docs/benchmarks.md, "Memory").
pub(super) fn command(docker_init: bool) -> Command {
    let cmd = Command::new("drainit")
        .version(if docker_init {
            DOCKER_INIT_VERSION
        } else {
            VERSION
        })
        .about("A PID-1 init for containers that reaps zombies, forwards signals, and drains before it stops")
        .override_usage("drainit [OPTIONS] [--] COMMAND [ARG...]")
        .after_help(
            "On the stop signal: 1. make the drain request (--drain-http), then run the drain hook \
             (the two together at most --drain-timeout), \
             2. sleep --prestop-sleep, 3. send the (rewritten) stop signal to the child's \
             process group, 4. SIGKILL the group after --grace.\n\
             Durations: 10s, 1500ms, 1m30s, 2h, 0.5s, or bare seconds.\n\
             Also read when drainit's own flag and variable are unset: DUMB_INIT_SETSID=0 \
             (--single-child), TINI_VERBOSITY=0-3 and DUMB_INIT_DEBUG=1 (--log); \
             TINI_SUBREAPER and TINI_KILL_PROCESS_GROUP change nothing.",
        );
    let cmd = signal_args(cmd);
    let cmd = sequence_args(cmd);
    let cmd = health_args(cmd);
    let cmd = log_args(cmd);
    peer_args(cmd)
}

/// `--rewrite`, `--single-child`, `--keep-terminal`, `--stop-scope`,
/// `--stop-signal`.
#[inline(never)]
fn signal_args(cmd: Command) -> Command {
    cmd.arg(
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
            .value_parser(values::parse_rewrite_item),
    )
    .arg(
        Arg::new("single-child")
            .short('c')
            .long("single-child")
            .help("Signal the child only, not its process group")
            .env("DRAINIT_SINGLE_CHILD")
            .action(ArgAction::SetTrue)
            .value_parser(values::parse_bool),
    )
    .arg(
        Arg::new("keep-terminal")
            .long("keep-terminal")
            .help("Keep the terminal's foreground group: its signals (a resize's WINCH, Ctrl-C) come to drainit and go through --rewrite; the child cannot read the terminal")
            .env("DRAINIT_KEEP_TERMINAL")
            .action(ArgAction::SetTrue)
            .value_parser(values::parse_bool),
    )
    .arg(
        Arg::new("stop-scope")
            .long("stop-scope")
            .value_name("SCOPE")
            .help("Who gets the stop signal: group (the child's process group), or children (drainit's own children in it: the child, then what it leaves behind when it dies; never their children, e.g. a worker pool)")
            .env("DRAINIT_STOP_SCOPE")
            .default_value("group")
            .value_parser(StopScope::parse),
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
}

/// The shutdown sequence: the hook, the pre-stop sleep, the grace.
#[inline(never)]
fn sequence_args(cmd: Command) -> Command {
    cmd
        .arg(option("drain-exec", "COMMAND", "DRAINIT_DRAIN_EXEC")
            .help("Drain hook run on the stop signal, split into words like a shell would (no shell is run)")
            .value_parser(words::split))
        .arg(option("drain-timeout", "DURATION", "DRAINIT_DRAIN_TIMEOUT")
            .help("Longest time for step 1, the drain request and the drain hook together; then the request is abandoned and the hook's group gets SIGKILL")
            .default_value("30s"))
        .arg(option("prestop-sleep", "DURATION", "DRAINIT_PRESTOP_SLEEP")
            .help("Time to wait after the hook, before the stop signal is forwarded")
            .default_value("0"))
        .arg(option("grace", "DURATION", "DRAINIT_GRACE")
            .help("After the stop signal, SIGKILL the group if anything is left this long (without it: wait as long as it takes; 10s after a liveness stop)"))
}

/// Readiness, the drain request, liveness.
#[inline(never)]
fn health_args(cmd: Command) -> Command {
    cmd
        .arg(option("ready-listen", "ADDR", "DRAINIT_READY_LISTEN")
            .help("Answer HTTP health checks on ADDR (HOST:PORT, [IPV6]:PORT or :PORT): 200 while the app runs, 503 once a stop begins")
            .value_parser(address::parse_listen))
        .arg(option("drain-http", "[METHOD ]URL", "DRAINIT_DRAIN_HTTP")
            .help("Step 1 first makes this HTTP request (e.g. \"PUT http://eureka:8761/...\"), before the drain hook")
            .value_parser(values::parse_drain_http))
        .arg(option("liveness", "URL", "DRAINIT_LIVENESS")
            .help("Probe the app (tcp://HOST:PORT or http://HOST[:PORT][/PATH]); after --liveness-failures failures in a row, stop it and exit 75")
            .value_parser(address::parse_target))
        .arg(option("liveness-interval", "DURATION", "DRAINIT_LIVENESS_INTERVAL")
            .help("Time between liveness probes")
            .default_value("10s")
            .value_parser(values::positive_duration))
        .arg(option("liveness-timeout", "DURATION", "DRAINIT_LIVENESS_TIMEOUT")
            .help("Longest time one probe may take (also for --probe)")
            .default_value("1s")
            .value_parser(values::positive_duration))
        .arg(option("liveness-failures", "N", "DRAINIT_LIVENESS_FAILURES")
            .help("Consecutive failed probes that stop the app")
            .default_value("3")
            .value_parser(value_parser!(u32).range(1..)))
        .arg(option("liveness-start", "DURATION", "DRAINIT_LIVENESS_START")
            .help("Failures this soon after the app's start do not count (a pass ends this period)")
            .default_value("0"))
}

/// `--probe` and the log level.
#[inline(never)]
fn log_args(cmd: Command) -> Command {
    cmd
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
}

/// tini's and dumb-init's flags, and the command.
#[inline(never)]
fn peer_args(cmd: Command) -> Command {
    cmd
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
                .value_parser(values::parse_code_item),
        )
        .arg(
            Arg::new("parent-death-signal")
                .short('p')
                .long("parent-death-signal")
                .value_name("SIG")
                .help("Act as if SIG was received when drainit's parent exits (shutdown if it is the stop signal)")
                .env("DRAINIT_PARENT_DEATH_SIGNAL")
                .allow_hyphen_values(true)
                .value_parser(values::parse_parent_death_signal),
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

/// The definition for these arguments: the version line depends on the
/// name drainit runs under.
pub(super) fn command_for(args: &[OsString]) -> Command {
    command(args.first().is_some_and(|arg0| is_docker_init(arg0)))
}

/// Whether drainit runs under Docker's name for its init: dockerd execs
/// `--init-path` as given, and mounts it at `/sbin/docker-init` in the
/// container, so the basename is the only sign. Taken from the bytes, as
/// `Path::file_name` would (trailing `/` and `.` left out): std's path
/// code sits among its cold code, whose pages an idle drainit then need
/// not touch (docs/benchmarks.md, "Memory").
pub(super) fn is_docker_init(arg0: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let mut parts = arg0.as_bytes().split(|&b| b == b'/');
    parts.rfind(|part| !part.is_empty() && *part != b".") == Some(&b"docker-init"[..])
}
