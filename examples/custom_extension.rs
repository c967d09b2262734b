//! A user-defined extension: a `popcount` instruction, declared once and run by rvx.
//!
//! The extension decodes custom-0 words with funct3 = 111 as `popcount rd, rs1` (rd = number
//! of set bits in rs1), executes them with a shared Rust function, and meters them into a chip
//! of its own. A configuration adds it to the standard RV32IM one with `#[derive(VmConfig)]`.
//!
//! Run with `cargo run --example custom_extension`.

use rvx::config::Rv32ImConfig;
use rvx::extension::{
    ChipHeight, ChipSpec, CustomExecutor, Decoded, DecodedKind, ExecutorSpec, Extension, Machine,
    Next, Opcode, Operands,
};
use rvx::instance::MeteredInstance;
use rvx::program::{Program, Segment};
use rvx::{BackendKind, ExecErrorKind, PureInstance, VmConfig};
use std::sync::Arc;

/// The global opcode number of `popcount`: any number no other extension uses.
const POPCOUNT: Opcode = 0x7000;
/// The chip `popcount` adds a row to.
const POPCOUNT_CHIP: &str = "PopcountAir";

/// The extension: decoding, executor and chip of `popcount`.
#[derive(Debug, Clone, Copy, Default)]
struct PopcountExtension;

/// What `popcount` does, shared by every backend.
struct PopcountExecutor;

impl CustomExecutor for PopcountExecutor {
    fn execute(
        &self,
        _opcode: Opcode,
        operands: &Operands,
        machine: &mut Machine<'_>,
    ) -> Result<Next, ExecErrorKind> {
        let value = machine.reg(operands.rs1);
        machine.set_reg(operands.rd, value.count_ones());
        Ok(Next::Continue)
    }
}

impl Extension for PopcountExtension {
    fn name(&self) -> &'static str {
        "popcount"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        vec![ChipSpec {
            name: POPCOUNT_CHIP.to_string(),
            width: 40,
            interactions: 6,
            height: ChipHeight::Variable,
            need_rot: false,
            shared: false,
        }]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        vec![ExecutorSpec {
            name: "popcount",
            chip: POPCOUNT_CHIP.to_string(),
            opcodes: vec![(POPCOUNT, "POPCOUNT")],
            custom: Some(Arc::new(PopcountExecutor)),
            extra_chips: Vec::new(),
        }]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        // custom-0 (0x0b), funct3 = 111, I-type with a zero immediate.
        if word & 0x7f != 0x0b || (word >> 12) & 7 != 7 || word >> 20 != 0 {
            return None;
        }
        Some(Decoded {
            opcode: POPCOUNT,
            kind: DecodedKind::Custom(Operands {
                rd: ((word >> 7) & 31) as u8,
                rs1: ((word >> 15) & 31) as u8,
                ..Operands::default()
            }),
        })
    }
}

/// RV32IM with the IO instructions, plus `popcount`.
#[derive(rvx::VmConfig, Debug, Clone, Default)]
struct PopcountConfig {
    #[config]
    base: Rv32ImConfig,
    #[extension]
    popcount: PopcountExtension,
}

/// Encodes `popcount rd, rs1`.
fn popcount(rd: u32, rs1: u32) -> u32 {
    (rs1 << 15) | (7 << 12) | (rd << 7) | 0x0b
}

/// A small program: count the bits of 0x00F0_F0F1 and of 0xFFFF_FFFF in a loop, reveal the
/// sum, terminate.
fn program_words() -> Vec<u32> {
    vec![
        0x00f0_f2b7,    // lui   x5, 0xf0f
        0x0f12_8293,    // addi  x5, x5, 0xf1   -> x5 = 0x00f0f0f1
        popcount(6, 5), // popcount x6, x5      -> 13
        0xfff0_0393,    // addi  x7, x0, -1
        popcount(7, 7), // popcount x7, x7      -> 32
        0x0073_0333,    // add   x6, x6, x7     -> 45
        0x0003_250b,    // reveal x6 -> public value word 0 (x[rd] = x0, imm 0)
        0x0000_000b,    // terminate 0
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = PopcountConfig::default();
    let exec = Arc::new(config.execution_config()?);
    println!("extensions: {:?}", exec.extension_names());
    println!("executor -> chip: {:?}", config.executor_idx_to_air_idx()?);
    let emitters = config.create_rvr_extensions(Some(&config.executor_idx_to_air_idx()?))?;
    println!(
        "custom executors the fast backends call: {:?}",
        emitters
            .iter()
            .map(|e| (e.name, e.air_idx))
            .collect::<Vec<_>>()
    );

    let code: Vec<u8> = program_words()
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let segment = Segment {
        vaddr: 0x1000,
        memsz: code.len() as u32,
        data: code,
        executable: true,
    };
    let program = Arc::new(Program::from_segments(0x1000, vec![segment], exec.clone()));

    let state = PureInstance::new(program.clone(), BackendKind::Interpreter)?.execute([])?;
    let result = u32::from_le_bytes(state.public_values[..4].try_into()?);
    println!(
        "popcount(0x00f0f0f1) + popcount(0xffffffff) = {result} in {} instructions",
        state.instret
    );
    assert_eq!(result, 13 + 32);

    // Every backend runs the extension (the recompiler calls the same Rust function) with the
    // same result and the same rows.
    let chip = exec
        .chips()
        .index_of(POPCOUNT_CHIP)
        .expect("the extension's chip is in the table");
    for &backend in BackendKind::ALL {
        let other = PureInstance::new(program.clone(), backend)?.execute([])?;
        assert!(other == state, "{backend} agrees with the interpreter");
        let (segments, _) = MeteredInstance::new(program.clone(), backend)?.execute_metered([])?;
        println!(
            "{backend}: rows of {POPCOUNT_CHIP}: {}",
            segments[0].trace_heights[chip]
        );
        assert_eq!(segments[0].trace_heights[chip], 2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the example (it is built with `test = true`).
    #[test]
    fn example_runs() {
        super::main().expect("the example succeeds");
    }
}
