//! The Duffing oscillator, a target system.

use ebn_network::core::{Result, TargetSystem, check};
use serde::Deserialize;

/// The damped, unforced Duffing oscillator, state (x, v):
///
/// ```text
/// dx/dt = v,    dv/dt = -delta v - alpha x - beta x^3 + c_v
/// ```
///
/// With alpha = -1, beta = 1 (the defaults) it is a double well: stable points at x = +-1,
/// a saddle at 0; delta = 0.3 /s damps the swings. Units: x and v dimensionless, time in
/// seconds scaled by `speed` (each right-hand side is multiplied by it; default 4 /s, so that
/// a swing in a well lasts about 1.6 s, slow against the network's 1/lambda = 0.1 s).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Duffing {
    /// Linear stiffness alpha (negative: a double well).
    pub alpha: f64,
    /// Cubic stiffness beta (> 0).
    pub beta: f64,
    /// Damping delta (>= 0).
    pub delta: f64,
    /// Time-scale factor (1/s).
    pub speed: f64,
}

impl Default for Duffing {
    fn default() -> Self {
        Self { alpha: -1.0, beta: 1.0, delta: 0.3, speed: 4.0 }
    }
}

impl Duffing {
    /// Checks the parameters.
    pub fn validated(self) -> Result<Self> {
        check::finite("alpha", self.alpha)?;
        check::positive("beta", self.beta)?;
        check::non_negative("delta", self.delta)?;
        check::positive("speed", self.speed)?;
        Ok(self)
    }
}

impl TargetSystem for Duffing {
    fn dim(&self) -> usize {
        2
    }

    fn vector_field(&self, s: &[f64], dsdt: &mut [f64]) {
        let (x, v) = (s[0], s[1]);
        dsdt[0] = self.speed * v;
        dsdt[1] = self.speed * (-self.delta * v - self.alpha * x - self.beta * x * x * x);
    }
}
