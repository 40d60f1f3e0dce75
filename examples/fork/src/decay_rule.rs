//! The paper's rule with weight decay and an error trace.

use ebn_network::core::{Error, LearningSignal, PlasticityRule, Result, RuleSetup, SlowWeights, check};
use serde::Deserialize;

/// The local rule with leakage (sigma-modification, Ioannou & Sun) on a low-pass filtered
/// error (an eligibility-like trace e_bar):
///
/// ```text
/// de_bar/dt = (e - e_bar) / tau_e          (e_bar = e when tau_e = 0)
/// dW/dt     = eta / N_b * e_bar Psi^T - decay * W
/// ```
///
/// in factored form (dense: Omega += dt eta/N_b (D^T e_bar) Psi^T - dt decay Omega). Forward
/// Euler at the network's dt. The decay bounds W (it trades a bias toward 0 for no drift);
/// e_bar is the rule's own state, saved in checkpoints. `eta` is per basis function, as for
/// the built-in rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecayRule {
    /// Learning rate per basis function.
    pub eta: f64,
    /// Weight decay rate (1/s).
    pub decay: f64,
    /// Time constant of the error trace (s); 0 for none.
    #[serde(default)]
    pub tau_e: f64,
    #[serde(skip)]
    raw: f64,
    #[serde(skip)]
    trace: Vec<f64>,
}

impl PlasticityRule for DecayRule {
    fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
        check::non_negative("eta", self.eta)?;
        check::non_negative("decay", self.decay)?;
        check::non_negative("tau_e", self.tau_e)?;
        self.raw = self.eta / setup.n_basis as f64;
        self.trace = vec![0.0; setup.dim];
        Ok(())
    }

    fn update(&mut self, s: &LearningSignal<'_>, weights: &mut SlowWeights) {
        let a = if self.tau_e > 0.0 { s.dt / self.tau_e } else { 1.0 };
        for (t, e) in self.trace.iter_mut().zip(s.error) {
            *t += a * (e - *t);
        }
        let (gain, keep) = (s.dt * self.raw * s.rate_scale, 1.0 - s.dt * self.decay);
        match weights {
            SlowWeights::Factored(wt) => {
                for (j, e) in self.trace.iter().enumerate() {
                    for (w, p) in wt.col_as_slice_mut(j).iter_mut().zip(s.psi) {
                        *w = keep * *w + gain * e * p;
                    }
                }
            }
            SlowWeights::Dense(omega) => {
                let d = s.decoder;
                let post: Vec<f64> = (0..d.ncols())
                    .map(|i| d.col_as_slice(i).iter().zip(&self.trace).map(|(a, b)| a * b).sum())
                    .collect();
                for (b, p) in s.psi.iter().enumerate() {
                    for (w, f) in omega.col_as_slice_mut(b).iter_mut().zip(&post) {
                        *w = keep * *w + gain * p * f;
                    }
                }
            }
        }
    }

    fn state(&self) -> Vec<f64> {
        self.trace.clone()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        if state.len() != self.trace.len() || state.iter().any(|v| !v.is_finite()) {
            return Err(Error::Corrupt(format!("an error trace of {} finite values", self.trace.len())));
        }
        self.trace.copy_from_slice(state);
        Ok(())
    }
}
