//! Extension instructions that report their own rows and memory accesses
//! ([`Metering::Reported`](crate::extension::Metering::Reported)), run between two calls of
//! metered compiled code.
//!
//! Compiled code that meters rows or cost hands these instructions over: what they add is
//! known only once they ran. Leaving the call for the interpreter (taking the counters back,
//! then lending them again) costs more than such an instruction, so the instruction runs here
//! instead, its reports added where compiled code keeps them (the packed row counters and the
//! page tracker's interval lists, or the cost), and the same call goes on.
//!
//! Exactness needs two things in metered mode. The rows may be many, so the next check point
//! must be checked, not skipped: the code is made to stop there (recompiled code of programs
//! with such instructions never skips check points; see `rvx_pass`). And if that check fails,
//! the segment is cut at the check point before the instruction, whose heights must have been
//! recorded: the instruction runs here only when that check point was passed with a mark.
//! Anything else (no budget left, a fault, rows that do not fit the counters) goes the slow way,
//! through the interpreter.

use super::abi::RvxCtx;
use super::calls::{touch_new, Host};
use crate::backend::interp::custom::{self, Parts};
use crate::extension::Next;
use crate::metering::{Meter, PackedLayout, PAGE_BYTES_BITS};
use crate::program::Program;

/// What the running code counts, with what the instruction needs to add to it.
pub(super) enum Counting<'a> {
    /// Metered mode: rows in the packed counters `ctx.packed` of `layout`.
    Rows {
        layout: &'a PackedLayout,
        /// The last check point whose heights the segment recorded before this call.
        recorded: u64,
        /// Rows per chip that did not fit the counters (added to the heights on exit).
        spilled: &'a mut Vec<u32>,
    },
    /// Cost mode: the cost in `ctx.cost`, at most `per_insn` per instruction of the budget.
    Cost { per_insn: u64 },
}

/// What an instruction reported, kept until it has run without a fault.
#[derive(Default)]
pub(super) struct Reports {
    /// (chip, rows): chips are chip-table indices.
    rows: Vec<(usize, u32)>,
    /// (first byte, length) of each memory access.
    touches: Vec<(u32, u32)>,
}

/// Collects reports into [`Reports`] as the interpreter's meter would receive them.
struct Collect<'a>(&'a mut Reports);

impl Meter for Collect<'_> {
    fn on_block(&mut self, _idx: usize) {}
    fn on_insn(&mut self, _idx: usize) {}
    fn on_counted_insn(&mut self, _idx: usize) {}
    fn on_memory_word(&mut self, _addr: u32) {}
    fn on_hint_store(&mut self, _addr: u32, _words: u32) {}
    fn on_public_value(&mut self, _offset: u32) {}
    fn on_rows(&mut self, chip: usize, rows: u32) {
        self.0.rows.push((chip, rows));
    }
    fn on_memory_range(&mut self, addr: u32, len: u32) {
        self.0.touches.push((addr, len));
    }
    fn block_fits(&self, _idx: usize) -> bool {
        true
    }
    fn may_execute(&self) -> bool {
        true
    }
}

/// Runs the instruction at `ctx.pc`, the `now`-th, if it is an extension instruction that
/// reports its metering and can run here; returns whether it ran (then `ctx` is ready for the
/// code to go on at the next pc).
///
/// # Safety
/// `ctx` is the live context of a call of metered or cost compiled code that returned, its
/// `host` a [`Host`] whose state the code wrote its registers back to; in metered mode
/// `ctx.packed` holds the counters of `layout` and the page fields are lent by the tracker.
pub(super) unsafe fn run_reported(
    ctx: *mut RvxCtx,
    now: u64,
    counting: &mut Counting<'_>,
    reports: &mut Reports,
) -> bool {
    // SAFETY: guaranteed by the caller.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: as above.
    let host = unsafe { &mut *(ctx.host as *mut Host<'_>) };
    let program: &Program = host.program;
    let Some(index) = program.index_of(ctx.pc) else {
        return false;
    };
    let insn = program.code()[index];
    if ctx.budget == 0 || !program.reports_metering(&insn) {
        return false;
    }
    let check = program.config().system().segmentation.segment_check_insns;
    if let Counting::Rows { recorded, .. } = counting {
        let marked = if ctx.passes > 0 {
            ctx.mark_at
        } else {
            *recorded
        };
        if marked != now / check * check {
            return false;
        }
    }
    // SAFETY: the code wrote its registers back and nothing else uses the state meanwhile.
    let state = unsafe { &mut *host.state };
    reports.rows.clear();
    reports.touches.clear();
    let parts = Parts {
        regs: &mut state.regs,
        memory: &mut state.memory,
        streams: &mut state.streams,
        public_values: &mut state.public_values,
        rng: &mut state.rng,
        pc: ctx.pc,
    };
    // A faulting instruction changes nothing: the interpreter runs it again and reports it.
    let next = match custom::execute_metered(program, insn.imm, parts, &mut Collect(reports)) {
        Ok(next) => next,
        Err(_) => return false,
    };
    ctx.pc = match next {
        Next::Continue => ctx.pc.wrapping_add(4),
        Next::Jump(target) => target,
    };
    ctx.budget -= 1;
    match counting {
        Counting::Rows {
            layout, spilled, ..
        } => {
            // SAFETY: `ctx.packed` holds the layout's words (guaranteed by the caller).
            let packed = unsafe { std::slice::from_raw_parts_mut(ctx.packed, layout.words()) };
            for &(chip, rows) in &reports.rows {
                if !layout.add_rows(packed, chip, rows) {
                    // Counted on exit instead; no check point may be passed on the way, so
                    // the next one is checked with them.
                    spilled[chip] += rows;
                    ctx.max_passes = ctx.passes;
                }
            }
            for &(addr, len) in &reports.touches {
                let first = addr >> PAGE_BYTES_BITS;
                let last =
                    ((u64::from(addr) + u64::from(len.max(1)) - 1) >> PAGE_BYTES_BITS) as u32;
                for page in first..=last {
                    // SAFETY: the page arrays cover guest memory, which the access was in.
                    unsafe {
                        if *ctx.interval_of.add(page as usize) != ctx.interval {
                            touch_new(ctx, page);
                        }
                    }
                }
            }
            // The next check point is checked by the code (it stops there), not skipped.
            let next_check = (now / check + 1) * check;
            if ctx.stop_at > next_check {
                let beyond = ctx.stop_at - next_check;
                ctx.stop_at = next_check;
                ctx.budget -= beyond;
                ctx.to_end += beyond;
                ctx.page_soft = u32::MAX;
            }
        }
        Counting::Cost { per_insn } => {
            let tables = program.meter_tables();
            for &(chip, rows) in &reports.rows {
                let width = tables.widths.get(chip).copied().unwrap_or(0);
                ctx.cost += u64::from(width) * u64::from(rows);
            }
            ctx.bound_budget_by_cost(*per_insn);
        }
    }
    true
}
