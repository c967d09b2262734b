//! The bump global allocator: hands out memory upwards from `_heap_start` (0x0020_0000) to
//! `_heap_end` (0x2000_0000); `dealloc` frees nothing, `realloc` of the latest allocation grows
//! it in place. Every allocation is at least 4-byte aligned (the hint instructions write words).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{addr_of, null_mut};

extern "C" {
    static _heap_start: u8;
    static _heap_end: u8;
}

struct BumpAlloc {
    /// Address of the next free byte; 0 before the first allocation.
    next: UnsafeCell<usize>,
}

// SAFETY: guests are single-threaded (no interrupts, no threads).
unsafe impl Sync for BumpAlloc {}

#[global_allocator]
static HEAP: BumpAlloc = BumpAlloc {
    next: UnsafeCell::new(0),
};

impl BumpAlloc {
    #[inline(always)]
    fn next(&self) -> usize {
        // SAFETY: single-threaded; no reference to the cell outlives this read.
        let n = unsafe { *self.next.get() };
        if n == 0 {
            addr_of!(_heap_start) as usize
        } else {
            n
        }
    }
}

// SAFETY: returns non-overlapping, suitably aligned blocks inside the heap, or null.
unsafe impl GlobalAlloc for BumpAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align = if layout.align() < 4 {
            4
        } else {
            layout.align()
        };
        let start = match self.next().checked_add(align - 1) {
            Some(x) => x & !(align - 1),
            None => return null_mut(),
        };
        let end = match start.checked_add(layout.size()) {
            Some(e) if e <= addr_of!(_heap_end) as usize => e,
            _ => return null_mut(),
        };
        // SAFETY: single-threaded.
        unsafe { *self.next.get() = end };
        start as *mut u8
    }

    #[inline]
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_end = ptr as usize + layout.size();
        if old_end == self.next() {
            // The latest allocation: grow or shrink it in place.
            match (ptr as usize).checked_add(new_size) {
                Some(e) if e <= addr_of!(_heap_end) as usize => {
                    // SAFETY: single-threaded.
                    unsafe { *self.next.get() = e };
                    return ptr;
                }
                _ => return null_mut(),
            }
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the new layout has the old (valid) alignment and a non-zero size.
        let new =
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for layout.size() bytes and do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
        }
        new
    }
}
