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
use crate::neuron::{NeuronModel, PendingSpike, SplitInput};
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
/// computed from scratch after any sequence of spikes and decays;
/// [`Basis::advance_drive`] gives the bits of the jumps, the decay and `evaluate` one after
/// the other; a basis that says it is the identity gives Psi = r bit for bit.
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
        // advance_drive is the jumps, the decay and evaluate one after the other, bit for bit,
        // for 0 to 3 spikes in a step (the last events' neurons, repeats included).
        for count in 0..=3.min(events.len()) {
            let spikes: Vec<usize> = events[events.len() - count..].iter().map(|e| e.0).collect();
            let decay = events[0].1;
            let (mut u_one, mut u_seq) = (drive.clone(), drive.clone());
            let (mut p_one, mut p_seq) = (vec![f64::NAN; nb], vec![f64::NAN; nb]);
            basis.advance_drive(&spikes, decay, &r, &mut u_one, &mut p_one);
            for &k in &spikes {
                basis.on_spike(k, &mut u_seq);
            }
            crate::coding::decay(&mut u_seq, decay);
            basis.evaluate(&r, &u_seq, &mut p_seq);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&u_one), bits(&u_seq), "advance_drive's drive with spikes {:?}", spikes);
            prop_assert_eq!(bits(&p_one), bits(&p_seq), "advance_drive's Psi with spikes {:?}", spikes);
        }
        if basis.is_identity() {
            // The network never evaluates an identity basis: it reads r as Psi.
            prop_assert_eq!(nb, n, "an identity basis has N_b = N");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&psi), bits(&r), "is_identity, but Psi(r) != r");
        }
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
        one_pass_is_the_separate_calls(model, &state, &cells, &thresholds, dt)?;
        model.integrate(&mut state, &vec![0.0; n], dt);
        for (a, b) in model.voltages(&state).iter().zip(&before) {
            prop_assert!(a.abs() <= b.abs() + 1e-15, "voltage grew without input: {b} -> {a}");
        }
        Ok(())
    });
}

/// Where the model has them, the one-pass methods give what the separate calls give, bit for
/// bit: [`NeuronModel::integrate_and_select`] is the current written out, `integrate` and
/// `select_spike`; [`NeuronModel::integrate_and_select_pending`] is the pending column
/// ([`PendingSpike::apply`]), `on_spike`, then the same. The whole state is compared through
/// its `Debug` text (floats print in their shortest round-trip form: the same text, the
/// same bits), so the model's other variables (a clock, a synaptic current) count too.
fn one_pass_is_the_separate_calls<M: NeuronModel>(
    model: &M,
    state: &M::State,
    cells: &[(f64, f64, bool)],
    thresholds: &[f64],
    dt: f64,
) -> Result<(), TestCaseError> {
    let n = cells.len();
    let bits = |s: &M::State| format!("{s:?}");
    let j = 1 + n % 3;
    let rows: Vec<Vec<f64>> = (0..j).map(|c| cells.iter().map(|x| 0.1 * (x.0 + c as f64 * x.1)).collect()).collect();
    let rows: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
    let z: Vec<f64> = (0..j).map(|c| 40.0 * cells[c % n].0 - 10.0 * c as f64).collect();
    let extra: Vec<f64> = cells.iter().map(|x| x.1 - 0.5).collect();
    for extra in [None, Some(extra.as_slice())] {
        let input = SplitInput { rows: &rows, z: &z, extra };
        let mut current = vec![0.0; n];
        input.write(&mut current);
        let separate = |mut s: M::State| {
            model.integrate(&mut s, &current, dt);
            let k = model.select_spike(&s, thresholds);
            (k, bits(&s))
        };
        let mut fused = state.clone();
        if let Some(k) = model.integrate_and_select(&mut fused, &input, thresholds, dt) {
            prop_assert_eq!((k, bits(&fused)), separate(state.clone()), "integrate_and_select");
        }
        let k = n / 2;
        let d: Vec<f64> = rows.iter().map(|r| r[k]).collect();
        let pending = PendingSpike { k, d: &d, mu: 1e-3 };
        let mut fused = state.clone();
        if let Some(chosen) = model.integrate_and_select_pending(&mut fused, &input, &pending, thresholds, dt) {
            let mut reference = state.clone();
            pending.apply(&rows, model.voltages_mut(&mut reference));
            model.on_spike(&mut reference, k);
            prop_assert_eq!((chosen, bits(&fused)), separate(reference), "integrate_and_select_pending");
        }
    }
    Ok(())
}

fn random_mat(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    use rand::RngExt;
    let mut rng = SeedStreams::new(seed).rng(Stream::Weights);
    Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// [`PlasticityRule`] driven by an output error: no change when e = 0; and, if the rule has
/// both forms, the two agree: D^T dW == dOmega; a rule claiming the fused outer-product form
/// does exactly that; and its state survives [`PlasticityRule::state`] /
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
        // 0 x Psi differ there: -0.0 + 0.0 is +0.0, so a claim of the fused form with g = 0
        // is caught).
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
        // A rule that claims the outer-product form (so that the engine may fuse it) must do
        // exactly that: Omega[:, b] += (g Psi_b) feedback, bit for bit.
        let fb = feedback_of(&e);
        let x_hat = x_hat_of(&e);
        let mut bound = make();
        bound.bind(&setup(WeightForm::Dense, n, j, nb)).ok();
        let mut gain = None;
        with_signal(&e, &fb, &x_hat, &mut |sig| gain = bound.dense_outer_gain(sig));
        if let (Some(g), true) = (gain, forms.contains(&WeightForm::Dense)) {
            for zeros in [false, true] {
                let (_, updated) = apply_from(WeightForm::Dense, &e, zeros)?;
                let mut expected = dense_start(zeros);
                for (b, p) in psi.iter().enumerate() {
                    for (w, f) in expected.col_as_slice_mut(b).iter_mut().zip(&fb) {
                        *w += (g * p) * f;
                    }
                }
                prop_assert!(
                    same_bits(updated.matrix(), &expected),
                    "dense_outer_gain does not describe the update: {updated:?} != {expected:?}"
                );
            }
        }
        // And for the factored weights: W^T[:, c] += (g e_c) Psi, bit for bit.
        let mut bound = make();
        bound.bind(&setup(WeightForm::Factored, n, j, nb)).ok();
        let mut gain = None;
        with_signal(&e, &fb, &x_hat, &mut |sig| gain = bound.factored_outer_gain(sig));
        if let (Some(g), true) = (gain, forms.contains(&WeightForm::Factored)) {
            for zeros in [false, true] {
                let (start, updated) = apply_from(WeightForm::Factored, &e, zeros)?;
                let mut expected = start.matrix().clone();
                for (c, ec) in e.iter().enumerate() {
                    for (w, p) in expected.col_as_slice_mut(c).iter_mut().zip(&psi) {
                        *w += (g * ec) * p;
                    }
                }
                prop_assert!(
                    same_bits(updated.matrix(), &expected),
                    "factored_outer_gain does not describe the update: {updated:?} != {expected:?}"
                );
            }
        }
        // A rule that says it does not read the feedback or the voltages gives the same
        // weights and state, bit for bit, when they are empty (as the network passes them).
        for &form in &forms {
            let mut probe = make();
            prop_assert!(probe.bind(&setup(form, n, j, nb)).is_ok());
            let (reads_fb, reads_v) = (probe.reads_feedback(form), probe.reads_voltages());
            if reads_fb && reads_v {
                continue;
            }
            let start = match form {
                WeightForm::Dense => SlowWeights::Dense(dense_start(false)),
                WeightForm::Factored => SlowWeights::from_w(&factored_start(false)),
            };
            let (mut full, mut lean) = (make(), make());
            prop_assert!(full.bind(&setup(form, n, j, nb)).is_ok() && lean.bind(&setup(form, n, j, nb)).is_ok());
            let (mut w_full, mut w_lean) = (start.clone(), start);
            let x_hat = x_hat_of(&e);
            let empty: [f64; 0] = [];
            for t in [0.5, 0.5 + 1e-4] {
                let signal = |feedback, voltages| LearningSignal {
                    error: &e,
                    feedback,
                    psi: &psi,
                    target: &x,
                    readout: &x_hat,
                    traces: &r,
                    voltages,
                    spikes: &[],
                    decoder: &d,
                    t,
                    rate_scale: scale,
                    dt: 1e-4,
                };
                full.update(&signal(&fb, &v), &mut w_full);
                let (lean_fb, lean_v) =
                    (if reads_fb { &fb[..] } else { &empty[..] }, if reads_v { &v[..] } else { &empty[..] });
                lean.update(&signal(lean_fb, lean_v), &mut w_lean);
            }
            prop_assert!(
                same_bits(w_full.matrix(), w_lean.matrix()),
                "{:?}: the rule says it does not read the feedback ({}) or the voltages ({}), but they change its update",
                form,
                !reads_fb,
                !reads_v
            );
            let bits = |s: Vec<f64>| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(full.state()), bits(lean.state()), "and its state");
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

/// Whether two matrices hold the same bits (signed zeros and NaN payloads included).
fn same_bits(a: &Mat<f64>, b: &Mat<f64>) -> bool {
    a.nrows() == b.nrows()
        && a.ncols() == b.ncols()
        && (0..a.ncols()).all(|c| (0..a.nrows()).all(|r| a[(r, c)].to_bits() == b[(r, c)].to_bits()))
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
