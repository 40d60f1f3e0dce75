//! Named experiment configurations shared by the tests and the figure pipeline.

use crate::experiment::{ExperimentConfig, InitialWeights, TestConfig};
use ebn_core::WeightForm;
use ebn_dynamics::{CommandConfig, FilteredNoise, TargetConfig};
use ebn_engine::{NetworkConfig, RecordConfig};

/// The `coding` figure's network: the damped oscillator of MODEL.md §9 implemented by the
/// closed-form slow weights D^T (A + lambda I) D, no learning, no feedback (K = 0), no noise.
///
/// Authors' values (MODEL.md §9): N = 64, dt = 0.1 ms, lambda = 10 /s, D ~ N(0,1)/(2N), the
/// command. Project choices: lambda_v = lambda = 10 /s (the closed form assumes it), costs
/// mu = 0.4167e-2 / N^2 and nu = 0.0083e-2 / N^2, a hundred times below §9 (MODEL.md §5: the
/// §9 costs bias x_hat toward 0), a 3 s run, voltages of neurons 0-3 recorded.
pub fn coding(seed: u64, duration: f64, form: WeightForm) -> ExperimentConfig {
    let mut network = NetworkConfig::paper(64, 2);
    network.mu /= 100.0;
    network.nu /= 100.0;
    network.feedback_gain = 0.0;
    network.slow_weights = form;
    ExperimentConfig {
        seed,
        target: Some(TargetConfig::DampedOscillator.into()),
        data: None,
        integrator: ebn_dynamics::IntegratorConfig::Rk4.into(),
        network,
        slow_weights: InitialWeights::ClosedForm,
        preload: Default::default(),
        training: None,
        tests: vec![TestConfig {
            name: "driven".into(),
            duration,
            command: Some(CommandConfig::FilteredNoise(FilteredNoise::paper_default()).into()),
            initial_state: None,
            start: None,
            analyses: vec![],
            perturbations: vec![],
        }],
        record: RecordConfig { every: 10, voltages: vec![0, 1, 2, 3] },
    }
}

/// The smoke experiment of the tests, as an experiment file's text: the damped oscillator
/// (MODEL.md §9) learnt by N = 16 neurons with the §9 costs at that size (mu = 0.4167/N^2,
/// nu = 0.0083/N^2), feedback gain 5 and the local rule, three training trials of 0.3 s and
/// one 0.5 s test (`driven`), both under filtered noise. Tests edit it by replacing a line
/// (`seed = 5`, `n = 16`, `trials = 3`, `duration = 0.5`).
pub const fn smoke_toml() -> &'static str {
    r#"
seed = 5
[target]
kind = "damped_oscillator"
[network]
n = 16
dim = 2
mu = 1.6e-3
nu = 3.2e-5
feedback_gain = 5.0
rule = { kind = "local", eta = 10.0 }
[training]
trials = 3
trial_duration = 0.3
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
[[test]]
name = "driven"
duration = 0.5
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
"#
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smoke experiment parses, and holds the lines that tests replace.
    #[test]
    fn the_smoke_experiment_parses_with_its_editable_lines() {
        let config = ExperimentConfig::from_toml(smoke_toml()).unwrap();
        assert_eq!((config.seed, config.network.n, config.training.map(|t| t.trials)), (5, 16, Some(3)));
        for line in ["seed = 5", "n = 16", "feedback_gain = 5.0", "trials = 3", "duration = 0.5"] {
            assert!(smoke_toml().lines().any(|l| l == line), "{line}");
        }
    }
}
