//! Building the validated `Config` from clap's matches: the one place
//! that turns parsed options into the settings every other module sees
//! (as hyperfine's `Options::from_cli_arguments`).

use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use log::LevelFilter;

use super::environment::FromVariables;
use super::values::parse_level;
use crate::address::{Request, Target};
use crate::config::{Config, Policy};
use crate::liveness::Schedule;
use crate::parent_death::ParentDeath;
use crate::peers;
use crate::rewrite::{Rewrite, Rule};
use crate::signals::Signal;
use crate::status::SuccessCodes;

/// `-q`, `-v`, `-vv` beat `--log`/`DRAINIT_LOG`, which beat the peers'
/// variables (read only when neither is set), which beat `--log`'s
/// default.
pub(super) fn log_level(
    matches: &ArgMatches,
    from: &FromVariables,
    peers: Option<LevelFilter>,
) -> Result<LevelFilter, String> {
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
        let name = from.variable("log").unwrap_or("'--log <LEVEL>'");
        format!("invalid value '{text}' for {name}: {why}")
    })
}

/// The value of an option with a default: clap always has one, given,
/// from its variable, or the default; the default is written once, in
/// `command`.
pub(super) fn defaulted<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> T {
    matches
        .get_one::<T>(id)
        .cloned()
        .expect("an option with a default always has a value")
}

/// The `Config` of a supervising drainit.
pub(super) fn config(
    mut matches: ArgMatches,
    log_level: LevelFilter,
    peers: peers::Peers,
) -> Config {
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
        stop_scope: defaulted(&matches, "stop-scope"),
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
        keep_terminal: matches.get_flag("keep-terminal"),
        log_level,
        parent_death: matches
            .get_one::<Signal>("parent-death-signal")
            .map(|&sig| ParentDeath::of_current_parent(sig)),
        notes: peers.notes,
    }
}
