//! Metered mode: trace heights, check points and segment cuts, exactly as the reference zkVM
//! computes them.
//!
//! Heights grow as instructions execute (one row per instruction on its executor's chip,
//! hint stores one per word) and as memory pages are first touched in a segment (see
//! [`MeterTables::add_page_rows`]). Every `segment_check_insns` instructions, at an exact
//! instret, the open segment is checked against the limits ([`SegmentationLimits`]). When a
//! limit is exceeded the segment is cut at the previous check point (where all limits held),
//! and what happened after it moves to the next segment; when there is no previous check point
//! in the segment, it is cut here and reported as over the limit.

use super::estimate::{estimate_proving_memory, ProvingMemoryParams};
use super::pages::PageTracker;
use super::tables::{MeterTables, PAGE_BYTES_BITS};
use super::Meter;
use serde::{Deserialize, Serialize};

/// One provable piece of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The instret at which the segment starts.
    pub instret_start: u64,
    /// How many instructions it holds.
    pub num_insns: u64,
    /// Rows per chip, in chip-table order.
    pub trace_heights: Vec<u32>,
    /// Set when the segment itself exceeds a limit: a single check interval was too large to
    /// cut further. Names the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_limit: Option<String>,
}

/// The limits a segment must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentationLimits {
    /// Largest height of a chip whose height is not constant, after padding to a power of two.
    pub max_trace_height: u32,
    /// Largest estimated proving memory in bytes (of the padded heights).
    pub max_memory: u64,
    /// Largest sum over chips of (height + 1) x interactions per row (0 for empty chips).
    pub max_interactions: u64,
    /// Instructions between checks; checks happen at exact multiples of this instret.
    pub segment_check_insns: u64,
}

impl Default for SegmentationLimits {
    /// The reference's defaults (shared/reference/README.md, `segmentation`): 2^24 rows,
    /// 15 GiB, the BabyBear modulus of interactions, a check every 1000 instructions.
    fn default() -> Self {
        SegmentationLimits {
            max_trace_height: 1 << 24,
            max_memory: 15 << 30,
            max_interactions: 2_013_265_921,
            segment_check_insns: 1000,
        }
    }
}

/// The open segment of a metered run: carried in the suspended state, so a resumed run cuts
/// exactly where an uninterrupted one would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentationState {
    /// Current heights, in chip-table order, plus a last slot that absorbs instructions
    /// adding no rows.
    heights: Vec<u32>,
    /// Where the open segment starts.
    segment_start: u64,
    /// The last check point and the heights there.
    checkpoint_instret: u64,
    checkpoint_heights: Vec<u32>,
    /// The instret of the last check performed (a check runs once, before the instruction
    /// that follows its check point).
    last_check: u64,
    /// Memory pages touched.
    pages: PageTracker,
}

impl SegmentationState {
    /// The state of a segment starting at `instret`.
    pub fn new(tables: &MeterTables, instret: u64, pointer_max_bits: u32) -> SegmentationState {
        let mut heights = tables.base_heights.clone();
        heights.push(0);
        // The registers are charged as one page at the start of every segment.
        tables.add_page_rows(&mut heights, 1);
        SegmentationState {
            checkpoint_heights: heights.clone(),
            heights,
            segment_start: instret,
            checkpoint_instret: instret,
            last_check: instret,
            pages: PageTracker::new(2 << pointer_max_bits.saturating_sub(PAGE_BYTES_BITS)),
        }
    }

    /// Where the open segment starts.
    pub fn segment_start(&self) -> u64 {
        self.segment_start
    }

    /// The meter that records into this state while instructions execute.
    pub fn meter<'a>(
        &'a mut self,
        tables: &'a MeterTables,
        pointer_max_bits: u32,
    ) -> SegmentMeter<'a> {
        SegmentMeter {
            tables,
            heights: &mut self.heights,
            pages: &mut self.pages,
            public_values_page: 1 << pointer_max_bits.saturating_sub(PAGE_BYTES_BITS),
        }
    }

    /// The heights (one slot per chip, then the sink) and the page tracker, for compiled code
    /// that updates them directly.
    pub fn raw_parts(&mut self) -> (*mut u32, &mut PageTracker) {
        (self.heights.as_mut_ptr(), &mut self.pages)
    }

    /// Whether a check is due before executing the instruction at `instret`.
    pub fn check_due(&self, instret: u64, limits: &SegmentationLimits) -> bool {
        instret % limits.segment_check_insns == 0 && instret != self.last_check
    }

    /// Charges the rows of pages touched since the last update.
    fn apply_pages(&mut self, tables: &MeterTables) {
        let pages = self.pages.take_pending();
        tables.add_page_rows(&mut self.heights, pages);
    }

    /// The check at `instret`; returns the segment it closes, if it cuts one.
    pub fn check(
        &mut self,
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        instret: u64,
    ) -> Option<Segment> {
        self.last_check = instret;
        self.apply_pages(tables);
        let mut closed = None;
        if let Some(reason) = self.exceeded(tables, limits, memory, instret) {
            let (end, heights, over_limit) = if self.checkpoint_instret > self.segment_start {
                (
                    self.checkpoint_instret,
                    self.checkpoint_heights.clone(),
                    Self::limit_exceeded(
                        tables,
                        limits,
                        memory,
                        &self.checkpoint_heights[..tables.num_chips()],
                    ),
                )
            } else {
                (instret, self.heights.clone(), Some(reason))
            };
            closed = Some(Segment {
                instret_start: self.segment_start,
                num_insns: end - self.segment_start,
                trace_heights: heights[..tables.num_chips()].to_vec(),
                over_limit,
            });
            self.segment_start = end;
            for (i, height) in self.heights.iter_mut().enumerate().take(tables.num_chips()) {
                if !tables.constant[i] {
                    *height -= heights[i];
                }
            }
            self.heights[tables.boundary_chip] = 0;
            self.heights[tables.merkle_chip] = 0;
            self.heights[tables.poseidon2_chip] = 0;
            // The new segment has touched the pages touched since the check point, and
            // pays for the registers again.
            let pages = self.pages.start_segment_at_checkpoint();
            tables.add_page_rows(&mut self.heights, pages + 1);
        }
        self.checkpoint_heights.clone_from(&self.heights);
        self.checkpoint_instret = instret;
        self.pages.checkpoint();
        closed
    }

    /// Closes the last segment when the program terminated at `instret`.
    pub fn finish(&mut self, tables: &MeterTables, instret: u64) -> Segment {
        self.apply_pages(tables);
        Segment {
            instret_start: self.segment_start,
            num_insns: instret - self.segment_start,
            trace_heights: self.heights[..tables.num_chips()].to_vec(),
            over_limit: None,
        }
    }

    /// Which limit the open segment exceeds at `instret`, if any.
    fn exceeded(
        &self,
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        instret: u64,
    ) -> Option<String> {
        if instret == self.segment_start {
            return None;
        }
        Self::limit_exceeded(tables, limits, memory, &self.heights[..tables.num_chips()])
    }

    /// Which limit `heights` exceed, if any.
    fn limit_exceeded(
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        heights: &[u32],
    ) -> Option<String> {
        for (i, &h) in heights.iter().enumerate() {
            let padded = padded_height(h);
            if !tables.constant[i] && padded > u64::from(limits.max_trace_height) {
                return Some(format!("height of chip {i} ({padded} padded rows)"));
            }
        }
        let bytes = estimate_proving_memory(memory, &tables.memory_shapes, heights);
        if bytes > limits.max_memory {
            return Some(format!("proving memory ({bytes} bytes)"));
        }
        let interactions: u64 = heights
            .iter()
            .zip(&tables.interactions)
            .map(|(&h, &n)| {
                if h == 0 {
                    0
                } else {
                    (u64::from(h) + 1) * u64::from(n)
                }
            })
            .sum();
        if interactions > limits.max_interactions {
            return Some(format!("interactions ({interactions})"));
        }
        None
    }
}

/// A height padded to the next power of two, kept in 32 bits as the reference keeps it: zero
/// stays zero, and a height above 2^31 pads to 2^32, which wraps to zero.
fn padded_height(height: u32) -> u64 {
    u64::from(height.checked_next_power_of_two().unwrap_or(0))
}

/// The metered mode's [`Meter`]: adds rows and records touched pages.
pub struct SegmentMeter<'a> {
    tables: &'a MeterTables,
    heights: &'a mut [u32],
    pages: &'a mut PageTracker,
    /// The first page number of the public-values space (main memory's pages come first).
    public_values_page: u32,
}

impl SegmentMeter<'_> {
    #[inline(always)]
    fn touch(&mut self, addr: u32) {
        self.pages.touch(addr >> PAGE_BYTES_BITS);
    }
}

impl Meter for SegmentMeter<'_> {
    #[inline(always)]
    fn on_block(&mut self, _idx: usize) {}

    #[inline(always)]
    fn on_counted_insn(&mut self, _idx: usize) {}

    #[inline(always)]
    fn on_insn(&mut self, idx: usize) {
        self.heights[usize::from(self.tables.fetch_chip[idx])] += 1;
    }

    #[inline(always)]
    fn on_memory_word(&mut self, addr: u32) {
        self.touch(addr);
    }

    fn on_hint_store(&mut self, addr: u32, words: u32) {
        for i in 0..words {
            let word = addr.wrapping_add(4 * i);
            self.touch(word);
            self.touch(word.wrapping_add(3));
        }
        if let Some(chip) = self.tables.hint_chip {
            self.heights[chip] += words;
        }
    }

    fn on_public_value(&mut self, offset: u32) {
        self.pages
            .touch(self.public_values_page + (offset >> PAGE_BYTES_BITS));
    }

    #[inline(always)]
    fn block_fits(&self, _idx: usize) -> bool {
        true
    }

    #[inline(always)]
    fn may_execute(&self) -> bool {
        true
    }
}
