//! Test fixture (not an example for users): the "naive app" behind the
//! zero-downtime proof (tests/zero_downtime.rs, docker/zero-downtime/).
//!
//! `http_app PORT`: an HTTP/1.1 server on 127.0.0.1:PORT, one thread per
//! connection, keep-alive.
//!   GET /        200 after ~50 ms of "work"
//!   GET /health  200 until drained, then 503
//!   GET /drain   flips /health to 503 (requests are still served)
//! It installs no signal handler: SIGTERM kills it at once, in-flight
//! requests included, as most apps do. Std only, so that a static build
//! (`-C target-feature=+crt-static`) runs in a `FROM scratch` image.

#[path = "http_head/mod.rs"]
mod http_head;

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

static DRAINED: AtomicBool = AtomicBool::new(false);

fn main() {
    let port: u16 = match std::env::args().nth(1).and_then(|p| p.parse().ok()) {
        Some(port) => port,
        None => {
            eprintln!("usage: http_app PORT");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("http_app: failed to listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    eprintln!("http_app: listening on 127.0.0.1:{port}");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || serve(stream));
            }
            Err(e) => eprintln!("http_app: failed to accept: {e}"),
        }
    }
}

/// Serves requests on one connection until the peer closes it.
fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some((path, keep_alive)) = read_request(&mut reader) else {
            return;
        };
        let (status, body) = match path.as_str() {
            "/" => {
                thread::sleep(Duration::from_millis(50));
                ("200 OK", "ok\n")
            }
            "/health" if DRAINED.load(Ordering::SeqCst) => {
                ("503 Service Unavailable", "draining\n")
            }
            "/health" => ("200 OK", "healthy\n"),
            "/drain" => {
                DRAINED.store(true, Ordering::SeqCst);
                eprintln!("http_app: drained");
                ("200 OK", "drained\n")
            }
            _ => ("404 Not Found", "not found\n"),
        };
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads one request (skipping a body); returns the path and whether the
/// connection stays open, None at end of stream or on an error.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, bool)> {
    let head = http_head::read_head(reader).ok()?;
    let path = head.first.split_whitespace().nth(1)?.to_string();
    let body = head.content_length.unwrap_or(0);
    std::io::copy(
        &mut std::io::Read::take(&mut *reader, body),
        &mut std::io::sink(),
    )
    .ok()?;
    Some((path, !head.close))
}
