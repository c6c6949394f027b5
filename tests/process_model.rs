//! The process model (README "Usage" and "Process details"): spawning,
//! exit statuses, arguments, the state the child inherits, drainit's own
//! failures.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::*;

/// Runs drainit to completion with stdin/stdout discarded; returns the
/// exit code and stderr.
fn run(mode: Mode, args: &[&str]) -> (i32, String) {
    let d = Drainit::start(mode, args);
    let (status, log) = d.wait();
    (status.code().expect("drainit exited normally"), log)
}

fn all_256_exit_codes_pass_through(mode: Mode) {
    let f = fixture();
    let threads: Vec<_> = (0..4)
        .map(|part| {
            let f = f.clone();
            std::thread::spawn(move || {
                for code in (part..256).step_by(4) {
                    let c = code.to_string();
                    let (got, log) = run(mode, &[&f, "child", "--exit", &c]);
                    assert_eq!(got, code, "{mode:?}: {log}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

both_modes!(all_256_exit_codes_pass_through);

fn a_signal_death_gives_128_plus_n_for_standard_and_realtime_signals(mode: Mode) {
    let f = fixture();
    let rt = libc::SIGRTMIN() + 6; // 40 with glibc
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, rt] {
        let n = sig.to_string();
        let d = Drainit::start(mode, &[&f, "child", "--die-on", &n]);
        d.ready();
        d.signal(sig);
        assert_eq!(d.exit_code(), 128 + sig, "{mode:?} signal {sig}");
    }
    // KILL cannot be forwarded: the child takes it directly.
    let d = Drainit::start(mode, &[&f, "child"]);
    send(d.ready(), libc::SIGKILL);
    assert_eq!(d.exit_code(), 137, "{mode:?}");
    // The example: `kill -40` on the child itself gives 168.
    let d = Drainit::start(mode, &["sh", "-c", "kill -40 $$"]);
    assert_eq!(d.exit_code(), 168, "{mode:?}");
}

both_modes!(a_signal_death_gives_128_plus_n_for_standard_and_realtime_signals);

fn own_failures_exit_127_or_126_with_one_line_naming_the_cause(mode: Mode) {
    let dir = temp_dir(&format!("own-failures-{mode:?}"));
    let not_executable = dir.join("data").to_string_lossy().into_owned();
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let (code, log) = run(mode, &["no-such-command-xyz"]);
    assert_eq!(code, 127);
    assert_eq!(
        log,
        "drainit: failed to run 'no-such-command-xyz': No such file or directory\n"
    );
    let (code, log) = run(mode, &[&not_executable]);
    assert_eq!(code, 126);
    assert_eq!(
        log,
        format!("drainit: failed to run '{not_executable}': Permission denied\n")
    );
    let (code, log) = run(mode, &["/"]);
    assert_eq!(code, 126, "{log}");
}

both_modes!(own_failures_exit_127_or_126_with_one_line_naming_the_cause);

#[test]
fn a_usage_error_exits_2_and_starts_nothing() {
    let dir = temp_dir("usage-error");
    // The command would create this file.
    let marker = dir.join("started");
    let touch = format!("touch {}", marker.display());
    for args in [
        &["--grace", "soon", "sh", "-c", &touch][..],
        &["--bogus", "sh", "-c", &touch],
        &[],
    ] {
        let (code, log) = run(Mode::Subreaper, args);
        assert_eq!(code, 2, "{args:?}: {log}");
        assert!(log.starts_with("drainit: "), "{log}");
    }
    assert!(!marker.exists(), "a usage error started the command");
}

#[test]
fn options_after_command_and_every_byte_reach_the_command() {
    let dir = temp_dir("argv");
    let out = dir.join("argv");
    let script = format!(
        "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > {}",
        out.display()
    );
    let weird = OsStr::from_bytes(b"\xff\xfe not utf-8 \x01");
    let status = scrub_env(&mut Command::new(drainit_bin()))
        .args(["sh", "-c", &script, "sh", "-v", "--grace", "1s", "--", "-q"])
        .arg(weird)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let got = std::fs::read(&out).unwrap();
    let mut want = b"-v\0--grace\x001s\0--\0-q\0".to_vec();
    want.extend_from_slice(b"\xff\xfe not utf-8 \x01\0");
    assert_eq!(got, want);
}

/// As with execvp(3) (and tini, dumb-init, a shell): a file the kernel
/// cannot execute, a script without `#!`, is run by /bin/sh, by path and
/// when found in PATH, with its arguments.
fn a_script_without_a_shebang_is_run_by_sh(mode: Mode) {
    let dir = temp_dir("no-shebang");
    let script = dir.join("plain-script");
    std::fs::write(&script, "echo \"plain script ran: $0 $*\"\nexit 9\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
    let by_path = script.to_string_lossy().into_owned();
    for program in [by_path.as_str(), "plain-script"] {
        let opts = Start {
            env: vec![("PATH", &path)],
            ..Start::default()
        };
        let d = Drainit::start_with(mode, &[program, "a", "b c"], opts);
        let line = d.expect("the script's line", |l| l.starts_with("plain script ran"));
        assert_eq!(line, format!("plain script ran: {by_path} a b c"));
        assert_eq!(d.exit_code(), 9, "{mode:?} {program}");
    }
    // A relative PATH entry is taken from the caller's directory, where the
    // child starts (drainit itself has left it).
    let relative = format!(".:{}", std::env::var("PATH").unwrap());
    let opts = Start {
        env: vec![("PATH", &relative)],
        cwd: Some(dir.to_str().unwrap()),
        ..Start::default()
    };
    let d = Drainit::start_with(mode, &["plain-script", "x"], opts);
    d.expect_line("plain script ran: ./plain-script x");
    assert_eq!(d.exit_code(), 9, "{mode:?}");
}

both_modes!(a_script_without_a_shebang_is_run_by_sh);

fn the_child_runs_in_a_new_process_group(mode: Mode) {
    let f = fixture();
    let d = Drainit::start(mode, &[&f, "child"]);
    let child = d.ready();
    let pgrp = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(2)
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    assert_eq!(
        pgrp(child),
        child,
        "{mode:?}: the child leads its own group"
    );
    assert_ne!(pgrp(d.pid), child);
    send(child, libc::SIGKILL);
    d.wait();
}

both_modes!(the_child_runs_in_a_new_process_group);

fn the_child_inherits_env_cwd_and_descriptors_and_drainit_lets_go_of_them(mode: Mode) {
    let f = fixture();
    let dir = temp_dir("inherit");
    let dir_s = dir.to_str().unwrap();
    // The wrapper opens descriptor 5 and execs drainit with it.
    let opts = Start {
        env: vec![("FIXTURE_MARK", "42")],
        cwd: Some(dir_s),
        wrapper: vec![
            "sh".into(),
            "-c".into(),
            "exec 5</dev/null; exec \"$0\" \"$@\"".into(),
        ],
        ..Start::default()
    };
    let d = Drainit::start_with(mode, &[&f, "child"], opts);
    let child = d.ready();
    let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap();
    assert!(environ.split(|&b| b == 0).any(|v| v == b"FIXTURE_MARK=42"));
    let cwd = |pid: i32| std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    assert_eq!(cwd(child), dir);
    let fds = |pid: i32| -> Vec<i32> {
        let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        v.sort();
        v
    };
    assert!(fds(child).contains(&5), "{mode:?}: the child inherits fd 5");
    // drainit moves to / and closes its copies, right after the spawn.
    wait_for(
        || (cwd(d.pid) == std::path::Path::new("/")).then_some(()),
        "drainit in /",
    );
    wait_for(
        || (fds(d.pid) == [0, 1, 2]).then_some(()),
        "drainit to close fds above 2",
    );
    send(child, libc::SIGKILL);
    d.wait();
}

both_modes!(the_child_inherits_env_cwd_and_descriptors_and_drainit_lets_go_of_them);

/// Busy threads on every core until dropped: the load under which a
/// window between two steps of drainit's start-up shows.
struct CpuLoad {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CpuLoad {
    fn start() -> CpuLoad {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..2 * cores {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        CpuLoad { stop }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// dumb-init's `cwd` case (its tests/cwd_test.py), repeated under CPU
/// load: the child starts in the caller's directory and finds drainit
/// already in `/` (`readlink /proc/$PPID/cwd`), never still in the
/// caller's. drainit leaves the directory before the spawn and gives it to
/// the child through the spawn's file actions; moving after the spawn
/// failed this in about one run in six under load.
fn the_child_never_sees_drainit_in_the_callers_directory(mode: Mode) {
    let dir = temp_dir("cwd-race");
    let dir_s = dir.to_str().unwrap();
    let script = "readlink /proc/$PPID/cwd && readlink /proc/self/cwd";
    let _load = CpuLoad::start();
    for run in 0..40 {
        let opts = Start {
            cwd: Some(dir_s),
            ..Start::default()
        };
        let d = Drainit::start_with(mode, &["sh", "-c", script], opts);
        assert_eq!(d.rest(), ["/", dir_s], "{mode:?}, run {run}");
        assert_eq!(d.exit_code(), 0);
    }
}

both_modes!(the_child_never_sees_drainit_in_the_callers_directory);

/// A child of a caller with no unusual signal state starts with nothing
/// blocked or ignored (tests/hostile_caller.rs: a caller that blocks and
/// ignores signals passes that on).
#[test]
fn the_child_of_a_plain_caller_starts_with_a_clean_signal_state() {
    let d = Drainit::start(
        Mode::Subreaper,
        &["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
    );
    let blk = d.expect("SigBlk", |l| l.starts_with("SigBlk:"));
    let ign = d.expect("SigIgn", |l| l.starts_with("SigIgn:"));
    assert_eq!(d.exit_code(), 0);
    assert_eq!(mask(blk[7..].trim()), 0, "{blk}");
    assert_eq!(mask(ign[7..].trim()) & !libc_own(), 0, "{ign}");
}
