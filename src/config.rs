//! The validated configuration every other module sees, built once from
//! the command line and the `DRAINIT_*` variables by `cli`.

use std::ffi::OsString;

use log::LevelFilter;

use crate::parent_death::ParentDeath;
use crate::shutdown::Policy;
use crate::status::SuccessCodes;

/// Everything drainit was asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    /// COMMAND and its arguments, byte for byte; never empty.
    pub command: Vec<OsString>,
    /// How to stop: signals, rewrites, durations.
    pub policy: Policy,
    /// How much to log.
    pub log_level: LevelFilter,
    /// The child's statuses reported as 0.
    pub success_codes: SuccessCodes,
    /// `--parent-death-signal`.
    pub parent_death: Option<ParentDeath>,
    /// What the peers' variables changed, for the debug log once logging
    /// is set up.
    pub notes: Vec<String>,
}

impl Config {
    /// Logs the notes taken while parsing.
    pub fn log_notes(&self) {
        for note in &self.notes {
            log::debug!("{note}");
        }
    }
}
