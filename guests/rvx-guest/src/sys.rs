//! The raw custom-0 (opcode `0x0b`) system and IO instructions, one function each.
//!
//! All are I-type: `.insn i 0x0b, FUNCT3, rd, rs1, imm`.
//!
//! | function | funct3 | imm | rd | rs1 |
//! |---|---|---|---|---|
//! | [`terminate`] | 0 | exit code | x0 | x0 |
//! | [`hint_store_u32`] (hintstorew) | 1 | 0 | destination address | x0 |
//! | [`hint_buffer_u32`] (hintbuffer) | 1 | 1 | destination address | number of words |
//! | [`reveal`] | 2 | 0 | public-values byte offset | value |
//! | [`hint_input`] (hintinput) | 3 | 0 | x0 | x0 |
//! | [`print_str`] (printstr) | 3 | 1 | address | length in bytes |
//! | [`hint_random`] (hintrandom) | 3 | 2 | number of words | x0 |

use core::arch::asm;

/// `terminate` with exit code `CODE` (imm = `CODE`): stops the program.
#[inline(always)]
pub fn terminate<const CODE: u8>() -> ! {
    // SAFETY: terminate ends execution; it reads and writes no memory.
    unsafe {
        asm!(
            ".insn i 0x0b, 0, x0, x0, {code}",
            code = const CODE,
            options(noreturn, nomem, nostack),
        )
    }
}

/// `hintstorew`: pops 4 bytes from the hint stream and stores them at `dst` (no alignment
/// requirement).
///
/// # Safety
/// `dst` must be valid for a 4-byte write.
#[inline(always)]
pub unsafe fn hint_store_u32(dst: *mut u32) {
    // SAFETY: the caller guarantees dst is writable for 4 bytes.
    unsafe {
        asm!(
            ".insn i 0x0b, 1, {dst}, x0, 0",
            dst = in(reg) dst,
            options(nostack),
        )
    }
}

/// `hintbuffer`: pops `4*words` bytes from the hint stream into `dst[0..words]`.
///
/// # Safety
/// `words` must be in `1..=1023` and `dst` valid for writes of `words` `u32`s.
#[inline(always)]
pub unsafe fn hint_buffer_u32(dst: *mut u32, words: usize) {
    // SAFETY: the caller guarantees the length range and that dst is writable.
    unsafe {
        asm!(
            ".insn i 0x0b, 1, {dst}, {n}, 1",
            dst = in(reg) dst,
            n = in(reg) words,
            options(nostack),
        )
    }
}

/// `reveal`: writes `value` at public-values byte offset `byte_offset` (a multiple of 4, inside
/// the public values).
#[inline(always)]
pub fn reveal(value: u32, byte_offset: u32) {
    // SAFETY: reveal writes only the host-side public values, not guest memory.
    unsafe {
        asm!(
            ".insn i 0x0b, 2, {off}, {val}, 0",
            off = in(reg) byte_offset,
            val = in(reg) value,
            options(nostack, preserves_flags),
        )
    }
}

/// `hintinput`: pops the next input record; the hint stream becomes its length (u32 LE), the
/// record, and zero padding to a multiple of 4 bytes.
#[inline(always)]
pub fn hint_input() {
    // SAFETY: hintinput changes only the host-side streams.
    unsafe {
        asm!(
            ".insn i 0x0b, 3, x0, x0, 0",
            options(nostack, preserves_flags)
        )
    }
}

/// `printstr`: prints `bytes` (UTF-8) on the host's output.
#[inline(always)]
pub fn print_str(bytes: &[u8]) {
    // SAFETY: printstr only reads bytes.len() bytes at bytes.as_ptr(), which are valid.
    unsafe {
        asm!(
            ".insn i 0x0b, 3, {ptr}, {len}, 1",
            ptr = in(reg) bytes.as_ptr(),
            len = in(reg) bytes.len(),
            options(nostack, readonly, preserves_flags),
        )
    }
}

/// `hintrandom`: the hint stream becomes `4*words` bytes from the host's rng.
#[inline(always)]
pub fn hint_random(words: usize) {
    // SAFETY: hintrandom changes only the host-side streams and rng.
    unsafe {
        asm!(
            ".insn i 0x0b, 3, {n}, x0, 2",
            n = in(reg) words,
            options(nostack, preserves_flags),
        )
    }
}
