//! Test fixture (not an example for users): the programs drainit's tests
//! run as its child and as its drain hook. Built by `cargo test`.
//!
//! `fixture child [OPTIONS]`: takes every catchable signal with sigwaitinfo,
//! prints `ready <pid>`, then `[NAME ]sig <N>` per signal received.
//!   --name NAME          prefix lines with NAME
//!   --exit-on N=CODE     after printing signal N, exit with CODE
//!   --die-on N           after printing signal N, die by it (default action)
//!   --drain-on N=MS      after printing signal N, print `draining`, work MS
//!                        milliseconds, print `drained`, exit 0
//!   --log FILE           also append `child <N> <monotonic ns>` per signal
//!   --orphans N          first leave N orphans (double fork, exit at once)
//!   --tty                first print `tty fg=<tcgetpgrp(0)> pgrp=<getpgrp()>`
//!   --exit CODE          exit with CODE right after `ready`
//! `fixture hook --log FILE [--sleep MS] [--exit CODE]`: appends
//!   `hook-start <ns>`, its environment and cwd, sleeps, appends
//!   `hook-end <ns>`, exits with CODE.
//! `fixture orphans N`: leaves N orphans, prints `orphans <N>`, exits 0.
//! `fixture with-signals BLOCKED IGNORED CMD...`: blocks the signals of the
//!   comma-separated list BLOCKED, ignores those of IGNORED (`-`: none; any
//!   number, 32 and 33 too, which otherwise start at their default), then
//!   execs CMD: a caller with an unusual signal state.
//! More `fixture child` options, for tests/robustness.rs:
//!   --group N            first fork N group members that block every
//!                        signal and append `member <pid> sig <N>` to --log
//!                        per signal, and never exit by themselves
//!   --orphan-storm N     after `ready`, a thread leaves N orphans one after
//!                        the other, then prints `storm done`
//!   --orphans-on N=COUNT after printing signal N, leave COUNT orphans and
//!                        print `orphans <COUNT>` (before --exit-on N=...)
//!   --close-std 1        after `ready`, close descriptors 0, 1 and 2
//! `fixture probe FILE ARGS...`: appends `arg <ARG>` per argument and
//!   `fd <N>` per open descriptor to FILE, exits 0.
//! `fixture broken-stderr CMD...`: execs CMD with stderr a pipe whose read
//!   end is closed (every write fails with EPIPE and raises SIGPIPE).
//! `fixture pty-run CMD...`: runs CMD as a session leader with a new pseudo
//!   terminal (raw mode) as its controlling terminal and 0-2, copies its
//!   output to stdout; on SIGUSR1 closes the terminal's master (a hangup);
//!   exits with CMD's exit code.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        panic!("usage: fixture child|hook|orphans ...");
    };
    let opts = options(rest);
    match mode.as_str() {
        "child" => child(&opts),
        "hook" => hook(&opts),
        "orphans" => {
            let n: usize = rest[0].parse().unwrap();
            orphans(n);
            say(&format!("orphans {n}"));
        }
        "with-signals" => with_signals(&rest[0], &rest[1], &rest[2..]),
        "probe" => probe(&rest[0], &rest[1..]),
        "broken-stderr" => broken_stderr(rest),
        "pty-run" => pty_run(rest),
        _ => panic!("unknown mode {mode}"),
    }
}

fn options(args: &[String]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if let Some(name) = flag.strip_prefix("--") {
            let value = if name == "tty" {
                String::new()
            } else {
                it.next().cloned().unwrap_or_default()
            };
            map.insert(name.to_string(), value);
        }
    }
    map
}

/// One line on stdout, in one write(2), so lines of several fixtures
/// sharing a pipe never mix.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn append(path: &str, line: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn pair(spec: &str) -> (i32, u64) {
    let (a, b) = spec.split_once('=').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn orphans(n: usize) {
    for _ in 0..n {
        match unsafe { libc::fork() } {
            0 => {
                // The middle process leaves a grandchild that exits at once.
                unsafe {
                    libc::fork();
                    libc::_exit(0);
                }
            }
            pid if pid > 0 => {}
            _ => panic!("fork failed"),
        }
    }
    // Reap the middle processes; the grandchildren are orphans now.
    for _ in 0..n {
        unsafe { libc::wait(std::ptr::null_mut()) };
    }
}

fn child(opts: &HashMap<String, String>) {
    let prefix = opts
        .get("name")
        .map(|n| format!("{n} "))
        .unwrap_or_default();
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    if let Some(n) = opts.get("orphans") {
        orphans(n.parse().unwrap());
    }
    if opts.contains_key("tty") {
        let (fg, pgrp) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
        say(&format!("tty fg={fg} pgrp={pgrp}"));
    }
    if let Some(n) = opts.get("group") {
        let log = opts.get("log").cloned().unwrap_or_default();
        for _ in 0..n.parse::<usize>().unwrap() {
            group_member(&set, &log);
        }
    }
    say(&format!("{prefix}ready {}", std::process::id()));
    if let Some(n) = opts.get("orphan-storm") {
        let n: usize = n.parse().unwrap();
        let prefix = prefix.clone();
        std::thread::spawn(move || {
            for _ in 0..n {
                orphan_unwaited();
            }
            say(&format!("{prefix}storm done"));
        });
    }
    if opts.contains_key("close-std") {
        unsafe {
            libc::close(0);
            libc::close(1);
            libc::close(2);
        }
    }
    let orphans_on = opts.get("orphans-on").map(|s| pair(s));
    if let Some(code) = opts.get("exit") {
        std::process::exit(code.parse().unwrap());
    }
    let exit_on = opts.get("exit-on").map(|s| pair(s));
    let drain_on = opts.get("drain-on").map(|s| pair(s));
    let die_on: Option<i32> = opts.get("die-on").map(|s| s.parse().unwrap());
    loop {
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        say(&format!("{prefix}sig {sig}"));
        if let Some(log) = opts.get("log") {
            append(log, &format!("child {sig} {}", monotonic_ns()));
        }
        if let Some((_, count)) = orphans_on.filter(|(n, _)| *n == sig) {
            orphans(count as usize);
            say(&format!("{prefix}orphans {count}"));
        }
        if exit_on.is_some_and(|(n, _)| n == sig) {
            std::process::exit(exit_on.unwrap().1 as i32);
        }
        if let Some((_, ms)) = drain_on.filter(|(n, _)| *n == sig) {
            say(&format!("{prefix}draining"));
            std::thread::sleep(Duration::from_millis(ms));
            say(&format!("{prefix}drained"));
            std::process::exit(0);
        }
        if die_on == Some(sig) {
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                let mut one: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, sig);
                libc::raise(sig);
                libc::sigprocmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
            }
            unreachable!("signal {sig} did not kill the fixture");
        }
        if sig == libc::SIGCHLD {
            while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        }
    }
}

fn hook(opts: &HashMap<String, String>) {
    let log = &opts["log"];
    append(log, &format!("hook-start {}", monotonic_ns()));
    for var in ["DRAINIT_CHILD_PID", "DRAINIT_SIGNAL"] {
        append(
            log,
            &format!("env {var}={}", std::env::var(var).unwrap_or_default()),
        );
    }
    append(
        log,
        &format!("cwd {}", std::env::current_dir().unwrap().display()),
    );
    if let Some(ms) = opts.get("sleep") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
    }
    append(log, &format!("hook-end {}", monotonic_ns()));
    std::process::exit(opts.get("exit").map_or(0, |c| c.parse().unwrap()));
}

fn with_signals(blocked: &str, ignored: &str, command: &[String]) {
    use std::os::unix::process::CommandExt;
    let list = |s: &str| -> Vec<i32> {
        s.split(',')
            .filter(|x| *x != "-")
            .map(|x| x.parse().unwrap())
            .collect()
    };
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigemptyset(&mut set) };
    for sig in list(blocked) {
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    // The C library's own signals (32 up to SIGRTMIN) start at their
    // default: a caller started by glibc's posix_spawn (as cargo starts
    // the tests) has them ignored. Raw rt_sigaction: glibc's wrappers
    // refuse them.
    for sig in 32..libc::SIGRTMIN() {
        set_disposition(sig, libc::SIG_DFL);
    }
    for sig in list(ignored) {
        set_disposition(sig, libc::SIG_IGN);
    }
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    panic!("exec {command:?}: {err}");
}

/// rt_sigaction(2) of SIG_DFL or SIG_IGN for `sig`, any signal number.
fn set_disposition(sig: i32, handler: libc::sighandler_t) {
    // The kernel's struct sigaction: handler, flags, restorer, mask.
    let action: [u64; 4] = [handler as u64, 0, 0, 0];
    let rc = unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, action.as_ptr(), 0usize, 8usize) };
    assert_eq!(rc, 0, "rt_sigaction({sig})");
}

/// A process of the child's group that reports every signal in `log` and
/// stays until it is killed (its mask, inherited, blocks everything).
fn group_member(set: &libc::sigset_t, log: &str) {
    match unsafe { libc::fork() } {
        0 => loop {
            let sig = unsafe { libc::sigwaitinfo(set, std::ptr::null_mut()) };
            if sig > 0 && !log.is_empty() {
                append(log, &format!("member {} sig {sig}", std::process::id()));
            }
        },
        pid if pid > 0 => {}
        _ => panic!("fork failed"),
    }
}

/// One orphan, without waiting for the middle process: the child's
/// SIGCHLD loop reaps it, so this is safe beside that loop.
fn orphan_unwaited() {
    match unsafe { libc::fork() } {
        0 => unsafe {
            libc::fork();
            libc::_exit(0);
        },
        pid if pid > 0 => {}
        _ => panic!("fork failed"),
    }
}

fn probe(file: &str, args: &[String]) {
    for arg in args {
        append(file, &format!("arg {arg}"));
    }
    let listed: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The listing's own descriptor is closed by now.
    for fd in listed {
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            append(file, &format!("fd {fd}"));
        }
    }
}

fn broken_stderr(command: &[String]) {
    use std::os::unix::process::CommandExt;
    let mut fds = [0; 2];
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        libc::dup2(fds[1], 2);
        libc::close(fds[1]);
    }
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    panic!("exec {command:?}: {err}");
}

fn pty_run(command: &[String]) {
    use std::ffi::CString;
    let (mut master, mut slave) = (0, 0);
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap())
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    unsafe {
        let rc = libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        );
        assert_eq!(rc, 0, "openpty");
        let mut tio: libc::termios = std::mem::zeroed();
        libc::tcgetattr(slave, &mut tio);
        libc::cfmakeraw(&mut tio);
        libc::tcsetattr(slave, libc::TCSANOW, &tio);
    }
    let mut usr1: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut usr1);
        libc::sigaddset(&mut usr1, libc::SIGUSR1);
        libc::sigprocmask(libc::SIG_BLOCK, &usr1, std::ptr::null_mut());
    }
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::sigprocmask(libc::SIG_UNBLOCK, &usr1, std::ptr::null_mut());
            libc::setsid();
            libc::ioctl(slave, libc::TIOCSCTTY, 0);
            for fd in 0..3 {
                libc::dup2(slave, fd);
            }
            libc::close(master);
            libc::close(slave);
            libc::execvp(ptrs[0], ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    unsafe { libc::close(slave) };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut buf = [0u8; 4096];
    loop {
        if unsafe { libc::sigtimedwait(&usr1, std::ptr::null_mut(), &zero) } == libc::SIGUSR1 {
            unsafe { libc::close(master) };
            break;
        }
        let mut pfd = libc::pollfd {
            fd: master,
            events: libc::POLLIN,
            revents: 0,
        };
        if unsafe { libc::poll(&mut pfd, 1, 20) } > 0 {
            let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n as usize]);
                let _ = out.flush();
            }
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    std::process::exit(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    });
}
