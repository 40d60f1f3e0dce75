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
