//! The cold paths, emitted after all blocks so that hot code falls through: stops (a block
//! that does not fit the budget, a faulting access), check points a block must pass, and page
//! touches that call into Rust.

// `dynasm!` converts registers chosen at run time with `.into()`, even from the type it wants.
#![allow(clippy::useless_conversion)]

use super::{
    Cold, Emitter, Shared, CTX, CTX_INTERVAL, CTX_INTERVAL_OF, CTX_PC, CTX_REFILL, CTX_STOP,
    LAST_PAGE, PACKED, SAVED_T,
};
use crate::backend::compiled::calls::{pass_check_point, touch_before, touch_new};
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};

impl Emitter<'_> {
    pub(super) fn emit_cold(&mut self) {
        let Shared { exit, stop, .. } = self.shared;
        for (label, pc, budget) in std::mem::take(&mut self.stops) {
            // A call to the shared stop with its operands after it: 13 bytes a stop.
            dynasm!(self.ops
                ; .arch x64
                ; =>label
                ; call =>stop
                ; .i32 pc as i32
                ; .i32 budget as i32
            );
        }
        for cold in std::mem::take(&mut self.cold) {
            match cold {
                Cold::CheckPoint {
                    label,
                    back,
                    pc,
                    off,
                    len,
                } => {
                    let (off, len, pc) = (off as i32, len as i32, pc as i32);
                    let function = pass_check_point as *const () as usize as i64;
                    dynasm!(self.ops ; .arch x64 ; =>label ; add r13, len);
                    self.spill();
                    dynasm!(self.ops
                        ; .arch x64
                        ; mov rdi, [rsp + CTX]
                        ; mov esi, off
                        ; mov rdx, r13
                        ; mov ecx, len
                        ; lea r8, [rsp + PACKED]
                        ; mov rax, QWORD function
                        ; call rax
                    );
                    self.reload();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test rax, rax
                        ; jz >stopped
                        ; add r13, rax
                        ; sub r13, len
                        ; mov DWORD [rsp + LAST_PAGE], -1
                        ; jmp =>back
                        ; stopped:
                        ; mov rdx, [rsp + CTX]
                        ; mov DWORD [rdx + CTX_PC], pc
                        ; mov eax, [rdx + CTX_STOP]
                        ; jmp =>exit
                    );
                }
                Cold::Touch {
                    label,
                    back,
                    from_end,
                } => {
                    let from_end = from_end as i32;
                    dynasm!(self.ops
                        ; .arch x64
                        ; =>label
                        ; mov [rsp + SAVED_T], ecx
                        ; mov rdx, [rsp + CTX]
                        ; lea rcx, [r13 + from_end]
                        ; cmp rcx, [rdx + CTX_REFILL]
                        ; ja >before
                        ; mov [rsp + LAST_PAGE], eax
                        ; mov rcx, [rdx + CTX_INTERVAL_OF]
                        ; mov ecx, [rcx + rax * 4]
                        ; cmp ecx, [rdx + CTX_INTERVAL]
                        ; je >done
                    );
                    self.emit_touch_call(touch_new as *const () as usize as i64);
                    dynasm!(self.ops ; .arch x64 ; jmp >done ; before:);
                    self.emit_touch_call(touch_before as *const () as usize as i64);
                    dynasm!(self.ops
                        ; .arch x64
                        ; done:
                        ; mov ecx, [rsp + SAVED_T]
                        ; jmp =>back
                    );
                }
            }
        }
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
