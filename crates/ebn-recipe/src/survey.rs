//! A survey of a system's attractor in its own units: a long, accurate teacher run from
//! which the recipe reads the centre, range, time scale and expansion rates.

use ebn_network::core::{Error, Result, TargetSystem};
use serde::{Deserialize, Serialize};

/// How long and how finely to survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurveyOptions {
    /// Characteristic periods discarded as the transient.
    pub transient_periods: f64,
    /// Characteristic periods recorded.
    pub periods: f64,
    /// Samples per characteristic period.
    pub samples_per_period: usize,
    /// Local error tolerance of the adaptive integrator (relative to 1 + |x|).
    pub tolerance: f64,
}

impl Default for SurveyOptions {
    fn default() -> Self {
        Self { transient_periods: 50.0, periods: 500.0, samples_per_period: 40, tolerance: 1e-9 }
    }
}

/// What a long teacher run shows, in the system's own units and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    /// The characteristic period (system time units): 2 pi sqrt(sum_j var(x_j) / sum_j
    /// E[(dx_j/dt)^2]) of the pilot run, the period of a sine and, by Rice's formula, the
    /// mean time between upward mean crossings of a Gaussian signal.
    pub period: f64,
    /// States every `sample_interval`, after the transient.
    pub samples: Vec<Vec<f64>>,
    /// Time between samples (system time units).
    pub sample_interval: f64,
}

/// The state must stay below this norm (system units), else the flow is taken to diverge.
const DIVERGED: f64 = 1e12;

fn rk4(system: &dyn TargetSystem, x: &[f64], h: f64, k: &mut [Vec<f64>; 4], y: &mut Vec<f64>) -> Vec<f64> {
    let j = x.len();
    system.vector_field(x, &mut k[0]);
    y.clear();
    y.extend((0..j).map(|i| x[i] + 0.5 * h * k[0][i]));
    system.vector_field(y, &mut k[1]);
    y.clear();
    y.extend((0..j).map(|i| x[i] + 0.5 * h * k[1][i]));
    system.vector_field(y, &mut k[2]);
    y.clear();
    y.extend((0..j).map(|i| x[i] + h * k[2][i]));
    system.vector_field(y, &mut k[3]);
    (0..j).map(|i| x[i] + h / 6.0 * (k[0][i] + 2.0 * k[1][i] + 2.0 * k[2][i] + k[3][i])).collect()
}

/// An adaptive fourth-order Runge-Kutta integrator (step doubling with Richardson
/// extrapolation): the survey knows nothing of the system's time scale, so the step follows
/// the local error.
struct Adaptive<'a> {
    system: &'a dyn TargetSystem,
    h: f64,
    tolerance: f64,
    k: [Vec<f64>; 4],
    y: Vec<f64>,
}

impl<'a> Adaptive<'a> {
    fn new(system: &'a dyn TargetSystem, tolerance: f64) -> Self {
        let j = system.dim();
        Self { system, h: 1e-3, tolerance, k: [vec![0.0; j], vec![0.0; j], vec![0.0; j], vec![0.0; j]], y: Vec::new() }
    }

    /// One accepted step of at most `max_h`; returns its length.
    fn step(&mut self, x: &mut [f64], max_h: f64) -> Result<f64> {
        for _ in 0..200 {
            let h = self.h.min(max_h);
            let full = rk4(self.system, x, h, &mut self.k, &mut self.y);
            let mid = rk4(self.system, x, 0.5 * h, &mut self.k, &mut self.y);
            let half = rk4(self.system, &mid, 0.5 * h, &mut self.k, &mut self.y);
            let err = full
                .iter()
                .zip(&half)
                .map(|(a, b)| (a - b).abs() / (self.tolerance * (1.0 + b.abs())))
                .fold(0.0f64, f64::max);
            if !err.is_finite() {
                return Err(diverged());
            }
            let factor = if err > 0.0 { 0.9 * err.powf(-0.2) } else { 4.0 };
            if err <= 1.0 {
                for (xi, (b, a)) in x.iter_mut().zip(half.iter().zip(&full)) {
                    *xi = b + (b - a) / 15.0;
                }
                if x.iter().map(|v| v * v).sum::<f64>().sqrt() > DIVERGED {
                    return Err(diverged());
                }
                if h == self.h {
                    self.h = h * factor.min(4.0);
                }
                return Ok(h);
            }
            self.h = h * factor.max(0.1);
            if self.h < 1e-14 {
                break;
            }
        }
        Err(Error::degenerate("survey", "the adaptive integrator's step fell below 1e-14 (a singular vector field?)"))
    }

    /// Advances `x` by exactly `span`.
    fn advance(&mut self, x: &mut [f64], span: f64) -> Result<()> {
        let mut left = span;
        while left > 1e-15 * span.max(1.0) {
            left -= self.step(x, left)?;
        }
        Ok(())
    }
}

fn diverged() -> Error {
    Error::degenerate("survey", "the trajectory diverges (its norm passed 1e12 or became NaN)")
}

/// Surveys `system` from `x0`: a pilot run of 20 000 adaptive steps estimates the
/// characteristic period P; then `transient_periods` P are discarded and `periods` P recorded,
/// `samples_per_period` samples each.
///
/// Errors: a trajectory that diverges, or one that settles on a fixed point (nothing to
/// learn from a long run: give the system a command or a recording instead).
pub fn survey(system: &dyn TargetSystem, x0: &[f64], options: &SurveyOptions) -> Result<Survey> {
    let j = system.dim();
    if x0.len() != j {
        return Err(Error::dimension("initial_state", j, x0.len()));
    }
    if let Some(v) = x0.iter().find(|v| !v.is_finite()) {
        return Err(Error::invalid("initial_state", v, "finite values"));
    }
    let mut a = Adaptive::new(system, options.tolerance);
    let mut x = x0.to_vec();
    // Pilot: time-weighted moments over the second half of 20 000 accepted steps.
    let (mut t, mut w, mut s1, mut s2, mut sf) = (0.0, 0.0, vec![0.0; j], vec![0.0; j], 0.0);
    let mut f = vec![0.0; j];
    for k in 0..20_000 {
        let h = a.step(&mut x, f64::INFINITY)?;
        t += h;
        if k >= 10_000 {
            system.vector_field(&x, &mut f);
            w += h;
            sf += h * f.iter().map(|v| v * v).sum::<f64>();
            for i in 0..j {
                s1[i] += h * x[i];
                s2[i] += h * x[i] * x[i];
            }
        }
    }
    let var: f64 = (0..j).map(|i| (s2[i] / w - (s1[i] / w).powi(2)).max(0.0)).sum();
    let speed2 = sf / w;
    let scale = (0..j).map(|i| (s1[i] / w).abs()).fold(1.0f64, f64::max);
    if var.is_nan() || var <= 1e-16 * scale * scale || speed2.is_nan() || speed2 <= 0.0 {
        return Err(Error::degenerate(
            "survey",
            format!(
                "the trajectory settles on a fixed point after t = {t:.3e} (system units); nothing to learn from a free run"
            ),
        ));
    }
    let period = 2.0 * std::f64::consts::PI * (var / speed2).sqrt();
    a.advance(&mut x, options.transient_periods * period)?;
    let interval = period / options.samples_per_period.max(1) as f64;
    let count = (options.periods * options.samples_per_period as f64).round() as usize;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        a.advance(&mut x, interval)?;
        samples.push(x.clone());
    }
    Ok(Survey { period, samples, sample_interval: interval })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A harmonic oscillator of angular frequency 3: characteristic period 2 pi / 3, and
    /// the samples stay on the circle of its initial radius.
    #[derive(Debug)]
    struct Harmonic;
    impl TargetSystem for Harmonic {
        fn dim(&self) -> usize {
            2
        }
        fn vector_field(&self, x: &[f64], d: &mut [f64]) {
            d[0] = -3.0 * x[1];
            d[1] = 3.0 * x[0];
        }
    }

    #[test]
    fn a_harmonic_oscillator_has_its_period_and_radius() {
        let s = survey(&Harmonic, &[2.0, 0.0], &SurveyOptions { periods: 20.0, ..SurveyOptions::default() }).unwrap();
        assert!((s.period - 2.0 * std::f64::consts::PI / 3.0).abs() < 1e-3, "{}", s.period);
        assert_eq!(s.samples.len(), 800);
        for x in &s.samples {
            assert!((x[0].hypot(x[1]) - 2.0).abs() < 1e-6, "{x:?}");
        }
    }

    #[derive(Debug)]
    struct Decay;
    impl TargetSystem for Decay {
        fn dim(&self) -> usize {
            1
        }
        fn vector_field(&self, x: &[f64], d: &mut [f64]) {
            d[0] = -x[0];
        }
    }

    #[derive(Debug)]
    struct Blowup;
    impl TargetSystem for Blowup {
        fn dim(&self) -> usize {
            1
        }
        fn vector_field(&self, x: &[f64], d: &mut [f64]) {
            d[0] = x[0] * x[0];
        }
    }

    #[test]
    fn fixed_points_and_divergence_are_errors() {
        let o = SurveyOptions::default();
        let err = survey(&Decay, &[1.0], &o).unwrap_err().to_string();
        assert!(err.contains("fixed point"), "{err}");
        let err = survey(&Blowup, &[1.0], &o).unwrap_err().to_string();
        assert!(err.contains("diverge") || err.contains("1e-14"), "{err}");
        assert!(survey(&Harmonic, &[1.0], &o).is_err());
        assert!(survey(&Harmonic, &[f64::NAN, 0.0], &o).is_err());
    }
}
