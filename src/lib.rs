//! rvx executes zkVM guest programs (RV32IM plus the OpenVM intrinsic instructions) fast and
//! exactly.
//!
//! Load a [`Program`] from an ELF file for a VM configuration ([`Rv32ImConfig`], one declared
//! with `#[derive(VmConfig)]`, or one loaded from an `openvm.toml`), bind it to a
//! [`BackendKind`] in a [`PureInstance`], and run it from its inputs or from a suspended
//! [`VmState`]:
//!
//! ```no_run
//! use rvx::{BackendKind, Program, PureInstance, Rv32ImConfig};
//! use std::sync::Arc;
//!
//! let config = Rv32ImConfig::default();
//! let program = Program::from_elf(rvx::guests::find("fibonacci").unwrap().elf, &config)?;
//! let instance = PureInstance::new(Arc::new(program), BackendKind::Interpreter)?;
//! let state = instance.execute([10u64.to_le_bytes().to_vec()])?;
//! assert_eq!(state.exit_code, Some(0));
//! assert_eq!(&state.public_values[..4], &55u32.to_le_bytes());
//! # Ok::<(), rvx::Error>(())
//! ```
#![deny(clippy::undocumented_unsafe_blocks)]

// Lets `#[derive(VmConfig)]`'s `::rvx::` paths resolve inside rvx itself.
extern crate self as rvx;

pub mod backend;
pub mod cli;
pub mod config;
pub mod error;
pub mod extension;
pub mod guests;
pub mod instance;
pub mod metering;
pub mod program;
pub mod state;

pub use backend::BackendKind;
pub use config::{ExecutionConfig, Rv32ImConfig, SystemConfig, VmConfig};
pub use error::{ConfigError, Error, ExecError, ExecErrorKind, LoadError, StateFileError};
pub use instance::{Output, PureInstance};
pub use program::Program;
pub use rvx_macros::VmConfig;
pub use state::VmState;
