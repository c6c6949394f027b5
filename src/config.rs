//! The validated configuration every other module sees, built once from
//! the command line and the `DRAINIT_*` variables by `cli`.

use std::ffi::OsString;

use log::LevelFilter;

use crate::shutdown::Policy;

/// Everything drainit was asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    /// COMMAND and its arguments, byte for byte; never empty.
    pub command: Vec<OsString>,
    /// How to stop: signals, rewrites, durations.
    pub policy: Policy,
    /// How much to log.
    pub log_level: LevelFilter,
}
