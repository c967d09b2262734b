//! The mode drivers: what each mode does around the backend's runs. Pure runs once; metered
//! runs from one segment check point to the next, closing segments there; metered-cost runs
//! once against the maximum cost and reports the cost.

use super::{Core, Driver};
use crate::backend::ModeRef;
use crate::error::Error;
use crate::metering::{CostReport, CostState, Segment, SegmentationState};
use crate::state::VmState;

/// Pure mode: the final state.
pub(super) struct PureDriver;

impl Driver for PureDriver {
    type Settings = ();
    type Returns = VmState;

    fn drive(core: &Core, _settings: &(), mut state: VmState, end: u64) -> Result<VmState, Error> {
        // Metering state from an earlier metered run no longer describes what ran.
        state.segmentation = None;
        state.cost = None;
        core.run(&mut state, end, ModeRef::Pure)?;
        Ok(state)
    }
}

/// Metered mode: the final state and the segments closed on the way.
pub(super) struct MeteredDriver;

impl Driver for MeteredDriver {
    type Settings = ();
    type Returns = (Vec<Segment>, VmState);

    fn drive(
        core: &Core,
        _settings: &(),
        mut state: VmState,
        end: u64,
    ) -> Result<(Vec<Segment>, VmState), Error> {
        let program = &core.program;
        let tables = program.meter_tables();
        let system = program.config().system();
        let limits = &system.segmentation;
        state.cost = None;
        let mut open = match state.segmentation.take() {
            Some(open) => open,
            None => Box::new(SegmentationState::new(
                tables,
                state.instret,
                system.pointer_max_bits,
            )),
        };
        let mut segments = Vec::new();
        while state.instret < end && !state.is_terminated() {
            if open.check_due(state.instret, limits) {
                segments.extend(open.check(tables, limits, &system.proving_memory, state.instret));
            }
            // The backend returns at the next check point it does not pass itself.
            core.run(&mut state, end, ModeRef::Metered(&mut open))?;
        }
        if state.is_terminated() {
            segments.push(open.finish(tables, state.instret));
        } else {
            state.segmentation = Some(open);
        }
        Ok((segments, state))
    }
}

/// The options of a metered-cost instance.
#[derive(Debug, Clone, Default)]
pub(super) struct CostSettings {
    /// The maximum cost (`None`: the configuration's).
    pub(super) max_cost: Option<u64>,
}

/// Metered-cost mode: the final state and the proving cost, stopping once the cost exceeds
/// the maximum.
pub(super) struct CostDriver;

impl Driver for CostDriver {
    type Settings = CostSettings;
    type Returns = (CostReport, VmState);

    fn drive(
        core: &Core,
        settings: &CostSettings,
        mut state: VmState,
        end: u64,
    ) -> Result<(CostReport, VmState), Error> {
        let max_cost = settings
            .max_cost
            .unwrap_or(core.program.config().system().max_cost);
        state.segmentation = None;
        let mut cost = state.cost.take().unwrap_or(CostState { cost: 0, max_cost });
        cost.max_cost = max_cost;
        core.run(&mut state, end, ModeRef::Cost(&mut cost))?;
        let exceeded = !state.is_terminated() && state.instret < end && cost.cost > max_cost;
        let report = CostReport {
            cost: cost.cost,
            instret: state.instret,
            max_cost,
            exceeded,
        };
        if !state.is_terminated() {
            state.cost = Some(cost);
        }
        Ok((report, state))
    }
}
