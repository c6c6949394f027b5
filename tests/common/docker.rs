//! Real containers under the real Docker daemon: `docker` commands,
//! images built locally (no registry is reachable) from the static build,
//! containers removed when dropped, and a second daemon with drainit as
//! its init.
//!
//! Without a daemon the Docker tests skip with a message, except in CI
//! (`CI=true`), where a missing daemon fails them. Containers and images
//! are named `drainit-test-<name>-<pid>`, so tests run in parallel, also
//! with other test binaries. Times and exit codes are printed
//! (`docker-stop-time ...`, `docker-exit-code ...`) for the CI log.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Build, REPO, poll, say, static_binary, temp_dir};

/// How long any single expectation of a container may take: generous, for
/// a loaded 2-core machine with other builds and tests running.
pub const DOCKER_DEADLINE: Duration = Duration::from_secs(60);

/// `docker stop -t` for tests that expect drainit to finish first: far
/// above every expected stop time, so that reaching it is a failure.
pub const STOP_TIMEOUT: u64 = 30;

/// Skips the test (returns) when no Docker daemon answers, after saying
/// so; panics instead under CI, where a missing daemon is a failure.
macro_rules! require_docker {
    () => {
        if !$crate::common::docker::docker_available() {
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
        // Once, and seen: libtest hides eprintln! of passing tests.
        say(&format!(
            "SKIPPING the Docker tests: no Docker daemon answers ({why}); \
             run docker/ensure-dockerd.sh (CI=true makes this a failure)"
        ));
        false
    })
}

/// A unique name for this test binary's run: `drainit-test-<name>-<pid>`.
pub fn unique(name: &str) -> String {
    format!("drainit-test-{name}-{}", std::process::id())
}

/// The label that marks this run's images, so that a later run can remove
/// the images of runs that are over (their pid is gone).
const OWNER_LABEL: &str = "drainit.test.owner";

/// Runs `docker ARGS` (against `host` when given) and returns its output.
pub fn docker_at(host: Option<&str>, args: &[&str]) -> Output {
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
pub fn docker(args: &[&str]) -> Output {
    docker_at(None, args)
}

/// `docker ARGS`, which must succeed; returns its stdout.
pub fn docker_ok(args: &[&str]) -> String {
    checked(docker(args), args)
}

/// The stdout of a docker command that must have succeeded.
pub fn checked(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The base image of every test: docker/Dockerfile.prebuilt on a context
/// with the static drainit, busybox and the fixture as `app`. Built once.
pub fn base_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let drainit = static_binary(Build::Shipped, &["fixture"]);
        let fixture = drainit.with_file_name("examples").join("fixture");
        let context = temp_dir("docker-context");
        fs::copy(&drainit, context.join("drainit")).unwrap();
        fs::copy(&fixture, context.join("app")).unwrap();
        fs::copy("/bin/busybox", context.join("busybox"))
            .expect("/bin/busybox is missing: apt-get install busybox-static");
        let name = unique("base");
        build_image(
            &name,
            &Path::new(REPO).join("docker/Dockerfile.prebuilt"),
            &context,
            None,
        );
        let _ = fs::remove_dir_all(&context);
        name
    })
}

/// `docker build` with the owner label; `base` fills `ARG BASE`. The
/// first build of a run removes the images earlier runs left.
pub fn build_image(tag: &str, dockerfile: &Path, context: &Path, base: Option<&str>) {
    static CLEAN: Once = Once::new();
    CLEAN.call_once(remove_stale_images);
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

/// A locally built image, removed when dropped.
pub struct Image(pub String);

impl Image {
    /// `docker build -f DOCKERFILE` on a fresh context holding `files`
    /// (source, path in the context; folders made as needed), tagged
    /// `unique(name)`.
    pub fn build(name: &str, dockerfile: &Path, files: &[(&Path, &str)]) -> Image {
        let image = Image(unique(name));
        let context = temp_dir(&image.0);
        for (from, to) in files {
            let to = context.join(to.trim_start_matches('/'));
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(from, to)
                .unwrap_or_else(|e| panic!("copy {} into the context: {e}", from.display()));
        }
        build_image(&image.0, dockerfile, &context, None);
        let _ = fs::remove_dir_all(&context);
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// The shared libraries `ldd` lists for `bin` (none for a static one), to
/// copy into a `FROM scratch` image beside it.
pub fn shared_libs(bin: &str) -> Vec<String> {
    let out = Command::new("ldd").arg(bin).output().expect("run ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(str::to_string)
        })
        .collect()
}

/// Builds `docker/<dir>/<file>` FROM the base image as `drainit-test-<name>-<pid>`.
pub fn recipe_image(name: &str, dir: &str, file: &str) -> String {
    let tag = unique(name);
    let context = Path::new(REPO).join("docker").join(dir);
    build_image(&tag, &context.join(file), &context, Some(base_image()));
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
pub struct Container {
    pub name: String,
    /// The test's short name for it, in the printed figures.
    pub label: String,
    pub host: Option<String>,
}

impl Container {
    /// `docker run -d --network none --name NAME ARGS...`.
    pub fn run(name: &str, args: &[&str]) -> Container {
        Container::run_at(None, name, args)
    }

    /// The same against the daemon at `host` (None: the default one).
    pub fn run_at(host: Option<&str>, name: &str, args: &[&str]) -> Container {
        let mut all = vec!["--network", "none"];
        all.extend(args);
        Container::start(host, name, &all)
    }

    /// `docker run -d --name NAME ARGS...` against the daemon at `host`,
    /// with the network ARGS say.
    pub fn start(host: Option<&str>, name: &str, args: &[&str]) -> Container {
        let container = Container::guard(host, name);
        let mut all = vec!["run", "-d", "--name", &container.name];
        all.extend(args);
        checked(docker_at(host, &all), &all);
        container
    }

    /// The guard alone, for a container the test runs itself (named
    /// `unique(name)`).
    pub fn guard(host: Option<&str>, name: &str) -> Container {
        Container {
            name: unique(name),
            label: name.to_string(),
            host: host.map(String::from),
        }
    }

    /// `docker ARGS` against this container's daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        docker_at(self.host.as_deref(), args)
    }

    /// `docker logs`: (stdout, stderr), kept apart by Docker.
    pub fn logs(&self) -> (String, String) {
        let out = self.docker(&["logs", &self.name]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Polls `docker logs` until stdout has a line for which `found` holds.
    pub fn wait_line(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        poll(
            DOCKER_DEADLINE,
            Duration::from_millis(50),
            || {
                let (stdout, _) = self.logs();
                stdout.lines().find(|l| found(l)).map(str::to_string)
            },
            || {
                let (stdout, stderr) = self.logs();
                format!(
                    "{}: a {what} line; stdout:\n{stdout}\nstderr:\n{stderr}",
                    self.name
                )
            },
        )
    }

    /// Waits for the fixture's `ready <pid>` line; returns the pid.
    pub fn wait_ready(&self) -> u32 {
        let line = self.wait_line("ready", |l| l.starts_with("ready "));
        line["ready ".len()..].trim().parse().unwrap()
    }

    /// `docker inspect --format FORMAT`, trimmed.
    pub fn inspect(&self, format: &str) -> String {
        let args = ["inspect", "--format", format, &self.name];
        checked(self.docker(&args), &args).trim().to_string()
    }

    /// Both logs, for failure messages.
    pub fn describe(&self) -> String {
        let (stdout, stderr) = self.logs();
        format!("{}: stdout:\n{stdout}stderr:\n{stderr}", self.name)
    }

    /// The exit codes of the container's ends so far, oldest first, as the
    /// daemon recorded them (`die` events).
    pub fn exit_codes(&self) -> Vec<String> {
        // `--until` ends the stream; whole seconds, so this second's events
        // show in the next call.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let (until, filter) = (
            now.as_secs().to_string(),
            format!("container={}", self.name),
        );
        let args = [
            "events",
            "--since",
            "1h",
            "--until",
            &until,
            "--filter",
            &filter,
            "--filter",
            "event=die",
            "--format",
            "{{.Actor.Attributes.exitCode}}",
        ];
        checked(self.docker(&args), &args)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `docker stop -t SECS`, then what came of it.
    pub fn stop(&self, timeout: u64) -> Stopped {
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
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["exec", &self.name];
        all.extend(args);
        checked(self.docker(&all), &all)
    }
}

/// A stopped container: how long `docker stop` took, the exit code
/// (`docker wait`) and its logs.
pub struct Stopped {
    pub took: Duration,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Stopped {
    /// Asserts that the app printed exactly this line.
    pub fn assert_line(&self, line: &str) {
        assert!(
            self.stdout.lines().any(|l| l == line),
            "no {line:?} line; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// Asserts `min <= took < max`: a strict lower bound, a generous upper one.
    pub fn assert_took(&self, min: Duration, max: Duration) {
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
pub fn run_to_end(args: &[&str]) -> (i32, String, String) {
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
pub fn next_id() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A duration as printed in the figures: `2.10s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Polls `check` every 100 ms until it returns `Some`, for at most
/// `DOCKER_DEADLINE`.
pub fn poll_docker<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll(DOCKER_DEADLINE, Duration::from_millis(100), check, || {
        what.to_string()
    })
}

/// A second dockerd, on its own socket, data-root, exec-root and pidfile,
/// with drainit (named `docker-init`) as its init. Dropping it stops that
/// daemon only, by its pid, and removes its directories.
pub struct Dockerd {
    process: std::process::Child,
    pub dir: PathBuf,
    pub host: String,
    log: PathBuf,
}

impl Dockerd {
    /// Starts it with `drainit` as its init, and waits until it answers.
    pub fn start(drainit: &Path) -> Dockerd {
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
        poll_docker("the second dockerd answering", || {
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
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `docker --host <this daemon> ARGS`, which must succeed.
    pub fn docker(&self, args: &[&str]) -> String {
        checked(docker_at(Some(&self.host), args), args)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while matches!(self.process.try_wait(), Ok(None)) {
            if start.elapsed() > DOCKER_DEADLINE {
                let _ = self.process.kill();
                let _ = self.process.wait();
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
