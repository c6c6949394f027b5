//! Zero-downtime proof (issue 4): HAProxy on loopback balances two
//! instances of a naive app (examples/http_app.rs, which dies at once on
//! SIGTERM) while examples/load_client.rs sends a steady load; after 2 s one
//! instance is stopped (`docker stop`) and the load goes on for 6 s. The same
//! run is made with tini, dumb-init and drainit as PID 1, and every request
//! that does not get a 200 is counted. drainit (drain hook flipping /health,
//! then a pre-stop sleep longer than the health checks need) must lose none;
//! tini must lose some, or the test proves nothing.
//!
//! Instances are containers under the real Docker daemon (`--network host`,
//! a `FROM scratch` image built here), or, when no daemon can be had outside
//! CI, the same static binaries in PID namespaces (`unshare --pid --fork
//! --mount-proc`). Needs root, haproxy, tini-static, dumb-init and
//! busybox-static. `docker/zero-downtime/run.sh` runs it with one command.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::thread;
use std::time::{Duration, Instant};

use common::{DEADLINE, children, wait_for};

/// Load before the stop, and after it.
const BEFORE_STOP: Duration = Duration::from_secs(2);
const AFTER_STOP: Duration = Duration::from_secs(6);
const CONNECTIONS: u32 = 32;
const RATE: u32 = 300;
/// `docker stop`'s default time before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than HAProxy needs to mark an instance down (inter 300ms, fall 2).
const PRESTOP_SLEEP: &str = "2s";

/// The inits under test and how each runs the app, given the paths of the
/// binaries where the instance sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pid1 {
    Tini,
    /// `docker run --init`: the daemon's docker-init (tini, without -g).
    DockerInit,
    DumbInit,
    Drainit,
}

const INITS: [Pid1; 4] = [Pid1::Tini, Pid1::DockerInit, Pid1::DumbInit, Pid1::Drainit];

impl Pid1 {
    fn name(self) -> &'static str {
        match self {
            Pid1::Tini => "tini -g",
            Pid1::DockerInit => "docker --init",
            Pid1::DumbInit => "dumb-init",
            Pid1::Drainit => "drainit",
        }
    }

    fn argv(self, bins: &Bins, port: u16) -> Vec<String> {
        let app = [bins.http_app.clone(), port.to_string()];
        let mut argv: Vec<String> = match self {
            Pid1::Tini => vec![bins.tini.clone(), "-g".into(), "--".into()],
            Pid1::DockerInit => vec![],
            Pid1::DumbInit => vec![bins.dumb_init.clone(), "--".into()],
            Pid1::Drainit => vec![
                bins.drainit.clone(),
                "--drain-exec".into(),
                // Not `wget -T`: Debian's busybox 1.35 crashes on it.
                format!(
                    "{} wget -q -O /dev/null http://127.0.0.1:{port}/drain",
                    bins.busybox
                ),
                "--drain-timeout".into(),
                "5s".into(),
                "--prestop-sleep".into(),
                PRESTOP_SLEEP.into(),
                "--".into(),
            ],
        };
        argv.extend(app);
        argv
    }
}

/// Paths of the programs as an instance sees them.
struct Bins {
    drainit: String,
    http_app: String,
    tini: String,
    dumb_init: String,
    busybox: String,
}

/// Where the static binaries are built, on the host.
struct Built {
    drainit: PathBuf,
    http_app: PathBuf,
    load_client: PathBuf,
}

const TINI: &str = "/usr/bin/tini-static";
const DUMB_INIT: &str = "/usr/bin/dumb-init";
const BUSYBOX: &str = "/bin/busybox";

/// Builds drainit and both fixtures statically, as for a `FROM scratch`
/// image (scripts/build-static.sh).
fn build() -> Built {
    let drainit =
        common::build::static_binary(common::build::Build::Shipped, &["http_app", "load_client"]);
    let examples = drainit.with_file_name("examples");
    Built {
        http_app: examples.join("http_app"),
        load_client: examples.join("load_client"),
        drainit,
    }
}

/// Where the instances run.
enum Backend {
    Docker(Image),
    Namespaces,
}

/// Uses the Docker daemon (starting one with docker/ensure-dockerd.sh if
/// needed); without one, PID namespaces, except in CI.
/// `ZERO_DOWNTIME_BACKEND=namespaces` skips Docker (to try that path).
fn backend(built: &Built, dir: &Path) -> Backend {
    if std::env::var("ZERO_DOWNTIME_BACKEND").is_ok_and(|v| v == "namespaces") {
        return Backend::Namespaces;
    }
    let ensure = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/ensure-dockerd.sh");
    if Command::new(&ensure).status().is_ok_and(|s| s.success()) {
        return Backend::Docker(Image::build(built, dir));
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "no Docker daemon: in CI the zero-downtime proof needs one"
    );
    say("zero-downtime: no Docker daemon; running the instances in PID namespaces instead");
    Backend::Namespaces
}

/// A `FROM scratch` image holding the app, every init, their libraries and
/// busybox (for drainit's drain hook: a distroless image has no wget).
struct Image(String);

impl Image {
    fn build(built: &Built, dir: &Path) -> Image {
        let root = dir.join("context/rootfs");
        std::fs::create_dir_all(&root).unwrap();
        let copy = |from: &Path, to: &str| {
            let dest = root.join(to.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        };
        copy(&built.drainit, "/drainit");
        copy(&built.http_app, "/http_app");
        copy(Path::new(TINI), "/tini");
        copy(Path::new(DUMB_INIT), "/dumb-init");
        copy(Path::new(BUSYBOX), "/busybox");
        // Debian's dumb-init is linked dynamically against glibc.
        for lib in shared_libs(DUMB_INIT) {
            copy(Path::new(&lib), &lib);
        }
        std::fs::write(
            dir.join("context/Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\n",
        )
        .unwrap();
        let tag = format!("drainit-zero-downtime:{}", std::process::id());
        docker(&[
            "build",
            "-q",
            "-t",
            &tag,
            &dir.join("context").to_string_lossy(),
        ]);
        Image(tag)
    }

    fn bins(&self) -> Bins {
        Bins {
            drainit: "/drainit".into(),
            http_app: "/http_app".into(),
            tini: "/tini".into(),
            dumb_init: "/dumb-init".into(),
            busybox: "/busybox".into(),
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// Runs `docker ARGS`, which must succeed; returns its output.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "docker {}: {text}", args[0]);
    text
}

/// The shared libraries `ldd` lists for `bin` (none for a static one).
fn shared_libs(bin: &str) -> Vec<String> {
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

/// One running instance; removed (or killed) on drop.
enum Instance {
    Container(String),
    Namespace(Child),
}

impl Instance {
    fn start(
        backend: &Backend,
        built: &Built,
        init: Pid1,
        port: u16,
        name: &str,
        dir: &Path,
    ) -> Instance {
        match backend {
            Backend::Docker(image) => {
                let argv = init.argv(&image.bins(), port);
                let init_flag = if init == Pid1::DockerInit {
                    "--init"
                } else {
                    "--init=false"
                };
                let run = [
                    "run",
                    "-d",
                    "--name",
                    name,
                    "--network",
                    "host",
                    init_flag,
                    &image.0,
                ];
                docker(
                    &[
                        &run[..],
                        &argv.iter().map(String::as_str).collect::<Vec<_>>(),
                    ]
                    .concat(),
                );
                Instance::Container(name.into())
            }
            Backend::Namespaces => {
                let host = |p: &Path| p.to_string_lossy().into_owned();
                let bins = Bins {
                    drainit: host(&built.drainit),
                    http_app: host(&built.http_app),
                    tini: TINI.into(),
                    dumb_init: DUMB_INIT.into(),
                    busybox: BUSYBOX.into(),
                };
                let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
                let child = Command::new("unshare")
                    .args(["--pid", "--fork", "--mount-proc"])
                    .args(init.argv(&bins, port))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .expect("run unshare");
                Instance::Namespace(child)
            }
        }
    }

    /// Stops the instance as `docker stop` does: SIGTERM to PID 1, SIGKILL
    /// after 10 s. Returns how long it took.
    fn stop(&mut self) -> Duration {
        let start = Instant::now();
        match self {
            Instance::Container(name) => {
                docker(&["stop", "-t", &STOP_TIMEOUT.as_secs().to_string(), name]);
            }
            Instance::Namespace(child) => {
                let pid1 = wait_for(
                    || children(child.id() as i32).first().copied(),
                    "the namespace's PID 1",
                );
                common::send(pid1, libc::SIGTERM);
                while child.try_wait().unwrap().is_none() {
                    if start.elapsed() > STOP_TIMEOUT {
                        common::send(pid1, libc::SIGKILL);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
        start.elapsed()
    }

    /// What the instance logged (its init's and the app's stderr).
    fn logs(&self, dir: &Path, name: &str) -> String {
        match self {
            Instance::Container(name) => docker(&["logs", name]),
            Instance::Namespace(_) => {
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        match self {
            Instance::Container(name) => {
                let _ = Command::new("docker")
                    .args(["rm", "-f", name.as_str()])
                    .output();
            }
            Instance::Namespace(child) => {
                if let Ok(None) = child.try_wait() {
                    // SIGKILL to a namespace's PID 1 kills the whole namespace.
                    if let Some(&pid1) = children(child.id() as i32).first() {
                        unsafe { libc::kill(pid1, libc::SIGKILL) };
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

/// HAProxy on loopback, with active health checks and retries; killed on drop.
struct Haproxy {
    process: Child,
    socket: PathBuf,
}

impl Haproxy {
    fn start(dir: &Path, front: u16, a: u16, b: u16) -> Haproxy {
        let socket = dir.join("haproxy.sock");
        let config = format!(
            "global
    stats socket {socket} mode 600 level admin
    maxconn 1000

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout check 1s
    retries 3
    option redispatch
    option httpchk GET /health
    default-server inter 300ms fall 2 rise 1

listen app
    bind 127.0.0.1:{front}
    balance roundrobin
    server a 127.0.0.1:{a} check
    server b 127.0.0.1:{b} check
",
            socket = socket.display()
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
        let process = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run haproxy (apt-get install haproxy)");
        Haproxy { process, socket }
    }

    /// `show stat` of the backend servers `a` and `b`: name -> field -> value.
    fn servers(&self) -> Option<Stats> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.write_all(b"show stat\n").ok()?;
        let mut csv = String::new();
        stream.read_to_string(&mut csv).ok()?;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
        let servers = lines
            .map(|l| {
                header
                    .iter()
                    .map(|k| k.to_string())
                    .zip(l.split(',').map(str::to_string))
                    .collect::<Fields>()
            })
            .filter_map(|row| Some((row.get("svname")?.clone(), row)))
            .filter(|(name, _)| name == "a" || name == "b")
            .collect();
        Some(servers)
    }

    /// A field of server `name` in `show stat`.
    fn stat(&self, name: &str, field: &str) -> Option<String> {
        self.servers()?.get(name)?.get(field).cloned()
    }
}

type Fields = HashMap<String, String>;
type Stats = HashMap<String, Fields>;

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Free loopback ports, from binding port 0 (all held until all are picked).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// The status of `GET path` on 127.0.0.1:port, if it answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `done` every 20 ms until it holds; at `DEADLINE`, panics with
/// "timed out waiting for" `what()`.
fn until(mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let end = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {}", what());
        thread::sleep(Duration::from_millis(20));
    }
}

/// One line of the result table.
struct Row {
    init: &'static str,
    requests: u64,
    ok: u64,
    non200: u64,
    conn_errors: u64,
    timeouts: u64,
    statuses: String,
    stop: Duration,
    /// Sessions HAProxy sent to the stopped instance (its `stot`).
    sent_to_stopped: u64,
    /// The stopped instance's app logged that /drain was called.
    drained: bool,
}

impl Row {
    fn failed(&self) -> u64 {
        self.non200 + self.conn_errors + self.timeouts
    }
}

/// One run: two instances under `init`, HAProxy in front, the load, and the
/// stop of instance `a` after `BEFORE_STOP`.
fn run(backend: &Backend, built: &Built, init: Pid1, dir: &Path) -> Row {
    let [front, port_a, port_b] = free_ports();
    let tag = format!(
        "drainit-zd-{}-{}",
        std::process::id(),
        init.name().split(' ').next().unwrap()
    );
    let (name_a, name_b) = (format!("{tag}-a"), format!("{tag}-b"));
    let mut a = Instance::start(backend, built, init, port_a, &name_a, dir);
    let b = Instance::start(backend, built, init, port_b, &name_b, dir);
    for (port, instance, name) in [(port_a, &a, &name_a), (port_b, &b, &name_b)] {
        until(
            || http_status(port, "/health") == Some(200),
            || {
                format!(
                    "{name} to answer on port {port}; its log:\n{}",
                    instance.logs(dir, name)
                )
            },
        );
    }
    let haproxy = Haproxy::start(dir, front, port_a, port_b);
    let up = |row: &Fields| {
        row.get("status").is_some_and(|v| v == "UP")
            && row.get("check_status").is_some_and(|v| v == "L7OK")
    };
    until(
        || {
            haproxy
                .servers()
                .is_some_and(|s| s.len() == 2 && s.values().all(up))
        },
        || {
            let log = std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default();
            format!(
                "haproxy to report both servers UP; stats {:?}; log:\n{log}",
                haproxy.servers()
            )
        },
    );

    let total = BEFORE_STOP + AFTER_STOP;
    let mut load = Command::new(&built.load_client)
        .arg(format!("127.0.0.1:{front}"))
        .args([
            "--connections",
            &CONNECTIONS.to_string(),
            "--rate",
            &RATE.to_string(),
        ])
        .args([
            "--duration",
            &total.as_secs_f64().to_string(),
            "--timeout",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run load_client");
    let (tx, lines) = channel();
    let stdout = load.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines
        .recv_timeout(DEADLINE)
        .expect("load_client to print 'started'");
    assert_eq!(first, "started", "load_client's first line");
    thread::sleep(BEFORE_STOP);
    let stop = a.stop();
    let sent_to_stopped = haproxy
        .stat("a", "stot")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let result = lines
        .recv_timeout(total + DEADLINE)
        .expect("load_client's result line");
    let _ = load.wait();
    let logs = a.logs(dir, &name_a);
    say(&format!(
        "--- {}: stopped instance's log\n{}",
        init.name(),
        logs.trim_end()
    ));

    let field = |key: &str| -> String {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {key} in {result:?}"))
    };
    let number = |key: &str| field(key).parse::<u64>().unwrap();
    Row {
        init: init.name(),
        requests: number("requests"),
        ok: number("ok"),
        non200: number("non200"),
        conn_errors: number("conn_errors"),
        timeouts: number("timeouts"),
        statuses: field("statuses"),
        stop,
        sent_to_stopped,
        drained: logs.contains("http_app: drained"),
    }
}

/// Writes to stderr past the test harness's capture, so that the lines
/// show up in CI logs even when the test passes.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn table(rows: &[Row], backend: &Backend) -> String {
    let mut out = String::new();
    let how = match backend {
        Backend::Docker(_) => "Docker containers, --network host",
        Backend::Namespaces => "PID namespaces (unshare), no Docker",
    };
    let _ = writeln!(
        out,
        "zero-downtime: {CONNECTIONS} connections, {RATE} req/s through HAProxy, stop after {BEFORE_STOP:?}, load {AFTER_STOP:?} more; {how}"
    );
    let _ = writeln!(
        out,
        "| init          | requests |   ok | non-200 | connection errors | time-outs | stop took |   sent to stopped |"
    );
    let _ = writeln!(
        out,
        "|---------------|---------:|-----:|--------:|------------------:|----------:|----------:|------------------:|"
    );
    for r in rows {
        let non200 = if r.statuses.is_empty() {
            r.non200.to_string()
        } else {
            format!("{} ({})", r.non200, r.statuses)
        };
        let _ = writeln!(
            out,
            "| {:<13} | {:>8} | {:>4} | {:>7} | {:>17} | {:>9} | {:>8.1}s | {:>17} |",
            r.init,
            r.requests,
            r.ok,
            non200,
            r.conn_errors,
            r.timeouts,
            r.stop.as_secs_f64(),
            r.sent_to_stopped
        );
    }
    let _ = writeln!(
        out,
        "connection errors: closed or reset before a complete response; non-200: HAProxy's own answers (e.g. 502, 503)"
    );
    out
}

#[test]
fn drainit_loses_no_request_when_an_instance_stops_and_tini_does() {
    let dir = common::temp_dir("zero-downtime");
    let built = build();
    let backend = backend(&built, &dir);
    let inits = INITS
        .iter()
        .filter(|&&i| i != Pid1::DockerInit || matches!(backend, Backend::Docker(_)));
    let rows: Vec<Row> = inits
        .map(|&init| run(&backend, &built, init, &dir))
        .collect();
    say(&table(&rows, &backend));

    for row in &rows {
        assert!(
            row.sent_to_stopped > 0,
            "{}: HAProxy sent the stopped instance no request: rigged",
            row.init
        );
        assert!(row.ok > 0, "{}: no request succeeded", row.init);
    }
    let drainit = rows
        .iter()
        .find(|r| r.init == Pid1::Drainit.name())
        .unwrap();
    assert!(
        drainit.drained,
        "drainit's drain hook did not reach the app's /drain"
    );
    assert_eq!(drainit.failed(), 0, "drainit lost requests");
    assert!(
        drainit.stop < STOP_TIMEOUT,
        "drainit's instance was killed by docker stop's time-out"
    );
    let tini = rows.iter().find(|r| r.init == Pid1::Tini.name()).unwrap();
    assert!(
        tini.failed() > 0,
        "the naive setup (tini) lost no request: this run proves nothing"
    );
}
