//! Command signals c(t).

use crate::seed::Rng;
use std::fmt::Debug;

/// A command signal: its parameters. [`CommandSignal::realise`] draws one realisation.
///
/// This follows nengo's `Process`: the parameters are immutable, and each realisation (a
/// trial) is a separate [`CommandStream`] with its own state and random stream, so the same
/// signal can be realised many times, in parallel, reproducibly.
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
