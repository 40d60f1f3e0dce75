//! A population: neurons of one model with their decoder, thresholds and traces.
//!
//! The network's per-neuron data, grouped so that a second population (its own model,
//! decoder and thresholds: the excitatory and inhibitory populations of a Dale network) is an
//! addition (ARCHITECTURE.md, "The network's data"). Today a network has one.

use crate::config::FastForm;
use ebn_core::{Mat, NeuronModel, coding};

/// N neurons of one model: what the step reads and writes per neuron.
#[derive(Debug)]
pub(crate) struct Population<M: NeuronModel> {
    /// The neuron model (its parameters).
    pub neuron: M,
    /// The model's state (at least the voltages).
    pub state: M::State,
    /// The decoder D (J x N).
    pub decoder: Mat<f64>,
    /// D in the layouts the step reads.
    pub d: DecoderLayouts,
    /// Thresholds T_i = (||D_i||^2 + mu + nu) / 2.
    pub base_thresholds: Vec<f64>,
    /// Thresholds in force: +inf for silenced neurons, as perturbations left them.
    pub thresholds: Vec<f64>,
    /// Which neurons can fire.
    pub alive: Vec<bool>,
    /// Filtered spike trains r.
    pub r: Vec<f64>,
    /// Neurons that fired in the current step, in order.
    pub spikes: Vec<usize>,
    /// The model's spike policy: most spikes in one step.
    pub max_spikes: usize,
    /// The fast-weight column of a spike, for a model that filters its fast input
    /// ([`NeuronModel::filters_fast_input`]); empty otherwise.
    pub fast_column: Vec<f64>,
    /// The spike whose fast-weight column (and [`NeuronModel::on_spike`]) has not reached
    /// the neuron state yet; `None` whenever no `Deferred` handle is alive.
    pub pending: Option<usize>,
    /// The input current of the step (the separate path), per neuron.
    pub input: Vec<f64>,
    /// The feedback D^T e per neuron (the learning signal's postsynaptic factor).
    pub feedback: Vec<f64>,
}

/// The factored fast-weight column of spike k onto the voltages (V_j -= D_j^T D_k, then
/// V_k -= mu, as the network adds it at a spike), then the model's `on_spike_at`.
pub(crate) fn deliver<M: NeuronModel>(
    d: &DecoderLayouts,
    neuron: &M,
    state: &mut M::State,
    thresholds: &[f64],
    k: usize,
    mu: f64,
) {
    let v = neuron.voltages_mut(state);
    d.project(d.column(k), v, true);
    v[k] -= mu;
    neuron.on_spike_at(state, k, thresholds);
}

/// D in the two layouts the step reads: neuron-major (`by_neuron[i * J + c] = D[c, i]`, the
/// decoding vector of one neuron at a spike) and component-major (`by_component[c * N + i]`,
/// for the products D^T z over all neurons: one contiguous row per component, so the loop over
/// neurons needs no shuffles).
#[derive(Debug, Clone)]
pub(crate) struct DecoderLayouts {
    pub(crate) by_neuron: Vec<f64>,
    pub(crate) by_component: Vec<f64>,
    pub(crate) n: usize,
    pub(crate) j: usize,
}

impl DecoderLayouts {
    pub(crate) fn new(decoder: &Mat<f64>) -> Self {
        let (j, n) = (decoder.nrows(), decoder.ncols());
        let by_neuron = (0..n).flat_map(|i| decoder.col_as_slice(i).to_vec()).collect();
        let by_component = (0..j).flat_map(|c| (0..n).map(move |i| decoder[(c, i)])).collect();
        Self { by_neuron, by_component, n, j }
    }

    /// D_k, the decoding vector of neuron k.
    #[inline]
    pub(crate) fn column(&self, k: usize) -> &[f64] {
        &self.by_neuron[k * self.j..(k + 1) * self.j]
    }

    /// out_i = sum_c D[c, i] z_c (or out_i -= that, when `subtract`) for every neuron i: the
    /// product D^T z. Each sum runs over c = 0, 1, ... from 0.0, in every layout, so the
    /// result does not depend on which loop computes it. J = 1, 2, 3 read the component rows
    /// (vectorised); larger J the neuron-major layout.
    #[inline]
    pub(crate) fn project(&self, z: &[f64], out: &mut [f64], subtract: bool) {
        let n = self.n;
        let row = |c: usize| &self.by_component[c * n..(c + 1) * n];
        #[inline(always)]
        fn put(o: &mut f64, s: f64, subtract: bool) {
            if subtract { *o -= s } else { *o = s }
        }
        match self.j {
            1 => {
                for (o, d0) in out.iter_mut().zip(row(0)) {
                    put(o, 0.0 + d0 * z[0], subtract);
                }
            }
            2 => {
                for ((o, d0), d1) in out.iter_mut().zip(row(0)).zip(row(1)) {
                    put(o, 0.0 + d0 * z[0] + d1 * z[1], subtract);
                }
            }
            3 => {
                for (((o, d0), d1), d2) in out.iter_mut().zip(row(0)).zip(row(1)).zip(row(2)) {
                    put(o, 0.0 + d0 * z[0] + d1 * z[1] + d2 * z[2], subtract);
                }
            }
            j => {
                for (o, d) in out.iter_mut().zip(self.by_neuron.chunks_exact(j)) {
                    let mut s = 0.0;
                    for (dc, zc) in d.iter().zip(z) {
                        s += dc * zc;
                    }
                    put(o, s, subtract);
                }
            }
        }
    }
}

/// The fast connections of a population onto itself, Omega_f = -(D^T D + mu I) (MODEL.md
/// §3), applied one column per spike: the first projection of the network's data (a
/// projection between two populations is the next).
#[derive(Debug)]
pub(crate) enum FastProjection {
    /// Computed from D at each spike: V_j -= D_j^T D_k, then V_k -= mu (the default; the
    /// only form whose column may wait for the next step's pass).
    Factored {
        /// The L2 spike cost mu.
        mu: f64,
    },
    /// Stored, N x N.
    Dense(Mat<f64>),
    /// The reset alone: V_k -= ||D_k||^2 + mu.
    ResetOnly {
        /// The L2 spike cost mu.
        mu: f64,
    },
}

impl FastProjection {
    /// The projection of `form` for the decoder D (J x N) and the spike cost mu.
    pub fn new(form: FastForm, decoder: &Mat<f64>, mu: f64) -> Self {
        match form {
            FastForm::Factored => Self::Factored { mu },
            FastForm::ResetOnly => Self::ResetOnly { mu },
            FastForm::Dense => {
                let n = decoder.ncols();
                Self::Dense(Mat::from_fn(n, n, |a, b| {
                    -(coding::dot(decoder.col_as_slice(a), decoder.col_as_slice(b)) + if a == b { mu } else { 0.0 })
                }))
            }
        }
    }

    /// Whether a spike's column may wait for the next step's membrane pass.
    pub fn deferrable(&self) -> bool {
        matches!(self, Self::Factored { .. })
    }

    /// Adds the column of spike `k` to the voltages `v` (instantaneous synapses).
    #[inline]
    pub fn add_column(&self, d: &DecoderLayouts, k: usize, v: &mut [f64]) {
        let dk = d.column(k);
        match self {
            Self::Dense(omega_f) => {
                for (vi, w) in v.iter_mut().zip(omega_f.col_as_slice(k)) {
                    *vi += w;
                }
            }
            Self::ResetOnly { mu } => v[k] -= coding::dot(dk, dk) + mu,
            Self::Factored { mu } => {
                d.project(dk, v, true);
                v[k] -= mu;
            }
        }
    }

    /// Writes the column of spike `k` into `column` (for a model with its own synapses): the
    /// values [`FastProjection::add_column`] adds.
    #[inline]
    pub fn write_column(&self, d: &DecoderLayouts, k: usize, column: &mut [f64]) {
        let dk = d.column(k);
        match self {
            Self::Dense(omega_f) => column.copy_from_slice(omega_f.col_as_slice(k)),
            Self::ResetOnly { mu } => {
                column.fill(0.0);
                column[k] = -(coding::dot(dk, dk) + mu);
            }
            Self::Factored { mu } => {
                column.fill(0.0);
                d.project(dk, column, true);
                column[k] -= mu;
            }
        }
    }
}
