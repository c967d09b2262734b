//! The block description the machine-code emitters work from: the program's blocks
//! ([`form_blocks`]) with what each adds to its mode's meter, which code indices compiled code
//! may be entered at, and which guest registers deserve host registers.
//!
//! Every emitter (x86-64, aarch64) reads the same plan, so they agree on where blocks start,
//! what they count and when they stop; only the instructions they emit differ.

use crate::backend::rvr::LiftMode;
use crate::metering::PackedLayout;
use crate::program::blocks::{backward_branches, form_blocks, loop_weights, Block};
use crate::program::decode::Op;
use crate::program::Program;

/// One block of the plan.
#[derive(Debug, Clone)]
pub struct PlannedBlock {
    /// The instructions.
    pub block: Block,
    /// The guest address of its first instruction.
    pub pc: u32,
    /// Metered mode: what the block adds to each packed counter word (word, constant).
    pub packed_adds: Vec<(usize, u64)>,
    /// Cost mode: the block's cost.
    pub cost: u64,
}

/// What an emitter needs to know about a program beyond its instructions.
#[derive(Debug, Clone)]
pub struct CodePlan {
    /// The mode the code meters.
    pub mode: LiftMode,
    /// The blocks, in code order, covering every instruction.
    pub blocks: Vec<PlannedBlock>,
    /// Per code index: whether a block starts there (the only places compiled code is
    /// entered at; a jump anywhere else hands off).
    pub is_entry: Vec<bool>,
    /// The packed row counters (metered mode).
    pub layout: PackedLayout,
    /// Guest registers x1..x31, most used first (loop-weighted).
    pub register_rank: Vec<u8>,
    /// The guest address of code index 0.
    pub base: u32,
    /// Guest memory size in bytes.
    pub memory_size: u64,
}

impl CodePlan {
    /// The plan of `program` for code that meters `mode`.
    pub fn new(program: &Program, mode: LiftMode) -> CodePlan {
        let tables = program.meter_tables();
        let layout = PackedLayout::for_program(program);
        let blocks: Vec<PlannedBlock> = form_blocks(program)
            .into_iter()
            .map(|block| PlannedBlock {
                block,
                pc: program.pc_of(block.start),
                packed_adds: match mode {
                    LiftMode::Metered if !block.handoff => {
                        layout.block_adds(&tables.range_rows(block.start, block.end))
                    }
                    _ => Vec::new(),
                },
                cost: match mode {
                    LiftMode::Cost if !block.handoff => tables.range_cost(block.start, block.end),
                    _ => 0,
                },
            })
            .collect();
        let mut is_entry = vec![false; program.code().len()];
        for planned in &blocks {
            is_entry[planned.block.start] = true;
        }
        CodePlan {
            mode,
            blocks,
            is_entry,
            layout,
            register_rank: rank_registers(program),
            base: program.base(),
            memory_size: program.config().system().memory_size(),
        }
    }
}

/// Guest registers x1..x31 ordered by how often compiled code is likely to use them: each
/// read or write counts its instruction's loop weight ([`loop_weights`]).
fn rank_registers(program: &Program) -> Vec<u8> {
    let weights = loop_weights(program.code().len(), &backward_branches(program));
    let mut uses = [0u64; 33];
    for (insn, &w) in program.code().iter().zip(&weights) {
        let (reads, writes): (&[u8], Option<u8>) = match insn.op {
            Op::Li | Op::Jal => (&[], Some(insn.rd)),
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
            | Op::Jalr => (std::slice::from_ref(&insn.rs1), Some(insn.rd)),
            Op::Sb
            | Op::Sh
            | Op::Sw
            | Op::Beq
            | Op::Bne
            | Op::Blt
            | Op::Bge
            | Op::Bltu
            | Op::Bgeu => (&[insn.rs1, insn.rs2][..], None),
            Op::Nop | Op::Custom => (&[], None),
            op if is_register_alu(op) => (&[insn.rs1, insn.rs2][..], Some(insn.rd)),
            _ => (&[], None),
        };
        for &r in reads.iter().chain(writes.as_ref()) {
            uses[usize::from(r)] += w;
        }
    }
    let mut rank: Vec<u8> = (1..32).collect();
    rank.sort_by_key(|&r| (std::cmp::Reverse(uses[usize::from(r)]), r));
    rank
}

/// Whether `op` is a register-register ALU operation (`rd = rs1 op rs2`).
fn is_register_alu(op: Op) -> bool {
    matches!(
        op,
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
            | Op::Remu
    )
}
