//! Long-run statistics of an attractor, and the verdict on whether a free-running network
//! keeps its teacher's.
//!
//! A chaotic trajectory cannot be compared with its teacher point by point after a few
//! Lyapunov times, so a long free run is judged by what does not depend on the phase: where
//! it lives (the mean and spread of each component), how fast it turns (the dominant
//! frequency of its spectrum) and its geometry (the correlation dimension).

use ebn_core::{Error, Result};

/// Statistics of a trajectory sampled at a fixed interval.
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorStats {
    /// Mean of each component.
    pub mean: Vec<f64>,
    /// Standard deviation of each component.
    pub std: Vec<f64>,
    /// Dominant frequency (Hz, per unit of the sampling interval's time): the peak of the
    /// power spectrum summed over the standardised components ([`dominant_frequency`]).
    pub frequency: f64,
    /// Correlation dimension ([`correlation_dimension`]); `None` where it is undefined (too
    /// few points, or a trajectory collapsed to a point).
    pub correlation_dimension: Option<f64>,
}

impl AttractorStats {
    /// The statistics of `samples` (each of length J), taken every `dt`.
    pub fn of(samples: &[Vec<f64>], dt: f64) -> Result<Self> {
        let (mean, std) = mean_and_std(samples)?;
        let frequency = dominant_frequency(samples, dt)?;
        let correlation_dimension = correlation_dimension(samples, 2000, 20).ok();
        Ok(Self { mean, std, frequency, correlation_dimension })
    }
}

/// Per-component mean and standard deviation.
pub fn mean_and_std(samples: &[Vec<f64>]) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = samples.len();
    let Some(first) = samples.first() else { return Err(Error::degenerate("attractor statistics", "no samples")) };
    let j = first.len();
    let mut mean = vec![0.0; j];
    for s in samples {
        if s.len() != j {
            return Err(Error::dimension("sample", j, s.len()));
        }
        for (m, v) in mean.iter_mut().zip(s) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0; j];
    for s in samples {
        for ((q, v), m) in var.iter_mut().zip(s).zip(&mean) {
            *q += (v - m) * (v - m);
        }
    }
    Ok((mean, var.iter().map(|q| (q / n as f64).sqrt()).collect()))
}

/// The dominant frequency of a multivariate signal sampled every `dt`: the frequency of the
/// largest value of the periodogram (Hann window, each component standardised, spectra
/// summed over components), smoothed over 9 bins of 1/T so that the line of a broadband
/// (chaotic) spectrum is not one noisy bin. Searched on a grid of 1/(2T) up to 1/(4 dt).
pub fn dominant_frequency(samples: &[Vec<f64>], dt: f64) -> Result<f64> {
    let n = samples.len();
    if n < 64 {
        return Err(Error::degenerate("dominant frequency", "fewer than 64 samples"));
    }
    if !(dt > 0.0 && dt.is_finite()) {
        return Err(Error::invalid("dt", dt, "> 0"));
    }
    let (mean, std) = mean_and_std(samples)?;
    let duration = n as f64 * dt;
    let df = 0.5 / duration;
    let bins = ((0.25 / dt) / df) as usize;
    let window: Vec<f64> =
        (0..n).map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / (n - 1) as f64).cos()).collect();
    let mut power = vec![0.0; bins + 1];
    for c in 0..mean.len() {
        if std[c] == 0.0 {
            continue;
        }
        let x: Vec<f64> = samples.iter().zip(&window).map(|(s, w)| w * (s[c] - mean[c]) / std[c]).collect();
        for (b, p) in power.iter_mut().enumerate().skip(1) {
            // Goertzel's recurrence: |sum_k x_k e^{-i w k}|^2 in O(n) without sines per sample.
            let w = 2.0 * std::f64::consts::PI * b as f64 * df * dt;
            let coeff = 2.0 * w.cos();
            let (mut s1, mut s2) = (0.0, 0.0);
            for v in &x {
                let s0 = v + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            *p += s1 * s1 + s2 * s2 - coeff * s1 * s2;
        }
    }
    let half = 4usize;
    let smoothed: Vec<f64> = (0..power.len())
        .map(|b| {
            let (lo, hi) = (b.saturating_sub(half).max(1), (b + half).min(power.len() - 1));
            power[lo..=hi].iter().sum::<f64>() / (hi + 1 - lo) as f64
        })
        .collect();
    let best = (1..smoothed.len()).max_by(|a, b| smoothed[*a].total_cmp(&smoothed[*b]));
    match best {
        Some(b) if smoothed[b] > 0.0 => Ok(b as f64 * df),
        _ => Err(Error::degenerate("dominant frequency", "the signal is constant")),
    }
}

/// The correlation dimension (Grassberger & Procaccia 1983): the slope of log C(r) against
/// log r, C(r) the fraction of pairs of points closer than r, fitted by least squares where
/// C lies between 10^-3 and 10^-1 (the scaling region of a few thousand points). At most
/// `max_points` points, evenly spaced in time; pairs closer than `theiler` samples in time are
/// left out (they are neighbours along the trajectory, not across the attractor). Components
/// are standardised first. An error if there are too few points or no scaling region.
pub fn correlation_dimension(samples: &[Vec<f64>], max_points: usize, theiler: usize) -> Result<f64> {
    let (mean, std) = mean_and_std(samples)?;
    let stride = samples.len().div_ceil(max_points.max(1)).max(1);
    let pts: Vec<Vec<f64>> = samples
        .iter()
        .step_by(stride)
        .map(|s| s.iter().zip(&mean).zip(&std).map(|((v, m), sd)| if *sd > 0.0 { (v - m) / sd } else { 0.0 }).collect())
        .collect();
    let gap = theiler.div_ceil(stride);
    let mut d: Vec<f64> = Vec::new();
    for a in 0..pts.len() {
        for b in (a + gap.max(1))..pts.len() {
            d.push(pts[a].iter().zip(&pts[b]).map(|(u, v)| (u - v) * (u - v)).sum::<f64>().sqrt());
        }
    }
    if d.len() < 1000 {
        return Err(Error::degenerate("correlation dimension", "fewer than 1000 pairs of points"));
    }
    d.sort_by(f64::total_cmp);
    let total = d.len() as f64;
    // Radii at which C = 10^-3 ... 10^-1, on a logarithmic grid of C.
    let (mut sx, mut sy, mut sxx, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 0..=8 {
        let c = 10f64.powf(-3.0 + 2.0 * k as f64 / 8.0);
        let idx = ((c * total) as usize).min(d.len() - 1);
        let r = d[idx];
        if r <= 0.0 {
            continue;
        }
        let (x, y) = (r.ln(), ((idx + 1) as f64 / total).ln());
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        m += 1.0;
    }
    let den = m * sxx - sx * sx;
    if m < 3.0 || den <= 0.0 {
        return Err(Error::degenerate("correlation dimension", "no scaling region (the points coincide)"));
    }
    Ok((m * sxy - sx * sy) / den)
}

/// How a free run's statistics compare with the teacher's long-run ones.
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorComparison {
    /// Per component, |mean_network - mean_teacher| / std_teacher.
    pub mean_shift: Vec<f64>,
    /// Per component, std_network / std_teacher - 1.
    pub spread_error: Vec<f64>,
    /// frequency_network / frequency_teacher - 1.
    pub frequency_error: f64,
}

/// The criteria of a kept attractor: every mean within `MEAN_TOLERANCE` teacher standard
/// deviations, every spread within `SPREAD_TOLERANCE` (relative), the dominant frequency
/// within `FREQUENCY_TOLERANCE` (relative).
pub const MEAN_TOLERANCE: f64 = 0.25;
/// See [`MEAN_TOLERANCE`].
pub const SPREAD_TOLERANCE: f64 = 0.25;
/// See [`MEAN_TOLERANCE`].
pub const FREQUENCY_TOLERANCE: f64 = 0.15;

impl AttractorComparison {
    /// Compares `network` with `teacher`.
    pub fn new(teacher: &AttractorStats, network: &AttractorStats) -> Self {
        let mean_shift =
            (0..teacher.mean.len()).map(|j| (network.mean[j] - teacher.mean[j]).abs() / teacher.std[j]).collect();
        let spread_error = (0..teacher.std.len()).map(|j| network.std[j] / teacher.std[j] - 1.0).collect();
        Self { mean_shift, spread_error, frequency_error: network.frequency / teacher.frequency - 1.0 }
    }

    /// Whether the attractor is kept (every criterion met; NaN fails).
    pub fn kept(&self) -> bool {
        self.mean_shift.iter().all(|v| *v <= MEAN_TOLERANCE)
            && self.spread_error.iter().all(|v| v.abs() <= SPREAD_TOLERANCE)
            && self.frequency_error.abs() <= FREQUENCY_TOLERANCE
    }

    /// A one-line reason: "kept", "collapsed" (every spread below 20 % of the teacher's) or the
    /// first criterion that fails.
    pub fn verdict(&self) -> String {
        if self.kept() {
            return "kept".into();
        }
        if self.spread_error.iter().all(|v| *v < -0.8) {
            return "collapsed to a fixed point".into();
        }
        if let Some((j, v)) = self.spread_error.iter().enumerate().find(|(_, v)| v.abs() > SPREAD_TOLERANCE) {
            return format!("spread of component {j} off by {:+.0} %", 100.0 * v);
        }
        if let Some((j, v)) = self.mean_shift.iter().enumerate().find(|(_, v)| **v > MEAN_TOLERANCE) {
            return format!("mean of component {j} shifted by {v:.2} std");
        }
        format!("dominant frequency off by {:+.0} %", 100.0 * self.frequency_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn circle(f: f64, dt: f64, n: usize) -> Vec<Vec<f64>> {
        (0..n).map(|k| k as f64 * dt).map(|t| vec![(2.0 * PI * f * t).cos(), (2.0 * PI * f * t).sin()]).collect()
    }

    #[test]
    fn a_sine_has_its_frequency_mean_and_spread() {
        let s = circle(0.7, 0.01, 20_000);
        let stats = AttractorStats::of(&s, 0.01).unwrap();
        assert!((stats.frequency - 0.7).abs() < 0.5 / 200.0 + 1e-12, "{}", stats.frequency);
        assert!(stats.mean.iter().all(|m| m.abs() < 1e-3), "{:?}", stats.mean);
        assert!(stats.std.iter().all(|s| (s - 0.5f64.sqrt()).abs() < 1e-3), "{:?}", stats.std);
    }

    /// Random points on a circle make a one-dimensional set, in a square a two-dimensional one.
    #[test]
    fn correlation_dimension_of_known_sets() {
        let mut state = 12345u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let ring: Vec<Vec<f64>> = (0..2000).map(|_| 2.0 * PI * uniform()).map(|a| vec![a.cos(), a.sin()]).collect();
        let line = correlation_dimension(&ring, 2000, 0).unwrap();
        assert!((line - 1.0).abs() < 0.1, "{line}");
        let square: Vec<Vec<f64>> = (0..2000).map(|_| vec![uniform(), uniform()]).collect();
        let plane = correlation_dimension(&square, 2000, 0).unwrap();
        assert!((plane - 2.0).abs() < 0.2, "{plane}");
        let cube: Vec<Vec<f64>> = (0..2000).map(|_| vec![uniform(), uniform(), uniform()]).collect();
        let solid = correlation_dimension(&cube, 2000, 0).unwrap();
        assert!((solid - 3.0).abs() < 0.3, "{solid}");
    }

    #[test]
    fn the_verdict_names_what_fails() {
        let teacher = AttractorStats {
            mean: vec![0.0, 0.0],
            std: vec![1.0, 1.0],
            frequency: 1.0,
            correlation_dimension: Some(2.0),
        };
        let mut net = teacher.clone();
        assert!(AttractorComparison::new(&teacher, &net).kept());
        net.frequency = 1.2;
        let c = AttractorComparison::new(&teacher, &net);
        assert!(!c.kept() && c.verdict().contains("frequency"), "{}", c.verdict());
        net.frequency = 1.0;
        net.mean[1] = 0.3;
        assert!(AttractorComparison::new(&teacher, &net).verdict().contains("mean of component 1"));
        net.std = vec![0.1, 0.05];
        assert_eq!(AttractorComparison::new(&teacher, &net).verdict(), "collapsed to a fixed point");
        net.std = vec![f64::NAN, 1.0];
        assert!(!AttractorComparison::new(&teacher, &net).kept());
    }

    #[test]
    fn too_few_samples_are_an_error() {
        assert!(dominant_frequency(&circle(1.0, 0.01, 10), 0.01).is_err());
        assert!(mean_and_std(&[]).is_err());
        assert!(correlation_dimension(&circle(1.0, 0.01, 10), 100, 0).is_err());
        assert!(correlation_dimension(&vec![vec![1.0, 2.0]; 500], 500, 0).is_err());
    }
}
