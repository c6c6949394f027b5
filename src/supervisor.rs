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

use crate::config::Config;
use crate::http::{self, Answer, Exchange};
use crate::liveness::Verdict;
use crate::processes::{Processes, Role};
use crate::ready::ReadyServer;
use crate::shutdown::{Action, Cut, Event, GroupKill, Reason, Shutdown};
use crate::signals::Signal;
use crate::startup::Started;
use crate::status::ChildStatus;
use crate::target::{SignalTarget, kill};
use crate::wait::{InheritedMask, Received, SignalSource};
use crate::{job_control, reaper, spawn, words};

/// While only the rest of the child's group is awaited, how often drainit
/// checks that it is still there. Its last member may be reaped by a parent
/// outside the group, which sends drainit no SIGCHLD; this is the only
/// periodic wake-up, and it never happens while the child lives.
const GROUP_RECHECK: Duration = Duration::from_millis(100);

/// Supervises the started child until drainit must exit; returns the exit
/// code.
pub fn run(config: Config, signals: SignalSource, mask: InheritedMask, started: Started) -> i32 {
    let mut processes = Processes::default();
    processes.insert(started.child, Role::App);
    let mut supervisor = Supervisor {
        target: SignalTarget::new(
            started.child,
            config.policy.single_child,
            config.policy.stop_scope,
        ),
        machine: Shutdown::new(config.policy, Instant::now()),
        signals,
        mask,
        cwd: started.cwd,
        processes,
        request: None,
        probe: None,
        ready: started.ready,
        exit: None,
        self_pid: nix::unistd::getpid().as_raw(),
        stop_sent: None,
        stop_just_sent: false,
        keep_terminal: config.keep_terminal,
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

/// What the loop performs with: the settings stay in the machine's
/// `Policy`; here are only the processes, sockets and signals it acts on.
struct Supervisor {
    machine: Shutdown,
    target: SignalTarget,
    signals: SignalSource,
    mask: InheritedMask,
    cwd: Option<PathBuf>,
    processes: Processes,
    request: Option<Exchange>,
    probe: Option<Exchange>,
    ready: Option<ReadyServer>,
    exit: Option<i32>,
    self_pid: libc::pid_t,
    /// The (rewritten) stop signal, once sent.
    stop_sent: Option<Signal>,
    /// The stop signal went out in this batch: drainit's other children
    /// in the group get it once the batch is done.
    stop_just_sent: bool,
    /// `--keep-terminal`: never hand the terminal to the child's group.
    keep_terminal: bool,
    /// `feed`'s buffers, kept between calls.
    events: VecDeque<Event>,
    actions: Vec<Action>,
    outcomes: Vec<Outcome>,
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
                let child = self.target.child();
                if r.signal == Signal::CHLD {
                    self.reap();
                    job_control::after_reap(child, self.self_pid);
                } else if !own && !r.signal.is_raised_fault(r.code) {
                    if !self.keep_terminal {
                        job_control::before_forward(r.signal, child);
                    }
                    self.feed(Event::Signal(r.signal));
                    let stop_signal = self.machine.policy().stop_signal;
                    job_control::after_forward(r.signal, stop_signal, child, self.self_pid);
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
        let request = self.request_text();
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

    /// The drain request as written, for its log lines.
    fn request_text(&self) -> String {
        let request = self.machine.policy().drain_http.as_ref();
        request.map(ToString::to_string).unwrap_or_default()
    }

    /// Whether the child can still get a signal of its own.
    fn child_alive(&self) -> bool {
        self.processes.contains(self.target.child())
    }

    /// Starts an exchange and records its name lookup's child, if any.
    fn start_exchange(&mut self, exchange: Exchange) -> Exchange {
        if let Some(pid) = exchange.resolver() {
            self.processes.insert(pid, Role::Resolver);
        }
        exchange
    }

    fn reap(&mut self) {
        let mut exits = Vec::new();
        reaper::reap_all(|pid, status| exits.push((pid, status)));
        for (pid, status) in exits {
            match self.processes.remove(pid) {
                Some(Role::App) => self.feed(Event::ChildExited(status)),
                Some(Role::Hook { killed }) => {
                    log_hook_end(killed, status);
                    self.feed(Event::HookEnded);
                }
                Some(Role::Resolver) => debug!("reaped name lookup {pid} ({status})"),
                None => debug!("reaped process {pid} ({status})"),
            }
        }
        self.stop_left_behind();
    }

    /// --stop-scope children: the processes of the child's group that are
    /// drainit's own children (left to it by a process that died, also
    /// while the stop signal was being sent) get the stop signal once.
    fn stop_left_behind(&mut self) {
        if let Some(sig) = self.stop_sent {
            for pid in self.target.stop_left_behind(sig) {
                info!("sent {sig} to process {pid}, left behind to drainit");
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
        if std::mem::take(&mut self.stop_just_sent) {
            self.stop_left_behind();
        }
    }

    /// Makes the syscalls an action asks for; logs nothing.
    fn perform(&mut self, action: &Action, events: &mut VecDeque<Event>) -> Outcome {
        match *action {
            Action::SendStop {
                signal: Some(sig), ..
            } => {
                self.stop_sent = Some(sig);
                self.stop_just_sent = true;
                return Outcome::Sent(self.target.send_stop(sig, self.child_alive()));
            }
            // The stop signal again goes where the stop signal went.
            Action::Forward(sig) if self.stop_sent == Some(sig) => {
                self.stop_just_sent = true;
                return Outcome::Sent(self.target.send_stop(sig, self.child_alive()));
            }
            Action::Forward(sig) => {
                return Outcome::Sent(self.target.send(sig, self.child_alive()));
            }
            Action::StopLeftovers(Some(sig)) => {
                return Outcome::Sent(self.target.send_to_group(sig));
            }
            Action::KillGroup { .. } => {
                return Outcome::Sent(self.target.send(Signal::KILL, self.child_alive()));
            }
            Action::SetReadiness(readiness) => {
                if let Some(server) = self.ready.as_mut() {
                    server.set(readiness);
                }
            }
            Action::CloseReadiness => self.ready = None,
            Action::StartRequest => {
                let request = self.machine.policy().drain_http.as_ref();
                let exchange = request.map(Exchange::request);
                self.request = exchange.map(|e| self.start_exchange(e));
                // Every connect may already have been refused.
                if let Some(result) = self.poll_request() {
                    events.push_back(Event::RequestEnded);
                    return Outcome::Request(result);
                }
            }
            Action::CancelRequest(_) => self.request = None,
            Action::StartHook(reason) => {
                let policy = self.machine.policy();
                let extra = [
                    ("DRAINIT_CHILD_PID", self.target.child().to_string()),
                    ("DRAINIT_SIGNAL", policy.stop_signal.to_string()),
                    ("DRAINIT_REASON", reason.as_str().to_string()),
                ];
                let words = &policy.drain_exec;
                let started = spawn::hook(words, self.cwd.as_deref(), self.mask, &extra);
                if let Ok(pid) = started {
                    self.processes.insert(pid, Role::Hook { killed: false });
                } else {
                    events.push_back(Event::HookEnded);
                }
                return Outcome::Hook(started);
            }
            Action::KillHook(_) => {
                if let Some(hook) = self.processes.hook() {
                    kill(-hook, Signal::KILL);
                    self.processes.hook_killed();
                }
            }
            Action::StartProbe => {
                let target = self.machine.policy().liveness.as_ref();
                let exchange = target.map(|(target, _)| Exchange::probe(target));
                self.probe = exchange.map(|e| self.start_exchange(e));
                if let Some(result) = self.poll_probe() {
                    events.push_back(Event::ProbeEnded(result));
                }
            }
            Action::CancelProbe => self.probe = None,
            Action::Exit { code, .. } => {
                if let Some(hook) = self.processes.hook() {
                    kill(-hook, Signal::KILL);
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

    /// The log line of a performed action. Every action is named, so a
    /// new one does not compile until it is given its line (or none, said
    /// here).
    fn report(&self, action: &Action, outcome: Outcome) {
        let target = &self.target;
        let reached = matches!(outcome, Outcome::Sent(true));
        match action {
            Action::BeginShutdown { signal, reason } => match reason {
                Reason::Signal => info!("received {signal}: starting the shutdown sequence"),
                Reason::Liveness => {
                    info!("starting the shutdown sequence ({signal} after the hook)")
                }
            },
            // Only a request that ended at once is logged here; the others
            // when they end.
            Action::StartRequest => {
                if let Outcome::Request(result) = outcome {
                    self.log_request(result)
                }
            }
            Action::CancelRequest(cut) => match cut {
                Cut::TimedOut(t) => warn!(
                    "drain request {} failed: timed out after {t:?}; going on",
                    self.request_text()
                ),
                Cut::SecondStop => {
                    info!("second stop signal: abandoned the drain request; forwarding at once")
                }
                Cut::ChildExited => info!("child exited during the drain request: abandoned it"),
            },
            Action::StartHook(_) => {
                let words = words::quote(&self.machine.policy().drain_exec);
                match outcome {
                    Outcome::Hook(Ok(pid)) => info!("running drain hook: {words} (pid {pid})"),
                    Outcome::Hook(Err(e)) => warn!(
                        "failed to run drain hook {words}: {}; going on",
                        spawn::describe(&e)
                    ),
                    Outcome::Done | Outcome::Sent(_) | Outcome::Request(_) => {}
                }
            }
            Action::KillHook(cut) => match cut {
                Cut::TimedOut(t) => {
                    warn!("drain hook timed out after {t:?}: killed its process group; going on")
                }
                Cut::SecondStop => {
                    info!("second stop signal: killed the drain hook; forwarding at once")
                }
                Cut::ChildExited => info!("child exited during the drain hook: killed the hook"),
            },
            // What will be sent, as a user reading `docker logs` expects.
            Action::Sleep {
                duration,
                send: Some(sig),
                ..
            } => info!("sleeping {duration:?} before sending {sig}"),
            Action::Sleep {
                duration,
                stop,
                send: None,
            } => info!("sleeping {duration:?}; {stop} is rewritten to 0: nothing will be sent"),
            Action::SendStop {
                signal: Some(sig),
                grace,
                ..
            } => {
                if reached {
                    info!("forwarded {sig} to {}", target.stop_target());
                }
                if let Some(grace) = grace {
                    debug!("grace period: {grace:?}");
                }
            }
            Action::SendStop {
                signal: None, stop, ..
            } => info!("{stop} is rewritten to 0: not forwarding it"),
            Action::Forward(sig) => {
                if reached {
                    debug!("forwarded {sig} to {target}")
                }
            }
            Action::StopLeftovers(Some(sig)) => {
                if reached {
                    info!("child has exited: sent {sig} to the rest of its process group")
                }
            }
            Action::KillGroup { why, after } => match why {
                GroupKill::GraceExpired if reached => {
                    warn!("grace period of {after:?} is over: sent SIGKILL to {target}")
                }
                GroupKill::LeftoversStayed if reached => {
                    warn!("the rest of {target} outstayed {after:?}: sent SIGKILL")
                }
                GroupKill::GraceExpired | GroupKill::LeftoversStayed => {}
            },
            Action::Probed(verdict) => log_verdict(verdict),
            Action::Exit { status, code, loud } => {
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
            // Silent: the readiness endpoint's state shows at the endpoint,
            // a cancelled probe in the verdict that follows, and nothing
            // was sent for leftovers whose stop signal is rewritten to 0.
            Action::SetReadiness(_)
            | Action::CloseReadiness
            | Action::StartProbe
            | Action::CancelProbe
            | Action::StopLeftovers(None) => {}
        }
    }
}

fn log_hook_end(killed: bool, status: ChildStatus) {
    if killed {
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
