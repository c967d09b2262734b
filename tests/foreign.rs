//! Guests built by OpenVM's own toolchain run unmodified with the reference's results.
//!
//! The ELFs and the expected results in `tests/data/openvm/` come from OpenVM 2.0.2 itself (see
//! the README there).

use rvx::{BackendKind, ExecErrorKind, Output, Program, PureInstance, Rv32ImConfig, VmState};
use serde_json::Value;
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

fn program(guest: &str) -> Arc<Program> {
    let path = format!("{}/{guest}.elf", data_dir());
    Arc::new(
        Program::from_elf_file(&path, &Rv32ImConfig::default())
            .unwrap_or_else(|e| panic!("{path}: {e}")),
    )
}

fn inputs(case: &Value) -> Vec<Vec<u8>> {
    case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn foreign_guests_match_reference_in_pure_mode() {
    let mut checked = 0;
    for case in cases().iter() {
        let name = format!("{} {}", case["guest"], case["case"]);
        let expected = &case["pure"];
        let printed = Arc::new(Mutex::new(Vec::new()));
        let instance = PureInstance::new(
            program(case["guest"].as_str().unwrap()),
            BackendKind::Interpreter,
        )
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
            Err(rvx::Error::Exec(e)) => {
                assert_eq!(expected["error_kind"], "Phantom", "{name}: {e}");
                assert_eq!(e.kind, ExecErrorKind::InputStreamEmpty, "{name}");
                assert_eq!(Some(u64::from(e.pc)), expected["pc"].as_u64(), "{name}");
                // The reference counts the failing instruction; rvx counts completed ones.
                assert_eq!(Some(e.instret + 1), expected["instret"].as_u64(), "{name}");
            }
            Err(other) => panic!("{name}: {other}"),
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} cases ran");
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
    let program = program("openvm-fib");
    assert_eq!(program.base(), 0x0020_0800);
    assert_eq!(program.entry(), 0x0020_0f3c);
    // The reference's program length: every word of the executable segment's file bytes.
    assert_eq!(program.len(), 3273);
}

#[test]
fn foreign_guests_match_reference_segments_and_cost() {
    use rvx::instance::{MeteredCostInstance, MeteredInstance};
    let mut checked = 0;
    for case in cases().iter() {
        let name = format!("{} {}", case["guest"], case["case"]);
        let program = program(case["guest"].as_str().unwrap());
        let metered = MeteredInstance::new(program.clone(), BackendKind::Interpreter)
            .unwrap()
            .with_output(Output::Discard);
        let cost = MeteredCostInstance::new(program, BackendKind::Interpreter)
            .unwrap()
            .with_output(Output::Discard);
        let Some(expected_segments) = case["metered"]["segments"].as_array() else {
            // The reference reports no segments for runs that fail; rvx fails too.
            assert!(
                metered.execute_metered(inputs(case)).is_err()
                    || case["metered"]["exit_code"].as_u64() != Some(0),
                "{name}"
            );
            continue;
        };
        let (segments, state) = metered.execute_metered(inputs(case)).unwrap();
        let ours = serde_json::to_value(&segments).unwrap();
        assert_eq!(&ours, &case["metered"]["segments"], "{name}: segments");
        assert!(!expected_segments.is_empty());
        let (report, cost_state) = cost.execute_metered_cost(inputs(case)).unwrap();
        assert_eq!(
            Some(report.cost),
            case["cost"]["cost"].as_u64(),
            "{name}: cost"
        );
        assert!(!report.exceeded);
        assert_eq!(report.instret, state.instret, "{name}");
        assert_eq!(cost_state.public_values, state.public_values, "{name}");
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} cases ran");
}
