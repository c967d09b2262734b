//! The bundled guests precompiled into rvx by build.rs (the default `precompiled` feature): the
//! registry, zero compile time on the recompiler with the interpreter's results in every mode
//! (through the library and through `rvx run --json`), the key that keeps precompiled code to
//! the configuration it was generated for, the lifter's symbol prefix, and `rvx bench`.
//!
//! A build without the feature is checked by the same file:
//! `cargo test --no-default-features --test precompiled` (CI runs it) asserts that the registry
//! is empty and says why, that `rvx guests` reports it, and that the recompiler then compiles the
//! bundled guests with the interpreter's results. A build without a C compiler takes the same
//! path (build.rs writes the empty registry with the compiler's error and a `cargo:warning`).

mod common;

use rvx::backend::rvr::lift::{lift, lift_with_prefix};
use rvx::backend::rvr::precompiled::{self, PrecompiledBuild};
use rvx::backend::rvr::{use_precompiled, CStyle, LiftMode};
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::{guests, BackendKind, Output, Program, PureInstance, Rv32ImConfig, SystemConfig};
use std::ffi::OsString;
use std::process::Command;
use std::sync::Arc;

/// Whether rvx was built with its `precompiled` feature.
const ENABLED: bool = cfg!(feature = "precompiled");

const MODES: [LiftMode; 3] = [LiftMode::Pure, LiftMode::Metered, LiftMode::Cost];

/// Small inputs for every bundled guest.
fn small_inputs(guest: &str) -> Vec<Vec<u8>> {
    let le = |n: u32| n.to_le_bytes().to_vec();
    match guest {
        "fibonacci" => vec![1000u64.to_le_bytes().to_vec()],
        "cpubench" => vec![le(1)],
        "io" => vec![vec![0, 1, 2, 3, 4], b"hello".to_vec()],
        "keccak" | "sha2" => vec![le(1000), le(3)],
        "bigint" => vec![le(200)],
        other => panic!("no small inputs for bundled guest {other}: add them here"),
    }
}

/// A bundled guest loaded with its own configuration.
fn bundled(name: &str) -> Arc<Program> {
    let guest = guests::find(name).unwrap_or_else(|| panic!("bundled guest {name} is missing"));
    let config = guest.config().expect("bundled guest configuration");
    Arc::new(Program::from_elf(guest.elf, &config).expect("bundled guest loads"))
}

/// The guests the recompiler runs in the tests below: all of them when they are precompiled;
/// without the feature, only fibonacci (each is then compiled, which takes a while).
fn guests_to_run() -> Vec<&'static str> {
    match ENABLED {
        true => guests::ALL.iter().map(|g| g.name).collect(),
        false => vec!["fibonacci"],
    }
}

#[test]
fn the_registry_holds_every_bundled_guest_in_every_mode_exactly_when_the_feature_is_on() {
    match (ENABLED, precompiled::build()) {
        (
            true,
            PrecompiledBuild::Compiled {
                compiler,
                style,
                flags,
                vector_bytes,
            },
        ) => {
            assert!(!compiler.is_empty() && !style.is_empty() && flags.contains("-O2"));
            assert!(vector_bytes == 16 || vector_bytes == 32);
            let all = precompiled::all();
            assert_eq!(all.len(), 3 * guests::ALL.len());
            for guest in guests::ALL {
                assert!(precompiled::is_precompiled(guest.name));
                for mode in MODES {
                    let n = all
                        .iter()
                        .filter(|p| p.guest == guest.name && p.mode == mode);
                    assert_eq!(n.count(), 1, "{} {mode:?}", guest.name);
                    let code = precompiled::find(&bundled(guest.name), mode)
                        .unwrap_or_else(|| panic!("{} {mode:?} is not found", guest.name));
                    assert_eq!((code.guest, code.mode), (guest.name, mode));
                }
            }
        }
        (false, PrecompiledBuild::Absent { reason }) => {
            assert!(reason.contains("feature"), "{reason}");
            assert!(precompiled::all().is_empty());
            assert!(!precompiled::is_precompiled("fibonacci"));
            assert!(precompiled::find(&bundled("fibonacci"), LiftMode::Pure).is_none());
        }
        (enabled, build) => panic!(
            "feature precompiled {}, but {build:?} (build.rs found no working C compiler?)",
            if enabled { "on" } else { "off" }
        ),
    }
}

#[test]
fn precompiled_code_runs_with_no_compile_and_the_interpreters_results() {
    for name in guests_to_run() {
        let program = bundled(name);
        let inputs = small_inputs(name);
        let on = |backend| (program.clone(), backend);
        let instances = |(p, b): (Arc<Program>, BackendKind)| {
            (
                PureInstance::new(p.clone(), b)
                    .unwrap()
                    .with_output(Output::Discard),
                MeteredInstance::new(p.clone(), b)
                    .unwrap()
                    .with_output(Output::Discard),
                MeteredCostInstance::new(p, b)
                    .unwrap()
                    .with_output(Output::Discard),
            )
        };
        let (pure, metered, cost) = instances(on(BackendKind::Interpreter));
        let (rvr_pure, rvr_metered, rvr_cost) = instances(on(BackendKind::Rvr));
        for report in [
            rvr_pure.compile_report(),
            rvr_metered.compile_report(),
            rvr_cost.compile_report(),
        ] {
            assert_eq!(report.precompiled, ENABLED, "{name}: {report:?}");
            if ENABLED {
                assert!(report.cache_hit && report.compile_time.is_zero(), "{name}");
            }
        }
        let expected = pure.execute(inputs.clone()).unwrap();
        assert_eq!(expected.exit_code, Some(0), "{name}");
        assert!(
            rvr_pure.execute(inputs.clone()).unwrap() == expected,
            "{name}"
        );
        let (segments, state) = metered.execute_metered(inputs.clone()).unwrap();
        let (rvr_segments, rvr_state) = rvr_metered.execute_metered(inputs.clone()).unwrap();
        assert_eq!(rvr_segments, segments, "{name}");
        assert!(rvr_state == state, "{name}");
        let (report, state) = cost.execute_metered_cost(inputs.clone()).unwrap();
        let (rvr_report, rvr_state) = rvr_cost.execute_metered_cost(inputs.clone()).unwrap();
        assert_eq!(rvr_report, report, "{name}");
        assert!(rvr_state == state, "{name}");
        // Limits and resumption: precompiled code stops exactly where the interpreter does.
        let half = expected.instret / 2;
        let part = rvr_pure.execute_with_limit(inputs.clone(), half).unwrap();
        assert_eq!(part.instret, half, "{name}");
        assert!(rvr_pure.execute_from_state(part, None).unwrap() == expected);
    }
}

/// `rvx <args>` with the disk cache in `cache`; its stdout as JSON.
fn rvx_json(args: &[&str], cache: &std::path::Path) -> serde_json::Value {
    common::json_of(
        Command::new(env!("CARGO_BIN_EXE_rvx"))
            .args(args)
            .env("RVX_CACHE_DIR", cache)
            .env_remove("RVX_PRECOMPILED")
            .env_remove("RVX_CC"),
    )
}

#[test]
fn rvx_run_reports_zero_compile_time_and_the_interpreters_results() {
    let cache = tempfile::tempdir().unwrap();
    for name in guests_to_run() {
        let hex: Vec<String> = small_inputs(name).iter().map(hex::encode).collect();
        for mode in ["pure", "metered", "cost"] {
            let run = |backend: &str| {
                let mut args = vec!["run", name, "--json", "--backend", backend, "--mode", mode];
                for h in &hex {
                    args.extend(["--input-hex", h]);
                }
                rvx_json(&args, cache.path())
            };
            let (interp, rvr) = (run("interp"), run("rvr"));
            assert_eq!(rvr["backend"], "rvr");
            for field in [
                "exit_code",
                "instret",
                "pc",
                "public_values",
                "segments",
                "cost",
            ] {
                assert_eq!(rvr[field], interp[field], "{name} {mode}: {field}");
            }
            assert_eq!(rvr["precompiled"], ENABLED, "{name} {mode}");
            if ENABLED {
                assert_eq!(rvr["compile_ms"], 0.0, "{name} {mode}");
                assert_eq!(rvr["cache_hit"], true, "{name} {mode}");
            }
        }
    }
    // Precompiled code needs no disk cache: nothing was compiled into it.
    let entries = std::fs::read_dir(cache.path()).map_or(0, |dir| dir.count());
    assert_eq!(entries == 0, ENABLED, "{entries} cache entries");
}

#[test]
fn precompiled_code_serves_only_the_configuration_it_was_generated_for() {
    let guest = guests::find("cpubench").unwrap();
    let mut system = SystemConfig::default();
    system.segmentation.segment_check_insns = 999;
    let other = Program::from_elf(guest.elf, &Rv32ImConfig::with_system(system)).unwrap();
    assert_eq!(other.fingerprint(), bundled("cpubench").fingerprint());
    for mode in MODES {
        assert!(precompiled::find(&other, mode).is_none(), "{mode:?}");
        assert_eq!(
            precompiled::find(&bundled("cpubench"), mode).is_some(),
            ENABLED
        );
    }
    // Another program never matches either.
    let fib = bundled("fibonacci");
    let found = precompiled::find(&fib, LiftMode::Cost);
    assert!(found.is_none_or(|p| p.guest == "fibonacci"));
}

#[test]
fn precompiled_code_is_used_unless_disabled_or_a_compiler_is_named() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            (vars.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert!(use_precompiled(&env(&[])));
    assert!(use_precompiled(&env(&[("RVX_PRECOMPILED", "1")])));
    assert!(use_precompiled(&env(&[("RVX_CC", "")])));
    assert!(!use_precompiled(&env(&[("RVX_PRECOMPILED", "0")])));
    assert!(!use_precompiled(&env(&[("RVX_CC", "gcc")])));
}

#[test]
fn the_symbol_prefix_renames_exactly_the_exported_symbols() {
    let program = bundled("fibonacci");
    for style in [CStyle::OneFunction, CStyle::TailCalls { register_args: 11 }] {
        for mode in MODES {
            let plain = lift(&program, mode, style, 16);
            let named = lift_with_prefix(&program, mode, style, 16, "rvx_pre_fib_x_");
            let run = format!("run_{}(", mode.name());
            for export in ["abi_version =", "program_fingerprint =", &run] {
                assert_eq!(plain.matches(&format!("rvx_{export}")).count(), 1);
                assert_eq!(named.matches(&format!("rvx_pre_fib_x_{export}")).count(), 1);
                assert!(!named.contains(&format!(" rvx_{export}")), "{export}");
            }
            // Nothing else changes.
            let renamed = named.replace("rvx_pre_fib_x_", "rvx_");
            assert!(renamed == plain, "{style:?} {mode:?}");
        }
    }
}

#[test]
#[should_panic(expected = "not a C identifier prefix")]
fn a_symbol_prefix_must_be_an_identifier() {
    let program = bundled("fibonacci");
    lift_with_prefix(&program, LiftMode::Pure, CStyle::OneFunction, 16, "rvx-");
}

#[test]
fn rvx_guests_says_which_guests_are_precompiled() {
    let out = Command::new(env!("CARGO_BIN_EXE_rvx"))
        .arg("guests")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = (text.lines())
        .find(|l| l.starts_with("precompiled for rvr"))
        .unwrap_or_else(|| panic!("{text}"));
    if ENABLED {
        for guest in guests::ALL {
            assert!(line.contains(guest.name), "{line}");
        }
    } else {
        assert!(line.contains("none") && line.contains("feature"), "{line}");
    }
}

#[test]
fn rvx_bench_times_every_backend_and_mode_and_native() {
    let cache = tempfile::tempdir().unwrap();
    let report = rvx_json(
        &["bench", "cpubench", "--runs", "1", "--json"],
        cache.path(),
    );
    assert_eq!(report["statistic"], "median");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * BackendKind::ALL.len() + 1);
    let instret = rows[0]["instret"].as_u64().unwrap();
    assert!(instret > 50_000_000, "cpubench at scale 10: {instret}");
    for row in rows {
        assert_eq!(row["guest"], "cpubench");
        assert_eq!(row["instret"].as_u64(), Some(instret));
        assert!(row["time_ms"].as_f64().unwrap() > 0.0);
        assert!(row["vs_native"].as_f64().unwrap() > 0.0);
        if row["backend"] == "interp" {
            assert_eq!(row["vs_interp"], 1.0);
        }
        if row["backend"] == "rvr" {
            assert_eq!(row["precompiled"], ENABLED);
        }
    }
    let native = rows.last().unwrap();
    assert_eq!(
        (&native["backend"], &native["vs_native"]),
        (&"native".into(), &1.0.into())
    );
    let unknown = Command::new(env!("CARGO_BIN_EXE_rvx"))
        .args(["bench", "io"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no benchmark workload"));
}
