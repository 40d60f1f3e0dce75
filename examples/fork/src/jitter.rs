//! Threshold jitter, a perturbation.

use ebn_network::core::rand::RngExt;
use ebn_network::core::rand_distr::StandardNormal;
use ebn_network::core::{Perturbation, PerturbationContext, Result, Rng, check};
use serde::Deserialize;

/// Every `every` seconds from `start` on, each living neuron's threshold is redrawn around
/// its model value T_i: T_i (1 + sigma xi), xi ~ N(0, 1), clipped to at least T_i / 10
/// (fluctuating excitability). Draws come from the perturbation's own stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitterParams {
    /// Relative standard deviation sigma.
    pub sigma: f64,
    /// Interval between redraws (s).
    #[serde(default = "ms")]
    pub every: f64,
    /// Start (s).
    #[serde(default)]
    pub start: f64,
}

fn ms() -> f64 {
    1e-3
}

/// The running perturbation.
#[derive(Debug)]
pub struct ThresholdJitter {
    params: JitterParams,
    next: f64,
    rng: Rng,
}

impl ThresholdJitter {
    /// Checks the parameters; draws from `rng`.
    pub fn new(params: JitterParams, rng: Rng) -> Result<Self> {
        check::non_negative("sigma", params.sigma)?;
        check::positive("every", params.every)?;
        check::non_negative("start", params.start)?;
        Ok(Self { next: params.start, params, rng })
    }
}

impl Perturbation for ThresholdJitter {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        if ctx.t + 0.5 * ctx.dt < self.next {
            return;
        }
        self.next += self.params.every;
        for i in 0..ctx.n_neurons() {
            let base = ctx.base_thresholds()[i];
            let xi: f64 = self.rng.sample(StandardNormal);
            ctx.set_threshold(i, (base * (1.0 + self.params.sigma * xi)).max(0.1 * base));
        }
    }
}
