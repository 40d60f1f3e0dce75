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
///
/// # Implementing and plugging in a target
///
/// A fork's system is a struct of parameters with a vector field, registered under a kind
/// and then named in an experiment file (`[target]` with `kind = "cubic_spring"`):
///
/// ```
/// use ebn_core::{Registry, Result, Spec, TargetSystem, check};
/// use serde::Deserialize;
///
/// /// A damped spring with a cubic stiffness: v' = -k p - beta p^3 - gamma v, p' = v
/// /// (x = [v, p]; units of p, 1/s).
/// #[derive(Debug, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct CubicSpring { k: f64, beta: f64, gamma: f64 }
///
/// impl TargetSystem for CubicSpring {
///     fn dim(&self) -> usize { 2 }
///     fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
///         let (v, p) = (x[0], x[1]);
///         dxdt[0] = -self.k * p - self.beta * p * p * p - self.gamma * v;
///         dxdt[1] = v;
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_target("cubic_spring", |s: CubicSpring, _: &Registry| -> Result<Box<dyn TargetSystem>> {
///     check::non_negative("gamma", s.gamma)?;
///     Ok(Box::new(s))
/// });
/// let spec = Spec::new("cubic_spring").with("k", 4.0).with("beta", 1.0).with("gamma", 0.5);
/// let system = registry.target(&spec, "target")?;
/// let mut dxdt = [0.0; 2];
/// system.vector_field(&[1.0, 2.0], &mut dxdt);
/// assert_eq!(dxdt, [-4.0 * 2.0 - 8.0 - 0.5, 1.0]);
/// assert!(system.linear_matrix().is_none()); // no closed-form slow weights for it
/// // A bad value is an error naming the field, not a panic.
/// let err = registry.target(&spec.clone().with("gamma", -1.0), "target").unwrap_err();
/// assert!(err.to_string().contains("gamma"));
/// # Ok::<(), ebn_core::Error>(())
/// ```
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
///
/// # Implementing and plugging in an integrator
///
/// Heun's method (second order), registered as `heun` and chosen in an experiment file with
/// `[training] integrator = { kind = "heun" }`:
///
/// ```
/// use ebn_core::{Integrator, Registry, Result, Spec, TargetSystem};
/// use serde::Deserialize;
///
/// #[derive(Debug, Default)]
/// struct Heun { k1: Vec<f64>, k2: Vec<f64>, y: Vec<f64> }
///
/// impl Integrator for Heun {
///     fn order(&self) -> u32 { 2 }
///     fn step(&mut self, system: &dyn TargetSystem, x: &mut [f64], c: &[f64], dt: f64) {
///         let j = x.len();
///         self.k1.resize(j, 0.0); self.k2.resize(j, 0.0); self.y.resize(j, 0.0); // once
///         system.vector_field(x, &mut self.k1);
///         for i in 0..j { self.k1[i] += c[i]; self.y[i] = x[i] + dt * self.k1[i]; }
///         system.vector_field(&self.y, &mut self.k2);
///         for i in 0..j { x[i] += 0.5 * dt * (self.k1[i] + self.k2[i] + c[i]); }
///     }
/// }
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct NoParams {}
///
/// #[derive(Debug)]
/// struct Decay; // dx/dt = -x
/// impl TargetSystem for Decay {
///     fn dim(&self) -> usize { 1 }
///     fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) { dxdt[0] = -x[0]; }
/// }
///
/// let mut registry = Registry::new();
/// registry.add_integrator("heun", |_: NoParams| -> Result<Box<dyn Integrator>> { Ok(Box::<Heun>::default()) });
/// let mut heun = registry.integrator(&Spec::new("heun"), "training.integrator")?;
/// // Global error O(dt^2): halving dt divides the error at t = 1 by about 4.
/// let error = |heun: &mut Box<dyn Integrator>, steps: usize| {
///     let mut x = [1.0];
///     for _ in 0..steps { heun.step(&Decay, &mut x, &[0.0], 1.0 / steps as f64); }
///     (x[0] - (-1.0f64).exp()).abs()
/// };
/// let ratio = error(&mut heun, 50) / error(&mut heun, 100);
/// assert!((ratio - 4.0).abs() < 0.1, "{ratio}");
/// assert_eq!(heun.order(), 2);
/// # Ok::<(), ebn_core::Error>(())
/// ```
pub trait Integrator: Debug + Send {
    /// Global order of accuracy (the error scales as dt^order).
    fn order(&self) -> u32;

    /// Advances `x` by `dt` seconds under the constant command `c`.
    fn step(&mut self, system: &dyn TargetSystem, x: &mut [f64], c: &[f64], dt: f64);
}
