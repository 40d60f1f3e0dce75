//! Prints what the recipe measures on the Lorenz example (examples/lorenz.toml, the one system whose
//! settings were found by hand) and the recipe derived for the catalogue's Lorenz: the measurements
//! behind the recipe's constants (docs/CATALOGUE.md). `cargo run --release -p ebn-recipe --example calibrate`.
use ebn_network::core::Spec;
use ebn_recipe::recipe::{characteristic_period, expansion_rate};
fn main() {
    let reg = ebn_network::builtins();
    let lorenz = ebn_network::ExperimentConfig::from_toml(include_str!("../../../examples/lorenz.toml")).unwrap();
    let teacher = reg.target(lorenz.target.as_ref().unwrap(), "target").unwrap();
    let s = ebn_recipe::survey::survey(teacher.as_ref(), &[-0.22, -0.166, -0.045], &Default::default()).unwrap();
    let p = characteristic_period(teacher.as_ref(), &s.samples);
    let mut rates: Vec<f64> =
        s.samples.iter().step_by(5).map(|x| expansion_rate(teacher.as_ref(), x).unwrap()).collect();
    rates.sort_by(f64::total_cmp);
    let mut f = [0.0; 3];
    let mut sq = [0.0; 3];
    for x in &s.samples {
        teacher.vector_field(x, &mut f);
        for c in 0..3 {
            sq[c] += f[c] * f[c];
        }
    }
    let rms: Vec<f64> = sq.iter().map(|q| (q / s.samples.len() as f64).sqrt()).collect();
    let exp = ebn_network::Experiment::build(&lorenz).unwrap();
    let net = exp.initial_network().unwrap();
    let mut psi = vec![0.0; 500];
    let mut e = 0.0;
    for x in s.samples.iter().step_by(5) {
        net.basis().evaluate_at_state(x, &mut psi);
        e += psi.iter().map(|p| p * p).sum::<f64>();
    }
    e /= s.samples.iter().step_by(5).count() as f64;
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    for x in &s.samples {
        for c in 0..3 {
            lo[c] = lo[c].min(x[c]);
            hi[c] = hi[c].max(x[c]);
        }
    }
    println!(
        "example: period {p:.4} s, expansion p50 {:.2} p95 {:.2} max {:.2}, rms speed {rms:?}, energy {e:.1}, range {lo:?} {hi:?}",
        rates[rates.len() / 2],
        rates[rates.len() * 95 / 100],
        rates[rates.len() - 1]
    );
    let fitted = ebn_recipe::fit(&Spec::new("catalogue").with("name", "lorenz"), reg, &Default::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fitted.recipe).unwrap());
}
