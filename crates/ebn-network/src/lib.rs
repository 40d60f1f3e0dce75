#![doc = include_str!("../README.md")]

mod any_neuron;
mod closed_form;
mod config;
mod experiment;
mod network;
pub mod presets;
mod record;
mod registry;
mod store;

pub use any_neuron::{AnyNeuron, AnyState};
pub use closed_form::linear_slow_weights;
pub use config::{DecoderConfig, FastForm, MAX_DIM, MAX_MATRIX, MAX_NEURONS, NetworkConfig};
pub use ebn_core::{Registry, Spec, StoredWeights};
pub use experiment::{
    Anneal, Experiment, ExperimentConfig, InitialState, InitialWeights, Preload, RunStats, Teacher, TestConfig,
    TrainedNetwork, TrainingConfig, TrainingState, simulate,
};
pub use network::{DamageSnapshot, Network, Overrides};
pub use record::{RecordConfig, Recorder};
pub use registry::{builtin_registry, builtins};
pub use store::{Checkpoint, FORMAT_VERSION, FileKind, payload_checksum};

pub use ebn_analysis as analysis;
pub use ebn_basis as basis;
pub use ebn_core as core;
pub use ebn_dynamics as dynamics;
pub use ebn_neurons as neurons;
pub use ebn_perturb as perturb;
pub use ebn_plasticity as plasticity;
