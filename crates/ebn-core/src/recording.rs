//! Recorded data: plain serde values that analysis functions take directly.

use serde::{Deserialize, Serialize};

/// A sampled vector time series: `len()` samples of `dim` values, stored sample-major
/// (`data[k * dim + j]` is component j of sample k).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Trace {
    /// Number of components per sample.
    pub dim: usize,
    /// The samples, flattened.
    pub data: Vec<f64>,
}

impl Trace {
    /// An empty trace of `dim` components.
    pub fn new(dim: usize) -> Self {
        Self { dim, data: Vec::new() }
    }

    /// Appends one sample (`sample.len() == dim`).
    pub fn push(&mut self, sample: &[f64]) {
        debug_assert_eq!(sample.len(), self.dim);
        self.data.extend_from_slice(sample);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `k`.
    pub fn sample(&self, k: usize) -> &[f64] {
        &self.data[k * self.dim..(k + 1) * self.dim]
    }

    /// Iterator over the samples.
    pub fn samples(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// Component `j` of every sample.
    pub fn component(&self, j: usize) -> Vec<f64> {
        self.samples().map(|s| s[j]).collect()
    }
}

/// Spike events of a population of `n` neurons, in time order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpikeTrain {
    /// Population size N.
    pub n: usize,
    /// Spike times (s).
    pub times: Vec<f64>,
    /// Index of the neuron that fired each spike.
    pub neurons: Vec<u32>,
}

impl SpikeTrain {
    /// An empty train for `n` neurons.
    pub fn new(n: usize) -> Self {
        Self { n, times: Vec::new(), neurons: Vec::new() }
    }

    /// Records one spike.
    pub fn push(&mut self, t: f64, neuron: usize) {
        self.times.push(t);
        self.neurons.push(neuron as u32);
    }

    /// Number of spikes.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are no spikes.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Spike times of neuron `i`.
    pub fn of_neuron(&self, i: usize) -> Vec<f64> {
        self.times.iter().zip(&self.neurons).filter(|(_, n)| **n as usize == i).map(|(t, _)| *t).collect()
    }

    /// Spike count of every neuron.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n];
        for &i in &self.neurons {
            c[i as usize] += 1;
        }
        c
    }
}

/// Everything recorded during one run.
///
/// Continuous quantities are sampled every `every` steps, at times `times`; spikes are
/// recorded at every step. Voltages are kept only for the neurons listed in
/// `voltage_neurons`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Recording {
    /// Simulation time step (s).
    pub dt: f64,
    /// Sampling period in steps.
    pub every: usize,
    /// Sample times (s).
    pub times: Vec<f64>,
    /// Target state x.
    pub x: Trace,
    /// Readout x_hat = D r.
    pub x_hat: Trace,
    /// Command c.
    pub command: Trace,
    /// Voltages of the neurons in `voltage_neurons`.
    pub voltages: Trace,
    /// Which neurons' voltages are in `voltages`.
    pub voltage_neurons: Vec<usize>,
    /// All spikes.
    pub spikes: SpikeTrain,
    /// Duration of the run (s).
    pub duration: f64,
}

/// What a run loop reports to, step by step: the recorder trait. The standard implementation
/// keeps a [`Recording`] in memory (`ebn_network::Recorder`); a fork can stream to disk,
/// keep running statistics, or stop early, by implementing these three methods.
pub trait Observer {
    /// Whether to take a sample at step `step` (counted from the start of the run).
    fn due(&self, step: u64) -> bool;

    /// One sample at time `t` (s): the target x, the readout x_hat, the command c and all
    /// membrane voltages.
    fn sample(&mut self, t: f64, x: &[f64], x_hat: &[f64], command: &[f64], voltages: &[f64]);

    /// A spike of neuron `neuron` at time `t` (s).
    fn spike(&mut self, t: f64, neuron: usize);
}

/// An analysis of a test recording: named numbers (period errors, attractor agreement...)
/// that go into the test's summary besides the NRMSE.
///
/// Implemented and registered under a kind, it is named in a test of an experiment file
/// (`analyses = [{ kind = "peak", component = 0 }]`):
///
/// ```
/// use ebn_core::{Analysis, Recording, Registry, Result, Spec, Trace};
/// use serde::Deserialize;
///
/// /// The largest |x_hat_j| of the test.
/// #[derive(Debug, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Peak { component: usize }
///
/// impl Analysis for Peak {
///     fn analyse(&self, rec: &Recording) -> Result<Vec<(String, f64)>> {
///         if self.component >= rec.x_hat.dim {
///             return Err(ebn_core::Error::invalid("component", self.component, format!("< J = {}", rec.x_hat.dim)));
///         }
///         let peak = (0..rec.x_hat.len()).map(|k| rec.x_hat.sample(k)[self.component].abs()).fold(0.0, f64::max);
///         Ok(vec![("peak".into(), peak)])
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_analysis("peak", |p: Peak| -> Result<Box<dyn Analysis>> { Ok(Box::new(p)) });
/// let analysis = registry.analysis(&Spec::new("peak").with("component", 0), "test[0].analyses[0]")?;
/// let mut rec = Recording { x_hat: Trace::new(1), ..Recording::default() };
/// for v in [0.1, -0.7, 0.3] {
///     rec.x_hat.push(&[v]);
/// }
/// assert_eq!(analysis.analyse(&rec)?, vec![("peak".to_string(), 0.7)]);
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait Analysis: std::fmt::Debug + Send + Sync {
    /// Runs the analysis; an error (data that do not define the quantity) is reported in the
    /// summary under `<kind>_error` instead of the numbers.
    fn analyse(&self, recording: &Recording) -> crate::Result<Vec<(String, f64)>>;
}
