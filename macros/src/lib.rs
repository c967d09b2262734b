//! Procedural macros of [rvx](https://docs.rs/rvx): `#[derive(VmConfig)]`.
//!
//! Use them through `rvx` (`use rvx::VmConfig;`), which re-exports them next to the traits they
//! implement; the generated code names items as `::rvx::...`.
#![deny(missing_docs)]

mod config;

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
