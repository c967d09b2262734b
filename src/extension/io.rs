//! The hint-store instructions (`hintstorew`, `hintbuffer`) and `reveal`.
//!
//! `reveal` is a word store into the public-values space in the reference zkVM, so it is
//! executed by RV32I's load/store executor and meters into its chip.

use super::rv32i::{chip, opcodes::STOREW};
use super::{ChipSpec, Decoded, DecodedKind, ExecutorSpec, Extension};
use crate::program::decode::{funct3, imm_i, rd, rs1, OPCODE_CUSTOM_0};
use crate::program::{Insn, Op};

/// Global opcode numbers of the reference zkVM for the hint stores.
pub mod opcodes {
    use crate::extension::Opcode;
    /// Store one hint word.
    pub const HINT_STOREW: Opcode = 0x260;
    /// Store several hint words.
    pub const HINT_BUFFER: Opcode = 0x261;
}

use opcodes::*;

/// The hint-store chip's name (the reference's AIR name).
pub const HINT_STORE_CHIP: &str = "Rv32HintStoreAir";

/// The IO extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Io;

impl Extension for Io {
    fn name(&self) -> &'static str {
        "io"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // OpenVM 2.0.2's `Rv32HintStoreAir` (shared/reference/openvm-2.0.2-airs-fibonacci.json).
        vec![ChipSpec {
            need_rot: true,
            ..chip(HINT_STORE_CHIP, 32, 18)
        }]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        vec![ExecutorSpec {
            name: "hint_store",
            chip: HINT_STORE_CHIP.to_string(),
            opcodes: vec![(HINT_STOREW, "HINT_STOREW"), (HINT_BUFFER, "HINT_BUFFER")],
            custom: None,
            extra_chips: Vec::new(),
        }]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        if word & 0x7f != OPCODE_CUSTOM_0 {
            return None;
        }
        let (d, s1, imm) = (rd(word), rs1(word), imm_i(word));
        let (opcode, insn) = match (funct3(word), imm) {
            (1, 0) => (HINT_STOREW, Insn::new(Op::HintStoreW, d, 0, 0, 0)),
            (1, 1) => (HINT_BUFFER, Insn::new(Op::HintBuffer, d, s1, 0, 0)),
            (2, _) => (STOREW, Insn::new(Op::Reveal, d, s1, 0, imm)),
            _ => return None,
        };
        Some(Decoded {
            opcode,
            kind: DecodedKind::Builtin(insn),
        })
    }
}
