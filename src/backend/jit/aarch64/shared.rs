//! What every block shares: `rvx_run`'s entry and exit, the dispatch on a guest address, the
//! routines cold stubs call (`->check_point`, `->touch`, `->custom`), and moving the machine
//! state between host registers, the frame and [`RvxCtx`].

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::{
    packed_slot, Cold, Emitter, BUDGET, CTX, CTX_BUDGET, CTX_COST, CTX_CUSTOM, CTX_HOST,
    CTX_INTERVAL, CTX_INTERVAL_OF, CTX_MAX_COST, CTX_MEM, CTX_PACKED, CTX_PC, CTX_REFILL, CTX_REGS,
    CTX_STOP, LAST_PAGE, MEM, MODE_REGS, PACKED, SAVED_LR, SAVED_T, T0, T1, T2, TABLE,
};
use crate::backend::compiled::abi::EXIT_HANDOFF;
use crate::backend::compiled::calls::{pass_check_point, touch_before, touch_new};
use crate::backend::rvr::LiftMode;
use dynasmrt::{dynasm, AssemblyOffset, DynasmApi, DynasmLabelApi};

impl Emitter<'_> {
    /// Writes the host-held guest registers to their frame slots: all of them, or only those
    /// in caller-saved registers.
    fn spill(&mut self, all: bool) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            if all || host < 19 {
                let home = self.home(guest);
                dynasm!(self.ops ; .arch aarch64 ; str W(host), [sp, home]);
            }
        }
    }

    /// The reverse of [`Emitter::spill`].
    fn reload(&mut self, all: bool) {
        for i in 0..self.mapped.len() {
            let (guest, host) = self.mapped[i];
            if all || host < 19 {
                let home = self.home(guest);
                dynasm!(self.ops ; .arch aarch64 ; ldr W(host), [sp, home]);
            }
        }
    }

    /// Copies the guest registers between the array at `x1` and the frame (`into_frame`) or
    /// back, through `x2`.
    fn copy_regs(&mut self, into_frame: bool) {
        for i in 0..16u32 {
            let (array, frame) = (8 * i, self.regs_home + 8 * i);
            if into_frame {
                dynasm!(self.ops ; .arch aarch64 ; ldr x2, [x1, array] ; str x2, [sp, frame]);
            } else {
                dynasm!(self.ops ; .arch aarch64 ; ldr x2, [sp, frame] ; str x2, [x1, array]);
            }
        }
    }

    /// Writes the packed words held in registers to their frame slots.
    fn store_mode_regs(&mut self) {
        if self.plan.mode != LiftMode::Metered {
            return;
        }
        for w in 0..self.mode_regs.len() {
            let (reg, slot) = (self.mode_regs[w], packed_slot(w));
            dynasm!(self.ops ; .arch aarch64 ; str X(reg), [sp, slot]);
        }
    }

    /// `rvx_run`'s prologue: saves the callee-saved registers, loads the machine state, and
    /// jumps to the block at `ctx.pc`.
    pub(super) fn emit_entry(&mut self) -> AssemblyOffset {
        let entry = self.ops.offset();
        let frame = self.frame;
        let table = self.table as u64;
        dynasm!(self.ops
            ; .arch aarch64
            ; sub sp, sp, frame
            ; stp x19, x20, [sp]
            ; stp x21, x22, [sp, 16]
            ; stp x23, x24, [sp, 32]
            ; stp x25, x26, [sp, 48]
            ; stp x27, x28, [sp, 64]
            ; stp x29, x30, [sp, 80]
            ; str x0, [sp, CTX]
            ; ldr X(BUDGET), [x0, CTX_BUDGET]
            ; ldr X(MEM), [x0, CTX_MEM]
            ; ldr x1, [x0, CTX_REGS]
        );
        self.mov64(TABLE, table);
        self.copy_regs(true);
        match self.plan.mode {
            LiftMode::Pure => {}
            LiftMode::Cost => {
                let cost = MODE_REGS[0];
                dynasm!(self.ops
                    ; .arch aarch64
                    ; ldr x2, [x0, CTX_MAX_COST]
                    ; ldr x3, [x0, CTX_COST]
                    ; sub X(cost), x2, x3
                );
            }
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch aarch64 ; ldr x1, [x0, CTX_PACKED]);
                for w in 0..self.words {
                    let from = 8 * w as u32;
                    match self.mode_regs.get(w) {
                        Some(&reg) => dynasm!(self.ops ; .arch aarch64 ; ldr X(reg), [x1, from]),
                        None => {
                            let slot = packed_slot(w);
                            dynasm!(self.ops ; .arch aarch64 ; ldr x2, [x1, from] ; str x2, [sp, slot]);
                        }
                    }
                }
                dynasm!(self.ops
                    ; .arch aarch64
                    ; movn W(LAST_PAGE), 0
                );
            }
        }
        // Before `reload`, which may reuse x0.
        dynasm!(self.ops ; .arch aarch64 ; ldr W(T0), [x0, CTX_PC]);
        self.reload(true);
        dynasm!(self.ops ; .arch aarch64 ; ->dispatch:);
        self.emit_dispatch();
        entry
    }

    /// Jumps to the block at guest address `w16`, or hands off there.
    pub(super) fn emit_dispatch(&mut self) {
        let base = self.plan.base;
        let len = self.program.code().len() as u32;
        self.add32(T1, T0, base.wrapping_neg());
        // Rotating the two low bits to the top makes a misaligned offset too large.
        dynasm!(self.ops ; .arch aarch64 ; ror W(T1), W(T1), 2);
        if len < 0x1000 {
            dynasm!(self.ops ; .arch aarch64 ; cmp WSP(T1), len);
        } else {
            self.mov32(T2, len);
            dynasm!(self.ops ; .arch aarch64 ; cmp W(T1), W(T2));
        }
        let label = self.ops.new_dynamic_label();
        self.push_cold(Cold::HandoffAtT0 { label });
        dynasm!(self.ops
            ; .arch aarch64
            ; b.hs =>label
            ; ldr X(T1), [X(TABLE), W(T1), uxtw 3]
            ; br X(T1)
        );
    }

    /// The exits and routines every block shares; returns where jumps to a non-entry address
    /// land.
    pub(super) fn emit_shared(&mut self) -> AssemblyOffset {
        let not_entry = self.ops.offset();
        dynasm!(self.ops
            ; .arch aarch64
            ; ->handoff_at_t0:
            ; ldr X(T1), [sp, CTX]
            ; str W(T0), [X(T1), CTX_PC]
            ; movz W(T1), EXIT_HANDOFF
            ; ->exit:
        );
        self.emit_exit();
        if self.plan.mode == LiftMode::Metered {
            self.emit_check_point_routine();
            self.emit_touch_routine();
        }
        self.emit_custom_routine();
        not_entry
    }

    /// `->exit`: leaves `rvx_run` with the status in `w17`, writing the machine state back.
    fn emit_exit(&mut self) {
        let frame = self.frame;
        self.spill(true);
        dynasm!(self.ops
            ; .arch aarch64
            ; ldr x0, [sp, CTX]
            ; str X(BUDGET), [x0, CTX_BUDGET]
            ; ldr x1, [x0, CTX_REGS]
        );
        self.copy_regs(false);
        match self.plan.mode {
            LiftMode::Pure => {}
            LiftMode::Cost => {
                let cost = MODE_REGS[0];
                dynasm!(self.ops
                    ; .arch aarch64
                    ; ldr x1, [x0, CTX_MAX_COST]
                    ; sub x1, x1, X(cost)
                    ; str x1, [x0, CTX_COST]
                );
            }
            LiftMode::Metered => {
                dynasm!(self.ops ; .arch aarch64 ; ldr x1, [x0, CTX_PACKED]);
                for w in 0..self.words {
                    let to = 8 * w as u32;
                    match self.mode_regs.get(w) {
                        Some(&reg) => dynasm!(self.ops ; .arch aarch64 ; str X(reg), [x1, to]),
                        None => {
                            let slot = packed_slot(w);
                            dynasm!(self.ops ; .arch aarch64 ; ldr x2, [sp, slot] ; str x2, [x1, to]);
                        }
                    }
                }
            }
        }
        dynasm!(self.ops
            ; .arch aarch64
            ; mov w0, W(T1)
            ; ldp x19, x20, [sp]
            ; ldp x21, x22, [sp, 16]
            ; ldp x23, x24, [sp, 32]
            ; ldp x25, x26, [sp, 48]
            ; ldp x27, x28, [sp, 64]
            ; ldp x29, x30, [sp, 80]
            ; add sp, sp, frame
            ; ret
        );
    }

    /// `->check_point`, called (`bl`) by a metered block of `x17` instructions at code offset
    /// `w16` that does not fit the budget: passes the check point inside it when
    /// `pass_check_point` says so and returns, with the budget refilled, or stops there.
    fn emit_check_point_routine(&mut self) {
        let function = pass_check_point as *const () as usize as u64;
        dynasm!(self.ops
            ; .arch aarch64
            ; ->check_point:
            ; str x30, [sp, SAVED_LR]
            ; stp X(T0), X(T1), [sp, SAVED_T as i32]
            ; add X(BUDGET), X(BUDGET), X(T1)
        );
        self.store_mode_regs();
        self.spill(false);
        dynasm!(self.ops
            ; .arch aarch64
            ; ldr x0, [sp, CTX]
            ; mov w1, W(T0)
            ; mov x2, X(BUDGET)
            ; mov x3, X(T1)
            ; add x4, sp, PACKED
        );
        self.mov64(T0, function);
        dynasm!(self.ops ; .arch aarch64 ; blr X(T0) ; mov X(T2), x0);
        self.reload(false);
        dynasm!(self.ops
            ; .arch aarch64
            ; ldp X(T0), X(T1), [sp, SAVED_T as i32]
            ; cbz X(T2), >stopped
            ; add X(BUDGET), X(BUDGET), X(T2)
            ; sub X(BUDGET), X(BUDGET), X(T1)
            ; movn W(LAST_PAGE), 0
            ; ldr x30, [sp, SAVED_LR]
            ; ret
            ; stopped:
        );
        // Stopped at the block's start: ctx.pc = base + off, the status in ctx.stop.
        let base = self.plan.base;
        self.add32(T0, T0, base);
        dynasm!(self.ops
            ; .arch aarch64
            ; ldr X(T2), [sp, CTX]
            ; str W(T0), [X(T2), CTX_PC]
            ; ldr W(T1), [X(T2), CTX_STOP]
            ; b ->exit
        );
    }

    /// `->touch`, called (`bl`) by an access at address `w16` to page `w17`, other than the
    /// last one, by an instruction `x15` instructions from the end of its block: records the
    /// touch as the recompiler's `emit_touch` does, keeping `w16`.
    fn emit_touch_routine(&mut self) {
        let new = touch_new as *const () as usize as u64;
        let before = touch_before as *const () as usize as u64;
        dynasm!(self.ops
            ; .arch aarch64
            ; ->touch:
            ; stp x30, X(T0), [sp, SAVED_LR as i32]
            ; ldr x30, [sp, CTX]
            ; add X(T2), X(BUDGET), X(T2)
            ; ldr X(T0), [x30, CTX_REFILL]
            ; cmp X(T2), X(T0)
            ; b.hi >before
            ; mov W(LAST_PAGE), W(T1)
            ; ldr X(T0), [x30, CTX_INTERVAL_OF]
            ; ldr W(T0), [X(T0), W(T1), uxtw 2]
            ; ldr W(T2), [x30, CTX_INTERVAL]
            ; cmp W(T0), W(T2)
            ; b.eq >done
        );
        self.emit_touch_call(new);
        dynasm!(self.ops ; .arch aarch64 ; b >done ; before:);
        self.emit_touch_call(before);
        dynasm!(self.ops
            ; .arch aarch64
            ; done:
            ; ldp x30, X(T0), [sp, SAVED_LR as i32]
            ; ret
        );
    }

    /// Calls `function(ctx = x30, page = w17)`.
    fn emit_touch_call(&mut self, function: u64) {
        self.spill(false);
        dynasm!(self.ops ; .arch aarch64 ; mov x0, x30 ; mov w1, W(T1));
        self.mov64(T0, function);
        dynasm!(self.ops ; .arch aarch64 ; blr X(T0));
        self.reload(false);
    }

    /// `->custom`, called (`bl`) for custom instruction `w16` at guest address `w17`: runs it
    /// through `RvxCtx::custom` on the register array and returns its status in `w15`.
    fn emit_custom_routine(&mut self) {
        dynasm!(self.ops ; .arch aarch64 ; ->custom: ; str x30, [sp, SAVED_LR]);
        self.spill(true);
        dynasm!(self.ops ; .arch aarch64 ; ldr x0, [sp, CTX] ; ldr x1, [x0, CTX_REGS]);
        self.copy_regs(false);
        dynasm!(self.ops
            ; .arch aarch64
            ; ldr x4, [x0, CTX_CUSTOM]
            ; mov x3, x1
            ; ldr x0, [x0, CTX_HOST]
            ; mov w1, W(T0)
            ; mov w2, W(T1)
            ; blr x4
            ; mov W(T2), w0
            ; ldr x0, [sp, CTX]
            ; ldr x1, [x0, CTX_REGS]
        );
        self.copy_regs(true);
        self.reload(true);
        dynasm!(self.ops ; .arch aarch64 ; ldr x30, [sp, SAVED_LR] ; ret);
    }
}
