//! Execution backends. Every backend is always compiled in and chosen at run time with
//! [`BackendKind`]; all of them must give results identical to the interpreter's.
//!
//! A backend is a type implementing [`Backend`]: it prepares a program for a mode (the
//! interpreter has nothing to do, the recompiler compiles and loads a library) and runs a state
//! with what it prepared. [`BackendKind`] and the dispatch between backends are generated from
//! the instance table in [`crate::instance`], which lists every backend once.

pub mod compiled;
pub mod interp;
pub mod jit;
pub mod rvr;

use crate::error::{CompileError, ExecError};
use crate::metering::{CostMeter, CostState, NoMeter, SegmentationState};
use crate::program::Program;
use crate::state::VmState;
use jit::JitModule;
use rvr::{RvrModule, RvrOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub use crate::instance::BackendKind;
pub use rvr::{CompileReport, LiftMode};

/// The metering state a run updates, by mode.
pub enum ModeRef<'a> {
    /// Pure mode: nothing.
    Pure,
    /// Metered mode: the open segment.
    Metered(&'a mut SegmentationState),
    /// Metered-cost mode: the cost so far.
    Cost(&'a mut CostState),
}

impl ModeRef<'_> {
    /// The same metering state, borrowed for a shorter time (to lend it to one run).
    pub fn reborrow(&mut self) -> ModeRef<'_> {
        match self {
            ModeRef::Pure => ModeRef::Pure,
            ModeRef::Metered(segment) => ModeRef::Metered(segment),
            ModeRef::Cost(cost) => ModeRef::Cost(cost),
        }
    }
}

/// An execution backend: one row of the instance table.
///
/// An instance prepares its program once, when it is created, for its mode; every run of the
/// instance (and of its clones) then uses what was prepared.
pub trait Backend {
    /// What preparing a program for a mode yields, shared by an instance and its clones.
    type Prepared: Clone + std::fmt::Debug + Send + Sync;

    /// Prepares `program` to run in `mode` (compiling it, or taking it from a cache).
    fn prepare(program: &Program, mode: LiftMode) -> Result<Self::Prepared, CompileError>;

    /// Runs `state` until it terminates, faults, reaches instret `end`, or the mode's meter
    /// stops it, exactly as the interpreter would. Guest output goes to `out`. In metered
    /// mode it also returns at the next segment check point it does not pass itself
    /// ([`SegmentationState::next_check`](crate::metering::SegmentationState::next_check)),
    /// for the metered driver to check there.
    fn run(
        prepared: &Self::Prepared,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError>;

    /// Whether preparing hit a cache, and how long compiling took.
    fn compile_report(prepared: &Self::Prepared) -> CompileReport;
}

/// The reference interpreter ([`interp`]): nothing to prepare.
#[derive(Debug, Clone, Copy)]
pub struct InterpBackend;

impl Backend for InterpBackend {
    type Prepared = ();

    fn prepare(_program: &Program, _mode: LiftMode) -> Result<(), CompileError> {
        Ok(())
    }

    fn run(
        _prepared: &(),
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        match mode {
            ModeRef::Pure => interp::run(program, state, end, out, &mut NoMeter),
            ModeRef::Metered(segment) => {
                // The metered driver checks at each check point.
                let system = program.config().system();
                let end = end.min(segment.next_check(state.instret, &system.segmentation));
                let tables = program.meter_tables();
                let bits = system.pointer_max_bits;
                interp::run(program, state, end, out, &mut segment.meter(tables, bits))
            }
            ModeRef::Cost(cost) => {
                let mut meter = CostMeter::new(program.meter_tables(), cost);
                interp::run(program, state, end, out, &mut meter)
            }
        }
    }

    fn compile_report(_prepared: &()) -> CompileReport {
        CompileReport {
            cache_hit: false,
            compile_time: Duration::ZERO,
            precompiled: false,
        }
    }
}

/// The recompiler ([`rvr`]): the program compiled for the mode and loaded, with the default
/// compiler and disk cache.
#[derive(Debug, Clone, Copy)]
pub struct RvrBackend;

impl Backend for RvrBackend {
    type Prepared = Arc<RvrModule>;

    fn prepare(program: &Program, mode: LiftMode) -> Result<Arc<RvrModule>, CompileError> {
        Ok(Arc::new(RvrModule::build(
            program,
            mode,
            &RvrOptions::default(),
        )?))
    }

    fn run(
        module: &Arc<RvrModule>,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        module.run(program, state, end, mode, out)
    }

    fn compile_report(module: &Arc<RvrModule>) -> CompileReport {
        module.report()
    }
}

/// The JIT ([`jit`]): the program compiled to machine code in-process for the mode.
#[derive(Debug, Clone, Copy)]
pub struct JitBackend;

impl Backend for JitBackend {
    type Prepared = Arc<JitModule>;

    fn prepare(program: &Program, mode: LiftMode) -> Result<Arc<JitModule>, CompileError> {
        Ok(Arc::new(JitModule::build(program, mode)?))
    }

    fn run(
        module: &Arc<JitModule>,
        program: &Program,
        state: &mut VmState,
        end: u64,
        mode: ModeRef<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        module.run(program, state, end, mode, out)
    }

    fn compile_report(module: &Arc<JitModule>) -> CompileReport {
        module.report()
    }
}
