//! The networks an experiment hands out: initial, resumed, with given weights.

use super::*;

impl Experiment {
    /// A fresh network with the experiment's initial slow weights, its components built
    /// through the experiment's registry.
    pub fn initial_network(&self) -> Result<Network> {
        if let Some(network) = self.take_validated() {
            return Ok(network);
        }
        let network = Network::build_in(&self.config.network, self.seeds, &self.registry, Overrides::default())?;
        self.with_initial_weights(network)
    }

    /// A fresh network around a neuron model given as a value (static dispatch), with the
    /// experiment's initial weights; `overrides` replace the basis or the rule.
    pub fn initial_network_generic<M: NeuronModel>(&self, neuron: M, overrides: Overrides) -> Result<Network<M>> {
        let network = Network::build_generic(&self.config.network, self.seeds, neuron, &self.registry, overrides)?;
        self.with_initial_weights(network)
    }

    pub(super) fn with_initial_weights<M: NeuronModel>(&self, mut network: Network<M>) -> Result<Network<M>> {
        if self.config.slow_weights == InitialWeights::ClosedForm {
            let w = self.closed_form_weights(&network, self.config.network.slow_weights)?;
            network.set_slow_weights(w)?;
        }
        Ok(network)
    }

    /// The closed-form slow weights of a linear target for `network`'s decoder, in `form`
    /// (MODEL.md §6: Omega_s = D^T (A + lambda I) D, or W = (A + lambda I) D): the one place
    /// that decides whether they exist. `Error::Unsupported` unless the target is linear and
    /// the basis is the identity.
    pub fn closed_form_weights<M: NeuronModel>(&self, network: &Network<M>, form: WeightForm) -> Result<SlowWeights> {
        let a = self.vector_field()?.linear_matrix().ok_or_else(|| {
            let kind = self.config.target.as_ref().map_or_else(String::new, ToString::to_string);
            Error::Unsupported(format!("closed-form weights need a linear target, not {kind}"))
        })?;
        if !network.identity_basis() {
            return Err(Error::Unsupported("closed-form weights need the identity basis".into()));
        }
        linear_slow_weights(&a, network.decoder(), self.config.network.lambda, form)
    }

    /// A network carrying the given slow weights (e.g. from a trained network file).
    pub fn network_with(&self, weights: SlowWeights) -> Result<Network> {
        network_with(&self.config, &self.registry, weights)
    }

    /// A network resumed from a training state: its weights and the rule's own state.
    pub fn resume(&self, weights: SlowWeights, state: &TrainingState) -> Result<Network> {
        match self.take_validated() {
            // The same network as a fresh build: built from the same configuration and seed,
            // never stepped.
            Some(mut network) => {
                network.set_slow_weights(weights)?;
                network.set_rule_state(&state.rule_state)?;
                Ok(network)
            }
            None => resumed(&self.config, &self.registry, weights, state),
        }
    }

    /// The network built at validation, if no one has taken it yet.
    pub(super) fn take_validated(&self) -> Option<Network> {
        self.validated.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

pub(super) fn network_with(config: &ExperimentConfig, registry: &Registry, weights: SlowWeights) -> Result<Network> {
    let mut network =
        Network::build_in(&config.network, SeedStreams::new(config.seed), registry, Overrides::default())?;
    network.set_slow_weights(weights)?;
    Ok(network)
}

/// The network of `config` with trained `weights` and the rule's state of `state`.
pub(super) fn resumed(
    config: &ExperimentConfig,
    registry: &Registry,
    weights: SlowWeights,
    state: &TrainingState,
) -> Result<Network> {
    let mut network = network_with(config, registry, weights)?;
    network.set_rule_state(&state.rule_state)?;
    Ok(network)
}
