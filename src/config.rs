//! The validated configuration every other module sees, built once from
//! the command line and the `DRAINIT_*` variables by `cli`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use log::LevelFilter;

use crate::address::{Request, Target};
use crate::liveness::Schedule;
use crate::parent_death::ParentDeath;
use crate::rewrite::Rewrite;
use crate::signals::Signal;
use crate::status::SuccessCodes;
use crate::target::StopScope;

/// What drainit was asked to do.
#[derive(Clone, Debug)]
pub enum Invocation {
    /// Supervise COMMAND.
    Run(Box<Config>),
    /// `--probe URL`: one check, then exit 0 or 1.
    Probe { target: Target, timeout: Duration },
}

/// Everything a supervising drainit was asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    /// COMMAND and its arguments, byte for byte; never empty.
    pub command: Vec<OsString>,
    /// How to stop: signals, rewrites, durations, health checks.
    pub policy: Policy,
    /// `--ready-listen`: where the readiness endpoint listens.
    pub ready_listen: Option<SocketAddr>,
    /// `--keep-terminal`: the child does not take the terminal, so the
    /// terminal's signals (a resize's WINCH, Ctrl-C) come to drainit.
    pub keep_terminal: bool,
    /// How much to log.
    pub log_level: LevelFilter,
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

/// What the configuration says about stopping.
#[derive(Clone, Debug)]
pub struct Policy {
    pub stop_signal: Signal,
    pub rewrite: Rewrite,
    /// The drain hook's words; empty means no hook.
    pub drain_exec: Vec<String>,
    /// The drain request made before the hook.
    pub drain_http: Option<Request>,
    pub drain_timeout: Duration,
    pub prestop_sleep: Duration,
    pub grace: Option<Duration>,
    pub single_child: bool,
    /// `--stop-scope`: who gets the stop signal.
    pub stop_scope: StopScope,
    /// The liveness watchdog: what to probe, and how often.
    pub liveness: Option<(Target, Schedule)>,
    /// The child's statuses reported as 0.
    pub success_codes: SuccessCodes,
}

impl Policy {
    /// Whether step 1 runs a drain hook.
    pub fn has_hook(&self) -> bool {
        !self.drain_exec.is_empty()
    }
}
