//! The guest's host-provided streams: input records, the hint stream, and the rng behind
//! `hintrandom`.

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Input records and the hint stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    /// Input records not yet consumed by `hintinput`, front first.
    pub input: VecDeque<Vec<u8>>,
    /// Hint bytes not yet consumed by `hintstorew`/`hintbuffer`, front first.
    pub hint: VecDeque<u8>,
}

impl Streams {
    /// Streams holding the given input records and an empty hint stream.
    pub fn new(inputs: impl IntoIterator<Item = Vec<u8>>) -> Streams {
        Streams {
            input: inputs.into_iter().collect(),
            hint: VecDeque::new(),
        }
    }

    /// Replaces the hint stream with the next input record, framed as the reference does:
    /// its length as a little-endian u32, the bytes, then zeros up to a multiple of 4.
    /// Returns `false` when no record is left.
    pub fn hint_next_input(&mut self) -> bool {
        let Some(record) = self.input.pop_front() else {
            return false;
        };
        self.hint.clear();
        self.hint.extend((record.len() as u32).to_le_bytes());
        self.hint.extend(&record);
        let padding = (4 - record.len() % 4) % 4;
        self.hint.extend(std::iter::repeat_n(0u8, padding));
        true
    }

    /// Pops `out.len()` hint bytes into `out`; `false` (and nothing popped) if too few are left.
    pub fn pop_hint(&mut self, out: &mut [u8]) -> bool {
        if self.hint.len() < out.len() {
            return false;
        }
        let len = out.len();
        for (slot, byte) in out.iter_mut().zip(self.hint.drain(..len)) {
            *slot = byte;
        }
        true
    }
}

/// The deterministic generator behind `hintrandom`.
///
/// The reference zkVM draws from rand 0.9's `StdRng` (ChaCha with 12 rounds) seeded with
/// `seed_from_u64(0)` once per execution, and produces every hint byte as the low byte of one
/// `next_u32` (rand's uniform `u8`). The generator is part of the suspended state, so a resumed
/// run continues the same sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRng(ChaCha12Rng);

impl Default for GuestRng {
    fn default() -> Self {
        GuestRng(ChaCha12Rng::seed_from_u64(0))
    }
}

impl GuestRng {
    /// Fills the hint stream with `4 * words` random bytes, replacing what it held.
    pub fn hint_random(&mut self, hint: &mut VecDeque<u8>, words: u32) {
        hint.clear();
        let bytes = 4 * words as usize;
        hint.reserve(bytes);
        // Truncation is the reference's byte distribution: one u32 draw per byte.
        hint.extend((0..bytes).map(|_| self.0.next_u32() as u8));
    }
}
