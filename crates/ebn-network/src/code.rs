//! Learning the code: the encoders and the fast recurrent weights, and through them the
//! decoder (Brendel, Bourdoukan, Vertechi, Machens & Denève 2020, "Learning to represent
//! signals spike by spike", PLoS Comput Biol 16:e1007692). The paper's rule assumes a fixed,
//! well-chosen decoder D (its second stated limitation); this module starts from random,
//! badly scaled encoders and no lateral connections, and learns a code with local rules.
//!
//! **Network.** N neurons with encoders F_i (J each) see the state x(t) of the teacher. With
//! the membrane leak equal to the trace decay lambda, the voltage
//! dV/dt = -lambda V + F (dx/dt + lambda x) + Omega o is exactly V = F x + Omega r, which is
//! how it is computed (u = Omega r is kept incrementally: it decays with r, jumps by a column
//! of Omega at each spike and by the change of a column when one is learned). Each step the
//! neuron with the largest V_i - T_i > 0 fires (one per step, as the EBN neuron), r_k += 1;
//! then r and u decay by exp(-lambda dt). Thresholds T are fixed.
//!
//! **Rules** (applied at each spike of neuron k, with V before the spike):
//!
//! ```text
//! F_k        += eps_F (alpha x - F_k)                                   (feedforward: the spiking neuron's own input)
//! Omega_ik   += -eps_Omega (beta (V_i + mu r_i) + Omega_ik + mu delta_ik)  for every i (the synapses from k)
//! ```
//!
//! Both are local: a feedforward synapse reads its input x_j and its own neuron's spike; a
//! recurrent synapse from k onto i reads k's spike and i's own voltage and trace.
//!
//! **Fixed points.** F_k -> alpha E[x | k fires]: each encoder points to the part of the
//! signal its neuron represents. Omega_ik -> -beta E[V_i + mu r_i | k fires] - mu delta_ik. In
//! the efficient network with decoder D (F = D^T, Omega = -(D^T D + mu I)), V_i + mu r_i =
//! D_i . e, and just before k fires the error is on average about D_k / 2 (k fires when its
//! projection of e reaches T_k ~ ||D_k||^2 / 2), so E[V_i + mu r_i | k] ~ D_i . D_k / 2: with
//! **beta = 2** the efficient network is a fixed point of the recurrent rule. The thresholds
//! set the decoder's scale (||D_k||^2 ~ 2 T_k - mu - nu) and alpha sets the encoders' scale,
//! so the two are chosen together: alpha = d / x_rms for a target decoder norm d and the
//! signal's RMS norm x_rms. These choices are this project's (docs/RULES.md, "Learning the
//! code"), not Brendel et al.'s parameters.
//!
//! **Read-out.** The decoder of a network is the least-squares linear read-out of x from r
//! over a run ([`CodeEvaluation`]): the optimal decoder for the spikes the network fires.

use crate::Experiment;
use ebn_core::{Error, Mat, Result, check, coding};
use serde::{Deserialize, Serialize};

/// The parameters of the code-learning rules (serde).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRule {
    /// Feedforward rate eps_F per spike (dimensionless, in [0, 1]).
    pub rate_feedforward: f64,
    /// Recurrent rate eps_Omega per spike (dimensionless, in [0, 1]).
    pub rate_recurrent: f64,
    /// Scale of the encoders' target, F_k -> alpha E[x | k fires] (units of F per unit of x).
    pub alpha: f64,
    /// Weight of the voltage in the recurrent rule (2: the efficient network is a fixed point).
    pub beta: f64,
}

impl CodeRule {
    fn validate(&self) -> Result<()> {
        check::in_range("code.rate_feedforward", self.rate_feedforward, 0.0, 1.0)?;
        check::in_range("code.rate_recurrent", self.rate_recurrent, 0.0, 1.0)?;
        check::non_negative("code.alpha", self.alpha)?;
        check::non_negative("code.beta", self.beta)?;
        Ok(())
    }
}

/// A spiking autoencoder whose encoders and fast weights can learn (see the module docs).
#[derive(Debug, Clone)]
pub struct CodingNetwork {
    /// F^T, J x N: column i is neuron i's encoder F_i.
    encoders: Mat<f64>,
    /// Omega, N x N: column k holds the weights of the synapses from neuron k.
    omega: Mat<f64>,
    thresholds: Vec<f64>,
    mu: f64,
    decay: f64,
    r: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    rule: Option<CodeRule>,
}

impl CodingNetwork {
    /// The naive network: encoders `encoders` (J x N, column i = F_i), every threshold
    /// `threshold`, and no lateral connections: Omega = -2 T I (a spike resets its own
    /// neuron from T to -T and nothing else).
    pub fn naive(encoders: Mat<f64>, threshold: f64, mu: f64, lambda: f64, dt: f64) -> Result<Self> {
        check::positive("code.threshold", threshold)?;
        let n = encoders.ncols();
        let omega = Mat::from_fn(n, n, |a, b| if a == b { -2.0 * threshold } else { 0.0 });
        Self::with(encoders, omega, vec![threshold; n], mu, lambda, dt)
    }

    /// The efficient network of MODEL.md §3 for decoder `decoder` (J x N): F = D^T,
    /// Omega = -(D^T D + mu I), T_i = (||D_i||^2 + mu + nu) / 2.
    pub fn efficient(decoder: &Mat<f64>, mu: f64, nu: f64, lambda: f64, dt: f64) -> Result<Self> {
        let n = decoder.ncols();
        let omega = Mat::from_fn(n, n, |a, b| {
            -(coding::dot(decoder.col_as_slice(a), decoder.col_as_slice(b)) + if a == b { mu } else { 0.0 })
        });
        let thresholds = coding::thresholds(decoder, mu, nu);
        Self::with(decoder.clone(), omega, thresholds, mu, lambda, dt)
    }

    fn with(encoders: Mat<f64>, omega: Mat<f64>, thresholds: Vec<f64>, mu: f64, lambda: f64, dt: f64) -> Result<Self> {
        check::non_negative("code.mu", mu)?;
        check::positive("code.lambda", lambda)?;
        check::positive("code.dt", dt)?;
        let n = encoders.ncols();
        Ok(Self {
            encoders,
            omega,
            thresholds,
            mu,
            decay: (-lambda * dt).exp(),
            r: vec![0.0; n],
            u: vec![0.0; n],
            v: vec![0.0; n],
            rule: None,
        })
    }

    /// Turns learning on with `rule`, or off with `None`.
    pub fn set_rule(&mut self, rule: Option<CodeRule>) -> Result<()> {
        if let Some(r) = &rule {
            r.validate()?;
        }
        self.rule = rule;
        Ok(())
    }

    /// Back to rest (r = u = 0), weights kept.
    pub fn reset_state(&mut self) {
        self.r.fill(0.0);
        self.u.fill(0.0);
    }

    /// The encoders, J x N (column i = F_i).
    pub fn encoders(&self) -> &Mat<f64> {
        &self.encoders
    }

    /// The fast weights Omega (N x N).
    pub fn fast_weights(&self) -> &Mat<f64> {
        &self.omega
    }

    /// The traces r.
    pub fn traces(&self) -> &[f64] {
        &self.r
    }

    /// One step with the represented state `x`: voltages, at most one spike (learning at
    /// the spike if a rule is set), decay. Returns the neuron that fired.
    pub fn step(&mut self, x: &[f64]) -> Option<usize> {
        let n = self.r.len();
        let mut best: Option<(usize, f64)> = None;
        for i in 0..n {
            let v = coding::dot(self.encoders.col_as_slice(i), x) + self.u[i];
            self.v[i] = v;
            let over = v - self.thresholds[i];
            if over > 0.0 && best.is_none_or(|(_, b)| over > b) {
                best = Some((i, over));
            }
        }
        let fired = best.map(|(k, _)| k);
        if let Some(k) = fired {
            if let Some(rule) = self.rule {
                let rk = self.r[k];
                let column = self.omega.col_as_slice_mut(k);
                for i in 0..n {
                    let own = if i == k { self.mu } else { 0.0 };
                    let change =
                        -rule.rate_recurrent * (rule.beta * (self.v[i] + self.mu * self.r[i]) + column[i] + own);
                    column[i] += change;
                    self.u[i] += change * rk;
                }
                for (f, xj) in self.encoders.col_as_slice_mut(k).iter_mut().zip(x) {
                    *f += rule.rate_feedforward * (rule.alpha * xj - *f);
                }
            }
            self.r[k] += 1.0;
            for (u, w) in self.u.iter_mut().zip(self.omega.col_as_slice(k)) {
                *u += w;
            }
        }
        for (r, u) in self.r.iter_mut().zip(self.u.iter_mut()) {
            *r *= self.decay;
            *u *= self.decay;
        }
        fired
    }
}

/// How well a network codes a run: the least-squares decoder of x from r, its NRMSE (as
/// `ebn_analysis::nrmse`: pooled over components, relative to the std of x), the mean rate.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeEvaluation {
    /// The optimal linear read-out for these spikes, J x N.
    pub decoder: Mat<f64>,
    /// NRMSE of D r against x.
    pub nrmse: f64,
    /// NRMSE of the network's own read-out F r (the encoders as decoder: F = D^T in the
    /// efficient network), no fit.
    pub nrmse_own: f64,
    /// The decoder the fast weights implement: D_eff minimising ||Omega + mu I + F D||_F (in
    /// the efficient network Omega = -(F D + mu I) exactly), J x N; no fit to x.
    pub implied: Mat<f64>,
    /// NRMSE of D_eff r.
    pub nrmse_implied: f64,
    /// ||Omega + mu I + F D_eff||_F / ||Omega + mu I||_F: how far the fast weights are from
    /// those of an efficient network (0 there).
    pub fast_weight_residual: f64,
    /// Mean rate per neuron (Hz).
    pub rate_hz: f64,
}

/// Runs `network` (learning off) on test `test` of `experiment` (its command and initial
/// state; no preload: the network starts at rest, the first `skip` seconds are left out of
/// the fit) and evaluates its code.
pub fn evaluate(
    experiment: &mut Experiment,
    network: &mut CodingNetwork,
    test: usize,
    skip: f64,
) -> Result<CodeEvaluation> {
    let config = experiment.config().clone();
    let duration = config.tests.get(test).map_or(0.0, |t| t.duration);
    let dt = config.network.dt;
    let steps = (duration / dt).round() as usize;
    let skip_steps = (skip / dt).round() as usize;
    if skip_steps >= steps {
        return Err(Error::invalid("skip", skip, format!("< the test's duration {duration} s")));
    }
    let (mut x, mut command) = experiment.test_inputs(test)?;
    let (n, j) = (config.network.n, x.len());
    let saved = network.rule.take();
    network.reset_state();
    let mut c = vec![0.0; j];
    let mut xs = Vec::with_capacity((steps - skip_steps) * j);
    let mut rs = Vec::with_capacity((steps - skip_steps) * n);
    let mut spikes = 0u64;
    for s in 0..steps {
        command.next(&mut c);
        experiment.step_teacher(&mut x, &c);
        spikes += u64::from(network.step(&x).is_some());
        if s >= skip_steps {
            xs.extend_from_slice(&x);
            rs.extend_from_slice(&network.r);
        }
    }
    network.rule = saved;
    let samples = steps - skip_steps;
    let decoder = least_squares(&xs, &rs, samples, j, n)?;
    let mut mean = vec![0.0; j];
    for s in 0..samples {
        for (m, v) in mean.iter_mut().zip(&xs[s * j..(s + 1) * j]) {
            *m += v / samples as f64;
        }
    }
    // The implied decoder: row i of -(Omega + mu I) ~ F_i^T D, a least-squares problem with
    // the N neurons as samples (D^T maps F_i to row i).
    let mut targets = Vec::with_capacity(n * n);
    let mut inputs = Vec::with_capacity(n * j);
    for i in 0..n {
        targets.extend((0..n).map(|k| -(network.omega[(i, k)] + if i == k { network.mu } else { 0.0 })));
        inputs.extend_from_slice(network.encoders.col_as_slice(i));
    }
    let implied = least_squares(&targets, &inputs, n, n, j)?.transpose().to_owned();
    let (mut residual, mut size) = (0.0, 0.0);
    for i in 0..n {
        for k in 0..n {
            let fit: f64 = (0..j).map(|jj| network.encoders[(jj, i)] * implied[(jj, k)]).sum();
            residual += (targets[i * n + k] - fit).powi(2);
            size += targets[i * n + k].powi(2);
        }
    }
    let (mut err, mut err_own, mut err_implied, mut var) = (0.0, 0.0, 0.0, 0.0);
    for s in 0..samples {
        let r = &rs[s * n..(s + 1) * n];
        for jj in 0..j {
            let xh: f64 = (0..n).map(|i| decoder[(jj, i)] * r[i]).sum();
            let own: f64 = (0..n).map(|i| network.encoders[(jj, i)] * r[i]).sum();
            let imp: f64 = (0..n).map(|i| implied[(jj, i)] * r[i]).sum();
            err += (xs[s * j + jj] - xh).powi(2);
            err_own += (xs[s * j + jj] - own).powi(2);
            err_implied += (xs[s * j + jj] - imp).powi(2);
            var += (xs[s * j + jj] - mean[jj]).powi(2);
        }
    }
    if var == 0.0 {
        return Err(Error::Unsupported("the test's state is constant: no code to evaluate".into()));
    }
    Ok(CodeEvaluation {
        decoder,
        nrmse: (err / var).sqrt(),
        nrmse_own: (err_own / var).sqrt(),
        nrmse_implied: (err_implied / var).sqrt(),
        fast_weight_residual: (residual / size).sqrt(),
        implied,
        rate_hz: spikes as f64 / (n as f64 * duration),
    })
}

/// D (J x N) minimising sum ||x - D r||^2 (+ a ridge of 1e-9 of the mean diagonal of the
/// correlation, so that silent neurons get a zero column instead of a singular system), by
/// Cholesky on the N x N correlation.
fn least_squares(xs: &[f64], rs: &[f64], samples: usize, j: usize, n: usize) -> Result<Mat<f64>> {
    let mut g = vec![0.0; n * n];
    let mut b = vec![0.0; j * n];
    for s in 0..samples {
        let r = &rs[s * n..(s + 1) * n];
        let x = &xs[s * j..(s + 1) * j];
        for a in 0..n {
            if r[a] == 0.0 {
                continue;
            }
            for c in 0..n {
                g[a * n + c] += r[a] * r[c];
            }
            for jj in 0..j {
                b[jj * n + a] += x[jj] * r[a];
            }
        }
    }
    let ridge = 1e-9 * (0..n).map(|a| g[a * n + a]).sum::<f64>() / n as f64 + 1e-300;
    for a in 0..n {
        g[a * n + a] += ridge;
    }
    // Cholesky G = L L^T (row-major lower triangle).
    for a in 0..n {
        for c in 0..=a {
            let mut sum = g[a * n + c];
            for k in 0..c {
                sum -= g[a * n + k] * g[c * n + k];
            }
            if a == c {
                if sum <= 0.0 || !sum.is_finite() {
                    return Err(Error::Unsupported("the traces' correlation is not positive definite".into()));
                }
                g[a * n + a] = sum.sqrt();
            } else {
                g[a * n + c] = sum / g[c * n + c];
            }
        }
    }
    // Each row of D solves G d = b_j.
    let mut d = Mat::zeros(j, n);
    let mut y = vec![0.0; n];
    for jj in 0..j {
        for a in 0..n {
            let mut sum = b[jj * n + a];
            for k in 0..a {
                sum -= g[a * n + k] * y[k];
            }
            y[a] = sum / g[a * n + a];
        }
        for a in (0..n).rev() {
            let mut sum = y[a];
            for k in a + 1..n {
                sum -= g[k * n + a] * d[(jj, k)];
            }
            d[(jj, a)] = sum / g[a * n + a];
        }
    }
    Ok(d)
}

/// Trains `network`'s code for the training trials of `experiment` (its commands and initial
/// states, the network starting at rest in each trial), calling `each` after every trial.
pub fn learn(
    experiment: &mut Experiment,
    network: &mut CodingNetwork,
    rule: CodeRule,
    mut each: impl FnMut(usize, &CodingNetwork),
) -> Result<()> {
    let config = experiment.config().clone();
    let training = config.training.as_ref().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
    let steps = (training.trial_duration / config.network.dt).round() as usize;
    network.set_rule(Some(rule))?;
    for trial in 0..training.trials {
        let (mut x, mut command) = experiment.training_inputs(trial)?;
        let mut c = vec![0.0; x.len()];
        network.reset_state();
        for _ in 0..steps {
            command.next(&mut c);
            experiment.step_teacher(&mut x, &c);
            network.step(&x);
        }
        each(trial, network);
    }
    network.set_rule(None)
}

/// RMS norm of the teacher's state over the training trials (the signal scale that sets
/// alpha).
pub fn training_rms(experiment: &mut Experiment) -> Result<f64> {
    let config = experiment.config().clone();
    let training = config.training.as_ref().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
    let steps = (training.trial_duration / config.network.dt).round() as usize;
    let (mut sum, mut count) = (0.0, 0usize);
    for trial in 0..training.trials {
        let (mut x, mut command) = experiment.training_inputs(trial)?;
        let mut c = vec![0.0; x.len()];
        for _ in 0..steps {
            command.next(&mut c);
            experiment.step_teacher(&mut x, &c);
            sum += x.iter().map(|v| v * v).sum::<f64>();
            count += 1;
        }
    }
    Ok((sum / count.max(1) as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExperimentConfig;

    /// The linear example, shortened: `trials` training trials of 0.5 s, a 1 s test.
    fn linear(trials: usize) -> Experiment {
        let mut config = ExperimentConfig::from_toml(include_str!("../../../examples/linear.toml")).unwrap();
        let training = config.training.as_mut().unwrap();
        training.trials = trials;
        training.trial_duration = 0.5;
        config.tests[0].duration = 1.0;
        Experiment::build(&config).unwrap()
    }

    /// The efficient network's fast weights are exactly -(F D + mu I) with F = D^T: its
    /// implied decoder is its decoder, with no residual, whatever spikes it fires.
    #[test]
    fn the_efficient_network_implies_its_own_decoder() {
        let mut exp = linear(1);
        let d = exp.initial_network().unwrap().decoder().clone();
        let cfg = exp.config().network.clone();
        let mut net = CodingNetwork::efficient(&d, cfg.mu, cfg.nu, cfg.lambda, cfg.dt).unwrap();
        let eval = evaluate(&mut exp, &mut net, 0, 0.1).unwrap();
        assert!(eval.fast_weight_residual < 1e-9, "{}", eval.fast_weight_residual);
        let scale = d.norm_max();
        assert!((&eval.implied - &d).norm_max() < 1e-9 * scale, "implied decoder differs");
        assert!((eval.nrmse_implied - eval.nrmse_own).abs() < 1e-9);
    }

    /// From random encoders 10x too large and no lateral connections, the local rules
    /// learn lateral inhibition that an efficient network would have (the fast weights
    /// become -(F D + mu I) for some D), and through it a decoder: the coding error of that
    /// decoder and the rate both fall several-fold within 20 s of signal.
    #[test]
    fn the_local_rules_learn_an_efficient_code_from_a_bad_one() {
        let mut exp = linear(40);
        let cfg = exp.config().network.clone();
        let (n, j) = (cfg.n, cfg.dim);
        let d = exp.initial_network().unwrap().decoder().clone();
        let d2 = (0..n).map(|i| d.col_as_slice(i).iter().map(|v| v * v).sum::<f64>()).sum::<f64>() / n as f64;
        let threshold = (d2 + cfg.mu + cfg.nu) / 2.0;
        let mut rng = ebn_core::SeedStreams::new(7).named("test_encoders", 0);
        let bad = crate::DecoderConfig::GaussianStd { std: 10.0 / (2.0 * n as f64) }.build(n, j, &mut rng).unwrap();
        let mut net = CodingNetwork::naive(bad, threshold, cfg.mu, cfg.lambda, cfg.dt).unwrap();
        let before = evaluate(&mut exp, &mut net, 0, 0.1).unwrap();
        let x_rms = training_rms(&mut exp).unwrap();
        let rule = CodeRule { rate_feedforward: 2e-4, rate_recurrent: 2e-4, alpha: d2.sqrt() / x_rms, beta: 1.0 };
        let mut trials = 0;
        learn(&mut exp, &mut net, rule, |_, _| trials += 1).unwrap();
        assert_eq!(trials, 40);
        let after = evaluate(&mut exp, &mut net, 0, 0.1).unwrap();
        assert!(before.fast_weight_residual > 0.9, "before: {}", before.fast_weight_residual);
        assert!(after.fast_weight_residual < 0.3, "after: {}", after.fast_weight_residual);
        assert!(
            after.nrmse_implied < before.nrmse_implied / 10.0,
            "{} -> {}",
            before.nrmse_implied,
            after.nrmse_implied
        );
        assert!(after.rate_hz < before.rate_hz / 2.0, "{} -> {} Hz", before.rate_hz, after.rate_hz);
        assert!(CodeRule { beta: -1.0, ..rule }.validate().is_err());
        assert!(net.set_rule(Some(CodeRule { rate_recurrent: 2.0, ..rule })).is_err());
    }

    /// The least-squares read-out recovers an exact linear map.
    #[test]
    fn least_squares_recovers_a_linear_map() {
        let (j, n, samples) = (2, 4, 50);
        let d_true = [[0.5, -1.0, 0.25, 2.0], [1.5, 0.0, -0.75, 0.1]];
        let mut xs = Vec::new();
        let mut rs = Vec::new();
        for s in 0..samples {
            let r: Vec<f64> = (0..n).map(|i| ((s * (i + 2)) as f64 * 0.61).sin().abs() + 0.1).collect();
            for row in &d_true {
                xs.push(row.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>());
            }
            rs.extend_from_slice(&r);
        }
        let d = least_squares(&xs, &rs, samples, j, n).unwrap();
        for jj in 0..j {
            for i in 0..n {
                assert!((d[(jj, i)] - d_true[jj][i]).abs() < 1e-6, "{jj} {i}: {}", d[(jj, i)]);
            }
        }
    }
}
