//! [`CStyle::TailCalls`](super::CStyle::TailCalls): one C function per block, in clang's
//! `preserve_none` calling convention, continuing with guaranteed tail calls (`musttail`).
//!
//! Every block function has the same parameters: the context, guest memory, the instruction
//! budget, the register slots `s0`, `s1`, ... (as many as the convention passes in
//! registers), and in metered mode the row-counter vectors, in cost mode the cost (both passed
//! in vector registers). Which guest register each slot holds depends on the code
//! ([`RegisterMaps`]): a hot loop keeps its own registers in the slots. A block reads the
//! other guest registers it uses from `ctx->regs` into locals, and when it moves on it passes
//! the next code's registers in the slots and writes back to `ctx->regs` whatever that code
//! does not take in a slot.
//!
//! Indirect jumps, the entry from Rust and every exit use the default map (map 0); a block
//! using another map is entered indirectly through an adapter function. The only calls on the
//! way from block to block are to the metering functions of cold paths, which keep every
//! register, so blocks need no stack frame.

use super::{Flow, LiftMode, Lifter};
use crate::backend::compiled::abi::EXIT_HANDOFF;
use crate::backend::compiled::plan::RegisterMaps;
use crate::program::blocks::Block;
use crate::program::decode::BranchKind;
use std::fmt::Write;

/// The parameters every block function shares.
struct Signature {
    /// `RvxCtx* ctx, uint64_t budget, ...`.
    params: String,
    /// The arguments before the slots: `ctx, budget`.
    head: String,
    /// The arguments after the slots: the row vectors.
    tail: String,
}

impl Signature {
    fn new(lifter: &Lifter<'_>, slots: usize) -> Signature {
        let head = ["ctx", "budget"];
        let mut params = vec![
            // Guest memory, the context and the guest registers never overlap: `restrict` lets
            // the compiler keep context fields in registers across guest stores.
            "RvxCtx* restrict ctx".to_string(),
            "uint64_t budget".to_string(),
        ];
        params.extend((0..slots).map(|k| format!("uint32_t s{k}")));
        let mut rows = lifter.row_names();
        if lifter.mode == LiftMode::Cost {
            rows.push("cost".to_string());
        }
        params.extend(rows.iter().map(|r| match r.as_str() {
            "cost" => "rvx_cost cost".to_string(),
            _ => format!("rvx_lanes {r}"),
        }));
        Signature {
            params: params.join(", "),
            head: head.join(", "),
            tail: rows.iter().map(|r| format!(", {r}")).collect(),
        }
    }
}

/// Integer parameters of every block function besides the register slots: the context and
/// the budget (guest memory is a context field, which `restrict` lets the compiler load once
/// per block; counters travel in vector registers).
pub(super) fn fixed_params(_mode: LiftMode) -> usize {
    2
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
    lifter: &'a Lifter<'a>,
    signature: &'a Signature,
    maps: &'a RegisterMaps,
    holding: Holding<'a>,
    code_bytes: usize,
    /// For a metered trace that branches back to its own start: that start, and the statements
    /// adding its rows for every pass, which every way out runs first.
    self_loop: Option<(usize, String)>,
}

impl TailFlow<'_> {
    /// Statements that tail-call `function`, which expects the registers of `target` in the
    /// slots.
    fn transfer(&self, function: &str, target: &[u8]) -> String {
        let mut s = String::new();
        if let Some((_, settle)) = &self.self_loop {
            s.push_str(settle);
        }
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

    /// Statements that start the function over with the registers it expects (`target`) in
    /// its slots: a trace looping on itself, as a loop of the function rather than a tail call
    /// to it, so that its rows need not be added on every pass.
    fn loop_back(&self, target: &[u8]) -> String {
        let mut s = String::new();
        for r in (self.holding.map.iter().chain(&self.holding.cold)).copied() {
            if !target.contains(&r) && self.holding.dirty(r) {
                write!(s, "regs[{r}] = x{r}; ").unwrap();
            }
        }
        for (k, &r) in target.iter().enumerate() {
            if self.holding.holds(r) {
                write!(s, "s{k} = x{r}; ").unwrap();
            } else {
                write!(s, "s{k} = regs[{r}]; ").unwrap();
            }
        }
        s.push_str("goto rvx_loop;");
        s
    }
}

impl Flow for TailFlow<'_> {
    fn to_block(&self, index: usize) -> String {
        let map = &self.maps.maps[self.maps.map_of[index] as usize];
        match &self.self_loop {
            Some((start, _)) if *start == index => self.loop_back(map),
            _ => self.transfer(&self.lifter.unit_name(index, "B"), map),
        }
    }

    fn to_first_block(&self, index: usize) -> String {
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

    fn stopped(&self, pc: u32) -> String {
        format!(
            "ctx->pc = {pc}u; {}",
            self.transfer("rvx_exit_stopped", self.default_map())
        )
    }

    fn defers_rows(&self) -> bool {
        self.self_loop.is_some()
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

/// Appends the block and trace functions, the jump table and `rvx_run_<mode>`, for register
/// `maps`.
pub(super) fn emit(c: &mut String, lifter: &Lifter<'_>, maps: &RegisterMaps) {
    let signature = Signature::new(lifter, maps.maps[0].len());
    let params = &signature.params;
    let len = lifter.program.code().len();
    c.push_str("#define RVX_BLOCK static __attribute__((preserve_none)) uint32_t\n");
    writeln!(
        c,
        "typedef __attribute__((preserve_none)) uint32_t (*rvx_block)({params});"
    )
    .unwrap();
    for name in ["rvx_exit", "rvx_exit_stopped"] {
        writeln!(c, "RVX_BLOCK {name}({params});").unwrap();
    }
    // Indirect jumps come with the default map: a block using another map is entered through
    // an adapter. Addresses that are not block entries leave (`ctx->pc` says where).
    let mut entries = vec!["rvx_exit".to_string(); len];
    for trace in &lifter.traces {
        writeln!(c, "RVX_BLOCK T{}({params});", trace.start).unwrap();
    }
    for block in &lifter.blocks {
        writeln!(c, "RVX_BLOCK B{}({params});", block.start).unwrap();
        entries[block.start] = if maps.map_of[block.start] == 0 {
            lifter.unit_name(block.start, "B")
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
    emit_exits(c, lifter, &signature, maps);
    for block in &lifter.blocks {
        if maps.map_of[block.start] != 0 {
            let flow = default_flow(lifter, &signature, maps);
            writeln!(
                c,
                "RVX_BLOCK A{}({params}) {{\n    uint32_t* restrict const regs = ctx->regs;\n{}    {}\n}}",
                block.start,
                slot_locals(&maps.maps[0]),
                flow.to_block(block.start)
            )
            .unwrap();
        }
        emit_unit(c, lifter, &signature, maps, block, false);
    }
    for trace in &lifter.traces {
        let unit = Block {
            start: trace.start,
            end: trace.end,
            handoff: false,
        };
        emit_unit(c, lifter, &signature, maps, &unit, true);
    }
    emit_entry(c, lifter, &signature, maps);
}

/// A flow for code holding the default map's registers and nothing else.
fn default_flow<'a>(
    lifter: &'a Lifter<'a>,
    signature: &'a Signature,
    maps: &'a RegisterMaps,
) -> TailFlow<'a> {
    TailFlow {
        lifter,
        signature,
        maps,
        holding: Holding {
            map: &maps.maps[0],
            cold: Vec::new(),
            written: Vec::new(),
        },
        code_bytes: lifter.code_bytes(),
        self_loop: None,
    }
}

/// `uint32_t xR = sK;` for each slot of `map`.
fn slot_locals(map: &[u8]) -> String {
    (map.iter().enumerate())
        .map(|(k, r)| format!("    uint32_t x{r} = s{k};\n"))
        .collect()
}

/// `rvx_exit` and `rvx_exit_stopped`: write everything back and return to Rust.
fn emit_exits<'a>(
    c: &mut String,
    lifter: &'a Lifter<'a>,
    signature: &'a Signature,
    maps: &'a RegisterMaps,
) {
    let params = &signature.params;
    for (name, status) in [
        ("rvx_exit", EXIT_HANDOFF.to_string()),
        ("rvx_exit_stopped", "ctx->stop".to_string()),
    ] {
        writeln!(
            c,
            "RVX_BLOCK {name}({params}) {{\n    uint32_t* restrict const regs = ctx->regs;"
        )
        .unwrap();
        for (k, r) in maps.maps[0].iter().enumerate() {
            writeln!(c, "    regs[{r}] = s{k};").unwrap();
        }
        c.push_str("    ctx->budget = budget;\n");
        match lifter.mode {
            LiftMode::Pure => {}
            LiftMode::Metered => c.push_str(&lifter.save_rows()),
            LiftMode::Cost => c.push_str("    ctx->cost += cost[0];\n"),
        }
        writeln!(c, "    return {status};\n}}").unwrap();
    }
}

/// The function of a block, or of a trace (`T`) when `trace`.
fn emit_unit<'a>(
    c: &mut String,
    lifter: &'a Lifter<'a>,
    signature: &'a Signature,
    maps: &'a RegisterMaps,
    block: &Block,
    trace: bool,
) {
    let program = lifter.program;
    let pc0 = program.pc_of(block.start);
    let map = &maps.maps[maps.map_of[block.start] as usize];
    writeln!(
        c,
        "RVX_BLOCK {}{}({}) {{ /* {pc0:#x} */",
        if trace { "T" } else { "B" },
        block.start,
        signature.params
    )
    .unwrap();
    // A metered trace that branches back to its start loops inside its function, and adds
    // its rows on the way out, for all its passes at once (one add per row vector per pass
    // costs hot loops about a third of their speed).
    // Only its last instruction may branch back: a side exit back to the start would give
    // back part of a pass, which the rows added on the way out count whole.
    let branches_back = |insn: &crate::program::Insn| {
        BranchKind::of_direct(insn.op).is_some() && insn.imm as usize == block.start
    };
    let code = &program.code()[block.start..block.end];
    let loops_on_itself = trace
        && lifter.mode == LiftMode::Metered
        && code.last().is_some_and(branches_back)
        && !code[..code.len() - 1].iter().any(branches_back);
    let self_loop = loops_on_itself.then(|| {
        c.push_str("    const uint64_t rvx_b0 = budget;\nrvx_loop: ;\n");
        (block.start, lifter.settle_rows(block))
    });
    c.push_str("    uint32_t* restrict const regs = ctx->regs; uint8_t* restrict const mem = ctx->mem; uint32_t t, off, xz; (void)regs; (void)mem; (void)t; (void)off; (void)xz;\n");
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
        lifter,
        signature,
        maps,
        holding: Holding { map, cold, written },
        code_bytes: lifter.code_bytes(),
        self_loop,
    };
    if block.handoff {
        writeln!(c, "    {}\n}}", flow.hand_off(pc0, 0)).unwrap();
        return;
    }
    lifter.emit_unit(c, &flow, block, trace);
    c.push_str("}\n");
}

/// The entry point (`rvx_run_<mode>`, see [`Lifter::entry_name`]): loads the parameters from the context and enters the block at `ctx->pc`.
fn emit_entry(c: &mut String, lifter: &Lifter<'_>, signature: &Signature, maps: &RegisterMaps) {
    let mode = lifter.mode;
    writeln!(c, "uint32_t {}(RvxCtx* ctx) {{", lifter.entry_name()).unwrap();
    c.push_str(
        "    uint32_t* restrict const regs = ctx->regs;\n    uint64_t budget = ctx->budget;\n",
    );
    match mode {
        LiftMode::Pure => {}
        LiftMode::Metered => {
            // (`refill` and `passes` are set by the caller: a call may go on after an
            // extension instruction ran between two calls, see `backend/compiled/reported.rs`.)
            c.push_str(&lifter.load_rows());
        }
        LiftMode::Cost => c.push_str("    rvx_cost cost = {0, 0};\n"),
    }
    let slots: Vec<String> = maps.maps[0].iter().map(|r| format!("regs[{r}]")).collect();
    let sep = if slots.is_empty() { "" } else { ", " };
    writeln!(
        c,
        "    uint32_t off = ctx->pc - BASE;\n    if (UNLIKELY(off >= {}u || (off & 3))) return {EXIT_HANDOFF}u;\n    uint32_t status = jt[off >> 2]({}{sep}{}{});\n    RVX_LEAVE_AVX();\n    return status;\n}}",
        lifter.code_bytes(),
        signature.head,
        slots.join(", "),
        signature.tail
    )
    .unwrap();
}
