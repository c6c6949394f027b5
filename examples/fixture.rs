//! Test fixture (not an example for users): the programs drainit's tests
//! run as its child and as its drain hook. Built by `cargo test`.
//!
//! `fixture child [OPTIONS]`: takes every catchable signal with sigwaitinfo,
//! prints `ready <pid>`, then `[NAME ]sig <N>` per signal received.
//!   --name NAME          prefix lines with NAME
//!   --exit-on N=CODE     after printing signal N, exit with CODE
//!   --die-on N           after printing signal N, die by it (default action)
//!   --drain-on N=MS      after printing signal N, print `draining`, work MS
//!                        milliseconds, print `drained`, exit 0
//!   --log FILE           also append `child <N> <monotonic ns>` per signal
//!   --orphans N          first leave N orphans (double fork, exit at once)
//!   --tty                first print `tty fg=<tcgetpgrp(0)> pgrp=<getpgrp()>`
//!   --exit CODE          exit with CODE right after `ready`
//! `fixture hook --log FILE [--sleep MS] [--exit CODE]`: appends
//!   `hook-start <ns>`, its environment and cwd, sleeps, appends
//!   `hook-end <ns>`, exits with CODE.
//! `fixture orphans N`: leaves N orphans, prints `orphans <N>`, exits 0.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        panic!("usage: fixture child|hook|orphans ...");
    };
    let opts = options(rest);
    match mode.as_str() {
        "child" => child(&opts),
        "hook" => hook(&opts),
        "orphans" => {
            let n: usize = rest[0].parse().unwrap();
            orphans(n);
            say(&format!("orphans {n}"));
        }
        _ => panic!("unknown mode {mode}"),
    }
}

fn options(args: &[String]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if let Some(name) = flag.strip_prefix("--") {
            let value = if name == "tty" {
                String::new()
            } else {
                it.next().cloned().unwrap_or_default()
            };
            map.insert(name.to_string(), value);
        }
    }
    map
}

/// One line on stdout, in one write(2), so lines of several fixtures
/// sharing a pipe never mix.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn append(path: &str, line: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn pair(spec: &str) -> (i32, u64) {
    let (a, b) = spec.split_once('=').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn orphans(n: usize) {
    for _ in 0..n {
        match unsafe { libc::fork() } {
            0 => {
                // The middle process leaves a grandchild that exits at once.
                unsafe {
                    libc::fork();
                    libc::_exit(0);
                }
            }
            pid if pid > 0 => {}
            _ => panic!("fork failed"),
        }
    }
    // Reap the middle processes; the grandchildren are orphans now.
    for _ in 0..n {
        unsafe { libc::wait(std::ptr::null_mut()) };
    }
}

fn child(opts: &HashMap<String, String>) {
    let prefix = opts
        .get("name")
        .map(|n| format!("{n} "))
        .unwrap_or_default();
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    if let Some(n) = opts.get("orphans") {
        orphans(n.parse().unwrap());
    }
    if opts.contains_key("tty") {
        let (fg, pgrp) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
        say(&format!("tty fg={fg} pgrp={pgrp}"));
    }
    say(&format!("{prefix}ready {}", std::process::id()));
    if let Some(code) = opts.get("exit") {
        std::process::exit(code.parse().unwrap());
    }
    let exit_on = opts.get("exit-on").map(|s| pair(s));
    let drain_on = opts.get("drain-on").map(|s| pair(s));
    let die_on: Option<i32> = opts.get("die-on").map(|s| s.parse().unwrap());
    loop {
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        say(&format!("{prefix}sig {sig}"));
        if let Some(log) = opts.get("log") {
            append(log, &format!("child {sig} {}", monotonic_ns()));
        }
        if exit_on.is_some_and(|(n, _)| n == sig) {
            std::process::exit(exit_on.unwrap().1 as i32);
        }
        if let Some((_, ms)) = drain_on.filter(|(n, _)| *n == sig) {
            say(&format!("{prefix}draining"));
            std::thread::sleep(Duration::from_millis(ms));
            say(&format!("{prefix}drained"));
            std::process::exit(0);
        }
        if die_on == Some(sig) {
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                let mut one: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, sig);
                libc::raise(sig);
                libc::sigprocmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
            }
            unreachable!("signal {sig} did not kill the fixture");
        }
        if sig == libc::SIGCHLD {
            while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        }
    }
}

fn hook(opts: &HashMap<String, String>) {
    let log = &opts["log"];
    append(log, &format!("hook-start {}", monotonic_ns()));
    for var in ["DRAINIT_CHILD_PID", "DRAINIT_SIGNAL"] {
        append(
            log,
            &format!("env {var}={}", std::env::var(var).unwrap_or_default()),
        );
    }
    append(
        log,
        &format!("cwd {}", std::env::current_dir().unwrap().display()),
    );
    if let Some(ms) = opts.get("sleep") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
    }
    append(log, &format!("hook-end {}", monotonic_ns()));
    std::process::exit(opts.get("exit").map_or(0, |c| c.parse().unwrap()));
}
