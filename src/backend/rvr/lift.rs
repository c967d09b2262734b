//! The lifter: a decoded program to one C translation unit.
//!
//! The program becomes one function, `rvx_run_<mode>`, with the guest registers in local
//! variables (so the C compiler keeps the hot ones in host registers) and one label per block
//! ([`crate::program::blocks`]). Direct branches are `goto`s; indirect jumps go through a
//! checked table of block labels (GNU C labels as values, which gcc and clang both support).
//!
//! Each block first takes its whole length from the instruction budget, then adds what its
//! mode meters: nothing (pure), its rows to the packed counters (metered), its cost (cost). A
//! block that does not fit the budget stops in pure and cost mode; in metered mode it calls
//! `pass_check_point`, which passes the segment check point inside the block when it is known
//! to pass, marking it, and otherwise stops. A cost block whose cost does not fit stops too.
//! A handoff instruction, a faulting access and a stop all leave with the exact pc and budget
//! ([`crate::backend::compiled`] hands the rest to the interpreter).

use crate::backend::compiled::abi::{
    self, ABI_VERSION, CUSTOM_CONTINUE, CUSTOM_JUMP, EXIT_CHECK_POINT, EXIT_HANDOFF,
};
use crate::metering::{MeterTables, PackedLayout, PAGE_BYTES_BITS};
use crate::program::blocks::{form_blocks, Block};
use crate::program::decode::SCRATCH_REG;
use crate::program::{Insn, Op, Program};
use std::fmt::Write;

/// What the generated code meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiftMode {
    /// Nothing.
    Pure,
    /// Chip rows per block and memory pages per access.
    Metered,
    /// Cost per block, against a maximum.
    Cost,
}

impl LiftMode {
    /// The mode's name in symbols and cache keys.
    pub fn name(self) -> &'static str {
        match self {
            LiftMode::Pure => "pure",
            LiftMode::Metered => "metered",
            LiftMode::Cost => "cost",
        }
    }
}

/// What code generation needs besides the program.
struct Lifter<'a> {
    program: &'a Program,
    tables: &'a MeterTables,
    mode: LiftMode,
    layout: PackedLayout,
}

/// The C source of `program` for `mode`.
pub fn lift(program: &Program, mode: LiftMode) -> String {
    let lifter = Lifter {
        program,
        tables: program.meter_tables(),
        mode,
        layout: PackedLayout::for_program(program),
    };
    let blocks = form_blocks(program);
    let words = lifter.layout.words();
    let mut c = String::with_capacity(program.len() * 120);
    prelude(&mut c, program);
    if mode == LiftMode::Metered {
        c.push_str(TOUCH_FUNCTIONS);
        lifter.emit_pass_check_point(&mut c);
    }
    let len = program.code().len();
    writeln!(c, "uint32_t rvx_run_{}(RvxCtx* ctx) {{", mode.name()).unwrap();
    c.push_str("    uint8_t* const mem = ctx->mem;\n    uint32_t* const regs = ctx->regs;\n");
    c.push_str("    uint64_t budget = ctx->budget, r;\n");
    c.push_str("    uint32_t pc = ctx->pc, off, t, status;\n");
    for r in 1..32 {
        writeln!(c, "    uint32_t x{r} = regs[{r}];").unwrap();
    }
    c.push_str("    uint32_t xz = 0; (void)xz; (void)t; (void)r;\n");
    match mode {
        LiftMode::Pure => {}
        LiftMode::Metered => {
            // Rows are counted in locals, which the compiler keeps in registers.
            for w in 0..words {
                writeln!(c, "    uint64_t p{w} = ctx->packed[{w}];").unwrap();
            }
            c.push_str("    uint32_t last_page = 0xffffffffu;\n");
            // Instructions before the last check point passed are those with more than
            // `refill` left to the next stop (see `emit_touch`); none before the first.
            c.push_str("    ctx->refill = budget;\n    ctx->passes = 0;\n");
        }
        LiftMode::Cost => {
            c.push_str("    int64_t cost_left = (int64_t)(ctx->max_cost - ctx->cost);\n")
        }
    }
    // The jump table: every block start can be entered; other entries hand off.
    writeln!(c, "    static const void* const jt[{len}] = {{").unwrap();
    let mut is_start = vec![false; len];
    for block in &blocks {
        is_start[block.start] = true;
    }
    for (i, &start) in is_start.iter().enumerate() {
        if start {
            writeln!(c, "        &&L{i},").unwrap();
        } else {
            c.push_str("        &&not_entry,\n");
        }
    }
    c.push_str("    };\n");
    writeln!(
        c,
        "    off = pc - BASE;\n    if (UNLIKELY(off >= {}u || (off & 3))) goto handoff;",
        4 * len
    )
    .unwrap();
    c.push_str("    goto *jt[off >> 2];\n");
    for block in &blocks {
        lifter.emit_block(&mut c, block);
    }
    c.push_str("not_entry:\n    pc = BASE + off;\n    goto handoff;\n");
    if mode == LiftMode::Metered {
        // `pass_check_point` said why it stopped.
        c.push_str("stopped:\n    status = ctx->stop;\n    goto leave;\n");
    }
    writeln!(c, "handoff:\n    status = {EXIT_HANDOFF}u;\nleave:").unwrap();
    for r in 1..32 {
        writeln!(c, "    regs[{r}] = x{r};").unwrap();
    }
    match mode {
        LiftMode::Pure => {}
        LiftMode::Metered => {
            for w in 0..words {
                writeln!(c, "    ctx->packed[{w}] = p{w};").unwrap();
            }
        }
        LiftMode::Cost => c.push_str("    ctx->cost = ctx->max_cost - (uint64_t)cost_left;\n"),
    }
    c.push_str("    ctx->budget = budget;\n    ctx->pc = pc;\n    return status;\n}\n");
    c
}

/// Page-touch recording for metered code, out of line: it runs on the first touch of a page
/// in a check interval. `touch_before` records a touch by an instruction before the last
/// check point passed (in the block that holds it): it counts in the segment and at the mark,
/// but not in the new interval.
const TOUCH_FUNCTIONS: &str = r#"
__attribute__((noinline, cold)) static void touch_new(RvxCtx* ctx, uint32_t page) {
    ctx->interval_of[page] = ctx->interval;
    if (UNLIKELY(ctx->recent_len == ctx->recent_cap)) ctx->grow_recent(ctx);
    ctx->recent[ctx->recent_len++] = page;
    if (ctx->segment_of[page] != ctx->segment) {
        ctx->segment_of[page] = ctx->segment;
        ctx->in_segment++;
    }
}
__attribute__((noinline, cold)) static void touch_before(RvxCtx* ctx, uint32_t page) {
    if (ctx->segment_of[page] != ctx->segment) {
        ctx->segment_of[page] = ctx->segment;
        ctx->in_segment++;
        ctx->mark_pages++;
    }
}
"#;

fn prelude(c: &mut String, program: &Program) {
    let memory = program.config().system().memory_size();
    c.push_str("/* Generated by rvx: do not edit. */\n#include <stdint.h>\n#include <stddef.h>\n");
    c.push_str("#define LIKELY(x) __builtin_expect(!!(x), 1)\n#define UNLIKELY(x) __builtin_expect(!!(x), 0)\n");
    writeln!(c, "#define BASE {}u", program.base()).unwrap();
    writeln!(c, "#define MEM_SIZE {memory}ull").unwrap();
    c.push_str(&abi::c_declaration());
    writeln!(c, "const uint32_t rvx_abi_version = {ABI_VERSION};").unwrap();
    writeln!(
        c,
        "const uint64_t rvx_program_fingerprint = {}ull;",
        program.fingerprint()
    )
    .unwrap();
    c.push_str(concat!(
        "static inline uint32_t ld32(const uint8_t* m, uint32_t a) { uint32_t v; __builtin_memcpy(&v, m + a, 4); return v; }\n",
        "static inline uint32_t ld16(const uint8_t* m, uint32_t a) { uint16_t v; __builtin_memcpy(&v, m + a, 2); return v; }\n",
        "static inline void st32(uint8_t* m, uint32_t a, uint32_t v) { __builtin_memcpy(m + a, &v, 4); }\n",
        "static inline void st16(uint8_t* m, uint32_t a, uint32_t v) { uint16_t w = (uint16_t)v; __builtin_memcpy(m + a, &w, 2); }\n",
        "static inline uint32_t div32(uint32_t a, uint32_t b) { if (b == 0) return 0xffffffffu; if (a == 0x80000000u && b == 0xffffffffu) return a; return (uint32_t)((int32_t)a / (int32_t)b); }\n",
        "static inline uint32_t rem32(uint32_t a, uint32_t b) { if (b == 0) return a; if (a == 0x80000000u && b == 0xffffffffu) return 0; return (uint32_t)((int32_t)a % (int32_t)b); }\n",
    ));
}

/// A register as a C expression (x0 reads as zero).
fn reg(r: u8) -> String {
    if r == 0 {
        "0u".to_string()
    } else {
        format!("x{r}")
    }
}

/// A destination register (writes to x0 land in a dummy).
fn dest(r: u8) -> String {
    if r == 0 || r == SCRATCH_REG {
        "xz".to_string()
    } else {
        format!("x{r}")
    }
}

impl Lifter<'_> {
    /// `pass_check_point`, which a metered block that does not fit the budget calls: it passes
    /// the check point inside the block when known to pass and the block fits before the next
    /// stop (marking the check point, starting a new page interval, and returning the
    /// instructions from it to the next stop), and otherwise returns 0 with the exit status in
    /// `ctx->stop`. A function, not shared code in `rvx_run`, so the block continues with a
    /// direct jump.
    fn emit_pass_check_point(&self, c: &mut String) {
        let words = self.layout.words();
        let check = self
            .program
            .config()
            .system()
            .segmentation
            .segment_check_insns;
        let params: String = (0..words).map(|w| format!(", uint64_t p{w}")).collect();
        writeln!(
            c,
            "__attribute__((noinline, cold)) static uint64_t pass_check_point(RvxCtx* ctx, uint32_t off, uint64_t budget, uint64_t len{params}) {{"
        )
        .unwrap();
        // The run ends inside this block: the interpreter runs it.
        writeln!(
            c,
            "    uint64_t refill = ctx->to_end < {check}ull ? ctx->to_end : {check}ull;\n    if (budget + refill < len) {{ ctx->stop = {EXIT_HANDOFF}u; return 0; }}"
        )
        .unwrap();
        writeln!(c, "    ctx->stop = {EXIT_CHECK_POINT}u;").unwrap();
        // The check point is passed only when known to pass, with each instruction before it
        // touching at most one new page, and no chip out of room (its guard bit set).
        c.push_str("    if (ctx->passes == ctx->max_passes || ctx->in_segment + budget > ctx->page_limit) return 0;\n");
        let guards: Vec<String> = (self.layout.guard_masks().iter().enumerate())
            .map(|(w, mask)| format!("(p{w} & {mask}ull)"))
            .collect();
        if !guards.is_empty() {
            writeln!(c, "    if ({}) return 0;", guards.join(" | ")).unwrap();
        }
        c.push_str("    ctx->passes++;\n");
        for w in 0..words {
            writeln!(c, "    ctx->mark_packed[{w}] = p{w};").unwrap();
        }
        c.push_str("    ctx->mark_block = off >> 2;\n    ctx->mark_before = (uint32_t)budget;\n    ctx->mark_pages = ctx->in_segment;\n");
        c.push_str("    ctx->interval++;\n    ctx->recent_len = 0;\n");
        writeln!(
            c,
            "    ctx->to_end -= refill;\n    ctx->refill = refill;\n    return refill;\n}}"
        )
        .unwrap();
    }

    fn emit_block(&self, c: &mut String, block: &Block) {
        let pc0 = self.program.pc_of(block.start);
        writeln!(c, "L{}: /* {pc0:#x} */", block.start).unwrap();
        if block.handoff {
            writeln!(c, "    pc = {pc0}u; goto handoff;").unwrap();
            return;
        }
        let len = block.len();
        // Subtract, then test the sign: one fused instruction on the hot path. The budget
        // stays below 2^63 (the caller clamps it).
        writeln!(c, "    budget -= {len}u;").unwrap();
        if self.mode == LiftMode::Metered {
            let off = pc0 - self.program.base();
            let args: String = (0..self.layout.words())
                .map(|w| format!(", p{w}"))
                .collect();
            writeln!(
                c,
                "    if (UNLIKELY((int64_t)budget < 0)) {{ budget += {len}u; r = pass_check_point(ctx, {off}u, budget, {len}u{args}); if (UNLIKELY(r == 0)) {{ pc = {pc0}u; goto stopped; }} budget += r - {len}u; last_page = 0xffffffffu; }}"
            )
            .unwrap();
        } else {
            writeln!(
                c,
                "    if (UNLIKELY((int64_t)budget < 0)) {{ budget += {len}u; pc = {pc0}u; goto handoff; }}"
            )
            .unwrap();
        }
        match self.mode {
            LiftMode::Pure => {}
            LiftMode::Metered => {
                let rows = self.tables.range_rows(block.start, block.end);
                for (w, add) in self.layout.block_adds(&rows) {
                    writeln!(c, "    p{w} += {add}ull;").unwrap();
                }
            }
            LiftMode::Cost => {
                // `cost_left` is max_cost - cost; a block runs whole only if its cost fits
                // (a countdown and a sign test, like the budget: measurably faster than
                // adding up the cost and bounding the budget by it).
                let cost = self.tables.range_cost(block.start, block.end);
                if cost > 0 {
                    writeln!(c, "    cost_left -= {cost};").unwrap();
                    writeln!(c, "    if (UNLIKELY(cost_left < 0)) {{ cost_left += {cost}; budget += {len}u; pc = {pc0}u; goto handoff; }}").unwrap();
                }
            }
        }
        for idx in block.start..block.end {
            emit_insn(c, self.program, self.mode, block, idx);
        }
        let last = &self.program.code()[block.end - 1];
        if !last.op.ends_block() {
            // Falls through into the next block.
            writeln!(c, "    goto L{};", block.end).unwrap();
        }
    }
}

fn emit_insn(c: &mut String, program: &Program, mode: LiftMode, block: &Block, idx: usize) {
    // On a fault at this instruction, give back its count and the rest of the block's.
    let back = block.end - idx;
    let insn: Insn = program.code()[idx];
    let pc = program.pc_of(idx);
    let next = pc.wrapping_add(4);
    let (d, a, b) = (dest(insn.rd), reg(insn.rs1), reg(insn.rs2));
    let imm = insn.imm;
    let fault = format!("{{ pc = {pc}u; budget += {back}u; goto handoff; }}");
    // The address of a `size`-byte access into `t`, checked (a fault hands off), and the
    // page it touches recorded in metered mode.
    let access = |c: &mut String, size: u32| {
        writeln!(c, "    t = {a} + {imm}u;").unwrap();
        writeln!(
            c,
            "    if (UNLIKELY(((t & {}u) != 0) | ((uint64_t)t + {size}u > MEM_SIZE))) {fault}",
            size - 1
        )
        .unwrap();
        if mode == LiftMode::Metered {
            emit_touch(c, block.len() - (idx - block.start));
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
            let taken = block_label(insn.imm as usize);
            let fallthrough = block_label(idx + 1);
            writeln!(c, "    if ({cond}) goto {taken}; goto {fallthrough};").unwrap();
        }
        Op::Jal => {
            writeln!(c, "    {d} = {next}u;").unwrap();
            writeln!(c, "    goto {};", block_label(insn.imm as usize)).unwrap();
        }
        Op::Jalr => {
            writeln!(c, "    t = ({a} + {imm}u) & ~1u;").unwrap();
            writeln!(c, "    {d} = {next}u;").unwrap();
            writeln!(c, "    off = t - BASE;").unwrap();
            let len = 4 * program.code().len();
            writeln!(
                c,
                "    if (LIKELY(off < {len}u && !(off & 3))) goto *jt[off >> 2];"
            )
            .unwrap();
            c.push_str("    pc = t; goto handoff;\n");
        }
        Op::Nop => {}
        Op::Custom => {
            c.push_str("    {\n");
            for r in 1..32 {
                writeln!(c, "        regs[{r}] = x{r};").unwrap();
            }
            writeln!(
                c,
                "        uint32_t status = ctx->custom(ctx->host, {imm}u, {pc}u, regs);"
            )
            .unwrap();
            for r in 1..32 {
                writeln!(c, "        x{r} = regs[{r}];").unwrap();
            }
            writeln!(
                c,
                "        if (status == {CUSTOM_CONTINUE}u) goto {};",
                block_label(idx + 1)
            )
            .unwrap();
            writeln!(c, "        if (status == {CUSTOM_JUMP}u) {{ t = ctx->pc; off = t - BASE; if (LIKELY(off < {}u && !(off & 3))) goto *jt[off >> 2]; pc = t; goto handoff; }}", 4 * program.code().len()).unwrap();
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

/// Records the touch of the page of address `t` by an instruction `from_end` instructions from
/// the end of its block (1 for the last).
///
/// After the block took its length, `budget + from_end` is what was left to the next stop
/// when this instruction started; more than `refill` means it ran before the last check point
/// passed, in the block that holds it.
fn emit_touch(c: &mut String, from_end: usize) {
    writeln!(
        c,
        concat!(
            "    {{ uint32_t page = t >> {bits};\n",
            "      if (UNLIKELY(page != last_page)) {{\n",
            "        if (UNLIKELY(budget + {from_end}u > ctx->refill)) touch_before(ctx, page);\n",
            "        else {{ last_page = page; if (ctx->interval_of[page] != ctx->interval) touch_new(ctx, page); }}\n",
            "      }} }}"
        ),
        bits = PAGE_BYTES_BITS,
        from_end = from_end
    )
    .unwrap();
}

/// The label of the block starting at code index `index` (always a block start: direct targets
/// and the instruction after a block end are leaders).
fn block_label(index: usize) -> String {
    format!("L{index}")
}
