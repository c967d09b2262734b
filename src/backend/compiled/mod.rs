//! What every compiling backend shares: the entry point's interface ([`abi`]) and the loop
//! that runs compiled code on a [`VmState`], handing to the interpreter what the code leaves.
//!
//! Compiled code runs whole blocks; everything else (a block that does not fit the budget or
//! the cost limit, a check point the code may not pass, system and IO instructions, faults,
//! jumps to addresses that are not block entries) is handed to the interpreter, which runs up
//! to the end of its block (or the check point) and gives control back. Both share the state,
//! the chip heights and the page tracker, so the result is exactly the interpreter's.
//!
//! In metered mode compiled code passes the segment check points on its own while they are
//! known to pass (the heights stay below thresholds at which every limit holds, see
//! [`SegmentationState::safe_growth`]); it counts chip rows in packed counters
//! ([`PackedLayout`]) and marks each check point it passes, from which the heights there are
//! rebuilt here. A check point that may fail is reached exactly, by the interpreter, and
//! checked by the metered driver.

pub mod abi;
pub(crate) mod calls;
pub mod plan;
mod reported;

use crate::backend::{Backend, InterpBackend, LiftMode, ModeRef};
use crate::error::ExecError;
use crate::metering::{PackedLayout, PageTracker, RawPages, SegmentationState};
use crate::program::Program;
use crate::state::VmState;
use abi::{RvxCtx, EXIT_CHECK_POINT, EXIT_HANDOFF};
use calls::{custom_callback, Host};
use reported::{run_reported, Counting, Reports};
use std::ffi::c_void;
use std::io::Write;

/// Whether code compiled for `lift` may run in `mode`.
pub fn runs_in(lift: LiftMode, mode: &ModeRef<'_>) -> bool {
    matches!(
        (mode, lift),
        (ModeRef::Pure, LiftMode::Pure)
            | (ModeRef::Metered(_), LiftMode::Metered)
            | (ModeRef::Cost(_), LiftMode::Cost)
    )
}

/// A compiled program's entry point.
pub type RunFn = unsafe extern "C" fn(*mut RvxCtx) -> u32;

/// A compiled entry point with what it was compiled for.
#[derive(Clone, Copy)]
pub struct CompiledCode<'a> {
    /// The entry point, generated for `program` and the mode it is run in.
    pub run: RunFn,
    /// The packed counters the code uses (metered mode).
    pub layout: Option<&'a PackedLayout>,
}

impl CompiledCode<'_> {
    /// Runs `state` until it terminates, faults, reaches instret `end`, or the mode's meter
    /// stops it, exactly as the interpreter would. In metered mode it also returns at a check
    /// point that must be checked (see [`SegmentationState::next_check`]).
    ///
    /// # Safety
    /// `self.run` must be code generated for `program` (same decoded instructions, same
    /// configuration) in the mode of `mode`, following [`abi`].
    pub unsafe fn run(
        &self,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mut mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        let limits = program.config().system().segmentation;
        // Code that hands instructions to the interpreter often (extension instructions that
        // report their own metering) enters and leaves many times: reuse the buffers.
        let mut scratch = Scratch::default();
        while state.instret < end && !state.is_terminated() {
            let next_check = match &mode {
                ModeRef::Metered(segment) => Some(segment.next_check(state.instret, &limits)),
                _ => None,
            };
            if next_check == Some(state.instret) {
                // The metered driver checks first.
                return Ok(());
            }
            let before = state.instret;
            // SAFETY: forwarded from the caller.
            let status = unsafe { self.run_compiled(program, state, end, &mut mode, &mut scratch) };
            if state.instret >= end || state.is_terminated() {
                break;
            }
            if status == EXIT_CHECK_POINT && state.instret > before {
                // Stopped before a check point after progress: enter again, with limits
                // computed afresh it may pass it now.
                continue;
            }
            // Hand over to the interpreter until the end of the block at pc (or the check
            // point, where the driver takes over).
            let mut stop = match program.index_of(state.pc) {
                Some(idx) => end.min(state.instret + u64::from(program.block_remaining()[idx])),
                None => end,
            };
            if let ModeRef::Metered(segment) = &mode {
                stop = stop.min(segment.next_check(state.instret, &limits));
            }
            let handed = state.instret;
            InterpBackend::run(&(), program, state, stop, mode.reborrow(), out)?;
            if state.instret == handed && state.instret == before {
                // Neither side could run an instruction: the meter stopped execution.
                break;
            }
        }
        Ok(())
    }

    /// Runs compiled blocks from `state.pc` while they fit; returns the exit status.
    ///
    /// # Safety
    /// As for [`CompiledCode::run`].
    unsafe fn run_compiled(
        &self,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: &mut ModeRef<'_>,
        scratch: &mut Scratch,
    ) -> u32 {
        let state_instret = state.instret;
        let mut host = Host {
            program,
            state: state as *mut VmState,
            ctx: std::ptr::null_mut(),
            guards: &[],
        };
        let left = (end - state.instret).min(i64::MAX as u64);
        let mut ctx = RvxCtx {
            regs: state.regs.as_mut_ptr(),
            mem: state.memory.as_mut_ptr(),
            budget: left,
            to_end: 0,
            pc: state.pc,
            passes: 0,
            stop: 0,
            refill: 0,
            max_passes: 0,
            page_limit: 0,
            page_soft: u32::MAX,
            packed: std::ptr::null_mut(),
            mark_packed: std::ptr::null_mut(),
            mark_block: 0,
            mark_before: 0,
            mark_pages: 0,
            interval: 0,
            interval_of: std::ptr::null_mut(),
            segment_of: std::ptr::null_mut(),
            segment: 0,
            in_segment: 0,
            recent: std::ptr::null_mut(),
            recent_len: 0,
            recent_cap: 0,
            meter: std::ptr::null_mut(),
            stop_at: 0,
            mark_at: 0,
            cost: 0,
            max_cost: 0,
            host: std::ptr::null_mut(),
            custom: Some(custom_callback),
        };
        let per_insn = program.meter_tables().max_fetch_cost;
        let mut metered = None;
        match mode {
            ModeRef::Pure => {}
            ModeRef::Metered(segment) => {
                let layout = self.layout.expect("metered code has a packed layout");
                host.guards = layout.guard_masks();
                metered = Some(MeteredEntry::enter(
                    program,
                    layout,
                    segment,
                    state.instret,
                    left,
                    &mut ctx,
                    &mut scratch.metered,
                ));
            }
            ModeRef::Cost(cost) => {
                // Compiled code may keep `max_cost - cost` in a signed register; above the
                // maximum (or beyond i64) it only runs what fits, and the interpreter decides.
                ctx.max_cost = cost.max_cost.min(cost.cost.saturating_add(i64::MAX as u64));
                ctx.cost = cost.cost.min(ctx.max_cost);
                ctx.bound_budget_by_cost(per_insn);
            }
        }
        let budget = ctx.budget + ctx.to_end;
        let cost_before = ctx.cost;
        // The context and the host point at each other; from here on both are used only
        // through these raw pointers.
        let ctx_ptr: *mut RvxCtx = &mut ctx;
        host.ctx = ctx_ptr;
        let host_ptr: *mut Host<'_> = &mut host;
        // SAFETY: `ctx_ptr` and `host_ptr` point at live locals. `ctx` points at this state's
        // registers and memory (valid for the guest memory's size, which the generated code
        // checks every access against), at metering state borrowed mutably for the call (the
        // heights, counters and page arrays sized for this program, see `MeteredEntry`), and
        // at callbacks with the declared signatures. The caller guarantees the code was
        // generated for this program and mode.
        unsafe { (*ctx_ptr).host = host_ptr as *mut c_void };
        let status = loop {
            // SAFETY: as above.
            let status = unsafe { (self.run)(ctx_ptr) };
            if status != EXIT_HANDOFF {
                break status;
            }
            // An extension instruction that reports its own metering runs between two calls.
            // SAFETY: `ctx_ptr` points at the live context.
            let now = state_instret + budget - unsafe { (*ctx_ptr).budget + (*ctx_ptr).to_end };
            let mut counting = match (&mut metered, &mode) {
                (Some(entry), _) => Counting::Rows {
                    layout: entry.layout,
                    recorded: entry.recorded,
                    spilled: &mut entry.buffers.spilled,
                },
                (None, ModeRef::Cost(_)) => Counting::Cost { per_insn },
                _ => break status,
            };
            // SAFETY: the call returned; `ctx` is as it left it, lent for this mode.
            if !unsafe { run_reported(ctx_ptr, now, &mut counting, &mut scratch.reports) } {
                break status;
            }
        };
        state.instret += budget - (ctx.budget + ctx.to_end);
        state.pc = ctx.pc;
        match mode {
            ModeRef::Pure => {}
            ModeRef::Metered(segment) => {
                let entry = metered.take().expect("entered above");
                // SAFETY: `ctx` was filled by `MeteredEntry::enter` on this segment and
                // updated only by the generated code.
                unsafe { entry.leave(program, segment, &ctx) };
            }
            ModeRef::Cost(cost) => cost.cost += ctx.cost - cost_before,
        }
        status
    }
}

/// What calls of compiled code reuse from one to the next.
#[derive(Default)]
struct Scratch {
    metered: MeteredBuffers,
    reports: Reports,
}

/// The buffers metered entries use, kept for the next entry.
#[derive(Default)]
struct MeteredBuffers {
    /// Rows per chip that extension instructions run between calls reported but the counters
    /// could not take (see [`reported`]).
    spilled: Vec<u32>,
    /// The heights at entry (every touched page charged).
    heights: Vec<u32>,
    /// Each chip's room for rows.
    room: Vec<u64>,
    /// The packed counters at entry, at exit, and at the last check point passed.
    start: Vec<u64>,
    packed: Vec<u64>,
    mark_packed: Vec<u64>,
}

/// What metered compiled code is lent for one call, and what is needed to take its results
/// back.
struct MeteredEntry<'a> {
    layout: &'a PackedLayout,
    /// Pages in the segment at entry.
    pages: u32,
    /// The last check point whose heights the segment recorded, at entry.
    recorded: u64,
    buffers: &'a mut MeteredBuffers,
}

impl<'a> MeteredEntry<'a> {
    /// Fills the metered part of `ctx` for a run from `instret`, `left` instructions at most.
    fn enter(
        program: &Program,
        layout: &'a PackedLayout,
        segment: &mut SegmentationState,
        instret: u64,
        left: u64,
        ctx: &mut RvxCtx,
        buffers: &'a mut MeteredBuffers,
    ) -> MeteredEntry<'a> {
        let tables = program.meter_tables();
        let system = program.config().system();
        let limits = system.segmentation;
        buffers.heights.clear();
        buffers
            .heights
            .extend_from_slice(segment.compiled_parts(tables).0);
        buffers.spilled.clear();
        buffers.spilled.resize(buffers.heights.len(), 0);
        let safe = segment.safe_growth(tables, &limits, &system.proving_memory, layout.growable());
        let first_check = segment.next_check(instret, &limits);
        let first_stop = first_check.min(instret + left);
        ctx.stop_at = first_check;
        ctx.budget = first_stop - instret;
        ctx.to_end = instret + left - first_stop;
        ctx.max_passes = layout.max_passes() as u32;
        ctx.passes = 0;
        // Instructions before the last check point passed are those with more than `refill`
        // left to the next stop; none before the first. (Set here, not by the code, which
        // may be entered again in the same call: see `reported`.)
        ctx.refill = ctx.budget;
        ctx.page_limit = safe.pages;
        // A check point inside a block is passed from the block's start: leave room for the
        // instructions before it.
        buffers.room.clear();
        buffers
            .room
            .extend((safe.rows.iter()).map(|&r| u64::from(r).saturating_sub(layout.max_block())));
        layout.start_into(&buffers.room, &mut buffers.start);
        // Compiled code may move the counters in vectors of up to 256 bits: room for a whole
        // last one.
        let vectors = buffers.start.len().div_ceil(4) * 4;
        for copy in [&mut buffers.packed, &mut buffers.mark_packed] {
            copy.clear();
            copy.extend_from_slice(&buffers.start);
            copy.resize(vectors, 0);
        }
        ctx.packed = buffers.packed.as_mut_ptr();
        ctx.mark_packed = buffers.mark_packed.as_mut_ptr();
        let (_, pages) = segment.compiled_parts(tables);
        // Each interval appends at most one page per instruction it runs.
        let block_max = 2 * limits.segment_check_insns.min(1 << 20) as usize + 1024;
        let raw = pages.raw(block_max);
        lend_pages(ctx, &raw);
        ctx.meter = pages as *mut PageTracker as *mut c_void;
        MeteredEntry {
            layout,
            pages: raw.in_segment,
            recorded: segment.checkpoint_instret(),
            buffers,
        }
    }

    /// Takes back what the code counted.
    ///
    /// # Safety
    /// `ctx` was filled by [`MeteredEntry::enter`] for `segment` and since updated only by
    /// generated code that follows [`abi`].
    unsafe fn leave(self, program: &Program, segment: &mut SegmentationState, ctx: &RvxCtx) {
        let tables = program.meter_tables();
        let (heights, pages) = segment.compiled_parts(tables);
        let raw = raw_pages(ctx);
        // SAFETY: forwarded from the caller: the generated code keeps the tracker's rules.
        unsafe { pages.set_raw(&raw) };
        let buffers = self.buffers;
        self.layout.add_to(&buffers.start, &buffers.packed, heights);
        for (height, &rows) in heights.iter_mut().zip(&buffers.spilled) {
            *height += rows;
        }
        if ctx.passes > 0 {
            // The heights at the last check point passed: those at entry, the rows counted up
            // to the start of the block holding it, that block's rows before it, and the rows
            // of the pages touched before it.
            let mut marked = buffers.heights.clone();
            self.layout
                .add_to(&buffers.start, &buffers.mark_packed, &mut marked);
            let start = ctx.mark_block as usize;
            for &chip in &tables.fetch_chip[start..start + ctx.mark_before as usize] {
                marked[usize::from(chip)] += 1;
            }
            tables.add_page_rows(&mut marked, ctx.mark_pages - self.pages);
            segment.passed_check(ctx.mark_at, marked);
        }
    }
}

/// The page tracker's state as compiled code left it in `ctx`.
fn raw_pages(ctx: &RvxCtx) -> RawPages {
    RawPages {
        interval_of: ctx.interval_of,
        segment_of: ctx.segment_of,
        interval: ctx.interval,
        segment: ctx.segment,
        in_segment: ctx.in_segment,
        recent: ctx.recent,
        recent_len: ctx.recent_len,
        recent_cap: ctx.recent_cap,
    }
}

/// Lends the page tracker's state to compiled code through `ctx`.
fn lend_pages(ctx: &mut RvxCtx, raw: &RawPages) {
    ctx.interval_of = raw.interval_of;
    ctx.segment_of = raw.segment_of;
    ctx.interval = raw.interval;
    ctx.segment = raw.segment;
    ctx.in_segment = raw.in_segment;
    ctx.recent = raw.recent;
    ctx.recent_len = raw.recent_len;
    ctx.recent_cap = raw.recent_cap;
}
