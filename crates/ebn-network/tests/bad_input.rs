//! Every invalid configuration is rejected at build time with a typed error that names the
//! field and the value; never a panic.

use ebn_basis::BasisConfig;
use ebn_core::WeightForm;
use ebn_core::{Error, SeedStreams};
use ebn_dynamics::{CommandConfig, FilteredNoise, TargetConfig};
use ebn_network::{
    DecoderConfig, Experiment, ExperimentConfig, InitialState, InitialWeights, Network, NetworkConfig, Plateau,
    TestConfig, TrainingConfig,
};
use ebn_neurons::EbnNeuron;

fn experiment() -> ExperimentConfig {
    ExperimentConfig {
        seed: 0,
        target: Some(TargetConfig::DampedOscillator.into()),
        data: None,
        integrator: Default::default(),
        network: NetworkConfig::paper(8, 2),
        slow_weights: InitialWeights::Zero,
        preload: Default::default(),
        training: Some(TrainingConfig {
            trials: 2,
            trial_duration: 0.1,
            command: Some(CommandConfig::FilteredNoise(FilteredNoise::paper_default()).into()),
            initial_state: InitialState::Zero,
            anneal: None,
            dropout: 0.0,
            bound: None,
            perturbations: vec![],
            feedback_gain: None,
            until_plateau: None,
        }),
        tests: vec![TestConfig {
            name: "t".into(),
            duration: 0.1,
            command: Some(CommandConfig::FilteredNoise(FilteredNoise::paper_default()).into()),
            initial_state: None,
            start: None,
            analyses: vec![],
            perturbations: vec![],
        }],
        record: Default::default(),
    }
}

/// Builds, expects an error, and checks that its message names `field` (and `value`).
fn rejects(cfg: &ExperimentConfig, field: &str, value: &str) -> Error {
    let err = Experiment::build(cfg).expect_err("the configuration should be rejected");
    let msg = err.to_string();
    assert!(msg.contains(field), "message does not name `{field}`: {msg}");
    assert!(msg.contains(value), "message does not give the value `{value}`: {msg}");
    err
}

#[test]
fn non_finite_parameters() {
    let mut c = experiment();
    c.network.mu = f64::NAN;
    assert!(matches!(rejects(&c, "network.mu", "NaN"), Error::InvalidParameter { .. }));
    let mut c = experiment();
    c.network.sigma_v = f64::INFINITY;
    rejects(&c, "network.sigma_v", "inf");
    let mut c = experiment();
    c.tests[0].initial_state = Some(vec![0.0, f64::NAN]);
    rejects(&c, "test[0].initial_state[1]", "NaN");
    let mut c = experiment();
    c.network.decoder = DecoderConfig::GaussianStd { std: f64::NAN };
    rejects(&c, "network.decoder.std", "NaN");
}

#[test]
fn non_positive_time_constants() {
    for bad in [0.0, -1.0] {
        let mut c = experiment();
        c.network.lambda = bad;
        rejects(&c, "network.lambda", &bad.to_string());
        let mut c = experiment();
        c.network.neuron = ebn_core::Spec::of("ebn", &EbnNeuron { lambda_v: bad });
        rejects(&c, "network.neuron.lambda_v", &bad.to_string());
        let mut c = experiment();
        c.network.dt = bad;
        rejects(&c, "network.dt", &bad.to_string());
        let mut c = experiment();
        c.tests[0].duration = bad;
        rejects(&c, "test[0].duration", &bad.to_string());
        let mut c = experiment();
        c.training.as_mut().unwrap().trial_duration = bad;
        rejects(&c, "training.trial_duration", &bad.to_string());
    }
}

#[test]
fn time_step_too_long_for_the_leak() {
    let mut c = experiment();
    c.network.neuron = ebn_core::Spec::of("ebn", &EbnNeuron { lambda_v: 50.0 });
    c.network.dt = 0.02; // dt lambda_v = 1
    let err = rejects(&c, "network.neuron.lambda_v", "50");
    assert!(err.to_string().contains("dt"), "{err}");
    let mut c = experiment();
    c.network.dt = 0.2; // dt lambda = 2 (and dt lambda_v = 2)
    rejects(&c, "network.lambda", "10");
}

#[test]
fn dimension_mismatches() {
    // Network dimension against the target.
    let mut c = experiment();
    c.network.dim = 3;
    assert!(matches!(rejects(&c, "network.dim", "3"), Error::DimensionMismatch { expected: 2, got: 3, .. }));
    // Decoder columns against the network dimension.
    let mut c = experiment();
    c.network.decoder = DecoderConfig::Explicit { columns: vec![vec![0.1, 0.1, 0.1]; 8] };
    rejects(&c, "network.decoder.columns[0]", "3");
    let mut c = experiment();
    c.network.decoder = DecoderConfig::Explicit { columns: vec![vec![0.1, 0.1]; 7] };
    rejects(&c, "network.decoder.columns", "7");
    // Initial state and command against the target.
    let mut c = experiment();
    c.tests[0].initial_state = Some(vec![1.0]);
    rejects(&c, "test[0].initial_state", "1");
    let mut c = experiment();
    c.training.as_mut().unwrap().initial_state = InitialState::Uniform { low: vec![0.0], high: vec![1.0, 1.0] };
    rejects(&c, "training.initial_state.low", "1");
    let points = |points: Vec<Vec<f64>>, jitter: f64| InitialState::Points { points, jitter };
    let mut c = experiment();
    c.training.as_mut().unwrap().initial_state = points(vec![vec![0.1, 0.2], vec![0.3]], 0.0);
    rejects(&c, "training.initial_state.points[1]", "1");
    let mut c = experiment();
    c.training.as_mut().unwrap().initial_state = points(vec![], 0.0);
    rejects(&c, "training.initial_state.points", "[]");
    let mut c = experiment();
    c.training.as_mut().unwrap().initial_state = points(vec![vec![0.1, 0.2]], -0.5);
    rejects(&c, "training.initial_state.jitter", "-0.5");
    let mut c = experiment();
    c.training.as_mut().unwrap().initial_state = points(vec![vec![0.1, f64::INFINITY]], 0.0);
    rejects(&c, "training.initial_state.points[0]", "inf");
    // A plateau rule with annealing (which counts from `trials`) or a zero window.
    let plateau = Plateau { window: 0, tolerance: 0.1, min_trials: 0, reductions: 0, factor: 0.25 };
    let mut c = experiment();
    c.training.as_mut().unwrap().until_plateau = Some(plateau);
    rejects(&c, "training.until_plateau.window", "0");
    let mut c = experiment();
    c.training.as_mut().unwrap().until_plateau = Some(Plateau { window: 2, factor: 0.0, ..plateau });
    rejects(&c, "training.until_plateau.factor", "0");
    let mut c = experiment();
    let t = c.training.as_mut().unwrap();
    t.until_plateau = Some(Plateau { window: 2, ..plateau });
    t.anneal = Some(ebn_network::Anneal::linear(0.5, 0.1));
    let err = Experiment::build(&c).unwrap_err().to_string();
    assert!(err.contains("until_plateau") && err.contains("anneal"), "{err}");
    let mut c = experiment();
    c.tests[0].command = Some(
        CommandConfig::FilteredNoise(FilteredNoise {
            amplitude: vec![1.0, 0.0, 0.0],
            ..FilteredNoise::paper_default()
        })
        .into(),
    );
    rejects(&c, "test[0].command.amplitude", "3");
    let mut c = experiment();
    c.training.as_mut().unwrap().command = Some(
        CommandConfig::FilteredNoise(FilteredNoise { amplitude: vec![1.0], ..FilteredNoise::paper_default() }).into(),
    );
    rejects(&c, "training.command.amplitude", "1");
}

#[test]
fn empty_populations() {
    let mut c = experiment();
    c.network.n = 0;
    rejects(&c, "network.n", "0");
    let mut c = experiment();
    c.network.basis = BasisConfig::RandomTanh { n_basis: 0, weight_std: 1.0, bias: 1.0, fast_tanh: false }.into();
    rejects(&c, "network.basis.n_basis", "0");
    let mut c = experiment();
    c.network.basis = BasisConfig::StateTanh {
        n_basis: 0,
        gain: 1.0,
        bias: 1.0,
        x_scale: None,
        encoders: Default::default(),
        fast_tanh: false,
        center_on: None,
    }
    .into();
    rejects(&c, "network.basis.n_basis", "0");
}

/// Found by `cargo xtask fuzz`: a bias of 1e308 made the uniform draw's range overflow and
/// panic inside rand. Scales are now bounded (basis::MAX_SCALE).
#[test]
fn basis_scales_that_overflow() {
    let mut c = experiment();
    c.network.basis = BasisConfig::StateTanh {
        n_basis: 5,
        gain: 1.0,
        bias: 1e308,
        x_scale: None,
        encoders: Default::default(),
        fast_tanh: false,
        center_on: None,
    }
    .into();
    rejects(&c, "bias", "1e308");
    let mut c = experiment();
    c.network.basis = BasisConfig::RandomTanh { n_basis: 5, weight_std: 1e300, bias: 1.0, fast_tanh: false }.into();
    rejects(&c, "weight_std", "1e300");
}

/// Sizes that would exhaust memory are errors before anything is allocated.
#[test]
fn sizes_that_would_exhaust_memory() {
    let mut c = experiment();
    c.network.n = 1 << 40;
    rejects(&c, "network.n", "1099511627776");
    let mut c = experiment();
    c.network.basis = BasisConfig::RandomTanh { n_basis: 1 << 40, weight_std: 1.0, bias: 1.0, fast_tanh: false }.into();
    rejects(&c, "n_basis", "1099511627776");
    let mut c = experiment();
    c.network.n = 100_000;
    c.network.slow_weights = WeightForm::Dense;
    rejects(&c, "network.n x n_basis", "10000000000");
    let mut c = experiment();
    c.tests[0].duration = 1e9;
    rejects(&c, "test[0].duration", "1e9");
}

#[test]
fn zero_decoder_column() {
    let mut columns = vec![vec![0.1, -0.1]; 8];
    columns[5] = vec![0.0, 0.0];
    let mut c = experiment();
    c.network.decoder = DecoderConfig::Explicit { columns };
    rejects(&c, "network.decoder.columns[5]", "zero");
}

#[test]
fn closed_form_needs_a_linear_target_and_the_identity_basis() {
    let mut c = experiment();
    c.slow_weights = InitialWeights::ClosedForm;
    c.target = Some(TargetConfig::VanDerPol(Default::default()).into());
    assert!(matches!(Experiment::build(&c), Err(Error::Unsupported(_))));
    let mut c = experiment();
    c.slow_weights = InitialWeights::ClosedForm;
    c.network.basis = BasisConfig::RandomTanh { n_basis: 4, weight_std: 1.0, bias: 1.0, fast_tanh: false }.into();
    assert!(matches!(Experiment::build(&c), Err(Error::Unsupported(_))));
}

#[test]
fn runtime_setters_validate() {
    let mut net = Network::build(&NetworkConfig::paper(4, 2), SeedStreams::new(0)).unwrap();
    let protocol = ebn_network::Protocol::training(20.0);
    assert!(net.set_protocol(ebn_network::Protocol { feedback_gain: -1.0, ..protocol }).is_err());
    assert!(net.set_protocol(ebn_network::Protocol { rate_scale: f64::NAN, ..protocol }).is_err());
    assert_eq!(net.protocol(), ebn_network::Protocol::training(NetworkConfig::paper(4, 2).feedback_gain), "unchanged");
    assert!(net.set_traces(&[0.0; 3]).is_err());
    assert!(net.set_traces(&[0.0, -1.0, 0.0, 0.0]).is_err());
    assert!(net.set_voltages(&[0.0, 0.0, f64::NAN, 0.0]).is_err());
    let wrong = ebn_core::SlowWeights::zeros(ebn_core::WeightForm::Dense, 4, 2, 4);
    assert!(matches!(net.set_slow_weights(wrong), Err(Error::Unsupported(_))));
    let wrong = ebn_core::SlowWeights::zeros(ebn_core::WeightForm::Factored, 4, 3, 4);
    assert!(net.set_slow_weights(wrong).is_err());
}

const VALID_TOML: &str = r#"
seed = 3

[target]
kind = "damped_oscillator"

[network]
n = 16
dim = 2
mu = 1e-4
nu = 1e-5
feedback_gain = 5.0

[network.basis]
kind = "identity"

[[test]]
name = "driven"
duration = 0.5

[test.command]
kind = "filtered_noise"
amplitude = [600.0, 0.0]
"#;

#[test]
fn toml_round_trip_and_unknown_keys() {
    let cfg = ExperimentConfig::from_toml(VALID_TOML).unwrap();
    assert_eq!(cfg.network.n, 16);
    assert_eq!(cfg.network.dt, 1e-4);
    Experiment::build(&cfg).unwrap();
    for (needle, typo, name) in [
        ("feedback_gain", "feedback_gian", "feedback_gian"),
        ("mu = 1e-4", "mu = 1e-4\nmuu = 3", "muu"),
        ("seed = 3", "seed = 3\nsed = 4", "sed"),
        ("amplitude =", "amplitud =", "amplitud"),
    ] {
        // The experiment's own keys are checked when the text is parsed; a component's
        // parameters (the command's `amplitud`) when the registry builds the component.
        let err = match ExperimentConfig::from_toml(&VALID_TOML.replacen(needle, typo, 1)) {
            Err(e) => e,
            Ok(cfg) => Experiment::build(&cfg).unwrap_err(),
        };
        assert!(matches!(err, Error::Parse(_)), "{err}");
        assert!(err.to_string().contains(&format!("`{name}`")), "`{name}` not named in: {err}");
    }
    // An unknown kind lists the kinds the registry knows.
    let err = Experiment::build(
        &ExperimentConfig::from_toml(&VALID_TOML.replacen("damped_oscillator", "duffing", 1)).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnknownKind { .. }), "{err}");
    assert!(err.to_string().contains("duffing") && err.to_string().contains("van_der_pol"), "{err}");
    // A file written for a fork, read without its registry: every unknown kind in one error,
    // in the order of the file, each with its place.
    let fork = VALID_TOML
        .replacen("damped_oscillator", "duffing", 1)
        .replacen("kind = \"identity\"", "kind = \"rbf\"", 1)
        .replacen(
            "feedback_gain = 5.0",
            "feedback_gain = 5.0\nneuron = { kind = \"adaptive\" }\nrule = { kind = \"trace\" }",
            1,
        )
        .replacen("kind = \"filtered_noise\"", "kind = \"chirp\"", 1);
    let err = Experiment::build(&ExperimentConfig::from_toml(&fork).unwrap()).unwrap_err();
    let Error::UnknownKind { field, kind, also, .. } = &err else { panic!("an unknown kind: {err}") };
    let named: Vec<String> = std::iter::once(format!("{field}={kind}"))
        .chain(also.iter().map(|e| match e {
            Error::UnknownKind { kind, field, .. } => format!("{field}={kind}"),
            other => panic!("not an unknown kind: {other}"),
        }))
        .collect();
    assert_eq!(
        named,
        [
            "target=duffing",
            "network.neuron=adaptive",
            "network.basis=rbf",
            "network.rule=trace",
            "test[0].command=chirp"
        ],
        "{err}"
    );
}
