//! The static builds: the musl one that ships, the static glibc fallback,
//! and what both owe the child: exactly the signal state it would have if
//! the caller had started it directly.

mod common;

use std::path::Path;
use std::process::Command;

use common::build::{Build, static_binary};
use common::elf::{Elf, elf};
use common::*;

const X86_64_STATIC: Elf = Elf {
    machine: 62,
    kind: 2,
    dynamic: false,
};

/// `drainit -- sh -c 'exit 3'` exits 3.
fn runs(drainit: &Path) {
    let status = Command::new(drainit)
        .args(["--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn the_shipped_build_is_the_static_musl_one_and_runs() {
    let drainit = static_binary(Build::Shipped, &[]);
    assert!(
        drainit.ends_with("target/x86_64-unknown-linux-musl/release/drainit"),
        "{drainit:?}"
    );
    assert_eq!(elf(&drainit), X86_64_STATIC);
    runs(&drainit);
}

#[test]
fn without_the_musl_target_the_script_says_so_once_and_builds_static_glibc() {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-static.sh"
    ))
    .env("DRAINIT_BUILD_FORCE_GLIBC", "1")
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "build-static.sh: building the static glibc drainit instead of the musl one \
         (DRAINIT_BUILD_FORCE_GLIBC=1)\n"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let drainit = Path::new(stdout.trim());
    assert!(
        drainit.ends_with("target/x86_64-unknown-linux-gnu/release/drainit"),
        "{stdout}"
    );
    assert_eq!(elf(drainit), X86_64_STATIC);
    runs(drainit);
}

/// The SigBlk and SigIgn lines of a program the fixture's `with-signals`
/// starts directly with that state: the reference.
fn direct_state(blocked: &str, ignored: &str) -> Vec<String> {
    let out = Command::new(fixture())
        .args(["with-signals", blocked, ignored])
        .args(["grep", "^Sig[BI]", "/proc/self/status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The child and the drain hook of `drainit` get exactly the direct
/// state, signals 32 and 33 (glibc's own) included: with a clean caller,
/// and with one that blocks and ignores signals, 32 and 33 among them. SIGPIPE is not in the
/// lists: the child always gets it at its default (README, "Signals").
fn child_and_hook_start_as_if_started_directly(drainit: &Path) {
    let rt2 = (libc::SIGRTMIN() + 2).to_string();
    let callers = [
        ("-".to_string(), "-".to_string()),
        (format!("10,2,{rt2}"), "1,12,32,33".to_string()),
    ];
    let grep = "grep '^Sig[BI]' /proc/self/status";
    for (blocked, ignored) in callers {
        let want = direct_state(&blocked, &ignored);
        let wrapper = vec![fixture(), "with-signals".into(), blocked, ignored];
        let start = || Start {
            wrapper: wrapper.clone(),
            drainit: Some(drainit.to_path_buf()),
            ..Start::default()
        };
        let direct = ["--", "grep", "^Sig[BI]", "/proc/self/status"];
        let d = Drainit::start_with(Mode::Subreaper, &direct, start());
        assert_eq!(d.rest(), want, "child of {drainit:?}");
        assert_eq!(d.exit_code(), 0);

        let f = fixture();
        let args = ["--drain-exec", grep, "--", &f, "child", "--exit-on", "15=0"];
        let d = Drainit::start_with(Mode::Subreaper, &args, start());
        d.ready();
        d.signal(libc::SIGTERM);
        let hook: Vec<String> = (0..2)
            .map(|_| d.expect("a status line", |l| l.starts_with("Sig")))
            .collect();
        assert_eq!(hook, want, "hook of {drainit:?}");
        assert_eq!(d.exit_code(), 0);
    }
}

#[test]
fn musl_child_and_hook_start_with_the_callers_signal_state() {
    child_and_hook_start_as_if_started_directly(&static_binary(Build::Shipped, &[]));
}

#[test]
fn glibc_child_and_hook_start_with_the_callers_signal_state() {
    child_and_hook_start_as_if_started_directly(&static_binary(Build::Glibc, &[]));
}
