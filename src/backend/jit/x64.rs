//! The x86-64 emitter: one pass over a [`CodePlan`], one stretch of machine code per block.
//!
//! Register use (System V):
//! - `r13` the instruction budget, `r15` guest memory; the [`RvxCtx`] pointer and the guest
//!   registers without a host register live in the stack frame (the registers are copied from
//!   and to `RvxCtx::regs` on entry, on exit and around custom instructions);
//! - `rax`, `rcx`, `rdx` scratch (`rcx` holds addresses, and jump targets for `->dispatch`);
//! - the most used guest registers ([`CodePlan::register_rank`]) live in `rbx`, `rbp`, `rsi`,
//!   `rdi`, `r8`..`r12`, `r14`, the others in the frame; in cost mode `r11` holds the cost left
//!   (`max_cost - cost`) instead, in metered mode `r11` and `r10` the first two packed counter
//!   words (the others stay in the frame).
//!
//! Guest registers held in host registers are written back to the array ("spilled") before
//! every call out and on exit, and read again after a call. Cold paths (stops, faults, check
//! points, page touches) are emitted after all blocks, so hot code falls through.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::EmittedCode;
use crate::backend::compiled::abi::{RvxCtx, CUSTOM_CONTINUE, CUSTOM_JUMP, EXIT_HANDOFF};
use crate::backend::compiled::calls::{pass_check_point, touch_before, touch_new};
use crate::backend::compiled::plan::{CodePlan, PlannedBlock};
use crate::backend::rvr::LiftMode;
use crate::error::CompileError;
use crate::metering::PAGE_BYTES_BITS;
use crate::program::decode::SCRATCH_REG;
use crate::program::{Insn, Op, Program};
use dynasmrt::x64::Assembler;
use dynasmrt::{dynasm, AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi};
use std::mem::offset_of;

const RAX: u8 = 0;
const RCX: u8 = 1;
/// Host registers that may hold guest registers, best first (those needing no REX prefix
/// first, for shorter code).
const POOL: [u8; 10] = [3, 5, 6, 7, 8, 9, 12, 14, 10, 11];
/// The registers of the mode's hot counters (cost left, or packed words 0 and 1): the last of
/// the pool, so that fewer guest registers lose theirs.
const MODE_REGS: [u8; 2] = [11, 10];

// Frame slots, from rsp.
const LAST_PAGE: i32 = 0;
const SAVED_T: i32 = 8;
/// The `RvxCtx` pointer.
const CTX: i32 = 16;
/// The mode's counters: the cost left, or the packed words (each register's home when it is
/// spilled); the guest registers follow.
const PACKED: i32 = 24;
/// The cost left, in cost mode.
const COST_HOME: i32 = PACKED;

const CTX_PC: i32 = offset_of!(RvxCtx, pc) as i32;
const CTX_BUDGET: i32 = offset_of!(RvxCtx, budget) as i32;
const CTX_REGS: i32 = offset_of!(RvxCtx, regs) as i32;
const CTX_MEM: i32 = offset_of!(RvxCtx, mem) as i32;
const CTX_COST: i32 = offset_of!(RvxCtx, cost) as i32;
const CTX_MAX_COST: i32 = offset_of!(RvxCtx, max_cost) as i32;
const CTX_PACKED: i32 = offset_of!(RvxCtx, packed) as i32;
const CTX_REFILL: i32 = offset_of!(RvxCtx, refill) as i32;
const CTX_PASSES: i32 = offset_of!(RvxCtx, passes) as i32;
const CTX_STOP: i32 = offset_of!(RvxCtx, stop) as i32;
const CTX_INTERVAL: i32 = offset_of!(RvxCtx, interval) as i32;
const CTX_INTERVAL_OF: i32 = offset_of!(RvxCtx, interval_of) as i32;
const CTX_HOST: i32 = offset_of!(RvxCtx, host) as i32;
const CTX_CUSTOM: i32 = offset_of!(RvxCtx, custom) as i32;

/// Out-of-line code, emitted after the blocks.
enum Cold {
    /// Give back `budget` instructions and `cost`, and hand off at `pc`.
    Stop {
        label: DynamicLabel,
        pc: u32,
        budget: u32,
        cost: u64,
    },
    /// Metered: the block at code offset `off` does not fit the budget.
    CheckPoint {
        label: DynamicLabel,
        back: DynamicLabel,
        pc: u32,
        off: u32,
        len: u32,
    },
    /// Metered: an access touches a page other than the last one (`eax` page, `ecx` address).
    Touch {
        label: DynamicLabel,
        back: DynamicLabel,
        from_end: u32,
    },
}

struct Emitter<'a> {
    ops: Assembler,
    plan: &'a CodePlan,
    program: &'a Program,
    /// Per code index, the label of the block starting there.
    labels: Vec<Option<DynamicLabel>>,
    /// Per guest register (and the scratch slot), the host register holding it.
    host_of: [Option<u8>; 33],
    /// (guest, host) pairs.
    mapped: Vec<(u8, u8)>,
    /// The registers holding the mode's first counters ([`MODE_REGS`]), homed at `PACKED`.
    mode_regs: Vec<u8>,
    cold: Vec<Cold>,
    /// Bytes below the saved registers.
    frame: i32,
    /// Where the guest registers live in the frame.
    regs_home: i32,
    /// Where `rvx_run`'s table of block addresses will live.
    table: *const usize,
}

/// Emits `plan` for `program`; `table` must have one entry per instruction and stay put while
/// the code runs (the code reads block addresses from it).
pub(super) fn emit(
    program: &Program,
    plan: &CodePlan,
    table: &mut [usize],
) -> Result<EmittedCode, CompileError> {
    let ops = Assembler::new().map_err(|e| CompileError::Jit {
        message: format!("cannot map memory for code: {e}"),
    })?;
    let mode_regs: Vec<u8> = match plan.mode {
        LiftMode::Pure => Vec::new(),
        LiftMode::Cost => MODE_REGS[..1].to_vec(),
        LiftMode::Metered => MODE_REGS[..plan.layout.words().min(MODE_REGS.len())].to_vec(),
    };
    let pool: Vec<u8> = POOL
        .iter()
        .copied()
        .filter(|h| !mode_regs.contains(h))
        .collect();
    let mut host_of = [None; 33];
    let mut mapped = Vec::new();
    for (&guest, &host) in plan.register_rank.iter().zip(&pool) {
        host_of[usize::from(guest)] = Some(host);
        mapped.push((guest, host));
    }
    // Six pushes and the return address leave rsp 8 bytes off 16: keep the frame an odd
    // number of words so calls see it aligned.
    let words = if plan.mode == LiftMode::Metered {
        plan.layout.words().max(1)
    } else {
        1
    };
    let regs_home = PACKED + 8 * words as i32;
    let mut frame = regs_home + 4 * 32;
    if frame % 16 == 0 {
        frame += 8;
    }
    let mut emitter = Emitter {
        ops,
        plan,
        program,
        labels: vec![None; program.code().len()],
        host_of,
        mapped,
        mode_regs,
        cold: Vec::new(),
        frame,
        regs_home,
        table: table.as_ptr(),
    };
    for planned in &plan.blocks {
        let label = emitter.ops.new_dynamic_label();
        emitter.labels[planned.block.start] = Some(label);
    }
    let entry = emitter.emit_entry();
    let mut block_offsets = Vec::with_capacity(plan.blocks.len());
    for planned in &plan.blocks {
        block_offsets.push((planned.block.start, emitter.ops.offset()));
        emitter.emit_block(planned);
    }
    let not_entry = emitter.emit_shared_exits();
    emitter.emit_cold();
    let buffer = emitter.ops.finalize().map_err(|_| CompileError::Jit {
        message: "cannot make the code executable".to_string(),
    })?;
    let fallback = buffer.ptr(not_entry) as usize;
    table.fill(fallback);
    for (index, offset) in block_offsets {
        table[index] = buffer.ptr(offset) as usize;
    }
    Ok(EmittedCode { buffer, entry })
}

impl Emitter<'_> {
    fn host(&self, guest: u8) -> Option<u8> {
        self.host_of[usize::from(guest)]
    }

    /// The host register holding guest register `guest`'s value: its own, or `scratch`
    /// loaded from the array (zeroed for x0).
    fn read(&mut self, guest: u8, scratch: u8) -> u8 {
        if guest == 0 {
            dynasm!(self.ops ; .arch x64 ; xor Rd(scratch), Rd(scratch));
            return scratch;
        }
        if let Some(h) = self.host(guest) {
            return h;
        }
        let disp = self.regs_home + 4 * i32::from(guest);
        dynasm!(self.ops ; .arch x64 ; mov Rd(scratch), DWORD [rsp + disp]);
        scratch
    }

    /// Where to compute a value for `guest`: its host register, or `rax`.
    fn dest(&self, guest: u8) -> u8 {
        if guest == 0 || guest == SCRATCH_REG {
            return RAX;
        }
        self.host(guest).unwrap_or(RAX)
    }

    /// Writes host register `src` to guest register `guest` (writes to x0 vanish).
    fn write(&mut self, guest: u8, src: u8) {
        if guest == 0 || guest == SCRATCH_REG {
            return;
        }
        match self.host(guest) {
            Some(h) if h == src => {}
            Some(h) => dynasm!(self.ops ; .arch x64 ; mov Rd(h), Rd(src)),
            None => {
                let disp = self.regs_home + 4 * i32::from(guest);
                dynasm!(self.ops ; .arch x64 ; mov DWORD [rsp + disp], Rd(src));
            }
        }
    }

    /// Sets guest register `guest` to a constant.
    fn write_const(&mut self, guest: u8, value: u32) {
        if guest == 0 || guest == SCRATCH_REG {
            return;
        }
        let value = value as i32;
        match self.host(guest) {
            Some(h) => dynasm!(self.ops ; .arch x64 ; mov Rd(h), value),
            None => {
                let disp = self.regs_home + 4 * i32::from(guest);
                dynasm!(self.ops ; .arch x64 ; mov DWORD [rsp + disp], value);
            }
        }
    }

    /// Writes the host-held guest registers and the mode's counters to their frame slots.
    fn spill(&mut self) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            let disp = self.regs_home + 4 * i32::from(guest);
            dynasm!(self.ops ; .arch x64 ; mov DWORD [rsp + disp], Rd(host));
        }
        for i in 0..self.mode_regs.len() {
            let (host, home) = (self.mode_regs[i], PACKED + 8 * i as i32);
            dynasm!(self.ops ; .arch x64 ; mov [rsp + home], Rq(host));
        }
    }

    /// The reverse of [`Emitter::spill`].
    fn reload(&mut self) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            let disp = self.regs_home + 4 * i32::from(guest);
            dynasm!(self.ops ; .arch x64 ; mov Rd(host), DWORD [rsp + disp]);
        }
        for i in 0..self.mode_regs.len() {
            let (host, home) = (self.mode_regs[i], PACKED + 8 * i as i32);
            dynasm!(self.ops ; .arch x64 ; mov Rq(host), [rsp + home]);
        }
    }

    /// `rvx_run`'s prologue: saves the callee-saved registers, loads the machine state, and
    /// jumps to the block at `ctx.pc`.
    fn emit_entry(&mut self) -> AssemblyOffset {
        let entry = self.ops.offset();
        let frame = self.frame;
        dynasm!(self.ops
            ; .arch x64
            ; push rbx ; push rbp ; push r12 ; push r13 ; push r14 ; push r15
            ; sub rsp, frame
            ; mov [rsp + CTX], rdi
            ; mov r13, [rdi + CTX_BUDGET]
            ; mov r15, [rdi + CTX_MEM]
            ; mov rcx, [rdi + CTX_REGS]
        );
        self.copy_regs(true);
        match self.plan.mode {
            LiftMode::Pure => {}
            LiftMode::Cost => dynasm!(self.ops
                ; .arch x64
                ; mov rax, [rdi + CTX_MAX_COST]
                ; sub rax, [rdi + CTX_COST]
                ; mov [rsp + COST_HOME], rax
            ),
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch x64 ; mov rdx, [rdi + CTX_PACKED]);
                for w in 0..self.plan.layout.words() as i32 {
                    let (from, to) = (8 * w, PACKED + 8 * w);
                    dynasm!(self.ops ; .arch x64 ; mov rax, [rdx + from] ; mov [rsp + to], rax);
                }
                dynasm!(self.ops
                    ; .arch x64
                    ; mov DWORD [rsp + LAST_PAGE], -1
                    ; mov [rdi + CTX_REFILL], r13
                    ; mov DWORD [rdi + CTX_PASSES], 0
                );
            }
        }
        // Before `reload`, which may reuse rdi.
        dynasm!(self.ops ; .arch x64 ; mov ecx, [rdi + CTX_PC]);
        self.reload();
        dynasm!(self.ops ; .arch x64 ; ->dispatch:);
        self.emit_dispatch();
        entry
    }

    /// Copies the guest registers between the array at `rcx` and the frame (`into_frame`) or
    /// back, through `rax`.
    fn copy_regs(&mut self, into_frame: bool) {
        for i in 0..16 {
            let (array, frame) = (8 * i, self.regs_home + 8 * i);
            if into_frame {
                dynasm!(self.ops ; .arch x64 ; mov rax, [rcx + array] ; mov [rsp + frame], rax);
            } else {
                dynasm!(self.ops ; .arch x64 ; mov rax, [rsp + frame] ; mov [rcx + array], rax);
            }
        }
    }

    /// Jumps to the block at guest address `ecx`, or hands off there.
    fn emit_dispatch(&mut self) {
        let base = self.plan.base as i32;
        let bytes = 4 * self.program.code().len() as i32;
        let table = self.table as i64;
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, ecx
            ; sub eax, base
            ; cmp eax, bytes
            ; jae ->handoff_at_ecx
            ; test al, 3
            ; jnz ->handoff_at_ecx
            ; mov rdx, QWORD table
            ; jmp QWORD [rdx + rax * 2]
        );
    }

    /// The exits every block shares; returns where jumps to a non-entry address land.
    fn emit_shared_exits(&mut self) -> AssemblyOffset {
        let not_entry = self.ops.offset();
        let frame = self.frame;
        dynasm!(self.ops
            ; .arch x64
            ; ->handoff_at_ecx:
            ; mov rdx, [rsp + CTX]
            ; mov [rdx + CTX_PC], ecx
            ; ->handoff:
            ; mov eax, EXIT_HANDOFF as i32
            ; ->exit:
        );
        self.spill();
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, [rsp + CTX]
            ; mov [rdx + CTX_BUDGET], r13
            ; mov rcx, [rdx + CTX_REGS]
            ; mov r8d, eax
        );
        self.copy_regs(false);
        dynasm!(self.ops ; .arch x64 ; mov eax, r8d);
        match self.plan.mode {
            LiftMode::Pure => {}
            LiftMode::Cost => dynasm!(self.ops
                ; .arch x64
                ; mov rcx, [rdx + CTX_MAX_COST]
                ; sub rcx, [rsp + COST_HOME]
                ; mov [rdx + CTX_COST], rcx
            ),
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch x64 ; mov rdx, [rdx + CTX_PACKED]);
                for w in 0..self.plan.layout.words() as i32 {
                    let (from, to) = (PACKED + 8 * w, 8 * w);
                    dynasm!(self.ops ; .arch x64 ; mov rcx, [rsp + from] ; mov [rdx + to], rcx);
                }
            }
        }
        dynasm!(self.ops
            ; .arch x64
            ; add rsp, frame
            ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbp ; pop rbx
            ; ret
        );
        not_entry
    }

    fn emit_block(&mut self, planned: &PlannedBlock) {
        let block = planned.block;
        let label = self.labels[block.start].expect("every block has a label");
        let pc = planned.pc as i32;
        dynasm!(self.ops ; .arch x64 ; =>label);
        if block.handoff {
            dynasm!(self.ops
                ; .arch x64
                ; mov rdx, [rsp + CTX]
                ; mov DWORD [rdx + CTX_PC], pc
                ; jmp ->handoff
            );
            return;
        }
        let len = block.len() as u32;
        match self.plan.mode {
            LiftMode::Pure => {
                let stop = self.stop(planned.pc, len, 0);
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32 ; js =>stop);
            }
            LiftMode::Cost => {
                let stop = self.stop(planned.pc, len, 0);
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32 ; js =>stop);
                if planned.cost > 0 {
                    let stop = self.stop(planned.pc, len, planned.cost);
                    self.sub_mode_reg(planned.cost);
                    dynasm!(self.ops ; .arch x64 ; js =>stop);
                }
            }
            LiftMode::Metered => {
                let label = self.ops.new_dynamic_label();
                let back = self.ops.new_dynamic_label();
                self.cold.push(Cold::CheckPoint {
                    label,
                    back,
                    pc: planned.pc,
                    off: planned.pc - self.plan.base,
                    len,
                });
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32 ; js =>label ; =>back);
                for &(word, add) in &planned.packed_adds {
                    self.add_packed(word, add);
                }
            }
        }
        for idx in block.start..block.end {
            self.emit_insn(planned, idx);
        }
    }

    /// A cold exit giving back `budget` instructions and `cost` at `pc`.
    fn stop(&mut self, pc: u32, budget: u32, cost: u64) -> DynamicLabel {
        let label = self.ops.new_dynamic_label();
        self.cold.push(Cold::Stop {
            label,
            pc,
            budget,
            cost,
        });
        label
    }

    /// `r11 -= value`, setting the sign flag.
    fn sub_mode_reg(&mut self, value: u64) {
        if let Ok(imm) = i32::try_from(value) {
            dynasm!(self.ops ; .arch x64 ; sub r11, imm);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD value as i64 ; sub r11, rax);
        }
    }

    fn add_packed(&mut self, word: usize, add: u64) {
        if let Some(&host) = self.mode_regs.get(word) {
            if let Ok(imm) = i32::try_from(add) {
                dynasm!(self.ops ; .arch x64 ; add Rq(host), imm);
            } else {
                dynasm!(self.ops ; .arch x64 ; mov rax, QWORD add as i64 ; add Rq(host), rax);
            }
            return;
        }
        let slot = PACKED + 8 * word as i32;
        if let Ok(imm) = i32::try_from(add) {
            dynasm!(self.ops ; .arch x64 ; add QWORD [rsp + slot], imm);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD add as i64 ; add [rsp + slot], rax);
        }
    }

    fn block_label(&self, index: usize) -> DynamicLabel {
        self.labels[index].expect("branch targets start blocks")
    }

    fn emit_insn(&mut self, planned: &PlannedBlock, idx: usize) {
        let insn: Insn = self.program.code()[idx];
        let pc = self.program.pc_of(idx);
        let from_end = (planned.block.end - idx) as u32;
        let (rd, rs1, rs2) = (insn.rd, insn.rs1, insn.rs2);
        let imm = insn.imm as i32;
        match insn.op {
            Op::Add | Op::Sub | Op::Xor | Op::Or | Op::And | Op::Mul => {
                let d = match self.host(rd) {
                    Some(h) if rd != rs2 => h,
                    _ => RAX,
                };
                let b = self.read(rs2, RCX);
                let a = self.read(rs1, d);
                if a != d {
                    dynasm!(self.ops ; .arch x64 ; mov Rd(d), Rd(a));
                }
                match insn.op {
                    Op::Add => dynasm!(self.ops ; .arch x64 ; add Rd(d), Rd(b)),
                    Op::Sub => dynasm!(self.ops ; .arch x64 ; sub Rd(d), Rd(b)),
                    Op::Xor => dynasm!(self.ops ; .arch x64 ; xor Rd(d), Rd(b)),
                    Op::Or => dynasm!(self.ops ; .arch x64 ; or Rd(d), Rd(b)),
                    Op::And => dynasm!(self.ops ; .arch x64 ; and Rd(d), Rd(b)),
                    _ => dynasm!(self.ops ; .arch x64 ; imul Rd(d), Rd(b)),
                }
                self.write(rd, d);
            }
            Op::Sll | Op::Srl | Op::Sra => {
                let b = self.read(rs2, RCX);
                if b != RCX {
                    dynasm!(self.ops ; .arch x64 ; mov ecx, Rd(b));
                }
                let d = self.dest(rd);
                let a = self.read(rs1, d);
                if a != d {
                    dynasm!(self.ops ; .arch x64 ; mov Rd(d), Rd(a));
                }
                match insn.op {
                    Op::Sll => dynasm!(self.ops ; .arch x64 ; shl Rd(d), cl),
                    Op::Srl => dynasm!(self.ops ; .arch x64 ; shr Rd(d), cl),
                    _ => dynasm!(self.ops ; .arch x64 ; sar Rd(d), cl),
                }
                self.write(rd, d);
            }
            Op::Slt | Op::Sltu => {
                let a = self.read(rs1, RAX);
                let b = self.read(rs2, RCX);
                dynasm!(self.ops ; .arch x64 ; cmp Rd(a), Rd(b));
                if insn.op == Op::Slt {
                    dynasm!(self.ops ; .arch x64 ; setl al);
                } else {
                    dynasm!(self.ops ; .arch x64 ; setb al);
                }
                dynasm!(self.ops ; .arch x64 ; movzx eax, al);
                self.write(rd, RAX);
            }
            Op::Mulh | Op::Mulhsu | Op::Mulhu => {
                let a = self.read(rs1, RAX);
                let b = self.read(rs2, RCX);
                match insn.op {
                    Op::Mulh => {
                        dynasm!(self.ops ; .arch x64 ; movsxd rax, Rd(a) ; movsxd rcx, Rd(b))
                    }
                    Op::Mulhsu => {
                        dynasm!(self.ops ; .arch x64 ; movsxd rax, Rd(a) ; mov ecx, Rd(b))
                    }
                    _ => dynasm!(self.ops ; .arch x64 ; mov eax, Rd(a) ; mov ecx, Rd(b)),
                }
                dynasm!(self.ops ; .arch x64 ; imul rax, rcx ; shr rax, 32);
                self.write(rd, RAX);
            }
            Op::Div | Op::Divu | Op::Rem | Op::Remu => self.emit_division(insn),
            Op::Addi => {
                let d = self.dest(rd);
                let a = self.read(rs1, d);
                if a == d {
                    dynasm!(self.ops ; .arch x64 ; add Rd(d), imm);
                } else {
                    dynasm!(self.ops ; .arch x64 ; lea Rd(d), [Rq(a) + imm]);
                }
                self.write(rd, d);
            }
            Op::Xori | Op::Ori | Op::Andi => {
                let d = self.dest(rd);
                let a = self.read(rs1, d);
                if a != d {
                    dynasm!(self.ops ; .arch x64 ; mov Rd(d), Rd(a));
                }
                match insn.op {
                    Op::Xori => dynasm!(self.ops ; .arch x64 ; xor Rd(d), imm),
                    Op::Ori => dynasm!(self.ops ; .arch x64 ; or Rd(d), imm),
                    _ => dynasm!(self.ops ; .arch x64 ; and Rd(d), imm),
                }
                self.write(rd, d);
            }
            Op::Slli | Op::Srli | Op::Srai => {
                let d = self.dest(rd);
                let a = self.read(rs1, d);
                if a != d {
                    dynasm!(self.ops ; .arch x64 ; mov Rd(d), Rd(a));
                }
                let shift = (insn.imm & 31) as i8;
                match insn.op {
                    Op::Slli => dynasm!(self.ops ; .arch x64 ; shl Rd(d), shift),
                    Op::Srli => dynasm!(self.ops ; .arch x64 ; shr Rd(d), shift),
                    _ => dynasm!(self.ops ; .arch x64 ; sar Rd(d), shift),
                }
                self.write(rd, d);
            }
            Op::Slti | Op::Sltiu => {
                let a = self.read(rs1, RAX);
                dynasm!(self.ops ; .arch x64 ; cmp Rd(a), imm);
                if insn.op == Op::Slti {
                    dynasm!(self.ops ; .arch x64 ; setl al);
                } else {
                    dynasm!(self.ops ; .arch x64 ; setb al);
                }
                dynasm!(self.ops ; .arch x64 ; movzx eax, al);
                self.write(rd, RAX);
            }
            Op::Li => self.write_const(rd, insn.imm),
            Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu => {
                let size = match insn.op {
                    Op::Lb | Op::Lbu => 1,
                    Op::Lh | Op::Lhu => 2,
                    _ => 4,
                };
                self.emit_address(insn, pc, size, from_end);
                let d = self.dest(rd);
                match insn.op {
                    Op::Lb => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), BYTE [r15 + rcx]),
                    Op::Lbu => dynasm!(self.ops ; .arch x64 ; movzx Rd(d), BYTE [r15 + rcx]),
                    Op::Lh => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), WORD [r15 + rcx]),
                    Op::Lhu => dynasm!(self.ops ; .arch x64 ; movzx Rd(d), WORD [r15 + rcx]),
                    _ => dynasm!(self.ops ; .arch x64 ; mov Rd(d), DWORD [r15 + rcx]),
                }
                self.write(rd, d);
            }
            Op::Sb | Op::Sh | Op::Sw => {
                let size = match insn.op {
                    Op::Sb => 1,
                    Op::Sh => 2,
                    _ => 4,
                };
                self.emit_address(insn, pc, size, from_end);
                let b = self.read(rs2, RAX);
                match insn.op {
                    Op::Sb => {
                        // Through al: a byte register encoding of every host register needs
                        // a REX prefix the assembler may not add for a register chosen at
                        // run time.
                        if b != RAX {
                            dynasm!(self.ops ; .arch x64 ; mov eax, Rd(b));
                        }
                        dynasm!(self.ops ; .arch x64 ; mov BYTE [r15 + rcx], al);
                    }
                    Op::Sh => dynasm!(self.ops ; .arch x64 ; mov WORD [r15 + rcx], Rw(b)),
                    _ => dynasm!(self.ops ; .arch x64 ; mov DWORD [r15 + rcx], Rd(b)),
                }
            }
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let a = self.read(rs1, RAX);
                if rs2 == 0 {
                    dynasm!(self.ops ; .arch x64 ; test Rd(a), Rd(a));
                } else {
                    let b = self.read(rs2, RCX);
                    dynasm!(self.ops ; .arch x64 ; cmp Rd(a), Rd(b));
                }
                let taken = self.block_label(insn.imm as usize);
                match insn.op {
                    Op::Beq => dynasm!(self.ops ; .arch x64 ; je =>taken),
                    Op::Bne => dynasm!(self.ops ; .arch x64 ; jne =>taken),
                    Op::Blt => dynasm!(self.ops ; .arch x64 ; jl =>taken),
                    Op::Bge => dynasm!(self.ops ; .arch x64 ; jge =>taken),
                    Op::Bltu => dynasm!(self.ops ; .arch x64 ; jb =>taken),
                    _ => dynasm!(self.ops ; .arch x64 ; jae =>taken),
                }
                // Not taken: the next block is emitted right after this one.
            }
            Op::Jal => {
                self.write_const(rd, pc.wrapping_add(4));
                let target = self.block_label(insn.imm as usize);
                dynasm!(self.ops ; .arch x64 ; jmp =>target);
            }
            Op::Jalr => {
                let a = self.read(rs1, RCX);
                dynasm!(self.ops ; .arch x64 ; lea ecx, [Rq(a) + imm] ; and ecx, -2);
                self.write_const(rd, pc.wrapping_add(4));
                self.emit_dispatch();
            }
            Op::Nop => {}
            Op::Custom => self.emit_custom(insn, idx, from_end),
            // Handoff instructions form blocks of their own and never reach here.
            Op::BadBranch
            | Op::Terminate
            | Op::HintStoreW
            | Op::HintBuffer
            | Op::Reveal
            | Op::HintInput
            | Op::PrintStr
            | Op::HintRandom
            | Op::Illegal
            | Op::NoInstruction => {
                let fault = self.stop(pc, from_end, 0);
                dynasm!(self.ops ; .arch x64 ; jmp =>fault);
            }
        }
    }

    /// `ecx` = the address of a `size`-byte access, checked against guest memory (a fault
    /// hands off at `pc`), and in metered mode its page recorded.
    fn emit_address(&mut self, insn: Insn, pc: u32, size: u32, from_end: u32) {
        let a = self.read(insn.rs1, RCX);
        let imm = insn.imm as i32;
        dynasm!(self.ops ; .arch x64 ; lea ecx, [Rq(a) + imm]);
        let fault = self.stop(pc, from_end, 0);
        if size > 1 {
            let mask = (size - 1) as i32;
            dynasm!(self.ops ; .arch x64 ; test ecx, mask ; jnz =>fault);
        }
        let last_ok = self.plan.memory_size.checked_sub(u64::from(size));
        match last_ok {
            Some(last) if last < u64::from(u32::MAX) => {
                let last = last as u32 as i32;
                dynasm!(self.ops ; .arch x64 ; cmp ecx, last ; ja =>fault);
            }
            Some(_) => {}
            None => dynasm!(self.ops ; .arch x64 ; jmp =>fault),
        }
        if self.plan.mode == LiftMode::Metered {
            let label = self.ops.new_dynamic_label();
            let back = self.ops.new_dynamic_label();
            self.cold.push(Cold::Touch {
                label,
                back,
                from_end,
            });
            let bits = PAGE_BYTES_BITS as i8;
            dynasm!(self.ops
                ; .arch x64
                ; mov eax, ecx
                ; shr eax, bits
                ; cmp eax, [rsp + LAST_PAGE]
                ; jne =>label
                ; =>back
            );
        }
    }

    fn emit_division(&mut self, insn: Insn) {
        let min = i32::MIN;
        let a = self.read(insn.rs1, RAX);
        let b = self.read(insn.rs2, RCX);
        if a != RAX {
            dynasm!(self.ops ; .arch x64 ; mov eax, Rd(a));
        }
        if b != RCX {
            dynasm!(self.ops ; .arch x64 ; mov ecx, Rd(b));
        }
        // RISC-V never traps: x / 0 is all ones (unsigned) or -1, x % 0 is x, and
        // MIN / -1 overflows to MIN with remainder 0.
        let result = match insn.op {
            Op::Divu => {
                dynasm!(self.ops
                    ; .arch x64
                    ; test ecx, ecx
                    ; jnz >divide
                    ; mov eax, -1
                    ; jmp >done
                    ; divide:
                    ; xor edx, edx
                    ; div ecx
                    ; done:
                );
                RAX
            }
            Op::Remu => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov edx, eax
                    ; test ecx, ecx
                    ; jz >done
                    ; xor edx, edx
                    ; div ecx
                    ; done:
                );
                2
            }
            Op::Div => {
                dynasm!(self.ops
                    ; .arch x64
                    ; test ecx, ecx
                    ; jz >zero
                    ; cmp ecx, -1
                    ; jne >divide
                    ; cmp eax, min
                    ; je >done
                    ; divide:
                    ; cdq
                    ; idiv ecx
                    ; jmp >done
                    ; zero:
                    ; mov eax, -1
                    ; done:
                );
                RAX
            }
            _ => {
                dynasm!(self.ops
                    ; .arch x64
                    ; mov edx, eax
                    ; test ecx, ecx
                    ; jz >done
                    ; xor edx, edx
                    ; cmp ecx, -1
                    ; jne >divide
                    ; cmp eax, min
                    ; je >done
                    ; divide:
                    ; cdq
                    ; idiv ecx
                    ; done:
                );
                2
            }
        };
        self.write(insn.rd, result);
    }

    /// A custom instruction: a call to the shared Rust implementation on the register array.
    fn emit_custom(&mut self, insn: Insn, idx: usize, from_end: u32) {
        let pc = self.program.pc_of(idx);
        self.spill();
        let (index, pc_imm) = (insn.imm as i32, pc as i32);
        dynasm!(self.ops ; .arch x64 ; mov rdx, [rsp + CTX] ; mov rcx, [rdx + CTX_REGS]);
        self.copy_regs(false);
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, [rdx + CTX_HOST]
            ; mov rax, [rdx + CTX_CUSTOM]
            ; mov esi, index
            ; mov edx, pc_imm
            ; call rax
            ; mov [rsp + SAVED_T], eax
            ; mov rdx, [rsp + CTX]
            ; mov rcx, [rdx + CTX_REGS]
        );
        self.copy_regs(true);
        self.reload();
        dynasm!(self.ops ; .arch x64 ; mov eax, [rsp + SAVED_T]);
        let fault = self.stop(pc, from_end, 0);
        // Custom instructions end their block; the next instruction starts one (the code
        // always ends with a filler instruction).
        let next = self.block_label(idx + 1);
        dynasm!(self.ops
            ; .arch x64
            ; cmp eax, CUSTOM_CONTINUE as i32
            ; je =>next
            ; cmp eax, CUSTOM_JUMP as i32
            ; jne =>fault
            ; mov rdx, [rsp + CTX]
            ; mov ecx, [rdx + CTX_PC]
            ; jmp ->dispatch
        );
    }

    fn emit_cold(&mut self) {
        for cold in std::mem::take(&mut self.cold) {
            match cold {
                Cold::Stop {
                    label,
                    pc,
                    budget,
                    cost,
                } => {
                    dynasm!(self.ops ; .arch x64 ; =>label ; add r13, budget as i32);
                    if cost > 0 {
                        if let Ok(imm) = i32::try_from(cost) {
                            dynasm!(self.ops ; .arch x64 ; add r11, imm);
                        } else {
                            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD cost as i64 ; add r11, rax);
                        }
                    }
                    let pc = pc as i32;
                    dynasm!(self.ops
                        ; .arch x64
                        ; mov rdx, [rsp + CTX]
                        ; mov DWORD [rdx + CTX_PC], pc
                        ; jmp ->handoff
                    );
                }
                Cold::CheckPoint {
                    label,
                    back,
                    pc,
                    off,
                    len,
                } => {
                    let (off, len, pc) = (off as i32, len as i32, pc as i32);
                    let function = pass_check_point as *const () as usize as i64;
                    dynasm!(self.ops ; .arch x64 ; =>label ; add r13, len);
                    self.spill();
                    dynasm!(self.ops
                        ; .arch x64
                        ; mov rdi, [rsp + CTX]
                        ; mov esi, off
                        ; mov rdx, r13
                        ; mov ecx, len
                        ; lea r8, [rsp + PACKED]
                        ; mov rax, QWORD function
                        ; call rax
                    );
                    self.reload();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test rax, rax
                        ; jz >stopped
                        ; add r13, rax
                        ; sub r13, len
                        ; mov DWORD [rsp + LAST_PAGE], -1
                        ; jmp =>back
                        ; stopped:
                        ; mov rdx, [rsp + CTX]
                        ; mov DWORD [rdx + CTX_PC], pc
                        ; mov eax, [rdx + CTX_STOP]
                        ; jmp ->exit
                    );
                }
                Cold::Touch {
                    label,
                    back,
                    from_end,
                } => {
                    let from_end = from_end as i32;
                    dynasm!(self.ops
                        ; .arch x64
                        ; =>label
                        ; mov [rsp + SAVED_T], ecx
                        ; mov rdx, [rsp + CTX]
                        ; lea rcx, [r13 + from_end]
                        ; cmp rcx, [rdx + CTX_REFILL]
                        ; ja >before
                        ; mov [rsp + LAST_PAGE], eax
                        ; mov rcx, [rdx + CTX_INTERVAL_OF]
                        ; mov ecx, [rcx + rax * 4]
                        ; cmp ecx, [rdx + CTX_INTERVAL]
                        ; je >done
                    );
                    self.emit_touch_call(touch_new as *const () as usize as i64);
                    dynasm!(self.ops ; .arch x64 ; jmp >done ; before:);
                    self.emit_touch_call(touch_before as *const () as usize as i64);
                    dynasm!(self.ops
                        ; .arch x64
                        ; done:
                        ; mov ecx, [rsp + SAVED_T]
                        ; jmp =>back
                    );
                }
            }
        }
    }

    /// Calls `function(ctx = rdx, page = eax)`.
    fn emit_touch_call(&mut self, function: i64) {
        self.spill();
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, rdx
            ; mov esi, eax
            ; mov rax, QWORD function
            ; call rax
        );
        self.reload();
    }
}
