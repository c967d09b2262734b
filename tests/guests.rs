//! The bundled guests' outputs against values computed on the host.

#[path = "../guests/cpubench/src/workload.rs"]
mod workload;

mod common;

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};
use rvx::{guests, BackendKind, Output, Program, PureInstance, Rv32ImConfig, VmState};
use std::sync::{Arc, Mutex};

fn instance(name: &str) -> (PureInstance, Arc<Mutex<Vec<u8>>>) {
    let config = Rv32ImConfig::default();
    let guest = guests::find(name).unwrap_or_else(|| panic!("bundled guest {name} is missing"));
    let program = Program::from_elf(guest.elf, &config).expect("bundled guest loads");
    let printed = Arc::new(Mutex::new(Vec::new()));
    let instance = PureInstance::new(Arc::new(program), BackendKind::Interpreter)
        .expect("default config is valid")
        .with_output(Output::Buffer(printed.clone()));
    (instance, printed)
}

fn words(state: &VmState) -> Vec<u32> {
    state
        .public_values
        .chunks(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}

#[test]
fn fibonacci_matches_host() {
    let (instance, printed) = instance("fibonacci");
    for n in [0u64, 1, 2, 10, 93, 94, 1000, 100_000] {
        printed.lock().unwrap().clear();
        let state = instance.execute([n.to_le_bytes().to_vec()]).unwrap();
        let expected = fib(n);
        assert_eq!(state.exit_code, Some(0), "n = {n}");
        assert_eq!(
            words(&state)[..2],
            [expected as u32, (expected >> 32) as u32],
            "n = {n}"
        );
        assert!(words(&state)[2..].iter().all(|&w| w == 0));
        let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
        assert_eq!(text, format!("fib({n}) = {expected}\n"));
    }
}

#[test]
fn fibonacci_rejects_wrong_input_length() {
    let (instance, printed) = instance("fibonacci");
    let state = instance.execute([vec![1, 2, 3]]).unwrap();
    assert_eq!(
        state.exit_code,
        Some(1),
        "read_u64 of a 3-byte record panics in the guest"
    );
    let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    assert!(text.starts_with("panicked at"), "{text}");
}

#[test]
fn cpubench_matches_host() {
    let (instance, _) = instance("cpubench");
    for scale in [0u32, 1, 2] {
        let state = instance.execute([scale.to_le_bytes().to_vec()]).unwrap();
        assert_eq!(state.exit_code, Some(0), "scale = {scale}");
        assert_eq!(words(&state), workload::run(scale), "scale = {scale}");
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The first `n` hintrandom bytes after a fresh start: one ChaCha12 `next_u32` per byte,
/// low byte kept, as the reference zkVM's rand 0.9 `StdRng::seed_from_u64(0)` gives them.
fn reference_random_bytes(n: usize) -> Vec<u8> {
    let mut rng = ChaCha12Rng::seed_from_u64(0);
    (0..n).map(|_| rng.next_u32() as u8).collect()
}

#[test]
fn io_guest_matches_host() {
    let (instance, printed) = instance("io");
    let random = reference_random_bytes(16);
    let cases: [(Vec<u8>, Vec<u8>); 3] = [
        (vec![0, 1, 2, 3, 4], b"hello, world".to_vec()),
        (vec![], vec![9; 4093]),
        ((0..5000).map(|i| (i * 7) as u8 & 0x7f).collect(), vec![]),
    ];
    for (first, second) in cases {
        printed.lock().unwrap().clear();
        let state = instance.execute([first.clone(), second.clone()]).unwrap();
        let exit = u32::from(first.first().copied().unwrap_or(0));
        assert_eq!(state.exit_code, Some(exit));
        let mut expected = vec![
            first.len() as u32,
            second.len() as u32,
            fnv1a(&first),
            fnv1a(&second),
        ];
        expected.extend(
            random
                .chunks(4)
                .map(|w| u32::from_le_bytes(w.try_into().unwrap())),
        );
        assert_eq!(words(&state), expected);
        let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "rvx io guest: record lengths {} and {}\n",
                first.len(),
                second.len()
            )
        );
    }
}

#[test]
fn io_guest_exit_code_comes_from_first_byte() {
    let (instance, _) = instance("io");
    let state = instance.execute([vec![7, 0], vec![]]).unwrap();
    assert_eq!(state.exit_code, Some(7));
}

#[test]
fn io_guest_without_inputs_faults_on_empty_input_stream() {
    let (instance, _) = instance("io");
    let err = instance.execute([]).unwrap_err();
    match err {
        rvx::Error::Exec(e) => assert_eq!(e.kind, rvx::ExecErrorKind::InputStreamEmpty),
        other => panic!("expected an execution error, got {other}"),
    }
}

#[test]
fn every_bundled_guest_loads() {
    for guest in guests::ALL {
        let program = Program::from_elf(guest.elf, &Rv32ImConfig::default())
            .unwrap_or_else(|e| panic!("{}: {e}", guest.name));
        assert_eq!(program.entry(), 0x1_0000, "{}", guest.name);
    }
}

/// An interpreter instance of a bundled guest with its own configuration (its `openvm.toml`).
fn ext_instance(name: &str) -> PureInstance {
    let guest = guests::find(name).unwrap_or_else(|| panic!("bundled guest {name} is missing"));
    let config = guest.config().expect("bundled guest config parses");
    let program = Program::from_elf(guest.elf, &config).expect("bundled guest loads");
    PureInstance::new(Arc::new(program), BackendKind::Interpreter)
        .expect("config is valid")
        .with_output(Output::Discard)
}

/// The generated buffer of the keccak and sha2 guests.
fn generated(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(0x9e37_79b1) >> 24) as u8)
        .collect()
}

fn le_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

fn record(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

#[test]
fn keccak_guest_matches_host_keccak256() {
    use sha3::Digest;
    let instance = ext_instance("keccak");
    for (len, rounds) in [
        (0u32, 1u32),
        (5, 2),
        (135, 1),
        (136, 3),
        (1000, 4),
        (20_000, 2),
    ] {
        let mut buffer = generated(len);
        let mut digest = [0u8; 32];
        for _ in 0..rounds {
            for (b, d) in buffer.iter_mut().zip(digest) {
                *b ^= d;
            }
            digest = sha3::Keccak256::digest(&buffer).into();
        }
        let state = instance.execute([record(len), record(rounds)]).unwrap();
        assert_eq!(state.exit_code, Some(0));
        assert_eq!(
            words(&state),
            le_words(&digest),
            "len {len}, rounds {rounds}"
        );
    }
}

#[test]
fn sha2_guest_matches_host_sha256_and_sha512() {
    use sha2::Digest;
    let instance = ext_instance("sha2");
    for (len, rounds) in [
        (0u32, 1u32),
        (3, 1),
        (55, 1),
        (56, 2),
        (111, 1),
        (112, 1),
        (5000, 3),
    ] {
        let mut message = generated(len);
        let (mut d256, mut d512) = ([0u8; 32], [0u8; 64]);
        for _ in 0..rounds {
            for (b, d) in message.iter_mut().zip(d256) {
                *b ^= d;
            }
            d256 = sha2::Sha256::digest(&message).into();
            d512 = sha2::Sha512::digest(&message).into();
        }
        let state = instance.execute([record(len), record(rounds)]).unwrap();
        assert_eq!(state.exit_code, Some(0));
        let expected = le_words(&[&d256[..], &d512[..]].concat());
        assert_eq!(words(&state), expected, "len {len}, rounds {rounds}");
    }
}

/// The bigint guest's workload on the host, with the `num-bigint` oracle.
fn bigint_workload(n: u32) -> [u8; 32] {
    use common::bigint::oracle;
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    for i in 0..32u8 {
        x[i as usize] = i.wrapping_mul(0x1d).wrapping_add(1);
        y[i as usize] = 0xffu8.wrapping_sub(i.wrapping_mul(0x0b));
    }
    let mut acc = [0u8; 32];
    let (add, sub, xor, or, and, sll, srl, sra, slt, sltu, mul) =
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    for i in 0..n {
        let t = oracle(mul, &x, &y);
        x = oracle(add, &t, &y);
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(&(i.wrapping_mul(37) % 512).to_le_bytes());
        y = oracle(xor, &oracle(srl, &x, &s), &oracle(sll, &t, &s));
        y = if oracle(slt, &x, &y)[0] == 1 {
            oracle(sub, &y, &x)
        } else {
            oracle(or, &y, &oracle(and, &x, &t))
        };
        acc = oracle(add, &acc, &oracle(sra, &t, &s));
        acc = oracle(add, &acc, &oracle(sltu, &x, &y));
        if x == y {
            acc = oracle(xor, &acc, &x);
        }
    }
    acc
}

#[test]
fn bigint_guest_matches_host_big_integers() {
    let instance = ext_instance("bigint");
    for n in [0u32, 1, 2, 7, 100, 600] {
        let state = instance.execute([record(n)]).unwrap();
        assert_eq!(state.exit_code, Some(0));
        assert_eq!(words(&state), le_words(&bigint_workload(n)), "n = {n}");
    }
}
