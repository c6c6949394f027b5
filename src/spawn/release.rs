//! What drainit lets go of once the child runs: the caller's directory and
//! its copies of inherited descriptors.

use nix::errno::Errno;

/// After the spawn: drainit moves to `/` (so it pins no mount) and closes
/// its copies of inherited descriptors above 2 (so a pipe the child closes
/// really closes). Failures are logged: the child is already running.
pub fn release_inherited() {
    if let Err(e) = nix::unistd::chdir("/") {
        log::warn!("failed to change directory to /: {}", e.desc());
    }
    // SAFETY: closing descriptors drainit does not use; its own are
    // close-on-exec ones created later, or 0-2. A raw syscall: musl has no
    // close_range wrapper.
    if unsafe { libc::syscall(libc::SYS_close_range, 3, libc::c_uint::MAX, 0) } == 0 {
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
    let fds: Vec<libc::c_int> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: as above; EBADF for the listing's own, now closed, fd.
        unsafe { libc::close(fd) };
    }
}
