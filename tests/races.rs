//! Races with the clock and the start-up: the stop signal at the child's
//! first instant, and drainit stopped (SIGSTOP) across its pre-stop
//! sleep's deadline.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The stop signal sent the instant drainit's child exists, or earlier:
/// the instant drainit has blocked its signals, while it may still be
/// starting the child. Whether it hits the child before or after the child
/// could handle it, drainit never loses it nor hangs, and exits with the
/// child's status.
fn stop_signal_at_the_first_instant(mode: Mode) {
    let f = fixture();
    // drainit itself (in a namespace, its pid is first `unshare`'s, which
    // blocks TERM around its fork) with TERM blocked: between blocking and
    // its first wait. In sigtimedwait the waited signals show as unblocked,
    // so a drainit found there has its child already.
    let blocked = |pid| {
        status_field(pid, "Name").as_deref() == Some("drainit")
            && status_field(pid, "SigBlk").is_some_and(|m| mask(&m) & bit(libc::SIGTERM) != 0)
    };
    // One run: TERM at the child's first instant, or (`early`) as soon as
    // drainit blocks it. Returns whether drainit had no child yet.
    let run = |early: bool| -> bool {
        let d = Drainit::start(mode, &["--", &f, "child", "--exit-on", "15=3"]);
        let end = Instant::now() + DEADLINE;
        let no_child = loop {
            let no_child = children(d.pid).is_empty();
            if !no_child || early && blocked(d.pid) {
                break no_child;
            }
            assert!(Instant::now() < end, "drainit did not get that far");
        };
        d.signal(libc::SIGTERM);
        let (status, log) = d.wait();
        // 3: the fixture took it; 143: it came before it could.
        let code = status.code();
        assert!(
            code == Some(3) || code == Some(143),
            "{mode:?}: {status:?}\n{log}"
        );
        assert!(log.contains("received SIGTERM"), "{log}");
        no_child
    };
    for _ in 0..20 {
        run(false);
    }
    // Early runs until the signal came before the child three times: the
    // window is short, so how many runs that takes is chance; a few hundred
    // without a hit means the test no longer reaches it.
    let (mut runs, mut before_child) = (0, 0);
    while before_child < 3 {
        assert!(
            runs < 300,
            "{mode:?}: in {runs} runs the stop signal never came before the child"
        );
        runs += 1;
        before_child += usize::from(run(true));
    }
    eprintln!("{mode:?}: the stop signal came before the child in {before_child} of {runs} runs");
}

both_modes!(stop_signal_at_the_first_instant);

/// SIGSTOP to drainit during a 5s pre-stop sleep, held past the sleep's
/// end, then SIGCONT: the stop signal goes out at once (the deadline held;
/// the sleep was not restarted), and never before the 5s.
fn stopped_during_the_sleep(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(
        mode,
        &[
            "--prestop-sleep",
            "5s",
            "--",
            &f,
            "child",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    wait_for(
        || d.stderr().contains("sleeping").then_some(()),
        "the sleep to start",
    );
    d.signal(libc::SIGSTOP);
    wait_state(d.pid, &['T'], "drainit");
    // Stay stopped past the end of the sleep.
    let resume_at = start + Duration::from_millis(5500);
    std::thread::sleep(resume_at.saturating_duration_since(Instant::now()));
    let resumed = Instant::now();
    d.signal(libc::SIGCONT);
    d.expect_line("sig 15");
    let (since_term, since_cont) = (start.elapsed(), resumed.elapsed());
    assert!(since_term >= Duration::from_secs(5), "{since_term:?}");
    // A sleep restarted from zero would take 5s more.
    assert!(
        since_cont < Duration::from_secs(4),
        "{mode:?}: {since_cont:?}"
    );
    assert_eq!(d.exit_code(), 0);
}

both_modes!(stopped_during_the_sleep);
