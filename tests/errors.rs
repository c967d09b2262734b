//! Every kind of bad input gives a typed error naming its cause (and for guest faults the pc
//! and instret), never a panic.

mod common;

use common::*;
use rvx::{
    BackendKind, ConfigError, Error, ExecError, ExecErrorKind, LoadError, Program, PureInstance,
    Rv32ImConfig, SystemConfig, VmConfig, VmState,
};
use std::sync::Arc;

/// Checks an execution error's fields and that its message names the pc in hex.
fn check(e: &ExecError, pc: u32, instret: u64, kind: ExecErrorKind) {
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.pc, pc, "pc of {e}");
    assert_eq!(e.instret, instret, "instret of {e}");
    for msg in [e.to_string(), Error::Exec(e.clone()).to_string()] {
        assert!(
            msg.contains(&format!("{pc:#010x}")) || msg.contains(&format!("{pc:#x}")),
            "message does not name pc {pc:#x}: {msg}"
        );
    }
}

fn expect_exec(
    result: Result<VmState, Error>,
    pc: u32,
    instret: u64,
    kind: ExecErrorKind,
) -> ExecError {
    let e = exec_err(result);
    check(&e, pc, instret, kind);
    e
}

fn load(bytes: &[u8]) -> Result<Program, LoadError> {
    Program::from_elf_with(bytes, exec_config())
}

// ---------------------------------------------------------------------------------------------
// ELF loading
// ---------------------------------------------------------------------------------------------

/// A valid executable: code at BASE, 4 data bytes at DATA followed by 4 bytes of bss.
fn sample_words() -> Vec<u32> {
    let mut words = li(10, DATA).to_vec();
    words.extend([
        lw(1, 10, 0),
        lw(2, 10, 4),
        reveal(1, 0, 0),
        reveal(2, 0, 4),
        terminate(0),
    ]);
    words
}

fn sample_builder() -> ElfBuilder {
    let code = words_to_bytes(&sample_words());
    ElfBuilder::new(
        BASE,
        &[
            (BASE, &code, code.len() as u32, PF_R | PF_X),
            (DATA, &[1, 2, 3, 4], 8, PF_R | PF_W),
        ],
    )
}

#[test]
fn valid_elf_loads_and_runs() {
    let program = load(&sample_builder().build()).expect("valid ELF");
    assert_eq!(program.entry(), BASE);
    assert_eq!(program.base(), BASE);
    assert_eq!(program.len(), sample_words().len());
    assert_eq!(program.words(), sample_words());
    let state = run_program(program, &[]).unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(&state.public_values[..8], &[1, 2, 3, 4, 0, 0, 0, 0]);
    assert_eq!(state.instret, 7);
}

#[test]
fn not_an_elf() {
    let mut bad_magic = sample_builder().build();
    bad_magic[1] = b'X';
    for bytes in [
        &b""[..],
        b"\x7fEL",
        b"hello, world, this is not an ELF file at all",
        &bad_magic,
    ] {
        assert_eq!(load(bytes).unwrap_err(), LoadError::NotElf, "{bytes:?}");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let full = sample_builder().build();
    assert!(load(&full).is_ok());
    for len in 0..full.len() {
        let err = load(&full[..len]).expect_err("truncated ELF must not load");
        if len < 4 {
            assert_eq!(err, LoadError::NotElf, "truncated to {len}");
        } else {
            assert!(
                matches!(err, LoadError::Malformed(_)),
                "truncated to {len}: {err:?}"
            );
        }
    }
}

#[test]
fn wrong_class_encoding_machine_or_type() {
    let with = |f: &dyn Fn(&mut ElfBuilder)| {
        let mut b = sample_builder();
        f(&mut b);
        load(&b.build()).unwrap_err()
    };
    assert_eq!(with(&|b| b.class = 2), LoadError::Not32Bit(2));
    assert_eq!(with(&|b| b.class = 0), LoadError::Not32Bit(0));
    assert_eq!(
        with(&|b| b.data_encoding = 2),
        LoadError::NotLittleEndian(2)
    );
    assert_eq!(
        with(&|b| b.data_encoding = 0),
        LoadError::NotLittleEndian(0)
    );
    assert_eq!(
        with(&|b| b.machine = 0x3e),
        LoadError::WrongArchitecture(0x3e)
    );
    assert_eq!(
        with(&|b| b.machine = 0x28),
        LoadError::WrongArchitecture(0x28)
    );
    assert_eq!(with(&|b| b.e_type = 3), LoadError::NotExecutable(3));
    assert_eq!(with(&|b| b.e_type = 1), LoadError::NotExecutable(1));
    assert_eq!(with(&|b| b.e_type = 4), LoadError::NotExecutable(4));
    assert!(matches!(with(&|b| b.version = 0), LoadError::Malformed(_)));
    // Display names the cause.
    assert!(LoadError::WrongArchitecture(0x3e)
        .to_string()
        .contains("0x3e"));
}

#[test]
fn bad_program_header_table_is_malformed() {
    let good = sample_builder().build();
    // e_phentsize (offset 42) wrong.
    let mut bytes = good.clone();
    bytes[42] = 40;
    assert!(matches!(load(&bytes), Err(LoadError::Malformed(_))));
    // e_phnum (offset 44) larger than the file holds.
    let mut bytes = good.clone();
    bytes[44..46].copy_from_slice(&1000u16.to_le_bytes());
    assert!(matches!(load(&bytes), Err(LoadError::Malformed(_))));
    // e_phoff (offset 28) past the end of the file.
    let mut bytes = good.clone();
    bytes[28..32].copy_from_slice(&0x00ff_ff00u32.to_le_bytes());
    assert!(matches!(load(&bytes), Err(LoadError::Malformed(_))));
    // p_offset of the first segment (program header at 52, p_offset at +4) past the end.
    let mut bytes = good;
    bytes[56..60].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    assert!(matches!(load(&bytes), Err(LoadError::Malformed(_))));
}

#[test]
fn no_executable_segment() {
    let mut b = sample_builder();
    b.with_program_headers = false;
    assert_eq!(load(&b.build()).unwrap_err(), LoadError::NoCode);

    let mut b = sample_builder();
    b.segments[0].flags = PF_R | PF_W;
    assert_eq!(load(&b.build()).unwrap_err(), LoadError::NoCode);

    // A code segment that is not PT_LOAD (PT_NOTE) is not loaded.
    let mut b = sample_builder();
    b.segments[0].p_type = 4;
    assert_eq!(load(&b.build()).unwrap_err(), LoadError::NoCode);
}

#[test]
fn entry_outside_executable_segment() {
    let code_end = BASE + 4 * sample_words().len() as u32;
    for entry in [DATA, code_end, 0, BASE - 4, 0xffff_fffc] {
        let mut b = sample_builder();
        b.entry = entry;
        assert_eq!(
            load(&b.build()).unwrap_err(),
            LoadError::EntryNotExecutable { entry },
            "entry {entry:#x}"
        );
    }
}

#[test]
fn misaligned_entry_or_code_segment() {
    let mut b = sample_builder();
    b.entry = BASE + 2;
    assert_eq!(
        load(&b.build()).unwrap_err(),
        LoadError::Misaligned {
            what: "entry point",
            addr: BASE + 2
        }
    );

    let mut b = sample_builder();
    b.entry = BASE + 2;
    b.segments[0].vaddr = BASE + 2;
    assert_eq!(
        load(&b.build()).unwrap_err(),
        LoadError::Misaligned {
            what: "executable segment",
            addr: BASE + 2
        }
    );
}

#[test]
fn segment_outside_guest_memory() {
    let code = words_to_bytes(&[terminate(0)]);
    // Data segment crossing the end of memory.
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, 4, PF_R | PF_X),
            (MEM_SIZE - 4, &[1, 2, 3, 4], 8, PF_R | PF_W),
        ],
    );
    assert_eq!(
        load(&bytes).unwrap_err(),
        LoadError::SegmentOutOfRange {
            vaddr: MEM_SIZE - 4,
            size: 8,
            memory_size: MEM_SIZE as u64
        }
    );
    // Address arithmetic that would overflow 32 bits.
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, 4, PF_R | PF_X),
            (0xffff_fff0, &[], 0x100, PF_R | PF_W),
        ],
    );
    assert_eq!(
        load(&bytes).unwrap_err(),
        LoadError::SegmentOutOfRange {
            vaddr: 0xffff_fff0,
            size: 0x100,
            memory_size: MEM_SIZE as u64
        }
    );
    // Code beyond the configured memory but inside the default one.
    let bytes = elf(MEM_SIZE, &[(MEM_SIZE, &code, 4, PF_R | PF_X)]);
    assert!(matches!(
        load(&bytes),
        Err(LoadError::SegmentOutOfRange {
            vaddr: MEM_SIZE,
            ..
        })
    ));
    assert!(Program::from_elf(&bytes, &Rv32ImConfig::default()).is_ok());
}

#[test]
fn code_at_the_top_of_memory() {
    let code = words_to_bytes(&[addi(1, 0, 5), terminate(3)]);
    let top = MEM_SIZE - 8;
    let program = load(&elf(top, &[(top, &code, 8, PF_R | PF_X)])).expect("fits exactly");
    let state = run_program(program, &[]).unwrap();
    assert_eq!(state.exit_code, Some(3));
    assert_eq!(state.pc, MEM_SIZE - 4);
    assert_eq!(state.regs[1], 5);

    // Falling off the top of memory is an ordinary fault.
    let code = words_to_bytes(&[addi(1, 0, 5), NOP]);
    let program = load(&elf(top, &[(top, &code, 8, PF_R | PF_X)])).unwrap();
    expect_exec(
        run_program(program, &[]),
        MEM_SIZE,
        2,
        ExecErrorKind::PcOutOfRange { target: MEM_SIZE },
    );
}

#[test]
fn overlapping_segments() {
    let code = words_to_bytes(&sample_words());
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, code.len() as u32, PF_R | PF_X),
            (BASE + 8, &[0; 8], 8, PF_R | PF_W),
        ],
    );
    assert_eq!(
        load(&bytes).unwrap_err(),
        LoadError::OverlappingSegments {
            first: BASE,
            second: BASE + 8
        }
    );
    // Two data segments, listed in decreasing address order.
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, code.len() as u32, PF_R | PF_X),
            (DATA + 0x10, &[0; 4], 4, PF_R),
            (DATA, &[0; 4], 0x20, PF_R | PF_W),
        ],
    );
    assert_eq!(
        load(&bytes).unwrap_err(),
        LoadError::OverlappingSegments {
            first: DATA,
            second: DATA + 0x10
        }
    );
    // Touching segments are fine.
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, code.len() as u32, PF_R | PF_X),
            (BASE + code.len() as u32, &[7; 4], 4, PF_R),
        ],
    );
    assert!(load(&bytes).is_ok());
}

#[test]
fn file_size_larger_than_memory_size() {
    let code = words_to_bytes(&sample_words());
    let bytes = elf(
        BASE,
        &[
            (BASE, &code, code.len() as u32, PF_R | PF_X),
            (DATA, &[1; 16], 8, PF_R | PF_W),
        ],
    );
    assert_eq!(
        load(&bytes).unwrap_err(),
        LoadError::FileSizeExceedsMemSize {
            vaddr: DATA,
            filesz: 16,
            memsz: 8
        }
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let err = Program::from_elf_file("/nonexistent/rvx/test.elf", &vm_config()).unwrap_err();
    assert!(
        matches!(err, Error::Load(LoadError::Io { ref path, .. }) if path.contains("nonexistent")),
        "{err:?}"
    );
}

#[test]
fn code_segment_size_not_a_multiple_of_four() {
    // The reference decodes every started word of the file bytes, zero-padding the last one:
    // [0x0b, 0x00] becomes `terminate 0`.
    let mut code = words_to_bytes(&[addi(1, 0, 5)]);
    code.extend([0x0b, 0x00]);
    let bytes = elf(BASE, &[(BASE, &code, 6, PF_R | PF_X)]);
    let program = load(&bytes).expect("a 6-byte code segment loads");
    let state = run_program(program, &[]).unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.instret, 2);
    assert_eq!(state.regs[1], 5);
}

#[test]
fn mutated_elf_headers_never_panic() {
    let good = sample_builder().build();
    let header_len = EHDR_SIZE + 2 * PHDR_SIZE;
    let mut rng = TestRng::new(42);
    let mut loaded = 0;
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..rng.range(1, 4) {
            let at = rng.range(0, header_len as u64 - 1) as usize;
            bytes[at] = rng.next_u32() as u8;
        }
        if let Ok(program) = load(&bytes) {
            loaded += 1;
            let inst = instance_of(program);
            if let Err(Error::Exec(e)) = inst.execute_with_limit(vec![], 100) {
                assert!(e.to_string().contains(&format!("{:#010x}", e.pc)));
            }
        }
    }
    assert!(loaded > 0, "some mutations keep the file valid");
}

// ---------------------------------------------------------------------------------------------
// Guest faults
// ---------------------------------------------------------------------------------------------

const ILLEGAL_WORDS: &[u32] = &[
    0x0000_0000,
    0xffff_ffff,
    0x0000_4501, // a compressed instruction
    0x0420_81b3, // OP with funct7 = 2
    0x4220_81b3, // OP with funct7 = 0x21
    0x4020_91b3, // sll with funct7 = 0x20
    0x0000_3083, // ld (load funct3 3)
    0x0000_6083, // lwu (load funct3 6)
    0x0000_7083, // load funct3 7
    0x0010_3023, // sd (store funct3 3)
    0x0010_4023, // store funct3 4
    0x0000_2063, // branch funct3 2
    0x0000_3063, // branch funct3 3
    0x00b5_202f, // amoadd.w
    0x0005_2007, // flw
    0x0000_0053, // fadd.s
    FENCE_I,
    0x0000_707f, // opcode 0x7f
    0x0020_100b, // custom-0 funct3 1 with imm 2
    0xfff0_100b, // custom-0 funct3 1 with imm -1
    0x0030_300b, // custom-0 funct3 3 with imm 3
    0x1000_000b, // terminate 256
];

#[test]
fn illegal_instruction_executed() {
    for &word in ILLEGAL_WORDS {
        let e = expect_exec(
            run(&[addi(1, 0, 1), word, terminate(0)], &[]),
            pc_at(1),
            1,
            ExecErrorKind::IllegalInstruction { word },
        );
        assert!(e.to_string().contains(&format!("{word:#010x}")), "{e}");
    }
}

#[test]
fn illegal_instruction_not_executed_is_harmless() {
    let mut words = vec![jal(0, 4 * (ILLEGAL_WORDS.len() as i32 + 1))];
    words.extend(ILLEGAL_WORDS);
    words.push(terminate(0));
    words.extend(ILLEGAL_WORDS);
    let state = run(&words, &[]).unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.instret, 2);
}

#[test]
fn misaligned_accesses() {
    type Access = fn(u32, u32, i32) -> u32;
    let cases: &[(&str, Access, i32, u32)] = &[
        ("lh", lh, 1, 2),
        ("lh", lh, 3, 2),
        ("lhu", lhu, 1, 2),
        ("lhu", lhu, 3, 2),
        ("lw", lw, 1, 4),
        ("lw", lw, 2, 4),
        ("lw", lw, 3, 4),
        ("sh", sh, 1, 2),
        ("sh", sh, 3, 2),
        ("sw", sw, 1, 4),
        ("sw", sw, 2, 4),
        ("sw", sw, 3, 4),
    ];
    for &(name, op, offset, size) in cases {
        for rd in [5, 0] {
            let mut words = li(10, DATA).to_vec();
            words.extend([op(rd, 10, offset), terminate(0)]);
            let e = expect_exec(
                run(&words, &[]),
                pc_at(2),
                2,
                ExecErrorKind::MisalignedAccess {
                    addr: DATA + offset as u32,
                    size,
                },
            );
            assert!(e.to_string().contains(name), "{name}: {e}");
        }
    }
    // Naturally aligned narrower accesses are fine.
    let mut words = li(10, DATA).to_vec();
    words.extend([
        lh(1, 10, 2),
        lhu(2, 10, 6),
        sh(1, 10, 2),
        lb(3, 10, 3),
        lbu(4, 10, 1),
        sb(4, 10, 5),
        terminate(0),
    ]);
    assert_eq!(run(&words, &[]).unwrap().exit_code, Some(0));
}

#[test]
fn out_of_range_loads_and_stores() {
    type Access = fn(u32, u32, i32) -> u32;
    let top = MEM_SIZE as u64;
    let cases: &[(Access, u32, i32, u64)] = &[
        (lw, MEM_SIZE, 0, 4),
        (lw, 0, -4, 4),
        (lw, 0xffff_f000, 0, 4),
        (lh, MEM_SIZE, 0, 2),
        (lhu, MEM_SIZE - 2, 2, 2),
        (lb, MEM_SIZE, 0, 1),
        (lbu, 0xffff_ffff, 0, 1),
        (sw, 0xffff_fffc, 0, 4),
        (sh, MEM_SIZE, 0, 2),
        (sb, MEM_SIZE + 0x1000, -1, 1),
    ];
    for &(op, base, offset, size) in cases {
        for rd in [5, 0] {
            let mut words = li(10, base).to_vec();
            words.extend([op(rd, 10, offset), terminate(0)]);
            let addr = base.wrapping_add(offset as u32);
            expect_exec(
                run(&words, &[]),
                pc_at(2),
                2,
                ExecErrorKind::OutOfRangeAccess {
                    addr,
                    size,
                    memory_size: top,
                },
            );
        }
    }
    // The last word of memory is accessible.
    let mut words = li(10, MEM_SIZE - 4).to_vec();
    words.extend([
        addi(1, 0, 77),
        sw(1, 10, 0),
        lw(2, 10, 0),
        lbu(3, 10, 3),
        terminate(0),
    ]);
    let state = run(&words, &[]).unwrap();
    assert_eq!((state.regs[2], state.regs[3]), (77, 0));
}

#[test]
fn out_of_range_hint_stores_and_printstr() {
    let top = MEM_SIZE as u64;
    let record = [0u8; 64];
    // hintstorew crossing the end (it needs no alignment).
    let mut words = li(10, MEM_SIZE - 2).to_vec();
    words.extend([hintinput(), hintstorew(10), terminate(0)]);
    expect_exec(
        run(&words, &[&record]),
        pc_at(3),
        3,
        ExecErrorKind::OutOfRangeAccess {
            addr: MEM_SIZE - 2,
            size: 4,
            memory_size: top,
        },
    );
    let mut words = li(10, u32::MAX).to_vec();
    words.extend([hintinput(), hintstorew(10), terminate(0)]);
    expect_exec(
        run(&words, &[&record]),
        pc_at(3),
        3,
        ExecErrorKind::OutOfRangeAccess {
            addr: u32::MAX,
            size: 4,
            memory_size: top,
        },
    );
    // hintbuffer of 3 words with room for 2.
    let mut words = li(10, MEM_SIZE - 8).to_vec();
    words.extend([
        hintinput(),
        addi(11, 0, 3),
        hintbuffer(10, 11),
        terminate(0),
    ]);
    expect_exec(
        run(&words, &[&record]),
        pc_at(4),
        4,
        ExecErrorKind::OutOfRangeAccess {
            addr: MEM_SIZE - 8,
            size: 12,
            memory_size: top,
        },
    );
    // hintstorew right at the top fits.
    let mut words = li(10, MEM_SIZE - 4).to_vec();
    words.extend([hintinput(), hintstorew(10), terminate(0)]);
    let state = run(&words, &[&record]).unwrap();
    assert_eq!(mem(&state, MEM_SIZE - 4, 4), [64, 0, 0, 0]);
    // printstr past the end, and one whose end overflows 32 bits.
    for (addr, len) in [(MEM_SIZE - 2, 4u32), (0xffff_fff0, 0x100), (MEM_SIZE, 1)] {
        let mut words = li(10, addr).to_vec();
        words.extend(li(11, len));
        words.extend([printstr(10, 11), terminate(0)]);
        expect_exec(
            run(&words, &[]),
            pc_at(4),
            4,
            ExecErrorKind::OutOfRangeAccess {
                addr,
                size: u64::from(len),
                memory_size: top,
            },
        );
    }
}

#[test]
fn jump_past_the_code_completes_then_faults() {
    let words = [addi(1, 0, 1), jal(5, 0x100), terminate(0)];
    let target = pc_at(1) + 0x100;
    expect_exec(
        run(&words, &[]),
        target,
        2,
        ExecErrorKind::PcOutOfRange { target },
    );

    // The jump itself completes: with a limit right after it the state is suspended at the
    // target with the link written, and resuming reports the fault.
    let inst = instance(&words);
    let state = inst.execute_with_limit(vec![], 2).unwrap();
    assert_eq!(state.pc, target);
    assert_eq!(state.instret, 2);
    assert_eq!(state.regs[5], pc_at(2));
    assert_eq!(state.exit_code, None);
    expect_exec(
        inst.execute_from_state(state, None),
        target,
        2,
        ExecErrorKind::PcOutOfRange { target },
    );

    // Backwards, below the code.
    let target = pc_at(1) - 0x800;
    expect_exec(
        run(&[addi(1, 0, 1), jal(0, -0x800)], &[]),
        target,
        2,
        ExecErrorKind::PcOutOfRange { target },
    );
}

#[test]
fn jalr_to_nowhere() {
    // To address 0.
    let words = [addi(1, 0, 1), jalr(5, 0, 0), terminate(0)];
    expect_exec(
        run(&words, &[]),
        0,
        2,
        ExecErrorKind::PcOutOfRange { target: 0 },
    );
    let state = instance(&words).execute_with_limit(vec![], 2).unwrap();
    assert_eq!((state.pc, state.regs[5]), (0, pc_at(2)));

    // To a misaligned address inside the code (bit 1 set; bit 0 is cleared by jalr).
    for offset in [2u32, 3] {
        let mut words = li(6, pc_at(4) + offset).to_vec();
        words.extend([jalr(5, 6, 0), NOP, terminate(0)]);
        let target = pc_at(4) + 2;
        expect_exec(
            run(&words, &[]),
            target,
            3,
            ExecErrorKind::MisalignedPc { target },
        );
        let state = instance(&words).execute_with_limit(vec![], 3).unwrap();
        assert_eq!((state.pc, state.regs[5]), (target, pc_at(3)));
    }

    // Past the end of memory.
    let mut words = li(6, 0xffff_fff0).to_vec();
    words.extend([jalr(0, 6, 0)]);
    expect_exec(
        run(&words, &[]),
        0xffff_fff0,
        3,
        ExecErrorKind::PcOutOfRange {
            target: 0xffff_fff0,
        },
    );
}

#[test]
fn branch_to_nowhere() {
    // Taken branch to a misaligned target.
    let target = pc_at(1) + 6;
    expect_exec(
        run(&[NOP, beq(0, 0, 6), NOP, NOP, terminate(0)], &[]),
        target,
        2,
        ExecErrorKind::MisalignedPc { target },
    );
    // Taken branch past the code.
    let target = pc_at(1) + 0x400;
    expect_exec(
        run(&[NOP, beq(0, 0, 0x400), terminate(0)], &[]),
        target,
        2,
        ExecErrorKind::PcOutOfRange { target },
    );
    // Not-taken branches to bad targets are harmless.
    let state = run(
        &[
            addi(1, 0, 1),
            beq(0, 1, 0x400),
            bne(0, 0, 6),
            blt(1, 0, -0x800),
            terminate(0),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(state.instret, 5);
}

#[test]
fn falling_off_the_end_of_the_code() {
    expect_exec(
        run(&[addi(1, 0, 1), addi(2, 0, 2)], &[]),
        pc_at(2),
        2,
        ExecErrorKind::PcOutOfRange { target: pc_at(2) },
    );
    // After a not-taken branch in the last word.
    expect_exec(
        run(&[addi(1, 0, 1), beq(0, 1, -4)], &[]),
        pc_at(2),
        2,
        ExecErrorKind::PcOutOfRange { target: pc_at(2) },
    );
}

#[test]
fn jump_into_zero_filled_code_or_a_gap() {
    // The code segment is 0x40 bytes in memory but only 12 in the file: the rest holds no
    // instructions.
    let code = words_to_bytes(&[NOP, jal(0, 0x10), terminate(0)]);
    let program = load(&elf(BASE, &[(BASE, &code, 0x40, PF_R | PF_X)])).unwrap();
    let target = pc_at(1) + 0x10;
    expect_exec(
        run_program(program, &[]),
        target,
        2,
        ExecErrorKind::PcOutOfRange { target },
    );

    // Two code segments with a gap between them.
    let first = words_to_bytes(&[jal(0, 0x100), jal(0, 0x80)]);
    let second = words_to_bytes(&[addi(1, 0, 9), jal(0, -0x100)]);
    let program = load(&elf(
        BASE,
        &[
            (BASE, &first, 8, PF_R | PF_X),
            (BASE + 0x100, &second, 8, PF_R | PF_X),
        ],
    ))
    .unwrap();
    let target = pc_at(1) + 0x80;
    expect_exec(
        run_program(program, &[]),
        target,
        4,
        ExecErrorKind::PcOutOfRange { target },
    );
}

#[test]
fn resuming_at_a_bad_pc() {
    let inst = instance(&[NOP, NOP, terminate(0)]);
    for (pc, kind) in [
        (BASE + 2, ExecErrorKind::MisalignedPc { target: BASE + 2 }),
        (0x10, ExecErrorKind::PcOutOfRange { target: 0x10 }),
        (pc_at(3), ExecErrorKind::PcOutOfRange { target: pc_at(3) }),
    ] {
        let mut state = inst.initial_state(vec![]).unwrap();
        state.pc = pc;
        expect_exec(inst.execute_from_state(state, None), pc, 0, kind);
    }
}

/// Code, input records, and the fault expected at its second instruction.
type Case<'a> = (&'a [u32], &'a [&'a [u8]], ExecErrorKind);

#[test]
fn stream_and_reveal_errors_name_the_pc() {
    let reveal_at = |offset| ExecErrorKind::RevealOutOfRange {
        offset,
        num_public_values: 32,
    };
    let cases: [Case; 5] = [
        (&[NOP, hintinput()], &[], ExecErrorKind::InputStreamEmpty),
        (
            &[NOP, hintstorew(0)],
            &[],
            ExecErrorKind::HintStreamEmpty {
                needed: 4,
                available: 0,
            },
        ),
        (&[addi(5, 0, 3), reveal(0, 5, 0)], &[], reveal_at(3)),
        (&[addi(5, 0, 32), reveal(0, 5, 0)], &[], reveal_at(32)),
        (
            &[hintinput(), hintbuffer(0, 0)],
            &[b"abcd"],
            ExecErrorKind::HintBufferLength { words: 0 },
        ),
    ];
    for (words, inputs, kind) in cases {
        expect_exec(run(words, inputs), pc_at(1), 1, kind);
    }
}

#[test]
fn resuming_with_a_different_program_or_configuration() {
    let words = [NOP, NOP, NOP, terminate(0)];
    let state = instance(&words).execute_with_limit(vec![], 2).unwrap();

    let other = instance(&[NOP, NOP, NOP, terminate(1)]);
    let err = other.execute_from_state(state.clone(), None).unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::StateMismatch(_))),
        "{err:?}"
    );

    // Same program, different data.
    let other = instance_of(program_with_data(&words, &[(DATA, &[1])]));
    let err = other.execute_from_state(state.clone(), None).unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::StateMismatch(_))),
        "{err:?}"
    );

    // Same code, different memory size or number of public values.
    for system in [
        SystemConfig {
            pointer_max_bits: 16,
            ..config()
        },
        SystemConfig {
            num_public_values: 64,
            ..config()
        },
    ] {
        let exec = Arc::new(
            Rv32ImConfig::with_system(system)
                .execution_config()
                .unwrap(),
        );
        let program = Program::from_segments(BASE, vec![code_segment(BASE, &words)], exec);
        let inst = PureInstance::new(Arc::new(program), BackendKind::Interpreter).unwrap();
        let err = inst.execute_from_state(state.clone(), None).unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::StateMismatch(_))),
            "{err:?}"
        );
    }

    // A state whose x0 is not zero.
    let mut bad = state.clone();
    bad.regs[0] = 1;
    let err = instance(&words).execute_from_state(bad, None).unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::StateMismatch(_))),
        "{err:?}"
    );

    // The right program still resumes.
    let done = instance(&words).execute_from_state(state, None).unwrap();
    assert_eq!((done.exit_code, done.instret), (Some(0), 4));
}

#[test]
fn resuming_a_terminated_state() {
    let words = [NOP, terminate(5)];
    let inst = instance(&words);
    let done = inst.execute(vec![]).unwrap();
    assert_eq!(done.exit_code, Some(5));
    for limit in [None, Some(0), Some(10)] {
        expect_exec(
            inst.execute_from_state(done.clone(), limit),
            pc_at(1),
            2,
            ExecErrorKind::AlreadyTerminated,
        );
    }
}

#[test]
fn invalid_configurations() {
    let bad = |system: SystemConfig| {
        Rv32ImConfig::with_system(system)
            .execution_config()
            .unwrap_err()
    };
    assert_eq!(
        bad(SystemConfig {
            pointer_max_bits: 40,
            ..config()
        }),
        ConfigError::PointerMaxBits(40)
    );
    assert_eq!(
        bad(SystemConfig {
            pointer_max_bits: 2,
            ..config()
        }),
        ConfigError::PointerMaxBits(2)
    );
    assert_eq!(
        bad(SystemConfig {
            num_public_values: 30,
            ..config()
        }),
        ConfigError::NumPublicValues(30)
    );
    // Loading a program for an invalid configuration is a configuration error.
    let bytes = code_elf(&[terminate(0)]);
    let system = SystemConfig {
        pointer_max_bits: 40,
        ..config()
    };
    assert_eq!(
        Program::from_elf(&bytes, &Rv32ImConfig::with_system(system)).unwrap_err(),
        Error::Config(ConfigError::PointerMaxBits(40))
    );
}

#[test]
fn random_code_never_panics() {
    // Random words, biased towards valid major opcodes so that many of them execute.
    const OPCODES: [u32; 12] = [
        0x33, 0x13, 0x03, 0x23, 0x63, 0x6f, 0x67, 0x37, 0x17, 0x0b, 0x73, 0x0f,
    ];
    let mut rng = TestRng::new(1);
    let data = [0x5au8; 256];
    let mut outcomes = [0usize; 3];
    for _ in 0..400 {
        let len = rng.range(1, 64) as usize;
        let mut words = Vec::with_capacity(len + 4);
        words.extend(li(10, DATA));
        for _ in 0..len {
            let w = rng.next_u32();
            let w = if rng.range(0, 3) == 0 {
                w
            } else {
                (w & !0x7f) | OPCODES[rng.range(0, OPCODES.len() as u64 - 1) as usize]
            };
            words.push(w);
        }
        let inputs: &[&[u8]] = &[b"random input", b""];
        match instance_of(program_with_data(&words, &[(DATA, &data)]))
            .execute_with_limit(records(inputs), 5000)
        {
            Ok(state) => {
                assert!(state.instret <= 5000);
                assert_eq!(state.regs[0], 0);
                outcomes[usize::from(state.exit_code.is_some())] += 1;
            }
            Err(Error::Exec(e)) => {
                assert!(e.instret < 5000);
                assert!(e.to_string().contains(&format!("{:#010x}", e.pc)), "{e}");
                outcomes[2] += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert!(outcomes[2] > 0, "some random programs fault: {outcomes:?}");
}

/// Segments built directly (not from an ELF) with a gap between two code segments fault
/// cleanly at run time, also when suspended in the gap.
#[test]
fn program_from_segments_with_gap_faults_cleanly() {
    let segments = vec![
        code_segment(BASE, &[jal(0, 0x20)]),
        code_segment(BASE + 0x40, &[terminate(0)]),
    ];
    let inst = instance_of(Program::from_segments(BASE, segments, exec_config()));
    let target = BASE + 0x20;
    let kind = ExecErrorKind::PcOutOfRange { target };
    expect_exec(inst.execute(vec![]), target, 1, kind.clone());
    let state = inst.execute_with_limit(vec![], 1).unwrap();
    assert_eq!(
        (state.pc, state.instret, state.exit_code),
        (target, 1, None)
    );
    expect_exec(inst.execute_from_state(state, None), target, 1, kind);
}
