//! The process entry, ahead of the C library: blocks the handled signals
//! with one system call as the very first instructions, then jumps to the
//! C library's `_start`.
//!
//! As PID 1, a signal with the default disposition is dropped by the
//! kernel, so a stop signal sent between exec and the block is lost and the
//! container hangs until SIGKILL. The C library's start-up before `main`
//! (static glibc: 13 system calls; both: the first page faults of its code
//! and data) is most of that window: a TERM sent as soon as
//! `/proc/PID/exe` shows the init was lost in about 40 of 100 runs for a C
//! program that blocks first thing in `main`, and in about 10 for one that
//! blocks at its entry (README, "Benchmarks").
//!
//! build.rs links the drainit binary with `--entry=drainit_entry`, in
//! every build; `main` blocks the whole set again first thing (the unit
//! tests' harness enters at `_start`).

use std::ptr;

/// The signals blocked at entry: every signal drainit waits for
/// (`Signal::all_waited`) but those from 32 to 34, which belong to the
/// C library (glibc keeps 32 and 33, musl 32 to 34), bit `n - 1` for
/// signal `n`. `main` blocks the rest of the set (glibc's 34) a moment later.
const EARLY_SET: u64 = {
    // KILL and STOP (cannot be blocked), and the C library's own. Fault
    // signals are blocked too: one sent by `kill` is forwarded, and a real
    // fault still ends drainit (the kernel forces it through the mask).
    let kept = [9, 19, 32, 33, 34];
    let mut set = u64::MAX;
    let mut i = 0;
    while i < kept.len() {
        set &= !(1 << (kept[i] - 1));
        i += 1;
    }
    set
};

/// The mask drainit was started with, stored by `drainit_entry`.
/// `u64::MAX` until then: no real mask has KILL and STOP blocked.
static mut DRAINIT_INHERITED_MASK: u64 = u64::MAX;

// rt_sigprocmask(SIG_BLOCK, &set, &old, 8) with both sets on the stack,
// which the kernel has just written (argv), so that no page fault stands
// before the block; then `old` is stored in DRAINIT_INHERITED_MASK and the
// C library's `_start` runs with the stack pointer and its argument
// register (rdx, x0) as the kernel set them up. The call cannot fail: the
// sets are readable and writable, SIG_BLOCK and the size 8 are valid.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".globl drainit_entry",
    ".type drainit_entry, @function",
    "drainit_entry:",
    "push rdx",
    "sub rsp, 16",
    "mov rax, {set}",
    "mov [rsp + 8], rax",
    "mov eax, {rt_sigprocmask}",
    "xor edi, edi",
    "lea rsi, [rsp + 8]",
    "mov rdx, rsp",
    "mov r10d, 8",
    "syscall",
    "mov rax, [rsp]",
    "mov [rip + {old}], rax",
    "add rsp, 16",
    "pop rdx",
    "jmp _start",
    rt_sigprocmask = const libc::SYS_rt_sigprocmask,
    set = const EARLY_SET,
    old = sym DRAINIT_INHERITED_MASK,
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".globl drainit_entry",
    ".type drainit_entry, %function",
    "drainit_entry:",
    "mov x9, x0",
    "sub sp, sp, #16",
    "movz x10, #{set0}",
    "movk x10, #{set1}, lsl #16",
    "movk x10, #{set2}, lsl #32",
    "movk x10, #{set3}, lsl #48",
    "str x10, [sp, #8]",
    "mov x8, #{rt_sigprocmask}",
    "mov x0, #0",
    "add x1, sp, #8",
    "mov x2, sp",
    "mov x3, #8",
    "svc #0",
    "ldr x10, [sp]",
    "adrp x11, {old}",
    "str x10, [x11, :lo12:{old}]",
    "add sp, sp, #16",
    "mov x0, x9",
    "b _start",
    rt_sigprocmask = const libc::SYS_rt_sigprocmask,
    set0 = const EARLY_SET & 0xffff,
    set1 = const (EARLY_SET >> 16) & 0xffff,
    set2 = const (EARLY_SET >> 32) & 0xffff,
    set3 = const EARLY_SET >> 48,
    old = sym DRAINIT_INHERITED_MASK,
);

/// The mask drainit was started with, when it entered at `drainit_entry`.
pub fn inherited_mask() -> Option<libc::sigset_t> {
    // SAFETY: written once by the kernel before any Rust code ran; only
    // read afterwards.
    let bits = unsafe { ptr::addr_of!(DRAINIT_INHERITED_MASK).read_volatile() };
    if bits == u64::MAX {
        return None;
    }
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: the first word of both C libraries' `sigset_t` holds signals
    // 1 to 64, bit `n - 1` for signal `n`, as the kernel's does.
    unsafe { set.as_mut_ptr().cast::<u64>().write(bits) };
    // SAFETY: initialised above.
    Some(unsafe { set.assume_init() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Signal;

    #[test]
    fn the_early_set_is_what_drainit_waits_for_but_the_c_librarys_signals() {
        let waited: u64 = Signal::all_waited()
            .map(|s| 1u64 << (s.raw() - 1))
            .filter(|&bit| bit & (0b111 << 31) == 0)
            .sum();
        assert_eq!(EARLY_SET, waited);
    }
}
