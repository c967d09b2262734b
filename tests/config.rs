//! Execution configs against the reference zkVM's measured chip tables.

use rvx::extension::ChipHeight;
use rvx::{Rv32ImConfig, VmConfig};
use serde_json::Value;

fn reference(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/reference/openvm-2.0.2-airs-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("reference JSON parses")
}

/// Compares a config's chip table and executor mapping with a reference table.
fn assert_matches_reference(config: &dyn VmConfig, name: &str) {
    let reference = reference(name);
    let exec = config.execution_config().expect("valid config");
    let airs = reference["airs"].as_array().unwrap();
    let chips = exec.chips().chips();
    let ours: Vec<&str> = chips.iter().map(|c| c.name.as_str()).collect();
    let theirs: Vec<&str> = airs.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(ours, theirs, "chip order for {name}");
    for (chip, air) in chips.iter().zip(airs) {
        assert_eq!(
            u64::from(chip.width),
            air["width"].as_u64().unwrap(),
            "{} width",
            chip.name
        );
        assert_eq!(
            u64::from(chip.interactions),
            air["num_interactions"].as_u64().unwrap(),
            "{} interactions",
            chip.name
        );
        let constant = air["height_is_constant"].as_bool().unwrap();
        match chip.height {
            ChipHeight::Variable => assert!(!constant, "{} should be constant", chip.name),
            ChipHeight::ProgramLength => assert_eq!(air["name"], "ProgramAir"),
            ChipHeight::Constant(h) => {
                assert!(constant, "{} should vary", chip.name);
                assert_eq!(
                    u64::from(h),
                    air["constant_height"].as_u64().unwrap(),
                    "{}",
                    chip.name
                );
            }
        }
    }
    let expected: Vec<usize> = reference["executor_idx_to_air_idx"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        exec.executor_idx_to_air_idx(),
        expected,
        "executor_idx_to_air_idx for {name}"
    );
    let opcodes: Vec<(u32, usize)> = reference["opcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["opcode"].as_u64().unwrap() as u32,
                o["executor_idx"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let mut sorted = opcodes.clone();
    sorted.sort_unstable();
    assert_eq!(
        exec.opcode_map(),
        sorted,
        "opcode to executor map for {name}"
    );
}

#[test]
fn rv32im_config_matches_reference_fibonacci_tables() {
    assert_matches_reference(&Rv32ImConfig::default(), "fibonacci");
}

#[test]
fn vm_config_methods_agree_with_execution_config() {
    let config = Rv32ImConfig::default();
    let exec = config.execution_config().unwrap();
    assert_eq!(
        config.executor_idx_to_air_idx().unwrap(),
        exec.executor_idx_to_air_idx()
    );
    // RV32IM and IO are built-in on every backend: nothing to emit through an extension.
    assert!(config.create_rvr_extensions(None).unwrap().is_empty());
    assert!(config
        .create_jit_extensions(Some(&exec.executor_idx_to_air_idx()))
        .unwrap()
        .is_empty());
}

#[test]
fn openvm_toml_config_matches_reference_fibonacci_tables() {
    let text = reference("fibonacci")["config_toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config = rvx::config::AppConfig::from_toml_str(&text, "fibonacci/openvm.toml").unwrap();
    assert_matches_reference(&config, "fibonacci");
}

#[test]
fn openvm_toml_errors_name_the_key() {
    use rvx::config::AppConfig;
    let err = |text: &str| {
        AppConfig::from_toml_str(text, "openvm.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err("[app_vm_config.rv32i]\n[app_vm_config.rv32x]\n");
    assert!(e.contains("rv32x"), "{e}");
    let e = err("[app_vm_config.rv32i]\nfoo = 1\n");
    assert!(e.contains("foo"), "{e}");
    let e = err("[app_vm_config.system.config]\nnum_public_valuez = 64\n");
    assert!(e.contains("num_public_valuez"), "{e}");
    let e = err("[app_vm_config.rv32i]\n[app_vm_config.modular]\n");
    assert!(
        e.contains("modular") && e.contains("not implemented"),
        "{e}"
    );
    let e = err("[app_vm_config.rv32i]\n[app_vm_config.keccak]\nrate = 1\n");
    assert!(e.contains("rate"), "{e}");
    let e = err("[app_vm_config.bigint]\nrange_tuple_checker_size = [1, 2]\n");
    assert!(e.contains("range_tuple_checker_size"), "{e}");
    let e = err("[something_else]\n");
    assert!(e.contains("something_else"), "{e}");
    let e = err("[app_vm_config.system.config]\nnum_public_values = 3\n");
    assert!(e.contains("num_public_values"), "{e}");
}

#[test]
fn openvm_toml_system_settings_apply() {
    let text = "[app_vm_config.rv32i]\n[app_vm_config.io]\n\
                [app_vm_config.system.config]\nnum_public_values = 64\nmax_constraint_degree = 3\n\
                [app_vm_config.system.config.memory_config]\npointer_max_bits = 24\n\
                [app_vm_config.rv32m]\nrange_tuple_checker_sizes = [256, 1024]\n";
    let config = rvx::config::AppConfig::from_toml_str(text, "openvm.toml").unwrap();
    assert_eq!(config.system.num_public_values, 64);
    assert_eq!(config.system.pointer_max_bits, 24);
    let exec = config.execution_config().unwrap();
    let range = exec.chips().index_of("RangeTupleCheckerAir<2>").unwrap();
    assert_eq!(
        exec.chips().chips()[range].height,
        ChipHeight::Constant(256 * 1024)
    );
}

#[test]
fn openvm_toml_stark_params_set_segmentation() {
    let text = "[app_vm_config.rv32i]\n[app_vm_config.io]\n[app_vm_config.rv32m]\n\
                [system_params]\nl_skip = 4\nn_stack = 18\nw_stack = 2048\nlog_blowup = 2\n\
                [system_params.whir]\nk = 3\n";
    let config = rvx::config::AppConfig::from_toml_str(text, "openvm.toml").unwrap();
    assert_eq!(config.system.segmentation.max_trace_height, 1 << 22);
    let memory = config.system.proving_memory;
    assert_eq!(
        (
            memory.l_skip,
            memory.log_stacked_height,
            memory.log_blowup,
            memory.k_whir
        ),
        (4, 22, 2, 3)
    );
    assert!(!memory.zerocheck_save_memory);
    let defaults = rvx::SystemConfig::default();
    assert_eq!(defaults.segmentation.max_trace_height, 1 << 24);
    assert_eq!(defaults.proving_memory.log_stacked_height, 24);
}

/// The same extensions declared directly with the derive, inherited from `Rv32ImConfig`, and
/// loaded from an `openvm.toml`.
mod same_extensions {
    use rvx::extension::{io::Io, rv32i::Rv32I, rv32m::Rv32M};
    use rvx::SystemConfig;

    #[derive(rvx::VmConfig, Clone, Default)]
    pub struct Direct {
        #[config]
        pub system: SystemConfig,
        #[extension]
        pub rv32i: Rv32I,
        #[extension]
        pub io: Io,
        #[extension]
        pub rv32m: Rv32M,
    }

    #[derive(rvx::VmConfig, Clone, Default)]
    pub struct Inherited {
        #[config]
        pub base: rvx::Rv32ImConfig,
        #[extension]
        pub nothing_more: Option<Rv32M>,
    }

    #[derive(rvx::VmConfig, Clone, Default)]
    pub struct InheritedTwice {
        #[config]
        pub base: Inherited,
    }
}

#[test]
fn derived_inherited_and_toml_configs_build_the_same_tables() {
    let toml = "[app_vm_config.rv32m]\n[app_vm_config.io]\n[app_vm_config.rv32i]\n";
    let configs: Vec<(&str, Box<dyn VmConfig>)> = vec![
        ("direct", Box::new(same_extensions::Direct::default())),
        ("inherited", Box::new(same_extensions::Inherited::default())),
        (
            "inherited twice",
            Box::new(same_extensions::InheritedTwice::default()),
        ),
        ("rv32im", Box::new(Rv32ImConfig::default())),
        (
            "openvm.toml",
            Box::new(rvx::config::AppConfig::from_toml_str(toml, "openvm.toml").unwrap()),
        ),
    ];
    let tables = |config: &dyn VmConfig| {
        let exec = config.execution_config().unwrap();
        let executors: Vec<(String, usize, Vec<u32>)> = exec
            .executors()
            .iter()
            .map(|e| {
                (
                    format!("{}::{}", e.extension, e.name),
                    e.air_idx,
                    e.opcodes.iter().map(|o| o.0).collect(),
                )
            })
            .collect();
        (
            executors,
            exec.opcode_map(),
            exec.chips().clone(),
            exec.executor_idx_to_air_idx(),
        )
    };
    let reference = tables(configs[0].1.as_ref());
    for (name, config) in &configs[1..] {
        assert_eq!(tables(config.as_ref()), reference, "{name}");
    }
}

/// An extension that claims RV32M's `MUL` opcode for a chip of its own.
#[derive(Debug, Clone, Default)]
struct MulThief;

impl rvx::extension::Extension for MulThief {
    fn name(&self) -> &'static str {
        "mul-thief"
    }
    fn chips(&self) -> Vec<rvx::extension::ChipSpec> {
        vec![rvx::extension::ChipSpec {
            name: "ThiefAir".into(),
            width: 1,
            interactions: 1,
            height: ChipHeight::Variable,
            need_rot: false,
            shared: false,
        }]
    }
    fn executors(&self) -> Vec<rvx::extension::ExecutorSpec> {
        vec![rvx::extension::ExecutorSpec {
            name: "thief",
            chip: "ThiefAir".into(),
            opcodes: vec![(0x250, "MUL")],
            custom: None,
            extra_chips: Vec::new(),
        }]
    }
    fn decode(&self, _word: u32, _pc: u32) -> Option<rvx::extension::Decoded> {
        None
    }
}

#[test]
fn two_extensions_claiming_one_opcode_is_an_error_naming_both() {
    #[derive(rvx::VmConfig, Clone, Default)]
    struct Twice {
        #[config]
        base: Rv32ImConfig,
        #[extension]
        thief: MulThief,
    }
    let err = Twice::default().execution_config().unwrap_err().to_string();
    assert!(
        err.contains("rv32m::multiplication")
            && err.contains("mul-thief::thief")
            && err.contains("0x250"),
        "{err}"
    );
}

#[test]
fn keccak_config_matches_reference_keccak256_tables() {
    let text = reference("keccak256")["config_toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config = rvx::config::AppConfig::from_toml_str(&text, "keccak256/openvm.toml").unwrap();
    assert_matches_reference(&config, "keccak256");
}

#[test]
fn sha2_config_matches_reference_sha2_bench_tables() {
    let text = reference("sha2_bench")["config_toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config = rvx::config::AppConfig::from_toml_str(&text, "sha2_bench/openvm.toml").unwrap();
    assert_matches_reference(&config, "sha2_bench");
}

/// The kitchen-sink table without the algebra extensions (modular, Fp2, ECC, pairing), which
/// rvx does not implement: those extensions register after every other one, so their AIRs are
/// exactly indices `4..43` (reverse order) and their executors come after BigInt's. What is
/// left is the table of RV32IM + IO + Keccak + SHA-2 + BigInt, with the range-tuple checker
/// sized for BigInt (2^21 rows).
#[test]
fn bigint_config_matches_the_reference_kitchen_sink_tables() {
    let reference = reference("kitchen-sink-trimmed");
    let airs = reference["airs"].as_array().unwrap();
    let algebra = 4..43;
    for air in &airs[algebra.clone()] {
        let name = air["name"].as_str().unwrap();
        assert!(
            name.contains("FieldExpressionCoreAir") || name.contains("ModularIsEqualCoreAir"),
            "{name} is not an algebra AIR"
        );
    }
    let kept: Vec<&Value> = airs
        .iter()
        .enumerate()
        .filter(|(i, _)| !algebra.contains(i))
        .map(|(_, a)| a)
        .collect();
    let remap = |air: usize| {
        if air >= algebra.end {
            air - algebra.len()
        } else {
            air
        }
    };
    let toml = "[app_vm_config.rv32i]\n[app_vm_config.rv32m]\n[app_vm_config.io]\n\
                [app_vm_config.keccak]\n[app_vm_config.sha2]\n[app_vm_config.bigint]\n";
    let config = rvx::config::AppConfig::from_toml_str(toml, "openvm.toml").unwrap();
    let exec = config.execution_config().unwrap();
    let chips = exec.chips().chips();
    let ours: Vec<&str> = chips.iter().map(|c| c.name.as_str()).collect();
    let theirs: Vec<&str> = kept.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(ours, theirs);
    for (chip, air) in chips.iter().zip(&kept) {
        assert_eq!(u64::from(chip.width), air["width"].as_u64().unwrap());
        assert_eq!(
            u64::from(chip.interactions),
            air["num_interactions"].as_u64().unwrap()
        );
        assert_eq!(
            chip.need_rot,
            air["need_rot"].as_bool().unwrap(),
            "{}",
            chip.name
        );
        match chip.height {
            ChipHeight::Constant(h) => {
                assert_eq!(Some(u64::from(h)), air["constant_height"].as_u64())
            }
            _ => assert!(
                !air["height_is_constant"].as_bool().unwrap() || air["name"] == "ProgramAir"
            ),
        }
    }
    // Executors 0..25: phantom, RV32I, IO, Keccak, SHA-2, RV32M, BigInt.
    let ours = exec.executor_idx_to_air_idx();
    let theirs: Vec<usize> = reference["executor_idx_to_air_idx"].as_array().unwrap()[..25]
        .iter()
        .map(|v| remap(v.as_u64().unwrap() as usize))
        .collect();
    assert_eq!(ours, theirs);
    let mut opcodes: Vec<(u32, usize)> = reference["opcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["opcode"].as_u64().unwrap() as u32,
                o["executor_idx"].as_u64().unwrap() as usize,
            )
        })
        .filter(|&(_, e)| e < 25)
        .collect();
    opcodes.sort_unstable();
    assert_eq!(exec.opcode_map(), opcodes);
}

#[test]
fn bigint_alone_places_its_own_range_tuple_checker() {
    let toml = "[app_vm_config.rv32i]\n[app_vm_config.io]\n[app_vm_config.bigint]\n\
                range_tuple_checker_sizes = [256, 4096]\n";
    let config = rvx::config::AppConfig::from_toml_str(toml, "openvm.toml").unwrap();
    let exec = config.execution_config().unwrap();
    let index = exec.chips().index_of("RangeTupleCheckerAir<2>").unwrap();
    assert_eq!(
        exec.chips().chips()[index].height,
        ChipHeight::Constant(1 << 20)
    );
    // With RV32M, both take the element-wise largest sizes.
    let toml = "[app_vm_config.rv32i]\n[app_vm_config.io]\n[app_vm_config.rv32m]\n\
                range_tuple_checker_sizes = [512, 1024]\n[app_vm_config.bigint]\n\
                range_tuple_checker_sizes = [256, 4096]\n";
    let config = rvx::config::AppConfig::from_toml_str(toml, "openvm.toml").unwrap();
    assert_eq!(
        config.rv32m.unwrap().range_tuple_checker_sizes,
        config.bigint.unwrap().range_tuple_checker_sizes
    );
    assert_eq!(
        config.bigint.unwrap().range_tuple_checker_sizes,
        [512, 4096]
    );
}
