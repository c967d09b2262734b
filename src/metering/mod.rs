//! Metering: trace heights per chip, segmentation, and proving cost.
//!
//! The chip model follows the reference zkVM (OpenVM 2.0.2) so segments and costs match its
//! own: each configuration's chips come from its extensions ([`crate::ExecutionConfig`]),
//! each executed instruction adds one row to its executor's chip (`hintbuffer` one per word,
//! `terminate` none, extension instructions that meter themselves what they report through
//! [`Meter::on_rows`], e.g. `keccakf` 1 + 24 rows on two chips), and memory is charged per
//! 512-byte page on its first touch in a segment
//! (see [`MeterTables::add_page_rows`] for the formula). Backends report what they execute
//! through the [`Meter`] hooks; the pure mode's meter does nothing.

mod cost;
pub mod estimate;
mod meter;
mod packed;
mod pages;
mod segment;
mod tables;

pub use cost::{CostMeter, CostReport, CostState, DEFAULT_MAX_COST};
pub use meter::{Meter, NoMeter};
pub use packed::PackedLayout;
pub use pages::{PageTracker, RawPages};
pub use segment::{SafeGrowth, Segment, SegmentMeter, SegmentationLimits, SegmentationState};
pub use tables::{MeterTables, PAGE_BYTES_BITS};
