//! The readiness endpoint (`--ready-listen`), as PID 1 and as subreaper:
//! `200 ready` while the child runs, `503 draining` through the drain hook
//! and the pre-stop sleep, connections refused once the stop signal is
//! forwarded; with `--liveness`, `503 not ready` until the app's probe
//! passes and again after a failed one; HEAD gets no body.

mod common;

use std::net::{SocketAddr, TcpListener};

use common::health::*;
use common::*;

/// Any method and path gets the same answer, with `Connection: close`;
/// HEAD gets the same status and headers, and no body.
fn assert_answers(port: u16, status: u16, body: &str) {
    for (method, path) in [("GET", "/"), ("POST", "/any/path?x=1"), ("DELETE", "/")] {
        let reply = request(port, method, path).unwrap();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, body),
            "{method} {path}: {reply:?}"
        );
        assert_eq!(
            reply.header("connection").as_deref(),
            Some("close"),
            "{reply:?}"
        );
    }
    let head = request(port, "HEAD", "/").unwrap();
    assert_eq!((head.status, head.body.as_str()), (status, ""), "{head:?}");
}

/// 200 while running; 503 during a hook that waits for the test's
/// handshake, and during the pre-stop sleep; refused after the forward,
/// while drainit still waits for the child.
fn ready_then_draining_then_refused(mode: Mode) {
    let app = health_fixture();
    let dir = temp_dir(&format!("ready-{mode:?}"));
    let log = dir.join("log");
    let gate = fifo(&dir, "gate");
    let hook = format!(
        "{app} hook --log {} --wait {}",
        log.display(),
        gate.display()
    );
    let log_s = log.to_str().unwrap();
    let (d, port) = start_app_with_endpoint(
        mode,
        &["--drain-exec", &hook, "--prestop-sleep", "3s"],
        &["--log", log_s, "--exit-on", "10=0"],
    );
    assert_answers(port, 200, "ready\n");

    d.signal(libc::SIGTERM);
    logged_at(&log, "hook-start");
    assert_answers(port, 503, "draining\n");
    release(&gate);
    wait_logged(&d, "sleep");
    assert_answers(port, 503, "draining\n");
    assert_eq!(
        log_order(&log),
        [
            "hook-start",
            "env DRAINIT_REASON",
            "env DRAINIT_SIGNAL",
            "hook-end"
        ],
        "the answers came before the forward"
    );

    d.expect_line("sig 15");
    // drainit closes the listener before it sends the stop signal: once
    // the app has it, the port refuses at once.
    assert!(
        refused(port),
        "the listener is still open after the forward: {}",
        d.stderr()
    );
    assert!(alive(d.pid), "drainit waits for the child");
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 10");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// With `--liveness`: 503 `not ready` while nothing listens on the app's
/// port, 200 once it does, 503 `not ready` again after a failed probe.
fn not_ready_until_the_app_listens(mode: Mode) {
    let app_port = free_port();
    let probe = format!("tcp://127.0.0.1:{app_port}");
    let (d, port) = start_app_with_endpoint(
        mode,
        &[
            "--liveness",
            &probe,
            "--liveness-interval",
            "100ms",
            "--liveness-failures",
            "1000",
        ],
        &["--exit-on", "15=0"],
    );
    wait_logged(&d, "liveness probe failed (1 of 1000)");
    assert_answers(port, 503, "not ready\n");

    let listener = TcpListener::bind(("127.0.0.1", app_port)).unwrap();
    await_reply(port, 200, "ready\n");
    assert_answers(port, 200, "ready\n");
    drop(listener);
    await_reply(port, 503, "not ready\n");
    assert!(alive(d.pid), "{}", d.stderr());
    stop_cleanly(d);
}

/// `[::1]:PORT` from the variable: an IPv6 listener on loopback.
fn ipv6_listener_from_the_variable(mode: Mode) {
    let app = health_fixture();
    // A port free on ::1 a moment ago.
    let port = TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("[::1]:{port}");
    let d = Drainit::start_with(
        mode,
        &[&app, "app", "--exit-on", "15=0"],
        Start {
            env: vec![("DRAINIT_READY_LISTEN", &listen)],
            ..Start::default()
        },
    );
    d.ready();
    let addr = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    let reply = http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, "ready\n"));
    stop_cleanly(d);
}

both_modes!(
    ready_then_draining_then_refused,
    not_ready_until_the_app_listens,
    ipv6_listener_from_the_variable,
);
