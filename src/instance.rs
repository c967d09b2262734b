//! Execution instances: a program bound to a configuration and a backend, ready to run any
//! number of times, from scratch or from a suspended state.

use crate::backend::{interp, BackendKind};
use crate::error::Error;
use crate::metering::NoMeter;
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

/// Runs a program in pure mode: no metering, just the final state.
#[derive(Debug, Clone)]
pub struct PureInstance {
    program: Arc<Program>,
    backend: BackendKind,
    output: Output,
}

impl PureInstance {
    /// An instance of `program` (with the configuration it was loaded for) on `backend`.
    pub fn new(program: Arc<Program>, backend: BackendKind) -> Result<PureInstance, Error> {
        Ok(PureInstance {
            program,
            backend,
            output: Output::default(),
        })
    }

    /// Sends the guest's printed output to `output` instead of standard output.
    pub fn with_output(mut self, output: Output) -> PureInstance {
        self.output = output;
        self
    }

    /// The program this instance runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The backend.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The initial state for the given input records.
    pub fn initial_state(
        &self,
        inputs: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<VmState, Error> {
        Ok(VmState::new(&self.program, inputs)?)
    }

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
        state.check_compatible(&self.program)?;
        let end = limit.map_or(u64::MAX, |n| state.instret.saturating_add(n));
        match self.backend {
            BackendKind::Interpreter => self.output.with_writer(|out| {
                interp::run(&self.program, &mut state, end, out, &mut NoMeter)
            })?,
        }
        Ok(state)
    }
}
