//! Slow recurrent weights, in synapse-level or factored form.

use crate::error::{Error, Result};
use faer::Mat;
use serde::{Deserialize, Serialize};

/// How the slow weights are stored (MODEL.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightForm {
    /// One weight per synapse: Omega_s, N x N_b. Cost O(N N_b) per step.
    Dense,
    /// Omega_s = D^T W with W of size J x N_b. Cost O((N + N_b) J) per step. Exact for the
    /// paper's rule started from zero, whose updates stay in the range of D^T.
    #[default]
    Factored,
}

/// The slow weights Omega_s (units: V/s per unit of Psi).
#[derive(Debug, Clone, PartialEq)]
pub enum SlowWeights {
    /// Omega_s itself, N x N_b.
    Dense(Mat<f64>),
    /// W^T, **stored transposed** (N_b x J), with Omega_s = D^T W: each row of W is one
    /// contiguous column, so W Psi is J dot products and a rank-1 update of W is J axpys.
    Factored(Mat<f64>),
}

impl SlowWeights {
    /// All-zero weights of the given form.
    pub fn zeros(form: WeightForm, n: usize, j: usize, n_basis: usize) -> Self {
        match form {
            WeightForm::Dense => Self::Dense(Mat::zeros(n, n_basis)),
            WeightForm::Factored => Self::Factored(Mat::zeros(n_basis, j)),
        }
    }

    /// The storage form.
    pub fn form(&self) -> WeightForm {
        match self {
            Self::Dense(_) => WeightForm::Dense,
            Self::Factored(_) => WeightForm::Factored,
        }
    }

    /// Factored weights from W (J x N_b).
    pub fn from_w(w: &Mat<f64>) -> Self {
        Self::Factored(w.transpose().to_owned())
    }

    /// Number of basis functions N_b.
    pub fn n_basis(&self) -> usize {
        match self {
            Self::Dense(m) => m.ncols(),
            Self::Factored(wt) => wt.nrows(),
        }
    }

    /// The stored matrix (Omega_s, or W^T for the factored form).
    pub fn matrix(&self) -> &Mat<f64> {
        match self {
            Self::Dense(m) | Self::Factored(m) => m,
        }
    }

    /// The stored matrix, mutably.
    pub fn matrix_mut(&mut self) -> &mut Mat<f64> {
        match self {
            Self::Dense(m) | Self::Factored(m) => m,
        }
    }

    /// The synapse-level matrix Omega_s (N x N_b); for the factored form, D^T W.
    pub fn synaptic(&self, decoder: &Mat<f64>) -> Mat<f64> {
        match self {
            Self::Dense(m) => m.clone(),
            Self::Factored(wt) => decoder.transpose() * wt.transpose(),
        }
    }
}

/// Slow weights as plain data: form, shape and the column-major entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWeights {
    /// Dense (Omega_s, N x N_b) or factored (W^T, N_b x J).
    pub form: WeightForm,
    /// Rows of the stored matrix.
    pub rows: usize,
    /// Columns of the stored matrix.
    pub cols: usize,
    /// Entries, column by column.
    pub data: Vec<f64>,
}

impl StoredWeights {
    /// Copies the weights out of their matrix.
    pub fn from_weights(w: &SlowWeights) -> Self {
        let m = w.matrix();
        let data = (0..m.ncols()).flat_map(|c| m.col_as_slice(c).to_vec()).collect();
        Self { form: w.form(), rows: m.nrows(), cols: m.ncols(), data }
    }

    /// Rebuilds the matrix; errors if the shape and the data disagree or an entry is not
    /// finite.
    pub fn to_weights(&self) -> Result<SlowWeights> {
        let expected =
            self.rows.checked_mul(self.cols).ok_or_else(|| Error::Corrupt("weight shape overflows".into()))?;
        if self.data.len() != expected {
            return Err(Error::Corrupt(format!(
                "weights claim {} x {} entries but hold {}",
                self.rows,
                self.cols,
                self.data.len()
            )));
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Corrupt(format!("weight entry {i} is {}", self.data[i])));
        }
        let m = Mat::from_fn(self.rows, self.cols, |r, c| self.data[c * self.rows + r]);
        Ok(match self.form {
            WeightForm::Dense => SlowWeights::Dense(m),
            WeightForm::Factored => SlowWeights::Factored(m),
        })
    }
}
