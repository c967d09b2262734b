//! Per-program metering tables, computed once from the program and its configuration.

use super::estimate::ChipMemoryShape;
use crate::config::ExecutionConfig;
use crate::extension::ChipHeight;
use crate::program::{Op, Program, NO_EXECUTOR};

/// What metering needs to know about a program, indexed like [`Program::code`].
#[derive(Debug, Clone)]
pub struct MeterTables {
    /// For each code entry, the chip one row is added to when it executes, or the number of
    /// chips (a sink slot past the last chip) for none: terminate, faults, hint stores and
    /// extension instructions that report their own rows, whose rows depend on their operands.
    pub fetch_chip: Vec<u16>,
    /// For each code entry, the cost of those rows (the chip's width), 0 for none.
    pub fetch_cost: Vec<u32>,
    /// For each code entry, the cost of the fixed rows from it to the end of its basic block.
    pub block_cost: Vec<u64>,
    /// The largest entry of `fetch_cost`: no instruction adds more fixed cost.
    pub max_fetch_cost: u64,
    /// The hint-store chip, if the configuration has one.
    pub hint_chip: Option<usize>,
    /// The hint-store chip's width.
    pub hint_cost: u32,
    /// Chip widths, in chip-table order.
    pub widths: Vec<u32>,
    /// Interactions per row of each chip.
    pub interactions: Vec<u32>,
    /// What the proving-memory estimate needs of each chip.
    pub memory_shapes: Vec<ChipMemoryShape>,
    /// Whether each chip's height is constant.
    pub constant: Vec<bool>,
    /// The heights before anything executes: constant heights, zero elsewhere.
    pub base_heights: Vec<u32>,
    /// The memory boundary chip.
    pub boundary_chip: usize,
    /// The memory Merkle-tree chip.
    pub merkle_chip: usize,
    /// The Poseidon2 chip (second to last, as in the reference).
    pub poseidon2_chip: usize,
    /// The chips that the program's extension instructions reporting their own rows
    /// ([`crate::extension::Metering::Reported`]) may add rows to, in increasing order.
    pub reported_chips: Vec<usize>,
    /// Merkle-tree nodes charged per touched page besides its leaves: `2^6 - 1` inside the page
    /// plus one per level above it.
    pub nodes_per_page: u32,
}

/// log2 of the memory blocks (8 bytes each) in a metering page: a page is 512 bytes.
pub const PAGE_BLOCKS_BITS: u32 = 6;
/// log2 of a metering page's size in bytes.
pub const PAGE_BYTES_BITS: u32 = PAGE_BLOCKS_BITS + 3;
/// log2 of the number of address spaces in the reference's memory tree.
const ADDRESS_SPACE_HEIGHT: u32 = 3;

impl MeterTables {
    /// Computes the tables of `program`.
    pub fn new(program: &Program) -> MeterTables {
        let config: &ExecutionConfig = program.config();
        let chips = config.chips().chips();
        let widths: Vec<u32> = chips.iter().map(|c| c.width).collect();
        let executor_chip = config.executor_idx_to_air_idx();
        let mut fetch_chip = Vec::with_capacity(program.code().len());
        for (insn, &executor) in program.code().iter().zip(program.executors()) {
            let dynamic = matches!(insn.op, Op::HintStoreW | Op::HintBuffer)
                || program.reports_metering(insn);
            let chip = if executor == NO_EXECUTOR || dynamic {
                chips.len() as u16
            } else {
                executor_chip[executor as usize] as u16
            };
            fetch_chip.push(chip);
        }
        let fetch_cost: Vec<u32> = fetch_chip
            .iter()
            .map(|&c| widths.get(usize::from(c)).copied().unwrap_or(0))
            .collect();
        let mut block_cost = vec![0u64; fetch_cost.len()];
        for i in (0..fetch_cost.len()).rev() {
            let rest = if program.code()[i].op.ends_block() || i + 1 == fetch_cost.len() {
                0
            } else {
                block_cost[i + 1]
            };
            block_cost[i] = u64::from(fetch_cost[i]) + rest;
        }
        let hint_chip = config
            .executor_of(crate::extension::io::opcodes::HINT_STOREW)
            .map(|e| executor_chip[e]);
        let base_heights = chips
            .iter()
            .map(|c| match c.height {
                ChipHeight::Variable => 0,
                ChipHeight::Constant(h) => h,
                ChipHeight::ProgramLength => program.len() as u32,
            })
            .collect();
        let find = |name: &str| {
            config
                .chips()
                .index_of(name)
                .expect("system chips are always present")
        };
        let pointer_bits = config.system().pointer_max_bits;
        let mut reported_chips: Vec<usize> = (program.custom().iter())
            .filter(|insn| insn.metering == crate::extension::Metering::Reported)
            .flat_map(|insn| {
                let entry = &config.executors()[insn.executor_idx];
                std::iter::once(entry.air_idx).chain(entry.extra_airs.iter().copied())
            })
            .collect();
        reported_chips.sort_unstable();
        reported_chips.dedup();
        MeterTables {
            reported_chips,
            max_fetch_cost: fetch_cost.iter().copied().max().map_or(0, u64::from),
            fetch_chip,
            fetch_cost,
            block_cost,
            hint_cost: hint_chip.map_or(0, |c| widths[c]),
            hint_chip,
            interactions: chips.iter().map(|c| c.interactions).collect(),
            memory_shapes: chips
                .iter()
                .map(|c| ChipMemoryShape {
                    width: u64::from(c.width),
                    need_rot: c.need_rot,
                    num_interactions: u64::from(c.interactions),
                    // Zero for every chip on the reference's CPU prover.
                    constraint_eval_buffer_size: 0,
                })
                .collect(),
            constant: chips
                .iter()
                .map(|c| c.height != ChipHeight::Variable)
                .collect(),
            base_heights,
            widths,
            boundary_chip: find(crate::extension::system::BOUNDARY_CHIP),
            merkle_chip: find(crate::extension::system::MERKLE_CHIP),
            poseidon2_chip: chips.len() - 2,
            // The tree has ADDRESS_SPACE_HEIGHT + (pointer bits - 3) levels of 8-byte leaves.
            nodes_per_page: ((1 << PAGE_BLOCKS_BITS) - 1)
                + (ADDRESS_SPACE_HEIGHT + pointer_bits - 3 - PAGE_BLOCKS_BITS),
        }
    }

    /// Tables for `chips` variable-height chips (the memory chips are 0, 1 and `chips - 2`)
    /// and code whose entries add rows to `fetch_chip`.
    #[cfg(test)]
    pub(crate) fn for_tests(chips: usize, fetch_chip: Vec<u16>) -> MeterTables {
        MeterTables {
            max_fetch_cost: 1,
            fetch_cost: fetch_chip.iter().map(|_| 1).collect(),
            block_cost: fetch_chip.iter().map(|_| 1).collect(),
            fetch_chip,
            hint_chip: None,
            hint_cost: 0,
            widths: vec![1; chips],
            interactions: vec![1; chips],
            memory_shapes: Vec::new(),
            constant: vec![false; chips],
            base_heights: vec![0; chips],
            boundary_chip: 0,
            merkle_chip: 1,
            poseidon2_chip: chips - 2,
            reported_chips: Vec::new(),
            nodes_per_page: 86,
        }
    }

    /// Number of chips.
    pub fn num_chips(&self) -> usize {
        self.widths.len()
    }

    /// The cost of the fixed rows that code entries `start..end` add.
    pub fn range_cost(&self, start: usize, end: usize) -> u64 {
        self.fetch_cost[start..end]
            .iter()
            .map(|&c| u64::from(c))
            .sum()
    }

    /// Adds the rows of `pages` newly touched memory pages to `heights`: every page is charged
    /// as if all its leaves and its own Merkle nodes changed, in both the initial and the final
    /// memory tree.
    pub fn add_page_rows(&self, heights: &mut [u32], pages: u32) {
        let leaves = pages << PAGE_BLOCKS_BITS;
        let nodes = self.nodes_per_page * pages;
        heights[self.boundary_chip] += 2 * leaves;
        heights[self.merkle_chip] += 2 * nodes;
        heights[self.poseidon2_chip] += 2 * leaves + 2 * nodes;
    }
}
