//! Which memory pages a segment has touched.
//!
//! Memory is charged per 512-byte page on its first touch in a segment. A segment cut moves
//! the pages touched since the last check point into the next segment, so the pages touched
//! since then are also kept, as a list.

use serde::{Deserialize, Serialize};

/// A set of page numbers, as a bit set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSet {
    words: Vec<u64>,
}

impl PageSet {
    /// An empty set for page numbers below `capacity`.
    pub fn new(capacity: usize) -> PageSet {
        PageSet {
            words: vec![0; capacity.div_ceil(64)],
        }
    }

    /// Adds `page`; returns whether it was new.
    #[inline(always)]
    pub fn insert(&mut self, page: u32) -> bool {
        let (word, bit) = ((page >> 6) as usize, 1u64 << (page & 63));
        let slot = &mut self.words[word];
        let new = *slot & bit == 0;
        *slot |= bit;
        new
    }

    /// Removes `page`.
    pub fn remove(&mut self, page: u32) {
        self.words[(page >> 6) as usize] &= !(1u64 << (page & 63));
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    /// The pages in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| (i * 64 + b) as u32)
        })
    }
}

/// Serialised as its capacity and its members, which are few next to the capacity.
#[derive(Serialize, Deserialize)]
struct SparsePageSet {
    capacity: usize,
    pages: Vec<u32>,
}

impl Serialize for PageSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SparsePageSet {
            capacity: self.words.len() * 64,
            pages: self.iter().collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PageSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let sparse = SparsePageSet::deserialize(deserializer)?;
        let mut set = PageSet::new(sparse.capacity);
        for page in sparse.pages {
            if page as usize >= sparse.capacity {
                return Err(serde::de::Error::custom(format!(
                    "page {page} out of range"
                )));
            }
            set.insert(page);
        }
        Ok(set)
    }
}

/// The pages of the open segment and those touched since the last check point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageTracker {
    /// Pages touched in the open segment.
    segment: PageSet,
    /// Pages touched since the last check point (as a set, to keep the list free of repeats).
    recent: PageSet,
    /// The same pages as `recent`, in first-touch order.
    recent_list: Vec<u32>,
    /// Pages newly touched in the segment whose rows are not yet added to the heights.
    pending: u32,
    /// The last page touched, to skip the sets on repeated touches.
    #[serde(skip, default = "no_page")]
    last: u32,
}

fn no_page() -> u32 {
    u32::MAX
}

impl PageTracker {
    /// A tracker for page numbers below `capacity`.
    pub fn new(capacity: usize) -> PageTracker {
        PageTracker {
            segment: PageSet::new(capacity),
            recent: PageSet::new(capacity),
            recent_list: Vec::new(),
            pending: 0,
            last: no_page(),
        }
    }

    /// The set of pages touched since the last check point, as 64-bit words (bit `p % 64` of
    /// word `p / 64`), for compiled code that tests it before calling [`PageTracker::touch`].
    pub fn recent_words(&self) -> *const u64 {
        self.recent.words.as_ptr()
    }

    /// Records a touch of `page`.
    #[inline(always)]
    pub fn touch(&mut self, page: u32) {
        if page != self.last {
            self.touch_slow(page);
        }
    }

    fn touch_slow(&mut self, page: u32) {
        self.last = page;
        if self.recent.insert(page) {
            self.recent_list.push(page);
            if self.segment.insert(page) {
                self.pending += 1;
            }
        }
    }

    /// Takes the count of newly touched pages not yet charged.
    pub fn take_pending(&mut self) -> u32 {
        std::mem::take(&mut self.pending)
    }

    /// Forgets the pages touched since the last check point: a check point was passed.
    pub fn checkpoint(&mut self) {
        for &page in &self.recent_list {
            self.recent.remove(page);
        }
        self.recent_list.clear();
        self.last = no_page();
    }

    /// Starts a new segment at the last check point: it has touched exactly the pages touched
    /// since then. Returns how many there are.
    pub fn start_segment_at_checkpoint(&mut self) -> u32 {
        self.segment.clear();
        self.pending = 0;
        self.last = no_page();
        self.recent_list
            .iter()
            .filter(|&&page| self.segment.insert(page))
            .count() as u32
    }
}
