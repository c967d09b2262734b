//! rvx's build script: precompiles the bundled guests (feature `precompiled`, on by default).
//!
//! For every bundled guest (`src/guests.rs`, each with its own `openvm.toml`) and every mode it
//! runs the recompiler's lifter, compiles the C with the `cc` crate (in parallel, `-O2`) into
//! one static library linked into rvx, and writes `$OUT_DIR/precompiled.rs`: the registry that
//! `src/backend/rvr/precompiled.rs` includes (each entry point with the key of the program and
//! mode it was generated for). `RvrModule::build` then runs a bundled guest with no compile.
//!
//! The lifter is the library's own code, included here with `#[path]` rather than copied: a
//! build script is a crate root, so the modules below, declared with the library's module names,
//! make the lifter's `crate::...` paths resolve, and `extern crate self as rvx` satisfies the
//! `::rvx::` paths of `#[derive(VmConfig)]` (as in `src/lib.rs`). Included is what the lifter
//! and the key need, and no more: the program loader and decoder, metering (tables, packed
//! counters), configurations and extensions (a program's decoding and chips come from them),
//! the state module (extensions execute on its memory and streams), errors, the compiled-code
//! ABI and plan, and from `backend/rvr` the lifter, the key, and the compiler driver with the
//! cache it uses for temporary files (to classify the C compiler and choose its flags exactly
//! as the runtime does). Not included: the interpreter, the JIT, the instances, the CLI.
//!
//! Without the feature, or when no C compiler works (a `cargo:warning` says so), the build
//! succeeds with an empty registry, and `rvx guests` reports why.
//!
//! The C compiler is the one the `cc` crate picks (`CC`, `CC_<target>`, `TARGET_CC`, else the
//! platform's `cc`), except that with none of those set and no cross-compilation, the newest
//! clang on `PATH` is used if it is clang 19 or newer (it gets the faster C shape). The code is
//! built for the target, not the build machine: 256-bit vectors only if the target's features
//! include AVX2.

// Only part of the included library modules is used here.
#![allow(dead_code, unused_imports, missing_docs)]

#[cfg(feature = "precompiled")]
extern crate self as rvx;

#[cfg(feature = "precompiled")]
#[path = "src/config/mod.rs"]
mod config;
#[cfg(feature = "precompiled")]
#[path = "src/error.rs"]
mod error;
#[cfg(feature = "precompiled")]
#[path = "src/extension/mod.rs"]
mod extension;
#[cfg(feature = "precompiled")]
#[path = "src/guests.rs"]
mod guests;
#[cfg(feature = "precompiled")]
#[path = "src/metering/mod.rs"]
mod metering;
#[cfg(feature = "precompiled")]
#[path = "src/program/mod.rs"]
mod program;
#[cfg(feature = "precompiled")]
#[path = "src/state/mod.rs"]
mod state;

/// The part of `src/backend` the lifter needs (the nested modules' files are found under
/// `src/backend/`, as in the library).
#[cfg(feature = "precompiled")]
#[path = "src/backend"]
mod backend {
    pub use rvr::LiftMode;

    pub mod compiled {
        pub mod abi;
        pub mod plan;
    }

    pub mod rvr {
        pub mod cache;
        pub mod compiler;
        pub mod key;
        pub mod lift;
        pub use lift::{CStyle, LiftMode};
    }
}

// The crate root's re-exports that the included modules name (as `src/lib.rs` has them).
#[cfg(feature = "precompiled")]
use config::{ExecutionConfig, SystemConfig, VmConfig};
#[cfg(feature = "precompiled")]
use program::Program;
#[cfg(feature = "precompiled")]
use rvx_macros::VmConfig;

#[cfg(feature = "precompiled")]
#[path = "build/precompile.rs"]
mod precompile;

use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "precompiled")]
    precompile::run(&out_dir);
    #[cfg(not(feature = "precompiled"))]
    {
        let registry = "pub(super) const BUILD: PrecompiledBuild = PrecompiledBuild::Absent {\n    reason: \"rvx was built without its `precompiled` feature\",\n};\npub(super) static ENTRIES: [Precompiled; 0] = [];\n";
        std::fs::write(out_dir.join("precompiled.rs"), registry).expect("write the registry");
    }
}
