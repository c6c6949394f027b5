//! `--keep-terminal` (`DRAINIT_KEEP_TERMINAL`): a terminal resize sends
//! SIGWINCH to the terminal's foreground process group, which is the
//! child's by default, so it reaches the child past any `--rewrite` (and
//! Apache httpd stops gracefully on WINCH). With `--keep-terminal` the
//! group stays drainit's: the resize's WINCH comes to drainit, and
//! `--rewrite WINCH:0` drops it (docs/servers.md, httpd).

mod common;

use std::os::fd::AsRawFd;

use common::*;

/// The first signal-numbered realtime signal after a resize: the fixture
/// takes pending signals lowest first, and a realtime one comes after
/// every standard one, so a WINCH sent before it shows first.
fn marker() -> i32 {
    libc::SIGRTMIN() + 1
}

/// Starts drainit with `args` on a new pseudo terminal (its controlling
/// terminal, through `setsid -c`), the fixture as its child; resizes the
/// terminal once the child is ready, then sends drainit the marker. The
/// child's next line says whether the resize's WINCH reached it.
fn resize_then_mark(mode: Mode, args: &[&str]) -> String {
    let f = fixture();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let master = std::fs::File::from(pty.master);
    let opts = Start {
        wrapper: vec!["setsid".into(), "-c".into()],
        stdin: Some(slave),
        ..Start::default()
    };
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", &f, "child"]);
    let d = Drainit::start_with(mode, &all, opts);
    d.ready();
    let size = libc::winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize; the kernel signals the
    // foreground group before the ioctl returns.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0, "TIOCSWINSZ");
    d.signal(marker());
    let line = d.expect("a signal line", |l| l.starts_with("sig "));
    d.signal(libc::SIGKILL);
    line
}

/// The pitfall: by default the resize's WINCH reaches the child even with
/// `--rewrite WINCH:0`.
fn a_resize_reaches_the_child_past_the_rewrite(mode: Mode) {
    let line = resize_then_mark(mode, &["--rewrite", "WINCH:0"]);
    assert_eq!(line, format!("sig {}", libc::SIGWINCH), "{mode:?}");
}

/// The recipe: with `--keep-terminal` the resize's WINCH comes to drainit
/// and is dropped; the child's next signal is the marker.
fn keep_terminal_lets_the_rewrite_drop_a_resize(mode: Mode) {
    let line = resize_then_mark(mode, &["--keep-terminal", "--rewrite", "WINCH:0"]);
    assert_eq!(line, format!("sig {}", marker()), "{mode:?}");
}

/// Without a rewrite, the resize reaches the child through drainit's
/// forwarding: nothing is lost by keeping the terminal.
fn keep_terminal_still_forwards_a_resize(mode: Mode) {
    let line = resize_then_mark(mode, &["--keep-terminal"]);
    assert_eq!(line, format!("sig {}", libc::SIGWINCH), "{mode:?}");
}

both_modes!(
    a_resize_reaches_the_child_past_the_rewrite,
    keep_terminal_lets_the_rewrite_drop_a_resize,
    keep_terminal_still_forwards_a_resize
);
