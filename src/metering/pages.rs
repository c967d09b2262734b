//! Which memory pages a segment has touched.
//!
//! Memory is charged per 512-byte page on its first touch in a segment. A segment cut moves
//! the pages touched since the last check point into the next segment, so those are kept too,
//! as a list.
//!
//! Membership is recorded per page as the id of the segment, and of the check interval, that
//! last touched it: starting a new interval or segment is then one increment, not a clear of
//! a set, which lets compiled code pass a check point in a few instructions. The arrays are
//! laid out for compiled code, which updates them in place ([`PageTracker::raw`]).

use serde::{Deserialize, Serialize};

/// What compiled code needs to record page touches itself (metered mode): the tracker's
/// arrays and counters, written back with [`PageTracker::set_raw`] when the code returns.
#[derive(Debug, Clone, Copy)]
pub struct RawPages {
    /// Per page, the interval id of its last touch.
    pub interval_of: *mut u32,
    /// Per page, the segment id of its last touch.
    pub segment_of: *mut u32,
    /// The current interval id.
    pub interval: u32,
    /// The current segment id.
    pub segment: u32,
    /// Pages in the open segment.
    pub in_segment: u32,
    /// Pages touched in the current interval, in first-touch order.
    pub recent: *mut u32,
    /// Length of `recent`.
    pub recent_len: u32,
    /// Room in `recent`.
    pub recent_cap: u32,
}

/// The pages of the open segment and those touched since the last check point.
#[derive(Debug, Clone)]
pub struct PageTracker {
    /// Per page, the id of the last interval that touched it (0: none).
    interval_of: PageIds,
    /// Per page, the id of the last segment that touched it (0: none).
    segment_of: PageIds,
    /// Id of the current interval (from 1).
    interval: u32,
    /// Id of the open segment (from 1).
    segment: u32,
    /// Pages touched in the open segment.
    in_segment: u32,
    /// Of those, the pages whose rows are already added to the heights.
    charged: u32,
    /// Pages touched since the last check point, in first-touch order.
    recent: Vec<u32>,
    /// The last page touched, to skip the arrays on repeated touches.
    last: u32,
}

const NO_PAGE: u32 = u32::MAX;

/// Per page, an id (zeroed): memory mapped from the kernel page by page on first use. A heap
/// allocation this large (8 MiB per array for the default address space) reuses memory that
/// an earlier run freed and must then be cleared whole, which costs more than a metered run of
/// a small program.
struct PageIds {
    /// The start of `map`, kept: reaching it through the mapping is a call into `memmap2`
    /// on every touch.
    ids: *mut u32,
    len: usize,
    /// Keeps the memory mapped.
    _map: memmap2::MmapMut,
}

// SAFETY: `PageIds` owns its mapping, as a `Vec` owns its buffer; `ids` points into it and is
// only used through `&self` (reads) and `&mut self` (writes).
unsafe impl Send for PageIds {}
// SAFETY: as above.
unsafe impl Sync for PageIds {}

impl PageIds {
    /// `len` zeroed ids.
    fn zeroed(len: usize) -> std::io::Result<PageIds> {
        let bytes = len.checked_mul(4).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::OutOfMemory, "too many pages")
        })?;
        let mut map = memmap2::MmapOptions::new().len(bytes.max(1)).map_anon()?;
        Ok(PageIds {
            ids: map.as_mut_ptr().cast::<u32>(),
            len,
            _map: map,
        })
    }
}

impl std::ops::Deref for PageIds {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        // SAFETY: `ids` is the start of the mapping, which is page-aligned (so aligned for
        // `u32`), readable, at least `4 * len` bytes long and alive as long as `self` (moving
        // `map` does not move the memory); any bytes are a valid `u32`.
        unsafe { std::slice::from_raw_parts(self.ids, self.len) }
    }
}

impl std::ops::DerefMut for PageIds {
    fn deref_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `deref`, and the mapping is writable and borrowed uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ids, self.len) }
    }
}

impl Clone for PageIds {
    fn clone(&self) -> PageIds {
        let mut copy = PageIds::zeroed(self.len).expect("mapping memory for page ids");
        copy.copy_from_slice(self);
        copy
    }
}

impl std::fmt::Debug for PageIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageIds({} pages)", self.len)
    }
}

impl PageTracker {
    /// A tracker for page numbers below `capacity`.
    ///
    /// # Panics
    /// If the memory for its arrays cannot be mapped (as an allocation would abort).
    pub fn new(capacity: usize) -> PageTracker {
        PageTracker::try_new(capacity).expect("mapping memory for the page tracker")
    }

    /// [`PageTracker::new`], or the error of mapping its memory.
    fn try_new(capacity: usize) -> std::io::Result<PageTracker> {
        Ok(PageTracker {
            interval_of: PageIds::zeroed(capacity)?,
            segment_of: PageIds::zeroed(capacity)?,
            interval: 1,
            segment: 1,
            in_segment: 0,
            charged: 0,
            recent: Vec::new(),
            last: NO_PAGE,
        })
    }

    /// Records a touch of `page`.
    #[inline(always)]
    pub fn touch(&mut self, page: u32) {
        if page != self.last {
            self.touch_slow(page);
        }
    }

    // Kept out of line: inlined into the interpreter's dispatch loop, it made metered
    // interpretation twice as slow.
    #[inline(never)]
    fn touch_slow(&mut self, page: u32) {
        self.last = page;
        let p = page as usize;
        if self.interval_of[p] != self.interval {
            self.interval_of[p] = self.interval;
            self.recent.push(page);
            if self.segment_of[p] != self.segment {
                self.segment_of[p] = self.segment;
                self.in_segment += 1;
            }
        }
    }

    /// Pages touched in the open segment.
    pub fn in_segment(&self) -> u32 {
        self.in_segment
    }

    /// Takes the count of newly touched pages not yet charged.
    pub fn take_pending(&mut self) -> u32 {
        let pending = self.in_segment - self.charged;
        self.charged = self.in_segment;
        pending
    }

    /// Forgets the pages touched since the last check point: a check point was passed.
    pub fn checkpoint(&mut self) {
        self.interval = next_id(self.interval, &mut self.interval_of);
        self.recent.clear();
        self.last = NO_PAGE;
    }

    /// Starts a new segment at the last check point: it has touched exactly the pages touched
    /// since then. Returns how many there are.
    pub fn start_segment_at_checkpoint(&mut self) -> u32 {
        self.segment = next_id(self.segment, &mut self.segment_of);
        self.last = NO_PAGE;
        for &page in &self.recent {
            self.segment_of[page as usize] = self.segment;
        }
        self.in_segment = self.recent.len() as u32;
        self.charged = self.in_segment;
        self.in_segment
    }

    /// The arrays and counters, for compiled code that records touches itself, with room in
    /// the recent list for at least `room` more pages.
    pub fn raw(&mut self, room: usize) -> RawPages {
        self.recent.reserve(room);
        self.last = NO_PAGE;
        if self.interval > u32::MAX / 2 {
            // Compiled code advances the interval id without wrapping it; start the ids over
            // long before it could (after 2^31 check points).
            self.interval_of.fill(0);
            self.interval = 1;
            for &page in &self.recent {
                self.interval_of[page as usize] = 1;
            }
        }
        RawPages {
            interval_of: self.interval_of.as_mut_ptr(),
            segment_of: self.segment_of.as_mut_ptr(),
            interval: self.interval,
            segment: self.segment,
            in_segment: self.in_segment,
            recent: self.recent.as_mut_ptr(),
            recent_len: self.recent.len() as u32,
            recent_cap: self.recent.capacity().min(u32::MAX as usize) as u32,
        }
    }

    /// Takes back what compiled code recorded through [`PageTracker::raw`].
    ///
    /// # Safety
    /// `raw` comes from [`PageTracker::raw`] on this tracker, with no other use of the tracker
    /// since; compiled code only wrote page numbers below the capacity into `recent` up to
    /// `recent_len` (within `recent_cap`), and advanced `interval` by less than 2^31 check
    /// points, clearing the list at each.
    pub unsafe fn set_raw(&mut self, raw: &RawPages) {
        debug_assert!(raw.recent_len <= raw.recent_cap);
        // SAFETY: the caller guarantees the first `recent_len` entries were written.
        unsafe { self.recent.set_len(raw.recent_len as usize) };
        self.interval = raw.interval;
        self.in_segment = raw.in_segment;
    }

    /// Pages of the open segment, in increasing order.
    fn segment_pages(&self) -> impl Iterator<Item = u32> + '_ {
        self.segment_of
            .iter()
            .enumerate()
            .filter(move |&(_, &s)| s == self.segment)
            .map(|(p, _)| p as u32)
    }
}

/// The id after `id`, clearing `ids` when they wrap.
fn next_id(id: u32, ids: &mut [u32]) -> u32 {
    if id >= u32::MAX - 1 {
        ids.fill(0);
        1
    } else {
        id + 1
    }
}

/// Equal when they describe the same pages, whatever their ids.
impl PartialEq for PageTracker {
    fn eq(&self, other: &Self) -> bool {
        self.interval_of.len() == other.interval_of.len()
            && self.in_segment == other.in_segment
            && self.charged == other.charged
            && self.recent == other.recent
            && self.segment_pages().eq(other.segment_pages())
    }
}

impl Eq for PageTracker {}

/// Serialised as its capacity and its members, which are few next to the capacity.
#[derive(Serialize, Deserialize)]
struct SparsePages {
    capacity: usize,
    segment: Vec<u32>,
    recent: Vec<u32>,
    charged: u32,
}

impl Serialize for PageTracker {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SparsePages {
            capacity: self.interval_of.len(),
            segment: self.segment_pages().collect(),
            recent: self.recent.clone(),
            charged: self.charged,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PageTracker {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let sparse = SparsePages::deserialize(deserializer)?;
        let mut pages = PageTracker::try_new(sparse.capacity)
            .map_err(|e| D::Error::custom(format!("{} pages: {e}", sparse.capacity)))?;
        for &page in sparse.segment.iter().chain(&sparse.recent) {
            if page as usize >= sparse.capacity {
                return Err(D::Error::custom(format!("page {page} out of range")));
            }
        }
        for &page in &sparse.segment {
            if pages.segment_of[page as usize] != pages.segment {
                pages.segment_of[page as usize] = pages.segment;
                pages.in_segment += 1;
            }
        }
        for &page in &sparse.recent {
            if pages.interval_of[page as usize] == pages.interval {
                return Err(D::Error::custom(format!("page {page} repeated")));
            }
            if pages.segment_of[page as usize] != pages.segment {
                return Err(D::Error::custom(format!(
                    "recent page {page} not in the segment"
                )));
            }
            pages.interval_of[page as usize] = pages.interval;
        }
        pages.recent = sparse.recent;
        if sparse.charged > pages.in_segment {
            return Err(D::Error::custom("more pages charged than touched"));
        }
        pages.charged = sparse.charged;
        Ok(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_count_once_per_segment_and_interval() {
        let mut pages = PageTracker::new(64);
        for page in [3, 3, 5, 3, 7] {
            pages.touch(page);
        }
        assert_eq!(pages.in_segment(), 3);
        assert_eq!(pages.recent, vec![3, 5, 7]);
        pages.checkpoint();
        pages.touch(5);
        pages.touch(9);
        assert_eq!(pages.in_segment(), 4);
        assert_eq!(pages.take_pending(), 4);
        assert_eq!(pages.take_pending(), 0);
        assert_eq!(pages.start_segment_at_checkpoint(), 2);
        pages.touch(3);
        assert_eq!(pages.in_segment(), 3);
        assert_eq!(pages.take_pending(), 1);
    }

    #[test]
    fn serialises_what_it_holds() {
        let mut pages = PageTracker::new(128);
        for page in [1, 100, 7] {
            pages.touch(page);
        }
        pages.checkpoint();
        pages.touch(100);
        pages.touch(64);
        pages.take_pending();
        pages.touch(2);
        let bytes = postcard::to_allocvec(&pages).unwrap();
        let back: PageTracker = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, pages);
        assert_eq!(back.in_segment(), 5);
    }
}
