//! Test fixture (not an example for users): the app that cannot be changed,
//! behind the health and liveness proofs under real Docker
//! (tests/zero_downtime_rolling.rs, tests/health_docker.rs).
//!
//! `legacy_app PORT [--drain] [--log-term] [--hang-after SECS]`: an HTTP/1.1
//! server on 127.0.0.1:PORT, one thread and one request per connection
//! (`Connection: close`).
//!   GET or HEAD /  200 "ok\n" after ~100 ms of "work"
//!   anything else  404: there is no /health and no /drain
//!   --drain        any other method (POST, PUT...) on any path prints
//!                  `drain request METHOD TARGET` on stdout and gets 200:
//!                  the app's /drain, or a stand-in for Eureka
//! By default it installs no signal handler: SIGTERM kills it at once,
//! in-flight requests included, as most apps do.
//!   --log-term        on SIGTERM, print `SIGTERM` on stdout and exit 0, so
//!                     that a test can read the order of drain and signal
//!   --hang-after SECS after SECS, print `hung`, stop accepting and fill the
//!                     accept queue (backlog 1) with connections to itself:
//!                     the kernel then drops new SYNs, so connects time out,
//!                     as with a service whose leaked sockets exhaust it
//! Std and libc only, so that a static build runs in a `FROM scratch` image.

#[path = "http_head/mod.rs"]
mod http_head;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// Set when the app hangs: the accept loop stops, then sets STOPPED.
static HUNG: AtomicBool = AtomicBool::new(false);
static STOPPED: AtomicBool = AtomicBool::new(false);

struct Options {
    port: u16,
    drain: bool,
    log_term: bool,
    hang_after: Option<Duration>,
}

fn main() {
    let opts = options().unwrap_or_else(|e| {
        eprintln!("legacy_app: {e}");
        eprintln!("usage: legacy_app PORT [--drain] [--log-term] [--hang-after SECS]");
        std::process::exit(2);
    });
    if opts.log_term {
        // Blocked before any thread starts, so that only the waiter takes it.
        let set = sigterm_set();
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        thread::spawn(move || {
            let mut sig = 0;
            unsafe { libc::sigwait(&set, &mut sig) };
            say("SIGTERM");
            std::process::exit(0);
        });
    }
    // A backlog of 1 only when the app is to hang: a full queue then takes
    // two connections. Otherwise the kernel's maximum, so that bursts of
    // load never see a dropped SYN.
    let backlog = if opts.hang_after.is_some() { 1 } else { 4096 };
    let listener = listen(opts.port, backlog).unwrap_or_else(|e| {
        eprintln!(
            "legacy_app: failed to listen on 127.0.0.1:{}: {e}",
            opts.port
        );
        std::process::exit(1);
    });
    say(&format!("listening on 127.0.0.1:{}", opts.port));
    if let Some(after) = opts.hang_after {
        let addr = SocketAddr::from(([127, 0, 0, 1], opts.port));
        thread::spawn(move || hang(after, addr));
    }
    for stream in listener.incoming() {
        if HUNG.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(stream) => {
                let drain = opts.drain;
                thread::spawn(move || serve(stream, drain));
            }
            Err(e) => eprintln!("legacy_app: failed to accept: {e}"),
        }
    }
    // Hung: alive, listening, never accepting again.
    STOPPED.store(true, Ordering::SeqCst);
    loop {
        thread::park();
    }
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let port = args
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("PORT is missing or not a port")?;
    let mut opts = Options {
        port,
        drain: false,
        log_term: false,
        hang_after: None,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--drain" => opts.drain = true,
            "--log-term" => opts.log_term = true,
            "--hang-after" => {
                let secs: f64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--hang-after needs SECS")?;
                opts.hang_after = Some(Duration::from_secs_f64(secs));
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(opts)
}

fn sigterm_set() -> libc::sigset_t {
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
    }
    set
}

/// A listener on 127.0.0.1:port with the given accept backlog (std's
/// `TcpListener::bind` chooses its own).
fn listen(port: u16, backlog: i32) -> std::io::Result<TcpListener> {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Owned from here on: closed on every error path.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let ok = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
            && libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ) == 0
            && libc::listen(fd, backlog) == 0
    };
    if ok {
        Ok(listener)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// After `after`, stops the accept loop, then fills the accept queue with
/// connections to itself, held forever, until a connect times out.
fn hang(after: Duration, addr: SocketAddr) {
    thread::sleep(after);
    HUNG.store(true, Ordering::SeqCst);
    let connect = || TcpStream::connect_timeout(&addr, Duration::from_millis(300));
    // This one wakes the accept loop, which takes it, sees HUNG and stops.
    // Only then the queue can fill: a connection it still took would leave
    // room for one more.
    let wake = connect();
    while !STOPPED.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(10));
    }
    drop(wake);
    let mut held = Vec::new();
    while let Ok(stream) = connect() {
        held.push(stream);
    }
    say(&format!("hung ({} connections queued)", held.len()));
    loop {
        thread::park();
    }
}

/// Serves one request and closes the connection.
fn serve(stream: TcpStream, drain: bool) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let Ok(head) = http_head::read_head(&mut BufReader::new(stream)) else {
        return;
    };
    let mut words = head.first.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/") => {
            thread::sleep(Duration::from_millis(100));
            ("200 OK", "ok\n")
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "not found\n"),
        _ if drain => {
            say(&format!("drain request {method} {path}"));
            ("200 OK", "drained\n")
        }
        _ => ("404 Not Found", "not found\n"),
    };
    let length = body.len();
    let body = if method == "HEAD" { "" } else { body };
    let _ = write!(
        writer,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    );
}

/// One line on stdout, flushed at once (docker logs reads it).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}
