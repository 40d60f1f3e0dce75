//! Running a network against a teacher (or a recording): the run loop every protocol uses.

use ebn_core::{CommandStream, Integrator, NeuronModel, Observer, TargetSystem};
use ebn_engine::Network;

/// What moves the teacher's state x forward by one step of [`simulate`]: a vector field and
/// its integrator ([`Teacher`]), or a recording replayed at the network's step
/// ([`crate::data::Replay`]).
///
/// # A teacher of one's own, and an observer of one's own
///
/// The damped oscillator's exact flow as the teacher, and an [`Observer`] that keeps spike
/// counts and the worst error instead of a recording, around the `coding` figure's network
/// (closed-form slow weights, no learning):
///
/// ```
/// use ebn_network::core::{Observer, WeightForm};
/// use ebn_network::dynamics::LinearSystem;
/// use ebn_network::{Advance, Experiment, presets, simulate};
///
/// /// x <- exp(A dt) x + dt c: exact for A, first order in the command.
/// struct Exact(LinearSystem);
/// impl Advance for Exact {
///     fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64) {
///         let next = self.0.exp_action(dt, x);
///         for ((x, n), c) in x.iter_mut().zip(next).zip(c) { *x = n + dt * c; }
///     }
/// }
///
/// /// Spikes per neuron and the largest |x - x_hat| over the samples.
/// struct Tally { spikes: Vec<u64>, worst: f64 }
/// impl Observer for Tally {
///     fn due(&self, _step: u64) -> bool { true }
///     fn sample(&mut self, _t: f64, x: &[f64], x_hat: &[f64], _c: &[f64], _v: &[f64]) {
///         let e = x.iter().zip(x_hat).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
///         self.worst = self.worst.max(e);
///     }
///     fn spike(&mut self, _t: f64, neuron: usize) { self.spikes[neuron] += 1; }
/// }
///
/// let exp = Experiment::build(&presets::coding(1, 0.5, WeightForm::Factored))?;
/// let mut network = exp.initial_network()?;
/// let (mut x, mut command) = exp.test_inputs(0)?;
/// let mut tally = Tally { spikes: vec![0; 64], worst: 0.0 };
/// let stats = simulate(&mut network, Exact(LinearSystem::damped_oscillator()), command.as_mut(), &mut x, 5000, &mut tally);
/// assert_eq!(stats.spikes, tally.spikes.iter().sum::<u64>());
/// assert!(stats.spikes > 100);
/// // The network follows the exact flow (normalised error sum ||e||^2 / sum ||x||^2).
/// assert!(stats.normalised_error() < 0.01, "{}", stats.normalised_error());
/// # Ok::<(), ebn_network::core::Error>(())
/// ```
pub trait Advance {
    /// Advances `x` by one step of `dt` seconds under the command `c` (held over the step).
    fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64);
}

/// A target system together with its integrator.
pub struct Teacher<'a> {
    /// The vector field.
    pub system: &'a dyn TargetSystem,
    /// The integrator.
    pub integrator: &'a mut dyn Integrator,
}

impl Advance for Teacher<'_> {
    fn advance(&mut self, x: &mut [f64], c: &[f64], dt: f64) {
        self.integrator.step(self.system, x, c, dt);
    }
}

/// Error sums of a run, for the learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunStats {
    /// sum over steps of ||x - x_hat||^2.
    pub error_sq: f64,
    /// sum over steps of ||x||^2.
    pub target_sq: f64,
    /// Number of spikes.
    pub spikes: u64,
    /// Number of steps run.
    pub steps: u64,
    /// Steps whose spike count reached the network's [`Network::spike_cap`] (for the paper's
    /// one-spike rule: steps with a spike).
    pub capped_steps: u64,
}

impl RunStats {
    /// sum ||e||^2 / sum ||x||^2 (MODEL.md §7); +inf if the target was identically 0.
    pub fn normalised_error(&self) -> f64 {
        if self.target_sq > 0.0 { self.error_sq / self.target_sq } else { f64::INFINITY }
    }

    /// Fraction of the steps at the spike cap (0 for a run of no steps).
    pub fn capped_fraction(&self) -> f64 {
        if self.steps > 0 { self.capped_steps as f64 / self.steps as f64 } else { 0.0 }
    }
}

/// Runs `steps` steps of teacher and network together (MODEL.md §8): each step draws c_n,
/// integrates the teacher to x_(n+1), then steps the network with c_n and x_(n+1). The
/// recorder gets a sample at the start (t = 0 of this segment) and every `every` steps, and
/// every spike, stamped with the end of its step. Returns the error sums.
pub fn simulate<M: NeuronModel>(
    network: &mut Network<M>,
    mut teacher: impl Advance,
    command: &mut dyn CommandStream,
    x: &mut [f64],
    steps: u64,
    recorder: &mut dyn Observer,
) -> RunStats {
    let dt = network.config().dt;
    let t0 = network.time();
    let mut c = vec![0.0; x.len()];
    let mut stats = RunStats { steps, ..RunStats::default() };
    let cap = network.spike_cap();
    // Each step's last fast-weight column reaches the voltages in the next step's pass (the
    // same bits, one pass fewer); the handle delivers it for the recorder and at the end.
    let mut network = network.deferred();
    for n in 0..steps {
        command.next(&mut c);
        if recorder.due(n) {
            let net: &Network<M> = network.network();
            recorder.sample(t0 + n as f64 * dt, x, net.readout(), &c, net.voltages());
        }
        teacher.advance(x, &c, dt);
        let t_spike = t0 + (n + 1) as f64 * dt;
        let fired = network.step(&c, Some(x));
        stats.capped_steps += u64::from(fired.len() >= cap);
        for &k in fired {
            recorder.spike(t_spike, k);
            stats.spikes += 1;
        }
        for (xi, xh) in x.iter().zip(network.readout()) {
            stats.error_sq += (xi - xh) * (xi - xh);
            stats.target_sq += xi * xi;
        }
    }
    stats
}
