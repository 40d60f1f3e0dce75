//! The registry of the components a network is built from.

use ebn_core::Registry;
use std::sync::OnceLock;

/// A registry of the built-in components a network is made of: neuron models
/// (`ebn-neurons`), bases (`ebn-basis`) and rules (`ebn-plasticity`), what
/// [`Network::build`](crate::Network::build) resolves a configuration's `neuron`, `basis` and
/// `rule` through. The registry of every built-in component (targets, commands,
/// perturbations and analyses too) is `ebn_network::builtin_registry`.
pub fn network_registry() -> Registry {
    let mut registry = Registry::new();
    ebn_neurons::register(&mut registry);
    ebn_basis::register(&mut registry);
    ebn_plasticity::register(&mut registry);
    registry
}

/// [`network_registry`], built once.
pub fn network_components() -> &'static Registry {
    static COMPONENTS: OnceLock<Registry> = OnceLock::new();
    COMPONENTS.get_or_init(network_registry)
}
