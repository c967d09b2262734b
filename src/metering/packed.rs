//! Chip rows counted by compiled code in a few packed 64-bit counters.
//!
//! Metered compiled code adds each block's rows as it runs. One counter per chip would take
//! a register each, or a memory add per chip per block; instead the chips that compiled code
//! adds rows to share a few 64-bit words, each holding several fixed-width fields, so a block
//! adds one constant per word it touches. Read as an array of lanes of the field width, the
//! words are also vectors: code with vector registers adds a block's rows to every chip with
//! one vector add per register.
//!
//! The top bit of each field is a guard: a field starts at `2^(bits-1)` minus the rows its chip
//! may still grow by before a segment check could fail, so the guard bits of a word tell in one
//! test whether any of its chips ran out of room. Fields never carry into each other because
//! compiled code returns to Rust, which adds the fields to the heights, before
//! `(passes + 1) x check interval <= 2^(bits-1)` instructions have run, where `passes` is
//! [`PackedLayout::max_passes`].

use super::MeterTables;
use crate::program::blocks::{backward_branches, form_blocks, loop_depths, loop_weight, Block};
use crate::program::Program;

/// Where each chip's rows are counted in the packed words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedLayout {
    /// Per chip (and the sink), its word and bit offset, or `None` for chips compiled code
    /// never adds rows to.
    slots: Vec<Option<(usize, u32)>>,
    /// Bits per field.
    field_bits: u32,
    /// Number of words.
    words: usize,
    /// Check points compiled code may pass in one call.
    max_passes: u64,
    /// The longest compiled block.
    max_block: u64,
    /// Per chip (and the sink), whether it has a slot: asked at every entry of compiled code.
    growable: Vec<bool>,
    /// The guard bits of each word: asked at every entry of compiled code.
    guard_masks: Vec<u64>,
}

impl PackedLayout {
    /// The layout for the compiled `blocks` of a program with `tables` and `loops` (each a
    /// backward branch's target and its own code index), passing check points every
    /// `check_insns` instructions. The most used chips come first, sharing the first words, so
    /// hot blocks add to few registers with constants that fit an instruction's immediate.
    pub fn new(
        tables: &MeterTables,
        blocks: &[Block],
        depth: &[u8],
        check_insns: u64,
    ) -> PackedLayout {
        // How often each chip is likely used: its instructions, weighted heavily inside loops
        // (between a backward branch and its target), where the time goes.
        let mut uses = vec![0u64; tables.num_chips()];
        for block in blocks.iter().filter(|b| !b.handoff) {
            let chips = &tables.fetch_chip[block.start..block.end];
            for (&chip, &d) in chips.iter().zip(&depth[block.start..block.end]) {
                if let Some(count) = uses.get_mut(usize::from(chip)) {
                    *count += loop_weight(d);
                }
            }
        }
        // Extension instructions that report their rows add them to the counters between two
        // calls of compiled code (`backend/compiled/reported.rs`): their chips get fields too,
        // after the chips blocks add to.
        for &chip in &tables.reported_chips {
            if let Some(count) = uses.get_mut(chip) {
                *count = (*count).max(1);
            }
        }
        let mut chips: Vec<usize> = (0..uses.len()).filter(|&c| uses[c] > 0).collect();
        chips.sort_by_key(|&c| (std::cmp::Reverse(uses[c]), c));
        // A call runs at most (passes + 1) x check_insns instructions, one row each, which
        // must fit below the guard bit.
        let passes =
            |bits: u32| -> u64 { ((1u64 << (bits - 1)) / check_insns.max(1)).saturating_sub(1) };
        // Fields are whole lanes of a vector (16, 32 or 64 bits), so code may add a block's rows
        // to several chips with one vector add; the narrowest that lets a call pass a thousand
        // check points, so that compiled code returns to Rust rarely.
        let field_bits = [16, 32]
            .into_iter()
            .find(|&bits| passes(bits) >= 1000)
            .unwrap_or(64);
        let max_block = blocks
            .iter()
            .filter(|b| !b.handoff)
            .map(|b| b.len() as u64)
            .max()
            .unwrap_or(0);
        let per_word = (64 / field_bits) as usize;
        let mut slots = vec![None; tables.num_chips() + 1];
        for (n, &chip) in chips.iter().enumerate() {
            slots[chip] = Some((n / per_word, (n % per_word) as u32 * field_bits));
        }
        let words = chips.len().div_ceil(per_word);
        let mut guard_masks = vec![0u64; words];
        for &(word, shift) in slots.iter().flatten() {
            guard_masks[word] |= (1u64 << (field_bits - 1)) << shift;
        }
        PackedLayout {
            growable: slots.iter().map(Option::is_some).collect(),
            slots,
            field_bits,
            words,
            max_passes: passes(field_bits).min(u64::from(u32::MAX)),
            max_block,
            guard_masks,
        }
    }

    /// A layout counting nothing (for code that does not meter rows).
    pub fn empty() -> PackedLayout {
        PackedLayout {
            slots: Vec::new(),
            field_bits: 32,
            words: 0,
            max_passes: 0,
            max_block: 0,
            growable: Vec::new(),
            guard_masks: Vec::new(),
        }
    }

    /// The layout of `program`'s compiled code ([`form_blocks`]).
    pub fn for_program(program: &Program) -> PackedLayout {
        let depths = loop_depths(program.code().len(), &backward_branches(program));
        PackedLayout::new(
            program.meter_tables(),
            &form_blocks(program, true),
            &depths,
            program.config().system().segmentation.segment_check_insns,
        )
    }

    /// Number of packed words.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Bits per field: 16, 32 or 64. Field `f` of word `w` is lane `w * 64 / bits + f` of the
    /// words read as an array of `bits`-bit little-endian lanes.
    pub fn field_bits(&self) -> u32 {
        self.field_bits
    }

    /// Check points compiled code may pass in one call before its fields could overflow.
    pub fn max_passes(&self) -> u64 {
        self.max_passes
    }

    /// The longest compiled block (a check point inside one is passed from its start).
    pub fn max_block(&self) -> u64 {
        self.max_block
    }

    /// The value of the guard bit of a field.
    fn guard(&self) -> u64 {
        1u64 << (self.field_bits - 1)
    }

    /// The guard bits of each word.
    pub fn guard_masks(&self) -> &[u64] {
        &self.guard_masks
    }

    /// The starting words when each chip may grow by `room[chip]` rows: the next row sets its
    /// guard bit.
    pub fn start(&self, room: &[u64]) -> Vec<u64> {
        let mut words = Vec::new();
        self.start_into(room, &mut words);
        words
    }

    /// [`PackedLayout::start`] into `words` (cleared first), which compiled code's entries
    /// reuse.
    pub fn start_into(&self, room: &[u64], words: &mut Vec<u64>) {
        words.clear();
        words.resize(self.words, 0);
        for (chip, slot) in self.slots.iter().enumerate() {
            if let Some((word, shift)) = *slot {
                let rows_to_guard = room[chip].saturating_add(1).min(self.guard());
                words[word] |= (self.guard() - rows_to_guard) << shift;
            }
        }
    }

    /// Adds `rows` rows of `chip` to the counters `words`, unless the chip has no field or its
    /// field would come within a quarter of its range of overflowing (compiled code adds rows
    /// after this until its next test of the guard bits): then returns `false` and changes
    /// nothing.
    pub fn add_rows(&self, words: &mut [u64], chip: usize, rows: u32) -> bool {
        let Some(&Some((word, shift))) = self.slots.get(chip) else {
            return false;
        };
        let mask = if self.field_bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.field_bits) - 1
        };
        let field = (words[word] >> shift) & mask;
        let most = self.guard() + self.guard() / 2;
        match field.checked_add(u64::from(rows)) {
            Some(sum) if sum < most => {
                words[word] += u64::from(rows) << shift;
                true
            }
            _ => false,
        }
    }

    /// Whether compiled code adds rows to each chip (indexed like the heights).
    pub fn growable(&self) -> &[bool] {
        &self.growable
    }

    /// Appends to `adds` what the instructions whose fetch chips
    /// ([`MeterTables::fetch_chip`]) are `chips` add to each word: (word, constant), in word
    /// order (the JIT asks this of every block).
    pub fn range_adds_into(&self, chips: &[u16], adds: &mut Vec<(usize, u64)>) {
        // Blocks are short: a few chips each, added up in place.
        let first = adds.len();
        for &chip in chips {
            if let Some(&Some((word, shift))) = self.slots.get(usize::from(chip)) {
                match adds[first..].iter_mut().find(|(w, _)| *w == word) {
                    Some((_, add)) => *add += 1 << shift,
                    None => adds.push((word, 1 << shift)),
                }
            }
        }
        adds[first..].sort_unstable_by_key(|&(word, _)| word);
    }

    /// What instructions whose fetch chips are `chips` add to each word, word by word (0
    /// where they add nothing): [`PackedLayout::range_adds_into`] spread over all the words.
    pub fn range_words(&self, chips: &[u16]) -> Vec<u64> {
        let mut adds = Vec::new();
        self.range_adds_into(chips, &mut adds);
        let mut words = vec![0u64; self.words];
        for (word, add) in adds {
            words[word] = add;
        }
        words
    }

    /// Adds the rows counted in `packed` since `start` to `heights`.
    pub fn add_to(&self, start: &[u64], packed: &[u64], heights: &mut [u32]) {
        let mask = if self.field_bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.field_bits) - 1
        };
        for (chip, slot) in self.slots.iter().enumerate() {
            if let Some((word, shift)) = *slot {
                let field = |w: &[u64]| (w[word] >> shift) & mask;
                heights[chip] += (field(packed) - field(start)) as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(chips: usize, used: &[(u16, usize)], check: u64) -> (PackedLayout, MeterTables) {
        let mut fetch_chip = Vec::new();
        for &(chip, n) in used {
            fetch_chip.extend(std::iter::repeat_n(chip, n));
        }
        let tables = MeterTables::for_tests(chips, fetch_chip);
        let blocks = [Block {
            start: 0,
            end: tables.fetch_chip.len(),
            handoff: false,
        }];
        let depths = vec![0; tables.fetch_chip.len()];
        (PackedLayout::new(&tables, &blocks, &depths, check), tables)
    }

    #[test]
    fn most_used_chips_come_first_and_fields_round_trip() {
        let (layout, _) = build(8, &[(5, 1), (2, 9), (7, 3), (8, 4)], 1000);
        assert_eq!(layout.field_bits, 32);
        assert_eq!(layout.slots[2], Some((0, 0)));
        assert_eq!(layout.slots[7], Some((0, 32)));
        assert_eq!(layout.slots[5], Some((1, 0)));
        // The sink (rows of no chip) is not counted.
        assert_eq!(layout.slots[8], None);
        assert_eq!(layout.words(), 2);
        assert!(layout.max_passes() >= 1000);
        // Three rows of chip 2, one of chip 5, two of chip 7 and one of the sink, appended.
        let chips = [7, 2, 8, 5, 2, 7, 2];
        let adds = vec![(0, 3 | 2 << 32), (1, 1)];
        let mut from_chips = vec![(9, 9)];
        layout.range_adds_into(&chips, &mut from_chips);
        assert_eq!(from_chips[1..], adds);
        assert_eq!(layout.range_words(&chips), vec![3 | 2 << 32, 1]);
        let mut room = vec![u64::MAX; 9];
        room[5] = 1000;
        let start = layout.start(&room);
        let guards = layout.guard_masks();
        assert!(start.iter().zip(guards).all(|(s, g)| s & g == 0));
        let mut heights = vec![1u32; 9];
        let after = [start[0] + adds[0].1 * 1000, start[1] + adds[1].1 * 1000];
        assert_eq!(after[1] & guards[1], 0, "chip 5 has room for 1000 rows");
        layout.add_to(&start, &after, &mut heights);
        assert_eq!(heights, vec![1, 1, 3001, 1, 1, 1001, 1, 2001, 1]);
        assert_ne!(
            (after[1] + adds[1].1) & guards[1],
            0,
            "the 1001st row sets the guard"
        );
    }

    #[test]
    fn long_check_intervals_widen_the_fields() {
        let (layout, _) = build(3, &[(0, 1), (1, 1), (2, 1)], 1_000_000);
        assert_eq!(layout.field_bits, 32);
        assert_eq!(layout.words(), 2);
        let (layout, _) = build(3, &[(0, 1)], 1 << 40);
        assert_eq!(layout.field_bits, 64);
        assert!(layout.max_passes() >= 1 << 20);
    }
}
