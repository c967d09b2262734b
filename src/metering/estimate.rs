//! Proving-memory estimate that OpenVM 2.0.2's metered execution uses to cut segments.
//!
//! At every segment check (every 1000 instructions) OpenVM asks how much memory proving the
//! open segment would take, and cuts the segment when that estimate is strictly greater than
//! [`DEFAULT_MAX_MEMORY`]. The estimate is a pure function of the segment's trace heights and a
//! few fixed facts per AIR; this module reimplements it bit for bit (the reference is
//! `ProvingMemoryConfig::estimate` in `openvm-stark-backend` 2.0.1, fed by
//! `SegmentationCtx::segmentation_trigger` in `openvm-circuit` 2.0.2).
//!
//! # How the estimate is built
//!
//! 1. Every AIR's height is padded to a power of two (0 stays 0). This happens *inside*
//!    [`estimate_proving_memory`]: pass the raw heights. All AIRs take part, including the ones
//!    whose height is constant (program, connector, lookup tables).
//! 2. The padded heights are turned into four cell counts: main cells of AIRs that read the next
//!    row (`need_rot`), main cells of the other AIRs, interaction cells (padded height times the
//!    number of interactions) and constraint-evaluation cells (padded height times the
//!    per-row constraint-evaluation buffer size, always 0 on OpenVM's CPU backend).
//! 3. From the counts, byte sizes are derived for the resident main traces, the optional cached
//!    stacked matrix, the Reed-Solomon codeword matrix, and three mutually exclusive working
//!    sets (batch constraint / zerocheck, fractional GKR, WHIR opening); the total is the main
//!    traces plus the stacked matrix plus the secondary peak (see [`ProvingMemoryBreakdown`]).
//!
//! # Arithmetic
//!
//! Everything is unsigned integer arithmetic; there are no floats and the only rounding is
//! explicit (ceiling divisions, rounding up to a multiple of the stacked height, rounding up to
//! a power of two). OpenVM computes in `usize`; on the 64-bit hosts it runs on, that is `u64`,
//! and its release builds (no overflow checks) wrap on overflow. This module uses `u64` and
//! reproduces the wrapping exactly (wrapping adds and multiplies, shifts with the amount masked
//! to 6 bits, `next_power_of_two` giving 0 past 2^63), plus the two saturating multiplies of the
//! constraint-evaluation term. With realistic chip tables nothing ever gets near 2^64; the one
//! overflow that *does* matter in practice is in step 1: OpenVM keeps trace heights as `u32` and
//! stores the padded height in a `u32` too, so a height above 2^31 pads to 2^32, which becomes
//! 0. That is why heights are taken as `u32` here.

/// OpenVM's default segmentation memory budget: 15 GiB = 16_106_127_360 bytes.
///
/// This is `DEFAULT_MAX_MEMORY` (`15 << 30`) in `openvm-circuit` 2.0.2
/// (`arch/execution_mode/metered/segment_ctx.rs`), the default of
/// `SystemConfig::segmentation_max_memory`; the reference AIR tables record it as
/// `segmentation.max_memory`. A segment is cut when the estimate is strictly greater than this.
pub const DEFAULT_MAX_MEMORY: u64 = 15 << 30;

/// Fixed scratch added to the batch-constraint working set: 256 MiB.
const BATCH_CONSTRAINT_OVERHEAD: u64 = 256 << 20;
/// Smallest batch-MLE scratch assumed when the zerocheck memory saving is off: 6 GiB.
const BATCH_MLE_FLOOR: u64 = 6 << 30;
/// Fixed scratch added to the GKR phase: 256 MiB.
const GKR_OVERHEAD: u64 = 256 << 20;
/// Smallest GKR work buffer, counted in fractions (one fraction = two extension elements).
const GKR_MIN_WORK_BUFFER_LEN: u64 = 1 << 22;
/// Fixed scratch added to the WHIR opening working set: 64 MiB.
const WHIR_OVERHEAD: u64 = 64 << 20;

/// Prover parameters that the estimate depends on.
///
/// The field names and meanings are those of OpenVM's `ProvingMemoryConfig`; the reference AIR
/// tables print them under `segmentation.proving_memory_config`. Integer fields are `u64`
/// because OpenVM holds them as `usize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProvingMemoryParams {
    /// Bytes per base-field element (BabyBear is stored in a `u32`: 4).
    pub base_field_size: u64,
    /// Degree of the challenge field over the base field (BabyBear^4: 4).
    pub extension_degree: u64,
    /// Bytes per Merkle digest (8 BabyBear elements: 32).
    pub digest_size: u64,
    /// Log2 of the Reed-Solomon blowup factor.
    pub log_blowup: u64,
    /// Log2 of the univariate-skip domain size.
    pub l_skip: u64,
    /// Log2 of the height of the stacked commitment matrix (`l_skip + n_stack`).
    pub log_stacked_height: u64,
    /// Log2 of the number of codeword rows per WHIR Merkle leaf (WHIR folding factor `k`).
    pub k_whir: u64,
    /// Largest constraint degree over all AIRs and interactions.
    pub max_constraint_degree: u64,
    /// Whether the stacked matrix stays in memory after committing.
    pub cache_stacked_matrix: bool,
    /// Whether the Reed-Solomon codeword matrix stays in memory after committing.
    pub cache_rs_code_matrix: bool,
    /// Whether the zerocheck scratch shares memory with the main-trace buffers instead of
    /// being added to them with a 6 GiB floor.
    pub zerocheck_save_memory: bool,
}

impl Default for ProvingMemoryParams {
    /// The parameters OpenVM 2.0.2 uses for an app VM with the default `AppConfig`, i.e.
    /// `StarkEngine::proving_memory_config` (openvm-stark-backend 2.0.1 `engine.rs`) of the CPU
    /// BabyBear-Poseidon2 engine built from `app_params_with_100_bits_security(24)`
    /// (openvm-stark-sdk 2.0.1 `config/mod.rs`). Matches the reference JSON's
    /// `segmentation.proving_memory_config` for every configuration.
    fn default() -> Self {
        Self {
            // size_of::<BabyBear>()
            base_field_size: 4,
            // the quartic extension field's degree (D_EF)
            extension_degree: 4,
            // size_of::<[BabyBear; 8]>()
            digest_size: 32,
            // DEFAULT_APP_LOG_BLOWUP
            log_blowup: 1,
            // DEFAULT_APP_L_SKIP
            l_skip: 4,
            // MAX_APP_LOG_STACKED_HEIGHT = l_skip 4 + n_stack 20
            log_stacked_height: 24,
            // DEFAULT_K_WHIR
            k_whir: 4,
            // APP_MAX_CONSTRAINT_DEGREE
            max_constraint_degree: 3,
            // hard-coded false by the engine
            cache_stacked_matrix: false,
            // hard-coded true by the engine
            cache_rs_code_matrix: true,
            // the engine turns it on exactly when log_blowup == 1
            zerocheck_save_memory: true,
        }
    }
}

/// The per-AIR facts the estimate needs, one per AIR in verifying-key order (the order of the
/// reference JSON's `airs` and of the trace heights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChipMemoryShape {
    /// Total trace width in base-field columns: preprocessed + cached main + common main.
    /// JSON field `width` (equal to `preprocessed_width` (null = 0) + `main_width`, where
    /// `main_width` = sum of `cached_main_widths` + `common_main_width`).
    pub width: u64,
    /// Whether the AIR's constraints read the next row, which doubles its weight in the
    /// batch-constraint term. JSON field `need_rot`.
    pub need_rot: bool,
    /// Number of interactions (bus messages) per row. JSON field `num_interactions` (the length
    /// of `interactions_bus_msglen_countweight`; message lengths and counts do not matter).
    pub num_interactions: u64,
    /// Per-row constraint-evaluation scratch in base-field elements. JSON field
    /// `constraint_eval_buffer_size`; OpenVM's CPU backend reports 0 for every AIR.
    pub constraint_eval_buffer_size: u64,
}

/// The components of one estimate, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProvingMemoryBreakdown {
    /// The estimate: `main + stacked_matrix + secondary_peak`.
    pub total: u64,
    /// Resident main traces: all main cells times the field size.
    pub main: u64,
    /// Cached stacked matrix (0 unless `cache_stacked_matrix`): main cells rounded up to a
    /// multiple of the stacked height, times the field size.
    pub stacked_matrix: u64,
    /// Reed-Solomon codeword matrix: the stacked cell count times the blowup times the field
    /// size.
    pub rs_code_matrix: u64,
    /// Batch-constraint (zerocheck) phase working set, fixed overhead included.
    pub batch_constraint: u64,
    /// Fractional-GKR phase working set, fixed overhead included (0 with no interactions).
    pub gkr: u64,
    /// WHIR opening working set; depends on the parameters only.
    pub whir: u64,
    /// Peak of the phases after commitment. With a cached codeword matrix:
    /// `rs_code_matrix + max(whir, batch_constraint, gkr)`; otherwise
    /// `max(rs_code_matrix + whir, batch_constraint, gkr)`.
    pub secondary_peak: u64,
}

/// Cell counts summed over all AIRs from their padded heights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CellCounts {
    main_with_rot: u64,
    main_without_rot: u64,
    interaction: u64,
    constraint_eval: u64,
}

/// `1 << log` with the shift amount masked to 6 bits, as a release build of OpenVM does.
fn pow2(log: u64) -> u64 {
    1u64.wrapping_shl(log as u32)
}

/// `n.next_power_of_two()` of a release build: 0 when the result would not fit.
fn next_pow2_wrapping(n: u64) -> u64 {
    n.checked_next_power_of_two().unwrap_or(0)
}

/// `n.next_multiple_of(m)` (for `m > 0`) of a release build, wrapping on overflow.
fn next_multiple_wrapping(n: u64, m: u64) -> u64 {
    match n % m {
        0 => n,
        r => n.wrapping_add(m - r),
    }
}

/// A trace height padded the way the segmentation check pads it: 0 stays 0, anything else goes
/// up to the next power of two, and the result is kept in a `u32` (so heights above 2^31
/// become 0).
fn padded_height(height: u32) -> u32 {
    if height == 0 {
        0
    } else {
        u64::from(height).next_power_of_two() as u32
    }
}

fn cell_counts(chips: &[ChipMemoryShape], heights: &[u32]) -> CellCounts {
    let mut counts = CellCounts::default();
    for (chip, &height) in chips.iter().zip(heights) {
        let rows = u64::from(padded_height(height));
        let main = rows.wrapping_mul(chip.width);
        if chip.need_rot {
            counts.main_with_rot = counts.main_with_rot.wrapping_add(main);
        } else {
            counts.main_without_rot = counts.main_without_rot.wrapping_add(main);
        }
        counts.interaction = counts
            .interaction
            .wrapping_add(rows.wrapping_mul(chip.num_interactions));
        counts.constraint_eval = counts
            .constraint_eval
            .wrapping_add(rows.wrapping_mul(chip.constraint_eval_buffer_size));
    }
    counts
}

impl ProvingMemoryParams {
    /// Bytes of one GKR leaf: a fraction of two extension-field elements.
    fn gkr_leaf_bytes(&self) -> u64 {
        2u64.wrapping_mul(self.extension_degree)
            .wrapping_mul(self.base_field_size)
    }

    /// Rows of the fractional-sum tree: interaction cells plus one, up to a power of two.
    fn gkr_logical_len(interaction_cells: u64) -> u64 {
        next_pow2_wrapping(interaction_cells.wrapping_add(1))
    }

    /// `main_cells` rounded up to whole columns of the stacked matrix.
    fn stacked_cells(&self, main_cells: u64) -> u64 {
        next_multiple_wrapping(main_cells, pow2(self.log_stacked_height))
    }

    fn batch_constraint_bytes(&self, counts: &CellCounts) -> u64 {
        // Each opening of a main cell costs D_EF * field_size * (max_degree + 2) / 2^(l_skip+1)
        // bytes, rounded up once per group; AIRs that read the next row open twice.
        let per_opening = self
            .extension_degree
            .wrapping_mul(self.base_field_size)
            .wrapping_mul(self.max_constraint_degree.wrapping_add(2));
        let denominator = pow2(self.l_skip.wrapping_add(1));
        let weighted = |cells: u64, openings: u64| {
            cells
                .wrapping_mul(openings)
                .wrapping_mul(per_opening)
                .div_ceil(denominator)
        };
        let main_bytes =
            weighted(counts.main_with_rot, 2).wrapping_add(weighted(counts.main_without_rot, 1));

        // Round-0 temporaries: GKR leaves plus a quarter-size work buffer (at least the
        // minimum), capped by the full constraint-evaluation buffer when that is known.
        let round0_limit = if counts.interaction == 0 {
            0
        } else {
            let leaf = self.gkr_leaf_bytes();
            let logical = Self::gkr_logical_len(counts.interaction);
            counts.interaction.wrapping_mul(leaf).wrapping_add(
                (logical / 4)
                    .max(GKR_MIN_WORK_BUFFER_LEN)
                    .wrapping_mul(leaf),
            )
        };
        let round0 = if counts.constraint_eval == 0 {
            round0_limit
        } else {
            let cosets = self.max_constraint_degree.saturating_sub(1).max(1);
            counts
                .constraint_eval
                .saturating_mul(cosets)
                .saturating_mul(self.base_field_size)
                .min(round0_limit)
        };

        let working_set = if self.zerocheck_save_memory {
            main_bytes.max(round0)
        } else {
            main_bytes.wrapping_add(round0.max(BATCH_MLE_FLOOR))
        };
        working_set.wrapping_add(BATCH_CONSTRAINT_OVERHEAD)
    }

    fn gkr_bytes(&self, interaction_cells: u64) -> u64 {
        if interaction_cells == 0 {
            return 0;
        }
        let leaf = self.gkr_leaf_bytes();
        let logical = Self::gkr_logical_len(interaction_cells);
        let leaves = interaction_cells.wrapping_mul(leaf);
        let work = (logical / 16)
            .max(GKR_MIN_WORK_BUFFER_LEN)
            .wrapping_mul(leaf);
        let block_sums = (logical / 256).wrapping_mul(leaf);
        leaves
            .wrapping_add(work)
            .wrapping_add(block_sums)
            .wrapping_add(GKR_OVERHEAD)
    }

    fn whir_bytes(&self) -> u64 {
        // Codeword rows of the stacked matrix; the commitment tree has two digests per node
        // over 2^-k_whir of the rows, the folded codeword half the rows in the extension
        // field, and its tree two digests per node over 2^-(k_whir+1) of the rows.
        let rows = pow2(self.log_stacked_height.wrapping_add(self.log_blowup));
        let two_digests = 2u64.wrapping_mul(self.digest_size);
        let commit_tree = two_digests.wrapping_mul(rows.wrapping_shr(self.k_whir as u32));
        let folded = self
            .extension_degree
            .wrapping_mul(self.base_field_size)
            .wrapping_mul(rows >> 1);
        let folded_tree =
            two_digests.wrapping_mul(rows.wrapping_shr(self.k_whir.wrapping_add(1) as u32));
        commit_tree
            .wrapping_add(folded)
            .wrapping_add(folded_tree)
            .wrapping_add(WHIR_OVERHEAD)
    }

    fn breakdown_of_counts(&self, counts: &CellCounts) -> ProvingMemoryBreakdown {
        let main_cells = counts.main_with_rot.wrapping_add(counts.main_without_rot);
        let main = main_cells.wrapping_mul(self.base_field_size);
        let stacked_matrix = if self.cache_stacked_matrix {
            self.stacked_cells(main_cells)
                .wrapping_mul(self.base_field_size)
        } else {
            0
        };
        let rs_code_matrix = self
            .stacked_cells(main_cells)
            .wrapping_mul(pow2(self.log_blowup))
            .wrapping_mul(self.base_field_size);
        let batch_constraint = self.batch_constraint_bytes(counts);
        let gkr = self.gkr_bytes(counts.interaction);
        let whir = self.whir_bytes();
        let batch_or_gkr = batch_constraint.max(gkr);
        let secondary_peak = if self.cache_rs_code_matrix {
            rs_code_matrix.wrapping_add(whir.max(batch_or_gkr))
        } else {
            rs_code_matrix.wrapping_add(whir).max(batch_or_gkr)
        };
        ProvingMemoryBreakdown {
            total: main
                .wrapping_add(stacked_matrix)
                .wrapping_add(secondary_peak),
            main,
            stacked_matrix,
            rs_code_matrix,
            batch_constraint,
            gkr,
            whir,
            secondary_peak,
        }
    }
}

/// All components of OpenVM's proving-memory estimate for one segment.
///
/// `heights[i]` is the raw (unpadded) trace height of AIR `i` and `chips[i]` its shape; include
/// every AIR, constant-height ones too. Padding to a power of two happens inside. Panics if
/// the two slices differ in length.
pub fn estimate_breakdown(
    params: &ProvingMemoryParams,
    chips: &[ChipMemoryShape],
    heights: &[u32],
) -> ProvingMemoryBreakdown {
    assert_eq!(
        chips.len(),
        heights.len(),
        "one trace height per AIR is required"
    );
    params.breakdown_of_counts(&cell_counts(chips, heights))
}

/// OpenVM's proving-memory estimate, in bytes, for one segment with the given trace heights.
///
/// This is the `total` of [`estimate_breakdown`]; see there for the inputs. OpenVM's metered
/// execution cuts the segment when this is strictly greater than its memory budget
/// ([`DEFAULT_MAX_MEMORY`] by default). Heights are `u32` as in OpenVM; a height above 2^31
/// contributes nothing because its padded height does not fit in a `u32` (see the module
/// documentation).
pub fn estimate_proving_memory(
    params: &ProvingMemoryParams,
    chips: &[ChipMemoryShape],
    heights: &[u32],
) -> u64 {
    estimate_breakdown(params, chips, heights).total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 23 AIRs of the rv32i + rv32m + io configuration, from
    /// `openvm-2.0.2-airs-fibonacci.json`: (width, need_rot, num_interactions); every
    /// `constraint_eval_buffer_size` there is 0.
    const FIB_AIRS: [(u64, bool, u64); 23] = [
        (10, false, 1),  // 0 ProgramAir (constant height)
        (6, true, 5),    // 1 VmConnectorAir (constant height 2)
        (21, false, 4),  // 2 PersistentBoundaryAir<8>
        (33, true, 4),   // 3 MemoryMerkleAir<8>
        (59, false, 25), // 4 DivRem
        (39, false, 24), // 5 MulH
        (31, false, 19), // 6 Multiplication
        (3, true, 1),    // 7 RangeTupleCheckerAir<2> (constant height)
        (32, true, 18),  // 8 Rv32HintStoreAir
        (20, false, 12), // 9 Auipc
        (28, false, 16), // 10 Jalr
        (18, false, 10), // 11 JalLui
        (32, false, 13), // 12 BranchLessThan
        (26, false, 11), // 13 BranchEqual
        (36, false, 18), // 14 LoadSignExtend
        (41, false, 17), // 15 LoadStore
        (53, false, 24), // 16 Shift
        (37, false, 18), // 17 LessThan
        (36, false, 20), // 18 BaseAlu
        (18, true, 2),   // 19 BitwiseOperationLookupAir<8> (constant height)
        (6, false, 3),   // 20 PhantomAir
        (300, false, 1), // 21 Poseidon2PeripheryAir
        (4, true, 1),    // 22 VariableRangeCheckerAir (constant height)
    ];

    fn fib_chips() -> Vec<ChipMemoryShape> {
        FIB_AIRS
            .iter()
            .map(|&(width, need_rot, num_interactions)| ChipMemoryShape {
                width,
                need_rot,
                num_interactions,
                constraint_eval_buffer_size: 0,
            })
            .collect()
    }

    fn with_ceb(ceb: &[u64; 23]) -> Vec<ChipMemoryShape> {
        let mut chips = fib_chips();
        for (chip, &c) in chips.iter_mut().zip(ceb) {
            chip.constraint_eval_buffer_size = c;
        }
        chips
    }

    /// Heights with `value` at AIR `index` and 0 elsewhere.
    fn only(index: usize, value: u32) -> [u32; 23] {
        let mut h = [0; 23];
        h[index] = value;
        h
    }

    const P: u32 = 2_013_265_921;

    /// Heights at the cut of openvm-loop n=300000 (segment 0: 7,922,000 instructions, the last
    /// check that did not trigger).
    const LOOP_SEG0: [u32; 23] = [
        3397, 2, 16896, 22704, 232997, 232997, 232997, 524288, 2, 9, 12, 11, 7, 233001, 0, 699004,
        2096974, 2, 4193986, 65536, 1, 39600, 262144,
    ];
    /// Heights of the same run at the next check (instret 7,923,000), which triggered: the
    /// BaseAlu and Shift AIRs crossed 2^22 and 2^21.
    const LOOP_AT_TRIGGER: [u32; 23] = [
        3397, 2, 16896, 22704, 233027, 233026, 233026, 524288, 2, 9, 12, 11, 7, 233030, 0, 699092,
        2097239, 2, 4194516, 65536, 1, 39600, 262144,
    ];

    /// (name, heights, expected total) from the oracle (OpenVM 2.0.2 `ProvingMemoryConfig::
    /// estimate`, cross-checked through the real `SegmentationCtx::check_and_segment`), default
    /// parameters.
    fn default_vectors() -> Vec<(&'static str, [u32; 23], u64)> {
        vec![
            ("loop_seg0_at_cut", LOOP_SEG0, 12_555_188_880),
            ("loop_at_trigger_7923000", LOOP_AT_TRIGGER, 22_059_481_744),
            (
                "loop_seg1_final",
                [
                    3397, 2, 16896, 22704, 67003, 67003, 67003, 524288, 0, 1, 3, 3, 0, 68078, 1075,
                    201014, 605176, 0, 1209288, 65536, 0, 39600, 262144,
                ],
                6_365_319_968,
            ),
            (
                "loop3m_steady",
                [
                    3397, 2, 16640, 22360, 233000, 233000, 233000, 524288, 0, 0, 0, 0, 0, 233000,
                    0, 699000, 2097000, 0, 4194000, 65536, 0, 39000, 262144,
                ],
                12_555_157_872,
            ),
            (
                "fib_n0",
                [
                    3273, 2, 640, 860, 0, 0, 0, 524288, 3, 7, 9, 4, 5, 2, 0, 15, 0, 1, 31, 65536,
                    1, 1500, 262144,
                ],
                689_147_532,
            ),
            ("all_zero", [0; 23], 536_870_912),
            (
                "fib_initial",
                [
                    6443, 2, 128, 172, 0, 0, 0, 524288, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 65536, 0,
                    300, 262144,
                ],
                687_279_664,
            ),
            ("all_one", [1; 23], 671_092_196),
            ("connector_only", only(1, 2), 671_088_688),
            (
                "small_nonpow2",
                [
                    5, 3, 7, 9, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                    79, 83,
                ],
                671_361_280,
            ),
            ("phantom_2^24", only(20, 1 << 24), 3_623_878_656),
            ("phantom_2^24+1", only(20, (1 << 24) + 1), 6_979_321_856),
            ("range_checker_2^25", only(22, 1 << 25), 3_489_660_928),
            ("alu_2^24", only(18, 1 << 24), 22_548_578_304),
            ("alu_2^23+1", only(18, (1 << 23) + 1), 22_548_578_304),
            ("merkle_2^22", only(3, 1 << 22), 2_835_349_504),
            ("divrem_2^22", only(4, 1 << 22), 7_700_742_144),
            ("poseidon2_2^30", only(21, 1 << 30), 4_671_045_369_856),
            ("poseidon2_2^31", only(21, 1 << 31), 9_341_822_304_256),
            // padded height 2^32 does not fit in u32: contributes nothing
            ("poseidon2_2^31+1", only(21, (1 << 31) + 1), 536_870_912),
            ("range_checker_u32max", only(22, u32::MAX), 536_870_912),
            ("all_u32max", [u32::MAX; 23], 536_870_912),
            ("all_2^24", [1 << 24; 23], 391_311_785_984),
            ("all_2^31", [1 << 31; 23], 50_053_817_303_040),
            ("range_checker_p", only(22, P), 206_426_865_664),
        ]
    }

    #[test]
    fn default_params_match_reference_vectors() {
        let params = ProvingMemoryParams::default();
        let chips = fib_chips();
        for (name, heights, expected) in default_vectors() {
            assert_eq!(
                estimate_proving_memory(&params, &chips, &heights),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn loop_cut_is_at_the_memory_limit() {
        let params = ProvingMemoryParams::default();
        let chips = fib_chips();
        assert!(estimate_proving_memory(&params, &chips, &LOOP_SEG0) <= DEFAULT_MAX_MEMORY);
        assert!(estimate_proving_memory(&params, &chips, &LOOP_AT_TRIGGER) > DEFAULT_MAX_MEMORY);
        assert_eq!(DEFAULT_MAX_MEMORY, 16_106_127_360);
    }

    /// Expected components, in the order total, main, stacked_matrix, rs_code_matrix,
    /// batch_constraint, gkr, whir, secondary_peak.
    type Components = [u64; 8];

    fn components(b: &ProvingMemoryBreakdown) -> Components {
        [
            b.total,
            b.main,
            b.stacked_matrix,
            b.rs_code_matrix,
            b.batch_constraint,
            b.gkr,
            b.whir,
            b.secondary_peak,
        ]
    }

    /// Full breakdowns from the oracle, for the default and for modified parameters, and for
    /// nonzero constraint-evaluation buffers (OpenVM's CPU backend always reports 0; these
    /// exercise the capped round-0 branch anyway).
    #[allow(clippy::type_complexity)]
    fn breakdown_vectors() -> Vec<(
        &'static str,
        ProvingMemoryParams,
        [u64; 23],
        [u32; 23],
        Components,
    )> {
        let d = ProvingMemoryParams::default();
        let no_ceb = [0; 23];
        let mut ceb_alu = [0; 23];
        ceb_alu[18] = 50;
        let no_save = ProvingMemoryParams {
            zerocheck_save_memory: false,
            ..d
        };
        vec![
            (
                "loop_seg0_at_cut",
                d,
                no_ceb,
                LOOP_SEG0,
                [
                    12_555_188_880,
                    1_484_166_896,
                    0,
                    3_087_007_744,
                    7_984_014_240,
                    6_406_955_936,
                    536_870_912,
                    11_071_021_984,
                ],
            ),
            (
                "loop_at_trigger",
                d,
                no_ceb,
                LOOP_AT_TRIGGER,
                [
                    22_059_481_744,
                    2_532_742_896,
                    0,
                    5_100_273_664,
                    14_426_465_184,
                    11_272_348_576,
                    536_870_912,
                    19_526_738_848,
                ],
            ),
            (
                "all_zero",
                d,
                no_ceb,
                [0; 23],
                [
                    536_870_912,
                    0,
                    0,
                    0,
                    268_435_456,
                    0,
                    536_870_912,
                    536_870_912,
                ],
            ),
            (
                "divrem_2^18_gkr_dominates",
                d,
                no_ceb,
                only(4, 1 << 18),
                [
                    809_500_672,
                    61_865_984,
                    0,
                    134_217_728,
                    612_368_384,
                    613_416_960,
                    536_870_912,
                    747_634_688,
                ],
            ),
            (
                "poseidon2_2^20_main_dominates_batch",
                d,
                no_ceb,
                only(21, 1 << 20),
                [
                    4_863_295_488,
                    1_258_291_200,
                    0,
                    2_550_136_832,
                    1_054_867_456,
                    436_469_760,
                    536_870_912,
                    3_605_004_288,
                ],
            ),
            (
                "poseidon2_2^30",
                d,
                no_ceb,
                only(21, 1 << 30),
                [
                    4_671_045_369_856,
                    1_288_490_188_800,
                    0,
                    2_576_980_377_600,
                    805_574_803_456,
                    39_191_576_576,
                    536_870_912,
                    3_382_555_181_056,
                ],
            ),
            (
                "cache_stacked_matrix",
                ProvingMemoryParams {
                    cache_stacked_matrix: true,
                    ..d
                },
                no_ceb,
                LOOP_SEG0,
                [
                    14_098_692_752,
                    1_484_166_896,
                    1_543_503_872,
                    3_087_007_744,
                    7_984_014_240,
                    6_406_955_936,
                    536_870_912,
                    11_071_021_984,
                ],
            ),
            (
                "no_cache_rs_code_matrix",
                ProvingMemoryParams {
                    cache_rs_code_matrix: false,
                    ..d
                },
                no_ceb,
                LOOP_SEG0,
                [
                    9_468_181_136,
                    1_484_166_896,
                    0,
                    3_087_007_744,
                    7_984_014_240,
                    6_406_955_936,
                    536_870_912,
                    7_984_014_240,
                ],
            ),
            (
                "no_cache_rs_code_matrix_small",
                ProvingMemoryParams {
                    cache_rs_code_matrix: false,
                    ..d
                },
                no_ceb,
                only(20, 5),
                [
                    671_088_832,
                    192,
                    0,
                    134_217_728,
                    402_653_952,
                    402_653_952,
                    536_870_912,
                    671_088_640,
                ],
            ),
            (
                "no_zerocheck_save_memory",
                no_save,
                no_ceb,
                LOOP_SEG0,
                [
                    13_494_999_460,
                    1_484_166_896,
                    0,
                    3_087_007_744,
                    8_923_824_820,
                    6_406_955_936,
                    536_870_912,
                    12_010_832_564,
                ],
            ),
            (
                "no_zerocheck_save_memory_zero",
                no_save,
                no_ceb,
                [0; 23],
                [
                    6_710_886_400,
                    0,
                    0,
                    0,
                    6_710_886_400,
                    0,
                    536_870_912,
                    6_710_886_400,
                ],
            ),
            (
                // 21 cells * 80 / 32 = 52.5 bytes, rounded up to 53
                "ceil_division_no_save",
                no_save,
                no_ceb,
                only(2, 1),
                [
                    6_845_104_265,
                    84,
                    0,
                    134_217_728,
                    6_710_886_453,
                    402_653_312,
                    536_870_912,
                    6_845_104_181,
                ],
            ),
            (
                "need_rot_no_save",
                no_save,
                no_ceb,
                only(3, 5),
                [
                    6_845_106_504,
                    1_056,
                    0,
                    134_217_728,
                    6_710_887_720,
                    402_654_208,
                    536_870_912,
                    6_845_105_448,
                ],
            ),
            (
                "ceil_l_skip_6_degree_2_no_save",
                ProvingMemoryParams {
                    l_skip: 6,
                    max_constraint_degree: 2,
                    ..no_save
                },
                no_ceb,
                only(2, 3),
                [
                    6_845_104_506,
                    336,
                    0,
                    134_217_728,
                    6_710_886_442,
                    402_653_696,
                    536_870_912,
                    6_845_104_170,
                ],
            ),
            (
                "log_blowup_2",
                ProvingMemoryParams {
                    log_blowup: 2,
                    ..no_save
                },
                no_ceb,
                LOOP_SEG0,
                [
                    16_582_007_204,
                    1_484_166_896,
                    0,
                    6_174_015_488,
                    8_923_824_820,
                    6_406_955_936,
                    1_006_632_960,
                    15_097_840_308,
                ],
            ),
            (
                "l_skip_2_degree_4",
                ProvingMemoryParams {
                    l_skip: 2,
                    max_constraint_degree: 4,
                    ..d
                },
                no_ceb,
                only(21, 1 << 20),
                [
                    7_851_737_088,
                    1_258_291_200,
                    0,
                    2_550_136_832,
                    4_043_309_056,
                    436_469_760,
                    536_870_912,
                    6_593_445_888,
                ],
            ),
            (
                "log_stacked_height_20_k_whir_3",
                ProvingMemoryParams {
                    log_stacked_height: 20,
                    k_whir: 3,
                    ..d
                },
                no_ceb,
                LOOP_SEG0,
                [
                    12_437_748_368,
                    1_484_166_896,
                    0,
                    2_969_567_232,
                    7_984_014_240,
                    6_406_955_936,
                    109_051_904,
                    10_953_581_472,
                ],
            ),
            (
                // round-0 spill = the whole (tiny) buffer: 23 cells * 2 cosets * 4 bytes
                "constraint_eval_small",
                d,
                [1; 23],
                [1; 23],
                [
                    671_092_196,
                    3_556,
                    0,
                    134_217_728,
                    268_437_919,
                    402_661_792,
                    536_870_912,
                    671_088_640,
                ],
            ),
            (
                // round-0 spill capped by the round-0 temporary limit
                "constraint_eval_capped",
                d,
                ceb_alu,
                only(18, 1 << 20),
                [
                    1_631_584_256,
                    150_994_944,
                    0,
                    402_653_184,
                    687_865_856,
                    1_077_936_128,
                    536_870_912,
                    1_480_589_312,
                ],
            ),
            (
                "constraint_eval_capped_no_save",
                no_save,
                ceb_alu,
                only(18, 1 << 20),
                [
                    7_358_906_368,
                    150_994_944,
                    0,
                    402_653_184,
                    6_805_258_240,
                    1_077_936_128,
                    536_870_912,
                    7_207_911_424,
                ],
            ),
        ]
    }

    #[test]
    fn breakdowns_match_reference_vectors() {
        for (name, params, ceb, heights, expected) in breakdown_vectors() {
            let b = estimate_breakdown(&params, &with_ceb(&ceb), &heights);
            assert_eq!(components(&b), expected, "{name}");
            assert_eq!(
                estimate_proving_memory(&params, &with_ceb(&ceb), &heights),
                expected[0],
                "{name}"
            );
        }
    }

    #[test]
    fn overflow_wraps_like_a_release_build() {
        // Absurd parameters, far from anything OpenVM uses, only to pin the wrapping
        // semantics (masked shift amounts, wrapping products); values from the oracle.
        let d = ProvingMemoryParams::default();
        let huge_field = ProvingMemoryParams {
            base_field_size: (1 << 62) + 3,
            log_blowup: 3,
            l_skip: 63,
            log_stacked_height: 70,
            k_whir: 64,
            ..d
        };
        let b = estimate_breakdown(&huge_field, &fib_chips(), &[1; 23]);
        assert_eq!(
            components(&b),
            [
                4_611_686_018_796_517_283,
                4_611_686_018_427_390_571,
                0,
                21_504,
                369_105_160,
                369_105_208,
                67_161_088,
                369_126_712,
            ]
        );
        let huge_degree = ProvingMemoryParams {
            extension_degree: (1 << 40) + 7,
            digest_size: 1 << 61,
            max_constraint_degree: u64::MAX,
            cache_stacked_matrix: true,
            zerocheck_save_memory: false,
            ..d
        };
        let b = estimate_breakdown(&huge_degree, &fib_chips(), &[5; 23]);
        assert_eq!(
            components(&b),
            [
                19_871_474_353_593_679,
                28_448,
                67_108_864,
                134_217_728,
                19_871_474_152_238_639,
                18_929_192_687_228_608,
                536_870_912,
                19_871_474_286_456_367,
            ]
        );
    }

    #[test]
    fn padding_happens_inside() {
        let params = ProvingMemoryParams::default();
        let chips = fib_chips();
        let raw = LOOP_AT_TRIGGER;
        let padded = raw.map(|h| if h == 0 { 0 } else { h.next_power_of_two() });
        assert_eq!(
            estimate_proving_memory(&params, &chips, &raw),
            estimate_proving_memory(&params, &chips, &padded)
        );
    }

    #[test]
    #[should_panic(expected = "one trace height per AIR")]
    fn length_mismatch_panics() {
        let _ = estimate_proving_memory(&ProvingMemoryParams::default(), &fib_chips(), &[0; 3]);
    }
}
