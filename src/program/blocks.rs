//! Block formation for the compiling backends (recompiler and JIT): where compiled code may be
//! entered, and which instructions it leaves to the interpreter.
//!
//! A compiled block starts at a *leader* (the entry point, a direct branch target, or the
//! instruction after one that ends a block) and runs to the next instruction that ends a block
//! or to just before the next leader. Compiled code runs whole blocks only: a block is entered
//! when the whole of it fits the instruction budget, so instruction limits and metering check
//! points inside a block are reached by handing the block to the interpreter.
//!
//! Instructions that touch the host-side state (system and IO instructions, `terminate`), those
//! that always fault (illegal words, gaps, jumps out of the code) and extension instructions
//! that meter themselves ([`crate::extension::Metering::Reported`]: data-dependent rows, memory
//! pages) are *handoff* instructions: each is a leader of its own, and compiled code gives
//! control to the interpreter there.

use super::decode::{BranchKind, Op, SCRATCH_REG};
use super::Program;

/// Whether compiled code hands `op` to the interpreter.
pub fn is_handoff(op: Op) -> bool {
    matches!(
        op,
        Op::HintStoreW
            | Op::HintBuffer
            | Op::Reveal
            | Op::HintInput
            | Op::PrintStr
            | Op::HintRandom
            | Op::Terminate
            | Op::Illegal
            | Op::NoInstruction
            | Op::BadBranch
    )
}

/// Whether compiled code hands the code entry `insn` of `program` to the interpreter: a handoff
/// operation ([`is_handoff`]), or in code that meters (`metered`: rows or cost) an extension
/// instruction that reports its own metering (in pure mode compiled code calls it directly).
pub fn hands_off(program: &Program, insn: &super::Insn, metered: bool) -> bool {
    is_handoff(insn.op) || (metered && program.reports_metering(insn))
}

/// A compiled block: instructions `start..end` of [`Program::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The leader.
    pub start: usize,
    /// One past the last instruction.
    pub end: usize,
    /// A single handoff instruction, executed by the interpreter.
    pub handoff: bool,
}

impl Block {
    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the block is empty (never, for a formed block).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// The blocks of a program, in code order, covering every instruction (the trailing filler
/// included), for compiled code that meters rows or cost (`metered`) or not.
pub fn form_blocks(program: &Program, metered: bool) -> Vec<Block> {
    let code = program.code();
    // Per instruction: whether it leads a block, hands off, or ends its block (one pass over
    // the code, one byte each).
    const LEADER: u8 = 1;
    const HANDOFF: u8 = 2;
    const ENDS: u8 = 4;
    let mut flags = vec![0u8; code.len() + 1];
    if let Some(entry) = program.index_of(program.entry()) {
        flags[entry] |= LEADER;
    }
    for (i, insn) in code.iter().enumerate() {
        if BranchKind::of_direct(insn.op).is_some() {
            flags[insn.imm as usize] |= LEADER;
        }
        if hands_off(program, insn, metered) {
            flags[i] |= LEADER | HANDOFF | ENDS;
        }
        if insn.op.ends_block() {
            flags[i] |= ENDS;
        }
        if flags[i] & ENDS != 0 {
            flags[i + 1] |= LEADER;
        }
    }
    // At most one block per instruction: room that is never used is never touched, so costs
    // nothing, where growing the vector copies it.
    let mut blocks = Vec::with_capacity(code.len());
    let mut start = 0;
    for i in 0..code.len() {
        if i + 1 == code.len() || flags[i + 1] & LEADER != 0 || flags[i] & ENDS != 0 {
            blocks.push(Block {
                start,
                end: i + 1,
                handoff: flags[start] & HANDOFF != 0,
            });
            start = i + 1;
        }
    }
    blocks
}

/// A trace: consecutive compiled blocks `start..end`, each but the last ending in a
/// conditional branch or running on into the next, compiled as one unit for the path that
/// falls through them all.
///
/// Compiled code enters a trace only where a direct branch or jump lands on its first block
/// (its *head*), and only when the whole trace fits the budget: it then takes the trace's
/// length and metering at once, and a branch that leaves early (a *side exit*) gives back
/// what the rest of the trace took. Where the trace does not fit, its first block runs alone,
/// with the block's exact budget and check-point handling, so a trace never needs to stop
/// inside itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trace {
    /// The head: the first instruction of the first block.
    pub start: usize,
    /// One past the last instruction of the last block.
    pub end: usize,
}

/// The longest trace, in instructions: traces are copies of their blocks, so this bounds the
/// code they add.
pub const MAX_TRACE: usize = 48;

/// The traces of `program`'s `blocks` ([`form_blocks`]), in code order: one for each block
/// that a direct branch or jump lands on (or the entry point, or a return point: the
/// instruction after a call) and that falls through into at least one more block. A trace
/// never runs into a block starting at an index for which `split` holds.
pub fn form_traces(
    program: &Program,
    blocks: &[Block],
    split: &dyn Fn(usize) -> bool,
) -> Vec<Trace> {
    let code = program.code();
    let mut head = vec![false; code.len()];
    if let Some(entry) = program.index_of(program.entry()) {
        head[entry] = true;
    }
    for (i, insn) in code.iter().enumerate() {
        if BranchKind::of_direct(insn.op).is_some() {
            head[insn.imm as usize] = true;
        }
        let call = matches!(insn.op, Op::Jalr)
            || (insn.op == Op::Jal && insn.rd != SCRATCH_REG && insn.rd != 0);
        if call && i + 1 < code.len() {
            head[i + 1] = true;
        }
    }
    let runs_on = |block: &Block| {
        let last = code[block.end - 1].op;
        !block.handoff
            && (!last.ends_block()
                || BranchKind::of_direct(last).is_some_and(|k| k.is_conditional()))
    };
    let mut traces = Vec::new();
    for (i, first) in blocks.iter().enumerate() {
        if first.handoff || !head[first.start] {
            continue;
        }
        let mut end = i;
        while end + 1 < blocks.len()
            && runs_on(&blocks[end])
            && !blocks[end + 1].handoff
            && !split(blocks[end + 1].start)
            && blocks[end + 1].end - first.start <= MAX_TRACE
        {
            end += 1;
        }
        if end > i {
            traces.push(Trace {
                start: first.start,
                end: blocks[end].end,
            });
        }
    }
    traces
}

/// The program's loops as (target, branch) code indices: every direct branch or jump to an
/// instruction at or before itself.
pub fn backward_branches(program: &Program) -> Vec<(usize, usize)> {
    program
        .code()
        .iter()
        .enumerate()
        .filter(|(i, insn)| BranchKind::of_direct(insn.op).is_some() && (insn.imm as usize) <= *i)
        .map(|(i, insn)| (insn.imm as usize, i))
        .collect()
}

/// How deep in loops each of `len` instructions is (capped at 10), for placing what is hot
/// (packed counters, host registers), where a loop spans a backward branch's target to the
/// branch. See [`loop_weight`].
pub fn loop_depths(len: usize, loops: &[(usize, usize)]) -> Vec<u8> {
    // Depth changes at each loop's first instruction and after its last: a sweep over the
    // sorted changes, so that nothing but the result is as long as the program.
    let mut changes: Vec<(usize, i32)> = loops
        .iter()
        .flat_map(|&(target, branch)| [(target, 1), (branch + 1, -1)])
        .collect();
    changes.sort_unstable();
    let mut next = changes.iter().peekable();
    let mut depth = 0i32;
    (0..len)
        .map(|i| {
            while let Some(&&(at, change)) = next.peek() {
                if at > i {
                    break;
                }
                depth += change;
                next.next();
            }
            depth.clamp(0, 10) as u8
        })
        .collect()
}

/// How often an instruction `depth` loops deep is likely to run: 16 to the power of its
/// depth.
pub fn loop_weight(depth: u8) -> u64 {
    1 << (4 * u32::from(depth.min(10)))
}
