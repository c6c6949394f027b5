//! The ELF header of a built binary: its machine, and whether it is a
//! plain static executable.

use std::path::Path;

/// What the ELF header and program headers say about a binary.
#[derive(Debug, PartialEq, Eq)]
pub struct Elf {
    /// `e_machine`: 62 for x86-64, 183 for aarch64.
    pub machine: u16,
    /// `ET_EXEC` (2): a plain executable, not a (static-)PIE.
    pub kind: u16,
    /// A `PT_INTERP` or `PT_DYNAMIC` header: it needs a loader.
    pub dynamic: bool,
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
