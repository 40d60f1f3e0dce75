//! The paper's local rule, and fixed weights.

use ebn_core::{LearningSignal, PlasticityRule, Result, RuleSetup, SlowWeights, check};

/// Fixed slow weights: the rule that never changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NoLearning;

impl PlasticityRule for NoLearning {
    fn bind(&mut self, _setup: &RuleSetup) -> Result<()> {
        Ok(())
    }
    fn update(&mut self, _signal: &LearningSignal<'_>, _weights: &mut SlowWeights) {}
}

/// The local plasticity rule of Alemi, Machens, Denève & Slotine (2018), MODEL.md §6:
///
/// ```text
/// d Omega_s[i][j] / dt = eta [D^T e]_i Psi_j(r)
/// ```
///
/// **Why it is local**: [D^T e]_i is the feedback current that neuron i itself receives
/// (it enters V_i as K [D^T e]_i), and Psi_j(r) is the j-th presynaptic (dendritic) input of
/// the synapse: each synapse changes by (its postsynaptic neuron's feedback) x (its
/// presynaptic activity).
///
/// **Why it converges** (Sanner & Slotine 1992): writing Omega_s = D^T W, the student
/// dx_hat/dt = -lambda x_hat + W Psi + c + K e, and W* with lambda x + f(x) = W* Psi(x), the
/// Lyapunov function ||e||^2 / 2 + tr(W~^T W~) / (2 eta), W~ = W - W*, has derivative
/// -(lambda + K) ||e||^2 <= 0 under dW/dt = eta e Psi^T, which is the rule above with D^T
/// taken out. With a persistently exciting command, W -> W*.
///
/// **Forms**: synapse-level, Omega_s += dt eta s (D^T e) Psi^T (N x N_b per step); factored,
/// W += dt eta s e Psi^T (J x N_b per step), with s the protocol's `rate_scale`. Started
/// from the same weights (Omega_s = D^T W), the two stay equal.
///
/// **Integration**: forward Euler at the network's dt, using e_(n+1) and Psi(r_(n+1))
/// (MODEL.md §8, sub-step 5).
///
/// **Units**: W is in units of x per second per unit of Psi (Psi is dimensionless for tanh
/// bases, in spikes for the identity basis) and e in units of x, so eta is in
/// 1 / (s^2 Psi^2). The configured `eta` is per basis function: [`PlasticityRule::bind`]
/// divides it by N_b (MODEL.md §6), from code as from a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalRule {
    eta: f64,
    raw: f64,
}

impl LocalRule {
    /// The rule with learning rate `eta` per basis function (>= 0, finite).
    pub fn new(eta: f64) -> Result<Self> {
        check::non_negative("eta", eta)?;
        Ok(Self { eta, raw: 0.0 })
    }

    /// The learning rate per basis function.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The raw rate eta / N_b in force (0 before binding).
    pub fn raw_eta(&self) -> f64 {
        self.raw
    }

    /// The scalar g of the update as an outer product: `Omega_s[:, b] += (g Psi_b) D^T e`,
    /// or `W^T[:, j] += (g e_j) Psi`, with g = dt eta s / N_b ([`PlasticityRule::update`]
    /// computes it so). The engine's plan fuses that product with the next step's slow
    /// current (the same bits, tested).
    pub fn outer_gain(&self, signal: &LearningSignal<'_>) -> f64 {
        signal.dt * self.raw * signal.rate_scale
    }
}

impl PlasticityRule for LocalRule {
    fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
        self.raw = self.eta / setup.n_basis.max(1) as f64;
        Ok(())
    }

    /// Reads the error, Psi and (dense weights) the feedback D^T e; never the voltages.
    fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights) {
        let gain = self.outer_gain(signal);
        match weights {
            // Omega_s[:, b] += gain Psi_b (D^T e): one axpy of length N per basis function.
            SlowWeights::Dense(omega) => {
                for (b, psi) in signal.psi.iter().enumerate() {
                    axpy(gain * psi, signal.feedback, omega.col_as_slice_mut(b));
                }
            }
            // W^T[:, j] += gain e_j Psi: one axpy of length N_b per dimension.
            SlowWeights::Factored(wt) => {
                for (j, e) in signal.error.iter().enumerate() {
                    axpy(gain * e, signal.psi, wt.col_as_slice_mut(j));
                }
            }
        }
    }
}

/// y += a x.
#[inline]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
