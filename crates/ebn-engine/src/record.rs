//! Recording a run: samples every k steps, spikes at every step.

use ebn_core::{Observer, Recording, SpikeTrain, Trace};
use serde::{Deserialize, Serialize};

/// What to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Sample x, x_hat, c and voltages every `every` steps (spikes are always all recorded).
    pub every: usize,
    /// Neurons whose voltages are recorded.
    pub voltages: Vec<usize>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self { every: 10, voltages: Vec::new() }
    }
}

/// Accumulates a [`Recording`]; the run loop feeds it, the network never sees it.
#[derive(Debug)]
pub struct Recorder {
    rec: Recording,
    scratch: Vec<f64>,
    active: bool,
}

impl Recorder {
    /// A recorder for a network of `n` neurons representing `dim` dimensions, at step `dt`.
    /// Neurons listed in `config.voltages` beyond `n` are ignored.
    pub fn new(config: &RecordConfig, dt: f64, dim: usize, n: usize) -> Self {
        let voltage_neurons: Vec<usize> = config.voltages.iter().copied().filter(|&i| i < n).collect();
        Self {
            rec: Recording {
                dt,
                every: config.every.max(1),
                x: Trace::new(dim),
                x_hat: Trace::new(dim),
                command: Trace::new(dim),
                voltages: Trace::new(voltage_neurons.len()),
                voltage_neurons,
                spikes: SpikeTrain::new(n),
                ..Recording::default()
            },
            scratch: Vec::new(),
            active: true,
        }
    }

    /// A recorder that keeps nothing (training trials, where only the error sums matter).
    pub fn disabled() -> Self {
        let mut r = Self::new(&RecordConfig::default(), 1.0, 0, 0);
        r.active = false;
        r
    }

    /// The finished recording of a run of `duration` seconds.
    pub fn finish(mut self, duration: f64) -> Recording {
        self.rec.duration = duration;
        self.rec
    }
}

impl Observer for Recorder {
    /// Whether step `step` (counted from the start of the run) is sampled.
    #[inline]
    fn due(&self, step: u64) -> bool {
        self.active && step.is_multiple_of(self.rec.every as u64)
    }

    /// Records one sample at time `t`.
    fn sample(&mut self, t: f64, x: &[f64], x_hat: &[f64], command: &[f64], voltages: &[f64]) {
        self.rec.times.push(t);
        self.rec.x.push(x);
        self.rec.x_hat.push(x_hat);
        self.rec.command.push(command);
        self.scratch.clear();
        self.scratch.extend(self.rec.voltage_neurons.iter().map(|&i| voltages[i]));
        self.rec.voltages.push(&self.scratch);
    }

    /// Records a spike of neuron `k` at time `t`.
    #[inline]
    fn spike(&mut self, t: f64, k: usize) {
        if self.active {
            self.rec.spikes.push(t, k);
        }
    }
}
