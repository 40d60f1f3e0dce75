//! Per-step cost of the network (criterion). The first target of the project: <= 1 us per
//! step at N = 100 (J = 2, fixed weights); a vectorised numpy loop takes ~11 us at N = 100,
//! ~17 us at 1000. `fixed_weight_step_generic_plan` steps the same network with the generic
//! plan (the components' trait methods only: how a fork's neuron model runs), to measure
//! what the fused kernels of the plan save.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ebn_core::{Mat, SeedStreams, SlowWeights, Stream, WeightForm};
use ebn_dynamics::LinearSystem;
use ebn_network::{Network, NetworkConfig, Overrides, linear_slow_weights};
use rand::RngExt;
use std::hint::black_box;

/// A fixed-weight network (closed-form oscillator weights, identity basis, feedback on,
/// factored slow weights) warmed up for 0.2 s so that it spikes at its working rate.
fn fixed_weight_network(n: usize, generic: bool) -> (Network, Vec<f64>) {
    let mut cfg = NetworkConfig::paper(n, 2);
    cfg.slow_weights = WeightForm::Factored;
    let overrides = Overrides { generic_plan: generic, ..Default::default() };
    let mut net = Network::build_with(&cfg, SeedStreams::new(1), overrides).unwrap();
    let w = linear_slow_weights(
        LinearSystem::damped_oscillator().matrix(),
        net.decoder(),
        cfg.lambda,
        WeightForm::Factored,
    )
    .unwrap();
    net.set_slow_weights(w).unwrap();
    let target = vec![0.6, -0.3];
    let c = vec![8.0, 0.0];
    for _ in 0..2000 {
        net.step(&c, Some(&target));
    }
    (net, target)
}

fn fixed_weights(c: &mut Criterion) {
    for (name, generic) in [("fixed_weight_step", false), ("fixed_weight_step_generic_plan", true)] {
        let mut group = c.benchmark_group(name);
        for n in [100usize, 1000, 4000] {
            let (mut net, target) = fixed_weight_network(n, generic);
            let cmd = [8.0, 0.0];
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| black_box(net.step(black_box(&cmd), Some(&target)).len()))
            });
        }
        group.finish();
    }
}

fn dense_slow_weights(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense_slow_step");
    for n in [100usize, 1000] {
        let mut cfg = NetworkConfig::paper(n, 2);
        cfg.slow_weights = WeightForm::Dense;
        let mut net = Network::build(&cfg, SeedStreams::new(1)).unwrap();
        let mut rng = SeedStreams::new(1).rng(Stream::Weights);
        let scale = 1.0 / n as f64;
        net.set_slow_weights(SlowWeights::Dense(Mat::from_fn(n, n, |_, _| scale * rng.random_range(-1.0..1.0))))
            .unwrap();
        let target = [0.6, -0.3];
        let cmd = [8.0, 0.0];
        for _ in 0..2000 {
            net.step(&cmd, Some(&target));
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(net.step(black_box(&cmd), Some(&target)).len()))
        });
    }
    group.finish();
}

/// A training step of the linear example (N = 64, identity basis, factored weights, the
/// paper's rule), as `cargo xtask bench`'s train-identity64 case.
fn training_step(c: &mut Criterion) {
    let mut cfg = NetworkConfig::paper(64, 2);
    cfg.rule = ebn_network::plasticity::RuleConfig::Local { eta: 10.0 }.into();
    let mut net = Network::build(&cfg, SeedStreams::new(1)).unwrap();
    let (cmd, target) = ([8.0, 0.0], [0.6, -0.3]);
    for _ in 0..2000 {
        net.step(&cmd, Some(&target));
    }
    c.bench_function("training_step_64", |b| b.iter(|| black_box(net.step(black_box(&cmd), Some(&target)).len())));
}

criterion_group!(benches, fixed_weights, dense_slow_weights, training_step);
criterion_main!(benches);
