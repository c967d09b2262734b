//! The block description the machine-code emitters work from: the program's blocks
//! ([`form_blocks`]) with what each adds to its mode's meter, which code indices compiled code
//! may be entered at, and which guest registers deserve host registers.
//!
//! Every emitter (x86-64, aarch64) reads the same plan, so they agree on where blocks start,
//! what they count and when they stop; only the instructions they emit differ.

use crate::backend::rvr::LiftMode;
use crate::metering::PackedLayout;
use crate::program::blocks::{backward_branches, form_blocks, loop_depths, loop_weight, Block};
use crate::program::decode::{READS_RS1, READS_RS2, WRITES_RD};
use crate::program::Program;

/// One block of the plan.
#[derive(Debug, Clone)]
pub struct PlannedBlock {
    /// The instructions.
    pub block: Block,
    /// The guest address of its first instruction.
    pub pc: u32,
    /// Whether a backward branch targets its start.
    pub loop_head: bool,
}

/// What an emitter needs to know about a program beyond its instructions.
#[derive(Debug, Clone)]
pub struct CodePlan {
    /// The mode the code meters.
    pub mode: LiftMode,
    /// The blocks, in code order, covering every instruction.
    pub blocks: Vec<PlannedBlock>,
    /// Per code index: the number in `blocks` of the block starting there, or `u32::MAX`
    /// (blocks' starts are the only places compiled code is entered at; a jump anywhere else
    /// hands off).
    pub block_at: Vec<u32>,
    /// The packed row counters (metered mode).
    pub layout: PackedLayout,
    /// Guest registers x1..x31, most used first (loop-weighted).
    pub register_rank: Vec<u8>,
    /// The guest address of code index 0.
    pub base: u32,
    /// Guest memory size in bytes.
    pub memory_size: u64,
}

impl CodePlan {
    /// The plan of `program` for code that meters `mode`.
    pub fn new(program: &Program, mode: LiftMode) -> CodePlan {
        let tables = program.meter_tables();
        let formed = form_blocks(program, mode != LiftMode::Pure);
        let loops = backward_branches(program);
        let depths = loop_depths(program.code().len(), &loops);
        let mut loop_heads: Vec<usize> = loops.iter().map(|&(target, _)| target).collect();
        loop_heads.sort_unstable();
        // Blocks come in code order: one walk over the sorted heads serves them all.
        let mut heads = loop_heads.iter().peekable();
        let check = program.config().system().segmentation.segment_check_insns;
        let layout = match mode {
            LiftMode::Metered => PackedLayout::new(tables, &formed, &depths, check),
            _ => PackedLayout::empty(),
        };
        let blocks: Vec<PlannedBlock> = formed
            .into_iter()
            .map(|block| PlannedBlock {
                block,
                pc: program.pc_of(block.start),
                loop_head: {
                    while heads.next_if(|&&head| head < block.start).is_some() {}
                    heads.peek() == Some(&&block.start)
                },
            })
            .collect();
        let mut block_at = vec![u32::MAX; program.code().len()];
        for (n, planned) in blocks.iter().enumerate() {
            block_at[planned.block.start] = n as u32;
        }
        CodePlan {
            mode,
            blocks,
            block_at,
            layout,
            register_rank: rank_by_use(program, 0..program.code().len(), &depths)
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
            base: program.base(),
            memory_size: program.config().system().memory_size(),
        }
    }

    /// Metered mode: what `block` of `program` adds to the packed counters, (word, constant)
    /// in word order, into `adds` (cleared first). Computed when asked rather than kept for
    /// every block: a program has many, and the memory cost more than the work.
    pub fn packed_adds_into(
        &self,
        program: &Program,
        block: &PlannedBlock,
        adds: &mut Vec<(usize, u64)>,
    ) {
        adds.clear();
        if self.mode == LiftMode::Metered && !block.block.handoff {
            let chips = &program.meter_tables().fetch_chip[block.block.start..block.block.end];
            self.layout.range_adds_into(chips, adds);
        }
    }

    /// Cost mode: the cost of `block` of `program`.
    pub fn cost_of(&self, program: &Program, block: &PlannedBlock) -> u64 {
        match self.mode {
            LiftMode::Cost if !block.block.handoff => program
                .meter_tables()
                .range_cost(block.block.start, block.block.end),
            _ => 0,
        }
    }
}

/// The mask that tells in one test whether a `size`-byte access at an address is valid in a
/// guest memory of `memory_size` bytes, when that is a power of two: the address must be
/// aligned (its low bits clear) and below the memory's size (its high bits clear; an aligned
/// access below a power-of-two size also ends within it). `None` for other sizes.
pub fn access_mask(memory_size: u64, size: u32) -> Option<u32> {
    if !memory_size.is_power_of_two() || memory_size > 1 << 32 || u64::from(size) > memory_size {
        return None;
    }
    let high = !((memory_size - 1) as u32);
    Some(high | (size - 1))
}

/// Guest registers x1..x31 ordered by how often compiled code is likely to use them: each
/// read or write counts its instruction's loop weight ([`loop_weight`]).
pub fn rank_registers(program: &Program) -> Vec<u8> {
    let depths = loop_depths(program.code().len(), &backward_branches(program));
    rank_by_use(program, 0..program.code().len(), &depths)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// Guest registers x1..x31 with their uses by the instructions `range`, each counting its
/// weight, most used first. A write counts twice: a register kept in memory costs a load where
/// it is read but a store where it is written, and the store's value is usually read again
/// soon, through memory.
fn rank_by_use(program: &Program, range: std::ops::Range<usize>, depths: &[u8]) -> Vec<(u8, u64)> {
    // Indexed by any register field, so that every instruction adds to all three without a
    // branch (a field it does not use adds 0); x0 and the scratch slot are counted, not ranked.
    let mut uses = [0u64; 256];
    for (insn, &d) in program.code()[range.clone()].iter().zip(&depths[range]) {
        let w = loop_weight(d);
        let fields = insn.op.register_fields();
        uses[usize::from(insn.rs1)] += w * u64::from(fields & READS_RS1);
        uses[usize::from(insn.rs2)] += w * u64::from((fields & READS_RS2) >> 1);
        uses[usize::from(insn.rd)] += 2 * w * u64::from((fields & WRITES_RD) >> 2);
    }
    let mut rank: Vec<(u8, u64)> = (1..32).map(|r| (r, uses[usize::from(r)])).collect();
    rank.sort_by_key(|&(r, n)| (std::cmp::Reverse(n), r));
    rank
}

/// Which guest registers compiled code keeps in its register slots, per region of the
/// program.
///
/// A single program-wide choice is a guess about which loop is hot, and a wrong one leaves a
/// hot loop's registers in memory. So each *loop region* (a maximal stretch of code spanned by
/// backward branches and their targets) gets the slots for the registers it uses most, and
/// the rest of the code, and every place code is entered indirectly or left, uses the default
/// map. A region's map keeps the default map's registers in the same slots wherever it can,
/// so that moving between a region and the rest of the code moves only the registers that
/// differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterMaps {
    /// `maps[m][slot]`: the guest register code using map `m` keeps in `slot`. Map 0 is the
    /// default.
    pub maps: Vec<Vec<u8>>,
    /// Per code index, the map its code uses.
    pub map_of: Vec<u32>,
}

impl RegisterMaps {
    /// The maps of `program` for code with `slots` register slots.
    pub fn new(program: &Program, slots: usize) -> RegisterMaps {
        let len = program.code().len();
        let loops = backward_branches(program);
        let depths = loop_depths(len, &loops);
        let default: Vec<u8> = rank_by_use(program, 0..len, &depths)
            .into_iter()
            .take(slots)
            .map(|(r, _)| r)
            .collect();
        let mut spans: Vec<(usize, usize)> = loops
            .iter()
            .map(|&(target, branch)| (target, branch + 1))
            .collect();
        spans.sort_unstable();
        let mut regions: Vec<(usize, usize)> = Vec::new();
        for (start, end) in spans {
            match regions.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => regions.push((start, end)),
            }
        }
        let mut maps = vec![default.clone()];
        let mut map_of = vec![0u32; len];
        for (start, end) in regions {
            let hot: Vec<u8> = rank_by_use(program, start..end, &depths)
                .into_iter()
                .filter(|&(_, n)| n > 0)
                .take(slots)
                .map(|(r, _)| r)
                .collect();
            // Start from the default map; give the slots of registers the region does not
            // need to the hot ones it lacks.
            let mut map = default.clone();
            let lacking: Vec<u8> = hot.iter().copied().filter(|r| !map.contains(r)).collect();
            let mut missing = lacking.iter();
            for slot in map.iter_mut() {
                if !hot.contains(slot) {
                    match missing.next() {
                        Some(&r) => *slot = r,
                        None => break,
                    }
                }
            }
            let id = match maps.iter().position(|m| *m == map) {
                Some(id) => id,
                None => {
                    maps.push(map);
                    maps.len() - 1
                }
            };
            map_of[start..end].fill(id as u32);
        }
        RegisterMaps { maps, map_of }
    }
}
