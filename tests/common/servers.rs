//! Real servers from Debian's packages (nginx, Apache httpd, php-fpm behind
//! nginx, Node.js, Tomcat 10), each with its own configuration on free
//! loopback ports, run in the foreground under an init (drainit with the
//! recipe of docker/servers/NAME.env, or `tini -g`) as PID 1 of its own PID
//! namespace, and stopped under load behind two balancer models:
//!
//! - (a) HAProxy as in docker/health/haproxy.cfg: health checks (drainit's
//!   ready endpoint, or for tini the server itself), retries, redispatch;
//! - (b) kube-proxy-like: HAProxy with no health checks and no retries,
//!   whose instance leaves rotation (`set server ... state maint`) only 1 s
//!   after its init got the stop signal.
//!
//! Both balancers front the same two instances at once: the one stopped,
//! and a survivor that is never stopped. Each carries two loads: short
//! requests (about 100 ms) and long downloads (2.5 s) kept in flight, each
//! kind in its own HAProxy backend so that the test can see long ones in
//! flight on the stopped instance when the stop begins.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::haproxy::{Haproxy, free_ports, http_status};
use super::{REPO, children, drainit_bin, example, poll, say, scrub_env, send};

/// How long a server may take to answer after its start (Tomcat's JVM and
/// first JSP compilation on a loaded 2-core machine).
pub const START_DEADLINE: Duration = Duration::from_secs(120);

/// The load's length: the stop begins about 2 s in, and the longest stop
/// (pre-stop sleep, then a long download's end) is over well before.
const LOAD: Duration = Duration::from_secs(15);
/// Short requests: connections and total rate per balancer.
const SHORT_CONNECTIONS: u32 = 8;
const SHORT_RATE: u32 = 40;
/// Long downloads: connections per balancer, each sending the next as soon
/// as the last ended (the rate is above what they can do).
const LONG_CONNECTIONS: u32 = 4;
/// Model (b)'s lag: the instance leaves rotation this long after its init
/// got the stop signal, as endpoint removal does in Kubernetes.
pub const ENDPOINT_LAG: Duration = Duration::from_secs(1);

/// One server: how to configure and start an instance of it.
pub struct Server {
    /// Its name, which is also its recipe's: docker/servers/NAME.env.
    pub name: &'static str,
    /// The paths of a short request and of a long download.
    pub short: &'static str,
    pub long: &'static str,
    /// What `docker stop` sends with the server's official image
    /// (its STOPSIGNAL): what tini gets.
    pub image_stop_signal: i32,
    /// Writes an instance's configuration under its directory and gives
    /// the command that serves HTTP on the port.
    pub launch: fn(&Path, u16) -> Launch,
}

/// What an instance runs.
pub struct Launch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// A process the instance needs beside it, not under test (php-fpm's
    /// nginx), killed with the instance.
    pub sidecar: Option<Child>,
}

impl Launch {
    pub fn new(argv: &[&str]) -> Launch {
        Launch {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            sidecar: None,
        }
    }
}

/// The init an instance runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// drainit with the server's recipe (docker/servers/NAME.env).
    Drainit,
    /// `tini -g`, stopped with the image's STOPSIGNAL.
    Tini,
}

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::Drainit => "drainit recipe",
            Init::Tini => "tini -g",
        }
    }
}

/// The `DRAINIT_*` settings of docker/servers/NAME.env, in order.
pub fn recipe(name: &str) -> Vec<(String, String)> {
    let path = Path::new(REPO).join(format!("docker/servers/{name}.env"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("NAME=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A fresh directory for a test's servers under /tmp, which the servers'
/// unprivileged workers (nobody) can read.
pub fn server_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/drainit-test-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    make_readable(&dir);
    dir
}

/// Opens a directory to every user (the servers' workers run as nobody).
pub fn make_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A test fixture of tests/fixtures/servers/, copied to `to`.
pub fn copy_fixture(name: &str, to: &Path) {
    let from = Path::new(REPO).join("tests/fixtures/servers").join(name);
    fs::copy(&from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// Fails naming the Debian package when a program the test needs is not
/// installed (scripts/test.sh installs them): never a silent skip.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is missing: the Debian package {package} is not installed (scripts/test.sh installs it)"
    );
}

/// Tomcat 10 in its own CATALINA_BASE with one connector, and two JSPs
/// (compiled by Tomcat's own Jasper and ECJ, so no JDK is needed); the
/// host's /usr/share/tomcat10/etc gives the other files. Shared by
/// tests/servers_http.rs and, in a container, tests/servers_docker.rs.
pub fn tomcat_base(dir: &Path, port: u16) -> Launch {
    for sub in ["conf", "logs", "temp", "work", "webapps/ROOT"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for conf in [
        "web.xml",
        "catalina.properties",
        "context.xml",
        "logging.properties",
    ] {
        let from = Path::new("/usr/share/tomcat10/etc").join(conf);
        fs::copy(&from, dir.join("conf").join(conf))
            .unwrap_or_else(|e| panic!("{}: {e} (apt-get install tomcat10)", from.display()));
    }
    copy_fixture("short.jsp", &dir.join("webapps/ROOT/short.jsp"));
    copy_fixture("long.jsp", &dir.join("webapps/ROOT/long.jsp"));
    let server = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Server port=\"-1\" shutdown=\"SHUTDOWN\">\n  \
         <Service name=\"Catalina\">\n    <Connector port=\"{port}\" address=\"127.0.0.1\" \
         protocol=\"HTTP/1.1\" connectionTimeout=\"20000\"/>\n    <Engine name=\"Catalina\" \
         defaultHost=\"localhost\">\n      <Host name=\"localhost\" appBase=\"webapps\" \
         unpackWARs=\"false\" autoDeploy=\"false\"/>\n    </Engine>\n  </Service>\n</Server>\n"
    );
    fs::write(dir.join("conf/server.xml"), server).unwrap();
    let base = dir.to_str().unwrap().to_string();
    let mut launch = Launch::new(&["/usr/share/tomcat10/bin/catalina.sh", "run"]);
    launch.env = vec![
        ("CATALINA_HOME".into(), "/usr/share/tomcat10".into()),
        ("CATALINA_BASE".into(), base.clone()),
        ("CATALINA_TMPDIR".into(), format!("{base}/temp")),
        // A faster start on a loaded machine; nothing the stop depends on.
        (
            "JAVA_OPTS".into(),
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC".into(),
        ),
    ];
    launch
}

/// A running instance: the init as PID 1 of its own PID namespace.
pub struct Instance {
    process: Child,
    /// The init's pid as the test sees it.
    pub pid: i32,
    pub port: u16,
    /// drainit's ready endpoint (none under tini).
    pub ready: Option<u16>,
    pub log: PathBuf,
    sidecar: Option<Child>,
}

impl Instance {
    /// Starts `server` under `init` in `dir`/`name` and waits until it
    /// answers its short path with 200.
    pub fn start(server: &Server, init: Init, dir: &Path, name: &str) -> Instance {
        let [port, ready] = free_ports();
        let home = dir.join(name);
        fs::create_dir_all(&home).unwrap();
        make_readable(&home);
        let launch = (server.launch)(&home, port);
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"]);
        scrub_env(&mut cmd);
        let ready = match init {
            Init::Drainit => {
                // The recipe as written; only the ready port is the test's.
                for (k, v) in recipe(server.name) {
                    let v = if k == "DRAINIT_READY_LISTEN" {
                        format!("127.0.0.1:{ready}")
                    } else {
                        v
                    };
                    cmd.env(k, v);
                }
                cmd.arg(drainit_bin());
                Some(ready)
            }
            Init::Tini => {
                cmd.args(["tini", "-g"]);
                None
            }
        };
        cmd.arg("--").args(&launch.argv);
        cmd.envs(launch.env.iter().map(|(k, v)| (k, v)));
        let log = home.join("init.log");
        let out = fs::File::create(&log).unwrap();
        let mut process = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("run unshare (util-linux)");
        let outer = process.id() as i32;
        let pid = poll(
            START_DEADLINE,
            Duration::from_millis(5),
            || {
                if let Ok(Some(status)) = process.try_wait() {
                    panic!("{} exited at once ({status}):\n{}", server.name, read(&log));
                }
                children(outer).first().copied()
            },
            || format!("{}'s init to start", server.name),
        );
        let mut instance = Instance {
            process,
            pid,
            port,
            ready,
            log,
            sidecar: launch.sidecar,
        };
        instance.wait_serving(server);
        instance
    }

    /// Waits until the server answers its short path with 200 (and, with
    /// drainit, the ready endpoint too).
    fn wait_serving(&mut self, server: &Server) {
        let (port, ready) = (self.port, self.ready);
        poll(
            START_DEADLINE,
            Duration::from_millis(100),
            || {
                if let Ok(Some(status)) = self.process.try_wait() {
                    panic!("{} exited ({status}):\n{}", server.name, read(&self.log));
                }
                let serving = http_status(port, server.short) == Some(200);
                let ready = ready.is_none_or(|r| http_status(r, "/") == Some(200));
                (serving && ready).then_some(())
            },
            || format!("{} answering on {port}:\n{}", server.name, read(&self.log)),
        );
    }

    /// Sends `sig` to the init.
    pub fn signal(&self, sig: i32) {
        send(self.pid, sig);
    }

    /// Waits for the init to exit, at most `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let log = self.log.clone();
        poll(
            deadline,
            Duration::from_millis(10),
            || self.process.try_wait().ok().flatten(),
            || format!("the init to exit:\n{}", read(&log)),
        )
    }

    /// What the init and the server wrote.
    pub fn log_text(&self) -> String {
        read(&self.log)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            send(self.pid, libc::SIGKILL);
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
        if let Some(sidecar) = &mut self.sidecar {
            let _ = sidecar.kill();
            let _ = sidecar.wait();
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// The balancer models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    /// HAProxy with health checks (drainit's ready endpoint), retries.
    Checked,
    /// kube-proxy-like: no checks, no retries, out 1 s after the TERM.
    Lagging,
}

/// The request kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Short,
    Long,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Checked => "(a) HAProxy, health checks",
            Model::Lagging => "(b) kube-proxy-like, 1 s lag",
        }
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Short => "short",
            Kind::Long => "long",
        }
    }
}

/// HAProxy in front of the stopped instance `x` and the survivor `s`, as
/// `model` says: backends `short` and `long` (chosen by path).
fn balancer(
    dir: &Path,
    model: Model,
    server: &Server,
    x: &Instance,
    s: &Instance,
) -> (Haproxy, u16) {
    let [front] = free_ports();
    let check = |i: &Instance| match (model, i.ready) {
        (Model::Lagging, _) => String::new(),
        (Model::Checked, Some(ready)) => format!(" check port {ready}"),
        (Model::Checked, None) => " check".to_string(),
    };
    // (a): docker/health/haproxy.cfg's settings; (b): none of them.
    let defaults = match model {
        Model::Checked => {
            "    retries 3\n    option redispatch\n    default-server inter 1s fall 2 rise 2\n"
        }
        Model::Lagging => "    retries 0\n",
    };
    let mut config = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    \
         timeout server 30s\n    timeout check 1s\n{defaults}\n\
         frontend in\n    bind 127.0.0.1:{front}\n    \
         use_backend long if {{ path_beg {} }}\n    default_backend short\n",
        server.long
    );
    for backend in ["short", "long"] {
        let _ = write!(
            config,
            "\nbackend {backend}\n    balance roundrobin\n    option httpchk GET {}\n    \
             server x 127.0.0.1:{}{}\n    server s 127.0.0.1:{}{}\n",
            server.short,
            x.port,
            check(x),
            s.port,
            check(s)
        );
    }
    let sub = dir.join(format!("haproxy-{model:?}-{}", x.port));
    fs::create_dir_all(&sub).unwrap();
    (Haproxy::with_config(&sub, &config), front)
}

/// A running load_client.
struct Load {
    process: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Load {
    fn start(front: u16, path: &str, connections: u32, rate: u32) -> Load {
        let mut process = Command::new(example("load_client"))
            .arg(format!("127.0.0.1:{front}"))
            .args(["--connections", &connections.to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--duration", &LOAD.as_secs_f64().to_string()])
            .args(["--timeout", "15"])
            .args(["--path", path])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run load_client");
        let lines = BufReader::new(process.stdout.take().unwrap()).lines();
        Load { process, lines }
    }

    /// The next line; load_client ends by itself after LOAD, so this read
    /// is bounded.
    fn line(&mut self) -> String {
        self.lines.next().and_then(Result::ok).unwrap_or_default()
    }

    /// load_client's counts by key (requests, ok, non200, conn_errors,
    /// timeouts, statuses).
    fn result(mut self) -> Counts {
        let line = self.line();
        let _ = self.process.wait();
        let counts: HashMap<String, String> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let n = |k: &str| counts.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Counts {
            requests: n("requests"),
            failed: n("requests") - n("ok"),
            detail: format!(
                "non-200 {} ({}), connection errors {}, time-outs {}",
                n("non200"),
                counts.get("statuses").map_or("", String::as_str),
                n("conn_errors"),
                n("timeouts")
            ),
        }
    }
}

/// One load's outcome.
#[derive(Clone, Debug)]
pub struct Counts {
    pub requests: u64,
    /// Every request that did not get a whole 200 answer.
    pub failed: u64,
    pub detail: String,
}

/// One stop of one instance under load, both models, both kinds.
pub struct Run {
    pub server: &'static str,
    pub init: Init,
    pub counts: HashMap<(Model, Kind), Counts>,
    /// Long downloads in flight on the stopped instance, per model, when
    /// the stop began.
    pub long_in_flight: HashMap<Model, u64>,
    /// From the stop signal to the init's exit.
    pub stop_took: Duration,
    pub status: ExitStatus,
    pub log: String,
}

impl Run {
    pub fn failed(&self, model: Model, kind: Kind) -> u64 {
        self.counts[&(model, kind)].failed
    }
}

/// At most this many load phases at once: the machine has 2 cores, and
/// loads that crowd them lose requests to the clients' own delays.
const LOAD_PHASES: u32 = 2;
static RUNNING: (Mutex<u32>, Condvar) = (Mutex::new(0), Condvar::new());

/// A place among the LOAD_PHASES, given back on drop.
struct LoadPhase;

impl LoadPhase {
    fn enter() -> LoadPhase {
        let (count, freed) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= LOAD_PHASES {
            n = freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        LoadPhase
    }
}

impl Drop for LoadPhase {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// Starts `server` under `init`, puts it behind both balancer models with
/// `survivor`, and stops it under load: the stop signal (drainit: TERM;
/// tini: the image's STOPSIGNAL) once long downloads are in flight on it
/// behind both balancers; model (b) takes it out ENDPOINT_LAG later.
pub fn stop_under_load(server: &Server, init: Init, survivor: &Instance, dir: &Path) -> Run {
    let mut x = Instance::start(server, init, dir, &format!("{init:?}").to_lowercase());
    let _phase = LoadPhase::enter();
    let balancers =
        [Model::Checked, Model::Lagging].map(|m| (m, balancer(dir, m, server, &x, survivor)));
    let checked = &balancers[0].1.0;
    poll(
        START_DEADLINE,
        Duration::from_millis(100),
        || {
            ["short/x", "short/s", "long/x", "long/s"]
                .iter()
                .all(|s| checked.backend_stat(s, "status").as_deref() == Some("UP"))
                .then_some(())
        },
        || {
            format!(
                "HAProxy (a) to have both servers UP: {:?}",
                checked.backend_servers()
            )
        },
    );
    let mut loads: Vec<((Model, Kind), Load)> = Vec::new();
    for (model, (_, front)) in &balancers {
        loads.push((
            (*model, Kind::Short),
            Load::start(*front, server.short, SHORT_CONNECTIONS, SHORT_RATE),
        ));
        loads.push((
            (*model, Kind::Long),
            Load::start(*front, server.long, LONG_CONNECTIONS, 100),
        ));
    }
    for (_, load) in &mut loads {
        assert_eq!(load.line(), "started", "load_client's first line");
    }
    let load_started = Instant::now();
    // Long downloads in flight on the instance behind both balancers.
    let long_in_flight: HashMap<Model, u64> = poll(
        Duration::from_secs(30),
        Duration::from_millis(20),
        || {
            let flying: Vec<(Model, u64)> = balancers
                .iter()
                .map(|(m, (h, _))| {
                    let scur = h
                        .backend_stat("long/x", "scur")
                        .and_then(|v| v.parse().ok());
                    (*m, scur.unwrap_or(0))
                })
                .collect();
            flying
                .iter()
                .all(|(_, n)| *n > 0)
                .then(|| flying.into_iter().collect())
        },
        || "long downloads in flight on the instance behind both balancers".into(),
    );
    let signal = match init {
        Init::Drainit => libc::SIGTERM,
        Init::Tini => server.image_stop_signal,
    };
    let stop = Instant::now();
    x.signal(signal);
    // Model (b): the endpoint's removal reaches the balancer 1 s late.
    thread::sleep(ENDPOINT_LAG);
    let lagging = &balancers[1].1.0;
    for backend in ["short", "long"] {
        let answer = lagging.command(&format!("set server {backend}/x state maint"));
        assert_eq!(
            answer.as_deref().map(str::trim),
            Some(""),
            "set server {backend}/x state maint"
        );
    }
    let status = x.wait(Duration::from_secs(60));
    let stop_took = stop.elapsed();
    assert!(
        load_started.elapsed() + Duration::from_secs(1) < LOAD,
        "{}: the stop took {stop_took:?}, the load ended before it",
        server.name
    );
    let counts = loads.into_iter().map(|(k, l)| (k, l.result())).collect();
    Run {
        server: server.name,
        init,
        counts,
        long_in_flight,
        stop_took,
        status,
        log: x.log_text(),
    }
}

/// The figures of a server's runs, as lines of docs/servers.md's table.
pub fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    for r in runs {
        for model in [Model::Checked, Model::Lagging] {
            let c = |k| &r.counts[&(model, k)];
            let (short, long) = (c(Kind::Short), c(Kind::Long));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} of {} | {} of {} | {:.1}s |",
                r.server,
                r.init.name(),
                model.name(),
                short.failed,
                short.requests,
                long.failed,
                long.requests,
                r.stop_took.as_secs_f64()
            );
        }
    }
    out
}

/// Runs both inits on `server` with one survivor, prints the figures, and
/// asserts: drainit's recipe loses nothing, of either kind, in either
/// model, and exits 0; tini -g loses requests where `tini_loses` says it
/// does (measured), so that the comparison stays honest.
pub fn prove(server: &Server, tini_loses: &[(Model, Kind)]) -> Vec<Run> {
    let dir = server_dir(server.name);
    let survivor = Instance::start(server, Init::Drainit, &dir, "survivor");
    let runs: Vec<Run> = [Init::Drainit, Init::Tini]
        .into_iter()
        .map(|init| stop_under_load(server, init, &survivor, &dir))
        .collect();
    drop(survivor);
    say(&format!("--- {}\n{}", server.name, table(&runs)));
    for r in &runs {
        let details: Vec<String> = r
            .counts
            .iter()
            .map(|((m, k), c)| format!("{m:?}/{k:?}: {}", c.detail))
            .collect();
        say(&format!(
            "{} {}: {}",
            r.server,
            r.init.name(),
            details.join("; ")
        ));
        for (model, n) in &r.long_in_flight {
            assert!(*n > 0, "{model:?}: no long download in flight at the stop");
        }
    }
    let drainit = &runs[0];
    for model in [Model::Checked, Model::Lagging] {
        for kind in [Kind::Short, Kind::Long] {
            assert_eq!(
                drainit.failed(model, kind),
                0,
                "{}: drainit's recipe lost {} requests ({}), {:?}; log:\n{}",
                server.name,
                kind.name(),
                drainit.counts[&(model, kind)].detail,
                model,
                drainit.log
            );
        }
    }
    assert_eq!(
        drainit.status.code(),
        Some(0),
        "drainit's exit; log:\n{}",
        drainit.log
    );
    let tini = &runs[1];
    for (model, kind) in tini_loses {
        assert!(
            tini.failed(*model, *kind) > 0,
            "{}: tini -g lost no {} request {:?}: then the comparison says nothing",
            server.name,
            kind.name(),
            model
        );
    }
    let _ = fs::remove_dir_all(&dir);
    runs
}

/// A redis-server on a free loopback port, with nothing saved; killed on
/// drop (the broker of tests/servers_celery.rs and servers_sidekiq.rs).
pub struct Redis {
    process: Child,
    pub port: u16,
}

impl Redis {
    pub fn start(dir: &Path) -> Redis {
        let [port] = free_ports();
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("run redis-server (apt-get install redis-server)");
        let redis = Redis { process, port };
        poll(
            Duration::from_secs(30),
            Duration::from_millis(50),
            || (redis.cli(&["ping"]) == "PONG").then_some(()),
            || "redis-server answering PING".into(),
        );
        redis
    }

    /// `redis-cli ARGS`' answer, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli (apt-get install redis-server)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
