//! Extension instructions: a call into the executor's shared Rust implementation.

use super::system::Io;
use crate::error::ExecErrorKind;
use crate::extension::{Machine, Next};
use crate::program::Program;
use crate::state::GuestMemory;

/// Executes the extension instruction `index` of `program` at `pc`.
#[inline(never)]
pub fn execute(
    program: &Program,
    index: u32,
    pc: u32,
    regs: &mut [u32; 64],
    memory: &mut GuestMemory,
    io: &mut Io<'_>,
) -> Result<Next, ExecErrorKind> {
    let insn = &program.custom()[index as usize];
    let executor = program.config().executors()[insn.executor_idx]
        .custom
        .as_ref()
        .expect("custom instructions are decoded only for executors with an implementation");
    let mut machine = Machine::new(
        &mut regs[..32],
        memory,
        io.streams,
        io.public_values,
        io.rng,
        pc,
    );
    executor.execute(insn.opcode, &insn.operands, &mut machine)
}
