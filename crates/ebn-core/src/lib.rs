#![doc = include_str!("../README.md")]

pub mod basis;
pub mod check;
pub mod coding;
pub mod command;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod neuron;
pub mod perturbation;
pub mod plasticity;
pub mod recording;
pub mod seed;
pub mod target;
pub mod weights;

pub use basis::Basis;
pub use command::{CommandSignal, CommandStream};
pub use error::{Error, Result};
pub use neuron::NeuronModel;
pub use perturbation::{Perturbation, PerturbationContext};
pub use plasticity::{LearningSignal, PlasticityRule};
pub use recording::{Observer, Recording, SpikeTrain, Trace};
pub use seed::{Rng, SeedStreams, Stream};
pub use target::{Integrator, TargetSystem};
pub use weights::{SlowWeights, WeightForm};

/// Re-exported so that every crate names the same matrix type.
pub use faer::Mat;
