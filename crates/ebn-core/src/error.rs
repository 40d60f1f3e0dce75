//! The one error type of the library crates.
//!
//! Every message says which field was wrong, the value received and what is allowed, so a
//! user can fix a configuration file without reading the source.

use std::fmt::Display;

/// Result alias used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building a network, parsing a file or analysing data.
///
/// Stepping a built network cannot fail: all validation happens once, at construction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter has a value outside its allowed range.
    #[error("invalid value for `{field}`: got {value}, expected {expected}")]
    InvalidParameter {
        /// Dotted path of the offending field, e.g. `network.lambda_v`.
        field: String,
        /// The value received, formatted.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// Two objects that must agree in size do not.
    #[error("dimension mismatch for `{field}`: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Dotted path of the offending field.
        field: String,
        /// The size required by the rest of the configuration.
        expected: usize,
        /// The size received.
        got: usize,
    },
    /// Two components that cannot be combined (e.g. a rule with no factored form and
    /// factored slow weights).
    #[error("unsupported combination: {0}")]
    Unsupported(String),
    /// Analysis of data that does not define the requested quantity (no spikes, zero
    /// variance, too short a trace). Returned instead of a NaN.
    #[error("cannot compute {quantity}: {reason}")]
    Degenerate {
        /// The quantity requested.
        quantity: String,
        /// Why the data do not define it.
        reason: String,
    },
    /// A configuration text that does not parse (unknown key, wrong type).
    #[error("configuration: {0}")]
    Parse(String),
    /// A stored file that is truncated, corrupted or not of the expected kind.
    #[error("corrupt file: {0}")]
    Corrupt(String),
    /// A component kind that the registry in use does not know (a typo, or a file written
    /// by a fork, read without the fork's registry).
    #[error("unknown {category} kind \"{kind}\" at `{field}`; known kinds: {}{}", known.join(", "), others(also))]
    UnknownKind {
        /// The category (target, neuron, rule...).
        category: String,
        /// The kind asked for.
        kind: String,
        /// Where in the configuration.
        field: String,
        /// The kinds the registry knows in that category.
        known: Vec<String>,
        /// The other unknown kinds of the same configuration, in the order of the file (each
        /// an `UnknownKind` with nothing `also`): a file written for a fork, read without
        /// its registry, names everything it lacks in one error.
        also: Vec<Error>,
    },
    /// A training trial whose error is not finite: the network diverged (the protocol stops
    /// there; the checkpoint before it is intact).
    #[error("training diverged at trial {trial} (normalised error {error})")]
    Diverged {
        /// The trial (counted from 1).
        trial: usize,
        /// Its normalised error (NaN or infinite).
        error: f64,
    },
    /// A stored file written by an incompatible version of the format.
    #[error("unsupported file format version {found} (this build reads version {supported})")]
    Version {
        /// Version found in the file header.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
}

fn others(also: &[Error]) -> String {
    if also.is_empty() {
        return String::new();
    }
    let text: Vec<String> = also.iter().map(ToString::to_string).collect();
    format!("; also {}", text.join("; "))
}

impl Error {
    /// The first of `errors` with the other unknown kinds among them attached to it
    /// ([`Error::UnknownKind`]'s `also`); `None` for none.
    pub fn first_with_unknown_kinds(errors: Vec<Error>) -> Option<Self> {
        let mut errors = errors.into_iter();
        let mut first = errors.next()?;
        if let Self::UnknownKind { also, .. } = &mut first {
            also.extend(errors.filter(|e| matches!(e, Self::UnknownKind { .. })));
        }
        Some(first)
    }

    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(field: impl Into<String>, value: impl Display, expected: impl Into<String>) -> Self {
        Self::InvalidParameter { field: field.into(), value: value.to_string(), expected: expected.into() }
    }

    /// Shorthand for [`Error::DimensionMismatch`].
    pub fn dimension(field: impl Into<String>, expected: usize, got: usize) -> Self {
        Self::DimensionMismatch { field: field.into(), expected, got }
    }

    /// Shorthand for [`Error::Degenerate`].
    pub fn degenerate(quantity: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Degenerate { quantity: quantity.into(), reason: reason.into() }
    }

    /// Prefixes the field path with `prefix.`, so that a component's own error names its
    /// place in the whole configuration (`lambda` becomes `network.lambda`).
    #[must_use]
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::InvalidParameter { field, value, expected } => {
                Self::InvalidParameter { field: format!("{prefix}.{field}"), value, expected }
            }
            Self::DimensionMismatch { field, expected, got } => {
                Self::DimensionMismatch { field: format!("{prefix}.{field}"), expected, got }
            }
            other => other,
        }
    }
}
