//! rvx executes zkVM guest programs (RV32IM plus the OpenVM intrinsic instructions) fast and
//! exactly.
//!
//! Load a [`Program`] from an ELF file, bind it to a [`SystemConfig`] and a [`BackendKind`] in a
//! [`PureInstance`], and run it from its inputs or from a suspended [`VmState`]:
//!
//! ```no_run
//! use rvx::{BackendKind, Program, PureInstance, SystemConfig};
//! use std::sync::Arc;
//!
//! let config = SystemConfig::default();
//! let program = Program::from_elf(rvx::guests::find("fibonacci").unwrap().elf, &config)?;
//! let instance = PureInstance::new(Arc::new(program), config, BackendKind::Interpreter)?;
//! let state = instance.execute([10u64.to_le_bytes().to_vec()])?;
//! assert_eq!(state.exit_code, Some(0));
//! assert_eq!(&state.public_values[..4], &55u32.to_le_bytes());
//! # Ok::<(), rvx::Error>(())
//! ```
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod backend;
pub mod cli;
pub mod config;
pub mod error;
pub mod guests;
pub mod instance;
pub mod program;
pub mod state;

pub use backend::BackendKind;
pub use config::SystemConfig;
pub use error::{ConfigError, Error, ExecError, ExecErrorKind, LoadError, StateFileError};
pub use instance::{Output, PureInstance};
pub use program::Program;
pub use state::VmState;
