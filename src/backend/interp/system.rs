//! The system and IO instructions: hints, input records, public values, printing, randomness.
//!
//! These are rare next to ALU work, so they run out of line and may allocate.

use crate::error::ExecErrorKind;
use crate::metering::Meter;
use crate::program::{Insn, Op};
use crate::state::{GuestMemory, GuestRng, Streams};
use std::io::Write;

/// Largest `hintbuffer` word count.
pub const MAX_HINT_BUFFER_WORDS: u32 = 1023;

/// The parts of the machine state IO instructions touch besides registers and memory.
pub struct Io<'a> {
    /// Input records and hint stream.
    pub streams: &'a mut Streams,
    /// The public-values area.
    pub public_values: &'a mut [u8],
    /// The `hintrandom` generator.
    pub rng: &'a mut GuestRng,
    /// Where `printstr` writes.
    pub out: &'a mut dyn Write,
}

/// Executes one system/IO instruction. Nothing is changed when it faults.
#[inline(never)]
pub fn execute<M: Meter>(
    insn: &Insn,
    regs: &[u32; 64],
    mem: &mut GuestMemory,
    io: &mut Io<'_>,
    meter: &mut M,
) -> Result<(), ExecErrorKind> {
    let reg = |r: u8| regs[usize::from(r & 63)];
    match insn.op {
        Op::HintStoreW => {
            hint_store(mem, io.streams, reg(insn.rd), 1)?;
            meter.on_hint_store(reg(insn.rd), 1);
            Ok(())
        }
        Op::HintBuffer => {
            let words = reg(insn.rs1);
            if words == 0 || words > MAX_HINT_BUFFER_WORDS {
                return Err(ExecErrorKind::HintBufferLength { words });
            }
            hint_store(mem, io.streams, reg(insn.rd), words)?;
            meter.on_hint_store(reg(insn.rd), words);
            Ok(())
        }
        Op::Reveal => {
            let offset = reg(insn.rd).wrapping_add(insn.imm);
            let at = offset as usize;
            if offset % 4 != 0 || at + 4 > io.public_values.len() {
                return Err(ExecErrorKind::RevealOutOfRange {
                    offset,
                    num_public_values: io.public_values.len(),
                });
            }
            io.public_values[at..at + 4].copy_from_slice(&reg(insn.rs1).to_le_bytes());
            meter.on_public_value(offset);
            Ok(())
        }
        Op::HintInput => {
            if io.streams.hint_next_input() {
                Ok(())
            } else {
                Err(ExecErrorKind::InputStreamEmpty)
            }
        }
        Op::PrintStr => {
            let (addr, len) = (reg(insn.rd), reg(insn.rs1));
            let bytes = mem.slice(addr, u64::from(len))?;
            let text =
                std::str::from_utf8(bytes).map_err(|_| ExecErrorKind::InvalidUtf8 { addr, len })?;
            // A closed or failing host output must not change the guest's execution.
            let _ = io.out.write_all(text.as_bytes());
            Ok(())
        }
        Op::HintRandom => {
            let words = reg(insn.rd);
            if 4 * u64::from(words) > mem.size() {
                return Err(ExecErrorKind::HintRandomTooLarge { words });
            }
            io.rng.hint_random(&mut io.streams.hint, words);
            Ok(())
        }
        other => unreachable!("{other:?} is not a system instruction"),
    }
}

/// Pops `4 * words` hint bytes into memory at `addr`.
fn hint_store(
    mem: &mut GuestMemory,
    streams: &mut Streams,
    addr: u32,
    words: u32,
) -> Result<(), ExecErrorKind> {
    let len = 4 * u64::from(words);
    let available = streams.hint.len() as u64;
    if available < len {
        return Err(ExecErrorKind::HintStreamEmpty {
            needed: len,
            available,
        });
    }
    let target = mem.slice_mut(addr, len)?;
    streams.pop_hint(target);
    Ok(())
}
