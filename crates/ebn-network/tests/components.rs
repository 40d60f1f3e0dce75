//! The open component design from the inside: the registry, the spike policy, perturbation
//! contexts, perturbations declared in files.

use ebn_core::{
    Error, InputContext, NeuronModel, Perturbation, PerturbationContext, Registry, Result, Rng, Spec, Stream, coding,
};
use ebn_network::neurons::{EbnNeuron, EbnState};
use ebn_network::{
    Experiment, ExperimentConfig, Network, NetworkConfig, Overrides, Protocol, RunSettings, builtin_registry, builtins,
};

/// The EBN neuron with a spike policy of up to `cap` spikes per step (fire the largest,
/// apply its fast weights, repeat), counting the spikes it is told of.
#[derive(Debug, Clone)]
struct Burst {
    inner: EbnNeuron,
    cap: usize,
}

#[derive(Debug, Clone)]
struct BurstState {
    inner: EbnState,
    told: Vec<u32>,
}

impl NeuronModel for Burst {
    type State = BurstState;
    fn validate(&self, dt: f64) -> Result<()> {
        self.inner.validate(dt)
    }
    fn init_state(&self, n: usize, rng: &mut Rng) -> BurstState {
        BurstState { inner: self.inner.init_state(n, rng), told: vec![0; n] }
    }
    fn voltages<'a>(&self, s: &'a BurstState) -> &'a [f64] {
        self.inner.voltages(&s.inner)
    }
    fn voltages_mut<'a>(&self, s: &'a mut BurstState) -> &'a mut [f64] {
        self.inner.voltages_mut(&mut s.inner)
    }
    fn integrate(&self, s: &mut BurstState, input: &[f64], dt: f64) {
        self.inner.integrate(&mut s.inner, input, dt);
    }
    fn select_spike(&self, s: &BurstState, thresholds: &[f64]) -> Option<usize> {
        self.inner.select_spike(&s.inner, thresholds)
    }
    fn on_spike(&self, s: &mut BurstState, k: usize) {
        s.told[k] += 1;
    }
    fn max_spikes_per_step(&self) -> usize {
        self.cap
    }
}

#[test]
fn a_spike_policy_may_fire_several_neurons_per_step_each_lowering_the_loss() {
    let config = NetworkConfig::paper(30, 2);
    let neuron = Burst { inner: EbnNeuron::default(), cap: 30 };
    let mut net =
        Network::build_generic(&config, ebn_core::SeedStreams::new(2), neuron, builtins(), Overrides::default())
            .unwrap();
    // A large error to encode in one step: x = (0.6, -0.4), x_hat = 0, V = D^T x.
    let x = [0.6, -0.4];
    let v: Vec<f64> = (0..30).map(|i| coding::dot(net.decoder().col_as_slice(i), &x)).collect();
    net.set_voltages(&v).unwrap();
    let loss = |net: &Network<Burst>| {
        let e: Vec<f64> = x.iter().zip(net.readout()).map(|(a, b)| a - b).collect();
        coding::dot(&e, &e) + config.mu * coding::dot(net.traces(), net.traces())
    };
    let mut before = loss(&net);
    let mut fired = 0;
    while let Some(_k) = net.fire() {
        let after = loss(&net);
        assert!(after < before, "a spike raised the loss: {before} -> {after}");
        before = after;
        fired += 1;
    }
    assert!(fired > 1, "the error needs several spikes");
    // One step under the same policy fires up to the cap, and the model is told of each.
    net.reset_state();
    net.set_voltages(&v).unwrap();
    let spikes = net.step(&[0.0, 0.0], None).to_vec();
    assert!(spikes.len() > 1, "{spikes:?}");
    let told: u32 = net.neuron_state().told.iter().sum();
    assert_eq!(told as usize, spikes.len());
    // The default policy: at most one.
    let mut plain = Network::build(&config, ebn_core::SeedStreams::new(2)).unwrap();
    plain.set_voltages(&v).unwrap();
    assert_eq!(plain.step(&[0.0, 0.0], None).len(), 1);
}

/// Doubles the input current of neuron 0, raises the threshold of neuron 1, and empties
/// the traces once, at step 5.
#[derive(Debug)]
struct Meddle;

impl Perturbation for Meddle {
    fn apply_input(&mut self, ctx: &mut InputContext<'_>) {
        ctx.input[0] *= 2.0;
    }
    fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
        let t1 = ctx.base_thresholds()[1];
        ctx.set_threshold(1, 10.0 * t1);
        if ctx.step == 5 {
            ctx.traces_mut().fill(0.0);
        }
    }
    fn finished(&self, t: f64) -> bool {
        t >= 0.001
    }
}

#[test]
fn perturbations_reach_input_thresholds_and_traces_and_are_removed_when_finished() {
    let config = NetworkConfig::paper(10, 2);
    let seeds = ebn_core::SeedStreams::new(4);
    let mut a = Network::build(&config, seeds).unwrap();
    let mut b = Network::build(&config, seeds).unwrap();
    let run = |perturbations| RunSettings {
        perturbations,
        ..RunSettings::new(Protocol::FREE, seeds.rng(Stream::NeuronState))
    };
    a.start_run(run(Vec::new())).unwrap();
    b.start_run(run(vec![Box::new(Meddle)])).unwrap();
    for _ in 0..3 {
        a.step(&[30.0, -20.0], None);
        b.step(&[30.0, -20.0], None);
    }
    assert_eq!(b.thresholds_in_force()[1], 10.0 * b.thresholds()[1]);
    assert_ne!(a.voltages()[0], b.voltages()[0]);
    assert_eq!(a.voltages()[2], b.voltages()[2], "only neuron 0's input was changed");
    for _ in 3..6 {
        b.step(&[30.0, -20.0], None);
    }
    // The traces were emptied at step 5 and decayed since: the readout follows them.
    assert!(b.traces().iter().all(|r| *r < 1.0 + 1e-12));
    let readout = coding::readout(b.decoder(), b.traces());
    for (x, y) in readout.iter().zip(b.readout()) {
        assert!((x - y).abs() < 1e-12);
    }
    for _ in 6..20 {
        b.step(&[30.0, -20.0], None);
    }
    assert_eq!(b.perturbation_count(), 0, "finished at 1 ms: removed");
    b.end_run();
    assert_eq!(b.thresholds_in_force(), b.thresholds(), "the run's thresholds undone at its end");
}

/// A run's silenced neurons and perturbations go at its end; what was done for good before it
/// (a neuron silenced by hand or by a permanent perturbation) stays; a run that does not
/// learn leaves the weights it perturbed as they were, one that learns keeps what happened to
/// them.
#[test]
fn a_run_leaves_behind_only_what_is_permanent() {
    let config = NetworkConfig::paper(10, 2);
    let seeds = ebn_core::SeedStreams::new(4);
    let mut net = Network::build(&config, seeds).unwrap();
    net.silence(3).unwrap();
    net.add_perturbation(Box::new(ebn_network::perturb::SilenceNeurons::new(0.0, vec![7])));
    net.step(&[0.0, 0.0], None);
    assert!(!net.alive()[7], "the permanent perturbation acted before the runs");
    /// Adds 0.5 to every stored slow weight, once.
    #[derive(Debug, Clone)]
    struct Shift(bool);
    impl Perturbation for Shift {
        fn apply(&mut self, ctx: &mut PerturbationContext<'_>) {
            if !self.0 {
                self.0 = true;
                let w = ctx.slow_weights.matrix_mut();
                for c in 0..w.ncols() {
                    w.col_as_slice_mut(c).iter_mut().for_each(|x| *x += 0.5);
                }
            }
        }
    }
    for learning in [false, true] {
        let before = net.slow_weights().clone();
        let protocol = Protocol { learning, ..Protocol::training(20.0) };
        let settings = RunSettings {
            from_start: vec![Box::new(ebn_network::perturb::SilenceNeurons::new(0.0, vec![5]))],
            perturbations: vec![Box::new(Shift(false))],
            ..RunSettings::new(protocol, seeds.rng(Stream::NeuronState))
        };
        net.start_run(settings).unwrap();
        for _ in 0..20 {
            net.step(&[3.0, 0.0], None);
        }
        assert!(!net.alive()[5] && !net.alive()[3] && !net.alive()[7]);
        assert_ne!(net.slow_weights(), &before, "the run's weight noise acted");
        net.end_run();
        assert!(net.alive()[5], "learning = {learning}: the run's silenced neuron revived");
        assert!(!net.alive()[3] && !net.alive()[7], "learning = {learning}: permanent silencing stays");
        assert_eq!(net.slow_weights() == &before, !learning, "learning = {learning}: weights");
    }
    // Bad settings change nothing.
    let bad = RunSettings::new(Protocol { feedback_gain: -1.0, ..Protocol::FREE }, seeds.rng(Stream::NeuronState));
    assert!(net.start_run(bad).is_err());
    assert!(net.alive()[5]);
}

const FILE: &str = r#"
seed = 2
[target]
kind = "damped_oscillator"
[network]
n = 20
dim = 2
mu = 1e-3
nu = 2e-5
feedback_gain = 5.0
rule = { kind = "local", eta = 10.0 }
[training]
trials = 2
trial_duration = 0.2
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
perturbations = [{ kind = "kill_fraction", fraction = 0.5, at = 0.05 }]
[[test]]
name = "half"
duration = 0.3
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
perturbations = [{ kind = "kill_fraction", fraction = 0.5 }, { kind = "weight_noise", relative_sigma = 0.5 }]
[[test]]
name = "intact"
duration = 0.3
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
"#;

#[test]
fn perturbations_declared_in_files_act_for_their_run_only() {
    let config = ExperimentConfig::from_toml(FILE).unwrap();
    let mut exp = Experiment::build(&config).unwrap();
    let mut net = exp.initial_network().unwrap();
    let mut state = Default::default();
    exp.train_trial(&mut net, &mut state).unwrap();
    // Silenced during the trial, revived after it; the perturbation is gone.
    assert!(net.alive().iter().all(|a| *a));
    assert_eq!(net.perturbation_count(), 0);
    exp.train_trial(&mut net, &mut state).unwrap();
    let weights = net.slow_weights().clone();
    let half = exp.run_test(&mut net, 0).unwrap();
    let silent = (0..20).filter(|&i| half.spikes.neurons.iter().all(|&k| k as usize != i)).count();
    assert!(silent >= 10, "half of the neurons silenced in the test: {silent} silent");
    // The test left the network as it found it: weights, thresholds, neurons.
    assert_eq!(net.slow_weights(), &weights);
    assert!(net.alive().iter().all(|a| *a));
    let intact_after = exp.run_test(&mut net, 1).unwrap();
    let mut fresh = exp.network_with(weights).unwrap();
    assert_eq!(exp.run_test(&mut fresh, 1).unwrap(), intact_after);
}

#[test]
fn the_registry_resolves_defaults_lists_kinds_and_accepts_new_ones() {
    let mut registry = builtin_registry();
    for category in ebn_core::Category::ALL {
        assert!(!registry.kinds(category).is_empty(), "{category}");
    }
    // An unknown kind names the slot and every known kind.
    let err = registry.rule(&Spec::new("bcm"), "network.rule").unwrap_err();
    match &err {
        Error::UnknownKind { field, known, .. } => {
            assert_eq!(field, "network.rule");
            let mut expected: Vec<String> = ebn_network::plasticity::KINDS.iter().map(|k| k.to_string()).collect();
            expected.sort();
            assert_eq!(known, &expected);
        }
        other => panic!("{other}"),
    }
    // A spec without a kind means the slot's default; the neuron slot's is the EBN neuron.
    let neuron = registry.neuron(&Spec::default().with("lambda_v", 20.0), "network.neuron").unwrap();
    assert_eq!(neuron.downcast::<EbnNeuron>().unwrap().lambda_v, 20.0);
    // A new kind, with its own parameter type; `scaled` wraps it like a built-in target.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Decay {
        rate: f64,
    }
    #[derive(Debug)]
    struct DecaySystem(f64);
    impl ebn_core::TargetSystem for DecaySystem {
        fn dim(&self) -> usize {
            1
        }
        fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
            dxdt[0] = -self.0 * x[0];
        }
        fn linear_matrix(&self) -> Option<Vec<Vec<f64>>> {
            Some(vec![vec![-self.0]])
        }
    }
    registry.add_target("decay", |p: Decay, _: &Registry| -> Result<Box<dyn ebn_core::TargetSystem>> {
        Ok(Box::new(DecaySystem(p.rate)))
    });
    let scaled = Spec::new("scaled").with("scale", [2.0]).with("target", Spec::new("decay").with("rate", 3.0));
    let system = registry.target(&scaled, "target").unwrap();
    assert_eq!(system.linear_matrix(), Some(vec![vec![-3.0]]));
    let err = registry.target(&Spec::new("decay").with("rat", 3.0), "target").unwrap_err().to_string();
    assert!(err.contains("`rat`") && err.contains("target"), "{err}");
    // A fork's stream never coincides with a built-in one.
    let seeds = ebn_core::SeedStreams::new(1);
    use ebn_core::rand::RngExt;
    let (a, b): (u64, u64) = (seeds.named("decay", 0).random(), seeds.rng(Stream::Noise).random());
    assert_ne!(a, b);
}

/// The slew-rate limit of the one-spike rule, and the fire-update-repeat policy that lifts it:
/// at N = 512 with the default decoder scale (D ~ N(0, 1)/(2N)), tracking the driven
/// oscillator needs more spikes per second than there are steps (10^4 /s), so one spike per
/// step lags far behind; up to 16 per step tracks it.
#[test]
fn several_spikes_per_step_lift_the_slew_rate_limit() {
    let file = r#"
seed = 1
slow_weights = "closed_form"
[target]
kind = "damped_oscillator"
[network]
n = 512
dim = 2
mu = 1.59e-6
nu = 3.17e-8
feedback_gain = 0.0
neuron = NEURON
[[test]]
name = "driven"
duration = 1.0
command = { kind = "filtered_noise", amplitude = [600.0, 0.0], windows = [[0.03, 0.30]] }
"#;
    let run = |neuron: &str| {
        let config = ExperimentConfig::from_toml(&file.replace("NEURON", neuron)).unwrap();
        let mut exp = Experiment::build(&config).unwrap();
        let mut net = exp.initial_network().unwrap();
        let rec = exp.run_test(&mut net, 0).unwrap();
        (ebn_network::analysis::nrmse(&rec.x, &rec.x_hat).unwrap(), rec.spikes.len() as f64 / rec.duration)
    };
    let (one, one_rate) = run("{ lambda_v = 10.0 }");
    let (multi, multi_rate) = run(r#"{ kind = "ebn_multi_spike", lambda_v = 10.0, max_spikes = 16 }"#);
    assert!(one_rate <= 1e4 + 1.0, "one spike per step at most: {one_rate}");
    assert!(multi_rate > 1e4, "the tracking needs more spikes than steps: {multi_rate}");
    assert!(multi < 0.5 * one, "multi-spike NRMSE {multi} against one-spike {one}");
}

#[test]
fn analyses_of_one_kind_in_one_test_keep_separate_keys() {
    // Two limit_cycle analyses (x and y) and one shape in the same test: each limit_cycle's
    // keys carry its component, the shape's keep their plain names. Recording: teacher
    // (cos, 2 sin), network (cos, 1.5 sin), so the x amplitude error is 0 and the y one 25 %.
    let mut config = ExperimentConfig::from_toml(include_str!("../../../examples/vanderpol.toml")).unwrap();
    config.tests[0].analyses = ["limit_cycle", "shape", "limit_cycle"]
        .iter()
        .zip([Some(0), None, Some(1)])
        .map(|(kind, c)| {
            let mut spec = Spec::new(*kind);
            if let Some(c) = c {
                spec.params.insert("component".into(), c.into());
                spec.params.insert("skip".into(), 0.0.into());
            }
            spec
        })
        .collect();
    // Two of a kind whose keys differ already keep them.
    for (horizon, key) in [(0.5, "early"), (1.0, "late")] {
        let mut spec = Spec::new("nrmse_horizon");
        spec.params.insert("horizon".into(), horizon.into());
        spec.params.insert("key".into(), key.into());
        config.tests[0].analyses.push(spec);
    }
    let exp = Experiment::build(&config).unwrap();
    let times: Vec<f64> = (0..5000).map(|k| k as f64 * 1e-3).collect();
    let trace = |ay: f64| ebn_core::Trace {
        dim: 2,
        data: times.iter().flat_map(|t| [(6.0 * t).cos(), ay * (6.0 * t).sin()]).collect(),
    };
    let rec = ebn_core::Recording {
        dt: 1e-3,
        every: 1,
        times: times.clone(),
        x: trace(2.0),
        x_hat: trace(1.5),
        command: ebn_core::Trace { dim: 2, data: vec![0.0; 10_000] },
        voltages: ebn_core::Trace { dim: 0, data: vec![] },
        voltage_neurons: vec![],
        spikes: Default::default(),
        duration: 5.0,
    };
    let results = exp.analyse(0, &rec);
    let kinds: Vec<&str> = results.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["limit_cycle_0", "shape", "limit_cycle_1", "nrmse_horizon_3", "nrmse_horizon_4"]);
    let mut keys = std::collections::BTreeMap::new();
    for (_, r) in results {
        for (key, v) in r.unwrap() {
            assert!(keys.insert(key.clone(), v).is_none(), "{key} reported twice");
        }
    }
    assert!(keys["amplitude_error_0"] < 1e-9, "{keys:?}");
    assert!((keys["amplitude_error_1"] - 0.25).abs() < 1e-9, "{keys:?}");
    assert!(keys.contains_key("shape_error") && !keys.contains_key("amplitude_error"));
    assert!(keys.contains_key("early") && keys.contains_key("late"), "{keys:?}");
}

/// The built-in neuron models, as files name them.
const NEURON_KINDS: [&str; 5] = [
    r#"{ kind = "ebn", lambda_v = 10.0 }"#,
    r#"{ kind = "ebn_multi_spike", lambda_v = 10.0, max_spikes = 8 }"#,
    r#"{ kind = "refractory", lambda_v = 10.0, tau_ref = 2e-3 }"#,
    r#"{ kind = "synaptic_lif", lambda_v = 10.0, tau_s = 2e-3 }"#,
    r#"{ kind = "synaptic_lif", lambda_v = 10.0, tau_s = 2e-3, reset = "soft", max_spikes = 16 }"#,
];

fn smoke_linear(neuron: &str) -> ExperimentConfig {
    let text = include_str!("../../../examples/linear.toml")
        .replace("neuron = { lambda_v = 10.0 }", &format!("neuron = {neuron}"))
        .replace("trials = 50", "trials = 6")
        .replace("trial_duration = 1.5", "trial_duration = 0.3")
        .replace("duration = 3.0", "duration = 0.5");
    assert!(text.contains(&format!("neuron = {neuron}")), "the example's neuron line has changed");
    ExperimentConfig::from_toml(&text).unwrap()
}

/// Every built-in neuron model runs the whole protocol from a file: trains, checkpoints at
/// trial 3 and resumes bit-identically, and its trained network saves, loads and tests
/// identically.
#[test]
fn every_built_in_neuron_model_trains_resumes_and_reloads_bit_identically() {
    for neuron in NEURON_KINDS {
        round_trip(neuron, &smoke_linear(neuron));
    }
}

/// The rules of ebn-plasticity, as written in files (the robust variants, RLS filtered and
/// not, every 3 steps, with forgetting), and the paper's rule without feedback in training.
const RULE_LINES: [&str; 8] = [
    r#"{ kind = "local_sigma", eta = 10.0, sigma = 0.01 }"#,
    r#"{ kind = "local_e_mod", eta = 10.0, sigma = 0.1 }"#,
    r#"{ kind = "local_dead_zone", eta = 10.0, threshold = 0.002 }"#,
    r#"{ kind = "local_projection", eta = 10.0, bound = 0.5 }"#,
    r#"{ kind = "rls", gamma = 1.0, alpha = 0.1, filter = 15.0 }"#,
    r#"{ kind = "rls", gamma = 1.0, alpha = 0.1, filter = 15.0, every = 3, forgetting = 0.05 }"#,
    r#"{ kind = "rls", gamma = 10.0, alpha = 1.0 }"#,
    r#"{ kind = "local", eta = 10.0 }"#,
];

/// The linear smoke experiment with `rule` in place of the example's rule.
fn with_rule(rule: &str) -> ExperimentConfig {
    let line = r#"rule = { kind = "local", eta = 10.0 }"#;
    let text = include_str!("../../../examples/linear.toml");
    assert!(text.contains(line), "the example's rule line has changed");
    let mut config = ExperimentConfig::from_toml(&text.replace(line, &format!("rule = {rule}"))).unwrap();
    let smoke = smoke_linear(r#"{ lambda_v = 10.0 }"#);
    config.training = smoke.training;
    config.tests = smoke.tests;
    config
}

/// Every built-in learning rule runs the whole protocol from a file and resumes from a
/// checkpoint bit-identically (RLS keeps P and its filtered regressor in the checkpoint); the
/// paper's rule also without feedback in training. Each rule with a convergence argument also
/// learns: the last trial's error is below the first's.
#[test]
fn every_built_in_rule_trains_resumes_and_reloads_bit_identically() {
    for rule in RULE_LINES {
        let whole = round_trip(rule, &with_rule(rule));
        // Plain FORCE on the state error (no filter) has no convergence argument
        // (ebn-plasticity's rls docs); it only has to run.
        let curve = &whole.learning_curve;
        let proven = !rule.contains("rls") || rule.contains("filter");
        assert!(!proven || curve[curve.len() - 1] < curve[0], "{rule}: {curve:?}");
    }
    let mut no_feedback = with_rule(RULE_LINES[7]);
    no_feedback.training.as_mut().unwrap().feedback_gain = Some(0.0);
    round_trip("local, K = 0 in training", &no_feedback);
}

/// `training.feedback_gain` replaces the network's K in training and only there: training
/// at K = 0 through it is bit-identical to training a network whose K is 0, and tests (K = 0
/// always) of a network trained either way agree.
#[test]
fn the_training_feedback_gain_overrides_k_in_training_only() {
    let mut through_training = with_rule(RULE_LINES[7]);
    through_training.training.as_mut().unwrap().feedback_gain = Some(0.0);
    let mut through_network = with_rule(RULE_LINES[7]);
    through_network.network.feedback_gain = 0.0;
    let with_k = with_rule(RULE_LINES[7]);
    let run = |config: &ExperimentConfig| {
        let mut exp = Experiment::build(config).unwrap();
        let mut net = exp.initial_network().unwrap();
        let mut state = ebn_network::TrainingState::default();
        for _ in 0..2 {
            exp.train_trial(&mut net, &mut state).unwrap();
        }
        (state.learning_curve, exp.run_test(&mut net, 0).unwrap())
    };
    let (a, b, k) = (run(&through_training), run(&through_network), run(&with_k));
    assert_eq!(a, b);
    assert_ne!(a.0, k.0, "K = 5 in training must differ from K = 0");
    let mut bad = with_rule(RULE_LINES[7]);
    bad.training.as_mut().unwrap().feedback_gain = Some(-1.0);
    let message = Experiment::build(&bad).unwrap_err().to_string();
    assert!(message.contains("training.feedback_gain"), "{message}");
}

/// Trains `config` for its 6 trials, checkpointing at trial 3; resumes from the checkpoint
/// and checks that state, weights and test are bit-identical; saves and reloads the trained
/// network and checks its test. Returns the training state.
fn round_trip(what: &str, config: &ExperimentConfig) -> ebn_network::TrainingState {
    let train = |from: Option<Vec<u8>>| {
        let mut exp = Experiment::build(config).unwrap();
        let (mut net, mut state) = match from {
            None => (exp.initial_network().unwrap(), ebn_network::TrainingState::default()),
            Some(bytes) => {
                let cp = ebn_network::Checkpoint::from_bytes(&bytes).unwrap();
                (exp.resume(cp.weights.to_weights().unwrap(), &cp.state).unwrap(), cp.state)
            }
        };
        let mut checkpoint = None;
        while state.trials_done < 6 {
            exp.train_trial(&mut net, &mut state).unwrap();
            if state.trials_done == 3 && checkpoint.is_none() {
                let cp = ebn_network::Checkpoint {
                    config: config.clone(),
                    state: state.clone(),
                    weights: ebn_network::StoredWeights::from_weights(net.slow_weights()),
                };
                checkpoint = Some(cp.to_bytes().unwrap());
            }
        }
        let rec = exp.run_test(&mut net, 0).unwrap();
        (state, net.slow_weights().clone(), checkpoint, rec)
    };
    let (whole, weights, checkpoint, rec) = train(None);
    assert!(whole.learning_curve.iter().all(|e| e.is_finite()), "{what}: {:?}", whole.learning_curve);
    assert!(!rec.spikes.is_empty(), "{what}: the test fired no spike");
    let (resumed, resumed_weights, _, resumed_rec) = train(checkpoint);
    assert_eq!(whole, resumed, "{what}: training state after resuming");
    assert_eq!(weights, resumed_weights, "{what}: weights after resuming");
    assert_eq!(rec, resumed_rec, "{what}: test after resuming");

    let trained = ebn_network::TrainedNetwork {
        config: config.clone(),
        weights: ebn_network::StoredWeights::from_weights(&weights),
        training: whole.clone(),
    };
    let loaded = ebn_network::TrainedNetwork::from_bytes(&trained.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded, trained, "{what}");
    let mut exp = Experiment::build(&loaded.config).unwrap();
    let mut net = loaded.network().unwrap();
    assert_eq!(exp.run_test(&mut net, 0).unwrap(), rec, "{what}: the loaded network tests differently");
    whole
}

/// With tau_s = 0 and the soft reset the synaptic LIF neuron is the EBN neuron: the same
/// spikes and readout, bit for bit (dense fast weights, where both add the same column).
#[test]
fn the_synaptic_lif_neuron_at_tau_s_zero_is_the_ebn_neuron() {
    let run = |neuron: &str| {
        let mut config = smoke_linear(neuron);
        config.network.fast_weights = ebn_network::FastForm::Dense;
        let mut exp = Experiment::build(&config).unwrap();
        let mut net = exp.initial_network().unwrap();
        let mut state = ebn_network::TrainingState::default();
        exp.train_trial(&mut net, &mut state).unwrap();
        (state, exp.run_test(&mut net, 0).unwrap())
    };
    let ebn = run(NEURON_KINDS[0]);
    assert!(ebn.1.spikes.len() > 100);
    assert_eq!(run(r#"{ kind = "synaptic_lif", lambda_v = 10.0, tau_s = 0.0, reset = "soft" }"#), ebn);
    // The hard reset forgets the overshoot: another network.
    assert_ne!(run(r#"{ kind = "synaptic_lif", lambda_v = 10.0, tau_s = 0.0 }"#).1, ebn.1);
}

/// The rule is told each run as it starts, which run it is, after the preload (its first
/// update is the run's first step); a neuron model is told the thresholds in force at each
/// of its spikes (an adaptive threshold's scale).
#[test]
fn rules_are_told_each_run_and_models_the_thresholds_at_a_spike() {
    use ebn_core::{LearningSignal, PlasticityRule, RuleSetup, RunKind, SlowWeights};
    use std::sync::{Arc, Mutex};

    /// The runs a rule was told of, each with the time of its first update.
    type Runs = Arc<Mutex<Vec<(RunKind, Option<f64>)>>>;
    /// The paper's rule, recording the runs it is told of and the time of its first update
    /// in each.
    #[derive(Debug)]
    struct Told(ebn_network::plasticity::LocalRule, Runs);
    impl PlasticityRule for Told {
        fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
            self.0.bind(setup)
        }
        fn begin_run(&mut self, run: RunKind) {
            self.1.lock().unwrap().push((run, None));
        }
        fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights) {
            if let Some(last) = self.1.lock().unwrap().last_mut()
                && last.1.is_none()
            {
                last.1 = Some(signal.t);
            }
            self.0.update(signal, weights);
        }
    }

    /// The EBN neuron, keeping the threshold of each spike it is told of.
    #[derive(Debug, Clone)]
    struct Keeps(EbnNeuron, Arc<Mutex<Vec<f64>>>);
    impl NeuronModel for Keeps {
        type State = EbnState;
        fn validate(&self, dt: f64) -> Result<()> {
            self.0.validate(dt)
        }
        fn init_state(&self, n: usize, rng: &mut Rng) -> EbnState {
            self.0.init_state(n, rng)
        }
        fn voltages<'a>(&self, s: &'a EbnState) -> &'a [f64] {
            &s.v
        }
        fn voltages_mut<'a>(&self, s: &'a mut EbnState) -> &'a mut [f64] {
            &mut s.v
        }
        fn integrate(&self, s: &mut EbnState, input: &[f64], dt: f64) {
            self.0.integrate(s, input, dt);
        }
        fn select_spike(&self, s: &EbnState, thresholds: &[f64]) -> Option<usize> {
            self.0.select_spike(s, thresholds)
        }
        fn on_spike_at(&self, _s: &mut EbnState, k: usize, thresholds: &[f64]) {
            self.1.lock().unwrap().push(thresholds[k]);
        }
    }

    let mut config = ExperimentConfig::from_toml(FILE).unwrap();
    config.preload.duration = 0.01;
    config.tests[1].initial_state = Some(vec![0.5, 0.0]);
    let mut exp = Experiment::build(&config).unwrap();
    let (runs, kept) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let rule = Told(ebn_network::plasticity::LocalRule::new(10.0).unwrap(), runs.clone());
    let overrides = Overrides { rule: Some(Box::new(rule)), ..Default::default() };
    let mut net = exp.initial_network_generic(Keeps(EbnNeuron::default(), kept.clone()), overrides).unwrap();
    let mut state = Default::default();
    exp.train(&mut net, &mut state, |_| {}).unwrap();
    exp.run_test(&mut net, 1).unwrap();
    let runs = runs.lock().unwrap().clone();
    let dt = config.network.dt;
    assert_eq!(
        runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        [RunKind::Training { trial: 0 }, RunKind::Training { trial: 1 }, RunKind::Test { index: 1, repeat: 0 }]
    );
    // The first update of each training run is its first step's (the preload before it does
    // not learn); a test does not learn.
    assert_eq!(runs[0].1, Some(dt));
    assert_eq!(runs[1].1, Some(dt));
    assert_eq!(runs[2].1, None);
    let kept = kept.lock().unwrap();
    assert!(kept.len() > 20, "{} spikes", kept.len());
    let thresholds = net.thresholds();
    assert!(kept.iter().all(|t| thresholds.contains(t)), "the thresholds in force at the spikes");
}
