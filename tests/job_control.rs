//! docs/moving-from-tini-or-dumb-init.md, job control: outside PID 1,
//! drainit stops itself after forwarding TSTP, TTIN or TTOU (and when the
//! terminal stopped its child), so that a shell shows the job stopped and
//! regains the terminal; CONT resumes it and is forwarded. PID 1 never
//! stops itself.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::*;

/// An interactive bash on a new pseudo terminal, with job control.
struct Shell {
    process: std::process::Child,
    master: std::fs::File,
    /// Everything the terminal showed so far.
    screen: Arc<Mutex<String>>,
}

const PROMPT: &str = "PROMPT$ ";

impl Shell {
    fn start() -> Shell {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = std::fs::File::from(pty.slave);
        let master = std::fs::File::from(pty.master);
        // `setsid -c` makes the pty bash's controlling terminal.
        let process = Command::new("setsid")
            .args(["-c", "bash", "--norc", "--noprofile", "--noediting", "-i"])
            .env("PS1", PROMPT)
            .env("TERM", "dumb")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("start bash");
        let screen = collect_text(master.try_clone().unwrap());
        let shell = Shell {
            process,
            master,
            screen,
        };
        shell.wait_screen(PROMPT, 1);
        shell
    }

    fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    fn type_in(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Waits until the screen shows `text` at least `times` times.
    fn wait_screen(&self, text: &str, times: usize) {
        let screen = || self.screen.lock().unwrap().clone();
        wait_for(
            || (screen().matches(text).count() >= times).then_some(()),
            &format!("{text:?} x{times} on the terminal"),
        );
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// The terminal's foreground process group.
    fn foreground(&self) -> i32 {
        use std::os::fd::AsRawFd;
        unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn ctrl_z_in_a_shell_stops_drainit_and_fg_then_ctrl_c_end_it() {
    let mut shell = Shell::start();
    shell.type_in(format!("{} sleep 100\n", drainit_bin()).as_bytes());
    let drainit = wait_for(
        || children(shell.pid()).first().copied(),
        "drainit under bash",
    );
    let sleep = wait_for(
        || {
            children(drainit)
                .first()
                .copied()
                .filter(|&p| comm(p) == "sleep")
        },
        "sleep under drainit",
    );
    // The child's group holds the terminal.
    wait_for(
        || (shell.foreground() == sleep).then_some(()),
        "sleep in the foreground",
    );

    // Ctrl-Z: the terminal stops sleep's group; drainit follows, and bash
    // shows the job stopped and its prompt, with the terminal its own.
    shell.type_in(b"\x1a");
    wait_state(sleep, &['T'], "sleep");
    wait_state(drainit, &['T'], "drainit");
    shell.wait_screen("Stopped", 1);
    shell.wait_screen(PROMPT, 2);
    assert_eq!(shell.foreground(), shell.pid(), "{}", shell.screen());

    // fg: bash resumes drainit, which resumes sleep and gives it the
    // terminal back, so that Ctrl-C reaches it.
    shell.type_in(b"fg\n");
    wait_for(
        || (shell.foreground() == sleep).then_some(()),
        "sleep in the foreground again",
    );
    wait_state(drainit, &['S', 'R'], "drainit");
    wait_state(sleep, &['S', 'R'], "sleep");
    shell.type_in(b"\x03");
    shell.wait_screen(PROMPT, 3);
    shell.type_in(b"echo status=$?\n");
    shell.wait_screen("status=130", 1);
    assert!(state(drainit).is_none(), "drainit still runs");
}

#[test]
fn tstp_sent_to_drainit_is_forwarded_then_drainit_stops_until_cont() {
    let f = fixture();
    let d = Drainit::start(Mode::Subreaper, &[&f, "child", "--exit-on", "10=0"]);
    let child = d.ready();
    for sig in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
        d.signal(sig);
        d.expect_line(&format!("sig {sig}"));
        wait_state(d.pid, &['T'], "drainit");
        // The fixture takes every signal, so it runs on: only drainit stops.
        assert_ne!(state(child), Some('T'));
        d.signal(libc::SIGCONT);
        d.expect_line(&format!("sig {}", libc::SIGCONT));
        assert_ne!(state(d.pid), Some('T'));
    }
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 10");
    assert_eq!(d.exit_code(), 0);
}

/// As PID 1 drainit never stops itself: nothing would resume a
/// container's init. The kernel drops a namespace init's own SIGSTOP
/// anyway (SIGNAL_UNKILLABLE), so what the PID-1 guards change is whether
/// drainit tries, which it says at debug level: after a forwarded TSTP,
/// TTIN or TTOU, and after its child was stopped by one. With the guards
/// removed this test fails on that line.
#[test]
fn as_pid1_drainit_forwards_tstp_and_never_stops_itself() {
    let f = fixture();
    let d = Drainit::start(Mode::Pid1, &["-v", &f, "child", "--exit-on", "10=0"]);
    d.ready();
    for sig in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
        d.signal(sig);
        d.expect_line(&format!("sig {sig}"));
    }
    // A stopped drainit would not pass USR1 on.
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 10");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("stopping drainit"), "{log}");

    // A child stopped straight from the terminal (Ctrl-Z signals its group).
    let d = Drainit::start(Mode::Pid1, &["-v", "sleep", "100"]);
    let sleep = wait_for(
        || {
            let first = children(d.pid).first().copied();
            first.filter(|&p| comm(p) == "sleep")
        },
        "sleep under drainit",
    );
    send(sleep, libc::SIGTSTP);
    wait_state(sleep, &['T'], "sleep");
    // WINCH is taken after the CHLD of the stop (a higher number), so its
    // forward's line says drainit has dealt with the stop.
    d.signal(libc::SIGWINCH);
    wait_for(
        || d.stderr().contains("forwarded SIGWINCH").then_some(()),
        "WINCH forwarded",
    );
    send(sleep, libc::SIGCONT);
    d.signal(libc::SIGTERM);
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(143), "{log}");
    assert!(!log.contains("stopping drainit"), "{log}");
}

#[test]
fn tstp_as_the_stop_signal_runs_the_shutdown_and_does_not_stop_drainit() {
    let f = fixture();
    let d = Drainit::start(
        Mode::Subreaper,
        &["--stop-signal", "TSTP", &f, "child", "--exit-on", "20=0"],
    );
    d.ready();
    d.signal(libc::SIGTSTP);
    d.expect_line("sig 20");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("received SIGTSTP: starting the shutdown sequence"));
}
