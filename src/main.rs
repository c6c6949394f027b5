//! drainit: a PID-1 init for containers. `main` is the table of contents:
//! block signals, parse, set up logging, start the child, supervise it,
//! and map the result to an exit code.
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
mod logging;
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

use std::ffi::{CStr, CString, OsStr, OsString};
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
    let invocation = match cli::parse(arguments(argc, argv), &variable) {
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
    logging::init(config.log_level);
    config.log_notes();
    let (mut signals, mask) = match blocked {
        Ok(blocked) => blocked,
        Err(e) => fail(
            1,
            format!("failed to block signals: {}", spawn::describe(&e)),
        ),
    };
    match startup::start(&config, &mut signals, mask) {
        Ok(started) => supervisor::run(config, signals, mask, started),
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

/// A variable of drainit's environment, by the C library's `getenv`:
/// std's `env::var_os` does the same through a lock and code that sits
/// among std's cold code, whose pages an idle drainit then need not touch
/// (docs/benchmarks.md, "Memory").
fn variable(name: &str) -> Option<OsString> {
    let name = CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name; drainit has no other thread, so no
    // setenv(3) runs while the value is copied.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string, valid until the
    // environment changes.
    let value = unsafe { CStr::from_ptr(value) };
    Some(OsStr::from_bytes(value.to_bytes()).to_owned())
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
