//! Extension instructions: a call into the executor's shared Rust implementation. Every
//! backend executes them through [`execute`]; the interpreter meters those that report their
//! own rows and memory accesses through [`execute_metered`].

use crate::error::ExecErrorKind;
use crate::extension::{ExtensionMeter, Machine, Metering, Next};
use crate::metering::Meter;
use crate::program::Program;
use crate::state::{GuestMemory, GuestRng, Streams};

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

/// Passes what an extension instruction reports to the mode's [`Meter`], its chips mapped to
/// chip-table indices.
struct Reports<'a, M: Meter> {
    meter: &'a mut M,
    program: &'a Program,
    executor_idx: usize,
}

impl<M: Meter> ExtensionMeter for Reports<'_, M> {
    fn add_rows(&mut self, chip: usize, rows: u32) {
        let entry = &self.program.config().executors()[self.executor_idx];
        match entry.report_chip(chip) {
            Some(air) => self.meter.on_rows(air, rows),
            None => debug_assert!(false, "{} reported rows on unknown chip {chip}", entry.name),
        }
    }

    fn touch(&mut self, addr: u32, len: u32) {
        self.meter.on_memory_range(addr, len);
    }
}

/// The machine state an extension instruction runs on, for [`execute_metered`].
pub struct Parts<'a> {
    /// Registers x0..x31.
    pub regs: &'a mut [u32],
    /// Guest memory.
    pub memory: &'a mut GuestMemory,
    /// Input records and hint stream.
    pub streams: &'a mut Streams,
    /// The public values.
    pub public_values: &'a mut [u8],
    /// The `hintrandom` generator.
    pub rng: &'a mut GuestRng,
    /// The instruction's pc.
    pub pc: u32,
}

/// Executes the extension instruction `index` of `program`, reporting to `meter` what it adds
/// when it meters itself ([`Metering::Reported`]).
#[inline(never)]
pub fn execute_metered<M: Meter>(
    program: &Program,
    index: u32,
    parts: Parts<'_>,
    meter: &mut M,
) -> Result<Next, ExecErrorKind> {
    let insn = &program.custom()[index as usize];
    let mut reports = Reports {
        meter,
        program,
        executor_idx: insn.executor_idx,
    };
    let machine = Machine::new(
        parts.regs,
        parts.memory,
        parts.streams,
        parts.public_values,
        parts.rng,
        parts.pc,
    );
    let mut machine = match insn.metering {
        Metering::OneRow => machine,
        Metering::Reported => machine.with_meter(&mut reports),
    };
    execute(program, index, &mut machine)
}
