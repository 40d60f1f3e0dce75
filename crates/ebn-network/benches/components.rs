//! Per-component costs of one step (criterion), at N = N_b = 1000, J = 2: the membrane
//! update, the spike search, the two with the input projection as three passes and fused
//! (and the same for the refractory and the synaptic neuron), the last spike's column as its
//! own pass and inside the one-pass step, a spike's propagation
//! (fast-weight column, traces, readout),
//! the tanh basis (library and fast tanh, and the fast tanh's portable loop), a spike's
//! drive jump, decay and Psi as three passes and in one sweep, the learning update (factored and dense), the
//! factored slow current's dot products (separate and in one pass), and a
//! whole training step with the tanh basis. `cargo xtask bench` compares whole steps with
//! numpy; these say where a step's time goes.

use criterion::{Criterion, criterion_group, criterion_main};
use ebn_core::{
    Basis, LearningSignal, Mat, NeuronModel, PlasticityRule, RuleSetup, SeedStreams, SlowWeights, Stream, WeightForm,
};
use ebn_network::basis::{TanhBasis, fast_tanh};
use ebn_network::engine::kernels::{PendingSpike, SplitInput, membrane};
use ebn_network::neurons::{EbnNeuron, Refractory, Reset, SynapticLif};
use ebn_network::plasticity::{LocalRule, RuleConfig};
use ebn_network::{Network, NetworkConfig, Overrides};
use rand::RngExt;
use std::hint::black_box;

const N: usize = 1000;

fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = SeedStreams::new(seed).rng(Stream::Weights);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn tanh_basis(fast: bool) -> TanhBasis {
    let m = Mat::from_fn(N, N, |i, k| 0.05 * ((i * 31 + k * 17) % 23) as f64 / 23.0);
    TanhBasis { m, theta: random(N, 2), encoders: None, fast }
}

fn components(c: &mut Criterion) {
    let neuron = EbnNeuron::default();
    let mut state = neuron.init_state(N, &mut SeedStreams::new(1).rng(Stream::NeuronState));
    let input = random(N, 1);
    c.bench_function("neuron_integrate_1000", |b| b.iter(|| neuron.integrate(black_box(&mut state), &input, 1e-4)));
    let thresholds: Vec<f64> = random(N, 3).iter().map(|v| v.abs()).collect();
    c.bench_function("spike_search_1000", |b| b.iter(|| black_box(neuron.select_spike(&state, &thresholds))));

    // The input projection D^T z (+ the dense slow current), the membrane update and the
    // spike search: as three passes, and fused into one (the engine's one-pass kernel).
    // Every iteration starts from the same voltages, as in a network step: all 0.05 below
    // threshold but one, halfway along, which the step's input leaves above (the search then
    // scans to the middle).
    let rows = [random(N, 8), random(N, 9)];
    let row_refs = [rows[0].as_slice(), rows[1].as_slice()];
    let (z, slow) = ([3.0, -2.0], random(N, 10));
    let mut v0: Vec<f64> = thresholds.iter().map(|t| t - 0.05).collect();
    v0[N / 2] = thresholds[N / 2] + 0.01;
    for (name, extra) in [("", None), ("_dense", Some(slow.as_slice()))] {
        let split = SplitInput { rows: &row_refs, z: &z, extra };
        let mut current = vec![0.0; N];
        c.bench_function(&format!("project_integrate_search_separate{name}_1000"), |b| {
            b.iter(|| {
                state.v.copy_from_slice(&v0);
                // The network's separate path: the projection as its own pass (as
                // `DecoderLayouts::project` does it for J = 2), the slow current added.
                for ((o, d0), d1) in current.iter_mut().zip(&rows[0]).zip(&rows[1]) {
                    *o = 0.0 + d0 * z[0] + d1 * z[1];
                }
                if let Some(x) = extra {
                    for (o, s) in current.iter_mut().zip(x) {
                        *o += s;
                    }
                }
                neuron.integrate(&mut state, black_box(&current), 1e-4);
                black_box(neuron.select_spike(&state, &thresholds))
            })
        });
        c.bench_function(&format!("project_integrate_search_fused{name}_1000"), |b| {
            b.iter(|| {
                state.v.copy_from_slice(&v0);
                black_box(membrane::integrate_largest_excess(
                    1.0 - 1e-4 * neuron.lambda_v,
                    1e-4,
                    &mut state.v,
                    &thresholds,
                    black_box(&split),
                ))
            })
        });
    }

    // The last spike's fast-weight column, delivered as its own pass and then the one-pass
    // step (the network's `step`), and inside the one-pass step
    // (the engine's pending kernel, as a `Network::deferred` handle steps).
    let d_k = [rows[0][N / 3], rows[1][N / 3]];
    let pending = PendingSpike { k: N / 3, d: &d_k, mu: 1e-6 };
    let split = SplitInput { rows: &row_refs, z: &z, extra: None };
    c.bench_function("column_then_one_pass_1000", |b| {
        b.iter(|| {
            state.v.copy_from_slice(&v0);
            // As the network delivers it for J = 2 (`DecoderLayouts::project`, subtracting).
            for ((v, d0), d1) in state.v.iter_mut().zip(&rows[0]).zip(&rows[1]) {
                *v -= 0.0 + d0 * d_k[0] + d1 * d_k[1];
            }
            state.v[pending.k] -= pending.mu;
            black_box(membrane::integrate_largest_excess(
                1.0 - 1e-4 * neuron.lambda_v,
                1e-4,
                &mut state.v,
                &thresholds,
                black_box(&split),
            ))
        })
    });
    c.bench_function("column_in_one_pass_1000", |b| {
        b.iter(|| {
            state.v.copy_from_slice(&v0);
            black_box(membrane::pending_integrate_largest_excess(
                1.0 - 1e-4 * neuron.lambda_v,
                1e-4,
                &mut state.v,
                &thresholds,
                black_box(&split),
                &pending,
            ))
        })
    });

    // The same for the refractory and the synaptic neuron (the refractory clock and the
    // synaptic current advanced in the same pass): the model's separate calls on the
    // projected current, and its one-pass step, from the same voltages.
    let split = SplitInput { rows: &row_refs, z: &z, extra: None };
    let current: Vec<f64> = (0..N).map(|i| split.current(i)).collect();
    let refractory = Refractory { lambda_v: 10.0, tau_ref: 2e-3 };
    let mut r_state = refractory.init_state(N, &mut SeedStreams::new(1).rng(Stream::NeuronState));
    // One neuron in 10 refractory.
    let left: Vec<f64> = (0..N).map(|i| if i % 10 == 1 { 1e-3 } else { 0.0 }).collect();
    c.bench_function("refractory_integrate_search_separate_1000", |b| {
        b.iter(|| {
            r_state.v.copy_from_slice(&v0);
            r_state.left.copy_from_slice(&left);
            refractory.integrate(&mut r_state, black_box(&current), 1e-4);
            black_box(refractory.select_spike(&r_state, &thresholds))
        })
    });
    c.bench_function("refractory_integrate_search_fused_1000", |b| {
        b.iter(|| {
            r_state.v.copy_from_slice(&v0);
            r_state.left.copy_from_slice(&left);
            black_box(membrane::integrate_largest_excess_eligible(
                1.0 - 1e-4 * refractory.lambda_v,
                1e-4,
                &mut r_state.v,
                &thresholds,
                &mut r_state.left,
                black_box(&split),
            ))
        })
    });
    let synaptic = SynapticLif { lambda_v: 10.0, tau_s: 2e-3, reset: Reset::Hard, max_spikes: 1 };
    let mut s_state = synaptic.init_state(N, &mut SeedStreams::new(1).rng(Stream::NeuronState));
    let i_s = random(N, 11);
    c.bench_function("synaptic_integrate_search_separate_1000", |b| {
        b.iter(|| {
            s_state.v.copy_from_slice(&v0);
            s_state.i_s.copy_from_slice(&i_s);
            synaptic.integrate(&mut s_state, black_box(&current), 1e-4);
            black_box(synaptic.select_spike(&s_state, &thresholds))
        })
    });
    c.bench_function("synaptic_integrate_search_fused_1000", |b| {
        b.iter(|| {
            s_state.v.copy_from_slice(&v0);
            s_state.i_s.copy_from_slice(&i_s);
            black_box(membrane::integrate_synaptic_largest_excess(
                1.0 - 1e-4 * synaptic.lambda_v,
                1e-4,
                [synaptic.tau_s * (1.0 - (-1e-4 / synaptic.tau_s).exp()), (-1e-4 / synaptic.tau_s).exp()],
                &mut s_state.v,
                &thresholds,
                &mut s_state.i_s,
                black_box(&split),
            ))
        })
    });

    // A spike's propagation: the voltages are set above threshold, then one neuron fires.
    let mut net = Network::build(&NetworkConfig::paper(N, 2), SeedStreams::new(1)).unwrap();
    let high: Vec<f64> = net.thresholds().iter().map(|t| t + 1.0).collect();
    c.bench_function("set_voltages_1000", |b| b.iter(|| net.set_voltages(black_box(&high)).unwrap()));
    c.bench_function("set_voltages_and_fire_1000", |b| {
        b.iter(|| {
            net.set_voltages(&high).unwrap();
            black_box(net.fire())
        })
    });

    let drive = random(N, 4);
    let mut psi = vec![0.0; N];
    for fast in [false, true] {
        let basis = tanh_basis(fast);
        let name = if fast { "tanh_basis_fast_1000" } else { "tanh_basis_libm_1000" };
        c.bench_function(name, |b| b.iter(|| basis.evaluate(&[], black_box(&drive), &mut psi)));
    }
    // The end of a step for the drive with one spike: its M column, the decay and Psi as
    // three passes (the trait's default) and as the fast tanh basis's one sweep.
    let basis = tanh_basis(true);
    let mut u = drive.clone();
    let decay = (-10.0f64 * 1e-4).exp();
    c.bench_function("spike_decay_tanh_separate_1000", |b| {
        b.iter(|| {
            u.copy_from_slice(&drive);
            basis.on_spike(black_box(7), &mut u);
            ebn_core::coding::decay(&mut u, decay);
            basis.evaluate(&[], &u, &mut psi);
        })
    });
    c.bench_function("spike_decay_tanh_one_sweep_1000", |b| {
        b.iter(|| {
            u.copy_from_slice(&drive);
            basis.sweep(black_box(&[7]), decay, &mut u, &mut psi);
        })
    });
    // The fast tanh's scalar loop at the compiler's preferred width (4 lanes on the Intel
    // AVX-512 servers, where tanh_basis_fast_1000 runs the explicit 8-lane form).
    let theta = tanh_basis(true).theta;
    c.bench_function("tanh_of_sums_portable_1000", |b| {
        b.iter(|| fast_tanh::tanh_of_sums_portable(black_box(&drive), &theta, &mut psi))
    });

    // eta per basis function: the raw rate is 1e-3.
    let mut rule = LocalRule::new(1e-3 * N as f64).unwrap();
    rule.bind(&RuleSetup { form: WeightForm::Factored, n: N, dim: 2, n_basis: N }).unwrap();
    let (e, fb, psi) = (random(2, 5), random(N, 6), random(N, 7));
    let (x, x_hat, r, v) = (random(2, 8), random(2, 9), random(N, 10), random(N, 11));
    let d = Mat::from_fn(2, N, |_, _| 0.01);
    let signal = LearningSignal {
        error: &e,
        feedback: &fb,
        psi: &psi,
        target: &x,
        readout: &x_hat,
        traces: &r,
        voltages: &v,
        spikes: &[],
        decoder: &d,
        t: 0.0,
        rate_scale: 1.0,
        dt: 1e-4,
    };
    let mut factored = SlowWeights::from_w(&Mat::from_fn(2, N, |_, _| 0.0));
    c.bench_function("learning_factored_1000", |b| b.iter(|| rule.update(&signal, black_box(&mut factored))));
    // The factored slow current's J = 2 dot products W_j . Psi: two passes over Psi, and
    // one (`coding::dots`, the same bits).
    let w = [random(N, 12), random(N, 13)];
    c.bench_function("slow_dots_separate_2x1000", |b| {
        b.iter(|| [ebn_core::coding::dot(&w[0], black_box(&psi)), ebn_core::coding::dot(&w[1], black_box(&psi))])
    });
    c.bench_function("slow_dots_one_pass_2x1000", |b| {
        b.iter(|| ebn_core::coding::dots([w[0].as_slice(), w[1].as_slice()], black_box(&psi)))
    });
    // The factored learning update of W^T's two columns (w += a Psi) and the next step's
    // W Psi: two axpys then the dots, and both in one pass (`coding::axpy_dots`, the same
    // bits; the network's fused learning pass). The scalars are 0, so every iteration sees
    // the same weights.
    let (mut w0, mut w1) = (w[0].clone(), w[1].clone());
    let zero = [0.0, 0.0];
    c.bench_function("axpys_then_dots_2x1000", |b| {
        b.iter(|| {
            for (col, a) in [(&mut w0, zero[0]), (&mut w1, zero[1])] {
                let a = black_box(a);
                for (x, p) in col.iter_mut().zip(&psi) {
                    *x += a * p;
                }
            }
            ebn_core::coding::dots([w0.as_slice(), w1.as_slice()], black_box(&psi))
        })
    });
    c.bench_function("axpy_dots_one_pass_2x1000", |b| {
        b.iter(|| ebn_core::coding::axpy_dots([&mut w0, &mut w1], black_box(zero), &psi))
    });
    // The traces' decay and the next step's W r (identity basis, no learning in the step):
    // the decay pass then the dots, and both in one pass (`coding::decay_dots`, the same
    // bits). The factor is 1, so every iteration sees the same traces.
    let mut traces = psi.clone();
    let flush = ebn_core::coding::FLUSH_TO_ZERO;
    c.bench_function("decay_then_dots_2x1000", |b| {
        b.iter(|| {
            ebn_core::coding::decay(&mut traces, black_box(1.0));
            ebn_core::coding::dots([w[0].as_slice(), w[1].as_slice()], black_box(&traces))
        })
    });
    c.bench_function("decay_dots_one_pass_2x1000", |b| {
        b.iter(|| ebn_core::coding::decay_dots([w[0].as_slice(), w[1].as_slice()], &mut traces, black_box(1.0), flush))
    });
    let mut dense = SlowWeights::Dense(Mat::from_fn(N, N, |_, _| 0.0));
    c.bench_function("learning_dense_1000x1000", |b| b.iter(|| rule.update(&signal, black_box(&mut dense))));

    // A whole training step with the tanh basis (fast tanh), as `cargo xtask bench`'s
    // train-tanh1000 case.
    let mut cfg = NetworkConfig::paper(N, 2);
    cfg.rule = RuleConfig::Local { eta: 10.0 }.into();
    let overrides = Overrides { basis: Some(Box::new(tanh_basis(true))), ..Default::default() };
    let mut net = Network::build_with(&cfg, SeedStreams::new(1), overrides).unwrap();
    let (cmd, target) = ([8.0, 0.0], [0.6, -0.3]);
    for _ in 0..2000 {
        net.step(&cmd, Some(&target));
    }
    c.bench_function("training_step_tanh_1000", |b| b.iter(|| black_box(net.step(&cmd, Some(&target)).len())));
}

criterion_group!(benches, components);
criterion_main!(benches);
