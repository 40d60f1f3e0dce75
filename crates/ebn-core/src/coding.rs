//! The spike-coding arithmetic of MODEL.md §3 (Boerlin, Machens & Denève 2013).
//!
//! A network of N neurons represents x (J-dimensional) by x_hat = D r, with r the filtered
//! spike trains. Spikes greedily minimise the instantaneous loss
//!
//! ```text
//! L = ||x - x_hat||^2 + mu ||r||_2^2 + nu ||r||_1
//! ```
//!
//! A spike of neuron i adds D_i to x_hat and 1 to r_i, which changes L by
//! `-2 D_i^T (x - x_hat) + ||D_i||^2 + mu (2 r_i + 1) + nu = -2 (V_i - T_i)` with
//!
//! ```text
//! V_i = D_i^T (x - x_hat) - mu r_i,    T_i = (||D_i||^2 + mu + nu) / 2.
//! ```
//!
//! So a spike lowers L exactly when V_i > T_i. These functions are the reference the engine is
//! tested against; the engine itself tracks V by integrating its derivative.
//!
//! Decoders are stored as a J x N [`faer::Mat`]; column i is neuron i's decoding vector D_i
//! (units of x per spike).

use faer::Mat;

/// Thresholds T_i = (||D_i||^2 + mu + nu) / 2.
pub fn thresholds(decoder: &Mat<f64>, mu: f64, nu: f64) -> Vec<f64> {
    (0..decoder.ncols())
        .map(|i| {
            let d = decoder.col_as_slice(i);
            (d.iter().map(|v| v * v).sum::<f64>() + mu + nu) / 2.0
        })
        .collect()
}

/// The voltages of an ideal network: V_i = D_i^T (x - x_hat) - mu r_i, with x_hat = D r.
pub fn ideal_voltages(decoder: &Mat<f64>, mu: f64, x: &[f64], r: &[f64]) -> Vec<f64> {
    let x_hat = readout(decoder, r);
    let err: Vec<f64> = x.iter().zip(&x_hat).map(|(a, b)| a - b).collect();
    (0..decoder.ncols()).map(|i| dot(decoder.col_as_slice(i), &err) - mu * r[i]).collect()
}

/// The readout x_hat = D r.
pub fn readout(decoder: &Mat<f64>, r: &[f64]) -> Vec<f64> {
    let mut x_hat = vec![0.0; decoder.nrows()];
    for (i, ri) in r.iter().enumerate() {
        for (xh, d) in x_hat.iter_mut().zip(decoder.col_as_slice(i)) {
            *xh += d * ri;
        }
    }
    x_hat
}

/// The instantaneous loss L = ||x - D r||^2 + mu ||r||^2 + nu ||r||_1.
pub fn loss(decoder: &Mat<f64>, mu: f64, nu: f64, x: &[f64], r: &[f64]) -> f64 {
    let x_hat = readout(decoder, r);
    let err2: f64 = x.iter().zip(&x_hat).map(|(a, b)| (a - b) * (a - b)).sum();
    let r2: f64 = r.iter().map(|v| v * v).sum();
    let r1: f64 = r.iter().map(|v| v.abs()).sum();
    err2 + mu * r2 + nu * r1
}

/// Dot product of two equal-length slices.
///
/// Summed in four interleaved partial sums (elements 4k, 4k+1, 4k+2, 4k+3), then the tail, so
/// the compiler can vectorise it; the order of additions is fixed, so the result is the same
/// on every machine.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 4];
    let (a4, a_tail) = a.split_at(a.len() - a.len() % 4);
    let (b4, b_tail) = b.split_at(a4.len());
    for (x, y) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
