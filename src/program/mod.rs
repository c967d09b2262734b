//! Programs: an ELF file validated, its code decoded once, its initial memory image kept.
//!
//! [`Program::from_elf`] checks everything a backend relies on (32-bit little-endian RISC-V
//! executable, entry inside executable code, every segment inside guest memory, no overlaps), so
//! executors never re-validate. Every word of the executable segments is decoded; a word that is
//! not a valid instruction becomes [`Op::Illegal`] and faults only if executed.

pub mod decode;
mod elf;

use crate::config::SystemConfig;
use crate::error::LoadError;
use decode::CodeRange;
pub use decode::{Insn, Op};

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
}

impl Program {
    /// Loads and decodes an ELF image for a VM with the given configuration.
    pub fn from_elf(bytes: &[u8], config: &SystemConfig) -> Result<Program, LoadError> {
        let image = elf::parse(bytes, config.memory_size())?;
        Ok(Program::from_segments(image.entry, image.segments, config))
    }

    /// Reads and loads an ELF file.
    pub fn from_elf_file(
        path: impl AsRef<std::path::Path>,
        config: &SystemConfig,
    ) -> Result<Program, LoadError> {
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
    pub fn from_segments(entry: u32, mut segments: Vec<Segment>, config: &SystemConfig) -> Program {
        segments.sort_by_key(|s| s.vaddr);
        let exec: Vec<&Segment> = segments.iter().filter(|s| s.executable).collect();
        let base = exec.first().map_or(entry, |s| s.vaddr);
        let end = exec
            .iter()
            .map(|s| s.vaddr as u64 + s.memsz as u64)
            .max()
            .unwrap_or(base as u64);
        let len = ((end - base as u64) / 4) as u32;
        let range = CodeRange { base, len };
        let mut words = vec![0u32; len as usize];
        let mut decoded = vec![Insn::NONE; len as usize + 1];
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
                words[first + k] = word;
                decoded[first + k] = decode::decode(word, pc, range, config);
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
        }
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
            Some(i) => decode::disassemble(self.words[i], &self.code[i], pc),
            None => "no instruction".to_string(),
        }
    }

    /// A hash of the code and initial memory image, identifying the program in caches and in
    /// saved states.
    pub fn fingerprint(&self) -> u64 {
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
