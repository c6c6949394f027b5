//! drainit: a PID-1 init for containers. `main` is the table of contents:
//! block signals, parse, set up logging, start the child, supervise it,
//! and map the result to an exit code.
//!
//! The map: a pure core (parsers, tables, the machines: no syscalls, no
//! clock) inside a thin shell of syscalls.
//!
//! | module | owns |
//! | --- | --- |
//! | `entry` | the process entry (`drainit_entry`, linked by `build.rs`): blocks the signals with the first system call |
//! | `main` | wiring: parse, logging, start, supervise, exit code; `--probe` |
//! | `cli/` | the clap definition and the only module that knows clap: arguments and an environment to a `Config` (its own table) |
//! | `config` | the validated `Config` and the `Policy` every other module sees |
//! | `signals` | signal numbers, names (`SIGRTMIN+3`), parsing, the never-forwarded set, faults raised by the kernel (pure) |
//! | `rewrite` | the rewrite table (pure) |
//! | `duration`, `words` | duration parsing, POSIX word splitting and quoting for the log (pure) |
//! | `address` | `HOST:PORT`, `tcp://`, `http://` and the drain request, parsed (pure) |
//! | `peers` | tini's and dumb-init's variables that drainit honours (pure) |
//! | `status` | wait statuses decoded by hand, the exit code, the success codes (pure) |
//! | `shutdown/` | the state machine: `(phase, event, now) -> actions` (pure; types, `machine`, `tests`) |
//! | `liveness` | the liveness probes' schedule and failure count (pure) |
//! | `processes` | the table of the processes drainit started, pid -> role |
//! | `startup` | subreaper, readiness listener, the spawn, what drainit lets go of |
//! | `spawn/` | posix_spawn for the child and the hook, the terminal's path, the environment, the caller's directory, exit codes 126/127 (its own table) |
//! | `reaper` | subreaper registration and the one `waitpid(-1, WNOHANG)` loop |
//! | `target` | the child or its group: every `kill(2)` drainit makes |
//! | `wait` | the one blocking wait: `sigtimedwait`, or a `signalfd` and `poll` with sockets |
//! | `ready` | the readiness endpoint: bounded, non-blocking connections, one answer each |
//! | `http` | the non-blocking client of the drain request and the probes (httparse) |
//! | `resolve` | name lookups in a short-lived child, so that none blocks the loop |
//! | `parent_death` | `--parent-death-signal`: `PR_SET_PDEATHSIG`, and a parent that died before it |
//! | `job_control` | outside PID 1: stopping with the child's job, the terminal back on `fg` |
//! | `supervisor` | the event loop: the next event to the machine, its actions performed, then logged |
//! | `proptests` | property tests of every parser (tests only) |
//!
//! `no_main`: drainit skips std's runtime start-up. That start-up reads
//! `/proc/self/maps` to place a stack guard and installs an alternate
//! signal stack (a sixth of drainit's start-up instructions, 13 syscalls),
//! and sets SIGPIPE to "ignore", which would hide the caller's SIGPIPE
//! disposition from drainit. The arguments come from `main`'s own argv
//! (std only fills `std::env::args_os` by itself on glibc). Unit tests keep
//! std's `main`: the test harness needs it.

#![cfg_attr(not(test), no_main)]

mod address;
mod cli;
mod config;
mod duration;
mod entry;
mod http;
mod job_control;
mod liveness;
mod parent_death;
mod peers;
mod processes;
mod ready;
mod reaper;
mod resolve;
mod rewrite;
mod shutdown;
mod signals;
mod spawn;
mod startup;
mod status;
mod supervisor;
mod target;
mod wait;
mod words;

#[cfg(test)]
mod proptests;

use std::ffi::{CStr, OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::exit;
use std::time::Duration;

use address::Target;
use config::Invocation;
use wait::SignalSource;

/// The C entry point, called by the C library's start-up code.
#[cfg_attr(not(test), unsafe(no_mangle))]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // First, before anything allocates: as PID 1, a signal drainit does
    // not block yet is dropped by the kernel, so a stop signal sent during
    // start-up would be lost. Blocked, it waits in the queue.
    let blocked = SignalSource::block();
    let invocation = match cli::parse(arguments(argc, argv), &|name| std::env::var_os(name)) {
        Ok(invocation) => invocation,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            exit(e.exit_code());
        }
    };
    let config = match invocation {
        Invocation::Run(config) => *config,
        Invocation::Probe { target, timeout } => {
            // A probe supervises nothing: Ctrl-C or TERM end it as they
            // would end any command.
            if let Ok((_, mask)) = &blocked {
                let _ = mask.restore();
            }
            probe(&target, timeout)
        }
    };
    init_logging(config.log_level);
    config.log_notes();
    let (mut signals, mask) = match blocked {
        Ok(blocked) => blocked,
        Err(e) => fail(
            1,
            format!("failed to block signals: {}", spawn::describe(&e)),
        ),
    };
    match startup::start(&config, &mut signals, mask) {
        Ok(started) => exit(supervisor::run(config, signals, mask, started)),
        Err(e) => fail(e.code, e.message),
    }
}

/// `--probe`: one check, exit 0 when it passes, 1 with the cause when not.
fn probe(target: &Target, timeout: Duration) -> ! {
    match http::probe_once(target, timeout) {
        Ok(()) => exit(0),
        Err(cause) => fail(1, format!("probe {target} failed: {cause}")),
    }
}

/// One `drainit: ...` line, whatever the log level, then exit with `code`.
fn fail(code: i32, message: String) -> ! {
    eprintln!("drainit: {message}");
    exit(code)
}

/// The C `argv` as owned strings, byte for byte.
fn arguments(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    (0..count)
        // SAFETY: the C start-up passes `argc` valid C strings in `argv`.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .map(|arg| OsStr::from_bytes(arg.to_bytes()).to_owned())
        .collect()
}

/// One line per event on stderr, prefixed `drainit:`. Write errors (a
/// closed stderr) are ignored by env_logger, so logging never stops drainit.
fn init_logging(level: log::LevelFilter) {
    env_logger::Builder::new()
        .filter_level(level)
        .format(|buf, record| match record.level() {
            log::Level::Error => writeln!(buf, "drainit: error: {}", record.args()),
            log::Level::Warn => writeln!(buf, "drainit: warning: {}", record.args()),
            _ => writeln!(buf, "drainit: {}", record.args()),
        })
        .init();
}
