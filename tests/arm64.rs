//! The arm64 build (aarch64-unknown-linux-musl) under Debian's
//! qemu-user-static: it starts, passes exit codes through, forwards
//! signals, reaps orphans as PID 1, and runs the stop sequence. Its child
//! is the host's fixture, which the kernel runs natively.
//!
//! qemu-user refuses PR_SET_CHILD_SUBREAPER (EINVAL), so as a plain child
//! drainit warns that orphans will not be reaped, and goes on.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::build::{Build, static_binary};
use common::elf::{Elf, elf};
use common::*;

const QEMU: &str = "qemu-aarch64-static";

fn arm64() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| static_binary(Build::Arm64, &[]))
}

fn start(mode: Mode, args: &[&str]) -> Drainit {
    let opts = Start {
        wrapper: vec![QEMU.into()],
        drainit: Some(arm64().clone()),
        ..Start::default()
    };
    Drainit::start_with(mode, args, opts)
}

#[test]
fn the_arm64_build_is_a_static_aarch64_executable() {
    let want = Elf {
        machine: 183,
        kind: 2,
        dynamic: false,
    };
    assert_eq!(elf(arm64()), want);
}

#[test]
fn under_qemu_as_pid_1_exit_codes_pass_through() {
    assert_eq!(
        start(Mode::Pid1, &["--", "sh", "-c", "exit 3"]).exit_code(),
        3
    );
    let killed = start(Mode::Pid1, &["--", "sh", "-c", "kill -USR1 $$"]);
    assert_eq!(killed.exit_code(), 128 + libc::SIGUSR1);
    let missing = start(Mode::Pid1, &["--", "/nonexistent"]);
    assert_eq!(missing.exit_code(), 127);
}

#[test]
fn under_qemu_as_pid_1_signals_are_forwarded_and_orphans_reaped() {
    let f = fixture();
    let d = start(
        Mode::Pid1,
        &["--", &f, "child", "--orphans", "3", "--exit-on", "1=5"],
    );
    let child = d.ready();
    // The three orphans exit at once; reaped, they leave only the child.
    wait_for(
        || (children(d.pid) == [child]).then_some(()),
        "the orphans to be reaped",
    );
    d.signal(libc::SIGUSR2);
    // The child's own SIGCHLDs, from its orphans' intermediate parents,
    // may come first: nothing else.
    let want = format!("sig {}", libc::SIGUSR2);
    let (skipped, _) = d.skip_until(&want, |l| l == want);
    let chld = format!("sig {}", libc::SIGCHLD);
    assert!(skipped.iter().all(|l| *l == chld), "{skipped:?}");
    d.signal(libc::SIGHUP);
    d.expect_line(&format!("sig {}", libc::SIGHUP));
    assert_eq!(d.exit_code(), 5);
}

#[test]
fn under_qemu_as_pid_1_the_stop_sequence_runs_hook_then_forward() {
    let f = fixture();
    let log = temp_dir("arm64-stop").join("log");
    let hook = format!("{f} hook --log {}", log.display());
    let args = [
        "--drain-exec",
        &hook,
        "--prestop-sleep",
        "100ms",
        "--",
        &f,
        "child",
        "--exit-on",
        "15=0",
    ];
    let d = start(Mode::Pid1, &args);
    d.ready();
    d.signal(libc::SIGTERM);
    d.expect_line(&format!("sig {}", libc::SIGTERM));
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines = log_lines(&log);
    assert!(lines[0].starts_with("hook-start "), "{lines:?}");
    assert!(
        lines.contains(&"env DRAINIT_SIGNAL=SIGTERM".to_string()),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().starts_with("hook-end "), "{lines:?}");
    let order = ["running drain hook", "sleeping", "forwarded SIGTERM"];
    let at: Vec<usize> = order
        .iter()
        .map(|what| {
            stderr
                .find(what)
                .unwrap_or_else(|| panic!("{what}: {stderr}"))
        })
        .collect();
    assert!(at.is_sorted(), "{stderr}");
}

#[test]
fn under_qemu_as_a_plain_child_it_warns_once_that_orphans_are_not_reaped() {
    let d = start(Mode::Subreaper, &["--", "sh", "-c", "exit 4"]);
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert_eq!(
        stderr,
        "drainit: warning: failed to become a child subreaper: Invalid argument; \
         orphaned descendants will not be reaped\n"
    );
}
