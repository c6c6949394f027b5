//! The measurements, one function per section; each runs every init
//! interleaved, round by round, and adds its samples to the report.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{children, early_term, state};
use crate::procs::{
    Running, count_children, monotonic_ns, rollup_number, signal, status_number, wait_exit,
    wait_for,
};
use crate::report::{Report, median};
use crate::{Init, this_exe};

pub fn size(inits: &[Init], report: &mut Report) {
    for init in inits {
        let bytes = fs::metadata(&init.path).map(|m| m.len()).unwrap_or(0);
        report.add("size on disk", "KiB", init.name, bytes as f64 / 1024.0);
    }
    if !inits[0].path.to_string_lossy().contains("-musl/") {
        report.notes.push(
            "the musl target could not be had: `drainit` is the static glibc build too".into(),
        );
    }
    report.notes.push(
        "Debian's tini and dumb-init are dynamically linked (libc not counted); \
         tini-static and catatonit are static"
            .into(),
    );
}

/// Memory and idle wake-ups: `copies` instances of every init supervise
/// `sleep` side by side for one window, so all share the same noise.
pub fn idle(inits: &[Init], copies: usize, window: Duration, report: &mut Report) {
    eprintln!("idle: {copies} × {} inits, {window:?} window", inits.len());
    let sleep_arg = [OsStr::new("sleep"), OsStr::new("100000")];
    let mut running = Vec::new();
    for _ in 0..copies {
        for init in inits {
            let r = Running::start(init, &sleep_arg, false);
            r.wait_child("sleep");
            running.push((init.name, r));
        }
    }
    // Let start-up settle: only the idle window counts.
    sleep(Duration::from_millis(500));
    let switches = |pid| {
        status_number(pid, "voluntary_ctxt_switches").unwrap_or(0)
            + status_number(pid, "nonvoluntary_ctxt_switches").unwrap_or(0)
    };
    let before: Vec<u64> = running.iter().map(|(_, r)| switches(r.init)).collect();
    sleep(window);
    for ((name, r), before) in running.iter().zip(before) {
        let woke = switches(r.init) - before;
        report.add(
            &format!("idle wake-ups in {}s", window.as_secs()),
            "count",
            name,
            woke as f64,
        );
        let rss = status_number(r.init, "VmRSS").unwrap_or(0);
        let hwm = status_number(r.init, "VmHWM").unwrap_or(0);
        report.add("VmRSS idle", "KiB", name, rss as f64);
        report.add("VmHWM idle", "KiB", name, hwm as f64);
        // What the resident pages are: the binary's (file) or written.
        let anon = rollup_number(r.init, "Anonymous").unwrap_or(0);
        report.add("VmRSS idle: anonymous", "KiB", name, anon as f64);
        report.add(
            "VmRSS idle: file",
            "KiB",
            name,
            rss.saturating_sub(anon) as f64,
        );
    }
    drop(running);
}

/// Forward latency: a signal sent to the init until the child has it.
/// All inits run at once; each round sends one signal to each in turn.
pub fn forward(inits: &[Init], signals: usize, report: &mut Report) {
    eprintln!("forward: {signals} signals × {} inits", inits.len());
    let exe = this_exe();
    let child = [exe.as_os_str(), OsStr::new("__child"), OsStr::new("stamp")];
    let mut running: Vec<Running> = inits
        .iter()
        .map(|init| Running::start(init, &child, true))
        .collect();
    for r in &mut running {
        assert_eq!(r.line(), "ready");
    }
    let mut samples = vec![Vec::with_capacity(signals); inits.len()];
    for _ in 0..signals {
        for (i, r) in running.iter_mut().enumerate() {
            let sent = monotonic_ns();
            signal(r.init, libc::SIGUSR1);
            let got: u64 = r.line().parse().expect("timestamp");
            samples[i].push(got.saturating_sub(sent) as f64 / 1000.0);
        }
    }
    for (init, s) in inits.iter().zip(&samples) {
        report.add_dist("forward latency", "µs", init.name, s);
    }
    drop(running);
}

/// Reaping: `orphans` re-parented processes exit at once; the time until
/// the init has none left. Then the same with the init stopped while they
/// pile up as zombies, timed from SIGCONT.
pub fn reap(inits: &[Init], orphans: usize, rounds: usize, report: &mut Report) {
    eprintln!(
        "reap: {orphans} orphans, {rounds} rounds × 2 × {} inits",
        inits.len()
    );
    let exe = this_exe();
    let count = orphans.to_string();
    let child = [
        exe.as_os_str(),
        OsStr::new("__child"),
        OsStr::new("orphans"),
        OsStr::new(&count),
    ];
    let mut buf = String::new();
    for _ in 0..rounds {
        for stopped in [false, true] {
            for init in inits {
                let mut r = Running::start(init, &child, true);
                assert_eq!(r.line(), "ready");
                assert_eq!(count_children(r.init, &mut buf), orphans + 1);
                if stopped {
                    signal(r.init, libc::SIGSTOP);
                    wait_for(|| (state(r.init) == Some('T')).then_some(()));
                }
                let go = Instant::now();
                r.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
                let start = if stopped {
                    // Every orphan must be a zombie before the clock runs;
                    // none can be reaped meanwhile, so check each once.
                    // The first child is the orphans' parent, still alive.
                    let pids = children(r.init);
                    for &pid in &pids[1..] {
                        wait_for(|| matches!(state(pid), Some('Z') | None).then_some(()));
                    }
                    let start = Instant::now();
                    signal(r.init, libc::SIGCONT);
                    start
                } else {
                    go
                };
                let deadline = start + Duration::from_secs(20);
                let left = loop {
                    let n = count_children(r.init, &mut buf);
                    if n <= 1 || Instant::now() > deadline {
                        break n.saturating_sub(1);
                    }
                    sleep(Duration::from_micros(500));
                };
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                let what = if stopped {
                    format!("reap backlog of {orphans} after SIGCONT")
                } else {
                    format!("reap {orphans} orphans")
                };
                report.add(&what, "ms", init.name, ms);
                report.add(
                    &format!("{what}: zombies left"),
                    "count",
                    init.name,
                    left as f64,
                );
                drop(r);
            }
        }
    }
}

/// Start overhead: `init true` against plain `true`, both in a fresh
/// namespace, interleaved.
pub fn start(inits: &[Init], runs: usize, report: &mut Report) {
    eprintln!("start: {runs} runs × {} inits + baseline", inits.len());
    let mut base = Vec::with_capacity(runs);
    let mut with: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); inits.len()];
    let run = |mut cmd: Command| {
        cmd.stdout(std::process::Stdio::null());
        let t = Instant::now();
        let status = cmd.status().expect("run unshare");
        assert!(status.success());
        t.elapsed().as_secs_f64() * 1000.0
    };
    for _ in 0..runs {
        let mut plain = Command::new("unshare");
        plain.args(["--pid", "--fork", "--mount-proc", "true"]);
        base.push(run(plain));
        for (i, init) in inits.iter().enumerate() {
            with[i].push(run(init.command(&[OsStr::new("true")])));
        }
    }
    let base_median = median(&base);
    for (init, samples) in inits.iter().zip(&with) {
        report.add(
            "start overhead (init true − true)",
            "ms",
            init.name,
            median(samples) - base_median,
        );
        report.add_dist("init true, whole run", "ms", init.name, samples);
    }
    report.notes.push(format!(
        "plain `unshare --pid --fork --mount-proc true`: median {base_median:.2} ms"
    ));
}

/// The stop: TERM to the init, until the child has it (the time the child
/// itself takes from CLOCK_MONOTONIC when its `sigwait` returns), and
/// until the init has exited (its pidfd turns readable). The child exits
/// 0 as soon as it has TERM.
pub fn stop(inits: &[Init], runs: usize, report: &mut Report) {
    eprintln!("stop: {runs} runs × {} inits", inits.len());
    let exe = this_exe();
    let child = [exe.as_os_str(), OsStr::new("__child"), OsStr::new("term")];
    let mut to_child: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); inits.len()];
    let mut to_exit: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); inits.len()];
    for _ in 0..runs {
        for (i, init) in inits.iter().enumerate() {
            let mut r = Running::start(init, &child, true);
            assert_eq!(r.line(), "ready");
            let pidfd = r.pidfd();
            let sent = monotonic_ns();
            signal(r.init, libc::SIGTERM);
            let exited = wait_exit(&pidfd);
            let gone = monotonic_ns();
            assert!(exited, "{} did not exit on TERM", init.name);
            let got: u64 = r.line().parse().expect("timestamp");
            to_child[i].push(got.saturating_sub(sent) as f64 / 1000.0);
            to_exit[i].push(gone.saturating_sub(sent) as f64 / 1000.0);
            let _ = r.unshare.wait();
        }
    }
    for (i, init) in inits.iter().enumerate() {
        report.add_dist(
            "TERM sent → the child has it",
            "µs",
            init.name,
            &to_child[i],
        );
        report.add_dist(
            "TERM sent → the init has exited",
            "µs",
            init.name,
            &to_exit[i],
        );
    }
}

/// The early TERM: one TERM as soon as `/proc/PID/exe` shows the init, as
/// PID 1; counts the runs that never end. Interleaved, one try per init
/// per round.
pub fn early(inits: &[Init], tries: usize, report: &mut Report) {
    eprintln!("early: {tries} tries × {} inits", inits.len());
    let mut lost = vec![0usize; inits.len()];
    for _ in 0..tries {
        for (i, init) in inits.iter().enumerate() {
            lost[i] += early_term::lost(&init.path, init.args, 1);
        }
    }
    for (init, lost) in inits.iter().zip(lost) {
        report.add(
            &format!("early TERM: runs lost of {tries}"),
            "count",
            init.name,
            lost as f64,
        );
    }
}
