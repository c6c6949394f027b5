//! The static builds: the musl one that ships, the static glibc fallback,
//! and what both owe the child: exactly the signal state it would have if
//! the caller had started it directly.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// What the ELF header and program headers say about a binary.
#[derive(Debug, PartialEq, Eq)]
pub struct Elf {
    /// `e_machine`: 62 for x86-64, 183 for aarch64.
    machine: u16,
    /// `ET_EXEC` (2): a plain executable, not a (static-)PIE.
    kind: u16,
    /// A `PT_INTERP` or `PT_DYNAMIC` header: it needs a loader.
    dynamic: bool,
}

/// Reads a 64-bit little-endian ELF file's header.
pub fn elf(path: &Path) -> Elf {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x7fELF\x02\x01", "not a 64-bit LE ELF file");
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36) as usize, u16_at(0x38) as usize);
    let dynamic = (0..phnum)
        .map(|i| u32_at(phoff + i * phentsize))
        .any(|p_type| p_type == 2 || p_type == 3);
    Elf {
        machine: u16_at(0x12),
        kind: u16_at(0x10),
        dynamic,
    }
}

const X86_64_STATIC: Elf = Elf {
    machine: 62,
    kind: 2,
    dynamic: false,
};

/// `drainit -- sh -c 'exit 3'` exits 3.
fn runs(drainit: &Path) {
    let status = Command::new(drainit)
        .args(["--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn the_shipped_build_is_the_static_musl_one_and_runs() {
    let drainit = static_binary(Build::Shipped, &[]);
    assert!(
        drainit.ends_with("target/x86_64-unknown-linux-musl/release/drainit"),
        "{drainit:?}"
    );
    assert_eq!(elf(&drainit), X86_64_STATIC);
    runs(&drainit);
}

#[test]
fn without_the_musl_target_the_script_says_so_once_and_builds_static_glibc() {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-static.sh"
    ))
    .env("DRAINIT_BUILD_FORCE_GLIBC", "1")
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "build-static.sh: building the static glibc drainit instead of the musl one \
         (DRAINIT_BUILD_FORCE_GLIBC=1)\n"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let drainit = Path::new(stdout.trim());
    assert!(
        drainit.ends_with("target/x86_64-unknown-linux-gnu/release/drainit"),
        "{stdout}"
    );
    assert_eq!(elf(drainit), X86_64_STATIC);
    runs(drainit);
}

/// The SigBlk and SigIgn lines of a program the fixture's `with-signals`
/// starts directly with that state: the reference.
fn direct_state(blocked: &str, ignored: &str) -> Vec<String> {
    let out = Command::new(fixture())
        .args(["with-signals", blocked, ignored])
        .args(["grep", "^Sig[BI]", "/proc/self/status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The child and the drain hook of `drainit` get exactly the direct
/// state, signals 32 and 33 (glibc's own) included: with a clean caller,
/// and with one that blocks and ignores signals, 32 and 33 among them. SIGPIPE is not in the
/// lists: the child always gets it at its default (README, "Signals").
fn child_and_hook_start_as_if_started_directly(drainit: &Path) {
    let rt2 = (libc::SIGRTMIN() + 2).to_string();
    let callers = [
        ("-".to_string(), "-".to_string()),
        (format!("10,2,{rt2}"), "1,12,32,33".to_string()),
    ];
    let grep = "grep '^Sig[BI]' /proc/self/status";
    for (blocked, ignored) in callers {
        let want = direct_state(&blocked, &ignored);
        let wrapper = vec![fixture(), "with-signals".into(), blocked, ignored];
        let start = || Start {
            wrapper: wrapper.clone(),
            drainit: Some(drainit.to_path_buf()),
            ..Start::default()
        };
        let direct = ["--", "grep", "^Sig[BI]", "/proc/self/status"];
        let d = Drainit::start_with(Mode::Subreaper, &direct, start());
        assert_eq!(d.rest(), want, "child of {drainit:?}");
        assert_eq!(d.exit_code(), 0);

        let f = fixture();
        let args = ["--drain-exec", grep, "--", &f, "child", "--exit-on", "15=0"];
        let d = Drainit::start_with(Mode::Subreaper, &args, start());
        d.ready();
        d.signal(libc::SIGTERM);
        let hook: Vec<String> = (0..2)
            .map(|_| d.expect("a status line", |l| l.starts_with("Sig")))
            .collect();
        assert_eq!(hook, want, "hook of {drainit:?}");
        assert_eq!(d.exit_code(), 0);
    }
}

#[test]
fn musl_child_and_hook_start_with_the_callers_signal_state() {
    child_and_hook_start_as_if_started_directly(&static_binary(Build::Shipped, &[]));
}

#[test]
fn glibc_child_and_hook_start_with_the_callers_signal_state() {
    child_and_hook_start_as_if_started_directly(&static_binary(Build::Glibc, &[]));
}
