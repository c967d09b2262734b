//! Criterion benchmarks: the bundled guests on each backend, throughput in guest instructions.
//!
//! Run with `cargo bench --bench execute`; one group per guest, one id per backend and mode.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn bench_guests(c: &mut Criterion) {
    for workload in workloads() {
        let config = Rv32ImConfig::default();
        let elf = guests::find(workload.guest).expect("bundled guest").elf;
        let program = Arc::new(Program::from_elf(elf, &config).expect("bundled guest loads"));
        let mut group = c.benchmark_group(workload.guest);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        for &backend in BackendKind::ALL {
            let instance = PureInstance::new(program.clone(), backend)
                .expect("valid config")
                .with_output(Output::Discard);
            let instret = instance
                .execute(workload.inputs.clone())
                .expect("guest runs")
                .instret;
            group.throughput(Throughput::Elements(instret));
            group.bench_function(format!("{backend}/pure"), |b| {
                b.iter(|| {
                    instance
                        .execute(workload.inputs.clone())
                        .expect("guest runs")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_guests);
criterion_main!(benches);
