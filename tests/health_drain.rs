//! The drain request (`--drain-http "[METHOD ]URL"`), as PID 1 and as
//! subreaper: it reaches the server before the drain hook runs and before
//! the child gets SIGTERM (one append-only log with monotonic stamps
//! proves the order); a refused, failing or silent server is a warning and
//! the stop goes on; `--drain-timeout` bounds the request and the hook
//! together; a second stop signal cuts the request short; `localhost` is
//! reached even when the resolver gives `::1` first and the server is on
//! 127.0.0.1 only.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::health::*;
use common::*;

/// drainit with `--drain-http REQUEST` (or its variable, when `by_var`),
/// a hook and the app, both logging to `log`, and `options`.
fn start(mode: Mode, request: &str, by_var: bool, log: &Path, options: &[&str]) -> Drainit {
    start_in(mode, request, by_var, log, options, Vec::new())
}

fn start_in(
    mode: Mode,
    request: &str,
    by_var: bool,
    log: &Path,
    options: &[&str],
    wrapper: Vec<String>,
) -> Drainit {
    let app = health_fixture();
    let log = log.to_str().unwrap();
    let hook = format!("{app} hook --log {log}");
    let mut args = words(&["--drain-exec", &hook]);
    if !by_var {
        args.extend(words(&["--drain-http", request]));
    }
    args.extend(words(options));
    let env = if by_var {
        vec![("DRAINIT_DRAIN_HTTP", request)]
    } else {
        Vec::new()
    };
    let opts = Start {
        env,
        wrapper,
        ..Start::default()
    };
    start_app(mode, args, &["--log", log, "--exit-on", "15=0"], opts)
}

/// The order of a stop in which the request, the hook and the forward
/// all happen.
const IN_ORDER: [&str; 6] = [
    "request",
    "hook-start",
    "env DRAINIT_REASON",
    "env DRAINIT_SIGNAL",
    "hook-end",
    "sig 15",
];

/// POST, the default GET and PUT with a query (Eureka's
/// out-of-service call), from the flag and from the variable: each
/// request is made once, as HTTP/1.1 with the documented headers, before
/// the hook (which sees `DRAINIT_REASON=signal`) and before the forward.
fn the_request_comes_before_the_hook_and_the_forward(mode: Mode) {
    let cases = [
        ("POST ", "/drain", "POST /drain", false),
        ("", "/x", "GET /x", true),
        (
            "PUT ",
            "/eureka/apps/APP/i-1/status?value=OUT_OF_SERVICE",
            "PUT /eureka/apps/APP/i-1/status?value=OUT_OF_SERVICE",
            false,
        ),
    ];
    for (i, (method, path, line, by_var)) in cases.into_iter().enumerate() {
        let dir = temp_dir(&format!("drain-order-{mode:?}-{i}"));
        let log = dir.join("log");
        let server = Upstream::start(Answer::Status(200), Some(&log));
        let url = server.url(path);
        let d = start(mode, &format!("{method}{url}"), by_var, &log, &[]);
        let stderr = stop_cleanly(d);
        assert_eq!(log_order(&log), IN_ORDER, "{line}");
        let lines = log_lines(&log);
        assert!(lines.contains(&"env DRAINIT_REASON=signal".to_string()));
        let heads = server.heads();
        assert_eq!(heads.len(), 1, "{heads:?}");
        let head = &heads[0];
        assert!(head.starts_with(&format!("{line} HTTP/1.1\r\n")), "{head}");
        let lower = head.to_ascii_lowercase();
        for header in [
            format!("host: 127.0.0.1:{}\r\n", server.port),
            "user-agent: drainit/".to_string(),
            "connection: close\r\n".to_string(),
        ] {
            assert!(lower.contains(&header), "{header}: {head}");
        }
        if !method.is_empty() {
            assert!(lower.contains("content-length: 0\r\n"), "{head}");
        }
        let method = line.split(' ').next().unwrap();
        let said = format!("drain request {method} {url} answered 200");
        assert_in_order(&stderr, &["received SIGTERM", &said, "drain hook"]);
    }
}

/// Refused, and answered 500: a warning naming the failure, then the
/// hook and the forward as usual.
fn a_failed_request_is_a_warning_and_the_stop_goes_on(mode: Mode) {
    let dir = temp_dir(&format!("drain-fails-{mode:?}"));
    let refused_log = dir.join("refused");
    let url = format!("http://127.0.0.1:{}/drain", free_port());
    let d = start(mode, &format!("POST {url}"), false, &refused_log, &[]);
    let stderr = stop_cleanly(d);
    assert_eq!(log_order(&refused_log), IN_ORDER[1..]);
    let warning = format!("warning: drain request POST {url} failed: ");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    // One line per step, in the order of the steps.
    assert_in_order(
        &stderr,
        &["received SIGTERM", &warning, "; going on", "drain hook"],
    );

    let failed_log = dir.join("failed");
    let server = Upstream::start(Answer::Status(500), Some(&failed_log));
    let url = server.url("/drain");
    let d = start(mode, &url, false, &failed_log, &[]);
    let stderr = stop_cleanly(d);
    assert_eq!(log_order(&failed_log), IN_ORDER);
    let warning = format!("warning: drain request GET {url} failed: ");
    assert_in_order(&stderr, &["received SIGTERM", &warning, "500"]);
}

/// drainit with `--drain-http POST URL`, `--drain-timeout TIMEOUT` and a
/// hook that never ends (its FIFO is never written), logging to `log`.
fn start_with_endless_hook(mode: Mode, url: &str, timeout: &str, dir: &Path) -> Drainit {
    let log = dir.join("log");
    let log = log.to_str().unwrap();
    let gate = fifo(dir, "gate");
    let hook = format!(
        "{} hook --log {log} --wait {}",
        health_fixture(),
        gate.display()
    );
    let request = format!("POST {url}");
    let options = [
        "--drain-http",
        &request,
        "--drain-exec",
        &hook,
        "--drain-timeout",
        timeout,
    ];
    let app_args = ["--log", log, "--exit-on", "15=0"];
    start_app(mode, words(&options), &app_args, Start::default())
}

/// The time from the stop signal to the forward, and drainit's log.
fn stop_timed(d: Drainit, log: &Path) -> (Duration, String) {
    let sent = now_ns();
    d.signal(libc::SIGTERM);
    let took = span(sent, logged_at(log, "sig 15"));
    d.expect_line("sig 15");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    (took, stderr)
}

/// A server that answers after 2.5 s and a hook that never ends, with
/// `--drain-timeout 3s`: the hook is killed 3 s after the stop signal,
/// not 3 s after it started.
fn the_drain_timeout_bounds_the_request_and_the_hook_together(mode: Mode) {
    let dir = temp_dir(&format!("drain-timeout-{mode:?}"));
    let log = dir.join("log");
    let server = Upstream::start(Answer::Late(Duration::from_millis(2500)), Some(&log));
    let d = start_with_endless_hook(mode, &server.url("/drain"), "3s", &dir);
    let (took, stderr) = stop_timed(d, &log);
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_millis(4500),
        "{mode:?}: forwarded {took:?} after the stop signal\n{stderr}"
    );
    let order = ["request", "hook-start", "env DRAINIT_REASON"];
    assert_eq!(log_order(&log)[..3], order, "{stderr}");
    assert!(stderr.contains("answered 200"), "{stderr}");
}

/// A server that never answers, `--drain-timeout 1s`: a warning, and the
/// forward 1 s after the stop signal.
fn a_silent_server_is_given_up_at_the_drain_timeout(mode: Mode) {
    let dir = temp_dir(&format!("drain-silent-{mode:?}"));
    let log = dir.join("log");
    let server = Upstream::start(Answer::Never, Some(&log));
    let d = start_with_endless_hook(mode, &server.url("/drain"), "1s", &dir);
    let (took, stderr) = stop_timed(d, &log);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(2500),
        "{mode:?}: forwarded {took:?} after the stop signal\n{stderr}"
    );
    assert!(stderr.contains("warning: drain request "), "{stderr}");
    assert!(stderr.contains("; going on"), "{stderr}");
    assert_eq!(log_order(&log)[0], "request");
}

/// A second stop signal while the request waits for an answer: step 3
/// at once (the stop signal forwarded, the ready port closed), and the
/// hook is not run.
fn a_second_stop_signal_cuts_the_request_short(mode: Mode) {
    let dir = temp_dir(&format!("drain-second-{mode:?}"));
    let log = dir.join("log");
    let log_s = log.to_str().unwrap();
    let server = Upstream::start(Answer::Never, Some(&log));
    let request = format!("DELETE {}", server.url("/registration"));
    let hook = format!("{} hook --log {log_s}", health_fixture());
    let (d, port) = start_app_with_endpoint(
        mode,
        &[
            "--drain-http",
            &request,
            "--drain-exec",
            &hook,
            "--drain-timeout",
            "60s",
        ],
        &["--log", log_s, "--exit-on", "10=0"],
    );
    d.signal(libc::SIGTERM);
    logged_at(&log, "request");
    let second = now_ns();
    d.signal(libc::SIGTERM);
    let took = span(second, logged_at(&log, "sig 15"));
    assert!(
        took < Duration::from_secs(2),
        "{mode:?}: forwarded after {took:?}"
    );
    d.expect_line("sig 15");
    assert!(refused(port), "step 3 not reached: {}", d.stderr());
    d.signal(libc::SIGUSR1);
    d.expect_line("sig 10");
    let (status, stderr) = d.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(log_order(&log), ["request", "sig 15", "sig 10"]);
}

/// `localhost` where /etc/hosts (bind-mounted in a mount namespace of
/// drainit's own) gives `::1` first, while the server listens on
/// 127.0.0.1 only: the request is still made, to the second address.
fn localhost_reaches_127_0_0_1_when_the_resolver_gives_ipv6_first(mode: Mode) {
    let dir = temp_dir(&format!("drain-localhost-{mode:?}"));
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n::1 localhost\n").unwrap();
    let log = dir.join("log");
    let server = Upstream::start(Answer::Status(200), Some(&log));
    assert!(
        std::net::TcpStream::connect(("::1", server.port)).is_err(),
        "something listens on [::1]:{}",
        server.port
    );
    let binds = [(hosts.as_path(), "/etc/hosts")];
    // The premise: the resolver gives ::1 first there.
    let wrapper = with_files(Mode::Subreaper, &binds);
    let resolved = Command::new(&wrapper[0])
        .args(&wrapper[1..])
        .args(["getent", "ahosts", "localhost"])
        .output()
        .unwrap();
    let resolved = String::from_utf8_lossy(&resolved.stdout).into_owned();
    assert!(resolved.starts_with("::1 "), "{resolved}");

    let url = format!("http://localhost:{}/drain", server.port);
    let request = format!("POST {url}");
    let d = start_in(mode, &request, false, &log, &[], with_files(mode, &binds));
    let stderr = stop_cleanly(d);
    assert_eq!(log_order(&log), IN_ORDER, "{stderr}");
    let said = format!("drain request POST {url} answered 200");
    assert!(stderr.contains(&said), "{said}: {stderr}");
}

/// `--drain-http ""` switches off the variable's request: no request,
/// no warning.
#[test]
fn an_empty_drain_http_flag_means_no_request() {
    let dir = temp_dir("drain-none");
    let log = dir.join("log");
    let server = Upstream::start(Answer::Status(200), Some(&log));
    let app = health_fixture();
    let d = Drainit::start_with(
        Mode::Subreaper,
        &["--drain-http", "", "--", &app, "app", "--exit-on", "15=0"],
        Start {
            env: vec![("DRAINIT_DRAIN_HTTP", &server.url("/drain"))],
            ..Start::default()
        },
    );
    d.ready();
    let stderr = stop_cleanly(d);
    assert!(server.heads().is_empty(), "{stderr}");
    assert!(!stderr.contains("drain request"), "{stderr}");
}

both_modes!(
    the_request_comes_before_the_hook_and_the_forward,
    a_failed_request_is_a_warning_and_the_stop_goes_on,
    the_drain_timeout_bounds_the_request_and_the_hook_together,
    a_silent_server_is_given_up_at_the_drain_timeout,
    a_second_stop_signal_cuts_the_request_short,
    localhost_reaches_127_0_0_1_when_the_resolver_gives_ipv6_first,
);
