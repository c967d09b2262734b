//! fibonacci: the speed benchmark guest.
//!
//! Input: one 8-byte record, `n` as a little-endian u64.
//! Output: `fib(n) mod 2^64` (fib(0) = 0, fib(1) = 1), low word revealed as public value 0, high
//! word as public value 1; prints `fib(n) = <value>`. Exit code 0.
#![no_std]
#![no_main]

extern crate alloc;

use rvx_guest::{print, read_u64, reveal_u32};

rvx_guest::entry!(main);

fn main() {
    let n = read_u64();
    let mut a: u64 = 0;
    let mut b: u64 = 1;
    for _ in 0..n {
        let c = a.wrapping_add(b);
        a = b;
        b = c;
    }
    reveal_u32(a as u32, 0);
    reveal_u32((a >> 32) as u32, 1);
    print(&alloc::format!("fib({n}) = {a}\n"));
}
