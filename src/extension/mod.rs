//! Extensions: what a VM can execute, declared once and used by every backend.
//!
//! An [`Extension`] declares
//! - the instruction words it decodes ([`Extension::decode`]), each to a global opcode number
//!   and either a built-in operation (the RV32IM and system instructions every backend runs
//!   natively) or a call to one of its [`CustomExecutor`]s;
//! - its executors ([`ExecutorSpec`]): which opcodes each handles and which chip it adds rows to;
//! - its chips ([`ChipSpec`]): name, trace width, interactions per row, constant height;
//! - how the fast backends emit its custom instructions ([`CustomExecutor::rvr_emission`]), by
//!   default a call back into the shared Rust implementation, so a new extension runs on every
//!   backend before it has a native emission;
//! - how its custom instructions are metered ([`CustomExecutor::metering`]): one row on the
//!   executor's chip, or rows and memory accesses the executor reports itself as it runs
//!   ([`Machine::add_rows`], [`Machine::read`], [`Machine::write`]), possibly on several chips
//!   and depending on the data.
//!
//! A VM configuration ([`crate::VmConfig`], usually declared with `#[derive(VmConfig)]`) is a
//! system configuration plus an ordered list of extensions; [`crate::ExecutionConfig`] turns it
//! into the tables the backends use.

pub mod bigint;
pub mod io;
pub mod keccak;
pub mod rv32i;
pub mod rv32m;
pub mod sha2;
pub mod system;

use crate::error::ExecErrorKind;
use crate::program::Insn;
use crate::state::{GuestMemory, GuestRng, Streams};
use std::fmt::Debug;
use std::sync::Arc;

/// A global opcode number. The numbering follows the reference zkVM's (`ADD` = 0x200, ...), so
/// executor and chip tables can be compared with its tables.
pub type Opcode = u32;

/// The result of decoding one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The global opcode; selects the executor (and so the chip) in the inventory.
    pub opcode: Opcode,
    /// How backends execute it.
    pub kind: DecodedKind,
}

/// How a decoded instruction executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedKind {
    /// A built-in operation that every backend implements natively.
    Builtin(Insn),
    /// A call to the custom executor registered for the opcode, with these operands.
    Custom(Operands),
}

/// Raw operands of a custom instruction, as the extension's decoder extracted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Operands {
    /// Destination (or first address) register number, 0..=31.
    pub rd: u8,
    /// First source register number.
    pub rs1: u8,
    /// Second source register number.
    pub rs2: u8,
    /// Immediate, sign-extended where the format has one.
    pub imm: u32,
}

/// A chip (trace table) of the proving system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipSpec {
    /// The chip's name, unique in a configuration (shared chips are deduplicated by name).
    pub name: String,
    /// Trace width in columns (all parts together).
    pub width: u32,
    /// Interactions (bus messages) per row.
    pub interactions: u32,
    /// The height if it does not depend on execution.
    pub height: ChipHeight,
    /// Whether a row's constraints read the next row; it enters the proving-memory estimate
    /// that bounds segments.
    pub need_rot: bool,
    /// Whether other extensions may declare the same chip (lookup tables, range checkers): the
    /// first declaration places it, later ones are ignored.
    pub shared: bool,
}

/// How a chip's height is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipHeight {
    /// Grows with execution.
    Variable,
    /// Always this many rows.
    Constant(u32),
    /// One row per instruction of the program.
    ProgramLength,
}

/// An executor: a set of opcodes that add rows to one chip.
#[derive(Clone)]
pub struct ExecutorSpec {
    /// A readable name, for errors and reports.
    pub name: &'static str,
    /// The chip its instructions add rows to (a [`ChipSpec::name`] of this configuration).
    pub chip: String,
    /// The opcodes it handles, with their mnemonics.
    pub opcodes: Vec<(Opcode, &'static str)>,
    /// The implementation of its custom instructions; `None` for built-in operations.
    pub custom: Option<Arc<dyn CustomExecutor>>,
    /// Further chips its instructions add rows to (names of this configuration's chips), for
    /// executors that report their rows ([`Metering::Reported`]): chip `i + 1` of
    /// [`Machine::add_rows`] is `extra_chips[i]`, chip 0 being [`ExecutorSpec::chip`].
    pub extra_chips: Vec<String>,
}

impl Debug for ExecutorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorSpec")
            .field("name", &self.name)
            .field("chip", &self.chip)
            .field("opcodes", &self.opcodes)
            .field("custom", &self.custom.is_some())
            .field("extra_chips", &self.extra_chips)
            .finish()
    }
}

/// How a custom instruction is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Metering {
    /// One row on the executor's chip and no memory access: compiled code counts it with its
    /// block and calls the shared implementation.
    #[default]
    OneRow,
    /// The executor reports its rows ([`Machine::add_rows`], on its chip and its
    /// [`ExecutorSpec::extra_chips`]) and the main-memory bytes it accesses ([`Machine::read`],
    /// [`Machine::write`], [`Machine::touch`]) as it runs; nothing is counted for it otherwise.
    /// The compiling backends hand such instructions to the interpreter, which meters them.
    Reported,
}

/// Where a custom instruction reports what it adds to metering (see [`Metering::Reported`]).
/// Each backend's metered modes implement it; without one, reports are discarded.
pub trait ExtensionMeter {
    /// `rows` rows were added to the executor's chip `chip` (0: [`ExecutorSpec::chip`], `i + 1`:
    /// `extra_chips[i]`).
    fn add_rows(&mut self, chip: usize, rows: u32);

    /// The `len` bytes of main memory from `addr` were accessed (`len > 0`, inside memory).
    fn touch(&mut self, addr: u32, len: u32);
}

/// The machine as a custom instruction sees it.
pub struct Machine<'a> {
    /// Registers x0..x31 (x0 reads 0; writes to it are discarded by [`Machine::set_reg`]).
    regs: &'a mut [u32],
    /// Guest memory.
    pub memory: &'a mut GuestMemory,
    /// Input records and hint stream.
    pub streams: &'a mut Streams,
    /// The public values.
    pub public_values: &'a mut [u8],
    /// The `hintrandom` generator.
    pub rng: &'a mut GuestRng,
    /// The pc of the executing instruction.
    pub pc: u32,
    /// Where metering reports go, if the mode meters.
    meter: Option<&'a mut dyn ExtensionMeter>,
}

impl<'a> Machine<'a> {
    /// A view of the machine for one instruction; `regs` holds at least 32 registers.
    pub fn new(
        regs: &'a mut [u32],
        memory: &'a mut GuestMemory,
        streams: &'a mut Streams,
        public_values: &'a mut [u8],
        rng: &'a mut GuestRng,
        pc: u32,
    ) -> Machine<'a> {
        Machine {
            regs,
            memory,
            streams,
            public_values,
            rng,
            pc,
            meter: None,
        }
    }

    /// The same machine reporting to `meter` (see [`Metering::Reported`]).
    pub fn with_meter(mut self, meter: &'a mut dyn ExtensionMeter) -> Machine<'a> {
        self.meter = Some(meter);
        self
    }

    /// Adds `rows` rows to the executor's chip `chip` (0: its own chip, `i + 1`: the `i`-th of
    /// its [`ExecutorSpec::extra_chips`]).
    #[inline]
    pub fn add_rows(&mut self, chip: usize, rows: u32) {
        if let Some(meter) = self.meter.as_mut() {
            meter.add_rows(chip, rows);
        }
    }

    /// Checks that the `len` bytes from `addr` lie inside main memory (any alignment), without
    /// accessing them. Check every operand before the first write, so a faulting instruction
    /// changes nothing.
    #[inline]
    pub fn check(&self, addr: u32, len: u32) -> Result<(), ExecErrorKind> {
        self.memory.check_range(addr, u64::from(len))
    }

    /// Records an access of the `len` bytes from `addr` (already checked) for metering.
    #[inline]
    pub fn touch(&mut self, addr: u32, len: u32) {
        if len > 0 {
            if let Some(meter) = self.meter.as_mut() {
                meter.touch(addr, len);
            }
        }
    }

    /// Reads the `N` bytes at `addr` (any alignment), checked and metered.
    #[inline]
    pub fn read<const N: usize>(&mut self, addr: u32) -> Result<[u8; N], ExecErrorKind> {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(self.memory.slice(addr, N as u64)?);
        self.touch(addr, N as u32);
        Ok(bytes)
    }

    /// Writes `bytes` at `addr` (any alignment), checked and metered.
    #[inline]
    pub fn write(&mut self, addr: u32, bytes: &[u8]) -> Result<(), ExecErrorKind> {
        self.memory
            .slice_mut(addr, bytes.len() as u64)?
            .copy_from_slice(bytes);
        self.touch(addr, bytes.len() as u32);
        Ok(())
    }

    /// Reads register `r` (0..=31).
    pub fn reg(&self, r: u8) -> u32 {
        if r == 0 {
            0
        } else {
            self.regs[usize::from(r & 31)]
        }
    }

    /// Writes register `r`; writes to x0 are discarded.
    pub fn set_reg(&mut self, r: u8, value: u32) {
        if r != 0 {
            self.regs[usize::from(r & 31)] = value;
        }
    }
}

/// What happens after a custom instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Continue with the next instruction (pc + 4).
    Continue,
    /// Continue at this address.
    Jump(u32),
}

/// The implementation of an extension's custom instructions.
pub trait CustomExecutor: Send + Sync {
    /// Executes one instruction. On error nothing may have changed.
    fn execute(
        &self,
        opcode: Opcode,
        operands: &Operands,
        machine: &mut Machine<'_>,
    ) -> Result<Next, ExecErrorKind>;

    /// How instructions with `opcode` are metered. The default, [`Metering::OneRow`], suits
    /// instructions that touch no memory; an instruction that accesses memory or adds other
    /// rows must be [`Metering::Reported`].
    fn metering(&self, _opcode: Opcode) -> Metering {
        Metering::OneRow
    }

    /// How the recompiler emits this instruction. The default calls back into
    /// [`CustomExecutor::execute`] through the shared Rust entry point.
    fn rvr_emission(&self, _opcode: Opcode, _operands: &Operands) -> Emission {
        Emission::CallShared
    }

    /// How the JIT emits this instruction. The default calls back into
    /// [`CustomExecutor::execute`] through the shared Rust entry point.
    fn jit_emission(&self, _opcode: Opcode, _operands: &Operands) -> Emission {
        Emission::CallShared
    }
}

/// How a fast backend emits an extension instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emission {
    /// A call to the shared Rust implementation ([`CustomExecutor::execute`]).
    CallShared,
    /// Inline C source (recompiler only). It may use the names the recompiler documents.
    InlineC(String),
}

/// An extension of the VM: decoding, executors and chips for a group of instructions.
///
/// Implementations must be cheap to clone: configurations hold extensions by value and the
/// execution config keeps shared copies.
pub trait Extension: Send + Sync + Debug + 'static {
    /// The extension's short name, as in `openvm.toml` (`rv32i`, `keccak`, ...).
    fn name(&self) -> &'static str;

    /// The chips this extension adds, in the order it inserts them (see
    /// [`crate::ExecutionConfig`] for how that order becomes the chip table's).
    fn chips(&self) -> Vec<ChipSpec>;

    /// The executors, in registration order.
    fn executors(&self) -> Vec<ExecutorSpec>;

    /// Decodes `word` at `pc` if it belongs to this extension.
    fn decode(&self, word: u32, pc: u32) -> Option<Decoded>;
}

/// A configuration field that contributes extensions: an [`Extension`] or an `Option` of one.
/// Implemented for you; `#[derive(VmConfig)]` requires it of every `#[extension]` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an rvx extension",
    label = "an `#[extension]` field must be an `rvx::extension::Extension` (or an `Option` of one) that is `Clone`"
)]
pub trait ExtensionField {
    /// Appends the extension(s) this field holds.
    fn collect_into(&self, out: &mut Vec<Arc<dyn Extension>>);
}

#[diagnostic::do_not_recommend]
impl<E: Extension + Clone> ExtensionField for E {
    fn collect_into(&self, out: &mut Vec<Arc<dyn Extension>>) {
        out.push(Arc::new(self.clone()));
    }
}

impl<E: Extension + Clone> ExtensionField for Option<E> {
    fn collect_into(&self, out: &mut Vec<Arc<dyn Extension>>) {
        if let Some(extension) = self {
            out.push(Arc::new(extension.clone()));
        }
    }
}
