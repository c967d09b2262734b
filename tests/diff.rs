//! Differential tests: every backend against the interpreter, in every mode, on the bundled
//! guests, the guests built by OpenVM's toolchain and randomly generated programs; limits and
//! resumption across backends; concurrency; the recompiler's cache.

mod common;

use common::backends;
use common::random::{generate, generate_with_intrinsics};
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::metering::{CostReport, Segment};
use rvx::{
    guests, BackendKind, Error, Output, Program, PureInstance, Rv32ImConfig, VmConfig, VmState,
};
use std::sync::Arc;

/// Everything a run produces, for comparison.
#[derive(Debug, PartialEq)]
enum Outcome {
    Pure(Result<VmState, Error>),
    Metered(Result<(Vec<Segment>, VmState), Error>),
    Cost(Result<(CostReport, VmState), Error>),
}

fn run_all_modes(
    program: &Arc<Program>,
    backend: BackendKind,
    inputs: &[Vec<u8>],
    max_cost: Option<u64>,
) -> Vec<Outcome> {
    let pure = PureInstance::new(program.clone(), backend)
        .unwrap()
        .with_output(Output::Discard);
    let metered = MeteredInstance::new(program.clone(), backend)
        .unwrap()
        .with_output(Output::Discard);
    let mut cost = MeteredCostInstance::new(program.clone(), backend)
        .unwrap()
        .with_output(Output::Discard);
    if let Some(max) = max_cost {
        cost = cost.with_max_cost(max);
    }
    vec![
        Outcome::Pure(pure.execute(inputs.to_vec())),
        Outcome::Metered(metered.execute_metered(inputs.to_vec())),
        Outcome::Cost(cost.execute_metered_cost(inputs.to_vec())),
    ]
}

/// Asserts that every backend gives the interpreter's outcome in every mode.
fn assert_backends_agree(
    name: &str,
    program: &Arc<Program>,
    inputs: &[Vec<u8>],
    max_cost: Option<u64>,
) {
    let reference = run_all_modes(program, BackendKind::Interpreter, inputs, max_cost);
    for &backend in backends()
        .iter()
        .filter(|&&b| b != BackendKind::Interpreter)
    {
        let outcome = run_all_modes(program, backend, inputs, max_cost);
        for (ours, theirs) in outcome.iter().zip(&reference) {
            assert!(
                ours == theirs,
                "{name}: {backend} differs from the interpreter:\n{ours:#?}\nvs\n{theirs:#?}"
            );
        }
    }
}

fn bundled(name: &str) -> Arc<Program> {
    let elf = guests::find(name).unwrap().elf;
    Arc::new(Program::from_elf(elf, &Rv32ImConfig::default()).unwrap())
}

fn foreign(name: &str) -> Arc<Program> {
    let path = format!(
        "{}/tests/data/openvm/{name}.elf",
        env!("CARGO_MANIFEST_DIR")
    );
    Arc::new(Program::from_elf_file(path, &Rv32ImConfig::default()).unwrap())
}

/// A guest built by OpenVM's toolchain that uses intrinsics, under its `openvm.toml`.
fn foreign_with_config(name: &str) -> Arc<Program> {
    let dir = format!("{}/tests/data/openvm", env!("CARGO_MANIFEST_DIR"));
    let config = rvx::config::AppConfig::from_file(format!("{dir}/{name}.toml")).unwrap();
    Arc::new(Program::from_elf_file(format!("{dir}/{name}.elf"), &config).unwrap())
}

#[test]
fn bundled_guests_agree_on_every_backend_and_mode() {
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("fibonacci", vec![1000u64.to_le_bytes().to_vec()]),
        ("fibonacci", vec![vec![1, 2, 3]]),
        ("cpubench", vec![1u32.to_le_bytes().to_vec()]),
        ("io", vec![vec![0, 1, 2, 3, 4], b"hello".to_vec()]),
        ("io", vec![vec![9; 5000], vec![]]),
        ("io", vec![]),
    ];
    for (name, inputs) in cases {
        assert_backends_agree(name, &bundled(name), &inputs, None);
    }
    // A cost limit that stops the run part-way.
    assert_backends_agree(
        "cpubench (max cost)",
        &bundled("cpubench"),
        &[1u32.to_le_bytes().to_vec()],
        Some(5_000_000),
    );
}

/// A bundled guest with its own configuration (its `openvm.toml`).
fn bundled_own_config(name: &str) -> Arc<Program> {
    let guest = guests::find(name).unwrap();
    let config = guest.config().unwrap();
    Arc::new(Program::from_elf(guest.elf, &config).unwrap())
}

#[test]
fn extension_guests_agree_on_every_backend_and_mode() {
    let word = |v: u32| v.to_le_bytes().to_vec();
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("keccak", vec![word(3000), word(3)]),
        ("keccak", vec![word(0), word(1)]),
        ("sha2", vec![word(2000), word(2)]),
        ("sha2", vec![word(55), word(1)]),
        ("bigint", vec![word(300)]),
        // A missing input record: the same error everywhere.
        ("bigint", vec![]),
    ];
    for (name, inputs) in cases {
        assert_backends_agree(name, &bundled_own_config(name), &inputs, None);
    }
    // Tight segments: many cuts around the extension chips' rows and pages.
    let guest = guests::find("keccak").unwrap();
    let mut config = guest.config().unwrap();
    config.system.segmentation.segment_check_insns = 101;
    config.system.segmentation.max_trace_height = 1 << 11;
    let program = Arc::new(Program::from_elf(guest.elf, &config).unwrap());
    assert_backends_agree(
        "keccak (tight)",
        &program,
        &[word(5000), word(2)],
        Some(20_000_000),
    );
}

#[test]
fn foreign_guests_agree_on_every_backend_and_mode() {
    assert_backends_agree(
        "openvm-loop",
        &foreign("openvm-loop"),
        &[1000u32.to_le_bytes().to_vec()],
        None,
    );
    let misc = vec![
        7u32.to_le_bytes().to_vec(),
        b"hello".to_vec(),
        6u32.to_le_bytes().to_vec(),
    ];
    assert_backends_agree("openvm-misc", &foreign("openvm-misc"), &misc, None);
    assert_backends_agree("openvm-fib", &foreign("openvm-fib"), &[], None);
    let word = |v: u32| v.to_le_bytes().to_vec();
    let bytes = |n: usize| (0..n).map(|i| (i * 7 + 1) as u8).collect::<Vec<u8>>();
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("openvm-keccak", vec![bytes(1000), word(50)]),
        ("openvm-sha2", vec![bytes(1000), word(20)]),
        ("openvm-bigint", vec![bytes(64), word(200)]),
    ];
    for (name, inputs) in cases {
        assert_backends_agree(name, &foreign_with_config(name), &inputs, None);
    }
}

/// How many random programs to check in pure mode (`RVX_RANDOM_PROGRAMS` overrides).
fn random_count() -> u64 {
    std::env::var("RVX_RANDOM_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn random_program(seed: u64, config: &dyn VmConfig) -> (Arc<Program>, Vec<Vec<u8>>) {
    let generated = generate(seed);
    let exec = Arc::new(config.execution_config().unwrap());
    let program = Program::from_segments(common::BASE, generated.segments(), exec);
    (Arc::new(program), generated.inputs)
}

#[test]
fn random_programs_agree_in_pure_mode() {
    for seed in 0..random_count() {
        let (program, inputs) = random_program(seed, &common::vm_config());
        let reference = PureInstance::new(program.clone(), BackendKind::Interpreter)
            .unwrap()
            .execute(inputs.clone());
        for &backend in &backends()[1..] {
            let ours = PureInstance::new(program.clone(), backend)
                .unwrap()
                .execute(inputs.clone());
            assert!(
                ours == reference,
                "seed {seed}: {backend} differs:\n{ours:#?}\nvs\n{reference:#?}"
            );
        }
    }
}

#[test]
fn random_programs_agree_in_metered_modes_with_tight_limits() {
    let mut config = common::vm_config();
    config.system.segmentation.segment_check_insns = 97;
    config.system.segmentation.max_trace_height = 256;
    for seed in 1000..1000 + random_count() / 4 {
        let (program, inputs) = random_program(seed, &config);
        assert_backends_agree(&format!("seed {seed}"), &program, &inputs, Some(200_000));
    }
}

fn random_intrinsics_program(seed: u64, config: &dyn VmConfig) -> (Arc<Program>, Vec<Vec<u8>>) {
    let generated = generate_with_intrinsics(seed);
    let exec = Arc::new(config.execution_config().unwrap());
    let program = Program::from_segments(common::BASE, generated.segments(), exec);
    (Arc::new(program), generated.inputs)
}

/// Random programs mixing the Keccak, SHA-2 and 256-bit instructions with RV32IM: every
/// backend agrees with the interpreter in every mode, with default limits and with tight ones
/// (many segments, cut around the extension instructions' rows and pages), and under a cost
/// limit that stops them part-way.
#[test]
fn random_programs_with_intrinsics_agree_in_every_mode() {
    let loose = common::ext_config();
    let mut tight = common::ext_config();
    tight.system.segmentation.segment_check_insns = 61;
    tight.system.segmentation.max_trace_height = 512;
    let (mut intrinsics, mut segments) = (0, 0);
    for seed in 0..random_count() / 6 {
        let config: &dyn VmConfig = if seed % 2 == 0 { &loose } else { &tight };
        let (program, inputs) = random_intrinsics_program(seed, config);
        intrinsics += program.custom().len();
        let max_cost = (seed % 3 == 0).then_some(3_000_000);
        assert_backends_agree(&format!("seed {seed}"), &program, &inputs, max_cost);
        // The programs run to their end (so every instruction in them was compared).
        let state = PureInstance::new(program.clone(), BackendKind::Interpreter)
            .unwrap()
            .with_output(Output::Discard)
            .execute(inputs.clone())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(state.exit_code, Some(0), "seed {seed}");
        let metered = MeteredInstance::new(program, BackendKind::Interpreter)
            .unwrap()
            .with_output(Output::Discard);
        segments += metered.execute_metered(inputs).unwrap().0.len();
    }
    assert!(
        intrinsics > 100,
        "the generator emits extension instructions"
    );
    assert!(
        segments > 2 * (random_count() / 6) as usize,
        "tight limits cut segments"
    );
}

/// Metered runs where compiled code passes most check points itself (limits loose enough)
/// and still cuts segments, stopped at random instrets (ends inside blocks, right after check
/// points) and resumed on the other backend: segments and states agree with the interpreter.
#[test]
fn metered_runs_with_passed_check_points_agree_when_stopped_anywhere() {
    let mut config = common::vm_config();
    config.system.segmentation.segment_check_insns = 37;
    config.system.segmentation.max_trace_height = 1 << 12;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound.max(1)
    };
    for seed in 5000..5000 + random_count() / 8 {
        let (program, inputs) = random_program(seed, &config);
        let on = |backend| {
            MeteredInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Discard)
        };
        let instances: Vec<_> = backends().iter().map(|&b| (b, on(b))).collect();
        let whole = instances[0].1.execute_metered(inputs.clone());
        for (backend, instance) in &instances[1..] {
            assert_eq!(
                instance.execute_metered(inputs.clone()),
                whole,
                "seed {seed}: whole run on {backend}"
            );
        }
        let Ok((segments, state)) = whole else {
            continue;
        };
        for _ in 0..4 {
            let n = next(state.instret + 1);
            for ((a, first), (b, second)) in cross_pairs(&instances) {
                let (mut got, part) = first.execute_metered_with_limit(inputs.clone(), n).unwrap();
                let (rest, end) = second.execute_metered_from_state(part, None).unwrap();
                got.extend(rest);
                assert_eq!(
                    got, segments,
                    "seed {seed}: segments when stopped at {n} on {a}, resumed on {b}"
                );
                assert!(
                    end == state,
                    "seed {seed}: state when stopped at {n} on {a}, resumed on {b}"
                );
            }
        }
    }
}

/// Every ordered pair of `items` but the interpreter's with itself (the first item).
fn cross_pairs<T>(items: &[T]) -> Vec<(&T, &T)> {
    let mut pairs = Vec::new();
    for (i, a) in items.iter().enumerate() {
        for (j, b) in items.iter().enumerate() {
            if i + j > 0 {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// Stops a run at many instrets on one backend and resumes it on another.
#[test]
fn limits_and_resumption_cross_backends() {
    // A small memory keeps the many state copies and comparisons cheap.
    let mut small = Rv32ImConfig::default();
    small.system.pointer_max_bits = 22;
    let elf = guests::find("cpubench").unwrap().elf;
    let program = Arc::new(Program::from_elf(elf, &small).unwrap());
    let inputs = vec![0u32.to_le_bytes().to_vec()];
    let on = |backend| {
        PureInstance::new(program.clone(), backend)
            .unwrap()
            .with_output(Output::Discard)
    };
    let full = on(BackendKind::Interpreter)
        .execute(inputs.clone())
        .unwrap();
    let total = full.instret;
    for (&first, &second) in cross_pairs(backends()) {
        let (a, b) = (on(first), on(second));
        for n in (0..total)
            .step_by((total / 97).max(1) as usize)
            .chain([1, 2, 3, total - 1])
        {
            let part = a.execute_with_limit(inputs.clone(), n).unwrap();
            assert_eq!(part.instret, n, "{first} stops after exactly {n}");
            let part = VmState::from_bytes(&part.to_bytes().unwrap()).unwrap();
            assert!(
                b.execute_from_state(part, None).unwrap() == full,
                "{first} -> {second} at {n}"
            );
        }
    }
    // Metered: segments of the two halves concatenate to the whole run's.
    // Tight limits so that the run is cut into many segments.
    let mut tight = small.clone();
    tight.system.segmentation.segment_check_insns = 10;
    tight.system.segmentation.max_trace_height = 64;
    let elf = guests::find("cpubench").unwrap().elf;
    let program = Arc::new(Program::from_elf(elf, &tight).unwrap());
    let metered = |backend| {
        MeteredInstance::new(program.clone(), backend)
            .unwrap()
            .with_output(Output::Discard)
    };
    let (whole, end) = metered(BackendKind::Interpreter)
        .execute_metered(inputs.clone())
        .unwrap();
    assert!(
        whole.len() > 3,
        "the tight limits cut the run into several segments"
    );
    for &backend in &backends()[1..] {
        for n in [1, 9, 10, 11, total / 3, total / 2, total - 1] {
            let (mut first, part) = metered(backend)
                .execute_metered_with_limit(inputs.clone(), n)
                .unwrap();
            let (rest, last) = metered(BackendKind::Interpreter)
                .execute_metered_from_state(part, None)
                .unwrap();
            first.extend(rest);
            assert_eq!(first, whole, "{backend}: segments split at {n}");
            assert!(last == end, "{backend}: state split at {n}");
        }
    }
}

#[test]
fn two_compiled_programs_run_concurrently_on_each_compiling_backend() {
    for &backend in &backends()[1..] {
        concurrent_runs(backend);
    }
}

fn concurrent_runs(backend: BackendKind) {
    let fib = bundled("fibonacci");
    let bench = bundled("cpubench");
    let fib_expected = PureInstance::new(fib.clone(), BackendKind::Interpreter)
        .unwrap()
        .with_output(Output::Discard)
        .execute([20_000u64.to_le_bytes().to_vec()])
        .unwrap();
    let bench_expected = PureInstance::new(bench.clone(), BackendKind::Interpreter)
        .unwrap()
        .execute([1u32.to_le_bytes().to_vec()])
        .unwrap();
    let fib_instance = PureInstance::new(fib, backend)
        .unwrap()
        .with_output(Output::Discard);
    let bench_instance = PureInstance::new(bench, backend).unwrap();
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            (0..5)
                .map(|_| {
                    fib_instance
                        .execute([20_000u64.to_le_bytes().to_vec()])
                        .unwrap()
                })
                .collect::<Vec<_>>()
        });
        let b = s.spawn(|| {
            (0..5)
                .map(|_| {
                    bench_instance
                        .execute([1u32.to_le_bytes().to_vec()])
                        .unwrap()
                })
                .collect::<Vec<_>>()
        });
        for state in a.join().unwrap() {
            assert!(state == fib_expected);
        }
        for state in b.join().unwrap() {
            assert!(state == bench_expected);
        }
    });
}

#[test]
fn compiled_programs_come_from_the_cache_afterwards() {
    if !backends().contains(&BackendKind::Rvr) {
        eprintln!("the recompiler is not among RVX_TEST_BACKENDS: skipped");
        return;
    }
    let program = bundled("io");
    let first = PureInstance::new(program.clone(), BackendKind::Rvr).unwrap();
    // Whatever the first one did, the second finds it in the cache and compiles nothing.
    let second = PureInstance::new(program, BackendKind::Rvr).unwrap();
    assert!(second.compile_report().cache_hit);
    assert!(second.compile_report().compile_time.is_zero());
    let _ = first;
    // A new process with a warm cache compiles nothing either (the disk cache, not the code
    // precompiled into rvx: tests/precompiled.rs checks that).
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rvx"))
            .env("RVX_PRECOMPILED", "0")
            .args([
                "run",
                "io",
                "--backend",
                "rvr",
                "--json",
                "--input-hex",
                "00",
                "--input-hex",
                "01",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    run();
    let json = run();
    assert_eq!(json["cache_hit"], true);
    assert_eq!(json["precompiled"], false);
    assert_eq!(json["compile_ms"], 0.0);
    assert_eq!(json["backend"], "rvr");
}
