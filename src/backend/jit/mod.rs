//! The JIT backend: machine code emitted in-process with `dynasmrt`, in one pass over the
//! program's [`CodePlan`], in milliseconds and without a C compiler.
//!
//! The code follows the same interface as the recompiler's ([`crate::backend::compiled::abi`]):
//! one entry point taking an [`RvxCtx`](crate::backend::compiled::abi::RvxCtx), run by the
//! shared loop of [`crate::backend::compiled`], which hands to the interpreter whatever the
//! code leaves (blocks that do not fit the budget, check points it may not pass, system
//! instructions, faults). The metering helpers it calls are the shared Rust ones
//! ([`crate::backend::compiled::calls`]).
//!
//! Emitters: x86-64 (`x64`) and aarch64 (`aarch64`), both from the same [`CodePlan`]; the
//! host's is used, and any other host gets [`CompileError::Jit`]. The aarch64 emitter is built
//! on every host, so that its code can be assembled (and disassembled) in tests anywhere; it
//! runs on aarch64 hosts only (tested on x86-64 machines under emulation, see `.ci/aarch64`).

// Assembled everywhere, executed on aarch64 hosts only.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x64;

use crate::backend::compiled::plan::CodePlan;
use crate::backend::compiled::{runs_in, CompiledCode, RunFn};
use crate::backend::rvr::{CompileReport, LiftMode};
use crate::backend::ModeRef;
use crate::error::{CompileError, ExecError};
use crate::program::Program;
use crate::state::VmState;
use dynasmrt::{AssemblyOffset, ExecutableBuffer};
use std::io::Write;
use std::time::Instant;

/// Machine code mapped executable.
enum CodeMemory {
    /// Assembled by `dynasmrt`'s assembler, which maps it itself.
    Assembler(ExecutableBuffer),
    /// Assembled in place in an anonymous mapping, after the table of block offsets, then
    /// made executable (see `x64::buffer`). Only the x86-64 emitter does this: its
    /// instruction cache needs no flushing.
    #[cfg(target_arch = "x86_64")]
    Mapped(memmap2::Mmap),
}

impl CodeMemory {
    /// The code.
    fn bytes(&self) -> &[u8] {
        match self {
            CodeMemory::Assembler(buffer) => buffer,
            #[cfg(target_arch = "x86_64")]
            CodeMemory::Mapped(memory) => memory,
        }
    }

    /// The address of `offset` in the code.
    fn ptr(&self, offset: AssemblyOffset) -> *const u8 {
        match self {
            CodeMemory::Assembler(buffer) => buffer.ptr(offset),
            #[cfg(target_arch = "x86_64")]
            CodeMemory::Mapped(memory) => memory[offset.0..].as_ptr(),
        }
    }
}

/// What an emitter produced: the code, where `rvx_run` starts in it, and the table of block
/// addresses the code reads, where it is not in the code memory.
struct EmittedCode {
    buffer: CodeMemory,
    entry: AssemblyOffset,
    table: Option<Box<[usize]>>,
}

/// A program compiled to machine code for one mode.
pub struct JitModule {
    /// Keeps the code mapped while `run` is callable.
    _buffer: CodeMemory,
    /// Block addresses by code index, where not in `_buffer`; the code reads it (it must not
    /// move or be freed).
    _table: Option<Box<[usize]>>,
    run: RunFn,
    plan: CodePlan,
    fingerprint: u64,
    report: CompileReport,
}

impl std::fmt::Debug for JitModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitModule")
            .field("mode", &self.plan.mode)
            .field("report", &self.report)
            .finish()
    }
}

impl JitModule {
    /// Compiles `program` for `mode`.
    pub fn build(program: &Program, mode: LiftMode) -> Result<JitModule, CompileError> {
        let started = Instant::now();
        let plan = CodePlan::new(program, mode);
        let code = emit(program, &plan)?;
        // SAFETY: the emitter generated `rvx_run` at `entry` with the C ABI and the signature
        // of `RunFn`; the buffer is executable and kept alive with the module.
        let run: RunFn = unsafe { std::mem::transmute(code.buffer.ptr(code.entry)) };
        Ok(JitModule {
            _buffer: code.buffer,
            _table: code.table,
            run,
            fingerprint: program.fingerprint(),
            plan,
            report: CompileReport {
                cache_hit: false,
                compile_time: started.elapsed(),
                precompiled: false,
            },
        })
    }

    /// How long compiling took (never from a cache).
    pub fn report(&self) -> CompileReport {
        self.report
    }

    /// Runs `state` until it terminates, faults, reaches instret `end`, or the mode's meter
    /// stops it (or, metered, at a check point to check), exactly as the interpreter would.
    ///
    /// # Panics
    /// If `program` or the mode is not the one the module was built for.
    pub fn run(
        &self,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        assert!(
            runs_in(self.plan.mode, &mode),
            "code compiled for {:?} run in another mode",
            self.plan.mode
        );
        assert_eq!(
            self.fingerprint,
            program.fingerprint(),
            "code run on another program"
        );
        // On hosts that need it (aarch64), a context synchronisation so that this thread does
        // not run stale instructions (the caches were synchronised when the code was written).
        dynasmrt::cache_control::prepare_for_execution(self._buffer.bytes());
        let code = CompiledCode {
            run: self.run,
            layout: Some(&self.plan.layout),
        };
        // SAFETY: the code was emitted from this program's plan (checked by fingerprint) for
        // this mode (checked above), following the interface `CompiledCode` expects.
        unsafe { code.run(program, state, end, mode, out) }
    }
}

#[cfg(target_arch = "x86_64")]
fn emit(program: &Program, plan: &CodePlan) -> Result<EmittedCode, CompileError> {
    x64::emit(program, plan)
}

#[cfg(target_arch = "aarch64")]
fn emit(program: &Program, plan: &CodePlan) -> Result<EmittedCode, CompileError> {
    aarch64::emit(program, plan)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn emit(_program: &Program, _plan: &CodePlan) -> Result<EmittedCode, CompileError> {
    Err(CompileError::Jit {
        message: format!(
            "no JIT emitter for {} hosts; use the interpreter or rvr",
            std::env::consts::ARCH
        ),
    })
}
