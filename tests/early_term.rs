//! The early TERM: as PID 1, a signal with the default disposition is
//! dropped by the kernel, so drainit blocks its signals as the first thing
//! in `main`, before it parses or allocates anything. What is left of the
//! blind window is the kernel's exec and the C library's start-up.

mod common;

use std::process::Command;

use common::build::{Build, static_binary};
use common::early_term::lost;

/// The C libraries' own start-up calls, made before `main`: musl makes
/// the first two; static glibc all of them (its heap, TLS, stack limit,
/// the exe path for dlopen, the stack guard, RELRO).
const C_START_UP: [&str; 10] = [
    "arch_prctl",
    "set_tid_address",
    "brk",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "readlink",
    "readlinkat",
    "getrandom",
    "mprotect",
];

/// The system calls drainit makes after its execve and before it blocks
/// its signals, by name, from `strace -f`.
fn calls_before_the_block(drainit: &std::path::Path) -> Vec<String> {
    let dir = common::temp_dir("early-term-strace");
    let trace = dir.join("trace");
    let out = Command::new("strace")
        .arg("-o")
        .arg(&trace)
        .arg(drainit)
        .args(["--", "true"])
        .output()
        .expect("strace is missing: apt-get install strace");
    assert!(out.status.success(), "{out:?}");
    let trace = std::fs::read_to_string(trace).unwrap();
    let calls: Vec<&str> = trace
        .lines()
        .skip_while(|l| !l.starts_with("execve("))
        .skip(1)
        .take_while(|l| !l.starts_with("rt_sigprocmask(SIG_BLOCK"))
        .map(|l| l.split('(').next().unwrap_or(l))
        .collect();
    assert!(
        trace
            .lines()
            .any(|l| l.starts_with("rt_sigprocmask(SIG_BLOCK")),
        "no block at all:\n{trace}"
    );
    calls.into_iter().map(str::to_string).collect()
}

#[test]
fn the_musl_build_blocks_its_signals_right_after_the_c_library_start_up() {
    let drainit = static_binary(Build::Shipped, &[]);
    let calls = calls_before_the_block(&drainit);
    if drainit.to_string_lossy().contains("-musl/") {
        // Allocating, parsing or logging first would show as brk, mmap,
        // ioctl or write calls here.
        assert_eq!(calls, ["arch_prctl", "set_tid_address"]);
    } else {
        assert!(
            calls.iter().all(|c| C_START_UP.contains(&c.as_str())),
            "{calls:?}"
        );
    }
}

#[test]
fn the_glibc_build_blocks_its_signals_right_after_the_c_library_start_up() {
    let calls = calls_before_the_block(&static_binary(Build::Glibc, &[]));
    // glibc's malloc needs no system call for drainit's first allocations,
    // so this cannot see them: the musl test above can.
    assert!(
        calls.iter().all(|c| C_START_UP.contains(&c.as_str())),
        "{calls:?}"
    );
}

/// One TERM as soon as the exec shows in /proc, 100 times. Measured on a
/// loaded 2-core machine: 14 to 20 of 100 runs lost, about as many as
/// tini-static and catatonit (18), against 86 for dumb-init (dynamically
/// linked: its loader runs first). What is lost is lost in the kernel's
/// exec and the C library's start-up, so the bound is loose; an init that
/// never blocks TERM loses all 100.
#[test]
fn an_early_term_ends_most_runs() {
    let drainit = static_binary(Build::Shipped, &[]);
    let tries = 100;
    let lost = lost(&drainit, &["--"], tries);
    eprintln!("early TERM: drainit lost {lost} of {tries}");
    assert!(lost <= tries / 2, "{lost} of {tries} runs did not end");
}
