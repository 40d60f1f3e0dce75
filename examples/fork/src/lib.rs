//! An example research fork of the workspace: four components in their own crate, each
//! registered with one call, named in this crate's experiment files and run by this crate's
//! binary (the workspace's command line with this registry).

pub mod decay_rule;
pub mod duffing;
pub mod jitter;
pub mod refractory;

use ebn_network::Registry;
use ebn_network::core::{Perturbation, PerturbationSetup, PlasticityRule, Result, Rng, TargetSystem};

/// Adds the fork's components to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_target("duffing", |p: duffing::Duffing, _: &Registry| -> Result<Box<dyn TargetSystem>> {
        Ok(Box::new(p.validated()?))
    });
    registry.add_neuron::<refractory::Refractory>("refractory");
    registry.add_rule("decay_local", |p: decay_rule::DecayRule| -> Result<Box<dyn PlasticityRule>> { Ok(Box::new(p)) });
    registry.add_perturbation(
        "threshold_jitter",
        |p, _: &PerturbationSetup<'_>, rng: Rng| -> Result<Box<dyn Perturbation>> {
            Ok(Box::new(jitter::ThresholdJitter::new(p, rng)?))
        },
    );
}

/// The built-in components plus the fork's.
pub fn registry() -> Registry {
    let mut registry = ebn_network::builtin_registry();
    register(&mut registry);
    registry
}
