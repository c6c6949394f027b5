//! Links the drainit binary to enter at `drainit_entry` (src/entry.rs),
//! which blocks the signals before the C library starts. Only that binary:
//! the examples and the test harnesses keep the C library's `_start`. The
//! gcc driver and rust-lld both take `--entry=`.
fn main() {
    println!("cargo:rustc-link-arg-bin=drainit=--entry=drainit_entry");
}
