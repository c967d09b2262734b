//! Error types, one per layer: loading a program, configuring a VM, executing a guest.
//!
//! Outcomes of a guest run that are not failures of rvx or of its input (the guest terminated
//! with a non-zero exit code, a limit suspended the run) are values, not errors: see
//! [`crate::state::VmState::exit_code`]. An `Err` always means bad input or a guest fault, and
//! names the cause and where it happened.

pub use crate::backend::rvr::compiler::CompileError;
use thiserror::Error;

/// Why an ELF file could not be turned into a [`crate::Program`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The bytes do not start with the ELF magic number.
    #[error("not an ELF file (bad magic number)")]
    NotElf,
    /// The file is shorter than its headers say.
    #[error("truncated or malformed ELF: {0}")]
    Malformed(String),
    /// The ELF class is not 32-bit.
    #[error("ELF is not 32-bit (class {0}); rvx runs RV32 guests")]
    Not32Bit(u8),
    /// The ELF data encoding is not little-endian.
    #[error("ELF is not little-endian (data encoding {0})")]
    NotLittleEndian(u8),
    /// The ELF machine is not RISC-V.
    #[error("ELF machine is {0:#x}, expected RISC-V (0xf3)")]
    WrongArchitecture(u16),
    /// The ELF type is not an executable.
    #[error("ELF type is {0}, expected an executable (ET_EXEC = 2)")]
    NotExecutable(u16),
    /// There is no loadable segment with executable code.
    #[error("ELF has no executable loadable segment")]
    NoCode,
    /// The entry point is not inside an executable segment.
    #[error("entry point {entry:#010x} is not inside an executable segment")]
    EntryNotExecutable {
        /// The ELF entry point.
        entry: u32,
    },
    /// The entry point or an executable segment is not 4-byte aligned.
    #[error("{what} at {addr:#010x} is not 4-byte aligned")]
    Misaligned {
        /// What is misaligned ("entry point" or "executable segment").
        what: &'static str,
        /// Its address.
        addr: u32,
    },
    /// A loadable segment does not fit in guest memory.
    #[error(
        "segment at {vaddr:#010x} of {size:#x} bytes does not fit in guest memory of {memory_size:#x} bytes"
    )]
    SegmentOutOfRange {
        /// The segment's virtual address.
        vaddr: u32,
        /// The segment's size in memory.
        size: u32,
        /// The guest memory size (2^pointer_max_bits).
        memory_size: u64,
    },
    /// A segment's file size exceeds its memory size.
    #[error(
        "segment at {vaddr:#010x} has file size {filesz:#x} larger than memory size {memsz:#x}"
    )]
    FileSizeExceedsMemSize {
        /// The segment's virtual address.
        vaddr: u32,
        /// Bytes in the file.
        filesz: u32,
        /// Bytes in memory.
        memsz: u32,
    },
    /// Two loadable segments overlap.
    #[error("segments at {first:#010x} and {second:#010x} overlap")]
    OverlappingSegments {
        /// Start of the first segment.
        first: u32,
        /// Start of the second segment.
        second: u32,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path that failed.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

/// Why a VM configuration or a state does not fit together.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `pointer_max_bits` outside the supported range.
    #[error("pointer_max_bits = {0} is out of range (supported: 12..=32)")]
    PointerMaxBits(u32),
    /// `num_public_values` is not a multiple of 4 or too large.
    #[error("num_public_values = {0} must be a multiple of 4 and at most 2^20")]
    NumPublicValues(usize),
    /// `segment_check_insns` is zero.
    #[error("segment_check_insns must be at least 1")]
    SegmentCheckInsns,
    /// A state does not match the configuration it is resumed with.
    #[error("state does not match the configuration: {0}")]
    StateMismatch(String),
    /// Two executors claim the same opcode.
    #[error("opcode {opcode:#x} is claimed by both {first} and {second}")]
    OpcodeConflict {
        /// The opcode.
        opcode: u32,
        /// The executor that registered it first (`extension::executor`).
        first: String,
        /// The executor that claimed it again.
        second: String,
    },
    /// An executor names a chip no extension declares.
    #[error("executor {executor} adds rows to chip `{chip}`, which no extension declares")]
    UnknownChip {
        /// The chip name.
        chip: String,
        /// The executor.
        executor: &'static str,
    },
    /// Two extensions declare a chip of the same name without both marking it shared.
    #[error(
        "extension {extension} declares chip `{chip}`, which is already declared and not shared"
    )]
    DuplicateChip {
        /// The chip name.
        chip: String,
        /// The extension declaring it again.
        extension: &'static str,
    },
    /// An `openvm.toml` could not be used.
    #[error("{path}: {message}")]
    Toml {
        /// The file (or `<string>`).
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Guest memory could not be allocated.
    #[error("cannot map {size:#x} bytes of guest memory: {message}")]
    MemoryMap {
        /// Bytes requested.
        size: u64,
        /// The operating system's message.
        message: String,
    },
}

/// A guest fault: execution stopped at `pc` after `instret` completed instructions.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("at pc {pc:#010x} ({insn}), after {instret} instructions: {kind}")]
pub struct ExecError {
    /// The pc of the instruction that faulted.
    pub pc: u32,
    /// Instructions completed before the fault (the faulting one is not counted).
    pub instret: u64,
    /// The faulting instruction, disassembled (or its raw word).
    pub insn: String,
    /// What went wrong.
    pub kind: ExecErrorKind,
}

/// The cause of an [`ExecError`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ExecErrorKind {
    /// The word at pc is not a valid instruction for this configuration.
    #[error("illegal instruction {word:#010x}")]
    IllegalInstruction {
        /// The raw instruction word.
        word: u32,
    },
    /// Control reached an address that holds no decoded instruction.
    #[error("no instruction at {target:#010x}")]
    PcOutOfRange {
        /// The address jumped to.
        target: u32,
    },
    /// A jump to an address that is not 4-byte aligned.
    #[error("jump to misaligned address {target:#010x}")]
    MisalignedPc {
        /// The address jumped to.
        target: u32,
    },
    /// A load or store whose address is not a multiple of its size.
    #[error("misaligned {size}-byte access at {addr:#010x}")]
    MisalignedAccess {
        /// The address accessed.
        addr: u32,
        /// The access size in bytes.
        size: u32,
    },
    /// An access that does not fit in guest memory.
    #[error("{size}-byte access at {addr:#010x} is outside guest memory ({memory_size:#x} bytes)")]
    OutOfRangeAccess {
        /// The first address accessed.
        addr: u32,
        /// The access size in bytes.
        size: u64,
        /// The guest memory size.
        memory_size: u64,
    },
    /// A hint instruction needed more bytes than the hint stream holds.
    #[error("hint stream has {available} bytes, {needed} needed")]
    HintStreamEmpty {
        /// Bytes the instruction needed.
        needed: u64,
        /// Bytes left in the hint stream.
        available: u64,
    },
    /// `hintinput` with no input record left.
    #[error("input stream is empty")]
    InputStreamEmpty,
    /// `hintbuffer` with a word count outside 1..=1023.
    #[error("hintbuffer word count {words} is outside 1..=1023")]
    HintBufferLength {
        /// The requested word count.
        words: u32,
    },
    /// `reveal` at an offset that is misaligned or outside the public values.
    #[error("reveal at offset {offset:#x} is not an aligned word inside {num_public_values} public-value bytes")]
    RevealOutOfRange {
        /// The byte offset x[rd] + imm.
        offset: u32,
        /// The configured number of public-value bytes.
        num_public_values: usize,
    },
    /// `printstr` of bytes that are not UTF-8.
    #[error("printstr of {len} bytes at {addr:#010x} that are not valid UTF-8")]
    InvalidUtf8 {
        /// Start of the string.
        addr: u32,
        /// Its length.
        len: u32,
    },
    /// `hintrandom` asking for more bytes than guest memory could ever take.
    #[error("hintrandom of {words} words exceeds guest memory")]
    HintRandomTooLarge {
        /// The requested word count.
        words: u32,
    },
    /// `xorin` with a byte count that is not a multiple of 4 or exceeds the Keccak rate.
    #[error("xorin length {len} is not a multiple of 4 in 0..=136")]
    XorinLength {
        /// The byte count x[rs2].
        len: u32,
    },
    /// The program already terminated; there is nothing to resume.
    #[error("the program has already terminated")]
    AlreadyTerminated,
}

/// Why a saved state could not be written or read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StateFileError {
    /// The file could not be read or written.
    #[error("cannot access state file {path}: {message}")]
    Io {
        /// The path that failed.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The bytes are not a valid saved state.
    #[error("invalid state file: {0}")]
    Format(String),
}

/// Any rvx error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The program could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The configuration or state is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The guest faulted.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A saved state could not be read or written.
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    /// A compiling backend could not compile or load the program.
    #[error(transparent)]
    Compile(#[from] CompileError),
}
