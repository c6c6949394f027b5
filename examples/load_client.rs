//! Test fixture (not an example for users): the load generator of the
//! zero-downtime proof (tests/zero_downtime.rs, docker/zero-downtime/).
//!
//! `load_client ADDR [--connections N] [--rate PER_SECOND] [--duration SECS]
//! [--timeout SECS]`: sends `GET /` over N keep-alive HTTP/1.1 connections
//! at a steady total rate, for a fixed time and at most rate x duration
//! requests, and counts every outcome. Prints `started` after the first 200,
//! then, at the end, one line:
//! `result requests=N ok=N non200=N conn_errors=N timeouts=N statuses=CODE:N,...`
//! A request that gets no complete response counts as a connection error
//! (refused, reset, closed early) or a time-out; a failed request is never
//! retried, and the connection is then opened anew. Connection errors are
//! also tallied by message on stderr.

#[path = "http_head/mod.rs"]
mod http_head;

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    ok: AtomicU64,
    non200: AtomicU64,
    conn_errors: AtomicU64,
    timeouts: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    /// Connection errors by message.
    errors: Mutex<BTreeMap<String, u64>>,
    started: AtomicBool,
}

/// What became of one request.
enum Outcome {
    Status(u16, bool),
    ConnError(io::Error),
    Timeout,
}

struct Options {
    addr: SocketAddr,
    connections: u32,
    rate: f64,
    duration: Duration,
    timeout: Duration,
}

fn main() {
    let opts = parse_args().unwrap_or_else(|e| {
        eprintln!("load_client: {e}");
        eprintln!("usage: load_client ADDR [--connections N] [--rate PER_SECOND] [--duration SECS] [--timeout SECS]");
        std::process::exit(2);
    });
    let counts = Arc::new(Counts::default());
    let start = Instant::now();
    let end = start + opts.duration;
    let interval = Duration::from_secs_f64(f64::from(opts.connections) / opts.rate);
    let per_connection =
        (opts.rate * opts.duration.as_secs_f64() / f64::from(opts.connections)).ceil() as u64;
    let workers: Vec<_> = (0..opts.connections)
        .map(|i| {
            let counts = counts.clone();
            let (addr, timeout) = (opts.addr, opts.timeout);
            // Spread the connections' send times evenly over one interval.
            let first = start + interval.mul_f64(f64::from(i) / f64::from(opts.connections));
            thread::spawn(move || {
                worker(addr, timeout, first, interval, end, per_connection, &counts)
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    for (error, n) in counts.errors.lock().unwrap().iter() {
        eprintln!("load_client: {n} x connection error: {error}");
    }
    let statuses = counts.statuses.lock().unwrap();
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    println!(
        "result requests={} ok={} non200={} conn_errors={} timeouts={} statuses={}",
        counts.requests.load(Ordering::SeqCst),
        counts.ok.load(Ordering::SeqCst),
        counts.non200.load(Ordering::SeqCst),
        counts.conn_errors.load(Ordering::SeqCst),
        counts.timeouts.load(Ordering::SeqCst),
        statuses.join(",")
    );
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or("missing ADDR")?;
    let addr = addr
        .parse()
        .map_err(|e| format!("invalid ADDR '{addr}': {e}"))?;
    let mut opts = Options {
        addr,
        connections: 8,
        rate: 200.0,
        duration: Duration::from_secs(8),
        timeout: Duration::from_secs(5),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number: f64 = value
            .parse()
            .map_err(|_| format!("invalid value '{value}' for {flag}"))?;
        if !(number > 0.0 && number.is_finite()) {
            return Err(format!(
                "invalid value '{value}' for {flag}: must be positive"
            ));
        }
        match flag.as_str() {
            "--connections" => opts.connections = number as u32,
            "--rate" => opts.rate = number,
            "--duration" => opts.duration = Duration::from_secs_f64(number),
            "--timeout" => opts.timeout = Duration::from_secs_f64(number),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(opts)
}

/// One connection's loop: a request every `interval` from `first` until
/// `end` or `max` requests. Slots missed while waiting are skipped, not
/// burst out afterwards.
fn worker(
    addr: SocketAddr,
    timeout: Duration,
    first: Instant,
    interval: Duration,
    end: Instant,
    max: u64,
    counts: &Counts,
) {
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut next = first;
    for _ in 0..max {
        let now = Instant::now();
        if now < next {
            thread::sleep(next - now);
        } else if now > next + interval {
            next = now;
        }
        if Instant::now() >= end {
            break;
        }
        next += interval;
        counts.requests.fetch_add(1, Ordering::SeqCst);
        match request(&mut conn, addr, timeout) {
            Outcome::Status(200, keep) => {
                counts.ok.fetch_add(1, Ordering::SeqCst);
                if !counts.started.swap(true, Ordering::SeqCst) {
                    println!("started");
                }
                if !keep {
                    conn = None;
                }
            }
            Outcome::Status(code, keep) => {
                counts.non200.fetch_add(1, Ordering::SeqCst);
                *counts.statuses.lock().unwrap().entry(code).or_default() += 1;
                if !keep {
                    conn = None;
                }
            }
            Outcome::ConnError(e) => {
                *counts
                    .errors
                    .lock()
                    .unwrap()
                    .entry(e.to_string())
                    .or_default() += 1;
                counts.conn_errors.fetch_add(1, Ordering::SeqCst);
                conn = None;
            }
            Outcome::Timeout => {
                counts.timeouts.fetch_add(1, Ordering::SeqCst);
                conn = None;
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `GET /` on the open connection (or a new one) and reads the whole
/// response. `Status(code, keep)`: keep is false when the connection must
/// not be reused.
fn request(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    timeout: Duration,
) -> Outcome {
    let result = (|| -> io::Result<(u16, bool)> {
        if conn.is_none() {
            let stream = TcpStream::connect_timeout(&addr, timeout)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            *conn = Some(BufReader::new(stream));
        }
        let reader = conn.as_mut().unwrap();
        reader
            .get_mut()
            .write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())?;
        read_response(reader)
    })();
    match result {
        Ok((code, keep)) => Outcome::Status(code, keep),
        Err(e) if is_timeout(&e) => Outcome::Timeout,
        Err(e) => Outcome::ConnError(e),
    }
}

fn closed_early() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed mid-message",
    )
}

/// Reads a response: head and Content-Length body (or the rest of the
/// stream when there is none).
fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<(u16, bool)> {
    let head = http_head::read_head(reader)?;
    let code: u16 = head
        .first
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {:?}", head.first),
            )
        })?;
    match head.content_length {
        Some(n) => {
            if io::copy(&mut reader.by_ref().take(n), &mut io::sink())? < n {
                return Err(closed_early());
            }
            Ok((code, !head.close))
        }
        None => {
            io::copy(reader, &mut io::sink())?;
            Ok((code, false))
        }
    }
}
