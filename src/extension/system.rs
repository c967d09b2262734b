//! What every configuration has: the system chips and the phantom executor.
//!
//! These are not an [`Extension`](super::Extension) a configuration lists; the execution config
//! adds them itself, where the reference zkVM places them.

use super::rv32i::opcodes::PHANTOM;
use super::{ChipHeight, ChipSpec, ExecutorSpec};

/// The phantom chip's name (the reference's AIR name).
pub const PHANTOM_CHIP: &str = "PhantomAir";

fn chip(name: &str, width: u32, interactions: u32, height: ChipHeight) -> ChipSpec {
    ChipSpec {
        name: name.to_string(),
        width,
        interactions,
        height,
        shared: false,
    }
}

/// The chips that always come first in the chip table (the reference's `system_air_ids`):
/// program, connector, memory boundary, memory Merkle tree.
///
/// Numbers: OpenVM 2.0.2 (shared/reference/openvm-2.0.2-airs-fibonacci.json): the program chip
/// has one row per instruction, the connector two rows.
pub fn leading_chips() -> Vec<ChipSpec> {
    vec![
        chip("ProgramAir", 10, 1, ChipHeight::ProgramLength),
        chip("VmConnectorAir", 6, 5, ChipHeight::Constant(2)),
        chip("PersistentBoundaryAir<8>", 21, 4, ChipHeight::Variable),
        chip("MemoryMerkleAir<8>", 33, 4, ChipHeight::Variable),
    ]
}

/// The system chips inserted before any extension's, in insertion order (so they end the
/// chip table): the variable range checker (2^18 rows), the Poseidon2 periphery, the phantom
/// chip. Numbers: OpenVM 2.0.2 (shared/reference/openvm-2.0.2-airs-fibonacci.json).
pub fn inserted_chips() -> Vec<ChipSpec> {
    vec![
        chip(
            "VariableRangeCheckerAir",
            4,
            1,
            ChipHeight::Constant(1 << 18),
        ),
        chip(
            "Poseidon2PeripheryAir<BabyBearParameters>, 1>",
            300,
            1,
            ChipHeight::Variable,
        ),
        chip(PHANTOM_CHIP, 6, 3, ChipHeight::Variable),
    ]
}

/// The system's executors: the phantom instruction (no-ops and the IO phantoms), executor 0.
pub fn executors() -> Vec<ExecutorSpec> {
    vec![ExecutorSpec {
        name: "phantom",
        chip: PHANTOM_CHIP.to_string(),
        opcodes: vec![(PHANTOM, "PHANTOM")],
        custom: None,
    }]
}
