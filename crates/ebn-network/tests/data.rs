//! Learning from recorded data (crate::data): a recording replayed at dt is the vector-field
//! teacher bit for bit; a coarse recording teaches what the vector field teaches; bad
//! combinations are typed errors.

use ebn_core::{Error, WeightForm};
use ebn_dynamics::{CommandConfig, FilteredNoise, LinearSystem, TargetConfig};
use ebn_network::data::{DataConfig, RecordedData};
use ebn_network::plasticity::RuleConfig;
use ebn_network::{
    Experiment, ExperimentConfig, InitialState, InitialWeights, Network, NetworkConfig, StoredWeights, TestConfig,
    TrainingConfig, TrainingState, builtins, linear_slow_weights,
};

const DT: f64 = 1e-4;
const TRIAL: f64 = 1.5;

fn linear(trials: usize) -> ExperimentConfig {
    let mut network = NetworkConfig::paper(64, 2);
    network.slow_weights = WeightForm::Factored;
    network.rule = RuleConfig::Local { eta: 10.0 }.into();
    // Half the paper's amplitude: one continuous recording carries the energy of one window
    // into the next, and at the paper's amplitude its state leaves the range that 64
    // neurons represent (mean ||x||^2 6.2 in the second window, against 1.0 in a trial from
    // rest).
    let command =
        CommandConfig::FilteredNoise(FilteredNoise { amplitude: vec![300.0, 0.0], ..FilteredNoise::paper_default() });
    ExperimentConfig {
        seed: 1,
        target: Some(TargetConfig::DampedOscillator.into()),
        data: None,
        integrator: Default::default(),
        network,
        slow_weights: InitialWeights::Zero,
        preload: Default::default(),
        training: Some(TrainingConfig {
            trials,
            trial_duration: TRIAL,
            command: Some(command.clone().into()),
            initial_state: InitialState::Zero,
            anneal: None,
            dropout: 0.0,
            bound: None,
            perturbations: vec![],
            feedback_gain: None,
            until_plateau: None,
        }),
        tests: vec![TestConfig {
            name: "driven".into(),
            duration: TRIAL,
            command: Some(command.into()),
            initial_state: None,
            start: None,
            analyses: vec![],
            perturbations: vec![],
        }],
        record: Default::default(),
    }
}

/// The teacher of `windows` consecutive training trials run as one continuous trajectory
/// (window k driven by trial k's command), sampled every `every` steps.
fn record(windows: usize, every: usize) -> RecordedData {
    let mut exp = Experiment::build(&linear(windows)).unwrap();
    let steps = (TRIAL / DT).round() as usize;
    let (mut t, mut xs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    let mut x = vec![0.0; 2];
    let mut c = vec![0.0; 2];
    for w in 0..windows {
        let (_, mut stream) = exp.training_inputs(w).unwrap();
        for n in 0..steps {
            stream.next(&mut c);
            let k = w * steps + n;
            if k.is_multiple_of(every) {
                t.push(k as f64 * DT);
                xs.push(x.clone());
                cs.push(c.clone());
            }
            exp.step_teacher(&mut x, &c);
        }
    }
    t.push((windows * steps) as f64 * DT);
    xs.push(x);
    cs.push(vec![0.0; 2]);
    RecordedData::new(t, xs, Some(cs)).unwrap()
}

fn data_config(text: &str) -> DataConfig {
    toml::from_str(&format!("file = 'in memory'\n{text}")).unwrap()
}

/// A data experiment: training replays [0, train_end), one test replays from `test_start`.
fn replaying(trials: usize, train_end: f64, test_start: f64, keep_target: bool) -> ExperimentConfig {
    let mut config = linear(trials);
    if !keep_target {
        config.target = None;
    }
    config.data = Some(data_config(&format!("c = ['c']\ntrain = [0.0, {train_end}]")));
    let training = config.training.as_mut().unwrap();
    training.command = None;
    config.tests[0].command = None;
    config.tests[0].start = Some(test_start);
    config
}

fn train(exp: &mut Experiment, trials: usize) -> (Network, TrainingState) {
    let mut net = exp.initial_network().unwrap();
    let mut state = TrainingState::default();
    for _ in 0..trials {
        exp.train_trial(&mut net, &mut state).unwrap();
    }
    (net, state)
}

#[test]
fn a_recording_sampled_at_dt_teaches_bit_for_bit_what_the_vector_field_teaches() {
    let data = record(1, 1);
    let mut by_field = Experiment::build(&linear(1)).unwrap();
    let (net_field, state_field) = train(&mut by_field, 1);
    let mut by_data = Experiment::build_with_data(&replaying(1, TRIAL, 0.0, false), builtins(), Some(data)).unwrap();
    let (net_data, state_data) = train(&mut by_data, 1);
    assert!(by_data.teacher().is_none());
    assert_eq!(state_field.learning_curve, state_data.learning_curve);
    assert_eq!(
        StoredWeights::from_weights(net_field.slow_weights()),
        StoredWeights::from_weights(net_data.slow_weights())
    );
}

#[test]
fn a_coarse_recording_teaches_the_closed_form_and_predicts_held_out_data() {
    // 12 training windows and one held-out window, sampled at 1 kHz (10 steps of dt).
    let trials = 12;
    let data = record(trials + 1, 10);
    let end = trials as f64 * TRIAL;
    let mut exp = Experiment::build_with_data(&replaying(trials, end, end, true), builtins(), Some(data)).unwrap();
    let (mut net, _) = train(&mut exp, trials);
    let d = net.decoder();
    let ideal = linear_slow_weights(LinearSystem::damped_oscillator().matrix(), d, 10.0, WeightForm::Dense).unwrap();
    let flat = |w: &ebn_core::Mat<f64>| (0..w.ncols()).flat_map(|c| w.col_as_slice(c).to_vec()).collect::<Vec<_>>();
    let r = ebn_analysis::correlation(&flat(&net.slow_weights().synaptic(d)), &flat(ideal.matrix())).unwrap();
    // The vector-field teacher reaches 0.8 after 12 trials at twice this amplitude
    // (tests/learning.rs); measured here 0.96, and held-out NRMSE 0.58 against 0.61.
    assert!(r > 0.8, "correlation with the closed form {r}");

    // The held-out window, driven by its recorded command, against the network trained on
    // the vector field (the same experiment, training from [target]).
    let held_out = exp.run_test(&mut net, 0).unwrap();
    let nrmse_data = ebn_analysis::nrmse(&held_out.x, &held_out.x_hat).unwrap();
    let mut field_config = replaying(trials, end, end, true);
    field_config.data.as_mut().unwrap().train = None;
    field_config.training = linear(trials).training;
    let mut by_field = Experiment::build_with_data(&field_config, builtins(), Some(record(trials + 1, 10))).unwrap();
    let (mut net_field, _) = train(&mut by_field, trials);
    let rec = by_field.run_test(&mut net_field, 0).unwrap();
    let nrmse_field = ebn_analysis::nrmse(&rec.x, &rec.x_hat).unwrap();
    assert_eq!(rec.x, held_out.x, "both tests replay the same recorded window");
    assert!(nrmse_data < 2.0 * nrmse_field, "held-out NRMSE {nrmse_data} (data) vs {nrmse_field} (vector field)");
}

#[test]
fn bad_combinations_are_typed_errors() {
    let data = || Some(record(2, 10));
    let build = |c: &ExperimentConfig| Experiment::build_with_data(c, builtins(), data()).unwrap_err().to_string();
    let config = replaying(2, 3.0, 1.0, false);
    let e = Experiment::build(&config).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)) && e.to_string().contains("build_with_data"), "{e}");
    let mut c = config.clone();
    c.tests[0].start = Some(2.0);
    assert!(build(&c).contains("within the recording [0, 3]"), "{}", build(&c));
    let mut c = config.clone();
    c.tests[0].command = linear(1).tests[0].command.clone();
    assert!(build(&c).contains("test[0].command with test[0].start"), "{}", build(&c));
    let mut c = config.clone();
    c.training.as_mut().unwrap().command = linear(1).training.unwrap().command;
    assert!(build(&c).contains("training.command with data.train"), "{}", build(&c));
    let mut c = config.clone();
    c.tests[0].start = None;
    c.tests[0].command = linear(1).tests[0].command.clone();
    assert!(build(&c).contains("needs a [target]"), "{}", build(&c));
    let mut c = config.clone();
    c.data.as_mut().unwrap().train = Some([0.0, 1.0]);
    assert!(build(&c).contains("at least one trial long"), "{}", build(&c));
    let mut c = linear(1);
    c.tests[0].start = Some(0.0);
    c.tests[0].command = None;
    assert!(Experiment::build(&c).unwrap_err().to_string().contains("needs a [data] recording"));
    let mut c = config;
    c.network = NetworkConfig::paper(64, 3);
    assert!(build(&c).contains("data.x (components"), "{}", build(&c));
}
