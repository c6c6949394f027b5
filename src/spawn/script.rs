//! The fallback for a command the kernel cannot execute (ENOEXEC, a script
//! without `#!`): execvp(3), tini and shells run it with /bin/sh, and so
//! does drainit.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The file execvp(3) runs for `program`: the program itself when it
/// names a path, else the first executable `DIR/program` along PATH.
pub fn find_in_path(program: &CStr) -> Option<CString> {
    if program.to_bytes().contains(&b'/') {
        return Some(program.to_owned());
    }
    // glibc's default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(OsStr::from_bytes(program.to_bytes())))
        .find(|file| nix::unistd::access(file, nix::unistd::AccessFlags::X_OK).is_ok())
        .and_then(|file| CString::new(file.as_os_str().as_bytes()).ok())
}
