//! drainit's log: one `drainit: ...` line per record on stderr, as a
//! `log::Log`. The event loop opens a batch around each event it handles,
//! so that a batch's lines leave in one `write(2)` once its actions are
//! performed, never between a signal and the `kill` that passes it on.
//!
//! The line is formatted into a buffer kept from one record to the next:
//! no allocation once it has grown to the longest batch, no thread-local
//! (whose first use costs a `pthread_key_create` and two `sigprocmask`s
//! on musl), and a write error (a closed stderr) is ignored, so logging
//! never stops drainit.

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The lines not yet written, and whether a batch is open.
struct Pending {
    lines: Vec<u8>,
    /// Open batches (they may nest).
    batches: u32,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    lines: Vec::new(),
    batches: 0,
});

/// A batch's buffer is given back when it grew past this (a hostile hook
/// command line can be long); smaller ones are kept for the next batch.
const KEPT: usize = 4096;

struct Logger;

static LOGGER: Logger = Logger;

/// Sends records of `level` and above to stderr.
pub fn init(level: LevelFilter) {
    // Only fails when a logger is set already: drainit sets one, once.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    // The stop's lines fit: no allocation on the stop path.
    pending().lines.reserve(KEPT / 4);
}

/// Holds every line logged until it is dropped, then writes them with one
/// `write(2)`.
pub struct Batch(());

impl Batch {
    pub fn open() -> Batch {
        pending().batches += 1;
        Batch(())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        let mut pending = pending();
        pending.batches -= 1;
        if pending.batches == 0 {
            write_out(&mut pending.lines);
        }
    }
}

fn pending() -> std::sync::MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut pending = pending();
        line(&mut pending.lines, record.level(), record.args());
        if pending.batches == 0 {
            write_out(&mut pending.lines);
        }
    }

    fn flush(&self) {}
}

/// Appends the line of a record: `drainit: `, then `error: ` or
/// `warning: ` for those levels, then the message.
fn line(lines: &mut Vec<u8>, level: Level, message: &fmt::Arguments) {
    let prefix = match level {
        Level::Error => "drainit: error: ",
        Level::Warn => "drainit: warning: ",
        _ => "drainit: ",
    };
    // Writing into a Vec fails only when the allocator does, which aborts.
    let _ = writeln!(lines, "{prefix}{message}");
}

/// Writes `lines` to stderr and empties it. Errors are dropped: there is
/// nowhere else to say them.
fn write_out(lines: &mut Vec<u8>) {
    let mut rest = &lines[..];
    while !rest.is_empty() {
        // SAFETY: writes from a live buffer to descriptor 2.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        match n {
            n if n > 0 => rest = &rest[n as usize..],
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => break,
        }
    }
    lines.clear();
    if lines.capacity() > KEPT {
        lines.shrink_to(KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(level: Level, message: fmt::Arguments) -> String {
        let mut lines = Vec::new();
        line(&mut lines, level, &message);
        String::from_utf8(lines).unwrap()
    }

    #[test]
    fn a_line_names_drainit_and_the_level_of_errors_and_warnings() {
        assert_eq!(
            text(Level::Error, format_args!("a {}", 1)),
            "drainit: error: a 1\n"
        );
        assert_eq!(
            text(Level::Warn, format_args!("b")),
            "drainit: warning: b\n"
        );
        assert_eq!(text(Level::Info, format_args!("c")), "drainit: c\n");
        assert_eq!(text(Level::Debug, format_args!("d")), "drainit: d\n");
    }
}
