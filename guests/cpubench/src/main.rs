//! cpubench: a plain RV32IM CPU benchmark (sorting, matrix multiply, hashing, branchy code, an
//! interpreter, loads and stores); the workload itself is in `workload.rs`, shared with the host.
//!
//! Input: one 4-byte record, the scale (number of repetitions) as a little-endian u32.
//! Output: the 8 words of `workload::run(scale)` as public values 0..8. Exit code 0.
#![no_std]
#![no_main]

mod workload;

rvx_guest::entry!(main);

fn main() {
    let scale = rvx_guest::read_u32();
    let out = workload::run(scale);
    for (i, w) in out.iter().enumerate() {
        rvx_guest::reveal_u32(*w, i);
    }
}
