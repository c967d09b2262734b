//! The aarch64 emitter: one pass over a [`CodePlan`], one stretch of machine code per block,
//! following the x86-64 emitter's plan, interface and cold paths with aarch64's larger register
//! file.
//!
//! Register use (AAPCS64):
//! - `x19` the instruction budget, `x20` guest memory, `x21` the table of block addresses;
//! - `x22` the cost left (`max_cost - cost`) in cost mode, `x22`..`x25` the first four packed
//!   counter words and `x26` the last page touched in metered mode (the other words stay in the
//!   frame);
//! - `x15`, `x16`, `x17` scratch (`w16` holds addresses, and guest jump targets for dispatch),
//!   `x30` the link register of the shared routines, `x18` (the platform register) unused;
//! - the most used guest registers ([`CodePlan::register_rank`]) live in the remaining
//!   callee-saved registers (`x27`, `x28`, `x29`, and `x22`..`x26` when the mode leaves them)
//!   and in `x0`..`x14`, up to 23 of them; the others, and the [`RvxCtx`] pointer, live in the
//!   stack frame.
//!
//! Host registers holding guest values always hold them zero-extended: they are written by
//! 32-bit operations only.
//!
//! Guest registers held in host registers are written to the frame ("spilled") before every
//! call out and on exit, and read again after a call (calls into the metering helpers spill
//! only those in caller-saved registers). Cold paths (stops, faults, check points, page
//! touches) are small stubs placed after the hot code that needs them, calling a few shared
//! routines emitted once. Conditional branches reach 1 MiB: stubs are flushed in between hot
//! code often enough to stay in reach, and a program whose forward branches between blocks do
//! not reach is emitted again with every such branch in its long form.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

mod insn;
mod shared;
#[cfg(test)]
mod tests;

use super::EmittedCode;
use crate::backend::compiled::abi::RvxCtx;
use crate::backend::compiled::plan::{CodePlan, PlannedBlock};
use crate::backend::rvr::LiftMode;
use crate::error::CompileError;
use crate::program::Program;
use dynasmrt::aarch64::Assembler;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, ExecutableBuffer};
use std::mem::offset_of;

/// Scratch: constants, quotients, a routine's argument.
const T2: u8 = 15;
/// Scratch: addresses and guest jump targets.
const T0: u8 = 16;
/// Scratch: second operands, pages, block addresses.
const T1: u8 = 17;
/// The instruction budget (signed, 64 bits).
const BUDGET: u8 = 19;
/// Guest memory.
const MEM: u8 = 20;
/// The table of block addresses, by code index.
const TABLE: u8 = 21;
/// The mode's hot counters: the cost left, or packed words 0..4.
const MODE_REGS: [u8; 4] = [22, 23, 24, 25];
/// Metered mode: the page of the last access (`u32::MAX` for none).
const LAST_PAGE: u8 = 26;
/// Host registers that may hold guest registers, best first: callee-saved first (metering
/// calls need not spill them), those the mode takes filtered out.
const POOL: [u8; 23] = [
    27, 28, 29, 26, 25, 24, 23, 22, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
];

// Frame slots, from sp. The callee-saved registers x19..x30 are saved at 0..96.
/// The `RvxCtx` pointer.
const CTX: u32 = 96;
/// A shared routine's return address.
const SAVED_LR: u32 = 104;
/// Two words a shared routine keeps across a call (`x16`, `x17`).
const SAVED_T: u32 = 112;
/// The packed counter words (the home of those held in registers); the guest registers
/// follow.
const PACKED: u32 = 128;

/// How far a conditional branch reaches (1 MiB), less a margin.
const NEAR: usize = (1 << 20) - (64 << 10);
/// Hot code emitted after the first pending cold stub before the stubs are flushed: a stub
/// is at most about 6 times as long as the hot code that needs it, so all stay within
/// [`NEAR`].
const FLUSH_AFTER: usize = 96 << 10;

const CTX_PC: u32 = offset_of!(RvxCtx, pc) as u32;
const CTX_BUDGET: u32 = offset_of!(RvxCtx, budget) as u32;
const CTX_REGS: u32 = offset_of!(RvxCtx, regs) as u32;
const CTX_MEM: u32 = offset_of!(RvxCtx, mem) as u32;
const CTX_COST: u32 = offset_of!(RvxCtx, cost) as u32;
const CTX_MAX_COST: u32 = offset_of!(RvxCtx, max_cost) as u32;
const CTX_PACKED: u32 = offset_of!(RvxCtx, packed) as u32;
const CTX_REFILL: u32 = offset_of!(RvxCtx, refill) as u32;
const CTX_STOP: u32 = offset_of!(RvxCtx, stop) as u32;
const CTX_INTERVAL: u32 = offset_of!(RvxCtx, interval) as u32;
const CTX_INTERVAL_OF: u32 = offset_of!(RvxCtx, interval_of) as u32;
const CTX_HOST: u32 = offset_of!(RvxCtx, host) as u32;
const CTX_CUSTOM: u32 = offset_of!(RvxCtx, custom) as u32;

/// The condition of a guest branch, as a `b.cond` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    Eq,
    Ne,
    Lt,
    Ge,
    Lo,
    Hs,
}

impl Cond {
    fn invert(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Lt => Cond::Ge,
            Cond::Ge => Cond::Lt,
            Cond::Lo => Cond::Hs,
            Cond::Hs => Cond::Lo,
        }
    }
}

/// What a branch to a block tests.
#[derive(Debug, Clone, Copy)]
enum Test {
    /// The flags.
    Flags(Cond),
    /// Whether a (32-bit) register is zero.
    Zero(u8),
    /// Whether a (32-bit) register is not zero.
    NonZero(u8),
}

/// Out-of-line code, emitted after the hot code that needs it.
enum Cold {
    /// Give back `budget` instructions and `cost`, and hand off at `pc`.
    Stop {
        label: DynamicLabel,
        pc: u32,
        budget: u32,
        cost: u64,
    },
    /// Hand off at the guest address in `w16`.
    HandoffAtT0 { label: DynamicLabel },
    /// Metered: the block at code offset `off` (bytes) does not fit the budget.
    CheckPoint {
        label: DynamicLabel,
        back: DynamicLabel,
        off: u32,
        len: u32,
    },
    /// Metered: an access touches a page other than the last one (`w16` address, `w17` page).
    Touch {
        label: DynamicLabel,
        back: DynamicLabel,
        from_end: u32,
    },
}

/// The home of packed word `w` in the frame.
fn packed_slot(w: usize) -> u32 {
    PACKED + 8 * w as u32
}

/// Why emitting failed.
enum EmitError {
    /// A branch does not reach its target: emit again with long branches.
    OutOfRange,
    /// Anything else.
    Failed(CompileError),
}

/// The aarch64 code generator for one plan.
struct Emitter<'a> {
    ops: Assembler,
    plan: &'a CodePlan,
    program: &'a Program,
    /// Per code index, the label of the block starting there.
    labels: Vec<Option<DynamicLabel>>,
    /// Metered mode: scratch for the current block's packed adds.
    adds: Vec<(usize, u64)>,
    /// Per guest register (and the scratch slot), the host register holding it.
    host_of: [Option<u8>; 33],
    /// (guest, host) pairs.
    mapped: Vec<(u8, u8)>,
    /// The registers holding the mode's first counters ([`MODE_REGS`]), homed at `PACKED`.
    mode_regs: Vec<u8>,
    /// Packed counter words (metered mode).
    words: usize,
    cold: Vec<Cold>,
    /// Where the hot code needing the oldest unflushed stub is.
    first_cold: Option<usize>,
    /// Whether forward branches to blocks take their long form.
    far: bool,
    /// Bytes of frame.
    frame: u32,
    /// Where the guest registers live in the frame.
    regs_home: u32,
    /// Where `rvx_run`'s table of block addresses will live.
    table: *const usize,
}

#[cfg(test)]
thread_local! {
    /// Tests: emit every forward branch between blocks in its long form from the start.
    static FORCE_FAR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Emits `plan` for `program`, with its table of block addresses (one entry per instruction,
/// which the code reads).
pub(super) fn emit(program: &Program, plan: &CodePlan) -> Result<EmittedCode, CompileError> {
    let mut table = vec![0usize; program.code().len()].into_boxed_slice();
    #[cfg(test)]
    let far = FORCE_FAR.with(|far| far.get());
    #[cfg(not(test))]
    let far = false;
    let code = match emit_with(program, plan, &mut table, far) {
        Err(EmitError::OutOfRange) => match emit_with(program, plan, &mut table, true) {
            Err(EmitError::OutOfRange) => Err(CompileError::Jit {
                message: "the program is too large for aarch64 branches (128 MiB of code)"
                    .to_string(),
            }),
            Err(EmitError::Failed(e)) => Err(e),
            Ok(code) => Ok(code),
        },
        Err(EmitError::Failed(e)) => Err(e),
        Ok(code) => Ok(code),
    }?;
    Ok(EmittedCode {
        table: Some(table),
        ..code
    })
}

/// [`emit`], with long forward branches between blocks if `far`.
fn emit_with(
    program: &Program,
    plan: &CodePlan,
    table: &mut [usize],
    far: bool,
) -> Result<EmittedCode, EmitError> {
    let mut emitter = Emitter::new(program, plan, table.as_ptr(), far)?;
    for planned in &plan.blocks {
        let label = emitter.ops.new_dynamic_label();
        emitter.labels[planned.block.start] = Some(label);
    }
    let entry = emitter.emit_entry();
    let mut block_offsets = Vec::with_capacity(plan.blocks.len());
    for planned in &plan.blocks {
        emitter.maybe_flush();
        block_offsets.push((planned.block.start, emitter.ops.offset()));
        emitter.emit_block(planned);
    }
    emitter.flush_cold();
    let not_entry = emitter.emit_shared();
    let buffer = emitter.finish()?;
    let fallback = buffer.ptr(not_entry) as usize;
    table.fill(fallback);
    for (index, offset) in block_offsets {
        table[index] = buffer.ptr(offset) as usize;
    }
    Ok(EmittedCode {
        buffer: super::CodeMemory::Assembler(buffer),
        entry,
        table: None,
    })
}

impl<'a> Emitter<'a> {
    /// An emitter for `plan` whose code will read block addresses from `table`.
    fn new(
        program: &'a Program,
        plan: &'a CodePlan,
        table: *const usize,
        far: bool,
    ) -> Result<Emitter<'a>, EmitError> {
        let ops = Assembler::new().map_err(|e| {
            EmitError::Failed(CompileError::Jit {
                message: format!("cannot map memory for code: {e}"),
            })
        })?;
        if program.code().len() >= 1 << 30 {
            return Err(EmitError::OutOfRange);
        }
        let words = match plan.mode {
            LiftMode::Metered => plan.layout.words(),
            _ => 0,
        };
        let mode_regs: Vec<u8> = match plan.mode {
            LiftMode::Pure => Vec::new(),
            LiftMode::Cost => MODE_REGS[..1].to_vec(),
            LiftMode::Metered => MODE_REGS[..words.min(MODE_REGS.len())].to_vec(),
        };
        let pool: Vec<u8> = POOL
            .iter()
            .copied()
            .filter(|h| !mode_regs.contains(h))
            .filter(|&h| plan.mode != LiftMode::Metered || h != LAST_PAGE)
            .collect();
        let mut host_of = [None; 33];
        let mut mapped = Vec::new();
        for (&guest, &host) in plan.register_rank.iter().zip(&pool) {
            host_of[usize::from(guest)] = Some(host);
            mapped.push((guest, host));
        }
        let regs_home = PACKED + 8 * words.max(1) as u32;
        let frame = (regs_home + 4 * 32).next_multiple_of(16);
        if frame >= 4096 {
            return Err(EmitError::Failed(CompileError::Jit {
                message: format!("{words} packed counter words do not fit the aarch64 frame"),
            }));
        }
        Ok(Emitter {
            ops,
            plan,
            program,
            labels: vec![None; program.code().len()],
            adds: Vec::new(),
            host_of,
            mapped,
            mode_regs,
            words,
            cold: Vec::new(),
            first_cold: None,
            far,
            frame,
            regs_home,
            table,
        })
    }

    /// Resolves the branches and makes the code executable.
    fn finish(mut self) -> Result<ExecutableBuffer, EmitError> {
        match self.ops.commit() {
            Ok(()) => {}
            Err(DynasmError::ImpossibleRelocation(_)) => return Err(EmitError::OutOfRange),
            Err(e) => {
                return Err(EmitError::Failed(CompileError::Jit {
                    message: format!("cannot assemble the code: {e}"),
                }))
            }
        }
        self.ops.finalize().map_err(|_| {
            EmitError::Failed(CompileError::Jit {
                message: "cannot make the code executable".to_string(),
            })
        })
    }
}

impl Emitter<'_> {
    fn host(&self, guest: u8) -> Option<u8> {
        self.host_of[usize::from(guest)]
    }

    /// The frame slot of guest register `guest`.
    fn home(&self, guest: u8) -> u32 {
        self.regs_home + 4 * u32::from(guest)
    }

    /// `reg = value` (32 bits, the upper half cleared).
    fn mov32(&mut self, reg: u8, value: u32) {
        let (lo, hi) = (value & 0xffff, value >> 16);
        let (not_lo, not_hi) = (!value & 0xffff, !value >> 16);
        if hi == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movz W(reg), lo);
        } else if lo == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movz W(reg), hi, lsl 16);
        } else if not_hi == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movn W(reg), not_lo);
        } else if not_lo == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movn W(reg), not_hi, lsl 16);
        } else {
            dynasm!(self.ops ; .arch aarch64 ; movz W(reg), lo ; movk W(reg), hi, lsl 16);
        }
    }

    /// `reg = value` (64 bits).
    fn mov64(&mut self, reg: u8, value: u64) {
        if let Ok(small) = u32::try_from(value) {
            return self.mov32(reg, small);
        }
        if !value < 0x1_0000 {
            let not = (!value) as u32;
            dynasm!(self.ops ; .arch aarch64 ; movn X(reg), not);
            return;
        }
        let half = |n: u32| ((value >> (16 * n)) & 0xffff) as u32;
        dynasm!(self.ops ; .arch aarch64 ; movz X(reg), half(0));
        for n in 1..4 {
            let h = half(n);
            if h != 0 {
                match n {
                    1 => dynasm!(self.ops ; .arch aarch64 ; movk X(reg), h, lsl 16),
                    2 => dynasm!(self.ops ; .arch aarch64 ; movk X(reg), h, lsl 32),
                    _ => dynasm!(self.ops ; .arch aarch64 ; movk X(reg), h, lsl 48),
                }
            }
        }
    }

    /// `reg += value` (64 bits); `T2` may be used, so `reg` must not be it.
    fn add64(&mut self, reg: u8, value: u64) {
        debug_assert_ne!(reg, T2);
        if value < 0x1000 {
            let v = value as u32;
            dynasm!(self.ops ; .arch aarch64 ; add XSP(reg), XSP(reg), v);
        } else if value & 0xfff == 0 && value < 0x100_0000 {
            let v = (value >> 12) as u32;
            dynasm!(self.ops ; .arch aarch64 ; add XSP(reg), XSP(reg), v, lsl 12);
        } else {
            self.mov64(T2, value);
            dynasm!(self.ops ; .arch aarch64 ; add X(reg), X(reg), X(T2));
        }
    }

    /// `reg -= value` (64 bits), setting the flags; `T2` may be used.
    fn subs64(&mut self, reg: u8, value: u64) {
        debug_assert_ne!(reg, T2);
        if value < 0x1000 {
            let v = value as u32;
            dynasm!(self.ops ; .arch aarch64 ; subs X(reg), XSP(reg), v);
        } else if value & 0xfff == 0 && value < 0x100_0000 {
            let v = (value >> 12) as u32;
            dynasm!(self.ops ; .arch aarch64 ; subs X(reg), XSP(reg), v, lsl 12);
        } else {
            self.mov64(T2, value);
            dynasm!(self.ops ; .arch aarch64 ; subs X(reg), X(reg), X(T2));
        }
    }

    /// `dst = src + value` (32 bits, wrapping); `T2` may be used, so neither may be it.
    fn add32(&mut self, dst: u8, src: u8, value: u32) {
        let negated = value.wrapping_neg();
        if value == 0 {
            if dst != src {
                dynasm!(self.ops ; .arch aarch64 ; mov W(dst), W(src));
            }
        } else if value < 0x1000 {
            dynasm!(self.ops ; .arch aarch64 ; add WSP(dst), WSP(src), value);
        } else if negated < 0x1000 {
            dynasm!(self.ops ; .arch aarch64 ; sub WSP(dst), WSP(src), negated);
        } else if value & 0xfff == 0 && value < 0x100_0000 {
            let v = value >> 12;
            dynasm!(self.ops ; .arch aarch64 ; add WSP(dst), WSP(src), v, lsl 12);
        } else if negated & 0xfff == 0 && negated < 0x100_0000 {
            let v = negated >> 12;
            dynasm!(self.ops ; .arch aarch64 ; sub WSP(dst), WSP(src), v, lsl 12);
        } else {
            self.mov32(T2, value);
            dynasm!(self.ops ; .arch aarch64 ; add W(dst), W(src), W(T2));
        }
    }

    fn emit_block(&mut self, planned: &PlannedBlock) {
        let block = planned.block;
        let label = self.labels[block.start].expect("every block has a label");
        dynasm!(self.ops ; .arch aarch64 ; =>label);
        if block.handoff {
            self.mov32(T0, planned.pc);
            dynasm!(self.ops ; .arch aarch64 ; b ->handoff_at_t0);
            return;
        }
        let len = block.len() as u32;
        match self.plan.mode {
            LiftMode::Pure => {
                let stop = self.stop(planned.pc, len, 0);
                self.subs64(BUDGET, u64::from(len));
                dynasm!(self.ops ; .arch aarch64 ; b.mi =>stop);
            }
            LiftMode::Cost => {
                let stop = self.stop(planned.pc, len, 0);
                self.subs64(BUDGET, u64::from(len));
                dynasm!(self.ops ; .arch aarch64 ; b.mi =>stop);
                let cost = self.plan.cost_of(self.program, planned);
                if cost > 0 {
                    let stop = self.stop(planned.pc, len, cost);
                    self.subs64(MODE_REGS[0], cost);
                    dynasm!(self.ops ; .arch aarch64 ; b.mi =>stop);
                }
            }
            LiftMode::Metered => {
                let label = self.ops.new_dynamic_label();
                let back = self.ops.new_dynamic_label();
                self.push_cold(Cold::CheckPoint {
                    label,
                    back,
                    off: planned.pc - self.plan.base,
                    len,
                });
                self.subs64(BUDGET, u64::from(len));
                dynasm!(self.ops ; .arch aarch64 ; b.mi =>label ; =>back);
                let mut adds = std::mem::take(&mut self.adds);
                self.plan.packed_adds_into(self.program, planned, &mut adds);
                for &(word, add) in &adds {
                    self.add_packed(word, add);
                }
                self.adds = adds;
            }
        }
        for idx in block.start..block.end {
            self.maybe_flush();
            self.emit_insn(planned, idx);
        }
    }

    /// Adds `add` to packed word `word`.
    fn add_packed(&mut self, word: usize, add: u64) {
        if let Some(&reg) = self.mode_regs.get(word) {
            self.add64(reg, add);
            return;
        }
        let slot = packed_slot(word);
        dynasm!(self.ops ; .arch aarch64 ; ldr X(T1), [sp, slot]);
        self.add64(T1, add);
        dynasm!(self.ops ; .arch aarch64 ; str X(T1), [sp, slot]);
    }

    /// A cold exit giving back `budget` instructions and `cost` at `pc`.
    fn stop(&mut self, pc: u32, budget: u32, cost: u64) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        self.push_cold(Cold::Stop {
            label,
            pc,
            budget,
            cost,
        });
        label
    }

    fn push_cold(&mut self, cold: Cold) {
        if self.first_cold.is_none() {
            self.first_cold = Some(self.ops.offset().0);
        }
        self.cold.push(cold);
    }

    fn block_label(&self, index: usize) -> DynamicLabel {
        self.labels[index].expect("branch targets start blocks")
    }

    /// Branches to the block labelled `target` when `test` holds; falls through otherwise.
    fn branch_to_block(&mut self, test: Test, target: DynamicLabel) {
        let here = self.ops.offset().0;
        let near = match self.ops.labels().resolve_dynamic(target) {
            Ok(at) => here - at.0 < NEAR,
            Err(_) => !self.far,
        };
        if near {
            match test {
                Test::Zero(r) => dynasm!(self.ops ; .arch aarch64 ; cbz W(r), =>target),
                Test::NonZero(r) => dynasm!(self.ops ; .arch aarch64 ; cbnz W(r), =>target),
                Test::Flags(cond) => self.b_cond(cond, target),
            }
            return;
        }
        let skip = self.ops.new_dynamic_label();
        match test {
            Test::Zero(r) => dynasm!(self.ops ; .arch aarch64 ; cbnz W(r), =>skip),
            Test::NonZero(r) => dynasm!(self.ops ; .arch aarch64 ; cbz W(r), =>skip),
            Test::Flags(cond) => self.b_cond(cond.invert(), skip),
        }
        dynasm!(self.ops ; .arch aarch64 ; b =>target ; =>skip);
    }

    /// `b.cond label`.
    fn b_cond(&mut self, cond: Cond, label: DynamicLabel) {
        match cond {
            Cond::Eq => dynasm!(self.ops ; .arch aarch64 ; b.eq =>label),
            Cond::Ne => dynasm!(self.ops ; .arch aarch64 ; b.ne =>label),
            Cond::Lt => dynasm!(self.ops ; .arch aarch64 ; b.lt =>label),
            Cond::Ge => dynasm!(self.ops ; .arch aarch64 ; b.ge =>label),
            Cond::Lo => dynasm!(self.ops ; .arch aarch64 ; b.lo =>label),
            Cond::Hs => dynasm!(self.ops ; .arch aarch64 ; b.hs =>label),
        }
    }

    /// Emits the pending cold stubs here, jumped over, if the oldest is about to go out of
    /// reach.
    fn maybe_flush(&mut self) {
        let Some(first) = self.first_cold else {
            return;
        };
        if self.ops.offset().0 - first < FLUSH_AFTER {
            return;
        }
        let over = self.ops.new_dynamic_label();
        dynasm!(self.ops ; .arch aarch64 ; b =>over);
        self.flush_cold();
        dynasm!(self.ops ; .arch aarch64 ; =>over);
    }

    /// Emits the pending cold stubs.
    fn flush_cold(&mut self) {
        self.first_cold = None;
        for cold in std::mem::take(&mut self.cold) {
            match cold {
                Cold::Stop {
                    label,
                    pc,
                    budget,
                    cost,
                } => {
                    dynasm!(self.ops ; .arch aarch64 ; =>label);
                    self.add64(BUDGET, u64::from(budget));
                    if cost > 0 {
                        self.add64(MODE_REGS[0], cost);
                    }
                    self.mov32(T0, pc);
                    dynasm!(self.ops ; .arch aarch64 ; b ->handoff_at_t0);
                }
                Cold::HandoffAtT0 { label } => {
                    dynasm!(self.ops ; .arch aarch64 ; =>label ; b ->handoff_at_t0);
                }
                Cold::CheckPoint {
                    label,
                    back,
                    off,
                    len,
                } => {
                    dynasm!(self.ops ; .arch aarch64 ; =>label);
                    self.mov32(T0, off);
                    self.mov32(T1, len);
                    dynasm!(self.ops ; .arch aarch64 ; bl ->check_point ; b =>back);
                }
                Cold::Touch {
                    label,
                    back,
                    from_end,
                } => {
                    dynasm!(self.ops ; .arch aarch64 ; =>label);
                    self.mov32(T2, from_end);
                    dynasm!(self.ops ; .arch aarch64 ; bl ->touch ; b =>back);
                }
            }
        }
    }
}
