//! Command signals c(t).

use crate::seed::Rng;
use std::fmt::Debug;

/// A command signal: its parameters. [`CommandSignal::realise`] draws one realisation.
///
/// This follows nengo's `Process`: the parameters are immutable, and each realisation (a
/// trial) is a separate [`CommandStream`] with its own state and random stream, so the same
/// signal can be realised many times, in parallel, reproducibly.
///
/// # Implementing and plugging in a command
///
/// A sinusoid on one component with a random phase per realisation, registered as
/// `sine` (`command = { kind = "sine", amplitude = 50.0, frequency = 2.0 }`):
///
/// ```
/// use ebn_core::{CommandSignal, CommandStream, Registry, Result, Rng, SeedStreams, Spec, Stream, check};
/// use ebn_core::rand::RngExt;
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Sine { amplitude: f64, frequency: f64, #[serde(skip)] dim: usize }
///
/// struct SineStream { amplitude: f64, omega_dt: f64, phase: f64, n: u64 }
///
/// impl CommandSignal for Sine {
///     fn dim(&self) -> usize { self.dim }
///     fn realise(&self, dt: f64, _duration: f64, mut rng: Rng) -> Box<dyn CommandStream> {
///         let phase = rng.random::<f64>() * std::f64::consts::TAU;
///         let omega_dt = std::f64::consts::TAU * self.frequency * dt;
///         Box::new(SineStream { amplitude: self.amplitude, omega_dt, phase, n: 0 })
///     }
/// }
///
/// impl CommandStream for SineStream {
///     fn next(&mut self, out: &mut [f64]) {
///         out.fill(0.0);
///         out[0] = self.amplitude * (self.omega_dt * self.n as f64 + self.phase).sin();
///         self.n += 1;
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_command("sine", |mut s: Sine, dim: usize| -> Result<Box<dyn CommandSignal>> {
///     check::positive("frequency", s.frequency)?;
///     s.dim = dim;
///     Ok(Box::new(s))
/// });
/// let spec = Spec::new("sine").with("amplitude", 50.0).with("frequency", 2.0);
/// let signal = registry.command(&spec, "training.command", 2)?;
/// // Each trial draws its realisation from its own stream: the same trial, the same signal.
/// let seeds = SeedStreams::new(7);
/// let sample = |trial: u64| {
///     let mut stream = signal.realise(1e-3, 1.0, seeds.indexed(Stream::Command, trial));
///     let mut c = [0.0; 2];
///     (0..100).map(|_| { stream.next(&mut c); c }).collect::<Vec<_>>()
/// };
/// assert_eq!(sample(3), sample(3));
/// assert_ne!(sample(3), sample(4));
/// assert!(sample(3).iter().all(|c| c[0].abs() <= 50.0 && c[1] == 0.0));
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait CommandSignal: Debug + Send + Sync {
    /// Dimension of c (equal to the target's J).
    fn dim(&self) -> usize;

    /// One realisation of `duration` seconds at step `dt` (s), drawing from `rng`.
    fn realise(&self, dt: f64, duration: f64, rng: Rng) -> Box<dyn CommandStream>;
}

/// One realisation of a command signal, sampled step by step.
pub trait CommandStream: Send {
    /// Writes c(t_n) into `out` (length J) and advances to step n + 1. Past the realisation's
    /// duration a stream keeps producing values consistent with its definition (a windowed
    /// signal stays off).
    fn next(&mut self, out: &mut [f64]);
}
