//! The system calls of the signal paths, from `strace`: on the stop
//! signal, the `kill` comes first, then a `sched_yield` that lets the
//! stopping child run before drainit logs, then the batch's lines in one
//! `write`; a forwarded signal is one `kill` and nothing else. The timing
//! these orders buy is the benchmark's (`cargo bench --bench compare --
//! stop`, docs/benchmarks.md).

mod common;

use std::path::Path;

use common::*;

/// The traced calls of one signal: every call after the `rt_sigtimedwait`
/// that took `signal` and before the next wait, as `name(arguments`.
fn calls_after(trace: &str, signal: &str) -> Vec<String> {
    let taken = format!("({signal})");
    trace
        .lines()
        .skip_while(|l| !(l.starts_with("rt_sigtimedwait(") && l.ends_with(&taken)))
        .skip(1)
        .take_while(|l| !l.starts_with("rt_sigtimedwait("))
        .map(str::to_string)
        .collect()
}

fn name(call: &str) -> &str {
    call.split('(').next().unwrap_or(call)
}

/// drainit under `strace -o TRACE` (its own calls only, strings in full),
/// the fixture as its child; returns drainit, its pid and the fixture's.
fn traced(trace: &Path) -> (Drainit, i32, i32) {
    let opts = Start {
        wrapper: ["strace", "-qq", "-s", "500", "-o"]
            .map(String::from)
            .into_iter()
            .chain([trace.display().to_string()])
            .collect(),
        ..Start::default()
    };
    let d = Drainit::start_with(
        Mode::Subreaper,
        &[&fixture(), "child", "--exit-on", "15=0"],
        opts,
    );
    d.expect("ready", |l| l.starts_with("ready "));
    let drainit = wait_for(
        || {
            children(d.pid).into_iter().find(|&pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "drainit")
            })
        },
        "drainit under strace",
    );
    let child = wait_for(|| children(drainit).first().copied(), "drainit's child");
    (d, drainit, child)
}

#[test]
fn the_stop_signal_is_sent_then_the_child_runs_then_one_write_logs_the_batch() {
    let dir = temp_dir("stop-path");
    let trace = dir.join("trace");
    let (d, drainit, child) = traced(&trace);
    // A forward first: one kill, no log line at the default level.
    send(drainit, libc::SIGUSR1);
    d.expect_line("sig 10");
    send(drainit, libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert!(status.success(), "{status:?}\n{log}");
    let trace = std::fs::read_to_string(&trace).unwrap();

    let forward = calls_after(&trace, "SIGUSR1");
    let names: Vec<&str> = forward.iter().map(|c| name(c)).collect();
    assert_eq!(names, ["kill"], "{forward:#?}");
    assert!(
        forward[0].starts_with(&format!("kill(-{child}, SIGUSR1)")),
        "{forward:#?}"
    );

    let stop = calls_after(&trace, "SIGTERM");
    let names: Vec<&str> = stop.iter().map(|c| name(c)).collect();
    assert_eq!(names, ["kill", "sched_yield", "write"], "{stop:#?}");
    assert!(
        stop[0].starts_with(&format!("kill(-{child}, SIGTERM)")),
        "{stop:#?}"
    );
    // One line per step, both in the one write.
    let write = &stop[2];
    assert!(write.starts_with("write(2, "), "{write}");
    for step in [
        "drainit: received SIGTERM: starting the shutdown sequence\\n",
        &format!("drainit: forwarded SIGTERM to process group {child}\\n"),
    ] {
        assert!(write.contains(step), "{step} not in {write}");
    }
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("drainit: "))
            .collect::<Vec<_>>(),
        [
            "drainit: received SIGTERM: starting the shutdown sequence".to_string(),
            format!("drainit: forwarded SIGTERM to process group {child}"),
            "drainit: child exited with status 0; exiting with 0".to_string(),
        ],
        "{log}"
    );
}
