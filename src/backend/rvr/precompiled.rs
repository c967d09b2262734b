//! The bundled guests precompiled into rvx: build.rs lifts each bundled guest
//! ([`crate::guests::ALL`], with its own configuration) in every mode with this backend's
//! lifter, compiles the C with the `cc` crate and links it into rvx, and lists the entry points
//! here. [`RvrModule::build`](super::RvrModule::build) runs them instead of compiling when the
//! program, its configuration and the mode are those the code was generated for (the same
//! [`codegen_key`]), so the recompiler starts on a bundled guest with no compile time and no
//! disk cache.
//!
//! The registry is empty (and [`build`] says why) when rvx was built without the default
//! `precompiled` feature, or when build.rs found no working C compiler; the recompiler then
//! compiles bundled guests like any other program.
//!
//! Precompiled code is built for the target, not for the build machine: the C compiler gets
//! [`CCompiler::code_flags`](super::compiler::CCompiler::code_flags) with 256-bit vectors only
//! when the target's features include AVX2 (`-C target-feature=+avx2`), and the C shape of the
//! compiler build.rs used (clang 19 or newer if it finds one, else the `cc` crate's choice).

use super::key::codegen_key;
use super::lift::LiftMode;
use crate::backend::compiled::abi::ABI_VERSION;
use crate::backend::compiled::RunFn;
use crate::program::Program;

/// One bundled guest in one mode, compiled into rvx by build.rs.
#[derive(Clone, Copy)]
pub struct Precompiled {
    /// The bundled guest's name ([`crate::guests::BundledGuest::name`]).
    pub guest: &'static str,
    /// The mode the code was generated for.
    pub mode: LiftMode,
    /// The [`codegen_key`] of the program the code was generated for (hex).
    pub key: &'static str,
    /// That program's fingerprint ([`Program::fingerprint`]).
    pub fingerprint: u64,
    /// The entry point.
    run: RunFn,
    /// Reads the ABI version and program fingerprint the compiled code exports.
    exported: fn() -> (u32, u64),
}

impl std::fmt::Debug for Precompiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Precompiled")
            .field("guest", &self.guest)
            .field("mode", &self.mode)
            .field("key", &self.key)
            .finish()
    }
}

impl Precompiled {
    /// The entry point, after checking that the compiled code exports the ABI version of this
    /// rvx and the fingerprint of the program it is listed for; `Err` says what it exports
    /// instead.
    pub(super) fn entry(&self) -> Result<RunFn, String> {
        let (version, fingerprint) = (self.exported)();
        if version != ABI_VERSION || fingerprint != self.fingerprint {
            return Err(format!(
                "precompiled {} ({} mode) exports ABI {version} and program {fingerprint:#x}, expected ABI {ABI_VERSION} and program {:#x}",
                self.guest,
                self.mode.name(),
                self.fingerprint
            ));
        }
        Ok(self.run)
    }
}

/// How build.rs precompiled the bundled guests, or why it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrecompiledBuild {
    /// The guests listed by [`all`] were compiled into rvx.
    Compiled {
        /// The C compiler (path and version line).
        compiler: &'static str,
        /// The C shape ([`CStyle::name`](super::CStyle::name)).
        style: &'static str,
        /// The flags that decided the code ([`code_flags`](super::compiler::CCompiler::code_flags)).
        flags: &'static str,
        /// The widest vectors the code uses, in bytes.
        vector_bytes: usize,
    },
    /// Nothing was precompiled.
    Absent {
        /// Why: the feature is off, or no C compiler worked (with its message).
        reason: &'static str,
    },
}

/// What build.rs generated: `BUILD` and `ENTRIES`.
mod generated {
    use super::{LiftMode, Precompiled, PrecompiledBuild};
    use crate::backend::compiled::abi::RvxCtx;

    include!(concat!(env!("OUT_DIR"), "/precompiled.rs"));
}

/// How the bundled guests were precompiled, or why they were not.
pub fn build() -> PrecompiledBuild {
    generated::BUILD
}

/// Every precompiled guest and mode, in [`crate::guests::ALL`]'s order (empty when [`build`]
/// is [`PrecompiledBuild::Absent`]).
pub fn all() -> &'static [Precompiled] {
    &generated::ENTRIES
}

/// Whether the bundled guest `guest` is precompiled (in every mode).
pub fn is_precompiled(guest: &str) -> bool {
    all().iter().any(|p| p.guest == guest)
}

/// The precompiled code for `program` in `mode`, if rvx holds code generated for this very
/// program, configuration and mode (its [`codegen_key`]); `None` otherwise, for instance for a
/// bundled guest run with another configuration.
pub fn find(program: &Program, mode: LiftMode) -> Option<&'static Precompiled> {
    let mut candidates = all()
        .iter()
        .filter(|p| p.mode == mode && p.fingerprint == program.fingerprint())
        .peekable();
    // Only a program with a bundled guest's bytes pays for hashing.
    candidates.peek()?;
    let key = codegen_key(program, mode);
    candidates.find(|p| p.key == key.as_str())
}
