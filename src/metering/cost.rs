//! Metered-cost mode: the proving cost of an execution, sum over chips of rows x width.
//!
//! As in the reference zkVM, only rows added by executing instructions are charged (memory,
//! constant-height chips and the memory-tree chips are not), and execution stops before the
//! first instruction that finds the cost above the maximum; that is an outcome, not an error.

use super::tables::MeterTables;
use super::Meter;
use serde::{Deserialize, Serialize};

/// The reference's default maximum cost: 100 segments' worth of its 15 GiB memory limit.
pub const DEFAULT_MAX_COST: u64 = 100 * (15 << 30);

/// The cost so far of a metered-cost run; carried in the suspended state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostState {
    /// Cost so far.
    pub cost: u64,
    /// The maximum before execution stops.
    pub max_cost: u64,
}

/// The result of a metered-cost run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostReport {
    /// Sum over chips of rows x width.
    pub cost: u64,
    /// Instructions executed in total.
    pub instret: u64,
    /// The maximum the run was given.
    pub max_cost: u64,
    /// Whether execution stopped because the cost exceeded the maximum.
    pub exceeded: bool,
}

/// The metered-cost mode's [`Meter`].
pub struct CostMeter<'a> {
    tables: &'a MeterTables,
    state: &'a mut CostState,
}

impl<'a> CostMeter<'a> {
    /// A meter adding to `state`.
    pub fn new(tables: &'a MeterTables, state: &'a mut CostState) -> CostMeter<'a> {
        CostMeter { tables, state }
    }
}

impl Meter for CostMeter<'_> {
    // Cost is added per block when blocks run whole, which keeps the hot loop free of it.
    #[inline(always)]
    fn on_block(&mut self, idx: usize) {
        self.state.cost += self.tables.block_cost[idx];
    }

    #[inline(always)]
    fn on_insn(&mut self, _idx: usize) {}

    #[inline(always)]
    fn on_counted_insn(&mut self, idx: usize) {
        self.state.cost += u64::from(self.tables.fetch_cost[idx]);
    }

    #[inline(always)]
    fn on_memory_word(&mut self, _addr: u32) {}

    fn on_hint_store(&mut self, _addr: u32, words: u32) {
        self.state.cost += u64::from(self.tables.hint_cost) * u64::from(words);
    }

    fn on_public_value(&mut self, _offset: u32) {}

    fn on_rows(&mut self, chip: usize, rows: u32) {
        let width = self.tables.widths.get(chip).copied().unwrap_or(0);
        self.state.cost += u64::from(width) * u64::from(rows);
    }

    fn on_memory_range(&mut self, _addr: u32, _len: u32) {}

    #[inline(always)]
    fn block_fits(&self, idx: usize) -> bool {
        // Conservative: the last instruction's own cost need not fit, but counting one by one
        // from here is exact anyway.
        self.state.cost + self.tables.block_cost[idx] <= self.state.max_cost
    }

    #[inline(always)]
    fn may_execute(&self) -> bool {
        self.state.cost <= self.state.max_cost
    }
}
