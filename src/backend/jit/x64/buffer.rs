//! Where the x86-64 code is assembled: in place, in the anonymous mapping that becomes the
//! executable code, so that the bytes are written once and no heap buffer is grown, copied
//! and freed (on large programs the kernel's work for memory cost as much as assembling).
//!
//! Mappings of 2 MiB and more ask for transparent huge pages: two or three page faults
//! instead of hundreds, and far less for the kernel to set up and tear down. Smaller ones are
//! populated whole when mapped, for the same reason.

use super::super::CodeMemory;
use crate::error::CompileError;
use dynasmrt::{AssemblyOffset, DynasmApi};
use memmap2::{MmapMut, MmapOptions};

/// The size of a transparent huge page on x86-64.
const HUGE_PAGE: usize = 2 << 20;

/// A growable buffer of machine code in an anonymous read-write mapping; `dynasm!` assembles
/// into it ([`DynasmApi`]), the emitter patches jumps in it, and [`CodeBuffer::finish`] makes
/// it executable.
pub(super) struct CodeBuffer {
    memory: MmapMut,
    /// The start of `memory`, kept so that writing a byte is a store (see `push`).
    base: *mut u8,
    len: usize,
    /// Why growing the mapping failed: bytes after it are counted, not stored, and `finish`
    /// reports it (`push` cannot fail).
    failed: Option<std::io::Error>,
}

impl CodeBuffer {
    /// A buffer with room for `capacity` bytes before it grows.
    pub(super) fn with_capacity(capacity: usize) -> Result<CodeBuffer, CompileError> {
        let memory = map(capacity).map_err(map_error)?;
        Ok(CodeBuffer {
            base: memory.as_ptr().cast_mut(),
            memory,
            len: 0,
            failed: None,
        })
    }

    /// The bytes written so far, to patch (empty once growing failed).
    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        match self.failed {
            None => &mut self.memory[..self.len],
            Some(_) => &mut [],
        }
    }

    /// Appends `count` copies of `bytes`.
    pub(super) fn extend_repeated(&mut self, bytes: &[u8], count: usize) {
        let total = bytes.len() * count;
        self.reserve(total);
        if self.failed.is_none() {
            let end = self.len + total;
            for copy in self.memory[self.len..end].chunks_exact_mut(bytes.len()) {
                copy.copy_from_slice(bytes);
            }
        }
        self.len += total;
    }

    /// Writes `value` at `at` (where four bytes were written before).
    pub(super) fn patch_u32(&mut self, at: u32, value: u32) {
        let at = at as usize;
        if let Some(field) = self.bytes_mut().get_mut(at..at + 4) {
            field.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Writes a 32-bit displacement at `at` (the last four bytes of an instruction ending at
    /// `at + 4`) so that it reaches code offset `target`.
    pub(super) fn patch_rel32(&mut self, at: u32, target: u32) {
        self.patch_u32(at, target.wrapping_sub(at + 4));
    }

    /// Makes the code executable.
    pub(super) fn finish(self) -> Result<CodeMemory, CompileError> {
        if let Some(e) = self.failed {
            return Err(map_error(e));
        }
        let code = self.memory.make_exec().map_err(map_error)?;
        Ok(CodeMemory::Mapped(code))
    }

    /// Makes room for `additional` more bytes, moving the code to a mapping twice as large
    /// (or as large as needed) when it is full.
    fn reserve(&mut self, additional: usize) {
        let needed = self.len + additional;
        if needed <= self.memory.len() || self.failed.is_some() {
            return;
        }
        match map(needed.max(2 * self.memory.len())) {
            Ok(mut memory) => {
                memory[..self.len].copy_from_slice(&self.memory[..self.len]);
                self.base = memory.as_mut_ptr();
                self.memory = memory;
            }
            Err(e) => self.failed = Some(e),
        }
    }

    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, byte: u8) {
        self.reserve(1);
        if self.failed.is_none() {
            self.memory[self.len] = byte;
        }
        self.len += 1;
    }
}

/// An anonymous read-write mapping of at least `len` bytes: whole huge pages from
/// [`HUGE_PAGE`] up, else populated.
fn map(len: usize) -> std::io::Result<MmapMut> {
    if len < HUGE_PAGE {
        return MmapOptions::new().len(len.max(1)).populate().map_anon();
    }
    // A length of whole huge pages also makes the kernel align the mapping to one.
    let memory = MmapOptions::new()
        .len(len.next_multiple_of(HUGE_PAGE))
        .map_anon()?;
    // Only advice: without huge pages the code is the same, its memory slower to set up.
    #[cfg(target_os = "linux")]
    let _ = memory.advise(memmap2::Advice::HugePage);
    Ok(memory)
}

fn map_error(e: std::io::Error) -> CompileError {
    CompileError::Jit {
        message: format!("cannot map memory for the code: {e}"),
    }
}

impl Extend<u8> for CodeBuffer {
    #[inline]
    fn extend<T: IntoIterator<Item = u8>>(&mut self, bytes: T) {
        for byte in bytes {
            self.push(byte);
        }
    }
}

impl<'a> Extend<&'a u8> for CodeBuffer {
    #[inline]
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, bytes: T) {
        for &byte in bytes {
            self.push(byte);
        }
    }
}

impl DynasmApi for CodeBuffer {
    #[inline]
    fn offset(&self) -> AssemblyOffset {
        AssemblyOffset(self.len)
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        if self.len < self.memory.len() {
            // SAFETY: `base` is the start of `memory`, which is writable and longer than
            // `len` (checked above); `memory` is owned, so nothing else reads the byte.
            unsafe { self.base.add(self.len).write(byte) };
            self.len += 1;
        } else {
            self.push_slow(byte);
        }
    }

    fn align(&mut self, alignment: usize, with: u8) {
        while self.len % alignment != 0 {
            self.push(with);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_past_its_capacity_keeping_the_bytes_and_patches_displacements() {
        let mut buffer = CodeBuffer::with_capacity(16).expect("maps");
        let capacity = buffer.memory.len();
        for i in 0..capacity + 100 {
            buffer.push(i as u8);
        }
        assert!(buffer.memory.len() > capacity);
        assert!(buffer
            .bytes_mut()
            .iter()
            .enumerate()
            .all(|(i, &b)| b == i as u8));
        buffer.patch_rel32(10, 4);
        assert_eq!(buffer.bytes_mut()[10..14], (-10i32).to_le_bytes());
        let code = buffer.finish().expect("executable");
        assert_eq!(code.bytes()[5], 5);
    }
}
