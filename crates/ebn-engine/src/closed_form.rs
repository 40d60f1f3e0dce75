//! Closed-form slow weights for linear targets (MODEL.md §5).

use ebn_core::{Error, Mat, Result, SlowWeights, WeightForm, check};

/// The optimal slow weights for dx/dt = A x with the identity basis:
///
/// ```text
/// Omega_s* = D^T (A + lambda I) D        (factored: W* = (A + lambda I) D)
/// ```
///
/// Derivation: the voltages need the current D^T (lambda x + f(x)) evaluated at x_hat = D r
/// (MODEL.md §4); for f(x) = A x this is D^T (A + lambda I) D r = Omega_s* Psi(r) with
/// Psi(r) = r. Accurate when lambda_v = lambda and mu, nu << ||D_i||^2.
pub fn linear_slow_weights(a: &[Vec<f64>], decoder: &Mat<f64>, lambda: f64, form: WeightForm) -> Result<SlowWeights> {
    let j = decoder.nrows();
    check::same_len("target dimension (rows of A)", j, a.len())?;
    for (r, row) in a.iter().enumerate() {
        check::same_len(&format!("a[{r}]"), j, row.len())?;
    }
    if !lambda.is_finite() {
        return Err(Error::invalid("lambda", lambda, "a finite rate"));
    }
    let shifted = Mat::from_fn(j, j, |r, c| a[r][c] + if r == c { lambda } else { 0.0 });
    let w = &shifted * decoder;
    Ok(match form {
        WeightForm::Factored => SlowWeights::from_w(&w),
        WeightForm::Dense => SlowWeights::Dense(decoder.transpose() * &w),
    })
}
