//! A trained network as a value: its experiment and learned weights.

use super::*;

/// A trained network: its experiment and its learned weights, a value to keep, save, test
/// many times and perturb. D and the basis are rebuilt from the configuration's seed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedNetwork {
    /// The experiment it was trained in.
    pub config: ExperimentConfig,
    /// The learned slow weights.
    pub weights: StoredWeights,
    /// The learning curve and training progress.
    pub training: TrainingState,
}

impl TrainedNetwork {
    /// The trained network, ready to run (built-in components).
    pub fn network(&self) -> Result<Network> {
        self.network_in(builtins())
    }

    /// The trained network, its components built through `registry`. An experiment that
    /// replays a recording is validated without it (the network does not need the data; its
    /// tests do).
    pub fn network_in(&self, registry: &Registry) -> Result<Network> {
        let weights = self.weights.to_weights()?;
        if self.config.data.is_some() {
            return resumed(&self.config, registry, weights, &self.training);
        }
        Experiment::build_in(&self.config, registry)?.resume(weights, &self.training)
    }
}
