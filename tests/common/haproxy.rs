//! HAProxy on loopback (127.0.0.1 only) in front of app instances, with
//! active health checks; its state from the stats socket; and the plain
//! HTTP probes and free ports such a test needs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// HAProxy on loopback, with active health checks and retries; killed on drop.
pub struct Haproxy {
    process: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Haproxy {
    /// Balances 127.0.0.1:`front` over `a` and `b`, checking `GET /health`.
    pub fn start(dir: &Path, front: u16, a: u16, b: u16) -> Haproxy {
        Haproxy::with_config(
            dir,
            &format!(
                "defaults
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
"
            ),
        )
    }

    /// HAProxy with `config` (its sections after `global`), and a `global`
    /// section that opens the stats socket; logs to `dir`/haproxy.log.
    pub fn with_config(dir: &Path, config: &str) -> Haproxy {
        let socket = dir.join("haproxy.sock");
        let config = format!(
            "global\n    stats socket {} mode 600 level admin\n    maxconn 2000\n\n{config}",
            socket.display()
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let log = dir.join("haproxy.log");
        let out = std::fs::File::create(&log).unwrap();
        let process = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("run haproxy (apt-get install haproxy)");
        Haproxy {
            process,
            socket,
            log,
        }
    }

    /// What HAProxy wrote (server state changes among it).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One command on the stats socket (the runtime API, e.g. `set server
    /// web/a state maint`); its answer.
    pub fn command(&self, command: &str) -> Option<String> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.write_all(format!("{command}\n").as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// `show stat` of the servers (not the FRONTEND and BACKEND rows):
    /// name -> field -> value.
    pub fn servers(&self) -> Option<Stats> {
        self.servers_by(|_, name| name.to_string())
    }

    /// The same keyed `BACKEND/NAME`, for a server in several backends.
    pub fn backend_servers(&self) -> Option<Stats> {
        self.servers_by(|proxy, name| format!("{proxy}/{name}"))
    }

    /// The server rows of `show stat`, keyed by `key(backend, server)`.
    fn servers_by(&self, key: impl Fn(&str, &str) -> String) -> Option<Stats> {
        let csv = self.command("show stat")?;
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
            .filter_map(|row| Some((key(row.get("pxname")?, row.get("svname")?), row)))
            .filter(|(_, row)| {
                !matches!(
                    row.get("svname").map(String::as_str),
                    Some("FRONTEND" | "BACKEND")
                )
            })
            .collect();
        Some(servers)
    }

    /// A field of server `BACKEND/NAME` in `show stat`.
    pub fn backend_stat(&self, server: &str, field: &str) -> Option<String> {
        self.backend_servers()?.get(server)?.get(field).cloned()
    }

    /// A field of server `name` in `show stat`.
    pub fn stat(&self, name: &str, field: &str) -> Option<String> {
        self.servers()?.get(name)?.get(field).cloned()
    }
}

pub type Fields = HashMap<String, String>;
pub type Stats = HashMap<String, Fields>;

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Free loopback ports, from binding port 0 (all held until all are picked).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// The status of `GET path` on 127.0.0.1:port, if it answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
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
