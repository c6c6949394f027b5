//! posix_spawn(3) with attributes and file actions drainit owns as the C
//! library's objects (nix wraps no `_np` file action, and reaching into its
//! wrapper's layout would break silently on an upgrade).

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::ptr;

use super::environ::Environment;
use super::{Dir, script};
use crate::wait::InheritedMask;

/// Spawns `words` (the program looked up in PATH) in a new process group,
/// with the inherited mask, SIGPIPE and the C library's own signals at
/// their default, in `dir`.
pub fn spawn<W: AsRef<OsStr>>(
    words: &[W],
    env: &Environment,
    dir: Dir,
    mask: InheritedMask,
) -> io::Result<libc::pid_t> {
    let args = words
        .iter()
        .map(|word| c_string(word.as_ref()))
        .collect::<io::Result<Vec<_>>>()?;
    let Some(program) = args.first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let attr = Attributes::new(mask)?;
    let mut actions = FileActions::new()?;
    match dir {
        Dir::Inherited => {}
        Dir::Path(path) => actions.chdir(&c_string(path.as_os_str())?)?,
        Dir::Open(fd) => actions.fchdir(fd)?,
    }
    let envp = null_terminated(env.entries());
    let argv = null_terminated(args.iter().map(CString::as_c_str));
    match run(libc::posix_spawnp, program, &actions, &attr, &argv, &envp) {
        // execvp(3) runs a file the kernel cannot execute (a script without
        // `#!`) with /bin/sh, and so do tini and shells; posix_spawnp does not.
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let script = script::find_in_path(program, dir).ok_or(e)?;
            let sh = c"/bin/sh";
            let sh_argv = null_terminated(
                [sh, &script]
                    .into_iter()
                    .chain(args[1..].iter().map(CString::as_c_str)),
            );
            run(libc::posix_spawn, sh, &actions, &attr, &sh_argv, &envp)
        }
        spawned => spawned,
    }
}

/// posix_spawn or posix_spawnp, the same signature in libc.
type SpawnFn = unsafe extern "C" fn(
    *mut libc::pid_t,
    *const libc::c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *mut libc::c_char,
    *const *mut libc::c_char,
) -> libc::c_int;

fn run(
    spawn_fn: SpawnFn,
    program: &CStr,
    actions: &FileActions,
    attr: &Attributes,
    argv: &[*mut libc::c_char],
    envp: &[*mut libc::c_char],
) -> io::Result<libc::pid_t> {
    let mut pid = 0;
    // SAFETY: every pointer is valid for the call: `argv` and `envp` are
    // NULL-terminated arrays of C strings that outlive it, and both objects
    // are initialised.
    let rc = unsafe {
        spawn_fn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    match rc {
        0 => Ok(pid),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A `posix_spawnattr_t`: new process group, the inherited mask, and
/// default dispositions for SIGPIPE and the C library's own signals.
struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    fn new(mask: InheritedMask) -> io::Result<Attributes> {
        let mut raw = MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        // SAFETY: init fills the object it is given.
        check(unsafe { libc::posix_spawnattr_init(raw.as_mut_ptr()) })?;
        // SAFETY: initialised just above; from here `Drop` destroys it.
        let mut attr = Attributes(unsafe { raw.assume_init() });
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        let sigmask = mask.as_sig_set();
        let sigdef = default_dispositions();
        // SAFETY: `attr` is initialised; the sets are initialised and are
        // copied by the C library. The flags fit a short (libc's type).
        unsafe {
            check(libc::posix_spawnattr_setflags(&mut attr.0, flags as _))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            check(libc::posix_spawnattr_setsigmask(
                &mut attr.0,
                sigmask.as_ref(),
            ))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &sigdef))?;
        }
        Ok(attr)
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// A `posix_spawn_file_actions_t`.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<FileActions> {
        let mut raw = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        // SAFETY: init fills the object it is given.
        check(unsafe { libc::posix_spawn_file_actions_init(raw.as_mut_ptr()) })?;
        // SAFETY: initialised just above; from here `Drop` destroys it.
        Ok(FileActions(unsafe { raw.assume_init() }))
    }

    /// The child changes to `dir` before exec (glibc 2.29, musl 1.1.24).
    fn chdir(&mut self, dir: &CStr) -> io::Result<()> {
        // SAFETY: initialised; the C library copies the path.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut self.0, dir.as_ptr()) })
    }

    /// The child changes to the open directory `dir` before exec (the
    /// same C library versions). `dir` must stay open until the spawn.
    fn fchdir(&mut self, dir: BorrowedFd) -> io::Result<()> {
        // SAFETY: initialised; the descriptor is open for the spawn.
        check(unsafe { libc::posix_spawn_file_actions_addfchdir_np(&mut self.0, dir.as_raw_fd()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// The signals set to their default action in the child: SIGPIPE (README,
/// "Signals"), and those of the C library's own signals (from 32 below
/// SIGRTMIN: glibc 32 and 33, musl 32 to 34) that are at their default in
/// drainit, i.e. were so in the caller. glibc's posix_spawn sets its two to
/// "ignore" in the child unless this set names them (`__spawni_child`);
/// musl leaves its own as they are. glibc's `sigaddset` refuses them, so
/// their bits are set by hand, where both C libraries keep them: bit
/// `n - 1` of an array of unsigned longs.
fn default_dispositions() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: initialised just above.
    let mut set = unsafe { set.assume_init() };
    // SAFETY: `set` is initialised and SIGPIPE a valid signal.
    unsafe { libc::sigaddset(&mut set, libc::SIGPIPE) };
    const WORD_BITS: usize = libc::c_ulong::BITS as usize;
    let words = ptr::from_mut(&mut set).cast::<libc::c_ulong>();
    for sig in (32..libc::SIGRTMIN()).filter(|&sig| is_default(sig)) {
        let Ok(bit) = usize::try_from(sig - 1) else {
            continue;
        };
        // SAFETY: `sigset_t` is an array of unsigned longs in both C
        // libraries, far longer than SIGRTMIN bits.
        unsafe { *words.add(bit / WORD_BITS) |= 1 << (bit % WORD_BITS) };
    }
    set
}

/// Whether drainit's disposition of `sig` is SIG_DFL. A raw rt_sigaction:
/// the C libraries' wrappers refuse their own signals.
fn is_default(sig: libc::c_int) -> bool {
    // The kernel's struct sigaction (handler, flags, restorer, mask) is
    // four words on x86-64 and aarch64; the handler comes first.
    let mut old = [0 as libc::c_ulong; 4];
    // SAFETY: no new action; `old` has room for the kernel's struct and
    // the mask size is the kernel's (8 bytes).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            ptr::null::<libc::c_void>(),
            old.as_mut_ptr(),
            size_of::<u64>(),
        )
    };
    rc == 0 && old[0] == libc::SIG_DFL as libc::c_ulong
}

/// The C convention of posix_spawn's calls: 0 or an error number.
fn check(rc: libc::c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// `strings` as the NULL-terminated pointer array exec takes.
fn null_terminated<'a>(strings: impl Iterator<Item = &'a CStr>) -> Vec<*mut libc::c_char> {
    strings
        .map(|s| s.as_ptr().cast_mut())
        .chain([ptr::null_mut()])
        .collect()
}

fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}
