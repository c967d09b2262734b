//! bigint: a 256-bit integer workload on the 256-bit intrinsics (every operation and `beq256`).
//!
//! Input: one 4-byte record (little-endian u32): the number of iterations `n`. Starting from
//! `x = X0`, `y = Y0`, `acc = 0` (see below), each iteration `i` computes, modulo 2^256:
//!
//! ```text
//! t = x * y;  x = t + y;  s = (i * 37) mod 512 (as a 256-bit value; shifts use its low byte)
//! y = (x >> s) ^ (t << s)
//! y = if x <s y (signed) { y - x } else { y | (x & t) }
//! acc = acc + (t >>a s) (arithmetic) + (x <u y);  if x == y { acc = acc ^ x }
//! ```
//!
//! Output: `acc` as public-value words 0..8. Exit code 0.
#![no_std]
#![no_main]

use rvx_intrinsics::{op, u256_eq, u256_op, U256};

rvx_guest::entry!(main);

/// The starting values: bytes `i * 0x1d + 1` and `0xff - i * 0x0b` (mod 256).
fn start() -> (U256, U256) {
    let mut x = U256::default();
    let mut y = U256::default();
    for i in 0..32u8 {
        x.0[i as usize] = i.wrapping_mul(0x1d).wrapping_add(1);
        y.0[i as usize] = 0xffu8.wrapping_sub(i.wrapping_mul(0x0b));
    }
    (x, y)
}

fn main() {
    let n = rvx_guest::read_u32();
    let (mut x, mut y) = start();
    let mut acc = U256::default();
    for i in 0..n {
        let t = u256_op::<{ op::MUL }>(&x, &y);
        x = u256_op::<{ op::ADD }>(&t, &y);
        let mut s = U256::default();
        s.0[..4].copy_from_slice(&(i.wrapping_mul(37) % 512).to_le_bytes());
        y = u256_op::<{ op::XOR }>(
            &u256_op::<{ op::SRL }>(&x, &s),
            &u256_op::<{ op::SLL }>(&t, &s),
        );
        let lt = u256_op::<{ op::SLT }>(&x, &y);
        y = if lt.0[0] == 1 {
            u256_op::<{ op::SUB }>(&y, &x)
        } else {
            u256_op::<{ op::OR }>(&y, &u256_op::<{ op::AND }>(&x, &t))
        };
        acc = u256_op::<{ op::ADD }>(&acc, &u256_op::<{ op::SRA }>(&t, &s));
        acc = u256_op::<{ op::ADD }>(&acc, &u256_op::<{ op::SLTU }>(&x, &y));
        if u256_eq(&x, &y) {
            acc = u256_op::<{ op::XOR }>(&acc, &x);
        }
    }
    for (i, word) in acc.0.chunks_exact(4).enumerate() {
        rvx_guest::reveal_u32(u32::from_le_bytes(word.try_into().unwrap()), i);
    }
}
