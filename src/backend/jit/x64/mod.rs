//! The x86-64 emitter: one pass over a [`CodePlan`], one stretch of machine code per block.
//!
//! Register use (System V):
//! - `r13` the instruction budget, `r15` guest memory; the [`RvxCtx`] pointer and the guest
//!   registers without a host register live in the stack frame (the registers are copied from
//!   and to `RvxCtx::regs` on entry, on exit and around custom instructions);
//! - `rax`, `rcx`, `rdx` scratch (`rcx` holds addresses, and jump targets for `dispatch`);
//! - the most used guest registers ([`CodePlan::register_rank`]) live in `rbx`, `rbp`, `rsi`,
//!   `rdi`, `r8`..`r12`, `r14`, the others in the frame;
//! - in metered mode the packed row counters live in vector registers (`ymm0`, ... with AVX2,
//!   else `xmm0`, ...), one lane per chip, so a block adds its rows with one vector add per
//!   register (from a constant pool after the code); in cost mode `xmm15` adds up the cost (the
//!   budget is bounded so that it cannot pass its maximum, see `CompiledCode::run`).
//!
//! Guest registers held in host registers, and the counters, are written back to the frame
//! ("spilled") before every call out and on exit, and read again after a call. Cold paths
//! (stops, faults, check points, page touches) are emitted after all blocks, so hot code falls
//! through.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

mod buffer;
mod cold;
mod insn;
mod jumps;

use super::EmittedCode;
use crate::backend::compiled::abi::{RvxCtx, EXIT_HANDOFF};
use crate::backend::compiled::plan::{CodePlan, PlannedBlock};
use crate::backend::rvr::LiftMode;
use crate::error::CompileError;
use crate::program::decode::SCRATCH_REG;
use crate::program::Program;
use buffer::CodeBuffer;
use dynasmrt::{dynasm, AssemblyOffset, DynasmApi};
use jumps::{Fixups, Placement, Target, CONSTANT_BYTES, JAE, JMP, JNE, JS};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::offset_of;

const RAX: u8 = 0;
const RCX: u8 = 1;
/// Host registers that may hold guest registers, best first (those needing no REX prefix
/// first, for shorter code).
const POOL: [u8; 10] = [3, 5, 6, 7, 8, 9, 12, 14, 10, 11];
/// The vector register adding up the cost (cost mode).
const COST_XMM: u8 = 15;
/// Vector registers holding row counters, at most (the rest stay in the frame).
const ROW_REGS: usize = 12;

// Frame slots, from rsp.
const LAST_PAGE: i32 = 0;
/// The code offset of the block the check-point subroutine was called for (see `cold`).
const STUB_OFF: i32 = 4;
const SAVED_T: i32 = 8;
/// That block's length.
const STUB_LEN: i32 = 12;
/// The `RvxCtx` pointer.
const CTX: i32 = 16;
/// The mode's counters: the cost, or the packed row words (each vector register's home when
/// it is spilled, the home of vectors without a register); the guest registers follow.
const PACKED: i32 = 24;
/// The cost added up since entry, in cost mode.
const COST_HOME: i32 = PACKED;

const CTX_PC: i32 = offset_of!(RvxCtx, pc) as i32;
const CTX_BUDGET: i32 = offset_of!(RvxCtx, budget) as i32;
const CTX_REGS: i32 = offset_of!(RvxCtx, regs) as i32;
const CTX_MEM: i32 = offset_of!(RvxCtx, mem) as i32;
const CTX_COST: i32 = offset_of!(RvxCtx, cost) as i32;
const CTX_PACKED: i32 = offset_of!(RvxCtx, packed) as i32;
const CTX_REFILL: i32 = offset_of!(RvxCtx, refill) as i32;
const CTX_STOP: i32 = offset_of!(RvxCtx, stop) as i32;
const CTX_INTERVAL: i32 = offset_of!(RvxCtx, interval) as i32;
const CTX_INTERVAL_OF: i32 = offset_of!(RvxCtx, interval_of) as i32;
const CTX_HOST: i32 = offset_of!(RvxCtx, host) as i32;
const CTX_CUSTOM: i32 = offset_of!(RvxCtx, custom) as i32;

/// Out-of-line code, emitted after the blocks (see `cold`), which hot code jumps to through
/// [`Emitter::jump_cold`].
enum Cold {
    /// Gives back `budget` instructions and hands off at `pc` (a block that does not fit the
    /// budget, a faulting access).
    Stop { pc: u32, budget: u32 },
    /// Metered: the block at code offset `off`, `len` instructions long, does not fit the
    /// budget; resumes at code offset `back`.
    CheckPoint { back: u32, off: u32, len: u32 },
    /// Metered: the entry of the page-touch subroutine for accesses `from_end` instructions
    /// from their block's end, which accesses call when they touch a page other than the
    /// last one (`eax` the page, `ecx` the address).
    Touch { from_end: u32 },
}

/// Hashes the constants of the pool: a multiply and a rotate per word, where the default
/// hasher (built to resist chosen keys, which these are not) cost a tenth of the compile time.
#[derive(Default)]
struct ConstantHasher(u64);

impl Hasher for ConstantHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0 ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Offsets of the code every block may jump to, emitted before the blocks.
#[derive(Clone, Copy, Default)]
struct Shared {
    /// Jumps to the block at guest address `ecx`, or hands off there.
    dispatch: u32,
    /// Leaves with the status in `eax`.
    exit: u32,
    /// Leaves handing off at `ctx.pc`.
    handoff: u32,
    /// Leaves handing off at guest address `ecx`.
    handoff_at_ecx: u32,
}

struct Emitter<'a> {
    ops: CodeBuffer,
    plan: &'a CodePlan,
    program: &'a Program,
    /// Per block of the plan, its code offset once emitted (else `u32::MAX`).
    block_offsets: Vec<u32>,
    /// Per guest register (and the scratch slot), the host register holding it.
    host_of: [Option<u8>; 33],
    /// (guest, host) pairs.
    mapped: Vec<(u8, u8)>,
    /// Metered mode: row vectors, each [`Emitter::vector_bytes`] long and homed at
    /// `PACKED + v * vector_bytes`; the first [`ROW_REGS`] live in registers.
    row_vectors: usize,
    /// 32 where the host has AVX2 (`ymm` registers), else 16.
    vector_bytes: i32,
    /// The shared code every block may jump to.
    shared: Shared,
    /// Constants the code reads (row increments, costs), emitted after the code, 32-byte
    /// aligned.
    pool: Vec<[u8; 32]>,
    /// The index of each constant in `pool` (blocks share them).
    pool_index: HashMap<[u8; 32], u32, BuildHasherDefault<ConstantHasher>>,
    /// The cold code, in the order it is emitted.
    cold: Vec<Cold>,
    /// Metered: the index in `cold` of the touch subroutine's entry for each distance from
    /// a block's end.
    touch_entries: HashMap<u32, u32>,
    /// Displacements to fill in once everything is placed (see `jumps`).
    fixups: Fixups,
    /// Metered mode: scratch for the current block's packed adds.
    adds: Vec<(usize, u64)>,
    /// Code offsets of the code cold items call, once emitted (before the cold code): the
    /// shared stop (called with its operands after the call), and, metered, the subroutines
    /// of page touches (`eax` the page, `ecx` the address, `edx` the instructions to the
    /// block's end) and of blocks that do not fit the budget (`eax` the block's code offset,
    /// `ecx` its length), which keep every register (see `cold`).
    stop_at: u32,
    touch_at: u32,
    pass_at: u32,
    /// Bytes below the saved registers.
    frame: i32,
    /// Where the guest registers live in the frame.
    regs_home: i32,
    /// Added to frame offsets by [`Emitter::spill`] and [`Emitter::reload`]: non-zero inside
    /// the metering subroutines, which run with their return address and padding pushed.
    frame_shift: i32,
}

/// Emits `plan` for `program`, after the table of blocks the code reads.
///
/// In order: the table (per instruction, the code offset of the block starting there, else of
/// the handoff), the shared exits and metering subroutines, `rvx_run`'s entry, the blocks, the
/// cold code, the constant pool. The table's entries are offsets in the mapping (its start),
/// so that each is written as soon as its block is placed, wherever the mapping ends up.
pub(super) fn emit(program: &Program, plan: &CodePlan) -> Result<EmittedCode, CompileError> {
    // About 30 bytes of code per instruction and 4 of table: reserving them up front saves
    // growing (and copying) the code for large programs.
    let len = program.code().len();
    let mut ops = CodeBuffer::with_capacity(64 * 1024 + 40 * len)?;
    // Handoffs come first after the table.
    let not_entry = (4 * len).next_multiple_of(16) as u32;
    ops.extend_repeated(&not_entry.to_le_bytes(), len);
    ops.align(16, 0);
    let mut host_of = [None; 33];
    let mut mapped = Vec::new();
    for (&guest, &host) in plan.register_rank.iter().zip(&POOL) {
        host_of[usize::from(guest)] = Some(host);
        mapped.push((guest, host));
    }
    let vector_bytes = if std::arch::is_x86_feature_detected!("avx2") {
        32
    } else {
        16
    };
    let row_vectors = match plan.mode {
        LiftMode::Metered => (8 * plan.layout.words()).div_ceil(vector_bytes),
        _ => 0,
    };
    // Six pushes and the return address leave rsp 8 bytes off 16: keep the frame an odd
    // number of words so calls see it aligned.
    let homes = (row_vectors * vector_bytes).max(16) as i32;
    let regs_home = PACKED + homes;
    let mut frame = regs_home + 4 * 32;
    if frame % 16 == 0 {
        frame += 8;
    }
    let mut emitter = Emitter {
        ops,
        plan,
        program,
        block_offsets: vec![u32::MAX; plan.blocks.len()],
        host_of,
        mapped,
        row_vectors,
        vector_bytes: vector_bytes as i32,
        pool: Vec::new(),
        pool_index: HashMap::default(),
        shared: Shared::default(),
        cold: Vec::with_capacity(2 * len),
        fixups: Fixups::with_capacity(len),
        adds: Vec::new(),
        touch_entries: HashMap::new(),
        stop_at: 0,
        pass_at: 0,
        touch_at: 0,
        frame,
        regs_home,
        frame_shift: 0,
    };
    let handoff_at_ecx = emitter.emit_shared_exits();
    assert_eq!(handoff_at_ecx, not_entry, "handoffs follow the table");
    emitter.emit_metering_stubs();
    let entry = emitter.emit_entry();
    // Loop heads start on a 32-byte boundary: the front end fetches and caches decoded code
    // in aligned windows, and a loop that straddles more of them than it must runs slower.
    for (n, planned) in plan.blocks.iter().enumerate() {
        if planned.loop_head {
            emitter.ops.align(32, 0x90);
        }
        let offset = emitter.ops.offset().0 as u32;
        emitter.block_offsets[n] = offset;
        emitter
            .ops
            .patch_u32(4 * planned.block.start as u32, offset);
        emitter.emit_block(planned);
    }
    let cold_at = emitter.emit_cold();
    emitter.ops.align(CONSTANT_BYTES as usize, 0);
    let pool_at = emitter.ops.offset().0 as u32;
    for constant in std::mem::take(&mut emitter.pool) {
        emitter.ops.extend(constant);
    }
    let block_offsets = std::mem::take(&mut emitter.block_offsets);
    emitter.resolve_fixups(Placement {
        blocks: &block_offsets,
        cold: &cold_at,
        pool: pool_at,
    });
    Ok(EmittedCode {
        buffer: emitter.ops.finish()?,
        entry,
        table: None,
    })
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

    /// Writes the host-held guest registers and the mode's counters to their frame slots
    /// (and leaves the vector registers' upper halves clean for the Rust code called next).
    fn spill(&mut self) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            let disp = self.frame_shift + self.regs_home + 4 * i32::from(guest);
            dynasm!(self.ops ; .arch x64 ; mov DWORD [rsp + disp], Rd(host));
        }
        self.move_counters(true);
    }

    /// The reverse of [`Emitter::spill`].
    fn reload(&mut self) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            let disp = self.frame_shift + self.regs_home + 4 * i32::from(guest);
            dynasm!(self.ops ; .arch x64 ; mov Rd(host), DWORD [rsp + disp]);
        }
        self.move_counters(false);
    }

    /// Moves the mode's vector registers to their frame homes (`to_frame`) or back.
    fn move_counters(&mut self, to_frame: bool) {
        match self.plan.mode {
            LiftMode::Pure => {}
            LiftMode::Cost => {
                let home = self.frame_shift + COST_HOME;
                if to_frame {
                    dynasm!(self.ops ; .arch x64 ; movq [rsp + home], Rx(COST_XMM));
                } else {
                    dynasm!(self.ops ; .arch x64 ; movq Rx(COST_XMM), [rsp + home]);
                }
            }
            LiftMode::Metered => {
                for v in 0..self.row_vectors.min(ROW_REGS) {
                    let home = self.frame_shift + PACKED + self.vector_bytes * v as i32;
                    let reg = v as u8;
                    match (self.vector_bytes, to_frame) {
                        (32, true) => dynasm!(self.ops ; .arch x64 ; vmovdqu [rsp + home], Ry(reg)),
                        (32, false) => {
                            dynasm!(self.ops ; .arch x64 ; vmovdqu Ry(reg), [rsp + home])
                        }
                        (_, true) => dynasm!(self.ops ; .arch x64 ; movdqu [rsp + home], Rx(reg)),
                        (_, false) => dynasm!(self.ops ; .arch x64 ; movdqu Rx(reg), [rsp + home]),
                    }
                }
                if self.vector_bytes == 32 && to_frame {
                    dynasm!(self.ops ; .arch x64 ; vzeroupper);
                }
            }
        }
    }

    /// Adds the constant `bytes` (one vector) to row vector `v`, or to the cost.
    fn add_constant(&mut self, v: usize, bytes: [u8; 32]) {
        let next = self.pool.len() as u32;
        let index = *self.pool_index.entry(bytes).or_insert(next);
        if index == next {
            self.pool.push(bytes);
        }
        match self.plan.mode {
            LiftMode::Cost => dynasm!(self.ops ; .arch x64 ; paddq Rx(COST_XMM), [rip]),
            _ if v >= ROW_REGS => {
                // A vector without a register: 64-bit adds in memory (fields never carry).
                let home = PACKED + self.vector_bytes * v as i32;
                for (i, word) in bytes
                    .chunks(8)
                    .enumerate()
                    .take(self.vector_bytes as usize / 8)
                {
                    let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                    if word != 0 {
                        let at = home + 8 * i as i32;
                        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD word as i64 ; add [rsp + at], rax);
                    }
                }
            }
            _ => {
                let reg = v as u8;
                match (self.vector_bytes, self.plan.layout.field_bits()) {
                    (32, 16) => dynasm!(self.ops ; .arch x64 ; vpaddw Ry(reg), Ry(reg), [rip]),
                    (32, 32) => dynasm!(self.ops ; .arch x64 ; vpaddd Ry(reg), Ry(reg), [rip]),
                    (32, _) => dynasm!(self.ops ; .arch x64 ; vpaddq Ry(reg), Ry(reg), [rip]),
                    (_, 16) => dynasm!(self.ops ; .arch x64 ; paddw Rx(reg), [rip]),
                    (_, 32) => dynasm!(self.ops ; .arch x64 ; paddd Rx(reg), [rip]),
                    _ => dynasm!(self.ops ; .arch x64 ; paddq Rx(reg), [rip]),
                }
            }
        }
        // The memory operand's displacement ends the instruction.
        if self.plan.mode == LiftMode::Cost || v < ROW_REGS {
            self.refer(Target::Pool(index));
        }
    }

    /// Words of counters the code moves between the context and the frame: whole vectors.
    fn counter_words(&self) -> i32 {
        (self.row_vectors * self.vector_bytes as usize / 8) as i32
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
            LiftMode::Cost => dynasm!(self.ops ; .arch x64 ; mov QWORD [rsp + COST_HOME], 0),
            LiftMode::Metered => {
                // The counters buffer holds whole vectors (see `MeteredEntry`).
                dynasm!(self.ops ; .arch x64 ; mov rdx, [rdi + CTX_PACKED]);
                for w in 0..self.counter_words() {
                    let (from, to) = (8 * w, PACKED + 8 * w);
                    dynasm!(self.ops ; .arch x64 ; mov rax, [rdx + from] ; mov [rsp + to], rax);
                }
                dynasm!(self.ops
                    ; .arch x64
                    ; mov DWORD [rsp + LAST_PAGE], -1
                );
            }
        }
        // Before `reload`, which may reuse rdi.
        dynasm!(self.ops ; .arch x64 ; mov ecx, [rdi + CTX_PC]);
        self.reload();
        self.shared.dispatch = self.ops.offset().0 as u32;
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
        let handoff_at_ecx = self.shared.handoff_at_ecx;
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, ecx
            ; sub eax, base
            ; cmp eax, bytes
        );
        self.jump_to(JAE, handoff_at_ecx);
        dynasm!(self.ops ; .arch x64 ; test al, 3);
        self.jump_to(JNE, handoff_at_ecx);
        // The table starts the mapping: 7 bytes of `lea` from here.
        let table = -(self.ops.offset().0 as i32 + 7);
        dynasm!(self.ops
            ; .arch x64
            ; lea rdx, [rip + table]
            ; mov eax, [rdx + rax]
            ; add rax, rdx
            ; jmp rax
        );
    }

    /// The exits every block shares; returns where jumps to a non-entry address land.
    fn emit_shared_exits(&mut self) -> u32 {
        let frame = self.frame;
        let handoff_at_ecx = self.ops.offset().0 as u32;
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, [rsp + CTX]
            ; mov [rdx + CTX_PC], ecx
        );
        let handoff = self.ops.offset().0 as u32;
        dynasm!(self.ops ; .arch x64 ; mov eax, EXIT_HANDOFF as i32);
        let exit = self.ops.offset().0 as u32;
        self.shared = Shared {
            dispatch: 0,
            exit,
            handoff,
            handoff_at_ecx,
        };
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
                ; mov rcx, [rsp + COST_HOME]
                ; add [rdx + CTX_COST], rcx
            ),
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch x64 ; mov rdx, [rdx + CTX_PACKED]);
                for w in 0..self.counter_words() {
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
        self.stop_at = self.ops.offset().0 as u32;
        dynasm!(self.ops
            ; .arch x64
            // A cold stop (`Cold::Stop`): the call's return address points at the pc and the
            // instructions to give back.
            ; pop rax
            ; mov ecx, [rax + 4]
            ; add r13, rcx
            ; mov ecx, [rax]
        );
        self.jump_to(JMP, handoff_at_ecx);
        handoff_at_ecx
    }

    fn emit_block(&mut self, planned: &PlannedBlock) {
        let block = planned.block;
        let pc = planned.pc as i32;
        if block.handoff {
            dynasm!(self.ops
                ; .arch x64
                ; mov rdx, [rsp + CTX]
                ; mov DWORD [rdx + CTX_PC], pc
            );
            self.jump_to(JMP, self.shared.handoff);
            return;
        }
        let len = block.len() as u32;
        match self.plan.mode {
            LiftMode::Pure => {
                let stop = self.stop(planned.pc, len);
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32);
                self.jump_cold(JS, stop);
            }
            LiftMode::Cost => {
                let stop = self.stop(planned.pc, len);
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32);
                self.jump_cold(JS, stop);
                let cost = self.plan.cost_of(self.program, planned);
                if cost > 0 {
                    let mut bytes = [0u8; 32];
                    bytes[..8].copy_from_slice(&cost.to_le_bytes());
                    self.add_constant(0, bytes);
                }
            }
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch x64 ; sub r13, len as i32);
                let check_point = self.cold.len() as u32;
                self.jump_cold(JS, check_point);
                self.cold.push(Cold::CheckPoint {
                    back: self.ops.offset().0 as u32,
                    off: planned.pc - self.plan.base,
                    len,
                });
                // The adds are in word order: each vector's words are consecutive.
                // Words per vector: 2 or 4 (shifts, where dividing cost a tenth of the time).
                let shift = (self.vector_bytes as usize / 8).trailing_zeros();
                let mut scratch = std::mem::take(&mut self.adds);
                self.plan
                    .packed_adds_into(self.program, planned, &mut scratch);
                let mut adds = scratch.iter().peekable();
                while let Some(&&(word, _)) = adds.peek() {
                    let v = word >> shift;
                    let mut bytes = [0u8; 32];
                    while let Some(&(word, add)) = adds.next_if(|&&(w, _)| w >> shift == v) {
                        let i = word & ((1 << shift) - 1);
                        bytes[8 * i..8 * i + 8].copy_from_slice(&add.to_le_bytes());
                    }
                    self.add_constant(v, bytes);
                }
                self.adds = scratch;
            }
        }
        for idx in block.start..block.end {
            self.emit_insn(planned, idx);
        }
    }

    /// A cold exit giving back `budget` instructions at `pc`: its index in `cold`.
    fn stop(&mut self, pc: u32, budget: u32) -> u32 {
        self.cold.push(Cold::Stop { pc, budget });
        self.cold.len() as u32 - 1
    }

    /// The index in `cold` of the touch subroutine's entry for accesses `from_end`
    /// instructions from their block's end.
    fn touch_entry(&mut self, from_end: u32) -> u32 {
        let next = self.cold.len() as u32;
        let entry = *self.touch_entries.entry(from_end).or_insert(next);
        if entry == next {
            self.cold.push(Cold::Touch { from_end });
        }
        entry
    }
}
