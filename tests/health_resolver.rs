//! Host names that resolve slowly: the name server (a UDP socket of the
//! test on a 127.0.53.x address, named in a resolv.conf bind-mounted in
//! drainit's own mount namespace) never answers, so each lookup takes the
//! resolver's whole time-out (3 s). A probe or a drain request to such a
//! name must not delay a forwarded signal, nor move a deadline: the
//! liveness time-out, `--drain-timeout`, or `--probe`'s time-out.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::health::*;
use common::*;

/// A name only the silent name server would know.
const SLOW: &str = "slow.example";

/// The resolver configuration files pointing at a name server that
/// never answers, shared by every test of this file: (hosts, resolv.conf).
fn silent_resolver() -> (PathBuf, PathBuf) {
    static FILES: OnceLock<(UdpSocket, PathBuf, PathBuf)> = OnceLock::new();
    let (_, hosts, resolv) = FILES.get_or_init(|| {
        // A bound UDP port that is never read: queries get no answer
        // (and no ICMP error, which would end the wait at once).
        let (socket, ip) = (1..=254u8)
            .find_map(|n| {
                let ip = Ipv4Addr::new(127, 0, 53, n);
                UdpSocket::bind((ip, 53)).ok().map(|s| (s, ip))
            })
            .expect("a free 127.0.53.x:53");
        let dir = temp_dir("silent-resolver");
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
        let resolv = dir.join("resolv.conf");
        let conf = format!("nameserver {ip}\noptions timeout:3 attempts:1\n");
        std::fs::write(&resolv, conf).unwrap();
        (socket, hosts, resolv)
    });
    (hosts.clone(), resolv.clone())
}

/// The wrapper that gives drainit the silent resolver.
fn wrapper(mode: Mode) -> Vec<String> {
    let (hosts, resolv) = silent_resolver();
    with_files(
        mode,
        &[(&hosts, "/etc/hosts"), (&resolv, "/etc/resolv.conf")],
    )
}

/// drainit with `options` and the silent resolver, running the app.
fn start(mode: Mode, options: &[&str], log: &std::path::Path) -> Drainit {
    let log = log.to_str().unwrap();
    let opts = Start {
        wrapper: wrapper(mode),
        ..Start::default()
    };
    start_app(
        mode,
        words(options),
        &["--log", log, "--exit-on", "15=0"],
        opts,
    )
}

/// Probes of a slow name back to back: each of 5 SIGUSR1s reaches the
/// app within 500 ms, each probe fails at its 300 ms time-out, and its
/// lookup with it.
fn a_slow_name_to_probe_delays_no_signal(mode: Mode) {
    let dir = temp_dir(&format!("slow-probe-{mode:?}"));
    let url = format!("http://{SLOW}:8080/health");
    let options = [
        "--liveness",
        &url,
        "--liveness-interval",
        "100ms",
        "--liveness-timeout",
        "300ms",
        "--liveness-failures",
        "1000",
    ];
    let d = start(mode, &options, &dir.join("log"));
    assert_forwarded_at_once(&d, 5);
    wait_logged(&d, "liveness probe failed (3 of 1000)");
    // A lookup given up with its probe is not left running: drainit's
    // children are the app and at most the current lookup.
    wait_for(
        || (children(d.pid).len() <= 2).then_some(()),
        "no lookups piling up",
    );
    stop_cleanly(d);
}

/// A drain request to a slow name, `--drain-timeout 1s`: the forward
/// comes 1 s after the stop signal, not when the resolver gives up.
fn a_slow_name_to_drain_keeps_the_drain_timeout(mode: Mode) {
    let dir = temp_dir(&format!("slow-drain-{mode:?}"));
    let log = dir.join("log");
    let request = format!("POST http://{SLOW}/drain");
    let options = ["--drain-http", &request, "--drain-timeout", "1s"];
    let d = start(mode, &options, &log);
    let sent = now_ns();
    d.signal(libc::SIGTERM);
    let took = span(sent, logged_at(&log, "sig 15"));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(2500),
        "{mode:?}: forwarded {took:?} after the stop signal\n{}",
        d.stderr()
    );
    d.expect_line("sig 15");
    assert_eq!(d.exit_code(), 0);
}

#[test]
fn a_probe_of_a_slow_name_ends_at_its_time_out() {
    let start = Instant::now();
    let url = format!("tcp://{SLOW}:8080");
    let args = ["--probe", &url, "--liveness-timeout", "500ms"];
    let d = Drainit::start_with(
        Mode::Subreaper,
        &args,
        Start {
            wrapper: wrapper(Mode::Subreaper),
            ..Start::default()
        },
    );
    let (status, stderr) = d.wait();
    let took = start.elapsed();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?}: {stderr}"
    );
}

both_modes!(
    a_slow_name_to_probe_delays_no_signal,
    a_slow_name_to_drain_keeps_the_drain_timeout,
);
