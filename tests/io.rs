//! The system/IO instructions: hintinput, hintstorew, hintbuffer, reveal, printstr, hintrandom.

mod common;

use common::*;
use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};
use rvx::{ExecErrorKind, VmState};

/// The first `n` bytes `hintrandom` must produce after a fresh start, computed independently:
/// ChaCha12 seeded with `seed_from_u64(0)`, one `next_u32` per byte, keeping its low byte.
fn reference_random_bytes(n: usize) -> Vec<u8> {
    let mut rng = ChaCha12Rng::seed_from_u64(0);
    (0..n).map(|_| (rng.next_u32() & 0xff) as u8).collect()
}

fn hint(state: &VmState) -> Vec<u8> {
    state.streams.hint.iter().copied().collect()
}

#[test]
fn hintinput_frames_the_record() {
    for (record, framed) in [
        (
            &b"abcde"[..],
            &[5u8, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', 0, 0, 0][..],
        ),
        (&b"abcd"[..], &[4, 0, 0, 0, b'a', b'b', b'c', b'd'][..]),
        (&b""[..], &[0, 0, 0, 0][..]),
        (&[9u8][..], &[1, 0, 0, 0, 9, 0, 0, 0][..]),
        (&[1u8, 2, 3][..], &[3, 0, 0, 0, 1, 2, 3, 0][..]),
    ] {
        let state = run(&[hintinput(), terminate(0)], &[record, b"next"]).unwrap();
        assert_eq!(hint(&state), framed, "record {record:?}");
        assert_eq!(state.streams.input.len(), 1, "only one record consumed");
        assert_eq!(state.streams.input[0], b"next");
        assert_eq!(state.instret, 2);
    }
}

#[test]
fn hintinput_length_header_is_little_endian_for_long_records() {
    let record = vec![0xabu8; 0x1234];
    let state = run(&[hintinput(), terminate(0)], &[&record]).unwrap();
    let h = hint(&state);
    assert_eq!(h.len(), 4 + 0x1234);
    assert_eq!(&h[..4], &[0x34, 0x12, 0, 0]);
    assert!(h[4..].iter().all(|&b| b == 0xab));
}

#[test]
fn hintinput_replaces_the_hint_stream() {
    // The first record is only partly consumed; the second hintinput discards the rest.
    let mut words = li(10, DATA).to_vec();
    words.extend([
        hintinput(),
        hintstorew(10),
        hintinput(),
        addi(10, 10, 4),
        hintstorew(10),
        terminate(0),
    ]);
    let state = run(&words, &[b"first record", b"xy"]).unwrap();
    assert_eq!(mem_u32(&state, DATA), 12, "length of the first record");
    assert_eq!(mem_u32(&state, DATA + 4), 2, "length of the second record");
    assert_eq!(hint(&state), [b'x', b'y', 0, 0]);
    assert!(state.streams.input.is_empty());
}

#[test]
fn records_are_consumed_in_order() {
    let mut words = li(10, DATA).to_vec();
    for _ in 0..3 {
        words.extend([
            hintinput(),
            addi(11, 0, 2),
            hintbuffer(10, 11),
            addi(10, 10, 8),
        ]);
    }
    words.push(terminate(0));
    let state = run(&words, &[b"AAAA", b"BBB", b"C"]).unwrap();
    assert_eq!(
        mem(&state, DATA, 24),
        [
            4, 0, 0, 0, b'A', b'A', b'A', b'A', 3, 0, 0, 0, b'B', b'B', b'B', 0, 1, 0, 0, 0, b'C',
            0, 0, 0
        ]
    );
    assert!(state.streams.hint.is_empty());
}

#[test]
fn hintstorew_allows_unaligned_addresses() {
    let mut words = li(10, DATA + 1).to_vec();
    words.extend([
        hintinput(),
        hintstorew(10),
        addi(10, 10, 6),
        hintstorew(10),
        terminate(0),
    ]);
    let state = run(&words, &[&[0xa1, 0xa2, 0xa3, 0xa4]]).unwrap();
    assert_eq!(
        mem(&state, DATA, 12),
        [0, 4, 0, 0, 0, 0, 0, 0xa1, 0xa2, 0xa3, 0xa4, 0]
    );
    assert!(state.streams.hint.is_empty());
    assert_eq!(state.instret, 7);
}

#[test]
fn hintbuffer_copies_words() {
    let record: Vec<u8> = (0..40u8).collect();
    let mut words = li(10, DATA).to_vec();
    words.extend([
        hintinput(),
        addi(11, 0, 3),
        hintbuffer(10, 11),
        terminate(0),
    ]);
    let state = run(&words, &[&record]).unwrap();
    let mut expect = vec![40u8, 0, 0, 0];
    expect.extend(0..8u8);
    assert_eq!(mem(&state, DATA, 12), expect);
    assert_eq!(
        mem(&state, DATA + 12, 4),
        [0; 4],
        "no more than 3 words written"
    );
    assert_eq!(
        hint(&state),
        (8..40u8).collect::<Vec<_>>(),
        "the rest stays in the stream"
    );
    assert_eq!(state.regs[11], 3);
}

#[test]
fn hintbuffer_accepts_1023_words() {
    // 4 + 4088 = 4092 bytes = 1023 words.
    let record: Vec<u8> = (0..4088u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut words = li(10, DATA).to_vec();
    words.extend(li(11, 1023));
    words.extend([hintinput(), hintbuffer(10, 11), terminate(0)]);
    let state = run(&words, &[&record]).unwrap();
    assert_eq!(mem(&state, DATA, 4), [0xf8, 0x0f, 0, 0]);
    assert_eq!(mem(&state, DATA + 4, 4088), record);
    assert!(state.streams.hint.is_empty());
}

#[test]
fn hintbuffer_length_must_be_1_to_1023() {
    let record = vec![0u8; 8000];
    for len in [0u32, 1024, 4096, u32::MAX] {
        let mut words = li(10, DATA).to_vec();
        words.extend(li(11, len));
        words.extend([hintinput(), hintbuffer(10, 11), terminate(0)]);
        let e = run_exec_err(&words, &[&record]);
        assert_eq!(e.kind, ExecErrorKind::HintBufferLength { words: len });
        assert_eq!((e.pc, e.instret), (pc_at(5), 5));
    }
}

#[test]
fn reveal_writes_public_values() {
    let mut words = li(1, 0x1122_3344).to_vec();
    words.extend(li(2, 0xdead_beef));
    words.extend([
        reveal(1, 0, 0),
        reveal(2, 0, 4),
        addi(5, 0, 32),
        reveal(2, 5, -4), // offset 28, the last word
        addi(6, 0, 12),
        reveal(1, 6, 4), // offset 16
        reveal(2, 0, 4), // overwrite with the same value
        terminate(0),
    ]);
    let state = run_ok(&words);
    let pv = &state.public_values;
    assert_eq!(pv.len(), 32);
    assert_eq!(&pv[0..4], &0x1122_3344u32.to_le_bytes());
    assert_eq!(&pv[4..8], &0xdead_beefu32.to_le_bytes());
    assert_eq!(&pv[8..16], &[0; 8]);
    assert_eq!(&pv[16..20], &0x1122_3344u32.to_le_bytes());
    assert_eq!(&pv[20..28], &[0; 8]);
    assert_eq!(&pv[28..32], &0xdead_beefu32.to_le_bytes());
}

#[test]
fn reveal_offset_must_be_aligned_and_in_range() {
    for (base, imm) in [
        (0u32, 32),
        (0, 2),
        (0, 1),
        (32, -2),
        (0, -4),
        (0x7fff_fffc, 0),
        (u32::MAX - 3, 0),
        (36, 0),
    ] {
        let mut words = li(5, base).to_vec();
        words.extend([addi(1, 0, 7), reveal(1, 5, imm), terminate(0)]);
        let e = run_exec_err(&words, &[]);
        assert_eq!(
            e.kind,
            ExecErrorKind::RevealOutOfRange {
                offset: base.wrapping_add(imm as u32),
                num_public_values: 32
            },
            "x[rd] = {base:#x}, imm = {imm}"
        );
        assert_eq!((e.pc, e.instret), (pc_at(3), 3));
    }
}

#[test]
fn printstr_prints_to_the_configured_output() {
    let text = "hello, zkVM ✓\n";
    let mut words = li(10, DATA).to_vec();
    words.extend([
        addi(11, 0, text.len() as i32),
        printstr(10, 11),
        addi(11, 0, 5),
        printstr(10, 11),
        printstr(10, 0),
    ]);
    words.push(terminate(0));
    let (inst, buffer) =
        instance_with_buffer(program_with_data(&words, &[(DATA, text.as_bytes())]));
    let state = inst.execute(vec![]).unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap(),
        format!("{text}hello")
    );
    assert_eq!(state.instret, 8);
}

#[test]
fn printstr_rejects_invalid_utf8() {
    let bytes = [b'o', b'k', 0xff, 0xfe];
    let mut words = li(10, DATA).to_vec();
    words.extend([addi(11, 0, 4), printstr(10, 11), terminate(0)]);
    let (inst, buffer) = instance_with_buffer(program_with_data(&words, &[(DATA, &bytes)]));
    let e = exec_err(inst.execute(vec![]));
    assert_eq!(e.kind, ExecErrorKind::InvalidUtf8 { addr: DATA, len: 4 });
    assert_eq!((e.pc, e.instret), (pc_at(3), 3));
    assert!(buffer.lock().unwrap().is_empty(), "nothing printed");
}

#[test]
fn hintrandom_matches_the_reference_generator() {
    let mut words = li(10, DATA).to_vec();
    words.extend([addi(1, 0, 2), hintrandom(1), hintstorew(10), terminate(0)]);
    let state = run(&words, &[]).unwrap();
    let expect = reference_random_bytes(8);
    assert_eq!(mem(&state, DATA, 4), expect[..4]);
    assert_eq!(hint(&state), expect[4..]);
    // Not a constant: the bytes differ from each other.
    assert!(expect.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn hintrandom_replaces_the_hint_stream() {
    let words = [hintinput(), addi(1, 0, 3), hintrandom(1), terminate(0)];
    let state = run(&words, &[b"input data"]).unwrap();
    assert_eq!(hint(&state), reference_random_bytes(12));

    // Zero words: the stream is just cleared.
    let words = [hintinput(), hintrandom(0), terminate(0)];
    let state = run(&words, &[b"input data"]).unwrap();
    assert!(state.streams.hint.is_empty());
}

#[test]
fn hintrandom_sequence_continues_across_calls() {
    let mut words = li(10, DATA).to_vec();
    words.extend([
        addi(1, 0, 2),
        hintrandom(1), // bytes 0..8
        addi(11, 0, 2),
        hintbuffer(10, 11),
        addi(1, 0, 1),
        hintrandom(1), // bytes 8..12
        addi(10, 10, 8),
        hintstorew(10),
        addi(1, 0, 5),
        hintrandom(1), // bytes 12..32
        terminate(0),
    ]);
    let state = run(&words, &[]).unwrap();
    let expect = reference_random_bytes(32);
    assert_eq!(mem(&state, DATA, 12), expect[..12]);
    assert_eq!(hint(&state), expect[12..32]);
}

#[test]
fn hintrandom_sequence_continues_across_suspend_and_resume() {
    let mut words = li(10, DATA).to_vec();
    words.extend([
        addi(1, 0, 1),
        hintrandom(1),
        hintstorew(10),
        addi(10, 10, 4),
    ]);
    let resume_at = words.len() as u64;
    words.extend([addi(1, 0, 2), hintrandom(1), terminate(0)]);
    let inst = instance(&words);
    let full = inst.execute(vec![]).unwrap();
    let expect = reference_random_bytes(12);
    assert_eq!(mem(&full, DATA, 4), expect[..4]);
    assert_eq!(hint(&full), expect[4..12]);

    for n in 0..=resume_at + 2 {
        let suspended = inst.execute_with_limit(vec![], n).unwrap();
        assert_eq!(suspended.instret, n);
        // Through bytes, as if saved and resumed in another process.
        let restored = VmState::from_bytes(&suspended.to_bytes().unwrap()).unwrap();
        assert_eq!(restored, suspended);
        let resumed = inst.execute_from_state(restored, None).unwrap();
        assert_eq!(resumed, full, "suspended after {n} instructions");
    }

    // A fresh start begins the sequence again.
    let again = inst.execute(vec![]).unwrap();
    assert_eq!(hint(&again), expect[4..12]);
}

#[test]
fn hintrandom_larger_than_memory_is_an_error() {
    let mut words = li(1, 0x4000_0000).to_vec();
    words.extend([hintrandom(1), terminate(0)]);
    let e = run_exec_err(&words, &[]);
    assert_eq!(
        e.kind,
        ExecErrorKind::HintRandomTooLarge { words: 0x4000_0000 }
    );
    assert_eq!((e.pc, e.instret), (pc_at(2), 2));
}

#[test]
fn empty_input_stream_is_an_error() {
    let e = run_exec_err(&[addi(1, 0, 1), hintinput(), terminate(0)], &[]);
    assert_eq!(e.kind, ExecErrorKind::InputStreamEmpty);
    assert_eq!((e.pc, e.instret), (pc_at(1), 1));

    let e = run_exec_err(&[hintinput(), hintinput(), terminate(0)], &[b"only one"]);
    assert_eq!(e.kind, ExecErrorKind::InputStreamEmpty);
    assert_eq!((e.pc, e.instret), (pc_at(1), 1));
}

#[test]
fn empty_hint_stream_is_an_error() {
    let mut words = li(10, DATA).to_vec();
    words.extend([hintstorew(10), terminate(0)]);
    let e = run_exec_err(&words, &[]);
    assert_eq!(
        e.kind,
        ExecErrorKind::HintStreamEmpty {
            needed: 4,
            available: 0
        }
    );
    assert_eq!((e.pc, e.instret), (pc_at(2), 2));

    // Consumed down to nothing: the 4-byte header of an empty record, then one more pop.
    let mut words = li(10, DATA).to_vec();
    words.extend([hintinput(), hintstorew(10), hintstorew(10), terminate(0)]);
    let e = run_exec_err(&words, &[b""]);
    assert_eq!(
        e.kind,
        ExecErrorKind::HintStreamEmpty {
            needed: 4,
            available: 0
        }
    );
    assert_eq!((e.pc, e.instret), (pc_at(4), 4));

    // hintbuffer asking for more than is left.
    let mut words = li(10, DATA).to_vec();
    words.extend([
        hintinput(),
        addi(11, 0, 3),
        hintbuffer(10, 11),
        terminate(0),
    ]);
    let e = run_exec_err(&words, &[b"abc"]);
    assert_eq!(
        e.kind,
        ExecErrorKind::HintStreamEmpty {
            needed: 12,
            available: 8
        }
    );
    assert_eq!((e.pc, e.instret), (pc_at(4), 4));
}

#[test]
fn io_instructions_count_one_each() {
    let mut words = li(10, DATA).to_vec();
    words.extend([
        hintinput(),
        hintstorew(10),
        addi(11, 0, 1),
        hintbuffer(10, 11),
        reveal(11, 0, 0),
        printstr(10, 0),
        hintrandom(11),
        terminate(0),
    ]);
    let state = run(&words, &[b"abcd"]).unwrap();
    assert_eq!(state.instret, words.len() as u64);
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(mem(&state, DATA, 4), *b"abcd");
    assert_eq!(&state.public_values[..4], &[1, 0, 0, 0]);
}
