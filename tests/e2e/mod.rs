//! Harness of the health and liveness proofs under the real Docker daemon
//! (tests/zero_downtime_rolling.rs, tests/health_docker.rs): the static
//! (musl) build that a `FROM scratch` image holds, images built locally and
//! removed on drop, containers removed on drop, polling with a deadline.
//!
//! Without a daemon the tests skip with a message, except in CI
//! (`CI=true`), where a missing daemon fails them. Names are
//! `drainit-e2e-<name>-<pid>`, so parallel runs never collide.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The checkout: docker/ holds the recipes under test.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Returns from the test when no Docker daemon answers (after saying so);
/// under CI that is a failure instead.
macro_rules! require_docker {
    () => {
        if !e2e::docker_available() {
            return;
        }
    };
}
pub(crate) use require_docker;

/// Whether a daemon answers `docker info`; asked once per run.
pub fn docker_available() -> bool {
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
        say(&format!(
            "SKIPPING the Docker end-to-end tests: no Docker daemon answers ({why}); \
             run docker/ensure-dockerd.sh (CI=true makes this a failure)"
        ));
        false
    })
}

/// Writes to stderr past libtest's capture, so that figures show in the CI
/// log also when the test passes.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// `drainit-e2e-<name>-<pid>`.
pub fn unique(name: &str) -> String {
    format!("drainit-e2e-{name}-{}", std::process::id())
}

/// `docker ARGS`, whatever its outcome.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

/// `docker ARGS`, which must succeed; returns its stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the static binaries are: drainit, and the fixtures under `examples/`.
pub struct Static(PathBuf);

impl Static {
    pub fn drainit(&self) -> PathBuf {
        self.0.join("drainit")
    }

    pub fn fixture(&self, name: &str) -> PathBuf {
        self.0.join("examples").join(name)
    }
}

/// The musl build of drainit and of the fixtures these tests use, once per
/// test binary: static, so that it runs in a `FROM scratch` image. Cargo is
/// incremental, so this is quick when nothing changed.
pub fn static_build() -> &'static Static {
    static BUILT: OnceLock<Static> = OnceLock::new();
    BUILT.get_or_init(|| {
        const TARGET: &str = "x86_64-unknown-linux-musl";
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // A plain static executable, not a static-pie, as the release build.
        let status = Command::new(cargo)
            .current_dir(REPO)
            .env("RUSTFLAGS", "-C relocation-model=static")
            .args(["build", "--release", "--locked", "--target", TARGET])
            .args(["--bin", "drainit"])
            .args(["--example", "legacy_app", "--example", "load_client"])
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "the static build failed (rustup target add {TARGET})"
        );
        Static(target_dir().join(TARGET).join("release"))
    })
}

/// Cargo's target directory (CARGO_TARGET_DIR too): a test runs from
/// `<target>/debug/deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A locally built image, removed when dropped.
pub struct Image(pub String);

impl Image {
    /// `docker build -f DOCKERFILE` on a context holding `files` (source,
    /// path in the context, folders made as needed), tagged `drainit-e2e-<name>-<pid>`. The legacy
    /// builder: Debian's docker.io has no buildx.
    pub fn build(name: &str, dockerfile: &Path, files: &[(&Path, &str)]) -> Image {
        let image = Image(unique(name));
        let context = target_dir().join(&image.0);
        let _ = fs::remove_dir_all(&context);
        fs::create_dir_all(&context).unwrap();
        for (from, to) in files {
            let to = context.join(to);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(from, to)
                .unwrap_or_else(|e| panic!("copy {} into the context: {e}", from.display()));
        }
        let out = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &image.0, "-f"])
            .arg(dockerfile)
            .arg(&context)
            .output()
            .expect("run docker build");
        let _ = fs::remove_dir_all(&context);
        assert!(
            out.status.success(),
            "docker build {}: {}{}",
            dockerfile.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// A container, removed (`docker rm -f`) when dropped, also when the test
/// fails.
pub struct Container(pub String);

impl Container {
    /// `docker run -d --name drainit-e2e-<name>-<pid> ARGS...`.
    pub fn run(name: &str, args: &[&str]) -> Container {
        let container = Container(unique(name));
        let mut all = vec!["run", "-d", "--name", &container.0];
        all.extend(args);
        docker_ok(&all);
        container
    }

    /// `docker inspect --format FORMAT`, trimmed.
    pub fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "--format", format, &self.0])
            .trim()
            .to_string()
    }

    /// `docker logs`: (stdout, stderr), kept apart by Docker.
    pub fn logs(&self) -> (String, String) {
        let out = docker(&["logs", &self.0]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Both logs, for failure messages.
    pub fn describe(&self) -> String {
        let (stdout, stderr) = self.logs();
        format!("{}: stdout:\n{stdout}stderr:\n{stderr}", self.0)
    }

    /// The exit codes of the container's ends so far, oldest first, as the
    /// daemon recorded them (`die` events).
    pub fn exit_codes(&self) -> Vec<String> {
        // `--until` ends the stream; whole seconds, so this second's events
        // show in the next call.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let filter = format!("container={}", self.0);
        docker_ok(&[
            "events",
            "--since",
            "1h",
            "--until",
            &now.as_secs().to_string(),
            "--filter",
            &filter,
            "--filter",
            "event=die",
            "--format",
            "{{.Actor.Attributes.exitCode}}",
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// `docker exec NAME ARGS...`, whatever its outcome.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", &self.0];
        all.extend(args);
        docker(&all)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// Polls `check` every 100 ms until it gives `Some`; panics with `what()`
/// after `deadline`.
pub fn poll<T>(
    deadline: Duration,
    what: impl Fn() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "not within {deadline:?}: {}",
            what()
        );
        thread::sleep(Duration::from_millis(100));
    }
}
