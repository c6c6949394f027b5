//! The command line: every flag with its `DRAINIT_*` variable. The only
//! module that knows clap; it turns arguments and an environment into a
//! validated `Config` or a usage error (exit 2). Split as hyperfine splits
//! its `cli.rs` and `options.rs`:
//!
//! | module | owns |
//! | --- | --- |
//! | `definition` | the clap definition: flags, variables, defaults, help |
//! | `values` | the values no other module parses (booleans, levels, codes...) |
//! | `environment` | the variables, read from the environment `parse` is given |
//! | `errors` | `Exit`: help, version, usage errors naming what was written |
//! | `build` | the validated `Config` built from clap's matches |

mod build;
mod definition;
mod environment;
mod errors;
#[cfg(test)]
mod tests;
mod values;

use std::ffi::OsString;

use clap::parser::ValueSource;

use crate::address::Target;
use crate::config::Invocation;
use crate::peers;
use environment::Variables;
pub use errors::Exit;

/// Where the variables come from: `std::env::var_os` for drainit itself,
/// a table of the test's own in unit tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Parses the arguments (the first being the program name) and the
/// `DRAINIT_*` variables (and the peers' that drainit honours) of `env`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I, env: Env) -> Result<Invocation, Exit> {
    let args: Vec<OsString> = args.into_iter().collect();
    let (mut cmd, variables) = Variables::detach(definition::command_for(&args), env);
    // The command line alone first: what it gives, its variable cannot.
    let given = cmd
        .try_get_matches_from_mut(&args)
        .map_err(|e| errors::from_clap(&cmd, &args, &Default::default(), e))?;
    let (all, from) = variables.add(&args, &given, env)?;
    let matches = cmd
        .try_get_matches_from_mut(&all)
        .map_err(|e| errors::from_clap(&cmd, &args, &from, e))?;
    let set = |id| {
        from.variable(id).is_some() || matches.value_source(id) == Some(ValueSource::CommandLine)
    };
    let log_set = set("log") || matches.get_flag("quiet") || matches.get_count("verbose") > 0;
    let peers = peers::read(env, set("single-child"), log_set).map_err(errors::usage)?;
    let log_level = build::log_level(&matches, &from, peers.log_level).map_err(errors::usage)?;
    if let Some(target) = matches.get_one::<Target>("probe") {
        return Ok(Invocation::Probe {
            target: target.clone(),
            timeout: build::defaulted(&matches, "liveness-timeout"),
        });
    }
    Ok(Invocation::Run(Box::new(build::config(
        matches, log_level, peers,
    ))))
}
