//! `cargo bench --bench compare`: drainit against tini, tini-static,
//! dumb-init and catatonit (Debian's), each as PID 1 of its own PID
//! namespace (`unshare --pid --fork --mount-proc INIT -- CHILD`).
//!
//! The machine is shared and noisy, so every timed section runs the inits
//! interleaved round by round (A B C D, A B C D, ...) and reports medians
//! and p99; each figure also shows its ratio to tini. Sections: size on
//! disk, memory and idle wake-ups (all inits side by side for one 10 s
//! window), signal forward latency, reaping 10,000 orphans (also as a
//! backlog behind a stopped init), start overhead, stop time, and the
//! early TERM (one TERM sent as soon as the init's exec shows, runs lost).
//!
//! The child programs are this binary itself, re-run as `__child MODE`:
//! a bench target cannot depend on an example being built.
//!
//! Arguments after `--` pick sections (`size mem fwd reap start stop
//! early`);
//! `BENCH_SCALE=0.2` shortens every count for a quick look. Needs root and
//! util-linux; builds the static drainit itself (scripts/build-static.sh:
//! `drainit` is the musl build that ships, `drainit-glibc` the fallback).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use common::build::{Build, static_binary};
use common::{children, early_term, scrub_env, state};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__child") {
        child_main(&args[2..]);
    }
    // `cargo bench` passes `--bench`; anything else names a section.
    let picked: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| picked.is_empty() || picked.contains(&name);
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |count: usize| ((count as f64 * scale).ceil() as usize).max(1);

    let inits = inits();
    let mut report = Report::default();
    let started = Instant::now();
    let section = |name: &str| {
        eprintln!("[{:.0?}] {name}", started.elapsed());
        run(name)
    };
    if section("size") {
        size(&inits, &mut report);
    }
    if section("mem") {
        idle(&inits, n(3), Duration::from_secs(10), &mut report);
    }
    if section("fwd") {
        forward(&inits, n(1000), &mut report);
    }
    if section("reap") {
        reap(&inits, n(10_000), n(3), &mut report);
    }
    if section("start") {
        start(&inits, n(200), &mut report);
    }
    if section("stop") {
        stop(&inits, n(50), &mut report);
    }
    if section("early") {
        early(&inits, n(100), &mut report);
    }
    report.print(&inits);
    eprintln!("bench took {:.0?}", started.elapsed());
}

/// One init under test: how to start it in front of a command.
struct Init {
    name: &'static str,
    path: PathBuf,
    /// Arguments between the binary and the command.
    args: &'static [&'static str],
}

impl Init {
    fn command(&self, child: &[&OsStr]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"])
            .arg(&self.path)
            .args(self.args)
            .args(child);
        // drainit is configured by DRAINIT_* only; scrub them so a
        // developer's shell cannot change what is measured.
        scrub_env(&mut cmd).stdin(Stdio::null());
        cmd
    }
}

fn inits() -> Vec<Init> {
    let mut inits = vec![
        Init {
            name: "drainit",
            path: static_binary(Build::Shipped, &[]),
            args: &["--"],
        },
        Init {
            name: "drainit-glibc",
            path: static_binary(Build::Glibc, &[]),
            args: &["--"],
        },
    ];
    inits.extend([
        Init {
            name: "tini",
            path: "/usr/bin/tini".into(),
            args: &["--"],
        },
        Init {
            name: "tini-static",
            path: "/usr/bin/tini-static".into(),
            args: &["--"],
        },
        Init {
            name: "dumb-init",
            path: "/usr/bin/dumb-init".into(),
            args: &["--"],
        },
        Init {
            name: "catatonit",
            path: "/usr/bin/catatonit".into(),
            args: &["--"],
        },
    ]);
    inits.extend(extra_inits());
    inits
}

/// More inits to compare, e.g. a build of another branch:
/// `BENCH_EXTRA='old=/tmp/drainit-old --;x=/path/x -a --'`.
fn extra_inits() -> Vec<Init> {
    let Ok(spec) = std::env::var("BENCH_EXTRA") else {
        return Vec::new();
    };
    // Leaked: they live as long as the bench, like the built-in ones.
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    spec.split(';')
        .filter_map(|item| {
            let (name, command) = item.split_once('=')?;
            let mut words = command.split_whitespace();
            let path = words.next()?.into();
            let args: Vec<&'static str> = words.map(leak).collect();
            Some(Init {
                name: leak(name.trim()),
                path,
                args: Box::leak(args.into_boxed_slice()),
            })
        })
        .collect()
}

fn this_exe() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}

// ---------------------------------------------------------------- results

/// A metric, its unit, and the samples of each init.
type Row = (String, &'static str, BTreeMap<&'static str, Vec<f64>>);

/// Samples per metric and init; printed as one Markdown table.
#[derive(Default)]
struct Report {
    /// In insertion order.
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, metric: &str, unit: &'static str, init: &'static str, value: f64) {
        let pos = match self.rows.iter().position(|r| r.0 == metric) {
            Some(pos) => pos,
            None => {
                self.rows.push((metric.to_string(), unit, BTreeMap::new()));
                self.rows.len() - 1
            }
        };
        self.rows[pos].2.entry(init).or_default().push(value);
    }

    /// A distribution as three rows: p50, p99 and max.
    fn add_dist(&mut self, metric: &str, unit: &'static str, init: &'static str, samples: &[f64]) {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        self.add(&format!("{metric} p50"), unit, init, percentile(&s, 50.0));
        self.add(&format!("{metric} p99"), unit, init, percentile(&s, 99.0));
        self.add(&format!("{metric} max"), unit, init, s[s.len() - 1]);
    }

    fn print(&self, inits: &[Init]) {
        let mut out = String::new();
        out += "| metric (median of runs; ×tini) |";
        for init in inits {
            out += &format!(" {} |", init.name);
        }
        out += "\n|---|";
        for _ in inits {
            out += "---:|";
        }
        out += "\n";
        for (metric, unit, by_init) in &self.rows {
            out += &format!("| {metric} ({unit}) |");
            let tini = by_init.get("tini").map(|v| median(v));
            for init in inits {
                let Some(samples) = by_init.get(init.name) else {
                    out += " – |";
                    continue;
                };
                let m = median(samples);
                let ratio = match tini {
                    Some(t) if t > 0.0 => format!(" ({:.2}×)", m / t),
                    _ => String::new(),
                };
                out += &format!(" {}{ratio} |", fmt_num(m));
            }
            out += "\n";
        }
        for note in &self.notes {
            out += &format!("\n- {note}");
        }
        println!("\n{out}");
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 50.0)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ------------------------------------------------------------- processes

/// An init running in its own PID namespace.
struct Running {
    unshare: Child,
    /// The init's pid as seen from here.
    init: i32,
    stdout: Option<BufReader<ChildStdout>>,
    stdin: Option<ChildStdin>,
}

impl Running {
    fn start(init: &Init, child: &[&OsStr], piped: bool) -> Running {
        let mut cmd = init.command(child);
        if piped {
            cmd.stdout(Stdio::piped()).stdin(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null());
        }
        // unshare complains on stderr when its child dies of SIGKILL.
        cmd.stderr(Stdio::null());
        let mut unshare = cmd.spawn().expect("spawn unshare");
        let init_pid = wait_for(|| children(unshare.id() as i32).first().copied());
        let stdout = unshare.stdout.take().map(BufReader::new);
        let stdin = unshare.stdin.take();
        Running {
            unshare,
            init: init_pid,
            stdout,
            stdin,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let reader = self.stdout.as_mut().expect("piped");
        reader.read_line(&mut line).expect("read child line");
        assert!(!line.is_empty(), "child closed its output");
        line.trim_end().to_string()
    }

    /// Waits until the init's child runs `comm` (exec is done).
    fn wait_child(&self, comm: &str) -> i32 {
        wait_for(|| {
            children(self.init).into_iter().find(|&pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            })
        })
    }
}

/// Killing the init ends its namespace, so nothing is left behind, also
/// when a section panics.
impl Drop for Running {
    fn drop(&mut self) {
        // Once unshare is reaped, the init's pid may belong to another.
        if let Ok(None) = self.unshare.try_wait() {
            signal(self.init, libc::SIGKILL);
            let _ = self.unshare.wait();
        }
    }
}

/// Polls `f` every 200 µs (start and stop times are measured by it) until
/// it yields, for at most the tests' deadline.
fn wait_for<T>(f: impl FnMut() -> Option<T>) -> T {
    common::poll(common::DEADLINE, Duration::from_micros(200), f, || {
        "the bench's processes".into()
    })
}

fn count_children(pid: i32, buf: &mut String) -> usize {
    buf.clear();
    let path = format!("/proc/{pid}/task/{pid}/children");
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(buf);
    }
    buf.split_ascii_whitespace().count()
}

/// The number in a field of /proc/PID/status (`VmRSS`: kB).
fn status_number(pid: i32, field: &str) -> Option<u64> {
    common::status_field(pid, field)?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a pid this bench started.
    unsafe { libc::kill(pid, sig) };
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// -------------------------------------------------------------- sections

fn size(inits: &[Init], report: &mut Report) {
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
fn idle(inits: &[Init], copies: usize, window: Duration, report: &mut Report) {
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
    }
    drop(running);
}

/// Forward latency: a signal sent to the init until the child has it.
/// All inits run at once; each round sends one signal to each in turn.
fn forward(inits: &[Init], signals: usize, report: &mut Report) {
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
fn reap(inits: &[Init], orphans: usize, rounds: usize, report: &mut Report) {
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
fn start(inits: &[Init], runs: usize, report: &mut Report) {
    eprintln!("start: {runs} runs × {} inits + baseline", inits.len());
    let mut base = Vec::with_capacity(runs);
    let mut with: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); inits.len()];
    let run = |mut cmd: Command| {
        cmd.stdout(Stdio::null());
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

/// Stop time: SIGTERM to the init until the init has exited (its pidfd
/// turns readable); the child is `sleep`, which dies on TERM.
fn stop(inits: &[Init], runs: usize, report: &mut Report) {
    eprintln!("stop: {runs} runs × {} inits", inits.len());
    let sleep_arg = [OsStr::new("sleep"), OsStr::new("100000")];
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); inits.len()];
    for _ in 0..runs {
        for (i, init) in inits.iter().enumerate() {
            let mut r = Running::start(init, &sleep_arg, false);
            r.wait_child("sleep");
            // SAFETY: pidfd_open on a pid this bench started; checked below.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, r.init, 0) } as i32;
            assert!(fd >= 0, "pidfd_open");
            let t = Instant::now();
            signal(r.init, libc::SIGTERM);
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(n, 1, "{} did not exit on TERM", init.name);
            samples[i].push(ms);
            // SAFETY: closing our own pidfd.
            unsafe { libc::close(fd) };
            let _ = r.unshare.wait();
        }
    }
    for (init, s) in inits.iter().zip(&samples) {
        report.add_dist("stop time", "ms", init.name, s);
    }
}

// ---------------------------------------------------------- child modes

/// The child programs, run under each init.
fn child_main(args: &[String]) -> ! {
    match args.first().map(String::as_str) {
        Some("stamp") => stamp(),
        Some("orphans") => orphans(args[1].parse().expect("count")),
        other => panic!("unknown child mode {other:?}"),
    }
}

fn write_all(fd: i32, bytes: &[u8]) {
    // SAFETY: writing a live buffer to an open fd; short writes on a pipe
    // of a line this small do not happen.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// Prints `ready`, then the CLOCK_MONOTONIC time of each SIGUSR1 it takes.
fn stamp() -> ! {
    // SAFETY: plain signal-mask calls on a local set.
    let set = unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    write_all(1, b"ready\n");
    loop {
        let mut sig = 0;
        // SAFETY: the set is initialised.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            let now = monotonic_ns();
            write_all(1, format!("{now}\n").as_bytes());
        }
    }
}

/// Double-forks `count` orphans, which block on a pipe; prints `ready`,
/// and on a line on stdin closes the pipe so that they all exit at once.
fn orphans(count: usize) -> ! {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [read_end, write_end] = fds;
    // One parent forks them all and exits, so they are orphaned at once:
    // a fork and a wait per orphan made a run take 20 s on this VM.
    // SAFETY: single-threaded; the forked processes only make raw
    // syscalls and _exit.
    unsafe {
        let parent = libc::fork();
        assert!(parent >= 0, "fork");
        if parent == 0 {
            for _ in 0..count {
                let pid = libc::fork();
                if pid < 0 {
                    libc::_exit(1);
                }
                if pid == 0 {
                    libc::close(write_end);
                    let mut b = 0u8;
                    while libc::read(read_end, (&mut b as *mut u8).cast(), 1) > 0 {}
                    libc::_exit(0);
                }
            }
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(parent, &mut status, 0);
        assert_eq!(status, 0, "forking the orphans failed");
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(read_end) };
    write_all(1, b"ready\n");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    // SAFETY: our own descriptor: the last writer, so every orphan sees EOF.
    unsafe { libc::close(write_end) };
    loop {
        // SAFETY: waits for the signal that ends the run.
        unsafe { libc::pause() };
    }
}

/// The early TERM: one TERM as soon as `/proc/PID/exe` shows the init, as
/// PID 1; counts the runs that never end. Interleaved, one try per init
/// per round.
fn early(inits: &[Init], tries: usize, report: &mut Report) {
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
