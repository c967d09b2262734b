//! The Rust functions compiled code calls: custom instructions, and in metered mode passing a
//! check point and recording page touches. Machine code calls these; recompiled C has its own
//! copies of the two metering ones (`rvx_pass` and `rvx_touch` in `backend/rvr/lift`), which
//! keep every register, so that calling them costs the blocks' hot paths nothing. The two
//! must keep the same rules; the differential tests run both against the interpreter.

use super::abi::{
    RvxCtx, CUSTOM_CONTINUE, CUSTOM_FAULT, CUSTOM_JUMP, EXIT_CHECK_POINT, EXIT_HANDOFF,
};
use super::{lend_pages, raw_pages};
use crate::backend::interp::custom;
use crate::extension::{Machine, Next};
use crate::metering::PageTracker;
use crate::program::Program;
use crate::state::VmState;
use std::ffi::c_void;

/// What the callbacks need besides the context: `RvxCtx::host` points at it.
pub(super) struct Host<'a> {
    pub(super) program: &'a Program,
    pub(super) state: *mut VmState,
    /// The context of the running call, where a jump target is returned.
    pub(super) ctx: *mut RvxCtx,
    /// Metered mode: the guard bits of each packed word ([`crate::metering::PackedLayout`]).
    pub(super) guards: &'a [u64],
}

/// Makes room in the recent-page list.
extern "C" fn grow_recent(ctx: *mut RvxCtx) {
    // SAFETY: `ctx` is the live context of the call, and its `meter` the `PageTracker` whose
    // recent list it holds (`MeteredEntry::enter`); the code wrote `recent_len` entries.
    unsafe {
        let ctx = &mut *ctx;
        let pages = &mut *(ctx.meter as *mut PageTracker);
        let raw = raw_pages(ctx);
        pages.set_raw(&raw);
        let raw = pages.raw(ctx.recent_cap as usize + 1024);
        lend_pages(ctx, &raw);
    }
}

/// Executes custom instruction `index` at `pc` on the state (whose registers the code wrote
/// back before calling).
pub(super) extern "C" fn custom_callback(
    host: *mut c_void,
    index: u32,
    pc: u32,
    _regs: *mut u32,
) -> u32 {
    // SAFETY: `host` is the `Host` built by `run_compiled` for this call; its state pointer
    // comes from the `&mut VmState` the caller holds and does not use during the call. The
    // generated code wrote its registers back to `state.regs` before calling.
    let host = unsafe { &mut *(host as *mut Host<'_>) };
    // SAFETY: see above: nothing else uses the state during the call.
    let state = unsafe { &mut *host.state };
    let mut machine = Machine::new(
        &mut state.regs,
        &mut state.memory,
        &mut state.streams,
        &mut state.public_values,
        &mut state.rng,
        pc,
    );
    match custom::execute(host.program, index, &mut machine) {
        Ok(Next::Continue) => CUSTOM_CONTINUE,
        Ok(Next::Jump(target)) => {
            // SAFETY: `ctx` is the live context of the call that invoked this callback.
            unsafe { (*host.ctx).pc = target };
            CUSTOM_JUMP
        }
        Err(_) => CUSTOM_FAULT,
    }
}

/// Called by a metered block of `len` instructions at code offset `off` (bytes) that does not
/// fit the `budget` left to the next stop: passes the check point inside the block when it is
/// known to pass and the block fits before the following stop, marking it, starting a new page
/// interval and returning the instructions from it to that stop; otherwise returns 0 with the
/// exit status in `ctx.stop`. `packed` holds the counters at the block's start.
///
/// # Safety
/// `ctx` is the live context of a metered call (`MeteredEntry::enter`), its `host` a [`Host`],
/// and `packed` points at as many words as the layout has.
pub(crate) unsafe extern "C" fn pass_check_point(
    ctx: *mut RvxCtx,
    off: u32,
    budget: u64,
    len: u64,
    packed: *const u64,
) -> u64 {
    // SAFETY: guaranteed by the caller.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: as above.
    let host = unsafe { &*(ctx.host as *const Host<'_>) };
    // SAFETY: as above.
    let packed = unsafe { std::slice::from_raw_parts(packed, host.guards.len()) };
    let check = host
        .program
        .config()
        .system()
        .segmentation
        .segment_check_insns;
    let refill = ctx.to_end.min(check);
    if budget + refill < len {
        // The run ends inside this block: the interpreter runs it.
        ctx.stop = EXIT_HANDOFF;
        return 0;
    }
    ctx.stop = EXIT_CHECK_POINT;
    // Passed only when known to pass, with each instruction before it touching at most one
    // new page, and no chip out of room (its guard bit set).
    if ctx.passes == ctx.max_passes
        || u64::from(ctx.in_segment) + budget > u64::from(ctx.page_limit)
        || packed.iter().zip(host.guards).any(|(p, g)| p & g != 0)
    {
        return 0;
    }
    ctx.passes += 1;
    // SAFETY: `mark_packed` has as many words as `packed` (`MeteredEntry::enter`).
    unsafe { std::ptr::copy_nonoverlapping(packed.as_ptr(), ctx.mark_packed, packed.len()) };
    ctx.mark_block = off >> 2;
    ctx.mark_before = budget as u32;
    ctx.mark_pages = ctx.in_segment;
    ctx.interval += 1;
    ctx.recent_len = 0;
    ctx.mark_at = ctx.stop_at;
    ctx.stop_at += refill;
    ctx.to_end -= refill;
    ctx.refill = refill;
    refill
}

/// Records the first touch of `page` in the current check interval.
///
/// # Safety
/// `ctx` is the live context of a metered call, and `page` within guest memory.
pub(crate) unsafe extern "C" fn touch_new(ctx: *mut RvxCtx, page: u32) {
    // SAFETY: guaranteed by the caller: the page arrays cover guest memory, and `recent` has
    // `recent_cap` entries (grown when full).
    unsafe {
        let ctx = &mut *ctx;
        let page = page as usize;
        *ctx.interval_of.add(page) = ctx.interval;
        if ctx.recent_len == ctx.recent_cap {
            grow_recent(ctx);
        }
        *ctx.recent.add(ctx.recent_len as usize) = page as u32;
        ctx.recent_len += 1;
        if *ctx.segment_of.add(page) != ctx.segment {
            *ctx.segment_of.add(page) = ctx.segment;
            ctx.in_segment += 1;
        }
    }
}

/// Records a touch of `page` by an instruction before the last check point passed (in the
/// block that holds it): it counts in the segment and at the mark, not in the new interval.
///
/// # Safety
/// As for [`touch_new`].
pub(crate) unsafe extern "C" fn touch_before(ctx: *mut RvxCtx, page: u32) {
    // SAFETY: guaranteed by the caller: the page arrays cover guest memory.
    unsafe {
        let ctx = &mut *ctx;
        let page = page as usize;
        if *ctx.segment_of.add(page) != ctx.segment {
            *ctx.segment_of.add(page) = ctx.segment;
            ctx.in_segment += 1;
            ctx.mark_pages += 1;
        }
    }
}
