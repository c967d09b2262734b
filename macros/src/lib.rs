//! Procedural macros of [rvx](https://docs.rs/rvx): `#[derive(VmConfig)]`, and `instances!`,
//! the table of backends x modes from which rvx generates its instance types.
//!
//! Use the derive through `rvx` (`use rvx::VmConfig;`), which re-exports it next to the trait it
//! implements; its generated code names items as `::rvx::...`. `instances!` is rvx's own: its
//! generated code names items as `crate::...` and is invoked inside rvx only.
#![deny(missing_docs)]

mod config;
mod table;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `rvx::VmConfig` (and `AsRef<rvx::SystemConfig>`) for a struct with named fields.
///
/// Every field carries one of two attributes:
/// - `#[config]`, on exactly one field: the system configuration. Its type implements
///   `rvx::VmConfig`: a `rvx::SystemConfig`, or another derived configuration, whose
///   extensions this configuration inherits (they come first).
/// - `#[extension]`, on any number of fields: an extension of the VM, registered in field
///   declaration order. Its type implements `rvx::extension::ExtensionField`: an
///   `rvx::extension::Extension` that is `Clone`, or an `Option` of one (absent when `None`).
///
/// ```ignore
/// use rvx::config::Rv32ImConfig;
/// use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M};
/// use rvx::{SystemConfig, VmConfig};
///
/// /// RV32IM from scratch.
/// #[derive(VmConfig, Clone, Default)]
/// struct MyConfig {
///     #[config]
///     system: SystemConfig,
///     #[extension]
///     rv32i: Rv32I,
///     #[extension]
///     io: Io,
///     #[extension]
///     rv32m: Rv32M,
/// }
///
/// /// The standard configuration plus an optional extension.
/// #[derive(VmConfig, Clone, Default)]
/// struct Extended {
///     #[config]
///     base: Rv32ImConfig,
///     #[extension]
///     extra: Option<Rv32M>,
/// }
///
/// let config = Extended::default();
/// let names: Vec<_> = config.extensions().iter().map(|e| e.name()).collect();
/// assert_eq!(names, ["rv32i", "io", "rv32m"]);
/// ```
///
/// Generic configurations are supported; bound the type parameters as the fields need
/// (`E: rvx::extension::Extension + Clone`, `C: rvx::VmConfig`).
///
/// The generated code is
///
/// ```ignore
/// impl rvx::VmConfig for MyConfig {
///     fn system(&self) -> &rvx::SystemConfig {
///         rvx::VmConfig::system(&self.system)
///     }
///     fn extensions(&self) -> Vec<Arc<dyn rvx::extension::Extension>> {
///         let mut out = rvx::VmConfig::extensions(&self.system);
///         rvx::extension::ExtensionField::collect_into(&self.rv32i, &mut out);
///         rvx::extension::ExtensionField::collect_into(&self.io, &mut out);
///         rvx::extension::ExtensionField::collect_into(&self.rv32m, &mut out);
///         out
///     }
/// }
/// impl AsRef<rvx::SystemConfig> for MyConfig { /* rvx::VmConfig::system(self) */ }
/// ```
///
/// Misuse (an enum, a tuple struct, a missing or second `#[config]` field, an unmarked field,
/// an attribute argument, a field type that is not an extension or not a configuration) is a
/// compile error pointing at the offending item.
#[proc_macro_derive(VmConfig, attributes(config, extension))]
pub fn derive_vm_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    config::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The table of backends x modes from which rvx's instance types are generated: adding a
/// backend or a mode is one row. Invoked once, in `rvx::instance`.
///
/// ```ignore
/// rvx_macros::instances! {
///     backends {
///         /// The reference interpreter over pre-decoded instructions.
///         #[default]
///         Interpreter { name: "interp", backend: InterpBackend },
///         /// The recompiler: the program lifted to C, compiled to a shared library and loaded.
///         Rvr { name: "rvr", backend: RvrBackend },
///     }
///     modes {
///         /// Runs a program in pure mode: no metering, just the final state.
///         PureInstance {
///             prepare: LiftMode::Pure,
///             driver: PureDriver,
///             returns: VmState,
///             /// Runs the program on `inputs` until it terminates.
///             execute: execute,
///             /// Runs the program on `inputs` for at most `limit` instructions.
///             with_limit: execute_with_limit,
///             /// Continues a suspended state for at most `limit` more instructions.
///             from_state: execute_from_state,
///         },
///         // MeteredInstance { .. }, MeteredCostInstance { .. }
///     }
/// }
/// ```
///
/// A backend row is `Variant { name: "cli-name", backend: Type }`: the `BackendKind` variant,
/// its short name (command line, reports, `Display`), and the type implementing
/// `crate::backend::Backend`. Its doc comment documents the variant (and its first paragraph is
/// `BackendKind::summary`); `#[default]` marks at most one row as `BackendKind::default()`.
///
/// A mode row is the instance type with: `prepare`, the `crate::backend::LiftMode` the
/// backend prepares the program for; `driver`, the type implementing `crate::instance::Driver`
/// (what the mode does around the backend's runs, and the options its instances carry);
/// `returns`, what the mode's methods return (the driver's `Returns`); and the names of the
/// mode's three methods, each with its doc comment: `execute` (from the inputs until the end),
/// `with_limit` (from the inputs, for at most `limit` instructions) and `from_state` (continuing
/// a suspended state).
///
/// The expansion, in the invoking module, is:
///
/// ```ignore
/// /// The available backends: one per row of the instance table, in its order.
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
/// #[serde(rename_all = "lowercase")]
/// pub enum BackendKind { /** docs */ #[default] Interpreter, /** docs */ Rvr }
/// impl BackendKind {
///     pub const ALL: &'static [BackendKind] = &[BackendKind::Interpreter, BackendKind::Rvr];
///     pub fn name(self) -> &'static str { /* "interp", "rvr" */ }
///     pub fn summary(self) -> &'static str { /* first paragraph of the row's docs */ }
/// }
/// impl Display for BackendKind { /* name() */ }
///
/// /// The state bridge: the one place that dispatches on the backend.
/// #[derive(Debug, Clone)]
/// enum Bridge {
///     Interpreter(<InterpBackend as Backend>::Prepared),
///     Rvr(<RvrBackend as Backend>::Prepared),
/// }
/// impl Bridge {
///     fn prepare(kind: BackendKind, program: &Program, mode: LiftMode) -> Result<Bridge, CompileError> {
///         Ok(match kind {
///             BackendKind::Interpreter => Bridge::Interpreter(InterpBackend::prepare(program, mode)?),
///             BackendKind::Rvr => Bridge::Rvr(RvrBackend::prepare(program, mode)?),
///         })
///     }
///     fn kind(&self) -> BackendKind { /* the variant */ }
///     fn run(&self, program: &Program, state: &mut VmState, end: u64, mode: ModeRef<'_>,
///            out: &mut dyn Write) -> Result<(), ExecError> {
///         match self {
///             Bridge::Interpreter(prepared) => InterpBackend::run(prepared, program, state, end, mode, out),
///             Bridge::Rvr(prepared) => RvrBackend::run(prepared, program, state, end, mode, out),
///         }
///     }
///     fn compile_report(&self) -> CompileReport { /* Backend::compile_report(prepared) */ }
/// }
///
/// /// Runs a program in pure mode: no metering, just the final state.
/// #[derive(Debug, Clone)]
/// pub struct PureInstance {
///     core: Core,
///     settings: <PureDriver as Driver>::Settings,
/// }
/// impl PureInstance {
///     pub fn new(program: Arc<Program>, backend: BackendKind) -> Result<Self, Error> {
///         Ok(PureInstance {
///             core: Core::new(program, backend, LiftMode::Pure)?,
///             settings: Default::default(),
///         })
///     }
///     pub fn compile_report(&self) -> CompileReport { self.core.compile_report() }
///     pub fn with_output(mut self, output: Output) -> Self { self.core.set_output(output); self }
///     pub fn program(&self) -> &Arc<Program> { self.core.program() }
///     pub fn backend(&self) -> BackendKind { self.core.backend() }
///     pub fn initial_state(&self, inputs: impl IntoIterator<Item = Vec<u8>>) -> Result<VmState, Error> {
///         self.core.initial_state(inputs)
///     }
///     pub fn execute(&self, inputs: impl IntoIterator<Item = Vec<u8>>) -> Result<VmState, Error> {
///         self.execute_from_state(self.initial_state(inputs)?, None)
///     }
///     pub fn execute_with_limit(&self, inputs: impl IntoIterator<Item = Vec<u8>>, limit: u64)
///         -> Result<VmState, Error> {
///         self.execute_from_state(self.initial_state(inputs)?, Some(limit))
///     }
///     pub fn execute_from_state(&self, state: VmState, limit: Option<u64>) -> Result<VmState, Error> {
///         let end = self.core.end_of(&state, limit)?;
///         <PureDriver as Driver>::drive(&self.core, &self.settings, state, end)
///     }
/// }
/// // ... and the same for every other mode row.
/// ```
///
/// with every path written in full (`::std::...`, `crate::program::Program`,
/// `crate::backend::{Backend, LiftMode, ModeRef, CompileReport}`, `crate::error::{Error,
/// CompileError, ExecError}`, `crate::state::VmState`, and `crate::instance::{Core, Driver,
/// Output}`, which the invoking module provides: `Core::{new, set_output, program, backend,
/// compile_report, initial_state, end_of}` and the `Driver` trait with `Settings`, `Returns`
/// and `drive`). The row's types and `prepare` expression resolve where the table is written.
///
/// A malformed table (a missing, unknown or repeated key, an undocumented row or method, a
/// duplicate backend, name or instance type, a second `#[default]`, a method named like a
/// common one) is a compile error pointing at the mistake.
#[proc_macro]
pub fn instances(input: TokenStream) -> TokenStream {
    let table = parse_macro_input!(input as table::Table);
    table::expand(&table)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
