//! The interface between rvx and a recompiled program: one `#[repr(C)]` context struct, whose C
//! declaration is generated from the Rust one (offsets checked with `_Static_assert` when the C
//! compiles), and the exit codes of `rvx_run`.

use std::ffi::c_void;
use std::mem::offset_of;

/// Bump when the generated code or this interface changes: it is part of every cache key and
/// exported by every library, and the loader refuses a library built for another version.
pub const ABI_VERSION: u32 = 1;

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

/// Records a first touch of a memory page since the last check point (metered mode).
pub type TouchFn = extern "C" fn(meter: *mut c_void, page: u32);
/// Executes custom instruction `index` at `pc` on the registers `regs` (32 words).
pub type CustomFn = extern "C" fn(host: *mut c_void, index: u32, pc: u32, regs: *mut u32) -> u32;

/// The context `rvx_run` receives: where the machine state lives and what the mode meters.
#[repr(C)]
pub struct RvxCtx {
    /// The 32 guest registers (`VmState::regs`), read on entry and written back on exit.
    pub regs: *mut u32,
    /// Guest memory.
    pub mem: *mut u8,
    /// In: instructions allowed; out: instructions left.
    pub budget: u64,
    /// In: where to start; out: where execution stopped.
    pub pc: u32,
    /// Unused; keeps the following fields 8-byte aligned in both languages.
    pub pad: u32,
    /// Metered mode: chip heights (one slot per chip plus a sink).
    pub heights: *mut u32,
    /// Metered mode: the set of pages touched since the last check point, as 64-bit words.
    pub recent_pages: *const u64,
    /// Metered mode: the page tracker, passed to `touch`.
    pub meter: *mut c_void,
    /// Metered mode: records a page not in `recent_pages`.
    pub touch: Option<TouchFn>,
    /// Cost mode: in/out cost so far.
    pub cost: u64,
    /// Cost mode: the maximum cost.
    pub max_cost: u64,
    /// Custom instructions: passed to `custom`.
    pub host: *mut c_void,
    /// Executes a custom instruction.
    pub custom: Option<CustomFn>,
}

/// The C declaration of [`RvxCtx`], with its offsets checked against the Rust layout.
pub fn c_declaration() -> String {
    let fields: [(&str, &str, usize); 13] = [
        ("uint32_t*", "regs", offset_of!(RvxCtx, regs)),
        ("uint8_t*", "mem", offset_of!(RvxCtx, mem)),
        ("uint64_t", "budget", offset_of!(RvxCtx, budget)),
        ("uint32_t", "pc", offset_of!(RvxCtx, pc)),
        ("uint32_t", "pad", offset_of!(RvxCtx, pad)),
        ("uint32_t*", "heights", offset_of!(RvxCtx, heights)),
        (
            "const uint64_t*",
            "recent_pages",
            offset_of!(RvxCtx, recent_pages),
        ),
        ("void*", "meter", offset_of!(RvxCtx, meter)),
        (
            "void (*touch)(void*, uint32_t)",
            "",
            offset_of!(RvxCtx, touch),
        ),
        ("uint64_t", "cost", offset_of!(RvxCtx, cost)),
        ("uint64_t", "max_cost", offset_of!(RvxCtx, max_cost)),
        ("void*", "host", offset_of!(RvxCtx, host)),
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
            // "void (*touch)(...)" -> "touch"
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
