//! Health and liveness in real containers under the real Docker daemon,
//! in images built FROM scratch that hold only the static drainit and a
//! static app (tests/fixtures/legacy_app.rs): no shell, no curl, no sleep. Each
//! test builds a recipe of docker/ and runs it as a user would:
//! - docker/health/Dockerfile: the drain request reaches the app before
//!   SIGTERM, `HEALTHCHECK CMD ["/drainit", "--probe", ...]` reports
//!   healthy, and `localhost` resolves from the runtime's /etc/hosts;
//! - docker/eureka/drainit.env: the deregistration by host name;
//! - docker/liveness/Dockerfile: a hung app is restarted by
//!   `--restart on-failure`, while under `docker run --init` (tini) it
//!   stays running and hung;
//! - docker/compose/docker-compose.yml: the same with Debian's
//!   docker-compose, and the health status from the ready endpoint.
//!
//! Skips without a Docker daemon, except in CI (`CI=true`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{Container, DOCKER_DEADLINE, Image, docker_ok, require_docker, unique};
use common::{Build, REPO, say, static_binary};

/// Builds `docker/<recipe>` on a context holding the shipped static
/// drainit and the app, as the recipe's header says.
fn recipe_image(name: &str, recipe: &str) -> Image {
    let drainit = static_binary(Build::Shipped, &["legacy_app"]);
    let app = drainit.with_file_name("examples").join("legacy_app");
    Image::build(
        name,
        &Path::new(REPO).join("docker").join(recipe),
        &[(&drainit, "drainit"), (&app, "app")],
    )
}

/// Polls `check` every 100 ms until it gives `Some`; fails with the logs of
/// `c` after DOCKER_DEADLINE.
fn until<T>(c: &Container, check: impl FnMut() -> Option<T>) -> T {
    common::poll(DOCKER_DEADLINE, Duration::from_millis(100), check, || {
        c.describe()
    })
}

/// The files of a container's filesystem (`docker export`), without the
/// runtime's own (/dev, /proc, /sys, /etc and /.dockerenv), sorted.
fn image_files(container: &Container) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("docker export {} | tar -t", container.name))
        .stderr(Stdio::inherit())
        .output()
        .expect("run docker export | tar -t");
    assert!(out.status.success(), "docker export | tar -t failed");
    let mut files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|f| {
            !["dev/", "proc/", "sys/", "etc/", ".dockerenv"]
                .iter()
                .any(|runtime| f.starts_with(runtime))
        })
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

/// A file of a container, read with `docker cp` (the image has no `cat`).
fn container_file(container: &Container, path: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("docker cp {}:{path} - | tar -xO", container.name))
        .output()
        .expect("run docker cp");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker exec NAME /drainit --probe URL`: (exit code, stderr).
fn probe(container: &Container, url: &str) -> (i32, String) {
    let out = container.docker(&["exec", &container.name, "/drainit", "--probe", url]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The index of the first line of `text` that contains `what`.
fn line_index(text: &str, what: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(what))
}

#[test]
fn no_tools_image_drains_the_app_before_sigterm_and_its_probe_reports_healthy() {
    require_docker!();
    let image = recipe_image("health", "health/Dockerfile");
    // Container::run gives it --network none: its own loopback, where the
    // recipe's fixed ports cannot collide with other tests.
    let c = Container::run(
        "health",
        &[
            "--health-interval",
            "1s",
            "-e",
            "DRAINIT_PRESTOP_SLEEP=1s",
            &image.0,
            "/app",
            "8080",
            "--drain",
            "--log-term",
        ],
    );
    let files = image_files(&c);
    assert_eq!(
        files,
        ["app", "drainit"],
        "the image holds more than drainit and the app"
    );

    let t0 = Instant::now();
    let health = until(&c, || {
        let status = c.inspect("{{.State.Health.Status}}");
        (status == "healthy").then_some(status)
    });
    say(&format!(
        "health_docker: HEALTHCHECK /drainit --probe: {health} after {:.1}s",
        t0.elapsed().as_secs_f64()
    ));
    let last = c.inspect("{{with index .State.Health.Log 0}}{{.ExitCode}}{{end}}");
    assert_eq!(last, "0", "the first health check did not pass");

    // `localhost` resolves in the scratch image, from the runtime's
    // /etc/hosts, with the shipped (musl) build's resolver.
    let hosts = container_file(&c, "/etc/hosts");
    say(&format!(
        "health_docker: the container's /etc/hosts:\n{hosts}"
    ));
    assert_eq!(
        probe(&c, "http://localhost:8080/"),
        (0, String::new()),
        "--probe by name"
    );
    // The ready endpoint answers 200, and the probe tells a 404 from a pass.
    assert_eq!(probe(&c, "http://127.0.0.1:8081/").0, 0, "ready endpoint");
    let (code, why) = probe(&c, "http://127.0.0.1:8080/health");
    assert_eq!(code, 1, "a 404 passed the probe");
    assert!(
        why.contains("probe http://127.0.0.1:8080/health failed"),
        "{why}"
    );

    let t0 = Instant::now();
    docker_ok(&["stop", "-t", "20", &c.name]);
    let took = t0.elapsed();
    let code = c.inspect("{{.State.ExitCode}}");
    let (stdout, stderr) = c.logs();
    say(&format!(
        "health_docker: docker stop took {:.2}s, exit code {code}\n{stdout}{stderr}",
        took.as_secs_f64()
    ));
    let drain = line_index(&stdout, "drain request POST /drain");
    let term = line_index(&stdout, "SIGTERM");
    assert!(
        drain.is_some() && term.is_some() && drain < term,
        "the app did not see the drain request before SIGTERM:\n{stdout}"
    );
    assert!(
        stderr.contains("drain request POST http://localhost:8080/drain answered 200"),
        "{stderr}"
    );
    assert_eq!(code, "0", "the app exits 0 on SIGTERM");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(15),
        "docker stop took {took:?}: the 1s pre-stop sleep, well before the kill"
    );
}

#[test]
fn eureka_recipe_deregisters_by_host_name_from_a_scratch_image() {
    require_docker!();
    let image = recipe_image("eureka", "health/Dockerfile");
    let env_file = Path::new(REPO).join("docker/eureka/drainit.env");
    // The app itself stands in for the Eureka server: `eureka` resolves to
    // the container's loopback through --add-host, and the app listens on
    // Eureka's port.
    let c = Container::run(
        "eureka",
        &[
            "--hostname",
            "web-1",
            "--add-host",
            "eureka:127.0.0.1",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "DRAINIT_PRESTOP_SLEEP=0s",
            &image.0,
            "/app",
            "8761",
            "--drain",
            "--log-term",
        ],
    );
    until(&c, || c.logs().0.contains("listening").then_some(()));
    docker_ok(&["stop", "-t", "20", &c.name]);
    let (stdout, stderr) = c.logs();
    let put = "drain request PUT /eureka/apps/WEB/web-1:web:8080/status?value=OUT_OF_SERVICE";
    let drain = line_index(&stdout, put);
    let term = line_index(&stdout, "SIGTERM");
    assert!(
        drain.is_some() && term.is_some() && drain < term,
        "no deregistration before SIGTERM:\n{stdout}{stderr}"
    );
    assert!(stderr.contains("answered 200"), "{stderr}");
}

/// The app hangs this long after its start.
const HANG_AFTER: &str = "3";
/// The liveness settings of the test: a verdict 1 + 2 x 1s after the hang.
const LIVENESS: [&str; 8] = [
    "-e",
    "DRAINIT_LIVENESS_INTERVAL=1s",
    "-e",
    "DRAINIT_LIVENESS_TIMEOUT=500ms",
    "-e",
    "DRAINIT_LIVENESS_START=0s",
    "-e",
    "DRAINIT_LIVENESS_FAILURES=3",
];
/// Hang after 3s, then 3 failed probes 1s apart: no restart can come
/// sooner than this.
const EARLIEST_RESTART: Duration = Duration::from_secs(5);
/// The restart's upper bound: the verdict at about 6s (the third failed
/// probe), then the stop (no sleep; the app dies on TERM) and Docker's
/// first restart delay (100 ms). Measured: 5.9s to 7.1s; generous for a
/// loaded machine.
const LATEST_RESTART: Duration = Duration::from_secs(15);
/// How long the tini container is watched: over twice the restart time
/// measured for drainit (at most 7.1s here).
const WINDOW: Duration = Duration::from_secs(20);

#[test]
fn liveness_restarts_a_hung_app_under_docker_and_docker_init_leaves_it_hung() {
    require_docker!();
    let image = recipe_image("liveness", "liveness/Dockerfile");
    let app = ["/app", "8080", "--hang-after", HANG_AFTER];
    let mut args = vec!["--restart", "on-failure"];
    args.extend(LIVENESS);
    args.push(&image.0);
    args.extend(app);
    let t0 = Instant::now();
    let drainit = Container::run("liveness-drainit", &args);
    let tini = Container::run(
        "liveness-init",
        &[
            &["--restart", "on-failure", "--init"][..],
            &[
                "--entrypoint",
                "/app",
                &image.0,
                "8080",
                "--hang-after",
                HANG_AFTER,
            ][..],
        ]
        .concat(),
    );

    let restarted = until(&drainit, || {
        (drainit.inspect("{{.RestartCount}}") != "0").then(|| t0.elapsed())
    });
    say(&format!(
        "health_docker: liveness: Docker restarted the hung app {:.1}s after its start \
         (hang at {HANG_AFTER}s, probes every 1s, 500ms time-out, 3 failures)",
        restarted.as_secs_f64()
    ));
    assert!(
        restarted >= EARLIEST_RESTART,
        "restarted after {restarted:?}, before 3 probes could fail: {}",
        drainit.describe()
    );
    assert!(
        restarted < LATEST_RESTART,
        "restarted only after {restarted:?}: {}",
        drainit.describe()
    );
    // Back and serving: the second run listens again.
    until(&drainit, || {
        (drainit.logs().0.matches("listening on").count() >= 2).then_some(())
    });
    let (stdout, stderr) = drainit.logs();
    for line in [
        "warning: liveness probe failed (1 of 3)",
        "warning: liveness probe failed (3 of 3)",
        "warning: liveness: 3 probes failed in a row: stopping",
        "exiting with 75",
    ] {
        assert!(stderr.contains(line), "no {line:?}:\n{stdout}{stderr}");
    }
    assert!(stdout.contains("hung"), "{stdout}");
    // What Docker saw: the exit code that its restart policy acted on.
    let codes = until(&drainit, || {
        Some(drainit.exit_codes()).filter(|c| !c.is_empty())
    });
    assert_eq!(codes[0], "75", "Docker's die events: {codes:?}");

    // Under docker-init (tini) the same hang lasts: running, never
    // restarted, throughout the window.
    while t0.elapsed() < WINDOW {
        let state = tini.inspect("{{.State.Status}} {{.RestartCount}}");
        assert_eq!(state, "running 0", "{}", tini.describe());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(tini.logs().0.contains("hung"), "{}", tini.describe());
    let (code, why) = probe(&tini, "tcp://127.0.0.1:8080");
    assert_eq!(code, 1, "the app under --init answers again");
    say(&format!(
        "health_docker: liveness: under --init after {WINDOW:?}: running, 0 restarts, {}",
        why.trim()
    ));
}

/// `docker-compose` from Debian (1.29, Python), if installed; None outside
/// CI when it is not (in CI it must be: scripts/test.sh installs it).
fn docker_compose() -> Option<&'static str> {
    let found = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(found || !ci, "CI is set and docker-compose is missing");
    if !found {
        say("SKIPPING the Compose test: no docker-compose (apt-get install docker-compose)");
    }
    found.then_some("docker-compose")
}

/// A Compose project, taken down when dropped; then its override file
/// (the last of `files`) is removed.
struct Project {
    name: String,
    files: Vec<String>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("docker-compose");
        cmd.args(["-p", &self.name]);
        for f in &self.files {
            cmd.args(["-f", f]);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker-compose")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-t", "1"]);
        if let Some(overrides) = self.files.last() {
            let _ = std::fs::remove_file(overrides);
        }
    }
}

#[test]
fn compose_recipe_reports_health_from_the_ready_endpoint_and_restarts_a_hung_app() {
    require_docker!();
    let Some(_) = docker_compose() else {
        return;
    };
    let image = recipe_image("compose", "liveness/Dockerfile");
    // The test's settings over the recipe's: short intervals and an app
    // that hangs once it has been healthy.
    let overrides = common::temp_dir("compose").join("override.yml");
    std::fs::write(
        &overrides,
        format!(
            "services:
  web:
    image: {}
    command: [\"/app\", \"8080\", \"--hang-after\", \"6\"]
    network_mode: none
    environment:
      DRAINIT_PRESTOP_SLEEP: \"0s\"
      DRAINIT_LIVENESS_INTERVAL: \"1s\"
      DRAINIT_LIVENESS_TIMEOUT: \"500ms\"
      DRAINIT_LIVENESS_START: \"0s\"
    healthcheck:
      interval: 1s
",
            image.0
        ),
    )
    .unwrap();
    let project = Project {
        name: unique("compose"),
        files: vec![
            format!("{}/docker/compose/docker-compose.yml", REPO),
            overrides.to_string_lossy().into_owned(),
        ],
    };
    let up = project.compose(&["up", "-d"]);
    assert!(
        up.status.success(),
        "docker-compose up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let id = String::from_utf8_lossy(&project.compose(&["ps", "-q", "web"]).stdout)
        .trim()
        .to_string();
    let c = Container {
        name: id,
        label: "compose".into(),
        host: None,
    };
    let t0 = Instant::now();
    until(&c, || {
        (c.inspect("{{.State.Health.Status}}") == "healthy").then_some(())
    });
    let healthy = t0.elapsed();
    let restarted = until(&c, || {
        (c.inspect("{{.RestartCount}}") != "0").then(|| t0.elapsed())
    });
    say(&format!(
        "health_docker: compose: healthy after {:.1}s, restarted after {:.1}s",
        healthy.as_secs_f64(),
        restarted.as_secs_f64()
    ));
    assert!(c.logs().1.contains("exiting with 75"), "{}", c.describe());
    let codes = until(&c, || Some(c.exit_codes()).filter(|c| !c.is_empty()));
    assert_eq!(codes[0], "75", "Docker's die events: {codes:?}");
}
