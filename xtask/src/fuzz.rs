//! `cargo xtask fuzz`: hostile inputs for the two loaders users share files through, the
//! trained-network / checkpoint file and the experiment TOML.
//!
//! Each input is fed to the loader inside `catch_unwind`; a panic is a failure, a typed error
//! is the expected answer to garbage. Inputs come from seeded generators (so a run is
//! reproducible), structure-aware so that they reach past the first check:
//!
//! - files: random bytes; valid files (trained network and checkpoint, dense and factored)
//!   with bit flips, byte overwrites, insertions, deletions, truncations and splices; and the
//!   same mutations applied to the payload only, with the header's length and hash
//!   recomputed, so that the bincode decoder and the validation behind it see them;
//! - TOML: random bytes; the shipped examples with numbers replaced by extreme values
//!   (0, -1, 1e308, nan, inf, 2^64 ...), kinds swapped, lines deleted, duplicated or swapped,
//!   characters inserted. A configuration that parses is validated (`Experiment::build`,
//!   `NetworkConfig::validate`) and, if small, its network is built.
//!
//! The first input that produces each distinct kind of error message is kept as the corpus
//! (`--corpus DIR`); `fuzz_corpus_replays` replays the committed corpus in `cargo test`.

use anyhow::Result;
use ebn_network::core::{SeedStreams, Stream};
use ebn_network::{Checkpoint, Experiment, ExperimentConfig, StoredWeights, TrainedNetwork, TrainingState};
use rand::RngExt;
use rayon::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

/// A small experiment whose files seed the file fuzzer.
const SEED_TOML: &str = r#"
seed = 3
[target]
kind = "damped_oscillator"
[network]
n = 6
dim = 2
mu = 1e-4
nu = 1e-6
feedback_gain = 5.0
basis = { kind = "state_tanh", n_basis = 5, gain = 1.0, bias = 1.0 }
rule = { kind = "local", eta = 10.0 }
[training]
trials = 2
trial_duration = 0.01
command = { kind = "filtered_noise", amplitude = [10.0, 0.0] }
[[test]]
name = "t"
duration = 0.01
command = { kind = "zero" }
"#;

const EXAMPLES: [&str; 7] = [
    include_str!("../../examples/linear.toml"),
    include_str!("../../examples/linear_robust.toml"),
    include_str!("../../examples/bistable.toml"),
    include_str!("../../examples/pendulum.toml"),
    include_str!("../../examples/vanderpol.toml"),
    include_str!("../../examples/lorenz.toml"),
    SEED_TOML,
];

/// Valid files to mutate: trained networks and checkpoints, factored and dense.
pub fn seed_files() -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for dense in [false, true] {
        let mut config = ExperimentConfig::from_toml(SEED_TOML)?;
        if dense {
            config.network.slow_weights = ebn_network::core::WeightForm::Dense;
        }
        let mut exp = Experiment::build(&config)?;
        let mut net = exp.initial_network()?;
        let mut state = TrainingState::default();
        exp.train_trial(&mut net, &mut state)?;
        let weights = StoredWeights::from_weights(net.slow_weights());
        out.push(
            TrainedNetwork { config: config.clone(), weights: weights.clone(), training: state.clone() }.to_bytes()?,
        );
        out.push(Checkpoint { config, state, weights }.to_bytes()?);
    }
    Ok(out)
}

/// What a loader said: "ok", or the error with its numbers blanked (its kind).
fn kind_of(result: Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".into(),
        // The kind of error: its first line, numbers blanked, up to the first quote or colon
        // after the field name (the value and the context vary, the kind does not).
        Err(e) => {
            let first = e.lines().next().unwrap_or("");
            let blank: String = first.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
            blank.chars().take(48).collect()
        }
    }
}

/// Loads `bytes` as both file kinds; the error text (or ok) of each.
pub fn load_file(bytes: &[u8]) -> String {
    let a = TrainedNetwork::from_bytes(bytes).map(|_| ()).map_err(|e| e.to_string());
    let b = Checkpoint::from_bytes(bytes).map(|_| ()).map_err(|e| e.to_string());
    format!("{} | {}", kind_of(a), kind_of(b))
}

/// Parses and validates `text` as an experiment; builds its network if it is small.
pub fn load_toml(text: &str) -> String {
    let result = (|| -> Result<(), String> {
        let config = ExperimentConfig::from_toml(text).map_err(|e| e.to_string())?;
        config.network.validate().map_err(|e| e.to_string())?;
        let exp = Experiment::build(&config).map_err(|e| e.to_string())?;
        let nb = config
            .network
            .basis
            .params
            .get("n_basis")
            .and_then(|v| v.as_u64())
            .map_or(config.network.n, |v| v as usize);
        if config.network.n <= 2000 && nb <= 2000 && config.network.dim <= 16 {
            exp.initial_network().map_err(|e| e.to_string())?;
        }
        Ok(())
    })();
    kind_of(result)
}

fn mutate_bytes(rng: &mut ebn_network::core::Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..rng.random_range(1..4) {
        let len = data.len().max(1);
        match rng.random_range(0..7) {
            0 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                data[i] = [0u8, 0xff, 0x7f, 0x80, 0xfe, 1][rng.random_range(0..6)];
            }
            2 => {
                let i = rng.random_range(0..=data.len());
                let n = rng.random_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                data.splice(i..i, bytes);
            }
            3 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                let j = (i + rng.random_range(1..32)).min(data.len());
                data.drain(i..j);
            }
            4 => data.truncate(rng.random_range(0..len)),
            5 => {
                let other = &others[rng.random_range(0..others.len())];
                let cut = rng.random_range(0..=data.len());
                let from = rng.random_range(0..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                // An 8-byte little-endian integer somewhere: a length or size field.
                if data.len() >= 8 {
                    let i = rng.random_range(0..data.len() - 7);
                    let v: u64 = [0, 1, u64::MAX, 1 << 31, 1 << 40, u32::MAX as u64][rng.random_range(0..6)];
                    data[i..i + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

/// The `k`-th file input of a run with `seed`.
pub fn file_input(seed: u64, k: u64, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut rng = SeedStreams::new(seed).indexed(Stream::Perturbation, k);
    match k % 4 {
        0 => (0..rng.random_range(0..200)).map(|_| rng.random()).collect(),
        1 => {
            let mut data = seeds[rng.random_range(0..seeds.len())].clone();
            mutate_bytes(&mut rng, &mut data, seeds);
            data
        }
        _ => {
            // Payload mutated, header resealed: the decoder and the validation see it.
            let file = &seeds[rng.random_range(0..seeds.len())];
            let mut body = file[32..].to_vec();
            mutate_bytes(&mut rng, &mut body, seeds);
            let mut out = file[..16].to_vec();
            out.extend_from_slice(&(body.len() as u64).to_le_bytes());
            out.extend_from_slice(&ebn_network::payload_checksum(&body).to_le_bytes());
            out.extend_from_slice(&body);
            out
        }
    }
}

const EXTREMES: [&str; 16] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "1e-320",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "100000000",
    "0.0",
    "-0.0",
    "1e20",
    "\"x\"",
];
const KINDS: [&str; 12] = [
    "identity",
    "random_tanh",
    "state_tanh",
    "local",
    "none",
    "zero",
    "pulses",
    "filtered_noise",
    "lorenz",
    "scaled",
    "uniform",
    "bogus",
];

/// The `k`-th TOML input of a run with `seed`.
pub fn toml_input(seed: u64, k: u64) -> String {
    let mut rng = SeedStreams::new(seed).indexed(Stream::Perturbation, k);
    if k.is_multiple_of(8) {
        let bytes: Vec<u8> = (0..rng.random_range(0..200)).map(|_| rng.random()).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let text = EXAMPLES[rng.random_range(0..EXAMPLES.len())];
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..4) {
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..6) {
            0 | 1 => {
                // Replace one number on the line with an extreme value.
                let line = lines[i].clone();
                let starts: Vec<usize> = line
                    .char_indices()
                    .filter(|(p, c)| {
                        (c.is_ascii_digit() || *c == '-')
                            && (*p == 0 || !line.as_bytes()[p - 1].is_ascii_alphanumeric())
                    })
                    .map(|(p, _)| p)
                    .collect();
                if !starts.is_empty() {
                    let s = starts[rng.random_range(0..starts.len())];
                    let e = line[s + 1..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '+'))
                        .map_or(line.len(), |o| s + 1 + o);
                    lines[i] = format!("{}{}{}", &line[..s], EXTREMES[rng.random_range(0..EXTREMES.len())], &line[e..]);
                }
            }
            2 => {
                if let Some(p) = lines[i].find("kind = \"") {
                    let rest = &lines[i][p + 8..];
                    if let Some(q) = rest.find('"') {
                        let new = KINDS[rng.random_range(0..KINDS.len())];
                        lines[i] = format!("{}{}{}", &lines[i][..p + 8], new, &rest[q..]);
                    }
                }
            }
            3 => {
                lines.remove(i);
                if lines.is_empty() {
                    lines.push(String::new());
                }
            }
            4 => {
                let j = rng.random_range(0..lines.len());
                if rng.random_bool(0.5) {
                    lines.swap(i, j);
                } else {
                    let dup = lines[j].clone();
                    lines.insert(i, dup);
                }
            }
            _ => {
                let mut line: Vec<char> = lines[i].chars().collect();
                let at = rng.random_range(0..=line.len());
                line.insert(at, ['[', ']', '{', '}', '"', '=', ',', '\n', '#', 'é'][rng.random_range(0..10)]);
                lines[i] = line.into_iter().collect();
            }
        }
    }
    lines.join("\n")
}

/// Counts of one target.
#[derive(Debug, Default)]
pub struct Report {
    pub inputs: u64,
    pub panics: u64,
    pub accepted: u64,
    pub max_micros: u128,
    /// First input of each distinct outcome.
    pub corpus: BTreeMap<String, Vec<u8>>,
    pub panic_inputs: Vec<Vec<u8>>,
}

fn run_target(count: u64, make: impl Fn(u64) -> Vec<u8> + Sync, load: impl Fn(&[u8]) -> String + Sync) -> Report {
    let chunks: Vec<Report> = (0..count.div_ceil(10_000))
        .into_par_iter()
        .map(|c| {
            let mut r = Report::default();
            for k in c * 10_000..((c + 1) * 10_000).min(count) {
                let input = make(k);
                let start = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| load(&input)));
                r.max_micros = r.max_micros.max(start.elapsed().as_micros());
                r.inputs += 1;
                match outcome {
                    Ok(kind) => {
                        if kind.starts_with("ok") {
                            r.accepted += 1;
                        }
                        r.corpus.entry(kind).or_insert(input);
                    }
                    Err(_) => {
                        r.panics += 1;
                        if r.panic_inputs.len() < 20 {
                            r.panic_inputs.push(input);
                        }
                    }
                }
            }
            r
        })
        .collect();
    let mut total = Report::default();
    for r in chunks {
        total.inputs += r.inputs;
        total.panics += r.panics;
        total.accepted += r.accepted;
        total.max_micros = total.max_micros.max(r.max_micros);
        for (k, v) in r.corpus {
            total.corpus.entry(k).or_insert(v);
        }
        total.panic_inputs.extend(r.panic_inputs);
    }
    total
}

/// Fuzzes both loaders with `count` inputs each; writes the corpus (and any panicking
/// input) under `corpus` if given. Fails if anything panicked.
pub fn fuzz(count: u64, seed: u64, corpus: Option<&Path>) -> Result<serde_json::Value> {
    let seeds = seed_files()?;
    // Panics are caught and counted; their default message would flood the terminal.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let files = run_target(count, |k| file_input(seed, k, &seeds), load_file);
    let tomls = run_target(count, |k| toml_input(seed, k).into_bytes(), |b| load_toml(&String::from_utf8_lossy(b)));
    std::panic::set_hook(hook);
    if let Some(dir) = corpus {
        for (name, report) in [("files", &files), ("toml", &tomls)] {
            let d = dir.join(name);
            std::fs::create_dir_all(&d)?;
            for (k, input) in report.corpus.values().enumerate() {
                crate::output::write_atomic(&d.join(format!("{k:04}")), input)?;
            }
            for (k, input) in report.panic_inputs.iter().enumerate() {
                crate::output::write_atomic(&d.join(format!("panic-{k:04}")), input)?;
            }
        }
    }
    let summary = |r: &Report| {
        json!({
            "inputs": r.inputs, "panics": r.panics, "accepted": r.accepted,
            "distinct_outcomes": r.corpus.len(), "slowest_input_ms": r.max_micros as f64 / 1e3,
        })
    };
    let out = json!({
        "seed": seed, "wall_seconds": start.elapsed().as_secs_f64(),
        "files": summary(&files), "toml": summary(&tomls),
    });
    anyhow::ensure!(files.panics + tomls.panics == 0, "panics found: {out}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed corpus input (the first of each outcome found by `cargo xtask fuzz`,
    /// and any input that ever panicked) loads without a panic.
    #[test]
    fn fuzz_corpus_replays() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus");
        let mut replayed = 0;
        for (name, load) in [
            ("files", &load_file as &dyn Fn(&[u8]) -> String),
            ("toml", &|b: &[u8]| load_toml(&String::from_utf8_lossy(b))),
        ] {
            for entry in std::fs::read_dir(dir.join(name)).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                let _ = load(&bytes);
                replayed += 1;
            }
        }
        assert!(replayed > 50, "the corpus is missing ({replayed} inputs)");
    }

    /// A short fuzzing run in the test suite (the long runs are `cargo xtask fuzz`).
    #[test]
    fn a_short_fuzz_run_finds_no_panic() {
        let out = fuzz(4_000, 99, None).unwrap();
        assert_eq!(out["files"]["panics"], 0);
        assert_eq!(out["toml"]["panics"], 0);
        // The generators reach past the first check: several kinds of outcome, some accepted.
        assert!(out["files"]["distinct_outcomes"].as_u64().unwrap() > 5, "{out}");
        assert!(out["toml"]["accepted"].as_u64().unwrap() > 0, "{out}");
    }
}
