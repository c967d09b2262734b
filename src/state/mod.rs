//! [`VmState`]: the one machine state every backend reads and writes in place.
//!
//! The layout is `#[repr(C)]` with the hot fields (registers, pc, instret, the memory base)
//! first, so native backends can address them at fixed offsets ([`layout`]). The state
//! serialises with serde, guest memory as its non-zero pages, so a suspended run can be saved to
//! a file and resumed in another process or on another backend.

mod memory;
mod streams;

pub use memory::GuestMemory;
pub use streams::{GuestRng, Streams};

use crate::error::{ConfigError, StateFileError};
use crate::metering::{CostState, SegmentationState};
use crate::program::Program;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The complete state of a guest machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[repr(C)]
pub struct VmState {
    /// Registers x0..x31; x0 is always 0.
    pub regs: [u32; 32],
    /// Address of the next instruction to execute.
    pub pc: u32,
    /// `Some(code)` once the guest executed `terminate`; `None` while it can continue.
    pub exit_code: Option<u32>,
    /// Instructions executed so far.
    pub instret: u64,
    /// Guest main memory.
    pub memory: GuestMemory,
    /// The public-values area written by `reveal`.
    #[serde(with = "serde_bytes")]
    pub public_values: Vec<u8>,
    /// Input records and hint stream.
    pub streams: Streams,
    /// The `hintrandom` generator.
    pub rng: GuestRng,
    /// [`Program::fingerprint`] of the program this state belongs to.
    pub program_fingerprint: u64,
    /// The open segment of a metered run suspended before termination.
    pub segmentation: Option<Box<SegmentationState>>,
    /// The cost so far of a metered-cost run suspended before termination.
    pub cost: Option<CostState>,
}

/// Byte offsets of the hot fields, for backends that address the state directly.
pub mod layout {
    use super::VmState;
    use std::mem::offset_of;
    /// Offset of `regs`.
    pub const REGS: usize = offset_of!(VmState, regs);
    /// Offset of `pc`.
    pub const PC: usize = offset_of!(VmState, pc);
    /// Offset of `instret`.
    pub const INSTRET: usize = offset_of!(VmState, instret);
}

/// The magic and version that open a saved state file.
const STATE_FILE_MAGIC: &[u8; 8] = b"RVXSTAT1";

impl VmState {
    /// The initial state of `program`: memory image loaded, pc at the entry point, registers
    /// zero, `inputs` queued as input records, rng freshly seeded.
    pub fn new(
        program: &Program,
        inputs: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<VmState, ConfigError> {
        let config = program.config().system();
        let mut memory = GuestMemory::new(config.memory_size())?;
        for seg in program.segments() {
            let bytes = memory
                .slice_mut(seg.vaddr, seg.data.len() as u64)
                .map_err(|e| {
                    ConfigError::StateMismatch(format!("program does not fit memory: {e}"))
                })?;
            bytes.copy_from_slice(&seg.data);
        }
        Ok(VmState {
            regs: [0; 32],
            pc: program.entry(),
            exit_code: None,
            instret: 0,
            memory,
            public_values: vec![0; config.num_public_values],
            streams: Streams::new(inputs),
            rng: GuestRng::default(),
            program_fingerprint: program.fingerprint(),
            segmentation: None,
            cost: None,
        })
    }

    /// Whether the guest has terminated.
    pub fn is_terminated(&self) -> bool {
        self.exit_code.is_some()
    }

    /// Checks that this state can be resumed with `program` (and its configuration).
    pub fn check_compatible(&self, program: &Program) -> Result<(), ConfigError> {
        let config = program.config().system();
        if self.program_fingerprint != program.fingerprint() {
            return Err(ConfigError::StateMismatch(
                "the state was saved from a different program".into(),
            ));
        }
        if self.memory.size() != config.memory_size() {
            return Err(ConfigError::StateMismatch(format!(
                "memory size {:#x} differs from the configured {:#x}",
                self.memory.size(),
                config.memory_size()
            )));
        }
        if self.public_values.len() != config.num_public_values {
            return Err(ConfigError::StateMismatch(format!(
                "{} public-value bytes, configuration has {}",
                self.public_values.len(),
                config.num_public_values
            )));
        }
        if self.regs[0] != 0 {
            return Err(ConfigError::StateMismatch("x0 is not zero".into()));
        }
        Ok(())
    }

    /// Serialises the state to bytes (a magic header, then postcard).
    pub fn to_bytes(&self) -> Result<Vec<u8>, StateFileError> {
        let mut out = STATE_FILE_MAGIC.to_vec();
        let body = postcard::to_stdvec(self).map_err(|e| StateFileError::Format(e.to_string()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Deserialises a state written by [`VmState::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<VmState, StateFileError> {
        let body = bytes
            .strip_prefix(STATE_FILE_MAGIC.as_slice())
            .ok_or_else(|| StateFileError::Format("not an rvx state file (bad magic)".into()))?;
        postcard::from_bytes(body).map_err(|e| StateFileError::Format(e.to_string()))
    }

    /// Saves the state to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StateFileError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()?).map_err(|e| StateFileError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Loads a state saved with [`VmState::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<VmState, StateFileError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| StateFileError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        VmState::from_bytes(&bytes)
    }
}
