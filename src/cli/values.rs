//! The values of drainit's own options that no other module parses:
//! blank list items, the drain request, positive durations, exit codes,
//! the parent-death signal, log levels and booleans.

use std::time::Duration;

use log::LevelFilter;

use crate::address::{self, Request};
use crate::rewrite::Rule;
use crate::signals::Signal;
use crate::{duration, status};

/// One item of the rewrite list; a blank one (`DRAINIT_REWRITE=""`,
/// `--rewrite ""`) adds no rule, so a flag can empty an image's list.
pub(super) fn parse_rewrite_item(text: &str) -> Result<Option<Rule>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    Rule::parse(text).map(Some)
}

/// `--drain-http`'s value; empty means no request, so that a flag can
/// switch off an image's `DRAINIT_DRAIN_HTTP`.
pub(super) fn parse_drain_http(text: &str) -> Result<Option<Request>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    address::parse_request(text).map(Some)
}

/// A duration that is not zero: a probe interval or time-out of 0 would
/// probe without pause, or fail every probe.
pub(super) fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration::parse(text)? {
        d if d.is_zero() => Err("must be more than 0".to_string()),
        d => Ok(d),
    }
}

/// One item of the success code list; a blank one adds none, as for
/// `--rewrite`.
pub(super) fn parse_code_item(text: &str) -> Result<Option<u8>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    status::parse_code(text).map(Some)
}

/// Any signal drainit can wait for, and KILL, which ends drainit at once
/// as it ends tini (`tini -p SIGKILL`).
pub(super) fn parse_parent_death_signal(text: &str) -> Result<Signal, String> {
    let sig = Signal::parse(text)?;
    if sig.is_never_forwarded() && sig != Signal::KILL {
        return Err(format!("{sig} cannot be received or forwarded by drainit"));
    }
    Ok(sig)
}

/// `error`, `warn`, `info`, `debug`, `trace` or `off`, any case.
pub(super) fn parse_level(text: &str) -> Result<LevelFilter, String> {
    text.parse()
        .map_err(|_| "expected error, warn, info, debug, trace or off".to_string())
}

/// Booleans for the `DRAINIT_*` variables: `1/true/yes/on` and
/// `0/false/no/off` or empty, any case.
pub(super) fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected 1, true, yes, on, or 0, false, no, off, or empty".into()),
    }
}
