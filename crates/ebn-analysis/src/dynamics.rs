//! Analyses of test runs: limit cycles, free swings, attractors, lobe switches.

use crate::nrmse;
use ebn_core::{Error, Recording, Result, Trace};
use serde::{Deserialize, Serialize};

/// An analysis to run on a test recording, besides the NRMSE (serde: `kind = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TestAnalysis {
    /// Period and amplitude of a sustained oscillation of `component`, after `skip` seconds,
    /// for teacher and network; reports their relative errors.
    LimitCycle {
        /// Which component of x.
        component: usize,
        /// Transient to ignore (s).
        skip: f64,
    },
    /// Period and amplitude decay per period of a damped oscillation of `component`.
    FreeSwing {
        /// Which component of x.
        component: usize,
    },
    /// Whether network and teacher sit in the same attractor (sign of `component`) at each of
    /// the given times.
    Attractors {
        /// Which component of x.
        component: usize,
        /// Times at which to compare (s).
        at: Vec<f64>,
    },
    /// Switches between the two lobes (sign changes of `component` beyond +-`threshold`).
    LobeSwitches {
        /// Which component of x.
        component: usize,
        /// Hysteresis threshold.
        threshold: f64,
    },
    /// NRMSE over the first `horizon` seconds.
    NrmseHorizon {
        /// Horizon (s).
        horizon: f64,
        /// Key under which the value is reported.
        key: String,
    },
}

/// One named number of an analysis.
pub type Measure = (String, f64);

fn component(trace: &Trace, j: usize) -> Result<Vec<f64>> {
    if j >= trace.dim {
        return Err(Error::invalid("component", j, format!("< {}", trace.dim)));
    }
    Ok(trace.component(j))
}

/// Times of the upward crossings of the mean, linearly interpolated between samples.
pub fn upward_crossings(times: &[f64], values: &[f64]) -> Vec<f64> {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let mut out = Vec::new();
    for k in 1..values.len() {
        let (a, b) = (values[k - 1] - mean, values[k] - mean);
        if a < 0.0 && b >= 0.0 {
            out.push(times[k - 1] + (times[k] - times[k - 1]) * (-a / (b - a)));
        }
    }
    out
}

/// Period (mean interval between upward mean crossings) and amplitude ((max - min) / 2).
pub fn period_and_amplitude(times: &[f64], values: &[f64]) -> Result<(f64, f64)> {
    let crossings = upward_crossings(times, values);
    if crossings.len() < 2 {
        return Err(Error::degenerate("period", format!("{} upward crossings, need 2", crossings.len())));
    }
    let period = (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f64;
    let max = values.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let min = values.iter().fold(f64::INFINITY, |m, v| m.min(*v));
    Ok((period, (max - min) / 2.0))
}

/// Local maxima above the mean (peaks of a damped oscillation): (time, value).
pub fn peaks(times: &[f64], values: &[f64]) -> Vec<(f64, f64)> {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    (1..values.len().saturating_sub(1))
        .filter(|&k| values[k] > values[k - 1] && values[k] >= values[k + 1] && values[k] > mean)
        .map(|k| (times[k], values[k]))
        .collect()
}

/// Period (mean interval between maxima) and decay per period of a damped oscillation.
///
/// The swing of cycle k is its maximum minus the minimum that follows it; the decay is the
/// mean ratio of successive swings, which does not depend on where the oscillation settles.
/// Up to 4 cycles are used, and swings below 1e-3 of the first are ignored (numerical rest).
pub fn damped_oscillation(times: &[f64], values: &[f64]) -> Result<(f64, f64)> {
    let extremum = |k: usize, sign: f64| sign * values[k] > sign * values[k - 1] && sign * values[k] >= sign * values[k + 1];
    let mut swings: Vec<(f64, f64)> = Vec::new(); // (time of the maximum, swing)
    let mut pending: Option<(f64, f64)> = None;
    for k in 1..values.len().saturating_sub(1) {
        if extremum(k, 1.0) {
            pending = Some((times[k], values[k]));
        } else if extremum(k, -1.0) {
            if let Some((t, v)) = pending.take() {
                swings.push((t, v - values[k]));
            }
        }
    }
    if let Some(first) = swings.first().map(|s| s.1) {
        swings.retain(|s| s.1 > 1e-3 * first);
    }
    swings.truncate(4);
    if swings.len() < 2 {
        return Err(Error::degenerate("free swing", format!("{} cycles, need 2", swings.len())));
    }
    let period = (swings[swings.len() - 1].0 - swings[0].0) / (swings.len() - 1) as f64;
    let ratios: Vec<f64> = swings.windows(2).map(|w| w[1].1 / w[0].1).collect();
    Ok((period, ratios.iter().sum::<f64>() / ratios.len() as f64))
}

/// Number of switches between the lobes x > threshold and x < -threshold.
pub fn lobe_switches(values: &[f64], threshold: f64) -> usize {
    let mut side = 0i8;
    let mut switches = 0;
    for v in values {
        let s = if *v > threshold {
            1
        } else if *v < -threshold {
            -1
        } else {
            0
        };
        if s != 0 {
            if side != 0 && s != side {
                switches += 1;
            }
            side = s;
        }
    }
    switches
}

fn relative(a: f64, reference: f64) -> f64 {
    (a - reference).abs() / reference.abs()
}

/// Runs `analysis` on a test recording.
pub fn analyse(analysis: &TestAnalysis, rec: &Recording) -> Result<Vec<Measure>> {
    let window = |skip: f64| rec.times.iter().position(|t| *t >= skip).unwrap_or(rec.times.len());
    Ok(match analysis {
        TestAnalysis::LimitCycle { component: j, skip } => {
            let k0 = window(*skip);
            let t = &rec.times[k0..];
            let (pt, at) = period_and_amplitude(t, &component(&rec.x, *j)?[k0..])?;
            let (pn, an) = period_and_amplitude(t, &component(&rec.x_hat, *j)?[k0..])?;
            vec![
                ("period_teacher".into(), pt),
                ("period_network".into(), pn),
                ("period_error".into(), relative(pn, pt)),
                ("amplitude_teacher".into(), at),
                ("amplitude_network".into(), an),
                ("amplitude_error".into(), relative(an, at)),
            ]
        }
        TestAnalysis::FreeSwing { component: j } => {
            let (pt, dt) = damped_oscillation(&rec.times, &component(&rec.x, *j)?)?;
            let (pn, dn) = damped_oscillation(&rec.times, &component(&rec.x_hat, *j)?)?;
            vec![
                ("period_teacher".into(), pt),
                ("period_network".into(), pn),
                ("period_error".into(), relative(pn, pt)),
                ("decay_teacher".into(), dt),
                ("decay_network".into(), dn),
                ("decay_error".into(), relative(dn, dt)),
            ]
        }
        TestAnalysis::Attractors { component: j, at } => {
            if at.is_empty() {
                return Err(Error::invalid("at", "[]", "at least one time"));
            }
            let (x, xh) = (component(&rec.x, *j)?, component(&rec.x_hat, *j)?);
            let mut agree = 0;
            for t in at {
                let k = window(*t).min(rec.times.len().saturating_sub(1));
                if (x[k] > 0.0) == (xh[k] > 0.0) {
                    agree += 1;
                }
            }
            vec![
                ("attractor_agreement".into(), agree as f64 / at.len() as f64),
                ("attractor_checks".into(), at.len() as f64),
            ]
        }
        TestAnalysis::LobeSwitches { component: j, threshold } => vec![
            ("lobe_switches_teacher".into(), lobe_switches(&component(&rec.x, *j)?, *threshold) as f64),
            ("lobe_switches_network".into(), lobe_switches(&component(&rec.x_hat, *j)?, *threshold) as f64),
        ],
        TestAnalysis::NrmseHorizon { horizon, key } => {
            let k = window(*horizon);
            let cut = |tr: &Trace| Trace { dim: tr.dim, data: tr.data[..k * tr.dim].to_vec() };
            vec![(key.clone(), nrmse(&cut(&rec.x), &cut(&rec.x_hat))?)]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled(f: impl Fn(f64) -> f64, duration: f64, dt: f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..(duration / dt) as usize).map(|k| k as f64 * dt).collect();
        let v = t.iter().map(|t| f(*t)).collect();
        (t, v)
    }

    #[test]
    fn sine_has_its_period_and_amplitude() {
        let (t, v) = sampled(|t| 1.5 * (2.0 * std::f64::consts::PI * t / 0.8).sin() + 0.3, 10.0, 1e-3);
        let (p, a) = period_and_amplitude(&t, &v).unwrap();
        assert!((p - 0.8).abs() < 1e-4, "{p}");
        assert!((a - 1.5).abs() < 1e-4, "{a}");
    }

    #[test]
    fn damped_cosine_has_its_decay() {
        // exp(-t) cos(2 pi t): period 1, peak ratio exp(-1) per period.
        let (t, v) = sampled(|t| (-t).exp() * (2.0 * std::f64::consts::PI * t).cos(), 6.0, 1e-4);
        let (p, d) = damped_oscillation(&t, &v).unwrap();
        assert!((p - 1.0).abs() < 1e-3, "{p}");
        assert!((d - (-1.0f64).exp()).abs() < 1e-3, "{d}");
    }

    #[test]
    fn lobe_switches_use_hysteresis() {
        assert_eq!(lobe_switches(&[0.5, 0.05, -0.05, 0.05, -0.5, 0.0, 0.5, 0.6], 0.1), 2);
    }

    #[test]
    fn flat_traces_are_degenerate() {
        let (t, v) = sampled(|_| 1.0, 1.0, 1e-2);
        assert!(period_and_amplitude(&t, &v).is_err());
        assert!(damped_oscillation(&t, &v).is_err());
    }
}
