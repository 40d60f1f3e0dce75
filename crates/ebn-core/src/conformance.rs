//! The conformance kit: property tests that every implementation of a core trait inherits.
//!
//! A fork that adds a component calls the matching function from one `#[test]`:
//!
//! ```ignore
//! #[test]
//! fn my_system_conforms() {
//!     ebn_core::conformance::target_system(&MySystem::default(), 2.0);
//! }
//! ```
//!
//! Each function runs a proptest [`TestRunner`] over random inputs and panics with the
//! minimal failing case. The properties are the contract of the trait as documented on it;
//! model-specific theory (closed-form weights, loss decrease at each spike) is tested next to
//! each model.

use crate::basis::Basis;
use crate::command::CommandSignal;
use crate::neuron::NeuronModel;
use crate::perturbation::{InputContext, Perturbation, PerturbationContext};
use crate::plasticity::{LearningSignal, PlasticityRule, RuleSetup};
use crate::seed::{SeedStreams, Stream};
use crate::target::{Integrator, TargetSystem};
use crate::weights::{SlowWeights, WeightForm};
use faer::Mat;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    if let Err(e) = runner(cases).run(&strategy, test) {
        panic!("conformance failure: {e}");
    }
}

/// [`TargetSystem`]: f is finite on the box `[-bound, bound]^J`, deterministic, and does not
/// read the output buffer.
pub fn target_system(system: &dyn TargetSystem, bound: f64) {
    let j = system.dim();
    assert!(j > 0, "a target system has at least one dimension");
    run(128, prop::collection::vec(-bound..=bound, j), |x| {
        let mut a = vec![f64::NAN; j];
        let mut b = vec![1e300; j];
        system.vector_field(&x, &mut a);
        system.vector_field(&x, &mut b);
        prop_assert!(a.iter().all(|v| v.is_finite()), "f({x:?}) = {a:?} is not finite");
        prop_assert_eq!(a, b, "f must be deterministic and must overwrite its output");
        Ok(())
    });
}

/// A scalar linear test system dx/dt = a x, whose solution is known in closed form.
#[derive(Debug)]
struct Scalar(f64);

impl TargetSystem for Scalar {
    fn dim(&self) -> usize {
        1
    }
    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        dxdt[0] = self.0 * x[0];
    }
}

/// [`Integrator`]: on dx/dt = a x + c (exact solution known) the error after 1 s falls by
/// 2^order (within a factor 1.5 either way) when dt halves.
pub fn integrator(integrator: &mut dyn Integrator) {
    let order = integrator.order();
    assert!(order >= 1, "an integrator has order >= 1");
    let runner_integrator = std::cell::RefCell::new(integrator);
    run(32, (-3.0..-0.5f64, -1.0..1.0f64, 0.5..2.0f64), |(a, c, x0)| {
        let exact = (x0 + c / a) * a.exp() - c / a;
        let mut errors = [0.0; 2];
        for (k, steps) in [20usize, 40].into_iter().enumerate() {
            let dt = 1.0 / steps as f64;
            let mut x = [x0];
            for _ in 0..steps {
                runner_integrator.borrow_mut().step(&Scalar(a), &mut x, &[c], dt);
            }
            prop_assert!(x[0].is_finite());
            errors[k] = (x[0] - exact).abs();
        }
        // Below ~1e-13 the error is rounding, not truncation: nothing to measure.
        if errors[0] > 1e-11 {
            let ratio = errors[0] / errors[1];
            let expected = 2f64.powi(order as i32);
            prop_assert!(
                ratio > expected / 1.5 && ratio < expected * 1.5,
                "error ratio {ratio} for dt halving, expected ~{expected} (order {order})"
            );
        }
        Ok(())
    });
}

/// [`CommandSignal`]: the same seed gives the same realisation, every value is finite, and
/// the realisation has the declared dimension.
pub fn command_signal(signal: &dyn CommandSignal) {
    let j = signal.dim();
    assert!(j > 0);
    run(16, (any::<u64>(), 1e-4..1e-3f64), |(seed, dt)| {
        let duration = 0.5;
        let steps = (duration / dt) as usize;
        let draw = || {
            let mut s = signal.realise(dt, duration, SeedStreams::new(seed).rng(Stream::Command));
            let mut out = vec![0.0; j];
            let mut all = Vec::with_capacity(steps * j);
            for _ in 0..steps {
                s.next(&mut out);
                all.extend_from_slice(&out);
            }
            all
        };
        let a = draw();
        prop_assert!(a.iter().all(|v| v.is_finite()));
        prop_assert_eq!(a, draw());
        Ok(())
    });
}

/// [`Basis`]: Psi has N_b finite values; the incrementally kept drive equals the drive
/// computed from scratch after any sequence of spikes and decays.
pub fn basis(basis: &dyn Basis) {
    let n = basis.n_inputs();
    let nb = basis.len();
    assert!(n > 0 && nb > 0, "a built basis has inputs and functions");
    let events = prop::collection::vec((0..n, 0.5..1.0f64), 1..60);
    run(64, events, |events| {
        let mut r = vec![0.0; n];
        let mut drive = vec![0.0; basis.drive_len()];
        for &(k, decay) in &events {
            r[k] += 1.0;
            basis.on_spike(k, &mut drive);
            r.iter_mut().for_each(|v| *v *= decay);
            drive.iter_mut().for_each(|v| *v *= decay);
        }
        let mut fresh = vec![0.0; basis.drive_len()];
        basis.drive_from_traces(&r, &mut fresh);
        let scale = 1.0 + fresh.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in drive.iter().zip(&fresh) {
            // Each event adds one rounding error per component: 1e-12 relative is far above
            // 60 events x 1e-16 and far below any real mismatch.
            prop_assert!((a - b).abs() <= 1e-12 * scale, "incremental drive {a} != fresh {b}");
        }
        let mut psi = vec![f64::NAN; nb];
        basis.evaluate(&r, &drive, &mut psi);
        prop_assert!(psi.iter().all(|v| v.is_finite()), "Psi not finite: {psi:?}");
        Ok(())
    });
}

/// [`NeuronModel`]: with no input the voltages do not grow; a neuron is selected only if its
/// voltage exceeds its threshold, never one with an infinite threshold, and none when every
/// voltage is below threshold; an inhibitory fast-weight column
/// ([`NeuronModel::receive_fast`]) never raises another neuron's voltage, neither at once nor
/// over the following steps (a model with synapses delivers it late).
pub fn neuron_model<M: NeuronModel>(model: &M, dt: f64) {
    model.validate(dt).expect("the model must accept the dt it is tested at");
    assert!(model.max_spikes_per_step() >= 1, "a spike policy allows at least one spike per step");
    let cases = (prop::collection::vec((-2.0..2.0f64, 0.1..1.0f64, any::<bool>()), 1..40),);
    run(128, cases, |(cells,)| {
        let n = cells.len();
        let mut state = model.init_state(n, &mut SeedStreams::new(n as u64).rng(Stream::NeuronState));
        prop_assert_eq!(model.voltages(&state).len(), n);
        prop_assert!(model.voltages(&state).iter().all(|v| v.is_finite()));
        for (v, c) in model.voltages_mut(&mut state).iter_mut().zip(&cells) {
            *v = c.0;
        }
        let thresholds: Vec<f64> = cells.iter().map(|c| if c.2 { c.1 } else { f64::INFINITY }).collect();
        let before: Vec<f64> = model.voltages(&state).to_vec();
        match model.select_spike(&state, &thresholds) {
            Some(k) => {
                prop_assert!(k < n);
                prop_assert!(before[k] > thresholds[k], "neuron {k} fired below threshold");
                // Being told of the spike must not break the state.
                let mut told = state.clone();
                let column: Vec<f64> = cells.iter().map(|c| -0.5 * c.1).collect();
                model.receive_fast(&mut told, k, &column, &thresholds);
                model.on_spike(&mut told, k);
                prop_assert_eq!(model.voltages(&told).len(), n);
                prop_assert!(model.voltages(&told).iter().all(|v| v.is_finite()));
                // Fast inhibition (a column of negative weights) never raises the voltages,
                // at once or as its synaptic charge arrives over the next steps.
                for _ in 0..3 {
                    model.integrate(&mut told, &vec![0.0; n], dt);
                }
                let v_now = model.voltages(&told);
                for (i, (a, b)) in v_now.iter().zip(&before).enumerate() {
                    prop_assert!(
                        i == k || *a <= b.max(0.0) + 1e-12,
                        "neuron {i} rose from {b} to {a} after an inhibitory spike"
                    );
                }
            }
            None => prop_assert!(
                before.iter().zip(&thresholds).all(|(v, t)| v <= t),
                "no spike although a voltage is above threshold"
            ),
        }
        model.integrate(&mut state, &vec![0.0; n], dt);
        for (a, b) in model.voltages(&state).iter().zip(&before) {
            prop_assert!(a.abs() <= b.abs() + 1e-15, "voltage grew without input: {b} -> {a}");
        }
        Ok(())
    });
}

fn random_mat(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    use rand::RngExt;
    let mut rng = SeedStreams::new(seed).rng(Stream::Weights);
    Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// [`PlasticityRule`] driven by an output error: no change when e = 0; and, if the rule has
/// both forms, the two agree: D^T dW == dOmega; and its state survives [`PlasticityRule::state`] /
/// [`PlasticityRule::set_state`]. `make` builds a fresh, unbound rule.
pub fn error_driven_rule(make: &dyn Fn() -> Box<dyn PlasticityRule>) {
    rule_kit(make, true);
}

/// [`PlasticityRule`] in general, leaky rules included (weight decay, sigma-modification):
/// as [`error_driven_rule`], except that with e = 0 the weights may change but must not grow
/// (no entry larger in magnitude than the largest before).
pub fn plasticity_rule(make: &dyn Fn() -> Box<dyn PlasticityRule>) {
    rule_kit(make, false);
}

fn rule_kit(make: &dyn Fn() -> Box<dyn PlasticityRule>, strict: bool) {
    let setup = |form, n, j, nb| RuleSetup { form, n, dim: j, n_basis: nb };
    let forms: Vec<WeightForm> = [WeightForm::Dense, WeightForm::Factored]
        .into_iter()
        .filter(|f| make().bind(&setup(*f, 4, 2, 3)).is_ok())
        .collect();
    assert!(!forms.is_empty(), "a rule supports at least one weight form");
    run(64, (1usize..4, 1usize..12, 1usize..12, any::<u64>(), 0.0..1.0f64), |(j, n, nb, seed, scale)| {
        let d = random_mat(j, n, seed);
        let e: Vec<f64> = random_mat(j, 1, seed ^ 1).col_as_slice(0).to_vec();
        let psi: Vec<f64> = random_mat(nb, 1, seed ^ 2).col_as_slice(0).to_vec();
        let x: Vec<f64> = random_mat(j, 1, seed ^ 4).col_as_slice(0).to_vec();
        let r: Vec<f64> = random_mat(n, 1, seed ^ 5).col_as_slice(0).iter().map(|v| v.abs()).collect();
        let v: Vec<f64> = random_mat(n, 1, seed ^ 6).col_as_slice(0).to_vec();
        let feedback_of =
            |e: &[f64]| -> Vec<f64> { (0..n).map(|i| crate::coding::dot(d.col_as_slice(i), e)).collect() };
        let x_hat_of = |e: &[f64]| -> Vec<f64> { x.iter().zip(e).map(|(a, b)| a - b).collect() };
        let with_signal = |e: &[f64], fb: &[f64], x_hat: &[f64], f: &mut dyn FnMut(&LearningSignal<'_>)| {
            f(&LearningSignal {
                error: e,
                feedback: fb,
                psi: &psi,
                target: &x,
                readout: x_hat,
                traces: &r,
                voltages: &v,
                spikes: &[],
                decoder: &d,
                t: 0.5,
                rate_scale: scale,
                dt: 1e-4,
            });
        };
        // The starting weights: random, or every entry -0.0 (a skipped update and an added
        // 0 x Psi differ there: -0.0 + 0.0 is +0.0).
        let dense_start = |zeros: bool| {
            if zeros {
                Mat::from_fn(n, nb, |_, _| -0.0)
            } else {
                SlowWeights::from_w(&random_mat(j, nb, seed ^ 3)).synaptic(&d)
            }
        };
        let factored_start = |zeros: bool| {
            if zeros { Mat::from_fn(j, nb, |_, _| -0.0) } else { random_mat(j, nb, seed ^ 3) }
        };
        let apply_from =
            |form: WeightForm, e: &[f64], zeros: bool| -> Result<(SlowWeights, SlowWeights), TestCaseError> {
                // Both forms start from the same synaptic weights, Omega = D^T W, so that rules
                // whose change depends on the weights (leakage) can be compared too.
                let start = match form {
                    WeightForm::Dense => SlowWeights::Dense(dense_start(zeros)),
                    WeightForm::Factored => SlowWeights::from_w(&factored_start(zeros)),
                };
                let mut w = start.clone();
                let mut rule = make();
                prop_assert!(rule.bind(&setup(form, n, j, nb)).is_ok());
                let saved = rule.state();
                prop_assert!(rule.set_state(&saved).is_ok(), "the rule refused its own state");
                let fb = feedback_of(e);
                let x_hat = x_hat_of(e);
                with_signal(e, &fb, &x_hat, &mut |sig| rule.update(sig, &mut w));
                Ok((start, w))
            };
        let apply = |form: WeightForm, e: &[f64]| apply_from(form, e, false);
        for &form in &forms {
            let (start, after) = apply(form, &vec![0.0; j])?;
            if strict {
                prop_assert_eq!(start, after, "the rule changed the weights with zero error");
            } else {
                let (a, b) = (start.matrix().norm_max(), after.matrix().norm_max());
                prop_assert!(b <= a, "the weights grew with zero error: max |w| {} -> {}", a, b);
            }
        }
        if forms.len() == 2 {
            let (d0, d1) = apply(WeightForm::Dense, &e)?;
            let (f0, f1) = apply(WeightForm::Factored, &e)?;
            let dense_change = d1.matrix() - d0.matrix();
            let factored_change = f1.synaptic(&d) - f0.synaptic(&d);
            let tol = 1e-12 * (1.0 + dense_change.norm_max());
            prop_assert!((dense_change - factored_change).norm_max() <= tol, "dense and factored updates differ");
        }
        Ok(())
    });
}

/// [`Perturbation`]: over a run of steps the voltages stay finite, and a silenced neuron stays
/// silenced. `make` builds a fresh perturbation for each case.
pub fn perturbation(make: &dyn Fn() -> Box<dyn Perturbation>) {
    run(16, (1usize..30, 1u64..2000), |(n, steps)| {
        let mut p = make();
        let mut v = vec![0.0; n];
        let mut thresholds = vec![1.0; n];
        let base = vec![1.0; n];
        let mut alive = vec![true; n];
        let mut traces = vec![0.5; n];
        let mut input = vec![0.0; n];
        let mut weights = SlowWeights::zeros(WeightForm::Factored, n, 2, n);
        for step in 0..steps {
            p.apply_input(&mut InputContext { step, t: step as f64 * 1e-4, dt: 1e-4, input: &mut input });
            prop_assert!(input.iter().all(|x| x.is_finite()), "input current not finite");
            let mut ctx = PerturbationContext::new(
                step,
                1e-4,
                &mut v,
                &mut weights,
                &mut thresholds,
                &base,
                &mut alive,
                &mut traces,
            );
            p.apply(&mut ctx);
            prop_assert!(v.iter().all(|x| x.is_finite()));
            prop_assert!(traces.iter().all(|x| x.is_finite()), "traces not finite");
            for i in 0..n {
                prop_assert_eq!(alive[i], thresholds[i].is_finite(), "alive mask and thresholds disagree");
            }
        }
        Ok(())
    });
}

/// A recording of `dim` components and `n` neurons over `samples` samples at `dt`: the
/// target a sum of two sines of the given frequencies (Hz) and amplitudes, the readout the
/// target plus `noise` times a third sine, the command the target's derivative, Poisson-like
/// spikes every `spike_every` samples (none if 0). Deterministic.
fn synthetic_recording(
    dim: usize,
    n: usize,
    samples: usize,
    (f1, f2, amplitude, noise): (f64, f64, f64, f64),
    spike_every: usize,
) -> crate::Recording {
    use crate::recording::{SpikeTrain, Trace};
    let dt = 1e-3;
    let mut rec = crate::Recording {
        dt,
        every: 1,
        x: Trace::new(dim),
        x_hat: Trace::new(dim),
        command: Trace::new(dim),
        voltages: Trace::new(0),
        spikes: SpikeTrain::new(n),
        duration: samples as f64 * dt,
        ..crate::Recording::default()
    };
    let tau = std::f64::consts::TAU;
    for k in 0..samples {
        let t = k as f64 * dt;
        rec.times.push(t);
        let x: Vec<f64> =
            (0..dim).map(|j| amplitude * ((tau * f1 * t + j as f64).sin() + 0.5 * (tau * f2 * t).cos())).collect();
        let x_hat: Vec<f64> = x.iter().enumerate().map(|(j, v)| v + noise * (tau * 7.3 * t + j as f64).sin()).collect();
        let c: Vec<f64> = (0..dim).map(|j| amplitude * tau * f1 * (tau * f1 * t + j as f64).cos()).collect();
        rec.x.push(&x);
        rec.x_hat.push(&x_hat);
        rec.command.push(&c);
        if spike_every > 0 && k % spike_every == 0 && n > 0 {
            rec.spikes.push(t, (k / spike_every * 7) % n);
        }
    }
    rec
}

/// [`Analysis`](crate::Analysis): on recordings of many shapes (empty, one sample, constant,
/// oscillating with and without readout error, with and without spikes, over `dim`
/// components), it returns named, finite numbers with distinct, non-empty names, or a typed
/// error (never a NaN, never a panic); and the same result twice (it keeps no state between
/// recordings).
pub fn analysis(analysis: &dyn crate::Analysis, dim: usize) {
    assert!(dim > 0, "a recording has at least one component");
    let shapes = (0usize..5, 0.1..20.0f64, 0.1..20.0f64, 0.0..5.0f64, 0.0..1.0f64, 0usize..4, 1usize..40);
    run(64, shapes, |(length, f1, f2, amplitude, noise, spikes, n)| {
        let samples = [0, 1, 2, 300, 3000][length];
        let rec = synthetic_recording(dim, n, samples, (f1, f2, amplitude, noise), [0, 1, 7, 50][spikes]);
        let first = analysis.analyse(&rec);
        match &first {
            Ok(measures) => {
                let mut names = std::collections::BTreeSet::new();
                for (name, value) in measures {
                    prop_assert!(!name.is_empty(), "an unnamed measure");
                    prop_assert!(names.insert(name.clone()), "the measure `{name}` twice");
                    prop_assert!(
                        value.is_finite(),
                        "`{name}` = {value}: a number that is not finite (return an error)"
                    );
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty(), "an error without a message"),
        }
        let again = analysis.analyse(&rec);
        prop_assert_eq!(format!("{first:?}"), format!("{again:?}"), "another result for the same recording");
        Ok(())
    });
}
