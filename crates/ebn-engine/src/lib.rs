#![doc = include_str!("../README.md")]

mod any_neuron;
mod closed_form;
mod config;
mod network;
mod record;
mod registry;

pub use any_neuron::{AnyNeuron, AnyState};
pub use closed_form::linear_slow_weights;
pub use config::{DecoderConfig, FastForm, MAX_DIM, MAX_MATRIX, MAX_NEURONS, NetworkConfig};
pub use network::{DamageSnapshot, Deferred, Network, Overrides};
pub use record::{RecordConfig, Recorder};
pub use registry::{builtin_registry, builtins};
