//! Support for the integration tests: a tiny RV32IM assembler (plus the OpenVM custom-0 system
//! instructions), helpers to build and run programs, and a minimal ELF32 writer for loader tests.
#![allow(dead_code)]

pub mod bigint;
pub mod random;

use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::program::Segment;
use rvx::{
    BackendKind, Error, ExecError, ExecutionConfig, Output, Program, PureInstance, Rv32ImConfig,
    SystemConfig, VmConfig, VmState,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

// ---------------------------------------------------------------------------------------------
// Configuration and program construction
// ---------------------------------------------------------------------------------------------

/// Address of the first instruction of every test program (and its entry point).
pub const BASE: u32 = 0x1000;
/// A data area well away from the code.
pub const DATA: u32 = 0x8000;
/// `pointer_max_bits` of the test configuration.
pub const POINTER_MAX_BITS: u32 = 20;
/// Guest memory size of the test configuration.
pub const MEM_SIZE: u32 = 1 << POINTER_MAX_BITS;

/// A small configuration (1 MiB of guest memory) so whole-memory comparisons are cheap.
pub fn config() -> SystemConfig {
    SystemConfig {
        pointer_max_bits: POINTER_MAX_BITS,
        ..SystemConfig::default()
    }
}

/// The standard RV32IM configuration with the small [`config`].
pub fn vm_config() -> Rv32ImConfig {
    Rv32ImConfig::with_system(config())
}

/// The execution tables of [`vm_config`].
pub fn exec_config() -> Arc<ExecutionConfig> {
    Arc::new(
        vm_config()
            .execution_config()
            .expect("test configuration is valid"),
    )
}

/// Little-endian bytes of instruction words.
pub fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A program with `words` as code at [`BASE`] (entry = BASE).
pub fn program(words: &[u32]) -> Program {
    program_with_data(words, &[])
}

/// An executable segment holding `words` at `vaddr`.
pub fn code_segment(vaddr: u32, words: &[u32]) -> Segment {
    Segment {
        vaddr,
        data: words_to_bytes(words),
        memsz: 4 * words.len() as u32,
        executable: true,
    }
}

/// A program with code at [`BASE`] and read/write data segments `(vaddr, bytes)`.
pub fn program_with_data(words: &[u32], data: &[(u32, &[u8])]) -> Program {
    let mut segments = vec![code_segment(BASE, words)];
    for &(vaddr, bytes) in data {
        segments.push(Segment {
            vaddr,
            data: bytes.to_vec(),
            memsz: bytes.len() as u32,
            executable: false,
        });
    }
    Program::from_segments(BASE, segments, exec_config())
}

/// An interpreter instance for `program` under [`config`], discarding printed output.
pub fn instance_of(program: Program) -> PureInstance {
    instance_on(Arc::new(program), BackendKind::Interpreter)
}

/// An instance of `program` on `backend` under [`config`], discarding printed output.
pub fn instance_on(program: Arc<Program>, backend: BackendKind) -> PureInstance {
    PureInstance::new(program, backend)
        .expect("test configuration is valid")
        .with_output(Output::Discard)
}

/// The metered and metered-cost instances of `program` on `backend`, discarding printed
/// output.
pub fn metered_instances_on(
    program: &Arc<Program>,
    backend: BackendKind,
) -> (MeteredInstance, MeteredCostInstance) {
    let metered = MeteredInstance::new(program.clone(), backend)
        .expect("test configuration is valid")
        .with_output(Output::Discard);
    let cost = MeteredCostInstance::new(program.clone(), backend)
        .expect("test configuration is valid")
        .with_output(Output::Discard);
    (metered, cost)
}

/// The backends the tests compare, the interpreter (the reference) first: every backend, or
/// the interpreter and those named in `RVX_TEST_BACKENDS` (comma-separated, e.g. `jit` where
/// the recompiler's C compiler cannot build for the host, as in the emulated aarch64 suite).
pub fn backends() -> &'static [BackendKind] {
    static BACKENDS: OnceLock<Vec<BackendKind>> = OnceLock::new();
    BACKENDS.get_or_init(|| {
        let names = std::env::var("RVX_TEST_BACKENDS").unwrap_or_default();
        if names.trim().is_empty() {
            return BackendKind::ALL.to_vec();
        }
        let mut chosen = vec![BackendKind::Interpreter];
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind = *BackendKind::ALL
                .iter()
                .find(|b| b.name() == name)
                .unwrap_or_else(|| panic!("RVX_TEST_BACKENDS: no backend called {name:?}"));
            if !chosen.contains(&kind) {
                chosen.push(kind);
            }
        }
        chosen
    })
}

/// One instance of `program` per backend ([`backends`]), the interpreter first.
pub fn instances(program: Program) -> Vec<PureInstance> {
    let program = Arc::new(program);
    backends()
        .iter()
        .map(|&b| instance_on(program.clone(), b))
        .collect()
}

/// An interpreter instance for the code `words`.
pub fn instance(words: &[u32]) -> PureInstance {
    instance_of(program(words))
}

/// An instance whose printed output is captured in the returned buffer.
pub fn instance_with_buffer(program: Program) -> (PureInstance, Arc<Mutex<Vec<u8>>>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let instance = instance_of(program).with_output(Output::Buffer(buffer.clone()));
    (instance, buffer)
}

/// Converts input records given as byte slices.
pub fn records(inputs: &[&[u8]]) -> Vec<Vec<u8>> {
    inputs.iter().map(|r| r.to_vec()).collect()
}

/// Runs `program` to completion on every backend, checks that they all give the same result
/// (final state or error), and returns it.
pub fn run_program(program: Program, inputs: &[&[u8]]) -> Result<VmState, Error> {
    let mut results = instances(program)
        .into_iter()
        .map(|inst| (inst.backend(), inst.execute(records(inputs))));
    let (first_backend, first) = results.next().expect("at least one backend");
    for (backend, result) in results {
        assert_eq!(
            result, first,
            "backend {backend} differs from {first_backend}"
        );
    }
    first
}

/// Runs the code `words` to completion on `inputs` (on every backend, see [`run_program`]).
pub fn run(words: &[u32], inputs: &[&[u8]]) -> Result<VmState, Error> {
    run_program(program(words), inputs)
}

/// Runs the code `words` with no inputs and expects it to terminate.
pub fn run_ok(words: &[u32]) -> VmState {
    match run(words, &[]) {
        Ok(state) => {
            assert!(
                state.exit_code.is_some(),
                "program did not terminate: {state:?}"
            );
            state
        }
        Err(e) => panic!("program failed: {e}"),
    }
}

/// Runs the code `words` on `inputs` and expects an execution error.
pub fn run_exec_err(words: &[u32], inputs: &[&[u8]]) -> ExecError {
    exec_err(run(words, inputs))
}

/// The [`ExecError`] inside `result`, panicking on anything else.
pub fn exec_err(result: Result<VmState, Error>) -> ExecError {
    match result {
        Err(Error::Exec(e)) => e,
        Err(other) => panic!("expected an execution error, got {other:?}"),
        Ok(state) => panic!(
            "expected an execution error, the program ended with exit code {:?} at pc {:#x} after {} instructions",
            state.exit_code, state.pc, state.instret
        ),
    }
}

/// Address of instruction number `index` of a test program.
pub fn pc_at(index: usize) -> u32 {
    BASE + 4 * index as u32
}

/// Reads `len` bytes of guest memory.
pub fn mem(state: &VmState, addr: u32, len: usize) -> Vec<u8> {
    state
        .memory
        .slice(addr, len as u64)
        .expect("range inside guest memory")
        .to_vec()
}

/// Reads a little-endian word of guest memory.
pub fn mem_u32(state: &VmState, addr: u32) -> u32 {
    u32::from_le_bytes(mem(state, addr, 4).try_into().unwrap())
}

/// A deterministic pseudo-random generator for the tests (SplitMix64).
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// Instruction encoders. Registers are numbers 0..=31; immediates are signed byte values.
// ---------------------------------------------------------------------------------------------

fn reg(r: u32) -> u32 {
    assert!(r < 32, "register x{r} does not exist");
    r
}

fn check_imm12(imm: i32) -> u32 {
    assert!(
        (-2048..=2047).contains(&imm),
        "12-bit immediate {imm} out of range"
    );
    (imm as u32) & 0xfff
}

/// An R-type word.
pub fn r_type(opcode: u32, funct3: u32, funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    (funct7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode
}

/// An I-type word with a signed 12-bit immediate.
pub fn i_type(opcode: u32, funct3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
    (check_imm12(imm) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode
}

/// An S-type word.
pub fn s_type(opcode: u32, funct3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = check_imm12(imm);
    ((imm >> 5) << 25)
        | (reg(rs2) << 20)
        | (reg(rs1) << 15)
        | (funct3 << 12)
        | ((imm & 31) << 7)
        | opcode
}

/// A B-type word with a signed, even byte offset.
pub fn b_type(funct3: u32, rs1: u32, rs2: u32, offset: i32) -> u32 {
    assert!(
        offset % 2 == 0 && (-4096..=4094).contains(&offset),
        "branch offset {offset}"
    );
    let imm = offset as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (reg(rs2) << 20)
        | (reg(rs1) << 15)
        | (funct3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63
}

/// A J-type (`jal`) word with a signed, even byte offset.
pub fn j_type(rd: u32, offset: i32) -> u32 {
    assert!(
        offset % 2 == 0 && (-(1 << 20)..(1 << 20)).contains(&offset),
        "jal offset {offset}"
    );
    let imm = offset as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (reg(rd) << 7)
        | 0x6f
}

const OP: u32 = 0x33;
const OP_IMM: u32 = 0x13;
const LOAD: u32 = 0x03;
const STORE: u32 = 0x23;
const CUSTOM_0: u32 = 0x0b;

pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 0, 0, rd, rs1, rs2)
}
pub fn sub(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 0, 0x20, rd, rs1, rs2)
}
pub fn sll(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 1, 0, rd, rs1, rs2)
}
pub fn slt(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 2, 0, rd, rs1, rs2)
}
pub fn sltu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 3, 0, rd, rs1, rs2)
}
pub fn xor(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 4, 0, rd, rs1, rs2)
}
pub fn srl(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 5, 0, rd, rs1, rs2)
}
pub fn sra(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 5, 0x20, rd, rs1, rs2)
}
pub fn or(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 6, 0, rd, rs1, rs2)
}
pub fn and(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 7, 0, rd, rs1, rs2)
}
pub fn mul(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 0, 1, rd, rs1, rs2)
}
pub fn mulh(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 1, 1, rd, rs1, rs2)
}
pub fn mulhsu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 2, 1, rd, rs1, rs2)
}
pub fn mulhu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 3, 1, rd, rs1, rs2)
}
pub fn div(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 4, 1, rd, rs1, rs2)
}
pub fn divu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 5, 1, rd, rs1, rs2)
}
pub fn rem(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 6, 1, rd, rs1, rs2)
}
pub fn remu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(OP, 7, 1, rd, rs1, rs2)
}

pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 0, rd, rs1, imm)
}
pub fn slti(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 2, rd, rs1, imm)
}
pub fn sltiu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 3, rd, rs1, imm)
}
pub fn xori(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 4, rd, rs1, imm)
}
pub fn ori(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 6, rd, rs1, imm)
}
pub fn andi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(OP_IMM, 7, rd, rs1, imm)
}
pub fn slli(rd: u32, rs1: u32, shamt: u32) -> u32 {
    assert!(shamt < 32);
    r_type(OP_IMM, 1, 0, rd, rs1, shamt)
}
pub fn srli(rd: u32, rs1: u32, shamt: u32) -> u32 {
    assert!(shamt < 32);
    r_type(OP_IMM, 5, 0, rd, rs1, shamt)
}
pub fn srai(rd: u32, rs1: u32, shamt: u32) -> u32 {
    assert!(shamt < 32);
    r_type(OP_IMM, 5, 0x20, rd, rs1, shamt)
}

/// `lui rd, upper`: rd = upper << 12 (upper is the 20-bit field).
pub fn lui(rd: u32, upper: u32) -> u32 {
    assert!(upper < 1 << 20);
    (upper << 12) | (reg(rd) << 7) | 0x37
}
/// `auipc rd, upper`: rd = pc + (upper << 12).
pub fn auipc(rd: u32, upper: u32) -> u32 {
    assert!(upper < 1 << 20);
    (upper << 12) | (reg(rd) << 7) | 0x17
}
/// `jal rd, offset` (byte offset from this instruction).
pub fn jal(rd: u32, offset: i32) -> u32 {
    j_type(rd, offset)
}
/// `jalr rd, imm(rs1)`.
pub fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x67, 0, rd, rs1, imm)
}
pub fn beq(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(0, rs1, rs2, offset)
}
pub fn bne(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(1, rs1, rs2, offset)
}
pub fn blt(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(4, rs1, rs2, offset)
}
pub fn bge(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(5, rs1, rs2, offset)
}
pub fn bltu(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(6, rs1, rs2, offset)
}
pub fn bgeu(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(7, rs1, rs2, offset)
}

/// `lb rd, imm(rs1)`.
pub fn lb(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(LOAD, 0, rd, rs1, imm)
}
pub fn lh(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(LOAD, 1, rd, rs1, imm)
}
pub fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(LOAD, 2, rd, rs1, imm)
}
pub fn lbu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(LOAD, 4, rd, rs1, imm)
}
pub fn lhu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(LOAD, 5, rd, rs1, imm)
}
/// `sb rs2, imm(rs1)`.
pub fn sb(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(STORE, 0, rs1, rs2, imm)
}
pub fn sh(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(STORE, 1, rs1, rs2, imm)
}
pub fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(STORE, 2, rs1, rs2, imm)
}

/// `fence rw, rw`.
pub const FENCE: u32 = 0x0330_000f;
/// `fence.i` (not accepted by the reference).
pub const FENCE_I: u32 = 0x0000_100f;
/// `ecall`.
pub const ECALL: u32 = 0x0000_0073;
/// `ebreak`.
pub const EBREAK: u32 = 0x0010_0073;
/// `unimp` = `csrrw x0, cycle, x0`.
pub const UNIMP: u32 = 0xc000_1073;
/// `nop` = `addi x0, x0, 0`.
pub const NOP: u32 = 0x0000_0013;

/// A CSR instruction `csr<funct3> rd, csr, rs1`.
pub fn csr(funct3: u32, rd: u32, csr: u32, rs1: u32) -> u32 {
    (csr << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | 0x73
}

/// `terminate code`.
pub fn terminate(code: u32) -> u32 {
    assert!(code < 4096);
    (code << 20) | CUSTOM_0
}
/// `hintstorew rd`: pop 4 hint bytes to [x[rd]].
pub fn hintstorew(rd: u32) -> u32 {
    i_type(CUSTOM_0, 1, rd, 0, 0)
}
/// `hintbuffer rd, rs1`: pop 4*x[rs1] hint bytes to [x[rd]].
pub fn hintbuffer(rd: u32, rs1: u32) -> u32 {
    i_type(CUSTOM_0, 1, rd, rs1, 1)
}
/// `reveal rs1, imm(rd)`: public value word at x[rd] + imm = x[rs1].
pub fn reveal(rs1: u32, rd: u32, imm: i32) -> u32 {
    i_type(CUSTOM_0, 2, rd, rs1, imm)
}
/// `hintinput`.
pub fn hintinput() -> u32 {
    i_type(CUSTOM_0, 3, 0, 0, 0)
}
/// `printstr rd, rs1`: print x[rs1] bytes at x[rd].
pub fn printstr(rd: u32, rs1: u32) -> u32 {
    i_type(CUSTOM_0, 3, rd, rs1, 1)
}
/// `hintrandom rd`: hint stream = 4*x[rd] random bytes.
pub fn hintrandom(rd: u32) -> u32 {
    i_type(CUSTOM_0, 3, rd, 0, 2)
}

/// `keccakf rd`: keccak-f[1600] on the 200 bytes at x[rd].
pub fn keccakf(rd: u32) -> u32 {
    r_type(CUSTOM_0, 4, 0, rd, 0, 0)
}
/// `xorin rd, rs1, rs2`: x[rs2] bytes at x[rs1] XORed into those at x[rd].
pub fn xorin(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(CUSTOM_0, 4, 1, rd, rs1, rs2)
}
/// `sha256_update rd, rs1, rs2`: [x[rd]:32] = compress256([x[rs1]:32], [x[rs2]:64]).
pub fn sha256_update(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(CUSTOM_0, 4, 2, rd, rs1, rs2)
}
/// `sha512_update rd, rs1, rs2`: [x[rd]:64] = compress512([x[rs1]:64], [x[rs2]:128]).
pub fn sha512_update(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(CUSTOM_0, 4, 3, rd, rs1, rs2)
}
/// The 256-bit operation `funct7` (0 add .. 10 mul) on [x[rs1]:32], [x[rs2]:32] into [x[rd]:32].
pub fn int256(funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    r_type(CUSTOM_0, 5, funct7, rd, rs1, rs2)
}
/// `beq256 rs1, rs2, offset`: branch when the 32-byte operands at x[rs1] and x[rs2] are equal.
pub fn beq256(rs1: u32, rs2: u32, offset: i32) -> u32 {
    (b_type(6, rs1, rs2, offset) & !0x7f) | CUSTOM_0
}

/// RV32IM with the IO instructions plus the Keccak, SHA-2 and 256-bit integer extensions, in
/// the reference's registration order.
#[derive(rvx::VmConfig, Debug, Clone, Default)]
pub struct ExtConfig {
    /// Memory and public values.
    #[config]
    pub system: SystemConfig,
    /// RV32I.
    #[extension]
    pub rv32i: rvx::extension::rv32i::Rv32I,
    /// Hint stores and reveal.
    #[extension]
    pub io: rvx::extension::io::Io,
    /// keccakf, xorin.
    #[extension]
    pub keccak: rvx::extension::keccak::Keccak,
    /// sha256_update, sha512_update.
    #[extension]
    pub sha2: rvx::extension::sha2::Sha2,
    /// RV32M (sharing BigInt's range-tuple checker).
    #[extension]
    pub rv32m: rvx::extension::rv32m::Rv32M,
    /// 256-bit integers.
    #[extension]
    pub bigint: rvx::extension::bigint::BigInt,
}

/// [`ExtConfig`] on `system`, with RV32M's checker sized for BigInt as the reference's SDK does.
pub fn ext_config_on(system: SystemConfig) -> ExtConfig {
    ExtConfig {
        system,
        rv32m: rvx::extension::rv32m::Rv32M {
            range_tuple_checker_sizes: rvx::extension::bigint::DEFAULT_RANGE_TUPLE_CHECKER_SIZES,
        },
        ..ExtConfig::default()
    }
}

/// [`ExtConfig`] on the small test [`config`].
pub fn ext_config() -> ExtConfig {
    ext_config_on(config())
}

/// `li rd, value` as exactly two instructions (`lui` + `addi`), so instruction counts are fixed.
pub fn li(rd: u32, value: u32) -> [u32; 2] {
    let lo = ((value << 20) as i32) >> 20;
    let hi = value.wrapping_sub(lo as u32) >> 12;
    [lui(rd, hi), addi(rd, rd, lo)]
}

// ---------------------------------------------------------------------------------------------
// An assembler with labels, for programs with loops and calls.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Fix {
    Branch(fn(u32, u32, i32) -> u32, u32, u32),
    Jal(u32),
    /// `lui` + `addi` loading the label's address; the fixup sits on the `lui`.
    La(u32),
}

/// Accumulates instruction words; branches and jumps may refer to labels defined later.
#[derive(Default)]
pub struct Asm {
    words: Vec<u32>,
    labels: HashMap<&'static str, usize>,
    fixups: Vec<(usize, &'static str, Fix)>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    /// Appends instruction words.
    pub fn emit(&mut self, words: impl IntoIterator<Item = u32>) -> &mut Asm {
        self.words.extend(words);
        self
    }

    /// Appends one instruction word.
    pub fn op(&mut self, word: u32) -> &mut Asm {
        self.words.push(word);
        self
    }

    /// Defines `name` at the next instruction.
    pub fn label(&mut self, name: &'static str) -> &mut Asm {
        assert!(
            self.labels.insert(name, self.words.len()).is_none(),
            "label {name} defined twice"
        );
        self
    }

    /// A conditional branch (`beq`, `bne`, ...) to `label`.
    pub fn branch(
        &mut self,
        kind: fn(u32, u32, i32) -> u32,
        rs1: u32,
        rs2: u32,
        label: &'static str,
    ) -> &mut Asm {
        self.fixups
            .push((self.words.len(), label, Fix::Branch(kind, rs1, rs2)));
        self.words.push(0);
        self
    }

    /// `jal rd, label`.
    pub fn jal(&mut self, rd: u32, label: &'static str) -> &mut Asm {
        self.fixups.push((self.words.len(), label, Fix::Jal(rd)));
        self.words.push(0);
        self
    }

    /// `la rd, label`: loads the label's address (two words, like [`li`]).
    pub fn la(&mut self, rd: u32, label: &'static str) -> &mut Asm {
        self.fixups.push((self.words.len(), label, Fix::La(rd)));
        self.words.extend([0, 0]);
        self
    }

    /// The number of words so far.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether nothing was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Resolves labels and returns the words.
    pub fn finish(&self) -> Vec<u32> {
        let mut words = self.words.clone();
        for &(at, label, fix) in &self.fixups {
            let target = *self
                .labels
                .get(label)
                .unwrap_or_else(|| panic!("undefined label {label}"));
            let offset = 4 * (target as i32 - at as i32);
            match fix {
                Fix::Branch(kind, rs1, rs2) => words[at] = kind(rs1, rs2, offset),
                Fix::Jal(rd) => words[at] = jal(rd, offset),
                Fix::La(rd) => words[at..at + 2].copy_from_slice(&li(rd, pc_at(target))),
            }
        }
        words
    }

    /// The address of `label` in a program placed at [`BASE`].
    pub fn addr(&self, label: &'static str) -> u32 {
        pc_at(self.labels[label])
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal ELF32 writer
// ---------------------------------------------------------------------------------------------

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
pub const EM_RISCV: u16 = 0xf3;
pub const ET_EXEC: u16 = 2;
pub const PT_LOAD: u32 = 1;

/// One program header of an [`ElfBuilder`].
#[derive(Clone, Debug)]
pub struct ElfSegment {
    pub p_type: u32,
    pub vaddr: u32,
    pub data: Vec<u8>,
    pub memsz: u32,
    pub flags: u32,
}

/// An ELF32 file under construction, with knobs to make it invalid.
#[derive(Clone, Debug)]
pub struct ElfBuilder {
    pub entry: u32,
    pub segments: Vec<ElfSegment>,
    /// EI_CLASS (1 = 32-bit).
    pub class: u8,
    /// EI_DATA (1 = little-endian).
    pub data_encoding: u8,
    /// EI_VERSION (1 = current).
    pub version: u8,
    pub machine: u16,
    pub e_type: u16,
    /// Whether to write a program header table at all.
    pub with_program_headers: bool,
}

/// Size of the ELF32 file header.
pub const EHDR_SIZE: usize = 52;
/// Size of one ELF32 program header.
pub const PHDR_SIZE: usize = 32;

impl ElfBuilder {
    /// A valid RISC-V ELF32 executable with the given entry and `(vaddr, bytes, memsz, flags)`
    /// PT_LOAD segments.
    pub fn new(entry: u32, segments: &[(u32, &[u8], u32, u32)]) -> ElfBuilder {
        ElfBuilder {
            entry,
            segments: segments
                .iter()
                .map(|&(vaddr, data, memsz, flags)| ElfSegment {
                    p_type: PT_LOAD,
                    vaddr,
                    data: data.to_vec(),
                    memsz,
                    flags,
                })
                .collect(),
            class: 1,
            data_encoding: 1,
            version: 1,
            machine: EM_RISCV,
            e_type: ET_EXEC,
            with_program_headers: true,
        }
    }

    /// The file bytes: header, program headers, then each segment's bytes (4-byte aligned).
    pub fn build(&self) -> Vec<u8> {
        let phnum = if self.with_program_headers {
            self.segments.len()
        } else {
            0
        };
        let mut offsets = Vec::new();
        let mut offset = EHDR_SIZE + PHDR_SIZE * phnum;
        for seg in &self.segments {
            offset = offset.next_multiple_of(4);
            offsets.push(offset);
            offset += seg.data.len();
        }
        let mut out = Vec::new();
        out.extend_from_slice(&[
            0x7f,
            b'E',
            b'L',
            b'F',
            self.class,
            self.data_encoding,
            self.version,
            0,
        ]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.e_type.to_le_bytes());
        out.extend_from_slice(&self.machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&self.entry.to_le_bytes());
        let phoff = if phnum > 0 { EHDR_SIZE as u32 } else { 0 };
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        out.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        out.extend_from_slice(&(phnum as u16).to_le_bytes());
        out.extend_from_slice(&40u16.to_le_bytes()); // e_shentsize
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        assert_eq!(out.len(), EHDR_SIZE);
        for (seg, &off) in self.segments.iter().zip(&offsets).take(phnum) {
            for field in [
                seg.p_type,
                off as u32,
                seg.vaddr,
                seg.vaddr,
                seg.data.len() as u32,
                seg.memsz,
                seg.flags,
                4,
            ] {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
        for (seg, &off) in self.segments.iter().zip(&offsets) {
            out.resize(off, 0);
            out.extend_from_slice(&seg.data);
        }
        out
    }
}

/// A valid ELF32 RISC-V executable with `(vaddr, bytes, memsz, flags)` PT_LOAD segments.
pub fn elf(entry: u32, segments: &[(u32, &[u8], u32, u32)]) -> Vec<u8> {
    ElfBuilder::new(entry, segments).build()
}

/// An ELF with `words` as code at [`BASE`] (entry = BASE).
pub fn code_elf(words: &[u32]) -> Vec<u8> {
    let code = words_to_bytes(words);
    elf(BASE, &[(BASE, &code, code.len() as u32, PF_R | PF_X)])
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/// Runs `command` (an `rvx` invocation printing JSON), asserting that it succeeds; its stdout
/// as JSON.
pub fn json_of(command: &mut std::process::Command) -> serde_json::Value {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
