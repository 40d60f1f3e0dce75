#![doc = include_str!("../README.md")]

pub mod basis;
pub mod check;
pub mod coding;
pub mod command;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod hash;
pub mod neuron;
pub mod perturbation;
pub mod plasticity;
pub mod recording;
pub mod registry;
pub mod seed;
pub mod spec;
pub mod target;
pub mod weights;

pub use basis::Basis;
pub use command::{CommandSignal, CommandStream};
pub use error::{Error, Result};
pub use neuron::{DynNeuron, DynState, ErasedNeuron, NeuronModel, NeuronState};
pub use perturbation::{InputContext, Perturbation, PerturbationContext};
pub use plasticity::{LearningSignal, PlasticityRule, RuleSetup, RunKind};
pub use recording::{Analysis, Observer, Recording, SpikeTrain, Trace};
pub use registry::{BasisSetup, Category, PerturbationSetup, Registry};
pub use seed::{Rng, SeedStreams, Stream};
pub use spec::Spec;
pub use target::{Integrator, TargetSystem};
pub use weights::{SlowWeights, StoredWeights, WeightForm};

/// Re-exported so that every crate names the same matrix type.
pub use faer::Mat;
/// Re-exported so that a fork draws from the same RNG traits and distributions, with no
/// version to match.
pub use rand;
/// See [`rand`].
pub use rand_distr;
/// Re-exported: component parameters in a [`Spec`] are JSON values.
pub use serde_json;
