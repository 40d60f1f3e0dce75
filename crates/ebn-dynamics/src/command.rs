//! Command signals c(t) that drive the target (and, through D^T c, the network).

use ebn_core::{CommandSignal, CommandStream, Error, Registry, Result, Rng, check};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Which command signal, with its parameters (serde: `kind = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandConfig {
    /// See [`FilteredNoise`].
    FilteredNoise(FilteredNoise),
    /// See [`Pulses`].
    Pulses(Pulses),
    /// No command, c = 0.
    Zero,
}

impl CommandConfig {
    /// Validates against the target dimension `dim` and builds the signal.
    pub fn build(&self, dim: usize) -> Result<Box<dyn CommandSignal>> {
        Ok(match self {
            Self::FilteredNoise(f) => {
                f.validate(dim)?;
                Box::new(f.clone())
            }
            Self::Pulses(p) => {
                p.validate(dim)?;
                Box::new(p.clone())
            }
            Self::Zero => Box::new(Zero { dim }),
        })
    }
}

/// Registers the command signals of this crate (every kind of [`CommandConfig`]).
pub fn register_commands(registry: &mut Registry) {
    for kind in ["filtered_noise", "pulses", "zero"] {
        registry.add_command_spec(kind, |spec, field, dim| spec.parse_tagged::<CommandConfig>(field)?.build(dim));
    }
}

/// Low-pass filtered white noise, gated by on-windows (MODEL.md §9).
///
/// Per channel j and step k, with w_k ~ N(0, 1) independent:
///
/// ```text
/// y_k = a y_(k-1) + (1 - a) w_k     (applied `passes` times in series), a = exp(-dt / tau)
/// c_j(t_k) = amplitude_j * y_k      if t_k lies in an on-window, else 0
/// ```
///
/// Windows are fractions of the realisation's duration, so the same signal serves trials of
/// any length. The filters start at 0 and run through the off periods (project choice: the
/// signal has its stationary statistics when a window opens; the gate switches sharply).
/// With tau = 10 ms, two passes and dt = 0.1 ms the stationary standard deviation of y is
/// about 0.05, so c_v has a standard deviation of about 30 at amplitude 600.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilteredNoise {
    /// Gain per channel (units of x per second per unit of y); its length is J.
    pub amplitude: Vec<f64>,
    /// Filter time constant tau (s).
    #[serde(default = "default_tau")]
    pub tau: f64,
    /// Number of filter passes in series.
    #[serde(default = "default_passes")]
    pub passes: usize,
    /// On-windows [start, end) as fractions of the duration, in [0, 1].
    #[serde(default = "default_windows")]
    pub windows: Vec<[f64; 2]>,
    /// If true, y is divided by its stationary standard deviation
    /// ([`FilteredNoise::stationary_std`]), so that `amplitude` is the standard deviation of
    /// c in an on-window (a reference implementation's "unit-variance smooth noise times A").
    /// Default false (the authors' convention, amplitude multiplies the raw filter output).
    #[serde(default)]
    pub unit_variance: bool,
}

fn default_tau() -> f64 {
    0.01
}
fn default_passes() -> usize {
    2
}
fn default_windows() -> Vec<[f64; 2]> {
    vec![[0.03, 0.30]]
}

impl FilteredNoise {
    /// The authors' command for the §9 oscillator: c_v = 600 y, c_p = 0, on in [3 %, 30 %).
    pub fn paper_default() -> Self {
        Self {
            amplitude: vec![600.0, 0.0],
            tau: default_tau(),
            passes: default_passes(),
            windows: default_windows(),
            unit_variance: false,
        }
    }

    /// Stationary standard deviation of the filter output y for unit white noise at step
    /// `dt`. With a = exp(-dt / tau) and p passes, the impulse response is
    /// h_k = (1-a)^p C(k+p-1, p-1) a^k, and by Euler's transformation of 2F1(p, p; 1; a^2)
    ///
    /// ```text
    /// sigma_y^2 = sum_k h_k^2 = (1-a) / (1+a)^(2p-1) * sum_(i<p) C(p-1, i)^2 a^(2i)
    /// ```
    ///
    /// (p = 1: (1-a)/(1+a); p = 2: (1-a)(1+a^2)/(1+a)^3).
    pub fn stationary_std(&self, dt: f64) -> f64 {
        let a = (-dt / self.tau).exp();
        let p = self.passes as i32;
        // sum_i C(p-1, i)^2 a^(2i), the binomial coefficient built up term by term.
        let (mut binom, mut sum) = (1.0f64, 0.0f64);
        for i in 0..self.passes {
            sum += binom * binom * a.powi(2 * i as i32);
            binom *= (self.passes - 1 - i) as f64 / (i + 1) as f64;
        }
        ((1.0 - a) / (1.0 + a).powi(2 * p - 1) * sum).sqrt()
    }

    fn validate(&self, dim: usize) -> Result<()> {
        check::same_len("amplitude", dim, self.amplitude.len())?;
        check::all_finite("amplitude", &self.amplitude)?;
        check::positive("tau", self.tau)?;
        check::nonzero("passes", self.passes)?;
        for (i, w) in self.windows.iter().enumerate() {
            check::in_range(&format!("windows[{i}][0]"), w[0], 0.0, 1.0)?;
            check::in_range(&format!("windows[{i}][1]"), w[1], 0.0, 1.0)?;
            if w[1] < w[0] {
                return Err(Error::invalid(format!("windows[{i}]"), format!("{w:?}"), "start <= end"));
            }
        }
        Ok(())
    }
}

impl CommandSignal for FilteredNoise {
    fn dim(&self) -> usize {
        self.amplitude.len()
    }

    fn realise(&self, dt: f64, duration: f64, rng: Rng) -> Box<dyn CommandStream> {
        let steps = |f: f64| (f * duration / dt).round() as u64;
        let norm = if self.unit_variance { 1.0 / self.stationary_std(dt) } else { 1.0 };
        Box::new(FilteredNoiseStream {
            amplitude: self.amplitude.iter().map(|v| v * norm).collect(),
            a: (-dt / self.tau).exp(),
            y: vec![0.0; self.passes * self.amplitude.len()],
            windows: self.windows.iter().map(|w| (steps(w[0]), steps(w[1]))).collect(),
            step: 0,
            rng,
        })
    }
}

struct FilteredNoiseStream {
    amplitude: Vec<f64>,
    a: f64,
    /// Filter states, pass-major: y[p * J + j].
    y: Vec<f64>,
    windows: Vec<(u64, u64)>,
    step: u64,
    rng: Rng,
}

impl CommandStream for FilteredNoiseStream {
    fn next(&mut self, out: &mut [f64]) {
        let j = self.amplitude.len();
        let on = self.windows.iter().any(|&(s, e)| (s..e).contains(&self.step));
        for (c, out_c) in out.iter_mut().enumerate() {
            let mut input: f64 = self.rng.sample(StandardNormal);
            for pass in 0..self.y.len() / j {
                let y = &mut self.y[pass * j + c];
                *y = self.a * *y + (1.0 - self.a) * input;
                input = *y;
            }
            *out_c = if on { self.amplitude[c] * input } else { 0.0 };
        }
        self.step += 1;
    }
}

/// One rectangular pulse of a [`Pulses`] command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pulse {
    /// Onset (s from the start of the realisation).
    pub start: f64,
    /// Length (s).
    pub duration: f64,
    /// Command vector during the pulse (units of x per second), length J.
    pub amplitude: Vec<f64>,
}

/// A sum of rectangular pulses: c(t) = sum of the amplitudes of the pulses active at t
/// (active on [start, start + duration)). Deterministic: it ignores its random stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pulses {
    /// The pulses.
    pub pulses: Vec<Pulse>,
}

impl Pulses {
    fn validate(&self, dim: usize) -> Result<()> {
        for (i, p) in self.pulses.iter().enumerate() {
            check::non_negative(&format!("pulses[{i}].start"), p.start)?;
            check::positive(&format!("pulses[{i}].duration"), p.duration)?;
            check::same_len(&format!("pulses[{i}].amplitude"), dim, p.amplitude.len())?;
            check::all_finite(&format!("pulses[{i}].amplitude"), &p.amplitude)?;
        }
        Ok(())
    }
}

impl CommandSignal for Pulses {
    fn dim(&self) -> usize {
        self.pulses.first().map_or(1, |p| p.amplitude.len())
    }

    fn realise(&self, dt: f64, _duration: f64, _rng: Rng) -> Box<dyn CommandStream> {
        let steps = |t: f64| (t / dt).round() as u64;
        Box::new(PulseStream {
            pulses: self
                .pulses
                .iter()
                .map(|p| (steps(p.start), steps(p.start + p.duration), p.amplitude.clone()))
                .collect(),
            step: 0,
        })
    }
}

struct PulseStream {
    pulses: Vec<(u64, u64, Vec<f64>)>,
    step: u64,
}

impl CommandStream for PulseStream {
    fn next(&mut self, out: &mut [f64]) {
        out.fill(0.0);
        for (s, e, amp) in &self.pulses {
            if (*s..*e).contains(&self.step) {
                out.iter_mut().zip(amp).for_each(|(o, a)| *o += a);
            }
        }
        self.step += 1;
    }
}

/// The zero command of dimension `dim`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zero {
    /// Dimension J.
    pub dim: usize,
}

impl CommandSignal for Zero {
    fn dim(&self) -> usize {
        self.dim
    }

    fn realise(&self, _dt: f64, _duration: f64, _rng: Rng) -> Box<dyn CommandStream> {
        Box::new(ZeroStream)
    }
}

struct ZeroStream;

impl CommandStream for ZeroStream {
    fn next(&mut self, out: &mut [f64]) {
        out.fill(0.0);
    }
}

impl From<CommandConfig> for ebn_core::Spec {
    fn from(config: CommandConfig) -> Self {
        ebn_core::Spec::tagged(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{SeedStreams, Stream};

    fn pulses() -> Pulses {
        Pulses {
            pulses: vec![
                Pulse { start: 0.1, duration: 0.05, amplitude: vec![3.0] },
                Pulse { start: 0.3, duration: 0.05, amplitude: vec![-3.0] },
            ],
        }
    }

    #[test]
    fn all_conform() {
        ebn_core::conformance::command_signal(&FilteredNoise::paper_default());
        ebn_core::conformance::command_signal(&pulses());
        ebn_core::conformance::command_signal(&Zero { dim: 3 });
    }

    #[test]
    fn filtered_noise_statistics_and_windows() {
        // 20 s realisation, window [25 %, 75 %): the on part has the stationary std of the
        // two-pass filter, whose impulse response is h_k = (1-a)^2 (k+1) a^k, so that
        // sigma_y^2 = (1-a)^4 sum_k (k+1)^2 a^(2k) = (1-a)^4 (1+a^2) / (1-a^2)^3; the off part is
        // exactly 0.
        let dt = 1e-4;
        let sig = FilteredNoise { windows: vec![[0.25, 0.75]], ..FilteredNoise::paper_default() };
        let mut s = sig.realise(dt, 20.0, SeedStreams::new(3).rng(Stream::Command));
        let mut out = [0.0; 2];
        let mut on = Vec::new();
        for k in 0..200_000 {
            s.next(&mut out);
            assert_eq!(out[1], 0.0);
            if (50_000..150_000).contains(&k) {
                on.push(out[0] / 600.0);
            } else {
                assert_eq!(out[0], 0.0);
            }
        }
        let a = (-dt / 0.01f64).exp();
        let expected = ((1.0 - a).powi(4) * (1.0 + a * a) / (1.0 - a * a).powi(3)).sqrt();
        let var = on.iter().map(|v| v * v).sum::<f64>() / on.len() as f64;
        // 10 s of a signal with ~20 ms correlation time: ~500 independent samples, so the
        // sample variance is within ~3 x sqrt(2/500) = 19 % of the truth.
        assert!((var.sqrt() / expected - 1.0).abs() < 0.1, "std {} vs {}", var.sqrt(), expected);
        assert!((expected - 0.05).abs() < 0.002, "MODEL.md says about 0.05: {expected}");
        assert!((sig.stationary_std(dt) / expected - 1.0).abs() < 1e-12, "closed form, p = 2");
    }

    #[test]
    fn unit_variance_noise_has_the_amplitude_as_its_std() {
        // 1, 2 and 3 passes at two time constants: the sample std of c over a long on-window is
        // the amplitude (to the sampling error of ~600 / (tau p) independent samples).
        let dt = 1e-4;
        for (tau, passes) in [(0.03, 1), (0.03, 2), (0.01, 3), (0.005, 2)] {
            let sig =
                FilteredNoise { amplitude: vec![4.0], tau, passes, windows: vec![[0.0, 1.0]], unit_variance: true };
            let mut s = sig.realise(dt, 60.0, SeedStreams::new(5).rng(Stream::Command));
            let mut out = [0.0];
            let mut sum_sq = 0.0;
            let n = 600_000;
            for k in 0..n {
                s.next(&mut out);
                // skip the first second (the filters start at 0)
                if k >= 10_000 {
                    sum_sq += out[0] * out[0];
                }
            }
            let std = (sum_sq / (n - 10_000) as f64).sqrt();
            assert!((std / 4.0 - 1.0).abs() < 0.06, "tau {tau}, {passes} passes: std {std}");
        }
    }

    #[test]
    fn pulses_are_where_they_should_be() {
        let mut s = pulses().realise(1e-3, 1.0, SeedStreams::new(0).rng(Stream::Command));
        let mut out = [0.0];
        let values: Vec<f64> = (0..400)
            .map(|_| {
                s.next(&mut out);
                out[0]
            })
            .collect();
        assert_eq!(values[99], 0.0);
        assert_eq!(values[100], 3.0);
        assert_eq!(values[149], 3.0);
        assert_eq!(values[150], 0.0);
        assert_eq!(values[320], -3.0);
    }

    #[test]
    fn rejects_bad_commands() {
        let bad = [
            CommandConfig::FilteredNoise(FilteredNoise { amplitude: vec![1.0], ..FilteredNoise::paper_default() }),
            CommandConfig::FilteredNoise(FilteredNoise { tau: 0.0, ..FilteredNoise::paper_default() }),
            CommandConfig::FilteredNoise(FilteredNoise { windows: vec![[0.5, 0.2]], ..FilteredNoise::paper_default() }),
            CommandConfig::FilteredNoise(FilteredNoise { windows: vec![[0.5, 1.2]], ..FilteredNoise::paper_default() }),
            CommandConfig::Pulses(Pulses {
                pulses: vec![Pulse { start: 0.0, duration: -1.0, amplitude: vec![1.0, 0.0] }],
            }),
        ];
        for cfg in bad {
            assert!(cfg.build(2).is_err(), "{cfg:?} accepted");
        }
    }
}
