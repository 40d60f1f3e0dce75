//! The registry of every built-in component.

use ebn_core::Registry;
use std::sync::OnceLock;

/// A registry holding every built-in component of the workspace: targets, integrators and
/// commands (`ebn-dynamics`), neuron models (`ebn-neurons`), bases (`ebn-basis`), rules
/// (`ebn-plasticity`), perturbations (`ebn-perturb`) and test analyses (`ebn-analysis`).
/// A fork starts from it and adds its own kinds.
pub fn builtin_registry() -> Registry {
    let mut registry = ebn_engine::network_registry();
    ebn_dynamics::register(&mut registry);
    ebn_perturb::register(&mut registry);
    ebn_analysis::register(&mut registry);
    registry
}

/// The built-in registry, built once.
pub fn builtins() -> &'static Registry {
    static BUILTINS: OnceLock<Registry> = OnceLock::new();
    BUILTINS.get_or_init(builtin_registry)
}
