//! The basis ("dendritic") functions Psi(r) on which the slow weights act.

use std::any::Any;
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
///
/// # Implementing and plugging in a basis
///
/// Rectified random features Psi = max(0, M r + theta), registered as `relu`
/// (`basis = { kind = "relu", n_basis = 200, weight_std = 0.5 }`). The builder gets the
/// network's decoder and the basis's own random stream:
///
/// ```
/// use ebn_core::{Basis, BasisSetup, Mat, Registry, Result, SeedStreams, Spec, Stream, check};
/// use ebn_core::rand::RngExt;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Params { n_basis: usize, weight_std: f64 }
///
/// #[derive(Debug)]
/// struct Relu { m: Mat<f64>, theta: Vec<f64> }
///
/// impl Basis for Relu {
///     fn len(&self) -> usize { self.m.nrows() }
///     fn n_inputs(&self) -> usize { self.m.ncols() }
///     fn drive_len(&self) -> usize { self.m.nrows() }
///     fn on_spike(&self, k: usize, drive: &mut [f64]) {
///         for (u, m) in drive.iter_mut().zip(self.m.col_as_slice(k)) { *u += m; }
///     }
///     fn drive_from_traces(&self, r: &[f64], drive: &mut [f64]) {
///         drive.fill(0.0);
///         for (k, rk) in r.iter().enumerate() { for (u, m) in drive.iter_mut().zip(self.m.col_as_slice(k)) { *u += m * rk; } }
///     }
///     fn evaluate(&self, _r: &[f64], drive: &[f64], psi: &mut [f64]) {
///         for ((p, u), t) in psi.iter_mut().zip(drive).zip(&self.theta) { *p = (u + t).max(0.0); }
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_basis("relu", |p: Params, setup: &BasisSetup<'_>, rng: &mut ebn_core::Rng| -> Result<Box<dyn Basis>> {
///     check::positive("weight_std", p.weight_std)?;
///     let n = setup.decoder.ncols();
///     let m = Mat::from_fn(p.n_basis, n, |_, _| p.weight_std * (2.0 * rng.random::<f64>() - 1.0));
///     let theta = (0..p.n_basis).map(|_| rng.random::<f64>() - 0.5).collect();
///     Ok(Box::new(Relu { m, theta }))
/// });
/// let decoder = Mat::<f64>::zeros(2, 8);
/// let mut rng = SeedStreams::new(1).rng(Stream::Basis);
/// let spec = Spec::new("relu").with("n_basis", 5).with("weight_std", 0.5);
/// let basis = registry.basis(&spec, "network.basis", &BasisSetup { decoder: &decoder }, &mut rng)?;
/// // The invariant the network relies on: the drive kept through spikes and decays equals
/// // M r computed from the traces.
/// let (mut r, mut u) = (vec![0.0; 8], vec![0.0; 5]);
/// let decay = (-10.0f64 * 1e-3).exp(); // exp(-lambda dt)
/// for k in [3, 1, 3, 7] {
///     r[k] += 1.0;
///     basis.on_spike(k, &mut u);
///     r.iter_mut().for_each(|x| *x *= decay);
///     u.iter_mut().for_each(|x| *x *= decay);
/// }
/// let mut fresh = vec![0.0; 5];
/// basis.drive_from_traces(&r, &mut fresh);
/// assert!(u.iter().zip(&fresh).all(|(a, b)| (a - b).abs() < 1e-12));
/// let mut psi = vec![0.0; 5];
/// basis.evaluate(&r, &u, &mut psi);
/// assert!(psi.iter().all(|p| *p >= 0.0));
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait Basis: Any + Debug + Send + Sync {
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

    /// For bases that are functions of the decoded state (Psi = phi(M_x x_hat + theta)): Psi
    /// at the state `x`, written into `psi`; returns false (writing nothing) for bases that
    /// are not, such as the identity. Used to plot the learned vector field.
    fn evaluate_at_state(&self, _x: &[f64], _psi: &mut [f64]) -> bool {
        false
    }
}
