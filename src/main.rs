//! drainit: a PID-1 init for containers. `main` only wires the modules:
//! block the signals, parse, set up logging, run, and map the result to
//! an exit code.
//!
//! `no_main`: drainit skips std's runtime start-up. That start-up reads
//! `/proc/self/maps` to place a stack guard and installs an alternate
//! signal stack (a sixth of drainit's start-up instructions, 13 syscalls),
//! and sets SIGPIPE to "ignore", which would hide the caller's SIGPIPE
//! disposition from drainit. The arguments come from `main`'s own argv
//! (std only fills `std::env::args_os` by itself on glibc). Unit tests keep
//! std's `main`: the test harness needs it.

#![cfg_attr(not(test), no_main)]

mod cli;
mod config;
mod duration;
mod entry;
mod reaper;
mod rewrite;
mod shutdown;
mod signals;
mod sigwait;
mod spawn;
mod status;
mod supervisor;
mod words;

#[cfg(test)]
mod proptests;

use std::ffi::{CStr, OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::exit;

/// The C entry point, called by glibc's start-up code.
#[cfg_attr(not(test), unsafe(no_mangle))]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // First of all, before anything allocates: as PID 1, a signal with no
    // handler is dropped by the kernel, so a stop signal that came before
    // this block would be lost and the container would hang until SIGKILL.
    let signals = match sigwait::SignalSource::block() {
        Ok(blocked) => blocked,
        Err(e) => {
            eprintln!("drainit: failed to block signals: {}", spawn::describe(&e));
            exit(1);
        }
    };
    let config = match cli::parse(arguments(argc, argv)) {
        Ok(config) => config,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            exit(e.exit_code());
        }
    };
    init_logging(config.log_level);
    match supervisor::run(config, signals) {
        Ok(code) => exit(code),
        Err(e) => {
            // Not through `log`: this line shows whatever the log level.
            eprintln!("drainit: {e}");
            exit(e.code);
        }
    }
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
