//! The RV32I base instructions, plus `terminate` and the IO phantoms (`hintinput`, `printstr`,
//! `hintrandom`), which the reference zkVM decodes in the same extension.
//!
//! Decoding follows the reference transpiler exactly, quirks included, so that programs built
//! by its toolchain count the same instructions and meter into the same chips: an ALU, `lui`
//! or `auipc` writing x0 becomes a no-op (metered as a phantom); `fence` and `csrrw x0, csr, x0`
//! (which includes `unimp`) are no-ops; every other SYSTEM instruction terminates with exit
//! code 2; `slli` ignores bits 31:25 and `jalr` its funct3; `fence.i` is not an instruction.

use super::{ChipHeight, ChipSpec, Decoded, DecodedKind, ExecutorSpec, Extension, Opcode};
use crate::program::decode::{
    dest, funct3, funct7, imm_b, imm_i, imm_j, imm_s, rd, rs1, rs2, OPCODE_CUSTOM_0,
};
use crate::program::{Insn, Op};

/// Global opcode numbers of the reference zkVM for the instructions decoded here.
pub mod opcodes {
    use crate::extension::Opcode;
    /// Stop execution (handled by the system; no executor).
    pub const TERMINATE: Opcode = 0x000;
    /// The phantom instruction: no-ops and the IO phantoms.
    pub const PHANTOM: Opcode = 0x001;
    #[allow(missing_docs)]
    pub const ADD: Opcode = 0x200;
    #[allow(missing_docs)]
    pub const SUB: Opcode = 0x201;
    #[allow(missing_docs)]
    pub const XOR: Opcode = 0x202;
    #[allow(missing_docs)]
    pub const OR: Opcode = 0x203;
    #[allow(missing_docs)]
    pub const AND: Opcode = 0x204;
    #[allow(missing_docs)]
    pub const SLL: Opcode = 0x205;
    #[allow(missing_docs)]
    pub const SRL: Opcode = 0x206;
    #[allow(missing_docs)]
    pub const SRA: Opcode = 0x207;
    #[allow(missing_docs)]
    pub const SLT: Opcode = 0x208;
    #[allow(missing_docs)]
    pub const SLTU: Opcode = 0x209;
    #[allow(missing_docs)]
    pub const LOADW: Opcode = 0x210;
    #[allow(missing_docs)]
    pub const LOADBU: Opcode = 0x211;
    #[allow(missing_docs)]
    pub const LOADHU: Opcode = 0x212;
    /// Word store; also what `reveal` becomes (into the public-values space).
    pub const STOREW: Opcode = 0x213;
    #[allow(missing_docs)]
    pub const STOREH: Opcode = 0x214;
    #[allow(missing_docs)]
    pub const STOREB: Opcode = 0x215;
    #[allow(missing_docs)]
    pub const LOADB: Opcode = 0x216;
    #[allow(missing_docs)]
    pub const LOADH: Opcode = 0x217;
    #[allow(missing_docs)]
    pub const BEQ: Opcode = 0x220;
    #[allow(missing_docs)]
    pub const BNE: Opcode = 0x221;
    #[allow(missing_docs)]
    pub const BLT: Opcode = 0x225;
    #[allow(missing_docs)]
    pub const BLTU: Opcode = 0x226;
    #[allow(missing_docs)]
    pub const BGE: Opcode = 0x227;
    #[allow(missing_docs)]
    pub const BGEU: Opcode = 0x228;
    #[allow(missing_docs)]
    pub const JAL: Opcode = 0x230;
    #[allow(missing_docs)]
    pub const LUI: Opcode = 0x231;
    #[allow(missing_docs)]
    pub const JALR: Opcode = 0x235;
    #[allow(missing_docs)]
    pub const AUIPC: Opcode = 0x240;
}

use opcodes::*;

/// The exit code of ecall, ebreak and CSR instructions, which the reference turns into
/// `terminate`.
pub const EXIT_CODE_UNSUPPORTED_SYSTEM: u32 = 2;

/// Phantom sub-operations of custom-0 funct3 = 011, selected by the immediate.
mod phantom {
    pub const HINT_INPUT: u32 = 0;
    pub const PRINT_STR: u32 = 1;
    pub const HINT_RANDOM: u32 = 2;
}

/// The RV32I extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rv32I;

/// A chip with a variable height that only this extension declares.
pub(crate) fn chip(name: &str, width: u32, interactions: u32) -> ChipSpec {
    ChipSpec {
        name: name.to_string(),
        width,
        interactions,
        height: ChipHeight::Variable,
        need_rot: false,
        shared: false,
    }
}

/// The bitwise-operation lookup table, shared by every extension that needs it.
pub(crate) fn bitwise_lookup_chip() -> ChipSpec {
    // Width, interactions and the 2^16 fixed height: OpenVM 2.0.2's
    // `BitwiseOperationLookupAir<8>` (shared/reference/openvm-2.0.2-airs-fibonacci.json).
    ChipSpec {
        name: "BitwiseOperationLookupAir<8>".to_string(),
        width: 18,
        interactions: 2,
        height: ChipHeight::Constant(1 << 16),
        need_rot: true,
        shared: true,
    }
}

/// Chip names of this extension (the reference's AIR names, copied exactly).
pub mod chips {
    #[allow(missing_docs)]
    pub const BASE_ALU: &str = "VmAirWrapper<Rv32BaseAluAdapterAir, BaseAluCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const LESS_THAN: &str = "VmAirWrapper<Rv32BaseAluAdapterAir, LessThanCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const SHIFT: &str = "VmAirWrapper<Rv32BaseAluAdapterAir, ShiftCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const LOAD_STORE: &str = "VmAirWrapper<Rv32LoadStoreAdapterAir, LoadStoreCoreAir<4>";
    #[allow(missing_docs)]
    pub const LOAD_SIGN_EXTEND: &str =
        "VmAirWrapper<Rv32LoadStoreAdapterAir, LoadSignExtendCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const BRANCH_EQUAL: &str = "VmAirWrapper<Rv32BranchAdapterAir, BranchEqualCoreAir<4>";
    #[allow(missing_docs)]
    pub const BRANCH_LESS_THAN: &str =
        "VmAirWrapper<Rv32BranchAdapterAir, BranchLessThanCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const JAL_LUI: &str = "VmAirWrapper<Rv32CondRdWriteAdapterAir, Rv32JalLuiCoreAir>";
    #[allow(missing_docs)]
    pub const JALR: &str = "VmAirWrapper<Rv32JalrAdapterAir, Rv32JalrCoreAir>";
    #[allow(missing_docs)]
    pub const AUIPC: &str = "VmAirWrapper<Rv32RdWriteAdapterAir, Rv32AuipcCoreAir>";
}

fn executor(name: &'static str, chip: &str, opcodes: &[(Opcode, &'static str)]) -> ExecutorSpec {
    ExecutorSpec {
        name,
        chip: chip.to_string(),
        opcodes: opcodes.to_vec(),
        custom: None,
        extra_chips: Vec::new(),
    }
}

impl Extension for Rv32I {
    fn name(&self) -> &'static str {
        "rv32i"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // Widths and interactions: OpenVM 2.0.2's AIRs for these executors
        // (shared/reference/openvm-2.0.2-airs-fibonacci.json), in its insertion order.
        vec![
            bitwise_lookup_chip(),
            chip(chips::BASE_ALU, 36, 20),
            chip(chips::LESS_THAN, 37, 18),
            chip(chips::SHIFT, 53, 24),
            chip(chips::LOAD_STORE, 41, 17),
            chip(chips::LOAD_SIGN_EXTEND, 36, 18),
            chip(chips::BRANCH_EQUAL, 26, 11),
            chip(chips::BRANCH_LESS_THAN, 32, 13),
            chip(chips::JAL_LUI, 18, 10),
            chip(chips::JALR, 28, 16),
            chip(chips::AUIPC, 20, 12),
        ]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        vec![
            executor(
                "base_alu",
                chips::BASE_ALU,
                &[
                    (ADD, "ADD"),
                    (SUB, "SUB"),
                    (XOR, "XOR"),
                    (OR, "OR"),
                    (AND, "AND"),
                ],
            ),
            executor(
                "less_than",
                chips::LESS_THAN,
                &[(SLT, "SLT"), (SLTU, "SLTU")],
            ),
            executor(
                "shift",
                chips::SHIFT,
                &[(SLL, "SLL"), (SRL, "SRL"), (SRA, "SRA")],
            ),
            executor(
                "load_store",
                chips::LOAD_STORE,
                &[
                    (LOADW, "LOADW"),
                    (LOADBU, "LOADBU"),
                    (LOADHU, "LOADHU"),
                    (STOREW, "STOREW"),
                    (STOREH, "STOREH"),
                    (STOREB, "STOREB"),
                ],
            ),
            executor(
                "load_sign_extend",
                chips::LOAD_SIGN_EXTEND,
                &[(LOADB, "LOADB"), (LOADH, "LOADH")],
            ),
            executor(
                "branch_equal",
                chips::BRANCH_EQUAL,
                &[(BEQ, "BEQ"), (BNE, "BNE")],
            ),
            executor(
                "branch_less_than",
                chips::BRANCH_LESS_THAN,
                &[(BLT, "BLT"), (BLTU, "BLTU"), (BGE, "BGE"), (BGEU, "BGEU")],
            ),
            executor("jal_lui", chips::JAL_LUI, &[(JAL, "JAL"), (LUI, "LUI")]),
            executor("jalr", chips::JALR, &[(JALR, "JALR")]),
            executor("auipc", chips::AUIPC, &[(AUIPC, "AUIPC")]),
        ]
    }

    fn decode(&self, word: u32, pc: u32) -> Option<Decoded> {
        decode(word, pc)
    }
}

fn builtin(opcode: Opcode, insn: Insn) -> Option<Decoded> {
    Some(Decoded {
        opcode,
        kind: DecodedKind::Builtin(insn),
    })
}

/// A no-op, metered as the reference meters it: one phantom row.
fn nop() -> Option<Decoded> {
    builtin(PHANTOM, Insn::new(Op::Nop, 0, 0, 0, 0))
}

/// An instruction writing `d`: a no-op when `d` is x0, as the reference transpiles it.
fn writes(opcode: Opcode, d: u8, insn: Insn) -> Option<Decoded> {
    if d == 0 {
        nop()
    } else {
        builtin(opcode, insn)
    }
}

fn decode(word: u32, pc: u32) -> Option<Decoded> {
    let (d, s1, s2, f3) = (rd(word), rs1(word), rs2(word), funct3(word));
    let r = |opcode, op| writes(opcode, d, Insn::new(op, d, s1, s2, 0));
    let i = |opcode, op| writes(opcode, d, Insn::new(op, d, s1, 0, imm_i(word)));
    let shift = |opcode, op| writes(opcode, d, Insn::new(op, d, s1, 0, u32::from(s2)));
    // Loads and jumps execute even when they write x0 (a load can fault, a jump jumps).
    let load = |opcode, op| builtin(opcode, Insn::new(op, dest(d), s1, 0, imm_i(word)));
    match word & 0x7f {
        0x37 => writes(LUI, d, Insn::new(Op::Li, d, 0, 0, word & 0xffff_f000)),
        0x17 => writes(
            AUIPC,
            d,
            Insn::new(Op::Li, d, 0, 0, pc.wrapping_add(word & 0xffff_f000)),
        ),
        // Direct targets are absolute here; the program resolves them to indices.
        0x6f => builtin(
            JAL,
            Insn::new(Op::Jal, dest(d), 0, 0, pc.wrapping_add(imm_j(word))),
        ),
        0x67 => builtin(JALR, Insn::new(Op::Jalr, dest(d), s1, 0, imm_i(word))),
        0x63 => {
            let (opcode, op) = match f3 {
                0 => (BEQ, Op::Beq),
                1 => (BNE, Op::Bne),
                4 => (BLT, Op::Blt),
                5 => (BGE, Op::Bge),
                6 => (BLTU, Op::Bltu),
                7 => (BGEU, Op::Bgeu),
                _ => return None,
            };
            builtin(
                opcode,
                Insn::new(op, 0, s1, s2, pc.wrapping_add(imm_b(word))),
            )
        }
        0x03 => match f3 {
            0 => load(LOADB, Op::Lb),
            1 => load(LOADH, Op::Lh),
            2 => load(LOADW, Op::Lw),
            4 => load(LOADBU, Op::Lbu),
            5 => load(LOADHU, Op::Lhu),
            _ => None,
        },
        0x23 => {
            let (opcode, op) = match f3 {
                0 => (STOREB, Op::Sb),
                1 => (STOREH, Op::Sh),
                2 => (STOREW, Op::Sw),
                _ => return None,
            };
            builtin(opcode, Insn::new(op, 0, s1, s2, imm_s(word)))
        }
        0x13 => match (f3, funct7(word)) {
            (0, _) => i(ADD, Op::Addi),
            (2, _) => i(SLT, Op::Slti),
            (3, _) => i(SLTU, Op::Sltiu),
            (4, _) => i(XOR, Op::Xori),
            (6, _) => i(OR, Op::Ori),
            (7, _) => i(AND, Op::Andi),
            (1, _) => shift(SLL, Op::Slli),
            (5, 0) => shift(SRL, Op::Srli),
            (5, 0x20) => shift(SRA, Op::Srai),
            _ => None,
        },
        0x33 => match (funct7(word), f3) {
            (0, 0) => r(ADD, Op::Add),
            (0x20, 0) => r(SUB, Op::Sub),
            (0, 1) => r(SLL, Op::Sll),
            (0, 2) => r(SLT, Op::Slt),
            (0, 3) => r(SLTU, Op::Sltu),
            (0, 4) => r(XOR, Op::Xor),
            (0, 5) => r(SRL, Op::Srl),
            (0x20, 5) => r(SRA, Op::Sra),
            (0, 6) => r(OR, Op::Or),
            (0, 7) => r(AND, Op::And),
            _ => None,
        },
        0x0f if f3 == 0 => nop(),
        0x73 if f3 == 1 && d == 0 && s1 == 0 => nop(),
        0x73 => builtin(
            TERMINATE,
            Insn::new(Op::Terminate, 0, 0, 0, EXIT_CODE_UNSUPPORTED_SYSTEM),
        ),
        OPCODE_CUSTOM_0 => decode_custom(word, d, s1, f3),
        _ => None,
    }
}

/// `terminate` and the IO phantoms of custom-0.
fn decode_custom(word: u32, d: u8, s1: u8, f3: u32) -> Option<Decoded> {
    let imm = imm_i(word);
    match (f3, imm) {
        (0, code) if code <= 255 => builtin(TERMINATE, Insn::new(Op::Terminate, 0, 0, 0, code)),
        (3, phantom::HINT_INPUT) => builtin(PHANTOM, Insn::new(Op::HintInput, 0, 0, 0, 0)),
        (3, phantom::PRINT_STR) => builtin(PHANTOM, Insn::new(Op::PrintStr, d, s1, 0, 0)),
        (3, phantom::HINT_RANDOM) => builtin(PHANTOM, Insn::new(Op::HintRandom, d, 0, 0, 0)),
        _ => None,
    }
}
