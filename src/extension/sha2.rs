//! The SHA-2 extension: one compression of SHA-256 (`sha256_update`) or SHA-512
//! (`sha512_update`) per instruction.
//!
//! Encoding (custom-0, funct3 100, R-type): funct7 2 is `sha256_update`,
//! `[x[rd]:32] = compress256([x[rs1]:32], [x[rs2]:64])`; funct7 3 is `sha512_update`,
//! `[x[rd]:64] = compress512([x[rs1]:64], [x[rs2]:128])`. As in the reference, the chaining
//! state is stored as little-endian words (`u32` for SHA-256, `u64` for SHA-512) and the block
//! as the message bytes; the output may overlap either input.
//!
//! Metering follows OpenVM 2.0.2 (`openvm-sha2-circuit`): one row on the variant's main chip
//! and one block's worth on its block-hasher chip (17 rows for SHA-256, 21 for SHA-512). Memory
//! is charged for the state read, the block read and the state written.

use super::rv32i::bitwise_lookup_chip;
use super::{
    ChipHeight, ChipSpec, CustomExecutor, Decoded, DecodedKind, ExecutorSpec, Extension, Machine,
    Metering, Next, Opcode, Operands,
};
use crate::error::ExecErrorKind;
use crate::program::decode::{funct3, funct7, rd, rs1, rs2, OPCODE_CUSTOM_0};
use ::sha2::digest::generic_array::GenericArray;
use std::sync::Arc;

/// Global opcode numbers of the reference zkVM.
pub mod opcodes {
    use crate::extension::Opcode;
    /// One SHA-256 compression.
    pub const SHA256: Opcode = 0x320;
    /// One SHA-512 compression.
    pub const SHA512: Opcode = 0x321;
}

use opcodes::*;

/// Chip names (the reference's AIR names).
pub mod chips {
    /// One row per `sha256_update`.
    pub const SHA256_MAIN: &str = "Sha2MainAir<Sha256Config>";
    /// [`super::SHA256_BLOCK_ROWS`] rows per `sha256_update`.
    pub const SHA256_BLOCK_HASHER: &str = "Sha2BlockHasherVmAir<Sha256Config>";
    /// One row per `sha512_update`.
    pub const SHA512_MAIN: &str = "Sha2MainAir<Sha512Config>";
    /// [`super::SHA512_BLOCK_ROWS`] rows per `sha512_update`.
    pub const SHA512_BLOCK_HASHER: &str = "Sha2BlockHasherVmAir<Sha512Config>";
}

/// The custom-0 funct3 of both instructions (shared with the Keccak extension).
pub const FUNCT3: u32 = 0b100;
/// funct7 of `sha256_update`.
pub const SHA256_FUNCT7: u32 = 2;
/// funct7 of `sha512_update`.
pub const SHA512_FUNCT7: u32 = 3;
/// Block-hasher rows per SHA-256 compression.
pub const SHA256_BLOCK_ROWS: u32 = 17;
/// Block-hasher rows per SHA-512 compression.
pub const SHA512_BLOCK_ROWS: u32 = 21;

/// The SHA-2 extension (`[app_vm_config.sha2]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sha2;

/// One SHA-256 compression of `block` into `state` (eight little-endian `u32` words).
pub fn sha256_update(state: &mut [u8; 32], block: &[u8; 64]) {
    let mut words = [0u32; 8];
    for (w, bytes) in words.iter_mut().zip(state.chunks_exact(4)) {
        *w = u32::from_le_bytes(bytes.try_into().expect("4-byte chunk"));
    }
    ::sha2::compress256(&mut words, &[*GenericArray::from_slice(block)]);
    for (w, bytes) in words.iter().zip(state.chunks_exact_mut(4)) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
}

/// One SHA-512 compression of `block` into `state` (eight little-endian `u64` words).
pub fn sha512_update(state: &mut [u8; 64], block: &[u8; 128]) {
    let mut words = [0u64; 8];
    for (w, bytes) in words.iter_mut().zip(state.chunks_exact(8)) {
        *w = u64::from_le_bytes(bytes.try_into().expect("8-byte chunk"));
    }
    ::sha2::compress512(&mut words, &[*GenericArray::from_slice(block)]);
    for (w, bytes) in words.iter().zip(state.chunks_exact_mut(8)) {
        bytes.copy_from_slice(&w.to_le_bytes());
    }
}

/// Executes both compressions.
struct Sha2Executor;

impl Sha2Executor {
    /// Reads the state and block, compresses, checks and writes the output, meters.
    fn run<const STATE: usize, const BLOCK: usize>(
        machine: &mut Machine<'_>,
        operands: &Operands,
        compress: fn(&mut [u8; STATE], &[u8; BLOCK]),
        block_rows: u32,
    ) -> Result<(), ExecErrorKind> {
        let dst = machine.reg(operands.rd);
        let src = machine.reg(operands.rs1);
        let input = machine.reg(operands.rs2);
        // Every operand is checked before the first write.
        machine.check(src, STATE as u32)?;
        machine.check(input, BLOCK as u32)?;
        machine.check(dst, STATE as u32)?;
        let mut state: [u8; STATE] = machine.read(src)?;
        let block: [u8; BLOCK] = machine.read(input)?;
        compress(&mut state, &block);
        machine.write(dst, &state)?;
        machine.add_rows(0, 1);
        machine.add_rows(1, block_rows);
        Ok(())
    }
}

impl CustomExecutor for Sha2Executor {
    fn execute(
        &self,
        opcode: Opcode,
        operands: &Operands,
        machine: &mut Machine<'_>,
    ) -> Result<Next, ExecErrorKind> {
        match opcode {
            SHA256 => Self::run(machine, operands, sha256_update, SHA256_BLOCK_ROWS)?,
            _ => Self::run(machine, operands, sha512_update, SHA512_BLOCK_ROWS)?,
        }
        Ok(Next::Continue)
    }

    fn metering(&self, _opcode: Opcode) -> Metering {
        Metering::Reported
    }
}

impl Extension for Sha2 {
    fn name(&self) -> &'static str {
        "sha2"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // OpenVM 2.0.2's AIRs (shared/reference/openvm-2.0.2-airs-sha2_bench.json), in its
        // insertion order: the shared bitwise lookup, then per variant block hasher and main.
        let chip = |name: &str, width, interactions| ChipSpec {
            name: name.to_string(),
            width,
            interactions,
            height: ChipHeight::Variable,
            need_rot: true,
            shared: false,
        };
        vec![
            bitwise_lookup_chip(),
            chip(chips::SHA256_BLOCK_HASHER, 456, 29),
            chip(chips::SHA256_MAIN, 284, 148),
            chip(chips::SHA512_BLOCK_HASHER, 903, 53),
            chip(chips::SHA512_MAIN, 540, 276),
        ]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        let implementation: Arc<dyn CustomExecutor> = Arc::new(Sha2Executor);
        vec![
            ExecutorSpec {
                name: "sha256",
                chip: chips::SHA256_MAIN.to_string(),
                opcodes: vec![(SHA256, "SHA256")],
                custom: Some(implementation.clone()),
                extra_chips: vec![chips::SHA256_BLOCK_HASHER.to_string()],
            },
            ExecutorSpec {
                name: "sha512",
                chip: chips::SHA512_MAIN.to_string(),
                opcodes: vec![(SHA512, "SHA512")],
                custom: Some(implementation),
                extra_chips: vec![chips::SHA512_BLOCK_HASHER.to_string()],
            },
        ]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        if word & 0x7f != OPCODE_CUSTOM_0 || funct3(word) != FUNCT3 {
            return None;
        }
        let opcode = match funct7(word) {
            SHA256_FUNCT7 => SHA256,
            SHA512_FUNCT7 => SHA512,
            _ => return None,
        };
        Some(Decoded {
            opcode,
            kind: DecodedKind::Custom(Operands {
                rd: rd(word),
                rs1: rs1(word),
                rs2: rs2(word),
                imm: 0,
            }),
        })
    }
}
