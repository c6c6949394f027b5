//! The early TERM: a single SIGTERM sent to an init the moment
//! `/proc/PID/exe` shows it, as PID 1 of a new PID namespace. Until the
//! init blocks or handles TERM, the kernel drops it (PID 1 with the default
//! disposition), and the container would hang until SIGKILL. Shared by
//! tests/early_term.rs and the benchmark (benches/compare/, `early`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a run may take before it is judged at all: a stop takes
/// milliseconds, so a run still going after this is either slow or lost.
const SETTLE: Duration = Duration::from_millis(200);
/// A run that is neither over nor idle after this is counted as lost.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Runs `unshare --pid --fork INIT ARGS... sleep 1000` `tries` times,
/// sending one TERM each time as soon as the init's exe is visible;
/// returns how many runs did not end (the TERM was lost).
pub fn lost(init: &Path, args: &[&str], tries: usize) -> usize {
    let init = init.canonicalize().expect("the init exists");
    (0..tries).filter(|_| !one_run_ends(&init, args)).count()
}

fn one_run_ends(init: &Path, args: &[&str]) -> bool {
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork"])
        .arg(init)
        .args(args)
        .args(["sleep", "1000"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run unshare");
    let outer = unshare.id() as i32;
    // Busy: every microsecond of polling delay narrows the window tested.
    let pid = loop {
        if let Some(&pid) = children(outer).first() {
            break pid;
        }
        if let Ok(Some(_)) = unshare.try_wait() {
            panic!("unshare ended before it started {}", init.display());
        }
    };
    let exe = format!("/proc/{pid}/exe");
    while std::fs::read_link(&exe).ok().as_deref() != Some(init) {
        if std::fs::metadata(format!("/proc/{pid}")).is_err() {
            panic!("{} ended before its exec was seen", init.display());
        }
    }
    // SAFETY: plain kill(2) of the process just started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let sent = Instant::now();
    let ended = loop {
        if let Ok(Some(_)) = unshare.try_wait() {
            break true;
        }
        let waited = sent.elapsed();
        if (waited > SETTLE && idle_with_child(pid)) || waited > GIVE_UP {
            break false;
        }
        thread::sleep(Duration::from_millis(5));
    };
    if !ended {
        // SAFETY: as above; the namespace dies with its init.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = unshare.wait();
    }
    ended
}

/// The init sleeps with no TERM pending while its child `sleep` sleeps:
/// the TERM is gone and nothing will end the run.
fn idle_with_child(pid: i32) -> bool {
    let term = 1u64 << (libc::SIGTERM - 1);
    let pending = ["SigPnd", "ShdPnd"].iter().any(|f| {
        field(pid, f).is_some_and(|v| u64::from_str_radix(&v, 16).unwrap_or(0) & term != 0)
    });
    let child_sleeps = children(pid).into_iter().any(|c| {
        std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == "sleep")
            && field(c, "State").is_some_and(|s| s.starts_with('S'))
    });
    field(pid, "State").is_some_and(|s| s.starts_with('S')) && !pending && child_sleeps
}

fn field(pid: i32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
