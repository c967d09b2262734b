//! Guest instructions to aarch64 instructions: register access, ALU, memory, branches and
//! custom instructions.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::{Cold, Cond, Emitter, Test, T0, T1, T2};
use crate::backend::compiled::abi::{CUSTOM_CONTINUE, CUSTOM_JUMP};
use crate::backend::compiled::plan::PlannedBlock;
use crate::backend::rvr::LiftMode;
use crate::metering::PAGE_BYTES_BITS;
use crate::program::decode::SCRATCH_REG;
use crate::program::{Insn, Op};
use dynasmrt::aarch64::encode_logical_immediate_32bit;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

/// The zero register, in the instruction forms that read register 31 as zero.
const ZR: u8 = 31;

impl Emitter<'_> {
    /// Where to compute a value for `guest`: its host register, or `T0`.
    fn dest(&self, guest: u8) -> u8 {
        if guest == 0 || guest == SCRATCH_REG {
            return T0;
        }
        self.host(guest).unwrap_or(T0)
    }

    /// The host register holding guest register `guest`'s value: its own, or `scratch`
    /// loaded from the frame (zeroed for x0). Never register 31.
    fn read(&mut self, guest: u8, scratch: u8) -> u8 {
        if guest == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movz W(scratch), 0);
            return scratch;
        }
        self.read_zr(guest, scratch)
    }

    /// As [`Emitter::read`], but x0 reads as register 31: only for operands of instruction
    /// forms that read it as the zero register (register-register data processing, store
    /// values).
    fn read_zr(&mut self, guest: u8, scratch: u8) -> u8 {
        if guest == 0 {
            return ZR;
        }
        if let Some(h) = self.host(guest) {
            return h;
        }
        let home = self.home(guest);
        dynasm!(self.ops ; .arch aarch64 ; ldr W(scratch), [sp, home]);
        scratch
    }

    /// Writes host register `src` to guest register `guest` (writes to x0 vanish).
    fn write(&mut self, guest: u8, src: u8) {
        if guest == 0 || guest == SCRATCH_REG {
            return;
        }
        match self.host(guest) {
            Some(h) if h == src => {}
            Some(h) => dynasm!(self.ops ; .arch aarch64 ; mov W(h), W(src)),
            None => {
                let home = self.home(guest);
                dynasm!(self.ops ; .arch aarch64 ; str W(src), [sp, home]);
            }
        }
    }

    /// Sets guest register `guest` to a constant (through `T2` if it has no host register).
    fn write_const(&mut self, guest: u8, value: u32) {
        if guest == 0 || guest == SCRATCH_REG {
            return;
        }
        match self.host(guest) {
            Some(h) => self.mov32(h, value),
            None => {
                let home = self.home(guest);
                self.mov32(T2, value);
                dynasm!(self.ops ; .arch aarch64 ; str W(T2), [sp, home]);
            }
        }
    }

    pub(super) fn emit_insn(&mut self, planned: &PlannedBlock, idx: usize) {
        let insn: Insn = self.program.code()[idx];
        let pc = self.program.pc_of(idx);
        let from_end = (planned.block.end - idx) as u32;
        let (rd, rs1, rs2) = (insn.rd, insn.rs1, insn.rs2);
        let imm = insn.imm;
        match insn.op {
            Op::Add
            | Op::Sub
            | Op::Xor
            | Op::Or
            | Op::And
            | Op::Mul
            | Op::Sll
            | Op::Srl
            | Op::Sra => {
                let a = self.read_zr(rs1, T0);
                let b = self.read_zr(rs2, T1);
                let d = self.dest(rd);
                match insn.op {
                    Op::Add => dynasm!(self.ops ; .arch aarch64 ; add W(d), W(a), W(b)),
                    Op::Sub => dynasm!(self.ops ; .arch aarch64 ; sub W(d), W(a), W(b)),
                    Op::Xor => dynasm!(self.ops ; .arch aarch64 ; eor W(d), W(a), W(b)),
                    Op::Or => dynasm!(self.ops ; .arch aarch64 ; orr W(d), W(a), W(b)),
                    Op::And => dynasm!(self.ops ; .arch aarch64 ; and W(d), W(a), W(b)),
                    Op::Mul => dynasm!(self.ops ; .arch aarch64 ; mul W(d), W(a), W(b)),
                    // The 32-bit variable shifts take the amount modulo 32, as RISC-V does.
                    Op::Sll => dynasm!(self.ops ; .arch aarch64 ; lslv W(d), W(a), W(b)),
                    Op::Srl => dynasm!(self.ops ; .arch aarch64 ; lsrv W(d), W(a), W(b)),
                    _ => dynasm!(self.ops ; .arch aarch64 ; asrv W(d), W(a), W(b)),
                }
                self.write(rd, d);
            }
            Op::Slt | Op::Sltu => {
                let a = self.read_zr(rs1, T0);
                let b = self.read_zr(rs2, T1);
                let d = self.dest(rd);
                dynasm!(self.ops ; .arch aarch64 ; cmp W(a), W(b));
                if insn.op == Op::Slt {
                    dynasm!(self.ops ; .arch aarch64 ; cset W(d), lt);
                } else {
                    dynasm!(self.ops ; .arch aarch64 ; cset W(d), lo);
                }
                self.write(rd, d);
            }
            Op::Mulh | Op::Mulhsu | Op::Mulhu => {
                let a = self.read_zr(rs1, T0);
                let b = self.read_zr(rs2, T1);
                let d = self.dest(rd);
                match insn.op {
                    Op::Mulh => dynasm!(self.ops ; .arch aarch64 ; smull X(d), W(a), W(b)),
                    Op::Mulhu => dynasm!(self.ops ; .arch aarch64 ; umull X(d), W(a), W(b)),
                    // Signed times unsigned fits 64 bits: sign-extend one, the other is held
                    // zero-extended.
                    _ => dynasm!(self.ops
                        ; .arch aarch64
                        ; sxtw X(T2), W(a)
                        ; mul X(d), X(T2), X(b)
                    ),
                }
                dynasm!(self.ops ; .arch aarch64 ; lsr X(d), X(d), 32);
                self.write(rd, d);
            }
            Op::Div | Op::Divu | Op::Rem | Op::Remu => self.emit_division(insn),
            Op::Addi => {
                let a = self.read(rs1, T0);
                let d = self.dest(rd);
                self.add32(d, a, imm);
                self.write(rd, d);
            }
            Op::Xori | Op::Ori | Op::Andi => {
                let a = self.read_zr(rs1, T0);
                let d = self.dest(rd);
                if encode_logical_immediate_32bit(imm).is_some() {
                    match insn.op {
                        Op::Xori => dynasm!(self.ops ; .arch aarch64 ; eor WSP(d), W(a), imm),
                        Op::Ori => dynasm!(self.ops ; .arch aarch64 ; orr WSP(d), W(a), imm),
                        _ => dynasm!(self.ops ; .arch aarch64 ; and WSP(d), W(a), imm),
                    }
                } else {
                    self.mov32(T2, imm);
                    match insn.op {
                        Op::Xori => dynasm!(self.ops ; .arch aarch64 ; eor W(d), W(a), W(T2)),
                        Op::Ori => dynasm!(self.ops ; .arch aarch64 ; orr W(d), W(a), W(T2)),
                        _ => dynasm!(self.ops ; .arch aarch64 ; and W(d), W(a), W(T2)),
                    }
                }
                self.write(rd, d);
            }
            Op::Slli | Op::Srli | Op::Srai => {
                let a = self.read_zr(rs1, T0);
                let d = self.dest(rd);
                let shift = imm & 31;
                if shift == 0 {
                    dynasm!(self.ops ; .arch aarch64 ; mov W(d), W(a));
                } else {
                    match insn.op {
                        Op::Slli => dynasm!(self.ops ; .arch aarch64 ; lsl W(d), W(a), shift),
                        Op::Srli => dynasm!(self.ops ; .arch aarch64 ; lsr W(d), W(a), shift),
                        _ => dynasm!(self.ops ; .arch aarch64 ; asr W(d), W(a), shift),
                    }
                }
                self.write(rd, d);
            }
            Op::Slti | Op::Sltiu => {
                let a = self.read(rs1, T0);
                let d = self.dest(rd);
                let negated = imm.wrapping_neg();
                if imm < 0x1000 {
                    dynasm!(self.ops ; .arch aarch64 ; cmp WSP(a), imm);
                } else if negated < 0x1000 {
                    // a - imm and a + (-imm) set the same flags for |imm| < 2^31.
                    dynasm!(self.ops ; .arch aarch64 ; cmn WSP(a), negated);
                } else {
                    self.mov32(T2, imm);
                    dynasm!(self.ops ; .arch aarch64 ; cmp W(a), W(T2));
                }
                if insn.op == Op::Slti {
                    dynasm!(self.ops ; .arch aarch64 ; cset W(d), lt);
                } else {
                    dynasm!(self.ops ; .arch aarch64 ; cset W(d), lo);
                }
                self.write(rd, d);
            }
            Op::Li => self.write_const(rd, imm),
            Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu => {
                let size = match insn.op {
                    Op::Lb | Op::Lbu => 1,
                    Op::Lh | Op::Lhu => 2,
                    _ => 4,
                };
                self.emit_address(insn, pc, size, from_end);
                let d = self.dest(rd);
                let mem = super::MEM;
                match insn.op {
                    Op::Lb => dynasm!(self.ops ; .arch aarch64 ; ldrsb W(d), [X(mem), W(T0), uxtw]),
                    Op::Lbu => dynasm!(self.ops ; .arch aarch64 ; ldrb W(d), [X(mem), W(T0), uxtw]),
                    Op::Lh => dynasm!(self.ops ; .arch aarch64 ; ldrsh W(d), [X(mem), W(T0), uxtw]),
                    Op::Lhu => dynasm!(self.ops ; .arch aarch64 ; ldrh W(d), [X(mem), W(T0), uxtw]),
                    _ => dynasm!(self.ops ; .arch aarch64 ; ldr W(d), [X(mem), W(T0), uxtw]),
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
                let b = self.read_zr(rs2, T1);
                let mem = super::MEM;
                match insn.op {
                    Op::Sb => dynasm!(self.ops ; .arch aarch64 ; strb W(b), [X(mem), W(T0), uxtw]),
                    Op::Sh => dynasm!(self.ops ; .arch aarch64 ; strh W(b), [X(mem), W(T0), uxtw]),
                    _ => dynasm!(self.ops ; .arch aarch64 ; str W(b), [X(mem), W(T0), uxtw]),
                }
            }
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let taken = self.block_label(imm as usize);
                let a = self.read_zr(rs1, T0);
                let test = match (insn.op, rs2) {
                    (Op::Beq, 0) if a != ZR => Test::Zero(a),
                    (Op::Bne, 0) if a != ZR => Test::NonZero(a),
                    _ => {
                        let b = self.read_zr(rs2, T1);
                        dynasm!(self.ops ; .arch aarch64 ; cmp W(a), W(b));
                        Test::Flags(match insn.op {
                            Op::Beq => Cond::Eq,
                            Op::Bne => Cond::Ne,
                            Op::Blt => Cond::Lt,
                            Op::Bge => Cond::Ge,
                            Op::Bltu => Cond::Lo,
                            _ => Cond::Hs,
                        })
                    }
                };
                self.branch_to_block(test, taken);
                // Not taken: the next block is emitted right after this one.
            }
            Op::Jal => {
                self.write_const(rd, pc.wrapping_add(4));
                let target = self.block_label(imm as usize);
                dynasm!(self.ops ; .arch aarch64 ; b =>target);
            }
            Op::Jalr => {
                let a = self.read(rs1, T0);
                self.add32(T0, a, imm);
                dynasm!(self.ops ; .arch aarch64 ; and WSP(T0), W(T0), 0xffff_fffe_u32);
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
                dynasm!(self.ops ; .arch aarch64 ; b =>fault);
            }
        }
    }

    /// `w16` = the address of a `size`-byte access, checked against guest memory (a fault
    /// hands off at `pc`), and in metered mode its page recorded.
    fn emit_address(&mut self, insn: Insn, pc: u32, size: u32, from_end: u32) {
        let a = self.read(insn.rs1, T0);
        self.add32(T0, a, insn.imm);
        let fault = self.stop(pc, from_end, 0);
        let memory = self.plan.memory_size;
        let align = size - 1;
        let outside = memory
            .is_power_of_two()
            .then(|| !(memory - 1) as u32)
            .filter(|_| memory <= 1 << 32);
        // Misaligned or outside memory: one test when memory is a power of two.
        match outside.map(|high| high | align) {
            Some(0) => {}
            Some(mask) if encode_logical_immediate_32bit(mask).is_some() => {
                dynasm!(self.ops ; .arch aarch64 ; tst W(T0), mask ; b.ne =>fault);
            }
            _ => {
                if align != 0 {
                    dynasm!(self.ops ; .arch aarch64 ; tst W(T0), align ; b.ne =>fault);
                }
                match memory.checked_sub(u64::from(size)) {
                    Some(last) if last < u64::from(u32::MAX) => {
                        self.mov32(T1, last as u32);
                        dynasm!(self.ops ; .arch aarch64 ; cmp W(T0), W(T1) ; b.hi =>fault);
                    }
                    Some(_) => {}
                    None => dynasm!(self.ops ; .arch aarch64 ; b =>fault),
                }
            }
        }
        if self.plan.mode == LiftMode::Metered {
            let label = self.ops.new_dynamic_label();
            let back = self.ops.new_dynamic_label();
            self.push_cold(Cold::Touch {
                label,
                back,
                from_end,
            });
            let bits = PAGE_BYTES_BITS;
            let last = super::LAST_PAGE;
            dynasm!(self.ops
                ; .arch aarch64
                ; lsr W(T1), W(T0), bits
                ; cmp W(T1), W(last)
                ; b.ne =>label
                ; =>back
            );
        }
    }

    /// RISC-V never traps: x / 0 is all ones (unsigned) or -1, x % 0 is x, and MIN / -1
    /// overflows to MIN with remainder 0. aarch64's division gives 0 for x / 0 and MIN for
    /// MIN / -1, so only the quotient by zero needs fixing.
    fn emit_division(&mut self, insn: Insn) {
        let a = self.read_zr(insn.rs1, T0);
        let b = self.read_zr(insn.rs2, T1);
        let d = self.dest(insn.rd);
        match insn.op {
            Op::Divu | Op::Remu => dynasm!(self.ops ; .arch aarch64 ; udiv W(T2), W(a), W(b)),
            _ => dynasm!(self.ops ; .arch aarch64 ; sdiv W(T2), W(a), W(b)),
        }
        match insn.op {
            Op::Div | Op::Divu => dynasm!(self.ops
                ; .arch aarch64
                ; tst W(b), W(b)
                ; csinv W(d), W(T2), wzr, ne
            ),
            // a - (a / b) * b; a when b = 0, 0 for MIN % -1.
            _ => dynasm!(self.ops ; .arch aarch64 ; msub W(d), W(T2), W(b), W(a)),
        }
        self.write(insn.rd, d);
    }

    /// A custom instruction: a call to the shared Rust implementation on the register array.
    fn emit_custom(&mut self, insn: Insn, idx: usize, from_end: u32) {
        let pc = self.program.pc_of(idx);
        self.mov32(T0, insn.imm);
        self.mov32(T1, pc);
        dynasm!(self.ops ; .arch aarch64 ; bl ->custom);
        let fault = self.stop(pc, from_end, 0);
        // Custom instructions end their block; the next instruction starts one (the code
        // always ends with a filler instruction).
        let next = self.block_label(idx + 1);
        debug_assert_eq!(CUSTOM_CONTINUE, 0);
        self.branch_to_block(Test::Zero(T2), next);
        let ctx = super::CTX;
        let pc_field = super::CTX_PC;
        dynasm!(self.ops
            ; .arch aarch64
            ; cmp WSP(T2), CUSTOM_JUMP
            ; b.ne =>fault
            ; ldr X(T2), [sp, ctx]
            ; ldr W(T0), [X(T2), pc_field]
            ; b ->dispatch
        );
    }
}
