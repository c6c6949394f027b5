//! The event loop: waits for the next signal or deadline, feeds the
//! shutdown state machine, and performs its actions.
//!
//! Phase rule (catatonit): before the child starts any failure is fatal;
//! after it, drainit logs and carries on, because a dying PID 1 takes the
//! whole container with it.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use nix::errno::Errno;

use crate::config::Config;
use crate::shutdown::{Action, Event, GroupKill, HookKill, Shutdown};
use crate::signals::Signal;
use crate::sigwait::{InheritedMask, SignalSource};
use crate::status::ChildStatus;
use crate::{reaper, spawn};

/// While only the rest of the child's group is awaited, how often drainit
/// checks that it is still there. Its last member may be reaped by a parent
/// outside the group, which sends drainit no SIGCHLD; this is the only
/// periodic wake-up, and it never happens while the child lives.
const GROUP_RECHECK: Duration = Duration::from_millis(100);

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

/// Starts the child and supervises it until drainit must exit; returns the
/// exit code (the child's status).
pub fn run(
    config: Config,
    (signals, mask): (SignalSource, InheritedMask),
) -> Result<i32, StartError> {
    reaper::register();
    // The hook runs in the caller's directory, which drainit leaves.
    let cwd = std::env::current_dir().ok();
    let child = spawn::child(&config.command, mask).map_err(|e| StartError {
        message: e.to_string(),
        code: e.exit_code(),
    })?;
    debug!("started child {child}");
    spawn::release_inherited();
    let machine = Shutdown::new(config.policy.clone());
    let mut supervisor = Supervisor {
        config,
        machine,
        signals,
        mask,
        cwd,
        child,
        child_alive: true,
        hook: None,
        exit: None,
        self_pid: nix::unistd::getpid().as_raw(),
    };
    Ok(supervisor.run())
}

struct Supervisor {
    config: Config,
    machine: Shutdown,
    signals: SignalSource,
    mask: InheritedMask,
    cwd: Option<PathBuf>,
    child: libc::pid_t,
    child_alive: bool,
    /// The drain hook while it runs (its pid is also its group's id).
    hook: Option<libc::pid_t>,
    exit: Option<ChildStatus>,
    self_pid: libc::pid_t,
}

impl Supervisor {
    fn run(&mut self) -> i32 {
        loop {
            let received = match self.signals.next(self.timeout()) {
                Ok(received) => received,
                Err(e) => {
                    log::error!("failed to wait for signals: {}", spawn::describe(&e));
                    None
                }
            };
            if let Some(r) = received {
                // A signal drainit raised itself, e.g. SIGPIPE from logging
                // to a closed pipe, is not the caller's to pass on. Nor is
                // it logged: that write would raise the next SIGPIPE, and
                // drainit would spin on them, never taking another signal
                // (a thread's own signals are taken before the process's).
                let own = r.sender == self.self_pid && r.code == libc::SI_USER;
                if r.signal == Signal::CHLD {
                    self.reap();
                } else if !own {
                    self.feed(Event::Signal(r.signal));
                }
            }
            // Also after a signal: a storm must not postpone deadlines.
            self.feed(Event::Tick);
            if self.machine.awaits_group() && self.group_gone() {
                self.feed(Event::GroupGone);
            }
            if let Some(status) = self.exit {
                return status.exit_code();
            }
        }
    }

    /// How long to wait for the next signal: until the nearest deadline,
    /// or forever when there is none.
    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let deadline = self
            .machine
            .deadline()
            .map(|t| t.saturating_duration_since(now));
        if self.machine.awaits_group() {
            return Some(deadline.map_or(GROUP_RECHECK, |d| d.min(GROUP_RECHECK)));
        }
        deadline
    }

    fn reap(&mut self) {
        let mut exits = Vec::new();
        reaper::reap_all(|pid, status| exits.push((pid, status)));
        for (pid, status) in exits {
            if pid == self.child {
                self.child_alive = false;
                self.feed(Event::ChildExited(status));
            } else if Some(pid) == self.hook {
                self.hook = None;
                self.log_hook_end(status);
                self.feed(Event::HookEnded);
            } else {
                debug!("reaped process {pid} ({})", describe_status(status));
            }
        }
    }

    fn log_hook_end(&self, status: ChildStatus) {
        if !matches!(
            self.machine.phase(),
            crate::shutdown::Phase::Draining { .. }
        ) {
            debug!(
                "drain hook ended after it was killed ({})",
                describe_status(status)
            );
        } else if status == ChildStatus::Exited(0) {
            info!("drain hook finished");
        } else {
            warn!("drain hook failed ({}); going on", describe_status(status));
        }
    }

    /// Feeds an event and performs the resulting actions, and those of any
    /// event they cause in turn.
    fn feed(&mut self, event: Event) {
        let mut events = VecDeque::from([event]);
        while let Some(event) = events.pop_front() {
            for action in self.machine.handle(event, Instant::now()) {
                events.extend(self.perform(action));
            }
        }
    }

    fn perform(&mut self, action: Action) -> Option<Event> {
        let policy = &self.config.policy;
        match action {
            Action::BeginShutdown(sig) => info!("received {sig}: starting the shutdown sequence"),
            Action::StartHook => return self.start_hook(),
            Action::KillHook(why) => self.kill_hook(why),
            Action::Sleep(d) => info!("sleeping {d:?} before forwarding {}", policy.stop_signal),
            Action::SendStop(Some(sig)) => {
                if self.send(sig) {
                    info!("forwarded {sig} to {}", self.target_name());
                }
                if let Some(grace) = self.config.policy.grace {
                    debug!("grace period: {grace:?}");
                }
            }
            Action::SendStop(None) => info!(
                "{} is rewritten to 0: not forwarding it",
                policy.stop_signal
            ),
            Action::Forward(sig) => {
                if self.send(sig) {
                    debug!("forwarded {sig} to {}", self.target_name());
                }
            }
            Action::StopLeftovers(sig) => {
                if let Some(sig) = sig
                    && self.kill_group(sig)
                {
                    info!("child has exited: sent {sig} to the rest of its process group");
                }
            }
            Action::KillGroup(why) => {
                let grace = policy.grace.unwrap_or(crate::shutdown::LEFTOVER_WAIT);
                let target = self.target_name();
                if self.send(Signal::KILL) {
                    match why {
                        GroupKill::GraceExpired => {
                            warn!("grace period of {grace:?} is over: sent SIGKILL to {target}")
                        }
                        GroupKill::LeftoversStayed => {
                            warn!("the rest of {target} outstayed {grace:?}: sent SIGKILL")
                        }
                    }
                }
            }
            Action::Exit(status) => {
                if let Some(hook) = self.hook {
                    kill(-hook, Signal::KILL);
                }
                let message = format!(
                    "child {}; exiting with {}",
                    describe_status(status),
                    status.exit_code()
                );
                if self.machine.stop_received() {
                    info!("{message}");
                } else {
                    debug!("{message}");
                }
                self.exit = Some(status);
            }
        }
        None
    }

    fn start_hook(&mut self) -> Option<Event> {
        let words = &self.config.policy.drain_exec;
        let line = words.join(" ");
        let stop = self.config.policy.stop_signal;
        let extra = [
            ("DRAINIT_CHILD_PID", self.child.to_string()),
            ("DRAINIT_SIGNAL", stop.to_string()),
        ];
        match spawn::hook(words, self.cwd.as_deref(), self.mask, &extra) {
            Ok(pid) => {
                info!(
                    "running drain hook '{line}' (pid {pid}, time-out {:?})",
                    self.config.policy.drain_timeout
                );
                self.hook = Some(pid);
                None
            }
            Err(e) => {
                warn!(
                    "failed to run drain hook '{line}': {}; going on",
                    spawn::describe(&e)
                );
                Some(Event::HookEnded)
            }
        }
    }

    fn kill_hook(&mut self, why: HookKill) {
        let Some(hook) = self.hook else { return };
        kill(-hook, Signal::KILL);
        match why {
            HookKill::TimedOut => warn!(
                "drain hook timed out after {:?}: killed its process group; going on",
                self.config.policy.drain_timeout
            ),
            HookKill::SecondStop => {
                info!("second stop signal: killed the drain hook; forwarding at once")
            }
            HookKill::ChildExited => info!("child exited during the drain hook: killed the hook"),
        }
    }

    /// Sends `sig` to the child's group (to the child alone with
    /// `--single-child`). True when it reached someone.
    fn send(&self, sig: Signal) -> bool {
        if self.config.policy.single_child {
            return self.child_alive && kill(self.child, sig);
        }
        // A child that left its group (setsid) still gets the signal.
        self.kill_group(sig) || (self.child_alive && kill(self.child, sig))
    }

    fn kill_group(&self, sig: Signal) -> bool {
        kill(-self.child, sig)
    }

    fn group_gone(&self) -> bool {
        // SAFETY: signal 0 only checks that the group exists.
        let rc = unsafe { libc::kill(-self.child, 0) };
        rc == -1 && Errno::last() == Errno::ESRCH
    }

    fn target_name(&self) -> String {
        if self.config.policy.single_child {
            format!("child {}", self.child)
        } else {
            format!("process group {}", self.child)
        }
    }
}

/// `kill(2)` that logs failures other than "no such process". `pid` is
/// never -1 or 0: drainit never signals outside the child's group.
fn kill(pid: libc::pid_t, sig: Signal) -> bool {
    if pid == -1 || pid == 0 {
        return false;
    }
    // SAFETY: plain syscall on a positive pid or a negative group id.
    if unsafe { libc::kill(pid, sig.raw()) } == 0 {
        return true;
    }
    match Errno::last() {
        Errno::ESRCH => debug!("no process left to receive {sig} ({pid})"),
        e => warn!("failed to send {sig} to {pid}: {}", e.desc()),
    }
    false
}

/// "exited with status 3", "was killed by SIGTERM".
fn describe_status(status: ChildStatus) -> String {
    match status {
        ChildStatus::Exited(code) => format!("exited with status {code}"),
        ChildStatus::Signaled(n) => match Signal::from_raw(n) {
            Some(sig) => format!("was killed by {sig}"),
            None => format!("was killed by signal {n}"),
        },
    }
}
