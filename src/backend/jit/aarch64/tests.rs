//! Tests of the aarch64 emitter. On any host: every instruction form is emitted in every mode
//! (any immediate the assembler cannot encode panics), the code of real programs assembles,
//! long branches are used when short ones do not reach, and a few encodings are checked
//! against known words and, when one is installed, an independent disassembler (binutils'
//! `aarch64-linux-gnu-objdump` or LLVM's `llvm-mc`). On aarch64 hosts (under emulation in CI)
//! the far-branch program also runs and is compared with the interpreter; everything else
//! that runs is the differential suite.

use super::*;
use crate::config::{Rv32ImConfig, SystemConfig, VmConfig};
use crate::program::Segment;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

const BASE: u32 = 0x1000;

fn program_with(words: &[u32], pointer_max_bits: u32) -> Program {
    let config = Rv32ImConfig::with_system(SystemConfig {
        pointer_max_bits,
        ..SystemConfig::default()
    });
    let exec = Arc::new(config.execution_config().expect("valid configuration"));
    let segment = Segment {
        vaddr: BASE,
        data: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
        memsz: 4 * words.len() as u32,
        executable: true,
    };
    Program::from_segments(BASE, vec![segment], exec)
}

// A few RISC-V encoders (the integration tests have a full assembler; unit tests cannot
// reach it).
fn r(op: u32, f3: u32, f7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn i(op: u32, f3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn s(f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23
}
fn b(f3: u32, rs1: u32, rs2: u32, offset: i32) -> u32 {
    let imm = offset as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63
}
fn jal(rd: u32, offset: i32) -> u32 {
    let imm = offset as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}
const TERMINATE: u32 = 0x0b;

/// A program with every RV32IM instruction on every register as destination and sources
/// (so on registers held in host registers, in the frame, and x0), immediates of every shape
/// (small, negative, encodable and not as logical immediates), branches both ways, jumps,
/// and the handoff instructions.
fn every_form() -> Vec<u32> {
    let mut code = Vec::new();
    for n in 0..32u32 {
        let (d, a, c) = (n, (n * 7 + 3) % 32, (n * 13 + 5) % 32);
        for (f3, f7) in [
            (0, 0),
            (0, 0x20),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (5, 0),
            (5, 0x20),
        ] {
            code.push(r(0x33, f3, f7, d, a, c));
        }
        for f3 in 0..8 {
            code.push(r(0x33, f3, 1, d, a, c));
            code.push(r(0x33, f3, 1, d, d, d));
        }
        for imm in [0, 1, -1, 7, 2047, -2048, 0x555, 0x0f0, -16] {
            for f3 in [0, 2, 3, 4, 6, 7] {
                code.push(i(0x13, f3, d, a, imm));
            }
        }
        for shift in [0, 1, 17, 31] {
            code.push(r(0x13, 1, 0, d, a, shift));
            code.push(r(0x13, 5, 0, d, a, shift));
            code.push(r(0x13, 5, 0x20, d, a, shift));
        }
        code.push((0x12345 << 12) | (d << 7) | 0x37); // lui
        code.push((0xfffff << 12) | (d << 7) | 0x17); // auipc
        for imm in [0, 4, -4, 2044, -2048] {
            for f3 in [0, 1, 2, 4, 5] {
                code.push(i(0x03, f3, d, a, imm));
            }
            for f3 in [0, 1, 2] {
                code.push(s(f3, a, c, imm));
            }
        }
        for f3 in [0, 1, 4, 5, 6, 7] {
            code.push(b(f3, a, c, 8));
            code.push(b(f3, a, 0, 8));
            code.push(b(f3, 0, c, -4 * (1 + code.len() as i32 % 40)));
        }
        code.push(jal(d, 8));
        code.push(i(0x67, 0, d, a, 2044)); // jalr
        code.push(jal(0, -4 * (code.len() as i32 % 60)));
    }
    code.push(0x0000_0073); // ecall: terminates with exit code 2
    code.push(i(0x0b, 3, 0, 0, 0)); // hintinput
    code.push(0xffff_ffff); // illegal
    code.push(TERMINATE);
    code
}

const MODES: [LiftMode; 3] = [LiftMode::Pure, LiftMode::Metered, LiftMode::Cost];

/// Emits `program` for `mode` (long branches if `far`) and returns the code's bytes.
fn assemble(program: &Program, mode: LiftMode, far: bool) -> Result<Vec<u8>, EmitError> {
    let plan = CodePlan::new(program, mode);
    let mut table = vec![0usize; program.code().len()];
    let code = emit_with(program, &plan, &mut table, far)?;
    assert!(
        table.iter().all(|&a| a != 0),
        "every table entry is an address"
    );
    Ok(code.buffer.bytes().to_vec())
}

fn assembled(program: &Program, mode: LiftMode, far: bool) -> Vec<u8> {
    match assemble(program, mode, far) {
        Ok(bytes) => bytes,
        Err(EmitError::OutOfRange) => panic!("{mode:?}: a branch is out of range"),
        Err(EmitError::Failed(e)) => panic!("{mode:?}: {e}"),
    }
}

#[test]
fn every_instruction_form_assembles_in_every_mode() {
    let words = every_form();
    // Memory sizes with and without a one-test bounds check, and without any.
    for bits in [12, 20, 29, 32] {
        let program = program_with(&words, bits);
        for mode in MODES {
            for far in [false, true] {
                let bytes = assembled(&program, mode, far);
                assert!(bytes.len() > 4 * words.len());
                if bits == 20 && !far {
                    check_disassembly(&bytes, &format!("every form, {mode:?}"));
                }
            }
        }
    }
}

#[test]
fn bundled_guests_assemble_in_every_mode() {
    for guest in crate::guests::ALL {
        let program = Program::from_elf(guest.elf, &Rv32ImConfig::default()).unwrap();
        for mode in MODES {
            let bytes = assembled(&program, mode, false);
            check_disassembly(&bytes, &format!("{} {mode:?}", guest.name));
            assembled(&program, mode, true);
        }
    }
}

/// Runs bundled guests on the JIT with every branch between blocks in its long form (real
/// programs never need it: a RISC-V conditional branch spans at most 1024 instructions) in
/// every mode, and compares with the interpreter.
#[cfg(target_arch = "aarch64")]
#[test]
fn long_branches_run_like_the_interpreter() {
    use crate::instance::{MeteredCostInstance, MeteredInstance};
    use crate::{BackendKind, Output, PureInstance};
    FORCE_FAR.with(|far| far.set(true));
    let cases: [(&str, Vec<Vec<u8>>); 3] = [
        ("fibonacci", vec![1000u64.to_le_bytes().to_vec()]),
        ("cpubench", vec![0u32.to_le_bytes().to_vec()]),
        ("io", vec![vec![0, 1, 2, 3, 4], b"hello".to_vec()]),
    ];
    for (name, inputs) in cases {
        let elf = crate::guests::find(name).unwrap().elf;
        let program = Arc::new(Program::from_elf(elf, &Rv32ImConfig::default()).unwrap());
        let on = |backend| {
            let pure = PureInstance::new(program.clone(), backend).unwrap();
            let metered = MeteredInstance::new(program.clone(), backend).unwrap();
            let cost = MeteredCostInstance::new(program.clone(), backend).unwrap();
            (
                pure.with_output(Output::Discard).execute(inputs.clone()),
                metered
                    .with_output(Output::Discard)
                    .execute_metered(inputs.clone()),
                cost.with_output(Output::Discard)
                    .execute_metered_cost(inputs.clone()),
            )
        };
        let reference = on(BackendKind::Interpreter);
        assert!(reference.0.is_ok());
        assert!(on(BackendKind::Jit) == reference, "{name}");
    }
    FORCE_FAR.with(|far| far.set(false));
}

/// A configuration whose check interval needs wider packed fields, so that metered code keeps
/// more packed words than [`MODE_REGS`] holds (the rest in the frame), with limits that cut
/// segments.
fn wide_fields() -> Rv32ImConfig {
    let mut config = Rv32ImConfig::default();
    config.system.segmentation.segment_check_insns = 5000;
    config.system.segmentation.max_trace_height = 1 << 14;
    config
}

#[test]
fn packed_words_beyond_the_registers_assemble() {
    let elf = crate::guests::find("cpubench").unwrap().elf;
    let program = Program::from_elf(elf, &wide_fields()).unwrap();
    let plan = CodePlan::new(&program, LiftMode::Metered);
    assert!(plan.layout.words() > MODE_REGS.len());
    let bytes = assembled(&program, LiftMode::Metered, false);
    check_disassembly(&bytes, "cpubench, wide fields");
}

/// Metered runs keeping packed words in the frame give the interpreter's segments.
#[cfg(target_arch = "aarch64")]
#[test]
fn packed_words_beyond_the_registers_run_like_the_interpreter() {
    use crate::instance::MeteredInstance;
    use crate::{BackendKind, Output};
    let elf = crate::guests::find("cpubench").unwrap().elf;
    let program = Arc::new(Program::from_elf(elf, &wide_fields()).unwrap());
    let input = vec![1u32.to_le_bytes().to_vec()];
    let on = |backend| {
        MeteredInstance::new(program.clone(), backend)
            .unwrap()
            .with_output(Output::Discard)
            .execute_metered(input.clone())
            .unwrap()
    };
    let (segments, state) = on(BackendKind::Interpreter);
    assert!(segments.len() > 1, "the limits cut segments");
    assert!(on(BackendKind::Jit) == (segments, state));
}

/// Words of `emit` run on a fresh emitter.
fn words_of(emit: impl FnOnce(&mut Emitter<'_>)) -> Vec<u32> {
    let program = program_with(&[TERMINATE], 20);
    let plan = CodePlan::new(&program, LiftMode::Pure);
    let mut emitter = Emitter::new(&program, &plan, std::ptr::null(), false)
        .unwrap_or_else(|_| panic!("an emitter"));
    emit(&mut emitter);
    let Ok(buffer) = emitter.finish() else {
        panic!("assembles")
    };
    buffer
        .chunks(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

#[test]
fn constants_and_immediates_have_known_encodings() {
    // Encodings as binutils' aarch64 disassembler reads them.
    assert_eq!(words_of(|e| e.mov32(3, 0x1234)), [0x5282_4683]); // movz w3, #0x1234
    assert_eq!(words_of(|e| e.mov32(3, 0xffff_edcb)), [0x1282_4683]); // movn w3, #0x1234
    assert_eq!(
        words_of(|e| e.mov32(3, 0x1234_0000)),
        [0x52a2_4683] // movz w3, #0x1234, lsl #16
    );
    assert_eq!(
        words_of(|e| e.mov32(3, 0x1234_5678)),
        [0x528a_cf03, 0x72a2_4683] // movz w3, #0x5678; movk w3, #0x1234, lsl #16
    );
    assert_eq!(
        words_of(|e| e.add32(3, 16, 0x234)),
        [0x1108_d203] // add w3, w16, #0x234
    );
    assert_eq!(
        words_of(|e| e.subs64(3, 12)),
        [0xf100_3063] // subs x3, x3, #0xc
    );
    // A 64-bit constant that needs a register: mov x15, #5; movk x15, #1, lsl #32;
    // add x3, x3, x15.
    assert_eq!(
        words_of(|e| e.add64(3, 0x1_0000_0005)),
        [0xd280_00af, 0xf2c0_002f, 0x8b0f_0063]
    );
    // Frame accesses: str w27, [sp, #home]; ldr w27, [sp, #home].
    let program = program_with(&[TERMINATE], 20);
    let plan = CodePlan::new(&program, LiftMode::Pure);
    let emitter = Emitter::new(&program, &plan, std::ptr::null(), false)
        .unwrap_or_else(|_| panic!("an emitter"));
    assert_eq!(emitter.home(1), PACKED + 8 + 4);
}

#[test]
fn helpers_disassemble_as_intended() {
    let Some(tool) = Disassembler::find() else {
        eprintln!("no aarch64 disassembler installed: skipped");
        return;
    };
    let words = words_of(|e| {
        e.mov32(3, 0x1234_5678);
        e.add32(4, 16, 0xffff_f800); // -2048
        e.add32(5, 5, 0x0003_5000);
        e.mov64(21, 0x0000_7f12_3456_789a);
        e.subs64(19, 5000);
    });
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let text = tool.disassemble(&bytes);
    let expected = [
        "mov w3, #0x5678",
        "movk w3, #0x1234, lsl #16",
        "sub w4, w16, #0x800",
        "add w5, w5, #0x35, lsl #12",
        "mov x21, #0x789a",
        "movk x21, #0x3456, lsl #16",
        "movk x21, #0x7f12, lsl #32",
        "mov w15, #0x1388",
        "subs x19, x19, x15",
    ];
    let lines: Vec<String> = text.iter().map(|l| normalize(l)).collect();
    assert_eq!(lines, expected.map(String::from), "{text:#?}");
}

/// Lower-cased, comments dropped, single spaces.
fn normalize(line: &str) -> String {
    let line = line.split("//").next().unwrap_or("");
    let line = line.split(';').next().unwrap_or("");
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Fails if the disassembler finds an invalid encoding in `bytes` (skipped without one).
fn check_disassembly(bytes: &[u8], what: &str) {
    let Some(tool) = Disassembler::find() else {
        return;
    };
    let lines = tool.disassemble(bytes);
    assert_eq!(lines.len(), bytes.len() / 4, "{what}: one line per word");
    for (n, line) in lines.iter().enumerate() {
        let bad = line.contains(".inst") || line.contains("undefined") || line.contains("invalid");
        assert!(!bad, "{what}: word {n} does not disassemble: {line}");
    }
}

/// An installed aarch64 disassembler.
enum Disassembler {
    /// binutils' objdump for aarch64.
    Objdump(PathBuf),
    /// LLVM's machine-code tool.
    LlvmMc(PathBuf),
}

impl Disassembler {
    fn find() -> Option<Disassembler> {
        let runs = |name: &str| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if runs("aarch64-linux-gnu-objdump") {
            return Some(Disassembler::Objdump("aarch64-linux-gnu-objdump".into()));
        }
        [
            "llvm-mc",
            "llvm-mc-19",
            "llvm-mc-18",
            "llvm-mc-16",
            "llvm-mc-14",
        ]
        .into_iter()
        .find(|name| runs(name))
        .map(|name| Disassembler::LlvmMc(name.into()))
    }

    /// One line per instruction word: mnemonic and operands.
    fn disassemble(&self, bytes: &[u8]) -> Vec<String> {
        match self {
            Disassembler::Objdump(path) => {
                let file = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(file.path(), bytes).unwrap();
                let out = Command::new(path)
                    .args(["-D", "-b", "binary", "-m", "aarch64"])
                    .arg(file.path())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "objdump failed");
                // "   4:\t72a24683 \tmovk\tw3, #0x1234, lsl #16"
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| {
                        let (addr, rest) = l.split_once(":\t")?;
                        addr.trim()
                            .chars()
                            .all(|c| c.is_ascii_hexdigit())
                            .then_some(())?;
                        Some(rest.split_once('\t').map_or("", |x| x.1).to_string())
                    })
                    .collect()
            }
            Disassembler::LlvmMc(path) => {
                let input: String = bytes.iter().map(|b| format!("{b:#04x} ")).collect();
                let mut child = Command::new(path)
                    .args(["--disassemble", "--triple=aarch64", "--print-imm-hex"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(input.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('.'))
                    .map(String::from)
                    .collect();
                // Invalid words are reported on stderr, not printed.
                for warning in String::from_utf8_lossy(&out.stderr).lines() {
                    if warning.contains("invalid instruction encoding") {
                        lines.push(format!("invalid: {warning}"));
                    }
                }
                lines
            }
        }
    }
}
