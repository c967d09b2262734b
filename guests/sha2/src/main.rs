//! sha2: SHA-256 and SHA-512 (with the `sha256_update` and `sha512_update` intrinsics) of a
//! generated message, many times over.
//!
//! Input: two 4-byte records (little-endian u32): the message length `len` and the number of
//! rounds. The message's byte `i` is `(i * 0x9e3779b1) >> 24`; each round XORs the previous
//! SHA-256 digest (zero at first) into the message's first `min(32, len)` bytes, then hashes
//! it with both. Output (96 public-value bytes): the last SHA-256 digest as words 0..8, the
//! last SHA-512 digest as words 8..24. Exit code 0.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use rvx_intrinsics::{sha256, sha512};

rvx_guest::entry!(main);

fn main() {
    let len = rvx_guest::read_u32() as usize;
    let rounds = rvx_guest::read_u32();
    let mut message: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(0x9e37_79b1) >> 24) as u8)
        .collect();
    let mut d256 = [0u8; 32];
    let mut d512 = [0u8; 64];
    for _ in 0..rounds {
        for (b, d) in message.iter_mut().zip(d256) {
            *b ^= d;
        }
        d256 = sha256(&message);
        d512 = sha512(&message);
    }
    for (i, word) in d256.chunks_exact(4).chain(d512.chunks_exact(4)).enumerate() {
        rvx_guest::reveal_u32(u32::from_le_bytes(word.try_into().unwrap()), i);
    }
}
