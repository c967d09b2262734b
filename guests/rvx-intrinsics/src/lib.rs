//! The Keccak, SHA-2 and 256-bit integer intrinsics (custom-0, see `shared/ISA.md`), and the
//! hashes built on them.
//!
//! | function | instruction | encoding |
//! |---|---|---|
//! | [`keccakf`] | keccakf | `.insn r 0x0b, 4, 0, rd, x0, x0` |
//! | [`xorin`] | xorin | `.insn r 0x0b, 4, 1, rd, rs1, rs2` |
//! | [`sha256_update`] | sha256_update | `.insn r 0x0b, 4, 2, rd, rs1, rs2` |
//! | [`sha512_update`] | sha512_update | `.insn r 0x0b, 4, 3, rd, rs1, rs2` |
//! | [`u256_op`] | add .. mul (funct7 0..10) | `.insn r 0x0b, 5, F, rd, rs1, rs2` |
//! | [`u256_eq`] | beq256 | `.insn b 0x0b, 6, rs1, rs2, label` |

#![no_std]
#![deny(missing_docs)]

use core::arch::asm;

/// A 200-byte Keccak state, aligned for word access.
#[repr(C, align(8))]
pub struct KeccakState(pub [u8; 200]);

/// keccak-f[1600] on `state` in place.
#[inline(always)]
pub fn keccakf(state: &mut KeccakState) {
    // SAFETY: keccakf reads and writes exactly the 200 bytes of `state`.
    unsafe {
        asm!(".insn r 0x0b, 4, 0, {s}, x0, x0", s = in(reg) state.0.as_mut_ptr(), options(nostack))
    }
}

/// XORs `input` (at most 136 bytes, a multiple of 4) into the start of `state`.
#[inline(always)]
pub fn xorin(state: &mut KeccakState, input: &[u8]) {
    assert!(input.len() % 4 == 0 && input.len() <= 136);
    // SAFETY: xorin reads `input.len()` bytes of `input` and updates as many of `state`.
    unsafe {
        asm!(
            ".insn r 0x0b, 4, 1, {s}, {i}, {n}",
            s = in(reg) state.0.as_mut_ptr(),
            i = in(reg) input.as_ptr(),
            n = in(reg) input.len(),
            options(nostack)
        )
    }
}

/// Keccak-256 of `message`.
pub fn keccak256(message: &[u8]) -> [u8; 32] {
    let mut state = KeccakState([0; 200]);
    let mut chunks = message.chunks_exact(136);
    for block in &mut chunks {
        xorin(&mut state, block);
        keccakf(&mut state);
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 136];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] ^= 0x01;
    last[135] ^= 0x80;
    xorin(&mut state, &last);
    keccakf(&mut state);
    let mut out = [0u8; 32];
    out.copy_from_slice(&state.0[..32]);
    out
}

/// One SHA-256 compression of `block` into `state` (words as stored in memory).
#[inline(always)]
pub fn sha256_update(state: &mut [u32; 8], block: &[u8; 64]) {
    // SAFETY: reads the 32 state bytes and 64 block bytes, writes the 32 state bytes.
    unsafe {
        asm!(
            ".insn r 0x0b, 4, 2, {d}, {d}, {b}",
            d = in(reg) state.as_mut_ptr(),
            b = in(reg) block.as_ptr(),
            options(nostack)
        )
    }
}

/// One SHA-512 compression of `block` into `state`.
#[inline(always)]
pub fn sha512_update(state: &mut [u64; 8], block: &[u8; 128]) {
    // SAFETY: reads the 64 state bytes and 128 block bytes, writes the 64 state bytes.
    unsafe {
        asm!(
            ".insn r 0x0b, 4, 3, {d}, {d}, {b}",
            d = in(reg) state.as_mut_ptr(),
            b = in(reg) block.as_ptr(),
            options(nostack)
        )
    }
}

/// Compresses `message` with its SHA-2 padding (`B`-byte blocks, `L`-byte length field).
fn sha2_blocks<const B: usize, const L: usize>(message: &[u8], mut compress: impl FnMut(&[u8; B])) {
    let mut chunks = message.chunks_exact(B);
    for block in &mut chunks {
        compress(block.try_into().unwrap());
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 256];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let blocks = if rest.len() + 1 + L <= B { 1 } else { 2 };
    let bits = (message.len() as u128) * 8;
    let end = blocks * B;
    tail[end - L..end].copy_from_slice(&bits.to_be_bytes()[16 - L..]);
    for b in 0..blocks {
        compress(tail[b * B..(b + 1) * B].try_into().unwrap());
    }
}

/// SHA-256 of `message`.
pub fn sha256(message: &[u8]) -> [u8; 32] {
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    sha2_blocks::<64, 8>(message, |block| sha256_update(&mut state, block));
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// SHA-512 of `message`.
pub fn sha512(message: &[u8]) -> [u8; 64] {
    let mut state: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    sha2_blocks::<128, 16>(message, |block| sha512_update(&mut state, block));
    let mut out = [0u8; 64];
    for (o, w) in out.chunks_exact_mut(8).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// A 256-bit integer: 32 little-endian bytes, word-aligned.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(C, align(8))]
pub struct U256(pub [u8; 32]);

/// The 256-bit operations (funct7 of custom-0 funct3 101).
#[allow(missing_docs)]
pub mod op {
    pub const ADD: u32 = 0;
    pub const SUB: u32 = 1;
    pub const XOR: u32 = 2;
    pub const OR: u32 = 3;
    pub const AND: u32 = 4;
    pub const SLL: u32 = 5;
    pub const SRL: u32 = 6;
    pub const SRA: u32 = 7;
    pub const SLT: u32 = 8;
    pub const SLTU: u32 = 9;
    pub const MUL: u32 = 10;
}

/// `a OP b` for the 256-bit operation `OP` ([`op`]).
#[inline(always)]
pub fn u256_op<const OP: u32>(a: &U256, b: &U256) -> U256 {
    let mut out = U256::default();
    // SAFETY: reads the 32 bytes of `a` and `b`, writes the 32 bytes of `out`.
    unsafe {
        asm!(
            ".insn r 0x0b, 5, {f}, {d}, {a}, {b}",
            f = const OP,
            d = in(reg) out.0.as_mut_ptr(),
            a = in(reg) a.0.as_ptr(),
            b = in(reg) b.0.as_ptr(),
            options(nostack)
        )
    }
    out
}

/// `a == b`, with `beq256`.
#[inline(always)]
pub fn u256_eq(a: &U256, b: &U256) -> bool {
    let equal: u32;
    // SAFETY: beq256 reads the 32 bytes of `a` and `b`; the rest is register moves.
    unsafe {
        asm!(
            ".insn b 0x0b, 6, {a}, {b}, 2f",
            "li {r}, 0",
            "j 3f",
            "2:",
            "li {r}, 1",
            "3:",
            a = in(reg) a.0.as_ptr(),
            b = in(reg) b.0.as_ptr(),
            r = out(reg) equal,
            options(nostack, readonly)
        )
    }
    equal != 0
}
