//! Exact instruction limits, suspend and resume, and saved states.

mod common;

use common::*;
use rvx::{Error, ExecErrorKind, Output, PureInstance, StateFileError, VmState};
use std::sync::{Arc, Mutex};

/// The number whose sequence the workload sums (first input record).
const N: u32 = 20;
const TEXT: &[u8] = b"limits: printed once\n";

/// A workload of a few hundred instructions: input records, a loop calling a function that
/// multiplies and divides, stores, hintrandom, hintbuffer, reveal, printstr.
fn workload() -> Vec<u32> {
    let mut a = Asm::new();
    a.op(hintinput());
    a.emit(li(10, DATA));
    a.op(hintstorew(10)) // the record length
        .op(hintstorew(10)) // n, over it
        .op(lw(11, 10, 0))
        .op(addi(12, 0, 0))
        .op(addi(13, 0, 1));
    a.label("loop")
        .op(addi(20, 13, 0))
        .jal(1, "f")
        .op(add(12, 12, 21))
        .op(slli(14, 13, 2))
        .op(add(14, 14, 10))
        .op(sw(21, 14, 16))
        .op(addi(13, 13, 1))
        .branch(bge, 11, 13, "loop");
    // Random words into memory, mixed into the result.
    a.op(addi(15, 0, 2))
        .op(hintrandom(15))
        .op(addi(16, 10, 256))
        .op(hintbuffer(16, 15))
        .op(lw(17, 10, 256))
        .op(xor(18, 12, 17))
        .op(reveal(12, 0, 0))
        .op(reveal(17, 0, 4))
        .op(reveal(18, 0, 8));
    // The second record is text: copy it into memory and print it.
    a.op(hintinput())
        .op(addi(18, 10, 512))
        .op(hintstorew(18))
        .op(lw(19, 18, 0))
        .op(addi(24, 19, 3))
        .op(srli(24, 24, 2))
        .op(hintbuffer(18, 24))
        .op(printstr(18, 19));
    // A nested loop with calls and a backward branch.
    a.op(addi(25, 0, 3));
    a.label("outer").op(addi(26, 0, 4));
    a.label("inner")
        .op(add(20, 25, 26))
        .jal(1, "f")
        .op(add(12, 12, 21))
        .op(addi(26, 26, -1))
        .branch(bne, 26, 0, "inner")
        .op(addi(25, 25, -1))
        .branch(blt, 0, 25, "outer");
    a.op(reveal(12, 0, 12)).op(terminate(0));
    // f(x20) -> x21 = x20 * x20 + x20 / 3 - x20 % 3
    a.label("f")
        .op(mul(21, 20, 20))
        .op(addi(22, 0, 3))
        .op(div(23, 20, 22))
        .op(add(21, 21, 23))
        .op(rem(23, 20, 22))
        .branch(beq, 23, 0, "skip")
        .op(sub(21, 21, 23));
    a.label("skip").op(jalr(0, 1, 0));
    a.finish()
}

fn inputs() -> Vec<Vec<u8>> {
    vec![N.to_le_bytes().to_vec(), TEXT.to_vec()]
}

fn f(x: u32) -> u32 {
    x * x + x / 3 - x % 3
}

/// Instances of the workload on every backend, each printing into its own buffer.
fn workload_instances() -> Vec<(PureInstance, Arc<Mutex<Vec<u8>>>)> {
    instances(program(&workload()))
        .into_iter()
        .map(|inst| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            (inst.with_output(Output::Buffer(buffer.clone())), buffer)
        })
        .collect()
}

fn take(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
    std::mem::take(&mut *buffer.lock().unwrap())
}

fn full_run(inst: &PureInstance) -> VmState {
    inst.execute(inputs()).expect("the workload runs")
}

#[test]
fn workload_computes_the_expected_result() {
    for (inst, buffer) in workload_instances() {
        let state = full_run(&inst);
        assert_eq!(state.exit_code, Some(0));
        let mut sum: u32 = (1..=N).map(f).sum();
        for i in (1..=3u32).rev() {
            for j in (1..=4u32).rev() {
                sum += f(i + j);
            }
        }
        let pv = |k: usize| {
            u32::from_le_bytes(state.public_values[4 * k..4 * k + 4].try_into().unwrap())
        };
        assert_eq!(pv(0), (1..=N).map(f).sum::<u32>());
        assert_eq!(pv(3), sum);
        assert_eq!(pv(2), pv(0) ^ pv(1));
        assert_ne!(pv(1), 0);
        for i in 1..=N {
            assert_eq!(mem_u32(&state, DATA + 16 + 4 * i), f(i));
        }
        assert_eq!(take(&buffer), TEXT);
        assert!(
            (300..1000).contains(&state.instret),
            "instret {}",
            state.instret
        );
    }
}

#[test]
fn every_limit_suspends_exactly_and_resumes_to_the_full_run() {
    for (inst, buffer) in workload_instances() {
        let full = full_run(&inst);
        let full_output = take(&buffer);
        let total = full.instret;
        assert_eq!(
            inst.execute_with_limit(inputs(), 0).unwrap(),
            inst.initial_state(inputs()).unwrap()
        );
        for n in 0..=total + 3 {
            let suspended = inst.execute_with_limit(inputs(), n).unwrap();
            if n < total {
                assert_eq!(suspended.instret, n, "limit {n}");
                assert_eq!(suspended.exit_code, None, "limit {n}");
                let resumed = inst.execute_from_state(suspended, None).unwrap();
                assert_eq!(resumed, full, "suspended after {n} instructions");
            } else {
                assert_eq!(suspended, full, "limit {n} is past the end");
            }
            assert_eq!(
                take(&buffer),
                full_output,
                "output printed exactly once (limit {n})"
            );
        }
    }
}

#[test]
fn two_limits_equal_one() {
    for (inst, _) in workload_instances() {
        let total = full_run(&inst).instret;
        let mut rng = TestRng::new(3);
        for n in (0..total).step_by(7) {
            let m = rng.range(0, 60);
            let first = inst.execute_with_limit(inputs(), n).unwrap();
            let twice = inst.execute_from_state(first, Some(m)).unwrap();
            let once = inst.execute_with_limit(inputs(), n + m).unwrap();
            assert_eq!(twice, once, "{n} then {m}");
            assert_eq!(twice.instret, (n + m).min(total));
        }
    }
}

#[test]
fn random_chunks_through_serialized_states() {
    for (inst, buffer) in workload_instances() {
        let full = full_run(&inst);
        let full_output = take(&buffer);
        for seed in 0..20 {
            let mut rng = TestRng::new(seed);
            let mut state = inst.initial_state(inputs()).unwrap();
            let mut steps = 0;
            while state.exit_code.is_none() {
                let chunk = rng.range(0, 40);
                let before = state.instret;
                state = inst.execute_from_state(state, Some(chunk)).unwrap();
                assert!(
                    state.instret == before + chunk
                        || (state.exit_code.is_some() && state.instret < before + chunk),
                    "chunk {chunk} from {before} ended at {}",
                    state.instret
                );
                state = VmState::from_bytes(&state.to_bytes().unwrap()).unwrap();
                steps += 1;
                assert!(steps < 10_000, "no progress");
            }
            assert_eq!(state, full, "seed {seed}");
            assert_eq!(take(&buffer), full_output, "seed {seed}");
        }
    }
}

#[test]
fn suspend_on_one_backend_resume_on_another() {
    let all = workload_instances();
    let full = full_run(&all[0].0);
    for (a, _) in &all {
        for (b, _) in &all {
            for n in [1, 10, 100, full.instret / 2, full.instret - 1] {
                let suspended = a.execute_with_limit(inputs(), n).unwrap();
                assert_eq!(b.execute_from_state(suspended, None).unwrap(), full);
            }
        }
    }
}

#[test]
fn save_and_load_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    for (inst, _) in workload_instances() {
        let full = full_run(&inst);
        for n in [0, 1, 17, full.instret / 2, full.instret - 1, full.instret] {
            let state = inst.execute_with_limit(inputs(), n).unwrap();
            let path = dir.path().join(format!("state-{n}.rvx"));
            state.save(&path).unwrap();
            let loaded = VmState::load(&path).unwrap();
            assert_eq!(loaded, state);
            if loaded.exit_code.is_none() {
                assert_eq!(inst.execute_from_state(loaded, None).unwrap(), full);
            } else {
                assert_eq!(loaded, full);
            }
        }
    }
    let missing = dir.path().join("missing.rvx");
    assert!(matches!(
        VmState::load(&missing),
        Err(StateFileError::Io { .. })
    ));
    let unwritable = dir.path().join("no-such-dir").join("state.rvx");
    let state = instance(&[terminate(0)]).initial_state(vec![]).unwrap();
    assert!(matches!(
        state.save(&unwritable),
        Err(StateFileError::Io { .. })
    ));
}

#[test]
fn corrupt_state_files_are_errors() {
    let inst = &workload_instances()[0].0;
    let state = inst.execute_with_limit(inputs(), 123).unwrap();
    let bytes = state.to_bytes().unwrap();
    assert_eq!(VmState::from_bytes(&bytes).unwrap(), state);

    // Bad magic.
    let mut bad = bytes.clone();
    bad[0] ^= 0xff;
    assert!(matches!(
        VmState::from_bytes(&bad),
        Err(StateFileError::Format(_))
    ));
    assert!(matches!(
        VmState::from_bytes(b""),
        Err(StateFileError::Format(_))
    ));
    assert!(matches!(
        VmState::from_bytes(b"not a state file"),
        Err(StateFileError::Format(_))
    ));

    // Every truncation (densely at the start, sampled after).
    let lengths = (0..bytes.len().min(400)).chain((400..bytes.len()).step_by(13));
    for len in lengths {
        assert!(
            matches!(
                VmState::from_bytes(&bytes[..len]),
                Err(StateFileError::Format(_))
            ),
            "truncated to {len} of {}",
            bytes.len()
        );
    }

    // Through a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.rvx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        VmState::load(&path),
        Err(StateFileError::Format(_))
    ));
}

#[test]
fn mutated_state_files_never_panic() {
    let inst = &workload_instances()[0].0;
    let state = inst.execute_with_limit(inputs(), 200).unwrap();
    let bytes = state.to_bytes().unwrap();
    let mut rng = TestRng::new(9);
    let mut parsed = 0;
    for _ in 0..2000 {
        let mut mutated = bytes.clone();
        for _ in 0..rng.range(1, 3) {
            // Mostly in the header fields (registers, pc, sizes), sometimes anywhere.
            let end = if rng.range(0, 1) == 0 {
                200
            } else {
                mutated.len()
            };
            let at = rng.range(8, end as u64 - 1) as usize;
            mutated[at] = rng.next_u32() as u8;
        }
        if let Ok(loaded) = VmState::from_bytes(&mutated) {
            parsed += 1;
            let end = loaded.instret.saturating_add(2000);
            match inst.execute_from_state(loaded, Some(2000)) {
                Ok(s) => assert!(s.exit_code.is_some() || s.instret == end),
                Err(Error::Exec(e)) => assert!(e.to_string().contains(&format!("{:#010x}", e.pc))),
                Err(Error::Config(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
    }
    assert!(parsed > 0);
}

#[test]
fn limits_before_a_fault_and_at_it() {
    // A loop of 3 x 4 instructions, then a load out of range.
    let mut words = vec![addi(1, 0, 3), addi(2, 0, 0)];
    words.extend([addi(2, 2, 5), NOP, addi(1, 1, -1), bne(1, 0, -12)]);
    words.extend(li(10, MEM_SIZE));
    words.extend([lw(3, 10, 0), terminate(0)]);
    let inst = instance(&words);
    let fault_at = 2 + 3 * 4 + 2;
    let full = exec_err(inst.execute(vec![]));
    assert_eq!(full.instret, fault_at);
    assert_eq!(full.pc, pc_at(8));
    assert!(matches!(full.kind, ExecErrorKind::OutOfRangeAccess { .. }));
    for n in 0..fault_at + 3 {
        let result = inst.execute_with_limit(vec![], n);
        if n <= fault_at {
            let state = result.unwrap();
            assert_eq!(state.instret, n);
            assert_eq!(
                exec_err(inst.execute_from_state(state, None)),
                full,
                "resumed after {n}"
            );
        } else {
            assert_eq!(exec_err(result), full, "limit {n}");
        }
    }
}

#[test]
fn limit_after_a_jump_out_of_the_code() {
    let words = [NOP, NOP, jal(1, 0x200), terminate(0)];
    let inst = instance(&words);
    let full = exec_err(inst.execute(vec![]));
    let target = pc_at(2) + 0x200;
    assert_eq!((full.pc, full.instret), (target, 3));
    assert_eq!(full.kind, ExecErrorKind::PcOutOfRange { target });
    let at_jump = inst.execute_with_limit(vec![], 3).unwrap();
    assert_eq!(
        (at_jump.pc, at_jump.instret, at_jump.regs[1]),
        (target, 3, pc_at(3))
    );
    // Zero more instructions: still suspended, no fault yet.
    let again = inst.execute_from_state(at_jump.clone(), Some(0)).unwrap();
    assert_eq!(again, at_jump);
    assert_eq!(exec_err(inst.execute_from_state(at_jump, Some(1))), full);
    assert_eq!(exec_err(inst.execute_with_limit(vec![], 4)), full);
}

#[test]
fn infinite_loop_stops_exactly_at_the_limit() {
    let inst = instance(&[addi(1, 1, 1), jal(0, -4)]);
    for limit in [1u64, 2, 3, 999, 1_000_000] {
        let state = inst.execute_with_limit(vec![], limit).unwrap();
        assert_eq!(state.instret, limit);
        assert_eq!(state.exit_code, None);
        assert_eq!(state.regs[1] as u64, limit.div_ceil(2));
        assert_eq!(state.pc, pc_at((limit % 2) as usize));
    }
}
