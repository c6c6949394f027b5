//! Helpers of the health and liveness tests: the fixture app and hook
//! (tests/fixtures/health_fixture.rs), free loopback ports, a raw HTTP client, an
//! upstream HTTP server in the test process that a test switches between
//! answering, failing and never answering, a listener whose accept queue is
//! full (connects to it hang), FIFO handshakes and monotonic timestamps.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{DEADLINE, Drainit, Mode, Start, alive, wait_for};

/// tests/fixtures/health_fixture.rs.
pub fn health_fixture() -> String {
    super::example("health_fixture")
}

/// CLOCK_MONOTONIC in ns, the clock the fixture stamps its log lines with
/// (the fixtures' own function).
pub use super::fixture_log::monotonic_ns as now_ns;

/// Nanoseconds as a Duration, for readable bounds.
pub fn span(from_ns: u128, to_ns: u128) -> Duration {
    Duration::from_nanos(to_ns.saturating_sub(from_ns) as u64)
}

/// The stamp of the first line of an append-only log that starts with
/// `tag ` (`hook-start`, `sig 15`, `request`...), waiting for it.
pub fn logged_at(log: &Path, tag: &str) -> u128 {
    wait_for(
        || {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let line = text.lines().find(|l| l.starts_with(&format!("{tag} ")))?;
            line.rsplit(' ').next()?.parse().ok()
        },
        &format!("'{tag}' in {}", log.display()),
    )
}

/// The first word (or two, for `sig N`) of each line of a log: its order.
pub fn log_order(log: &Path) -> Vec<String> {
    super::log_lines(log)
        .iter()
        .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            ["sig", n, ..] => format!("sig {n}"),
            ["env", var, ..] => format!("env {}", var.split('=').next().unwrap_or(var)),
            [first, ..] => first.to_string(),
            [] => String::new(),
        })
        .collect()
}

/// Stops drainit with SIGTERM, for a fixture app run with `--exit-on
/// 15=0`: the app gets it, and drainit exits 0. Returns drainit's log.
pub fn stop_cleanly(d: Drainit) -> String {
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    log
}

/// Asserts that each of `texts` is in `log`, each after the one before.
pub fn assert_in_order(log: &str, texts: &[&str]) {
    let mut rest = log;
    for text in texts {
        let Some(at) = rest.find(text) else {
            panic!("'{text}' not after the lines before it in:\n{log}");
        };
        rest = &rest[at + text.len()..];
    }
}

/// Sends SIGUSR1 to drainit `times` times; the fixture app prints each
/// (`sig 10`) within 500 ms.
pub fn assert_forwarded_at_once(d: &Drainit, times: usize) {
    for _ in 0..times {
        let sent = std::time::Instant::now();
        d.signal(libc::SIGUSR1);
        d.expect_line("sig 10");
        let took = sent.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "SIGUSR1 forwarded after {took:?}\n{}",
            d.stderr()
        );
    }
}

/// Waits until drainit's stderr contains `text`.
pub fn wait_logged(d: &Drainit, text: &str) {
    wait_for(
        || d.stderr().contains(text).then_some(()),
        &format!("drainit to log '{text}'; it logged:\n{}", d.stderr()),
    );
}

/// A loopback port that was free a moment ago (bound to port 0, then
/// closed). Another process may take it before drainit binds it:
/// `start_listening` retries then.
pub fn free_port() -> u16 {
    let [port] = super::haproxy::free_ports();
    port
}

/// Starts drainit with the arguments `args(port)` for a free port, and
/// waits until it answers on 127.0.0.1:port; on a port taken meanwhile
/// (drainit exits 1 naming it), tries another port.
pub fn start_listening<'a>(
    mode: Mode,
    args: impl Fn(u16) -> Vec<String>,
    opts: impl Fn() -> Start<'a>,
) -> (Drainit, u16) {
    for _ in 0..5 {
        let port = free_port();
        let d = Drainit::start_with(mode, &args(port), opts());
        let up = wait_for(
            || {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    Some(true)
                } else {
                    (d.pid == 0 || !alive(d.pid)).then_some(false)
                }
            },
            "drainit to listen or exit",
        );
        if up {
            return (d, port);
        }
        let (status, log) = d.wait();
        assert!(
            status.code() == Some(1) && log.contains(&port.to_string()),
            "drainit failed to start: {status:?}\n{log}"
        );
    }
    panic!("no free port in 5 tries");
}

/// drainit with `options` running the fixture app with `app_args`;
/// returns once the app is ready.
pub fn start_app(mode: Mode, options: Vec<String>, app_args: &[&str], opts: Start) -> Drainit {
    let mut args = options;
    args.extend(words(&["--", &health_fixture(), "app"]));
    args.extend(words(app_args));
    let d = Drainit::start_with(mode, &args, opts);
    d.ready();
    d
}

/// drainit with `--ready-listen 127.0.0.1:PORT` and `options`, running
/// the fixture app with `app_args`; returns once the app is ready.
pub fn start_app_with_endpoint(mode: Mode, options: &[&str], app_args: &[&str]) -> (Drainit, u16) {
    let app = health_fixture();
    let (d, port) = start_listening(
        mode,
        |port| {
            let mut args = words(&["--ready-listen", &format!("127.0.0.1:{port}")]);
            args.extend(words(options));
            args.extend(words(&["--", &app, "app"]));
            args.extend(words(app_args));
            args
        },
        Start::default,
    );
    d.ready();
    (d, port)
}

/// A wrapper (`Start::wrapper`) that runs drainit in a mount namespace of
/// its own where each `(file, over)` is bind-mounted over the path
/// `over`, e.g. a test's own /etc/hosts. With `Mode::Pid1`, the one
/// `unshare --mount-proc` makes; as the argv of a plain command, pass
/// `Mode::Subreaper`.
pub fn with_files(mode: Mode, binds: &[(&Path, &str)]) -> Vec<String> {
    let mounts: Vec<String> = binds
        .iter()
        .map(|(file, over)| format!("mount --bind {} {over} && ", file.display()))
        .collect();
    let script = format!("{}exec \"$@\"", mounts.concat());
    let mut argv = match mode {
        Mode::Pid1 => vec![],
        Mode::Subreaper => words(&["unshare", "--mount"]),
    };
    argv.extend(words(&["sh", "-c", &script, "sh"]));
    argv
}

/// An HTTP response, read to the end of the stream.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The status line and headers, without the empty line.
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Sends `request` as it is to `addr` and reads the reply until the
/// server closes the connection.
pub fn http(addr: SocketAddr, request: &str) -> io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no complete head in {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status in {head:?}")))?;
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// `METHOD PATH` on 127.0.0.1:port.
pub fn request(port: u16, method: &str, path: &str) -> io::Result<Reply> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    http(
        addr,
        &format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    )
}

/// Owned words, for argument lists built with `format!`.
pub fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

/// Polls `GET /` on 127.0.0.1:port (every 20 ms) until it answers
/// `status` with `body`.
pub fn await_reply(port: u16, status: u16, body: &str) {
    wait_for(
        || match get(port) {
            Ok((s, b)) if s == status && b == body => Some(()),
            _ => {
                thread::sleep(Duration::from_millis(20));
                None
            }
        },
        &format!("{status} {body:?} on port {port}"),
    )
}

/// `GET /` on 127.0.0.1:port: its status and body.
pub fn get(port: u16) -> io::Result<(u16, String)> {
    request(port, "GET", "/").map(|r| (r.status, r.body))
}

/// True when a connect to 127.0.0.1:port is refused (nothing listens).
pub fn refused(port: u16) -> bool {
    matches!(
        TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused
    )
}

/// Raises this process's RLIMIT_NOFILE soft limit to at least `n`.
pub fn raise_nofile(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit only read and write the struct they are given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < n {
            lim.rlim_cur = n.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
}

/// A FIFO for a hook to wait on (`health_fixture hook --wait PATH`).
pub fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path only.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

/// Lets the hook waiting on `fifo` go on (it reads until end of file).
pub fn release(fifo: &Path) {
    drop(std::fs::OpenOptions::new().write(true).open(fifo).unwrap());
}

/// What an `Upstream` does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This status, body `ok\n`.
    Status(u16),
    /// Reads the request and never answers; holds the connection open.
    Never,
    /// Answers 200, that long after the request.
    Late(Duration),
}

/// An HTTP server on 127.0.0.1 in the test process: the app a liveness
/// probe checks, or the registry a drain request goes to. It records
/// every request head and, with a log, appends `request <first line>
/// <ns>` to it. Dropping it closes the listener (connects are refused).
pub struct Upstream {
    pub port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    answer: Mutex<Answer>,
    /// How many of the next requests get a 500 instead.
    fail_next: AtomicU32,
    ok: AtomicU64,
    failed: AtomicU64,
    heads: Mutex<Vec<String>>,
    log: Option<PathBuf>,
    held: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

impl Upstream {
    pub fn start(answer: Answer, log: Option<&Path>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            fail_next: AtomicU32::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            heads: Mutex::new(Vec::new()),
            log: log.map(Path::to_path_buf),
            held: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let state = shared.clone();
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let state = state.clone();
                thread::spawn(move || serve(&state, stream));
            }
        });
        Upstream {
            port,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next `n` requests get a 500.
    pub fn fail_next(&self, n: u32) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Requests answered with a success, and with a 500 from `fail_next`.
    pub fn answered(&self) -> (u64, u64) {
        let s = &self.shared;
        (s.ok.load(Ordering::SeqCst), s.failed.load(Ordering::SeqCst))
    }

    /// The request heads received so far.
    pub fn heads(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then returns and closes the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for stream in self.shared.held.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Reads one request head and answers it as the server is set to.
fn serve(state: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            // A tcp:// probe: connected, then closed.
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if let Some(log) = &state.log {
        let first = head.lines().next().unwrap_or_default();
        let line = format!("request {first} {}\n", now_ns());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        file.write_all(line.as_bytes()).unwrap();
    }
    state.heads.lock().unwrap().push(head);
    let status = match *state.answer.lock().unwrap() {
        Answer::Never => {
            state.held.lock().unwrap().push(stream);
            return;
        }
        _ if state
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok() =>
        {
            state.failed.fetch_add(1, Ordering::SeqCst);
            500
        }
        Answer::Late(delay) => {
            thread::sleep(delay);
            state.ok.fetch_add(1, Ordering::SeqCst);
            200
        }
        Answer::Status(status) => {
            if status < 400 {
                state.ok.fetch_add(1, Ordering::SeqCst);
            } else {
                state.failed.fetch_add(1, Ordering::SeqCst);
            }
            status
        }
    };
    let reply =
        format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
    let _ = stream.write_all(reply.as_bytes());
}

/// A listener on 127.0.0.1 whose accept queue is full: it never accepts,
/// its backlog is 0 and one connection fills it, so the kernel drops new
/// SYNs and a connect hangs until the client gives up, as with an app
/// that stopped accepting.
pub struct FullBacklog {
    pub port: u16,
    _listener: TcpListener,
    _filler: TcpStream,
}

impl FullBacklog {
    pub fn new() -> FullBacklog {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Listening again only changes the backlog.
        // SAFETY: listen on a socket this function owns.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let addr = listener.local_addr().unwrap();
        let filler = TcpStream::connect(addr).unwrap();
        let hangs = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        assert!(
            matches!(&hangs, Err(e) if e.kind() == io::ErrorKind::TimedOut),
            "the accept queue is not full: {hangs:?}"
        );
        FullBacklog {
            port: addr.port(),
            _listener: listener,
            _filler: filler,
        }
    }
}
