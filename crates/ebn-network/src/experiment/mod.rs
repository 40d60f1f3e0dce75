//! Experiments: a teacher, a network, a training protocol and tests (MODEL.md §7).
//!
//! `config.rs`: the file's schema; `build.rs`: building and validating an experiment;
//! `networks.rs`: the networks it hands out (initial, resumed, closed form); `protocol.rs`:
//! training trials and tests; `trained.rs`: a trained network as a value.

use crate::builtins;
use crate::data::{DataConfig, RecordedData, Segment};
use crate::simulate::{Teacher, simulate};
use ebn_core::RunKind;
use ebn_core::{
    Analysis, Category, CommandSignal, CommandStream, Error, Integrator, NeuronModel, PerturbationSetup, Recording,
    Registry, Result, SeedStreams, SlowWeights, Spec, StoredWeights, Stream, TargetSystem, WeightForm, check,
};
use ebn_engine::{
    Network, NetworkConfig, Overrides, PreloadState, Protocol, RecordConfig, Recorder, RunSettings, linear_slow_weights,
};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

mod build;
mod config;
mod networks;
mod protocol;
mod trained;

pub use config::*;
use networks::resumed;
pub use trained::TrainedNetwork;

/// Offset of test command realisations, so that they never coincide with training trials.
const TEST_STREAM_OFFSET: u64 = 1 << 40;

/// Index of the random stream of perturbation `p` of run `run` (a trial, or a test stream
/// index): runs below 2^48, up to 2^16 perturbations each.
fn perturbation_stream(run: u64, p: usize) -> u64 {
    (run << 16) | (p as u64 & 0xFFFF)
}

/// The learning curve and progress of a training run: everything besides the weights that a
/// checkpoint must keep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingState {
    /// Trials completed.
    pub trials_done: usize,
    /// Normalised error sum ||e||^2 / sum ||x||^2 of each completed trial.
    pub learning_curve: Vec<f64>,
    /// Trials redrawn because the teacher left the bound.
    pub redraws: usize,
    /// The learning rule's own state after the last completed trial (empty for rules
    /// without state, such as the paper's).
    pub rule_state: Vec<f64>,
    /// Fraction of the steps of each completed trial at the spike cap
    /// ([`RunStats::capped_fraction`]); empty for the trials of a file older than format
    /// version 3, which did not record it.
    pub capped_fraction: Vec<f64>,
}

/// A built experiment: validated components ready to train and test networks.
#[derive(Debug)]
pub struct Experiment {
    config: ExperimentConfig,
    registry: Registry,
    seeds: SeedStreams,
    teacher: Option<Box<dyn TargetSystem>>,
    data: Option<RecordedData>,
    integrator: Box<dyn Integrator>,
    training_command: Option<Box<dyn CommandSignal>>,
    /// Per test, its command signal (none for a test that replays the recording).
    test_commands: Vec<Option<Box<dyn CommandSignal>>>,
    analyses: Vec<Vec<(String, Box<dyn Analysis>)>>,
    /// Per test and analysis, the suffix of its keys ("" unless its kind repeats in the test).
    key_suffixes: Vec<Vec<String>>,
    /// The initial network built to validate the configuration, handed out by the first
    /// [`Experiment::initial_network`] or [`Experiment::resume`], so that a run builds one.
    validated: std::sync::Mutex<Option<Network>>,
}
