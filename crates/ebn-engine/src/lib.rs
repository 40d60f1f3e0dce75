#![doc = include_str!("../README.md")]

mod closed_form;
mod config;
mod deferred;
#[doc(hidden)]
pub mod kernels;
mod network;
mod plan;
mod population;
mod record;
mod registry;
mod run;

pub use closed_form::linear_slow_weights;
pub use config::{DecoderConfig, FastForm, MAX_DIM, MAX_MATRIX, MAX_NEURONS, NetworkConfig};
pub use deferred::Deferred;
pub use network::{Network, Overrides, networks_built};
pub use record::{RecordConfig, Recorder};
pub use registry::{network_components, network_registry};
pub use run::{PreloadState, Protocol, RunSettings};
