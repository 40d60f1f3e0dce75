//! Fitting a network to a system nobody tuned for (docs/CATALOGUE.md).
//!
//! [`fit`] surveys a target's attractor ([`survey`]), derives every setting of an experiment
//! from it ([`recipe`]) and returns the complete configuration; [`diagnose`] compares what a
//! trained network learned with the true vector field (field error on and near the attractor,
//! fixed points and their stability, and the learned field run as a rate model).

pub mod diagnose;
pub mod harness;
pub mod recipe;
pub mod survey;

pub use recipe::{Fitted, Recipe, RecipeOptions, fit};
pub use survey::{Survey, SurveyOptions};
