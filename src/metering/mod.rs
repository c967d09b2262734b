//! Metering: trace heights per chip, segmentation, and proving cost.
pub mod meter;
pub use meter::{Meter, NoMeter};
