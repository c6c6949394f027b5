//! The event loop: one blocking wait for the next signal, ready socket or
//! deadline; each event goes to the shutdown machine, and the loop
//! performs the actions it returns. The loop never decides: what to do,
//! with which durations and reasons, comes in the actions.
//!
//! Each batch of actions is performed first and logged after, so no
//! formatting or `write(2)` stands between a signal's arrival and the
//! `kill` that passes it on.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::poll::{PollFd, PollFlags};

use crate::address::{Request, Target};
use crate::config::Config;
use crate::events::{InheritedMask, Received, SignalSource};
use crate::http::{self, Answer, Exchange};
use crate::liveness::Verdict;
use crate::ready::ReadyServer;
use crate::shutdown::{Action, Cut, Event, GroupKill, Reason, Shutdown};
use crate::signals::Signal;
use crate::startup::Started;
use crate::status::ChildStatus;
use crate::target::{SignalTarget, kill};
use crate::{job_control, reaper, spawn, words};

/// While only the rest of the child's group is awaited, how often drainit
/// checks that it is still there. Its last member may be reaped by a parent
/// outside the group, which sends drainit no SIGCHLD; this is the only
/// periodic wake-up, and it never happens while the child lives.
const GROUP_RECHECK: Duration = Duration::from_millis(100);

/// Supervises the started child until drainit must exit; returns the exit
/// code.
pub fn run(config: Config, signals: SignalSource, mask: InheritedMask, started: Started) -> i32 {
    let policy = &config.policy;
    let mut supervisor = Supervisor {
        machine: Shutdown::new(policy, Instant::now()),
        target: SignalTarget::new(started.child, policy.single_child),
        hook_words: policy.drain_exec.clone(),
        stop_signal: policy.stop_signal,
        drain_http: policy.drain_http.clone(),
        probe_target: policy.liveness.as_ref().map(|(target, _)| target.clone()),
        signals,
        mask,
        cwd: started.cwd,
        child: started.child,
        child_alive: true,
        hook: None,
        request: None,
        probe: None,
        ready: started.ready,
        exit: None,
        self_pid: nix::unistd::getpid().as_raw(),
        // Sized for the longest batch (a stop with everything on), so the
        // signal path never allocates: on musl a first malloc costs more
        // than the whole rest of the way to `kill`.
        events: VecDeque::with_capacity(4),
        actions: Vec::with_capacity(8),
        outcomes: Vec::with_capacity(8),
    };
    supervisor.feed(Event::Started);
    supervisor.run()
}

struct Supervisor {
    machine: Shutdown,
    target: SignalTarget,
    hook_words: Vec<String>,
    stop_signal: Signal,
    drain_http: Option<Request>,
    probe_target: Option<Target>,
    signals: SignalSource,
    mask: InheritedMask,
    cwd: Option<PathBuf>,
    child: libc::pid_t,
    child_alive: bool,
    hook: Option<Hook>,
    request: Option<Exchange>,
    probe: Option<Exchange>,
    ready: Option<ReadyServer>,
    exit: Option<i32>,
    self_pid: libc::pid_t,
    /// `feed`'s buffers, kept between calls.
    events: VecDeque<Event>,
    actions: Vec<Action>,
    outcomes: Vec<Outcome>,
}

/// The drain hook while it runs.
struct Hook {
    /// Its pid, which is also its group's id.
    pid: libc::pid_t,
    /// drainit killed it: its end is no news.
    killed: bool,
}

/// What performing an action gave, for its log line.
enum Outcome {
    Done,
    /// Whether a signal reached anyone.
    Sent(bool),
    /// The hook's pid, or why it did not start.
    Hook(io::Result<libc::pid_t>),
    /// The drain request ended as soon as it started.
    Request(Result<Answer, String>),
}

impl Supervisor {
    fn run(&mut self) -> i32 {
        loop {
            let timeout = self.timeout();
            let (received, ready) = self.wait(timeout);
            if let Some(r) = received {
                // A signal drainit raised itself, e.g. SIGPIPE from logging
                // to a closed pipe, is not the caller's to pass on. Nor is
                // it logged: that write would raise the next SIGPIPE, and
                // drainit would spin on them, never taking another signal
                // (a thread's own signals are taken before the process's).
                let own = r.sender == self.self_pid && r.code == libc::SI_USER;
                if r.signal == Signal::CHLD {
                    self.reap();
                    job_control::after_reap(self.child, self.self_pid);
                } else if !own && !r.signal.is_raised_fault(r.code) {
                    job_control::before_forward(r.signal, self.child);
                    self.feed(Event::Signal(r.signal));
                    job_control::after_forward(
                        r.signal,
                        self.stop_signal,
                        self.child,
                        self.self_pid,
                    );
                }
            }
            if !ready.is_empty() {
                self.serve(&ready);
            }
            // Also after a signal: a storm must not postpone deadlines.
            self.feed(Event::Tick);
            if let Some(server) = self.ready.as_mut() {
                server.expire(Instant::now());
            }
            if self.machine.awaits_group() && self.target.group_gone() {
                self.feed(Event::GroupGone);
            }
            if let Some(code) = self.exit {
                return code;
            }
        }
    }

    /// Waits for a signal, a socket or `timeout`; returns the signal and
    /// the descriptors found ready. Handling the signal may close or open
    /// sockets, so readiness goes by descriptor, not by position.
    fn wait(&self, timeout: Option<Duration>) -> (Option<Received>, Vec<RawFd>) {
        let mut fds: Vec<PollFd<'_>> = self
            .sockets()
            .map(|(fd, flags)| PollFd::new(fd, flags))
            .collect();
        let received = match self.signals.wait(&mut fds, timeout) {
            Ok(received) => received,
            Err(e) => {
                log::error!("failed to wait for events: {}", spawn::describe(&e));
                None
            }
        };
        let ready = fds
            .iter()
            .filter(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|fd| fd.as_fd().as_raw_fd())
            .collect();
        (received, ready)
    }

    /// Every socket to watch: the readiness endpoint's, the drain
    /// request's, the probe's.
    fn sockets(&self) -> impl Iterator<Item = (BorrowedFd<'_>, PollFlags)> {
        self.ready
            .iter()
            .flat_map(ReadyServer::wants)
            .chain(self.request.iter().filter_map(Exchange::wants))
            .chain(self.probe.iter().filter_map(Exchange::wants))
    }

    /// Acts on the sockets `wait` found ready.
    fn serve(&mut self, ready: &[RawFd]) {
        let is_ready = |fd: RawFd| ready.contains(&fd);
        if let Some(server) = self.ready.as_mut() {
            server.serve(is_ready, Instant::now());
        }
        let socket = |e: &Exchange| e.wants().map(|(fd, _)| fd.as_raw_fd());
        if self.request.as_ref().and_then(socket).is_some_and(is_ready) {
            self.advance_request();
        }
        if self.probe.as_ref().and_then(socket).is_some_and(is_ready) {
            self.advance_probe();
        }
    }

    fn advance_request(&mut self) {
        if let Some(result) = self.poll_request() {
            self.log_request(result);
            self.feed(Event::RequestEnded);
        }
    }

    /// Moves the drain request on; its result once it is over.
    fn poll_request(&mut self) -> Option<Result<Answer, String>> {
        let result = self.request.as_mut().and_then(Exchange::advance)?;
        self.request = None;
        Some(result)
    }

    fn log_request(&self, result: Result<Answer, String>) {
        let request = self.drain_http.as_ref().map(ToString::to_string);
        let request = request.unwrap_or_default();
        match result {
            Ok(Answer::Status(code)) if (200..300).contains(&code) => {
                info!("drain request {request} answered {code}")
            }
            Ok(Answer::Status(code)) => {
                warn!("drain request {request} failed: status {code}; going on")
            }
            Ok(Answer::Connected) => {}
            Err(cause) => warn!("drain request {request} failed: {cause}; going on"),
        }
    }

    fn advance_probe(&mut self) {
        if let Some(result) = self.poll_probe() {
            self.feed(Event::ProbeEnded(result));
        }
    }

    /// Moves the probe on; its result once it is over.
    fn poll_probe(&mut self) -> Option<Result<(), String>> {
        let result = self.probe.as_mut().and_then(Exchange::advance)?;
        self.probe = None;
        Some(result.and_then(http::probe_passed))
    }

    /// How long to wait: until the nearest deadline, or forever.
    fn timeout(&self) -> Option<Duration> {
        let deadline = [
            self.machine.deadline(),
            self.ready.as_ref().and_then(ReadyServer::deadline),
        ]
        .into_iter()
        .flatten()
        .min();
        let now = Instant::now();
        let timeout = deadline.map(|t| t.saturating_duration_since(now));
        if self.machine.awaits_group() {
            return Some(timeout.map_or(GROUP_RECHECK, |d| d.min(GROUP_RECHECK)));
        }
        timeout
    }

    fn reap(&mut self) {
        let mut exits = Vec::new();
        reaper::reap_all(|pid, status| exits.push((pid, status)));
        for (pid, status) in exits {
            if pid == self.child {
                self.child_alive = false;
                self.feed(Event::ChildExited(status));
            } else if let Some(hook) = self.hook.take_if(|h| h.pid == pid) {
                log_hook_end(&hook, status);
                self.feed(Event::HookEnded);
            } else {
                debug!("reaped process {pid} ({status})");
            }
        }
    }

    /// Feeds an event and performs the resulting actions, and those of any
    /// event they cause in turn.
    fn feed(&mut self, event: Event) {
        let mut events = std::mem::take(&mut self.events);
        let mut actions = std::mem::take(&mut self.actions);
        let mut outcomes = std::mem::take(&mut self.outcomes);
        events.push_back(event);
        while let Some(event) = events.pop_front() {
            actions.clear();
            self.machine.handle(event, Instant::now(), &mut actions);
            for action in &actions {
                outcomes.push(self.perform(action, &mut events));
            }
            for (action, outcome) in actions.iter().zip(outcomes.drain(..)) {
                self.report(action, outcome);
            }
        }
        self.events = events;
        self.actions = actions;
        self.outcomes = outcomes;
    }

    /// Makes the syscalls an action asks for; logs nothing.
    fn perform(&mut self, action: &Action, events: &mut VecDeque<Event>) -> Outcome {
        match *action {
            Action::SendStop {
                signal: Some(sig), ..
            }
            | Action::Forward(sig) => {
                return Outcome::Sent(self.target.send(sig, self.child_alive));
            }
            Action::StopLeftovers(Some(sig)) => {
                return Outcome::Sent(self.target.send_to_group(sig));
            }
            Action::KillGroup { .. } => {
                return Outcome::Sent(self.target.send(Signal::KILL, self.child_alive));
            }
            Action::SetReadiness(readiness) => {
                if let Some(server) = self.ready.as_mut() {
                    server.set(readiness);
                }
            }
            Action::CloseReadiness => self.ready = None,
            Action::StartRequest => {
                self.request = self.drain_http.as_ref().map(Exchange::request);
                // Every connect may already have been refused.
                if let Some(result) = self.poll_request() {
                    events.push_back(Event::RequestEnded);
                    return Outcome::Request(result);
                }
            }
            Action::CancelRequest(_) => self.request = None,
            Action::StartHook(reason) => {
                let extra = [
                    ("DRAINIT_CHILD_PID", self.child.to_string()),
                    ("DRAINIT_SIGNAL", self.stop_signal.to_string()),
                    ("DRAINIT_REASON", reason.as_str().to_string()),
                ];
                let started = spawn::hook(&self.hook_words, self.cwd.as_deref(), self.mask, &extra);
                if let Ok(pid) = started {
                    self.hook = Some(Hook { pid, killed: false });
                } else {
                    events.push_back(Event::HookEnded);
                }
                return Outcome::Hook(started);
            }
            Action::KillHook(_) => {
                if let Some(hook) = self.hook.as_mut() {
                    kill(-hook.pid, Signal::KILL);
                    hook.killed = true;
                }
            }
            Action::StartProbe => {
                self.probe = self.probe_target.as_ref().map(Exchange::probe);
                if let Some(result) = self.poll_probe() {
                    events.push_back(Event::ProbeEnded(result));
                }
            }
            Action::CancelProbe => self.probe = None,
            Action::Exit { code, .. } => {
                if let Some(hook) = self.hook.as_ref() {
                    kill(-hook.pid, Signal::KILL);
                }
                // Dropped, a name lookup still under way kills its child:
                // `exit` runs no destructors.
                self.request = None;
                self.probe = None;
                self.exit = Some(code);
            }
            Action::BeginShutdown { .. }
            | Action::Sleep { .. }
            | Action::SendStop { signal: None, .. }
            | Action::StopLeftovers(None)
            | Action::Probed(_) => {}
        }
        Outcome::Done
    }

    /// The log line of a performed action.
    fn report(&self, action: &Action, outcome: Outcome) {
        let target = &self.target;
        match (action, outcome) {
            (Action::BeginShutdown { signal, reason }, _) => match reason {
                Reason::Signal => info!("received {signal}: starting the shutdown sequence"),
                Reason::Liveness => {
                    info!("starting the shutdown sequence ({signal} after the hook)")
                }
            },
            (Action::StartRequest, Outcome::Request(result)) => self.log_request(result),
            (Action::CancelRequest(cut), _) => match cut {
                Cut::TimedOut(t) => warn!(
                    "drain request {} failed: timed out after {t:?}; going on",
                    self.drain_http
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                Cut::SecondStop => {
                    info!("second stop signal: abandoned the drain request; forwarding at once")
                }
                Cut::ChildExited => info!("child exited during the drain request: abandoned it"),
            },
            (Action::StartHook(_), Outcome::Hook(Ok(pid))) => {
                info!(
                    "running drain hook: {} (pid {pid})",
                    words::quote(&self.hook_words)
                )
            }
            (Action::StartHook(_), Outcome::Hook(Err(e))) => warn!(
                "failed to run drain hook {}: {}; going on",
                words::quote(&self.hook_words),
                spawn::describe(&e)
            ),
            (Action::KillHook(cut), _) => match cut {
                Cut::TimedOut(t) => {
                    warn!("drain hook timed out after {t:?}: killed its process group; going on")
                }
                Cut::SecondStop => {
                    info!("second stop signal: killed the drain hook; forwarding at once")
                }
                Cut::ChildExited => info!("child exited during the drain hook: killed the hook"),
            },
            (Action::Sleep { duration, stop }, _) => {
                info!("sleeping {duration:?} before forwarding {stop}")
            }
            (
                Action::SendStop {
                    signal: Some(sig),
                    grace,
                    ..
                },
                Outcome::Sent(reached),
            ) => {
                if reached {
                    info!("forwarded {sig} to {target}");
                }
                if let Some(grace) = grace {
                    debug!("grace period: {grace:?}");
                }
            }
            (
                Action::SendStop {
                    signal: None, stop, ..
                },
                _,
            ) => {
                info!("{stop} is rewritten to 0: not forwarding it")
            }
            (Action::Forward(sig), Outcome::Sent(true)) => debug!("forwarded {sig} to {target}"),
            (Action::StopLeftovers(Some(sig)), Outcome::Sent(true)) => {
                info!("child has exited: sent {sig} to the rest of its process group")
            }
            (Action::KillGroup { why, after }, Outcome::Sent(true)) => match why {
                GroupKill::GraceExpired => {
                    warn!("grace period of {after:?} is over: sent SIGKILL to {target}")
                }
                GroupKill::LeftoversStayed => {
                    warn!("the rest of {target} outstayed {after:?}: sent SIGKILL")
                }
            },
            (Action::Probed(verdict), _) => log_verdict(verdict),
            (Action::Exit { status, code, loud }, _) => {
                let own = status.exit_code();
                let why = if *code == 0 && own != 0 {
                    format!(" ({own} is a success code)")
                } else {
                    String::new()
                };
                if *loud {
                    info!("child {status}; exiting with {code}{why}");
                } else {
                    debug!("child {status}; exiting with {code}{why}");
                }
            }
            _ => {}
        }
    }
}

fn log_hook_end(hook: &Hook, status: ChildStatus) {
    if hook.killed {
        debug!("drain hook ended after it was killed ({status})");
    } else if status == ChildStatus::Exited(0) {
        info!("drain hook finished");
    } else {
        warn!("drain hook failed ({status}); going on");
    }
}

fn log_verdict(verdict: &Verdict) {
    match verdict {
        Verdict::Passed { after: 0 } => debug!("liveness probe passed"),
        Verdict::Passed { after } => info!("liveness probe passed after {after} failure(s)"),
        Verdict::Failed {
            count: 0, cause, ..
        } => warn!("liveness probe failed within the start period (not counted): {cause}"),
        Verdict::Failed { count, of, cause } => {
            warn!("liveness probe failed ({count} of {of}): {cause}")
        }
        Verdict::Dead { of, cause } => {
            warn!("liveness probe failed ({of} of {of}): {cause}");
            warn!("liveness: {of} probes failed in a row: stopping the app");
        }
    }
}
