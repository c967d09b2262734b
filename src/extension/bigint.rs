//! The 256-bit integer extension: arithmetic, logic, shifts, comparisons and multiplication on
//! 32-byte little-endian operands in memory, and `beq256`.
//!
//! Encoding (custom-0): funct3 101, R-type, operands at `[x[rs1]:32]` and `[x[rs2]:32]`, result
//! at `[x[rd]:32]`; funct7 0 add, 1 sub, 2 xor, 3 or, 4 and, 5 sll, 6 srl, 7 sra, 8 slt (signed,
//! result 0 or 1), 9 sltu, 10 mul (low 256 bits); other funct7 values are not instructions.
//! funct3 110, B-type: `beq256` branches by its immediate when `[x[rs1]:32] == [x[rs2]:32]`.
//! Shifts use the low 8 bits of the second operand (so a shift by 256 is a shift by 0), as the
//! reference does.
//!
//! The reference also registers 256-bit `bne`, `blt`, `bltu`, `bge` and `bgeu` opcodes (its
//! transpiler never produces them); they are in the executor table, with their semantics, so
//! the tables match.
//!
//! Metering follows OpenVM 2.0.2 (`openvm-bigint-circuit`): one row per instruction on its
//! executor's chip, and memory for the 32-byte operands it reads and the result it writes.

use super::rv32i::bitwise_lookup_chip;
use super::rv32m::chips::RANGE_TUPLE;
use super::{
    ChipHeight, ChipSpec, CustomExecutor, Decoded, DecodedKind, ExecutorSpec, Extension, Machine,
    Metering, Next, Opcode, Operands,
};
use crate::error::ExecErrorKind;
use crate::program::decode::{funct3, funct7, imm_b, rd, rs1, rs2, OPCODE_CUSTOM_0};
use std::sync::Arc;

/// Global opcode numbers of the reference zkVM.
#[allow(missing_docs)]
pub mod opcodes {
    use crate::extension::Opcode;
    pub const ADD: Opcode = 0x400;
    pub const SUB: Opcode = 0x401;
    pub const XOR: Opcode = 0x402;
    pub const OR: Opcode = 0x403;
    pub const AND: Opcode = 0x404;
    pub const SLL: Opcode = 0x405;
    pub const SRL: Opcode = 0x406;
    pub const SRA: Opcode = 0x407;
    pub const SLT: Opcode = 0x408;
    pub const SLTU: Opcode = 0x409;
    pub const BEQ: Opcode = 0x420;
    pub const BNE: Opcode = 0x421;
    pub const BLT: Opcode = 0x425;
    pub const BLTU: Opcode = 0x426;
    pub const BGE: Opcode = 0x427;
    pub const BGEU: Opcode = 0x428;
    pub const MUL: Opcode = 0x450;
}

use opcodes::*;

/// Chip names (the reference's AIR names, copied exactly).
#[allow(missing_docs)]
pub mod chips {
    pub const BASE_ALU: &str =
        "VmAirWrapper<Rv32VecHeapAdapterAir<2, 8, 8, 4, 4>, 2, 8, 8, 4, 32, 32>, BaseAluCoreAir<32, 8>";
    pub const LESS_THAN: &str =
        "VmAirWrapper<Rv32VecHeapAdapterAir<2, 8, 8, 4, 4>, 2, 8, 8, 4, 32, 32>, LessThanCoreAir<32, 8>";
    pub const BRANCH_EQUAL: &str =
        "VmAirWrapper<Rv32VecHeapBranchAdapterAir<2, 8, 4>, 2, 8, 4, 32>, BranchEqualCoreAir<32>";
    pub const BRANCH_LESS_THAN: &str =
        "VmAirWrapper<Rv32VecHeapBranchAdapterAir<2, 8, 4>, 2, 8, 4, 32>, BranchLessThanCoreAir<32, 8>";
    pub const MULTIPLICATION: &str =
        "VmAirWrapper<Rv32VecHeapAdapterAir<2, 8, 8, 4, 4>, 2, 8, 8, 4, 32, 32>, MultiplicationCoreAir<32, 8>";
    pub const SHIFT: &str =
        "VmAirWrapper<Rv32VecHeapAdapterAir<2, 8, 8, 4, 4>, 2, 8, 8, 4, 32, 32>, ShiftCoreAir<32, 8>";
}

/// custom-0 funct3 of the R-type operations.
pub const FUNCT3: u32 = 0b101;
/// custom-0 funct3 of `beq256`.
pub const BEQ_FUNCT3: u32 = 0b110;

/// The reference's default range-tuple checker dimensions for this extension (2^21 rows).
pub const DEFAULT_RANGE_TUPLE_CHECKER_SIZES: [u32; 2] = [1 << 8, 32 * (1 << 8)];

/// The 256-bit integer extension (`[app_vm_config.bigint]`).
///
/// Its multiplication chip shares the range-tuple checker with RV32M's. A chip table holds one
/// checker, placed by the first extension that declares it: combined with RV32M, give both the
/// same (element-wise largest) sizes, as the reference's SDK does and as [`crate::AppConfig`]
/// does for an `openvm.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigInt {
    /// The dimensions of the range-tuple checker; its constant height is their product.
    pub range_tuple_checker_sizes: [u32; 2],
}

impl Default for BigInt {
    fn default() -> Self {
        BigInt {
            range_tuple_checker_sizes: DEFAULT_RANGE_TUPLE_CHECKER_SIZES,
        }
    }
}

/// A 256-bit integer as four little-endian 64-bit limbs.
pub type U256 = [u64; 4];

/// The limbs of 32 little-endian bytes.
pub fn from_bytes(bytes: &[u8; 32]) -> U256 {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
    }
    limbs
}

/// The 32 little-endian bytes of `limbs`.
pub fn to_bytes(limbs: &U256) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (limb, chunk) in limbs.iter().zip(bytes.chunks_exact_mut(8)) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    bytes
}

/// `a + b` modulo 2^256.
pub fn add(a: &U256, b: &U256) -> U256 {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        out[i] = s;
        carry = c1 || c2;
    }
    out
}

/// `a - b` modulo 2^256.
pub fn sub(a: &U256, b: &U256) -> U256 {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 || b2;
    }
    out
}

/// `a * b` modulo 2^256.
pub fn mul(a: &U256, b: &U256) -> U256 {
    let mut out = [0u64; 4];
    for i in 0..4 {
        let mut carry = 0u128;
        for j in 0..4 - i {
            let t = u128::from(a[i]) * u128::from(b[j]) + u128::from(out[i + j]) + carry;
            out[i + j] = t as u64;
            carry = t >> 64;
        }
    }
    out
}

/// `a << shift` for `shift < 256`.
pub fn shl(a: &U256, shift: u32) -> U256 {
    let (limbs, bits) = ((shift / 64) as usize, shift % 64);
    let mut out = [0u64; 4];
    for i in limbs..4 {
        out[i] = a[i - limbs] << bits;
        if bits > 0 && i > limbs {
            out[i] |= a[i - limbs - 1] >> (64 - bits);
        }
    }
    out
}

/// `a >> shift` for `shift < 256`, filling with the sign bit when `arithmetic`.
pub fn shr(a: &U256, shift: u32, arithmetic: bool) -> U256 {
    let fill = if arithmetic && (a[3] >> 63) == 1 {
        u64::MAX
    } else {
        0
    };
    let (limbs, bits) = ((shift / 64) as usize, shift % 64);
    let limb = |i: usize| if i < 4 { a[i] } else { fill };
    let mut out = [0u64; 4];
    for (i, o) in out.iter_mut().enumerate() {
        let low = limb(i + limbs);
        *o = if bits == 0 {
            low
        } else {
            (low >> bits) | (limb(i + limbs + 1) << (64 - bits))
        };
    }
    out
}

/// Unsigned `a < b`.
pub fn lt_unsigned(a: &U256, b: &U256) -> bool {
    a.iter().rev().cmp(b.iter().rev()) == std::cmp::Ordering::Less
}

/// Two's-complement signed `a < b`.
pub fn lt_signed(a: &U256, b: &U256) -> bool {
    let (sa, sb) = (a[3] >> 63, b[3] >> 63);
    if sa != sb {
        sa == 1
    } else {
        lt_unsigned(a, b)
    }
}

/// The result of an R-type operation `opcode` on `a` and `b`.
pub fn compute(opcode: Opcode, a: &U256, b: &U256) -> U256 {
    let shift = (b[0] & 0xff) as u32;
    match opcode {
        ADD => add(a, b),
        SUB => sub(a, b),
        XOR => [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]],
        OR => [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]],
        AND => [a[0] & b[0], a[1] & b[1], a[2] & b[2], a[3] & b[3]],
        SLL => shl(a, shift),
        SRL => shr(a, shift, false),
        SRA => shr(a, shift, true),
        SLT => [u64::from(lt_signed(a, b)), 0, 0, 0],
        SLTU => [u64::from(lt_unsigned(a, b)), 0, 0, 0],
        _ => mul(a, b),
    }
}

/// Whether the branch `opcode` is taken on `a` and `b`.
pub fn branch_taken(opcode: Opcode, a: &U256, b: &U256) -> bool {
    match opcode {
        BEQ => a == b,
        BNE => a != b,
        BLT => lt_signed(a, b),
        BLTU => lt_unsigned(a, b),
        BGE => !lt_signed(a, b),
        _ => !lt_unsigned(a, b),
    }
}

/// Executes every 256-bit operation.
struct BigIntExecutor;

impl BigIntExecutor {
    /// Reads the 32-byte operand at the address in register `r`, checked and metered.
    fn operand(machine: &mut Machine<'_>, r: u8) -> Result<U256, ExecErrorKind> {
        let addr = machine.reg(r);
        Ok(from_bytes(&machine.read::<32>(addr)?))
    }
}

impl CustomExecutor for BigIntExecutor {
    fn execute(
        &self,
        opcode: Opcode,
        operands: &Operands,
        machine: &mut Machine<'_>,
    ) -> Result<Next, ExecErrorKind> {
        let is_branch = matches!(opcode, BEQ | BNE | BLT | BLTU | BGE | BGEU);
        if !is_branch {
            // Checked first, so a faulting instruction writes nothing.
            machine.check(machine.reg(operands.rd), 32)?;
        }
        let a = Self::operand(machine, operands.rs1)?;
        let b = Self::operand(machine, operands.rs2)?;
        machine.add_rows(0, 1);
        if is_branch {
            return Ok(if branch_taken(opcode, &a, &b) {
                Next::Jump(machine.pc.wrapping_add(operands.imm))
            } else {
                Next::Continue
            });
        }
        let result = to_bytes(&compute(opcode, &a, &b));
        machine.write(machine.reg(operands.rd), &result)?;
        Ok(Next::Continue)
    }

    fn metering(&self, _opcode: Opcode) -> Metering {
        Metering::Reported
    }
}

impl Extension for BigInt {
    fn name(&self) -> &'static str {
        "bigint"
    }

    fn chips(&self) -> Vec<ChipSpec> {
        // OpenVM 2.0.2's AIRs (shared/reference/openvm-2.0.2-airs-kitchen-sink.json), in its
        // insertion order: the shared bitwise lookup and range-tuple checker, then one chip
        // per executor.
        let [a, b] = self.range_tuple_checker_sizes;
        let chip = |name: &str, width, interactions| ChipSpec {
            name: name.to_string(),
            width,
            interactions,
            height: ChipHeight::Variable,
            need_rot: false,
            shared: false,
        };
        vec![
            bitwise_lookup_chip(),
            ChipSpec {
                name: RANGE_TUPLE.to_string(),
                width: 3,
                interactions: 1,
                height: ChipHeight::Constant(a.saturating_mul(b)),
                need_rot: true,
                shared: true,
            },
            chip(chips::BASE_ALU, 231, 145),
            chip(chips::LESS_THAN, 232, 115),
            chip(chips::BRANCH_EQUAL, 166, 76),
            chip(chips::BRANCH_LESS_THAN, 172, 78),
            chip(chips::MULTIPLICATION, 227, 145),
            chip(chips::SHIFT, 304, 163),
        ]
    }

    fn executors(&self) -> Vec<ExecutorSpec> {
        let implementation: Arc<dyn CustomExecutor> = Arc::new(BigIntExecutor);
        let executor = |name, chip: &str, opcodes: &[(Opcode, &'static str)]| ExecutorSpec {
            name,
            chip: chip.to_string(),
            opcodes: opcodes.to_vec(),
            custom: Some(implementation.clone()),
            extra_chips: Vec::new(),
        };
        vec![
            executor(
                "base_alu_256",
                chips::BASE_ALU,
                &[
                    (ADD, "ADD256"),
                    (SUB, "SUB256"),
                    (XOR, "XOR256"),
                    (OR, "OR256"),
                    (AND, "AND256"),
                ],
            ),
            executor(
                "less_than_256",
                chips::LESS_THAN,
                &[(SLT, "SLT256"), (SLTU, "SLTU256")],
            ),
            executor(
                "branch_equal_256",
                chips::BRANCH_EQUAL,
                &[(BEQ, "BEQ256"), (BNE, "BNE256")],
            ),
            executor(
                "branch_less_than_256",
                chips::BRANCH_LESS_THAN,
                &[
                    (BLT, "BLT256"),
                    (BLTU, "BLTU256"),
                    (BGE, "BGE256"),
                    (BGEU, "BGEU256"),
                ],
            ),
            executor(
                "multiplication_256",
                chips::MULTIPLICATION,
                &[(MUL, "MUL256")],
            ),
            executor(
                "shift_256",
                chips::SHIFT,
                &[(SLL, "SLL256"), (SRL, "SRL256"), (SRA, "SRA256")],
            ),
        ]
    }

    fn decode(&self, word: u32, _pc: u32) -> Option<Decoded> {
        if word & 0x7f != OPCODE_CUSTOM_0 {
            return None;
        }
        let (opcode, imm) = match funct3(word) {
            FUNCT3 => {
                const OPS: [Opcode; 11] = [ADD, SUB, XOR, OR, AND, SLL, SRL, SRA, SLT, SLTU, MUL];
                (*OPS.get(funct7(word) as usize)?, 0)
            }
            BEQ_FUNCT3 => (BEQ, imm_b(word)),
            _ => return None,
        };
        Some(Decoded {
            opcode,
            kind: DecodedKind::Custom(Operands {
                rd: rd(word),
                rs1: rs1(word),
                rs2: rs2(word),
                imm,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_match_their_definitions_at_the_edges() {
        let one = [1, 0, 0, 0];
        assert_eq!(shl(&one, 255), [0, 0, 0, 1 << 63]);
        assert_eq!(shr(&[0, 0, 0, 1 << 63], 255, true), [u64::MAX; 4]);
        assert_eq!(shr(&[0, 0, 0, 1 << 63], 255, false), one);
        assert_eq!(shr(&[5, 6, 7, 8], 64, false), [6, 7, 8, 0]);
        // Only the low byte of the shift operand counts: 256 shifts by 0.
        assert_eq!(compute(SLL, &[5, 6, 7, 8], &[256, 0, 0, 0]), [5, 6, 7, 8]);
    }
}
