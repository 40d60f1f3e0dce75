//! Why was the learned van der Pol cycle flattened in y? A diagnosis (docs/LEARNING.md,
//! docs/REPRODUCTION.md, "What the y shortfall was": the example before it took the reference
//! implementation's parameters had y 30 % low, the current one 0.5 %).
//!
//! Trains the file named by FILE (default examples/vanderpol.toml; the flattened example is
//! `git show dbca096:examples/vanderpol.toml`), then compares the learned vector field
//! f_hat = W Psi(x) - lambda x with the true f along the teacher's cycle, and runs the network
//! with the least-squares weights W* (lambda x + f(x) = W* Psi(x) fitted over the cycle and a
//! box around it) instead of the learned ones: if the least-squares network keeps the right
//! cycle, the basis and the network can represent the dynamics and the shortfall is in what
//! the learning rule converges to.
//!
//! `cargo run --release -p ebn-network --example vanderpol_diagnosis` (from the workspace
//! root); variants through the environment: TRIALS, NOANNEAL, MU0 (no spike costs), CMD
//! (command amplitude on y), K (feedback gain in training), ETA (learning rate), NB, GAIN
//! (basis).

use ebn_analysis::{TestAnalysis, analyse, learned_vector_field};
use ebn_core::{Integrator, Mat, SlowWeights};
use ebn_network::{Experiment, ExperimentConfig, TrainingState};
use faer::linalg::solvers::Solve;

fn main() {
    let file = std::env::var("FILE").unwrap_or_else(|_| "examples/vanderpol.toml".into());
    let text = std::fs::read_to_string(&file).unwrap();
    let mut config = ExperimentConfig::from_toml(&text).unwrap();
    let env = |name: &str| std::env::var(name).ok();
    let number = |name: &str| env(name).map(|v| v.parse::<f64>().expect("a number"));
    let basis = &mut config.network.basis;
    if let Some(nb) = number("NB") {
        basis.set("n_basis", nb as usize);
    }
    if let Some(gain) = number("GAIN") {
        basis.set("gain", gain);
    }
    let trials = number("TRIALS").map_or(200, |v| v as usize);
    let training = config.training.as_mut().expect("the example trains");
    training.trials = trials;
    if env("NOANNEAL").is_some() {
        training.anneal = None;
    }
    if let Some(v) = number("CMD") {
        training.command.as_mut().expect("the example has a training command").set("amplitude", [0.0, v]);
    }
    if env("MU0").is_some() {
        config.network.mu = 0.0;
        config.network.nu = 0.0;
    }
    config.network.feedback_gain = number("K").unwrap_or(config.network.feedback_gain);
    if let Some(eta) = number("ETA") {
        config.network.rule.set("eta", eta);
    }
    let mut exp = Experiment::build(&config).unwrap();
    let mut net = exp.initial_network().unwrap();
    let mut st = TrainingState::default();
    for _ in 0..trials {
        exp.train_trial(&mut net, &mut st).unwrap();
    }
    // Teacher cycle.
    let sys = ebn_network::builtins().target(config.target.as_ref().expect("a target"), "target").unwrap();
    let mut rk = ebn_dynamics::Rk4::default();
    let mut x = vec![1.0, 0.0];
    let dt = 1e-4;
    let mut pts = Vec::new();
    for k in 0..100_000 {
        rk.step(sys.as_ref(), &mut x, &[0.0, 0.0], dt);
        if k > 20_000 && k % 50 == 0 {
            pts.push(x.clone());
        }
    }
    let lam = config.network.lambda;
    let fh = learned_vector_field(net.basis(), net.slow_weights(), lam, &pts).unwrap();
    let mut err = [0.0f64; 2];
    let mut norm = [0.0f64; 2];
    let mut f = vec![0.0; 2];
    let mut worst_y = (0.0, 0.0, 0.0);
    for (p, h) in pts.iter().zip(&fh) {
        sys.vector_field(p, &mut f);
        for j in 0..2 {
            err[j] += (h[j] - f[j]).powi(2);
            norm[j] += f[j] * f[j];
        }
        if p[1].abs() > worst_y.0 {
            worst_y = (p[1].abs(), f[0], h[0]);
        }
    }
    for (k, (p, h)) in pts.iter().zip(&fh).enumerate() {
        if k % 200 == 0 {
            sys.vector_field(p, &mut f);
            println!("x {:6.3} y {:6.3}  f_x {:7.3} {:7.3}  f_y {:7.3} {:7.3}", p[0], p[1], f[0], h[0], f[1], h[1]);
        }
    }
    println!("learned f relative rms error: x {:.3} y {:.3}", (err[0] / norm[0]).sqrt(), (err[1] / norm[1]).sqrt());
    println!("at max |y| {:.3}: true f_x {:.3} learned {:.3}", worst_y.0, worst_y.1, worst_y.2);
    let y_cycle = [TestAnalysis::LimitCycle { component: 1, skip: 4.0 }];
    let rec = exp.run_test(&mut net, 0).unwrap();
    println!("learned net: {:?}", analyse(&y_cycle[0], &rec).unwrap());
    // Least squares W* over the cycle and a box around it.
    let nb = net.psi().len();
    let mut samples = pts.clone();
    for a in 0..40 {
        for b in 0..40 {
            samples.push(vec![-1.2 + 2.4 * a as f64 / 39.0, -1.2 + 2.4 * b as f64 / 39.0]);
        }
    }
    let mut psi = vec![0.0; nb];
    let a_mat = Mat::from_fn(samples.len(), nb, |_, _| 0.0);
    let mut a_mat = a_mat;
    let mut rhs = Mat::from_fn(samples.len(), 2, |_, _| 0.0);
    for (r, p) in samples.iter().enumerate() {
        net.basis().evaluate_at_state(p, &mut psi);
        for c in 0..nb {
            a_mat[(r, c)] = psi[c];
        }
        sys.vector_field(p, &mut f);
        for j in 0..2 {
            rhs[(r, j)] = lam * p[j] + f[j];
        }
    }
    // Ridge normal equations.
    let ata = a_mat.transpose() * &a_mat + Mat::<f64>::identity(nb, nb) * faer::Scale(1e-6);
    let atb = a_mat.transpose() * &rhs;
    let sol = ata.llt(faer::Side::Lower).unwrap().solve(&atb); // nb x 2 = W^T
    let w = Mat::from_fn(2, nb, |j, c| sol[(c, j)]);
    let fit = &a_mat * &sol - &rhs;
    println!("LS fit rel rms: {:.4}", (fit.norm_l2() / rhs.norm_l2()));
    net.set_slow_weights(SlowWeights::from_w(&w)).unwrap();
    let rec = exp.run_test(&mut net, 0).unwrap();
    println!("LS weights net: {:?}", analyse(&y_cycle[0], &rec).unwrap());
    let xc = [TestAnalysis::LimitCycle { component: 0, skip: 4.0 }];
    println!("LS weights net x: {:?}", analyse(&xc[0], &rec).unwrap());
}
