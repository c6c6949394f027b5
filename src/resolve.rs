//! Name lookups that cannot hold up the event loop. An IP address needs
//! none. A name goes to the C library's resolver (`/etc/hosts`,
//! `/etc/resolv.conf`: also in a `FROM scratch` image) in a forked child,
//! since `getaddrinfo` blocks for as long as a silent name server makes
//! it; its answer comes back on a pipe that the loop polls like a socket.
//! A lookup dropped before it ends (its deadline passed) kills the child;
//! the reaper collects it like any other.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, Pid, fork, pipe2};

use crate::address::Endpoint;
use crate::signals::Signal;
use crate::target;

/// The most addresses kept for one name.
pub const MAX_ADDRESSES: usize = 8;
/// The most bytes of answer read from the child: `MAX_ADDRESSES` lines.
const MAX_ANSWER: usize = 1024;

/// A lookup: finished, or under way in a child.
pub enum Lookup {
    Done(Result<Vec<SocketAddr>, String>),
    Pending(Pending),
}

/// A lookup under way.
pub struct Pending {
    child: Pid,
    answer: File,
    text: Vec<u8>,
}

/// Starts looking up `endpoint`: done at once for an IP address.
pub fn lookup(endpoint: &Endpoint) -> Lookup {
    if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
        return Lookup::Done(Ok(vec![SocketAddr::new(ip, endpoint.port)]));
    }
    let (read, write) = match pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
        Ok(ends) => ends,
        Err(e) => return Lookup::Done(Err(format!("failed to look up: {}", e.desc()))),
    };
    // SAFETY: drainit is single-threaded, so the child may allocate; it
    // only resolves, writes and `_exit`s.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => resolve_in_child(endpoint, write),
        Ok(ForkResult::Parent { child }) => Lookup::Pending(Pending {
            child,
            answer: File::from(read),
            text: Vec::new(),
        }),
        Err(e) => Lookup::Done(Err(format!("failed to look up: {}", e.desc()))),
    }
}

/// The child's part: one line per address, or `!` and the error.
fn resolve_in_child(endpoint: &Endpoint, write: OwnedFd) -> ! {
    // The child must not hold drainit's sockets open (a listener that
    // drainit closes must refuse connections at once), so it keeps only
    // the pipe, moved to descriptor 3, and 0-2.
    // SAFETY: plain descriptor syscalls in the child.
    unsafe {
        if write.as_raw_fd() != 3 {
            libc::dup2(write.as_raw_fd(), 3);
        }
        // close_range(2) needs Linux 5.9: before, one close per possible
        // descriptor (the child lives for one lookup).
        if libc::syscall(libc::SYS_close_range, 4, libc::c_uint::MAX, 0) != 0 {
            let limit = libc::sysconf(libc::_SC_OPEN_MAX).clamp(4, 1 << 16);
            for fd in 4..limit as libc::c_int {
                libc::close(fd);
            }
        }
    }
    let text = match (endpoint.host.as_str(), endpoint.port).to_socket_addrs() {
        Ok(addrs) => addrs
            .take(MAX_ADDRESSES)
            .map(|a| format!("{a}\n"))
            .collect::<String>(),
        // std words it "failed to lookup address information: <cause>".
        Err(e) => {
            let e = e.to_string();
            let cause = e.rsplit_once(": ").map_or(e.as_str(), |(_, cause)| cause);
            format!("!{cause}\n")
        }
    };
    // SAFETY: descriptor 3 is the pipe's write end, owned here alone.
    let mut pipe = unsafe { File::from_raw_fd(3) };
    let _ = pipe.write_all(text.as_bytes());
    // SAFETY: ends the child without running drainit's exit handlers.
    unsafe { libc::_exit(0) }
}

impl Pending {
    /// The child's pid, for the supervisor's table of processes.
    pub fn pid(&self) -> libc::pid_t {
        self.child.as_raw()
    }

    /// The pipe to wait on for reading.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.answer.as_fd()
    }

    /// Reads what arrived; the addresses once the child is done.
    pub fn poll(&mut self) -> Option<Result<Vec<SocketAddr>, String>> {
        let mut buf = [0u8; 256];
        loop {
            match self.answer.read(&mut buf) {
                Ok(0) => return Some(parse_answer(&self.text)),
                Ok(n) if self.text.len() + n > MAX_ANSWER => {
                    return Some(Err("the name lookup answered too much".into()));
                }
                Ok(n) => self.text.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(format!("failed to look up: {e}"))),
            }
        }
    }
}

impl Drop for Pending {
    /// Kills a child that has not finished. While the pipe is open the
    /// child lives and is not reaped, so its pid is still its own.
    fn drop(&mut self) {
        let mut byte = [0u8; 1];
        if let Err(e) = self.answer.read(&mut byte)
            && e.kind() == io::ErrorKind::WouldBlock
        {
            target::kill(self.child.as_raw(), Signal::KILL);
        }
    }
}

/// The child's answer: addresses, one per line, or `!` and the error.
fn parse_answer(text: &[u8]) -> Result<Vec<SocketAddr>, String> {
    let text = String::from_utf8_lossy(text);
    if let Some(error) = text.strip_prefix('!') {
        return Err(error.trim().to_string());
    }
    let addrs: Vec<SocketAddr> = text.lines().filter_map(|l| l.parse().ok()).collect();
    if addrs.is_empty() {
        return Err("the name has no address".to_string());
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_addresses_or_an_error() {
        assert_eq!(
            parse_answer(b"[::1]:80\n127.0.0.1:80\n"),
            Ok(vec![
                "[::1]:80".parse().unwrap(),
                "127.0.0.1:80".parse().unwrap()
            ])
        );
        assert_eq!(parse_answer(b"!no such host\n"), Err("no such host".into()));
        assert!(parse_answer(b"").is_err());
    }

    #[test]
    fn an_ip_address_needs_no_lookup() {
        let endpoint = Endpoint {
            host: "::1".into(),
            port: 9,
        };
        assert!(
            matches!(lookup(&endpoint), Lookup::Done(Ok(a)) if a == ["[::1]:9".parse().unwrap()])
        );
    }
}
