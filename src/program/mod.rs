//! Programs: an ELF file validated, its code decoded once, its initial memory image kept.
//!
//! [`Program::from_elf`] checks everything a backend relies on (32-bit little-endian RISC-V
//! executable, entry inside executable code, every segment inside guest memory, no overlaps), so
//! executors never re-validate. Every word of the executable segments is decoded by the
//! configuration's extensions; a word that none claims becomes [`Op::Illegal`] and faults only
//! if executed. A program keeps the [`ExecutionConfig`] it was decoded with.

pub mod blocks;
pub mod decode;
mod elf;

use crate::config::{ExecutionConfig, VmConfig};
use crate::error::{Error, LoadError};
use crate::extension::{DecodedKind, Metering, Opcode, Operands};
use crate::metering::MeterTables;
use decode::{BranchKind, CodeRange};
pub use decode::{Insn, Op};
use std::sync::{Arc, OnceLock};

/// An extension instruction of the program, executed by its executor's custom implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomInsn {
    /// The global opcode.
    pub opcode: Opcode,
    /// The executor (index in the execution config's inventory).
    pub executor_idx: usize,
    /// The decoded operands.
    pub operands: Operands,
    /// How it is metered (its executor's [`crate::extension::CustomExecutor::metering`]).
    pub metering: Metering,
}

/// Marks code entries without an executor (illegal words, gaps, `terminate`).
pub const NO_EXECUTOR: u32 = u32::MAX;

/// A loadable segment's bytes, copied into guest memory before execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Guest address of the first byte.
    pub vaddr: u32,
    /// Bytes from the file; the rest of the segment's memory size is zero.
    pub data: Vec<u8>,
    /// Size in guest memory (at least `data.len()`).
    pub memsz: u32,
    /// Whether the segment is executable (its words were decoded).
    pub executable: bool,
}

/// Turns a direct branch's absolute target into a code index, or into [`Op::BadBranch`] when
/// the target holds no instruction.
fn resolve_target(insn: Insn, range: CodeRange) -> Insn {
    let Some(kind) = BranchKind::of_direct(insn.op) else {
        return insn;
    };
    let target = insn.imm;
    match range.index_of(target) {
        Some(index) => Insn { imm: index, ..insn },
        // An unconditional jump has no sources; its link register rides in the rs1 field.
        None if kind == BranchKind::Always => {
            Insn::new(Op::BadBranch, kind as u8, insn.rd, 0, target)
        }
        None => Insn::new(Op::BadBranch, kind as u8, insn.rs1, insn.rs2, target),
    }
}

/// Computes [`Program::block_remaining`] backwards from the end of the code.
fn block_remaining(code: &[Insn]) -> Vec<u32> {
    let mut lens = vec![1u32; code.len()];
    for i in (0..code.len().saturating_sub(1)).rev() {
        if !code[i].op.ends_block() {
            lens[i] = lens[i + 1] + 1;
        }
    }
    lens
}

/// A loaded guest program: decoded code plus the initial memory image.
#[derive(Debug, Clone)]
pub struct Program {
    /// Address of `code[0]`.
    base: u32,
    /// Decoded instructions, one per word from `base`, plus one trailing [`Insn::NONE`] so that
    /// falling off the end is an ordinary decoded fault rather than an out-of-bounds fetch.
    code: Vec<Insn>,
    /// The raw words behind `code` (without the trailing filler).
    words: Vec<u32>,
    /// For each entry of `code`, the number of instructions from it to the end of its basic
    /// block, itself and the block's last instruction included.
    block_remaining: Vec<u32>,
    /// The ELF entry point.
    entry: u32,
    /// Loadable segments, sorted by address.
    segments: Vec<Segment>,
    /// For each entry of `code`, the executor that runs it ([`NO_EXECUTOR`] if none).
    executors: Vec<u32>,
    /// The extension instructions, indexed by the `imm` of [`Op::Custom`] entries.
    custom: Vec<CustomInsn>,
    /// The configuration the program was decoded with.
    config: Arc<ExecutionConfig>,
    /// Metering tables, computed on first use.
    meter_tables: OnceLock<MeterTables>,
    /// [`Program::fingerprint`], computed on first use.
    fingerprint: OnceLock<u64>,
}

impl Program {
    /// Loads and decodes an ELF image for a VM with the given configuration.
    pub fn from_elf(bytes: &[u8], config: &dyn VmConfig) -> Result<Program, Error> {
        let config = Arc::new(config.execution_config()?);
        Ok(Program::from_elf_with(bytes, config)?)
    }

    /// Loads and decodes an ELF image with an already built execution config.
    pub fn from_elf_with(bytes: &[u8], config: Arc<ExecutionConfig>) -> Result<Program, LoadError> {
        let image = elf::parse(bytes, config.system().memory_size())?;
        Ok(Program::from_segments(image.entry, image.segments, config))
    }

    /// Reads and loads an ELF file.
    pub fn from_elf_file(
        path: impl AsRef<std::path::Path>,
        config: &dyn VmConfig,
    ) -> Result<Program, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Program::from_elf(&bytes, config)
    }

    /// Builds a program from already validated segments (the ELF loader's output, or a
    /// generated test program). The segments must not overlap and must fit guest memory;
    /// `entry` must lie in an executable segment.
    pub fn from_segments(
        entry: u32,
        mut segments: Vec<Segment>,
        config: Arc<ExecutionConfig>,
    ) -> Program {
        segments.sort_by_key(|s| s.vaddr);
        let exec: Vec<&Segment> = segments.iter().filter(|s| s.executable).collect();
        let base = exec.first().map_or(entry, |s| s.vaddr);
        let end = exec
            .iter()
            .map(|s| u64::from(s.vaddr) + u64::from(s.memsz).next_multiple_of(4))
            .max()
            .unwrap_or(base as u64);
        let len = ((end - base as u64) / 4) as u32;
        let range = CodeRange { base, len };
        let mut words = vec![0u32; len as usize];
        let mut decoded = vec![Insn::NONE; len as usize + 1];
        let mut executors = vec![NO_EXECUTOR; len as usize + 1];
        let mut custom = Vec::new();
        for seg in &exec {
            let first = ((seg.vaddr - base) / 4) as usize;
            // Words within the file bytes are code (the last one zero-padded); the zero-filled
            // rest of the segment holds no instructions, as in the reference.
            for k in 0..seg.data.len().div_ceil(4) {
                let at = 4 * k;
                let mut bytes = [0u8; 4];
                let tail = &seg.data[at..seg.data.len().min(at + 4)];
                bytes[..tail.len()].copy_from_slice(tail);
                let word = u32::from_le_bytes(bytes);
                let pc = seg.vaddr + at as u32;
                let index = first + k;
                words[index] = word;
                let Some(found) = config.decode(word, pc) else {
                    decoded[index] = Insn::ILLEGAL;
                    continue;
                };
                // An opcode whose executor is not configured (say `reveal` without RV32I's
                // store executor) cannot execute; `terminate` needs none.
                let executor = config.executor_of(found.opcode);
                if executor.is_none() && found.opcode != crate::extension::rv32i::opcodes::TERMINATE
                {
                    decoded[index] = Insn::ILLEGAL;
                    continue;
                }
                executors[index] = executor.map_or(NO_EXECUTOR, |e| e as u32);
                decoded[index] = match found.kind {
                    DecodedKind::Builtin(insn) => resolve_target(insn, range),
                    DecodedKind::Custom(operands) => {
                        let executor_idx = executor.expect("checked above");
                        let Some(implementation) = &config.executors()[executor_idx].custom else {
                            // A custom operation claimed for a built-in executor cannot run.
                            decoded[index] = Insn::ILLEGAL;
                            executors[index] = NO_EXECUTOR;
                            continue;
                        };
                        custom.push(CustomInsn {
                            opcode: found.opcode,
                            executor_idx,
                            operands,
                            metering: implementation.metering(found.opcode),
                        });
                        Insn::new(Op::Custom, 0, 0, 0, (custom.len() - 1) as u32)
                    }
                };
            }
        }
        let block_remaining = block_remaining(&decoded);
        Program {
            base,
            code: decoded,
            words,
            block_remaining,
            entry,
            segments,
            executors,
            custom,
            config,
            meter_tables: OnceLock::new(),
            fingerprint: OnceLock::new(),
        }
    }

    /// The metering tables of this program (computed once, on first use).
    pub fn meter_tables(&self) -> &MeterTables {
        self.meter_tables.get_or_init(|| MeterTables::new(self))
    }

    /// The execution config the program was decoded with.
    pub fn config(&self) -> &Arc<ExecutionConfig> {
        &self.config
    }

    /// For each entry of [`Program::code`], the executor that runs it ([`NO_EXECUTOR`] if
    /// none).
    pub fn executors(&self) -> &[u32] {
        &self.executors
    }

    /// The extension instructions, indexed by the `imm` of [`Op::Custom`] entries.
    pub fn custom(&self) -> &[CustomInsn] {
        &self.custom
    }

    /// Whether the entry `insn` of [`Program::code`] is an extension instruction whose executor
    /// reports its own metering ([`Metering::Reported`]).
    pub fn reports_metering(&self, insn: &Insn) -> bool {
        insn.op == Op::Custom && self.custom[insn.imm as usize].metering == Metering::Reported
    }

    /// Address of the first decoded instruction.
    pub fn base(&self) -> u32 {
        self.base
    }

    /// The ELF entry point.
    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// Decoded instructions from [`Program::base`], with one trailing [`Insn::NONE`].
    pub fn code(&self) -> &[Insn] {
        &self.code
    }

    /// For each entry of [`Program::code`], how many instructions run from it to the end of its
    /// basic block (both included). A backend that has this many instructions of budget left
    /// at a block entry can run the whole block without counting.
    pub fn block_remaining(&self) -> &[u32] {
        &self.block_remaining
    }

    /// Number of decoded words (without the trailing filler).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the program has no code.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The raw instruction words from [`Program::base`].
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// The loadable segments, sorted by address.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The code index of `pc`, if a decoded word lives there.
    pub fn index_of(&self, pc: u32) -> Option<usize> {
        CodeRange {
            base: self.base,
            len: self.words.len() as u32,
        }
        .index_of(pc)
        .map(|i| i as usize)
    }

    /// The address of code index `index`.
    pub fn pc_of(&self, index: usize) -> u32 {
        self.base.wrapping_add(4 * index as u32)
    }

    /// The disassembly of the instruction at `pc`, or a note that there is none.
    pub fn describe(&self, pc: u32) -> String {
        match self.index_of(pc) {
            Some(i) => match self.code[i].op {
                Op::Custom => {
                    let c = &self.custom[self.code[i].imm as usize];
                    let name = self.config.mnemonic(c.opcode).unwrap_or("custom");
                    let o = c.operands;
                    format!("{name} x{}, x{}, x{}, {}", o.rd, o.rs1, o.rs2, o.imm as i32)
                }
                _ => decode::disassemble(self.words[i], &self.code[i], pc),
            },
            None => "no instruction".to_string(),
        }
    }

    /// A hash of the code and initial memory image, identifying the program in caches and in
    /// saved states.
    pub fn fingerprint(&self) -> u64 {
        *self.fingerprint.get_or_init(|| self.compute_fingerprint())
    }

    fn compute_fingerprint(&self) -> u64 {
        // FNV-1a: stable across Rust versions and processes, unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        };
        eat(&self.entry.to_le_bytes());
        for seg in &self.segments {
            eat(&seg.vaddr.to_le_bytes());
            eat(&seg.memsz.to_le_bytes());
            eat(&[u8::from(seg.executable)]);
            eat(&seg.data);
        }
        h
    }
}
