//! What /proc says about a process (its children, state, signal masks,
//! group), and sending it a signal.

/// Sends `sig` to `pid`, which must exist.
pub fn send(pid: i32, sig: i32) {
    // kill(0) or kill(-1) would signal the test itself.
    assert!(pid > 0, "no process to signal (pid {pid})");
    // SAFETY: plain kill(2) on a positive pid.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// The children of `pid`, zombies included, in fork order, from /proc.
pub fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A field of /proc/PID/status, e.g. `SigBlk`.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// The state letter of a process (R, S, Z, ...), if it exists.
pub fn state(pid: i32) -> Option<char> {
    status_field(pid, "State").and_then(|s| s.chars().next())
}

/// Waits until `pid` is in one of `states` (/proc state letters); `what`
/// names it in the failure.
pub fn wait_state(pid: i32, states: &[char], what: &str) {
    super::wait_for(
        || state(pid).filter(|s| states.contains(s)).map(|_| ()),
        &format!("{what} ({pid}) in state {states:?}"),
    );
}

/// The command name of `pid` (`/proc/PID/comm`), empty once it is gone.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z')
}

/// Children of `pid` that are zombies.
pub fn zombie_children(pid: i32) -> usize {
    children(pid)
        .into_iter()
        .filter(|&c| state(c) == Some('Z'))
        .count()
}

/// The fields of /proc/PID/stat after the parenthesised name: state, ppid,
/// pgrp, ...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// The process group of `pid`.
pub fn pgrp(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// Pids whose process group is `pgid`, zombies left out.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some(fields) = stat_fields(pid) else {
            continue;
        };
        if fields.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pgid) && fields[0] != "Z" {
            members.push(pid);
        }
    }
    members
}

/// A SigBlk/SigIgn value of /proc/PID/status as a bit mask.
pub fn mask(hex: &str) -> u64 {
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

/// The bit of signal `sig` in such a mask.
pub fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The signals from 32 up to SIGRTMIN belong to the C library (glibc: 32
/// and 33, musl: 32 to 34; glibc's `posix_spawn` leaves them ignored, and
/// musl will not block them), not to the caller or drainit: masks are
/// compared without them.
pub fn libc_own() -> u64 {
    (32..libc::SIGRTMIN()).map(bit).sum()
}
