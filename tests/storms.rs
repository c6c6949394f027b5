//! Storms: drainit under signal and orphan storms and a large process
//! group, while the child runs and during the shutdown sequence, loses
//! nothing it was sent, reaps every orphan, keeps its deadlines, and exits
//! with the child's status.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use common::*;

fn sig_line(sig: i32) -> String {
    format!("sig {sig}")
}

/// Sends `sig`, retrying while the kernel's queue of realtime signals is
/// full (EAGAIN): the sender may have to wait, but nothing is dropped.
fn send_queued(pid: i32, sig: i32) {
    loop {
        // SAFETY: plain syscall.
        if unsafe { libc::kill(pid, sig) } == 0 {
            return;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EAGAIN),
            "kill({pid}, {sig}): {e}"
        );
        std::thread::yield_now();
    }
}

/// Every kind a storm mixes: all forwardable standard signals but TERM
/// (the stop signal) and a spread of realtime ones. RTMAX is kept as the
/// marker that ends each burst. Not as PID 1, TSTP, TTIN and TTOU stop
/// drainit itself (job control, tests/job_control.rs), so they are left
/// out there.
fn storm_kinds(mode: Mode) -> Vec<i32> {
    let rt = libc::SIGRTMIN();
    let mut kinds = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGSTKFLT,
        libc::SIGCONT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGURG,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
    ];
    kinds.extend([rt, rt + 1, rt + 7, libc::SIGRTMAX() - 1]);
    if mode == Mode::Subreaper {
        kinds.retain(|k| ![libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(k));
    }
    kinds
}

/// 10,000 signals of 25 kinds in 20 bursts, while the child leaves 2,000
/// orphans: every kind reaches the child, every orphan is reaped by drainit
/// (one `reaped process` line each), and the exit status is the child's.
fn signal_storm(mode: Mode) {
    const BURSTS: usize = 20;
    const PER_BURST: usize = 500;
    const ORPHANS: usize = 2000;
    let f = fixture();
    let orphans = ORPHANS.to_string();
    let d = Drainit::start(
        mode,
        &[
            "-v",
            "--",
            &f,
            "child",
            "--orphan-storm",
            &orphans,
            "--exit-on",
            "15=42",
        ],
    );
    let child = d.ready();
    let kinds = storm_kinds(mode);
    let marker = libc::SIGRTMAX();
    let mut storm_done = false;
    let mut sent = 0;
    let stops = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
    for burst in 0..BURSTS {
        // The kernel discards a pending SIGCONT when a stop signal comes,
        // and pending stop signals when SIGCONT comes (prepare_signal() in
        // kernel/signal.c), whatever the disposition: bursts mix one side
        // or the other, never both.
        let burst_kinds: Vec<i32> = kinds
            .iter()
            .copied()
            .filter(|k| match burst % 2 {
                0 => *k != libc::SIGCONT,
                _ => !stops.contains(k),
            })
            .collect();
        for i in 0..PER_BURST - 1 {
            send_queued(d.pid, burst_kinds[i % burst_kinds.len()]);
            sent += 1;
        }
        // Realtime signals queue, and the lowest pending signal is taken
        // first: once the child prints the marker, it has had the burst.
        send_queued(d.pid, marker);
        sent += 1;
        // Skipped: standard signals merge, so how many lines a burst gives
        // is the kernel's choice; every one is checked below.
        let (lines, _) = d.skip_until(&format!("marker {burst}"), |l| l == sig_line(marker));
        let mut seen = HashSet::new();
        for line in lines {
            if line == "storm done" {
                storm_done = true;
                continue;
            }
            let sig = line
                .strip_prefix("sig ")
                .and_then(|n| n.parse::<i32>().ok());
            // CHLD is the child's own: the kernel's, for the middle
            // processes of its orphans (drainit never forwards it).
            if sig == Some(libc::SIGCHLD) {
                continue;
            }
            assert!(
                sig.is_some_and(|s| burst_kinds.contains(&s)),
                "{mode:?}: burst {burst}: unexpected line {line:?}"
            );
            seen.extend(sig);
        }
        // Every kind of this burst, before its marker.
        for kind in &burst_kinds {
            assert!(
                seen.contains(kind),
                "{mode:?}: burst {burst}: signal {kind} was lost; seen {seen:?}"
            );
        }
    }
    assert_eq!(sent, 10_000);
    if !storm_done {
        // Skipped: the child's own CHLDs, from its last orphans.
        let (chld, _) = d.skip_until("storm done", |l| l == "storm done");
        assert!(
            chld.iter().all(|l| *l == sig_line(libc::SIGCHLD)),
            "{chld:?}"
        );
    }
    // drainit logs each orphan it reaps (-v); while the child lives, the
    // middle processes are the child's to reap, so there is no other.
    let reaped = || {
        let log = d.stderr();
        log.lines().filter(|l| l.contains("reaped process")).count()
    };
    wait_for(
        || (reaped() >= ORPHANS).then_some(()),
        "every orphan reaped",
    );
    assert_eq!(reaped(), ORPHANS, "{mode:?}");
    // No zombie and no orphan left: drainit's only child is the child.
    assert_eq!(children(d.pid), [child], "{mode:?}");
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(42), "{mode:?}: {log}");
}

both_modes!(signal_storm);

/// 1,000 orphans from the drain hook during step 1, then 10,000 from the
/// child on the forwarded TERM, with a pre-stop sleep between: drainit
/// reaps every one (one `reaped process` line each) before it exits.
#[test]
fn eleven_thousand_orphans_during_the_shutdown_sequence_are_all_reaped() {
    let f = fixture();
    let hook = format!("{f} orphans 1000");
    let d = Drainit::start(
        Mode::Pid1,
        &[
            "-v",
            "--drain-exec",
            &hook,
            "--prestop-sleep",
            "100ms",
            "--",
            &f,
            "child",
            "--orphans-on",
            "15=10000",
            "--exit-on",
            "15=0",
        ],
    );
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line("orphans 1000");
    d.expect_line("sig 15");
    d.expect_line("orphans 10000");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("drain hook finished"), "{log}");
    let reaped = log.lines().filter(|l| l.contains("reaped process")).count();
    assert_eq!(reaped, 11_000);
}

/// A group of 500 processes besides the child, all ignoring TERM: every one
/// of them gets the stop signal, and the grace SIGKILL leaves none.
#[test]
fn a_group_of_500_all_get_the_stop_signal_and_the_grace_kill_leaves_none() {
    let dir = temp_dir("group500");
    let log = dir.join("log");
    let f = fixture();
    let d = Drainit::start(
        Mode::Subreaper,
        &[
            "--grace",
            "3s",
            "--",
            &f,
            "child",
            "--group",
            "500",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let child = d.ready();
    wait_for(
        || (group_members(child).len() == 501).then_some(()),
        "501 members",
    );
    let members: BTreeSet<i32> = group_members(child)
        .into_iter()
        .filter(|&p| p != child)
        .collect();
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    let (status, stderr) = d.wait();
    let elapsed = start.elapsed();
    // The child's own status counts: SIGKILL.
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{stderr}");
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    assert!(
        stderr.contains("grace period of 3s is over: sent SIGKILL"),
        "{stderr}"
    );
    let lines = log_lines(&log);
    let got: BTreeSet<i32> = lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("member ")?
                .strip_suffix(" sig 15")?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(got, members, "members without the stop signal");
    assert!(lines.iter().any(|l| l.starts_with("child 15 ")));
    wait_for(
        || group_members(child).is_empty().then_some(()),
        "the group to be gone",
    );
}

/// A storm of four kinds of signals from the stop signal on, through the
/// pre-stop sleep and the grace period: the sleep's and the grace's
/// deadlines hold (neither postponed by the storm nor cut short), and
/// every kind is still forwarded during the sequence.
#[test]
fn a_storm_during_the_sequence_neither_moves_its_deadlines_nor_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let f = fixture();
    let d = Drainit::start(
        Mode::Pid1,
        &["--prestop-sleep", "1s", "--grace", "3s", "--", &f, "child"],
    );
    d.ready();
    let kinds = [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    let storm = {
        let (stop, sent, pid) = (stop.clone(), sent.clone(), d.pid);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for sig in kinds {
                    send(pid, sig);
                }
                sent.fetch_add(kinds.len(), Ordering::Relaxed);
            }
        })
    };
    // Skipped: the storm's signals merge, so their number is the
    // kernel's choice; every kind is checked below.
    let (lines, _) = d.skip_until("sig 15", |l| l == "sig 15");
    let forwarded = start.elapsed();
    // Stopped well before the grace kill, so that no pid drainit leaves
    // behind is ever signalled.
    stop.store(true, Ordering::Relaxed);
    storm.join().unwrap();
    let (status, log) = d.wait();
    let ended = start.elapsed();
    assert!(forwarded >= Duration::from_secs(1), "{forwarded:?}");
    assert!(forwarded < Duration::from_secs(10), "{forwarded:?}");
    // From the TERM's sending: the test may read the forward's line late,
    // but drainit cannot kill before the 1 s sleep and the 3 s grace.
    assert!(ended >= Duration::from_secs(4), "{ended:?}");
    assert!(ended < forwarded + Duration::from_secs(15), "{ended:?}");
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{log}");
    assert!(log.contains("grace period of 3s is over"), "{log}");
    let seen: HashSet<i32> = lines
        .iter()
        .map(|l| {
            let sig = l.strip_prefix("sig ").and_then(|n| n.parse().ok());
            sig.filter(|s| kinds.contains(s))
                .unwrap_or_else(|| panic!("unexpected line {l:?}"))
        })
        .collect();
    for kind in kinds {
        assert!(seen.contains(&kind), "{kind} lost in the sleep: {seen:?}");
    }
    assert!(
        sent.load(Ordering::Relaxed) >= 100,
        "the storm was too small"
    );
}
