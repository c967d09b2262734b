//! Execution backends. Every backend is always compiled in and chosen at run time with
//! [`BackendKind`]; all of them must give results identical to the interpreter's.

pub mod interp;

use serde::{Deserialize, Serialize};

/// The available backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The reference interpreter over pre-decoded instructions.
    #[default]
    Interpreter,
}

impl BackendKind {
    /// Every backend, in a stable order.
    pub const ALL: &'static [BackendKind] = &[BackendKind::Interpreter];

    /// The short name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Interpreter => "interp",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
