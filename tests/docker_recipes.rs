//! The recipes of docs/docker.md in real containers: drainit as PID 1 of
//! the prebuilt image, a shell-wrapped app that drains under drainit and
//! is cut off under Docker's own init, nginx-style apps that stop on QUIT,
//! and the pre-stop sleep and drain hook set in the image's ENV.

mod common;

use std::fs;
use std::time::Duration;

use common::docker::*;
use common::{Build, static_binary};

/// The prebuilt variant builds, and drainit is PID 1 in front of the command.
#[test]
fn prebuilt_dockerfile_runs_drainit_as_pid_1() {
    require_docker!();
    let (code, stdout, stderr) = run_to_end(&[base_image(), "/bin/ps", "-o", "pid,args"]);
    assert_eq!(code, 0, "{stderr}");
    let pid1 = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no PID 1 in:\n{stdout}"));
    assert!(
        pid1.contains("/drainit -- /bin/ps -o pid,args"),
        "PID 1 is not drainit: {pid1}"
    );
    let size = fs::metadata(static_binary(Build::Shipped, &[]))
        .unwrap()
        .len();
    eprintln!("static-drainit-size {size} bytes");
}

#[test]
fn shell_wrapped_app_drains_under_drainit_but_not_under_docker_init() {
    require_docker!();
    let image = recipe_image("shell-wrapped", "shell-wrapped", "Dockerfile");
    let app = ["/app", "child", "--drain-on", "15=2000"];

    let mut args = vec![image.as_str()];
    args.extend(app);
    let with_drainit = Container::run("shell-drainit", &args);
    with_drainit.wait_ready();
    let drainit = with_drainit.stop(10);

    // The same image, with Docker's --init (tini) in front of run.sh.
    let mut args = vec!["--init", "--entrypoint", "/run.sh", image.as_str()];
    args.extend(app);
    let with_tini = Container::run("shell-tini", &args);
    with_tini.wait_ready();
    let tini = with_tini.stop(10);

    eprintln!(
        "docker-stop-time shell-wrapped drainit={} tini={}",
        secs(drainit.took),
        secs(tini.took)
    );
    for line in [
        "run.sh: starting /app child --drain-on 15=2000",
        "sig 15",
        "draining",
        "drained",
    ] {
        drainit.assert_line(line);
    }
    // 2s of drain; 10s would be Docker's own kill.
    drainit.assert_took(Duration::from_secs(2), Duration::from_secs(8));
    // The shell died of TERM at once; its status is the child's status.
    assert_eq!(drainit.code, 143, "{}", drainit.stderr);

    // tini signalled only the shell and exited with it: the app never
    // finished (here it never even saw TERM), and the stop came early.
    tini.assert_line("run.sh: starting /app child --drain-on 15=2000");
    assert!(
        !tini.stdout.lines().any(|l| l == "drained"),
        "the drain was not cut off under tini:\n{}",
        tini.stdout
    );
    // Not Docker's kill either: tini was gone as soon as the shell was.
    tini.assert_took(Duration::ZERO, Duration::from_secs(8));
}

/// The app sees QUIT and no TERM; drainit's log shows that `received`
/// (what Docker sent) started the shutdown sequence, which a plain
/// forward would not log.
fn assert_app_saw_quit(name: &str, dockerfile: &str, received: &str) {
    let image = recipe_image(name, "nginx-quit", dockerfile);
    let c = Container::run(name, &[&image, "/app", "child", "--exit-on", "3=0"]);
    c.wait_ready();
    let stopped = c.stop(STOP_TIMEOUT);
    stopped.assert_line("sig 3");
    assert!(!stopped.stdout.contains("sig 15"), "{}", stopped.stdout);
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    stopped.assert_took(Duration::ZERO, Duration::from_secs(STOP_TIMEOUT - 5));
    for log in [
        format!("drainit: received {received}: starting the shutdown sequence"),
        "drainit: forwarded SIGQUIT to process group".to_string(),
    ] {
        assert!(
            stopped.stderr.contains(&log),
            "no {log:?} in:\n{}",
            stopped.stderr
        );
    }
}

#[test]
fn nginx_style_stopsignal_term_rewritten_to_quit() {
    require_docker!();
    assert_app_saw_quit("nginx-rewrite", "Dockerfile.rewrite", "SIGTERM");
}

#[test]
fn nginx_style_stopsignal_quit_is_the_stop_signal() {
    require_docker!();
    assert_app_saw_quit("nginx-stopsignal", "Dockerfile.stopsignal", "SIGQUIT");
}

#[test]
fn prestop_sleep_and_drain_hook_from_env() {
    require_docker!();
    let image = recipe_image("prestop", "prestop", "Dockerfile");
    let c = Container::run("prestop", &[&image, "/app", "child", "--exit-on", "15=0"]);
    let pid = c.wait_ready();
    let stopped = c.stop(STOP_TIMEOUT);
    let (stdout, stderr) = (&stopped.stdout, &stopped.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    let hook = format!("drain-hook: SIGTERM for pid {pid}, leaving the load balancer");
    let hook_at = lines.iter().position(|l| *l == hook);
    let term_at = lines.iter().position(|l| *l == "sig 15");
    assert!(
        matches!((hook_at, term_at), (Some(h), Some(t)) if h < t),
        "want the hook's line, then the app's TERM:\n{stdout}\n{stderr}"
    );
    stopped.assert_took(
        Duration::from_secs(2),
        Duration::from_secs(STOP_TIMEOUT - 5),
    );
    assert!(stderr.contains("sleeping 2s"), "{stderr}");
    assert_eq!(stopped.code, 0);
}
