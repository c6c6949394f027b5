//! A Celery worker (Debian's python3-celery, prefork pool `-c 2`) with a
//! Redis broker (redis-server), under drainit as PID 1 of its own PID
//! namespace, stopped while two 5 s tasks run and a third waits in Redis.
//!
//! Celery's TERM is a warm shutdown, but only in the main process: a pool
//! process that gets TERM itself dies, and its task is lost. drainit's
//! default sends the stop signal to the whole process group, so the pool
//! gets it. The recipe (docker/servers/celery.env) sends it to drainit's
//! own children only: the worker started directly, or the shell that
//! started it without `exec` and then, when the shell dies, the worker it
//! leaves behind. Both invocations must finish both running tasks, leave
//! the waiting one in Redis, and exit within the recipe's grace. The setups
//! that lose the running tasks (drainit's default, `tini -g`, and
//! `--single-child` behind a shell) are run too, so the comparison stays
//! honest.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::servers::{Redis, copy_fixture, recipe, require, server_dir};
use common::{children, drainit_bin, poll, say, scrub_env, send};

/// How long each task runs, and when the stop comes after both started.
const TASK: u32 = 5;
const STOP_AFTER: Duration = Duration::from_secs(1);

const WORKER: &str = "/usr/bin/python3 -m celery -A tasks worker -c 2 --loglevel=info \
                      --without-gossip --without-mingle --without-heartbeat";

/// How the worker is started.
#[derive(Clone, Copy, Debug)]
enum Invocation {
    /// `celery worker` as the init's child.
    Direct,
    /// `sh -c 'echo ...; celery worker'`: the shell stays its parent.
    ShellC,
    /// `sh run-celery.sh`, a wrapper without exec.
    Script,
}

/// The init and its settings.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// docker/servers/celery.env.
    Recipe,
    /// drainit with no settings: the stop signal to the whole group.
    Default,
    /// `drainit --single-child`.
    SingleChild,
    /// `tini -g`.
    Tini,
}

/// What became of one stop.
#[derive(Debug)]
struct Outcome {
    /// Running tasks that finished (of 2).
    finished: usize,
    /// Tasks still waiting in Redis after the stop (of 1).
    queued: usize,
    took: Duration,
    code: Option<i32>,
    log: String,
}

/// Starts a worker as `invocation` says under `setup`, starts three
/// tasks (two run, one waits), stops the init STOP_AFTER after both
/// running tasks started, and sees what became of them.
fn stop_worker(invocation: Invocation, setup: Setup) -> Outcome {
    let dir = server_dir(&format!("celery-{invocation:?}-{setup:?}"));
    let redis = Redis::start(&dir);
    copy_fixture("tasks.py", &dir.join("tasks.py"));
    copy_fixture("run-celery.sh", &dir.join("run-celery.sh"));
    let tasklog = dir.join("tasks.log");
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"]);
    scrub_env(&mut cmd);
    match setup {
        Setup::Recipe => {
            cmd.envs(recipe("celery")).arg(drainit_bin());
        }
        Setup::Default => {
            cmd.arg(drainit_bin());
        }
        Setup::SingleChild => {
            cmd.arg(drainit_bin()).arg("--single-child");
        }
        Setup::Tini => {
            cmd.args(["tini", "-g"]);
        }
    }
    cmd.arg("--");
    match invocation {
        Invocation::Direct => cmd.args(WORKER.split_whitespace()),
        Invocation::ShellC => {
            cmd.args(["sh", "-c", &format!("echo starting the worker; {WORKER}")])
        }
        Invocation::Script => cmd.args(["sh", "run-celery.sh"]),
    };
    let log = dir.join("worker.log");
    let out = fs::File::create(&log).unwrap();
    let mut init = cmd
        .current_dir(&dir)
        .env("BROKER", redis.url())
        .env("TASKLOG", &tasklog)
        .env("PYTHONPATH", &dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("run unshare (util-linux)");
    let outer = init.id() as i32;
    let read = |p: &PathBuf| fs::read_to_string(p).unwrap_or_default();
    let pid = poll(
        Duration::from_secs(30),
        Duration::from_millis(5),
        || children(outer).first().copied(),
        || "the init".into(),
    );
    poll(
        Duration::from_secs(120),
        Duration::from_millis(100),
        || {
            if let Ok(Some(status)) = init.try_wait() {
                panic!("the worker exited ({status}):\n{}", read(&log));
            }
            read(&log).contains(" ready.").then_some(())
        },
        || format!("the worker's 'ready.' line:\n{}", read(&log)),
    );
    // Behind a shell without exec, the worker is the shell's child.
    let child = children(pid)[0];
    if !matches!(invocation, Invocation::Direct) {
        let comm = fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
        assert_eq!(comm.trim(), "sh", "the init's child is the shell");
        assert!(!children(child).is_empty(), "the shell exec'd the worker");
    }
    let enqueue = format!("import tasks\nfor n in (1, 2, 3):\n    tasks.slow.delay(n, {TASK})\n");
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", &enqueue])
        .current_dir(&dir)
        .env("BROKER", redis.url())
        .env("TASKLOG", &tasklog)
        .status()
        .expect("run python3");
    assert!(ok.success(), "enqueuing the tasks failed");
    poll(
        Duration::from_secs(60),
        Duration::from_millis(20),
        || (read(&tasklog).matches("start ").count() >= 2).then_some(()),
        || format!("two tasks started: {}\n{}", read(&tasklog), read(&log)),
    );
    std::thread::sleep(STOP_AFTER);
    let stop = Instant::now();
    send(pid, libc::SIGTERM);
    let status = poll(
        Duration::from_secs(60),
        Duration::from_millis(10),
        || init.try_wait().ok().flatten(),
        || format!("the init to exit:\n{}", read(&log)),
    );
    let took = stop.elapsed();
    let tasks = read(&tasklog);
    let finished = (1..=3)
        .filter(|n| {
            tasks.contains(&format!("start {n} ")) && tasks.contains(&format!("done {n}\n"))
        })
        .count();
    let queued = redis.cli(&["llen", "celery"]).parse().unwrap_or(0);
    let outcome = Outcome {
        finished,
        queued,
        took,
        code: status.code(),
        log: read(&log),
    };
    say(&format!(
        "celery {invocation:?} under {setup:?}: {finished} of 2 running tasks finished, {queued} \
         of 1 still queued, exit {:?} after {:.2}s",
        outcome.code,
        took.as_secs_f64()
    ));
    drop(redis);
    let _ = fs::remove_dir_all(&dir);
    outcome
}

/// The recipe's grace (DRAINIT_GRACE), in seconds.
fn grace() -> f64 {
    let grace = recipe("celery")
        .into_iter()
        .find(|(k, _)| k == "DRAINIT_GRACE")
        .expect("the recipe sets DRAINIT_GRACE")
        .1;
    grace.trim_end_matches('s').parse().unwrap()
}

/// The recipe: both running tasks finish, the waiting one stays queued,
/// the worker exits after the tasks' rest (about 4 s) and within grace;
/// drainit's status is the child's: the worker's 0, or the shell's 143
/// (the TERM killed it).
fn assert_recipe_keeps_every_task(invocation: Invocation) {
    require("redis-server", "redis-server");
    require("sh", "dash");
    let o = stop_worker(invocation, Setup::Recipe);
    assert_eq!(o.finished, 2, "a running task was lost:\n{}", o.log);
    assert_eq!(o.queued, 1, "the waiting task is not in Redis:\n{}", o.log);
    let rest = f64::from(TASK) - STOP_AFTER.as_secs_f64() - 0.5;
    assert!(
        (rest..grace()).contains(&o.took.as_secs_f64()),
        "the stop took {:?}: not the tasks' rest, or past the grace:\n{}",
        o.took,
        o.log
    );
    let want = if matches!(invocation, Invocation::Direct) {
        0
    } else {
        143
    };
    assert_eq!(o.code, Some(want), "{}", o.log);
}

#[test]
fn celery_recipe_keeps_running_tasks_started_directly() {
    assert_recipe_keeps_every_task(Invocation::Direct);
}

#[test]
fn celery_recipe_keeps_running_tasks_behind_sh_c() {
    assert_recipe_keeps_every_task(Invocation::ShellC);
}

#[test]
fn celery_recipe_keeps_running_tasks_behind_a_wrapper_script() {
    assert_recipe_keeps_every_task(Invocation::Script);
}

/// Why the recipe is needed: the group signal reaches the pool (drainit's
/// default, `tini -g`), and `--single-child` stops at the shell, whose
/// death ends the namespace with the worker in it.
#[test]
fn celery_loses_running_tasks_without_the_recipe() {
    require("redis-server", "redis-server");
    require("tini", "tini");
    for (invocation, setup) in [
        (Invocation::Direct, Setup::Default),
        (Invocation::Direct, Setup::Tini),
        (Invocation::ShellC, Setup::SingleChild),
    ] {
        let o = stop_worker(invocation, setup);
        assert!(
            o.finished < 2,
            "{invocation:?} under {setup:?} finished both tasks: then the recipe proves nothing"
        );
    }
}
