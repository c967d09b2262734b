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

use crate::backend::{interp, BackendKind};
use crate::error::{Error, ExecError, ExecErrorKind};
use crate::metering::{CostMeter, CostReport, CostState, Segment, SegmentationState};
use crate::metering::{Meter, NoMeter};
use crate::program::Program;
use crate::state::VmState;
use std::io::Write;
use std::sync::{Arc, Mutex};

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

/// What every instance holds: the program, the backend, where output goes.
#[derive(Debug, Clone)]
struct Core {
    program: Arc<Program>,
    backend: BackendKind,
    output: Output,
}

impl Core {
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

    /// Runs `state` on the backend until it terminates or reaches instret `end`.
    fn run<M: Meter>(&self, state: &mut VmState, end: u64, meter: &mut M) -> Result<(), Error> {
        match self.backend {
            BackendKind::Interpreter => self
                .output
                .with_writer(|out| interp::run(&self.program, state, end, out, meter))?,
        }
        Ok(())
    }
}

macro_rules! common_methods {
    () => {
        /// An instance of `program` (with the configuration it was loaded for) on `backend`.
        pub fn new(program: Arc<Program>, backend: BackendKind) -> Result<Self, Error> {
            Ok(Self::from_core(Core {
                program,
                backend,
                output: Output::default(),
            }))
        }

        /// Sends the guest's printed output to `output` instead of standard output.
        pub fn with_output(mut self, output: Output) -> Self {
            self.core.output = output;
            self
        }

        /// The program this instance runs.
        pub fn program(&self) -> &Arc<Program> {
            &self.core.program
        }

        /// The backend.
        pub fn backend(&self) -> BackendKind {
            self.core.backend
        }

        /// The initial state for the given input records.
        pub fn initial_state(
            &self,
            inputs: impl IntoIterator<Item = Vec<u8>>,
        ) -> Result<VmState, Error> {
            self.core.initial_state(inputs)
        }
    };
}

/// Runs a program in pure mode: no metering, just the final state.
#[derive(Debug, Clone)]
pub struct PureInstance {
    core: Core,
}

impl PureInstance {
    fn from_core(core: Core) -> Self {
        PureInstance { core }
    }

    common_methods!();

    /// Runs the program on `inputs` until it terminates.
    pub fn execute(&self, inputs: impl IntoIterator<Item = Vec<u8>>) -> Result<VmState, Error> {
        self.execute_from_state(self.initial_state(inputs)?, None)
    }

    /// Runs the program on `inputs` for at most `limit` instructions; the returned state is
    /// terminated, or suspended after exactly `limit` instructions.
    pub fn execute_with_limit(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
        limit: u64,
    ) -> Result<VmState, Error> {
        self.execute_from_state(self.initial_state(inputs)?, Some(limit))
    }

    /// Continues a suspended state for at most `limit` more instructions (`None`: until it
    /// terminates). The state may come from another backend or another process.
    pub fn execute_from_state(
        &self,
        mut state: VmState,
        limit: Option<u64>,
    ) -> Result<VmState, Error> {
        let end = self.core.end_of(&state, limit)?;
        self.core.run(&mut state, end, &mut NoMeter)?;
        Ok(state)
    }
}

/// Runs a program in metered mode: the final state and the segments it is cut into.
#[derive(Debug, Clone)]
pub struct MeteredInstance {
    core: Core,
}

impl MeteredInstance {
    fn from_core(core: Core) -> Self {
        MeteredInstance { core }
    }

    common_methods!();

    /// Runs the program on `inputs` until it terminates; returns every segment.
    pub fn execute_metered(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<(Vec<Segment>, VmState), Error> {
        self.execute_metered_from_state(self.initial_state(inputs)?, None)
    }

    /// Runs for at most `limit` instructions; returns the segments closed so far (the open one
    /// travels in the state).
    pub fn execute_metered_with_limit(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
        limit: u64,
    ) -> Result<(Vec<Segment>, VmState), Error> {
        self.execute_metered_from_state(self.initial_state(inputs)?, Some(limit))
    }

    /// Continues a suspended state for at most `limit` more instructions, returning the
    /// segments closed meanwhile. Concatenating the segments of successive calls gives the
    /// segments of one uninterrupted run. A state that was not metered so far starts a new
    /// segment at its instret.
    pub fn execute_metered_from_state(
        &self,
        mut state: VmState,
        limit: Option<u64>,
    ) -> Result<(Vec<Segment>, VmState), Error> {
        let end = self.core.end_of(&state, limit)?;
        let program = &self.core.program;
        let tables = program.meter_tables();
        let system = program.config().system();
        let limits = &system.segmentation;
        let mut open = match state.segmentation.take() {
            Some(open) => open,
            None => Box::new(SegmentationState::new(
                tables,
                state.instret,
                system.pointer_max_bits,
            )),
        };
        let mut segments = Vec::new();
        while state.instret < end && !state.is_terminated() {
            if open.check_due(state.instret, limits) {
                segments.extend(open.check(tables, limits, &system.proving_memory, state.instret));
            }
            let next_check =
                (state.instret / limits.segment_check_insns + 1) * limits.segment_check_insns;
            let mut meter = open.meter(tables, system.pointer_max_bits);
            self.core.run(&mut state, next_check.min(end), &mut meter)?;
        }
        if state.is_terminated() {
            segments.push(open.finish(tables, state.instret));
        } else {
            state.segmentation = Some(open);
        }
        Ok((segments, state))
    }
}

/// Runs a program in metered-cost mode: the final state and the proving cost.
#[derive(Debug, Clone)]
pub struct MeteredCostInstance {
    core: Core,
    max_cost: Option<u64>,
}

impl MeteredCostInstance {
    fn from_core(core: Core) -> Self {
        MeteredCostInstance {
            core,
            max_cost: None,
        }
    }

    common_methods!();

    /// Stops execution once the cost exceeds `max_cost` (default: the configuration's).
    pub fn with_max_cost(mut self, max_cost: u64) -> Self {
        self.max_cost = Some(max_cost);
        self
    }

    /// Runs the program on `inputs` until it terminates or exceeds the maximum cost.
    pub fn execute_metered_cost(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<(CostReport, VmState), Error> {
        self.execute_metered_cost_from_state(self.initial_state(inputs)?, None)
    }

    /// Runs for at most `limit` instructions.
    pub fn execute_metered_cost_with_limit(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
        limit: u64,
    ) -> Result<(CostReport, VmState), Error> {
        self.execute_metered_cost_from_state(self.initial_state(inputs)?, Some(limit))
    }

    /// Continues a suspended state for at most `limit` more instructions; the cost so far
    /// travels in the state.
    pub fn execute_metered_cost_from_state(
        &self,
        mut state: VmState,
        limit: Option<u64>,
    ) -> Result<(CostReport, VmState), Error> {
        let end = self.core.end_of(&state, limit)?;
        let program = &self.core.program;
        let max_cost = self.max_cost.unwrap_or(program.config().system().max_cost);
        let mut cost = state.cost.take().unwrap_or(CostState { cost: 0, max_cost });
        cost.max_cost = max_cost;
        self.core.run(
            &mut state,
            end,
            &mut CostMeter::new(program.meter_tables(), &mut cost),
        )?;
        let exceeded = !state.is_terminated() && state.instret < end && cost.cost > max_cost;
        let report = CostReport {
            cost: cost.cost,
            instret: state.instret,
            max_cost,
            exceeded,
        };
        if !state.is_terminated() {
            state.cost = Some(cost);
        }
        Ok((report, state))
    }
}
