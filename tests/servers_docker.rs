//! The server recipes of docs/servers.md in real containers: images built
//! here from Debian's packages (mmdebstrap, then `docker import`; no
//! registry is reachable), cached between runs under
//! /var/cache/drainit-tests, keyed by the package list. drainit (the
//! shipped static build) is mounted as /drainit, the recipe given as
//! `--env-file docker/servers/NAME.env` (only the ready port differs, as
//! the containers share the host's loopback).
//!
//! - nginx: `docker stop` lets a download in flight finish with the
//!   recipe; `docker run --init` (tini) cuts it.
//! - Apache httpd under `docker run -it`: a terminal resize does not stop
//!   it with the recipe (`--keep-terminal`, `WINCH:0`), and stops it
//!   without `--keep-terminal`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::docker::{Container, DOCKER_DEADLINE, docker, docker_ok, poll_docker, require_docker};
use common::haproxy::{free_ports, http_status};
use common::servers::{require, server_dir, tomcat_base};
use common::{Build, REPO, say, send, static_binary};

/// Where root file systems are kept between runs.
const CACHE: &str = "/var/cache/drainit-tests";
const SUITE: &str = "bookworm";

/// A Debian 12 image with `packages` (and the essential set): built once
/// per package list with mmdebstrap from Debian's archive, kept as a
/// tarball under CACHE and imported as `drainit-test-debian:SUITE-PKGS`.
fn debian_image(packages: &[&str]) -> String {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{SUITE}-{}", packages.join("-"));
    let tag = format!("drainit-test-debian:{key}");
    if docker(&["image", "inspect", &tag]).status.success() {
        return tag;
    }
    fs::create_dir_all(CACHE).unwrap();
    let tar = PathBuf::from(CACHE).join(format!("debian-{key}.tar"));
    if !tar.exists() {
        require("mmdebstrap", "mmdebstrap");
        let partial = tar.with_extension("partial.tar");
        let started = Instant::now();
        let out = Command::new("mmdebstrap")
            .args(["--variant=essential", "--mode=root", "--format=tar"])
            .arg(format!("--include={}", packages.join(",")))
            .arg(SUITE)
            .arg(&partial)
            .arg(format!("deb http://deb.debian.org/debian {SUITE} main"))
            .arg(format!(
                "deb http://deb.debian.org/debian {SUITE}-updates main"
            ))
            .arg(format!(
                "deb http://deb.debian.org/debian-security {SUITE}-security main"
            ))
            .output()
            .expect("run mmdebstrap (apt-get install mmdebstrap)");
        assert!(
            out.status.success(),
            "mmdebstrap {packages:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::rename(&partial, &tar).unwrap();
        say(&format!(
            "built the Debian root file system with {packages:?} in {:.0}s",
            started.elapsed().as_secs_f64()
        ));
    }
    docker_ok(&["import", tar.to_str().unwrap(), &tag]);
    tag
}

/// The static drainit, mounted into every container.
fn drainit() -> PathBuf {
    static_binary(Build::Shipped, &[])
}

/// `docker run` options for a server on the host's loopback with a recipe:
/// `--env-file`, the ready port, drainit, and the test's files mounted at
/// `at`.
fn recipe_args(recipe: &str, ready: u16, dir: &Path, at: &str) -> Vec<String> {
    let env_file = Path::new(REPO).join(format!("docker/servers/{recipe}.env"));
    vec![
        "--network".into(),
        "host".into(),
        "--env-file".into(),
        env_file.display().to_string(),
        "-e".into(),
        format!("DRAINIT_READY_LISTEN=127.0.0.1:{ready}"),
        "-v".into(),
        format!("{}:/drainit:ro", drainit().display()),
        "-v".into(),
        format!("{}:{at}", dir.display()),
    ]
}

/// nginx's configuration: a 240,000-byte download at 100 KiB/s (2.4 s).
fn nginx_files(dir: &Path, port: u16) {
    fs::create_dir_all(dir.join("www")).unwrap();
    fs::create_dir_all(dir.join("tmp")).unwrap();
    fs::write(dir.join("www/long.bin"), vec![b'x'; 240_000]).unwrap();
    let conf = format!(
        "user root;\npid /srv/nginx.pid;\nerror_log stderr notice;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path /srv/tmp;\n  proxy_temp_path /srv/tmp;\n  \
         server {{\n    listen 127.0.0.1:{port};\n    root /srv/www;\n    \
         location = /long {{ limit_rate 100k; try_files /long.bin =404; }}\n  }}\n}}\n"
    );
    fs::write(dir.join("nginx.conf"), conf).unwrap();
}

/// Downloads `path` on its own thread once the first bytes came: the
/// status line's code and the body's length, when the transfer ends.
fn download(port: u16, path: &str) -> thread::JoinHandle<(Option<u16>, usize)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    stream.set_read_timeout(Some(DOCKER_DEADLINE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 1024];
    let n = stream.read(&mut first).expect("the download's first bytes");
    thread::spawn(move || {
        let mut all = first[..n].to_vec();
        let _ = stream.read_to_end(&mut all);
        let text = String::from_utf8_lossy(&all);
        let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok());
        let body = text.find("\r\n\r\n").map_or(0, |at| all.len() - at - 4);
        (code, body)
    })
}

/// nginx in a container, a download in flight, `docker stop -t 30`: what
/// the download got, how long the stop took and the exit code.
fn stop_nginx_during_a_download(
    name: &str,
    init: &[&str],
) -> ((Option<u16>, usize), Duration, i32) {
    let image = debian_image(&["nginx-light"]);
    let dir = server_dir(&format!("docker-{name}"));
    let [port, ready] = free_ports();
    nginx_files(&dir, port);
    let mut args = recipe_args("nginx", ready, &dir, "/srv");
    args.extend(init.iter().map(|s| s.to_string()));
    args.push(image);
    args.extend(
        [
            "nginx",
            "-e",
            "stderr",
            "-p",
            "/srv",
            "-c",
            "/srv/nginx.conf",
            "-g",
            "daemon off;",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = Container::start(None, name, &args);
    poll_docker("nginx answering in the container", || {
        assert_eq!(
            c.inspect("{{.State.Status}}"),
            "running",
            "{}",
            c.describe()
        );
        (http_status(port, "/long.missing") == Some(404)).then_some(())
    });
    let transfer = download(port, "/long");
    let stopped = c.stop(30);
    let got = transfer.join().unwrap();
    say(&format!(
        "docker stop of nginx under {name}: download {got:?}, stop {:.1}s, exit {}",
        stopped.took.as_secs_f64(),
        stopped.code
    ));
    let _ = fs::remove_dir_all(&dir);
    (got, stopped.took, stopped.code)
}

#[test]
fn docker_stop_lets_an_nginx_download_finish_with_the_recipe() {
    require_docker!();
    let (got, took, code) =
        stop_nginx_during_a_download("nginx-recipe", &["--entrypoint", "/drainit"]);
    assert_eq!(got, (Some(200), 240_000), "the download was cut");
    assert!(
        (5.0..25.0).contains(&took.as_secs_f64()),
        "docker stop took {took:?}: not the pre-stop sleep and the download's rest"
    );
    assert_eq!(code, 0);
    // Docker's own init (tini, TERM): nginx's fast shutdown cuts it.
    let (got, _, _) = stop_nginx_during_a_download("nginx-init", &["--init"]);
    assert!(
        got.1 < 240_000,
        "docker run --init did not cut the download: {got:?}"
    );
}

/// Tomcat 10 (Debian's tomcat10-common and its JRE) in a container, a
/// 2.5 s JSP download in flight, `docker stop -t 30` with the recipe: the
/// download finishes, and the JVM's 143 is a success code.
#[test]
fn docker_stop_lets_a_tomcat_download_finish_with_the_recipe() {
    require_docker!();
    let image = debian_image(&["tomcat10-common"]);
    let dir = server_dir("docker-tomcat");
    let [port, ready] = free_ports();
    let launch = tomcat_base(&dir, port);
    // CATALINA_BASE is the same path inside as outside.
    let mut args = recipe_args("tomcat", ready, &dir, dir.to_str().unwrap());
    for (k, v) in &launch.env {
        args.extend(["-e".to_string(), format!("{k}={v}")]);
    }
    args.extend(["--entrypoint".to_string(), "/drainit".to_string(), image]);
    args.extend(launch.argv);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = Container::start(None, "tomcat", &args);
    poll_docker("Tomcat answering in the container", || {
        assert_eq!(
            c.inspect("{{.State.Status}}"),
            "running",
            "{}",
            c.describe()
        );
        (http_status(port, "/short.jsp") == Some(200)).then_some(())
    });
    let transfer = download(port, "/long.jsp");
    let stopped = c.stop(30);
    let got = transfer.join().unwrap();
    say(&format!(
        "docker stop of Tomcat with the recipe: download {got:?}, stop {:.1}s, exit {}",
        stopped.took.as_secs_f64(),
        stopped.code
    ));
    assert_eq!(
        got,
        (Some(200), 25_000),
        "the download was cut:\n{}",
        stopped.stderr
    );
    assert!(
        (5.0..25.0).contains(&stopped.took.as_secs_f64()),
        "docker stop took {:?}",
        stopped.took
    );
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    let _ = fs::remove_dir_all(&dir);
}

/// Apache httpd's configuration: one static page.
fn httpd_files(dir: &Path, port: u16) {
    fs::create_dir_all(dir.join("www")).unwrap();
    fs::write(dir.join("www/index.html"), "ok\n").unwrap();
    let modules = ["mpm_event", "authz_core", "dir"]
        .map(|m| format!("LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"))
        .concat();
    let conf = format!(
        "ServerRoot /srv\nServerName localhost\nListen 127.0.0.1:{port}\nPidFile /srv/httpd.pid\n\
         DefaultRuntimeDir /srv\n{modules}User nobody\nGroup nogroup\nErrorLog /dev/stderr\n\
         LogLevel notice\nDocumentRoot /srv/www\nGracefulShutdownTimeout 15\n"
    );
    fs::write(dir.join("httpd.conf"), conf).unwrap();
}

/// Apache httpd under `docker run -it` on a pseudo terminal the test
/// holds, with the recipe (and `extra` options); resizes the terminal as a
/// terminal emulator does (TIOCSWINSZ, then SIGWINCH to the client, which
/// resizes the container's terminal) and waits until the container's
/// terminal has the new size. Returns the container, the client and the
/// pty's master (kept open).
fn httpd_resized(name: &str, extra: &[&str]) -> (Container, std::process::Child, fs::File, u16) {
    let image = debian_image(&["apache2"]);
    let dir = server_dir(&format!("docker-{name}"));
    let [port, ready] = free_ports();
    httpd_files(&dir, port);
    let pty = nix::pty::openpty(None, None).unwrap();
    let guard = Container::guard(None, name);
    let mut args: Vec<String> = ["run", "-it", "--name", &guard.name]
        .map(String::from)
        .to_vec();
    args.extend(recipe_args("httpd", ready, &dir, "/srv"));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--entrypoint", "/drainit", &image].map(String::from));
    args.extend(["apache2", "-D", "FOREGROUND", "-f", "/srv/httpd.conf"].map(String::from));
    let client = Command::new("docker")
        .args(&args)
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let master = fs::File::from(pty.master);
    // Keep the terminal drained, or the container blocks on its output.
    let mut reader = master.try_clone().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    poll_docker("httpd answering in the container", || {
        (http_status(port, "/") == Some(200)).then_some(())
    });
    let size = libc::winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    assert_eq!(
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
        0
    );
    send(client.id() as i32, libc::SIGWINCH);
    poll_docker("the container's terminal resized", || {
        let out = docker(&["exec", &guard.name, "sh", "-c", "stty size < /proc/1/fd/0"]);
        (String::from_utf8_lossy(&out.stdout).trim() == "50 132").then_some(())
    });
    (guard, client, master, port)
}

#[test]
fn a_terminal_resize_does_not_stop_httpd_with_the_recipe() {
    require_docker!();
    let (c, mut client, _master, port) = httpd_resized("httpd-recipe", &[]);
    assert_eq!(http_status(port, "/"), Some(200), "{}", c.describe());
    assert_eq!(c.inspect("{{.State.Status}}"), "running");
    // The stop: drainit's own WINCH comes after its 5 s pre-stop sleep;
    // a resize's WINCH that had reached httpd would show before it.
    let stopped = c.stop(30);
    let _ = client.wait();
    let log = format!("{}{}", stopped.stdout, stopped.stderr);
    let forward = log
        .find("forwarded SIGWINCH")
        .unwrap_or_else(|| panic!("{log}"));
    let caught = log
        .find("caught SIGWINCH")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        forward < caught,
        "httpd caught a WINCH before drainit's:\n{log}"
    );
    assert_eq!(stopped.code, 0, "{log}");
}

#[test]
fn a_terminal_resize_stops_httpd_without_keep_terminal() {
    require_docker!();
    let (c, mut client, _master, _) =
        httpd_resized("httpd-resize", &["-e", "DRAINIT_KEEP_TERMINAL=0"]);
    poll_docker("httpd to stop after the resize", || {
        (c.inspect("{{.State.Status}}") == "exited").then_some(())
    });
    let _ = client.wait();
    let (stdout, stderr) = c.logs();
    let log = format!("{stdout}{stderr}");
    assert!(
        log.contains("caught SIGWINCH, shutting down gracefully"),
        "{log}"
    );
    assert!(!log.contains("received SIGTERM"), "{log}");
}
