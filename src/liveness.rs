//! The liveness watchdog's schedule and failure count, pure: it says when
//! the next probe is due and what a probe's result means. No clock and no
//! I/O: the shutdown machine feeds it instants and results.

use std::time::{Duration, Instant};

/// `--liveness-*`: how to judge the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive counted failures that stop the app; at least 1.
    pub failures: u32,
    /// Failures this soon after the child's start do not count.
    pub start: Duration,
}

/// What one probe's result means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Passed; `after` is the number of failures it ends (0: none).
    Passed { after: u32 },
    /// Failed; `count` of `of` consecutive failures (`count` 0: within
    /// the start period, not counted).
    Failed { count: u32, of: u32, cause: String },
    /// Failed for the last allowed time: the app must be stopped.
    Dead { of: u32, cause: String },
}

/// The watchdog's state.
#[derive(Clone, Debug)]
pub struct Liveness {
    schedule: Schedule,
    /// Failures before this instant do not count; `None` once a probe
    /// passed (a pass ends the start period).
    grace_until: Option<Instant>,
    failures: u32,
    /// When the next probe starts, or the running probe's time-out.
    next: Instant,
    /// When the running probe started; `None` between probes.
    started: Option<Instant>,
}

impl Liveness {
    /// A watchdog for a child started at `now`: the first probe is due at once.
    pub fn new(schedule: Schedule, now: Instant) -> Liveness {
        Liveness {
            schedule,
            grace_until: now.checked_add(schedule.start),
            failures: 0,
            next: now,
            started: None,
        }
    }

    /// When `due` has something to do: the next probe's start, or the
    /// running probe's time-out.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// How long one probe may take.
    pub fn timeout(&self) -> Duration {
        self.schedule.timeout
    }

    /// Whether a probe runs now.
    pub fn is_running(&self) -> bool {
        self.started.is_some()
    }

    /// At `now`: `Some(true)` when a probe must start, `Some(false)` when
    /// the running one timed out (then `record` its failure), `None` when
    /// nothing is due.
    pub fn due(&mut self, now: Instant) -> Option<bool> {
        if now < self.next {
            return None;
        }
        if self.is_running() {
            return Some(false);
        }
        self.next = now.checked_add(self.schedule.timeout).unwrap_or(now);
        // The start of this probe times the next one (as the kubelet's
        // period): a slow probe does not stretch the interval.
        self.started = Some(now);
        Some(true)
    }

    /// Records the running probe's result at `now`.
    pub fn record(&mut self, result: Result<(), String>, now: Instant) -> Verdict {
        let started = self.started.take().unwrap_or(now);
        self.next = started
            .checked_add(self.schedule.interval)
            .unwrap_or(now)
            .max(now);
        match result {
            Ok(()) => {
                self.grace_until = None;
                Verdict::Passed {
                    after: std::mem::take(&mut self.failures),
                }
            }
            Err(cause) => {
                let of = self.schedule.failures;
                if self.grace_until.is_some_and(|t| now < t) {
                    return Verdict::Failed {
                        count: 0,
                        of,
                        cause,
                    };
                }
                self.failures = self.failures.saturating_add(1);
                if self.failures >= of {
                    Verdict::Dead { of, cause }
                } else {
                    Verdict::Failed {
                        count: self.failures,
                        of,
                        cause,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn schedule() -> Schedule {
        Schedule {
            interval: 1000 * MS,
            timeout: 100 * MS,
            failures: 3,
            start: Duration::ZERO,
        }
    }

    fn fail(l: &mut Liveness, now: Instant) -> Verdict {
        assert_eq!(l.due(now), Some(true));
        l.record(Err("refused".into()), now + MS)
    }

    #[test]
    fn first_probe_at_once_then_one_per_interval() {
        let t0 = Instant::now();
        let mut l = Liveness::new(schedule(), t0);
        assert_eq!(l.due(t0), Some(true));
        assert!(l.is_running());
        assert_eq!(l.due(t0 + 50 * MS), None);
        assert_eq!(l.record(Ok(()), t0 + 50 * MS), Verdict::Passed { after: 0 });
        assert_eq!(l.deadline(), t0 + 1000 * MS);
        assert_eq!(l.due(t0 + 999 * MS), None);
        assert_eq!(l.due(t0 + 1000 * MS), Some(true));
    }

    #[test]
    fn a_probe_that_outlives_its_time_out_is_due_as_a_failure() {
        let t0 = Instant::now();
        let mut l = Liveness::new(schedule(), t0);
        l.due(t0);
        assert_eq!(l.deadline(), t0 + 100 * MS);
        assert_eq!(l.due(t0 + 100 * MS), Some(false));
        let v = l.record(Err("timed out".into()), t0 + 100 * MS);
        assert_eq!(
            v,
            Verdict::Failed {
                count: 1,
                of: 3,
                cause: "timed out".into()
            }
        );
        assert_eq!(l.deadline(), t0 + 1000 * MS);
    }

    #[test]
    fn consecutive_failures_kill_and_a_pass_resets_the_count() {
        let t0 = Instant::now();
        let mut l = Liveness::new(schedule(), t0);
        assert!(matches!(fail(&mut l, t0), Verdict::Failed { count: 1, .. }));
        assert!(matches!(
            fail(&mut l, t0 + 1000 * MS),
            Verdict::Failed { count: 2, .. }
        ));
        l.due(t0 + 2000 * MS);
        assert_eq!(
            l.record(Ok(()), t0 + 2001 * MS),
            Verdict::Passed { after: 2 }
        );
        assert!(matches!(
            fail(&mut l, t0 + 3000 * MS),
            Verdict::Failed { count: 1, .. }
        ));
        fail(&mut l, t0 + 4000 * MS);
        assert_eq!(
            fail(&mut l, t0 + 5000 * MS),
            Verdict::Dead {
                of: 3,
                cause: "refused".into()
            }
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_a_pass() {
        let t0 = Instant::now();
        let s = Schedule {
            start: 2500 * MS,
            failures: 1,
            ..schedule()
        };
        let mut l = Liveness::new(s, t0);
        assert!(matches!(fail(&mut l, t0), Verdict::Failed { count: 0, .. }));
        assert!(matches!(
            fail(&mut l, t0 + 1000 * MS),
            Verdict::Failed { count: 0, .. }
        ));
        assert!(matches!(fail(&mut l, t0 + 3000 * MS), Verdict::Dead { .. }));

        let mut l = Liveness::new(s, t0);
        l.due(t0);
        l.record(Ok(()), t0);
        assert!(matches!(fail(&mut l, t0 + 1000 * MS), Verdict::Dead { .. }));
    }
}
