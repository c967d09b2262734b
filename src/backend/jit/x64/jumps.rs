//! Jumps and references to code placed elsewhere, encoded by the emitter rather than through
//! `dynasmrt`'s labels: every block has several (its branch, its stops, its constants), and
//! labels and their relocations cost the assembler more time and memory than the code.
//!
//! A jump to code already emitted is encoded at once, in its short form when it reaches;
//! anything else gets a 32-bit displacement and a fixup ([`Fixups`]), resolved by
//! [`Emitter::resolve_fixups`] once the blocks, the cold code and the constants are placed.
//! Forward jumps within an instruction's own code, or a subroutine's, are
//! [`Emitter::jump_forward`] and [`Emitter::land`].

use super::Emitter;
use dynasmrt::DynasmApi;

/// A jump's kind: conditional on an x86 condition code (the low nibble of `jcc`'s opcode),
/// unconditional, or a call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Jump {
    If(u8),
    Always,
    Call,
}

pub(super) const JB: Jump = Jump::If(0x2);
pub(super) const JAE: Jump = Jump::If(0x3);
pub(super) const JE: Jump = Jump::If(0x4);
pub(super) const JNE: Jump = Jump::If(0x5);
pub(super) const JA: Jump = Jump::If(0x7);
pub(super) const JS: Jump = Jump::If(0x8);
pub(super) const JL: Jump = Jump::If(0xc);
pub(super) const JGE: Jump = Jump::If(0xd);
pub(super) const JMP: Jump = Jump::Always;
pub(super) const CALL: Jump = Jump::Call;

/// What a 32-bit displacement refers to, before it is placed.
#[derive(Clone, Copy)]
pub(super) enum Target {
    /// The block with this number in the plan.
    Block(u32),
    /// The item with this index in the cold code.
    Cold(u32),
    /// The constant with this index in the pool.
    Pool(u32),
}

/// A forward jump waiting for its target ([`Emitter::jump_forward`]): where its displacement
/// is, and whether it is 8 bits (else 32).
#[must_use]
pub(super) struct Forward {
    at: usize,
    short: bool,
}

/// Displacements to fill in, by kind of target (one loop each resolves them, without a
/// branch per fixup on its kind): where each one's four bytes are (the instruction ends right
/// after them), and the number of its target.
#[derive(Default)]
pub(super) struct Fixups {
    blocks: Vec<(u32, u32)>,
    cold: Vec<(u32, u32)>,
    pool: Vec<(u32, u32)>,
}

impl Fixups {
    /// Room for about `n` fixups of each kind but constants.
    pub(super) fn with_capacity(n: usize) -> Fixups {
        Fixups {
            blocks: Vec::with_capacity(n),
            cold: Vec::with_capacity(n),
            pool: Vec::new(),
        }
    }

    fn push(&mut self, at: usize, target: Target) {
        let at = at as u32;
        match target {
            Target::Block(block) => self.blocks.push((at, block)),
            Target::Cold(item) => self.cold.push((at, item)),
            Target::Pool(index) => self.pool.push((at, index)),
        }
    }
}

/// Where the targets of fixups were placed: code offsets of the blocks, of the cold code's
/// items, and of the constant pool.
pub(super) struct Placement<'a> {
    pub blocks: &'a [u32],
    pub cold: &'a [u32],
    pub pool: u32,
}

/// Bytes per constant of the pool.
pub(super) const CONSTANT_BYTES: u32 = 32;

impl Emitter<'_> {
    /// A jump to code offset `target`, already emitted.
    pub(super) fn jump_to(&mut self, jump: Jump, target: u32) {
        let here = self.ops.offset().0 as i64;
        let short = i64::from(target) - (here + 2);
        if jump != CALL {
            if let Ok(rel) = i8::try_from(short) {
                self.ops.push(short_opcode(jump));
                self.ops.push(rel as u8);
                return;
            }
        }
        let at = self.long_jump(jump);
        self.ops.patch_rel32(at as u32, target);
    }

    /// A jump to the block starting at code index `index` (branch targets and the
    /// instruction after a block's end start blocks).
    pub(super) fn jump_to_block(&mut self, jump: Jump, index: usize) {
        let block = self.plan.block_at[index];
        assert_ne!(block, u32::MAX, "branch targets start blocks");
        match self.block_offsets[block as usize] {
            u32::MAX => self.jump_later(jump, Target::Block(block)),
            offset => self.jump_to(jump, offset),
        }
    }

    /// A jump to the cold code item `item` (an index in `cold`).
    pub(super) fn jump_cold(&mut self, jump: Jump, item: u32) {
        self.jump_later(jump, Target::Cold(item));
    }

    /// A jump to `target`, not placed yet.
    fn jump_later(&mut self, jump: Jump, target: Target) {
        let at = self.long_jump(jump);
        self.fixups.push(at, target);
    }

    /// Records that the instruction just emitted ends with a `rip`-relative displacement
    /// (emitted as `[rip]`) to `target`.
    pub(super) fn refer(&mut self, target: Target) {
        let at = self.ops.offset().0 - 4;
        self.fixups.push(at, target);
    }

    /// A forward jump, to where [`Emitter::land`] is later called with what this returns;
    /// `short` if that is less than 128 bytes on.
    pub(super) fn jump_forward(&mut self, jump: Jump, short: bool) -> Forward {
        if short {
            self.ops.push(short_opcode(jump));
            self.ops.push(0);
            Forward {
                at: self.ops.offset().0 - 1,
                short,
            }
        } else {
            Forward {
                at: self.long_jump(jump),
                short,
            }
        }
    }

    /// Points the forward jump `jump` here.
    pub(super) fn land(&mut self, jump: Forward) {
        let here = self.ops.offset().0;
        if jump.short {
            let rel = i8::try_from(here - (jump.at + 1)).expect("short jumps reach");
            // (Nothing to patch once the code could not be stored: see `CodeBuffer`.)
            if let Some(byte) = self.ops.bytes_mut().get_mut(jump.at) {
                *byte = rel as u8;
            }
        } else {
            self.ops.patch_rel32(jump.at as u32, here as u32);
        }
    }

    /// Fills in every displacement recorded by [`Emitter::jump_later`] and
    /// [`Emitter::refer`].
    pub(super) fn resolve_fixups(&mut self, placed: Placement<'_>) {
        let fixups = std::mem::take(&mut self.fixups);
        for (at, block) in fixups.blocks {
            self.ops.patch_rel32(at, placed.blocks[block as usize]);
        }
        for (at, item) in fixups.cold {
            self.ops.patch_rel32(at, placed.cold[item as usize]);
        }
        for (at, index) in fixups.pool {
            self.ops
                .patch_rel32(at, placed.pool + CONSTANT_BYTES * index);
        }
    }

    /// Emits `jump`'s 32-bit form with its displacement zero; returns where the displacement
    /// is, for the caller to fill in.
    fn long_jump(&mut self, jump: Jump) -> usize {
        match jump {
            Jump::If(cc) => self.ops.extend([0x0f, 0x80 | cc]),
            Jump::Always => self.ops.push(0xe9),
            Jump::Call => self.ops.push(0xe8),
        }
        let at = self.ops.offset().0;
        self.ops.extend([0; 4]);
        at
    }
}

/// The opcode of `jump`'s 8-bit form (calls have none).
fn short_opcode(jump: Jump) -> u8 {
    match jump {
        Jump::If(cc) => 0x70 | cc,
        Jump::Always => 0xeb,
        Jump::Call => unreachable!("calls have no short form"),
    }
}
