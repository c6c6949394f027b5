//! The client side of the health options: one non-blocking exchange (a TCP
//! connect, or an HTTP/1.1 request and its status line) that the event
//! loop drives whenever its socket is ready, and a blocking driver for
//! `--probe`. Time-outs belong to the caller: it drops an exchange whose
//! deadline passed.
//!
//! A name is looked up without blocking (`resolve`), then every address
//! it gives is tried in turn (`localhost` may give `::1` before
//! `127.0.0.1`). Only the status line is read, from at most
//! `MAX_HEAD` bytes, as the kubelet's prober reads a bounded part.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage, sockopt};

use crate::address::{Endpoint, Method, Request, Target};
use crate::resolve::{self, Lookup, Pending};

/// The most of an answer drainit reads looking for its status line.
const MAX_HEAD: usize = 4096;

/// How an exchange ended well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A `tcp://` target accepted the connection.
    Connected,
    /// An HTTP server answered with this status.
    Status(u16),
}

/// One connect, or one request and its answer, in flight.
pub struct Exchange {
    endpoint: Endpoint,
    /// The request to send; empty for a bare connect.
    request: Vec<u8>,
    /// Addresses not tried yet, in the resolver's order.
    addresses: std::vec::IntoIter<SocketAddr>,
    stage: Stage,
    /// Why the last address failed, for the error when none is left.
    last_error: String,
}

enum Stage {
    Resolving(Pending),
    Connecting(OwnedFd),
    Writing { stream: TcpStream, sent: usize },
    Reading { stream: TcpStream, head: Vec<u8> },
    Done(Result<Answer, String>),
}

impl Exchange {
    /// A probe of `target`: connect for `tcp://`, `GET` for `http://`.
    pub fn probe(target: &Target) -> Exchange {
        match target {
            Target::Tcp(endpoint) => Exchange::start(endpoint, Vec::new()),
            Target::Http { endpoint, path } => {
                Exchange::start(endpoint, request_bytes(Method::Get, endpoint, path))
            }
        }
    }

    /// The drain request.
    pub fn request(request: &Request) -> Exchange {
        let bytes = request_bytes(request.method, &request.endpoint, &request.path);
        Exchange::start(&request.endpoint, bytes)
    }

    /// Looks the host up (the system resolver, each time) and starts
    /// connecting to its first address once it is known.
    fn start(endpoint: &Endpoint, request: Vec<u8>) -> Exchange {
        let mut exchange = Exchange {
            endpoint: endpoint.clone(),
            request,
            addresses: Vec::new().into_iter(),
            stage: Stage::Done(Ok(Answer::Connected)),
            last_error: String::new(),
        };
        match resolve::lookup(endpoint) {
            Lookup::Pending(pending) => exchange.stage = Stage::Resolving(pending),
            Lookup::Done(result) => exchange.resolved(result),
        }
        exchange
    }

    /// The lookup is over: connect to its first address, or fail.
    fn resolved(&mut self, result: Result<Vec<SocketAddr>, String>) {
        match result {
            Ok(addrs) => self.addresses = addrs.into_iter(),
            Err(e) => self.last_error = format!("failed to resolve {}: {e}", self.endpoint.host),
        }
        self.connect_next();
    }

    /// The name lookup's child while it runs (only ever started with the
    /// exchange), for the supervisor's table of processes.
    pub fn resolver(&self) -> Option<libc::pid_t> {
        match &self.stage {
            Stage::Resolving(pending) => Some(pending.pid()),
            _ => None,
        }
    }

    /// The socket to wait on and for what; `None` once done.
    pub fn wants(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        match &self.stage {
            Stage::Resolving(pending) => Some((pending.fd(), PollFlags::POLLIN)),
            Stage::Connecting(fd) => Some((fd.as_fd(), PollFlags::POLLOUT)),
            Stage::Writing { stream, .. } => Some((stream.as_fd(), PollFlags::POLLOUT)),
            Stage::Reading { stream, .. } => Some((stream.as_fd(), PollFlags::POLLIN)),
            Stage::Done(_) => None,
        }
    }

    /// Moves on as far as the socket allows; `Some` once the exchange is
    /// over. Cheap to call when nothing is ready.
    pub fn advance(&mut self) -> Option<Result<Answer, String>> {
        loop {
            let stage = std::mem::replace(&mut self.stage, Stage::Done(Ok(Answer::Connected)));
            self.stage = match stage {
                Stage::Resolving(mut pending) => match pending.poll() {
                    Some(result) => {
                        self.resolved(result);
                        continue;
                    }
                    None => {
                        self.stage = Stage::Resolving(pending);
                        return None;
                    }
                },
                Stage::Connecting(fd) => match connect_result(&fd) {
                    Ok(true) if self.request.is_empty() => Stage::Done(Ok(Answer::Connected)),
                    Ok(true) => Stage::Writing {
                        stream: TcpStream::from(fd),
                        sent: 0,
                    },
                    Ok(false) => {
                        self.stage = Stage::Connecting(fd);
                        return None;
                    }
                    Err(e) => {
                        self.last_error = self.connect_error(e);
                        self.connect_next();
                        continue;
                    }
                },
                Stage::Writing { mut stream, sent } => match stream.write(&self.request[sent..]) {
                    Ok(n) if sent + n == self.request.len() => Stage::Reading {
                        stream,
                        head: Vec::new(),
                    },
                    Ok(n) => Stage::Writing {
                        stream,
                        sent: sent + n,
                    },
                    Err(e) if would_block(&e) => {
                        self.stage = Stage::Writing { stream, sent };
                        return None;
                    }
                    Err(e) => Stage::Done(Err(format!(
                        "failed to send: {}",
                        crate::spawn::describe(&e)
                    ))),
                },
                Stage::Reading {
                    mut stream,
                    mut head,
                } => match read_some(&mut stream, &mut head) {
                    Ok(0) if head.is_empty() => {
                        Stage::Done(Err("the connection closed without an answer".into()))
                    }
                    Ok(n) => match status(&head) {
                        Some(result) => Stage::Done(result),
                        None if n == 0 || head.len() >= MAX_HEAD => {
                            Stage::Done(Err("no HTTP status line in the answer".into()))
                        }
                        None => Stage::Reading { stream, head },
                    },
                    Err(e) if would_block(&e) => {
                        self.stage = Stage::Reading { stream, head };
                        return None;
                    }
                    Err(e) => Stage::Done(Err(format!(
                        "failed to read: {}",
                        crate::spawn::describe(&e)
                    ))),
                },
                Stage::Done(result) => return Some(result),
            };
        }
    }

    /// Starts a connect to the next address, or ends with the last error.
    fn connect_next(&mut self) {
        self.stage = loop {
            let Some(addr) = self.addresses.next() else {
                break Stage::Done(Err(std::mem::take(&mut self.last_error)));
            };
            match start_connect(addr) {
                Ok(fd) => break Stage::Connecting(fd),
                Err(e) => self.last_error = format!("{} ({addr})", e.desc()),
            }
        };
    }

    fn connect_error(&self, e: Errno) -> String {
        format!("{} ({})", e.desc(), self.endpoint)
    }
}

/// A non-blocking, close-on-exec socket with its connect under way.
fn start_connect(addr: SocketAddr) -> nix::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket::socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

/// Whether a connect under way has finished: `Ok(false)` while pending.
fn connect_result(fd: &OwnedFd) -> Result<bool, Errno> {
    let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
    if poll(&mut pfd, PollTimeout::ZERO)? == 0 {
        return Ok(false);
    }
    match socket::getsockopt(fd, sockopt::SocketError)? {
        0 => Ok(true),
        raw => Err(Errno::from_raw(raw)),
    }
}

fn read_some(stream: &mut TcpStream, head: &mut Vec<u8>) -> io::Result<usize> {
    let mut buf = [0u8; 1024];
    let room = MAX_HEAD.saturating_sub(head.len()).min(buf.len());
    let n = stream.read(&mut buf[..room])?;
    head.extend_from_slice(&buf[..n]);
    Ok(n)
}

/// The status of an answer's head, once its status line is complete;
/// `None` while more is needed.
pub fn status(head: &[u8]) -> Option<Result<Answer, String>> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    // httparse fills `code` as soon as the status line is parsed, even
    // when the headers are incomplete or too many: only the code matters.
    let parsed = response.parse(head);
    if let Some(code) = response.code {
        return Some(Ok(Answer::Status(code)));
    }
    match parsed {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) | Err(_) => {
            Some(Err("the answer is not HTTP".to_string()))
        }
    }
}

/// The request head: HTTP/1.1, no body.
fn request_bytes(method: Method, endpoint: &Endpoint, path: &str) -> Vec<u8> {
    let host = if endpoint.port == 80 {
        endpoint.url_host()
    } else {
        endpoint.to_string()
    };
    let length = if method.sends_body() {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    format!(
        "{} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: drainit/{}\r\nAccept: */*\r\n{length}Connection: close\r\n\r\n",
        method.as_str(),
        env!("CARGO_PKG_VERSION"),
    )
    .into_bytes()
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Whether a probe's answer passes: connected, or a status 200-399.
pub fn probe_passed(answer: Answer) -> Result<(), String> {
    match answer {
        Answer::Connected => Ok(()),
        Answer::Status(code) if (200..400).contains(&code) => Ok(()),
        Answer::Status(code) => Err(format!("status {code}")),
    }
}

/// Runs one probe of `target` to its end or `timeout`, blocking: the
/// `--probe` mode, where nothing else waits.
pub fn probe_once(target: &Target, timeout: Duration) -> Result<(), String> {
    // A time-out past what `Instant` holds means no time-out.
    let end = Instant::now().checked_add(timeout);
    let mut exchange = Exchange::probe(target);
    loop {
        if let Some(result) = exchange.advance() {
            return result.and_then(probe_passed);
        }
        let left = end.map(|end| end.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Err(format!("timed out after {timeout:?}"));
        }
        let Some((fd, flags)) = exchange.wants() else {
            continue;
        };
        let ms = left.map_or(PollTimeout::NONE, |left| {
            PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
                .unwrap_or(PollTimeout::MAX)
        });
        match poll(&mut [PollFd::new(fd, flags)], ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("failed to wait for the socket: {}", e.desc())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn status_lines_are_read_from_partial_heads() {
        assert_eq!(status(b"HTTP/1.1 20"), None);
        assert_eq!(
            status(b"HTTP/1.1 204 No Content\r\n"),
            Some(Ok(Answer::Status(204)))
        );
        assert_eq!(
            status(b"HTTP/1.0 503 x\r\nA: b\r\n\r\n"),
            Some(Ok(Answer::Status(503)))
        );
        assert!(matches!(status(b"SSH-2.0-OpenSSH\r\n"), Some(Err(_))));
    }

    #[test]
    fn requests_are_plain_http_1_1() {
        let ep = Endpoint {
            host: "::1".into(),
            port: 8761,
        };
        let text = String::from_utf8(request_bytes(Method::Put, &ep, "/a?b=c")).unwrap();
        assert!(text.starts_with("PUT /a?b=c HTTP/1.1\r\nHost: [::1]:8761\r\n"));
        assert!(
            text.contains("Content-Length: 0\r\n") && text.ends_with("Connection: close\r\n\r\n")
        );
        let ep = Endpoint {
            host: "h".into(),
            port: 80,
        };
        let text = String::from_utf8(request_bytes(Method::Get, &ep, "/")).unwrap();
        assert!(text.contains("Host: h\r\n") && !text.contains("Content-Length"));
    }

    #[test]
    fn a_probe_reads_a_real_answer_on_loopback() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let answer = std::thread::spawn(move || {
            let (mut conn, _) = server.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap();
            conn.write_all(b"HTTP/1.1 302 Found\r\n\r\n").unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let target = crate::address::parse_target(&format!("http://127.0.0.1:{port}/h")).unwrap();
        assert_eq!(probe_once(&target, Duration::from_secs(10)), Ok(()));
        assert!(answer.join().unwrap().starts_with("GET /h HTTP/1.1\r\n"));
    }

    #[test]
    fn a_refused_connect_names_the_cause() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = crate::address::parse_target(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let err = probe_once(&target, Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }
}
