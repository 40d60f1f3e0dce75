//! Cost of a whole training step under each learning rule (criterion), on the networks of
//! the `rules` figure: the linear example (N = 64, identity basis, N_b = 64) and the van der
//! Pol example (N = 100, state-space tanh basis, N_b = 300), both in factored form. The
//! `rules` table in docs/RULES.md quotes these numbers.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ebn_network::{Experiment, ExperimentConfig, Spec};
use std::hint::black_box;

const EXAMPLES: [(&str, &str); 2] = [
    ("linear", include_str!("../../../examples/linear.toml")),
    ("vanderpol", include_str!("../../../examples/vanderpol.toml")),
];

/// The rule specs of the `rules` figure (parameters of the same magnitude; the cost does
/// not depend on their values, only on the kind and N_b).
fn rules(eta: f64, filter: f64) -> Vec<(&'static str, Spec)> {
    vec![
        ("local", Spec::new("local").with("eta", eta)),
        ("local_sigma", Spec::new("local_sigma").with("eta", eta).with("sigma", 1e-3)),
        ("local_e_mod", Spec::new("local_e_mod").with("eta", eta).with("sigma", 1e-2)),
        ("local_dead_zone", Spec::new("local_dead_zone").with("eta", eta).with("threshold", 1e-3)),
        ("local_projection", Spec::new("local_projection").with("eta", eta).with("bound", 1e3)),
        ("rls", Spec::new("rls").with("gamma", 1.0).with("alpha", 0.1).with("filter", filter)),
    ]
}

fn training_steps(c: &mut Criterion) {
    for (name, toml) in EXAMPLES {
        let base = ExperimentConfig::from_toml(toml).unwrap();
        let eta = base.network.rule.params.get("eta").and_then(|v| v.as_f64()).unwrap();
        let filter = base.network.lambda + base.network.feedback_gain;
        let mut group = c.benchmark_group(format!("training_step_{name}"));
        for (kind, spec) in rules(eta, filter) {
            let mut config = base.clone();
            config.network.rule = spec;
            let exp = Experiment::build(&config).unwrap();
            let mut net = exp.initial_network().unwrap();
            let (cmd, target) = ([0.0, 2.0], [0.5, -0.3]);
            for _ in 0..2000 {
                net.step(&cmd, Some(&target));
            }
            group.bench_with_input(BenchmarkId::from_parameter(kind), &kind, |b, _| {
                b.iter(|| black_box(net.step(black_box(&cmd), Some(&target)).len()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, training_steps);
criterion_main!(benches);
