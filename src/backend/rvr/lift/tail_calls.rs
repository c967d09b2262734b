//! [`CStyle::TailCalls`](super::CStyle::TailCalls): one C function per block, in clang's
//! `preserve_none` calling convention, continuing with guaranteed tail calls (`musttail`).
//!
//! Every block function has the same parameters: the context, guest memory, the instruction
//! budget, in cost mode the cost left, the register slots `s0`, `s1`, ... (as many as the
//! convention passes in registers), and in metered mode the row-counter vectors (passed in
//! vector registers). Which guest register each slot holds depends on the code
//! ([`RegisterMaps`]): a hot loop keeps its own registers in the slots. A block reads the
//! other guest registers it uses from `ctx->regs` into locals, and when it moves on it passes
//! the next code's registers in the slots and writes back to `ctx->regs` whatever that code
//! does not take in a slot.
//!
//! Indirect jumps, the entry from Rust and every exit use the default map (map 0); a block
//! using another map is entered indirectly through an adapter function. Nothing on the path
//! from block to block calls a function, so blocks need no stack frame: passing a check point
//! (metered mode) tail-calls `rvx_check_point`, which re-enters the block afterwards.

use super::{Flow, LiftMode, Lifter};
use crate::backend::compiled::abi::EXIT_HANDOFF;
use crate::backend::compiled::plan::RegisterMaps;
use crate::program::blocks::Block;
use std::fmt::Write;

/// The parameters every block function shares.
struct Signature {
    /// `RvxCtx* ctx, uint8_t* mem, ...`.
    params: String,
    /// The arguments before the slots: `ctx, mem, budget[, cost_left]`.
    head: String,
    /// The arguments after the slots: the row vectors.
    tail: String,
}

impl Signature {
    fn new(lifter: &Lifter<'_>, slots: usize) -> Signature {
        let mut head = vec!["ctx", "mem", "budget"];
        let mut params = vec![
            "RvxCtx* ctx".to_string(),
            "uint8_t* mem".to_string(),
            "uint64_t budget".to_string(),
        ];
        if lifter.mode == LiftMode::Cost {
            head.push("cost_left");
            params.push("int64_t cost_left".to_string());
        }
        params.extend((0..slots).map(|k| format!("uint32_t s{k}")));
        let rows = lifter.row_names();
        params.extend(rows.iter().map(|r| format!("rvx_lanes {r}")));
        Signature {
            params: params.join(", "),
            head: head.join(", "),
            tail: rows.iter().map(|r| format!(", {r}")).collect(),
        }
    }

    /// Fixed parameters of every block function besides the slots.
    fn fixed(mode: LiftMode) -> usize {
        if mode == LiftMode::Cost {
            4
        } else {
            3
        }
    }
}

/// Where a piece of code keeps guest registers: in slots (per its map), in locals it read from
/// `ctx->regs` (cold), and which of those locals it changed.
struct Holding<'a> {
    map: &'a [u8],
    cold: Vec<u8>,
    written: Vec<u8>,
}

impl Holding<'_> {
    fn holds(&self, r: u8) -> bool {
        self.map.contains(&r) || self.cold.contains(&r)
    }

    /// Whether `ctx->regs[r]` may be stale: `r` is in a slot (which code may change without
    /// writing memory) or a changed local.
    fn dirty(&self, r: u8) -> bool {
        self.map.contains(&r) || self.written.contains(&r)
    }
}

/// How control moves on from one function.
struct TailFlow<'a> {
    signature: &'a Signature,
    maps: &'a RegisterMaps,
    holding: Holding<'a>,
    code_bytes: usize,
}

impl TailFlow<'_> {
    /// Statements that tail-call `function`, which expects the registers of `target` in the
    /// slots.
    fn transfer(&self, function: &str, target: &[u8]) -> String {
        let mut s = String::new();
        for r in (self.holding.map.iter().chain(&self.holding.cold)).copied() {
            if !target.contains(&r) && self.holding.dirty(r) {
                write!(s, "regs[{r}] = x{r}; ").unwrap();
            }
        }
        let slots: Vec<String> = target
            .iter()
            .map(|&r| {
                if self.holding.holds(r) {
                    format!("x{r}")
                } else {
                    format!("regs[{r}]")
                }
            })
            .collect();
        let sep = if slots.is_empty() { "" } else { ", " };
        write!(
            s,
            "__attribute__((musttail)) return {function}({}{sep}{}{});",
            self.signature.head,
            slots.join(", "),
            self.signature.tail
        )
        .unwrap();
        s
    }

    fn default_map(&self) -> &[u8] {
        &self.maps.maps[0]
    }
}

impl Flow for TailFlow<'_> {
    fn to_block(&self, index: usize) -> String {
        let map = &self.maps.maps[self.maps.map_of[index] as usize];
        self.transfer(&format!("B{index}"), map)
    }

    fn to_address(&self, target: &str) -> String {
        format!(
            "ctx->pc = {target}; off = {target} - BASE; if (LIKELY(off < {}u && !(off & 3))) {{ {} }} {}",
            self.code_bytes,
            self.transfer("jt[off >> 2]", self.default_map()),
            self.transfer("rvx_exit", self.default_map())
        )
    }

    fn hand_off(&self, pc: u32, back: usize) -> String {
        format!(
            "{{ budget += {back}u; ctx->pc = {pc}u; {} }}",
            self.transfer("rvx_exit", self.default_map())
        )
    }

    fn check_point(&self, pc: u32, len: usize) -> String {
        format!(
            "ctx->pc = {pc}u; ctx->check_len = {len}u; {}",
            self.transfer("rvx_check_point", self.default_map())
        )
    }

    fn regs_to_memory(&self) -> String {
        (self.holding.map.iter().chain(&self.holding.cold))
            .map(|r| format!("        regs[{r}] = x{r};\n"))
            .collect()
    }

    fn regs_from_memory(&self) -> String {
        (self.holding.map.iter().chain(&self.holding.cold))
            .map(|r| format!("        x{r} = regs[{r}];\n"))
            .collect()
    }
}

/// Appends the block functions, the jump table and `rvx_run_<mode>`.
pub(super) fn emit(c: &mut String, lifter: &Lifter<'_>, register_args: usize) {
    let slots = register_args.saturating_sub(Signature::fixed(lifter.mode));
    let maps = RegisterMaps::new(lifter.program, slots);
    let signature = Signature::new(lifter, slots);
    let params = &signature.params;
    let len = lifter.program.code().len();
    c.push_str("#define RVX_BLOCK static __attribute__((preserve_none)) uint32_t\n");
    writeln!(
        c,
        "typedef __attribute__((preserve_none)) uint32_t (*rvx_block)({params});"
    )
    .unwrap();
    for name in ["rvx_exit", "rvx_exit_stopped", "rvx_check_point"] {
        writeln!(c, "RVX_BLOCK {name}({params});").unwrap();
    }
    // Indirect jumps come with the default map: a block using another map is entered through
    // an adapter. Addresses that are not block entries leave (`ctx->pc` says where).
    let mut entries = vec!["rvx_exit".to_string(); len];
    for block in &lifter.blocks {
        writeln!(c, "RVX_BLOCK B{}({params});", block.start).unwrap();
        entries[block.start] = if maps.map_of[block.start] == 0 {
            format!("B{}", block.start)
        } else {
            writeln!(c, "RVX_BLOCK A{}({params});", block.start).unwrap();
            format!("A{}", block.start)
        };
    }
    writeln!(
        c,
        "static const rvx_block jt[{len}] = {{\n    {}\n}};",
        entries.join(",\n    ")
    )
    .unwrap();
    emit_exits(c, lifter, &signature, &maps);
    for block in &lifter.blocks {
        if maps.map_of[block.start] != 0 {
            let flow = default_flow(lifter, &signature, &maps);
            writeln!(
                c,
                "RVX_BLOCK A{}({params}) {{\n    uint32_t* const regs = ctx->regs;\n{}    {}\n}}",
                block.start,
                slot_locals(&maps.maps[0]),
                flow.to_block(block.start)
            )
            .unwrap();
        }
        emit_block(c, lifter, &signature, &maps, block);
    }
    emit_entry(c, lifter, &signature, &maps);
}

/// A flow for code holding the default map's registers and nothing else.
fn default_flow<'a>(
    lifter: &Lifter<'_>,
    signature: &'a Signature,
    maps: &'a RegisterMaps,
) -> TailFlow<'a> {
    TailFlow {
        signature,
        maps,
        holding: Holding {
            map: &maps.maps[0],
            cold: Vec::new(),
            written: Vec::new(),
        },
        code_bytes: lifter.code_bytes(),
    }
}

/// `uint32_t xR = sK;` for each slot of `map`.
fn slot_locals(map: &[u8]) -> String {
    (map.iter().enumerate())
        .map(|(k, r)| format!("    uint32_t x{r} = s{k};\n"))
        .collect()
}

/// `rvx_exit` and `rvx_exit_stopped` (write everything back and return to Rust), and
/// `rvx_check_point` (ask Rust whether the check point inside the block at `ctx->pc` may be
/// passed, then re-enter the block or stop).
fn emit_exits(c: &mut String, lifter: &Lifter<'_>, signature: &Signature, maps: &RegisterMaps) {
    let params = &signature.params;
    for (name, status) in [
        ("rvx_exit", EXIT_HANDOFF.to_string()),
        ("rvx_exit_stopped", "ctx->stop".to_string()),
    ] {
        writeln!(
            c,
            "RVX_BLOCK {name}({params}) {{\n    uint32_t* const regs = ctx->regs;"
        )
        .unwrap();
        for (k, r) in maps.maps[0].iter().enumerate() {
            writeln!(c, "    regs[{r}] = s{k};").unwrap();
        }
        c.push_str("    ctx->budget = budget;\n");
        match lifter.mode {
            LiftMode::Pure => {}
            LiftMode::Metered => c.push_str(&lifter.save_rows()),
            LiftMode::Cost => c.push_str("    ctx->cost = ctx->max_cost - (uint64_t)cost_left;\n"),
        }
        writeln!(c, "    return {status};\n}}").unwrap();
    }
    let flow = default_flow(lifter, signature, maps);
    writeln!(
        c,
        "RVX_BLOCK rvx_check_point({params}) {{\n    uint32_t* const regs = ctx->regs; uint32_t off = ctx->pc - BASE;\n{}",
        slot_locals(&maps.maps[0])
    )
    .unwrap();
    if lifter.mode == LiftMode::Metered {
        writeln!(
            c,
            "    {} uint64_t r = ctx->pass_check_point(ctx, off, budget, ctx->check_len, pk);\n    if (UNLIKELY(r == 0)) {{ {} }}\n    budget += r;",
            lifter.store_rows("pk"),
            flow.transfer("rvx_exit_stopped", &maps.maps[0])
        )
        .unwrap();
    }
    writeln!(
        c,
        "    {}\n}}",
        flow.transfer("jt[off >> 2]", &maps.maps[0])
    )
    .unwrap();
}

/// One block's function.
fn emit_block(
    c: &mut String,
    lifter: &Lifter<'_>,
    signature: &Signature,
    maps: &RegisterMaps,
    block: &Block,
) {
    let program = lifter.program;
    let pc0 = program.pc_of(block.start);
    let map = &maps.maps[maps.map_of[block.start] as usize];
    writeln!(
        c,
        "RVX_BLOCK B{}({}) {{ /* {pc0:#x} */",
        block.start, signature.params
    )
    .unwrap();
    c.push_str("    uint32_t* const regs = ctx->regs; uint32_t t, off, xz; (void)regs; (void)t; (void)off; (void)xz;\n");
    c.push_str(&slot_locals(map));
    let mut cold = Vec::new();
    let mut written = Vec::new();
    if !block.handoff {
        for insn in &program.code()[block.start..block.end] {
            let (reads, write) = insn.register_uses();
            for r in reads.into_iter().chain([write]).flatten() {
                if !map.contains(&r) && !cold.contains(&r) {
                    cold.push(r);
                }
            }
            if let Some(r) = write.filter(|r| !map.contains(r)) {
                if !written.contains(&r) {
                    written.push(r);
                }
            }
        }
    }
    cold.sort_unstable();
    for r in &cold {
        writeln!(c, "    uint32_t x{r} = regs[{r}];").unwrap();
    }
    let flow = TailFlow {
        signature,
        maps,
        holding: Holding { map, cold, written },
        code_bytes: lifter.code_bytes(),
    };
    if block.handoff {
        writeln!(c, "    {}\n}}", flow.hand_off(pc0, 0)).unwrap();
        return;
    }
    lifter.emit_header(c, &flow, block);
    for idx in block.start..block.end {
        lifter.emit_insn(c, &flow, block, idx);
    }
    if !program.code()[block.end - 1].op.ends_block() {
        writeln!(c, "    {}", flow.to_block(block.end)).unwrap();
    }
    c.push_str("}\n");
}

/// `rvx_run_<mode>`: loads the parameters from the context and enters the block at `ctx->pc`.
fn emit_entry(c: &mut String, lifter: &Lifter<'_>, signature: &Signature, maps: &RegisterMaps) {
    let mode = lifter.mode;
    writeln!(c, "uint32_t rvx_run_{}(RvxCtx* ctx) {{", mode.name()).unwrap();
    c.push_str("    uint32_t* const regs = ctx->regs;\n    uint8_t* const mem = ctx->mem;\n    uint64_t budget = ctx->budget;\n");
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
    let slots: Vec<String> = maps.maps[0].iter().map(|r| format!("regs[{r}]")).collect();
    let sep = if slots.is_empty() { "" } else { ", " };
    writeln!(
        c,
        "    uint32_t off = ctx->pc - BASE;\n    if (UNLIKELY(off >= {}u || (off & 3))) return {EXIT_HANDOFF}u;\n    return jt[off >> 2]({}{sep}{}{});\n}}",
        lifter.code_bytes(),
        signature.head,
        slots.join(", "),
        signature.tail
    )
    .unwrap();
}
