//! Why drainit stops before it starts: `--help`, `--version`, or a usage
//! error whose first line starts with `drainit:` and names what the user
//! wrote, the flag or the variable.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgMatches, Command, value_parser};

use super::definition::command_for;
use super::environment::{FromVariables, Variables};

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

/// A usage error: `drainit: TEXT`, exit 2.
pub(super) fn usage(text: String) -> Exit {
    Exit {
        text: format!("drainit: {text}\n"),
        code: 2,
    }
}

/// A usage error followed by clap's hint, as clap's own errors are.
pub(super) fn usage_with_hint(text: String) -> Exit {
    usage(format!("{text}\n\nFor more information, try '--help'."))
}

/// The text as printed.
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// clap's error as drainit prints it: the first line starts with
/// `drainit:` and names what the user wrote, the flag or its variable
/// (`from` says which options got their value from a variable).
pub(super) fn from_clap(
    cmd: &Command,
    args: &[OsString],
    from: &FromVariables,
    e: clap::Error,
) -> Exit {
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
        && let Some(var) = from.variable(arg.get_id().as_str())
    {
        text = text.replacen(&format!("'{shown}'"), var, 1);
    }
    // clap says "invalid UTF-8 was detected in one or more arguments"
    // (a variable's value is checked before clap sees it).
    if e.kind() == ErrorKind::InvalidUtf8
        && let Some(name) = not_utf8(args)
    {
        text = format!("drainit: invalid UTF-8 in the value of {name}\n");
    }
    Exit { text, code }
}

/// The arguments parsed again with every option's value taken as it is,
/// to tell what clap's errors do not say. The definition is built
/// (`try_get_matches_from_mut`), so that its arguments show as clap shows
/// them (`--grace <DURATION>`).
fn lenient(args: &[OsString]) -> Option<(Command, ArgMatches)> {
    // A fresh definition: clap does not take changes to a built one.
    let (mut cmd, _) = Variables::detach(command_for(args), &|_| None);
    let ids: Vec<_> = options(&cmd).map(|a| a.get_id().clone()).collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| a.value_parser(value_parser!(OsString)));
    }
    let matches = cmd.try_get_matches_from_mut(args).ok()?;
    Some((cmd, matches))
}

/// The options that take a value (COMMAND's words are not UTF-8-checked).
fn options(cmd: &Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional() && a.get_action().takes_values())
}

/// The flag whose value is not UTF-8.
fn not_utf8(args: &[OsString]) -> Option<String> {
    let (cmd, matches) = lenient(args)?;
    let arg = options(&cmd).find(|a| {
        matches
            .get_raw(a.get_id().as_str())
            .is_some_and(|mut values| values.any(|v| v.to_str().is_none()))
    })?;
    Some(format!("'{arg}'"))
}
