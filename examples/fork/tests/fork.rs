//! The fork's components pass the workspace's conformance kit, and the fork's experiment runs
//! through the workspace's command line with its own registry: train, checkpoint, resume
//! (bit-identical, with the rule's own state), test, summary.json.

use ebn_core::conformance;
use ebn_fork::decay_rule::DecayRule;
use ebn_fork::duffing::Duffing;
use ebn_fork::jitter::{JitterParams, ThresholdJitter};
use ebn_fork::refractory::Refractory;
use ebn_network::core::{Error, NeuronModel, SeedStreams, Spec, Stream};
use ebn_network::{Experiment, ExperimentConfig, TrainedNetwork, TrainingState};
use std::path::PathBuf;

#[test]
fn components_conform() {
    conformance::target_system(&Duffing::default(), 2.0);
    conformance::neuron_model(&Refractory { lambda_v: 10.0, tau_ref: 2e-3 }, 1e-4);
    let rule = || -> DecayRule {
        Spec::new("decay_local").with("eta", 3.0).with("decay", 0.5).with("tau_e", 0.01).parse("rule").unwrap()
    };
    conformance::plasticity_rule(&|| Box::new(rule()));
    let params = JitterParams { sigma: 0.1, every: 1e-3, start: 0.0 };
    conformance::perturbation(&|| {
        Box::new(ThresholdJitter::new(params.clone(), SeedStreams::new(1).named("fork.jitter", 0)).unwrap())
    });
}

#[test]
fn refractory_neuron_waits() {
    let m = Refractory { lambda_v: 10.0, tau_ref: 1e-3 };
    let mut s = m.init_state(2, &mut SeedStreams::new(1).rng(Stream::NeuronState));
    m.voltages_mut(&mut s).copy_from_slice(&[2.0, 1.5]);
    let t = [1.0, 1.0];
    assert_eq!(m.select_spike(&s, &t), Some(0));
    m.on_spike(&mut s, 0);
    // Neuron 0 is refractory for 10 steps of 0.1 ms: neuron 1 is chosen instead.
    for _ in 0..9 {
        m.integrate(&mut s, &[20.0, 15.0], 1e-4);
        assert_eq!(m.select_spike(&s, &t), Some(1));
    }
    m.integrate(&mut s, &[20.0, 15.0], 1e-4);
    m.integrate(&mut s, &[20.0, 15.0], 1e-4);
    assert_eq!(m.select_spike(&s, &t), Some(0));
}

/// The fork's experiment file, cut to smoke scale.
fn smoke() -> ExperimentConfig {
    let text = include_str!("../duffing.toml")
        .replace("trials = 150", "trials = 6")
        .replace("trial_duration = 2.0", "trial_duration = 0.3");
    let mut config = ExperimentConfig::from_toml(&text).unwrap();
    config.network.rule = Spec::new("decay_local").with("eta", 100.0).with("decay", 1e-5).with("tau_e", 0.02);
    for t in &mut config.tests {
        t.duration = 0.6;
    }
    config
}

#[test]
fn resumed_training_is_bit_identical_with_the_rules_state() {
    let registry = ebn_fork::registry();
    let config = smoke();
    let train = |from: Option<(TrainingState, Vec<u8>)>| {
        let mut exp = Experiment::build_in(&config, &registry).unwrap();
        let (mut net, mut state) = match from {
            None => (exp.initial_network().unwrap(), TrainingState::default()),
            Some((state, bytes)) => {
                let cp = ebn_network::Checkpoint::from_bytes_in(&bytes, &registry).unwrap();
                assert_eq!(cp.state, state);
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
                checkpoint = Some((state.clone(), cp.to_bytes().unwrap()));
            }
        }
        (state, net.slow_weights().clone(), checkpoint)
    };
    let (whole, w_whole, checkpoint) = train(None);
    let (state, _) = checkpoint.clone().unwrap();
    // The error trace is the rule's state: 2 values, not all zero after training.
    assert_eq!(state.rule_state.len(), 2);
    assert!(state.rule_state.iter().any(|v| *v != 0.0));
    let (resumed, w_resumed, _) = train(checkpoint);
    assert_eq!(whole, resumed);
    assert_eq!(w_whole, w_resumed);
}

#[test]
fn the_command_line_runs_the_forks_file() {
    let dir = std::env::temp_dir().join(format!("ebn-fork-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("smoke.toml");
    let text = include_str!("../duffing.toml")
        .replace("trials = 150", "trials = 4")
        .replace("trial_duration = 2.0", "trial_duration = 0.3")
        .replace("duration = 4.0", "duration = 0.6")
        .replace("duration = 3.0", "duration = 0.6")
        .replace("at = [1.5, 2.5]", "at = [0.5]");
    std::fs::write(&file, text).unwrap();
    let registry = ebn_fork::registry();
    let opts = ebn_cli::run::RunOptions {
        file: file.clone(),
        out: Some(dir.join("out")),
        fresh: false,
        quiet: true,
        checkpoint_every: std::time::Duration::ZERO,
    };
    let first = ebn_cli::run::run(&opts, &registry).unwrap();
    for f in ["summary.json", "checkpoint.ebn", "network.ebn", "test_driven.csv", "spikes_jittered.csv"] {
        assert!(dir.join("out").join(f).is_file(), "{f} missing");
    }
    assert_eq!(first["training"]["trials"], 4);
    assert!(first["tests"]["driven"]["nrmse_0p5s"].as_f64().unwrap().is_finite(), "{first}");
    assert!(first["tests"]["right_well"]["attractor_checks"].as_f64().unwrap() >= 1.0, "{first}");
    // Run again: the finished checkpoint is found and the same network tested.
    let second = ebn_cli::run::run(&opts, &registry).unwrap();
    for test in ["driven", "right_well", "left_well", "jittered"] {
        assert_eq!(first["tests"][test]["nrmse"], second["tests"][test]["nrmse"], "{test}");
    }
    assert_eq!(first["training"]["last_trial_error"], second["training"]["last_trial_error"]);
    // The saved network names the fork's kinds: loading it without the fork is a typed error.
    let bytes = std::fs::read(dir.join("out/network.ebn")).unwrap();
    assert!(TrainedNetwork::from_bytes_in(&bytes, &registry).is_ok());
    match TrainedNetwork::from_bytes(&bytes) {
        Err(Error::UnknownKind { kind, category, .. }) => {
            assert_eq!((kind.as_str(), category.as_str()), ("duffing", "target"))
        }
        other => panic!("expected an unknown kind, got {other:?}"),
    }
    // A typo in a fork parameter names it.
    std::fs::write(&file, include_str!("../duffing.toml").replace("tau_ref", "tau_rfe")).unwrap();
    let err = format!("{:#}", ebn_cli::run::load(&file, &registry).unwrap_err());
    assert!(err.contains("tau_rfe") && err.contains("network.neuron"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_shipped_file_validates() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("duffing.toml");
    ebn_cli::run::load(&file, &ebn_fork::registry()).unwrap();
}
