//! The child programs, run under each init as `__child MODE`: they take
//! their own timestamps, so that a figure says when the child had a
//! signal, not when the bench noticed.

use crate::procs::monotonic_ns;

pub fn main(args: &[String]) -> ! {
    match args.first().map(String::as_str) {
        Some("stamp") => stamp(),
        Some("term") => term(),
        Some("orphans") => orphans(args[1].parse().expect("count")),
        Some("spin") => spin(args.get(1).map(|c| c.parse().expect("cpu"))),
        other => panic!("unknown child mode {other:?}"),
    }
}

fn write_all(fd: i32, bytes: &[u8]) {
    // SAFETY: writing a live buffer to an open fd; short writes on a pipe
    // of a line this small do not happen.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// Blocks `sig` and returns the set that holds it, for `sigwait`.
fn block(sig: libc::c_int) -> libc::sigset_t {
    // SAFETY: plain signal-mask calls on a local set.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Prints `ready`, then the CLOCK_MONOTONIC time of each SIGUSR1 it takes.
fn stamp() -> ! {
    let set = block(libc::SIGUSR1);
    write_all(1, b"ready\n");
    loop {
        let mut sig = 0;
        // SAFETY: the set is initialised.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            let now = monotonic_ns();
            write_all(1, format!("{now}\n").as_bytes());
        }
    }
}

/// Prints `ready`; when TERM arrives, prints the CLOCK_MONOTONIC time it
/// took it at and exits 0: a child that stops at once.
fn term() -> ! {
    let set = block(libc::SIGTERM);
    write_all(1, b"ready\n");
    let mut sig = 0;
    // SAFETY: the set is initialised.
    while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
    let now = monotonic_ns();
    write_all(1, format!("{now}\n").as_bytes());
    // SAFETY: ends this process.
    unsafe { libc::_exit(0) }
}

/// Spins forever, on `cpu` when given.
fn spin(cpu: Option<usize>) -> ! {
    if let Some(cpu) = cpu {
        // SAFETY: a zeroed set with one CPU added, for this process.
        unsafe {
            let mut set = std::mem::zeroed::<libc::cpu_set_t>();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
        }
    }
    loop {
        std::hint::spin_loop();
    }
}

/// Double-forks `count` orphans, which block on a pipe; prints `ready`,
/// and on a line on stdin closes the pipe so that they all exit at once.
fn orphans(count: usize) -> ! {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [read_end, write_end] = fds;
    // One parent forks them all and exits, so they are orphaned at once:
    // a fork and a wait per orphan made a run take 20 s on this VM.
    // SAFETY: single-threaded; the forked processes only make raw
    // syscalls and _exit.
    unsafe {
        let parent = libc::fork();
        assert!(parent >= 0, "fork");
        if parent == 0 {
            for _ in 0..count {
                let pid = libc::fork();
                if pid < 0 {
                    libc::_exit(1);
                }
                if pid == 0 {
                    libc::close(write_end);
                    let mut b = 0u8;
                    while libc::read(read_end, (&mut b as *mut u8).cast(), 1) > 0 {}
                    libc::_exit(0);
                }
            }
            libc::_exit(0);
        }
        let mut status = 0;
        libc::waitpid(parent, &mut status, 0);
        assert_eq!(status, 0, "forking the orphans failed");
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(read_end) };
    write_all(1, b"ready\n");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    // SAFETY: our own descriptor: the last writer, so every orphan sees EOF.
    unsafe { libc::close(write_end) };
    loop {
        // SAFETY: waits for the signal that ends the run.
        unsafe { libc::pause() };
    }
}
