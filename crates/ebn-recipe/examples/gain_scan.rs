//! For each system and basis gain: the ridge-regression field error of the recipe's features
//! (ridge a fraction of the largest eigenvalue, as a gradient rule learns in finite time).
use ebn_recipe::diagnose::{Ridge, ridge_field_error};
use ebn_recipe::harness::systems;
fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    for s in systems().into_iter().filter(|s| names.is_empty() || names.iter().any(|n| n == s.name)) {
        let mut line = format!("{:16}", s.name);
        for gain in [0.5, 1.0, 2.0, 4.0] {
            let o = ebn_recipe::RecipeOptions { basis_gain: gain, ..Default::default() };
            let f = ebn_recipe::fit(&s.spec, ebn_network::builtins(), &o).unwrap();
            let exp = ebn_network::Experiment::build(&f.config).unwrap();
            let net = exp.initial_network().unwrap();
            let pts: Vec<&Vec<f64>> = f.attractor.iter().step_by((f.attractor.len() / 2000).max(1)).collect();
            let e: Vec<String> = [1e-4, 1e-5, 1e-6]
                .iter()
                .map(|r| {
                    format!(
                        "{:.3}",
                        ridge_field_error(
                            exp.teacher().unwrap(),
                            net.basis(),
                            10.0,
                            &pts,
                            Ridge::OfLargestEigenvalue(*r)
                        )
                        .unwrap_or(f64::NAN)
                    )
                })
                .collect();
            line += &format!(" | g{gain}: {}", e.join(" "));
        }
        println!("{line}");
    }
}
