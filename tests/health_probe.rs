//! `drainit --probe URL`: one check and exit, for a `HEALTHCHECK` or an
//! exec probe in an image without tools: 0 when a tcp:// connect
//! completes or an http:// GET answers 200-399; 1 with one stderr line
//! naming the cause (refused, the status, a time-out against a full accept
//! queue or a server that never answers), within `--liveness-timeout`; a
//! COMMAND is a usage error.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::health::*;
use common::*;

/// Runs `drainit ARGS`; its exit code, its stderr and how long it took.
fn probe(args: &[&str]) -> (i32, String, Duration) {
    let start = Instant::now();
    let (status, stderr) = Drainit::start(Mode::Subreaper, args).wait();
    let code = status.code().expect("an exit code");
    (code, stderr, start.elapsed())
}

#[test]
fn a_passing_probe_exits_0_and_says_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut urls = vec![format!("tcp://127.0.0.1:{port}")];
    let servers: Vec<Upstream> = [200, 204, 301, 399]
        .into_iter()
        .map(|status| Upstream::start(Answer::Status(status), None))
        .collect();
    urls.extend(servers.iter().map(|s| s.url("/health")));
    // No path, and a host name.
    urls.push(format!("http://127.0.0.1:{}", servers[0].port));
    urls.push(format!("http://localhost:{}/", servers[0].port));
    for url in urls {
        let (code, stderr, _) = probe(&["--probe", &url]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{url}");
    }
    assert!(servers[0].heads()[0].starts_with("GET /health HTTP/1.1\r\n"));
}

/// Exit 1 with one line `drainit: probe URL failed: CAUSE`, the cause
/// containing `cause` (any case).
fn fails(args: &[&str], url: &str, cause: &str) -> Duration {
    let mut all = vec!["--probe", url];
    all.extend(args);
    let (code, stderr, took) = probe(&all);
    assert_eq!(code, 1, "{url}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{url}: {stderr}");
    let prefix = format!("drainit: probe {url} failed: ");
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(stderr.to_lowercase().contains(cause), "{cause}: {stderr}");
    took
}

#[test]
fn a_refused_or_failing_probe_exits_1_naming_the_cause() {
    let nobody = free_port();
    fails(&[], &format!("tcp://127.0.0.1:{nobody}"), "refused");
    fails(&[], &format!("http://127.0.0.1:{nobody}/"), "refused");
    for status in [500, 404, 400] {
        let server = Upstream::start(Answer::Status(status), None);
        fails(&[], &server.url("/health"), &status.to_string());
    }
}

#[test]
fn a_probe_that_hangs_fails_at_the_time_out() {
    let hung = FullBacklog::new();
    let url = format!("tcp://127.0.0.1:{}", hung.port);
    let took = fails(&["--liveness-timeout", "500ms"], &url, "time");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let silent = Upstream::start(Answer::Never, None);
    // The default time-out: 1 s.
    let took = fails(&[], &silent.url("/"), "time");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(3500),
        "{took:?}"
    );
    assert_eq!(silent.heads().len(), 1);
}

#[test]
fn a_command_after_probe_is_a_usage_error_and_is_not_run() {
    let dir = temp_dir("probe-command");
    let marker = dir.join("started");
    let marker = marker.to_str().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    for args in [
        vec!["--probe", &url, "touch", marker],
        vec!["--probe", &url, "--", "touch", marker],
    ] {
        let (code, stderr, _) = probe(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with("drainit:"), "{stderr}");
        assert!(stderr.contains("--probe"), "{stderr}");
        assert!(!std::path::Path::new(marker).exists(), "{args:?} ran");
    }
}
