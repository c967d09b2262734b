//! Criterion benchmarks: the bundled guests on each backend and mode, throughput in guest
//! instructions per second.
//!
//! Run with `cargo bench --bench execute`; one group per guest, one id per backend and mode
//! (`interp/pure`, `interp/metered`, `interp/cost`). Loading and decoding are not timed.

#![allow(missing_docs)] // criterion's macros generate undocumented items.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::{guests, BackendKind, Output, Program, PureInstance, Rv32ImConfig};
use std::sync::Arc;
use std::time::Duration;

/// A bundled guest with the inputs it is benchmarked on.
struct Workload {
    guest: &'static str,
    inputs: Vec<Vec<u8>>,
}

fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            guest: "fibonacci",
            inputs: vec![8_000_000u64.to_le_bytes().to_vec()],
        },
        Workload {
            guest: "cpubench",
            inputs: vec![10u32.to_le_bytes().to_vec()],
        },
    ]
}

/// Benchmarks every guest on every backend in every mode.
fn bench_guests(c: &mut Criterion) {
    for workload in workloads() {
        let elf = guests::find(workload.guest).expect("bundled guest").elf;
        let program = Arc::new(
            Program::from_elf(elf, &Rv32ImConfig::default()).expect("bundled guest loads"),
        );
        let mut group = c.benchmark_group(workload.guest);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        for &backend in BackendKind::ALL {
            let pure = PureInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            let instret = pure
                .execute(workload.inputs.clone())
                .expect("guest runs")
                .instret;
            group.throughput(Throughput::Elements(instret));
            group.bench_function(format!("{backend}/pure"), |b| {
                b.iter(|| pure.execute(workload.inputs.clone()).expect("guest runs"))
            });
            let metered = MeteredInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            group.bench_function(format!("{backend}/metered"), |b| {
                b.iter(|| {
                    metered
                        .execute_metered(workload.inputs.clone())
                        .expect("guest runs")
                })
            });
            let cost = MeteredCostInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard);
            group.bench_function(format!("{backend}/cost"), |b| {
                b.iter(|| {
                    cost.execute_metered_cost(workload.inputs.clone())
                        .expect("guest runs")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_guests);
criterion_main!(benches);
