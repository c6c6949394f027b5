//! Test fixture (not an example for users): the app and the drain hook of
//! the health and liveness tests (tests/health_*.rs, tests/liveness.rs).
//! One self-contained file, std and libc only. The servers those tests
//! probe live in the test process itself (tests/common/health.rs), where a
//! test can switch them between serving, refusing and hanging.
//!
//! `health_fixture app [--log FILE] [--exit-on N=CODE] [--count N]`: blocks
//!   every signal, prints `ready <pid>`, then takes signals one by one with
//!   sigwaitinfo: prints `sig <N>` per signal and appends
//!   `sig <N> <monotonic ns>` to FILE; after signal N of --exit-on, exits
//!   with CODE. With --count N, signal N is only counted, and SIGRTMAX
//!   prints `count <how many so far>` instead of its `sig` line.
//! `health_fixture hook --log FILE [--wait FIFO]`: appends
//!   `hook-start <ns>`, `env DRAINIT_REASON=...` and `env DRAINIT_SIGNAL=...`
//!   to FILE, then, with --wait, reads FIFO until its writer closes it (the
//!   test's handshake), then appends `hook-end <ns>` and exits 0.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        panic!("usage: health_fixture app|hook [OPTIONS]");
    };
    let mut opts = HashMap::new();
    for pair in rest.chunks(2) {
        let name = pair[0].strip_prefix("--").expect("an option");
        opts.insert(name.to_string(), pair.get(1).cloned().unwrap_or_default());
    }
    match mode.as_str() {
        "app" => app(&opts),
        "hook" => hook(&opts),
        _ => panic!("unknown mode {mode}"),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the tests read too.
fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// One line in one write(2), so lines of several writers never mix.
fn append(path: &str, line: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{line}\n").as_bytes()).unwrap();
    out.flush().unwrap();
}

fn app(opts: &HashMap<String, String>) {
    // SAFETY: plain libc calls on a local, zeroed signal set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let exit_on = opts.get("exit-on").map(|spec| {
        let (sig, code) = spec.split_once('=').unwrap();
        (sig.parse::<i32>().unwrap(), code.parse::<i32>().unwrap())
    });
    let counted: Option<i32> = opts.get("count").map(|n| n.parse().unwrap());
    let mut count = 0u64;
    say(&format!("ready {}", std::process::id()));
    loop {
        // SAFETY: waits on the set blocked above; no siginfo wanted.
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        if counted == Some(sig) {
            count += 1;
            continue;
        }
        if counted.is_some() && sig == libc::SIGRTMAX() {
            say(&format!("count {count}"));
            continue;
        }
        say(&format!("sig {sig}"));
        if let Some(log) = opts.get("log") {
            append(log, &format!("sig {sig} {}", monotonic_ns()));
        }
        if let Some((_, code)) = exit_on.filter(|(n, _)| *n == sig) {
            std::process::exit(code);
        }
        if sig == libc::SIGCHLD {
            // SAFETY: reaps whatever has exited, without blocking.
            while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        }
    }
}

fn hook(opts: &HashMap<String, String>) {
    let log = &opts["log"];
    append(log, &format!("hook-start {}", monotonic_ns()));
    for var in ["DRAINIT_REASON", "DRAINIT_SIGNAL"] {
        let value = std::env::var(var).unwrap_or_default();
        append(log, &format!("env {var}={value}"));
    }
    if let Some(fifo) = opts.get("wait") {
        let mut rest = Vec::new();
        std::fs::File::open(fifo)
            .and_then(|mut f| f.read_to_end(&mut rest))
            .unwrap();
    }
    append(log, &format!("hook-end {}", monotonic_ns()));
}
