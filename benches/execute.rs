//! Criterion benchmarks: the bundled guests on each backend and mode, throughput in guest
//! instructions per second.
//!
//! Run with `cargo bench --bench execute`; one group per guest, one id per backend and mode
//! (`interp/pure`, `interp/metered`, `interp/cost`). Loading and decoding are not timed, nor is
//! compiling: the recompiler runs the guests precompiled into rvx (or, built without them,
//! compiles once before timing). Each guest runs with its own configuration (its
//! `openvm.toml`) on the inputs of its [`guests::BenchWorkload`]; `cargo bench --bench execute
//! -- keccak` runs one guest's group.
//!
//! The `cpubench` group also has a `native` id: the guest's workload
//! (`guests/cpubench/src/workload.rs`) compiled for the host and run on the same scale, with
//! the guest's instruction count as its throughput, so that its "instructions per second" and
//! time compare directly with the backends'.

#![allow(missing_docs)] // criterion's macros generate undocumented items.

#[path = "../guests/cpubench/src/workload.rs"]
mod workload;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::{guests, BackendKind, Output, Program, PureInstance};
use std::sync::Arc;
use std::time::Duration;

/// Benchmarks every guest on every backend in every mode.
fn bench_guests(c: &mut Criterion) {
    for guest in guests::ALL {
        let Some(bench) = guest.bench else { continue };
        let inputs = bench.records();
        let config = guest.config().expect("bundled guest config");
        let program = Arc::new(Program::from_elf(guest.elf, &config).expect("bundled guest loads"));
        let mut group = c.benchmark_group(guest.name);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        for &backend in BackendKind::ALL {
            let pure = PureInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            let instret = pure.execute(inputs.clone()).expect("guest runs").instret;
            group.throughput(Throughput::Elements(instret));
            group.bench_function(format!("{backend}/pure"), |b| {
                b.iter(|| pure.execute(inputs.clone()).expect("guest runs"))
            });
            let metered = MeteredInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            group.bench_function(format!("{backend}/metered"), |b| {
                b.iter(|| metered.execute_metered(inputs.clone()).expect("guest runs"))
            });
            let cost = MeteredCostInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            group.bench_function(format!("{backend}/cost"), |b| {
                b.iter(|| {
                    cost.execute_metered_cost(inputs.clone())
                        .expect("guest runs")
                })
            });
        }
        if guest.name == "cpubench" {
            let scale = u32::from_le_bytes(bench.inputs[0].try_into().expect("a 4-byte scale"));
            // The workload's result is checked once against the guest's, then timed.
            let guest_words: Vec<u32> =
                PureInstance::new(program.clone(), BackendKind::Interpreter)
                    .unwrap()
                    .with_output(Output::Discard)
                    .execute(inputs.clone())
                    .expect("guest runs")
                    .public_values
                    .chunks(4)
                    .take(8)
                    .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
                    .collect();
            assert_eq!(guest_words, workload::run(scale));
            group.bench_function("native", |b| b.iter(|| workload::run(black_box(scale))));
        }
        group.finish();
    }
}

criterion_group!(benches, bench_guests);
criterion_main!(benches);
