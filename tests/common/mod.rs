//! The one test harness, shared by every test file (`mod common;`) and by
//! the benchmark (`#[path]`): the real drainit binary as PID 1 of a new
//! PID namespace or as a subreaper ([`Drainit`]), the static builds
//! ([`build`]), what /proc says about a process ([`procfs`]), real containers under a real Docker daemon ([`docker`]),
//! and HAProxy in front of app instances ([`haproxy`]). Here: the deadline, polling, the line reader, temporary
//! files, the programs under test. Tests never sleep; they wait for a line
//! or a state.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod build;
pub mod docker;
pub mod drainit;
pub mod early_term;
pub mod elf;
#[path = "../fixtures/fixture_log.rs"]
pub mod fixture_log;
pub mod haproxy;
pub mod health;
pub mod procfs;
pub mod servers;

pub use build::{Build, static_binary};
pub use drainit::*;
pub use procfs::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The checkout, whose docker/ holds files under test.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The drainit binary cargo built for this test run.
pub fn drainit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_drainit")
}

/// The test fixture (tests/fixtures/fixture.rs).
pub fn fixture() -> String {
    example("fixture")
}

/// A fixture program of tests/fixtures/ (a cargo example), next to this
/// test run's build. A plain `cargo test` builds them; `cargo test --test
/// NAME` does not, so it is built here then.
pub fn example(name: &str) -> String {
    static BUILD: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().unwrap();
    // <target>[/<triple>]/<profile>/deps/<test>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    let _one_build_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .current_dir(REPO)
            .args(["build", "--example", name])
            .status()
            .unwrap();
        assert!(ok.success(), "building the fixture {name} failed");
    }
    path.to_string_lossy().into_owned()
}

/// How long any single expectation may take: generous, for a loaded
/// 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `probe` every `every` until it returns `Some`, for at most
/// `deadline`; then panics, naming what it waited for (`what()` is only
/// called then).
pub fn poll<T>(
    deadline: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
    what: impl Fn() -> String,
) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {}",
            what()
        );
        thread::sleep(every);
    }
}

/// Polls `probe` until it returns `Some`, for at most `DEADLINE`.
pub fn wait_for<T>(probe: impl FnMut() -> Option<T>, what: &str) -> T {
    poll(DEADLINE, Duration::from_millis(2), probe, || {
        what.to_string()
    })
}

/// The prefixes of every variable drainit reads: its own, and tini's and
/// dumb-init's that it honours (README, "Moving from tini or dumb-init").
pub const READ_PREFIXES: [&str; 3] = ["DRAINIT_", "TINI_", "DUMB_INIT_"];

/// Removes every variable drainit reads (`READ_PREFIXES`) of the test's
/// own environment from `cmd`, so that a developer's shell (or CI's
/// hostile-environment step) cannot change what a test sees.
pub fn scrub_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if READ_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// Reads `input` line by line on a thread of its own; the lines arrive on
/// the receiver, which disconnects at the end of the input (or a read
/// error, such as EIO from a pty whose other side is gone).
pub fn line_reader(input: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, lines) = channel();
    thread::spawn(move || {
        for line in BufReader::new(input).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Writes a line to stderr past libtest's capture, so that figures show
/// in the CI log also when the test passes.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Everything `reader` gives until it ends (EOF or an error, e.g. EIO from
/// a pty whose other side is gone), gathered as text by a thread, which
/// holds the second reference until then.
pub fn collect_text(mut reader: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    // One per call: a test's two modes run at once in one process, and
    // must not remove each other's directory.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lines of an append-only log file (empty if it does not exist yet).
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
