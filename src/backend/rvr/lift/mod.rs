//! The lifter: a decoded program to one C translation unit.
//!
//! The C comes in one of two shapes ([`CStyle`]), chosen by what the compiler guarantees:
//! - [`CStyle::TailCalls`] (clang 19 and newer): one function per block ([`tail_calls`]). The
//!   most used guest registers are arguments of every block function, and a block continues
//!   with a guaranteed tail call (`musttail`) under a calling convention that passes many
//!   arguments in registers and saves none (`preserve_none`), so hot guest registers stay in
//!   host registers across blocks and every function is small for the compiler to optimise.
//! - [`CStyle::OneFunction`] (any other GNU C compiler): one function for the whole program
//!   ([`one_function`]), blocks as labels, guest registers in locals, direct branches as
//!   `goto`s, indirect jumps as computed `goto`s. It needs no tail-call guarantee; gcc
//!   optimises it well, clang does not.
//!
//! Both shapes share everything else: the statements of each instruction ([`insn`]) and each
//! block's header (budget, metering), and they differ only in how control moves on
//! ([`Flow`]).
//!
//! Each block first takes its whole length from the instruction budget, then adds what its
//! mode meters: nothing (pure), its rows to the row counters (metered), its cost (cost). A
//! block that does not fit the budget stops in pure and cost mode; in metered mode it calls
//! `rvx_pass`, which passes the segment check point inside the block when it is known to
//! pass, marking it, and otherwise stops. In cost mode the caller bounds the budget so that
//! the cost cannot pass its maximum within it.
//! A handoff instruction, a faulting access and a stop all leave with the exact pc and budget
//! ([`crate::backend::compiled`] hands the rest to the interpreter).
//!
//! Metered code keeps the packed row counters ([`PackedLayout`]) in vector registers: each
//! field is a lane, so a block adds its rows to every chip it touches with one vector add per
//! 128 (or, with AVX2, 256) bits of counters.

mod insn;
mod one_function;
mod tail_calls;

use crate::backend::compiled::abi::{self, ABI_VERSION, EXIT_CHECK_POINT, EXIT_HANDOFF};
use crate::backend::compiled::plan::RegisterMaps;
use crate::metering::{MeterTables, PackedLayout};
use crate::program::blocks::{form_blocks, form_traces, Block, Trace};
use crate::program::Program;
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

/// The shape of the generated C (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CStyle {
    /// One function for the whole program, with computed gotos.
    OneFunction,
    /// One function per block, continuing by guaranteed tail calls; `register_args` is how
    /// many integer arguments the calling convention passes in registers.
    TailCalls {
        /// Integer arguments passed in registers (12 for `preserve_none` on x86-64).
        register_args: usize,
    },
}

impl CStyle {
    /// The style's name in cache keys and reports.
    pub fn name(self) -> String {
        match self {
            CStyle::OneFunction => "one-function".to_string(),
            CStyle::TailCalls { register_args } => format!("tail-calls-{register_args}"),
        }
    }
}

/// The prefix of the symbols a generated file exports, unless another is asked for
/// ([`lift_with_prefix`]): `rvx_abi_version`, `rvx_program_fingerprint`, `rvx_run_<mode>`.
pub const DEFAULT_PREFIX: &str = "rvx_";

/// The C source of `program` for `mode`, in `style`, for a compiler that may use vectors of
/// `vector_bytes` (16, or 32 where it targets AVX2) for the row counters. It exports
/// `rvx_abi_version`, `rvx_program_fingerprint` and `rvx_run_<mode>`.
pub fn lift(program: &Program, mode: LiftMode, style: CStyle, vector_bytes: usize) -> String {
    lift_with_prefix(program, mode, style, vector_bytes, DEFAULT_PREFIX)
}

/// [`lift`], with `prefix` instead of `rvx_` before the names of the three exported symbols
/// (`<prefix>abi_version`, `<prefix>program_fingerprint`, `<prefix>run_<mode>`), so that the
/// code of several programs and modes can be linked into one binary (build.rs does so for the
/// bundled guests). Everything else the file defines is `static`. `prefix` must be a C
/// identifier prefix (letters, digits, `_`; not starting with a digit).
pub fn lift_with_prefix(
    program: &Program,
    mode: LiftMode,
    style: CStyle,
    vector_bytes: usize,
    prefix: &str,
) -> String {
    assert!(
        prefix
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            && !prefix.starts_with(|ch: char| ch.is_ascii_digit()),
        "symbol prefix {prefix:?} is not a C identifier prefix"
    );
    let mut c = String::with_capacity(program.len() * 200);
    match style {
        CStyle::OneFunction => {
            let lifter = Lifter::new(program, mode, &|_| false, vector_bytes, prefix);
            prelude(&mut c, &lifter);
            one_function::emit(&mut c, &lifter);
        }
        CStyle::TailCalls { register_args } => {
            let slots = register_args.saturating_sub(tail_calls::fixed_params(mode));
            let maps = RegisterMaps::new(program, slots);
            // A trace keeps one register map: it does not run into code using another.
            let split = |i: usize| i > 0 && maps.map_of[i] != maps.map_of[i - 1];
            let lifter = Lifter::new(program, mode, &split, vector_bytes, prefix);
            prelude(&mut c, &lifter);
            tail_calls::emit(&mut c, &lifter, &maps);
        }
    }
    c
}

/// What code generation needs besides the program.
pub(super) struct Lifter<'a> {
    program: &'a Program,
    tables: &'a MeterTables,
    mode: LiftMode,
    layout: PackedLayout,
    blocks: Vec<Block>,
    traces: Vec<Trace>,
    /// Per code index, whether a trace starts there.
    trace_head: Vec<bool>,
    /// 64-bit words per row vector: 2 (128-bit vectors), or 4 where the compiler may use
    /// 256-bit ones.
    vector_words: usize,
    /// The prefix of the exported symbols' names.
    prefix: &'a str,
}

impl<'a> Lifter<'a> {
    fn new(
        program: &'a Program,
        mode: LiftMode,
        split: &dyn Fn(usize) -> bool,
        vector_bytes: usize,
        prefix: &'a str,
    ) -> Lifter<'a> {
        let blocks = form_blocks(program, mode != LiftMode::Pure);
        let traces = form_traces(program, &blocks, split);
        let mut trace_head = vec![false; program.code().len()];
        for trace in &traces {
            trace_head[trace.start] = true;
        }
        Lifter {
            program,
            tables: program.meter_tables(),
            mode,
            layout: PackedLayout::for_program(program),
            blocks,
            traces,
            trace_head,
            vector_words: (vector_bytes / 8).clamp(2, 4),
            prefix,
        }
    }

    /// The name of the code a direct branch to code index `index` continues with: its
    /// trace's (`T`) if one starts there, else its block's (`B` or `L`, per `block`).
    fn unit_name(&self, index: usize, block: &str) -> String {
        if self.trace_head[index] {
            format!("T{index}")
        } else {
            format!("{block}{index}")
        }
    }

    /// Statements that give back what a unit ending at `end` took for the instructions
    /// `from..end` it will not run: their budget, rows and cost.
    fn give_back(&self, from: usize, end: usize) -> String {
        let mut s = format!("budget += {}u;", end - from);
        match self.mode {
            LiftMode::Pure => {}
            LiftMode::Metered => {
                let mut rows = String::new();
                self.emit_row_delta(&mut rows, from, end, "-=");
                s.push_str(&rows.replace('\n', " "));
            }
            LiftMode::Cost => {
                let cost = self.tables.range_cost(from, end);
                if cost > 0 {
                    write!(s, " cost -= (rvx_cost){{{cost}u, 0}};").unwrap();
                }
            }
        }
        s
    }

    /// Emits the instructions and the end of `unit` (a block, or a trace when `trace`).
    fn emit_unit(&self, c: &mut String, flow: &dyn Flow, unit: &Block, trace: bool) {
        self.emit_header(c, flow, unit, trace);
        for idx in unit.start..unit.end {
            self.emit_insn(c, flow, unit, idx);
        }
        if !self.program.code()[unit.end - 1].op.ends_block() {
            // Falls through into the next block.
            writeln!(c, "    {}", flow.to_block(unit.end)).unwrap();
        }
    }

    /// Number of row-counter vectors (`r0`, `r1`, ...) of metered code: 128 bits each.
    fn row_vectors(&self) -> usize {
        match self.mode {
            LiftMode::Metered => self.layout.words().div_ceil(self.vector_words),
            _ => 0,
        }
    }

    /// The row-counter vectors as a comma-separated list.
    fn row_names(&self) -> Vec<String> {
        (0..self.row_vectors()).map(|v| format!("r{v}")).collect()
    }

    /// The name of the exported entry point: `<prefix>run_<mode>`.
    fn entry_name(&self) -> String {
        format!("{}run_{}", self.prefix, self.mode.name())
    }

    /// Bytes of code indices times 4: indirect targets at or past this offset are outside the
    /// program.
    fn code_bytes(&self) -> usize {
        4 * self.program.code().len()
    }

    /// Statements that store the row vectors into `pk`, an array of `2 * row_vectors` words
    /// declared by the statements.
    pub(super) fn store_rows(&self, pk: &str) -> String {
        let vw = self.vector_words;
        let mut s = format!("uint64_t {pk}[{}];", vw * self.row_vectors());
        for v in 0..self.row_vectors() {
            write!(
                s,
                " __builtin_memcpy({pk} + {}, &r{v}, {});",
                vw * v,
                8 * vw
            )
            .unwrap();
        }
        s
    }

    /// Statements declaring the row vectors and loading them from `ctx->packed`.
    fn load_rows(&self) -> String {
        let (vectors, vw) = (self.row_vectors(), self.vector_words);
        let mut s = format!(
            "    uint64_t pk_in[{}] = {{0}};\n    __builtin_memcpy(pk_in, ctx->packed, {});\n",
            vw * vectors,
            8 * self.layout.words()
        );
        for v in 0..vectors {
            writeln!(
                s,
                "    rvx_lanes r{v}; __builtin_memcpy(&r{v}, pk_in + {}, {});",
                vw * v,
                8 * vw
            )
            .unwrap();
        }
        s
    }

    /// Statements writing the row vectors back to `ctx->packed`.
    fn save_rows(&self) -> String {
        format!(
            "    {{ {} __builtin_memcpy(ctx->packed, pk_out, {}); }}\n",
            self.store_rows("pk_out"),
            8 * self.layout.words()
        )
    }

    /// The statements of a unit's header: take its length from the budget and add what the
    /// mode meters. A block that does not fit stops (or in metered mode passes the check
    /// point inside it); a trace that does not fit continues with its first block alone.
    fn emit_header(&self, c: &mut String, flow: &dyn Flow, block: &Block, trace: bool) {
        let pc0 = self.program.pc_of(block.start);
        let len = block.len();
        // Subtract, then test the sign: one fused instruction on the hot path. The budget
        // stays below 2^63 (the caller clamps it).
        writeln!(c, "    budget -= {len}u;").unwrap();
        let does_not_fit = match trace {
            true => format!(
                "{{ budget += {len}u; {} }}",
                flow.to_first_block(block.start)
            ),
            false => flow.hand_off(pc0, len),
        };
        match self.mode {
            LiftMode::Metered if trace => {
                writeln!(c, "    if (UNLIKELY((int64_t)budget < 0)) {does_not_fit}").unwrap();
                if !flow.defers_rows() {
                    self.emit_row_delta(c, block.start, block.end, "+=");
                }
            }
            LiftMode::Metered => {
                // The counters go by pointer: vectors passed by value would not survive the call
                // (clang 19 clears their upper halves on return from `preserve_all` functions).
                writeln!(
                    c,
                    "    if (UNLIKELY((int64_t)budget < 0)) {{ budget += {len}u; {} uint64_t r = rvx_pass(ctx, {}u, budget, {len}u, pk); if (UNLIKELY(r == 0)) {{ {} }} budget += r - {len}u; }}",
                    self.store_rows("pk"),
                    pc0 - self.program.base(),
                    flow.stopped(pc0)
                )
                .unwrap();
                self.emit_row_delta(c, block.start, block.end, "+=");
            }
            LiftMode::Pure | LiftMode::Cost => {
                writeln!(c, "    if (UNLIKELY((int64_t)budget < 0)) {does_not_fit}").unwrap();
            }
        }
        if self.mode == LiftMode::Cost {
            // The budget is bounded so that no block within it can take the cost past its
            // maximum (see `CompiledCode::run`): the cost is only added up, in a vector
            // register, which costs no general register and no test.
            let cost = self.tables.range_cost(block.start, block.end);
            if cost > 0 {
                writeln!(c, "    cost += (rvx_cost){{{cost}u, 0}};").unwrap();
            }
        }
    }

    /// `rN += (rvx_lanes){...};` (or another `op`) for each row vector the fixed rows of
    /// instructions `start..end` touch.
    fn emit_row_delta(&self, c: &mut String, start: usize, end: usize, op: &str) {
        let words = self.range_words(start, end);
        for (v, lanes) in self.vector_literals(&words).iter().enumerate() {
            if let Some(lanes) = lanes {
                writeln!(c, "    r{v} {op} {lanes};").unwrap();
            }
        }
    }

    /// What the fixed rows of instructions `start..end` add to each packed counter word.
    fn range_words(&self, start: usize, end: usize) -> Vec<u64> {
        self.layout.range_words(&self.tables.fetch_chip[start..end])
    }

    /// Statements adding the rows of `unit` once per time it took its length from the budget
    /// since the budget was `rvx_b0` (rounded up: a unit that gave part of its length back
    /// still counts, its give-back subtracts the rest).
    fn settle_rows(&self, unit: &Block) -> String {
        let len = unit.len();
        let words = self.range_words(unit.start, unit.end);
        let mut s = format!(
            "{{ rvx_lane n_ = (rvx_lane)((rvx_b0 - budget + {}u) / {len}u);",
            len - 1
        );
        for (v, lanes) in self.vector_literals(&words).iter().enumerate() {
            if let Some(lanes) = lanes {
                write!(s, " r{v} += {lanes} * n_;").unwrap();
            }
        }
        s.push_str(" } ");
        s
    }

    /// Packed counter `words` as one `(rvx_lanes){...}` literal per row vector (`None` where
    /// all its lanes are zero).
    fn vector_literals(&self, words: &[u64]) -> Vec<Option<String>> {
        let bits = self.layout.field_bits();
        let per_word = 64 / bits as usize;
        let per_vector = 64 * self.vector_words / bits as usize;
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let mut lanes = vec![0u64; self.row_vectors() * per_vector];
        for (word, &value) in words.iter().enumerate() {
            for field in 0..per_word {
                lanes[word * per_word + field] = (value >> (field as u32 * bits)) & mask;
            }
        }
        lanes
            .chunks(per_vector)
            .map(|lanes| {
                lanes.iter().any(|&l| l != 0).then(|| {
                    let list: Vec<String> = lanes.iter().map(|l| format!("{l}u")).collect();
                    format!("(rvx_lanes){{{}}}", list.join(", "))
                })
            })
            .collect()
    }
}

/// How generated code moves on from a point inside a block: the one thing the C styles do
/// differently. Each method returns C statements.
pub(super) trait Flow {
    /// Continue with the code a direct branch to code index `index` takes: the trace starting
    /// there, if any, else the block.
    fn to_block(&self, index: usize) -> String;
    /// Continue with the block starting at code index `index` alone (not its trace).
    fn to_first_block(&self, index: usize) -> String;
    /// Continue at the guest address held in the C variable `target` (an indirect jump;
    /// anything but a block entry hands off there).
    fn to_address(&self, target: &str) -> String;
    /// Give the instruction at `pc` to the interpreter, returning `back` instructions to the
    /// budget (the instruction's and those after it in the block that took them).
    fn hand_off(&self, pc: u32, back: usize) -> String;
    /// Stop before the block at `pc` with the status `rvx_pass` left in `ctx->stop`.
    fn stopped(&self, pc: u32) -> String;
    /// Whether the code adds the rows of the unit being emitted on its way out rather than in
    /// its header (a trace that loops on itself, see `tail_calls`).
    fn defers_rows(&self) -> bool {
        false
    }
    /// Write every guest register to `regs` (before a call that reads or writes them).
    fn regs_to_memory(&self) -> String;
    /// Read every guest register back from `regs` (after such a call).
    fn regs_from_memory(&self) -> String;
}

/// `RVX_LEAVE_AVX()`: clang compiles with `-mno-vzeroupper` where it uses AVX, because it
/// clears the upper halves of vector registers on return from `preserve_all` functions, which
/// must keep them (the row counters live there); so the code clears them itself where it
/// calls or returns to code that may use the older SSE encodings (Rust), as the ABI expects.
const LEAVE_AVX: &str = r#"#if defined(__clang__) && defined(__AVX__)
#define RVX_LEAVE_AVX() __builtin_ia32_vzeroupper()
#else
#define RVX_LEAVE_AVX() ((void)0)
#endif
"#;

/// `RVX_COLD`: the attributes of the metering functions blocks call on their cold paths. They
/// keep every register (clang's `preserve_all`; gcc's `no_caller_saved_registers` on x86,
/// which allows general registers only), so a block calling one saves nothing around the call
/// and its hot path needs no stack frame.
const COLD: &str = r#"
#if defined(__clang__)
#define RVX_COLD static __attribute__((preserve_all, noinline, cold))
#elif defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define RVX_COLD static __attribute__((no_caller_saved_registers, target("general-regs-only"), noinline, cold))
#else
#define RVX_COLD static __attribute__((noinline, cold))
#endif
"#;

/// The slow path of a page touch in metered code (see `insn::emit_touch`): the page was not
/// touched in the current check interval. `left` is what was left to the next stop when the
/// instruction started; more than `ctx->refill` means it ran before the last check point
/// passed, in the block that holds it, so the page counts in the segment and at the check
/// point's mark but not in the new interval. Returns 0 when the list of the interval's pages is
/// full (the caller hands the instruction to the interpreter, which makes room), or when a new
/// page takes the segment past the pages that let the code skip check points (`rvx_pass`).
///
/// These are the rules of `touch_before` and `touch_new` in `backend/compiled/calls.rs`,
/// inlined: every check interval touches its pages anew, so this path is warm in code that
/// walks memory, and a call costs more than it.
const TOUCH_SLOW: &str = r#"
static inline __attribute__((always_inline)) int rvx_touch(RvxCtx* ctx, uint32_t page, uint64_t left) {
    if (UNLIKELY(left > ctx->refill)) {
        if (ctx->segment_of[page] != ctx->segment) { ctx->segment_of[page] = ctx->segment; ctx->in_segment++; ctx->mark_pages++; }
        return 1;
    }
    if (UNLIKELY(ctx->recent_len == ctx->recent_cap)) return 0;
    if (ctx->segment_of[page] != ctx->segment) {
        /* Past the pages that let the code run past check points: the next check point still
           passes, but the one after may not, so the next must be checked (and marked) on its
           own: hand over to the interpreter, which stops there. */
        if (UNLIKELY(ctx->in_segment >= ctx->page_soft)) return 0;
        ctx->segment_of[page] = ctx->segment; ctx->in_segment++;
    }
    ctx->interval_of[page] = ctx->interval;
    ctx->recent[ctx->recent_len++] = page;
    return 1;
}
"#;

/// `rvx_pass`, which a metered block that does not fit the budget calls: it passes the check
/// point inside the block when it is known to pass and the block fits before the next stop
/// (marking the check point, starting a new page interval, and returning the instructions
/// from it to the next stop), and otherwise returns 0 with the exit status in `ctx->stop`.
/// These are the rules of `pass_check_point` in `backend/compiled/calls.rs`, with the
/// program's check interval and the layout's guard bits as constants, and one more: where
/// the counters and pages leave room for it, the next stop is several check points ahead
/// (the check points between are known to pass, so no segment can end there).
fn emit_pass(c: &mut String, lifter: &Lifter<'_>) {
    let check = (lifter.program.config().system().segmentation).segment_check_insns;
    writeln!(
        c,
        "RVX_COLD uint64_t rvx_pass(RvxCtx* restrict ctx, uint32_t off, uint64_t budget, uint64_t len, const uint64_t* restrict pk) {{"
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
    let masks = lifter.layout.guard_masks();
    let guards: Vec<String> = (masks.iter().enumerate())
        .map(|(w, mask)| format!("(pk[{w}] & {mask}ull)"))
        .collect();
    if !guards.is_empty() {
        writeln!(c, "    if ({}) return 0;", guards.join(" | ")).unwrap();
    }
    c.push_str("    ctx->passes++;\n");
    writeln!(
        c,
        "    __builtin_memcpy(ctx->mark_packed, pk, {});",
        8 * masks.len()
    )
    .unwrap();
    c.push_str("    ctx->mark_block = off >> 2;\n    ctx->mark_before = (uint32_t)budget;\n    ctx->mark_pages = ctx->in_segment;\n");
    c.push_str(
        "    ctx->interval++;\n    ctx->recent_len = 0;\n    ctx->mark_at = ctx->stop_at;\n",
    );
    // How far the code may now run without stopping at the check points on the way: as long
    // as each of them, and the one after it, is known to pass, none of them can be where a
    // segment is cut, so none needs a mark. An instruction adds at most one row to each chip,
    // so the rows allow as many instructions as the fullest chip has room for. An instruction
    // touches at most one new page, so while the segment's pages stay an interval below the
    // page room the next check point passes too: `rvx_touch` stops the code where a new page
    // would pass that. (Extension instructions reporting their own rows break both rules.)
    if !lifter.tables.reported_chips.is_empty() {
        // Unless extension instructions may add many rows, or touch many pages, at once: they
        // run between calls of this code (`backend/compiled/reported.rs`), which needs the
        // last check point before them marked, and the next one checked.
        c.push_str("    ctx->page_soft = UINT32_MAX;\n");
        c.push_str("    ctx->stop_at += refill;\n    ctx->to_end -= refill;\n    ctx->refill = refill;\n    return refill;\n}\n");
        return;
    }
    let guard = 1u64 << (lifter.layout.field_bits() - 1);
    let per_word = 64 / lifter.layout.field_bits();
    let mask = if per_word == 1 {
        u64::MAX
    } else {
        (1u64 << lifter.layout.field_bits()) - 1
    };
    // The pages first: when they leave no room for a longer run (late in a segment, where
    // every check point is passed here), the rows need not be looked at.
    writeln!(
        c,
        "    uint64_t soft = ctx->page_limit > {check}ull ? ctx->page_limit - {check}ull : 0;\n    ctx->page_soft = UINT32_MAX;\n    if (ctx->in_segment < soft) {{\n        uint64_t room = UINT64_MAX;"
    )
    .unwrap();
    for (w, &m) in masks.iter().enumerate() {
        for f in 0..per_word {
            let shift = f * lifter.layout.field_bits();
            if (m >> shift) & mask != 0 {
                writeln!(
                    c,
                    "        {{ uint64_t v = (pk[{w}] >> {shift}) & {mask}ull; if ({guard}ull - v < room) room = {guard}ull - v; }}"
                )
                .unwrap();
            }
        }
    }
    writeln!(
        c,
        "        if (room / {check}ull >= 2) {{ uint64_t span = room / {check}ull * {check}ull; refill = ctx->to_end < span ? ctx->to_end : span; ctx->page_soft = (uint32_t)soft; }}\n    }}"
    )
    .unwrap();
    c.push_str("    ctx->stop_at += refill;\n    ctx->to_end -= refill;\n    ctx->refill = refill;\n    return refill;\n}\n");
}

/// What every generated file starts with: headers, helpers, the context's declaration and the
/// symbols the loader checks.
fn prelude(c: &mut String, lifter: &Lifter<'_>) {
    let program = lifter.program;
    let memory = program.config().system().memory_size();
    c.push_str("/* Generated by rvx: do not edit. */\n#include <stdint.h>\n#include <stddef.h>\n");
    c.push_str("#define LIKELY(x) __builtin_expect(!!(x), 1)\n#define UNLIKELY(x) __builtin_expect(!!(x), 0)\n");
    c.push_str(LEAVE_AVX);
    writeln!(c, "#define BASE {}u", program.base()).unwrap();
    writeln!(c, "#define MEM_SIZE {memory}ull").unwrap();
    c.push_str(&abi::c_declaration());
    let prefix = lifter.prefix;
    writeln!(c, "const uint32_t {prefix}abi_version = {ABI_VERSION};").unwrap();
    writeln!(
        c,
        "const uint64_t {prefix}program_fingerprint = {}ull;",
        program.fingerprint()
    )
    .unwrap();
    if lifter.mode == LiftMode::Cost {
        c.push_str("typedef uint64_t rvx_cost __attribute__((vector_size(16)));\n");
    }
    if lifter.mode == LiftMode::Metered {
        let lane = match lifter.layout.field_bits() {
            16 => "uint16_t",
            32 => "uint32_t",
            _ => "uint64_t",
        };
        writeln!(
            c,
            "typedef {lane} rvx_lane;\ntypedef {lane} rvx_lanes __attribute__((vector_size({})));",
            8 * lifter.vector_words
        )
        .unwrap();
        c.push_str(COLD);
        c.push_str(TOUCH_SLOW);
        emit_pass(c, lifter);
    }
    c.push_str(concat!(
        "static inline uint32_t ld32(const uint8_t* m, uint32_t a) { uint32_t v; __builtin_memcpy(&v, m + a, 4); return v; }\n",
        "static inline uint32_t ld16(const uint8_t* m, uint32_t a) { uint16_t v; __builtin_memcpy(&v, m + a, 2); return v; }\n",
        "static inline void st32(uint8_t* m, uint32_t a, uint32_t v) { __builtin_memcpy(m + a, &v, 4); }\n",
        "static inline void st16(uint8_t* m, uint32_t a, uint32_t v) { uint16_t w = (uint16_t)v; __builtin_memcpy(m + a, &w, 2); }\n",
        "static inline uint32_t div32(uint32_t a, uint32_t b) { if (b == 0) return 0xffffffffu; if (a == 0x80000000u && b == 0xffffffffu) return a; return (uint32_t)((int32_t)a / (int32_t)b); }\n",
        "static inline uint32_t rem32(uint32_t a, uint32_t b) { if (b == 0) return a; if (a == 0x80000000u && b == 0xffffffffu) return 0; return (uint32_t)((int32_t)a % (int32_t)b); }\n",
    ));
}
