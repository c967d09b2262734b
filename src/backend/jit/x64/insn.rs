//! The machine code of each instruction: ALU operations, memory accesses (checked, and their
//! pages recorded in metered mode), branches and jumps, division (which never traps in RISC-V)
//! and calls to extension instructions.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::jumps::{Jump, CALL, JA, JAE, JB, JE, JGE, JL, JMP, JNE};
use super::{Emitter, CTX, CTX_CUSTOM, CTX_HOST, CTX_PC, CTX_REGS, LAST_PAGE, RAX, RCX, SAVED_T};
use crate::backend::compiled::abi::{CUSTOM_CONTINUE, CUSTOM_JUMP};
use crate::backend::compiled::plan::{access_mask, PlannedBlock};
use crate::backend::rvr::LiftMode;
use crate::metering::PAGE_BYTES_BITS;
use crate::program::{Insn, Op};
use dynasmrt::{dynasm, DynasmApi};

impl Emitter<'_> {
    pub(super) fn emit_insn(&mut self, planned: &PlannedBlock, idx: usize) {
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
                let jump: Jump = match insn.op {
                    Op::Beq => JE,
                    Op::Bne => JNE,
                    Op::Blt => JL,
                    Op::Bge => JGE,
                    Op::Bltu => JB,
                    _ => JAE,
                };
                self.jump_to_block(jump, insn.imm as usize);
                // Not taken: the next block is emitted right after this one.
            }
            Op::Jal => {
                self.write_const(rd, pc.wrapping_add(4));
                self.jump_to_block(JMP, insn.imm as usize);
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
                let fault = self.stop(pc, from_end);
                self.jump_cold(JMP, fault);
            }
        }
    }

    /// `ecx` = the address of a `size`-byte access, checked against guest memory (a fault
    /// hands off at `pc`), and in metered mode its page recorded.
    fn emit_address(&mut self, insn: Insn, pc: u32, size: u32, from_end: u32) {
        let a = self.read(insn.rs1, RCX);
        let imm = insn.imm as i32;
        dynasm!(self.ops ; .arch x64 ; lea ecx, [Rq(a) + imm]);
        let fault = self.stop(pc, from_end);
        match access_mask(self.plan.memory_size, size) {
            Some(mask) => {
                // One test: misaligned, or at or past the end of guest memory.
                dynasm!(self.ops ; .arch x64 ; test ecx, mask as i32);
                self.jump_cold(JNE, fault);
            }
            None => {
                if size > 1 {
                    let mask = (size - 1) as i32;
                    dynasm!(self.ops ; .arch x64 ; test ecx, mask);
                    self.jump_cold(JNE, fault);
                }
                match self.plan.memory_size.checked_sub(u64::from(size)) {
                    Some(last) if last < u64::from(u32::MAX) => {
                        let last = last as u32 as i32;
                        dynasm!(self.ops ; .arch x64 ; cmp ecx, last);
                        self.jump_cold(JA, fault);
                    }
                    Some(_) => {}
                    None => self.jump_cold(JMP, fault),
                }
            }
        }
        if self.plan.mode == LiftMode::Metered {
            let bits = PAGE_BYTES_BITS as i8;
            dynasm!(self.ops
                ; .arch x64
                ; mov eax, ecx
                ; shr eax, bits
                ; cmp eax, [rsp + LAST_PAGE]
            );
            // Over a call to the touch subroutine's entry for `from_end` (shared by every
            // access as far from its block's end): 7 bytes here, none in cold code.
            let entry = self.touch_entry(from_end);
            let same_page = self.jump_forward(JE, true);
            self.jump_cold(CALL, entry);
            self.land(same_page);
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
                dynasm!(self.ops ; .arch x64 ; test ecx, ecx);
                let divide = self.jump_forward(JNE, true);
                dynasm!(self.ops ; .arch x64 ; mov eax, -1);
                let done = self.jump_forward(JMP, true);
                self.land(divide);
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; div ecx);
                self.land(done);
                RAX
            }
            Op::Remu => {
                dynasm!(self.ops ; .arch x64 ; mov edx, eax ; test ecx, ecx);
                let done = self.jump_forward(JE, true);
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; div ecx);
                self.land(done);
                2
            }
            Op::Div => {
                dynasm!(self.ops ; .arch x64 ; test ecx, ecx);
                let zero = self.jump_forward(JE, true);
                dynasm!(self.ops ; .arch x64 ; cmp ecx, -1);
                let divide = self.jump_forward(JNE, true);
                dynasm!(self.ops ; .arch x64 ; cmp eax, min);
                let overflow = self.jump_forward(JE, true);
                self.land(divide);
                dynasm!(self.ops ; .arch x64 ; cdq ; idiv ecx);
                let done = self.jump_forward(JMP, true);
                self.land(zero);
                dynasm!(self.ops ; .arch x64 ; mov eax, -1);
                self.land(overflow);
                self.land(done);
                RAX
            }
            _ => {
                dynasm!(self.ops ; .arch x64 ; mov edx, eax ; test ecx, ecx);
                let zero = self.jump_forward(JE, true);
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; cmp ecx, -1);
                let divide = self.jump_forward(JNE, true);
                dynasm!(self.ops ; .arch x64 ; cmp eax, min);
                let overflow = self.jump_forward(JE, true);
                self.land(divide);
                dynasm!(self.ops ; .arch x64 ; cdq ; idiv ecx);
                self.land(zero);
                self.land(overflow);
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
        let fault = self.stop(pc, from_end);
        // Custom instructions end their block; the next instruction starts one (the code
        // always ends with a filler instruction).
        dynasm!(self.ops ; .arch x64 ; cmp eax, CUSTOM_CONTINUE as i32);
        self.jump_to_block(JE, idx + 1);
        dynasm!(self.ops ; .arch x64 ; cmp eax, CUSTOM_JUMP as i32);
        self.jump_cold(JNE, fault);
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, [rsp + CTX]
            ; mov ecx, [rdx + CTX_PC]
        );
        self.jump_to(JMP, self.shared.dispatch);
    }
}
