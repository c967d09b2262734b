//! The cpubench workload: plain integer code (RV32IM on the guest) that exercises sorting,
//! matrix multiplication, hashing, branchy control flow, a switch-dispatched bytecode
//! interpreter, and byte/word loads and stores.
//!
//! This file is shared: the `cpubench` guest runs it, and the rvx host crate includes it with
//! `#[path = ".../guests/cpubench/src/workload.rs"] mod workload;` to compute the expected public
//! values and to run it as a native benchmark. It therefore uses nothing but `core` (no `std`, no
//! `alloc`, no guest APIs, no inner attributes), allocates nothing (fixed-size arrays on the
//! stack), and its results never depend on the width of `usize`.
//!
//! `run(scale)` repeats the whole workload `scale` times, each repetition on different data.
//! Cost on the guest: about 5.2 million RV32IM instructions per repetition (the default benchmark
//! scale is 10, about 52 million instructions). `run(0)` returns the initial mixing state.

/// Number of u32 elements sorted in each repetition.
const SORT_N: usize = 4096;
/// Side of the square matrices multiplied in each repetition.
const MAT_N: usize = 40;
/// Bytes hashed in each repetition.
const HASH_BYTES: usize = 8192;
/// Size of the sieve of Eratosthenes.
const SIEVE_N: usize = 16384;
/// Collatz starting values per repetition.
const COLLATZ_N: u32 = 1000;
/// Length of the permutation walked by the pointer chase.
const CHASE_N: usize = 2048;
/// Dependent loads made by the pointer chase.
const CHASE_STEPS: u32 = 32768;
/// Loop iterations of the bytecode program (plus up to 255).
const BYTECODE_ITERS: u32 = 4000;

/// Runs the workload `scale` times and returns 8 result words (the cpubench guest reveals them as
/// public values 0..8):
///
/// 0. checksum of the quicksorted arrays;
/// 1. checksum of the heapsorted arrays (equal to word 0 only if both sorts agree, plus
///    a sortedness check folded in);
/// 2. checksum of the matrix products;
/// 3. low word of SipHash-2-4 over the hashed buffers;
/// 4. high word of that SipHash, xor FNV-1a-32 of the same buffers;
/// 5. Collatz step totals;
/// 6. sieve prime counts mixed with the bytecode interpreter's results;
/// 7. pointer-chase and run-length-coding checksums.
pub fn run(scale: u32) -> [u32; 8] {
    let mut out: [u32; 8] = [
        0x243f_6a88,
        0x85a3_08d3,
        0x1319_8a2e,
        0x0370_7344,
        0xa409_3822,
        0x299f_31d0,
        0x082e_fa98,
        0xec4e_6c89,
    ];
    let mut rep: u32 = 0;
    while rep < scale {
        let seed = mix32(rep.wrapping_mul(0x9e37_79b9) ^ 0x7f4a_7c15);

        // Sorting: the same random array sorted twice, by quicksort and by heapsort.
        let mut a = [0u32; SORT_N];
        fill_random(&mut a, seed);
        let mut b = a;
        quicksort(&mut a);
        heapsort(&mut b);
        let qa = checksum_words(&a);
        let mut hb = checksum_words(&b);
        if !is_sorted(&b) || a != b {
            hb ^= 0xdead_beef;
        }
        fold(&mut out[0], qa);
        fold(&mut out[1], hb);

        // Matrix multiplication.
        fold(&mut out[2], matmul_bench(seed ^ 0x5bd1_e995));

        // Hashing: SipHash-2-4 and FNV-1a over a buffer built from the sorted array.
        let mut buf = [0u8; HASH_BYTES];
        let mut i = 0;
        while i < HASH_BYTES {
            let w = a[(i / 4) % SORT_N] ^ (i as u32).wrapping_mul(0x0101_0101);
            buf[i..i + 4].copy_from_slice(&w.to_le_bytes());
            i += 4;
        }
        let sip = siphash24(
            seed as u64 | ((rep as u64) << 32),
            0x0706_0504_0302_0100,
            &buf,
        );
        fold(&mut out[3], sip as u32);
        fold(&mut out[4], (sip >> 32) as u32 ^ fnv1a32(&buf));

        // Branchy code.
        fold(&mut out[5], collatz_total(1 + (seed & 0xffff), COLLATZ_N));
        let primes = sieve_count(SIEVE_N - (seed as usize & 0x3ff));
        let vm = bytecode_run(seed, BYTECODE_ITERS + (seed & 0xff));
        fold(&mut out[6], primes ^ vm);

        // Loads and stores.
        let chase = pointer_chase(seed, CHASE_STEPS);
        let rle = rle_roundtrip(&buf, seed);
        fold(&mut out[7], chase ^ rle.rotate_left(16));

        rep += 1;
    }
    out
}

/// Mixes `v` into the accumulator `acc`.
#[inline]
fn fold(acc: &mut u32, v: u32) {
    *acc = mix32(acc.rotate_left(5) ^ v).wrapping_add(v);
}

/// A 32-bit integer hash finalizer (murmur3's fmix32).
#[inline]
fn mix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// One step of the xorshift32 generator (never returns 0 for a non-zero state).
#[inline]
fn xorshift32(s: &mut u32) -> u32 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    x
}

fn fill_random(a: &mut [u32], seed: u32) {
    let mut s = seed | 1;
    for v in a.iter_mut() {
        // Keep some duplicates: the top bits are masked off for one element in eight.
        let r = xorshift32(&mut s);
        *v = if r & 7 == 0 { r & 0xff } else { r };
    }
}

fn checksum_words(a: &[u32]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for (i, &v) in a.iter().enumerate() {
        h = (h ^ v).wrapping_mul(0x0100_0193).wrapping_add(i as u32);
    }
    h
}

fn is_sorted(a: &[u32]) -> bool {
    let mut i = 1;
    while i < a.len() {
        if a[i - 1] > a[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Insertion sort, used by quicksort for short ranges.
fn insertion_sort(a: &mut [u32]) {
    let mut i = 1;
    while i < a.len() {
        let v = a[i];
        let mut j = i;
        while j > 0 && a[j - 1] > v {
            a[j] = a[j - 1];
            j -= 1;
        }
        a[j] = v;
        i += 1;
    }
}

/// Quicksort: median-of-three Hoare partition, recursing into the smaller half and looping on
/// the larger (stack depth O(log n)), insertion sort below 16 elements.
fn quicksort(mut a: &mut [u32]) {
    loop {
        let n = a.len();
        if n <= 16 {
            insertion_sort(a);
            return;
        }
        let mid = n / 2;
        if a[mid] < a[0] {
            a.swap(mid, 0);
        }
        if a[n - 1] < a[0] {
            a.swap(n - 1, 0);
        }
        if a[n - 1] < a[mid] {
            a.swap(n - 1, mid);
        }
        let pivot = a[mid];
        let mut i = 0;
        let mut j = n - 1;
        loop {
            while a[i] < pivot {
                i += 1;
            }
            while a[j] > pivot {
                j -= 1;
            }
            if i >= j {
                break;
            }
            a.swap(i, j);
            i += 1;
            j -= 1;
        }
        // a[..=j] <= pivot <= a[j+1..]
        let (lo, hi) = a.split_at_mut(j + 1);
        if lo.len() < hi.len() {
            quicksort(lo);
            a = hi;
        } else {
            quicksort(hi);
            a = lo;
        }
    }
}

fn sift_down(a: &mut [u32], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && a[child] < a[child + 1] {
            child += 1;
        }
        if a[root] >= a[child] {
            return;
        }
        a.swap(root, child);
        root = child;
    }
}

fn heapsort(a: &mut [u32]) {
    let n = a.len();
    let mut i = n / 2;
    while i > 0 {
        i -= 1;
        sift_down(a, i, n);
    }
    let mut end = n;
    while end > 1 {
        end -= 1;
        a.swap(0, end);
        sift_down(a, 0, end);
    }
}

/// Multiplies two pseudo-random matrices, then the product by the first again, mod 2^32.
fn matmul_bench(seed: u32) -> u32 {
    let mut s = seed | 1;
    let mut x = [[0u32; MAT_N]; MAT_N];
    let mut y = [[0u32; MAT_N]; MAT_N];
    for row in x.iter_mut() {
        for v in row.iter_mut() {
            *v = xorshift32(&mut s) >> 16;
        }
    }
    for row in y.iter_mut() {
        for v in row.iter_mut() {
            *v = xorshift32(&mut s) >> 16;
        }
    }
    let p = matmul(&x, &y);
    let q = matmul(&p, &x);
    let mut h: u32 = 0;
    for (i, row) in q.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            h = h.rotate_left(3) ^ v.wrapping_mul((i * MAT_N + j) as u32 | 1);
        }
    }
    h
}

fn matmul(x: &[[u32; MAT_N]; MAT_N], y: &[[u32; MAT_N]; MAT_N]) -> [[u32; MAT_N]; MAT_N] {
    let mut z = [[0u32; MAT_N]; MAT_N];
    for i in 0..MAT_N {
        for j in 0..MAT_N {
            let mut acc: u32 = 0;
            for k in 0..MAT_N {
                acc = acc.wrapping_add(x[i][k].wrapping_mul(y[k][j]));
            }
            z[i][j] = acc;
        }
    }
    z
}

/// FNV-1a, 32-bit.
fn fnv1a32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 with key (k0, k1), written out.
fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last: u64 = (data.len() as u64 & 0xff) << 56;
    for (i, &b) in rest.iter().enumerate() {
        last |= (b as u64) << (8 * i);
    }
    v[3] ^= last;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Total Collatz steps (capped at 1000 per start, arithmetic mod 2^32) for `count` starts from
/// `first`.
fn collatz_total(first: u32, count: u32) -> u32 {
    let mut total: u32 = 0;
    let mut k = 0;
    while k < count {
        let mut n = first.wrapping_add(k);
        let mut steps: u32 = 0;
        while n > 1 && steps < 1000 {
            n = if n & 1 == 0 {
                n >> 1
            } else {
                n.wrapping_mul(3).wrapping_add(1)
            };
            steps += 1;
        }
        total = total.wrapping_add(steps ^ (k << 8));
        k += 1;
    }
    total
}

/// Number of primes below `limit` (at most `SIEVE_N`), by the sieve of Eratosthenes.
fn sieve_count(limit: usize) -> u32 {
    let mut composite = [false; SIEVE_N];
    let mut count: u32 = 0;
    let mut i = 2;
    while i < limit {
        if !composite[i] {
            count += 1;
            let mut j = i * i;
            while j < limit {
                composite[j] = true;
                j += i;
            }
        }
        i += 1;
    }
    count
}

/// A tiny register-machine bytecode interpreter with a `match` dispatch, running a program that
/// loops `iters` times.
fn bytecode_run(seed: u32, iters: u32) -> u32 {
    // Instructions: (op, dst, src, imm)
    const LOADI: u8 = 0;
    const ADD: u8 = 1;
    const XOR: u8 = 2;
    const ROTL: u8 = 3;
    const MULI: u8 = 4;
    const ADDI: u8 = 5;
    const JNZ: u8 = 6; // if r[dst] != 0 { pc = imm }
    const HALT: u8 = 7;
    const PROGRAM: [(u8, u8, u8, u32); 12] = [
        (LOADI, 1, 0, 0),           // r1 = seed (patched)
        (LOADI, 2, 0, 0),           // r2 = iters (patched)
        (LOADI, 3, 0, 0x1234_5678), // r3 = const
        (ADD, 1, 3, 0),             // loop: r1 += r3
        (ROTL, 1, 0, 7),            // r1 = rotl(r1, 7)
        (XOR, 3, 1, 0),             // r3 ^= r1
        (MULI, 3, 0, 0x2545_f491),  // r3 *= k
        (ADDI, 2, 0, 0xffff_ffff),  // r2 -= 1
        (JNZ, 2, 0, 3),             // if r2 != 0 goto loop
        (XOR, 1, 3, 0),             // r1 ^= r3
        (HALT, 0, 0, 0),
        (HALT, 0, 0, 0),
    ];
    let mut prog = PROGRAM;
    prog[0].3 = seed;
    prog[1].3 = iters.max(1);
    let mut r = [0u32; 4];
    let mut pc = 0usize;
    loop {
        let (op, d, s, imm) = prog[pc];
        let (d, s) = (d as usize & 3, s as usize & 3);
        pc += 1;
        match op {
            LOADI => r[d] = imm,
            ADD => r[d] = r[d].wrapping_add(r[s]),
            XOR => r[d] ^= r[s],
            ROTL => r[d] = r[d].rotate_left(imm & 31),
            MULI => r[d] = r[d].wrapping_mul(imm),
            ADDI => r[d] = r[d].wrapping_add(imm),
            JNZ => {
                if r[d] != 0 {
                    pc = imm as usize;
                }
            }
            _ => return r[1],
        }
    }
}

/// Builds a random single-cycle permutation of `CHASE_N` indices (Sattolo's algorithm), then
/// follows it for `steps` dependent loads, summing what it visits.
fn pointer_chase(seed: u32, steps: u32) -> u32 {
    let mut next = [0u16; CHASE_N];
    for (i, v) in next.iter_mut().enumerate() {
        *v = i as u16;
    }
    let mut s = seed | 1;
    let mut i = CHASE_N - 1;
    while i > 0 {
        let j = (xorshift32(&mut s) as usize) % i;
        next.swap(i, j);
        i -= 1;
    }
    let mut p = (seed as usize) % CHASE_N;
    let mut acc: u32 = 0;
    let mut k = 0;
    while k < steps {
        p = next[p] as usize;
        acc = acc.wrapping_add(p as u32).rotate_left(1);
        k += 1;
    }
    acc
}

/// Run-length encodes a buffer derived from `data` (bytes quantised so that runs occur), decodes
/// it again, and returns a checksum of the encoding (xor 0xffff_ffff if the round trip failed).
fn rle_roundtrip(data: &[u8; HASH_BYTES], seed: u32) -> u32 {
    let mut src = [0u8; HASH_BYTES];
    let shift = 5 + (seed & 1);
    for (d, &b) in src.iter_mut().zip(data.iter()) {
        *d = b >> shift;
    }
    // Encoding: pairs (run length 1..=255, byte); worst case 2 bytes per input byte.
    let mut enc = [0u8; 2 * HASH_BYTES];
    let mut n = 0;
    let mut i = 0;
    while i < HASH_BYTES {
        let b = src[i];
        let mut run = 1;
        while i + run < HASH_BYTES && run < 255 && src[i + run] == b {
            run += 1;
        }
        enc[n] = run as u8;
        enc[n + 1] = b;
        n += 2;
        i += run;
    }
    let mut dec = [0u8; HASH_BYTES];
    let mut o = 0;
    let mut k = 0;
    while k < n {
        let run = enc[k] as usize;
        let b = enc[k + 1];
        let mut r = 0;
        while r < run && o < HASH_BYTES {
            dec[o] = b;
            o += 1;
            r += 1;
        }
        k += 2;
    }
    let mut h = fnv1a32(&enc[..n]) ^ (n as u32);
    if o != HASH_BYTES || dec != src {
        h ^= 0xffff_ffff;
    }
    h
}
