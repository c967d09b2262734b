//! The bundled guests' outputs against values computed on the host.

#[path = "../guests/cpubench/src/workload.rs"]
mod workload;

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
