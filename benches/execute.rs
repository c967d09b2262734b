//! Criterion benchmarks: the bundled guests on each backend and mode, throughput in guest
//! instructions per second.
//!
//! Run with `cargo bench --bench execute`; one group per guest, one id per backend and mode
//! (`interp/pure`, `interp/metered`, `interp/cost`). Loading and decoding are not timed. Each
//! guest runs with its own configuration (its `openvm.toml`); `cargo bench --bench execute --
//! keccak` runs one guest's group.

#![allow(missing_docs)] // criterion's macros generate undocumented items.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::{guests, BackendKind, Output, Program, PureInstance};
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
        // 64 KiB hashed 16 times: 7,712 keccakf and 7,712 xorin.
        Workload {
            guest: "keccak",
            inputs: vec![
                65_536u32.to_le_bytes().to_vec(),
                16u32.to_le_bytes().to_vec(),
            ],
        },
        // 64 KiB hashed 4 times with both: 4,100 SHA-256 and 2,052 SHA-512 compressions.
        Workload {
            guest: "sha2",
            inputs: vec![
                65_536u32.to_le_bytes().to_vec(),
                4u32.to_le_bytes().to_vec(),
            ],
        },
        // 20,000 iterations of 13 256-bit operations and one beq256.
        Workload {
            guest: "bigint",
            inputs: vec![20_000u32.to_le_bytes().to_vec()],
        },
    ]
}

/// Benchmarks every guest on every backend in every mode.
fn bench_guests(c: &mut Criterion) {
    for workload in workloads() {
        let guest = guests::find(workload.guest).expect("bundled guest");
        let config = guest.config().expect("bundled guest config");
        let program = Arc::new(Program::from_elf(guest.elf, &config).expect("bundled guest loads"));
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
