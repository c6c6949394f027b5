//! Start-up, in order: become a subreaper, bind the readiness endpoint,
//! start the child, let go of what drainit inherited.
//!
//! Phase rule (catatonit): before the child starts any failure is fatal,
//! with the documented exit codes; after it, drainit logs and carries on,
//! because a dying PID 1 takes the whole container with it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;
use crate::ready::{Readiness, ReadyServer};
use crate::wait::{InheritedMask, SignalSource};
use crate::{parent_death, reaper, spawn};

/// A failure before the child started: a message and an exit code.
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    pub code: i32,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn failed(what: &str, cause: impl fmt::Display) -> StartError {
    StartError {
        message: format!("failed to {what}: {cause}"),
        code: 1,
    }
}

/// The readiness endpoint could not listen. A port below 1024 refused to a
/// user without NET_BIND_SERVICE (a restricted pod) also says what to do.
fn listen_failed(addr: SocketAddr, e: &io::Error) -> StartError {
    let mut cause = spawn::describe(e);
    if e.raw_os_error() == Some(libc::EACCES) && addr.port() < 1024 {
        cause.push_str(
            " (ports below 1024 need root or the NET_BIND_SERVICE capability): \
             use a port of 1024 or more, or grant NET_BIND_SERVICE",
        );
    }
    failed(&format!("listen on {addr}"), cause)
}

/// What the supervisor takes over once the child runs.
pub struct Started {
    pub child: libc::pid_t,
    /// The caller's working directory, where the hook runs (drainit
    /// itself moves to `/`); not read without a hook.
    pub cwd: Option<PathBuf>,
    pub ready: Option<ReadyServer>,
}

/// Starts the child as `config` says; `signals` were blocked first thing.
pub fn start(
    config: &Config,
    signals: &mut SignalSource,
    mask: InheritedMask,
) -> Result<Started, StartError> {
    reaper::register();
    reaper::hear_children();
    parent_death::arm(config.parent_death)
        .map_err(|e| failed("ask for the parent death signal", e.desc()))?;
    let ready = match config.ready_listen {
        // Readiness is set by the supervisor once the child has started.
        Some(addr) => Some(
            ReadyServer::bind(addr, Readiness::NotReady).map_err(|e| listen_failed(addr, &e))?,
        ),
        None => None,
    };
    let health =
        ready.is_some() || config.policy.drain_http.is_some() || config.policy.liveness.is_some();
    if health {
        signals
            .watch_sockets()
            .map_err(|e| failed("watch signals", spawn::describe(&e)))?;
    }
    // Only the hook runs there: without one, no getcwd(2) at start-up.
    let cwd = if config.policy.has_hook() {
        std::env::current_dir().ok()
    } else {
        None
    };
    let dir = spawn::CallerDir::take();
    let child = spawn::child(&config.command, &dir, mask, config.keep_terminal).map_err(|e| {
        StartError {
            message: e.to_string(),
            code: e.exit_code(),
        }
    })?;
    dir.leave();
    log::debug!("started child {child}");
    let keep: Vec<_> = ready
        .iter()
        .map(ReadyServer::raw_fd)
        .chain(signals.raw_fd())
        .collect();
    spawn::release_inherited(&keep);
    Ok(Started { child, cwd, ready })
}
