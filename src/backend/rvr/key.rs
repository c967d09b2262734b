//! What determines the code generated for a program: the keys under which recompiled code is
//! found, on disk ([`cache_key`]) and among the guests precompiled into rvx
//! ([`codegen_key`], see [`super::precompiled`]).
//!
//! Both are computed before any code is generated. build.rs includes this file (with the
//! lifter), so the key a precompiled guest was built under is computed by this same code.

use super::cache::CacheKey;
use super::compiler::CCompiler;
use super::lift::LiftMode;
use crate::backend::compiled::abi::ABI_VERSION;
use crate::program::Program;

/// The code generator's own source: part of every key, so that any change to how code is
/// generated invalidates what was compiled before.
const CODEGEN_SOURCE: [&str; 7] = [
    include_str!("lift/mod.rs"),
    include_str!("lift/insn.rs"),
    include_str!("lift/one_function.rs"),
    include_str!("lift/tail_calls.rs"),
    include_str!("../compiled/abi.rs"),
    include_str!("../../program/blocks.rs"),
    include_str!("../../metering/packed.rs"),
];

/// The key of what the generated code of `program` in `mode` does, whatever its C shape and
/// compiler: the code generator's source, the ABI, the rvx version, the program, its
/// configuration and chip mapping, and the mode. Two programs with equal keys may run each
/// other's compiled code.
pub fn codegen_key(program: &Program, mode: LiftMode) -> CacheKey {
    let words: Vec<u8> = program
        .words()
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let tables = program.meter_tables();
    let chips: Vec<u8> = tables
        .fetch_chip
        .iter()
        .flat_map(|c| c.to_le_bytes())
        .chain(tables.fetch_cost.iter().flat_map(|c| c.to_le_bytes()))
        .collect();
    let config = format!(
        "{:?}|{:?}|{:?}",
        program.config().system(),
        program.config().extension_names(),
        program.config().executor_idx_to_air_idx()
    );
    let mut parts: Vec<&[u8]> = CODEGEN_SOURCE.iter().map(|s| s.as_bytes()).collect();
    let (abi, fingerprint, base) = (
        ABI_VERSION.to_le_bytes(),
        program.fingerprint().to_le_bytes(),
        program.base().to_le_bytes(),
    );
    parts.extend_from_slice(&[
        &abi,
        env!("CARGO_PKG_VERSION").as_bytes(),
        &fingerprint,
        &base,
        &words,
        config.as_bytes(),
        mode.name().as_bytes(),
        &chips,
    ]);
    CacheKey::new(&parts)
}

/// The disk cache key of `program` in `mode` with `compiler`: the [`codegen_key`], the C shape
/// and widest vectors the compiler gets, its identity and flags, and the target.
pub fn cache_key(program: &Program, mode: LiftMode, compiler: &CCompiler) -> CacheKey {
    let codegen = codegen_key(program, mode);
    let style = compiler.style().name();
    let flags = compiler.flags().join(" ");
    let vectors = compiler.vector_bytes().to_le_bytes();
    CacheKey::new(&[
        codegen.as_str().as_bytes(),
        style.as_bytes(),
        &vectors,
        compiler.identity.as_bytes(),
        flags.as_bytes(),
        std::env::consts::ARCH.as_bytes(),
        std::env::consts::OS.as_bytes(),
    ])
}
