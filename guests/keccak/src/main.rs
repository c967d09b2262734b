//! keccak: Keccak-256 (with the `xorin` and `keccakf` intrinsics) of a generated buffer, many
//! times over.
//!
//! Input: two 4-byte records (little-endian u32): the buffer length `len` and the number of
//! rounds. The buffer's byte `i` is `(i * 0x9e3779b1) >> 24`; each round XORs the previous
//! digest (zero at first) into the buffer's first `min(32, len)` bytes and hashes the whole
//! buffer. Output: the last digest as public-value words 0..8. Exit code 0.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use rvx_intrinsics::keccak256;

rvx_guest::entry!(main);

fn main() {
    let len = rvx_guest::read_u32() as usize;
    let rounds = rvx_guest::read_u32();
    let mut buffer: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(0x9e37_79b1) >> 24) as u8)
        .collect();
    let mut digest = [0u8; 32];
    for _ in 0..rounds {
        for (b, d) in buffer.iter_mut().zip(digest) {
            *b ^= d;
        }
        digest = keccak256(&buffer);
    }
    for (i, word) in digest.chunks_exact(4).enumerate() {
        rvx_guest::reveal_u32(u32::from_le_bytes(word.try_into().unwrap()), i);
    }
}
