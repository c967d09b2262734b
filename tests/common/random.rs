//! Seeded random RV32IM programs that always terminate and never fault, for property tests.
//!
//! A program is straight-line ALU and M-extension work on random registers, naturally aligned
//! loads and stores of every width into a 64 KiB data region (128 metering pages), forward
//! branches, counted loops (nested up to two deep), calls through `jal` and `jalr` to leaf
//! functions, and now and then an IO instruction: `reveal` inside the 32 public-value bytes,
//! `hintinput` followed by hint stores of the record just read, `hintrandom` followed by hint
//! stores, an empty `printstr`, `fence`. It ends with `terminate 0`. The same seed always gives
//! the same program; the generator is a self-contained SplitMix64.
//!
//! With intrinsics ([`generate_with_intrinsics`], for [`ExtConfig`]) it also mixes in `keccakf`,
//! `xorin` of every valid length, `sha256_update`, `sha512_update`, every 256-bit operation and
//! `beq256` forward branches (taken or not), all on operands inside the data region, at any
//! alignment and across pages.
//!
//! Register use (what keeps every access in range and every loop finite):
//! - x1 link register (written only by calls), x2 hint word counts, x3 the data base
//!   [`RAND_DATA`], x4 a "local" base somewhere in the region (always set to a value at least
//!   1 KiB from its end), x5 the address temporary;
//! - x25 the loop counter of functions, x26 and x27 the counters of the main code's loops;
//! - everything else (and sometimes x0) is a random destination.

use super::*;
use rvx::program::Segment;

/// Start of the data region the programs load from and store to.
pub const RAND_DATA: u32 = 0x8000;
/// Size of the data region: 128 metering pages of 512 bytes.
pub const RAND_DATA_LEN: u32 = 0x1_0000;
/// Bytes of initial data (a loaded segment) at the start of the region.
pub const RAND_INIT_LEN: usize = 256;

const RA: u32 = 1;
const COUNT: u32 = 2;
const DBASE: u32 = 3;
const LBASE: u32 = 4;
const ADDR: u32 = 5;
const FN_COUNTER: u32 = 25;
const LOOP_COUNTERS: [u32; 2] = [26, 27];
/// Registers random instructions may write (x0 is added now and then on purpose).
const FREE_REGS: [u32; 23] = [
    6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 28, 29, 30, 31,
];
/// Most code words a program may have (conditional branches reach +-4 KiB).
const MAX_WORDS: usize = 1800;

type RType = fn(u32, u32, u32) -> u32;
type IType = fn(u32, u32, i32) -> u32;

const R_OPS: [RType; 18] = [
    add, sub, sll, slt, sltu, xor, srl, sra, or, and, mul, mulh, mulhsu, mulhu, div, divu, rem,
    remu,
];
const I_OPS: [IType; 6] = [addi, slti, sltiu, xori, ori, andi];
const SHIFT_OPS: [fn(u32, u32, u32) -> u32; 3] = [slli, srli, srai];
const BRANCHES: [IType; 6] = [beq, bne, blt, bge, bltu, bgeu];
/// Loads with their access size.
const LOADS: [(IType, u32); 5] = [(lb, 1), (lh, 2), (lw, 4), (lbu, 1), (lhu, 2)];
/// Stores with their access size.
const STORES: [(IType, u32); 3] = [(sb, 1), (sh, 2), (sw, 4)];

/// A generated program: code at [`BASE`], initial data at [`RAND_DATA`], input records.
#[derive(Debug, Clone)]
pub struct RandomProgram {
    pub code: Vec<u32>,
    pub data: Vec<u8>,
    pub inputs: Vec<Vec<u8>>,
}

impl RandomProgram {
    /// The loadable segments: the code and the initial data.
    pub fn segments(&self) -> Vec<Segment> {
        vec![
            code_segment(BASE, &self.code),
            Segment {
                vaddr: RAND_DATA,
                data: self.data.clone(),
                memsz: self.data.len() as u32,
                executable: false,
            },
        ]
    }
}

/// The code words and input records of the program of `seed`.
pub fn random_program(seed: u64) -> (Vec<u32>, Vec<Vec<u8>>) {
    let p = generate(seed);
    (p.code, p.inputs)
}

/// The whole program of `seed`, initial data included.
pub fn generate(seed: u64) -> RandomProgram {
    generate_program(seed, false)
}

/// The program of `seed` with extension instructions mixed in (run it with [`ExtConfig`]).
pub fn generate_with_intrinsics(seed: u64) -> RandomProgram {
    generate_program(seed, true)
}

fn generate_program(seed: u64, intrinsics: bool) -> RandomProgram {
    let mut rng = TestRng::new(seed ^ 0x005e_ed0f_7e57);
    // Dynamic size classes: a few hundred, a few thousand, a few tens of thousands.
    let target = match rng.range(0, 9) {
        0..=3 => rng.range(300, 2_000),
        4..=7 => rng.range(2_000, 12_000),
        _ => rng.range(12_000, 45_000),
    };
    let data = (0..RAND_INIT_LEN).map(|_| rng.next_u32() as u8).collect();
    let mut g = Gen {
        rng,
        words: Vec::new(),
        labels: Vec::new(),
        fixups: Vec::new(),
        inputs: Vec::new(),
        functions: Vec::new(),
        skippable: false,
        intrinsics,
    };
    g.emit(li(DBASE, RAND_DATA));
    g.set_local_base();
    let main = g.new_label();
    g.fixup_jal(0, main);
    // Leaf functions first, so their cost is known when the main code calls them.
    for _ in 0..g.rng.range(0, 3) {
        let entry = g.new_label();
        g.place(entry);
        let items = g.rng.range(2, 12) as usize;
        let cost = g.block(items, 0, Context::Function, 400);
        g.op(jalr(0, RA, 0));
        g.functions.push((entry, cost + 1));
    }
    g.place(main);
    // `cost` bounds the executed instructions from above (skippable code counted as run);
    // `sure` counts only what surely runs, so that no program ends up tiny.
    let (mut cost, mut sure) = (0, 0);
    let floor = target.min(400);
    while (cost < target || sure < floor) && g.words.len() < MAX_WORDS - 200 {
        g.skippable = false;
        let budget = target.saturating_sub(cost).max(floor.saturating_sub(sure));
        let item = g.item(0, Context::Top, budget);
        cost += item;
        if !g.skippable {
            sure += item;
        }
    }
    g.op(terminate(0));
    RandomProgram {
        code: g.finish(),
        data,
        inputs: g.inputs,
    }
}

/// Where code is generated: what it may contain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The main code's top level: executed exactly once, in order.
    Top,
    /// Inside a loop or a skippable branch of the main code.
    Nested,
    /// Inside a leaf function (no calls, loops on x25 only).
    Function,
}

#[derive(Clone, Copy)]
enum Fix {
    Branch(IType, u32, u32),
    Jal(u32),
    /// `lui` + `addi` of the label's address plus a bias.
    La(u32, i32),
}

struct Gen {
    rng: TestRng,
    words: Vec<u32>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, usize, Fix)>,
    inputs: Vec<Vec<u8>>,
    /// Function entry labels and their estimated dynamic cost.
    functions: Vec<(usize, u64)>,
    /// Set when an item contains code that may be skipped.
    skippable: bool,
    /// Whether to emit extension instructions.
    intrinsics: bool,
}

impl Gen {
    fn op(&mut self, word: u32) {
        self.words.push(word);
    }

    fn emit(&mut self, words: impl IntoIterator<Item = u32>) {
        self.words.extend(words);
    }

    fn new_label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, label: usize) {
        self.labels[label] = Some(self.words.len());
    }

    fn fixup(&mut self, label: usize, fix: Fix) {
        self.fixups.push((self.words.len(), label, fix));
        self.words.push(0);
        if matches!(fix, Fix::La(..)) {
            self.words.push(0);
        }
    }

    fn fixup_jal(&mut self, rd: u32, label: usize) {
        self.fixup(label, Fix::Jal(rd));
    }

    fn finish(&self) -> Vec<u32> {
        let mut words = self.words.clone();
        for &(at, label, fix) in &self.fixups {
            let target = self.labels[label].expect("every label is placed");
            let offset = 4 * (target as i32 - at as i32);
            match fix {
                Fix::Branch(kind, rs1, rs2) => words[at] = kind(rs1, rs2, offset),
                Fix::Jal(rd) => words[at] = jal(rd, offset),
                Fix::La(rd, bias) => {
                    let addr = pc_at(target).wrapping_add(bias as u32);
                    words[at..at + 2].copy_from_slice(&li(rd, addr));
                }
            }
        }
        words
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.range(0, 99) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.range(0, items.len() as u64 - 1) as usize]
    }

    /// A destination register: usually a free one, sometimes x0 (a no-op for the ALU).
    fn rd(&mut self) -> u32 {
        if self.chance(4) {
            0
        } else {
            self.pick(&FREE_REGS)
        }
    }

    /// A source register: any register.
    fn rs(&mut self) -> u32 {
        self.rng.range(0, 31) as u32
    }

    fn imm12(&mut self) -> i32 {
        self.rng.range(0, 4095) as i32 - 2048
    }

    /// x4 = a random 8-byte aligned address at least 1 KiB before the region's end.
    fn set_local_base(&mut self) {
        let offset = self.rng.range(0, u64::from(RAND_DATA_LEN - 1024) / 8) as u32 * 8;
        self.emit(li(LBASE, RAND_DATA + offset));
    }

    /// Generates `items` items; returns their estimated dynamic cost.
    fn block(&mut self, items: usize, depth: usize, ctx: Context, budget: u64) -> u64 {
        let mut cost = 0;
        for _ in 0..items {
            if cost >= budget {
                break;
            }
            cost += self.item(depth, ctx, budget - cost);
        }
        cost
    }

    /// One random item; returns its estimated dynamic cost (an upper bound: skipped branches
    /// count as taken).
    fn item(&mut self, depth: usize, ctx: Context, budget: u64) -> u64 {
        let room = self.words.len() < MAX_WORDS - 120;
        match self.rng.range(0, 99) {
            0..=29 => self.alu(),
            30..=34 => self.special_value(),
            35..=39 => self.upper(),
            40..=54 => self.load_or_store(),
            55..=59 if room && depth < 3 => self.forward_branch(depth, ctx, budget),
            60..=66 if room && budget > 40 => self.counted_loop(depth, ctx, budget),
            67..=72 if ctx != Context::Function && !self.functions.is_empty() => self.call(),
            73..=75 => {
                let offset = 4 * self.rng.range(0, 7) as i32;
                let rs = self.rs();
                self.op(reveal(rs, 0, offset));
                1
            }
            76..=78 => self.hint_random(ctx == Context::Top),
            79..=81 if ctx == Context::Top => self.hint_input(),
            82 => {
                self.op(printstr(DBASE, 0));
                1
            }
            83 => {
                self.op(FENCE);
                1
            }
            84..=85 => {
                self.set_local_base();
                2
            }
            88..=97 if self.intrinsics => self.intrinsic(depth, ctx, budget),
            86..=87 => {
                // A forward `jal` over a few words (taken always), linking a free register.
                let rd = self.rd();
                let skip = self.new_label();
                self.fixup_jal(rd, skip);
                for _ in 0..self.rng.range(0, 3) {
                    self.alu();
                }
                self.place(skip);
                1
            }
            _ => self.alu(),
        }
    }

    fn alu(&mut self) -> u64 {
        let rd = self.rd();
        let rs1 = self.rs();
        let word = match self.rng.range(0, 2) {
            0 => {
                let op = self.pick(&R_OPS);
                let rs2 = self.rs();
                op(rd, rs1, rs2)
            }
            1 => {
                let op = self.pick(&I_OPS);
                let imm = self.imm12();
                op(rd, rs1, imm)
            }
            _ => {
                let op = self.pick(&SHIFT_OPS);
                op(rd, rs1, self.rng.range(0, 31) as u32)
            }
        };
        self.op(word);
        1
    }

    /// Loads an edge-case value (for division and shifts) or a random one.
    fn special_value(&mut self) -> u64 {
        let rd = self.pick(&FREE_REGS);
        let value = match self.rng.range(0, 6) {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => 0x8000_0000,
            4 => 0x7fff_ffff,
            _ => self.rng.next_u32(),
        };
        self.emit(li(rd, value));
        2
    }

    fn upper(&mut self) -> u64 {
        let rd = self.rd();
        let upper = self.rng.next_u32() >> 12;
        let word = if self.chance(50) {
            lui(rd, upper)
        } else {
            auipc(rd, upper)
        };
        self.op(word);
        1
    }

    /// A load or store of a random width at a random aligned address of the region.
    fn load_or_store(&mut self) -> u64 {
        let (load, size) = self.pick(&LOADS);
        let (store, store_size) = self.pick(&STORES);
        let is_load = self.chance(50);
        let size = if is_load { size } else { store_size };
        let aligned = |g: &mut Gen, span: u32| {
            (g.rng.range(0, u64::from(span / size) - 1) as u32 * size) as i32
        };
        let src = self.rs();
        let (base, imm, setup) = match self.rng.range(0, 3) {
            // Anywhere in the region: ((x & 0x7ff) << 5) + base, plus 0..32.
            0 => {
                self.op(andi(ADDR, src, 0x7ff));
                self.op(slli(ADDR, ADDR, 5));
                self.op(add(ADDR, ADDR, DBASE));
                (ADDR, aligned(self, 32), 3)
            }
            // Near the local base: (x & 0x1f8) + x4, plus 0..8.
            1 => {
                self.op(andi(ADDR, src, 0x1f8));
                self.op(add(ADDR, ADDR, LBASE));
                (ADDR, aligned(self, 8), 2)
            }
            // The first four pages, directly off the data base.
            2 => (DBASE, aligned(self, 2048), 0),
            // The local base's first page.
            _ => (LBASE, aligned(self, 512), 0),
        };
        if is_load {
            let rd = self.rd();
            self.op(load(rd, base, imm));
        } else {
            let value = self.rs();
            self.op(store(value, base, imm));
        }
        setup + 1
    }

    fn forward_branch(&mut self, depth: usize, ctx: Context, budget: u64) -> u64 {
        let kind = self.pick(&BRANCHES);
        let (rs1, rs2) = (self.rs(), self.rs());
        let skip = self.new_label();
        self.fixup(skip, Fix::Branch(kind, rs1, rs2));
        self.skippable = true;
        let inner = if ctx == Context::Top {
            Context::Nested
        } else {
            ctx
        };
        let items = self.rng.range(1, 8) as usize;
        let cost = self.block(items, depth + 1, inner, budget);
        self.place(skip);
        cost + 1
    }

    fn counted_loop(&mut self, depth: usize, ctx: Context, budget: u64) -> u64 {
        let counter = match ctx {
            Context::Function if depth == 0 => FN_COUNTER,
            Context::Function => return self.alu(),
            _ if depth < LOOP_COUNTERS.len() => LOOP_COUNTERS[depth],
            _ => return self.alu(),
        };
        // Emit the body first with a placeholder trip count, then fit the count to the budget.
        let init = self.words.len();
        self.op(0);
        let top = self.new_label();
        self.place(top);
        let inner = if ctx == Context::Top {
            Context::Nested
        } else {
            ctx
        };
        let items = self.rng.range(2, 14) as usize;
        let body = self.block(items, depth + 1, inner, budget / 2).max(1) + 2;
        self.op(addi(counter, counter, -1));
        if self.chance(50) {
            self.fixup(top, Fix::Branch(bne, counter, 0));
        } else {
            self.fixup(top, Fix::Branch(blt, 0, counter));
        }
        let max_trips = (budget / body).clamp(1, 200);
        let trips = self.rng.range(1, max_trips);
        self.words[init] = addi(counter, 0, trips as i32);
        1 + trips * body
    }

    fn call(&mut self) -> u64 {
        let (entry, cost) = self.pick(&self.functions.clone());
        if self.chance(50) {
            self.fixup_jal(RA, entry);
            1 + cost
        } else {
            let bias = 4 * self.rng.range(0, 8) as i32 - 16;
            self.fixup(entry, Fix::La(ADDR, bias));
            self.op(jalr(RA, ADDR, -bias));
            3 + cost
        }
    }

    /// x5 = a random address (any alignment) with room for `bytes` bytes before the region's
    /// end, computed from a random register.
    fn hint_address(&mut self, bytes: u32) -> u64 {
        let src = self.rs();
        // ((x & 0x7ff) << 4) + base + 0..3: up to 0x7ff3 past the base, 32 KiB of room left.
        debug_assert!(bytes <= RAND_DATA_LEN - 0x8000);
        self.op(andi(ADDR, src, 0x7ff));
        self.op(slli(ADDR, ADDR, 4));
        self.op(add(ADDR, ADDR, DBASE));
        let skew = self.rng.range(0, 3) as i32;
        self.op(addi(ADDR, ADDR, skew));
        4
    }

    /// One extension instruction on operands in the data region: x5 a random address with
    /// 32 KiB of room, x3 and x4 (at least 1 KiB of room) as the other operands.
    fn intrinsic(&mut self, depth: usize, ctx: Context, budget: u64) -> u64 {
        let cost = self.hint_address(256);
        let operand = |g: &mut Gen| g.pick(&[DBASE, LBASE, ADDR]);
        match self.rng.range(0, 9) {
            0 => {
                self.op(keccakf(ADDR));
                cost + 1
            }
            1 | 2 => {
                let len = 4 * self.rng.range(0, 34) as i32;
                self.op(addi(COUNT, 0, len));
                let input = operand(self);
                self.op(xorin(ADDR, input, COUNT));
                cost + 2
            }
            3 => {
                let (state, block) = (operand(self), operand(self));
                self.op(sha256_update(ADDR, state, block));
                cost + 1
            }
            4 => {
                let (state, block) = (operand(self), operand(self));
                self.op(sha512_update(ADDR, state, block));
                cost + 1
            }
            5 if self.words.len() < MAX_WORDS - 120 && depth < 3 => {
                // beq256 over a few items: equal operands (taken) or most likely different.
                let rs1 = operand(self);
                let rs2 = if self.chance(50) { rs1 } else { operand(self) };
                let skip = self.new_label();
                self.fixup(skip, Fix::Branch(beq256, rs1, rs2));
                self.skippable = true;
                let inner = if ctx == Context::Top {
                    Context::Nested
                } else {
                    ctx
                };
                let items = self.rng.range(1, 6) as usize;
                let body = self.block(items, depth + 1, inner, budget);
                self.place(skip);
                cost + 1 + body
            }
            _ => {
                let funct7 = self.rng.range(0, 10) as u32;
                let (a, b) = (operand(self), operand(self));
                let rd = if self.chance(20) { operand(self) } else { ADDR };
                self.op(int256(funct7, rd, a, b));
                cost + 1
            }
        }
    }

    /// `hintrandom` of a few words (more at the top level, where it runs once: the generator
    /// behind it is slow in unoptimised builds), then hint stores consuming some of them.
    fn hint_random(&mut self, top: bool) -> u64 {
        let words = if top && self.chance(30) {
            self.rng.range(9, 100)
        } else {
            self.rng.range(1, 8)
        } as u32;
        self.op(addi(COUNT, 0, words as i32));
        self.op(hintrandom(COUNT));
        let mut cost = 2 + self.hint_address(4 * words);
        if self.chance(60) {
            self.op(hintbuffer(ADDR, COUNT));
            cost + 1
        } else {
            for _ in 0..self.rng.range(0, u64::from(words.min(3))) {
                self.op(hintstorew(ADDR));
                self.op(addi(ADDR, ADDR, 4));
                cost += 2;
            }
            cost
        }
    }

    /// `hintinput` of a new input record, then hint stores of some of its words (length word
    /// included) at fixed addresses, some unaligned and crossing pages.
    fn hint_input(&mut self) -> u64 {
        let len = if self.chance(20) {
            self.rng.range(65, 2000)
        } else {
            self.rng.range(0, 64)
        } as usize;
        let record: Vec<u8> = (0..len).map(|_| self.rng.next_u32() as u8).collect();
        self.inputs.push(record);
        self.op(hintinput());
        let mut left = 1 + len.div_ceil(4) as u32;
        let mut cost = 1;
        while left > 0 && self.chance(80) {
            let words = if self.chance(40) {
                1
            } else {
                self.rng.range(1, u64::from(left)) as u32
            };
            let room = RAND_DATA_LEN - 4 * words;
            let addr = if self.chance(25) {
                // Just before a page boundary: a word straddles two pages.
                let page = self.rng.range(1, u64::from(room / 512)) as u32;
                RAND_DATA + 512 * page - self.rng.range(1, 3) as u32
            } else {
                RAND_DATA + self.rng.range(0, u64::from(room)) as u32
            };
            self.emit(li(ADDR, addr));
            if words == 1 && self.chance(50) {
                self.op(hintstorew(ADDR));
            } else {
                self.op(addi(COUNT, 0, words as i32));
                self.op(hintbuffer(ADDR, COUNT));
                cost += 1;
            }
            cost += 3;
            left -= words;
        }
        cost
    }
}
