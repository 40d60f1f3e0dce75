#![doc = include_str!("../README.md")]

mod local;
mod rls;
mod robust;

pub use local::{LocalRule, NoLearning};
pub use rls::{MAX_RLS_BASIS, Rls};
pub use robust::{RobustLocal, Safeguard};

use ebn_core::{PlasticityRule, Registry, Result};
use serde::{Deserialize, Serialize};

/// Every kind of [`RuleConfig`], as named in files.
pub const KINDS: [&str; 7] =
    ["none", "local", "local_sigma", "local_e_mod", "local_dead_zone", "local_projection", "rls"];

/// Registers the rules of this crate (the kinds of [`RuleConfig`], listed in [`KINDS`]).
pub fn register(registry: &mut Registry) {
    for kind in KINDS {
        registry.add_rule_spec(kind, |spec, field| spec.parse_tagged::<RuleConfig>(field)?.build());
    }
}

/// Which rule, with its parameters (serde: `kind = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// Fixed weights.
    #[default]
    None,
    /// The paper's rule ([`LocalRule`]) with rate `eta` per basis function (raw rate
    /// eta / N_b).
    ///
    /// The effective learning gain of the rule grows with the number of basis functions
    /// (about 0.4 eta N_b in a reference implementation, MODEL.md §6), so the configured
    /// value is divided by N_b: the same `eta` means the same learning speed at any N_b.
    Local {
        /// Learning rate per basis function, eta N_b.
        eta: f64,
    },
    /// The paper's rule with sigma-modification (leakage): dW/dt = eta e Psi^T - sigma W
    /// ([`RobustLocal`]).
    LocalSigma {
        /// Learning rate per basis function.
        eta: f64,
        /// Leak rate (1/s).
        sigma: f64,
    },
    /// The paper's rule with e-modification: dW/dt = eta e Psi^T - sigma ||e|| W.
    LocalEMod {
        /// Learning rate per basis function.
        eta: f64,
        /// Leak per unit of error norm (1/(s x)).
        sigma: f64,
    },
    /// The paper's rule with a continuous dead zone: nothing learned while ||e|| <= threshold,
    /// e shrunk by the threshold above it.
    LocalDeadZone {
        /// Learning rate per basis function.
        eta: f64,
        /// Error norm below which nothing is learned (units of x).
        threshold: f64,
    },
    /// The paper's rule with parameter projection onto ||W||_F <= bound (factored weights).
    LocalProjection {
        /// Learning rate per basis function.
        eta: f64,
        /// Radius of the ball of W (x per second per unit of Psi).
        bound: f64,
    },
    /// Recursive least squares / FORCE ([`Rls`]): not local.
    Rls {
        /// Rate gamma (1/s); 1 makes each update an exact weighted least-squares step on e.
        gamma: f64,
        /// Prior: P(0) = I / alpha (s Psi^2).
        alpha: f64,
        /// Forgetting rate (1/s); 0 keeps all data.
        #[serde(default)]
        forgetting: f64,
        /// One update every `every` steps (FORCE's update interval); default 1.
        #[serde(default = "one")]
        every: u32,
        /// Rate of the regressor's filter (1/s): 0 (default) regresses e on Psi as plain
        /// FORCE does; lambda + K regresses it on Psi filtered like the error (see [`Rls`]).
        #[serde(default)]
        filter: f64,
    },
}

fn one() -> u32 {
    1
}

impl RuleConfig {
    /// Validates and builds the rule (unbound: the network binds it to N_b).
    pub fn build(&self) -> Result<Box<dyn PlasticityRule>> {
        Ok(match *self {
            Self::None => Box::new(NoLearning),
            Self::Local { eta } => Box::new(LocalRule::new(eta)?),
            Self::LocalSigma { eta, sigma } => Box::new(RobustLocal::new(eta, Safeguard::Sigma { sigma })?),
            Self::LocalEMod { eta, sigma } => Box::new(RobustLocal::new(eta, Safeguard::EMod { sigma })?),
            Self::LocalDeadZone { eta, threshold } => {
                Box::new(RobustLocal::new(eta, Safeguard::DeadZone { threshold })?)
            }
            Self::LocalProjection { eta, bound } => Box::new(RobustLocal::new(eta, Safeguard::Projection { bound })?),
            Self::Rls { gamma, alpha, forgetting, every, filter } => {
                Box::new(Rls::new(gamma, alpha, forgetting, every, filter)?)
            }
        })
    }
}

impl From<RuleConfig> for ebn_core::Spec {
    fn from(config: RuleConfig) -> Self {
        ebn_core::Spec::tagged(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{LearningSignal, Mat, RuleSetup, SlowWeights, WeightForm};

    #[test]
    fn rules_conform() {
        ebn_core::conformance::error_driven_rule(&|| Box::new(NoLearning));
        ebn_core::conformance::error_driven_rule(&|| Box::new(LocalRule::new(3.0).unwrap()));
    }

    #[test]
    fn local_rule_is_the_outer_product() {
        let mut w = SlowWeights::zeros(WeightForm::Factored, 3, 2, 2);
        let d = Mat::zeros(2, 3);
        let signal = LearningSignal {
            error: &[1.0, -2.0],
            feedback: &[0.0; 3],
            psi: &[0.5, 4.0],
            target: &[0.0; 2],
            readout: &[0.0; 2],
            traces: &[0.0; 3],
            voltages: &[0.0; 3],
            spikes: &[],
            decoder: &d,
            t: 0.0,
            rate_scale: 0.5,
            dt: 0.1,
        };
        // eta = 4 per basis function, N_b = 2: raw 2; dt eta s = 0.1; W = 0.1 e psi^T.
        let mut rule = LocalRule::new(4.0).unwrap();
        rule.bind(&RuleSetup { form: WeightForm::Factored, n: 3, dim: 2, n_basis: 2 }).unwrap();
        assert_eq!(rule.raw_eta(), 2.0);
        rule.update(&signal, &mut w);
        let m = w.matrix().transpose();
        let expected = [[0.05, 0.4], [-0.1, -0.8]];
        for r in 0..2 {
            for c in 0..2 {
                assert!((m[(r, c)] - expected[r][c]).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn negative_rate_is_rejected() {
        assert!(RuleConfig::Local { eta: -1.0 }.build().is_err());
        assert!(RuleConfig::Local { eta: f64::NAN }.build().is_err());
        assert!(LocalRule::new(-1.0).is_err());
    }
}
