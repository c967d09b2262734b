//! The cold paths, emitted after all blocks so that hot code falls through: stops (a block
//! that does not fit the budget, a faulting access), check points a block must pass, and page
//! touches that call into Rust.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::jumps::{CALL, JA, JE, JMP};
use super::{
    Cold, Emitter, CTX, CTX_INTERVAL, CTX_INTERVAL_OF, CTX_PC, CTX_REFILL, CTX_STOP, LAST_PAGE,
    PACKED, SAVED_T, STUB_LEN, STUB_OFF,
};
use crate::backend::compiled::calls::{pass_check_point, touch_before, touch_new};
use crate::backend::rvr::LiftMode;
use dynasmrt::{dynasm, DynasmApi};

/// How far the metering subroutines move the frame: their return address and 8 bytes of
/// padding.
const SHIFT: i32 = 16;

impl Emitter<'_> {
    /// Emits the cold code (after the shared exits and the metering subroutines, which it
    /// calls); returns the code offset of each item of `cold`.
    pub(super) fn emit_cold(&mut self) -> Vec<u32> {
        let cold = std::mem::take(&mut self.cold);
        let mut cold_at = Vec::with_capacity(cold.len());
        for item in cold {
            cold_at.push(self.ops.offset().0 as u32);
            // A few bytes an item: the work is in the shared code.
            match item {
                Cold::Stop { pc, budget } => {
                    // A call to the shared stop with its operands after it: 13 bytes.
                    self.jump_to(CALL, self.stop_at);
                    self.ops.extend(pc.to_le_bytes());
                    self.ops.extend(budget.to_le_bytes());
                }
                Cold::CheckPoint { back, off, len } => {
                    let (off, len) = (off as i32, len as i32);
                    dynasm!(self.ops ; .arch x64 ; mov eax, off ; mov ecx, len);
                    self.jump_to(CALL, self.pass_at);
                    self.jump_to(JMP, back);
                }
                Cold::Touch { from_end } => {
                    let from_end = from_end as i32;
                    dynasm!(self.ops ; .arch x64 ; mov edx, from_end);
                    self.jump_to(JMP, self.touch_at);
                }
            }
        }
        cold_at
    }

    /// The metering subroutines, in metered code (their offsets in `touch_at` and `pass_at`):
    /// one copy for the program rather than one per block and per access. The page-touch one
    /// is called from accesses through an entry per distance from the block's end
    /// ([`Cold::Touch`]), the other from a block's check-point stub ([`Cold::CheckPoint`]).
    /// Each pads the stack so that its calls into Rust see it aligned (frame offsets move by
    /// [`SHIFT`] meanwhile), and writes back the guest registers and counters around them.
    pub(super) fn emit_metering_stubs(&mut self) {
        if self.plan.mode != LiftMode::Metered {
            return;
        }
        let exit = self.shared.exit;
        self.frame_shift = SHIFT;
        let (saved_t, ctx, last_page) = (SAVED_T + SHIFT, CTX + SHIFT, LAST_PAGE + SHIFT);
        // `touch`: the access at address `ecx` (kept) touches page `eax`, not the last one
        // touched; `edx` is how far the instruction is from its block's end. An instruction
        // before the last check point passed (in the block that holds it) counts its page in
        // the segment and at the mark only; any other records the page's first touch in the
        // current check interval.
        self.touch_at = self.ops.offset().0 as u32;
        dynasm!(self.ops
            ; .arch x64
            ; sub rsp, 8
            ; mov [rsp + saved_t], ecx
            ; lea rcx, [r13 + rdx]
            ; mov rdx, [rsp + ctx]
            ; cmp rcx, [rdx + CTX_REFILL]
        );
        let before = self.jump_forward(JA, false);
        dynasm!(self.ops
            ; .arch x64
            ; mov [rsp + last_page], eax
            ; mov rcx, [rdx + CTX_INTERVAL_OF]
            ; mov ecx, [rcx + rax * 4]
            ; cmp ecx, [rdx + CTX_INTERVAL]
        );
        let seen = self.jump_forward(JE, false);
        self.emit_touch_call(touch_new as *const () as usize as i64);
        let touched = self.jump_forward(JMP, false);
        self.land(before);
        self.emit_touch_call(touch_before as *const () as usize as i64);
        self.land(seen);
        self.land(touched);
        dynasm!(self.ops
            ; .arch x64
            ; mov ecx, [rsp + saved_t]
            ; add rsp, 8
            ; ret
        );
        // `pass`: the block at code offset `eax`, `ecx` instructions long, took more than the
        // budget left to the next stop: give it back, and pass the check point inside the
        // block if `pass_check_point` may (then take the block again, from the budget it
        // refilled), or leave with its status, before the block.
        let function = pass_check_point as *const () as usize as i64;
        let base = self.plan.base as i32;
        let (stub_off, stub_len, packed) = (STUB_OFF + SHIFT, STUB_LEN + SHIFT, PACKED + SHIFT);
        self.pass_at = self.ops.offset().0 as u32;
        dynasm!(self.ops
            ; .arch x64
            ; sub rsp, 8
            ; add r13, rcx
            ; mov [rsp + stub_off], eax
            ; mov [rsp + stub_len], ecx
        );
        self.spill();
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, [rsp + ctx]
            ; mov esi, eax
            ; mov rdx, r13
            ; lea r8, [rsp + packed]
            ; mov rax, QWORD function
            ; call rax
        );
        self.reload();
        dynasm!(self.ops ; .arch x64 ; test rax, rax);
        let stopped = self.jump_forward(JE, true);
        dynasm!(self.ops
            ; .arch x64
            ; add r13, rax
            ; mov ecx, [rsp + stub_len]
            ; sub r13, rcx
            ; mov DWORD [rsp + last_page], -1
            ; add rsp, 8
            ; ret
        );
        self.land(stopped);
        dynasm!(self.ops
            ; .arch x64
            ; mov eax, [rsp + stub_off]
            ; add eax, base
            ; add rsp, SHIFT
            ; mov rdx, [rsp + CTX]
            ; mov [rdx + CTX_PC], eax
            ; mov eax, [rdx + CTX_STOP]
        );
        self.jump_to(JMP, exit);
        self.frame_shift = 0;
    }

    /// Calls `function(ctx = rdx, page = eax)`.
    fn emit_touch_call(&mut self, function: i64) {
        self.spill();
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, rdx
            ; mov esi, eax
            ; mov rax, QWORD function
            ; call rax
        );
        self.reload();
    }
}
