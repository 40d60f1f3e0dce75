#![doc = include_str!("../README.md")]

use ebn_core::{Error, Mat, Perturbation, PerturbationContext, PerturbationSetup, Registry, Result, Rng, check};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// A time window [start, end) in seconds; `end = None` means until the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start (s).
    pub start: f64,
    /// End (s), exclusive; `None` for the rest of the run.
    #[serde(default)]
    pub end: Option<f64>,
}

impl Window {
    /// The whole run.
    pub const ALWAYS: Self = Self { start: 0.0, end: None };

    /// Whether the step starting at `t` lies in the window (steps are matched to the nearest
    /// step boundary, half a step of tolerance).
    pub fn contains(&self, t: f64, dt: f64) -> bool {
        t + 0.5 * dt >= self.start && self.end.is_none_or(|e| t + 0.5 * dt < e)
    }

    fn validate(&self, field: &str) -> Result<()> {
        check::non_negative(&format!("{field}.start"), self.start)?;
        if let Some(e) = self.end
            && !(e.is_finite() && e > self.start)
        {
            return Err(Error::invalid(format!("{field}.end"), e, format!("a time > start = {}", self.start)));
        }
        Ok(())
    }
}

/// Which perturbation, with its parameters (serde: `kind = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PerturbationConfig {
    /// See [`MembraneNoise`].
    MembraneNoise {
        /// Intensity sigma (units of V per sqrt(s)).
        sigma: f64,
        /// When it acts.
        #[serde(default = "always")]
        window: Window,
    },
    /// Silence a random fraction of the neurons at time `at` (see [`SilenceNeurons`]).
    KillFraction {
        /// Fraction in [0, 1].
        fraction: f64,
        /// Time of death (s).
        #[serde(default)]
        at: f64,
    },
    /// Silence the listed neurons at time `at`.
    KillList {
        /// Neuron indices.
        neurons: Vec<usize>,
        /// Time of death (s).
        #[serde(default)]
        at: f64,
    },
    /// Silence every neuron whose decoder points into the half-space `direction . D_i > 0`.
    KillHalfSpace {
        /// The direction (length J).
        direction: Vec<f64>,
        /// Time of death (s).
        #[serde(default)]
        at: f64,
    },
    /// See [`WeightNoise`].
    WeightNoise {
        /// Relative standard deviation.
        relative_sigma: f64,
        /// When it acts (once).
        #[serde(default)]
        at: f64,
    },
    /// See [`PruneSynapses`].
    PruneSynapses {
        /// Fraction of slow synapses removed, in [0, 1].
        fraction: f64,
        /// When it acts (once).
        #[serde(default)]
        at: f64,
    },
    /// See [`InputPulse`].
    InputPulse {
        /// Neurons that receive it.
        neurons: Vec<usize>,
        /// Current (units of V per second).
        current: f64,
        /// When it acts.
        window: Window,
    },
}

fn always() -> Window {
    Window::ALWAYS
}

impl PerturbationConfig {
    /// Validates and builds the perturbation for a network with decoder `decoder` (J x N),
    /// drawing its randomness from `rng` (its own stream).
    pub fn build(&self, decoder: &Mat<f64>, mut rng: Rng) -> Result<Box<dyn Perturbation>> {
        let n = decoder.ncols();
        let at_ok = |at: f64| check::non_negative("at", at);
        Ok(match self {
            Self::MembraneNoise { sigma, window } => {
                check::non_negative("sigma", *sigma)?;
                window.validate("window")?;
                Box::new(MembraneNoise { sigma: *sigma, window: *window, rng })
            }
            Self::KillFraction { fraction, at } => {
                check::in_range("fraction", *fraction, 0.0, 1.0)?;
                at_ok(*at)?;
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let count = (fraction * n as f64).round() as usize;
                Box::new(SilenceNeurons::new(*at, order[..count].to_vec()))
            }
            Self::KillList { neurons, at } => {
                at_ok(*at)?;
                if let Some(&i) = neurons.iter().find(|&&i| i >= n) {
                    return Err(Error::invalid("neurons", i, format!("indices < N = {n}")));
                }
                Box::new(SilenceNeurons::new(*at, neurons.clone()))
            }
            Self::KillHalfSpace { direction, at } => {
                at_ok(*at)?;
                check::same_len("direction", decoder.nrows(), direction.len())?;
                check::all_finite("direction", direction)?;
                let neurons = (0..n)
                    .filter(|&i| decoder.col_as_slice(i).iter().zip(direction).map(|(d, u)| d * u).sum::<f64>() > 0.0)
                    .collect();
                Box::new(SilenceNeurons::new(*at, neurons))
            }
            Self::WeightNoise { relative_sigma, at } => {
                check::non_negative("relative_sigma", *relative_sigma)?;
                at_ok(*at)?;
                Box::new(WeightNoise { relative_sigma: *relative_sigma, at: *at, done: false, rng })
            }
            Self::PruneSynapses { fraction, at } => {
                check::in_range("fraction", *fraction, 0.0, 1.0)?;
                at_ok(*at)?;
                Box::new(PruneSynapses { fraction: *fraction, at: *at, done: false, rng })
            }
            Self::InputPulse { neurons, current, window } => {
                check::finite("current", *current)?;
                window.validate("window")?;
                if let Some(&i) = neurons.iter().find(|&&i| i >= n) {
                    return Err(Error::invalid("neurons", i, format!("indices < N = {n}")));
                }
                Box::new(InputPulse { neurons: neurons.clone(), current: *current, window: *window })
            }
        })
    }
}

/// Membrane noise: while the window is open, every voltage receives an independent increment
///
/// ```text
/// V_i += sigma sqrt(dt) xi_i,   xi_i ~ N(0, 1)
/// ```
///
/// the Euler-Maruyama discretisation of dV = ... dt + sigma dW (W a Wiener process), so the
/// statistics do not depend on dt: for a leaky neuron dV = -lambda_V V dt + sigma dW without
/// spikes the stationary variance is sigma^2 / (2 lambda_V) (tested). Units: sigma in
/// V / sqrt(s). A file's `network.sigma_v` is this perturbation: the protocol adds it to every
/// run, ahead of the others, on the run's noise stream.
#[derive(Debug, Clone)]
pub struct MembraneNoise {
    /// Intensity (V / sqrt(s)).
    pub sigma: f64,
    /// When it acts.
    pub window: Window,
    rng: Rng,
}

impl MembraneNoise {
    /// Noise of intensity `sigma` in `window`, drawing from `rng`.
    pub fn new(sigma: f64, window: Window, rng: Rng) -> Self {
        Self { sigma, window, rng }
    }
}

impl Perturbation for MembraneNoise {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        if self.sigma > 0.0 && self.window.contains(ctx.t, ctx.dt) {
            let scale = self.sigma * ctx.dt.sqrt();
            for v in ctx.voltages.iter_mut() {
                *v += scale * self.rng.sample::<f64, _>(StandardNormal);
            }
        }
    }

    fn finished(&self, t: f64) -> bool {
        self.window.end.is_some_and(|e| t >= e)
    }
}

/// Silences a list of neurons for good at time `at` (s): from that step on they never fire.
/// Indices never shift and the decoders stay, so their remaining traces still decay into
/// x_hat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceNeurons {
    /// Time of death (s).
    pub at: f64,
    /// Indices of the neurons to silence.
    pub neurons: Vec<usize>,
    /// Whether it has acted (it is then removed from the network).
    #[serde(skip)]
    pub done: bool,
}

impl SilenceNeurons {
    /// Silences `neurons` at time `at` (s).
    pub fn new(at: f64, neurons: Vec<usize>) -> Self {
        Self { at, neurons, done: false }
    }
}

impl Perturbation for SilenceNeurons {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        if reached(ctx, self.at) {
            for &i in &self.neurons {
                if i < ctx.n_neurons() && ctx.is_alive(i) {
                    ctx.silence(i);
                }
            }
            self.done = true;
        }
    }

    fn finished(&self, _t: f64) -> bool {
        self.done
    }
}

/// Whether the step starting at `ctx.t` has reached time `at` (half a step of tolerance, so
/// `at` is matched to the nearest step boundary).
fn reached(ctx: &PerturbationContext<'_>, at: f64) -> bool {
    ctx.t + 0.5 * ctx.dt >= at
}

/// Applies `edit` to every stored slow-weight entry, column by column, the first time a step
/// reaches `at`; `done` remembers that it happened.
fn edit_weights_once(done: &mut bool, at: f64, ctx: &mut PerturbationContext<'_>, mut edit: impl FnMut(&mut f64)) {
    if *done || !reached(ctx, at) {
        return;
    }
    *done = true;
    let m = ctx.slow_weights.matrix_mut();
    for c in 0..m.ncols() {
        m.col_as_slice_mut(c).iter_mut().for_each(&mut edit);
    }
}

/// Multiplicative noise on the slow weights, once at time `at`: every stored entry w becomes
/// w (1 + relative_sigma xi), xi ~ N(0, 1). On factored weights it perturbs the entries of
/// W (J x N_b) — a perturbation of the readout-space weights, not of individual synapses;
/// use dense weights for synapse-level damage.
#[derive(Debug, Clone)]
pub struct WeightNoise {
    /// Relative standard deviation.
    pub relative_sigma: f64,
    /// When it acts (s).
    pub at: f64,
    done: bool,
    rng: Rng,
}

impl Perturbation for WeightNoise {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        let (sigma, rng) = (self.relative_sigma, &mut self.rng);
        edit_weights_once(&mut self.done, self.at, ctx, |w| *w *= 1.0 + sigma * rng.sample::<f64, _>(StandardNormal));
    }

    fn finished(&self, _t: f64) -> bool {
        self.done
    }
}

/// Removes a random fraction of the slow synapses (sets them to 0), once at time `at`. Acts
/// on stored entries: synapses for dense weights, entries of W for factored ones (see
/// [`WeightNoise`]).
#[derive(Debug, Clone)]
pub struct PruneSynapses {
    /// Fraction removed.
    pub fraction: f64,
    /// When it acts (s).
    pub at: f64,
    done: bool,
    rng: Rng,
}

impl Perturbation for PruneSynapses {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        let (fraction, rng) = (self.fraction, &mut self.rng);
        edit_weights_once(&mut self.done, self.at, ctx, |w| {
            if rng.random::<f64>() < fraction {
                *w = 0.0;
            }
        });
    }

    fn finished(&self, _t: f64) -> bool {
        self.done
    }
}

/// A current injected into chosen neurons during a window: V_i += current dt per step
/// (forward Euler of dV/dt = ... + current).
#[derive(Debug, Clone, PartialEq)]
pub struct InputPulse {
    /// Neurons that receive it.
    pub neurons: Vec<usize>,
    /// Current (V / s).
    pub current: f64,
    /// When it acts.
    pub window: Window,
}

impl Perturbation for InputPulse {
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        if self.window.contains(ctx.t, ctx.dt) {
            for &i in &self.neurons {
                if let Some(v) = ctx.voltages.get_mut(i) {
                    *v += self.current * ctx.dt;
                }
            }
        }
    }

    fn finished(&self, t: f64) -> bool {
        self.window.end.is_some_and(|e| t >= e)
    }
}

/// Registers the perturbations of this crate (every kind of [`PerturbationConfig`]). Times
/// in their parameters (`at`, `window`) count from the start of each run (a training trial
/// or a test) they are declared for.
pub fn register(registry: &mut Registry) {
    for kind in [
        "membrane_noise",
        "kill_fraction",
        "kill_list",
        "kill_half_space",
        "weight_noise",
        "prune_synapses",
        "input_pulse",
    ] {
        registry.add_perturbation_spec(kind, |spec, field, setup: &PerturbationSetup<'_>, rng: Rng| {
            spec.parse_tagged::<PerturbationConfig>(field)?.build(setup.decoder, rng)
        });
    }
}

impl From<PerturbationConfig> for ebn_core::Spec {
    fn from(config: PerturbationConfig) -> Self {
        ebn_core::Spec::tagged(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{SeedStreams, SlowWeights, Stream, WeightForm};

    fn rng(i: u64) -> Rng {
        SeedStreams::new(11).indexed(Stream::Perturbation, i)
    }

    fn decoder() -> Mat<f64> {
        Mat::from_fn(2, 40, |j, i| ((i * 7 + j * 3) as f64 * 0.61).sin() * 0.05 + if j == 0 { 0.001 } else { 0.0 })
    }

    #[test]
    fn every_configuration_conforms() {
        let configs = [
            PerturbationConfig::MembraneNoise { sigma: 0.01, window: Window { start: 0.01, end: Some(0.05) } },
            PerturbationConfig::KillFraction { fraction: 0.5, at: 0.02 },
            PerturbationConfig::KillList { neurons: vec![0, 3], at: 0.0 },
            PerturbationConfig::KillHalfSpace { direction: vec![1.0, 0.0], at: 0.01 },
            PerturbationConfig::WeightNoise { relative_sigma: 0.1, at: 0.01 },
            PerturbationConfig::PruneSynapses { fraction: 0.3, at: 0.01 },
            PerturbationConfig::InputPulse {
                neurons: vec![1, 2],
                current: 5.0,
                window: Window { start: 0.0, end: Some(0.02) },
            },
        ];
        for cfg in configs {
            // The kit uses networks of up to 30 neurons: build for the smallest.
            let d = Mat::from_fn(2, 1, |_, _| 0.1);
            let cfg = match cfg {
                PerturbationConfig::KillList { at, .. } => PerturbationConfig::KillList { neurons: vec![0], at },
                PerturbationConfig::InputPulse { current, window, .. } => {
                    PerturbationConfig::InputPulse { neurons: vec![0], current, window }
                }
                other => other,
            };
            ebn_core::conformance::perturbation(&|| cfg.build(&d, rng(0)).unwrap());
        }
    }

    /// Runs a leaky, spike-free population dV = -lambda V dt + sigma dW (forward Euler plus
    /// the perturbation's increments) and returns the variance of V over neurons and time
    /// after 10 time constants.
    fn leaky_variance(sigma: f64, lambda: f64, dt: f64, n: usize) -> f64 {
        let mut noise = MembraneNoise::new(sigma, Window::ALWAYS, rng(1));
        let mut v = vec![0.0; n];
        let mut thresholds = vec![f64::INFINITY; n];
        let mut alive = vec![true; n];
        let (base, mut r) = (vec![1.0; n], vec![0.0; n]);
        let mut w = SlowWeights::zeros(WeightForm::Factored, n, 2, 1);
        let (settle, total) = ((10.0 / lambda / dt) as u64, (30.0 / lambda / dt) as u64);
        let (mut sum, mut count) = (0.0, 0usize);
        for step in 0..total {
            for x in v.iter_mut() {
                *x *= 1.0 - lambda * dt;
            }
            noise.apply(&mut PerturbationContext::new(
                step,
                dt,
                &mut v,
                &mut w,
                &mut thresholds,
                &base,
                &mut alive,
                &mut r,
            ));
            if step >= settle && step % 50 == 0 {
                sum += v.iter().map(|x| x * x).sum::<f64>();
                count += n;
            }
        }
        sum / count as f64
    }

    #[test]
    fn noise_variance_matches_theory_and_not_dt() {
        // Stationary variance of the Ornstein-Uhlenbeck process: sigma^2 / (2 lambda); forward
        // Euler gives sigma^2 / (lambda (2 - lambda dt)), 0.25 % above at lambda dt = 5e-3.
        // Samples: 400 neurons x 20 time constants, correlation time 1/lambda = 1000 steps,
        // sampled every 50: ~400 x 20 x 2 = 16000 effective samples -> relative standard error
        // sqrt(2 / 16000) = 1.1 %; the bound is 5 %.
        let (sigma, lambda) = (0.02, 50.0);
        let theory = sigma * sigma / (2.0 * lambda);
        let coarse = leaky_variance(sigma, lambda, 1e-4, 400);
        let fine = leaky_variance(sigma, lambda, 5e-5, 400);
        assert!((coarse / theory - 1.0).abs() < 0.05, "dt 1e-4: {coarse} vs {theory}");
        assert!((fine / theory - 1.0).abs() < 0.05, "dt 5e-5: {fine} vs {theory}");
    }

    #[test]
    fn killing_by_fraction_and_half_space() {
        let d = decoder();
        let ctx_run = |cfg: PerturbationConfig| {
            let mut p = cfg.build(&d, rng(2)).unwrap();
            let (mut v, mut t, mut alive) = (vec![0.0; 40], vec![1.0; 40], vec![true; 40]);
            let (base, mut r) = (vec![1.0; 40], vec![0.0; 40]);
            let mut w = SlowWeights::zeros(WeightForm::Factored, 40, 2, 1);
            p.apply(&mut PerturbationContext::new(0, 1e-4, &mut v, &mut w, &mut t, &base, &mut alive, &mut r));
            alive
        };
        let alive = ctx_run(PerturbationConfig::KillFraction { fraction: 0.25, at: 0.0 });
        assert_eq!(alive.iter().filter(|a| !**a).count(), 10);
        let alive = ctx_run(PerturbationConfig::KillHalfSpace { direction: vec![1.0, 0.0], at: 0.0 });
        for i in 0..40 {
            assert_eq!(alive[i], d[(0, i)] <= 0.0, "neuron {i}");
        }
    }

    #[test]
    fn synaptic_damage_statistics() {
        let d = decoder();
        let mut w = SlowWeights::Dense(Mat::from_fn(200, 200, |_, _| 1.0));
        let (mut v, mut t, mut alive) = (vec![0.0; 200], vec![1.0; 200], vec![true; 200]);
        let (base, mut r) = (vec![1.0; 200], vec![0.0; 200]);
        let mut prune = PerturbationConfig::PruneSynapses { fraction: 0.3, at: 0.0 }.build(&d, rng(3)).unwrap();
        prune.apply(&mut PerturbationContext::new(0, 1e-4, &mut v, &mut w, &mut t, &base, &mut alive, &mut r));
        let zeros = (0..200).map(|c| w.matrix().col_as_slice(c).iter().filter(|x| **x == 0.0).count()).sum::<usize>();
        // 40000 Bernoulli(0.3) draws: standard deviation 92; 5 sigma = 460.
        assert!((zeros as f64 - 12000.0).abs() < 460.0, "{zeros}");
        let mut w = SlowWeights::Dense(Mat::from_fn(200, 200, |_, _| 2.0));
        let mut noise = PerturbationConfig::WeightNoise { relative_sigma: 0.1, at: 0.0 }.build(&d, rng(4)).unwrap();
        noise.apply(&mut PerturbationContext::new(0, 1e-4, &mut v, &mut w, &mut t, &base, &mut alive, &mut r));
        noise.apply(&mut PerturbationContext::new(1, 1e-4, &mut v, &mut w, &mut t, &base, &mut alive, &mut r));
        let vals: Vec<f64> = (0..200).flat_map(|c| w.matrix().col_as_slice(c).to_vec()).collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        // Once only: sd = 2 x 0.1 = 0.2 (standard error 0.1 % at 40000 samples).
        assert!((sd - 0.2).abs() < 0.01, "{sd}");
    }

    #[test]
    fn input_pulse_adds_its_charge() {
        let d = decoder();
        let window = Window { start: 0.01, end: Some(0.02) };
        let mut p =
            PerturbationConfig::InputPulse { neurons: vec![5], current: 3.0, window }.build(&d, rng(5)).unwrap();
        let (mut v, mut t, mut alive) = (vec![0.0; 40], vec![1.0; 40], vec![true; 40]);
        let (base, mut r) = (vec![1.0; 40], vec![0.0; 40]);
        let mut w = SlowWeights::zeros(WeightForm::Factored, 40, 2, 1);
        for step in 0..400 {
            p.apply(&mut PerturbationContext::new(step, 1e-4, &mut v, &mut w, &mut t, &base, &mut alive, &mut r));
        }
        assert!((v[5] - 0.03).abs() < 1e-12, "{}", v[5]);
        assert_eq!(v[4], 0.0);
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let d = decoder();
        for (cfg, field) in [
            (PerturbationConfig::KillFraction { fraction: 1.5, at: 0.0 }, "fraction"),
            (PerturbationConfig::KillList { neurons: vec![40], at: 0.0 }, "neurons"),
            (PerturbationConfig::KillHalfSpace { direction: vec![1.0], at: 0.0 }, "direction"),
            (PerturbationConfig::MembraneNoise { sigma: -1.0, window: Window::ALWAYS }, "sigma"),
            (
                PerturbationConfig::InputPulse {
                    neurons: vec![0],
                    current: 1.0,
                    window: Window { start: 1.0, end: Some(0.5) },
                },
                "window.end",
            ),
        ] {
            let err = cfg.build(&d, rng(0)).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
