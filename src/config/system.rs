//! The system part of a VM configuration: memory size and public values.

use crate::error::ConfigError;
use crate::metering::estimate::ProvingMemoryParams;
use crate::metering::{SegmentationLimits, DEFAULT_MAX_COST};
use serde::{Deserialize, Serialize};

/// Default `pointer_max_bits`: 2^29 bytes (512 MiB) of guest memory, as in the reference zkVM.
pub const DEFAULT_POINTER_MAX_BITS: u32 = 29;
/// Default number of public-value bytes, as in the reference zkVM.
pub const DEFAULT_NUM_PUBLIC_VALUES: usize = 32;

/// The system configuration every VM has, whatever its extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemConfig {
    /// Guest memory is `2^pointer_max_bits` bytes.
    pub pointer_max_bits: u32,
    /// Size of the public-values area in bytes (a multiple of 4).
    pub num_public_values: usize,
    /// The limits metered mode cuts segments by.
    pub segmentation: SegmentationLimits,
    /// The parameters of the proving-memory estimate that bounds segments.
    pub proving_memory: ProvingMemoryParams,
    /// Metered-cost mode stops once the cost exceeds this.
    pub max_cost: u64,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            pointer_max_bits: DEFAULT_POINTER_MAX_BITS,
            num_public_values: DEFAULT_NUM_PUBLIC_VALUES,
            segmentation: SegmentationLimits::default(),
            proving_memory: ProvingMemoryParams::default(),
            max_cost: DEFAULT_MAX_COST,
        }
    }
}

impl SystemConfig {
    /// Guest memory size in bytes.
    pub fn memory_size(&self) -> u64 {
        1u64 << self.pointer_max_bits.min(32)
    }

    /// Checks that the values are usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(12..=32).contains(&self.pointer_max_bits) {
            return Err(ConfigError::PointerMaxBits(self.pointer_max_bits));
        }
        if self.num_public_values % 4 != 0 || self.num_public_values > 1 << 20 {
            return Err(ConfigError::NumPublicValues(self.num_public_values));
        }
        if self.segmentation.segment_check_insns == 0 {
            return Err(ConfigError::SegmentCheckInsns);
        }
        Ok(())
    }
}
