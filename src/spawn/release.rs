//! What drainit lets go of once the child runs: its copies of inherited
//! descriptors (the caller's directory it left before: `dir`).

use std::os::fd::RawFd;

use nix::errno::Errno;

/// After the spawn: drainit closes its copies of inherited descriptors
/// above 2 (so a pipe the child closes really closes), all but `keep`, its
/// own. Failures are logged: the child is already running.
pub fn release_inherited(keep: &[RawFd]) {
    // SAFETY: closing descriptors drainit does not use; its own are in
    // `keep`, or close-on-exec ones created later, or 0-2. A raw syscall:
    // musl has no close_range wrapper.
    let close_range = |lo: RawFd, hi: libc::c_uint| unsafe {
        libc::syscall(libc::SYS_close_range, lo, hi, 0) == 0
    };
    // The ranges between the kept descriptors, from 3 up, lowest first
    // (`keep` has at most two: no sort needed).
    let mut first: RawFd = 3;
    let mut closed = true;
    while let Some(next) = keep.iter().copied().filter(|&fd| fd >= first).min() {
        if next > first {
            closed &= close_range(first, next.unsigned_abs() - 1);
        }
        first = next + 1;
    }
    closed &= close_range(first, libc::c_uint::MAX);
    if closed {
        return;
    }
    // close_range(2) needs Linux 5.9; older hosts list /proc/self/fd.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        log::warn!(
            "failed to close inherited descriptors: {}",
            Errno::last().desc()
        );
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: as above; EBADF for the listing's own, now closed, fd.
        unsafe { libc::close(fd) };
    }
}
