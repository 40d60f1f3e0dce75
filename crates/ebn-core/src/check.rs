//! Validation helpers used by every constructor. Each returns a typed [`Error`] that names the
//! field, the value and the allowed range.

use crate::error::{Error, Result};

/// A number as an error message shows it: plain for ordinary magnitudes, scientific for very
/// large or small ones (1e308, not 309 digits).
pub fn show(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && v != 0.0 && !(1e-4..1e9).contains(&a) { format!("{v:e}") } else { format!("{v}") }
}

/// `value` must be finite.
pub fn finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() { Ok(value) } else { Err(Error::invalid(field, show(value), "a finite number")) }
}

/// `value` must be finite and > 0.
pub fn positive(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid(field, show(value), "a finite number > 0"))
    }
}

/// `value` must be finite and >= 0.
pub fn non_negative(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid(field, show(value), "a finite number >= 0"))
    }
}

/// `value` must lie in the closed interval `[lo, hi]`.
pub fn in_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<f64> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(field, show(value), format!("a number in [{}, {}]", show(lo), show(hi))))
    }
}

/// A count that must be at least 1.
pub fn nonzero(field: &str, value: usize) -> Result<usize> {
    if value > 0 { Ok(value) } else { Err(Error::invalid(field, value, "an integer >= 1")) }
}

/// Every element of `values` must be finite.
pub fn all_finite(field: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(format!("{field}[{i}]"), values[i], "a finite number")),
    }
}

/// `got` must equal `expected`.
pub fn same_len(field: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::dimension(field, expected, got)) }
}

/// The explicit Euler membrane update needs `dt * rate < 1` (no sign flip of the decay);
/// the step must also resolve the time constant.
pub fn resolves_rate(field: &str, rate: f64, dt: f64) -> Result<()> {
    if dt * rate < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(field, rate, format!("a rate with dt * rate < 1 (dt = {dt} s, so rate < {} /s)", 1.0 / dt)))
    }
}

/// `value` must not exceed `max` (sizes that would exhaust memory); `why` says what bounds it.
pub fn at_most(field: &str, value: usize, max: usize, why: &str) -> Result<usize> {
    if value <= max { Ok(value) } else { Err(Error::invalid(field, value, format!("at most {max} ({why})"))) }
}

/// Largest network or basis (10^7: ~1 GB of per-neuron state).
pub const MAX_NEURONS: usize = 10_000_000;
/// Largest state dimension J.
pub const MAX_DIM: usize = 1000;
/// Largest dense matrix, in elements (2^30: 8 GiB).
pub const MAX_MATRIX: usize = 1 << 30;

/// Checks a basis size N_b for a network of `n` neurons before anything of size N x N_b is
/// allocated (a builder of a basis with an N_b x N matrix calls it first).
pub fn basis_size(field: &str, n: usize, n_basis: usize) -> Result<usize> {
    nonzero(field, n_basis)?;
    at_most(field, n_basis, MAX_NEURONS, "the basis size N_b")?;
    at_most("network.n x n_basis", n.saturating_mul(n_basis), MAX_MATRIX, "an N_b x N matrix, 8 bytes per entry")?;
    Ok(n_basis)
}
