//! The neuron model of a network built from a configuration: the built-in EBN neuron with
//! static dispatch, or any registered model behind a vtable.

use ebn_core::{DynNeuron, DynState, NeuronModel, Result, Rng};
use ebn_neurons::{EbnNeuron, EbnState};

/// A neuron model resolved through a registry. The default model, [`EbnNeuron`], is held by
/// value (its calls inline, as in a `Network<EbnNeuron>`); any other model is a
/// [`DynNeuron`], called through a vtable a few times per step and once per spike, never per
/// neuron.
#[derive(Debug, Clone)]
pub enum AnyNeuron {
    /// The EBN leaky integrate-and-fire neuron.
    Ebn(EbnNeuron),
    /// Any other model.
    Dyn(DynNeuron),
}

/// The state of an [`AnyNeuron`] population.
#[derive(Debug, Clone)]
pub enum AnyState {
    /// Of [`AnyNeuron::Ebn`].
    Ebn(EbnState),
    /// Of [`AnyNeuron::Dyn`].
    Dyn(DynState),
}

impl From<DynNeuron> for AnyNeuron {
    fn from(model: DynNeuron) -> Self {
        match model.downcast::<EbnNeuron>() {
            Some(ebn) => Self::Ebn(*ebn),
            None => Self::Dyn(model),
        }
    }
}

impl From<EbnNeuron> for AnyNeuron {
    fn from(model: EbnNeuron) -> Self {
        Self::Ebn(model)
    }
}

impl AnyNeuron {
    /// The concrete model, if it is an `M`.
    pub fn downcast<M: 'static>(&self) -> Option<&M> {
        match self {
            Self::Ebn(m) => (m as &dyn std::any::Any).downcast_ref(),
            Self::Dyn(m) => m.downcast(),
        }
    }
}

// A state always comes from the model that made it (the network owns both), so the other
// arm is unreachable; it is handled without a panic all the same (nothing happens).
macro_rules! both {
    ($self:ident, $state:expr, |$m:ident, $s:ident| $body:expr, $other:expr) => {
        match ($self, $state) {
            (AnyNeuron::Ebn($m), AnyState::Ebn($s)) => $body,
            (AnyNeuron::Dyn($m), AnyState::Dyn($s)) => $body,
            _ => $other,
        }
    };
}

impl NeuronModel for AnyNeuron {
    type State = AnyState;

    fn validate(&self, dt: f64) -> Result<()> {
        match self {
            Self::Ebn(m) => m.validate(dt),
            Self::Dyn(m) => m.validate(dt),
        }
    }

    fn init_state(&self, n: usize, rng: &mut Rng) -> AnyState {
        match self {
            Self::Ebn(m) => AnyState::Ebn(m.init_state(n, rng)),
            Self::Dyn(m) => AnyState::Dyn(m.init_state(n, rng)),
        }
    }

    #[inline]
    fn voltages<'a>(&self, state: &'a AnyState) -> &'a [f64] {
        both!(self, state, |m, s| m.voltages(s), &[])
    }

    #[inline]
    fn voltages_mut<'a>(&self, state: &'a mut AnyState) -> &'a mut [f64] {
        both!(self, state, |m, s| m.voltages_mut(s), &mut [])
    }

    #[inline]
    fn integrate(&self, state: &mut AnyState, input: &[f64], dt: f64) {
        both!(self, state, |m, s| m.integrate(s, input, dt), ())
    }

    #[inline]
    fn select_spike(&self, state: &AnyState, thresholds: &[f64]) -> Option<usize> {
        both!(self, state, |m, s| m.select_spike(s, thresholds), None)
    }

    #[inline]
    fn on_spike(&self, state: &mut AnyState, k: usize) {
        both!(self, state, |m, s| m.on_spike(s, k), ())
    }

    fn max_spikes_per_step(&self) -> usize {
        match self {
            Self::Ebn(m) => m.max_spikes_per_step(),
            Self::Dyn(m) => m.max_spikes_per_step(),
        }
    }

    fn filters_fast_input(&self) -> bool {
        match self {
            Self::Ebn(m) => m.filters_fast_input(),
            Self::Dyn(m) => m.filters_fast_input(),
        }
    }

    fn receive_fast(&self, state: &mut AnyState, k: usize, column: &[f64], thresholds: &[f64]) {
        both!(self, state, |m, s| m.receive_fast(s, k, column, thresholds), ())
    }

    #[inline]
    fn integrate_and_select(
        &self,
        state: &mut AnyState,
        input: &ebn_core::SplitInput<'_>,
        thresholds: &[f64],
        dt: f64,
    ) -> Option<Option<usize>> {
        both!(self, state, |m, s| m.integrate_and_select(s, input, thresholds, dt), None)
    }
    fn integrate_and_select_pending(
        &self,
        state: &mut AnyState,
        input: &ebn_core::SplitInput<'_>,
        pending: &ebn_core::PendingSpike<'_>,
        thresholds: &[f64],
        dt: f64,
    ) -> Option<Option<usize>> {
        both!(self, state, |m, s| m.integrate_and_select_pending(s, input, pending, thresholds, dt), None)
    }
}
