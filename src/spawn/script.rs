//! The fallback for a command the kernel cannot execute (ENOEXEC, a script
//! without `#!`): execvp(3), tini and shells run it with /bin/sh, and so
//! does drainit.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Dir;

/// The file execvp(3) runs for `program`: the program itself when it
/// names a path, else the first executable `DIR/program` along PATH. A
/// relative name is looked up from `dir`, where the program starts.
pub fn find_in_path(program: &CStr, dir: Dir) -> Option<CString> {
    if program.to_bytes().contains(&b'/') {
        return Some(program.to_owned());
    }
    // glibc's default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .map(|entry| entry.join(OsStr::from_bytes(program.to_bytes())))
        .find(|file| executable(file, dir))
        .and_then(|file| CString::new(file.as_os_str().as_bytes()).ok())
}

/// Whether `file` can be executed, a relative name taken from `dir`.
fn executable(file: &Path, dir: Dir) -> bool {
    let (at, file) = match dir {
        Dir::Inherited => (libc::AT_FDCWD, file.to_path_buf()),
        Dir::Path(dir) => (libc::AT_FDCWD, dir.join(file)),
        Dir::Open(fd) => (fd.as_raw_fd(), file.to_path_buf()),
    };
    let Ok(name) = CString::new(file.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; `at` is open or AT_FDCWD.
    unsafe { libc::faccessat(at, name.as_ptr(), libc::X_OK, 0) == 0 }
}
