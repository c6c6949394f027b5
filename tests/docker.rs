//! End-to-end tests: every recipe of docker/ in real containers under the
//! real Docker daemon (`docker run/stop/kill/logs/exec/info`), with the
//! static drainit built here. No registry is reachable, so images are built
//! locally FROM scratch (docker/Dockerfile.prebuilt) with Debian's
//! busybox-static and the static test fixture as `/app`.
//!
//! Without a daemon these tests skip with a message, except in CI
//! (`CI=true`), where a missing daemon fails them. Every test names its
//! containers and images `drainit-test-<name>-<pid>` and removes its
//! containers in a Drop guard, so tests run in parallel, also with other
//! test binaries. Times and exit codes are printed (`docker-stop-time ...`,
//! `docker-exit-code ...`) for the CI log.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single expectation may take: generous, for a loaded 2-core
/// machine with other builds and tests running.
const DEADLINE: Duration = Duration::from_secs(60);

/// `docker stop -t` for tests that expect drainit to finish first: far
/// above every expected stop time, so that reaching it is a failure.
const STOP_TIMEOUT: u64 = 30;

/// The checkout: docker/ holds the files under test.
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Skips the test (returns) when no Docker daemon answers, after saying
/// so; panics instead under CI, where a missing daemon is a failure.
macro_rules! require_docker {
    () => {
        if !docker_available() {
            return;
        }
    };
}

/// Whether a daemon answers `docker info`; asked once per run.
fn docker_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let why = match Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
        {
            Ok(out) if out.status.success() => return true,
            Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => format!("cannot run docker: {e}"),
        };
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "CI is set and no Docker daemon answers ({why}); run docker/ensure-dockerd.sh"
        );
        // Straight to stderr, once: libtest hides eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "tests/docker.rs: SKIPPING the Docker tests: no Docker daemon answers ({why}); \
             run docker/ensure-dockerd.sh (CI=true makes this a failure)"
        );
        false
    })
}

/// A unique name for this test binary's run: `drainit-test-<name>-<pid>`.
fn unique(name: &str) -> String {
    format!("drainit-test-{name}-{}", std::process::id())
}

/// The label that marks this run's images, so that a later run can remove
/// the images of runs that are over (their pid is gone).
const OWNER_LABEL: &str = "drainit.test.owner";

/// Runs `docker ARGS` (against `host` when given) and returns its output.
fn docker_at(host: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("docker");
    if let Some(host) = host {
        cmd.args(["--host", host]);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

/// `docker ARGS` against the default daemon.
fn docker(args: &[&str]) -> Output {
    docker_at(None, args)
}

/// `docker ARGS`, which must succeed; returns its stdout.
fn docker_ok(args: &[&str]) -> String {
    checked(docker(args), args)
}

/// The stdout of a docker command that must have succeeded.
fn checked(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the static drainit that ships and the fixture once per test
/// binary run (scripts/build-static.sh); cargo is incremental, so this is
/// quick when nothing changed.
fn static_binaries() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let drainit = common::build::static_binary(common::build::Build::Shipped, &["fixture"]);
        let fixture = drainit.with_file_name("examples").join("fixture");
        (drainit, fixture)
    })
}

/// Cargo's target directory (CARGO_TARGET_DIR too): this test runs
/// from `<target>/debug/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The base image of every test: docker/Dockerfile.prebuilt on a context
/// with the static drainit, busybox and the fixture as `app`. Built once.
fn base_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        remove_stale_images();
        let (drainit, fixture) = static_binaries();
        let context = target_dir().join(unique("context"));
        let _ = fs::remove_dir_all(&context);
        fs::create_dir_all(&context).unwrap();
        fs::copy(drainit, context.join("drainit")).unwrap();
        fs::copy(fixture, context.join("app")).unwrap();
        fs::copy("/bin/busybox", context.join("busybox"))
            .expect("/bin/busybox is missing: apt-get install busybox-static");
        let name = unique("base");
        build(
            &name,
            &Path::new(REPO).join("docker/Dockerfile.prebuilt"),
            &context,
            None,
        );
        let _ = fs::remove_dir_all(&context);
        name
    })
}

/// `docker build` with the owner label; `base` fills `ARG BASE`.
fn build(tag: &str, dockerfile: &Path, context: &Path, base: Option<&str>) {
    let label = format!("{OWNER_LABEL}={}", std::process::id());
    let dockerfile = dockerfile.to_str().unwrap();
    let context = context.to_str().unwrap();
    let mut args = vec![
        "build", "-q", "--label", &label, "-t", tag, "-f", dockerfile,
    ];
    let base_arg = base.map(|b| format!("BASE={b}"));
    if let Some(arg) = &base_arg {
        args.extend(["--build-arg", arg]);
    }
    args.push(context);
    // The legacy builder: Debian's docker.io has no buildx.
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(&args)
        .output()
        .expect("run docker build");
    checked(out, &args);
}

/// Builds `docker/<dir>/<file>` FROM the base image as `drainit-test-<name>-<pid>`.
fn recipe_image(name: &str, dir: &str, file: &str) -> String {
    let tag = unique(name);
    let context = Path::new(REPO).join("docker").join(dir);
    build(&tag, &context.join(file), &context, Some(base_image()));
    tag
}

/// Removes images left by earlier runs of this binary whose process is gone
/// (a test binary cannot clean up after its last test). Images of runs
/// still alive, such as a parallel run, are kept. The owner is the pid at
/// the end of the tag (`unique`).
fn remove_stale_images() {
    let filter = format!("label={OWNER_LABEL}");
    let list = docker_ok(&["images", "--filter", &filter, "--format", "{{.Repository}}"]);
    for tag in list.lines() {
        let owner = tag.rsplit('-').next().unwrap_or_default();
        if owner.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{owner}")).exists() {
            let _ = docker(&["rmi", "-f", tag]);
        }
    }
}

/// A container that is removed (`docker rm -f`) when dropped, also when
/// the test fails.
struct Container {
    name: String,
    /// The test's short name for it, in the printed figures.
    label: String,
    host: Option<String>,
}

impl Container {
    /// `docker run -d --network none --name NAME ARGS...`.
    fn run(name: &str, args: &[&str]) -> Container {
        Container::run_at(None, name, args)
    }

    /// The same against the daemon at `host` (None: the default one).
    fn run_at(host: Option<&str>, name: &str, args: &[&str]) -> Container {
        let container = Container {
            name: unique(name),
            label: name.to_string(),
            host: host.map(String::from),
        };
        let mut all = vec!["run", "-d", "--network", "none", "--name", &container.name];
        all.extend(args);
        checked(docker_at(host, &all), &all);
        container
    }

    /// `docker ARGS` against this container's daemon.
    fn docker(&self, args: &[&str]) -> Output {
        docker_at(self.host.as_deref(), args)
    }

    /// `docker logs`: (stdout, stderr), kept apart by Docker.
    fn logs(&self) -> (String, String) {
        let out = self.docker(&["logs", &self.name]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Polls `docker logs` until stdout has a line for which `found` holds.
    fn wait_line(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let (stdout, stderr) = self.logs();
            if let Some(line) = stdout.lines().find(|l| found(l)) {
                return line.to_string();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{}: no {what} line within {DEADLINE:?}; stdout:\n{stdout}\nstderr:\n{stderr}",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the fixture's `ready <pid>` line; returns the pid.
    fn wait_ready(&self) -> u32 {
        let line = self.wait_line("ready", |l| l.starts_with("ready "));
        line["ready ".len()..].trim().parse().unwrap()
    }

    /// `docker stop -t SECS`, then what came of it.
    fn stop(&self, timeout: u64) -> Stopped {
        let t = timeout.to_string();
        let start = Instant::now();
        let out = self.docker(&["stop", "-t", &t, &self.name]);
        let took = start.elapsed();
        checked(out, &["stop"]);
        let code = checked(self.docker(&["wait", &self.name]), &["wait"]);
        let (stdout, stderr) = self.logs();
        let code = code.trim().parse().unwrap();
        eprintln!(
            "docker-stop-time {}={} docker-exit-code={code}",
            self.label,
            secs(took)
        );
        Stopped {
            took,
            code,
            stdout,
            stderr,
        }
    }

    /// `docker exec NAME ARGS...`, which must succeed.
    fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["exec", &self.name];
        all.extend(args);
        checked(self.docker(&all), &all)
    }
}

/// A stopped container: how long `docker stop` took, the exit code
/// (`docker wait`) and its logs.
struct Stopped {
    took: Duration,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Stopped {
    /// Asserts that the app printed exactly this line.
    fn assert_line(&self, line: &str) {
        assert!(
            self.stdout.lines().any(|l| l == line),
            "no {line:?} line; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// Asserts `min <= took < max`: a strict lower bound, a generous upper one.
    fn assert_took(&self, min: Duration, max: Duration) {
        assert!(
            self.took >= min && self.took < max,
            "docker stop took {:?}, want [{min:?}, {max:?}); stderr:\n{}",
            self.took,
            self.stderr
        );
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.docker(&["rm", "-f", &self.name]);
    }
}

/// `docker run --rm --network none ARGS...` to its end: (exit code, stdout, stderr).
fn run_to_end(args: &[&str]) -> (i32, String, String) {
    let name = unique(&format!("once-{}", next_id()));
    let mut all = vec!["run", "--rm", "--network", "none", "--name", &name];
    all.extend(args);
    let out = docker(&all);
    let _ = docker(&["rm", "-f", &name]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A counter that keeps names unique within one run.
fn next_id() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A duration as printed in the figures: `2.10s`.
fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Polls `check` until it returns `Some`, for at most DEADLINE.
fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------
// 1. The Dockerfiles users copy.

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
    let size = fs::metadata(&static_binaries().0).unwrap().len();
    eprintln!("static-drainit-size {size} bytes");
}

/// The multi-stage Dockerfile cannot be built here (it pulls rust:1 and
/// crates); check that it builds the same static binary the tests use and
/// ends with the same entrypoint as the prebuilt variant.
#[test]
fn multi_stage_dockerfile_matches_the_tested_variant() {
    let multi = fs::read_to_string(Path::new(REPO).join("docker/Dockerfile")).unwrap();
    let prebuilt = fs::read_to_string(Path::new(REPO).join("docker/Dockerfile.prebuilt")).unwrap();
    assert!(multi.contains(r#"RUN cp "$(scripts/build-static.sh)" /drainit"#));
    assert!(multi.contains("COPY --from=drainit /drainit /drainit"));
    let entrypoint = r#"ENTRYPOINT ["/drainit", "--"]"#;
    assert!(multi.contains(entrypoint) && prebuilt.contains(entrypoint));
    assert_eq!(multi.matches("\nFROM ").count(), 2, "two stages");
}

// ---------------------------------------------------------------------
// 2. A shell-wrapped app drains under drainit, and is cut off under tini.

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

// ---------------------------------------------------------------------
// 3. nginx-style apps that stop gracefully on QUIT.

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

// ---------------------------------------------------------------------
// 4. Pre-stop sleep and drain hook from the image's ENV.

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

// ---------------------------------------------------------------------
// 5. Signals from `docker kill`, and Ctrl-C on a terminal.

#[test]
fn docker_kill_signals_reach_the_app() {
    require_docker!();
    let c = Container::run("kill", &[base_image(), "/app", "child"]);
    c.wait_ready();
    for (name, number) in [("HUP", 1), ("USR1", 10), ("USR2", 12)] {
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
    let name = unique("tty");
    let mut docker_run = Command::new("docker")
        .args(["run", "-it", "--rm", "--network", "none", "--name", &name])
        .args([base_image(), "/app", "child", "--tty", "--die-on", "2"])
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let guard = Container {
        name: name.clone(),
        label: "tty".into(),
        host: None,
    };
    let mut master = fs::File::from(pty.master);
    let output = Arc::new(Mutex::new(String::new()));
    let reader = {
        let output = output.clone();
        let mut master = master.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every holder of the slave has closed it.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let text = |o: &Arc<Mutex<String>>| o.lock().unwrap().clone();
    poll("ready on the pty", || {
        text(&output).contains("ready ").then_some(())
    });
    let seen = text(&output);
    let tty = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("tty "))
        .unwrap_or_else(|| panic!("no tty line: {seen:?}"))
        .to_string();
    // `fg=N pgrp=N`: the app's group owns the container's terminal.
    let (fg, pgrp) = tty.split_once(' ').unwrap();
    assert_eq!(fg.strip_prefix("fg="), pgrp.strip_prefix("pgrp="), "{tty}");
    let start = Instant::now();
    master.write_all(b"\x03").unwrap();
    let status = poll("docker run -it to end after Ctrl-C", || {
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
    let _ = reader.join();
    let seen = text(&output);
    assert!(seen.contains("sig 2"), "the app did not see INT: {seen:?}");
    assert_eq!(status.code(), Some(130), "{seen:?}");
}

// ---------------------------------------------------------------------
// 6. Zombies.

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
    let control_zombies = poll("1000 zombies under sleep", || {
        let n = zombies(&control);
        (n >= 1000).then_some(n)
    });

    let c = Container::run(
        "zombies",
        &[base_image(), "/app", "child", "--orphans", "1000"],
    );
    c.wait_ready();
    let start = Instant::now();
    let left = poll("no zombie under drainit", || {
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

// ---------------------------------------------------------------------
// 8. Exit codes through Docker.

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

#[test]
fn exit_code_143_when_term_is_not_handled() {
    require_docker!();
    let c = Container::run("exit-143", &[base_image(), "/bin/sleep", "1000"]);
    // drainit has spawned sleep: its signal handling is in place.
    poll("sleep running", || {
        c.exec(&["/bin/ps", "-o", "args"])
            .contains("/bin/sleep 1000")
            .then_some(())
    });
    let stopped = c.stop(STOP_TIMEOUT);
    assert_eq!(stopped.code, 143, "{}", stopped.stderr);
    stopped.assert_took(Duration::ZERO, Duration::from_secs(STOP_TIMEOUT - 5));
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

// ---------------------------------------------------------------------
// 7. drainit as Docker's own init: `dockerd --init-path`, `docker run --init`.

/// A second dockerd, on its own socket, data-root, exec-root and pidfile,
/// with drainit (named `docker-init`) as its init. Dropping it stops that
/// daemon only, by its pid, and removes its directories.
struct Dockerd {
    process: std::process::Child,
    dir: PathBuf,
    host: String,
    log: PathBuf,
}

impl Dockerd {
    /// Starts it with `drainit` as its init, and waits until it answers.
    fn start(drainit: &Path) -> Dockerd {
        let dir = PathBuf::from(format!("/tmp/{}", unique("dockerd")));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        // The name matters: dockerd runs `--init-path --version` as given,
        // and drainit prints Docker's version format only as docker-init.
        let init = dir.join("bin/docker-init");
        fs::copy(drainit, &init).unwrap();
        let log = dir.join("dockerd.log");
        let host = format!("unix://{}", dir.join("docker.sock").display());
        let namespace = unique("dockerd");
        let process = Command::new("dockerd")
            .arg("--host")
            .arg(&host)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--init-path")
            .arg(&init)
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            // Apart from the main daemon's, should both use one containerd.
            .args(["--containerd-namespace", &namespace])
            .args([
                "--containerd-plugins-namespace",
                &format!("{namespace}-plugins"),
            ])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("run dockerd (apt-get install docker.io)");
        let mut daemon = Dockerd {
            process,
            dir,
            host,
            log,
        };
        poll("the second dockerd answering", || {
            if let Some(status) = daemon.process.try_wait().unwrap() {
                panic!("dockerd exited ({status}):\n{}", daemon.log_text());
            }
            docker_at(Some(&daemon.host), &["info", "--format", "{{.ID}}"])
                .status
                .success()
                .then_some(())
        });
        daemon
    }

    /// The daemon's own log (stdout and stderr).
    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `docker --host <this daemon> ARGS`, which must succeed.
    fn docker(&self, args: &[&str]) -> String {
        checked(docker_at(Some(&self.host), args), args)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while matches!(self.process.try_wait(), Ok(None)) {
            if start.elapsed() > DEADLINE {
                let _ = self.process.kill();
                let _ = self.process.wait();
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn drainit_as_dockers_init_with_init_path() {
    require_docker!();
    let base = base_image();
    let daemon = Dockerd::start(&static_binaries().0);
    let archive = daemon.dir.join("base.tar");
    let archive = archive.to_str().unwrap();
    docker_ok(&["save", "-o", archive, base]);
    daemon.docker(&["load", "-i", archive]);

    // `docker info`: dockerd parsed drainit's version, without a warning.
    let info = docker_at(Some(&daemon.host), &["info"]);
    let info_out = checked(info.clone(), &["info"]);
    let info_err = String::from_utf8_lossy(&info.stderr);
    let version_line = info_out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("init version:"))
        .unwrap_or_else(|| panic!("no init version in docker info:\n{info_out}"));
    eprintln!("docker-info {version_line}");
    assert_eq!(version_line, "init version: drainit", "{info_out}");
    assert!(
        info_out.contains("Init Binary: ") && info_out.contains("/bin/docker-init"),
        "{info_out}"
    );
    assert!(
        !info_err.to_lowercase().contains("init"),
        "a warning about the init: {info_err}"
    );
    let log = daemon.log_text();
    assert!(
        !log.contains("docker-init version") && !log.contains("unknown output format"),
        "dockerd could not read the init's version:\n{log}"
    );

    // `docker run --init`: drainit is PID 1, in front of the entrypoint.
    let name = unique("init-pid1");
    let guard = Container {
        name: name.clone(),
        label: "init-pid1".into(),
        host: Some(daemon.host.clone()),
    };
    let script = r#"tr '\0' ' ' </proc/1/cmdline; echo; /sbin/docker-init --version"#;
    let out = daemon.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        "--name",
        &name,
        "--entrypoint",
        "/bin/sh",
        base,
        "-c",
        script,
    ]);
    drop(guard);
    eprintln!("docker-run-init {out:?}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(str::trim_end),
        Some(format!("/sbin/docker-init -- /bin/sh -c {script}").as_str())
    );
    let version = lines.next().unwrap_or_default();
    assert!(
        version.starts_with("drainit ") && version.ends_with(" - git.drainit"),
        "PID 1 is not drainit: {version}"
    );

    // And it drains: the app behind `sh -c` (no exec) gets TERM and ends.
    let app = Container::run_at(
        Some(&daemon.host),
        "init-drain",
        &[
            "--init",
            "--entrypoint",
            "/bin/sh",
            base,
            "-c",
            "/app child --drain-on 15=2000; echo sh: app exited",
        ],
    );
    app.wait_ready();
    let stopped = app.stop(10);
    stopped.assert_line("drained");
    // 2s of drain; 10s would be Docker's own kill.
    stopped.assert_took(Duration::from_secs(2), Duration::from_secs(8));
}

// ---------------------------------------------------------------------
// 9. The Kubernetes example (no cluster here: its numbers are checked).

/// The value of `- name: NAME` / `value: "..."` in pod.yaml's env list.
fn env_value<'a>(yaml: &'a str, name: &str) -> &'a str {
    let mut lines = yaml.lines().map(str::trim);
    lines
        .find(|l| *l == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("no env {name} in pod.yaml"));
    let value = lines.next().and_then(|l| l.strip_prefix("value: "));
    value
        .unwrap_or_else(|| panic!("no value after {name}"))
        .trim_matches('"')
}

/// Whole seconds from the `10s` form used in pod.yaml.
fn whole_seconds(value: &str) -> u64 {
    value
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pod.yaml should say whole seconds like 10s, not {value:?}"))
}

#[test]
fn kubernetes_grace_period_covers_drainits_sequence() {
    let yaml = fs::read_to_string(Path::new(REPO).join("docker/kubernetes/pod.yaml")).unwrap();
    let period: u64 = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds: "))
        .expect("terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    let names = [
        "DRAINIT_DRAIN_TIMEOUT",
        "DRAINIT_PRESTOP_SLEEP",
        "DRAINIT_GRACE",
    ];
    let [drain, sleep, grace] = names.map(|n| whole_seconds(env_value(&yaml, n)));
    eprintln!(
        "kubernetes terminationGracePeriodSeconds={period} drain-timeout={drain}s prestop-sleep={sleep}s grace={grace}s"
    );
    assert!(
        period >= drain + sleep + grace,
        "terminationGracePeriodSeconds {period} < {drain} + {sleep} + {grace}"
    );
    // The comment's arithmetic says the same numbers.
    let sum = format!(
        "{drain}s + {sleep}s + {grace}s = {}s",
        drain + sleep + grace
    );
    assert!(
        yaml.contains(&sum),
        "pod.yaml's comment should read {sum:?}"
    );
    assert!(yaml.contains(&format!("terminationGracePeriodSeconds ({period})")));
    assert!(yaml.contains(r#"command: ["/drainit", "--"]"#));
    assert!(yaml.contains("readinessProbe:"));

    // drainit itself accepts the pod's settings (a bad value exits 2).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drainit"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("DRAINIT_")) {
        cmd.env_remove(name);
    }
    for name in names.iter().chain(&["DRAINIT_DRAIN_EXEC"]) {
        cmd.env(name, env_value(&yaml, name));
    }
    let out = cmd.arg("true").output().unwrap();
    assert!(
        out.status.success(),
        "drainit rejects pod.yaml's env: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
