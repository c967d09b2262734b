//! Guests built by OpenVM's own toolchain run unmodified with the reference's results, on every
//! backend and in every mode.
//!
//! The ELFs, their `openvm.toml` configurations and the expected results in `tests/data/openvm/`
//! come from OpenVM 2.0.2 itself (see the README there). A case without `config` runs under the
//! default RV32IM configuration; one with `config` (the guests using the keccak, sha2 and bigint
//! intrinsics) under that `openvm.toml`.

mod common;

use common::backends;
use rvx::config::AppConfig;
use rvx::{BackendKind, ExecErrorKind, Output, Program, PureInstance, Rv32ImConfig, VmState};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn data_dir() -> String {
    format!("{}/tests/data/openvm", env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> Vec<Value> {
    let path = format!("{}/expected.json", data_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn case_name(case: &Value) -> String {
    format!(
        "{} {}",
        case["guest"].as_str().unwrap(),
        case["case"].as_str().unwrap()
    )
}

/// The case's guest under the case's configuration (its `openvm.toml`, or RV32IM).
fn load(case: &Value) -> Arc<Program> {
    let path = format!("{}/{}.elf", data_dir(), case["guest"].as_str().unwrap());
    let program = match case["config"].as_str() {
        Some(config) => {
            let config_path = format!("{}/{config}", data_dir());
            let config =
                AppConfig::from_file(&config_path).unwrap_or_else(|e| panic!("{config_path}: {e}"));
            Program::from_elf_file(&path, &config)
        }
        None => Program::from_elf_file(&path, &Rv32ImConfig::default()),
    };
    Arc::new(program.unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// Programs loaded once per guest and configuration.
#[derive(Default)]
struct Programs(HashMap<(String, Option<String>), Arc<Program>>);

impl Programs {
    fn get(&mut self, case: &Value) -> Arc<Program> {
        let key = (
            case["guest"].as_str().unwrap().to_string(),
            case["config"].as_str().map(str::to_string),
        );
        self.0.entry(key).or_insert_with(|| load(case)).clone()
    }
}

fn inputs(case: &Value) -> Vec<Vec<u8>> {
    case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Asserts that rvx failed where the reference reported an empty input stream.
fn assert_input_stream_empty(error: rvx::Error, expected: &Value, name: &str) -> rvx::ExecError {
    let rvx::Error::Exec(e) = error else {
        panic!("{name}: {error}");
    };
    assert_eq!(expected["error_kind"], "Phantom", "{name}: {e}");
    assert_eq!(e.kind, ExecErrorKind::InputStreamEmpty, "{name}");
    e
}

#[test]
fn foreign_guests_match_reference_in_pure_mode() {
    let mut programs = Programs::default();
    let mut checked = 0;
    for case in cases().iter() {
        let program = programs.get(case);
        let expected = &case["pure"];
        for &backend in backends() {
            let name = format!("{} on {backend}", case_name(case));
            let printed = Arc::new(Mutex::new(Vec::new()));
            let instance = PureInstance::new(program.clone(), backend)
                .unwrap()
                .with_output(Output::Buffer(printed.clone()));
            match instance.execute(inputs(case)) {
                Ok(state) => {
                    assert_eq!(
                        state.exit_code.map(u64::from),
                        expected["exit_code"].as_u64(),
                        "{name}"
                    );
                    assert_eq!(Some(state.instret), expected["instret"].as_u64(), "{name}");
                    assert_eq!(
                        hex::encode(&state.public_values),
                        expected["public_values"],
                        "{name}"
                    );
                    assert_eq!(
                        Some(u64::from(state.pc)),
                        expected["pc"].as_u64(),
                        "{name}: final pc"
                    );
                    assert_registers(&state, expected, &name);
                    let stdout = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
                    let expected_out = expected["stdout"].as_str().unwrap_or("");
                    assert!(
                        stdout.starts_with(expected_out),
                        "{name}: printed {stdout:?}"
                    );
                }
                Err(error) => {
                    let e = assert_input_stream_empty(error, expected, &name);
                    assert_eq!(Some(u64::from(e.pc)), expected["pc"].as_u64(), "{name}");
                    // The reference counts the failing instruction; rvx counts completed ones.
                    assert_eq!(Some(e.instret + 1), expected["instret"].as_u64(), "{name}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} runs");
}

fn assert_registers(state: &VmState, expected: &Value, name: &str) {
    let Some(regs) = expected["registers"].as_array() else {
        return;
    };
    let regs: Vec<u32> = regs
        .iter()
        .map(|r| u32::from_str_radix(r.as_str().unwrap().trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(state.regs.to_vec(), regs, "{name}: registers");
}

#[test]
fn foreign_guest_layout_loads() {
    let program = load(&serde_json::json!({"guest": "openvm-fib"}));
    assert_eq!(program.base(), 0x0020_0800);
    assert_eq!(program.entry(), 0x0020_0f3c);
    // The reference's program length: every word of the executable segment's file bytes.
    assert_eq!(program.len(), 3273);
}

/// The metered and metered-cost runs of the case on `backend` against the reference's.
fn check_metered_modes(case: &Value, program: &Arc<Program>, backend: BackendKind) {
    let name = format!("{} on {backend}", case_name(case));
    let (metered, cost) = common::metered_instances_on(program, backend);
    let expected = &case["metered"];
    let expected_cost = &case["cost"];
    let metered_result = metered.execute_metered(inputs(case));
    let cost_result = cost.execute_metered_cost(inputs(case));
    let Some(expected_segments) = expected["segments"].as_array() else {
        // The reference reports no segments for runs that fail: an empty input stream fails in
        // rvx too; a guest's non-zero exit code is an outcome rvx returns with the state.
        match expected["error_kind"].as_str() {
            Some("FailedWithExitCode") => {
                let code = expected["exit_code"].as_u64();
                let (_, state) = metered_result.unwrap();
                assert_eq!(state.exit_code.map(u64::from), code, "{name}");
                let (_, state) = cost_result.unwrap();
                assert_eq!(state.exit_code.map(u64::from), code, "{name}");
            }
            _ => {
                assert_input_stream_empty(metered_result.unwrap_err(), expected, &name);
                assert_input_stream_empty(cost_result.unwrap_err(), expected_cost, &name);
            }
        }
        return;
    };
    let (segments, state) = metered_result.unwrap();
    let ours = serde_json::to_value(&segments).unwrap();
    assert_eq!(&ours, &expected["segments"], "{name}: segments");
    assert!(!expected_segments.is_empty());
    assert_eq!(state.exit_code, Some(0), "{name}");
    assert_eq!(Some(state.instret), expected["instret"].as_u64(), "{name}");
    if let Some(pv) = expected["public_values"].as_str() {
        assert_eq!(hex::encode(&state.public_values), pv, "{name}");
    }
    let (report, cost_state) = cost_result.unwrap();
    assert_eq!(
        Some(report.cost),
        expected_cost["cost"].as_u64(),
        "{name}: cost"
    );
    assert!(!report.exceeded);
    assert_eq!(
        Some(report.instret),
        expected_cost["instret"].as_u64(),
        "{name}"
    );
    assert_eq!(report.instret, state.instret, "{name}");
    assert_eq!(cost_state.public_values, state.public_values, "{name}");
}

#[test]
fn foreign_guests_match_reference_segments_and_cost() {
    let mut programs = Programs::default();
    let mut checked = 0;
    for case in cases().iter() {
        let program = programs.get(case);
        for &backend in backends() {
            check_metered_modes(case, &program, backend);
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} runs");
}

/// The input record of `case` at `index` as a little-endian u32.
fn input_u32(case: &Value, index: usize) -> u32 {
    u32::from_le_bytes(inputs(case)[index].as_slice().try_into().unwrap())
}

/// The recorded public values of the hashing guests are the digests their sources describe
/// (`openvm-keccak`: Keccak-256 of the data, re-hashed `rounds` times; `openvm-sha2`: SHA-256
/// and SHA-512 likewise, then the first 16 bytes of the SHA-512 result and of SHA-384): what
/// OpenVM recorded, and rvx reproduces above, is real hashing, not a shared mistake.
#[test]
fn foreign_hash_guests_reveal_host_digests() {
    use sha2::Digest;
    let mut checked = 0;
    for case in cases().iter() {
        let expected = &case["pure"];
        if expected["exit_code"].as_u64() != Some(0) || expected["error_kind"].is_string() {
            continue;
        }
        let data = inputs(case).swap_remove(0);
        let revealed = match case["guest"].as_str().unwrap() {
            "openvm-keccak" => {
                let mut digest = sha3::Keccak256::digest(&data);
                for _ in 0..input_u32(case, 1) {
                    digest = sha3::Keccak256::digest(digest);
                }
                digest.to_vec()
            }
            "openvm-sha2" => {
                let mut a = sha2::Sha256::digest(&data);
                let mut b = sha2::Sha512::digest(&data);
                for _ in 0..input_u32(case, 1) {
                    a = sha2::Sha256::digest(a);
                    b = sha2::Sha512::digest(b);
                }
                let c = sha2::Sha384::digest(&data);
                [&a[..], &b[..16], &c[..16]].concat()
            }
            _ => continue,
        };
        assert_eq!(
            hex::encode(revealed),
            expected["public_values"],
            "{}",
            case_name(case)
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} cases checked");
}
