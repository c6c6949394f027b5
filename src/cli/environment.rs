//! The `DRAINIT_*` variables, read from the environment `parse` is given
//! and never from the process's own, so that a test's environment is its
//! own. clap would read the process's (`Arg::env` reads it when the
//! definition is built), so the definition's variables are taken out of
//! clap's hands: their names stay the definition's, `--help` still shows
//! them, and each variable whose option the command line does not give is
//! passed to clap as that option (`--grace=5s`), before the command line.

use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use super::Env;
use super::errors::{self, Exit};
use super::values;

/// One option's variable.
struct Variable {
    id: String,
    /// `DRAINIT_GRACE`.
    name: String,
    /// `grace`, for `--grace=VALUE`.
    long: String,
    /// False for a flag, whose variable is a boolean (`values::parse_bool`).
    takes_value: bool,
}

/// Every option's variable, taken from the definition.
pub(super) struct Variables(Vec<Variable>);

/// The options whose value came from their variable: id and variable.
#[derive(Default)]
pub(super) struct FromVariables(Vec<(String, String)>);

impl FromVariables {
    /// The variable that gave option `id` its value, if one did.
    pub(super) fn variable(&self, id: &str) -> Option<&str> {
        let (_, name) = self.0.iter().find(|(i, _)| i == id)?;
        Some(name)
    }
}

impl Variables {
    /// Takes the variables out of `cmd`, showing each in its option's help
    /// as clap would (`[env: DRAINIT_GRACE=5s]`), with its value in `env`.
    pub(super) fn detach(mut cmd: Command, env: Env) -> (Command, Variables) {
        let mut list = Vec::new();
        for arg in cmd.get_arguments() {
            let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            list.push(Variable {
                id: arg.get_id().to_string(),
                name: name.to_string_lossy().into_owned(),
                long: long.to_string(),
                takes_value: arg.get_action().takes_values(),
            });
        }
        for var in &list {
            let value = env(&var.name).unwrap_or_default();
            let shown = format!("[env: {}={}]", var.name, value.to_string_lossy());
            cmd = cmd.mut_arg(&var.id, |arg| {
                let help = match arg.get_help() {
                    Some(help) => format!("{help} {shown}"),
                    None => shown,
                };
                arg.env(None).help(help)
            });
        }
        (cmd, Variables(list))
    }

    /// `args` with each variable in `env` whose option `given` (the
    /// command line alone) lacks put in front of the options, and which
    /// options got their value so. A flag beats its variable, which is then
    /// not read at all.
    pub(super) fn add(
        &self,
        args: &[OsString],
        given: &ArgMatches,
        env: Env,
    ) -> Result<(Vec<OsString>, FromVariables), Exit> {
        let mut from = FromVariables::default();
        let mut added = Vec::new();
        for var in &self.0 {
            if given.value_source(&var.id) == Some(ValueSource::CommandLine) {
                continue;
            }
            let Some(value) = env(&var.name) else {
                continue;
            };
            let Some(text) = value.to_str() else {
                return Err(errors::usage(format!(
                    "invalid UTF-8 in the value of {}",
                    var.name
                )));
            };
            if var.takes_value {
                added.push(OsString::from(format!("--{}={text}", var.long)));
            } else {
                match values::parse_bool(text) {
                    Ok(true) => added.push(OsString::from(format!("--{}", var.long))),
                    Ok(false) => {}
                    Err(why) => {
                        let text = format!("invalid value '{text}' for {}: {why}", var.name);
                        return Err(errors::usage_with_hint(text));
                    }
                }
            }
            from.0.push((var.id.clone(), var.name.clone()));
        }
        let mut all = Vec::with_capacity(args.len() + added.len());
        all.extend(args.first().cloned());
        all.extend(added);
        all.extend(args.iter().skip(1).cloned());
        Ok((all, from))
    }
}
