//! Robust variants of the paper's rule, from robust adaptive control (Ioannou & Sun, *Robust
//! Adaptive Control*, 1996, ch. 8; Narendra & Annaswamy 1987 for the e-modification).
//!
//! All four keep the paper's update, eta e Psi^T (factored) or eta (D^T e) Psi^T (synapse
//! level), and add one safeguard against **parameter drift**: with a spiking readout the
//! error e never vanishes (x_hat jumps by a decoder column per spike), and the part of that
//! residual which the basis cannot explain acts as a bounded disturbance d in
//! de/dt = -(lambda + K) e - W~ Psi + d. The Lyapunov function of the paper's rule,
//! V = ||e||^2 / 2 + tr(W~^T W~) / (2 eta), then has
//! dV/dt = -(lambda + K) ||e||^2 + e^T d, which is negative only for ||e|| > ||d|| / (lambda + K):
//! inside that ball nothing bounds W~, and W can wander along the directions of Psi that the
//! training data excite weakly. That is the slow rise of the learning error after its
//! minimum. Each variant closes the gap in its own way, and pays for it differently:
//!
//! | variant | change to dW/dt | bounds W~ because | costs |
//! |---|---|---|---|
//! | sigma-modification | - sigma W | the leak dominates for large W | a bias toward 0 even at e = 0 |
//! | e-modification | - sigma ‖e‖ W | the same, with a leak that vanishes with e | a smaller bias; none at e = 0 |
//! | dead zone | e scaled by (1 - e_0/‖e‖)_+ | no adaptation where the disturbance can dominate | errors below e_0 are never learned |
//! | projection | W kept in ‖W‖_F <= B | W cannot leave the ball | B must exceed ‖W*‖ (prior knowledge) |
//!
//! **Locality.** Sigma-modification and projection's scaling use only the synapse's own
//! weight (projection also needs ‖W‖, one number broadcast to all synapses); e-modification
//! and the dead zone use ‖e‖, one number broadcast to every synapse, like a neuromodulator.
//! The postsynaptic factor (D^T e)_i and the presynaptic Psi_j stay as in the paper.
//!
//! **Forms.** The leak and the dead zone commute with D^T, so the synapse-level form
//! (Omega_s = D^T W) and the factored form agree, as for the paper's rule (tested by the
//! conformance kit). Projection bounds ‖W‖_F, which the synapse-level matrix does not
//! determine cheaply; it is factored only (binding it to dense weights is an error).
//!
//! **Integration.** The error-driven part is forward Euler at the network's dt with e_(n+1)
//! and Psi(r_(n+1)), as the paper's rule; a leak is applied exactly, as the factor
//! exp(-dt s rate) (s the protocol's `rate_scale`), so that it never overshoots whatever
//! sigma dt; projection is applied after each step (the discrete-time projection onto a
//! convex set containing W*, which never moves W away from W*).
//!
//! **Annealing**: the protocol's `rate_scale` multiplies the whole adaptation gain, leak
//! included (Ioannou & Sun write the leak as sigma Gamma W).

use crate::local::axpy;
use ebn_core::{Error, LearningSignal, PlasticityRule, Result, RuleSetup, SlowWeights, WeightForm, check};

/// The safeguard a [`RobustLocal`] rule adds to the paper's update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Safeguard {
    /// Sigma-modification (fixed leakage): dW/dt = eta e Psi^T - sigma W; sigma in 1/s.
    Sigma {
        /// Leak rate (1/s).
        sigma: f64,
    },
    /// e-modification: dW/dt = eta e Psi^T - sigma ‖e‖ W; sigma in 1/(s x), x the unit of
    /// the state.
    EMod {
        /// Leak per unit of error (1/(s x)).
        sigma: f64,
    },
    /// Continuous dead zone: dW/dt = eta (1 - e_0/‖e‖)_+ e Psi^T; e_0 in units of x.
    DeadZone {
        /// Error norm below which nothing is learned (units of x).
        threshold: f64,
    },
    /// Parameter projection: after each update, W is scaled back onto ‖W‖_F <= bound
    /// (units of W: x per second per unit of Psi). Factored weights only.
    Projection {
        /// Radius of the ball (Frobenius norm of W, J x N_b).
        bound: f64,
    },
}

/// The paper's local rule with a robust-adaptive-control safeguard (see the module docs for
/// the equations, the Lyapunov argument and the trade of each).
///
/// `eta` is per basis function, as for [`crate::LocalRule`] (divided by N_b in `bind`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustLocal {
    eta: f64,
    raw: f64,
    safeguard: Safeguard,
}

impl RobustLocal {
    /// The rule with rate `eta` per basis function and `safeguard`; every parameter must be
    /// finite and >= 0 (the projection bound > 0).
    pub fn new(eta: f64, safeguard: Safeguard) -> Result<Self> {
        check::non_negative("eta", eta)?;
        match safeguard {
            Safeguard::Sigma { sigma } | Safeguard::EMod { sigma } => {
                check::non_negative("sigma", sigma)?;
            }
            Safeguard::DeadZone { threshold } => {
                check::non_negative("threshold", threshold)?;
            }
            Safeguard::Projection { bound } => {
                check::positive("bound", bound)?;
            }
        }
        Ok(Self { eta, raw: 0.0, safeguard })
    }

    /// The safeguard.
    pub fn safeguard(&self) -> Safeguard {
        self.safeguard
    }

    /// The learning rate per basis function.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// Factor multiplying the error-driven step: (1 - e_0/‖e‖)_+ for the dead zone, 1 else.
    fn error_factor(&self, error: &[f64]) -> f64 {
        match self.safeguard {
            Safeguard::DeadZone { threshold } => {
                let norm = norm(error);
                if norm > threshold { 1.0 - threshold / norm } else { 0.0 }
            }
            _ => 1.0,
        }
    }

    /// Multiplier of the weights before the error-driven step (exact leak).
    fn leak_factor(&self, signal: &LearningSignal<'_>) -> f64 {
        let rate = match self.safeguard {
            Safeguard::Sigma { sigma } => sigma,
            Safeguard::EMod { sigma } => sigma * norm(signal.error),
            Safeguard::DeadZone { .. } | Safeguard::Projection { .. } => 0.0,
        };
        if rate > 0.0 { (-signal.dt * signal.rate_scale * rate).exp() } else { 1.0 }
    }
}

impl RobustLocal {
    /// The scalar g of an update that is a plain outer product, as
    /// [`LocalRule::outer_gain`](crate::LocalRule::outer_gain): an open dead zone is the paper's outer product with a smaller
    /// scalar, so the engine's plan may fuse it; a leak or a projection is not. A closed dead
    /// zone (g = 0) skips the update, which adding the product 0 Psi_b D^T e is not for a
    /// weight of -0.0: `None` then.
    pub fn outer_gain(&self, signal: &LearningSignal<'_>) -> Option<f64> {
        match self.safeguard {
            Safeguard::DeadZone { .. } => {
                let gain = signal.dt * self.raw * signal.rate_scale * self.error_factor(signal.error);
                (gain != 0.0).then_some(gain)
            }
            _ => None,
        }
    }
}

/// The Frobenius norm of `w` if it exceeds `bound`, else `None`, with faer's norm (its
/// overflow-safe scaling; its value sets the projection's bits) computed only when the plain
/// sum of squares does not settle it: that sum is within n eps of ||w||^2 (n terms), so below
/// bound^2 (1 - 1e-6) the norm is below the bound for any n < 10^9. A NaN or infinite sum, and
/// a bound^2 that underflows, fall through to faer's norm. On a 2 x 64 matrix faer's norm cost
/// ~1.4 µs per step, ten times the rest of the step (docs/PERFORMANCE.md).
fn norm_over(w: &ebn_core::Mat<f64>, bound: f64) -> Option<f64> {
    let mut sum = 0.0;
    for j in 0..w.ncols() {
        for x in w.col_as_slice(j) {
            sum += x * x;
        }
    }
    if sum < bound * bound * (1.0 - 1e-6) {
        return None;
    }
    let norm = w.norm_l2();
    (norm > bound).then_some(norm)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

impl PlasticityRule for RobustLocal {
    fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
        if matches!(self.safeguard, Safeguard::Projection { .. }) && setup.form == WeightForm::Dense {
            return Err(Error::Unsupported(
                "the projection rule bounds ||W|| of the factored weights; use slow_weights = \"factored\"".into(),
            ));
        }
        self.raw = self.eta / setup.n_basis.max(1) as f64;
        Ok(())
    }

    fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights) {
        let gain = signal.dt * self.raw * signal.rate_scale * self.error_factor(signal.error);
        let keep = self.leak_factor(signal);
        match weights {
            SlowWeights::Dense(omega) => {
                for (b, psi) in signal.psi.iter().enumerate() {
                    let column = omega.col_as_slice_mut(b);
                    if keep != 1.0 {
                        column.iter_mut().for_each(|w| *w *= keep);
                    }
                    if gain != 0.0 {
                        axpy(gain * psi, signal.feedback, column);
                    }
                }
            }
            SlowWeights::Factored(wt) => {
                for (j, e) in signal.error.iter().enumerate() {
                    let column = wt.col_as_slice_mut(j);
                    if keep != 1.0 {
                        column.iter_mut().for_each(|w| *w *= keep);
                    }
                    if gain != 0.0 {
                        axpy(gain * e, signal.psi, column);
                    }
                }
                if let Safeguard::Projection { bound } = self.safeguard
                    && let Some(norm) = norm_over(wt, bound)
                {
                    let s = bound / norm;
                    for j in 0..wt.ncols() {
                        wt.col_as_slice_mut(j).iter_mut().for_each(|w| *w *= s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::Mat;

    proptest::proptest! {
        /// The projection's decision and norm are faer's, with or without the shortcut: for
        /// random W (signed zeros, tiny and huge entries, NaN) and bounds at, just under and
        /// just over the norm, and far from it.
        #[test]
        fn the_norm_shortcut_decides_as_faer(
            cells in proptest::collection::vec((-2.0..2.0f64, 0u8..8), 1..300),
            scale in -200i32..200,
            at in (0u8..6, -3.0..3.0f64),
        ) {
            let v: Vec<f64> = cells.iter().map(|(x, k)| match k {
                0 => -0.0,
                1 => x * 1e-170,
                _ => x * 2f64.powi(scale),
            }).collect();
            let w = Mat::from_fn(v.len().div_ceil(2), 2, |i, j| v.get(2 * i + j).copied().unwrap_or(0.5));
            let norm = w.norm_l2();
            let bound = match at.0 {
                0 => norm,
                1 => norm * (1.0 - f64::EPSILON),
                2 => norm * (1.0 + f64::EPSILON),
                3 => norm * (1.0 - 1e-7),
                _ => norm * 10f64.powf(at.1),
            };
            proptest::prop_assume!(bound > 0.0 && bound.is_finite());
            let faer = (norm > bound).then_some(norm);
            proptest::prop_assert_eq!(norm_over(&w, bound).map(f64::to_bits), faer.map(f64::to_bits));
        }
    }

    #[test]
    fn the_norm_shortcut_leaves_nan_and_overflow_to_faer() {
        let nan: Mat<f64> = Mat::from_fn(3, 2, |i, j| if i == 1 && j == 0 { f64::NAN } else { 1.0 });
        assert_eq!(
            norm_over(&nan, 1.0).map(f64::to_bits),
            (nan.norm_l2() > 1.0).then_some(nan.norm_l2()).map(f64::to_bits)
        );
        let huge: Mat<f64> = Mat::from_fn(3, 2, |_, _| 1e200);
        let norm = huge.norm_l2();
        assert!(norm.is_finite(), "faer's norm scales: {norm}");
        assert_eq!(norm_over(&huge, 1e199), Some(norm));
        assert_eq!(norm_over(&huge, 1e201), None);
    }

    fn signal<'a>(error: &'a [f64], psi: &'a [f64], d: &'a Mat<f64>, fb: &'a [f64]) -> LearningSignal<'a> {
        LearningSignal {
            error,
            feedback: fb,
            psi,
            target: error,
            readout: error,
            traces: fb,
            voltages: fb,
            spikes: &[],
            decoder: d,
            t: 0.0,
            rate_scale: 1.0,
            dt: 0.01,
        }
    }

    fn bound(rule: &mut RobustLocal, nb: usize) {
        rule.bind(&RuleSetup { form: WeightForm::Factored, n: 2, dim: 2, n_basis: nb }).unwrap();
    }

    #[test]
    fn robust_rules_conform() {
        for safeguard in [
            Safeguard::Sigma { sigma: 3.0 },
            Safeguard::EMod { sigma: 2.0 },
            Safeguard::DeadZone { threshold: 0.3 },
            Safeguard::Projection { bound: 0.8 },
        ] {
            ebn_core::conformance::plasticity_rule(&|| Box::new(RobustLocal::new(5.0, safeguard).unwrap()));
        }
        // With zero error, e-modification and the dead zone leave the weights untouched.
        ebn_core::conformance::error_driven_rule(&|| {
            Box::new(RobustLocal::new(5.0, Safeguard::EMod { sigma: 2.0 }).unwrap())
        });
        ebn_core::conformance::error_driven_rule(&|| {
            Box::new(RobustLocal::new(5.0, Safeguard::DeadZone { threshold: 0.3 }).unwrap())
        });
    }

    /// Sigma-modification with no error decays W exactly as exp(-sigma t).
    #[test]
    fn sigma_leak_is_exact() {
        let mut rule = RobustLocal::new(1.0, Safeguard::Sigma { sigma: 4.0 }).unwrap();
        bound(&mut rule, 1);
        let d = Mat::zeros(2, 2);
        let mut w = SlowWeights::from_w(&Mat::from_fn(2, 1, |r, _| 1.0 + r as f64));
        for _ in 0..100 {
            rule.update(&signal(&[0.0, 0.0], &[1.0], &d, &[0.0, 0.0]), &mut w);
        }
        let expected = (-4.0f64).exp(); // 100 steps of 0.01 s
        let m = w.matrix();
        assert!((m[(0, 0)] - expected).abs() < 1e-14 && (m[(0, 1)] - 2.0 * expected).abs() < 1e-14);
    }

    /// A constant error e with constant Psi under sigma-modification drives W to the biased
    /// fixed point eta e Psi^T / sigma (the bias the safeguard costs).
    #[test]
    fn sigma_fixed_point_is_the_biased_weight() {
        let mut rule = RobustLocal::new(2.0, Safeguard::Sigma { sigma: 5.0 }).unwrap();
        bound(&mut rule, 1);
        let d = Mat::zeros(2, 2);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 2, 2, 1);
        for _ in 0..20_000 {
            rule.update(&signal(&[0.5, -1.0], &[0.4], &d, &[0.0, 0.0]), &mut w);
        }
        // Discrete fixed point: w = keep (w) + gain e psi => w = gain e psi / (1 - keep).
        let keep = (-0.05f64).exp();
        for (j, e) in [0.5, -1.0].iter().enumerate() {
            let expected = 0.01 * 2.0 * e * 0.4 / (1.0 - keep);
            assert!((w.matrix()[(0, j)] - expected).abs() < 1e-12, "{j}: {} vs {expected}", w.matrix()[(0, j)]);
        }
        // ... which is the continuous-time eta e psi / sigma to first order in sigma dt
        // (relative difference sigma dt / 2 + O((sigma dt)^2) = 0.025).
        let ratio = (0.01 * 2.0 / (1.0 - keep)) / (2.0 / 5.0);
        assert!((ratio - 1.0).abs() < 5.0 * 0.01, "{ratio}");
    }

    #[test]
    fn dead_zone_ignores_small_errors_and_shrinks_large_ones() {
        let mut rule = RobustLocal::new(1.0, Safeguard::DeadZone { threshold: 0.5 }).unwrap();
        bound(&mut rule, 1);
        let d = Mat::zeros(2, 2);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 2, 2, 1);
        rule.update(&signal(&[0.3, 0.4], &[1.0], &d, &[0.0, 0.0]), &mut w); // ||e|| = 0.5
        assert_eq!(w.matrix().norm_max(), 0.0);
        rule.update(&signal(&[0.6, 0.8], &[1.0], &d, &[0.0, 0.0]), &mut w); // ||e|| = 1: factor 1/2
        assert!((w.matrix()[(0, 0)] - 0.01 * 0.5 * 0.6).abs() < 1e-15);
        assert!((w.matrix()[(0, 1)] - 0.01 * 0.5 * 0.8).abs() < 1e-15);
    }

    #[test]
    fn projection_keeps_w_in_the_ball() {
        let mut rule = RobustLocal::new(1e4, Safeguard::Projection { bound: 0.25 }).unwrap();
        bound(&mut rule, 3);
        let d = Mat::zeros(2, 2);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 2, 2, 3);
        for k in 0..50 {
            let e = [1.0 + k as f64, -2.0];
            rule.update(&signal(&e, &[0.3, -1.0, 2.0], &d, &[0.0, 0.0]), &mut w);
            assert!(w.matrix().norm_l2() <= 0.25 * (1.0 + 1e-12));
        }
        assert!((w.matrix().norm_l2() - 0.25).abs() < 1e-12, "a large error pushes W to the boundary");
        let dense = RuleSetup { form: WeightForm::Dense, n: 2, dim: 2, n_basis: 3 };
        assert!(matches!(rule.bind(&dense), Err(Error::Unsupported(_))));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(RobustLocal::new(1.0, Safeguard::Sigma { sigma: -1.0 }).is_err());
        assert!(RobustLocal::new(1.0, Safeguard::EMod { sigma: f64::NAN }).is_err());
        assert!(RobustLocal::new(1.0, Safeguard::DeadZone { threshold: f64::INFINITY }).is_err());
        assert!(RobustLocal::new(1.0, Safeguard::Projection { bound: 0.0 }).is_err());
        assert!(RobustLocal::new(-1.0, Safeguard::Sigma { sigma: 1.0 }).is_err());
    }
}
