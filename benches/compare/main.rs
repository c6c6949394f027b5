//! `cargo bench --bench compare`: drainit against tini, tini-static,
//! dumb-init and catatonit (Debian's), each as PID 1 of its own PID
//! namespace (`unshare --pid --fork --mount-proc INIT -- CHILD`).
//!
//! The machine is shared and noisy, so every timed section runs the inits
//! interleaved round by round (A B C D, A B C D, ...) and reports medians
//! and p99; each figure also shows its ratio to tini and to the best peer.
//! Every init's stderr goes to a file of its own (as a container runtime
//! keeps it), and drainit runs at its default log level (`drainit -q` is a
//! column of its own). Sections: size on disk, memory and idle wake-ups
//! (all inits side by side for one 10 s window), signal forward latency,
//! reaping 10,000 orphans (also as a backlog behind a stopped init), start
//! overhead, the stop (TERM to the init until the child's own clock says
//! it has it, and until the init's pidfd says it has exited), and the
//! early TERM (one TERM sent as soon as the init's exec shows, runs lost).
//!
//! The timed sections run twice: on the machine as it is (`idle`), then
//! with one more process spinning on a core (`busy`, as on a loaded node;
//! `BENCH_BUSY_CPU=N` pins it to CPU N). Each condition is one table.
//!
//! The child programs are this binary itself, re-run as `__child MODE`
//! (child.rs): a bench target cannot depend on an example being built.
//!
//! Arguments after `--` pick sections (`size mem fwd reap start stop
//! early`) and conditions (`idle busy`); `BENCH_SCALE=0.2` shortens every
//! count for a quick look; `BENCH_EXTRA='name=/path/to/init --'` adds
//! inits. Needs root and util-linux; builds the static drainit itself
//! (scripts/build-static.sh: `drainit` is the musl build that ships,
//! `drainit-glibc` the fallback).

use std::ffi::OsStr;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;

mod child;
mod procs;
mod report;
mod sections;

use common::build::{Build, static_binary};
use common::scrub_env;
use procs::Busy;
use report::Report;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__child") {
        child::main(&args[2..]);
    }
    // `cargo bench` passes `--bench`; anything else names a section or a
    // condition.
    let picked: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let conditions: Vec<&str> = ["idle", "busy"]
        .into_iter()
        .filter(|c| picked.contains(c))
        .collect();
    let conditions = if conditions.is_empty() {
        vec!["idle", "busy"]
    } else {
        conditions
    };
    let sections: Vec<&str> = picked
        .iter()
        .copied()
        .filter(|a| !conditions.contains(a))
        .collect();
    let run = |name: &str| sections.is_empty() || sections.contains(&name);
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |count: usize| ((count as f64 * scale).ceil() as usize).max(1);

    let logs = LogDir::new();
    let inits = inits(&logs);
    let started = Instant::now();
    let section = |name: &str, condition: &str| {
        eprintln!("[{:.0?}] {name} ({condition})", started.elapsed());
        run(name)
    };
    let mut reports = Vec::new();
    for condition in conditions {
        let mut report = Report::new(condition);
        let busy = (condition == "busy").then(Busy::start);
        if let Some(busy) = &busy {
            report.notes.push(busy.describe());
        }
        // Size, memory and the early TERM do not depend on the load:
        // they are measured once, in the first table.
        let first = reports.is_empty();
        if first && section("size", condition) {
            sections::size(&inits, &mut report);
        }
        if first && section("mem", condition) {
            sections::idle(&inits, n(3), Duration::from_secs(10), &mut report);
        }
        if section("fwd", condition) {
            sections::forward(&inits, n(1000), &mut report);
        }
        if section("reap", condition) {
            sections::reap(&inits, n(10_000), n(5), &mut report);
        }
        if section("start", condition) {
            sections::start(&inits, n(200), &mut report);
        }
        if section("stop", condition) {
            sections::stop(&inits, n(200), &mut report);
        }
        if first && section("early", condition) {
            sections::early(&inits, n(100), &mut report);
        }
        drop(busy);
        reports.push(report);
    }
    for report in &reports {
        report.print(&inits);
    }
    eprintln!("bench took {:.0?}", started.elapsed());
}

/// One init under test: how to start it in front of a command.
pub struct Init {
    pub name: &'static str,
    pub path: PathBuf,
    /// Arguments between the binary and the command.
    pub args: &'static [&'static str],
    /// Its stderr: a file of its own, appended to by every run.
    pub log: PathBuf,
    /// Whether it is a peer (not a build of drainit): the goals are
    /// ratios to the best peer.
    pub peer: bool,
}

impl Init {
    pub fn command(&self, child: &[&OsStr]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"])
            .arg(&self.path)
            .args(self.args)
            .args(child);
        // drainit is configured by DRAINIT_* only; scrub them so a
        // developer's shell cannot change what is measured.
        scrub_env(&mut cmd)
            .stdin(Stdio::null())
            .stderr(self.stderr());
        cmd
    }

    /// Its log file, opened for appending.
    pub fn stderr(&self) -> Stdio {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the init's log file")
            .into()
    }
}

/// The directory of the inits' log files, removed at the end.
struct LogDir(PathBuf);

impl LogDir {
    fn new() -> LogDir {
        let dir = std::env::temp_dir().join(format!("drainit-bench.{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the log directory");
        LogDir(dir)
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn inits(logs: &LogDir) -> Vec<Init> {
    let shipped = static_binary(Build::Shipped, &[]);
    let glibc = static_binary(Build::Glibc, &[]);
    let mut list: Vec<(&'static str, PathBuf, &'static [&'static str], bool)> = vec![
        ("drainit", shipped.clone(), &["--"], false),
        ("drainit -q", shipped, &["-q", "--"], false),
        ("drainit-glibc", glibc, &["--"], false),
        ("tini", "/usr/bin/tini".into(), &["--"], true),
        ("tini-static", "/usr/bin/tini-static".into(), &["--"], true),
        ("dumb-init", "/usr/bin/dumb-init".into(), &["--"], true),
        ("catatonit", "/usr/bin/catatonit".into(), &["--"], true),
    ];
    list.extend(extra_inits());
    list.into_iter()
        .enumerate()
        .map(|(i, (name, path, args, peer))| Init {
            name,
            path,
            args,
            log: logs.0.join(format!("{i}.log")),
            peer,
        })
        .collect()
}

/// More inits to compare, e.g. a build of another branch:
/// `BENCH_EXTRA='old=/tmp/drainit-old --;x=/path/x -a --'`. They are not
/// peers.
fn extra_inits() -> Vec<(&'static str, PathBuf, &'static [&'static str], bool)> {
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
            let args: &'static [&'static str] = Box::leak(args.into_boxed_slice());
            Some((leak(name.trim()), path, args, false))
        })
        .collect()
}

pub fn this_exe() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}
