//! Links the drainit binary to enter at `drainit_entry` (src/entry.rs),
//! which blocks the signals before the C library starts, and with the
//! code it never runs in a normal life laid out apart (`COLD`). Only that
//! binary: the examples and the test harnesses keep the C library's
//! `_start` and the default layout. The gcc driver and rust-lld both take
//! `--entry=` and `-T FILE`.

use std::path::PathBuf;

/// A linker script added to the default one (`INSERT`): the code an idle
/// drainit never runs goes after the rest of `.text`, in an output section
/// of its own. The kernel maps a binary's cached pages 64 KiB at a time
/// around each page fault ("fault-around"), so one function run in a
/// window of cold code makes the whole window resident: spread among the
/// hot code, std's backtrace printer (gimli, addr2line, miniz_oxide,
/// rustc-demangle), clap's help and error rendering and the health
/// options' code (HTTP, name lookup, readiness, liveness) kept every
/// window of `.text` resident (docs/benchmarks.md, "Memory").
///
/// Sections are matched by name (`-ffunction-sections`: `.text.SYMBOL`).
/// The generic code of `alloc` and `core` is claimed first, for the hot
/// side: the compiler merges identical instances, so one named after a
/// gimli type may be the one the hot code calls. The order is a matter of
/// resident memory only, never of behaviour.
const COLD: &str = "SECTIONS
{
  .text.shared : { *(.text.*5alloc* .text.*4core*) }
  .text.cold :
  {
    *(.text.*backtrace* .text.*gimli* .text.*addr2line* .text.*miniz_oxide* .text.*rustc_demangle*)
    *(.text.*clap_builder6output* .text.*clap_builder5error*)
    *(.text.*7drainit4http* .text.*7drainit7resolve* .text.*7drainit5ready* .text.*7drainit8liveness* .text.*8httparse*)
  }
}
INSERT AFTER .text;
";

fn main() {
    println!("cargo:rustc-link-arg-bin=drainit=--entry=drainit_entry");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let script = out.join("cold.ld");
    std::fs::write(&script, COLD).expect("write the linker script");
    println!("cargo:rustc-link-arg-bin=drainit=-T");
    println!("cargo:rustc-link-arg-bin=drainit={}", script.display());
    println!("cargo:rerun-if-changed=build.rs");
}
