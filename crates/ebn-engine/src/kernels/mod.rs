//! The engine's fused kernels, in one place: each does what a sequence of the components'
//! own calls does, in fewer passes over memory, with the same bits (tested beside each).
//! Chosen by the step plan (`crate::plan`) from the concrete types of the components; no
//! component declares them. Public only so that the criterion benchmarks can time them
//! alone: not part of the API.

pub mod membrane;

use crate::plan::{Membrane, state_mut};
use ebn_neurons::{EbnState, RefractoryState, SynapticState};
pub use membrane::{PendingSpike, SplitInput};

/// The plan's one-pass membrane step on `state`: the current of `input` (with the pending
/// spike's column first, if any), the membrane update and the first spike choice, in one
/// pass. `Some(first spike)`, or `None` where the plan has no such pass (the generic
/// membrane, or a pending spike the model's pass does not take): the step then makes the
/// separate calls.
#[inline]
pub(crate) fn integrate_and_select<S: 'static>(
    membrane: Membrane,
    state: &mut S,
    input: &SplitInput<'_>,
    pending: Option<&PendingSpike<'_>>,
    thresholds: &[f64],
    dt: f64,
) -> Option<Option<usize>> {
    match membrane {
        Membrane::Generic => None,
        Membrane::Ebn { keep } => {
            let s = state_mut::<EbnState, S>(state)?;
            match pending {
                None => membrane::integrate_largest_excess(keep, dt, &mut s.v, thresholds, input),
                Some(p) => membrane::pending_integrate_largest_excess(keep, dt, &mut s.v, thresholds, input, p),
            }
        }
        // The refractory model's on_spike sets its clock: a pending spike is delivered first.
        Membrane::Clock { keep } if pending.is_none() => {
            let s = state_mut::<RefractoryState, S>(state)?;
            membrane::integrate_largest_excess_eligible(keep, dt, &mut s.v, thresholds, &mut s.left, input)
        }
        Membrane::SynapticInstant { keep } if pending.is_none() => {
            let s = state_mut::<SynapticState, S>(state)?;
            membrane::integrate_largest_excess(keep, dt, &mut s.v, thresholds, input)
        }
        Membrane::Synaptic { keep, charge, a } if pending.is_none() => {
            let s = state_mut::<SynapticState, S>(state)?;
            membrane::integrate_synaptic_largest_excess(keep, dt, [charge, a], &mut s.v, thresholds, &mut s.i_s, input)
        }
        _ => None,
    }
}
