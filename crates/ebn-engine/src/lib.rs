#![doc = include_str!("../README.md")]

mod closed_form;
mod config;
#[doc(hidden)]
pub mod kernels;
mod network;
mod plan;
mod record;
mod registry;

pub use closed_form::linear_slow_weights;
pub use config::{DecoderConfig, FastForm, MAX_DIM, MAX_MATRIX, MAX_NEURONS, NetworkConfig};
pub use network::{Deferred, Network, Overrides, PreloadState, Protocol, RunSettings};
pub use record::{RecordConfig, Recorder};
pub use registry::{builtin_registry, builtins};
