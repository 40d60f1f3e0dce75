//! The vector field a network has learned.

use ebn_core::{Basis, Error, Result, SlowWeights};

/// The learned vector field at the given states (MODEL.md §4, §6):
///
/// ```text
/// f_hat(x) = W Psi(x) - lambda x
/// ```
///
/// since the slow weights implement lambda x + f(x) ~ W Psi(x). Needs factored weights
/// (W itself) and a basis that is a function of the decoded state (state-space tanh);
/// otherwise an error. `lambda` is the network's readout decay (1/s).
pub fn learned_vector_field(
    basis: &dyn Basis,
    weights: &SlowWeights,
    lambda: f64,
    points: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>> {
    let SlowWeights::Factored(wt) = weights else {
        return Err(Error::Unsupported("the learned vector field needs factored slow weights (W)".into()));
    };
    let (nb, j) = (wt.nrows(), wt.ncols());
    let mut psi = vec![0.0; nb];
    points
        .iter()
        .map(|x| {
            if x.len() != j {
                return Err(Error::dimension("point", j, x.len()));
            }
            if !basis.evaluate_at_state(x, &mut psi) {
                return Err(Error::Unsupported("the basis is not a function of the decoded state".into()));
            }
            Ok((0..j).map(|c| ebn_core::coding::dot(wt.col_as_slice(c), &psi) - lambda * x[c]).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::Mat;

    /// A basis that is the state itself, Psi(x) = x (J = N_b = 2), for a known answer.
    #[derive(Debug)]
    struct StateItself;

    impl Basis for StateItself {
        fn len(&self) -> usize {
            2
        }
        fn n_inputs(&self) -> usize {
            2
        }
        fn drive_len(&self) -> usize {
            0
        }
        fn on_spike(&self, _k: usize, _drive: &mut [f64]) {}
        fn drive_from_traces(&self, _r: &[f64], _drive: &mut [f64]) {}
        fn evaluate(&self, r: &[f64], _drive: &[f64], psi: &mut [f64]) {
            psi.copy_from_slice(r);
        }
        fn evaluate_at_state(&self, x: &[f64], psi: &mut [f64]) -> bool {
            psi.copy_from_slice(x);
            true
        }
    }

    #[test]
    fn linear_weights_give_a_linear_field() {
        // W = A + lambda I with A the §9 oscillator: f_hat(x) = A x.
        let lambda = 10.0;
        let w = Mat::from_fn(2, 2, |r, c| [[-3.0, -24.0], [3.0, 0.0]][r][c] + if r == c { lambda } else { 0.0 });
        let f = learned_vector_field(&StateItself, &SlowWeights::from_w(&w), lambda, &[vec![1.0, 0.5]]).unwrap();
        assert!((f[0][0] - (-3.0 - 12.0)).abs() < 1e-12 && (f[0][1] - 3.0).abs() < 1e-12, "{f:?}");
    }

    #[test]
    fn unsupported_cases_are_errors() {
        let dense = SlowWeights::Dense(Mat::zeros(2, 2));
        assert!(learned_vector_field(&StateItself, &dense, 1.0, &[vec![0.0, 0.0]]).is_err());
        let w = SlowWeights::from_w(&Mat::zeros(2, 2));
        assert!(learned_vector_field(&StateItself, &w, 1.0, &[vec![0.0]]).is_err());
    }
}
