//! drainit at work in real containers: `docker kill` signals reach the
//! app, Ctrl-C on `docker run -it`, no zombie after 1000 orphans, and the
//! app's exit status through `docker run`, `docker stop` and the grace
//! kill.

mod common;

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::*;
use common::line_reader;

#[test]
fn docker_kill_signals_reach_the_app() {
    require_docker!();
    let c = Container::run("kill", &[base_image(), "/app", "child"]);
    c.wait_ready();
    // ABRT and SEGV from `docker kill` (say, for a core dump) are fault
    // signals sent by another process: forwarded too.
    for (name, number) in [
        ("HUP", 1),
        ("USR1", 10),
        ("USR2", 12),
        ("ABRT", 6),
        ("SEGV", 11),
    ] {
        let out = c.docker(&["kill", "-s", name, &c.name]);
        checked(out, &["kill", "-s", name]);
        let want = format!("sig {number}");
        c.wait_line(&want, |l| l == want);
    }
    // The container is still running: none of them was a stop.
    let state = c.docker(&["inspect", "-f", "{{.State.Running}}", &c.name]);
    assert_eq!(checked(state, &["inspect"]).trim(), "true");
}

/// `docker run -it` under a pty the test opens: Ctrl-C goes through
/// Docker's pty to the app, which is the terminal's foreground group.
#[test]
fn ctrl_c_on_docker_run_tty_stops_the_app_with_130() {
    require_docker!();
    let pty = nix::pty::openpty(None, None).unwrap();
    let guard = Container::guard(None, "tty");
    let mut docker_run = Command::new("docker")
        .args([
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "--name",
            &guard.name,
        ])
        .args([base_image(), "/app", "child", "--tty", "--die-on", "2"])
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let mut master = fs::File::from(pty.master);
    // The reader ends with EIO once every holder of the slave has closed it.
    let lines = line_reader(master.try_clone().unwrap());
    // Lines end in CR on a terminal; the terminal may echo input too.
    let mut seen: Vec<String> = Vec::new();
    while !seen.iter().any(|l| l.starts_with("ready ")) {
        let line = lines
            .recv_timeout(DOCKER_DEADLINE)
            .unwrap_or_else(|e| panic!("no ready line on the pty ({e}): {seen:?}"));
        seen.push(line.trim().to_string());
    }
    let tty = seen
        .iter()
        .find_map(|l| l.strip_prefix("tty "))
        .unwrap_or_else(|| panic!("no tty line: {seen:?}"))
        .to_string();
    // `fg=N pgrp=N`: the app's group owns the container's terminal.
    let (fg, pgrp) = tty.split_once(' ').unwrap();
    assert_eq!(fg.strip_prefix("fg="), pgrp.strip_prefix("pgrp="), "{tty}");
    let start = Instant::now();
    master.write_all(b"\x03").unwrap();
    let status = poll_docker("docker run -it to end after Ctrl-C", || {
        docker_run.try_wait().unwrap()
    });
    eprintln!(
        "docker-exit-code tty-ctrl-c={:?} after {}",
        status.code(),
        secs(start.elapsed())
    );
    drop(guard);
    let _ = docker_run.kill();
    drop(master);
    seen.extend(lines.iter().map(|l| l.trim().to_string()));
    // The terminal echoes the Ctrl-C as `^C` before the app's line.
    assert!(
        seen.iter().any(|l| l.trim_start_matches("^C") == "sig 2"),
        "the app did not see INT: {seen:?}"
    );
    assert_eq!(status.code(), Some(130), "{seen:?}");
}

/// Counts the zombies in a container with busybox `ps`.
fn zombies(c: &Container) -> usize {
    let ps = c.exec(&["/bin/ps", "-o", "stat,pid,comm"]);
    ps.lines()
        .skip(1)
        .filter(|l| l.trim_start().starts_with('Z'))
        .count()
}

#[test]
fn orphans_are_reaped_no_zombie_left() {
    require_docker!();
    // Control: sleep as PID 1 reaps nothing, and the count shows it.
    let control = Container::run(
        "zombies-control",
        &["--entrypoint", "/bin/sleep", base_image(), "1000"],
    );
    control.exec(&["/app", "orphans", "1000"]);
    let control_zombies = poll_docker("1000 zombies under sleep", || {
        let n = zombies(&control);
        (n >= 1000).then_some(n)
    });

    let c = Container::run(
        "zombies",
        &[base_image(), "/app", "child", "--orphans", "1000"],
    );
    c.wait_ready();
    let start = Instant::now();
    let left = poll_docker("no zombie under drainit", || {
        let n = zombies(&c);
        (n == 0).then_some(n)
    });
    let ps = c.exec(&["/bin/ps", "-o", "stat,pid,args"]);
    assert!(ps.contains("/app child --orphans 1000"), "{ps}");
    eprintln!(
        "zombies after 1000 orphans: drainit={left} (within {}) sleep-as-pid-1={control_zombies}",
        secs(start.elapsed())
    );
}

#[test]
fn exit_codes_0_42_127_pass_through_docker_run() {
    require_docker!();
    for (want, args) in [
        (0, &["/app", "child", "--exit", "0"][..]),
        (42, &["/app", "child", "--exit", "42"]),
        (127, &["/no/such/app"]),
    ] {
        let mut all = vec![base_image()];
        all.extend(args);
        let (code, _, stderr) = run_to_end(&all);
        eprintln!("docker-exit-code {args:?}={code}");
        assert_eq!(code, want, "{args:?}: {stderr}");
        if want == 127 {
            // drainit's own 127, not Docker's "executable not found".
            assert!(
                stderr.contains("drainit: failed to run '/no/such/app'"),
                "{stderr}"
            );
        }
    }
}

/// `docker stop` on `sleep 1000`, which does not handle TERM, run with
/// the `docker run` options `opts`.
fn stop_sleep(name: &str, opts: &[&str]) -> Stopped {
    let args: Vec<&str> = opts
        .iter()
        .copied()
        .chain([base_image(), "/bin/sleep", "1000"])
        .collect();
    let c = Container::run(name, &args);
    // drainit has spawned sleep: its signal handling is in place.
    poll_docker("sleep running", || {
        c.exec(&["/bin/ps", "-o", "args"])
            .contains("/bin/sleep 1000")
            .then_some(())
    });
    c.stop(STOP_TIMEOUT)
}

#[test]
fn exit_code_143_when_term_is_not_handled() {
    require_docker!();
    let stopped = stop_sleep("exit-143", &[]);
    assert_eq!(stopped.code, 143, "{}", stopped.stderr);
    stopped.assert_took(Duration::ZERO, Duration::from_secs(STOP_TIMEOUT - 5));
}

/// tini's `-e 143`, set in the image's environment: the app killed by
/// `docker stop`'s TERM counts as success.
#[test]
fn a_success_code_turns_143_into_0() {
    require_docker!();
    let stopped = stop_sleep("success-143", &["-e", "DRAINIT_SUCCESS_CODES=143"]);
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
}

#[test]
fn exit_code_137_after_the_grace_kill() {
    require_docker!();
    // The app prints TERM and goes on: only drainit's grace kill ends it.
    let c = Container::run(
        "exit-137",
        &[
            "--entrypoint",
            "/drainit",
            base_image(),
            "--grace",
            "1s",
            "--",
            "/app",
            "child",
        ],
    );
    c.wait_ready();
    let stopped = c.stop(STOP_TIMEOUT);
    stopped.assert_line("sig 15");
    assert!(stopped.stderr.contains("SIGKILL"), "{}", stopped.stderr);
    assert_eq!(stopped.code, 137);
    stopped.assert_took(
        Duration::from_secs(1),
        Duration::from_secs(STOP_TIMEOUT - 5),
    );
}
