//! [`CStyle::OneFunction`](super::CStyle::OneFunction): the whole program as one function,
//! `rvx_run_<mode>`, with the guest registers in local variables (so the C compiler keeps the
//! hot ones in host registers), one label per block, direct branches as `goto`s and indirect
//! jumps through a checked table of block labels (GNU C labels as values, which gcc and clang
//! both support).

use super::{Flow, LiftMode, Lifter};
use crate::backend::compiled::abi::EXIT_HANDOFF;
use std::fmt::Write;

/// How control moves inside the one function.
struct Gotos {
    code_bytes: usize,
    /// The program's first address.
    base: u32,
    /// Stores the row vectors into `pk` (metered mode).
    rows: String,
}

impl Flow for Gotos {
    fn to_block(&self, index: usize) -> String {
        format!("goto L{index};")
    }

    fn to_address(&self, target: &str) -> String {
        format!(
            "off = {target} - BASE; if (LIKELY(off < {}u && !(off & 3))) goto *jt[off >> 2]; pc = {target}; goto handoff;",
            self.code_bytes
        )
    }

    fn hand_off(&self, pc: u32, back: usize) -> String {
        format!("{{ pc = {pc}u; budget += {back}u; goto handoff; }}")
    }

    fn check_point(&self, pc: u32, len: usize) -> String {
        format!(
            "{} uint64_t r = ctx->pass_check_point(ctx, {}u, budget, {len}u, pk); if (UNLIKELY(r == 0)) {{ pc = {pc}u; goto stopped; }} budget += r - {len}u;",
            self.rows,
            pc - self.base
        )
    }

    fn regs_to_memory(&self) -> String {
        (1..32).map(|r| format!("        regs[{r}] = x{r};\n")).collect()
    }

    fn regs_from_memory(&self) -> String {
        (1..32).map(|r| format!("        x{r} = regs[{r}];\n")).collect()
    }
}

/// Appends `rvx_run_<mode>` for the whole program.
pub(super) fn emit(c: &mut String, lifter: &Lifter<'_>) {
    let mode = lifter.mode;
    let len = lifter.program.code().len();
    let flow = Gotos {
        code_bytes: lifter.code_bytes(),
        base: lifter.program.base(),
        rows: lifter.store_rows("pk"),
    };
    writeln!(c, "uint32_t rvx_run_{}(RvxCtx* ctx) {{", mode.name()).unwrap();
    c.push_str("    uint8_t* const mem = ctx->mem;\n    uint32_t* const regs = ctx->regs;\n");
    c.push_str("    uint64_t budget = ctx->budget;\n");
    c.push_str("    uint32_t pc = ctx->pc, off, t, status;\n");
    for r in 1..32 {
        writeln!(c, "    uint32_t x{r} = regs[{r}];").unwrap();
    }
    c.push_str("    uint32_t xz = 0; (void)xz; (void)t;\n");
    match mode {
        LiftMode::Pure => {}
        LiftMode::Metered => {
            c.push_str(&lifter.load_rows());
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
    for block in &lifter.blocks {
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
    writeln!(c, "    {}", flow.to_address("pc")).unwrap();
    for block in &lifter.blocks {
        let pc0 = lifter.program.pc_of(block.start);
        writeln!(c, "L{}: /* {pc0:#x} */", block.start).unwrap();
        if block.handoff {
            writeln!(c, "    pc = {pc0}u; goto handoff;").unwrap();
            continue;
        }
        lifter.emit_header(c, &flow, block);
        for idx in block.start..block.end {
            lifter.emit_insn(c, &flow, block, idx);
        }
        if !lifter.program.code()[block.end - 1].op.ends_block() {
            // Falls through into the next block.
            writeln!(c, "    {}", flow.to_block(block.end)).unwrap();
        }
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
        LiftMode::Metered => c.push_str(&lifter.save_rows()),
        LiftMode::Cost => c.push_str("    ctx->cost = ctx->max_cost - (uint64_t)cost_left;\n"),
    }
    c.push_str("    ctx->budget = budget;\n    ctx->pc = pc;\n    return status;\n}\n");
}
