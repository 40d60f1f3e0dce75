//! A training run killed with SIGKILL at 20 random points, resumed each time from its last
//! checkpoint, ends bit-identical to an uninterrupted run (the trained network, the learning
//! curve and summary.json, byte for byte; the wall times are in provenance.json); and no
//! checkpoint on disk is ever half-written (every one that exists after a kill loads).

use ebn_network::{Checkpoint, TrainedNetwork};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXPERIMENT: &str = r#"
seed = 11
[target]
kind = "van_der_pol"
mu = 1.0
[network]
n = 150
dim = 2
mu = 1e-5
nu = 1e-7
feedback_gain = 5.0
basis = { kind = "state_tanh", n_basis = 300, gain = 1.0, bias = 1.0 }
rule = { kind = "local", eta = 10.0 }
[training]
trials = 40
trial_duration = 0.5
initial_state = { kind = "uniform", low = [-1.0, -1.0], high = [1.0, 1.0] }
command = { kind = "filtered_noise", amplitude = [5.0, 5.0] }
[[test]]
name = "t"
duration = 0.2
initial_state = [1.0, 0.0]
command = { kind = "zero" }
"#;

fn xtask_run(file: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["run", "--quiet", "--checkpoint-every", "0", "--out"])
        .arg(out)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebn-interrupt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A reproducible sequence of fractions in [0, 1).
fn fractions(seed: u64) -> impl Iterator<Item = f64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[test]
fn killed_twenty_times_then_resumed_equals_uninterrupted() {
    let dir = temp_dir("main");
    let file = dir.join("experiment.toml");
    std::fs::write(&file, EXPERIMENT).unwrap();

    // The reference: one uninterrupted run (also gives the run's length).
    let reference = dir.join("reference");
    let start = Instant::now();
    assert!(xtask_run(&file, &reference).status().unwrap().success());
    let whole = start.elapsed();
    let expected = std::fs::read(reference.join("network.ebn")).unwrap();

    // Interrupted: each launch is killed after a random time up to a twentieth of the whole
    // run (process start included), so that every launch is still running when killed and the
    // twenty kills land all along the training.
    let out = dir.join("interrupted");
    let mut kills = 0;
    let mut progress = Vec::new();
    for f in fractions(7).take(20) {
        let mut child = xtask_run(&file, &out).spawn().unwrap();
        std::thread::sleep(whole.mul_f64(f / 20.0).max(Duration::from_millis(5)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        child.wait().unwrap();
        // Whatever checkpoint is on disk is whole.
        let cp = out.join("checkpoint.ebn");
        if cp.exists() {
            let bytes = std::fs::read(&cp).unwrap();
            let checkpoint = Checkpoint::from_bytes(&bytes).expect("a checkpoint on disk is never half-written");
            progress.push(checkpoint.state.trials_done);
        }
    }
    eprintln!("trials done at each kill: {progress:?}");
    // Finish.
    assert!(xtask_run(&file, &out).status().unwrap().success());
    let got = std::fs::read(out.join("network.ebn")).unwrap();

    assert_eq!(kills, 20, "only {kills} launches were still running when killed");
    let mut distinct = progress.clone();
    distinct.dedup();
    assert!(distinct.len() >= 5, "the kills did not spread over the training: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {progress:?}");
    assert_eq!(
        TrainedNetwork::from_bytes(&got).unwrap().weights,
        TrainedNetwork::from_bytes(&expected).unwrap().weights,
        "resumed weights differ"
    );
    assert_eq!(got, expected, "the trained-network files differ");
    assert_eq!(
        std::fs::read_to_string(out.join("learning_curve.csv")).unwrap(),
        std::fs::read_to_string(reference.join("learning_curve.csv")).unwrap()
    );
    // The summary (training, tests, warnings) is the same, byte for byte: nothing in it
    // depends on the launches. What does (wall times, the trial a launch resumed after) is in
    // provenance.json.
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        std::fs::read_to_string(reference.join("summary.json")).unwrap(),
        "summary.json differs between the resumed and the uninterrupted run"
    );
    let provenance = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("provenance.json")).unwrap()).unwrap()
    };
    assert!(provenance(&reference)["training"]["resumed_after_trial"].is_null());
    assert!(provenance(&out)["training"]["resumed_after_trial"].as_u64().is_some());
    assert!(provenance(&out)["training"]["wall_seconds"].as_f64().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}
