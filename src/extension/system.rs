//! What every configuration has: the system chips and the phantom executor.
//!
//! These are not an [`Extension`](super::Extension) a configuration lists; the execution config
//! adds them itself, where the reference zkVM places them.

use super::rv32i::opcodes::PHANTOM;
use super::{ChipHeight, ChipSpec, ExecutorSpec};

/// The phantom chip's name (the reference's AIR name).
pub const PHANTOM_CHIP: &str = "PhantomAir";

/// The memory boundary chip's name.
pub const BOUNDARY_CHIP: &str = "PersistentBoundaryAir<8>";
/// The memory Merkle-tree chip's name.
pub const MERKLE_CHIP: &str = "MemoryMerkleAir<8>";

fn chip(name: &str, width: u32, interactions: u32, height: ChipHeight, need_rot: bool) -> ChipSpec {
    ChipSpec {
        name: name.to_string(),
        width,
        interactions,
        height,
        need_rot,
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
        chip("ProgramAir", 10, 1, ChipHeight::ProgramLength, false),
        chip("VmConnectorAir", 6, 5, ChipHeight::Constant(2), true),
        chip(BOUNDARY_CHIP, 21, 4, ChipHeight::Variable, false),
        chip(MERKLE_CHIP, 33, 4, ChipHeight::Variable, true),
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
            true,
        ),
        chip(
            "Poseidon2PeripheryAir<BabyBearParameters>, 1>",
            300,
            1,
            ChipHeight::Variable,
            false,
        ),
        chip(PHANTOM_CHIP, 6, 3, ChipHeight::Variable, false),
    ]
}

/// The system's executors: the phantom instruction (no-ops and the IO phantoms), executor 0.
pub fn executors() -> Vec<ExecutorSpec> {
    vec![ExecutorSpec {
        name: "phantom",
        chip: PHANTOM_CHIP.to_string(),
        opcodes: vec![(PHANTOM, "PHANTOM")],
        custom: None,
        extra_chips: Vec::new(),
    }]
}
