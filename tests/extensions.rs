//! The Keccak, SHA-2 and 256-bit integer extensions: published test vectors computed by guest
//! code using the intrinsics, 256-bit arithmetic against a reference big-integer crate, operand
//! errors, and the rows, pages and cost each instruction adds; every check on every backend and
//! in every mode.

mod common;

use common::bigint::oracle;
use common::*;
use rvx::extension::{bigint, keccak, sha2};
use rvx::metering::{CostReport, Segment};
use rvx::program::Program;
use rvx::{BackendKind, Error, ExecErrorKind, PureInstance, VmConfig, VmState};
use std::sync::Arc;

/// A program with the extensions: `words` at [`BASE`], data segments `(vaddr, bytes)`.
fn ext_program(words: &[u32], data: &[(u32, &[u8])]) -> Arc<Program> {
    let mut segments = vec![code_segment(BASE, words)];
    for &(vaddr, bytes) in data {
        segments.push(rvx::program::Segment {
            vaddr,
            data: bytes.to_vec(),
            memsz: bytes.len() as u32,
            executable: false,
        });
    }
    let exec = Arc::new(ext_config().execution_config().expect("valid config"));
    Arc::new(Program::from_segments(BASE, segments, exec))
}

/// Everything one backend returns for a program in the three modes.
type Outcomes = (
    Result<VmState, Error>,
    Result<(Vec<Segment>, VmState), Error>,
    Result<(CostReport, VmState), Error>,
);

fn outcomes(program: &Arc<Program>, backend: BackendKind) -> Outcomes {
    let pure = instance_on(program.clone(), backend);
    let (metered, cost) = metered_instances_on(program, backend);
    (
        pure.execute(vec![]),
        metered.execute_metered(vec![]),
        cost.execute_metered_cost(vec![]),
    )
}

/// Runs `program` on every backend in every mode, asserts they all agree with the
/// interpreter, and returns the interpreter's outcomes.
fn run_everywhere(program: &Arc<Program>) -> Outcomes {
    let reference = outcomes(program, BackendKind::Interpreter);
    for &backend in &BackendKind::ALL[1..] {
        assert_eq!(
            outcomes(program, backend),
            reference,
            "{backend} differs from the interpreter"
        );
    }
    reference
}

/// Runs `program` everywhere and returns the final state, which must be a clean exit.
fn final_state(program: &Arc<Program>) -> VmState {
    let (pure, metered, cost) = run_everywhere(program);
    let state = pure.expect("program runs");
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(metered.expect("metered run").1, state);
    assert_eq!(cost.expect("cost run").1, state);
    state
}

const STATE: u32 = 0x8000;
const MESSAGE: u32 = 0x9000;
const RESULTS: u32 = 0xa000;

// ---------------------------------------------------------------------------------------------
// Keccak-256
// ---------------------------------------------------------------------------------------------

/// Keccak-256 of `message` computed by guest code: absorb each padded 136-byte block with
/// `xorin` + `keccakf`, then read the first 32 state bytes.
fn guest_keccak256(message: &[u8]) -> [u8; 32] {
    let mut padded = message.to_vec();
    padded.push(0x01);
    while padded.len() % 136 != 0 {
        padded.push(0);
    }
    *padded.last_mut().unwrap() |= 0x80;
    let mut code = Vec::new();
    code.extend(li(10, STATE));
    code.push(addi(12, 0, 136));
    for block in 0..padded.len() / 136 {
        code.extend(li(11, MESSAGE + 136 * block as u32));
        code.push(xorin(10, 11, 12));
        code.push(keccakf(10));
    }
    code.push(terminate(0));
    let state = final_state(&ext_program(&code, &[(MESSAGE, &padded)]));
    mem(&state, STATE, 32).try_into().unwrap()
}

fn hex32(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

#[test]
fn keccak256_of_published_vectors() {
    assert_eq!(
        guest_keccak256(b"").to_vec(),
        hex32("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    );
    assert_eq!(
        guest_keccak256(b"abc").to_vec(),
        hex32("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    );
    // Several blocks, and a message that fills a block exactly (padding adds a whole block).
    for len in [135usize, 136, 300, 1000] {
        let message: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        use sha3::Digest;
        let expected = sha3::Keccak256::digest(&message);
        assert_eq!(
            guest_keccak256(&message).as_slice(),
            expected.as_slice(),
            "{len}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SHA-256, SHA-512
// ---------------------------------------------------------------------------------------------

/// The SHA-2 padding of `message` to blocks of `block` bytes with a `len_bytes`-byte length.
fn sha_pad(message: &[u8], block: usize, len_bytes: usize) -> Vec<u8> {
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % block != block - len_bytes {
        padded.push(0);
    }
    let bits = (message.len() as u128) * 8;
    padded.extend_from_slice(&bits.to_be_bytes()[16 - len_bytes..]);
    padded
}

/// SHA-256 (`wide = false`) or SHA-512 of `message` computed by guest code, one update per
/// block on a state stored as little-endian words.
fn guest_sha2(message: &[u8], wide: bool) -> Vec<u8> {
    let (block, len_bytes) = if wide { (128, 16) } else { (64, 8) };
    let padded = sha_pad(message, block, len_bytes);
    let iv: Vec<u8> = if wide {
        [
            0x6a09e667f3bcc908u64,
            0xbb67ae8584caa73b,
            0x3c6ef372fe94f82b,
            0xa54ff53a5f1d36f1,
            0x510e527fade682d1,
            0x9b05688c2b3e6c1f,
            0x1f83d9abfb41bd6b,
            0x5be0cd19137e2179,
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
    } else {
        [
            0x6a09e667u32,
            0xbb67ae85,
            0x3c6ef372,
            0xa54ff53a,
            0x510e527f,
            0x9b05688c,
            0x1f83d9ab,
            0x5be0cd19,
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
    };
    let mut code = Vec::new();
    code.extend(li(10, STATE));
    for b in 0..padded.len() / block {
        code.extend(li(11, MESSAGE + (block * b) as u32));
        code.push(if wide {
            sha512_update(10, 10, 11)
        } else {
            sha256_update(10, 10, 11)
        });
    }
    code.push(terminate(0));
    let state = final_state(&ext_program(&code, &[(STATE, &iv), (MESSAGE, &padded)]));
    let words = mem(&state, STATE, iv.len());
    // The digest is the state's words in big-endian order.
    let word = if wide { 8 } else { 4 };
    words
        .chunks_exact(word)
        .flat_map(|w| w.iter().rev().copied().collect::<Vec<u8>>())
        .collect()
}

#[test]
fn sha256_of_published_vectors() {
    assert_eq!(
        guest_sha2(b"abc", false),
        hex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        guest_sha2(b"", false),
        hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        guest_sha2(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            false
        ),
        hex32("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    );
}

#[test]
fn sha512_of_published_vectors() {
    assert_eq!(
        guest_sha2(b"abc", true),
        hex32(concat!(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        ))
    );
    assert_eq!(
        guest_sha2(b"", true),
        hex32(concat!(
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce",
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        ))
    );
    // Several blocks, against the sha2 crate.
    let message: Vec<u8> = (0..500).map(|i| (i * 13 + 1) as u8).collect();
    use ::sha2::Digest;
    assert_eq!(
        guest_sha2(&message, true),
        ::sha2::Sha512::digest(&message).to_vec()
    );
    assert_eq!(
        guest_sha2(&message, false),
        ::sha2::Sha256::digest(&message).to_vec()
    );
}

// ---------------------------------------------------------------------------------------------
// 256-bit integers
// ---------------------------------------------------------------------------------------------

const FUNCT7_NAMES: [&str; 11] = [
    "add", "sub", "xor", "or", "and", "sll", "srl", "sra", "slt", "sltu", "mul",
];

/// Operand pairs: edge cases (signs, zero, all ones, shifts of 0, 255, 256 and more) and
/// random values.
fn operand_pairs() -> Vec<([u8; 32], [u8; 32])> {
    let num = |limbs: [u64; 4]| bigint::to_bytes(&limbs);
    let small = |v: u64| num([v, 0, 0, 0]);
    let min = num([0, 0, 0, 1 << 63]);
    let max = num([u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1]);
    let ones = num([u64::MAX; 4]);
    let mut pairs = vec![
        (small(5), small(3)),
        (small(3), small(5)),
        (small(0), small(0)),
        (ones, small(1)),
        (small(1), ones),
        (min, max),
        (max, min),
        (min, small(255)),
        (ones, small(256)),
        (max, small(257)),
        (min, small(300)),
        (min, num([0, 0, 0, 1])),
        (
            num([0x8000_0000_0000_0001, 2, 3, 0xf000_0000_0000_0000]),
            small(64),
        ),
        (num([1, 2, 3, 4]), small(511)),
        (ones, ones),
        (min, min),
    ];
    let mut rng = TestRng::new(0x256);
    for _ in 0..24 {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        for i in 0..32 {
            a[i] = rng.next_u32() as u8;
            b[i] = rng.next_u32() as u8;
        }
        pairs.push((a, b));
    }
    pairs
}

#[test]
fn int256_operations_match_num_bigint() {
    let pairs = operand_pairs();
    // Operands at MESSAGE (a, b pairs of 64 bytes), results at RESULTS (11 per pair).
    let mut data = Vec::new();
    let mut code = Vec::new();
    for (p, (a, b)) in pairs.iter().enumerate() {
        data.extend_from_slice(a);
        data.extend_from_slice(b);
        let at = MESSAGE + 64 * p as u32;
        code.extend(li(10, at));
        code.extend(li(11, at + 32));
        for f in 0..11u32 {
            code.extend(li(12, RESULTS + 32 * (11 * p as u32 + f)));
            code.push(int256(f, 12, 10, 11));
        }
    }
    code.push(terminate(0));
    let state = final_state(&ext_program(&code, &[(MESSAGE, &data)]));
    for (p, (a, b)) in pairs.iter().enumerate() {
        for (f, name) in FUNCT7_NAMES.iter().enumerate() {
            let got = mem(&state, RESULTS + 32 * (11 * p as u32 + f as u32), 32);
            assert_eq!(
                got,
                oracle(f, a, b).to_vec(),
                "{name} of pair {p}: {} and {}",
                hex::encode(a),
                hex::encode(b)
            );
        }
    }
}

#[test]
fn int256_result_may_overwrite_an_operand() {
    // x10 points at a = 7, x11 at b = 9: a = a * b in place, then b = a - b in place.
    let mut data = bigint::to_bytes(&[7, 0, 0, 0]).to_vec();
    data.extend_from_slice(&bigint::to_bytes(&[9, 0, 0, 0]));
    let mut code = Vec::new();
    code.extend(li(10, MESSAGE));
    code.extend(li(11, MESSAGE + 32));
    code.push(int256(10, 10, 10, 11));
    code.push(int256(1, 11, 10, 11));
    code.push(terminate(0));
    let state = final_state(&ext_program(&code, &[(MESSAGE, &data)]));
    assert_eq!(mem(&state, MESSAGE, 32), bigint::to_bytes(&[63, 0, 0, 0]));
    assert_eq!(
        mem(&state, MESSAGE + 32, 32),
        bigint::to_bytes(&[54, 0, 0, 0])
    );
}

#[test]
fn beq256_branches_only_on_equal_operands() {
    // Three equal-or-not comparisons; each taken branch skips an `addi x20, x20, 1`.
    let a = bigint::to_bytes(&[1, 2, 3, 4]);
    let mut b = a;
    b[31] ^= 0x80; // differs only in the top bit
    let data: Vec<u8> = [a, a, b].concat();
    let mut code = Vec::new();
    code.extend(li(10, MESSAGE));
    code.extend(li(11, MESSAGE + 32));
    code.extend(li(12, MESSAGE + 64));
    code.push(beq256(10, 11, 8)); // equal: taken
    code.push(addi(20, 20, 1));
    code.push(beq256(10, 12, 8)); // different: falls through
    code.push(addi(21, 21, 1));
    code.push(terminate(0));
    let state = final_state(&ext_program(&code, &[(MESSAGE, &data)]));
    assert_eq!(state.regs[20], 0, "taken beq256 skipped the increment");
    assert_eq!(state.regs[21], 1, "not-taken beq256 fell through");
    // A backward beq256 that is always taken loops: stopped after 30 instructions (6 li, two
    // forward beq256, then addi/beq256 pairs), x21 counts the trips on every backend.
    let last = code.len() - 1;
    code[last] = beq256(12, 12, -4);
    let program = ext_program(&code, &[(MESSAGE, &data)]);
    let states: Vec<VmState> = BackendKind::ALL
        .iter()
        .map(|&backend| {
            PureInstance::new(program.clone(), backend)
                .unwrap()
                .execute_with_limit(vec![], 30)
                .unwrap()
        })
        .collect();
    assert_eq!(states[0].regs[21], 11);
    assert!(states.iter().all(|s| *s == states[0]));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Runs `code` everywhere, expects the same execution error in every mode, and returns it.
fn error_of(code: &[u32]) -> rvx::ExecError {
    let (pure, metered, cost) = run_everywhere(&ext_program(code, &[]));
    let e = exec_err(pure);
    assert_eq!(metered.unwrap_err(), Error::Exec(e.clone()));
    assert_eq!(cost.unwrap_err(), Error::Exec(e.clone()));
    e
}

#[test]
fn xorin_lengths_outside_the_rate_or_unaligned_are_errors() {
    for len in [1, 3, 6, 135, 140, 1 << 20, u32::MAX] {
        let mut code = li(12, len).to_vec();
        code.extend(li(10, STATE));
        code.extend(li(11, MESSAGE));
        code.push(xorin(10, 11, 12));
        code.push(terminate(0));
        let e = error_of(&code);
        assert_eq!(e.kind, ExecErrorKind::XorinLength { len }, "length {len}");
        assert_eq!(e.pc, pc_at(6));
        assert_eq!(e.instret, 6);
    }
    // 0 and 136 are fine.
    for len in [0, 136] {
        let mut code = li(12, len).to_vec();
        code.extend(li(10, STATE));
        code.push(xorin(10, 10, 12));
        code.push(terminate(0));
        final_state(&ext_program(&code, &[]));
    }
}

#[test]
fn out_of_range_operands_are_errors_that_write_nothing() {
    let top = MEM_SIZE;
    let cases: Vec<(Vec<u32>, u32, u64)> = vec![
        // keccakf whose state runs past the end of memory.
        (vec![keccakf(10)], top - 100, 200),
        // xorin whose input wraps around the address space.
        (vec![addi(12, 0, 8), xorin(11, 10, 12)], u32::MAX - 3, 8),
        // sha256 whose output does not fit (inputs do).
        (vec![sha256_update(10, 11, 11)], top - 16, 32),
        // sha512 whose block does not fit.
        (vec![sha512_update(11, 11, 10)], top - 64, 128),
        // 256-bit add whose result does not fit.
        (vec![int256(0, 10, 11, 11)], top - 31, 32),
        // beq256 whose first operand does not fit.
        (vec![beq256(10, 11, 8)], top, 32),
    ];
    for (ops, addr, size) in cases {
        let mut code = li(10, addr).to_vec();
        code.extend(li(11, STATE));
        code.extend(ops.iter().copied());
        code.push(terminate(0));
        let e = error_of(&code);
        assert_eq!(
            e.kind,
            ExecErrorKind::OutOfRangeAccess {
                addr,
                size,
                memory_size: u64::from(MEM_SIZE)
            },
            "{}",
            e.insn
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Metering: rows, pages, cost
// ---------------------------------------------------------------------------------------------

/// The rows, pages (boundary rows / 128) and cost of `code` (which must end with terminate),
/// checked equal on every backend.
fn metering_of(code: &[u32]) -> (Vec<u32>, u32, u64) {
    let (_, metered, cost) = run_everywhere(&ext_program(code, &[]));
    let (segments, _) = metered.expect("metered run");
    assert_eq!(segments.len(), 1);
    let heights = segments[0].trace_heights.clone();
    let chips = ext_config().execution_config().unwrap();
    let boundary = chips.chips().index_of("PersistentBoundaryAir<8>").unwrap();
    let pages = heights[boundary] / 128;
    (heights, pages, cost.expect("cost run").0.cost)
}

fn chip(name: &str) -> usize {
    ext_config()
        .execution_config()
        .unwrap()
        .chips()
        .index_of(name)
        .unwrap_or_else(|| panic!("no chip {name}"))
}

fn width(name: &str) -> u64 {
    let exec = ext_config().execution_config().unwrap();
    u64::from(exec.chips().chips()[chip(name)].width)
}

/// Rows, pages and cost of `li x10, addr; li x11, addr2; <op>; terminate`.
fn metering_of_op(addr: u32, addr2: u32, ops: &[u32]) -> (Vec<u32>, u32, u64) {
    let mut code = li(10, addr).to_vec();
    code.extend(li(11, addr2));
    code.extend(ops.iter().copied());
    code.push(terminate(0));
    metering_of(&code)
}

/// Cost of the two `li`s before the operation: two lui (JalLui, 18) and two addi (ALU, 36).
const LI_COST: u64 = 2 * 18 + 2 * 36;

#[test]
fn keccakf_adds_one_op_row_and_24_permutation_rows_and_its_pages() {
    // The state straddles a page boundary: registers + 2 pages.
    let (heights, pages, cost) = metering_of_op(0x81f0, 0, &[keccakf(10)]);
    assert_eq!(heights[chip(keccak::chips::KECCAKF_OP)], 1);
    assert_eq!(heights[chip(keccak::chips::KECCAKF_PERM)], 24);
    assert_eq!(pages, 3);
    assert_eq!(
        cost,
        LI_COST + width(keccak::chips::KECCAKF_OP) + 24 * width(keccak::chips::KECCAKF_PERM)
    );
    // Inside one page: registers + 1.
    assert_eq!(metering_of_op(0x8000, 0, &[keccakf(10)]).1, 2);
}

#[test]
fn xorin_adds_one_row_whatever_its_length_and_the_pages_of_both_operands() {
    for (len, pages) in [(0, 1), (4, 3), (136, 4)] {
        // buffer 0x81f8..: crosses into the next page when len > 8; input on a page of its own.
        let (heights, got_pages, cost) =
            metering_of_op(0x81f8, 0xa000, &[addi(12, 0, len), xorin(10, 11, 12)]);
        assert_eq!(heights[chip(keccak::chips::XORIN)], 1, "len {len}");
        assert_eq!(got_pages, pages, "len {len}");
        assert_eq!(
            cost,
            LI_COST + 36 + width(keccak::chips::XORIN),
            "len {len}"
        );
    }
}

#[test]
fn sha2_updates_add_main_and_block_hasher_rows() {
    let (h, pages, cost) = metering_of_op(0x8000, 0x8400, &[sha256_update(10, 10, 11)]);
    assert_eq!(h[chip(sha2::chips::SHA256_MAIN)], 1);
    assert_eq!(h[chip(sha2::chips::SHA256_BLOCK_HASHER)], 17);
    assert_eq!(pages, 3);
    assert_eq!(
        cost,
        LI_COST + width(sha2::chips::SHA256_MAIN) + 17 * width(sha2::chips::SHA256_BLOCK_HASHER)
    );
    let (h, pages, cost) = metering_of_op(0x8000, 0x81c0, &[sha512_update(10, 10, 11)]);
    assert_eq!(h[chip(sha2::chips::SHA512_MAIN)], 1);
    assert_eq!(h[chip(sha2::chips::SHA512_BLOCK_HASHER)], 21);
    // The block 0x81c0..0x8240 straddles two pages, one shared with the state.
    assert_eq!(pages, 3);
    assert_eq!(
        cost,
        LI_COST + width(sha2::chips::SHA512_MAIN) + 21 * width(sha2::chips::SHA512_BLOCK_HASHER)
    );
}

#[test]
fn int256_operations_add_one_row_on_their_chip() {
    let cases = [
        (0, bigint::chips::BASE_ALU),
        (4, bigint::chips::BASE_ALU),
        (7, bigint::chips::SHIFT),
        (9, bigint::chips::LESS_THAN),
        (10, bigint::chips::MULTIPLICATION),
    ];
    for (f, name) in cases {
        let (h, pages, cost) = metering_of_op(0x8000, 0x9000, &[int256(f, 10, 10, 11)]);
        assert_eq!(h[chip(name)], 1, "{name}");
        assert_eq!(pages, 3);
        assert_eq!(cost, LI_COST + width(name));
    }
    let (h, pages, cost) = metering_of_op(0x8000, 0x8000, &[beq256(10, 11, 8), NOP]);
    assert_eq!(h[chip(bigint::chips::BRANCH_EQUAL)], 1);
    assert_eq!(pages, 2);
    assert_eq!(cost, LI_COST + width(bigint::chips::BRANCH_EQUAL));
}
