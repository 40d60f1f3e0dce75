//! The registry of components: every `kind = "..."` of an experiment file is built here.
//!
//! A [`Registry`] maps, per [`Category`], a kind name to a builder. The workspace's crates
//! register their built-in components (`ebn_network::builtin_registry()` collects them); a
//! fork adds its own from its own crate, one call per component, with its parameters in its
//! own serde type:
//!
//! ```
//! use ebn_core::{Registry, Result, TargetSystem};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Decay { rate: f64 }
//!
//! #[derive(Debug)]
//! struct DecaySystem(f64);
//! impl TargetSystem for DecaySystem {
//!     fn dim(&self) -> usize { 1 }
//!     fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) { dxdt[0] = -self.0 * x[0]; }
//! }
//!
//! let mut registry = Registry::new();
//! registry.add_target("decay", |p: Decay, _: &Registry| -> Result<Box<dyn TargetSystem>> {
//!     Ok(Box::new(DecaySystem(ebn_core::check::positive("rate", p.rate)?)))
//! });
//! let spec = ebn_core::Spec::new("decay").with("rate", 2.0);
//! assert_eq!(registry.target(&spec, "target").unwrap().dim(), 1);
//! assert!(registry.target(&ebn_core::Spec::new("duffing"), "target").is_err());
//! ```
//!
//! An unknown kind is an [`Error::UnknownKind`] that lists the kinds the registry knows; a
//! parameter the component's type does not have is an [`Error::Parse`] naming it.

use crate::basis::Basis;
use crate::command::CommandSignal;
use crate::error::{Error, Result};
use crate::neuron::{DynNeuron, NeuronModel};
use crate::perturbation::Perturbation;
use crate::plasticity::PlasticityRule;
use crate::recording::Analysis;
use crate::seed::Rng;
use crate::spec::Spec;
use crate::target::{Integrator, TargetSystem};
use faer::Mat;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The kinds of component a registry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Target systems ([`TargetSystem`]).
    Target,
    /// The teacher's integrator ([`Integrator`]).
    Integrator,
    /// Command signals ([`CommandSignal`]).
    Command,
    /// Neuron models ([`NeuronModel`]).
    Neuron,
    /// Bases ([`Basis`]).
    Basis,
    /// Plasticity rules ([`PlasticityRule`]).
    Rule,
    /// Perturbations ([`Perturbation`]).
    Perturbation,
    /// Analyses of test recordings ([`Analysis`]).
    Analysis,
}

impl Category {
    /// Every category.
    pub const ALL: [Self; 8] = [
        Self::Target,
        Self::Integrator,
        Self::Command,
        Self::Neuron,
        Self::Basis,
        Self::Rule,
        Self::Perturbation,
        Self::Analysis,
    ];

    /// The category's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Integrator => "integrator",
            Self::Command => "command",
            Self::Neuron => "neuron",
            Self::Basis => "basis",
            Self::Rule => "rule",
            Self::Perturbation => "perturbation",
            Self::Analysis => "analysis",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a basis builder is given besides its parameters.
#[derive(Debug, Clone, Copy)]
pub struct BasisSetup<'a> {
    /// The network's decoder D (J x N).
    pub decoder: &'a Mat<f64>,
}

/// What a perturbation builder is given besides its parameters and its random stream.
#[derive(Debug, Clone, Copy)]
pub struct PerturbationSetup<'a> {
    /// The network's decoder D (J x N).
    pub decoder: &'a Mat<f64>,
    /// The time step (s).
    pub dt: f64,
}

type TargetFn = dyn Fn(&Spec, &str, &Registry) -> Result<Box<dyn TargetSystem>> + Send + Sync;
type IntegratorFn = dyn Fn(&Spec, &str) -> Result<Box<dyn Integrator>> + Send + Sync;
type CommandFn = dyn Fn(&Spec, &str, usize) -> Result<Box<dyn CommandSignal>> + Send + Sync;
type NeuronFn = dyn Fn(&Spec, &str) -> Result<DynNeuron> + Send + Sync;
type BasisFn = dyn Fn(&Spec, &str, &BasisSetup<'_>, &mut Rng) -> Result<Box<dyn Basis>> + Send + Sync;
type RuleFn = dyn Fn(&Spec, &str) -> Result<Box<dyn PlasticityRule>> + Send + Sync;
type PerturbationFn = dyn Fn(&Spec, &str, &PerturbationSetup<'_>, Rng) -> Result<Box<dyn Perturbation>> + Send + Sync;
type AnalysisFn = dyn Fn(&Spec, &str) -> Result<Box<dyn Analysis>> + Send + Sync;

/// Builders of components by category and kind (see the module documentation).
#[derive(Clone, Default)]
pub struct Registry {
    targets: BTreeMap<String, Arc<TargetFn>>,
    integrators: BTreeMap<String, Arc<IntegratorFn>>,
    commands: BTreeMap<String, Arc<CommandFn>>,
    neurons: BTreeMap<String, Arc<NeuronFn>>,
    bases: BTreeMap<String, Arc<BasisFn>>,
    rules: BTreeMap<String, Arc<RuleFn>>,
    perturbations: BTreeMap<String, Arc<PerturbationFn>>,
    analyses: BTreeMap<String, Arc<AnalysisFn>>,
    defaults: BTreeMap<Category, String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for c in Category::ALL {
            m.entry(&c.name(), &self.kinds(c));
        }
        m.finish()
    }
}

/// Errors of a builder name their place: `lambda` becomes `network.rule.lambda`, and a
/// parse error says which slot it is in.
fn place(e: Error, field: &str) -> Error {
    match e {
        Error::Parse(m) if !m.starts_with('`') && !field.is_empty() => Error::Parse(format!("`{field}` {m}")),
        other if field.is_empty() => other,
        other => other.within(field),
    }
}

impl Registry {
    /// An empty registry (see `ebn_network::builtin_registry` for one with the built-ins).
    pub fn new() -> Self {
        Self::default()
    }

    /// The kinds registered in `category`, sorted.
    pub fn kinds(&self, category: Category) -> Vec<String> {
        match category {
            Category::Target => self.targets.keys().cloned().collect(),
            Category::Integrator => self.integrators.keys().cloned().collect(),
            Category::Command => self.commands.keys().cloned().collect(),
            Category::Neuron => self.neurons.keys().cloned().collect(),
            Category::Basis => self.bases.keys().cloned().collect(),
            Category::Rule => self.rules.keys().cloned().collect(),
            Category::Perturbation => self.perturbations.keys().cloned().collect(),
            Category::Analysis => self.analyses.keys().cloned().collect(),
        }
    }

    /// Whether `kind` is registered in `category`.
    pub fn knows(&self, category: Category, kind: &str) -> bool {
        self.kinds(category).iter().any(|k| k == kind)
    }

    /// The kind a spec without `kind` means in `category` (e.g. `ebn` for neurons).
    pub fn set_default(&mut self, category: Category, kind: &str) -> &mut Self {
        self.defaults.insert(category, kind.to_string());
        self
    }

    /// The kind `spec` names in `category`, with the category's default for an empty kind.
    pub fn resolve(&self, category: Category, spec: &Spec, field: &str) -> Result<String> {
        let kind = if spec.kind.is_empty() {
            self.defaults.get(&category).cloned().ok_or_else(|| {
                Error::Parse(format!("`{field}`: missing `kind` (known {category} kinds: {})", self.known(category)))
            })?
        } else {
            spec.kind.clone()
        };
        if self.knows(category, &kind) {
            Ok(kind)
        } else {
            Err(Error::UnknownKind {
                category: category.name().into(),
                kind,
                field: field.into(),
                known: self.kinds(category),
                also: Vec::new(),
            })
        }
    }

    fn known(&self, category: Category) -> String {
        self.kinds(category).join(", ")
    }

    /// Checks that the kind `spec` names (or the category's default) is registered in
    /// `category`, without building it (for components built later, e.g. per trial).
    pub fn check_kind(&self, category: Category, spec: &Spec, field: &str) -> Result<()> {
        self.resolve(category, spec, field).map(|_| ())
    }
}

macro_rules! category {
    ($cat:ident, $map:ident, $add:ident, $add_spec:ident, $build:ident, $what:literal,
     ($($arg:ident: $ty:ty),*), $out:ty, $fnty:ident) => {
        impl Registry {
            #[doc = concat!("Registers the ", $what, " `kind`, built from its parameters `P` (parsed with serde; ")]
            #[doc = "give `P` `#[serde(deny_unknown_fields)]`). Replaces an earlier builder of the same kind."]
            pub fn $add<P, F>(&mut self, kind: &str, build: F) -> &mut Self
            where
                P: DeserializeOwned + 'static,
                F: Fn(P $(, $ty)*) -> Result<$out> + Send + Sync + 'static,
            {
                let f = move |spec: &Spec, field: &str $(, $arg: $ty)*| -> Result<$out> {
                    build(spec.parse::<P>(field)? $(, $arg)*)
                };
                self.$map.insert(kind.to_string(), Arc::new(f));
                self
            }

            #[doc = concat!("Registers the ", $what, " `kind` with a builder that reads the whole [`Spec`] ")]
            #[doc = "(used for the built-in `kind`-tagged configuration enums)."]
            pub fn $add_spec<F>(&mut self, kind: &str, build: F) -> &mut Self
            where
                F: Fn(&Spec, &str $(, $ty)*) -> Result<$out> + Send + Sync + 'static,
            {
                self.$map.insert(kind.to_string(), Arc::new(build));
                self
            }

            #[doc = concat!("Builds the ", $what, " `spec` names; `field` is its place in the configuration, for errors.")]
            pub fn $build(&self, spec: &Spec, field: &str $(, $arg: $ty)*) -> Result<$out> {
                let kind = self.resolve(Category::$cat, spec, field)?;
                let resolved;
                let spec = if spec.kind.is_empty() {
                    resolved = Spec { kind: kind.clone(), params: spec.params.clone() };
                    &resolved
                } else {
                    spec
                };
                (self.$map[&kind])(spec, field $(, $arg)*).map_err(|e| place(e, field))
            }
        }
    };
}

category!(Target, targets, add_target, add_target_spec, target_in, "target system",
    (registry: &Registry), Box<dyn TargetSystem>, TargetFn);
category!(
    Integrator,
    integrators,
    add_integrator,
    add_integrator_spec,
    integrator,
    "integrator",
    (),
    Box<dyn Integrator>,
    IntegratorFn
);
category!(Command, commands, add_command, add_command_spec, command, "command signal",
    (dim: usize), Box<dyn CommandSignal>, CommandFn);
category!(Neuron, neurons, add_neuron_dyn, add_neuron_spec, neuron, "neuron model", (), DynNeuron, NeuronFn);
category!(Basis, bases, add_basis, add_basis_spec, basis, "basis",
    (setup: &BasisSetup<'_>, rng: &mut Rng), Box<dyn Basis>, BasisFn);
category!(Rule, rules, add_rule, add_rule_spec, rule, "plasticity rule", (), Box<dyn PlasticityRule>, RuleFn);
category!(Perturbation, perturbations, add_perturbation, add_perturbation_spec, perturbation, "perturbation",
    (setup: &PerturbationSetup<'_>, rng: Rng), Box<dyn Perturbation>, PerturbationFn);
category!(Analysis, analyses, add_analysis, add_analysis_spec, analysis, "analysis", (), Box<dyn Analysis>, AnalysisFn);

impl Registry {
    /// Builds the target system `spec` names (nested targets, e.g. of `scaled`, are built
    /// from this registry too); `field` is its place in the configuration, for errors.
    pub fn target(&self, spec: &Spec, field: &str) -> Result<Box<dyn TargetSystem>> {
        self.target_in(spec, field, self)
    }

    /// Registers the neuron model `kind` whose parameters are the model itself (the model
    /// struct is its own serde parameter type, as [`NeuronModel`] asks).
    pub fn add_neuron<M>(&mut self, kind: &str) -> &mut Self
    where
        M: NeuronModel + DeserializeOwned + 'static,
        M::State: 'static,
    {
        self.add_neuron_dyn(kind, |m: M| Ok(DynNeuron(Box::new(m))))
    }
}
