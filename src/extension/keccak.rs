//! The Keccak extension: `keccakf` (keccak-f[1600] in place on a 200-byte state) and `xorin`
//! (XOR up to one rate's worth of bytes into a buffer), the two steps of a Keccak sponge.
//!
//! Encoding (custom-0, funct3 100, R-type): funct7 0 is `keccakf` on the state at `[x[rd]:200]`
//! (rs1 and rs2 are ignored, as by the reference's transpiler); funct7 1 is `xorin`:
//! `[x[rd]+i] ^= [x[rs1]+i]` for `i < x[rs2]`, with `x[rs2]` a multiple of 4 and at most 136
//! (the Keccak-256 rate), otherwise a [`ExecErrorKind::XorinLength`] error.
//!
//! Metering follows OpenVM 2.0.2 (`openvm-keccak256-circuit`): `keccakf` adds one row to
//! `KeccakfOpAir` and 24 (one per round) to `KeccakfPermAir`; `xorin` adds one row to
//! `XorinVmAir`, whatever its length. Memory is charged for the bytes each accesses: the 200
//! state bytes for `keccakf`, the `x[rs2]` bytes of both operands for `xorin`. Operands need no
//! alignment; every byte must lie inside guest memory (checked before anything is written).

use super::rv32i::bitwise_lookup_chip;
use super::{
    ChipHeight, ChipSpec, CustomExecutor, Decoded, DecodedKind, ExecutorSpec, Extension, Machine,
    Metering, Next, Opcode, Operands,
};
use crate::error::ExecErrorKind;
use crate::program::decode::{funct3, funct7, rd, rs1, rs2, OPCODE_CUSTOM_0};
use std::sync::Arc;

/// Global opcode numbers of the reference zkVM.
pub mod opcodes {
    use crate::extension::Opcode;
    /// keccak-f[1600] in place.
    pub const KECCAKF: Opcode = 0x310;
    /// XOR a buffer into another.
    pub const XORIN: Opcode = 0x311;
}

use opcodes::*;

/// Chip names (the reference's AIR names).
pub mod chips {
    /// One row per `keccakf`.
    pub const KECCAKF_OP: &str = "KeccakfOpAir";
    /// 24 rows per `keccakf` (one per round).
    pub const KECCAKF_PERM: &str = "KeccakfPermAir";
    /// One row per `xorin`.
    pub const XORIN: &str = "XorinVmAir";
}

/// The custom-0 funct3 of both instructions.
pub const FUNCT3: u32 = 0b100;
/// funct7 of `keccakf`.
pub const KECCAKF_FUNCT7: u32 = 0;
/// funct7 of `xorin`.
pub const XORIN_FUNCT7: u32 = 1;
/// Bytes of the Keccak state.
pub const STATE_BYTES: u32 = 200;
/// The most bytes one `xorin` may take: the Keccak-256 rate.
pub const RATE_BYTES: u32 = 136;
/// Rows `keccakf` adds to the permutation chip: one per round of keccak-f[1600].
pub const PERM_ROWS: u32 = 24;

/// The Keccak extension (`[app_vm_config.keccak]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keccak;

/// Applies keccak-f[1600] to a 200-byte state of little-endian 64-bit lanes.
pub fn keccakf(state: &mut [u8; STATE_BYTES as usize]) {
    let mut lanes = [0u64; 25];
    for (lane, bytes) in lanes.iter_mut().zip(state.chunks_exact(8)) {
        *lane = u64::from_le_bytes(bytes.try_into().expect("8-byte chunk"));
    }
    keccak::f1600(&mut lanes);
    for (lane, bytes) in lanes.iter().zip(state.chunks_exact_mut(8)) {
        bytes.copy_from_slice(&lane.to_le_bytes());
    }
}

/// Executes `keccakf` and `xorin`.
struct KeccakExecutor;

impl CustomExecutor for KeccakExecutor {
    fn execute(
        &self,
        opcode: Opcode,
        operands: &Operands,
        machine: &mut Machine<'_>,
    ) -> Result<Next, ExecErrorKind> {
        match opcode {
            KECCAKF => {
                let addr = machine.reg(operands.rd);
                let mut state: [u8; STATE_BYTES as usize] = machine.read(addr)?;
                keccakf(&mut state);
                machine.write(addr, &state)?;
                machine.add_rows(0, 1);
                machine.add_rows(1, PERM_ROWS);
            }
            _ => {
                let buffer = machine.reg(operands.rd);
                let input = machine.reg(operands.rs1);
                let len = machine.reg(operands.rs2);
                if len % 4 != 0 || len > RATE_BYTES {
                    return Err(ExecErrorKind::XorinLength { len });
                }
                machine.check(buffer, len)?;
                let mut bytes = [0u8; RATE_BYTES as usize];
                let bytes = &mut bytes[..len as usize];
                let source = machine.memory.slice(input, u64::from(len))?;
                bytes.copy_from_slice(source);
                machine.touch(input, len);
                let target = machine.memory.slice_mut(buffer, u64::from(len))?;
                for (t, s) in target.iter_mut().zip(bytes.iter()) {
                    *t ^= s;
                }
                machine.touch(buffer, len);
                machine.add_rows(0, 1);
            }
        }
        Ok(Next::Continue)
    }

    fn metering(&self, _opcode: Opcode) -> Metering {
        Metering::Reported
    }
}

impl Extension for Keccak {
    fn name(&self) -> &'static str {
        "keccak"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // OpenVM 2.0.2's AIRs (shared/reference/openvm-2.0.2-airs-keccak256.json), in its
        // insertion order: the shared bitwise lookup, xorin, the permutation, the op chip.
        let chip = |name: &str, width, interactions, need_rot| ChipSpec {
            name: name.to_string(),
            width,
            interactions,
            height: ChipHeight::Variable,
            need_rot,
            shared: false,
        };
        vec![
            bitwise_lookup_chip(),
            chip(chips::XORIN, 914, 561, false),
            chip(chips::KECCAKF_PERM, 2634, 2, true),
            chip(chips::KECCAKF_OP, 561, 310, false),
        ]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        let implementation: Arc<dyn CustomExecutor> = Arc::new(KeccakExecutor);
        vec![
            ExecutorSpec {
                name: "xorin",
                chip: chips::XORIN.to_string(),
                opcodes: vec![(XORIN, "XORIN")],
                custom: Some(implementation.clone()),
                extra_chips: Vec::new(),
            },
            ExecutorSpec {
                name: "keccakf",
                chip: chips::KECCAKF_OP.to_string(),
                opcodes: vec![(KECCAKF, "KECCAKF")],
                custom: Some(implementation),
                extra_chips: vec![chips::KECCAKF_PERM.to_string()],
            },
        ]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        if word & 0x7f != OPCODE_CUSTOM_0 || funct3(word) != FUNCT3 {
            return None;
        }
        let opcode = match funct7(word) {
            KECCAKF_FUNCT7 => KECCAKF,
            XORIN_FUNCT7 => XORIN,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccakf_of_zero_state_matches_the_published_permutation() {
        // keccak-f[1600] of the all-zero state: first lane F1258F7940E1DDE7 (the Keccak
        // team's KeccakF-1600 intermediate values).
        let mut state = [0u8; 200];
        keccakf(&mut state);
        assert_eq!(
            u64::from_le_bytes(state[..8].try_into().unwrap()),
            0xF125_8F79_40E1_DDE7
        );
    }

    #[test]
    fn decodes_only_its_funct7() {
        let word = |f7: u32| (f7 << 25) | (3 << 20) | (2 << 15) | (FUNCT3 << 12) | (1 << 7) | 0x0b;
        assert_eq!(Keccak.decode(word(0), 0).unwrap().opcode, KECCAKF);
        assert_eq!(Keccak.decode(word(1), 0).unwrap().opcode, XORIN);
        assert!(Keccak.decode(word(2), 0).is_none());
    }
}
