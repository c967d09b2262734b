//! Execution instances: a program bound to a backend, ready to run any number of times in one
//! mode, from its inputs or from a suspended state (of any backend, from any process).
//!
//! - [`PureInstance`]: the final state.
//! - [`MeteredInstance`]: the final state and the segments.
//! - [`MeteredCostInstance`]: the final state and the proving cost.
//!
//! Every instance has `execute(inputs)`, `execute_with_limit(inputs, n)` (stop after exactly
//! `n` instructions) and `execute_from_state(state, limit)` in its mode's flavour. A limit
//! suspends the run: the returned state carries everything needed to continue it, including
//! the open segment of a metered run and the cost so far of a metered-cost run.
//!
//! The instance types, [`BackendKind`] and the bridge between an instance and its backend are
//! generated from one table of backends x modes (`rvx_macros::instances!`, below); what each
//! mode does around the backend's runs is written here, in `Core` and the mode drivers.

mod drivers;

use crate::backend::{CompileReport, InterpBackend, JitBackend, LiftMode, ModeRef, RvrBackend};
use crate::error::{Error, ExecError, ExecErrorKind};
use crate::metering::{CostReport, Segment};
use crate::program::Program;
use crate::state::VmState;
use drivers::{CostDriver, MeteredDriver, PureDriver};
use std::io::Write;
use std::sync::{Arc, Mutex};

rvx_macros::instances! {
    backends {
        /// The reference interpreter over pre-decoded instructions.
        #[default]
        Interpreter { name: "interp", backend: InterpBackend },
        /// The recompiler: the program lifted to C, compiled to a shared library and loaded.
        Rvr { name: "rvr", backend: RvrBackend },
        /// The JIT: the program compiled to machine code in-process.
        Jit { name: "jit", backend: JitBackend },
    }
    modes {
        /// Runs a program in pure mode: no metering, just the final state.
        PureInstance {
            prepare: LiftMode::Pure,
            driver: PureDriver,
            returns: VmState,
            /// Runs the program on `inputs` until it terminates.
            execute: execute,
            /// Runs the program on `inputs` for at most `limit` instructions; the returned state
            /// is terminated, or suspended after exactly `limit` instructions.
            with_limit: execute_with_limit,
            /// Continues a suspended state for at most `limit` more instructions (`None`: until
            /// it terminates). The state may come from another backend or another process.
            from_state: execute_from_state,
        },
        /// Runs a program in metered mode: the final state and the segments it is cut into.
        MeteredInstance {
            prepare: LiftMode::Metered,
            driver: MeteredDriver,
            returns: (Vec<Segment>, VmState),
            /// Runs the program on `inputs` until it terminates; returns every segment.
            execute: execute_metered,
            /// Runs for at most `limit` instructions; returns the segments closed so far (the
            /// open one travels in the state).
            with_limit: execute_metered_with_limit,
            /// Continues a suspended state for at most `limit` more instructions, returning the
            /// segments closed meanwhile. Concatenating the segments of successive calls gives
            /// the segments of one uninterrupted run. A state that was not metered so far starts
            /// a new segment at its instret.
            from_state: execute_metered_from_state,
        },
        /// Runs a program in metered-cost mode: the final state and the proving cost.
        MeteredCostInstance {
            prepare: LiftMode::Cost,
            driver: CostDriver,
            returns: (CostReport, VmState),
            /// Runs the program on `inputs` until it terminates or exceeds the maximum cost.
            execute: execute_metered_cost,
            /// Runs for at most `limit` instructions.
            with_limit: execute_metered_cost_with_limit,
            /// Continues a suspended state for at most `limit` more instructions; the cost so far
            /// travels in the state.
            from_state: execute_metered_cost_from_state,
        },
    }
}

impl MeteredCostInstance {
    /// Stops execution once the cost exceeds `max_cost` (default: the configuration's).
    pub fn with_max_cost(mut self, max_cost: u64) -> Self {
        self.settings.max_cost = Some(max_cost);
        self
    }
}

/// Where the guest's `printstr` output goes.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// The host process's standard output.
    #[default]
    Stdout,
    /// The host process's standard error.
    Stderr,
    /// Nowhere.
    Discard,
    /// Appended to a shared buffer (useful in tests and embedders).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Output {
    fn with_writer<T>(&self, f: impl FnOnce(&mut dyn Write) -> T) -> T {
        match self {
            Output::Stdout => f(&mut std::io::stdout().lock()),
            Output::Stderr => f(&mut std::io::stderr().lock()),
            Output::Discard => f(&mut std::io::sink()),
            Output::Buffer(buffer) => {
                let mut guard = buffer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                f(&mut *guard)
            }
        }
    }
}

/// What a mode does around the backend's runs: one per mode row of the table (in
/// [`drivers`]).
trait Driver {
    /// The options an instance of the mode carries (default when created).
    type Settings: Clone + std::fmt::Debug + Default;
    /// What the mode's `execute*` methods return.
    type Returns;

    /// Runs `state`, which [`Core::end_of`] checked, until it terminates, reaches instret
    /// `end`, or the mode stops it.
    fn drive(
        core: &Core,
        settings: &Self::Settings,
        state: VmState,
        end: u64,
    ) -> Result<Self::Returns, Error>;
}

/// What every instance holds: the program, its backend with what the backend prepared for the
/// instance's mode (the bridge), and where output goes.
#[derive(Debug, Clone)]
struct Core {
    program: Arc<Program>,
    bridge: Bridge,
    output: Output,
}

impl Core {
    /// Prepares `program` on `backend` for `mode` (a compiling backend compiles it here, or
    /// takes it from its cache).
    fn new(program: Arc<Program>, backend: BackendKind, mode: LiftMode) -> Result<Core, Error> {
        let bridge = Bridge::prepare(backend, &program, mode)?;
        Ok(Core {
            program,
            bridge,
            output: Output::default(),
        })
    }

    fn program(&self) -> &Arc<Program> {
        &self.program
    }

    fn backend(&self) -> BackendKind {
        self.bridge.kind()
    }

    fn set_output(&mut self, output: Output) {
        self.output = output;
    }

    fn compile_report(&self) -> CompileReport {
        self.bridge.compile_report()
    }

    fn initial_state(&self, inputs: impl IntoIterator<Item = Vec<u8>>) -> Result<VmState, Error> {
        Ok(VmState::new(&self.program, inputs)?)
    }

    /// Checks `state` and turns a relative limit into the instret to stop at.
    fn end_of(&self, state: &VmState, limit: Option<u64>) -> Result<u64, Error> {
        state.check_compatible(&self.program)?;
        if state.is_terminated() {
            return Err(Error::Exec(ExecError {
                pc: state.pc,
                instret: state.instret,
                insn: self.program.describe(state.pc),
                kind: ExecErrorKind::AlreadyTerminated,
            }));
        }
        Ok(limit.map_or(u64::MAX, |n| state.instret.saturating_add(n)))
    }

    /// Runs `state` on the backend until it terminates, reaches instret `end`, or the mode's
    /// meter stops it.
    fn run(&self, state: &mut VmState, end: u64, mode: ModeRef<'_>) -> Result<(), Error> {
        self.output
            .with_writer(|out| self.bridge.run(&self.program, state, end, mode, out))?;
        Ok(())
    }
}
