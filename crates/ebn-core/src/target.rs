//! Target ("teacher") systems and their integrators.

use std::fmt::Debug;

/// An autonomous vector field f: R^J -> R^J of the target dynamics
///
/// ```text
/// dx/dt = f(x) + c(t)
/// ```
///
/// The command c enters additively with identity gain (MODEL.md §2); it is added by the
/// [`Integrator`], not by the system. Units: x in the system's own units, f(x) in units/s.
pub trait TargetSystem: Debug + Send + Sync {
    /// State dimension J.
    fn dim(&self) -> usize;

    /// Writes f(x) into `dxdt` (`dxdt` may hold garbage on entry).
    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]);

    /// The matrix A, row by row, if the system is linear (f(x) = A x); used for the
    /// closed-form slow weights D^T (A + lambda I) D. Default: `None` (not linear).
    fn linear_matrix(&self) -> Option<Vec<Vec<f64>>> {
        None
    }
}

/// A one-step integrator of dx/dt = f(x) + c, with c held constant over the step.
///
/// Integrators own their scratch space, so a step never allocates after the first one.
pub trait Integrator: Debug + Send {
    /// Global order of accuracy (the error scales as dt^order).
    fn order(&self) -> u32;

    /// Advances `x` by `dt` seconds under the constant command `c`.
    fn step(&mut self, system: &dyn TargetSystem, x: &mut [f64], c: &[f64], dt: f64);
}
