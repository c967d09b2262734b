//! The interpreter: a dispatch loop over the pre-decoded program. It defines the semantics
//! every other backend is checked against.
//!
//! The loop keeps the registers in a local array (64 slots so that an `& 63` index needs no
//! bounds check; slot 32 absorbs writes to x0) and the pc as an index into the decoded code.
//!
//! Instruction counting is per basic block: on entering a block the loop takes the whole
//! block's length from its budget at once, so straight-line code runs without counting. When
//! the budget left is smaller than the block, the rest runs in a counting variant of the same
//! loop that stops after exactly the last allowed instruction. Rare operations (system calls,
//! faults) leave the loop through out-of-line functions.

pub(crate) mod custom;
mod system;

use crate::error::{ExecError, ExecErrorKind};
use crate::extension::Next;
use crate::metering::Meter;
use crate::program::decode::{BranchKind, Op};
use crate::program::Program;
use crate::state::{GuestMemory, VmState};
use std::io::Write;

/// Register file with a scratch slot for writes to x0 and power-of-two size for unchecked
/// indexing.
struct Regs([u32; 64]);

impl Regs {
    #[inline(always)]
    fn get(&self, r: u8) -> u32 {
        self.0[usize::from(r & 63)]
    }

    #[inline(always)]
    fn set(&mut self, r: u8, value: u32) {
        self.0[usize::from(r & 63)] = value;
    }
}

/// How the dispatch loop ended.
enum Stop {
    /// The instruction budget ran out; `idx` is the next instruction.
    Budget,
    /// The block entered at `idx` is longer than the budget left: continue counting.
    ShortBudget,
    /// `terminate` executed with this exit code.
    Terminated(u32),
    /// A control transfer completed to an address that holds no instruction. The fetch there
    /// faults unless the budget ran out first.
    JumpedOut(u32),
    /// The instruction at `idx` faulted and did not complete (nor is it counted).
    Fault(ExecErrorKind),
}

/// Runs `state` on `program` until it terminates, faults, or its instret reaches `limit`.
///
/// On success the state is either terminated (`exit_code` set) or suspended at
/// `instret == limit`. On a fault the state holds the pc of the faulting instruction and the
/// instret before it. Output of `printstr` goes to `out`.
pub fn run<M: Meter>(
    program: &Program,
    state: &mut VmState,
    limit: u64,
    out: &mut dyn Write,
    meter: &mut M,
) -> Result<(), ExecError> {
    if state.exit_code.is_some() {
        return Err(fault(program, state, ExecErrorKind::AlreadyTerminated));
    }
    let budget = limit.saturating_sub(state.instret);
    if budget == 0 {
        return Ok(());
    }
    let Some(mut idx) = program.index_of(state.pc) else {
        let kind = jump_fault(state.pc);
        return Err(fault(program, state, kind));
    };

    let mut regs = Regs([0; 64]);
    regs.0[..32].copy_from_slice(&state.regs);
    let mut remaining = budget;
    let blocks = program.block_remaining();
    let stop = loop {
        // `idx` is the entry of a block (or the resumption point inside one).
        let block = u64::from(blocks[idx]);
        let whole = remaining >= block && meter.block_fits(idx);
        if whole {
            remaining -= block;
            meter.on_block(idx);
        }
        let run = if whole {
            dispatch::<false, M>
        } else {
            dispatch::<true, M>
        };
        let stop = run(
            program,
            &mut idx,
            &mut remaining,
            &mut regs,
            state,
            out,
            meter,
        );
        if !matches!(stop, Stop::ShortBudget) {
            break stop;
        }
    };
    state.regs.copy_from_slice(&regs.0[..32]);
    state.instret += budget - remaining;
    match stop {
        Stop::Budget | Stop::ShortBudget => {
            state.pc = program.pc_of(idx);
            Ok(())
        }
        Stop::Terminated(code) => {
            state.pc = program.pc_of(idx);
            state.exit_code = Some(code);
            Ok(())
        }
        Stop::JumpedOut(target) => {
            state.pc = target;
            if remaining == 0 {
                Ok(())
            } else {
                Err(fault(program, state, jump_fault(target)))
            }
        }
        Stop::Fault(kind) => {
            state.pc = program.pc_of(idx);
            Err(fault(program, state, kind))
        }
    }
}

/// The fault for fetching at `target`, which holds no instruction.
fn jump_fault(target: u32) -> ExecErrorKind {
    if target % 4 != 0 {
        ExecErrorKind::MisalignedPc { target }
    } else {
        ExecErrorKind::PcOutOfRange { target }
    }
}

/// Builds the error for a fault at the state's pc.
#[cold]
fn fault(program: &Program, state: &VmState, kind: ExecErrorKind) -> ExecError {
    ExecError {
        pc: state.pc,
        instret: state.instret,
        insn: program.describe(state.pc),
        kind,
    }
}

/// Checks a naturally aligned access of `size` bytes; the error path is out of line.
#[inline(always)]
fn access_ok(mem: &GuestMemory, addr: u32, size: u32) -> bool {
    addr & (size - 1) == 0 && mem.in_range(addr, u64::from(size))
}

/// The dispatch loop proper. `idx` and `remaining` are updated in place so the caller sees
/// where and when it stopped.
///
/// With `COUNTING = false` the caller has already taken the current block's length from
/// `remaining`, and each control transfer takes the next block's length, returning
/// [`Stop::ShortBudget`] when it does not fit. With `COUNTING = true` every instruction is
/// counted on its own, and the loop stops when the budget is exhausted.
#[inline(never)]
fn dispatch<const COUNTING: bool, M: Meter>(
    program: &Program,
    idx_out: &mut usize,
    remaining_out: &mut u64,
    regs: &mut Regs,
    state: &mut VmState,
    out: &mut dyn Write,
    meter: &mut M,
) -> Stop {
    let code = program.code();
    let blocks = program.block_remaining();
    let mut idx = *idx_out;
    let mut remaining = *remaining_out;
    let mem = &mut state.memory;
    let mut io = system::Io {
        streams: &mut state.streams,
        public_values: &mut state.public_values,
        rng: &mut state.rng,
        out,
    };

    macro_rules! load {
        ($size:literal, $conv:expr) => {{
            let insn = unsafe_insn(code, idx);
            let addr = regs.get(insn.rs1).wrapping_add(insn.imm);
            if !access_ok(mem, addr, $size) {
                break Stop::Fault(mem.check_access(addr, $size).unwrap_err());
            }
            meter.on_memory_word(addr & !3);
            // SAFETY: `access_ok` checked that the access lies inside guest memory.
            let bytes = unsafe { mem.read_unchecked::<$size>(addr) };
            regs.set(insn.rd, $conv(bytes));
            idx += 1;
        }};
    }
    macro_rules! store {
        ($size:literal) => {{
            let insn = unsafe_insn(code, idx);
            let addr = regs.get(insn.rs1).wrapping_add(insn.imm);
            if !access_ok(mem, addr, $size) {
                break Stop::Fault(mem.check_access(addr, $size).unwrap_err());
            }
            let value = regs.get(insn.rs2).to_le_bytes();
            let mut bytes = [0u8; $size];
            bytes.copy_from_slice(&value[..$size]);
            meter.on_memory_word(addr & !3);
            // SAFETY: `access_ok` checked that the access lies inside guest memory.
            unsafe { mem.write_unchecked::<$size>(addr, bytes) };
            idx += 1;
        }};
    }
    macro_rules! alu {
        (|$a:ident, $b:ident| $e:expr) => {{
            let insn = unsafe_insn(code, idx);
            let $a = regs.get(insn.rs1);
            let $b = regs.get(insn.rs2);
            regs.set(insn.rd, $e);
            idx += 1;
        }};
    }
    macro_rules! alu_imm {
        (|$a:ident, $b:ident| $e:expr) => {{
            let insn = unsafe_insn(code, idx);
            let $a = regs.get(insn.rs1);
            let $b = insn.imm;
            regs.set(insn.rd, $e);
            idx += 1;
        }};
    }
    // Moves to the block starting at `$next`, taking its length from the budget.
    macro_rules! enter {
        ($next:expr) => {{
            idx = $next;
            if !COUNTING {
                let block = u64::from(blocks[idx]);
                if remaining < block || !meter.block_fits(idx) {
                    break Stop::ShortBudget;
                }
                remaining -= block;
                meter.on_block(idx);
            }
        }};
    }
    macro_rules! branch {
        (|$a:ident, $b:ident| $cond:expr) => {{
            let insn = unsafe_insn(code, idx);
            let $a = regs.get(insn.rs1);
            let $b = regs.get(insn.rs2);
            enter!(if $cond { insn.imm as usize } else { idx + 1 });
        }};
    }

    let stop = loop {
        if COUNTING {
            if remaining == 0 || !meter.may_execute() {
                break Stop::Budget;
            }
            remaining -= 1;
            meter.on_counted_insn(idx);
        }
        meter.on_insn(idx);
        match unsafe_insn(code, idx).op {
            Op::Add => alu!(|a, b| a.wrapping_add(b)),
            Op::Sub => alu!(|a, b| a.wrapping_sub(b)),
            Op::Sll => alu!(|a, b| a << (b & 31)),
            Op::Slt => alu!(|a, b| u32::from((a as i32) < (b as i32))),
            Op::Sltu => alu!(|a, b| u32::from(a < b)),
            Op::Xor => alu!(|a, b| a ^ b),
            Op::Srl => alu!(|a, b| a >> (b & 31)),
            Op::Sra => alu!(|a, b| ((a as i32) >> (b & 31)) as u32),
            Op::Or => alu!(|a, b| a | b),
            Op::And => alu!(|a, b| a & b),
            Op::Mul => alu!(|a, b| a.wrapping_mul(b)),
            Op::Mulh => alu!(|a, b| ((i64::from(a as i32) * i64::from(b as i32)) >> 32) as u32),
            Op::Mulhsu => alu!(|a, b| ((i64::from(a as i32) * i64::from(b)) >> 32) as u32),
            Op::Mulhu => alu!(|a, b| ((u64::from(a) * u64::from(b)) >> 32) as u32),
            Op::Div => alu!(|a, b| div(a, b)),
            Op::Divu => alu!(|a, b| a.checked_div(b).unwrap_or(u32::MAX)),
            Op::Rem => alu!(|a, b| rem(a, b)),
            Op::Remu => alu!(|a, b| a.checked_rem(b).unwrap_or(a)),
            Op::Addi => alu_imm!(|a, i| a.wrapping_add(i)),
            Op::Slti => alu_imm!(|a, i| u32::from((a as i32) < (i as i32))),
            Op::Sltiu => alu_imm!(|a, i| u32::from(a < i)),
            Op::Xori => alu_imm!(|a, i| a ^ i),
            Op::Ori => alu_imm!(|a, i| a | i),
            Op::Andi => alu_imm!(|a, i| a & i),
            Op::Slli => alu_imm!(|a, i| a << (i & 31)),
            Op::Srli => alu_imm!(|a, i| a >> (i & 31)),
            Op::Srai => alu_imm!(|a, i| ((a as i32) >> (i & 31)) as u32),
            Op::Li => {
                let insn = unsafe_insn(code, idx);
                regs.set(insn.rd, insn.imm);
                idx += 1;
            }
            Op::Lb => load!(1, |b: [u8; 1]| b[0] as i8 as u32),
            Op::Lh => load!(2, |b: [u8; 2]| i16::from_le_bytes(b) as u32),
            Op::Lw => load!(4, u32::from_le_bytes),
            Op::Lbu => load!(1, |b: [u8; 1]| u32::from(b[0])),
            Op::Lhu => load!(2, |b: [u8; 2]| u32::from(u16::from_le_bytes(b))),
            Op::Sb => store!(1),
            Op::Sh => store!(2),
            Op::Sw => store!(4),
            Op::Beq => branch!(|a, b| a == b),
            Op::Bne => branch!(|a, b| a != b),
            Op::Blt => branch!(|a, b| (a as i32) < (b as i32)),
            Op::Bge => branch!(|a, b| (a as i32) >= (b as i32)),
            Op::Bltu => branch!(|a, b| a < b),
            Op::Bgeu => branch!(|a, b| a >= b),
            Op::Jal => {
                let insn = unsafe_insn(code, idx);
                regs.set(insn.rd, program.pc_of(idx + 1));
                enter!(insn.imm as usize);
            }
            Op::Jalr => {
                let insn = unsafe_insn(code, idx);
                let target = regs.get(insn.rs1).wrapping_add(insn.imm) & !1;
                regs.set(insn.rd, program.pc_of(idx + 1));
                match program.index_of(target) {
                    Some(next) => enter!(next),
                    None => break Stop::JumpedOut(target),
                }
            }
            Op::BadBranch => {
                let insn = unsafe_insn(code, idx);
                let kind = BranchKind::from_u8(insn.rd);
                if kind == BranchKind::Always {
                    regs.set(insn.rs1, program.pc_of(idx + 1));
                    break Stop::JumpedOut(insn.imm);
                }
                if kind.taken(regs.get(insn.rs1), regs.get(insn.rs2)) {
                    break Stop::JumpedOut(insn.imm);
                }
                enter!(idx + 1);
            }
            Op::Nop => idx += 1,
            Op::Terminate => break Stop::Terminated(unsafe_insn(code, idx).imm),
            Op::Reveal | Op::HintInput | Op::PrintStr | Op::HintRandom => {
                let insn = unsafe_insn(code, idx);
                if let Err(kind) = system::execute(&insn, &regs.0, mem, &mut io, meter) {
                    break Stop::Fault(kind);
                }
                idx += 1;
            }
            // Hint stores add a data-dependent number of rows, so they end their block: the
            // meter is consulted again before the next instruction.
            Op::HintStoreW | Op::HintBuffer => {
                let insn = unsafe_insn(code, idx);
                if let Err(kind) = system::execute(&insn, &regs.0, mem, &mut io, meter) {
                    break Stop::Fault(kind);
                }
                enter!(idx + 1);
            }
            // Custom instructions may jump, so they end their block.
            Op::Custom => {
                let insn = unsafe_insn(code, idx);
                let pc = program.pc_of(idx);
                let parts = custom::Parts {
                    regs: &mut regs.0[..32],
                    memory: mem,
                    streams: io.streams,
                    public_values: io.public_values,
                    rng: io.rng,
                    pc,
                };
                match custom::execute_metered(program, insn.imm, parts, meter) {
                    Ok(Next::Continue) => enter!(idx + 1),
                    Ok(Next::Jump(target)) => match program.index_of(target) {
                        Some(next) => enter!(next),
                        None => break Stop::JumpedOut(target),
                    },
                    Err(kind) => break Stop::Fault(kind),
                }
            }
            Op::Illegal => {
                let word = program.words()[idx];
                break Stop::Fault(ExecErrorKind::IllegalInstruction { word });
            }
            Op::NoInstruction => {
                break Stop::Fault(ExecErrorKind::PcOutOfRange {
                    target: program.pc_of(idx),
                });
            }
        }
    };
    if let Stop::Fault(_) = stop {
        // Give back the faulting instruction's count: in counting mode it was counted alone;
        // otherwise it and the rest of its block were taken at the block entry.
        remaining += if COUNTING { 1 } else { u64::from(blocks[idx]) };
    }
    *idx_out = idx;
    *remaining_out = remaining;
    stop
}

/// Fetches the decoded instruction at `idx`.
#[inline(always)]
fn unsafe_insn(code: &[crate::program::Insn], idx: usize) -> crate::program::Insn {
    debug_assert!(idx < code.len());
    // SAFETY: `idx` is always a valid index: it starts from `Program::index_of`, advances by
    // one only past an instruction that is not the trailing `Insn::NONE` (which stops the
    // loop), and jumps only to indices validated at decode time or by `Program::index_of`.
    unsafe { *code.get_unchecked(idx) }
}

fn div(a: u32, b: u32) -> u32 {
    let (a, b) = (a as i32, b as i32);
    if b == 0 {
        u32::MAX
    } else {
        a.wrapping_div(b) as u32
    }
}

fn rem(a: u32, b: u32) -> u32 {
    let (a, b) = (a as i32, b as i32);
    if b == 0 {
        a as u32
    } else {
        a.wrapping_rem(b) as u32
    }
}
