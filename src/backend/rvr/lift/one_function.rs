//! [`CStyle::OneFunction`](super::CStyle::OneFunction): the whole program as one function,
//! `rvx_run_<mode>`, with the guest registers in local variables (so the C compiler keeps the
//! hot ones in host registers), one label per block, direct branches as `goto`s and indirect
//! jumps through a checked table of block labels (GNU C labels as values, which gcc and clang
//! both support).

use super::{Flow, LiftMode, Lifter};
use crate::backend::compiled::abi::EXIT_HANDOFF;
use crate::program::blocks::Block;
use std::fmt::Write;

/// How control moves inside the one function.
struct Gotos<'a> {
    lifter: &'a Lifter<'a>,
    code_bytes: usize,
}

impl Flow for Gotos<'_> {
    fn to_block(&self, index: usize) -> String {
        format!("goto {};", self.lifter.unit_name(index, "L"))
    }

    fn to_first_block(&self, index: usize) -> String {
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

    fn stopped(&self, pc: u32) -> String {
        format!("pc = {pc}u; goto stopped;")
    }

    fn regs_to_memory(&self) -> String {
        (1..32)
            .map(|r| format!("        regs[{r}] = x{r};\n"))
            .collect()
    }

    fn regs_from_memory(&self) -> String {
        (1..32)
            .map(|r| format!("        x{r} = regs[{r}];\n"))
            .collect()
    }
}

/// Appends the entry point (`rvx_run_<mode>`, see [`Lifter::entry_name`]) for the whole
/// program.
pub(super) fn emit(c: &mut String, lifter: &Lifter<'_>) {
    let mode = lifter.mode;
    let len = lifter.program.code().len();
    let flow = Gotos {
        lifter,
        code_bytes: lifter.code_bytes(),
    };
    // Guest memory, the context and the guest registers never overlap: `restrict` lets the
    // compiler keep context fields in registers across guest stores.
    writeln!(
        c,
        "uint32_t {}(RvxCtx* restrict ctx) {{",
        lifter.entry_name()
    )
    .unwrap();
    c.push_str("    uint8_t* restrict const mem = ctx->mem;\n    uint32_t* restrict const regs = ctx->regs;\n");
    c.push_str("    uint64_t budget = ctx->budget;\n");
    c.push_str("    uint32_t pc = ctx->pc, off, t, status;\n");
    for r in 1..32 {
        writeln!(c, "    uint32_t x{r} = regs[{r}];").unwrap();
    }
    c.push_str("    uint32_t xz = 0; (void)xz; (void)t;\n");
    match mode {
        LiftMode::Pure => {}
        LiftMode::Metered => {
            // (`refill` and `passes` are set by the caller: a call may go on after an
            // extension instruction ran between two calls, see `backend/compiled/reported.rs`.)
            c.push_str(&lifter.load_rows());
        }
        LiftMode::Cost => c.push_str("    rvx_cost cost = {0, 0};\n"),
    }
    // The jump table: every block start can be entered; other entries hand off.
    writeln!(c, "    static const void* const jt[{len}] = {{").unwrap();
    let mut is_start = vec![false; len];
    for block in &lifter.blocks {
        is_start[block.start] = true;
    }
    for (i, &start) in is_start.iter().enumerate() {
        if start {
            writeln!(c, "        &&{},", lifter.unit_name(i, "L")).unwrap();
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
        lifter.emit_unit(c, &flow, block, false);
    }
    for trace in &lifter.traces {
        writeln!(c, "T{}: /* trace */", trace.start).unwrap();
        let unit = Block {
            start: trace.start,
            end: trace.end,
            handoff: false,
        };
        lifter.emit_unit(c, &flow, &unit, true);
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
        LiftMode::Cost => c.push_str("    ctx->cost += cost[0];\n"),
    }
    c.push_str("    ctx->budget = budget;\n    ctx->pc = pc;\n    return status;\n}\n");
}
