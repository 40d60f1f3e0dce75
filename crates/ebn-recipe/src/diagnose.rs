//! What a network learned, against the true vector field: where a free run's failure comes
//! from.
//!
//! A trained network with state-space features has learned the field
//! f_hat(x) = W Psi(x) - lambda x ([`ebn_network::analysis::learned_vector_field`]). Three
//! measurements separate the causes of a lost attractor:
//!
//! - the field error on the attractor and near it (coverage of the basis, accuracy of the
//!   rule);
//! - the fixed points of f_hat beside the teacher's, and the stability of each (the largest
//!   real part of the Jacobian's eigenvalues): a saddle or unstable focus of the teacher that
//!   became stable in f_hat is a trap a free run falls into;
//! - the learned field run as an ordinary differential equation (a "rate twin" of the
//!   network, no spikes): if the twin keeps the attractor and the spiking network does not,
//!   the loss is in the spiking implementation (readout noise, the one-spike-per-step limit),
//!   not in what was learned.

use crate::recipe::jacobian;
use ebn_network::analysis::{AttractorComparison, AttractorStats, learned_vector_field};
use ebn_network::core::{Basis, Result, SlowWeights, TargetSystem};
use serde::Serialize;

/// The learned field of a trained network as a [`TargetSystem`].
#[derive(Debug)]
pub struct LearnedField<'a> {
    /// The network's basis (a function of the decoded state).
    pub basis: &'a dyn Basis,
    /// Its slow weights (factored).
    pub weights: &'a SlowWeights,
    /// Readout decay lambda (1/s).
    pub lambda: f64,
    /// State dimension.
    pub dim: usize,
}

impl LearnedField<'_> {
    /// f_hat at `x`.
    pub fn at(&self, x: &[f64]) -> Result<Vec<f64>> {
        Ok(learned_vector_field(self.basis, self.weights, self.lambda, &[x.to_vec()])?.remove(0))
    }
}

impl TargetSystem for LearnedField<'_> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        match self.at(x) {
            Ok(f) => dxdt.copy_from_slice(&f),
            Err(_) => dxdt.fill(f64::NAN),
        }
    }
}

/// A fixed point of the teacher and what the learned field has near it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedPoint {
    /// The teacher's fixed point (normalised units).
    pub teacher: Vec<f64>,
    /// Largest real part of the teacher's Jacobian's eigenvalues there (1/s).
    pub teacher_growth: f64,
    /// The learned field's fixed point found by Newton's method from the teacher's, if any.
    pub learned: Option<Vec<f64>>,
    /// Largest real part of the learned Jacobian's eigenvalues there (1/s).
    pub learned_growth: Option<f64>,
}

/// The diagnosis of one trained network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// RMS over attractor samples of ||f_hat - f|| / RMS of ||f||.
    pub field_error_on: f64,
    /// The same at attractor samples displaced by N(0, 0.1^2) per component.
    pub field_error_near: f64,
    /// The field error of the best weights the basis allows: W fitted by least squares
    /// (ridge 1e-8 of the mean diagonal) to lambda z + f(z) on the first half of the attractor
    /// samples (in time), evaluated on the second half. Far below `field_error_on`, the rule (not the basis) limits
    /// the learned field.
    pub field_error_best: Option<f64>,
    /// The teacher's fixed points within the normalised range (|z_j| <= 2).
    pub fixed_points: Vec<FixedPoint>,
    /// Fixed points of the teacher that are unstable but stable in the learned field.
    pub stabilised: usize,
}

/// The largest real part of the eigenvalues of `system`'s Jacobian at `x`.
pub fn growth_rate(system: &dyn TargetSystem, x: &[f64]) -> Option<f64> {
    let j = x.len();
    let jac = jacobian(system, x);
    let m = faer::Mat::<f64>::from_fn(j, j, |r, c| jac[r][c]);
    let eig = m.eigenvalues().ok()?;
    eig.iter().map(|z| z.re).fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
}

/// Newton's method for f(x) = 0 from `x0`, at most 50 iterations; `Some` if ||f|| fell below
/// `1e-9 (1 + typical speed)` and the point stayed finite.
pub fn newton(system: &dyn TargetSystem, x0: &[f64], typical_speed: f64) -> Option<Vec<f64>> {
    let j = x0.len();
    let mut x = x0.to_vec();
    let mut f = vec![0.0; j];
    for _ in 0..50 {
        system.vector_field(&x, &mut f);
        let norm = f.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !norm.is_finite() {
            return None;
        }
        if norm < 1e-9 * (1.0 + typical_speed) {
            return Some(x);
        }
        let jac = jacobian(system, &x);
        let a = faer::Mat::<f64>::from_fn(j, j, |r, c| jac[r][c]);
        let b = faer::Mat::<f64>::from_fn(j, 1, |r, _| -f[r]);
        let lu = a.partial_piv_lu();
        let dx = faer::linalg::solvers::Solve::solve(&lu, &b);
        let step: Vec<f64> = (0..j).map(|r| dx[(r, 0)]).collect();
        if step.iter().any(|v| !v.is_finite()) {
            return None;
        }
        // Damped: at most a unit step in the normalised units.
        let size = step.iter().map(|v| v * v).sum::<f64>().sqrt();
        let k = if size > 1.0 { 1.0 / size } else { 1.0 };
        for (xi, s) in x.iter_mut().zip(&step) {
            *xi += k * s;
        }
    }
    None
}

/// The error of the least-squares weights of `basis` (see [`Diagnosis::field_error_best`]).
pub fn best_field_error(
    teacher: &dyn TargetSystem,
    basis: &dyn Basis,
    lambda: f64,
    points: &[&Vec<f64>],
) -> Option<f64> {
    ridge_field_error(teacher, basis, lambda, points, Ridge::OfMeanDiagonal(1e-8))
}

/// The ridge of [`ridge_field_error`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ridge {
    /// This fraction of the mean diagonal of E[Psi Psi^T].
    OfMeanDiagonal(f64),
    /// This fraction of the largest eigenvalue of E[Psi Psi^T].
    OfLargestEigenvalue(f64),
}

/// The relative field error of ridge regression of lambda z + f(z) on the features, fitted on
/// the first half of `points` (in time) and evaluated on the second half. With a ridge of a
/// fraction r of the largest eigenvalue it mimics what a gradient rule learns in finite time:
/// directions whose eigenvalue is below r times the largest are not learned.
pub fn ridge_field_error(
    teacher: &dyn TargetSystem,
    basis: &dyn Basis,
    lambda: f64,
    points: &[&Vec<f64>],
    ridge: Ridge,
) -> Option<f64> {
    let j = teacher.dim();
    let nb = basis.len();
    let mut psi = vec![0.0; nb];
    let mut f = vec![0.0; j];
    let mut rows: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    for x in points {
        if !basis.evaluate_at_state(x, &mut psi) {
            return None;
        }
        teacher.vector_field(x, &mut f);
        rows.push((psi.clone(), (0..j).map(|c| lambda * x[c] + f[c]).collect()));
    }
    let half = rows.len() / 2;
    let fit: Vec<&(Vec<f64>, Vec<f64>)> = rows[..half].iter().collect();
    let phi = faer::Mat::<f64>::from_fn(fit.len(), nb, |r, c| fit[r].0[c]);
    let y = faer::Mat::<f64>::from_fn(fit.len(), j, |r, c| fit[r].1[c]);
    let mut gram = phi.transpose() * &phi;
    let ridge = match ridge {
        Ridge::OfMeanDiagonal(r) => r * (0..nb).map(|i| gram[(i, i)]).sum::<f64>() / nb as f64,
        Ridge::OfLargestEigenvalue(r) => {
            r * gram.self_adjoint_eigenvalues(faer::Side::Lower).ok()?.into_iter().fold(0.0f64, f64::max)
        }
    };
    for i in 0..nb {
        gram[(i, i)] += ridge.max(1e-12);
    }
    let rhs = phi.transpose() * &y;
    let w = faer::linalg::solvers::Solve::solve(&gram.llt(faer::Side::Lower).ok()?, &rhs);
    let (mut num, mut den) = (0.0, 0.0);
    for (p, target) in &rows[half..] {
        for c in 0..j {
            let pred: f64 = (0..nb).map(|i| w[(i, c)] * p[i]).sum();
            num += (pred - target[c]).powi(2);
        }
    }
    for (x, target) in points.iter().zip(&rows).skip(half).map(|(x, r)| (x, &r.1)) {
        den += (0..j).map(|c| (target[c] - lambda * x[c]).powi(2)).sum::<f64>();
    }
    let e = (num / den).sqrt();
    e.is_finite().then_some(e)
}

/// Diagnoses `learned` against `teacher` (both in normalised units) on the attractor samples;
/// `basis` and `lambda` are the network's, for the best weights the basis allows.
pub fn diagnose(
    teacher: &dyn TargetSystem,
    learned: &dyn TargetSystem,
    basis: Option<(&dyn Basis, f64)>,
    attractor: &[Vec<f64>],
) -> Diagnosis {
    let j = teacher.dim();
    let stride = (attractor.len() / 2000).max(1);
    let on: Vec<&Vec<f64>> = attractor.iter().step_by(stride).collect();
    // A fixed, seedless displacement pattern (a low-discrepancy sequence mapped to normals).
    let displaced: Vec<Vec<f64>> = on
        .iter()
        .enumerate()
        .map(|(k, x)| {
            x.iter()
                .enumerate()
                .map(|(c, v)| {
                    let u = ((k * j + c) as f64 * 0.618_033_988_749_894_9 + 0.5).fract().clamp(1e-6, 1.0 - 1e-6);
                    v + 0.1 * normal_quantile(u)
                })
                .collect()
        })
        .collect();
    let error = |points: &mut dyn Iterator<Item = &Vec<f64>>| {
        let (mut num, mut den) = (0.0, 0.0);
        let (mut f, mut g) = (vec![0.0; j], vec![0.0; j]);
        for x in points {
            teacher.vector_field(x, &mut f);
            learned.vector_field(x, &mut g);
            num += f.iter().zip(&g).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
            den += f.iter().map(|a| a * a).sum::<f64>();
        }
        (num / den).sqrt()
    };
    let field_error_on = error(&mut on.iter().copied());
    let field_error_near = error(&mut displaced.iter());
    let field_error_best = basis.and_then(|(b, lambda)| best_field_error(teacher, b, lambda, &on));
    let mut f = vec![0.0; j];
    let typical = on
        .iter()
        .map(|x| {
            teacher.vector_field(x, &mut f);
            f.iter().map(|v| v * v).sum::<f64>().sqrt()
        })
        .sum::<f64>()
        / on.len() as f64;
    let mut found: Vec<Vec<f64>> = Vec::new();
    let starts = on.iter().step_by((on.len() / 60).max(1)).map(|x| x.to_vec()).chain(std::iter::once(vec![0.0; j]));
    for x0 in starts {
        if let Some(p) = newton(teacher, &x0, typical)
            && p.iter().all(|v| v.abs() <= 2.0)
            && !found.iter().any(|q| q.iter().zip(&p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) < 1e-6)
        {
            found.push(p);
        }
    }
    found.sort_by(|a, b| {
        a.iter().zip(b).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    });
    let fixed_points: Vec<FixedPoint> = found
        .into_iter()
        .map(|p| {
            let teacher_growth = growth_rate(teacher, &p).unwrap_or(f64::NAN);
            let learned_point =
                newton(learned, &p, typical).filter(|q| q.iter().zip(&p).all(|(a, b)| (a - b).abs() < 0.5));
            let learned_growth = learned_point.as_ref().and_then(|q| growth_rate(learned, q));
            FixedPoint { teacher: p, teacher_growth, learned: learned_point, learned_growth }
        })
        .collect();
    let stabilised =
        fixed_points.iter().filter(|p| p.teacher_growth > 0.0 && p.learned_growth.is_some_and(|g| g < 0.0)).count();
    Diagnosis { field_error_on, field_error_near, field_error_best, fixed_points, stabilised }
}

/// Runs `system` from `x0` for `duration` s (RK4, step `dt`), returning states every
/// `every` steps; stops early (returning what it has) if the state leaves |z_j| <= 100.
pub fn run(system: &dyn TargetSystem, x0: &[f64], duration: f64, dt: f64, every: usize) -> Vec<Vec<f64>> {
    let j = x0.len();
    let mut x = x0.to_vec();
    let mut out = Vec::new();
    let (mut k1, mut k2, mut k3, mut k4, mut y) =
        (vec![0.0; j], vec![0.0; j], vec![0.0; j], vec![0.0; j], vec![0.0; j]);
    let steps = (duration / dt).round() as usize;
    for s in 0..steps {
        if s % every == 0 {
            out.push(x.clone());
        }
        system.vector_field(&x, &mut k1);
        (0..j).for_each(|i| y[i] = x[i] + 0.5 * dt * k1[i]);
        system.vector_field(&y, &mut k2);
        (0..j).for_each(|i| y[i] = x[i] + 0.5 * dt * k2[i]);
        system.vector_field(&y, &mut k3);
        (0..j).for_each(|i| y[i] = x[i] + dt * k3[i]);
        system.vector_field(&y, &mut k4);
        (0..j).for_each(|i| x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
        if !x.iter().all(|v| v.is_finite() && v.abs() <= 100.0) {
            break;
        }
    }
    out
}

/// The rate twin's statistics and their comparison with the teacher's, or `None` if the twin
/// left the range (diverged) before half its run.
pub fn twin(
    learned: &dyn TargetSystem,
    x0: &[f64],
    duration: f64,
    skip: f64,
    teacher: &AttractorStats,
) -> (Vec<Vec<f64>>, Option<(AttractorStats, AttractorComparison)>) {
    let (dt, every) = (2e-3, 10);
    let traj = run(learned, x0, duration, dt, every);
    let first = (skip / (dt * every as f64)) as usize;
    let full = (duration / (dt * every as f64)) as usize;
    if traj.len() < full / 2 || traj.len() <= first + 64 {
        return (traj, None);
    }
    let stats = AttractorStats::of(&traj[first..], dt * every as f64).ok();
    let out = stats.map(|s| {
        let c = AttractorComparison::new(teacher, &s);
        (s, c)
    });
    (traj, out)
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_network::dynamics::CatalogueFlow;
    use std::collections::BTreeMap;

    #[test]
    fn the_normal_quantile_is_the_inverse_of_the_cdf_at_known_points() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-7);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-6);
    }

    /// Lorenz's three fixed points (origin, C+, C-) are found, each unstable, and a field
    /// compared with itself has no error and stabilises nothing.
    #[test]
    fn lorenz_fixed_points_and_a_perfect_field() {
        let lorenz = CatalogueFlow::new("lorenz", &BTreeMap::new()).unwrap();
        let norm =
            ebn_network::dynamics::Normalized::new(vec![0.0, 0.0, 25.0], vec![20.0; 3], 0.5, Box::new(lorenz)).unwrap();
        let attractor = run(&norm, &[0.1, 0.1, 0.0], 40.0, 1e-3, 20);
        let d = diagnose(&norm, &norm, None, &attractor[200..]);
        assert_eq!(d.fixed_points.len(), 3, "{:?}", d.fixed_points);
        assert!(d.fixed_points.iter().all(|p| p.teacher_growth > 0.0), "{:?}", d.fixed_points);
        assert_eq!(d.stabilised, 0);
        assert_eq!(d.field_error_on, 0.0);
        // C+- of Lorenz (rho = 28, beta = 2.667): (+-sqrt(beta (rho - 1)), same, rho - 1).
        let c = (2.667f64 * 27.0).sqrt() / 20.0;
        assert!(d.fixed_points.iter().any(|p| (p.teacher[0] - c).abs() < 1e-6 && (p.teacher[2] - 0.1).abs() < 1e-6));
    }
}
