//! The hooks through which an executing backend reports what metering needs.
//!
//! A backend calls these as it executes; each mode implements them. The pure mode's
//! implementation does nothing and compiles away, so one dispatch loop serves every mode.

/// What the executing backend reports, and what it asks before running ahead.
pub trait Meter {
    /// Every instruction from code index `idx` to the end of its basic block is about to
    /// execute (the backend took the whole block at once).
    fn on_block(&mut self, idx: usize);

    /// The instruction at code index `idx` is about to execute.
    fn on_insn(&mut self, idx: usize);

    /// The instruction at code index `idx` is about to execute one at a time, outside a whole
    /// block (near a stop point); called besides [`Meter::on_insn`].
    fn on_counted_insn(&mut self, idx: usize);

    /// A 4-byte access of main memory at the word-aligned address `addr`.
    fn on_memory_word(&mut self, addr: u32);

    /// A hint store wrote `words` 4-byte words from `addr` (which may be unaligned), adding one
    /// row per word to the hint-store chip.
    fn on_hint_store(&mut self, addr: u32, words: u32);

    /// `reveal` wrote the public-value word at byte `offset`.
    fn on_public_value(&mut self, offset: u32);

    /// An extension instruction that meters itself added `rows` rows to chip `chip` (an index
    /// into the chip table).
    fn on_rows(&mut self, chip: usize, rows: u32);

    /// An extension instruction that meters itself accessed the `len` bytes of main memory
    /// from `addr` (`len > 0`, inside guest memory, any alignment).
    fn on_memory_range(&mut self, addr: u32, len: u32);

    /// Whether the instructions from code index `idx` to the end of its block may all run
    /// without consulting the meter between them.
    fn block_fits(&self, idx: usize) -> bool;

    /// Whether one more instruction may execute.
    fn may_execute(&self) -> bool;
}

/// The pure mode's meter: counts nothing, never stops execution.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMeter;

impl Meter for NoMeter {
    #[inline(always)]
    fn on_block(&mut self, _idx: usize) {}
    #[inline(always)]
    fn on_insn(&mut self, _idx: usize) {}
    #[inline(always)]
    fn on_counted_insn(&mut self, _idx: usize) {}
    #[inline(always)]
    fn on_memory_word(&mut self, _addr: u32) {}
    #[inline(always)]
    fn on_hint_store(&mut self, _addr: u32, _words: u32) {}
    #[inline(always)]
    fn on_public_value(&mut self, _offset: u32) {}
    #[inline(always)]
    fn on_rows(&mut self, _chip: usize, _rows: u32) {}
    #[inline(always)]
    fn on_memory_range(&mut self, _addr: u32, _len: u32) {}
    #[inline(always)]
    fn block_fits(&self, _idx: usize) -> bool {
        true
    }
    #[inline(always)]
    fn may_execute(&self) -> bool {
        true
    }
}
