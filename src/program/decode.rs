//! The decoder: one RISC-V word to one pre-decoded [`Insn`].
//!
//! Decoding happens once, when a program is loaded. Everything an executor would otherwise
//! recompute per instruction is folded in here: immediates are sign-extended, `auipc` becomes a
//! constant load, direct branch targets become indices into the decoded program, and a write to
//! `x0` is redirected to a scratch register so executors never test `rd == 0`.

/// Register slot that receives writes aimed at `x0`; never read by a decoded instruction.
pub const SCRATCH_REG: u8 = 32;

/// [`Op::register_fields`]: the instruction reads register `rs1`.
pub const READS_RS1: u8 = 1;
/// [`Op::register_fields`]: the instruction reads register `rs2`.
pub const READS_RS2: u8 = 2;
/// [`Op::register_fields`]: the instruction writes register `rd`.
pub const WRITES_RD: u8 = 4;

/// A decoded operation. Register fields and the immediate of [`Insn`] are interpreted per
/// operation as documented on each variant.
#[allow(missing_docs)] // Variants are the RISC-V mnemonics; their operands are documented above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    // Register-register ALU: rd = rs1 op rs2.
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    // Register-immediate ALU: rd = rs1 op imm.
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    /// rd = imm (`lui`, and `auipc` with pc + imm folded in).
    Li,
    // Loads: rd = mem[rs1 + imm].
    Lb,
    Lh,
    Lw,
    Lbu,
    Lhu,
    // Stores: mem[rs1 + imm] = rs2.
    Sb,
    Sh,
    Sw,
    // Conditional branches on rs1, rs2; imm = target index in the decoded program.
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    /// rd = pc + 4; jump to the program index in imm.
    Jal,
    /// rd = pc + 4; jump to (rs1 + imm) & !1.
    Jalr,
    /// A branch or `jal` whose target holds no instruction: when taken, it completes and the
    /// fetch at the target faults. rd is the [`BranchKind`], rs1/rs2 the compared registers
    /// (for `jal`, rs1 is the link register), imm the target address.
    BadBranch,
    /// No effect (fence, and phantoms that do nothing on execution).
    Nop,
    /// Stop with exit code imm.
    Terminate,
    /// Pop 4 hint bytes to mem[x[rd]].
    HintStoreW,
    /// Pop 4*x[rs1] hint bytes to mem[x[rd]..].
    HintBuffer,
    /// Public value word at offset x[rd] + imm = x[rs1].
    Reveal,
    /// Hint stream = next input record, length-prefixed and padded.
    HintInput,
    /// Print mem[x[rd]..x[rd] + x[rs1]].
    PrintStr,
    /// Hint stream = 4*x[rd] bytes from the rng.
    HintRandom,
    /// An extension instruction: imm indexes [`crate::Program::custom`].
    Custom,
    /// Not a valid instruction for the configuration; faults when executed.
    Illegal,
    /// No instruction at this address (a gap between code segments, or the end of the code).
    NoInstruction,
}

impl Op {
    /// Which of the operand fields the instruction uses as registers: [`READS_RS1`],
    /// [`READS_RS2`], [`WRITES_RD`] (see [`Insn::register_uses`]).
    pub const fn register_fields(self) -> u8 {
        match self {
            Op::Li | Op::Jal => WRITES_RD,
            Op::Addi
            | Op::Slti
            | Op::Sltiu
            | Op::Xori
            | Op::Ori
            | Op::Andi
            | Op::Slli
            | Op::Srli
            | Op::Srai
            | Op::Lb
            | Op::Lh
            | Op::Lw
            | Op::Lbu
            | Op::Lhu
            | Op::Jalr => READS_RS1 | WRITES_RD,
            Op::Sb
            | Op::Sh
            | Op::Sw
            | Op::Beq
            | Op::Bne
            | Op::Blt
            | Op::Bge
            | Op::Bltu
            | Op::Bgeu => READS_RS1 | READS_RS2,
            Op::Add
            | Op::Sub
            | Op::Sll
            | Op::Slt
            | Op::Sltu
            | Op::Xor
            | Op::Srl
            | Op::Sra
            | Op::Or
            | Op::And
            | Op::Mul
            | Op::Mulh
            | Op::Mulhsu
            | Op::Mulhu
            | Op::Div
            | Op::Divu
            | Op::Rem
            | Op::Remu => READS_RS1 | READS_RS2 | WRITES_RD,
            Op::BadBranch
            | Op::Nop
            | Op::Terminate
            | Op::HintStoreW
            | Op::HintBuffer
            | Op::Reveal
            | Op::HintInput
            | Op::PrintStr
            | Op::HintRandom
            | Op::Custom
            | Op::Illegal
            | Op::NoInstruction => 0,
        }
    }

    /// Whether this operation ends a basic block: it may transfer control anywhere but to the
    /// next instruction, stops execution, or adds a data-dependent number of trace rows (so a
    /// metering backend must look at its meter before going on).
    pub fn ends_block(self) -> bool {
        matches!(
            self,
            Op::HintStoreW
                | Op::HintBuffer
                | Op::Custom
                | Op::Beq
                | Op::Bne
                | Op::Blt
                | Op::Bge
                | Op::Bltu
                | Op::Bgeu
                | Op::Jal
                | Op::Jalr
                | Op::BadBranch
                | Op::Terminate
                | Op::Illegal
                | Op::NoInstruction
        )
    }
}

/// The condition of a [`Op::BadBranch`], kept in its `rd` field.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BranchKind {
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Always,
}

impl BranchKind {
    /// The condition of a direct branch or jump operation.
    pub fn of_direct(op: Op) -> Option<BranchKind> {
        Some(match op {
            Op::Beq => BranchKind::Beq,
            Op::Bne => BranchKind::Bne,
            Op::Blt => BranchKind::Blt,
            Op::Bge => BranchKind::Bge,
            Op::Bltu => BranchKind::Bltu,
            Op::Bgeu => BranchKind::Bgeu,
            Op::Jal => BranchKind::Always,
            _ => return None,
        })
    }

    /// Whether the branch may fall through to the next instruction (every kind but `jal`).
    pub fn is_conditional(self) -> bool {
        self != BranchKind::Always
    }

    /// Decodes the value stored in a [`Op::BadBranch`]'s `rd` field.
    pub fn from_u8(v: u8) -> BranchKind {
        match v {
            0 => BranchKind::Beq,
            1 => BranchKind::Bne,
            2 => BranchKind::Blt,
            3 => BranchKind::Bge,
            4 => BranchKind::Bltu,
            5 => BranchKind::Bgeu,
            _ => BranchKind::Always,
        }
    }

    /// Whether the branch is taken for these operand values.
    pub fn taken(self, a: u32, b: u32) -> bool {
        match self {
            BranchKind::Beq => a == b,
            BranchKind::Bne => a != b,
            BranchKind::Blt => (a as i32) < (b as i32),
            BranchKind::Bge => (a as i32) >= (b as i32),
            BranchKind::Bltu => a < b,
            BranchKind::Bgeu => a >= b,
            BranchKind::Always => true,
        }
    }
}

/// One pre-decoded instruction: 8 bytes, copied by value in the dispatch loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// The operation.
    pub op: Op,
    /// Destination register (32 = scratch for writes to x0), or a source for system operations.
    pub rd: u8,
    /// First source register.
    pub rs1: u8,
    /// Second source register.
    pub rs2: u8,
    /// Immediate, branch target index, or constant, per [`Op`].
    pub imm: u32,
}

impl Insn {
    /// An instruction from its fields.
    pub const fn new(op: Op, rd: u8, rs1: u8, rs2: u8, imm: u32) -> Insn {
        Insn {
            op,
            rd,
            rs1,
            rs2,
            imm,
        }
    }

    /// The guest registers compiled code reads (up to two) and writes for this instruction; x0
    /// and the scratch slot never appear. System and extension instructions, which reach
    /// registers through the machine state rather than as operands, list none.
    pub fn register_uses(&self) -> ([Option<u8>; 2], Option<u8>) {
        let fields = self.op.register_fields();
        let some =
            |field: u8, r: u8| (fields & field != 0 && r != 0 && r != SCRATCH_REG).then_some(r);
        (
            [some(READS_RS1, self.rs1), some(READS_RS2, self.rs2)],
            some(WRITES_RD, self.rd),
        )
    }

    /// An instruction that faults as illegal.
    pub const ILLEGAL: Insn = Insn::new(Op::Illegal, 0, 0, 0, 0);
    /// The filler for addresses without an instruction.
    pub const NONE: Insn = Insn::new(Op::NoInstruction, 0, 0, 0, 0);
}

/// Where the code lies, so direct branch targets can be resolved to indices while decoding.
#[derive(Debug, Clone, Copy)]
pub struct CodeRange {
    /// Address of the first decoded word.
    pub base: u32,
    /// Number of decoded words.
    pub len: u32,
}

impl CodeRange {
    /// The decoded-program index of `target`, if it holds a decoded word.
    pub fn index_of(&self, target: u32) -> Option<u32> {
        let offset = target.wrapping_sub(self.base);
        (offset % 4 == 0 && offset / 4 < self.len).then_some(offset / 4)
    }
}

/// Instruction field.
pub fn rd(word: u32) -> u8 {
    ((word >> 7) & 31) as u8
}
/// Instruction field.
pub fn rs1(word: u32) -> u8 {
    ((word >> 15) & 31) as u8
}
/// Instruction field.
pub fn rs2(word: u32) -> u8 {
    ((word >> 20) & 31) as u8
}
/// Instruction field.
pub fn funct3(word: u32) -> u32 {
    (word >> 12) & 7
}
/// Instruction field.
pub fn funct7(word: u32) -> u32 {
    word >> 25
}
/// Sign-extended I-type immediate.
pub fn imm_i(word: u32) -> u32 {
    ((word as i32) >> 20) as u32
}
/// Sign-extended S-type immediate.
pub fn imm_s(word: u32) -> u32 {
    ((((word as i32) >> 25) << 5) as u32) | ((word >> 7) & 31)
}
/// Sign-extended B-type immediate.
pub fn imm_b(word: u32) -> u32 {
    ((((word as i32) >> 31) << 12) as u32)
        | ((word << 4) & 0x800)
        | ((word >> 20) & 0x7e0)
        | ((word >> 7) & 0x1e)
}
/// Sign-extended J-type immediate.
pub fn imm_j(word: u32) -> u32 {
    ((((word as i32) >> 31) << 20) as u32)
        | (word & 0xf_f000)
        | ((word >> 9) & 0x800)
        | ((word >> 20) & 0x7fe)
}

/// The destination slot for register `r`: writes to x0 go to the scratch slot.
pub fn dest(r: u8) -> u8 {
    if r == 0 {
        SCRATCH_REG
    } else {
        r
    }
}

/// Opcode of custom-0 (system, IO and most intrinsics).
pub const OPCODE_CUSTOM_0: u32 = 0x0b;

/// A readable rendering of the instruction word at `pc`, for error messages.
pub fn disassemble(word: u32, insn: &Insn, pc: u32) -> String {
    let name = format!("{:?}", insn.op).to_lowercase();
    let (d, s1, s2) = (rd(word), rs1(word), rs2(word));
    match insn.op {
        Op::Illegal | Op::NoInstruction => format!("{word:#010x}"),
        Op::Add
        | Op::Sub
        | Op::Sll
        | Op::Slt
        | Op::Sltu
        | Op::Xor
        | Op::Srl
        | Op::Sra
        | Op::Or
        | Op::And
        | Op::Mul
        | Op::Mulh
        | Op::Mulhsu
        | Op::Mulhu
        | Op::Div
        | Op::Divu
        | Op::Rem
        | Op::Remu => format!("{name} x{d}, x{s1}, x{s2}"),
        Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu | Op::Jalr => {
            format!("{name} x{d}, {}(x{s1})", imm_i(word) as i32)
        }
        Op::Sb | Op::Sh | Op::Sw => format!("{name} x{s2}, {}(x{s1})", imm_s(word) as i32),
        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu | Op::BadBranch
            if word & 0x7f == 0x63 =>
        {
            let target = pc.wrapping_add(imm_b(word));
            format!("b{} x{s1}, x{s2}, {target:#x}", branch_suffix(word))
        }
        Op::Jal | Op::BadBranch => format!("jal x{d}, {:#x}", pc.wrapping_add(imm_j(word))),
        Op::Li if word & 0x7f == 0x37 => format!("lui x{d}, {:#x}", word >> 12),
        Op::Li => format!("auipc x{d}, {:#x}", word >> 12),
        Op::Nop if word & 0x7f == 0x0f => "fence".to_string(),
        Op::Nop => format!("csrrw x0, {:#x}, x0", word >> 20),
        Op::Terminate if word & 0x7f == 0x73 => {
            format!("system {word:#010x} (terminates with exit code 2)")
        }
        Op::Terminate => format!("terminate {}", word >> 20),
        Op::HintStoreW => format!("hintstorew x{d}"),
        Op::HintBuffer => format!("hintbuffer x{d}, x{s1}"),
        Op::Reveal => format!("reveal x{s1}, {}(x{d})", imm_i(word) as i32),
        Op::HintInput => "hintinput".to_string(),
        Op::PrintStr => format!("printstr x{d}, x{s1}"),
        Op::HintRandom => format!("hintrandom x{d}"),
        _ => format!("{name} x{d}, x{s1}, {}", imm_i(word) as i32),
    }
}

fn branch_suffix(word: u32) -> &'static str {
    match funct3(word) {
        0 => "eq",
        1 => "ne",
        4 => "lt",
        5 => "ge",
        6 => "ltu",
        _ => "geu",
    }
}
