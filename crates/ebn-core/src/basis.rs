//! The basis ("dendritic") functions Psi(r) on which the slow weights act.

use std::fmt::Debug;

/// Basis functions Psi(r) of the presynaptic traces, N_b of them (MODEL.md §5).
///
/// Bases of the form Psi = phi(M r + theta) keep the linear **drive** u = M r up to date
/// incrementally: u jumps by the column M_k when neuron k spikes and decays with r, which
/// costs O(N_b) per step instead of O(N N_b). The network owns u (length
/// [`drive_len`](Self::drive_len), possibly 0) and decays it by exp(-lambda dt) together with
/// r; the basis tells it how u jumps at a spike and how Psi follows from (r, u).
///
/// Invariant (checked by the conformance kit): after any sequence of spikes and decays, the
/// incrementally kept u equals [`drive_from_traces`](Self::drive_from_traces)`(r)`.
pub trait Basis: Debug + Send + Sync {
    /// Number of basis functions N_b.
    fn len(&self) -> usize;

    /// Whether the basis has no functions (never true for a built basis).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of presynaptic traces N the basis was built for.
    fn n_inputs(&self) -> usize;

    /// Length of the linear drive u = M r kept by the network (0 if none).
    fn drive_len(&self) -> usize;

    /// u += M_k: the jump of the drive when neuron `k` spikes.
    fn on_spike(&self, k: usize, drive: &mut [f64]);

    /// u = M r, computed from scratch.
    fn drive_from_traces(&self, r: &[f64], drive: &mut [f64]);

    /// Psi from the traces r and the drive u; writes N_b values into `psi`.
    fn evaluate(&self, r: &[f64], drive: &[f64], psi: &mut [f64]);

    /// Whether Psi(r) = r exactly (the identity basis, for which the closed-form slow weights
    /// of a linear target exist). Default: false.
    fn is_identity(&self) -> bool {
        false
    }

    /// For bases that are functions of the decoded state (Psi = phi(M_x x_hat + theta)): Psi
    /// at the state `x`, written into `psi`; returns false (writing nothing) for bases that
    /// are not, such as the identity. Used to plot the learned vector field.
    fn evaluate_at_state(&self, _x: &[f64], _psi: &mut [f64]) -> bool {
        false
    }
}
