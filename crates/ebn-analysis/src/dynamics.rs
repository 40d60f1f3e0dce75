//! Analyses of test runs: limit cycles, free swings, attractors, lobe switches.

use ebn_core::{Analysis, Error, Recording, Registry, Result, Trace};
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
    /// The shape of the visited set: per component, the standard deviations of x and x_hat
    /// and their relative difference (for chaotic targets, whose trajectories diverge but
    /// whose attractors should agree); reports `std_teacher_j`, `std_network_j` and
    /// `shape_error`, the largest relative difference over components.
    Shape,
    /// The long-run statistics of teacher and network after `skip` seconds
    /// ([`crate::attractor`]): per component the means and standard deviations
    /// (`mean_teacher_j`, `mean_network_j`, `std_teacher_j`, `std_network_j`), the dominant
    /// frequencies (`frequency_teacher`, `frequency_network`, Hz), and the comparison:
    /// `mean_shift` (largest |mean difference| in teacher standard deviations),
    /// `spread_error` (largest relative std difference), `frequency_error` (relative) and
    /// `attractor_kept` (1 if all three are within the tolerances of
    /// [`crate::attractor::AttractorComparison::kept`], else 0). Sampled every 10 ms.
    Attractor {
        /// Transient to ignore (s).
        skip: f64,
    },
    /// Short-horizon prediction error: RMSE(x - x_hat) over the first `horizon` seconds,
    /// divided by std(x) over the **whole** recording (the attractor's scale; the std over a
    /// short window would be tiny and make any error look huge).
    NrmseHorizon {
        /// Horizon (s).
        horizon: f64,
        /// Key under which the value is reported.
        key: String,
    },
}

impl Analysis for TestAnalysis {
    fn analyse(&self, recording: &Recording) -> Result<Vec<Measure>> {
        analyse(self, recording)
    }
}

/// Registers the analyses of this crate (every kind of [`TestAnalysis`]).
pub fn register(registry: &mut Registry) {
    for kind in ["limit_cycle", "free_swing", "attractors", "lobe_switches", "shape", "attractor", "nrmse_horizon"] {
        registry.add_analysis_spec(kind, |spec, field| -> Result<Box<dyn Analysis>> {
            Ok(Box::new(spec.parse_tagged::<TestAnalysis>(field)?))
        });
    }
}

/// One named number of an analysis.
pub type Measure = (String, f64);

fn component(trace: &Trace, j: usize) -> Result<Vec<f64>> {
    if j >= trace.dim {
        return Err(Error::invalid("component", j, format!("< {}", trace.dim)));
    }
    Ok(trace.component(j))
}

/// The lobes of an oscillation around `level`: maximal runs above `level + h` or below
/// `level - h` (hysteresis `h` > 0, so that the jitter of a spiking readout around the level
/// does not split a lobe). Each lobe: (sign, time of its extremum, extremum, time it starts).
fn lobes(times: &[f64], values: &[f64], level: f64, h: f64) -> Vec<(i8, f64, f64, f64)> {
    let mut out: Vec<(i8, f64, f64, f64)> = Vec::new();
    for (t, v) in times.iter().zip(values) {
        let side = if *v > level + h {
            1
        } else if *v < level - h {
            -1
        } else {
            0
        };
        if side == 0 {
            continue;
        }
        match out.last_mut() {
            Some(lobe) if lobe.0 == side => {
                if f64::from(side) * (v - lobe.2) > 0.0 {
                    lobe.1 = *t;
                    lobe.2 = *v;
                }
            }
            _ => out.push((side, *t, *v, *t)),
        }
    }
    out
}

/// Times at which the signal enters the upper lobe around its mean (with a hysteresis of a
/// tenth of its half-range): one per cycle, robust to spike jitter.
pub fn upward_crossings(times: &[f64], values: &[f64]) -> Vec<f64> {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let h = 0.1 * (hi - lo) / 2.0;
    lobes(times, values, mean, h.max(f64::MIN_POSITIVE)).into_iter().skip(1).filter(|l| l.0 == 1).map(|l| l.3).collect()
}

/// Period (mean interval between successive entries into the upper lobe) and amplitude
/// ((max - min) / 2) of a sustained oscillation.
pub fn period_and_amplitude(times: &[f64], values: &[f64]) -> Result<(f64, f64)> {
    let crossings = upward_crossings(times, values);
    if crossings.len() < 2 {
        return Err(Error::degenerate("period", format!("{} cycles found, need 2", crossings.len())));
    }
    let period = (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f64;
    let max = values.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let min = values.iter().fold(f64::INFINITY, |m, v| m.min(*v));
    Ok((period, (max - min) / 2.0))
}

/// Period (mean interval between the maxima of successive upper lobes) and decay per period
/// (mean ratio of successive swings, a swing being a maximum minus the minimum of the lobe
/// that follows) of a damped oscillation. The rest level is the median of the last quarter of
/// the trace; lobes are cut with a hysteresis of 5 % of the first excursion. Up to 4 cycles
/// are used.
pub fn damped_oscillation(times: &[f64], values: &[f64]) -> Result<(f64, f64)> {
    if values.len() < 8 {
        return Err(Error::degenerate("free swing", "fewer than 8 samples"));
    }
    let mut tail: Vec<f64> = values[values.len() * 3 / 4..].to_vec();
    tail.sort_by(f64::total_cmp);
    let rest = tail[tail.len() / 2];
    let first = values.iter().fold(0.0f64, |m, v| m.max((v - rest).abs()));
    let lobes = lobes(times, values, rest, 0.05 * first);
    let start = lobes.iter().position(|l| l.0 == 1).unwrap_or(lobes.len());
    let swings: Vec<(f64, f64)> = lobes[start..]
        .windows(2)
        .filter(|w| w[0].0 == 1 && w[1].0 == -1)
        .map(|w| (w[0].1, w[0].2 - w[1].2))
        .take(4)
        .collect();
    if swings.len() < 2 {
        return Err(Error::degenerate("free swing", format!("{} cycles found, need 2", swings.len())));
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

/// sqrt(sum_k ||x_k - mean(x)||^2 / n): the pooled standard deviation used by [`nrmse`].
pub fn pooled_std(x: &Trace) -> Result<f64> {
    let n = x.len();
    if n == 0 {
        return Err(Error::degenerate("standard deviation", "no samples"));
    }
    let mean: Vec<f64> = (0..x.dim).map(|j| x.samples().map(|s| s[j]).sum::<f64>() / n as f64).collect();
    let var: f64 = x.samples().map(|s| s.iter().zip(&mean).map(|(v, m)| (v - m).powi(2)).sum::<f64>()).sum::<f64>();
    if var == 0.0 {
        return Err(Error::degenerate("standard deviation", "the trace is constant"));
    }
    Ok((var / n as f64).sqrt())
}

fn std_dev(v: &[f64]) -> Result<f64> {
    pooled_std(&Trace { dim: 1, data: v.to_vec() })
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
            if x.is_empty() || xh.len() != x.len() {
                return Err(Error::degenerate("attractor agreement", "an empty recording"));
            }
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
        TestAnalysis::Shape => {
            let mut out = Vec::new();
            let mut worst = 0.0f64;
            for j in 0..rec.x.dim {
                let (st, sn) = (std_dev(&rec.x.component(j))?, std_dev(&rec.x_hat.component(j))?);
                worst = worst.max(relative(sn, st));
                out.push((format!("std_teacher_{j}"), st));
                out.push((format!("std_network_{j}"), sn));
            }
            out.push(("shape_error".into(), worst));
            out
        }
        TestAnalysis::Attractor { skip } => {
            let k0 = window(*skip);
            let dt = rec.times.get(1).zip(rec.times.first()).map_or(0.0, |(b, a)| b - a);
            if k0 + 2 >= rec.times.len() || dt.is_nan() || dt <= 0.0 {
                return Err(Error::invalid("skip", skip, "shorter than the recording"));
            }
            let stride = ((0.01 / dt).round() as usize).max(1);
            let pick = |tr: &Trace| -> Vec<Vec<f64>> {
                (k0..rec.times.len()).step_by(stride).map(|k| tr.sample(k).to_vec()).collect()
            };
            let teacher = crate::AttractorStats::of(&pick(&rec.x), dt * stride as f64)?;
            let network = crate::AttractorStats::of(&pick(&rec.x_hat), dt * stride as f64)?;
            let cmp = crate::AttractorComparison::new(&teacher, &network);
            let mut out = Vec::new();
            for j in 0..rec.x.dim {
                out.push((format!("mean_teacher_{j}"), teacher.mean[j]));
                out.push((format!("mean_network_{j}"), network.mean[j]));
                out.push((format!("std_teacher_{j}"), teacher.std[j]));
                out.push((format!("std_network_{j}"), network.std[j]));
            }
            out.push(("frequency_teacher".into(), teacher.frequency));
            out.push(("frequency_network".into(), network.frequency));
            out.push(("mean_shift".into(), cmp.mean_shift.iter().copied().fold(0.0, f64::max)));
            out.push(("spread_error".into(), cmp.spread_error.iter().map(|v| v.abs()).fold(0.0, f64::max)));
            out.push(("frequency_error".into(), cmp.frequency_error.abs()));
            out.push(("attractor_kept".into(), f64::from(u8::from(cmp.kept()))));
            out
        }
        TestAnalysis::NrmseHorizon { horizon, key } => {
            let k = window(*horizon);
            if k == 0 {
                return Err(Error::invalid("horizon", horizon, "a horizon longer than one sample"));
            }
            let n = k * rec.x.dim;
            let sq: f64 = rec.x.data[..n].iter().zip(&rec.x_hat.data[..n]).map(|(a, b)| (a - b).powi(2)).sum();
            let rmse = (sq / k as f64).sqrt();
            vec![(key.clone(), rmse / pooled_std(&rec.x)?)]
        }
    })
}

impl From<TestAnalysis> for ebn_core::Spec {
    fn from(config: TestAnalysis) -> Self {
        ebn_core::Spec::tagged(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every analysis kind of this crate passes the conformance kit, on one and on three
    /// components.
    #[test]
    fn conforms() {
        let kinds = [
            TestAnalysis::LimitCycle { component: 0, skip: 0.2 },
            TestAnalysis::FreeSwing { component: 0 },
            TestAnalysis::Attractors { component: 0, at: vec![0.1, 1.0, 5.0] },
            TestAnalysis::LobeSwitches { component: 0, threshold: 0.3 },
            TestAnalysis::Shape,
            TestAnalysis::Attractor { skip: 0.5 },
            TestAnalysis::NrmseHorizon { horizon: 0.25, key: "nrmse_at_0p25s".into() },
        ];
        for kind in &kinds {
            for dim in [1, 3] {
                ebn_core::conformance::analysis(kind, dim);
            }
        }
    }

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
        // exp(-t) sin(2 pi t): maxima exactly 1 s apart, swing ratio exp(-1) per period.
        let (t, v) = sampled(|t| (-t).exp() * (2.0 * std::f64::consts::PI * t).sin(), 6.0, 1e-4);
        let (p, d) = damped_oscillation(&t, &v).unwrap();
        assert!((p - 1.0).abs() < 1e-3, "{p}");
        assert!((d - (-1.0f64).exp()).abs() < 1e-3, "{d}");
    }

    #[test]
    fn jitter_does_not_split_cycles() {
        // A sine with a sawtooth jitter of 5 % of its amplitude, like a spiking readout.
        let (t, v) = sampled(|t| (2.0 * std::f64::consts::PI * t).sin() + 0.05 * ((t * 1000.0) % 1.0 - 0.5), 5.0, 1e-4);
        let (p, _) = period_and_amplitude(&t, &v).unwrap();
        assert!((p - 1.0).abs() < 2e-3, "{p}");
        let (t, v) = sampled(
            |t| (-t).exp() * (2.0 * std::f64::consts::PI * t).sin() + 0.01 * ((t * 997.0) % 1.0 - 0.5),
            6.0,
            1e-4,
        );
        let (p, d) = damped_oscillation(&t, &v).unwrap();
        assert!((p - 1.0).abs() < 0.02, "{p}");
        assert!((d - (-1.0f64).exp()).abs() < 0.03, "{d}");
    }

    #[test]
    fn horizon_error_uses_the_whole_run_for_scale() {
        // x = sin(2 pi t) over 10 s (pooled std 1/sqrt 2), x_hat = x + 0.1 for t < 1 s.
        let (t, v) = sampled(|t| (2.0 * std::f64::consts::PI * t).sin(), 10.0, 1e-2);
        let vh: Vec<f64> = t.iter().zip(&v).map(|(t, v)| if *t < 1.0 { v + 0.1 } else { *v }).collect();
        let rec = Recording {
            times: t,
            x: Trace { dim: 1, data: v },
            x_hat: Trace { dim: 1, data: vh },
            ..Recording::default()
        };
        let m = analyse(&TestAnalysis::NrmseHorizon { horizon: 0.5, key: "h".into() }, &rec).unwrap();
        assert!((m[0].1 - 0.1 * 2f64.sqrt()).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn attractor_agreement_counts_matching_signs() {
        let times: Vec<f64> = (0..4).map(|k| k as f64).collect();
        let rec = Recording {
            times,
            x: Trace { dim: 1, data: vec![0.5, -0.5, 0.5, -0.5] },
            x_hat: Trace { dim: 1, data: vec![0.4, -0.45, -0.1, -0.5] },
            ..Recording::default()
        };
        let m = analyse(&TestAnalysis::Attractors { component: 0, at: vec![0.0, 1.0, 2.0, 3.0] }, &rec).unwrap();
        assert_eq!(m[0], ("attractor_agreement".to_string(), 0.75));
        assert!(analyse(&TestAnalysis::Attractors { component: 0, at: vec![] }, &rec).is_err());
        assert!(analyse(&TestAnalysis::Attractors { component: 3, at: vec![1.0] }, &rec).is_err());
    }

    #[test]
    fn shape_compares_spreads() {
        let rec = Recording {
            x: Trace { dim: 1, data: vec![1.0, -1.0, 1.0, -1.0] },
            x_hat: Trace { dim: 1, data: vec![1.2, -1.2, 1.2, -1.2] },
            ..Recording::default()
        };
        let m = analyse(&TestAnalysis::Shape, &rec).unwrap();
        assert_eq!(m[2].0, "shape_error");
        assert!((m[2].1 - 0.2).abs() < 1e-12, "{m:?}");
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
