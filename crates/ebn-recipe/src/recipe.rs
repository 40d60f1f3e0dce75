//! The recipe: every setting of an experiment derived from the system's attractor.
//!
//! Each derived value comes from a measurement of the system, scaled by one constant of the
//! recipe. The constants were calibrated once, on the shipped Lorenz example
//! (examples/lorenz.toml, the one system whose settings were found by hand): the recipe
//! applied to the catalogue's Lorenz system reproduces that example's range, time scale,
//! feedback gain, learning rate and command (docs/CATALOGUE.md lists each constant and the
//! measurement behind it). Every value lands in the experiment's configuration, so a fitted
//! run is reproducible from its config.json alone, and any value can be overridden.

use crate::survey::{Survey, SurveyOptions, survey};
use ebn_network::analysis::AttractorStats;
use ebn_network::core::{Error, Registry, Result, Spec, TargetSystem};
use ebn_network::{ExperimentConfig, InitialState, NetworkConfig, Plateau, TestConfig, TrainingConfig};
use serde::{Deserialize, Serialize};

/// Half-range of the normalised state: the attractor's 0.1 % and 99.9 % quantiles of each
/// component map to -1 and +1 (the Lorenz example's x spans about [-1, 1]).
pub const QUANTILE: f64 = 0.001;

/// The characteristic period in the network's time (s) every system is given: that of the
/// Lorenz example (Lorenz time slowed twofold), measured by the recipe's own formula.
pub const PERIOD_SECONDS: f64 = 1.68;

/// K = `FEEDBACK_PER_EXPANSION` x the 95th percentile over the attractor of the largest
/// expansion rate (the largest eigenvalue of the symmetric part of the Jacobian, in network
/// units): the error e = x - x_hat obeys de/dt = f(x) - f(x_hat) - K e + ..., which contracts
/// only where K exceeds that rate. Calibrated on the Lorenz example (K = 20 worked, 5 did not).
pub const FEEDBACK_PER_EXPANSION: f64 = 4.0;

/// Bounds of the derived feedback gain (1/s): below 5 the teacher is barely tracked, above
/// 100 a step of K dt = 0.01 starts to matter.
pub const FEEDBACK_RANGE: (f64, f64) = (5.0, 100.0);

/// Raw learning rate = `ETA_MARGIN` (lambda + K) / the largest eigenvalue of E[Psi Psi^T] on
/// the attractor. The rule dW = eta e Psi^T converges along each eigendirection of E[Psi Psi^T]
/// at a rate eta times its eigenvalue, and the fastest of these rates must stay below the rate
/// lambda + K at which the error follows (else the loop of weights and error rings):
/// normalising by the largest eigenvalue (not by N_b, nor by the energy sum_i Psi_i^2, which
/// is the sum of all eigenvalues) and scaling with lambda + K gives every basis and system the
/// same margin. Calibrated on the Lorenz example (eta = 100 per N_b at N_b = 500 with its
/// uncentred features: raw eta 0.2 times the largest eigenvalue 230 is 46 /s, 1.6 times
/// lambda + K = 28.8 /s).
pub const ETA_MARGIN: f64 = 1.6;

/// Standard deviation of the training command in an on-window, per component, relative to
/// the root-mean-square speed of that component on the attractor (Lorenz example: amplitude 5
/// on a raw filter output of standard deviation ~0.05).
pub const COMMAND_PER_SPEED: f64 = 0.16;

/// Training trials whose teacher leaves the box |z_j| <= `BOUND` (normalised units) are
/// redrawn: a displaced initial state or the command can throw some flows off their attractor
/// to infinity (Rossler's z, once negative with x > c, grows without bound), and such a trial
/// teaches nothing about the attractor.
pub const BOUND: f64 = 3.0;

/// The gains `auto_gain` chooses from.
pub const GAINS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

/// The ridge, as a fraction of the largest eigenvalue of E[Psi Psi^T], of the regression that
/// scores a gain: the rule learns a direction of eigenvalue mu at the rate eta mu, so in a
/// training of ~10^3 s at the recipe's eta only directions above ~10^-4 of the largest are
/// learned (on the development systems the learned field errors lie between the ridge errors
/// at 10^-4 and 10^-3).
pub const AUTO_GAIN_RIDGE: f64 = 1e-4;

/// Options of the recipe: the network's size and anything to override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecipeOptions {
    /// Master seed of the experiment.
    pub seed: u64,
    /// Neurons N.
    pub n: usize,
    /// Basis functions N_b (state-space tanh features).
    pub n_basis: usize,
    /// Gain of the state-space features (per unit of the normalised state); their offsets
    /// are drawn in (-2 gain, 2 gain), so that their kinks cover |u z| <= 2 at any gain.
    pub basis_gain: f64,
    /// Choose the gain among [`GAINS`] by the ridge-regression field error of each basis
    /// ([`AUTO_GAIN_RIDGE`]); `basis_gain` is then ignored. Default true.
    pub auto_gain: bool,
    /// Centre the features on the attractor (`center_on`, see ebn_basis::Centered).
    pub centered: bool,
    /// Spikes allowed per step: 1 is the paper's neuron (`ebn`); more uses the
    /// fire-update-repeat neuron (`ebn_multi_spike`), whose greedy choices are the same but
    /// which is not held to 1/dt spikes per second.
    pub max_spikes: usize,
    /// Where the survey starts (system units); default: a unit vector's tenth in every
    /// component (0.1, ..., 0.1), or the catalogue's point for a catalogue flow.
    pub initial_state: Option<Vec<f64>>,
    /// Trial length (s).
    pub trial_duration: f64,
    /// Most training trials (the plateau usually stops earlier).
    pub max_trials: usize,
    /// The plateau rule on the learning curve.
    pub plateau: Plateau,
    /// Length of the free-running test (s).
    pub test_duration: f64,
    /// Candidate initial states drawn from the attractor for training.
    pub initial_points: usize,
    /// Standard deviation of their displacement (normalised units).
    pub jitter: f64,
    /// The survey's length and accuracy.
    pub survey: SurveyOptions,
    /// Overrides of derived values.
    pub feedback_gain: Option<f64>,
    /// Override of the learning rate (per N_b, as `rule.eta` in files).
    pub eta: Option<f64>,
}

impl Default for RecipeOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            n: 200,
            n_basis: 500,
            max_spikes: 8,
            centered: true,
            basis_gain: 1.0,
            auto_gain: true,
            initial_state: None,
            trial_duration: 4.0,
            max_trials: 400,
            plateau: Plateau { window: 25, tolerance: 0.05, min_trials: 100, reductions: 2, factor: 0.25 },
            test_duration: 200.0,
            initial_points: 256,
            jitter: 0.05,
            survey: SurveyOptions::default(),
            feedback_gain: None,
            eta: None,
        }
    }
}

/// Everything the recipe measured and derived (written as recipe.json beside a fitted run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The system, in its own units.
    pub system: Spec,
    /// Centre of the attractor (system units): midpoints of the quantile ranges.
    pub center: Vec<f64>,
    /// Half of each component's quantile range (system units).
    pub scale: Vec<f64>,
    /// System time units per second.
    pub speed: f64,
    /// Characteristic period of the system (system time units).
    pub period_system: f64,
    /// 95th percentile over the attractor of the largest expansion rate (1/s, network units).
    pub expansion_p95: f64,
    /// Largest expansion rate seen on the attractor (1/s).
    pub expansion_max: f64,
    /// Root-mean-square speed of each normalised component (1/s).
    pub rms_speed: Vec<f64>,
    /// 99.9th percentile of the normalised state's speed ||dz/dt|| (1/s).
    pub speed_p999: f64,
    /// Mean over the attractor of sum_i Psi_i^2.
    pub basis_energy: f64,
    /// Largest eigenvalue of E[Psi Psi^T] over the attractor.
    pub basis_top_eigenvalue: f64,
    /// The basis gain used.
    pub basis_gain: f64,
    /// With `auto_gain`: each candidate gain and its ridge field error.
    pub gain_scan: Vec<(f64, f64)>,
    /// The derived feedback gain (1/s).
    pub feedback_gain: f64,
    /// The derived learning rate per N_b (`rule.eta`).
    pub eta: f64,
    /// The teacher's long-run statistics in normalised units (time in s).
    pub teacher_mean: Vec<f64>,
    /// See `teacher_mean`.
    pub teacher_std: Vec<f64>,
    /// Dominant frequency of the teacher (Hz).
    pub teacher_frequency: f64,
    /// Correlation dimension of the teacher's attractor.
    pub teacher_correlation_dimension: Option<f64>,
}

/// A recipe and what it was derived from: the survey samples in normalised units.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The derived values.
    pub recipe: Recipe,
    /// The complete experiment.
    pub config: ExperimentConfig,
    /// The surveyed attractor in normalised units, one sample every `sample_interval` s.
    pub attractor: Vec<Vec<f64>>,
    /// Time between attractor samples (s).
    pub sample_interval: f64,
}

/// The q-quantile of `v` (sorted copy, nearest rank).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

/// The largest eigenvalue of the symmetric part of the Jacobian of `system` at `x`
/// (central differences): the fastest rate at which two nearby states separate there.
pub fn expansion_rate(system: &dyn TargetSystem, x: &[f64]) -> Result<f64> {
    let j = x.len();
    let jac = jacobian(system, x);
    let sym = faer::Mat::<f64>::from_fn(j, j, |r, c| 0.5 * (jac[r][c] + jac[c][r]));
    let eig = sym
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|_| Error::degenerate("expansion rate", "the eigenvalue solver did not converge"))?;
    eig.into_iter()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        .ok_or_else(|| Error::degenerate("expansion rate", "a zero-dimensional state"))
}

/// The Jacobian of `system` at `x` by central differences (step 1e-6 (1 + |x_i|)).
pub fn jacobian(system: &dyn TargetSystem, x: &[f64]) -> Vec<Vec<f64>> {
    let j = x.len();
    let (mut fp, mut fm) = (vec![0.0; j], vec![0.0; j]);
    let mut y = x.to_vec();
    let mut jac = vec![vec![0.0; j]; j];
    for c in 0..j {
        let h = 1e-6 * (1.0 + x[c].abs());
        y[c] = x[c] + h;
        system.vector_field(&y, &mut fp);
        y[c] = x[c] - h;
        system.vector_field(&y, &mut fm);
        y[c] = x[c];
        for r in 0..j {
            jac[r][c] = (fp[r] - fm[r]) / (2.0 * h);
        }
    }
    jac
}

/// Fits an experiment to the target `system` (a spec the registry resolves).
pub fn fit(system: &Spec, registry: &Registry, options: &RecipeOptions) -> Result<Fitted> {
    let raw = registry.target(system, "target")?;
    let j = raw.dim();
    let x0 = match (&options.initial_state, catalogue_point(system)) {
        (Some(x), _) => x.clone(),
        (None, Some(x)) => x,
        (None, None) => vec![0.1; j],
    };
    let Survey { samples, sample_interval, .. } =
        survey(raw.as_ref(), &x0, &options.survey).map_err(|e| e.within("target"))?;

    // Units: quantile ranges.
    let mut center = vec![0.0; j];
    let mut scale = vec![0.0; j];
    for c in 0..j {
        let mut v: Vec<f64> = samples.iter().map(|s| s[c]).collect();
        let (lo, hi) = (quantile(&mut v, QUANTILE), quantile(&mut v, 1.0 - QUANTILE));
        if hi.is_nan() || lo.is_nan() || hi <= lo {
            return Err(Error::degenerate("target", format!("component {c} does not vary on the attractor")));
        }
        center[c] = 0.5 * (lo + hi);
        scale[c] = 0.5 * (hi - lo);
    }
    // Time: the characteristic period of the normalised state becomes PERIOD_SECONDS.
    let norm_unit = ebn_network::dynamics::Normalized::new(center.clone(), scale.clone(), 1.0, raw)?;
    let z: Vec<Vec<f64>> = samples.iter().map(|s| norm_unit.to_normalized(s)).collect();
    let period_system = characteristic_period(&norm_unit, &z);
    let speed = period_system / PERIOD_SECONDS;
    let normalized_spec = Spec::new("normalized")
        .with("center", &center)
        .with("scale", &scale)
        .with("speed", speed)
        .with("target", system);
    let teacher = registry.target(&normalized_spec, "target")?;
    let interval_s = sample_interval / speed;

    // Rates, on at most 4000 samples.
    let stride = (z.len() / 4000).max(1);
    let mut rates = Vec::new();
    let mut speeds = Vec::new();
    let mut sq = vec![0.0; j];
    let mut f = vec![0.0; j];
    for s in z.iter().step_by(stride) {
        rates.push(expansion_rate(teacher.as_ref(), s)?);
        teacher.vector_field(s, &mut f);
        speeds.push(f.iter().map(|v| v * v).sum::<f64>().sqrt());
        for c in 0..j {
            sq[c] += f[c] * f[c];
        }
    }
    let m = rates.len() as f64;
    let rms_speed: Vec<f64> = sq.iter().map(|q| (q / m).sqrt()).collect();
    let expansion_p95 = quantile(&mut rates.clone(), 0.95);
    let expansion_max = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let speed_p999 = quantile(&mut speeds, 0.999);
    let feedback_gain = options
        .feedback_gain
        .unwrap_or_else(|| (FEEDBACK_PER_EXPANSION * expansion_p95).clamp(FEEDBACK_RANGE.0, FEEDBACK_RANGE.1));

    // Training states from the first 80 % of the survey, the test's start from the rest.
    let pool = z.len() * 4 / 5;
    let every = (pool / options.initial_points.max(1)).max(1);
    let points: Vec<Vec<f64>> = z[..pool].iter().step_by(every).take(options.initial_points).cloned().collect();
    let test_start = z[pool + (z.len() - pool) / 2].clone();

    let stats = AttractorStats::of(&z, interval_s)?;
    let center_on = options.centered.then(|| points.clone());
    let mut config = ExperimentConfig {
        seed: options.seed,
        target: Some(normalized_spec.clone()),
        data: None,
        integrator: Spec::new("rk4"),
        network: network(j, options, feedback_gain, 0.0, center_on.clone()),
        slow_weights: Default::default(),
        preload: Default::default(),
        training: Some(TrainingConfig {
            trials: options.max_trials,
            trial_duration: options.trial_duration,
            command: Some(
                Spec::new("filtered_noise")
                    .with("amplitude", rms_speed.iter().map(|v| COMMAND_PER_SPEED * v).collect::<Vec<f64>>())
                    .with("windows", [[0.0, 0.1]])
                    .with("unit_variance", true),
            ),
            initial_state: InitialState::Points { points, jitter: options.jitter },
            anneal: None,
            dropout: 0.0,
            bound: Some(vec![BOUND; j]),
            perturbations: Vec::new(),
            feedback_gain: None,
            until_plateau: Some(options.plateau),
        }),
        tests: vec![TestConfig {
            name: "free".into(),
            duration: options.test_duration,
            command: Some(Spec::new("zero")),
            initial_state: Some(test_start),
            start: None,
            analyses: vec![
                Spec::new("nrmse_horizon").with("horizon", 0.25).with("key", "nrmse_at_0p25s"),
                Spec::new("nrmse_horizon").with("horizon", 1.0).with("key", "nrmse_at_1s"),
                Spec::new("attractor").with("skip", 10.0f64.min(options.test_duration / 4.0)),
            ],
            perturbations: Vec::new(),
        }],
        record: Default::default(),
    };
    // The gain: given, or the best ridge fit among GAINS.
    let mut gain_scan = Vec::new();
    let mut basis_gain = options.basis_gain;
    if options.auto_gain {
        let pts: Vec<&Vec<f64>> = z.iter().step_by((z.len() / 2000).max(1)).collect();
        for g in GAINS {
            let mut trial = config.clone();
            trial.network =
                network(j, &RecipeOptions { basis_gain: g, ..options.clone() }, feedback_gain, 0.0, center_on.clone());
            let net = ebn_network::Experiment::build_in(&trial, registry)?.initial_network()?;
            let ridge = crate::diagnose::Ridge::OfLargestEigenvalue(AUTO_GAIN_RIDGE);
            let lambda = trial.network.lambda;
            let e = crate::diagnose::ridge_field_error(teacher.as_ref(), net.basis(), lambda, &pts, ridge)
                .unwrap_or(f64::INFINITY);
            gain_scan.push((g, e));
        }
        basis_gain = gain_scan.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map_or(1.0, |b| b.0);
        config.network = network(j, &RecipeOptions { basis_gain, ..options.clone() }, feedback_gain, 0.0, center_on);
    }
    // The learning rate from the basis actually drawn for this seed.
    let experiment = ebn_network::Experiment::build_in(&config, registry)?;
    let network = experiment.initial_network()?;
    let nb = network.basis().len();
    let mut psi = vec![0.0; nb];
    let rows: Vec<&Vec<f64>> = z.iter().step_by((z.len() / 2000).max(1)).collect();
    let mut phi = faer::Mat::<f64>::zeros(rows.len(), nb);
    for (r, s) in rows.iter().enumerate() {
        if !network.basis().evaluate_at_state(s, &mut psi) {
            return Err(Error::Unsupported("the recipe's basis is not a function of the decoded state".into()));
        }
        for (c, p) in psi.iter().enumerate() {
            phi[(r, c)] = *p;
        }
    }
    let gram = phi.transpose() * &phi * faer::Scale(1.0 / rows.len() as f64);
    let basis_energy = (0..nb).map(|i| gram[(i, i)]).sum::<f64>();
    let basis_top_eigenvalue = gram
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|_| Error::degenerate("basis", "the eigenvalue solver did not converge"))?
        .into_iter()
        .fold(0.0f64, f64::max);
    let lambda = config.network.lambda;
    let eta = options.eta.unwrap_or(ETA_MARGIN * (lambda + feedback_gain) / basis_top_eigenvalue * nb as f64);
    config.network = network_config_with_eta(config.network, eta);
    ebn_network::Experiment::build_in(&config, registry)?;
    let recipe = Recipe {
        system: system.clone(),
        center,
        scale,
        speed,
        period_system,
        expansion_p95,
        expansion_max,
        rms_speed,
        speed_p999,
        basis_energy,
        basis_top_eigenvalue,
        basis_gain,
        gain_scan,
        feedback_gain,
        eta,
        teacher_mean: stats.mean,
        teacher_std: stats.std,
        teacher_frequency: stats.frequency,
        teacher_correlation_dimension: stats.correlation_dimension,
    };
    Ok(Fitted { recipe, config, attractor: z, sample_interval: interval_s })
}

/// 2 pi sqrt(sum_j var(z_j) / sum_j E[(dz_j/dt)^2]) over the samples `z` of `system`.
pub fn characteristic_period(system: &dyn TargetSystem, z: &[Vec<f64>]) -> f64 {
    let j = system.dim();
    let n = z.len() as f64;
    let mut f = vec![0.0; j];
    let (mut var, mut sp) = (0.0, 0.0);
    for c in 0..j {
        let mean = z.iter().map(|s| s[c]).sum::<f64>() / n;
        var += z.iter().map(|s| (s[c] - mean).powi(2)).sum::<f64>() / n;
    }
    for s in z {
        system.vector_field(s, &mut f);
        sp += f.iter().map(|v| v * v).sum::<f64>() / n;
    }
    2.0 * std::f64::consts::PI * (var / sp).sqrt()
}

/// The catalogue's point on the attractor, for a `catalogue` spec.
fn catalogue_point(system: &Spec) -> Option<Vec<f64>> {
    if system.kind != "catalogue" {
        return None;
    }
    let name = system.params.get("name")?.as_str()?.to_string();
    ebn_network::dynamics::flows::entry(&name).map(|e| e.initial.to_vec())
}

/// The network of the recipe: N neurons, no spike costs, the derived K, state-space tanh
/// features over the normalised range (gain 1, offsets in (-2, 2)), the paper's local rule.
fn network(
    j: usize,
    options: &RecipeOptions,
    feedback_gain: f64,
    eta: f64,
    center_on: Option<Vec<Vec<f64>>>,
) -> NetworkConfig {
    let mut net = NetworkConfig::paper(options.n, j);
    net.mu = 0.0;
    net.nu = 0.0;
    net.feedback_gain = feedback_gain;
    if options.max_spikes > 1 {
        net.neuron = Spec::new("ebn_multi_spike").with("lambda_v", net.lambda).with("max_spikes", options.max_spikes);
    }
    net.basis = Spec::new("state_tanh")
        .with("n_basis", options.n_basis)
        .with("gain", options.basis_gain)
        .with("bias", 2.0 * options.basis_gain);
    if let Some(points) = center_on {
        net.basis.set("center_on", points);
    }
    network_config_with_eta(net, eta)
}

fn network_config_with_eta(mut net: NetworkConfig, eta: f64) -> NetworkConfig {
    net.rule = Spec::new("local").with("eta", eta);
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constants were calibrated on the Lorenz example (examples/lorenz.toml): the recipe
    /// applied to the catalogue's Lorenz, with the example's uncentred features, derives that
    /// example's settings again (K = 20 /s, eta = 100 per N_b, one Lorenz unit in 2 s, the
    /// state in about [-1, 1]). A constant changed without re-deriving it fails here.
    #[test]
    fn the_recipe_derives_the_lorenz_example_settings() {
        let options = RecipeOptions { centered: false, auto_gain: false, ..RecipeOptions::default() };
        let spec = Spec::new("catalogue").with("name", "lorenz");
        let fitted = fit(&spec, ebn_network::builtins(), &options).unwrap();
        let r = &fitted.recipe;
        assert!((r.feedback_gain - 20.0).abs() < 2.0, "K {}", r.feedback_gain);
        assert!((r.eta - 100.0).abs() < 10.0, "eta {}", r.eta);
        assert!((r.speed - 0.5).abs() < 0.05, "speed {}", r.speed);
        for (c, s) in r.scale.iter().enumerate() {
            // The example scales every component by 1/20.
            assert!((s / 20.0 - 1.0).abs() < 0.2, "scale[{c}] = {s}");
        }
        // Every derived value is in the configuration.
        let net = &fitted.config.network;
        assert_eq!(net.feedback_gain, r.feedback_gain);
        assert_eq!(net.rule.params["eta"], serde_json::json!(r.eta));
        let target = fitted.config.target.as_ref().unwrap();
        assert_eq!(target.kind, "normalized");
        assert_eq!(target.params["speed"], serde_json::json!(r.speed));
        // The normalised attractor fills about [-1, 1] and has the recipe's period.
        let teacher = ebn_network::builtins().target(target, "target").unwrap();
        let p = characteristic_period(teacher.as_ref(), &fitted.attractor);
        assert!((p - PERIOD_SECONDS).abs() < 1e-9 * PERIOD_SECONDS.max(1.0) + 1e-6, "{p}");
        for c in 0..3 {
            let max = fitted.attractor.iter().map(|z| z[c].abs()).fold(0.0, f64::max);
            assert!((1.0..1.5).contains(&max), "component {c}: max |z| = {max}");
        }
    }

    /// Overrides win over derived values, and a system that settles is a typed error.
    #[test]
    fn overrides_and_bad_systems() {
        let small = RecipeOptions {
            feedback_gain: Some(7.0),
            eta: Some(3.0),
            n: 20,
            n_basis: 30,
            survey: SurveyOptions { periods: 40.0, transient_periods: 5.0, ..SurveyOptions::default() },
            ..RecipeOptions::default()
        };
        let spec = Spec::new("catalogue").with("name", "rossler");
        let fitted = fit(&spec, ebn_network::builtins(), &small).unwrap();
        assert_eq!(fitted.config.network.feedback_gain, 7.0);
        assert_eq!(fitted.recipe.eta, 3.0);
        let settles = Spec::new("bistable").with("gain", 5.0);
        let err =
            fit(&settles, ebn_network::builtins(), &RecipeOptions { initial_state: Some(vec![0.3]), ..small.clone() })
                .unwrap_err()
                .to_string();
        assert!(err.contains("fixed point"), "{err}");
        let err = fit(
            &Spec::new("lorenz"),
            ebn_network::builtins(),
            &RecipeOptions { initial_state: Some(vec![1.0]), ..small },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("initial_state"), "{err}");
    }
}
