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
    /// Heights known to satisfy every limit, for compiled code that passes check points on its
    /// own (recomputed when needed, so not saved).
    #[serde(skip)]
    safe: Option<Thresholds>,
}

/// The check intervals' worth of rows every chip that may grow gets at least, so that
/// recompiled code may run past that many check points without stopping at each (`rvx_pass`).
const SKIPPED_CHECKS: u64 = 8;

/// Heights at or below which every segment limit holds (the limits only grow with the
/// heights), and the growth they were computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Thresholds {
    /// Per chip (and the sink).
    heights: Vec<u32>,
    /// Pages the open segment may hold.
    pages: u32,
    /// The rows each chip was allowed to grow by, and the pages, when computed.
    growth: Vec<u32>,
    page_growth: u32,
}

/// How far the open segment may grow with every check passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeGrowth {
    /// Per chip (and the sink), the rows it may still grow by.
    pub rows: Vec<u32>,
    /// The most pages the open segment may hold.
    pub pages: u32,
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
            safe: None,
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

    /// The last check point whose heights are recorded (where a failing check cuts the
    /// segment), or the segment's start.
    pub fn checkpoint_instret(&self) -> u64 {
        self.checkpoint_instret
    }

    /// The heights (one slot per chip, then the sink), with the rows of every touched page
    /// added, and the page tracker: for compiled code, which updates them directly.
    pub fn compiled_parts(&mut self, tables: &MeterTables) -> (&mut [u32], &mut PageTracker) {
        self.apply_pages(tables);
        (&mut self.heights, &mut self.pages)
    }

    /// The check at the check point `instret` passed, where the heights were `heights` (with
    /// the rows of every page touched before it): compiled code passed it on its own.
    pub fn passed_check(&mut self, instret: u64, heights: Vec<u32>) {
        self.last_check = instret;
        self.checkpoint_instret = instret;
        self.checkpoint_heights = heights;
    }

    /// The next instret at which a check happens, from `instret` (itself, when due).
    pub fn next_check(&self, instret: u64, limits: &SegmentationLimits) -> u64 {
        if self.check_due(instret, limits) {
            instret
        } else {
            (instret / limits.segment_check_insns + 1) * limits.segment_check_insns
        }
    }

    /// How far the open segment may grow with every check passing, when compiled code adds
    /// rows to the chips in `growable` (and touches memory pages). Call after
    /// [`SegmentationState::compiled_parts`], so the heights include every page.
    pub fn safe_growth(
        &mut self,
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        growable: &[bool],
    ) -> SafeGrowth {
        let pages = self.pages.in_segment();
        // The thresholds hold while the heights stay below them; they are recomputed (a few
        // proving-memory estimates) once half of some chip's allowed growth is used.
        let chips = tables.num_chips();
        let fresh = self.safe.as_ref().is_some_and(|t| {
            // The sink slot is in no limit.
            self.heights[..chips]
                .iter()
                .zip(&t.heights)
                .zip(&t.growth)
                .all(|((&h, &limit), &g)| h <= limit && u64::from(limit - h) * 2 >= u64::from(g))
                && pages <= t.pages
                && u64::from(t.pages - pages) * 2 >= u64::from(t.page_growth)
        });
        if !fresh {
            self.safe = Some(self.thresholds(tables, limits, memory, growable));
        }
        let t = self.safe.as_ref().expect("computed above");
        SafeGrowth {
            rows: (0..self.heights.len())
                .map(|i| match t.heights.get(i) {
                    Some(&limit) if i < chips => limit.saturating_sub(self.heights[i]),
                    _ => 0,
                })
                .collect(),
            pages: t.pages,
        }
    }

    /// Thresholds above the current heights at which every limit holds. Each growable chip
    /// gets a share of a total growth `n` by the rows it has in the segment (so the chips
    /// that grow fastest get the most room), the pages some room of their own; `n` is the
    /// largest that fits, within an eighth.
    fn thresholds(
        &self,
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        growable: &[bool],
    ) -> Thresholds {
        let pages = self.pages.in_segment();
        // Pages are few next to rows, and compiled code stops at a check point when they run
        // out: give them fixed room (half the segment's pages, at least 64), shrunk if even
        // that breaks a limit, and share the rest among the chips.
        let page_room = {
            // Beyond that, one check interval's worth (an instruction touches at most one new
            // page), so that recompiled code may run past check points while the pages stay
            // an interval below the room (`rvx_pass`).
            let interval = u32::try_from(limits.segment_check_insns).unwrap_or(u32::MAX);
            let mut room = (pages / 2).max(64).saturating_add(interval);
            let fits = |room: u32| {
                let mut heights = self.heights.clone();
                tables.add_page_rows(&mut heights, room);
                heights.iter().all(|&h| h <= 1 << 31)
                    && Self::within_limits(tables, limits, memory, &heights[..tables.num_chips()])
            };
            while room > 0 && !fits(room) {
                room /= 4;
            }
            room
        };
        // Every chip that may grow gets room in proportion to its rows, and at least
        // [`SKIPPED_CHECKS`] check intervals' worth (recompiled code stops at the first check
        // point some chip has no room beyond). An empty chip gets a sixteenth of the total growth, up to 2^16
        // rows (the limits are checked with it at that height, so a first row that makes an
        // empty chip cost something is covered): compiled code runs past check points for as
        // many instructions as the fullest chip has room for, so an empty chip must not hold
        // it back at every check point, nor take much from the others.
        let floor = limits
            .segment_check_insns
            .saturating_mul(SKIPPED_CHECKS)
            .min(1 << 20);
        let empty_room = |n: u64| (n / 16).min(1 << 16);
        // Chips the interpreter adds rows to (hint stores) share the room as well, so that
        // they do not force a recomputation each time.
        let memory_chip = |i: usize| {
            i == tables.boundary_chip || i == tables.merkle_chip || i == tables.poseidon2_chip
        };
        let grows: Vec<bool> = (0..self.heights.len())
            .map(|i| {
                i < tables.num_chips()
                    && (growable.get(i).copied().unwrap_or(false)
                        || (!tables.constant[i] && !memory_chip(i)))
            })
            .collect();
        let weights: Vec<f64> = (0..self.heights.len())
            .map(|i| match grows[i] {
                true => f64::from(self.heights[i]),
                false => 0.0,
            })
            .collect();
        let total: f64 = weights.iter().sum::<f64>().max(1.0);
        let grown = |n: u64| -> Option<Thresholds> {
            let mut heights = self.heights.clone();
            let mut growth = vec![0u32; heights.len()];
            for (i, h) in heights.iter_mut().enumerate() {
                if grows[i] {
                    let g = match self.heights[i] {
                        0 => empty_room(n),
                        _ => ((n as f64 * weights[i] / total) as u64).max(n.min(floor)),
                    };
                    let g = u32::try_from(g).ok()?;
                    // Heights above 2^31 are outside the estimate's monotone range.
                    *h = h.checked_add(g).filter(|&h| h <= 1 << 31)?;
                    growth[i] = g;
                }
            }
            let page_growth = page_room;
            tables.add_page_rows(&mut heights, page_growth);
            if heights.iter().any(|&h| h > 1 << 31) {
                return None;
            }
            Self::within_limits(tables, limits, memory, &heights[..tables.num_chips()]).then(|| {
                Thresholds {
                    heights,
                    pages: pages.saturating_add(page_growth),
                    growth,
                    page_growth,
                }
            })
        };
        let Some(mut best) = grown(0) else {
            return Thresholds {
                heights: self.heights.clone(),
                pages,
                growth: vec![0; self.heights.len()],
                page_growth: 0,
            };
        };
        // Search around the last answer (or one check interval) by factors of 4, then bisect
        // to within an eighth: a few estimates, not one per bit.
        let hint = self
            .safe
            .as_ref()
            .map_or(limits.segment_check_insns, |t| {
                t.growth.iter().map(|&g| u64::from(g)).sum::<u64>() / 2
            })
            .clamp(1, 1 << 40);
        let (mut low, mut high) = match grown(hint) {
            Some(t) => {
                best = t;
                let mut low = hint;
                loop {
                    let probe = low * 4;
                    if probe > 1 << 40 {
                        return best;
                    }
                    match grown(probe) {
                        Some(t) => {
                            best = t;
                            low = probe;
                        }
                        None => break (low, probe),
                    }
                }
            }
            None => {
                let mut high = hint;
                loop {
                    let probe = high / 4;
                    if probe == 0 {
                        break (0, high);
                    }
                    match grown(probe) {
                        Some(t) => {
                            best = t;
                            break (probe, high);
                        }
                        None => high = probe,
                    }
                }
            }
        };
        while high - low > (low / 8).max(1) {
            let mid = low + (high - low) / 2;
            match grown(mid) {
                Some(t) => {
                    best = t;
                    low = mid;
                }
                None => high = mid,
            }
        }
        best
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
            self.safe = None;
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

    /// Whether `heights` are within every limit.
    fn within_limits(
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        heights: &[u32],
    ) -> bool {
        first_exceeded(tables, limits, memory, heights).is_none()
    }

    /// Which limit `heights` exceed, if any, named.
    fn limit_exceeded(
        tables: &MeterTables,
        limits: &SegmentationLimits,
        memory: &ProvingMemoryParams,
        heights: &[u32],
    ) -> Option<String> {
        first_exceeded(tables, limits, memory, heights).map(|limit| match limit {
            Exceeded::Height { chip, padded } => {
                format!("height of chip {chip} ({padded} padded rows)")
            }
            Exceeded::Memory(bytes) => format!("proving memory ({bytes} bytes)"),
            Exceeded::Interactions(n) => format!("interactions ({n})"),
        })
    }
}

/// A segment limit that heights exceed.
enum Exceeded {
    /// A chip whose height is not constant pads to more rows than allowed.
    Height { chip: usize, padded: u64 },
    /// The estimated proving memory, in bytes.
    Memory(u64),
    /// The interactions.
    Interactions(u64),
}

/// The first limit `heights` exceed, in the reference's order (heights, memory, interactions).
fn first_exceeded(
    tables: &MeterTables,
    limits: &SegmentationLimits,
    memory: &ProvingMemoryParams,
    heights: &[u32],
) -> Option<Exceeded> {
    for (chip, &h) in heights.iter().enumerate() {
        let padded = padded_height(h);
        if !tables.constant[chip] && padded > u64::from(limits.max_trace_height) {
            return Some(Exceeded::Height { chip, padded });
        }
    }
    let bytes = estimate_proving_memory(memory, &tables.memory_shapes, heights);
    if bytes > limits.max_memory {
        return Some(Exceeded::Memory(bytes));
    }
    let interactions = interactions(tables, heights);
    (interactions > limits.max_interactions).then_some(Exceeded::Interactions(interactions))
}

/// Sum over chips of (height + 1) x interactions per row, 0 for empty chips.
fn interactions(tables: &MeterTables, heights: &[u32]) -> u64 {
    heights
        .iter()
        .zip(&tables.interactions)
        .map(|(&h, &n)| {
            if h == 0 {
                0
            } else {
                (u64::from(h) + 1) * u64::from(n)
            }
        })
        .sum()
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

    fn on_rows(&mut self, chip: usize, rows: u32) {
        if let Some(height) = self.heights.get_mut(chip) {
            *height = height.saturating_add(rows);
        }
    }

    fn on_memory_range(&mut self, addr: u32, len: u32) {
        // Every page the bytes overlap, as the reference charges a multi-block access.
        let first = addr >> PAGE_BYTES_BITS;
        let last = (u64::from(addr) + u64::from(len.max(1)) - 1) >> PAGE_BYTES_BITS;
        for page in u64::from(first)..=last {
            self.pages.touch(page as u32);
        }
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
