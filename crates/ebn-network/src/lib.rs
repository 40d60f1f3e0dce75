#![doc = include_str!("../README.md")]

pub mod code;
pub mod data;
mod experiment;
pub mod nir;
pub mod presets;
mod registry;
mod simulate;
mod store;

pub use ebn_core::{Registry, Spec, StoredWeights};
pub use ebn_engine::{
    DecoderConfig, FastForm, MAX_DIM, MAX_MATRIX, MAX_NEURONS, Network, NetworkConfig, Overrides, PreloadState,
    Protocol, RecordConfig, Recorder, RunSettings, linear_slow_weights,
};
pub use experiment::{
    Anneal, AnnealShape, Experiment, ExperimentConfig, InitialState, InitialWeights, Measures, Plateau, Preload,
    TestConfig, TrainedNetwork, TrainingConfig, TrainingState,
};
pub use registry::{builtin_registry, builtins};
pub use simulate::{Advance, RunStats, Teacher, simulate};
pub use store::{Checkpoint, FORMAT_VERSION, FileKind, payload_checksum};

pub use ebn_analysis as analysis;
pub use ebn_basis as basis;
pub use ebn_core as core;
pub use ebn_dynamics as dynamics;
pub use ebn_engine as engine;
pub use ebn_neurons as neurons;
pub use ebn_perturb as perturb;
pub use ebn_plasticity as plasticity;
