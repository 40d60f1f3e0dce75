//! The benchmark's verdict applied to each teacher against itself (no training): the survey
//! cut into 190 s windows, each compared with the whole. `cargo run --release -p ebn-recipe
//! --example teacher_self`.
use ebn_recipe::harness::{systems, teacher_self_check};
fn main() {
    for s in systems() {
        let f = ebn_recipe::fit(&s.spec, ebn_network::builtins(), &Default::default()).unwrap();
        let t = teacher_self_check(&f.attractor, f.sample_interval, 190.0).unwrap();
        println!(
            "{:16} windows {} kept {} worst: mean {:.3} spread {:.3} frequency {:.3}",
            s.name, t.windows, t.kept, t.mean_shift, t.spread_error, t.frequency_error
        );
    }
}
