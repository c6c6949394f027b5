//! CONTRACT.md "Process model": with a terminal on stdin, the child's
//! group is the terminal's foreground group, so Ctrl-C reaches the child.

mod common;

use std::io::Write;

use common::*;

#[test]
fn the_child_is_the_terminals_foreground_group_and_ctrl_c_reaches_it() {
    let f = fixture();
    for mode in MODES {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let mut master = std::fs::File::from(pty.master);
        // `setsid -c` makes the pty drainit's controlling terminal.
        let opts = Start {
            wrapper: vec!["setsid".into(), "-c".into()],
            stdin: Some(slave),
            ..Start::default()
        };
        let d = Drainit::start_with(mode, &[&f, "child", "--tty", "--die-on", "2"], opts);
        let tty = d.expect("tty", |l| l.starts_with("tty "));
        let (fg, pgrp) = tty
            .strip_prefix("tty fg=")
            .unwrap()
            .split_once(" pgrp=")
            .unwrap();
        assert_eq!(fg, pgrp, "{mode:?}: the child's group is in the foreground");
        d.ready();
        // Ctrl-C: the line discipline signals the foreground group.
        master.write_all(b"\x03").unwrap();
        d.expect_line("sig 2");
        assert_eq!(d.exit_code(), 130, "{mode:?}");
    }
}
