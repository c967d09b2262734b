//! The interface between rvx and a recompiled program: one `#[repr(C)]` context struct, whose C
//! declaration is generated from the Rust one (offsets checked with `_Static_assert` when the C
//! compiles), and the exit codes of `rvx_run`.

use std::ffi::c_void;
use std::mem::offset_of;

/// Bump when the generated code or this interface changes: it is part of every cache key and
/// exported by every library, and the loader refuses a library built for another version.
pub const ABI_VERSION: u32 = 5;

/// `rvx_run` stopped where the interpreter must take over: at a block that does not fit the
/// budget (or the cost limit), an instruction the recompiled code does not execute itself
/// (system, IO and faulting instructions), or an address that is not a block entry.
pub const EXIT_HANDOFF: u32 = 1;

/// What a custom-instruction callback returns: continue with the next instruction.
pub const CUSTOM_CONTINUE: u32 = 0;
/// What a custom-instruction callback returns: continue at `RvxCtx::pc`.
pub const CUSTOM_JUMP: u32 = 1;
/// What a custom-instruction callback returns: the instruction faulted (nothing changed); the
/// interpreter re-executes it to report the error.
pub const CUSTOM_FAULT: u32 = 2;

/// `rvx_run` stopped at a block that holds a check point it may not pass on its own (metered
/// mode): the check may fail, or its packed counters are full. The state is at the block's
/// start, before the check point.
pub const EXIT_CHECK_POINT: u32 = 2;

/// Executes custom instruction `index` at `pc` on the registers `regs` (32 words).
pub type CustomFn = extern "C" fn(host: *mut c_void, index: u32, pc: u32, regs: *mut u32) -> u32;

/// The context `rvx_run` receives: where the machine state lives and what the mode meters.
#[repr(C)]
pub struct RvxCtx {
    /// The 32 guest registers (`VmState::regs`), read on entry and written back on exit.
    pub regs: *mut u32,
    /// Guest memory.
    pub mem: *mut u8,
    /// In: instructions to the first stop (the run's end, or in metered mode the next check
    /// point if earlier); out: instructions left to it.
    pub budget: u64,
    /// In/out: instructions from that stop to the run's end.
    pub to_end: u64,
    /// In: where to start; out: where execution stopped.
    pub pc: u32,
    /// Metered mode, out: check points passed.
    pub passes: u32,
    /// Metered mode: the exit status when a check point stops the code.
    pub stop: u32,
    /// Metered mode, in: check points that may be passed (they are known to pass).
    pub max_passes: u32,
    /// Metered mode: the instructions from the last check point passed to the next stop.
    pub refill: u64,
    /// Metered mode, in: the most pages the segment may hold at a passed check point.
    pub page_limit: u32,
    /// Metered mode: while code runs past check points without stopping at each (see
    /// `rvx_pass` in the recompiler), the most pages the segment may hold before it must
    /// stop skipping them; `u32::MAX` when it stops at every check point.
    pub page_soft: u32,
    /// Metered mode, out: the packed row counters ([`crate::metering::PackedLayout`]).
    pub packed: *mut u64,
    /// Metered mode, out: the packed counters at the last check point passed...
    pub mark_packed: *mut u64,
    /// ...the code index of the block that held it...
    pub mark_block: u32,
    /// ...how many of that block's instructions ran before it...
    pub mark_before: u32,
    /// ...and the pages in the segment there.
    pub mark_pages: u32,
    /// Metered mode, in/out: the current check interval's id ([`crate::metering::RawPages`]).
    pub interval: u32,
    /// Metered mode: per page, the id of the last interval that touched it.
    pub interval_of: *mut u32,
    /// Metered mode: per page, the id of the last segment that touched it.
    pub segment_of: *mut u32,
    /// Metered mode: the open segment's id.
    pub segment: u32,
    /// Metered mode, in/out: pages in the open segment.
    pub in_segment: u32,
    /// Metered mode: the pages touched in the current interval.
    pub recent: *mut u32,
    /// Metered mode, in/out: length of `recent`.
    pub recent_len: u32,
    /// Metered mode: room in `recent`.
    pub recent_cap: u32,
    /// Metered mode: the page tracker, for growing `recent`.
    pub meter: *mut c_void,
    /// Metered mode, in/out: the instret of the next stop (a check point, or the run's end).
    pub stop_at: u64,
    /// Metered mode, out: the instret of the last check point passed.
    pub mark_at: u64,
    /// Cost mode: in/out cost so far.
    pub cost: u64,
    /// Cost mode: the maximum cost.
    pub max_cost: u64,
    /// Custom instructions: passed to `custom`.
    pub host: *mut c_void,
    /// Executes a custom instruction.
    pub custom: Option<CustomFn>,
}

impl RvxCtx {
    /// Cost mode: shrinks the budget so that no instruction within it can take the cost past
    /// the maximum (each adds at most `per_insn`), moving the rest beyond it (cost code never
    /// takes it back). Code that only adds the cost up then needs no test, and the last
    /// instructions before the maximum run in the interpreter, which stops exactly.
    pub(crate) fn bound_budget_by_cost(&mut self, per_insn: u64) {
        let room = match self.max_cost.checked_sub(self.cost) {
            Some(left) => left.checked_div(per_insn),
            None => Some(0),
        };
        if let Some(room) = room.filter(|&room| room < self.budget) {
            self.to_end += self.budget - room;
            self.budget = room;
        }
    }
}

/// The C declaration of [`RvxCtx`], with its offsets checked against the Rust layout.
pub fn c_declaration() -> String {
    macro_rules! field {
        ($ty:expr, $name:ident) => {
            ($ty, stringify!($name), offset_of!(RvxCtx, $name))
        };
    }
    let fields: Vec<(&str, &str, usize)> = vec![
        field!("uint32_t*", regs),
        field!("uint8_t*", mem),
        field!("uint64_t", budget),
        field!("uint64_t", to_end),
        field!("uint32_t", pc),
        field!("uint32_t", passes),
        field!("uint32_t", stop),
        field!("uint32_t", max_passes),
        field!("uint64_t", refill),
        field!("uint32_t", page_limit),
        field!("uint32_t", page_soft),
        field!("uint64_t*", packed),
        field!("uint64_t*", mark_packed),
        field!("uint32_t", mark_block),
        field!("uint32_t", mark_before),
        field!("uint32_t", mark_pages),
        field!("uint32_t", interval),
        field!("uint32_t*", interval_of),
        field!("uint32_t*", segment_of),
        field!("uint32_t", segment),
        field!("uint32_t", in_segment),
        field!("uint32_t*", recent),
        field!("uint32_t", recent_len),
        field!("uint32_t", recent_cap),
        field!("void*", meter),
        field!("uint64_t", stop_at),
        field!("uint64_t", mark_at),
        field!("uint64_t", cost),
        field!("uint64_t", max_cost),
        field!("void*", host),
        (
            "uint32_t (*custom)(void*, uint32_t, uint32_t, uint32_t*)",
            "",
            offset_of!(RvxCtx, custom),
        ),
    ];
    let mut out = String::from("typedef struct RvxCtx {\n");
    for (ty, name, _) in &fields {
        if name.is_empty() {
            out.push_str(&format!("    {ty};\n"));
        } else {
            out.push_str(&format!("    {ty} {name};\n"));
        }
    }
    out.push_str("} RvxCtx;\n");
    for (ty, name, offset) in &fields {
        let name = if name.is_empty() {
            // "uint32_t (*custom)(...)" -> "custom"
            ty.split("(*")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .unwrap_or("")
        } else {
            name
        };
        out.push_str(&format!(
            "_Static_assert(offsetof(RvxCtx, {name}) == {offset}, \"RvxCtx.{name} offset\");\n"
        ));
    }
    out.push_str(&format!(
        "_Static_assert(sizeof(RvxCtx) == {}, \"RvxCtx size\");\n",
        std::mem::size_of::<RvxCtx>()
    ));
    out
}
