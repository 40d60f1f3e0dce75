//! Network configuration: plain serde data, validated once by `Network::build`.

use ebn_basis::BasisConfig;
use ebn_core::{Error, Mat, Result, Rng, Spec, WeightForm, check};
use ebn_neurons::EbnNeuron;
use ebn_plasticity::RuleConfig;

pub use ebn_core::check::{MAX_DIM, MAX_MATRIX, MAX_NEURONS};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Everything that defines a network, before any random number is drawn.
///
/// Defaults ([`NetworkConfig::paper`]) are those of MODEL.md §9 (the authors' simulation of
/// the damped oscillator) except lambda_v = lambda = 10 /s (project choice, MODEL.md §4).
///
/// The neuron model, the basis and the rule are [`Spec`]s, resolved through a registry when
/// the network is built (`kind = "..."`; a fork's kinds too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Number of neurons N.
    pub n: usize,
    /// Dimension J of the represented state.
    pub dim: usize,
    /// Time step (s).
    #[serde(default = "default_dt")]
    pub dt: f64,
    /// Decay rate lambda of the traces r and of x_hat (1/s).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// The neuron model and its parameters (default: `ebn` with lambda_v = 10 /s).
    #[serde(default = "default_neuron")]
    pub neuron: Spec,
    /// How the decoder D (J x N) is chosen.
    #[serde(default)]
    pub decoder: DecoderConfig,
    /// Quadratic spike cost mu (units of x^2).
    pub mu: f64,
    /// Linear spike cost nu (units of x^2).
    pub nu: f64,
    /// Error-feedback gain K (1/s).
    #[serde(default)]
    pub feedback_gain: f64,
    /// Membrane noise intensity sigma_V (units of V per sqrt(s)); the increment per step is
    /// sigma_V sqrt(dt) N(0, 1). Not the network's own: the protocol (`ebn-network`) makes
    /// it a `membrane_noise` perturbation of every run, on the run's noise stream, ahead of
    /// the other perturbations; a network stepped by hand has no noise unless given one.
    #[serde(default)]
    pub sigma_v: f64,
    /// The basis Psi(r) (default: `identity`).
    #[serde(default = "default_basis")]
    pub basis: Spec,
    /// Storage of the slow weights.
    #[serde(default)]
    pub slow_weights: WeightForm,
    /// Storage of the fast weights.
    #[serde(default)]
    pub fast_weights: FastForm,
    /// The learning rule (default: `none`).
    #[serde(default = "default_rule")]
    pub rule: Spec,
}

fn default_dt() -> f64 {
    1e-4
}
fn default_lambda() -> f64 {
    10.0
}
fn default_basis() -> Spec {
    Spec::tagged(&BasisConfig::Identity)
}
fn default_rule() -> Spec {
    Spec::tagged(&RuleConfig::None)
}
fn default_neuron() -> Spec {
    Spec::new("ebn")
}

impl NetworkConfig {
    /// The MODEL.md §9 defaults for `n` neurons representing `dim` dimensions: dt = 1e-4 s,
    /// lambda = lambda_v = 10 /s, D ~ N(0, 1) / (2N), mu = 0.4167 / N^2, nu = 0.0083 / N^2,
    /// K = 5 /s, no noise, identity basis, factored slow and fast weights, no learning.
    pub fn paper(n: usize, dim: usize) -> Self {
        let n2 = (n as f64).powi(2).max(1.0);
        Self {
            n,
            dim,
            dt: default_dt(),
            lambda: default_lambda(),
            neuron: Spec::of("ebn", &EbnNeuron { lambda_v: default_lambda() }),
            decoder: DecoderConfig::default(),
            mu: 0.4167 / n2,
            nu: 0.0083 / n2,
            feedback_gain: 5.0,
            sigma_v: 0.0,
            basis: default_basis(),
            slow_weights: WeightForm::Factored,
            fast_weights: FastForm::Factored,
            rule: default_rule(),
        }
    }

    /// Sets the basis from a typed built-in configuration.
    #[must_use]
    pub fn with_basis(mut self, basis: &BasisConfig) -> Self {
        self.basis = Spec::tagged(basis);
        self
    }

    /// Sets the rule from a typed built-in configuration.
    #[must_use]
    pub fn with_rule(mut self, rule: &RuleConfig) -> Self {
        self.rule = Spec::tagged(rule);
        self
    }

    /// Sets the neuron to the EBN neuron with these parameters.
    #[must_use]
    pub fn with_ebn_neuron(mut self, neuron: EbnNeuron) -> Self {
        self.neuron = Spec::of("ebn", &neuron);
        self
    }

    /// The EBN neuron's parameters, if the configured neuron is one (kind `ebn` or the
    /// default) and its parameters parse.
    pub fn ebn_neuron(&self) -> Option<EbnNeuron> {
        if self.neuron.kind.is_empty() || self.neuron.kind == "ebn" {
            self.neuron.parse("network.neuron").ok()
        } else {
            None
        }
    }
}

/// How the decoder D is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecoderConfig {
    /// D_ji ~ N(0, std^2), drawn from the decoder stream; `std` defaults to 1 / (2N)
    /// (MODEL.md §9).
    #[default]
    Gaussian,
    /// D_ji ~ N(0, std^2) with the given std.
    GaussianStd {
        /// Standard deviation of the entries (units of x per spike).
        std: f64,
    },
    /// D_ji ~ N(0, std_j^2): a separate standard deviation per dimension, for states whose
    /// components have different ranges (so that each is coded with the same relative
    /// precision).
    GaussianPerDim {
        /// Standard deviation of row j of D (units of x_j per spike), length J.
        std: Vec<f64>,
    },
    /// The decoder given column by column: `columns[i]` is D_i, of length J.
    Explicit {
        /// One decoding vector per neuron.
        columns: Vec<Vec<f64>>,
    },
}

impl DecoderConfig {
    /// Draws or checks the decoder for `n` neurons and `dim` dimensions.
    pub fn build(&self, n: usize, dim: usize, rng: &mut Rng) -> Result<Mat<f64>> {
        let gaussian =
            |std: f64, rng: &mut Rng| Mat::from_fn(dim, n, |_, _| std * rng.sample::<f64, _>(StandardNormal));
        let d = match self {
            Self::Gaussian => gaussian(1.0 / (2.0 * n as f64), rng),
            Self::GaussianStd { std } => gaussian(check::positive("decoder.std", *std)?, rng),
            Self::GaussianPerDim { std } => {
                check::same_len("decoder.std", dim, std.len())?;
                for (j, s) in std.iter().enumerate() {
                    check::positive(&format!("decoder.std[{j}]"), *s)?;
                }
                Mat::from_fn(dim, n, |j, _| std[j] * rng.sample::<f64, _>(StandardNormal))
            }
            Self::Explicit { columns } => {
                check::same_len("decoder.columns (one per neuron)", n, columns.len())?;
                for (i, col) in columns.iter().enumerate() {
                    check::same_len(&format!("decoder.columns[{i}]"), dim, col.len())?;
                    check::all_finite(&format!("decoder.columns[{i}]"), col)?;
                }
                Mat::from_fn(dim, n, |j, i| columns[i][j])
            }
        };
        for i in 0..n {
            if d.col_as_slice(i).iter().all(|v| *v == 0.0) {
                return Err(Error::invalid(
                    format!("decoder.columns[{i}]"),
                    "a zero vector",
                    "a nonzero decoding vector for every neuron (a zero column can never lower the loss)",
                ));
            }
        }
        Ok(d)
    }
}

/// Storage of the fast weights Omega_f = -(D^T D + mu I).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FastForm {
    /// Compute the column of the spiking neuron from D when needed: O(N J) per spike, O(N J)
    /// memory. The default: exact, and usable at any N.
    #[default]
    Factored,
    /// Store the N x N matrix and add its column: O(N) per spike, O(N^2) memory.
    Dense,
    /// Only the diagonal, the self-reset -(||D_k||^2 + mu): the lateral connections that
    /// keep excitation and inhibition balanced are removed. A lesion for experiments, not
    /// the model (a spike no longer tells the other neurons that the error was corrected).
    ResetOnly,
}

impl NetworkConfig {
    /// Checks the network's own parameters and sizes without allocating anything (the first
    /// thing [`crate::Network::build`] does; the components check their own parameters when
    /// they are built).
    pub fn validate(&self) -> Result<()> {
        // Sizes are checked before anything is allocated, so that a mistyped or hostile
        // configuration is an error, not an out-of-memory abort.
        check::nonzero("network.n", self.n)?;
        check::nonzero("network.dim", self.dim)?;
        check::at_most("network.n", self.n, MAX_NEURONS, "about 100 bytes per neuron and step")?;
        check::at_most("network.dim", self.dim, MAX_DIM, "the state dimension J")?;
        if self.fast_weights == FastForm::Dense {
            check::at_most("network.n x n", self.n * self.n, MAX_MATRIX, "dense fast weights, 8 bytes each")?;
        }
        check::positive("network.dt", self.dt)?;
        check::positive("network.lambda", self.lambda)?;
        check::resolves_rate("network.lambda", self.lambda, self.dt)?;
        check::non_negative("network.mu", self.mu)?;
        check::non_negative("network.nu", self.nu)?;
        check::non_negative("network.feedback_gain", self.feedback_gain)?;
        check::non_negative("network.sigma_v", self.sigma_v)?;
        Ok(())
    }
}
