//! io: exercises every system/IO instruction (hintinput, hintstorew, hintbuffer, printstr,
//! hintrandom, reveal with imm 0 and imm 4, terminate with a data-dependent exit code).
//!
//! Input: exactly two records, of any length (0 allowed).
//! - record 1 is read with `read_vec` (hintinput, hintstorew for the length, hintbuffer for the
//!   body in chunks of at most 1023 words);
//! - record 2 is read word by word with hintstorew only.
//!
//! Printed (one printstr): `rvx io guest: record lengths L1 and L2\n` (decimal).
//!
//! Public values (u32 words, little-endian):
//! - 0: length of record 1 in bytes
//! - 1: length of record 2 in bytes
//! - 2: FNV-1a-32 of record 1 (offset basis 0x811c9dc5, prime 0x01000193; 0x811c9dc5 if empty)
//! - 3: FNV-1a-32 of record 2
//! - 4..=7: random words 0..=3 from one `hintrandom` of 4 words (word i = LE u32 of rng bytes
//!   4i..4i+4); word 7 is written with `reveal` x[rd] = 24, imm = 4.
//!
//! Exit code: the first byte of record 1 (any value 0..=255, via `rvx_guest::exit`), or 0 if record
//! 1 is empty. All public values are revealed before terminating.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::{format, vec::Vec};
use core::arch::asm;
use rvx_guest::{exit, hint_random_words, print, read_hint_word, read_vec, reveal_u32, sys};

rvx_guest::entry!(main);

fn fnv1a32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Reads the next input record with hintstorew only (one instruction per word).
fn read_vec_by_words() -> Vec<u8> {
    sys::hint_input();
    let len = read_hint_word() as usize;
    let words = len.div_ceil(4);
    let mut v: Vec<u8> = Vec::with_capacity(words * 4);
    let p = v.as_mut_ptr();
    for i in 0..words {
        // SAFETY: word i lies inside the allocated capacity (words * 4 bytes).
        unsafe { sys::hint_store_u32(p.add(4 * i).cast::<u32>()) };
    }
    // SAFETY: the first len <= words*4 bytes were written above.
    unsafe { v.set_len(len) };
    v
}

fn main() {
    let r1 = read_vec();
    let r2 = read_vec_by_words();
    print(&format!(
        "rvx io guest: record lengths {} and {}\n",
        r1.len(),
        r2.len()
    ));
    let rnd = hint_random_words(4);

    reveal_u32(r1.len() as u32, 0);
    reveal_u32(r2.len() as u32, 1);
    reveal_u32(fnv1a32(&r1), 2);
    reveal_u32(fnv1a32(&r2), 3);
    reveal_u32(rnd[0], 4);
    reveal_u32(rnd[1], 5);
    reveal_u32(rnd[2], 6);
    // Public-value word 7 through a non-zero reveal immediate: offset x[rd] + imm = 24 + 4.
    // SAFETY: reveal touches only the host's public values.
    unsafe {
        asm!(
            ".insn i 0x0b, 2, {off}, {val}, 4",
            off = in(reg) 24u32,
            val = in(reg) rnd[3],
            options(nostack, preserves_flags),
        )
    };

    match r1.first() {
        Some(&code) if code != 0 => exit(code),
        _ => {}
    }
}
