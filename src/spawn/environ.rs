//! The environment of the child and the hook: drainit's own, entry by entry
//! as the C library holds it (no copies), plus the hook's variables.

use std::ffi::{CStr, CString};

/// drainit's environment with the `(NAME, value)` pairs of `extra` added,
/// each replacing an inherited entry of the same NAME. An entry that cannot
/// be a C string (a NUL inside) is left out.
pub fn with(extra: &[(&str, String)]) -> Environment {
    let added: Vec<CString> = extra
        .iter()
        .filter_map(|(name, value)| CString::new(format!("{name}={value}")).ok())
        .collect();
    Environment { added }
}

/// An environment for posix_spawn: the inherited entries not overridden,
/// then the added ones.
pub struct Environment {
    added: Vec<CString>,
}

impl Environment {
    /// Every entry, in the order the child will see them.
    pub fn entries<'a>(&'a self) -> impl Iterator<Item = &'a CStr> {
        inherited()
            .map(|entry| -> &'a CStr { entry })
            .filter(|entry| !self.added.iter().any(|e| name(e) == name(entry)))
            .chain(self.added.iter().map(CString::as_c_str))
    }
}

/// NAME of a `NAME=value` entry.
fn name(entry: &CStr) -> &[u8] {
    let bytes = entry.to_bytes();
    bytes.split(|&b| b == b'=').next().unwrap_or(bytes)
}

unsafe extern "C" {
    /// The process environment, environ(7); the libc crate declares it for
    /// glibc only.
    static environ: *const *const libc::c_char;
}

/// The entries of the C library's `environ`. drainit never changes its
/// own environment, so they live as long as drainit.
fn inherited() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: reads the pointer; `environ` is NULL or a NULL-terminated
    // array of C strings.
    let mut next = unsafe { environ };
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        // SAFETY: `next` points into that array, at most at its NULL end.
        let entry = unsafe { *next };
        if entry.is_null() {
            return None;
        }
        // SAFETY: not past the end, which comes later; `entry` is a C string.
        unsafe {
            next = next.add(1);
            Some(CStr::from_ptr(entry))
        }
    })
}
