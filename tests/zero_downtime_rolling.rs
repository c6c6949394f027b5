//! Zero downtime for an app that cannot be changed, through a rolling
//! update, under the real Docker daemon and a real HAProxy.
//!
//! The app (tests/fixtures/legacy_app.rs) has no health endpoint and no drain
//! endpoint, and dies at once on SIGTERM, in-flight requests included. Two
//! instances run behind HAProxy on loopback (`--network host`) under a
//! steady load (tests/fixtures/load_client.rs). A rolling update then replaces
//! both, one after the other, as an orchestrator does: start the new
//! instance, wait until HAProxy has it UP, `docker stop` the old one.
//! HAProxy has four server slots, the old two and the new two.
//!
//! With drainit (`--ready-listen` and `--prestop-sleep`), HAProxy's health
//! check asks drainit's ready endpoint (`check port N`, as in
//! docker/health/haproxy.cfg), which answers 503 as soon as the stop
//! begins, so the instance is out of rotation before the app gets SIGTERM:
//! no request may be lost. With tini, dumb-init and `docker --init`, the
//! check asks the app itself, and the requests in flight at SIGTERM are
//! lost: each of them must lose some, or the run proves nothing.
//!
//! Prints the table that docs/health.md quotes. Skips without a Docker
//! daemon, except in CI (`CI=true`). Needs haproxy, tini-static and
//! dumb-init.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::docker::{Container, DOCKER_DEADLINE, Image, docker_ok, require_docker, shared_libs};
use common::haproxy::{Haproxy, free_ports};
use common::{Build, REPO, poll, say, static_binary};

/// The load: this many keep-alive connections, this many requests a second
/// in total, for this long (the whole rolling update fits in it: about 17s
/// with drainit, whose stops take the 5s pre-stop sleep). With the
/// app's 100 ms per request, about 15 requests are in flight on each old
/// instance when it is stopped.
const CONNECTIONS: u32 = 48;
const RATE: u32 = 300;
const LOAD: Duration = Duration::from_secs(24);
/// Load before the update starts, and at least this much after it ends.
const WARM_UP: Duration = Duration::from_secs(1);
const COOL_DOWN: Duration = Duration::from_millis(500);
/// drainit's pre-stop sleep, as in docker/health/Dockerfile: longer than
/// HAProxy needs to see the 503 (inter 1s x fall 2, plus one interval of
/// phase, in docker/health/haproxy.cfg).
const PRESTOP_SLEEP: &str = "5s";
/// `docker stop -t`: far above every expected stop.
const STOP_TIMEOUT: &str = "30";

/// An init under test, as `docker run` starts it from the image below.
#[derive(PartialEq, Eq)]
struct Pid1 {
    name: &'static str,
    /// `docker run` options before the image.
    options: &'static [&'static str],
    /// The words after the image, up to the app's port. `READY` stands for
    /// the port of drainit's ready endpoint.
    words: &'static [&'static str],
}

const DRAINIT: Pid1 = Pid1 {
    name: "drainit",
    options: &["--entrypoint", "/drainit"],
    words: &[
        "--ready-listen",
        "127.0.0.1:READY",
        "--prestop-sleep",
        PRESTOP_SLEEP,
        "--",
        "/app",
    ],
};

const INITS: [Pid1; 4] = [
    Pid1 {
        name: "tini -g",
        options: &["--entrypoint", "/tini"],
        words: &["-g", "--", "/app"],
    },
    // The daemon's docker-init: tini, without -g.
    Pid1 {
        name: "docker --init",
        options: &["--init", "--entrypoint", "/app"],
        words: &[],
    },
    Pid1 {
        name: "dumb-init",
        options: &["--entrypoint", "/dumb-init"],
        words: &["--", "/app"],
    },
    DRAINIT,
];

impl Pid1 {
    /// `docker run` arguments from the options on, for an instance whose
    /// app listens on `port` and whose ready endpoint (drainit's) is `ready`.
    fn run_args(&self, image: &str, port: u16, ready: u16) -> Vec<String> {
        let ready = ready.to_string();
        let mut all: Vec<String> = self.options.iter().map(|s| s.to_string()).collect();
        all.push(image.into());
        all.extend(self.words.iter().map(|w| w.replace("READY", &ready)));
        all.push(port.to_string());
        all
    }

    /// What HAProxy's health check asks: drainit's ready endpoint, or for
    /// the others the app itself (which answers `GET /`).
    fn check(&self, ready: u16) -> String {
        if *self == DRAINIT {
            format!("check port {ready}")
        } else {
            "check".into()
        }
    }
}

/// The shipped static drainit (musl); the fixtures are in `examples/` beside it.
fn drainit() -> PathBuf {
    static_binary(Build::Shipped, &["legacy_app", "load_client"])
}

/// The image of every instance: FROM scratch with the app, drainit, tini
/// and dumb-init (with the glibc it is linked against).
fn image(dir: &Path) -> Image {
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(&dockerfile, "FROM scratch\nCOPY . /\n").unwrap();
    let drainit = drainit();
    let app = drainit.with_file_name("examples").join("legacy_app");
    let libs = shared_libs("/usr/bin/dumb-init");
    let mut files: Vec<(&Path, &str)> = vec![
        (&drainit, "drainit"),
        (&app, "app"),
        (Path::new("/usr/bin/tini-static"), "tini"),
        (Path::new("/usr/bin/dumb-init"), "dumb-init"),
    ];
    files.extend(libs.iter().map(|l| (Path::new(l), l.as_str())));
    Image::build("rolling", &dockerfile, &files)
}

/// Polls `check` every 100 ms until it gives `Some`; fails with `what()`
/// after DOCKER_DEADLINE.
fn until<T>(what: impl Fn() -> String, check: impl FnMut() -> Option<T>) -> T {
    poll(DOCKER_DEADLINE, Duration::from_millis(100), check, what)
}

/// One of HAProxy's server slots and the instance in it, if started.
struct Slot {
    name: &'static str,
    port: u16,
    ready: u16,
    instance: Option<Container>,
}

impl Slot {
    /// Starts the instance and waits for its app to listen.
    fn start(&mut self, init: &Pid1, image: &Image, tag: &str) {
        let mut args: Vec<String> = vec!["--network".into(), "host".into()];
        args.extend(init.run_args(&image.0, self.port, self.ready));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let c = Container::start(None, &format!("{tag}-{}", self.name), &args);
        until(
            || c.describe(),
            || {
                if c.logs().0.contains("listening on") {
                    return Some(());
                }
                assert_eq!(
                    c.inspect("{{.State.Status}}"),
                    "running",
                    "{}",
                    c.describe()
                );
                None
            },
        );
        self.instance = Some(c);
    }

    /// `docker stop`: SIGTERM to PID 1, SIGKILL after STOP_TIMEOUT.
    fn stop(&self) -> Duration {
        let c = self.instance.as_ref().unwrap();
        let t0 = Instant::now();
        docker_ok(&["stop", "-t", STOP_TIMEOUT, &c.name]);
        t0.elapsed()
    }
}

/// Whether HAProxy has these servers UP (`true`) or DOWN (`false`), not
/// on the way between.
fn states_are(haproxy: &Haproxy, want: &[(&str, bool)]) -> bool {
    want.iter().all(|(name, up)| {
        haproxy
            .stat(name, "status")
            .is_some_and(|s| (s == "UP") == *up && (s == "UP" || s == "DOWN"))
    })
}

/// Sessions HAProxy gave the server (`stot`).
fn sessions(haproxy: &Haproxy, name: &str) -> u64 {
    let stot = haproxy.stat(name, "stot");
    stot.and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn describe(haproxy: &Haproxy) -> String {
    format!(
        "haproxy stats {:?}\nlog:\n{}",
        haproxy.servers(),
        haproxy.log_text()
    )
}

/// docker/health/haproxy.cfg as it is, bound to `front` on loopback, with
/// the slots as its servers, each checked as `init` says.
fn config(front: u16, init: &Pid1, slots: &[Slot]) -> String {
    let recipe = Path::new(REPO).join("docker/health/haproxy.cfg");
    let recipe = std::fs::read_to_string(recipe).unwrap();
    let mut out = String::new();
    let (mut bound, mut servers) = (false, false);
    for line in recipe.lines() {
        match line.split_whitespace().next() {
            Some("bind") => {
                let _ = writeln!(out, "    bind 127.0.0.1:{front}");
                bound = true;
            }
            Some("server") if servers => {}
            Some("server") => {
                for s in slots {
                    let check = init.check(s.ready);
                    let _ = writeln!(out, "    server {} 127.0.0.1:{} {check}", s.name, s.port);
                }
                servers = true;
            }
            _ => out.extend([line, "\n"]),
        }
    }
    assert!(bound && servers, "no bind or server line in the recipe");
    out
}

/// One line of the table.
struct Row {
    init: &'static Pid1,
    /// load_client's counts by key: requests, ok, non200, conn_errors,
    /// timeouts, and statuses as `CODE:N,...`.
    counts: HashMap<String, String>,
    /// How long each `docker stop` took.
    stops: Vec<Duration>,
    /// From the load's first answer to the end of the last stop.
    update: Duration,
    /// Sessions HAProxy gave the old and the new instances.
    old_sessions: u64,
    new_sessions: u64,
    /// HAProxy's reasons for taking servers out (`web/old-a is DOWN,
    /// reason: ...`).
    downs: Vec<String>,
}

impl Row {
    fn count(&self, key: &str) -> u64 {
        self.counts[key].parse().unwrap()
    }

    /// Every request that did not get a 200.
    fn lost(&self) -> u64 {
        self.count("requests") - self.count("ok")
    }
}

/// One rolling update under `init`, with the load running throughout.
fn rolling_update(init: &'static Pid1, image: &Image, dir: &Path) -> Row {
    let [front, p1, p2, p3, p4, r1, r2, r3, r4] = free_ports();
    let slot = |name, port, ready| Slot {
        name,
        port,
        ready,
        instance: None,
    };
    let mut slots = [
        slot("old-a", p1, r1),
        slot("old-b", p2, r2),
        slot("new-a", p3, r3),
        slot("new-b", p4, r4),
    ];
    let tag = format!("rolling-{}", init.name.split(' ').next().unwrap());
    slots[0].start(init, image, &tag);
    slots[1].start(init, image, &tag);
    let haproxy = Haproxy::with_config(dir, &config(front, init, &slots));
    let (old_up, new_down) = (
        [("old-a", true), ("old-b", true)],
        [("new-a", false), ("new-b", false)],
    );
    until(
        || describe(&haproxy),
        || states_are(&haproxy, &[old_up, new_down].concat()).then_some(()),
    );

    let mut load = Command::new(drainit().with_file_name("examples").join("load_client"))
        .arg(format!("127.0.0.1:{front}"))
        .args(["--connections", &CONNECTIONS.to_string()])
        .args(["--rate", &RATE.to_string()])
        .args(["--duration", &LOAD.as_secs_f64().to_string()])
        .args(["--timeout", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run load_client");
    // load_client ends by itself after LOAD, so these reads are bounded.
    let mut out = BufReader::new(load.stdout.take().unwrap()).lines();
    let mut line = || out.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(line(), "started", "load_client's first line");
    let t0 = Instant::now();
    thread::sleep(WARM_UP);

    let mut stops = Vec::new();
    for (old, new) in [(0, 2), (1, 3)] {
        slots[new].start(init, image, &tag);
        let name = slots[new].name;
        until(
            || describe(&haproxy),
            || states_are(&haproxy, &[(name, true)]).then_some(()),
        );
        stops.push(slots[old].stop());
    }
    let update = t0.elapsed();
    assert!(
        update + COOL_DOWN < LOAD,
        "{}: the update took {update:?}, the load stopped before it ended",
        init.name
    );
    let result = line();
    let _ = load.wait();
    let old_logs = slots[0].instance.as_ref().unwrap().describe();
    say(&format!(
        "--- {}: an old instance's logs\n{old_logs}",
        init.name
    ));
    let counts = result
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Row {
        init,
        counts,
        stops,
        update,
        old_sessions: sessions(&haproxy, "old-a").min(sessions(&haproxy, "old-b")),
        new_sessions: sessions(&haproxy, "new-a").min(sessions(&haproxy, "new-b")),
        downs: haproxy
            .log_text()
            .lines()
            .filter_map(|l| l.split_once("Server ")?.1.split_once(", info:"))
            .filter(|(down, _)| down.contains(" is DOWN"))
            .map(|(down, _)| down.to_string())
            .collect(),
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "rolling update of 2 instances behind HAProxy: {CONNECTIONS} connections, \
         {RATE} req/s for {LOAD:?}; drainit: --ready-listen, --prestop-sleep {PRESTOP_SLEEP}\n\
         | init          | requests | non-200 | connection errors | time-outs | lost | docker stop | update |\n\
         |---------------|---------:|--------:|------------------:|----------:|-----:|------------:|-------:|\n"
    );
    for r in rows {
        let statuses = &r.counts["statuses"];
        let non200 = if statuses.is_empty() {
            r.count("non200").to_string()
        } else {
            format!("{} ({statuses})", r.count("non200"))
        };
        let stops: Vec<String> = r
            .stops
            .iter()
            .map(|d| format!("{:.1}s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(
            out,
            "| {:<13} | {:>8} | {:>7} | {:>17} | {:>9} | {:>4} | {:>11} | {:>5.1}s |",
            r.init.name,
            r.count("requests"),
            non200,
            r.count("conn_errors"),
            r.count("timeouts"),
            r.lost(),
            stops.join(", "),
            r.update.as_secs_f64()
        );
    }
    out
}

#[test]
fn rolling_update_of_an_app_that_cannot_change_loses_nothing_with_drainit_only() {
    require_docker!();
    let dir = common::temp_dir("rolling");
    let image = image(&dir);
    let rows: Vec<Row> = INITS
        .iter()
        .map(|init| rolling_update(init, &image, &dir))
        .collect();
    say(&table(&rows));
    let _ = std::fs::remove_dir_all(&dir);

    for r in &rows {
        let name = r.init.name;
        assert!(r.old_sessions > 0, "{name}: an old instance got no traffic");
        assert!(r.new_sessions > 0, "{name}: a new instance got no traffic");
        say(&format!("{name}: {}", r.downs.join("; ")));
        if r.init == &DRAINIT {
            assert_eq!(r.lost(), 0, "drainit lost requests");
            // Out of rotation by the ready endpoint's 503, not by the app's
            // death (HAProxy: "Layer4 connection problem").
            for old in ["old-a", "old-b"] {
                let down = format!("web/{old} is DOWN, reason: Layer7 wrong status, code: 503");
                assert!(
                    r.downs.iter().any(|l| l.contains(&down)),
                    "HAProxy took {old} out otherwise: {:?}",
                    r.downs
                );
            }
            assert!(
                r.stops
                    .iter()
                    .all(|d| (5.0..15.0).contains(&d.as_secs_f64())),
                "drainit's stops took {:?}: not the pre-stop sleep, or far more",
                r.stops
            );
        } else {
            assert!(
                r.lost() > 0,
                "{name} lost no request: this run proves nothing"
            );
        }
    }
}

/// The recipe as users copy it, not only as this test rewrites it, is a
/// valid HAProxy configuration (`haproxy -c` binds nothing).
#[test]
fn haproxy_recipe_is_valid() {
    let recipe = Path::new(REPO).join("docker/health/haproxy.cfg");
    let out = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&recipe)
        .output()
        .expect("run haproxy (apt-get install haproxy)");
    assert!(
        out.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
