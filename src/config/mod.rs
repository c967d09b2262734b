//! VM configurations: a [`SystemConfig`] plus an ordered list of extensions.
//!
//! Declare one with `#[derive(VmConfig)]` on a struct with one `#[config]` field (a
//! [`SystemConfig`] or another derived configuration, whose extensions come first) and any
//! number of `#[extension]` fields (an extension, or an `Option` of one, absent when `None`),
//! or load one from an `openvm.toml` ([`AppConfig`]). [`ExecutionConfig`] turns a configuration
//! into the tables every backend uses; the provided methods of [`VmConfig`] expose them.

mod app;
mod execution;
mod system;

pub use app::AppConfig;
pub use execution::{ChipTable, ExecutionConfig, ExecutorEntry, JitExtension, RvrExtension};
pub use system::{SystemConfig, DEFAULT_NUM_PUBLIC_VALUES, DEFAULT_POINTER_MAX_BITS};

use crate::error::ConfigError;
use crate::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M, Extension};
use std::sync::Arc;

/// A VM configuration. Implemented by `#[derive(VmConfig)]`; only [`VmConfig::system`] and
/// [`VmConfig::extensions`] are required, everything else is derived from them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an rvx VM configuration",
    label = "a `#[config]` field must be a `rvx::SystemConfig` or a configuration that derives `VmConfig`"
)]
pub trait VmConfig: Send + Sync {
    /// The system configuration.
    fn system(&self) -> &SystemConfig;

    /// The extensions, in registration order (an inherited configuration's first).
    fn extensions(&self) -> Vec<Arc<dyn Extension>>;

    /// The executor inventory, chip table and emission tables of this configuration.
    fn execution_config(&self) -> Result<ExecutionConfig, ConfigError> {
        ExecutionConfig::new(self.system().clone(), self.extensions())
    }

    /// For each executor (in registration order), the index of the chip it adds rows to.
    fn executor_idx_to_air_idx(&self) -> Result<Vec<usize>, ConfigError> {
        Ok(self.execution_config()?.executor_idx_to_air_idx())
    }

    /// How the recompiler emits each custom executor's instructions. With `air_idx`
    /// (an executor-to-chip table, normally [`VmConfig::executor_idx_to_air_idx`]'s), each
    /// entry also names the chip its instructions meter into.
    fn create_rvr_extensions(
        &self,
        air_idx: Option<&[usize]>,
    ) -> Result<Vec<RvrExtension>, ConfigError> {
        Ok(self.execution_config()?.rvr_extensions(air_idx))
    }

    /// How the JIT emits each custom executor's instructions; see
    /// [`VmConfig::create_rvr_extensions`].
    fn create_jit_extensions(
        &self,
        air_idx: Option<&[usize]>,
    ) -> Result<Vec<JitExtension>, ConfigError> {
        Ok(self.execution_config()?.jit_extensions(air_idx))
    }
}

impl VmConfig for SystemConfig {
    fn system(&self) -> &SystemConfig {
        self
    }

    fn extensions(&self) -> Vec<Arc<dyn Extension>> {
        Vec::new()
    }
}

impl AsRef<SystemConfig> for SystemConfig {
    fn as_ref(&self) -> &SystemConfig {
        self
    }
}

/// The standard configuration: RV32I, RV32M and the IO instructions.
#[derive(crate::VmConfig, Debug, Clone, Default)]
pub struct Rv32ImConfig {
    /// Memory size and public values.
    #[config]
    pub system: SystemConfig,
    /// The base integer instructions, `terminate` and the IO phantoms.
    #[extension]
    pub rv32i: Rv32I,
    /// The hint-store and `reveal` instructions.
    #[extension]
    pub io: Io,
    /// Multiplication and division.
    #[extension]
    pub rv32m: Rv32M,
}

impl Rv32ImConfig {
    /// The standard extensions with the given system configuration.
    pub fn with_system(system: SystemConfig) -> Rv32ImConfig {
        Rv32ImConfig {
            system,
            ..Rv32ImConfig::default()
        }
    }
}
