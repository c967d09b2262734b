//! The RV32M multiply and divide instructions.

use super::rv32i::chip;
use super::{ChipHeight, ChipSpec, Decoded, DecodedKind, ExecutorSpec, Extension, Opcode};
use crate::extension::rv32i::opcodes::PHANTOM;
use crate::program::decode::{funct3, funct7, rd, rs1, rs2};
use crate::program::{Insn, Op};

/// Global opcode numbers of the reference zkVM for RV32M.
pub mod opcodes {
    use crate::extension::Opcode;
    #[allow(missing_docs)]
    pub const MUL: Opcode = 0x250;
    #[allow(missing_docs)]
    pub const MULH: Opcode = 0x251;
    #[allow(missing_docs)]
    pub const MULHSU: Opcode = 0x252;
    #[allow(missing_docs)]
    pub const MULHU: Opcode = 0x253;
    #[allow(missing_docs)]
    pub const DIV: Opcode = 0x254;
    #[allow(missing_docs)]
    pub const DIVU: Opcode = 0x255;
    #[allow(missing_docs)]
    pub const REM: Opcode = 0x256;
    #[allow(missing_docs)]
    pub const REMU: Opcode = 0x257;
}

use opcodes::*;

/// Chip names of this extension (the reference's AIR names, copied exactly).
pub mod chips {
    #[allow(missing_docs)]
    pub const MULTIPLICATION: &str = "VmAirWrapper<Rv32MultAdapterAir, MultiplicationCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const MULH: &str = "VmAirWrapper<Rv32MultAdapterAir, MulHCoreAir<4, 8>";
    #[allow(missing_docs)]
    pub const DIV_REM: &str = "VmAirWrapper<Rv32MultAdapterAir, DivRemCoreAir<4, 8>";
    /// The range-tuple checker the multiplication chips share.
    pub const RANGE_TUPLE: &str = "RangeTupleCheckerAir<2>";
}

/// The RV32M extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rv32M {
    /// The two dimensions of the range-tuple checker the multiplication chips share; its
    /// constant height is their product. The reference's default is `[256, 2048]` (2^19 rows).
    pub range_tuple_checker_sizes: [u32; 2],
}

/// The reference's default range-tuple checker dimensions.
pub const DEFAULT_RANGE_TUPLE_CHECKER_SIZES: [u32; 2] = [1 << 8, 8 * (1 << 8)];

impl Default for Rv32M {
    fn default() -> Self {
        Rv32M {
            range_tuple_checker_sizes: DEFAULT_RANGE_TUPLE_CHECKER_SIZES,
        }
    }
}

impl Extension for Rv32M {
    fn name(&self) -> &'static str {
        "rv32m"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // OpenVM 2.0.2's AIRs (shared/reference/openvm-2.0.2-airs-fibonacci.json): the
        // range-tuple checker (2^19 rows by default) first, then the three executors' chips.
        let [a, b] = self.range_tuple_checker_sizes;
        vec![
            ChipSpec {
                name: chips::RANGE_TUPLE.to_string(),
                width: 3,
                interactions: 1,
                height: ChipHeight::Constant(a.saturating_mul(b)),
                need_rot: true,
                shared: true,
            },
            chip(chips::MULTIPLICATION, 31, 19),
            chip(chips::MULH, 39, 24),
            chip(chips::DIV_REM, 59, 25),
        ]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        let executor = |name, chip: &str, opcodes: &[(Opcode, &'static str)]| ExecutorSpec {
            name,
            chip: chip.to_string(),
            opcodes: opcodes.to_vec(),
            custom: None,
            extra_chips: Vec::new(),
        };
        vec![
            executor("multiplication", chips::MULTIPLICATION, &[(MUL, "MUL")]),
            executor(
                "mulh",
                chips::MULH,
                &[(MULH, "MULH"), (MULHSU, "MULHSU"), (MULHU, "MULHU")],
            ),
            executor(
                "div_rem",
                chips::DIV_REM,
                &[(DIV, "DIV"), (DIVU, "DIVU"), (REM, "REM"), (REMU, "REMU")],
            ),
        ]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        if word & 0x7f != 0x33 || funct7(word) != 1 {
            return None;
        }
        let (opcode, op) = match funct3(word) {
            0 => (MUL, Op::Mul),
            1 => (MULH, Op::Mulh),
            2 => (MULHSU, Op::Mulhsu),
            3 => (MULHU, Op::Mulhu),
            4 => (DIV, Op::Div),
            5 => (DIVU, Op::Divu),
            6 => (REM, Op::Rem),
            _ => (REMU, Op::Remu),
        };
        let d = rd(word);
        // Writing x0 has no effect (division never traps): the reference makes it a no-op.
        let (opcode, insn) = if d == 0 {
            (PHANTOM, Insn::new(Op::Nop, 0, 0, 0, 0))
        } else {
            (opcode, Insn::new(op, d, rs1(word), rs2(word), 0))
        };
        Some(Decoded {
            opcode,
            kind: DecodedKind::Builtin(insn),
        })
    }
}
