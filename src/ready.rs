//! The readiness endpoint: a non-blocking listener that answers every HTTP
//! request with the current readiness, one response per connection
//! (`Connection: close`).
//!
//! Bounded against hostile clients: at most `MAX_CONNECTIONS` are open
//! (more are accepted and closed at once), a head must arrive within
//! `HEAD_TIMEOUT` and `MAX_HEAD` bytes, and each wake-up accepts at most
//! `MAX_CONNECTIONS`, so a flood cannot hold the loop away from signals.
//! Memory is at most `MAX_CONNECTIONS × MAX_HEAD` bytes of heads.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

/// The most connections open at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request head read.
pub const MAX_HEAD: usize = 8192;
/// How long a client has to send its head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);

/// What the endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// 200 `ready`.
    Ready,
    /// 503 `not ready`: the app's liveness probe has not passed (yet).
    NotReady,
    /// 503 `draining`: a stop has begun.
    Draining,
}

/// How long accepting pauses after an error such as EMFILE, which would
/// otherwise leave the listener readable and the loop spinning.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The listener and its open connections.
pub struct ReadyServer {
    listener: TcpListener,
    connections: Vec<Connection>,
    readiness: Readiness,
    /// Accepting resumes at this instant, after an error.
    paused_until: Option<Instant>,
}

struct Connection {
    stream: TcpStream,
    head: Vec<u8>,
    deadline: Instant,
}

impl ReadyServer {
    /// Binds `addr` (before the child starts, so a clash fails drainit).
    pub fn bind(addr: SocketAddr, readiness: Readiness) -> io::Result<ReadyServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(ReadyServer {
            listener,
            connections: Vec::new(),
            readiness,
            paused_until: None,
        })
    }

    /// The listener's descriptor, which drainit keeps when it closes
    /// what it inherited.
    pub fn raw_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Changes what later answers say.
    pub fn set(&mut self, readiness: Readiness) {
        self.readiness = readiness;
    }

    /// The sockets to wait on, all for reading: the listener (unless
    /// accepting is paused) and each connection.
    pub fn wants(&self) -> impl Iterator<Item = (BorrowedFd<'_>, PollFlags)> {
        let listener = self.paused_until.is_none().then(|| self.listener.as_fd());
        listener
            .into_iter()
            .chain(self.connections.iter().map(|c| c.stream.as_fd()))
            .map(|fd| (fd, PollFlags::POLLIN))
    }

    /// The nearest head deadline, or the end of a pause in accepting.
    pub fn deadline(&self) -> Option<Instant> {
        let heads = self.connections.iter().map(|c| c.deadline);
        heads.chain(self.paused_until).min()
    }

    /// Handles the sockets that `is_ready` says are ready (late heads are
    /// `expire`'s). A socket said ready that is not only costs a read that
    /// would block.
    pub fn serve(&mut self, is_ready: impl Fn(RawFd) -> bool, now: Instant) {
        let readiness = self.readiness;
        self.connections.retain_mut(|conn| {
            !is_ready(conn.stream.as_raw_fd()) || conn.read_and_answer(readiness)
        });
        if self.paused_until.is_none() && is_ready(self.listener.as_raw_fd()) {
            self.accept(now);
        }
    }

    /// Closes connections whose head is late at `now`, and ends a pause
    /// in accepting that is over.
    pub fn expire(&mut self, now: Instant) {
        self.connections.retain(|c| c.deadline > now);
        self.paused_until = self.paused_until.filter(|&t| t > now);
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..MAX_CONNECTIONS {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.connections.len() >= MAX_CONNECTIONS {
                        continue; // dropped: closed at once
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.connections.push(Connection {
                        stream,
                        head: Vec::new(),
                        deadline: now + HEAD_TIMEOUT,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                // EMFILE, ENOBUFS...: the connection stays queued.
                Err(e) => {
                    log::debug!("failed to accept a readiness connection: {e}");
                    self.paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }
}

impl Connection {
    /// Reads what arrived; answers once the head is complete. `false`
    /// when the connection is done with (answered, closed or bad).
    fn read_and_answer(&mut self, readiness: Readiness) -> bool {
        let mut buf = [0u8; 2048];
        let room = (MAX_HEAD - self.head.len()).min(buf.len());
        let n = match self.stream.read(&mut buf[..room]) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) => return e.kind() == io::ErrorKind::WouldBlock,
        };
        self.head.extend_from_slice(&buf[..n]);
        match parse_head(&self.head) {
            Head::Complete { head_only } => {
                // The answer is under 200 bytes and the socket's send
                // buffer is empty: one write sends it whole, or the
                // client is gone.
                let _ = self.stream.write(response(readiness, head_only).as_bytes());
                // Closing with unread bytes (a body, a pipelined request)
                // would send a reset that can destroy the answer at the
                // client: read what has come, once.
                let _ = self.stream.shutdown(std::net::Shutdown::Write);
                let _ = self.stream.read(&mut buf);
                false
            }
            Head::Partial => self.head.len() < MAX_HEAD,
            Head::Bad => false,
        }
    }
}

/// How far a request head has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Complete; `head_only` for a HEAD request (no body in the answer).
    Complete { head_only: bool },
    /// More is needed.
    Partial,
    /// Not HTTP: the connection is closed without an answer.
    Bad,
}

/// Reads a request head as far as it has arrived.
pub fn parse_head(head: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        // More headers than drainit reads is still a request: answer it.
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            Head::Complete {
                head_only: request.method == Some("HEAD"),
            }
        }
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => Head::Bad,
    }
}

/// The whole response for `readiness`.
fn response(readiness: Readiness, head_only: bool) -> String {
    let (status, body) = match readiness {
        Readiness::Ready => ("200 OK", "ready\n"),
        Readiness::NotReady => ("503 Service Unavailable", "not ready\n"),
        Readiness::Draining => ("503 Service Unavailable", "draining\n"),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_complete_partial_or_bad() {
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Head::Complete { head_only: false }
        );
        assert_eq!(
            parse_head(b"HEAD /ready HTTP/1.0\r\n\r\n"),
            Head::Complete { head_only: true }
        );
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost"), Head::Partial);
        assert_eq!(parse_head(b""), Head::Partial);
        assert_eq!(parse_head(b"\x16\x03\x01 TLS hello"), Head::Bad);
        let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
        let head = format!("HEAD / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_head(head.as_bytes()),
            Head::Complete { head_only: true }
        );
    }

    #[test]
    fn responses_say_the_readiness_and_head_has_no_body() {
        let r = response(Readiness::Ready, false);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\nready\n"));
        let r = response(Readiness::Draining, true);
        assert!(
            r.starts_with("HTTP/1.1 503 ")
                && r.ends_with("Content-Length: 9\r\nConnection: close\r\n\r\n")
        );
        assert!(response(Readiness::NotReady, false).ends_with("not ready\n"));
    }
}
