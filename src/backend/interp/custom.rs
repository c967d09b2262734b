//! Extension instructions: a call into the executor's shared Rust implementation. Every
//! backend executes them through [`execute`].

use crate::error::ExecErrorKind;
use crate::extension::{Machine, Next};
use crate::program::Program;

/// Executes the extension instruction `index` of `program` on `machine`.
#[inline(never)]
pub fn execute(
    program: &Program,
    index: u32,
    machine: &mut Machine<'_>,
) -> Result<Next, ExecErrorKind> {
    let insn = &program.custom()[index as usize];
    let executor = program.config().executors()[insn.executor_idx]
        .custom
        .as_ref()
        .expect("custom instructions are decoded only for executors with an implementation");
    executor.execute(insn.opcode, &insn.operands, machine)
}
