//! Criterion benchmarks of compile time: the JIT on a program of about 100,000 instructions in
//! every mode (its figure is per 100,000 guest instructions), and the recompiler on the
//! bundled fibonacci guest (C generation and the C compiler, with an empty cache each time),
//! and, for comparison, taking that guest's code precompiled into rvx.
//!
//! Run with `cargo bench --bench compile`.

#![allow(missing_docs)] // criterion's macros generate undocumented items.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rvx::backend::jit::JitModule;
use rvx::backend::rvr::cache::ArtifactCache;
use rvx::backend::rvr::compiler::CompilerPreference;
use rvx::backend::rvr::{precompiled, RvrModule, RvrOptions};
use rvx::backend::LiftMode;
use rvx::{guests, Program, Rv32ImConfig};
use std::time::Duration;

const MODES: [LiftMode; 3] = [LiftMode::Pure, LiftMode::Metered, LiftMode::Cost];

/// About 100,000 instructions of generated code: copies of the largest of a few generated
/// programs, back to back (their branches and jumps are relative, so each copy stands alone).
fn large_program() -> Program {
    let largest = (1..200)
        .map(common::random::generate)
        .max_by_key(|p| p.code.len())
        .expect("programs");
    let copies = 100_000 / largest.code.len() + 1;
    let code: Vec<u32> = (0..copies)
        .flat_map(|_| largest.code.iter().copied())
        .collect();
    common::program(&code)
}

/// The JIT's compile time per mode, throughput in guest instructions.
fn bench_jit(c: &mut Criterion) {
    let program = large_program();
    // The metering tables are computed once per program, before any compile.
    program.meter_tables();
    let mut group = c.benchmark_group("compile/jit");
    group.throughput(Throughput::Elements(program.len() as u64));
    group.sample_size(20);
    for mode in MODES {
        group.bench_function(mode.name(), |b| {
            b.iter(|| JitModule::build(&program, mode).expect("compiles"))
        });
    }
    group.finish();
}

/// The recompiler's compile time on the fibonacci guest (pure mode), from C generation to a
/// loaded library, with the system's preferred C compiler and no cache.
fn bench_rvr(c: &mut Criterion) {
    let elf = guests::find("fibonacci").expect("bundled guest").elf;
    let program = Program::from_elf(elf, &Rv32ImConfig::default()).expect("loads");
    program.meter_tables();
    let mut group = c.benchmark_group("compile/rvr");
    group.throughput(Throughput::Elements(program.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("fibonacci/pure", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                let options = RvrOptions {
                    compiler: CompilerPreference::Auto,
                    cache: ArtifactCache::new(dir.path()),
                    precompiled: false,
                };
                RvrModule::build(&program, LiftMode::Pure, &options).expect("compiles")
            },
            BatchSize::PerIteration,
        )
    });
    // What replaces all of that for a bundled guest precompiled into rvx: finding its code
    // (hashing the program and configuration) and checking what it exports.
    let guest = guests::find("fibonacci").expect("bundled guest");
    let own = Program::from_elf(guest.elf, &guest.config().expect("config")).expect("loads");
    if precompiled::find(&own, LiftMode::Pure).is_some() {
        let options = RvrOptions {
            precompiled: true,
            ..RvrOptions::default()
        };
        group.bench_function("fibonacci/pure/precompiled", |b| {
            b.iter(|| RvrModule::build(&own, LiftMode::Pure, &options).expect("precompiled"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_jit, bench_rvr);
criterion_main!(benches);
