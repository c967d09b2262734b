//! Metering properties of the bundled guests and of generated random programs, checked
//! against an independent model.
//!
//! The model: each program is stepped one instruction at a time with the pure instance, and
//! every executed instruction is classified from its raw word and the registers before it
//! (which chip it adds rows to, following the opcode -> AIR table of the reference JSON,
//! `tests/data/reference/openvm-2.0.2-airs-fibonacci.json`, and which memory pages it
//! touches). From that trace the test recomputes every segment's trace heights, checks the
//! limits and the places where segments are cut, and the proving cost. Besides, the metered,
//! cost and pure modes must end in the same state, runs must be deterministic, a run
//! suspended anywhere (and carried through `to_bytes`/`save`) must resume to exactly the same
//! segments or cost, and the command line must print what the library computes.

mod common;

use common::random::{self, RandomProgram};
use common::*;
use rvx::instance::{MeteredCostInstance, MeteredInstance};
use rvx::metering::estimate::{estimate_proving_memory, ChipMemoryShape, ProvingMemoryParams};
use rvx::metering::{Segment, SegmentationLimits};
use rvx::{
    guests, BackendKind, ExecutionConfig, Output, Program, PureInstance, Rv32ImConfig,
    SystemConfig, VmConfig, VmState,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

// ---------------------------------------------------------------------------------------------
// The reference chip table
// ---------------------------------------------------------------------------------------------

/// One AIR of the reference configuration (RV32I + RV32M + IO).
struct Air {
    name: String,
    width: u32,
    interactions: u32,
    need_rot: bool,
    /// The constant height, if the height is constant (`None` for ProgramAir's, which is the
    /// program length, and for every variable chip).
    constant: Option<u32>,
    is_program: bool,
}

/// The reference's AIR table and opcode -> AIR map.
struct Reference {
    airs: Vec<Air>,
    opcode_air: HashMap<String, usize>,
    boundary: usize,
    merkle: usize,
    poseidon2: usize,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let path = format!(
            "{}/tests/data/reference/openvm-2.0.2-airs-fibonacci.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let json: Value = serde_json::from_str(&text).unwrap();
        let airs: Vec<Air> = json["airs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let is_program = a["constant_height_source"] == "program_len";
                let constant = a["height_is_constant"].as_bool().unwrap() && !is_program;
                Air {
                    name: a["name"].as_str().unwrap().to_string(),
                    width: a["width"].as_u64().unwrap() as u32,
                    interactions: a["num_interactions"].as_u64().unwrap() as u32,
                    need_rot: a["need_rot"].as_bool().unwrap(),
                    constant: constant.then(|| a["constant_height"].as_u64().unwrap() as u32),
                    is_program,
                }
            })
            .collect();
        let mut opcode_air = HashMap::new();
        for op in json["opcodes"].as_array().unwrap() {
            let name = op["name"].as_str().unwrap().to_string();
            let air = op["air_idx"].as_u64().unwrap() as usize;
            assert!(
                opcode_air.insert(name, air).is_none(),
                "opcode names are unique"
            );
        }
        let ids = &json["system_air_ids"];
        let poseidon2 = airs
            .iter()
            .position(|a| a.name.starts_with("Poseidon2PeripheryAir"))
            .unwrap();
        Reference {
            opcode_air,
            boundary: ids["memory_boundary"].as_u64().unwrap() as usize,
            merkle: ids["memory_merkle"].as_u64().unwrap() as usize,
            poseidon2,
            airs,
        }
    })
}

/// Whether a chip's height is constant.
fn is_constant(chip: usize) -> bool {
    let air = &reference().airs[chip];
    air.is_program || air.constant.is_some()
}

/// Whether a chip is one of the memory chips (boundary, Merkle tree, Poseidon2), which get
/// rows per touched page.
fn is_memory(chip: usize) -> bool {
    let r = reference();
    [r.boundary, r.merkle, r.poseidon2].contains(&chip)
}

/// The per-program facts the model needs.
struct Model {
    /// Heights before anything executes, registers not charged: constant chips only.
    base: Vec<u32>,
    /// Merkle nodes charged per page besides its leaves.
    nodes_per_page: u32,
    shapes: Vec<ChipMemoryShape>,
    params: ProvingMemoryParams,
    limits: SegmentationLimits,
}

impl Model {
    fn new(program: &Program) -> Model {
        let r = reference();
        let names: Vec<&str> = program
            .config()
            .chips()
            .chips()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let expected: Vec<&str> = r.airs.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, expected, "rvx's chip table is the reference's");
        let system = program.config().system();
        Model {
            base: r
                .airs
                .iter()
                .map(|a| match (a.is_program, a.constant) {
                    (true, _) => program.len() as u32,
                    (false, Some(h)) => h,
                    (false, None) => 0,
                })
                .collect(),
            // 2^6 - 1 nodes inside a page of 64 blocks, plus one per tree level above it: the
            // tree has 3 address-space levels and pointer_max_bits - 3 block levels.
            nodes_per_page: 63 + (3 + system.pointer_max_bits - 3 - 6),
            shapes: r
                .airs
                .iter()
                .map(|a| ChipMemoryShape {
                    width: u64::from(a.width),
                    need_rot: a.need_rot,
                    num_interactions: u64::from(a.interactions),
                    constraint_eval_buffer_size: 0,
                })
                .collect(),
            params: system.proving_memory,
            limits: system.segmentation,
        }
    }

    /// Adds the rows of `pages` newly touched pages (each 64 blocks of 8 bytes, charged in
    /// the initial and the final memory image).
    fn add_pages(&self, heights: &mut [u32], pages: u32) {
        let r = reference();
        heights[r.boundary] += 2 * 64 * pages;
        heights[r.merkle] += 2 * self.nodes_per_page * pages;
        heights[r.poseidon2] += (2 * 64 + 2 * self.nodes_per_page) * pages;
    }

    /// The heights of a segment that executed nothing: constant chips and the registers.
    fn empty_segment(&self) -> Vec<u32> {
        let mut heights = self.base.clone();
        self.add_pages(&mut heights, 1);
        heights
    }

    /// Sum over non-empty chips of (height + 1) x interactions per row.
    fn interactions(&self, heights: &[u32]) -> u64 {
        heights
            .iter()
            .zip(&reference().airs)
            .filter(|(&h, _)| h > 0)
            .map(|(&h, a)| (u64::from(h) + 1) * u64::from(a.interactions))
            .sum()
    }

    /// The proving-memory estimate.
    fn memory(&self, heights: &[u32]) -> u64 {
        estimate_proving_memory(&self.params, &self.shapes, heights)
    }

    /// The first limit `heights` violates, if any.
    fn violation(&self, heights: &[u32]) -> Option<String> {
        for (chip, &h) in heights.iter().enumerate() {
            let padded = if h == 0 {
                0
            } else {
                u64::from(h).next_power_of_two()
            };
            if !is_constant(chip) && padded > u64::from(self.limits.max_trace_height) {
                return Some(format!("chip {chip} has {h} rows"));
            }
        }
        let interactions = self.interactions(heights);
        if interactions > self.limits.max_interactions {
            return Some(format!("{interactions} interactions"));
        }
        let memory = self.memory(heights);
        if memory > self.limits.max_memory {
            return Some(format!("{memory} bytes of proving memory"));
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The trace: every executed instruction, classified independently
// ---------------------------------------------------------------------------------------------

/// Page keys: main memory pages are their number, public-value pages are tagged.
const PUBLIC_VALUES_PAGE: u64 = 1 << 40;
const NO_CHIP: u8 = u8::MAX;

/// What a run executed, one entry per instruction.
struct Trace {
    /// The chip each instruction adds rows to ([`NO_CHIP`] for terminate).
    chip: Vec<u8>,
    /// How many rows (1, or the words of a hint store).
    rows: Vec<u32>,
    /// Instruction `i` touched the pages `pages[page_at[i]..page_at[i + 1]]` (dense ids).
    page_at: Vec<u32>,
    pages: Vec<u32>,
    num_pages: usize,
    /// `cost[i]`: the cost of the first `i` instructions.
    cost: Vec<u64>,
    final_state: VmState,
}

impl Trace {
    fn len(&self) -> u64 {
        self.chip.len() as u64
    }

    /// The heights of a segment holding instructions `start..end` that starts afresh.
    fn heights(&self, model: &Model, start: u64, end: u64) -> Vec<u32> {
        let mut heights = model.base.clone();
        let mut seen = vec![false; self.num_pages];
        let mut pages = 1; // the registers
        for i in start as usize..end as usize {
            if self.chip[i] != NO_CHIP {
                heights[usize::from(self.chip[i])] += self.rows[i];
            }
            for &p in &self.pages[self.page_at[i] as usize..self.page_at[i + 1] as usize] {
                if !std::mem::replace(&mut seen[p as usize], true) {
                    pages += 1;
                }
            }
        }
        model.add_pages(&mut heights, pages);
        heights
    }
}

/// The reference opcode of `word` (as named in the reference JSON) and its rows; pushes the
/// pages it touches. `None` for terminate, which adds no row.
fn classify(word: u32, regs: &[u32; 32], pages: &mut Vec<u64>) -> Option<(&'static str, u32)> {
    let rd = (word >> 7) & 31;
    let funct3 = (word >> 12) & 7;
    let rs1 = regs[((word >> 15) & 31) as usize];
    let funct7 = word >> 25;
    let imm_i = (word as i32 >> 20) as u32;
    let imm_s = ((word as i32 >> 25) << 5) as u32 | ((word >> 7) & 31);
    let page = |addr: u32| u64::from((addr & !3) >> 9);
    // Writes to x0 by ALU, lui, auipc and M instructions become phantom no-ops.
    let alu = |name: &'static str| Some((if rd == 0 { "PHANTOM" } else { name }, 1));
    match word & 0x7f {
        0x33 => alu(match (funct7, funct3) {
            (0, 0) => "ADD",
            (0x20, 0) => "SUB",
            (0, 1) => "SLL",
            (0, 2) => "SLT",
            (0, 3) => "SLTU",
            (0, 4) => "XOR",
            (0, 5) => "SRL",
            (0x20, 5) => "SRA",
            (0, 6) => "OR",
            (0, 7) => "AND",
            (1, f) => [
                "MUL", "MULH", "MULHSU", "MULHU", "DIV", "DIVU", "REM", "REMU",
            ][f as usize],
            _ => panic!("unexpected word {word:#010x}"),
        }),
        0x13 => alu(match funct3 {
            0 => "ADD",
            1 => "SLL",
            2 => "SLT",
            3 => "SLTU",
            4 => "XOR",
            5 if funct7 & 0x20 != 0 => "SRA",
            5 => "SRL",
            6 => "OR",
            _ => "AND",
        }),
        0x37 => alu("LUI"),
        0x17 => alu("AUIPC"),
        0x6f => Some(("JAL", 1)),
        0x67 => Some(("JALR", 1)),
        0x63 => Some((
            ["BEQ", "BNE", "", "", "BLT", "BGE", "BLTU", "BGEU"][funct3 as usize],
            1,
        )),
        0x03 => {
            pages.push(page(rs1.wrapping_add(imm_i)));
            Some((
                ["LOADB", "LOADH", "LOADW", "", "LOADBU", "LOADHU"][funct3 as usize],
                1,
            ))
        }
        0x23 => {
            pages.push(page(rs1.wrapping_add(imm_s)));
            Some((["STOREB", "STOREH", "STOREW"][funct3 as usize], 1))
        }
        // fence, and csrrw x0, csr, x0 (unimp): no-ops.
        0x0f | 0x73 => Some(("PHANTOM", 1)),
        0x0b => match funct3 {
            0 => None,
            1 => {
                let addr = regs[rd as usize];
                let words = if imm_i == 0 { 1 } else { rs1 };
                for i in 0..words {
                    let word_addr = addr.wrapping_add(4 * i);
                    pages.push(page(word_addr));
                    pages.push(page(word_addr.wrapping_add(3)));
                }
                let name = if imm_i == 0 {
                    "HINT_STOREW"
                } else {
                    "HINT_BUFFER"
                };
                Some((name, words))
            }
            // reveal: a word store into the public-values space.
            2 => {
                let offset = regs[rd as usize].wrapping_add(imm_i);
                pages.push(PUBLIC_VALUES_PAGE | u64::from(offset >> 9));
                Some(("STOREW", 1))
            }
            // hintinput, printstr, hintrandom
            _ => Some(("PHANTOM", 1)),
        },
        _ => panic!("unexpected word {word:#010x}"),
    }
}

/// Runs `program` one instruction at a time with the pure instance and classifies each.
fn record(program: &Arc<Program>, inputs: &[Vec<u8>]) -> Trace {
    let r = reference();
    let instance = PureInstance::new(program.clone(), BackendKind::Interpreter)
        .unwrap()
        .with_output(Output::Discard);
    let mut state = instance.initial_state(inputs.to_vec()).unwrap();
    let mut trace = Trace {
        chip: Vec::new(),
        rows: Vec::new(),
        page_at: vec![0],
        pages: Vec::new(),
        num_pages: 0,
        cost: vec![0],
        final_state: instance.initial_state([]).unwrap(),
    };
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut touched = Vec::new();
    while !state.is_terminated() {
        let index = program.index_of(state.pc).expect("pc inside the code");
        touched.clear();
        let class = classify(program.words()[index], &state.regs, &mut touched);
        let (chip, rows) = match class {
            Some((name, rows)) => (r.opcode_air[name], rows),
            None => (usize::from(NO_CHIP), 0),
        };
        trace.chip.push(chip as u8);
        trace.rows.push(rows);
        let width = r.airs.get(chip).map_or(0, |a| a.width);
        trace
            .cost
            .push(trace.cost.last().unwrap() + u64::from(width) * u64::from(rows));
        for &key in &touched {
            let next = ids.len() as u32;
            trace.pages.push(*ids.entry(key).or_insert(next));
        }
        trace.page_at.push(trace.pages.len() as u32);
        let before = state.instret;
        state = instance.execute_from_state(state, Some(1)).unwrap();
        assert_eq!(state.instret, before + 1);
    }
    trace.num_pages = ids.len();
    trace.final_state = state;
    trace
}

// ---------------------------------------------------------------------------------------------
// Configurations, programs, instances
// ---------------------------------------------------------------------------------------------

fn exec_config_with(pointer_max_bits: u32, limits: SegmentationLimits) -> Arc<ExecutionConfig> {
    let system = SystemConfig {
        pointer_max_bits,
        segmentation: limits,
        ..SystemConfig::default()
    };
    Arc::new(
        Rv32ImConfig::with_system(system)
            .execution_config()
            .unwrap(),
    )
}

fn random_program(p: &RandomProgram, limits: SegmentationLimits) -> Arc<Program> {
    let config = exec_config_with(POINTER_MAX_BITS, limits);
    Arc::new(Program::from_segments(BASE, p.segments(), config))
}

/// Guests run with 4 MiB of memory (their stack ends at 2 MiB, their heap use is small) so
/// that whole-state comparisons and snapshots stay cheap.
const GUEST_POINTER_BITS: u32 = 22;

fn guest_program(name: &str, pointer_max_bits: u32, limits: SegmentationLimits) -> Arc<Program> {
    let elf = guests::find(name).unwrap().elf;
    let config = exec_config_with(pointer_max_bits, limits);
    Arc::new(Program::from_elf_with(elf, config).unwrap())
}

/// The bundled guests with small inputs.
fn guest_inputs() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    vec![
        ("fibonacci", vec![2000u64.to_le_bytes().to_vec()]),
        ("io", vec![vec![0, 1, 2, 3, 4, 5], b"metering".to_vec()]),
        ("cpubench", vec![1u32.to_le_bytes().to_vec()]),
    ]
}

fn metered(program: &Arc<Program>) -> MeteredInstance {
    MeteredInstance::new(program.clone(), BackendKind::Interpreter)
        .unwrap()
        .with_output(Output::Discard)
}

fn costed(program: &Arc<Program>) -> MeteredCostInstance {
    MeteredCostInstance::new(program.clone(), BackendKind::Interpreter)
        .unwrap()
        .with_output(Output::Discard)
}

fn pure(program: &Arc<Program>) -> PureInstance {
    PureInstance::new(program.clone(), BackendKind::Interpreter)
        .unwrap()
        .with_output(Output::Discard)
}

fn limits(max_trace_height: u32, segment_check_insns: u64) -> SegmentationLimits {
    SegmentationLimits {
        max_trace_height,
        segment_check_insns,
        ..SegmentationLimits::default()
    }
}

/// Limits that cut a program into many segments, each bound in a different way; the
/// interaction and memory bounds sit a little above those of an empty segment of `program`.
fn segmenting_limits(program: &Program) -> Vec<SegmentationLimits> {
    let model = Model::new(program);
    let empty = model.empty_segment();
    let d = SegmentationLimits::default();
    vec![
        limits(1024, 1),
        limits(2048, 7),
        limits(4096, 100),
        limits(2048, 250),
        // Most intervals alone are over: chains of over-limit cuts.
        limits(1024, 1000),
        // Room for some 2000 rows of ALU-like chips.
        SegmentationLimits {
            max_interactions: model.interactions(&empty) + 40_000,
            segment_check_insns: 7,
            ..d
        },
        // Room for some 1000 rows on every chip.
        SegmentationLimits {
            max_memory: model.memory(&empty) + 2_000_000,
            segment_check_insns: 100,
            ..d
        },
        d,
        limits(d.max_trace_height, 1),
    ]
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// What the checked runs exercised, so that the tests can tell they covered every case.
#[derive(Debug, Default)]
struct Coverage {
    runs: usize,
    segments: usize,
    /// Segments cut over the limit with no check point to cut at.
    over_limit_cuts: usize,
    /// Segments after an over-limit cut, whose pages are not only their own.
    after_over_limit: usize,
    /// Segments cut one interval after they began (never checked alone).
    cut_where_begun: usize,
    /// Chips that got instruction rows.
    chips: std::collections::BTreeSet<usize>,
    /// Segments over the limits without the flag (see [`assert_all_flagged`]).
    unflagged: Vec<String>,
}

/// Checks `segments` of a run against the trace: contiguity, heights, limits, cut points.
fn check_segments(
    trace: &Trace,
    model: &Model,
    segments: &[Segment],
    what: &str,
    coverage: &mut Coverage,
) {
    let total = trace.len();
    let k = model.limits.segment_check_insns;
    let mut at = 0;
    for seg in segments {
        assert_eq!(seg.instret_start, at, "{what}: segments are contiguous");
        assert!(seg.num_insns > 0, "{what}: empty segment at {at}");
        at += seg.num_insns;
    }
    assert_eq!(at, total, "{what}: the segments cover the run");
    coverage.runs += 1;
    coverage.segments += segments.len();
    // How a segment began. The first one, and one after an over-limit cut (at a check, with no
    // check point inside the cut segment), begin at that check: the next check evaluates them.
    // One after a cut at the previous check point begins one interval late, at the check that
    // cut: its first interval is never checked on its own. After an over-limit cut the next
    // segment is also charged for the pages the cut one touched, so only its instruction rows
    // are exact ("genuine" = its pages are exactly its own).
    let (mut born_at_start, mut genuine) = (true, true);
    for (i, seg) in segments.iter().enumerate() {
        let what = format!("{what}, segment {i} of {}", segments.len());
        let (start, end) = (seg.instret_start, seg.instret_start + seg.num_insns);
        let born = if born_at_start { start } else { start + k };
        let last = i + 1 == segments.len();
        let heights = &seg.trace_heights;
        assert_eq!(start % k, 0, "{what}: starts at a check point");
        let expected = trace.heights(model, start, end);
        for (chip, &h) in expected.iter().enumerate() {
            if h > 0 && !is_constant(chip) && !is_memory(chip) {
                coverage.chips.insert(chip);
            }
        }
        if !genuine {
            coverage.after_over_limit += 1;
        }
        if genuine {
            assert_eq!(heights, &expected, "{what}: heights");
        } else {
            for chip in 0..heights.len() {
                if is_memory(chip) {
                    assert!(heights[chip] >= expected[chip], "{what}: chip {chip}");
                } else {
                    assert_eq!(heights[chip], expected[chip], "{what}: chip {chip}");
                }
            }
        }
        let violation = model.violation(heights);
        if let Some(reason) = &seg.over_limit {
            assert!(
                violation.is_some(),
                "{what}: flagged over the limit ({reason}) but within"
            );
        }
        if last {
            // Closed by termination; the tail after the last check is not checked, everything
            // up to the last check that evaluated the segment is.
            let last_check = (total - 1) / k * k;
            if genuine && last_check > born {
                let at_check = trace.heights(model, start, last_check);
                assert_eq!(model.violation(&at_check), None, "{what}: at {last_check}");
            }
            break;
        }
        assert_eq!(end % k, 0, "{what}: cut at a check point");
        let over_limit_cut = born_at_start && violation.is_some();
        if over_limit_cut {
            // Cut by the first check that evaluated it, with nothing earlier to cut at.
            assert_eq!(end, start + k, "{what}: one check interval");
            assert!(
                seg.over_limit.is_some(),
                "{what}: over-limit cut not flagged"
            );
            coverage.over_limit_cuts += 1;
        } else {
            // Cut at the previous check point by the check one interval later, which found
            // the longer segment over a limit.
            assert!(end >= born, "{what}: cut before it began");
            assert!(end + k < total, "{what}: cut by a check that ran");
            if genuine {
                let longer = trace.heights(model, start, end + k);
                assert!(
                    model.violation(&longer).is_some(),
                    "{what}: cut at {end} although the check at {} passes",
                    end + k
                );
            }
            if end > born {
                assert_eq!(violation, None, "{what}: passed the check at its end");
            } else {
                coverage.cut_where_begun += 1;
            }
            if let (Some(v), None) = (&violation, &seg.over_limit) {
                // Its only interval, never checked alone, is over a limit by itself.
                coverage.unflagged.push(format!(
                    "{what}: instructions {start}..{end} exceed the limits ({v}) but the \
                     segment is not flagged over_limit"
                ));
            }
        }
        born_at_start = over_limit_cut;
        genuine = !over_limit_cut;
    }
}

/// The cost implied by segments: the instruction rows of all segments times the widths.
fn cost_of_segments(segments: &[Segment]) -> u64 {
    let r = reference();
    segments
        .iter()
        .flat_map(|s| s.trace_heights.iter().enumerate())
        .filter(|&(chip, _)| !is_constant(chip) && !is_memory(chip))
        .map(|(chip, &h)| u64::from(h) * u64::from(r.airs[chip].width))
        .sum()
}

fn assert_same_state(a: &VmState, b: &VmState, what: &str) {
    assert_eq!(a.regs, b.regs, "{what}: regs");
    assert_eq!(a.pc, b.pc, "{what}: pc");
    assert_eq!(a.instret, b.instret, "{what}: instret");
    assert_eq!(a.exit_code, b.exit_code, "{what}: exit code");
    assert_eq!(a.public_values, b.public_values, "{what}: public values");
    assert_eq!(a.streams, b.streams, "{what}: streams");
    assert_eq!(a.rng, b.rng, "{what}: rng");
    assert!(a.memory == b.memory, "{what}: memory");
    assert_eq!(a, b, "{what}: the whole state");
}

/// Metered and cost runs of `program` checked against `trace`: segments, cost, final states,
/// determinism.
fn check_modes(
    program: &Arc<Program>,
    inputs: &[Vec<u8>],
    trace: &Trace,
    what: &str,
    coverage: &mut Coverage,
) {
    let model = Model::new(program);
    let (segments, state) = metered(program).execute_metered(inputs.to_vec()).unwrap();
    check_segments(trace, &model, &segments, what, coverage);
    assert_same_state(&state, &trace.final_state, &format!("{what}: metered"));
    let again = metered(program).execute_metered(inputs.to_vec()).unwrap();
    assert_eq!(again.0, segments, "{what}: deterministic");
    let (report, state) = costed(program)
        .execute_metered_cost(inputs.to_vec())
        .unwrap();
    assert_eq!(
        report.cost,
        trace.cost[trace.len() as usize],
        "{what}: cost"
    );
    assert_eq!(report.cost, cost_of_segments(&segments), "{what}");
    assert_eq!(report.instret, trace.len(), "{what}");
    assert!(!report.exceeded, "{what}");
    assert_same_state(&state, &trace.final_state, &format!("{what}: cost"));
}

/// Every segment not flagged `over_limit` is within the limits. Checked last, once all the
/// other properties held for every run.
fn assert_all_flagged(coverage: &Coverage) {
    let found = &coverage.unflagged;
    assert!(
        found.is_empty(),
        "{} segments over the limits are not flagged over_limit; the first ones:\n{}",
        found.len(),
        found[..found.len().min(5)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Suspension
// ---------------------------------------------------------------------------------------------

/// How a suspended state travels to the next run.
#[derive(Clone, Copy, Debug)]
enum Carry {
    InMemory,
    Bytes,
    File,
}

fn carry(state: VmState, how: Carry, dir: &tempfile::TempDir) -> VmState {
    match how {
        Carry::InMemory => state,
        Carry::Bytes => VmState::from_bytes(&state.to_bytes().unwrap()).unwrap(),
        Carry::File => {
            let path = dir.path().join("state.bin");
            state.save(&path).unwrap();
            VmState::load(&path).unwrap()
        }
    }
}

/// Runs metered with suspensions at the instrets `stops` (increasing, before the end).
fn metered_in_pieces(
    program: &Arc<Program>,
    inputs: &[Vec<u8>],
    stops: &[u64],
    how: impl Fn(usize) -> Carry,
) -> (Vec<Segment>, VmState) {
    let dir = tempfile::tempdir().unwrap();
    let instance = metered(program);
    let mut state = instance.initial_state(inputs.to_vec()).unwrap();
    let mut segments = Vec::new();
    for (n, &stop) in stops.iter().enumerate() {
        if n % 5 == 4 {
            // A run of no instructions changes nothing, even at a check point.
            let before = state.clone();
            let (none, same) = instance.execute_metered_from_state(state, Some(0)).unwrap();
            assert!(none.is_empty());
            assert_eq!(same, before);
            state = same;
        }
        let limit = stop - state.instret;
        let (more, next) = instance
            .execute_metered_from_state(state, Some(limit))
            .unwrap();
        assert_eq!(next.instret, stop, "suspended exactly at the limit");
        assert!(!next.is_terminated() && next.segmentation.is_some());
        assert!(more.iter().all(|s| s.instret_start + s.num_insns <= stop));
        segments.extend(more);
        state = carry(next, how(n), &dir);
    }
    let (more, state) = instance.execute_metered_from_state(state, None).unwrap();
    segments.extend(more);
    (segments, state)
}

/// Runs metered-cost with suspensions at `stops`; checks the cost at each against `trace`.
fn cost_in_pieces(
    program: &Arc<Program>,
    inputs: &[Vec<u8>],
    stops: &[u64],
    how: impl Fn(usize) -> Carry,
    trace: Option<&Trace>,
) -> (u64, VmState) {
    let dir = tempfile::tempdir().unwrap();
    let instance = costed(program);
    let mut state = instance.initial_state(inputs.to_vec()).unwrap();
    for (n, &stop) in stops.iter().enumerate() {
        let limit = stop - state.instret;
        let (report, next) = instance
            .execute_metered_cost_from_state(state, Some(limit))
            .unwrap();
        assert_eq!((next.instret, report.instret), (stop, stop));
        assert!(!report.exceeded && !next.is_terminated());
        if let Some(trace) = trace {
            assert_eq!(report.cost, trace.cost[stop as usize], "cost after {stop}");
        }
        assert_eq!(next.cost.map(|c| c.cost), Some(report.cost));
        state = carry(next, how(n), &dir);
    }
    let (report, state) = instance
        .execute_metered_cost_from_state(state, None)
        .unwrap();
    assert!(!report.exceeded);
    (report.cost, state)
}

/// `count` random distinct instrets in `1..total`, increasing.
fn random_stops(rng: &mut TestRng, total: u64, count: usize) -> Vec<u64> {
    let mut stops: Vec<u64> = (0..count).map(|_| rng.range(1, total - 1)).collect();
    stops.sort_unstable();
    stops.dedup();
    stops
}

/// Every `step`-th instret.
fn regular_stops(total: u64, step: u64) -> Vec<u64> {
    (1..total).filter(|i| i % step == 0).collect()
}

/// Suspends and resumes metered and cost runs at `stops`, carried in every way, and compares
/// with the uninterrupted runs.
fn check_suspension(
    program: &Arc<Program>,
    inputs: &[Vec<u8>],
    stops: &[u64],
    trace: Option<&Trace>,
    what: &str,
) {
    let (segments, state) = metered(program).execute_metered(inputs.to_vec()).unwrap();
    let (report, _) = costed(program)
        .execute_metered_cost(inputs.to_vec())
        .unwrap();
    // Snapshots scan the whole guest memory: every fourth piece through bytes, every 32nd
    // through a file, the others in memory.
    let how = |n: usize| match n % 32 {
        31 => Carry::File,
        n if n % 4 == 3 => Carry::Bytes,
        _ => Carry::InMemory,
    };
    let (pieces, resumed) = metered_in_pieces(program, inputs, stops, how);
    let what = format!("{what}, suspended at {} points", stops.len());
    assert_eq!(pieces, segments, "{what}: segments");
    assert_same_state(&resumed, &state, &format!("{what}: metered"));
    let (cost, resumed) = cost_in_pieces(program, inputs, stops, how, trace);
    assert_eq!(cost, report.cost, "{what}: cost");
    assert_same_state(&resumed, &state, &format!("{what}: cost"));
}

/// Stops a cost run with `max_cost`, checks where, and resumes it with a larger maximum.
fn check_max_cost(program: &Arc<Program>, inputs: &[Vec<u8>], trace: &Trace, max_cost: u64) {
    let total = trace.len() as usize;
    let what = format!("max cost {max_cost} (full cost {})", trace.cost[total]);
    // The first instruction before which the cost exceeds the maximum (never the start).
    let stop = (0..total).find(|&i| trace.cost[i] > max_cost);
    let instance = costed(program).with_max_cost(max_cost);
    let (report, state) = instance.execute_metered_cost(inputs.to_vec()).unwrap();
    assert_eq!(report.max_cost, max_cost, "{what}");
    let Some(stop) = stop else {
        assert!(!report.exceeded, "{what}");
        assert_eq!(report.cost, trace.cost[total], "{what}");
        assert_same_state(&state, &trace.final_state, &what);
        return;
    };
    assert!(report.exceeded, "{what}: exceeded");
    assert_eq!(
        report.instret, stop as u64,
        "{what}: stops before instruction {stop}"
    );
    assert_eq!(state.instret, stop as u64, "{what}");
    assert_eq!(report.cost, trace.cost[stop], "{what}");
    assert!(!state.is_terminated(), "{what}");
    // Still over the same maximum: nothing more runs.
    let (again, state) = instance
        .execute_metered_cost_from_state(state, None)
        .unwrap();
    assert!(
        again.exceeded && again.instret == stop as u64,
        "{what}: again"
    );
    // Through a saved state, with a larger maximum: runs to the end.
    let state = VmState::from_bytes(&state.to_bytes().unwrap()).unwrap();
    let larger = costed(program).with_max_cost(trace.cost[total]);
    let (report, state) = larger.execute_metered_cost_from_state(state, None).unwrap();
    assert!(!report.exceeded, "{what}: resumed");
    assert_eq!(report.cost, trace.cost[total], "{what}: resumed");
    assert_same_state(&state, &trace.final_state, &format!("{what}: resumed"));
}

/// Structural checks that need no trace: contiguity, check points, limits, flagged cuts.
fn check_segments_shape(model: &Model, segments: &[Segment], total: u64, what: &str) {
    let k = model.limits.segment_check_insns;
    let mut at = 0;
    for (i, seg) in segments.iter().enumerate() {
        let what = format!("{what}, segment {i} of {}", segments.len());
        assert_eq!(seg.instret_start, at, "{what}: contiguous");
        assert!(seg.num_insns > 0, "{what}: not empty");
        assert_eq!(at % k, 0, "{what}: starts at a check point");
        at += seg.num_insns;
        for (chip, &h) in seg.trace_heights.iter().enumerate() {
            if is_constant(chip) {
                assert_eq!(h, model.base[chip], "{what}: constant chip {chip}");
            }
        }
        let last = i + 1 == segments.len();
        match seg.over_limit {
            Some(_) => assert!(model.violation(&seg.trace_heights).is_some(), "{what}"),
            None if !last => {
                assert_eq!(model.violation(&seg.trace_heights), None, "{what}");
            }
            None => {}
        }
    }
    assert_eq!(at, total, "{what}: the segments cover the run");
}

// ---------------------------------------------------------------------------------------------
// Random programs
// ---------------------------------------------------------------------------------------------

const RANDOM_PROGRAMS: u64 = 100;

/// Suspension schedules and cost maxima for one program, all checked against its trace.
fn check_random_suspensions(program: &Arc<Program>, p: &RandomProgram, trace: &Trace, seed: u64) {
    let total = trace.len();
    let mut rng = TestRng::new(seed);
    let k = program.config().system().segmentation.segment_check_insns;
    let stops = if total <= 2_500 {
        // Every few instructions, with the step around the check interval now and then.
        let steps = [1, 2, 3, k, k + 1, 13];
        let step = steps[rng.range(0, steps.len() as u64 - 1) as usize].max(total / 400);
        regular_stops(total, step)
    } else {
        random_stops(&mut rng, total, 40)
    };
    let what = format!("seed {seed}, check every {k}");
    check_suspension(program, &p.inputs, &stops, Some(trace), &what);
    let full = trace.cost[total as usize];
    let some_step = rng.range(1, total - 1) as usize;
    for max_cost in [
        0,
        rng.range(1, full),
        trace.cost[some_step],
        trace.cost[some_step] - 1,
        full - 1,
        full,
    ] {
        check_max_cost(program, &p.inputs, trace, max_cost);
    }
}

/// Everything about the random programs of `seeds`, under every limit of [`segmenting_limits`].
fn check_random_programs(seeds: std::ops::Range<u64>) {
    let mut coverage = Coverage::default();
    let mut per_limits = vec![0; 9];
    for seed in seeds {
        let p = random::generate(seed);
        let traced = random_program(&p, SegmentationLimits::default());
        let all_limits = segmenting_limits(&traced);
        let trace = record(&traced, &p.inputs);
        let state = pure(&traced).execute(p.inputs.clone()).unwrap();
        assert_same_state(&state, &trace.final_state, &format!("seed {seed}: stepped"));
        for (i, &limits) in all_limits.iter().enumerate() {
            let program = random_program(&p, limits);
            let what = format!("seed {seed}, limits {i}");
            let before = coverage.segments;
            check_modes(&program, &p.inputs, &trace, &what, &mut coverage);
            per_limits[i] += coverage.segments - before - 1;
        }
        // Suspension on one of the segmenting limits, a different one per seed.
        let program = random_program(&p, all_limits[seed as usize % 7]);
        check_random_suspensions(&program, &p, &trace, seed);
    }
    // Every instruction chip, every segmenting limit and every kind of cut was exercised.
    let instruction_chips = (0..reference().airs.len())
        .filter(|&c| !is_constant(c) && !is_memory(c))
        .count();
    assert_eq!(coverage.chips.len(), instruction_chips, "{coverage:?}");
    assert!(
        per_limits[..7].iter().all(|&cuts| cuts >= 20),
        "{per_limits:?}"
    );
    assert!(coverage.segments > 10 * coverage.runs, "{coverage:?}");
    assert!(
        coverage.over_limit_cuts > 0 && coverage.after_over_limit > 0,
        "{coverage:?}"
    );
    assert!(coverage.cut_where_begun > 0, "{coverage:?}");
    assert_all_flagged(&coverage);
}

#[test]
fn random_programs_are_deterministic_and_never_fault() {
    let mut sizes = Vec::new();
    for seed in 0..RANDOM_PROGRAMS {
        let p = random::generate(seed);
        assert_eq!(
            random::random_program(seed),
            (p.code.clone(), p.inputs.clone())
        );
        let program = random_program(&p, SegmentationLimits::default());
        let state = pure(&program)
            .execute(p.inputs.clone())
            .unwrap_or_else(|e| panic!("seed {seed} faults: {e}"));
        assert_eq!(state.exit_code, Some(0), "seed {seed}");
        assert!(
            state.streams.input.is_empty(),
            "seed {seed} reads every record"
        );
        sizes.push(state.instret);
    }
    sizes.sort_unstable();
    assert!(
        sizes[0] >= 50 && sizes[sizes.len() - 1] <= 60_000,
        "{sizes:?}"
    );
    assert!(
        sizes.iter().filter(|&&n| n > 10_000).count() >= 10,
        "{sizes:?}"
    );
    assert!(
        sizes.iter().filter(|&&n| n < 2_000).count() >= 10,
        "{sizes:?}"
    );
    assert_ne!(random::generate(1).code, random::generate(2).code);
}

#[test]
fn random_programs_metering_part_1() {
    check_random_programs(0..RANDOM_PROGRAMS / 4);
}

#[test]
fn random_programs_metering_part_2() {
    check_random_programs(RANDOM_PROGRAMS / 4..RANDOM_PROGRAMS / 2);
}

#[test]
fn random_programs_metering_part_3() {
    check_random_programs(RANDOM_PROGRAMS / 2..RANDOM_PROGRAMS * 3 / 4);
}

#[test]
fn random_programs_metering_part_4() {
    check_random_programs(RANDOM_PROGRAMS * 3 / 4..RANDOM_PROGRAMS);
}

/// A cut at the previous check point moves the last interval into the next segment, which is
/// not checked on its own at that point (as in the reference). When that interval alone is
/// over a limit, the next check cuts it off again at the same place, as a segment of its own
/// that is over the limit: it must say so.
#[test]
fn an_oversized_interval_moved_by_a_cut_is_flagged() {
    let mut a = Asm::new();
    a.emit(li(10, DATA)).op(addi(11, 0, 300));
    for i in 0..20 {
        a.op(addi(12, 12, i));
    }
    // 300 words from DATA: three new pages besides the registers, 4 x 282 Poseidon2 rows.
    a.op(hintrandom(11)).op(hintbuffer(10, 11));
    for i in 0..20 {
        a.op(addi(12, 12, i));
    }
    a.op(terminate(0));
    let words = a.finish();
    let hintbuffer_at = 2 + 1 + 20 + 1;
    let config = exec_config_with(POINTER_MAX_BITS, limits(1024, 1));
    let program = Arc::new(Program::from_segments(
        BASE,
        vec![code_segment(BASE, &words)],
        config,
    ));
    let model = Model::new(&program);
    let trace = record(&program, &[]);
    let (segments, _) = metered(&program).execute_metered([]).unwrap();
    let starts: Vec<u64> = segments.iter().map(|s| s.instret_start).collect();
    // Cut before the hintbuffer (at the check after it), then right after it.
    assert_eq!(
        starts,
        [0, hintbuffer_at, hintbuffer_at + 1],
        "{segments:?}"
    );
    let alone = &segments[1];
    assert_eq!(
        alone.trace_heights,
        trace.heights(&model, hintbuffer_at, hintbuffer_at + 1)
    );
    let violation = model.violation(&alone.trace_heights);
    assert!(violation.is_some());
    assert!(
        alone.over_limit.is_some(),
        "instructions {hintbuffer_at}..{} are over the limits ({}) but not flagged",
        hintbuffer_at + 1,
        violation.unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// The bundled guests
// ---------------------------------------------------------------------------------------------

/// The trace of the fibonacci guest (n = 2000), shared by the tests that need it.
fn fibonacci_trace() -> &'static Trace {
    static TRACE: OnceLock<Trace> = OnceLock::new();
    TRACE.get_or_init(|| {
        let program = guest_program(
            "fibonacci",
            GUEST_POINTER_BITS,
            SegmentationLimits::default(),
        );
        record(&program, &guest_inputs()[0].1)
    })
}

#[test]
fn small_guests_metering_matches_the_model() {
    // The model knows RV32IM and the IO instructions: every bundled guest built for that
    // configuration has inputs here. (The extension guests' rows and pages are checked in
    // tests/extensions.rs and across backends in tests/diff.rs.)
    let mut names: Vec<&str> = guest_inputs().iter().map(|(name, _)| *name).collect();
    let mut bundled: Vec<&str> = guests::ALL
        .iter()
        .filter(|g| {
            let extensions = g.config().unwrap().extensions();
            extensions
                .iter()
                .all(|e| ["rv32i", "rv32m", "io"].contains(&e.name()))
        })
        .map(|g| g.name)
        .collect();
    names.sort_unstable();
    bundled.sort_unstable();
    assert_eq!(names, bundled, "every RV32IM bundled guest has inputs here");
    let mut coverage = Coverage::default();
    for (name, inputs) in guest_inputs() {
        if name == "cpubench" {
            continue;
        }
        let traced = guest_program(name, GUEST_POINTER_BITS, SegmentationLimits::default());
        let own;
        let trace = if name == "fibonacci" {
            fibonacci_trace()
        } else {
            own = record(&traced, &inputs);
            &own
        };
        assert_eq!(trace.final_state.exit_code, Some(0), "{name}");
        for (i, &limits) in segmenting_limits(&traced).iter().enumerate() {
            let program = guest_program(name, GUEST_POINTER_BITS, limits);
            let what = format!("{name}, limits {i}");
            check_modes(&program, &inputs, trace, &what, &mut coverage);
        }
        let mut rng = TestRng::new(7);
        let total = trace.len();
        let program = guest_program(name, GUEST_POINTER_BITS, limits(2048, 7));
        let stops = if total < 2_000 {
            regular_stops(total, 1)
        } else {
            random_stops(&mut rng, total, 50)
        };
        check_suspension(&program, &inputs, &stops, Some(trace), name);
        let full = trace.cost[total as usize];
        for max_cost in [rng.range(1, full), full / 2, full - 1] {
            check_max_cost(&program, &inputs, trace, max_cost);
        }
    }
    assert!(coverage.segments > 2 * coverage.runs, "{coverage:?}");
    assert!(
        coverage.over_limit_cuts > 0 && coverage.after_over_limit > 0,
        "{coverage:?}"
    );
    assert_all_flagged(&coverage);
}

#[test]
fn cpubench_segments_are_consistent() {
    let inputs = guest_inputs()[2].1.clone();
    let d = SegmentationLimits::default();
    let all = [
        d,
        limits(1 << 15, 100),
        SegmentationLimits {
            max_interactions: 3_000_000,
            ..d
        },
    ];
    let mut rng = TestRng::new(11);
    for (i, &limits) in all.iter().enumerate() {
        let what = format!("cpubench, limits {i}");
        let program = guest_program("cpubench", GUEST_POINTER_BITS, limits);
        let model = Model::new(&program);
        let final_state = pure(&program).execute(inputs.clone()).unwrap();
        assert_eq!(final_state.exit_code, Some(0));
        let (segments, state) = metered(&program).execute_metered(inputs.clone()).unwrap();
        check_segments_shape(&model, &segments, final_state.instret, &what);
        assert!(
            i == 0 || segments.len() > 20,
            "{what}: {} segments",
            segments.len()
        );
        assert_same_state(&state, &final_state, &what);
        let again = metered(&program).execute_metered(inputs.clone()).unwrap();
        assert_eq!(again.0, segments, "{what}: deterministic");
        let (report, state) = costed(&program)
            .execute_metered_cost(inputs.clone())
            .unwrap();
        assert_eq!(report.cost, cost_of_segments(&segments), "{what}: cost");
        assert_same_state(&state, &final_state, &what);
        let stops = random_stops(&mut rng, final_state.instret, 4);
        check_suspension(&program, &inputs, &stops, None, &what);
    }
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

fn rvx_json(args: &[&str]) -> Value {
    json_of(std::process::Command::new(env!("CARGO_BIN_EXE_rvx")).args(args))
}

fn json_segments(json: &Value) -> Vec<(u64, u64, Vec<u32>)> {
    json["segments"]
        .as_array()
        .expect("a segments array")
        .iter()
        .map(|s| {
            let heights = s["trace_heights"].as_array().unwrap();
            (
                s["instret_start"].as_u64().unwrap(),
                s["num_insns"].as_u64().unwrap(),
                heights.iter().map(|h| h.as_u64().unwrap() as u32).collect(),
            )
        })
        .collect()
}

#[test]
fn cli_reports_segments_and_cost() {
    let inputs = guest_inputs()[0].1.clone();
    let hex = hex::encode(&inputs[0]);
    // The command line uses the default configuration.
    let program = Arc::new(
        Program::from_elf(
            guests::find("fibonacci").unwrap().elf,
            &Rv32ImConfig::default(),
        )
        .unwrap(),
    );
    let (segments, state) = metered(&program).execute_metered(inputs.clone()).unwrap();
    let expected: Vec<_> = segments
        .iter()
        .map(|s| (s.instret_start, s.num_insns, s.trace_heights.clone()))
        .collect();
    let trace = fibonacci_trace();
    let model = Model::new(&program);
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0].2, trace.heights(&model, 0, trace.len()));

    let json = rvx_json(&[
        "run",
        "fibonacci",
        "--input-hex",
        &hex,
        "--mode",
        "metered",
        "--json",
    ]);
    assert_eq!(json["instret"].as_u64(), Some(state.instret));
    assert_eq!(json["exit_code"].as_u64(), Some(0));
    assert_eq!(json_segments(&json), expected);

    let json = rvx_json(&[
        "run",
        "fibonacci",
        "--input-hex",
        &hex,
        "--mode",
        "cost",
        "--json",
    ]);
    let full = trace.cost[trace.len() as usize];
    assert_eq!(json["cost"].as_u64(), Some(full));
    assert_eq!(json["cost_exceeded"].as_bool(), Some(false));
    assert_eq!(json["instret"].as_u64(), Some(state.instret));

    // Stopped by --max-cost before the first instruction that finds the cost above it.
    let max_cost = full / 3;
    let stop = (0..trace.len()).find(|&i| trace.cost[i as usize] > max_cost);
    let json = rvx_json(&[
        "run",
        "fibonacci",
        "--input-hex",
        &hex,
        "--mode",
        "cost",
        "--max-cost",
        &max_cost.to_string(),
        "--json",
    ]);
    assert_eq!(json["status"].as_str(), Some("suspended"));
    assert_eq!(json["cost_exceeded"].as_bool(), Some(true));
    assert_eq!(json["instret"].as_u64(), stop);
    assert_eq!(json["cost"].as_u64(), stop.map(|i| trace.cost[i as usize]));

    // Suspended in one process, resumed in another: the open segment travels in the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fib.state");
    let file = file.to_str().unwrap();
    let limit = (state.instret / 3).to_string();
    let json = rvx_json(&[
        "run",
        "fibonacci",
        "--input-hex",
        &hex,
        "--mode",
        "metered",
        "--limit",
        &limit,
        "--save-state",
        file,
        "--json",
    ]);
    let mut pieces = json_segments(&json);
    let json = rvx_json(&[
        "run",
        "fibonacci",
        "--resume",
        file,
        "--mode",
        "metered",
        "--json",
    ]);
    pieces.extend(json_segments(&json));
    assert_eq!(pieces, expected);
}
