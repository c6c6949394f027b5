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

/// The listener and its open connections.
pub struct ReadyServer {
    listener: TcpListener,
    connections: Vec<Connection>,
    readiness: Readiness,
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

    /// The sockets to wait on: the listener, then each connection, all
    /// for reading.
    pub fn wants(&self) -> impl Iterator<Item = (BorrowedFd<'_>, PollFlags)> {
        std::iter::once(self.listener.as_fd())
            .chain(self.connections.iter().map(|c| c.stream.as_fd()))
            .map(|fd| (fd, PollFlags::POLLIN))
    }

    /// The nearest head deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.connections.iter().map(|c| c.deadline).min()
    }

    /// Handles readiness of the sockets `wants` listed, in its order
    /// (`ready[i]` for the i-th), then closes connections whose head is
    /// late at `now`.
    pub fn serve(&mut self, ready: &[bool], now: Instant) {
        let mut index = 1;
        self.connections.retain_mut(|conn| {
            let is_ready = ready.get(index).copied().unwrap_or(false);
            index += 1;
            if is_ready {
                return conn.read_and_answer(self.readiness);
            }
            conn.deadline > now
        });
        if ready.first().copied().unwrap_or(false) {
            self.accept(now);
        }
    }

    /// Closes connections whose head is late at `now`.
    pub fn expire(&mut self, now: Instant) {
        self.connections.retain(|c| c.deadline > now);
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
                // ECONNABORTED, EMFILE...: nothing to keep; try again later.
                Err(e) => {
                    log::debug!("failed to accept a readiness connection: {e}");
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
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&self.head) {
            Ok(httparse::Status::Complete(_)) => {
                let head_only = request.method == Some("HEAD");
                // The answer is under 200 bytes and the socket's send
                // buffer is empty: one write sends it whole, or the
                // client is gone.
                let _ = self.stream.write(response(readiness, head_only).as_bytes());
                false
            }
            Ok(httparse::Status::Partial) => self.head.len() < MAX_HEAD,
            Err(_) => false,
        }
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
