//! Recursive least squares on the slow weights: the FORCE rule (Sussillo & Abbott 2009,
//! Neuron 63:544; for spiking networks Nicola & Clopath 2017, Nat Commun 8:2208), the
//! non-local baseline against which the paper's local rule is measured.
//!
//! **Equations.** The rule keeps P, an estimate of the inverse correlation matrix of the
//! basis, P = (alpha I + integral of e^(-beta (t - s)) Psi(s) Psi(s)^T ds)^-1 (N_b x N_b), and
//! replaces the paper's scalar rate by it:
//!
//! ```text
//! dW/dt = gamma e (P Psi)^T          (factored; synapse level: dOmega_s/dt = gamma (D^T e) (P Psi)^T)
//! dP/dt = beta P - P Psi Psi^T P
//! ```
//!
//! This is the least-squares adaptive law of adaptive control (Slotine & Li 1991, §8.7;
//! Ioannou & Sun 1996, §4.3.6) and, in discrete time with the update applied every `every`
//! steps, FORCE: each update moves W along the direction in which the data seen so far
//! constrain it least, so that all directions of Psi are learned at the same speed, however
//! unevenly the training excites them.
//!
//! **Not local.** (P Psi)_j mixes all N_b presynaptic inputs of a synapse with weights that
//! depend on the whole history of the network: a synapse would need to know every other
//! synapse's input. That is what the comparison measures.
//!
//! **The regressor.** The error the rule sees is the state error e = x - x_hat, not the error
//! of W Psi itself: with the feedback K, de/dt = -(lambda + K) e - W~ Psi (W~ = W - W*), so e
//! is W~ Psi low-pass filtered. Plain FORCE (`filter = 0`) regresses e on the instantaneous
//! Psi, as Sussillo & Abbott regress the output error; least squares is then not the right
//! estimator, and V = ‖e‖²/2 + tr(W~ P^-1 W~^T)/(2 gamma) has
//! dV/dt = -(lambda + K)‖e‖² + ‖W~ Psi‖²/(2 gamma), which no gamma makes negative definite.
//! With `filter = lambda + K` the rule regresses e on the filtered regressor
//! Psi_f, dPsi_f/dt = -filter Psi_f + Psi (the "swapping" construction of Ioannou & Sun,
//! §4.3): then e = -W~ Psi_f exactly for constant W~ and a linear error model, a static
//! regression, and gamma = 1 makes each update the exact least-squares step. Psi_f is reset
//! to 0 at the start of every run (t <= dt), where e is 0 too. P then correlates Psi_f, and
//! the update is W += gamma h s e (P Psi_f)^T. In the spiking network the error model is only
//! approximately linear; the rule is the non-local baseline, not a proven one.
//!
//! **Discrete time.** Every `every` steps, with h = every dt: P <- e^(beta h) P;
//! q = P Psi; P <- P - h q q^T / (1 + h Psi^T q) (Sherman–Morrison for
//! P^-1 += h Psi Psi^T), and W += gamma h s e (P Psi)^T with P Psi = q / (1 + h Psi^T q)
//! (s the protocol's `rate_scale`). Between updates nothing changes. Cost: O(N_b²) per update
//! and N_b² numbers of state.
//!
//! **Units.** Unfiltered: P^-1 in s Psi², P Psi in 1/(s Psi), gamma in 1/s (W in x per second
//! per Psi), `alpha` (P(0) = I / alpha) in s Psi². Filtered: Psi_f in s Psi, P^-1 in s³ Psi²,
//! gamma dimensionless, alpha in s³ Psi².
//!
//! **Integration.** Psi_f by forward Euler at the network's dt (every step, with Psi_(n+1));
//! P and W as above, every `every` steps.
//!
//! **State.** The step counter (which step of the `every`-cycle), Psi_f and P, saved in every
//! checkpoint so that a resumed run is bit-identical. P starts as I / alpha at `bind`.

use crate::local::axpy;
use ebn_core::{Error, LearningSignal, PlasticityRule, Result, RuleSetup, SlowWeights, check};

/// Largest N_b for which the rule allocates its N_b x N_b matrix (8 bytes each: 200 MB).
pub const MAX_RLS_BASIS: usize = 5000;

/// Recursive least squares / FORCE on the slow weights (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Rls {
    gamma: f64,
    alpha: f64,
    beta: f64,
    every: u32,
    filter: f64,
    /// The filtered regressor Psi_f (N_b; unused when `filter` is 0).
    psi_f: Vec<f64>,
    /// P, N_b x N_b, row-major (symmetric).
    p: Vec<f64>,
    /// Steps since the last update.
    phase: u32,
    n_basis: usize,
    q: Vec<f64>,
}

impl Rls {
    /// The rule with rate `gamma` (>= 0), prior `alpha` (> 0; P(0) = I / alpha),
    /// forgetting rate `beta` (1/s, >= 0), one update every `every` steps (>= 1), and the
    /// regressor filtered at `filter` (1/s, >= 0; 0 for the instantaneous Psi of plain FORCE).
    pub fn new(gamma: f64, alpha: f64, beta: f64, every: u32, filter: f64) -> Result<Self> {
        check::non_negative("gamma", gamma)?;
        check::positive("alpha", alpha)?;
        check::non_negative("beta", beta)?;
        check::non_negative("filter", filter)?;
        if every == 0 {
            return Err(Error::invalid("every", 0, ">= 1"));
        }
        Ok(Self {
            gamma,
            alpha,
            beta,
            every,
            filter,
            psi_f: Vec::new(),
            p: Vec::new(),
            phase: 0,
            n_basis: 0,
            q: Vec::new(),
        })
    }

    /// P, row-major, N_b x N_b (empty before binding).
    pub fn p(&self) -> &[f64] {
        &self.p
    }

    fn reset_p(&mut self) {
        let nb = self.n_basis;
        self.p = vec![0.0; nb * nb];
        for i in 0..nb {
            self.p[i * nb + i] = 1.0 / self.alpha;
        }
    }
}

impl PlasticityRule for Rls {
    fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
        check::at_most(
            "network.n_basis (rls)",
            setup.n_basis,
            MAX_RLS_BASIS,
            "the rls rule keeps an N_b x N_b matrix",
        )?;
        self.n_basis = setup.n_basis;
        self.q = vec![0.0; setup.n_basis];
        self.psi_f = if self.filter > 0.0 { vec![0.0; setup.n_basis] } else { Vec::new() };
        self.phase = 0;
        self.reset_p();
        Ok(())
    }

    fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights) {
        if self.filter > 0.0 {
            if signal.t <= signal.dt {
                self.psi_f.fill(0.0);
            }
            let a = signal.dt * self.filter;
            for (f, p) in self.psi_f.iter_mut().zip(signal.psi) {
                *f += signal.dt * p - a * *f;
            }
        }
        self.phase += 1;
        if self.phase < self.every {
            return;
        }
        self.phase = 0;
        let nb = self.n_basis;
        let h = signal.dt * self.every as f64;
        let psi = if self.filter > 0.0 { &self.psi_f[..] } else { signal.psi };
        if self.beta > 0.0 {
            let grow = (self.beta * h).exp();
            self.p.iter_mut().for_each(|p| *p *= grow);
        }
        // q = P Psi, then the Sherman–Morrison step.
        for (a, q) in self.q.iter_mut().enumerate() {
            *q = ebn_core::coding::dot(&self.p[a * nb..(a + 1) * nb], psi);
        }
        let denom = 1.0 + h * ebn_core::coding::dot(psi, &self.q);
        let c = h / denom;
        for a in 0..nb {
            let ca = c * self.q[a];
            if ca != 0.0 {
                axpy(-ca, &self.q, &mut self.p[a * nb..(a + 1) * nb]);
            }
        }
        // k = P_new Psi = q / denom; W += gamma h s e k^T.
        let gain = self.gamma * h * signal.rate_scale / denom;
        match weights {
            SlowWeights::Dense(omega) => {
                for (b, q) in self.q.iter().enumerate() {
                    axpy(gain * q, signal.feedback, omega.col_as_slice_mut(b));
                }
            }
            SlowWeights::Factored(wt) => {
                for (j, e) in signal.error.iter().enumerate() {
                    axpy(gain * e, &self.q, wt.col_as_slice_mut(j));
                }
            }
        }
    }

    /// [phase, Psi_f (if filtered), P row by row].
    fn state(&self) -> Vec<f64> {
        let mut state = Vec::with_capacity(1 + self.psi_f.len() + self.p.len());
        state.push(f64::from(self.phase));
        state.extend_from_slice(&self.psi_f);
        state.extend_from_slice(&self.p);
        state
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        let nb = self.n_basis;
        let nf = self.psi_f.len();
        if state.len() != 1 + nf + nb * nb {
            return Err(Error::Corrupt(format!(
                "the rls rule's state holds {} values, not 1 + {nf} + N_b^2 = {}",
                state.len(),
                1 + nf + nb * nb
            )));
        }
        let phase = state[0];
        if !(phase >= 0.0 && phase < f64::from(self.every) && phase.fract() == 0.0) {
            return Err(Error::Corrupt(format!("rls phase {phase} is not an integer in [0, {})", self.every)));
        }
        if let Some(i) = state[1..].iter().position(|v| !v.is_finite()) {
            return Err(Error::Corrupt(format!("rls P entry {i} is {}", state[1 + i])));
        }
        self.phase = phase as u32;
        self.psi_f.copy_from_slice(&state[1..1 + nf]);
        self.p.copy_from_slice(&state[1 + nf..]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{Mat, WeightForm};

    /// A signal with error `error` (J = 1), basis values `psi`, three neurons and nothing else.
    fn signal<'a>(error: &'a [f64], psi: &'a [f64], d: &'a Mat<f64>, dt: f64) -> LearningSignal<'a> {
        LearningSignal {
            error,
            feedback: &[0.0; 3],
            psi,
            target: &[0.0],
            readout: &[0.0],
            traces: &[0.0; 3],
            voltages: &[0.0; 3],
            spikes: &[],
            decoder: d,
            t: 0.0,
            rate_scale: 1.0,
            dt,
        }
    }

    fn setup(form: WeightForm, nb: usize) -> RuleSetup {
        RuleSetup { form, n: 3, dim: 1, n_basis: nb }
    }

    #[test]
    fn rls_conforms() {
        ebn_core::conformance::error_driven_rule(&|| Box::new(Rls::new(50.0, 2.0, 0.0, 1, 0.0).unwrap()));
        ebn_core::conformance::error_driven_rule(&|| Box::new(Rls::new(50.0, 2.0, 0.5, 3, 15.0).unwrap()));
    }

    /// P tracks (alpha I + sum h Psi Psi^T)^-1 exactly (Sherman–Morrison), checked against a
    /// direct inverse after many updates.
    #[test]
    fn p_is_the_inverse_correlation() {
        let nb = 4;
        let mut rule = Rls::new(0.0, 0.5, 0.0, 2, 0.0).unwrap();
        rule.bind(&setup(WeightForm::Factored, nb)).unwrap();
        let d = Mat::zeros(1, 3);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 3, 1, nb);
        let dt = 1e-3;
        let mut corr = Mat::<f64>::identity(nb, nb) * 0.5;
        for k in 0..400 {
            let psi: Vec<f64> = (0..nb).map(|b| ((k * (b + 1)) as f64 * 0.37).sin()).collect();
            rule.update(&signal(&[0.0], &psi, &d, dt), &mut w);
            if k % 2 == 1 {
                for a in 0..nb {
                    for b in 0..nb {
                        corr[(a, b)] += 2.0 * dt * psi[a] * psi[b];
                    }
                }
            }
        }
        let p = Mat::from_fn(nb, nb, |a, b| rule.p()[a * nb + b]);
        let identity = &p * &corr;
        let err = (identity - Mat::<f64>::identity(nb, nb)).norm_max();
        assert!(err < 1e-10, "P corr - I = {err}");
    }

    /// On a static regression (e = the residual of a linear map y = w* . Psi), gamma = 1 makes
    /// every update the exact recursive least-squares step (data weighted by h): the map is
    /// recovered once the data span its N_b dimensions.
    #[test]
    fn recovers_a_linear_map_from_its_residuals() {
        let nb = 5;
        let w_true = [0.7, -1.2, 0.3, 2.0, -0.4];
        let dt = 1e-2;
        let mut rule = Rls::new(1.0, 1e-9, 0.0, 1, 0.0).unwrap();
        rule.bind(&setup(WeightForm::Factored, nb)).unwrap();
        let d = Mat::zeros(1, 3);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 3, 1, nb);
        for k in 0..20 {
            let psi: Vec<f64> = (0..nb).map(|b| ((k * (b + 1)) as f64 * 0.37).sin()).collect();
            let w_now: Vec<f64> = w.matrix().col_as_slice(0).to_vec();
            let residual = ebn_core::coding::dot(&w_true, &psi) - ebn_core::coding::dot(&w_now, &psi);
            rule.update(&signal(&[residual], &psi, &d, dt), &mut w);
        }
        for (b, t) in w_true.iter().enumerate() {
            assert!((w.matrix()[(b, 0)] - t).abs() < 1e-5, "{b}: {} vs {t}", w.matrix()[(b, 0)]);
        }
    }

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let mut rule = Rls::new(1.0, 1.0, 0.0, 3, 0.0).unwrap();
        rule.bind(&setup(WeightForm::Dense, 2)).unwrap();
        let state = rule.state();
        assert_eq!(state, vec![0.0, 1.0, 0.0, 0.0, 1.0]);
        assert!(rule.set_state(&state).is_ok());
        assert!(rule.set_state(&[0.0, 1.0]).is_err());
        assert!(rule.set_state(&[3.0, 1.0, 0.0, 0.0, 1.0]).is_err());
        assert!(rule.set_state(&[0.5, 1.0, 0.0, 0.0, 1.0]).is_err());
        assert!(rule.set_state(&[0.0, f64::NAN, 0.0, 0.0, 1.0]).is_err());
        assert!(Rls::new(1.0, 0.0, 0.0, 1, 0.0).is_err());
        assert!(Rls::new(1.0, 1.0, 0.0, 0, 0.0).is_err());
        assert!(Rls::new(1.0, 1.0, 0.0, 1, -1.0).is_err());
        let mut filtered = Rls::new(1.0, 1.0, 0.0, 1, 15.0).unwrap();
        filtered.bind(&setup(WeightForm::Factored, 2)).unwrap();
        assert_eq!(filtered.state().len(), 1 + 2 + 4);
        assert!(filtered.set_state(&state).is_err(), "an unfiltered state is refused");
        assert!(rule.bind(&setup(WeightForm::Factored, MAX_RLS_BASIS + 1)).is_err());
    }
}
