//! Guest memory: one anonymous mapping of `2^pointer_max_bits` bytes, zeroed lazily by the OS.
//!
//! All guest loads and stores go through this type. Checked accessors return the typed fault;
//! the `*_unchecked` ones are for executors that have already checked the range, and are the
//! only place guest addresses become host pointers.

use crate::error::{ConfigError, ExecErrorKind};
use memmap2::MmapMut;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Granularity of the sparse snapshot used for cloning, comparing and saving memory.
const SNAPSHOT_PAGE: usize = 4096;

/// Byte-addressed guest memory.
#[repr(C)]
pub struct GuestMemory {
    /// Base of the mapping; `size` bytes are readable and writable from here.
    ptr: *mut u8,
    /// Size in bytes: a power of two of at most 2^32.
    size: u64,
    /// Owns the mapping that `ptr` points into.
    map: MmapMut,
}

// SAFETY: `GuestMemory` owns its mapping exclusively; `ptr` is derived from `map` and is only
// dereferenced through `&self`/`&mut self` methods, so the usual borrow rules make sharing safe.
unsafe impl Send for GuestMemory {}
// SAFETY: no method mutates through `&self`, so shared references only read.
unsafe impl Sync for GuestMemory {}

impl GuestMemory {
    /// Maps `size` zeroed bytes.
    pub fn new(size: u64) -> Result<GuestMemory, ConfigError> {
        let len = usize::try_from(size).map_err(|_| ConfigError::MemoryMap {
            size,
            message: "larger than the host address space".into(),
        })?;
        let mut map = MmapMut::map_anon(len).map_err(|e| ConfigError::MemoryMap {
            size,
            message: e.to_string(),
        })?;
        let ptr = map.as_mut_ptr();
        Ok(GuestMemory { ptr, size, map })
    }

    /// Size in bytes.
    #[inline(always)]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Host address of guest address 0, for backends that access memory directly.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    /// Whether `[addr, addr + len)` lies inside guest memory.
    #[inline(always)]
    pub fn in_range(&self, addr: u32, len: u64) -> bool {
        u64::from(addr) + len <= self.size
    }

    /// Checks a naturally aligned access of `size` bytes (a power of two) at `addr`.
    #[inline(always)]
    pub fn check_access(&self, addr: u32, size: u32) -> Result<(), ExecErrorKind> {
        if addr & (size - 1) != 0 {
            return Err(ExecErrorKind::MisalignedAccess { addr, size });
        }
        self.check_range(addr, u64::from(size))
    }

    /// Checks that `[addr, addr + len)` is inside guest memory.
    #[inline(always)]
    pub fn check_range(&self, addr: u32, len: u64) -> Result<(), ExecErrorKind> {
        if self.in_range(addr, len) {
            Ok(())
        } else {
            Err(ExecErrorKind::OutOfRangeAccess {
                addr,
                size: len,
                memory_size: self.size,
            })
        }
    }

    /// Reads `N` bytes at `addr` without checks.
    ///
    /// # Safety
    /// `[addr, addr + N)` must be inside guest memory (see [`GuestMemory::in_range`]).
    #[inline(always)]
    pub unsafe fn read_unchecked<const N: usize>(&self, addr: u32) -> [u8; N] {
        // SAFETY: the caller guarantees the range is inside the mapping; unaligned reads are
        // fine because we read a byte array.
        unsafe {
            self.ptr
                .add(addr as usize)
                .cast::<[u8; N]>()
                .read_unaligned()
        }
    }

    /// Writes `N` bytes at `addr` without checks.
    ///
    /// # Safety
    /// `[addr, addr + N)` must be inside guest memory (see [`GuestMemory::in_range`]).
    #[inline(always)]
    pub unsafe fn write_unchecked<const N: usize>(&mut self, addr: u32, bytes: [u8; N]) {
        // SAFETY: the caller guarantees the range is inside the mapping, which we own mutably.
        unsafe {
            self.ptr
                .add(addr as usize)
                .cast::<[u8; N]>()
                .write_unaligned(bytes)
        }
    }

    /// Reads a little-endian word, checking alignment and range.
    pub fn read_u32(&self, addr: u32) -> Result<u32, ExecErrorKind> {
        self.check_access(addr, 4)?;
        // SAFETY: checked just above.
        Ok(u32::from_le_bytes(unsafe {
            self.read_unchecked::<4>(addr)
        }))
    }

    /// Writes a little-endian word, checking alignment and range.
    pub fn write_u32(&mut self, addr: u32, value: u32) -> Result<(), ExecErrorKind> {
        self.check_access(addr, 4)?;
        // SAFETY: checked just above.
        unsafe { self.write_unchecked::<4>(addr, value.to_le_bytes()) };
        Ok(())
    }

    /// The bytes `[addr, addr + len)`, checking the range.
    pub fn slice(&self, addr: u32, len: u64) -> Result<&[u8], ExecErrorKind> {
        self.check_range(addr, len)?;
        // SAFETY: the range was checked to lie inside the mapping, and `&self` keeps it alive and
        // free of writers for the returned lifetime.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.add(addr as usize), len as usize) })
    }

    /// The bytes `[addr, addr + len)` for writing, checking the range.
    pub fn slice_mut(&mut self, addr: u32, len: u64) -> Result<&mut [u8], ExecErrorKind> {
        self.check_range(addr, len)?;
        // SAFETY: the range was checked to lie inside the mapping, and `&mut self` makes the
        // returned slice the only access for its lifetime.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(addr as usize), len as usize) })
    }

    /// The whole memory as bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.map
    }

    /// The non-zero pages of memory as `(page index, bytes)`, for snapshots.
    fn nonzero_pages(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.map
            .chunks(SNAPSHOT_PAGE)
            .enumerate()
            .filter(|(_, page)| !is_zero(page))
    }

    /// A copy of this memory in a new mapping.
    pub fn try_clone(&self) -> Result<GuestMemory, ConfigError> {
        let mut copy = GuestMemory::new(self.size)?;
        for (index, page) in self.nonzero_pages() {
            let at = index * SNAPSHOT_PAGE;
            copy.map[at..at + page.len()].copy_from_slice(page);
        }
        Ok(copy)
    }
}

/// Whether every byte is zero; folds 64-byte chunks so the compiler can vectorise the scan.
fn is_zero(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(64);
    let body = chunks
        .by_ref()
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0);
    body && chunks.remainder().iter().all(|&b| b == 0)
}

impl Clone for GuestMemory {
    /// Copies the memory; panics only if the host cannot map another copy, as `Vec` would.
    fn clone(&self) -> Self {
        self.try_clone()
            .expect("cannot map memory for a copy of the guest state")
    }
}

impl PartialEq for GuestMemory {
    fn eq(&self, other: &Self) -> bool {
        self.size == other.size && self.map[..] == other.map[..]
    }
}

impl Eq for GuestMemory {}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GuestMemory({:#x} bytes)", self.size)
    }
}

/// The serialised form: only pages that hold a non-zero byte.
#[derive(Serialize, Deserialize)]
struct SparseMemory {
    size: u64,
    pages: Vec<SparsePage>,
}

#[derive(Serialize, Deserialize)]
struct SparsePage {
    index: u32,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

impl Serialize for GuestMemory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pages = self
            .nonzero_pages()
            .map(|(index, page)| SparsePage {
                index: index as u32,
                bytes: page.to_vec(),
            })
            .collect();
        SparseMemory {
            size: self.size,
            pages,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GuestMemory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let sparse = SparseMemory::deserialize(deserializer)?;
        if !sparse.size.is_power_of_two() || sparse.size > 1 << 32 {
            return Err(D::Error::custom(format!(
                "bad memory size {:#x}",
                sparse.size
            )));
        }
        let mut memory = GuestMemory::new(sparse.size).map_err(D::Error::custom)?;
        for page in sparse.pages {
            let at = page.index as usize * SNAPSHOT_PAGE;
            let target = memory
                .map
                .get_mut(at..at + page.bytes.len())
                .filter(|_| page.bytes.len() <= SNAPSHOT_PAGE)
                .ok_or_else(|| D::Error::custom(format!("page {} out of range", page.index)))?;
            target.copy_from_slice(&page.bytes);
        }
        Ok(memory)
    }
}
