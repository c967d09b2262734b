//! The C statements of one instruction, shared by both C styles: guest registers are C
//! variables `x1`..`x31` (writes to x0 land in `xz`), `t` and `off` are scratch, `mem` is guest
//! memory and `budget` the instruction budget; how control moves on is the [`Flow`]'s.

use super::{Flow, LiftMode, Lifter};
use crate::backend::compiled::abi::{CUSTOM_CONTINUE, CUSTOM_JUMP};
use crate::backend::compiled::plan::access_mask;
use crate::metering::PAGE_BYTES_BITS;
use crate::program::blocks::Block;
use crate::program::decode::SCRATCH_REG;
use crate::program::{Insn, Op};
use std::fmt::Write;

/// A register as a C expression (x0 reads as zero).
pub(super) fn reg(r: u8) -> String {
    if r == 0 {
        "0u".to_string()
    } else {
        format!("x{r}")
    }
}

/// A destination register (writes to x0 land in a dummy).
pub(super) fn dest(r: u8) -> String {
    if r == 0 || r == SCRATCH_REG {
        "xz".to_string()
    } else {
        format!("x{r}")
    }
}

impl Lifter<'_> {
    /// Emits instruction `idx` of `block` (a block, or a trace whose conditional branches
    /// before its end are side exits).
    pub(super) fn emit_insn(&self, c: &mut String, flow: &dyn Flow, block: &Block, idx: usize) {
        let program = self.program;
        // On a fault at this instruction, give back its count and the rest of the block's.
        let back = block.end - idx;
        let insn: Insn = program.code()[idx];
        let pc = program.pc_of(idx);
        let next = pc.wrapping_add(4);
        let (d, a, b) = (dest(insn.rd), reg(insn.rs1), reg(insn.rs2));
        let imm = insn.imm;
        let fault = flow.hand_off(pc, back);
        // The address of a `size`-byte access into `t`, checked (a fault hands off), and the
        // page it touches recorded in metered mode.
        let access = |c: &mut String, size: u32| {
            writeln!(c, "    t = {a} + {imm}u;").unwrap();
            let memory = self.program.config().system().memory_size();
            match access_mask(memory, size) {
                Some(mask) => writeln!(c, "    if (UNLIKELY(t & {mask}u)) {fault}").unwrap(),
                None => writeln!(
                    c,
                    "    if (UNLIKELY(((t & {}u) != 0) | ((uint64_t)t + {size}u > MEM_SIZE))) {fault}",
                    size - 1
                )
                .unwrap(),
            }
            if self.mode == LiftMode::Metered {
                // A full page list hands the instruction to the interpreter, which meters it
                // again: give back everything taken for it and the rest of the unit.
                let full = format!(
                    "{{ {} {} }}",
                    self.give_back(idx, block.end),
                    flow.hand_off(pc, 0)
                );
                emit_touch(c, block.end - idx, &full);
            }
        };
        match insn.op {
            Op::Add => writeln!(c, "    {d} = {a} + {b};").unwrap(),
            Op::Sub => writeln!(c, "    {d} = {a} - {b};").unwrap(),
            Op::Sll => writeln!(c, "    {d} = {a} << ({b} & 31);").unwrap(),
            Op::Slt => writeln!(c, "    {d} = (int32_t){a} < (int32_t){b};").unwrap(),
            Op::Sltu => writeln!(c, "    {d} = {a} < {b};").unwrap(),
            Op::Xor => writeln!(c, "    {d} = {a} ^ {b};").unwrap(),
            Op::Srl => writeln!(c, "    {d} = {a} >> ({b} & 31);").unwrap(),
            Op::Sra => writeln!(c, "    {d} = (uint32_t)((int32_t){a} >> ({b} & 31));").unwrap(),
            Op::Or => writeln!(c, "    {d} = {a} | {b};").unwrap(),
            Op::And => writeln!(c, "    {d} = {a} & {b};").unwrap(),
            Op::Mul => writeln!(c, "    {d} = {a} * {b};").unwrap(),
            Op::Mulh => writeln!(
                c,
                "    {d} = (uint32_t)(((int64_t)(int32_t){a} * (int64_t)(int32_t){b}) >> 32);"
            )
            .unwrap(),
            Op::Mulhsu => writeln!(
                c,
                "    {d} = (uint32_t)(((int64_t)(int32_t){a} * (int64_t)(uint64_t){b}) >> 32);"
            )
            .unwrap(),
            Op::Mulhu => writeln!(
                c,
                "    {d} = (uint32_t)(((uint64_t){a} * (uint64_t){b}) >> 32);"
            )
            .unwrap(),
            Op::Div => writeln!(c, "    {d} = div32({a}, {b});").unwrap(),
            Op::Divu => writeln!(c, "    {d} = {b} ? {a} / {b} : 0xffffffffu;").unwrap(),
            Op::Rem => writeln!(c, "    {d} = rem32({a}, {b});").unwrap(),
            Op::Remu => writeln!(c, "    {d} = {b} ? {a} % {b} : {a};").unwrap(),
            Op::Addi => writeln!(c, "    {d} = {a} + {imm}u;").unwrap(),
            Op::Slti => writeln!(c, "    {d} = (int32_t){a} < (int32_t){imm}u;").unwrap(),
            Op::Sltiu => writeln!(c, "    {d} = {a} < {imm}u;").unwrap(),
            Op::Xori => writeln!(c, "    {d} = {a} ^ {imm}u;").unwrap(),
            Op::Ori => writeln!(c, "    {d} = {a} | {imm}u;").unwrap(),
            Op::Andi => writeln!(c, "    {d} = {a} & {imm}u;").unwrap(),
            Op::Slli => writeln!(c, "    {d} = {a} << {};", imm & 31).unwrap(),
            Op::Srli => writeln!(c, "    {d} = {a} >> {};", imm & 31).unwrap(),
            Op::Srai => writeln!(c, "    {d} = (uint32_t)((int32_t){a} >> {});", imm & 31).unwrap(),
            Op::Li => writeln!(c, "    {d} = {imm}u;").unwrap(),
            Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu => {
                let size = match insn.op {
                    Op::Lb | Op::Lbu => 1,
                    Op::Lh | Op::Lhu => 2,
                    _ => 4,
                };
                access(c, size);
                let value = match insn.op {
                    Op::Lb => "(uint32_t)(int32_t)(int8_t)mem[t]",
                    Op::Lbu => "(uint32_t)mem[t]",
                    Op::Lh => "(uint32_t)(int32_t)(int16_t)ld16(mem, t)",
                    Op::Lhu => "ld16(mem, t)",
                    _ => "ld32(mem, t)",
                };
                writeln!(c, "    {d} = {value};").unwrap();
            }
            Op::Sb | Op::Sh | Op::Sw => {
                let size = match insn.op {
                    Op::Sb => 1,
                    Op::Sh => 2,
                    _ => 4,
                };
                access(c, size);
                let store = match insn.op {
                    Op::Sb => format!("mem[t] = (uint8_t){b};"),
                    Op::Sh => format!("st16(mem, t, {b});"),
                    _ => format!("st32(mem, t, {b});"),
                };
                writeln!(c, "    {store}").unwrap();
            }
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let cond = match insn.op {
                    Op::Beq => format!("{a} == {b}"),
                    Op::Bne => format!("{a} != {b}"),
                    Op::Blt => format!("(int32_t){a} < (int32_t){b}"),
                    Op::Bge => format!("(int32_t){a} >= (int32_t){b}"),
                    Op::Bltu => format!("{a} < {b}"),
                    _ => format!("{a} >= {b}"),
                };
                let taken = flow.to_block(insn.imm as usize);
                if idx + 1 < block.end {
                    // A side exit of a trace: the rest of the trace does not run.
                    let back = self.give_back(idx + 1, block.end);
                    writeln!(c, "    if ({cond}) {{ {back} {taken} }}").unwrap();
                } else {
                    let fallthrough = flow.to_block(idx + 1);
                    writeln!(c, "    if ({cond}) {{ {taken} }}\n    {fallthrough}").unwrap();
                }
            }
            Op::Jal => {
                writeln!(c, "    {d} = {next}u;").unwrap();
                writeln!(c, "    {}", flow.to_block(insn.imm as usize)).unwrap();
            }
            Op::Jalr => {
                writeln!(c, "    t = ({a} + {imm}u) & ~1u;").unwrap();
                writeln!(c, "    {d} = {next}u;").unwrap();
                writeln!(c, "    {}", flow.to_address("t")).unwrap();
            }
            Op::Nop => {}
            Op::Custom => {
                writeln!(c, "    {{\n{}", flow.regs_to_memory()).unwrap();
                writeln!(
                    c,
                    "        RVX_LEAVE_AVX(); uint32_t status = ctx->custom(ctx->host, {imm}u, {pc}u, regs);"
                )
                .unwrap();
                c.push_str(&flow.regs_from_memory());
                writeln!(
                    c,
                    "        if (status == {CUSTOM_CONTINUE}u) {{ {} }}",
                    flow.to_block(idx + 1)
                )
                .unwrap();
                writeln!(
                    c,
                    "        if (status == {CUSTOM_JUMP}u) {{ t = ctx->pc; {} }}",
                    flow.to_address("t")
                )
                .unwrap();
                writeln!(c, "        {fault}").unwrap();
                c.push_str("    }\n");
            }
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
            | Op::NoInstruction => writeln!(c, "    {fault}").unwrap(),
        }
    }
}

/// Records the touch of the page of address `t` by an instruction `from_end` instructions from
/// the end of its block (1 for the last), or hands it off with `fault` when the interval's page
/// list is full: only a page the current check interval has not touched yet leaves the hot
/// path.
///
/// After the block took its length, `budget + from_end` is what was left to the next stop
/// when this instruction started; `rvx_touch` tells from it whether the instruction ran before
/// the last check point passed (in the block that holds it). Such an instruction never finds
/// its page marked with the new interval (only instructions after the check point mark pages
/// with it), so it always reaches `rvx_touch`.
fn emit_touch(c: &mut String, from_end: usize, fault: &str) {
    writeln!(
        c,
        "    {{ uint32_t page = t >> {PAGE_BYTES_BITS}; if (UNLIKELY(ctx->interval_of[page] != ctx->interval) && UNLIKELY(!rvx_touch(ctx, page, budget + {from_end}u))) {fault} }}"
    )
    .unwrap();
}
