#![doc = include_str!("../README.md")]

use ebn_core::{Perturbation, PerturbationContext};
use serde::{Deserialize, Serialize};

/// Silences a list of neurons for good at time `at` (s): from that step on they never fire.
/// Indices never shift and the decoders stay, so their remaining traces still decay into
/// x_hat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceNeurons {
    /// Time of death (s).
    pub at: f64,
    /// Indices of the neurons to silence.
    pub neurons: Vec<usize>,
}

impl Perturbation for SilenceNeurons {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        if ctx.t + 0.5 * ctx.dt >= self.at {
            for &i in &self.neurons {
                if i < ctx.n_neurons() && ctx.is_alive(i) {
                    ctx.silence(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_conforms() {
        ebn_core::conformance::perturbation(&|| Box::new(SilenceNeurons { at: 0.05, neurons: vec![0, 3, 7, 100] }));
    }
}
