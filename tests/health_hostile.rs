//! Hostile clients of the readiness endpoint, as PID 1 and as subreaper:
//! 1000 idle connections and a stream of garbage neither delay the
//! forwarded stop signal nor move the pre-stop sleep's end, and a new
//! request is still answered; more than 64 connections are accepted and
//! closed at once; a request head over 8 KiB, or not complete within 2 s,
//! gets its connection closed.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::health::*;
use common::*;

/// drainit with the endpoint, `prestop` of pre-stop sleep, and the app
/// logging its signals to `log` and exiting 0 on SIGTERM.
fn start(mode: Mode, prestop: &str, log: &std::path::Path) -> (Drainit, u16) {
    let log = log.to_str().unwrap();
    start_app_with_endpoint(
        mode,
        &["--prestop-sleep", prestop],
        &["--log", log, "--exit-on", "15=0"],
    )
}

/// `n` connections that never send a byte.
fn idle(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"))
        })
        .collect()
}

/// Clients that send garbage, over and over, until dropped: random bytes,
/// an endless header, bare line ends, half a head then silence, NULs.
struct Garbage {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<u64>>,
}

impl Garbage {
    fn start(port: u16) -> Garbage {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..2u64)
            .map(|seed| {
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut sent = 0;
                    let mut x = 0x9e37_79b9_7f4a_7c15 ^ seed;
                    while !stop.load(Ordering::SeqCst) {
                        let junk: Vec<u8> = match sent % 5 {
                            0 => (0..16_384)
                                .map(|_| {
                                    x ^= x << 13;
                                    x ^= x >> 7;
                                    x ^= x << 17;
                                    x as u8
                                })
                                .collect(),
                            1 => b"GET / HTTP/1.1\r\nX: ".repeat(1000),
                            2 => b"\r\n".repeat(5000),
                            // Half a head, then silence until closed.
                            3 => b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec(),
                            _ => vec![0; 9000],
                        };
                        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                            // Refused once the stop is forwarded.
                            thread::sleep(Duration::from_millis(10));
                            continue;
                        };
                        let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
                        let _ = s.write_all(&junk);
                        let _ = s.read_to_end(&mut Vec::new());
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        Garbage { stop, threads }
    }

    /// Stops the clients; how many garbage connections they made.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.threads.into_iter().map(|t| t.join().unwrap()).sum()
    }
}

/// Retries `GET /` until it gets an answer (a slot may be taken by the
/// flood for up to 2 s): the answer must be `status` `body`.
fn answered_amid_the_flood(port: u16, status: u16, body: &str) {
    let reply = wait_for(
        || match get(port) {
            Ok(reply) => Some(reply),
            Err(_) => {
                thread::sleep(Duration::from_millis(50));
                None
            }
        },
        "an answer amid the flood",
    );
    assert_eq!(reply, (status, body.to_string()));
}

/// The flood while a 2 s pre-stop sleep runs: the child gets SIGTERM
/// between 2 s and 2.2 s after the test sent it to drainit.
fn the_flood_delays_neither_the_sleep_nor_the_forward(mode: Mode) {
    raise_nofile(10_000);
    let dir = temp_dir(&format!("flood-{mode:?}"));
    let log = dir.join("log");
    let (d, port) = start(mode, "2s", &log);
    let garbage = Garbage::start(port);
    let before = idle(port, 1000);
    answered_amid_the_flood(port, 200, "ready\n");
    // Fresh idle connections hold every slot through the stop.
    let during = idle(port, 1000);
    let sent = now_ns();
    d.signal(libc::SIGTERM);
    let forwarded = logged_at(&log, "sig 15");
    let took = span(sent, forwarded);
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_millis(2200),
        "{mode:?}: forwarded {took:?} after the stop signal, not 2 s"
    );
    d.expect_line("sig 15");
    assert!(garbage.stop() > 0);
    drop((before, during));
    assert_eq!(d.exit_code(), 0);
}

/// The flood, then a stop with a long sleep: a new request during the
/// sleep is answered 503, drainit's memory stays within bounds; a second
/// stop signal forwards at once.
fn a_new_request_is_answered_during_the_sleep_under_the_flood(mode: Mode) {
    raise_nofile(10_000);
    let dir = temp_dir(&format!("flood-sleep-{mode:?}"));
    let log = dir.join("log");
    let (d, port) = start(mode, "60s", &log);
    let kib = |field| {
        status_field(d.pid, field)
            .unwrap()
            .trim_end_matches(" kB")
            .parse::<u64>()
            .unwrap()
    };
    let before = kib("VmRSS");
    let garbage = Garbage::start(port);
    let idle = idle(port, 1000);
    d.signal(libc::SIGTERM);
    wait_logged(&d, "sleep");
    answered_amid_the_flood(port, 503, "draining\n");
    // Bounded memory: 64 heads of 8 KiB at the most, and no more.
    let peak = kib("VmHWM");
    assert!(
        peak < before + 4096,
        "{mode:?}: {before} kB, then a peak of {peak} kB"
    );
    let second = Instant::now();
    d.signal(libc::SIGTERM);
    d.expect_line("sig 15");
    assert!(second.elapsed() < Duration::from_secs(5), "{}", d.stderr());
    assert!(garbage.stop() > 0);
    drop(idle);
    assert_eq!(d.exit_code(), 0);
}

/// Closed by the peer: end of file, a reset, or bytes then the end.
fn closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    }
}

/// 100 idle connections: 64 stay open, 36 are closed at once (long
/// before the 2 s head time-out); the 64 are closed by that time-out, not
/// before 2 s; then a new request is answered.
fn more_than_64_connections_are_accepted_and_closed(mode: Mode) {
    let dir = temp_dir(&format!("64-{mode:?}"));
    let (d, port) = start(mode, "0", &dir.join("log"));
    // An answer: no earlier connection holds a slot any more.
    assert_eq!(get(port).unwrap(), (200, "ready\n".to_string()));
    let start = Instant::now();
    let conns = idle(port, 100);
    for c in &conns {
        c.set_nonblocking(true).unwrap();
    }
    let count = || conns.iter().filter(|c| closed(c)).count();
    wait_for(|| (count() >= 36).then_some(()), "36 connections closed");
    let at = start.elapsed();
    assert_eq!(count(), 36, "{mode:?}: at {at:?}");
    assert!(at < Duration::from_millis(1500), "closed only at {at:?}");
    wait_for(|| (count() == 100).then_some(()), "the head time-out");
    let at = start.elapsed();
    assert!(at >= Duration::from_secs(2), "time-out after {at:?}");
    assert!(at < Duration::from_secs(5), "time-out after {at:?}");
    assert_eq!(get(port).unwrap(), (200, "ready\n".to_string()));
    stop_cleanly(d);
}

/// Sends `chunks` with `pause` between them, then reads to the end:
/// what came back and when the connection ended.
fn send_slowly(port: u16, chunks: &[&[u8]], pause: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        if s.write_all(chunk).is_err() {
            break;
        }
    }
    let mut back = Vec::new();
    // A reset counts as the end, with what came before it.
    let _ = s.read_to_end(&mut back);
    (String::from_utf8_lossy(&back).into_owned(), start.elapsed())
}

fn is_ready(reply: &str) -> bool {
    reply.starts_with("HTTP/1.1 200") && reply.ends_with("\r\n\r\nready\n")
}

/// A 7 KiB head and a head sent in pieces over 1 s are answered; a 9 KiB
/// head is closed at once; a head cut short, or trickled a byte every
/// 300 ms, is closed 2 s after the connect, with no answer.
fn a_head_over_8_kib_or_2_s_is_closed(mode: Mode) {
    let dir = temp_dir(&format!("head-{mode:?}"));
    let (d, port) = start(mode, "0", &dir.join("log"));
    let pad = "a".repeat(7 * 1024);
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n");
    let (reply, _) = send_slowly(port, &[big.as_bytes()], Duration::ZERO);
    assert!(is_ready(&reply), "7 KiB head: {reply:?}");

    let pieces: Vec<&[u8]> = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".chunks(3).collect();
    let (reply, took) = send_slowly(port, &pieces, Duration::from_millis(100));
    assert!(is_ready(&reply), "head in pieces over {took:?}: {reply:?}");

    let pad = "a".repeat(9 * 1024);
    let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}");
    let (reply, took) = send_slowly(port, &[huge.as_bytes()], Duration::ZERO);
    assert!(!reply.contains("200"), "9 KiB head answered: {reply:?}");
    assert!(
        took < Duration::from_millis(1500),
        "9 KiB head held {took:?}"
    );

    let (reply, took) = send_slowly(port, &[b"GET / HTTP/1.1\r\n"], Duration::ZERO);
    assert!(reply.is_empty(), "unfinished head answered: {reply:?}");
    assert!(
        took >= Duration::from_millis(1950) && took < Duration::from_secs(4),
        "unfinished head closed after {took:?}"
    );

    let trickle = vec![&b"X"[..]; 20];
    let (reply, took) = send_slowly(port, &trickle, Duration::from_millis(300));
    assert!(reply.is_empty(), "trickled head answered: {reply:?}");
    assert!(
        took >= Duration::from_millis(1950) && took < Duration::from_secs(4),
        "trickled head closed after {took:?}"
    );
    stop_cleanly(d);
}

/// drainit's CPU time so far, in clock ticks (utime + stime).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, after) = stat.rsplit_once(')').unwrap();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// drainit out of descriptors (RLIMIT_NOFILE 16) with 50 connections
/// queued: it does not spin on the listener (under 50 ms of CPU in 1 s),
/// forwards signals at once, and answers again once the clients leave.
fn out_of_descriptors_it_neither_spins_nor_stalls(mode: Mode) {
    let app = health_fixture();
    let (d, port) = start_listening(
        mode,
        |port| {
            let listen = format!("127.0.0.1:{port}");
            let app_args = ["app", "--exit-on", "15=0"];
            let mut args = words(&["--ready-listen", &listen, "--", &app]);
            args.extend(words(&app_args));
            args
        },
        || Start {
            wrapper: words(&["prlimit", "--nofile=16:16"]),
            ..Start::default()
        },
    );
    d.ready();
    let queued = idle(port, 50);
    let before = cpu_ticks(d.pid);
    let start = Instant::now();
    assert_forwarded_at_once(&d, 3);
    // The measure's window, not a wait for a state.
    thread::sleep(Duration::from_secs(1).saturating_sub(start.elapsed()));
    let ticks = cpu_ticks(d.pid) - before;
    // SAFETY: sysconf has no side effects.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let spent = Duration::from_millis(ticks * 1000 / per_second);
    let took = start.elapsed();
    assert!(spent * 20 < took, "{mode:?}: {spent:?} of CPU in {took:?}");
    drop(queued);
    await_reply(port, 200, "ready\n");
    stop_cleanly(d);
}

both_modes!(
    the_flood_delays_neither_the_sleep_nor_the_forward,
    a_new_request_is_answered_during_the_sleep_under_the_flood,
    more_than_64_connections_are_accepted_and_closed,
    a_head_over_8_kib_or_2_s_is_closed,
    out_of_descriptors_it_neither_spins_nor_stalls,
);
