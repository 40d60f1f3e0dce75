//! `cargo xtask bench`: this simulator against a vectorised numpy loop of the same algorithm
//! (`bench/numpy_ebn.py`) and against Brian2 in C++ standalone mode (`bench/brian2_ebn.py`),
//! case by case, side by side on the same machine.
//!
//! Each case runs in its own child process (`cargo xtask bench-case`), so that its peak
//! memory (VmHWM) is its own. The child builds the network, warms it up, writes its complete
//! state and weights to a directory (raw little-endian f64 plus `meta.json`), then times
//! `steps` steps of the training loop, one network step (MODEL.md §8) each under a constant
//! command, with the teacher (the §9 oscillator, RK4) computed beforehand on every side.
//! numpy and Brian2 then start from the same state, run the same steps and report their time
//! and their spikes; the spike sequences are compared with this simulator's (identical until
//! rounding differences first change a spike choice). Brian2's time is its simulation loop
//! (the binary's own timer); its code generation and compile time is reported beside it.
//!
//! Output: one JSON line per case, with wall seconds per simulated second of each side, the
//! ratios, peak memory and the length of the common spike prefixes.

use crate::output::write_atomic;
use anyhow::{Context, Result, bail};
use ebn_network::basis::TanhBasis;
use ebn_network::core::{Integrator, Mat, SeedStreams, SlowWeights, Stream, TargetSystem, WeightForm};
use ebn_network::dynamics::{LinearSystem, Rk4};
use ebn_network::neurons::{EbnMultiSpike, EbnNeuron, Refractory, RefractoryState, Reset, SynapticLif, SynapticState};
use ebn_network::plasticity::RuleConfig;
use ebn_network::{Network, NetworkConfig, Overrides, Spec, linear_slow_weights};
use rand::RngExt as _;
use rand_distr::StandardNormal;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A benchmark case: the network and how long to time it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Case {
    /// Fixed closed-form weights (no learning), identity basis, N = 100.
    Fixed100,
    /// The same, N = 1000.
    Fixed1000,
    /// The same, N = 4000.
    Fixed4000,
    /// Training, identity basis, factored weights, N = 64 (MODEL.md §9).
    TrainIdentity64,
    /// Training, random tanh basis N_b = 1000, factored weights, N = 1000.
    TrainTanh1000,
    /// Training, identity basis (N_b = N), dense synapse-level weights, N = 1000.
    TrainDense1000,
    /// Fixed weights, N = 4000, the fire-update-repeat policy (`ebn_multi_spike`, at most 16
    /// spikes per step, the project's choice in docs/NEURONS.md).
    Multi4000,
    /// Fixed weights, N = 1000, the `refractory` neuron (tau_ref = 10 ms: long enough to
    /// bind in this network; at 2 ms it almost never blocks a choice here, so numpy with
    /// 3 ms fired the same spikes and the agreement check could not see the clock).
    Refractory1000,
    /// Fixed weights, N = 1000, `synaptic_lif` (tau_s = 2 ms, hard reset, every neuron above
    /// threshold fires: at most N spikes per step).
    Synaptic1000,
    /// Training as `train-identity64`, with the sigma-modification (sigma = 1 /s).
    TrainSigma64,
    /// The same with the e-modification (sigma = 1 /(s x)).
    TrainEMod64,
    /// The same with the dead zone (e_0 = 0.02).
    TrainDeadZone64,
    /// The same with parameter projection (bound 10^4: it never binds here, so the cost is
    /// the norm of W in every step; where it binds, faer's norm and numpy's round
    /// differently, and the spike trains part at the first binding step).
    TrainProjection64,
    /// The same with recursive least squares / FORCE (gamma = 1, alpha = 0.1, the regressor
    /// filtered at lambda + K = 15 /s, as examples/linear_rls.toml): not local, N_b^2 per step.
    TrainRls64,
    /// Factored training, identity basis (N_b = N), N = 1000 ... 100000: the scaling in N.
    Scale1000,
    Scale3000,
    Scale10000,
    Scale30000,
    Scale100000,
}

impl Case {
    pub const ALL: [Case; 19] = [
        Case::Fixed100,
        Case::Fixed1000,
        Case::Fixed4000,
        Case::TrainIdentity64,
        Case::TrainTanh1000,
        Case::TrainDense1000,
        Case::Multi4000,
        Case::Refractory1000,
        Case::Synaptic1000,
        Case::TrainSigma64,
        Case::TrainEMod64,
        Case::TrainDeadZone64,
        Case::TrainProjection64,
        Case::TrainRls64,
        Case::Scale1000,
        Case::Scale3000,
        Case::Scale10000,
        Case::Scale30000,
        Case::Scale100000,
    ];

    /// The case's name on the command line and in the output.
    fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }

    fn n(self) -> usize {
        match self {
            Case::Fixed100 => 100,
            Case::TrainIdentity64
            | Case::TrainSigma64
            | Case::TrainEMod64
            | Case::TrainDeadZone64
            | Case::TrainProjection64
            | Case::TrainRls64 => 64,
            Case::Fixed1000
            | Case::TrainTanh1000
            | Case::TrainDense1000
            | Case::Refractory1000
            | Case::Synaptic1000
            | Case::Scale1000 => 1000,
            Case::Scale3000 => 3000,
            Case::Fixed4000 | Case::Multi4000 => 4000,
            Case::Scale10000 => 10_000,
            Case::Scale30000 => 30_000,
            Case::Scale100000 => 100_000,
        }
    }

    /// Timed steps (0.1 ms each): about a second of wall time on either side.
    fn steps(self) -> usize {
        match self {
            Case::Fixed100
            | Case::TrainIdentity64
            | Case::TrainSigma64
            | Case::TrainEMod64
            | Case::TrainDeadZone64
            | Case::TrainProjection64
            | Case::TrainRls64 => 20_000,
            Case::Fixed1000
            | Case::Fixed4000
            | Case::TrainTanh1000
            | Case::Multi4000
            | Case::Refractory1000
            | Case::Synaptic1000
            | Case::Scale1000
            | Case::Scale3000 => 10_000,
            Case::TrainDense1000 => 2_000,
            Case::Scale10000 => 4_000,
            Case::Scale30000 => 2_000,
            Case::Scale100000 => 1_000,
        }
    }

    /// Whether numpy runs this case too (the largest scaling points would take minutes).
    fn with_numpy(self) -> bool {
        !matches!(self, Case::Scale30000 | Case::Scale100000)
    }

    /// Whether Brian2 runs this case too: the EBN neuron and the paper's rule only
    /// (bench/brian2_ebn.py has no counterpart of the other neuron models and rules), and not
    /// the scaling points (its all-to-all fast synapses are N^2: 10^8 at N = 10^4).
    fn with_brian2(self) -> bool {
        matches!(
            self,
            Case::Fixed100
                | Case::Fixed1000
                | Case::Fixed4000
                | Case::TrainIdentity64
                | Case::TrainTanh1000
                | Case::TrainDense1000
        )
    }

    /// Whether the slow weights are the closed-form ones, fixed (no learning).
    fn fixed(self) -> bool {
        matches!(
            self,
            Case::Fixed100
                | Case::Fixed1000
                | Case::Fixed4000
                | Case::Multi4000
                | Case::Refractory1000
                | Case::Synaptic1000
        )
    }

    /// The neuron model (MODEL.md §9's EBN neuron unless named).
    fn neuron(self) -> Spec {
        match self {
            Case::Multi4000 => Spec::of("ebn_multi_spike", &EbnMultiSpike { lambda_v: 10.0, max_spikes: 16 }),
            Case::Refractory1000 => Spec::of("refractory", &Refractory { lambda_v: 10.0, tau_ref: 1e-2 }),
            Case::Synaptic1000 => Spec::of(
                "synaptic_lif",
                &SynapticLif { lambda_v: 10.0, tau_s: 2e-3, reset: Reset::Hard, max_spikes: self.n() },
            ),
            _ => Spec::of("ebn", &EbnNeuron { lambda_v: 10.0 }),
        }
    }

    /// The learning rule (none for the fixed-weight cases).
    fn rule(self) -> RuleConfig {
        let eta = 10.0;
        match self {
            _ if self.fixed() => RuleConfig::None,
            Case::TrainSigma64 => RuleConfig::LocalSigma { eta, sigma: 1.0 },
            Case::TrainEMod64 => RuleConfig::LocalEMod { eta, sigma: 1.0 },
            Case::TrainDeadZone64 => RuleConfig::LocalDeadZone { eta, threshold: 0.02 },
            Case::TrainProjection64 => RuleConfig::LocalProjection { eta, bound: 1e4 },
            Case::TrainRls64 => RuleConfig::Rls { gamma: 1.0, alpha: 0.1, forgetting: 0.0, every: 1, filter: 15.0 },
            _ => RuleConfig::Local { eta },
        }
    }
}

/// How `bench` runs.
pub struct Options {
    /// The interpreter for numpy_ebn.py and brian2_ebn.py.
    pub python: String,
    /// Run Brian2 where it is installed.
    pub brian2: bool,
    /// Fail unless every side fired the same spikes (see the `--check-agreement` flag).
    pub check_agreement: bool,
    /// Timed runs of this code and of numpy per case (>= 1; see the `--repeat` flag).
    pub repeat: usize,
}

/// Constant command of every case (units of x per second; drives v only).
const COMMAND: [f64; 2] = [8.0, 0.0];
/// Warm-up before the timed steps (steps).
const WARMUP: usize = 2_000;
/// Spikes compared between the two implementations.
const COMPARED_SPIKES: usize = 2_000;

/// N_b of the tanh case.
const TANH_NB: usize = 1000;

/// The tanh case's basis, Psi = tanh(M r + theta): M_ij ~ N(0, 0.05^2) (M r of order one at
/// the network's working rates), theta ~ U(-1, 1), from a fixed stream.
fn tanh_basis(n: usize) -> TanhBasis {
    let mut rng = SeedStreams::new(1).rng(Stream::Basis);
    let m = Mat::from_fn(TANH_NB, n, |_, _| 0.05 * rng.sample::<f64, _>(StandardNormal));
    let theta = (0..TANH_NB).map(|_| rng.random_range(-1.0..1.0)).collect();
    TanhBasis { m, theta, encoders: None, fast: true }
}

/// The network of a case, built from a fixed seed.
fn network(case: Case) -> Result<Network> {
    let n = case.n();
    let mut cfg = NetworkConfig::paper(n, 2);
    cfg.neuron = case.neuron();
    cfg.rule = case.rule().into();
    let seeds = SeedStreams::new(1);
    let mut overrides = Overrides::default();
    match case {
        Case::TrainTanh1000 => overrides.basis = Some(Box::new(tanh_basis(n))),
        Case::TrainDense1000 => cfg.slow_weights = WeightForm::Dense,
        _ => {}
    }
    let mut net = Network::build_with(&cfg, seeds, overrides)?;
    if case.fixed() {
        let a = LinearSystem::damped_oscillator();
        net.set_slow_weights(linear_slow_weights(a.matrix(), net.decoder(), cfg.lambda, WeightForm::Factored)?)?;
    }
    Ok(net)
}

/// Raw little-endian f64.
fn write_f64(path: &Path, values: &[f64]) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_atomic(path, &bytes)
}

fn col_major(m: &Mat<f64>) -> Vec<f64> {
    (0..m.ncols()).flat_map(|c| m.col_as_slice(c).to_vec()).collect()
}

/// Writes the network's state and weights, the teacher state and the case's constants.
fn export(net: &Network, x: &[f64], dir: &Path, case: Case) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cfg = net.config();
    let d = net.decoder();
    write_f64(&dir.join("D.bin"), &col_major(d))?;
    write_f64(&dir.join("T.bin"), net.thresholds())?;
    write_f64(&dir.join("V.bin"), net.voltages())?;
    write_f64(&dir.join("r.bin"), net.traces())?;
    write_f64(&dir.join("x_hat.bin"), net.readout())?;
    write_f64(&dir.join("psi.bin"), net.psi())?;
    write_f64(&dir.join("e.bin"), net.error())?;
    write_f64(&dir.join("x.bin"), x)?;
    let (form, nb) = match net.slow_weights() {
        SlowWeights::Factored(wt) => {
            write_f64(&dir.join("Wt.bin"), &col_major(wt))?;
            ("factored", wt.nrows())
        }
        SlowWeights::Dense(omega) => {
            write_f64(&dir.join("Omega.bin"), &col_major(omega))?;
            ("dense", omega.ncols())
        }
    };
    let tanh = case == Case::TrainTanh1000;
    if tanh {
        let basis = tanh_basis(cfg.n);
        write_f64(&dir.join("M.bin"), &col_major(&basis.m))?;
        write_f64(&dir.join("theta.bin"), &basis.theta)?;
        write_f64(&dir.join("drive.bin"), net.basis_drive())?;
    }
    // The neuron model's own state beyond V.
    let state = net.neuron_state().0.as_any();
    if let Some(s) = state.downcast_ref::<RefractoryState>() {
        write_f64(&dir.join("left.bin"), &s.left)?;
    } else if let Some(s) = state.downcast_ref::<SynapticState>() {
        write_f64(&dir.join("i_s.bin"), &s.i_s)?;
    }
    // The rule: its raw rate (per synapse, eta / N_b) and its state (RLS: phase, Psi_f, P).
    write_f64(&dir.join("rule_state.bin"), &net.rule_state())?;
    let rule = case.rule();
    let eta_raw = match rule {
        RuleConfig::Local { eta }
        | RuleConfig::LocalSigma { eta, .. }
        | RuleConfig::LocalEMod { eta, .. }
        | RuleConfig::LocalDeadZone { eta, .. }
        | RuleConfig::LocalProjection { eta, .. } => eta / nb as f64,
        _ => 0.0,
    };
    let lambda_v =
        cfg.neuron.params.get("lambda_v").and_then(Value::as_f64).context("every bench neuron has lambda_v")?;
    let meta = json!({
        "case": case.name(), "n": cfg.n, "j": cfg.dim, "nb": nb, "dt": cfg.dt, "lambda": cfg.lambda,
        "lambda_v": lambda_v, "mu": cfg.mu, "k": cfg.feedback_gain, "eta_raw": eta_raw,
        "form": form, "basis": if tanh { "tanh" } else { "identity" }, "learning": !case.fixed(),
        "neuron": cfg.neuron, "rule": Spec::from(rule),
        "command": COMMAND, "a": LinearSystem::damped_oscillator().matrix(),
    });
    write_atomic(&dir.join("meta.json"), serde_json::to_string_pretty(&meta)?.as_bytes())
}

/// Microseconds for one read-modify-write pass over `len` f64 (median of 51 passes after a
/// warm-up): the memory-bandwidth bound of a step that updates a matrix of that size.
fn rmw_pass_us(len: usize) -> f64 {
    let mut a = vec![1.0f64; len];
    let mut times = Vec::with_capacity(51);
    for k in 0..61 {
        let start = Instant::now();
        for v in a.iter_mut() {
            *v += 1e-12;
        }
        std::hint::black_box(&mut a);
        if k >= 10 {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Peak resident memory of this process (kB), from /proc (Linux); 0 elsewhere.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Timed runs of this code inside one child, each from a network built and warmed up anew
/// (the same state: the same seed): the child reports their median, so that a run of a few
/// milliseconds (N = 64: 20 000 steps in ~3 ms) is not one sample of whatever else the
/// machine did in those milliseconds.
const INNER_RUNS: usize = 3;

/// The child process: build, warm up, export to `dir`, time the steps ([`INNER_RUNS`] times,
/// each from a new build of the same network); prints one JSON line.
pub fn run_case(case: Case, dir: &Path) -> Result<()> {
    let teacher = LinearSystem::damped_oscillator();
    let steps = case.steps();
    let mut walls = Vec::with_capacity(INNER_RUNS);
    let mut first: Option<(Vec<usize>, usize, usize)> = None;
    let (mut bound_us, mut dt) = (None, f64::NAN);
    for run in 0..INNER_RUNS {
        let mut net = network(case)?;
        let mut rk4 = Rk4::default();
        dt = net.config().dt;
        let mut x = vec![0.0; teacher.dim()];
        for _ in 0..WARMUP {
            rk4.step(&teacher, &mut x, &COMMAND, dt);
            net.step(&COMMAND, Some(&x));
        }
        if run == 0 {
            export(&net, &x, dir, case)?;
        }
        // The teacher does not depend on the network: its trajectory is computed before the
        // timed loop, as on the numpy side.
        let xs: Vec<Vec<f64>> = (0..steps)
            .map(|_| {
                rk4.step(&teacher, &mut x, &COMMAND, dt);
                x.clone()
            })
            .collect();
        let mut spikes = Vec::with_capacity(COMPARED_SPIKES);
        let (mut count, mut several) = (0usize, 0usize);
        let start = Instant::now();
        // As the experiment runner steps (ebn_network::simulate): each step's last fast-weight
        // column is delivered in the next step's pass; the handle's drop delivers the last one.
        let mut stepper = net.deferred();
        for x in &xs {
            let fired = stepper.step(&COMMAND, Some(x));
            several += usize::from(fired.len() > 1);
            for &k in fired {
                count += 1;
                if spikes.len() < COMPARED_SPIKES {
                    spikes.push(k);
                }
            }
        }
        drop(stepper);
        walls.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(net.readout().iter().all(|v| v.is_finite()), "the benchmark network diverged");
        match &first {
            None => first = Some((spikes, count, several)),
            Some(f) => anyhow::ensure!(
                f.0 == spikes && f.1 == count,
                "timed run {} fired other spikes than run 1 from the same state",
                run + 1
            ),
        }
        // For the dense case, the machine's bound: one read-modify-write pass over an array
        // of Omega_s's size, the least any step that updates Omega_s must do.
        if run == 0 {
            bound_us = match net.slow_weights() {
                SlowWeights::Dense(omega) => Some(rmw_pass_us(omega.nrows() * omega.ncols())),
                SlowWeights::Factored(_) => None,
            };
        }
    }
    let (spikes, count, several) = first.context("no timed run")?;
    let mut sorted = walls.clone();
    sorted.sort_by(f64::total_cmp);
    let wall = sorted[(sorted.len() - 1) / 2];
    let out = json!({
        "rmw_pass_us": bound_us,
        "wall_per_sim_s": wall / (steps as f64 * dt), "us_per_step": wall / steps as f64 * 1e6,
        "us_per_step_inner": walls.iter().map(|w| w / steps as f64 * 1e6).collect::<Vec<_>>(),
        "steps": steps, "spikes": count, "steps_with_several_spikes": several, "first_spikes": spikes,
        "peak_rss_kb": peak_rss_kb(),
    });
    ebn_cli::outln!("{out}");
    Ok(())
}

/// Where the Python implementations live.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench").join(name)
}

/// Whether `python` runs and imports `module`; the reason if not.
fn importable(python: &str, module: &str, install: &str) -> std::result::Result<(), String> {
    match Command::new(python).args(["-c", &format!("import {module}")]).output() {
        Err(e) => Err(format!("{python} cannot be run ({e})")),
        Ok(o) if !o.status.success() => Err(format!("{python} has no {module} (pip install {install})")),
        Ok(_) => Ok(()),
    }
}

/// Whether Brian2's C++ standalone mode can run: the module and a C++ compiler.
fn brian2_available(python: &str) -> std::result::Result<(), String> {
    importable(python, "brian2", "'numpy<2.4' 'brian2==2.9.0'")?;
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    match Command::new(&cxx).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(format!("no C++ compiler ({cxx} --version fails; Brian2's standalone mode needs one)")),
    }
}

/// Runs one of the Python implementations on a case's directory; its JSON line.
fn run_python(python: &str, name: &str, dir: &Path, case: Case) -> Result<Value> {
    let out = Command::new(python)
        .arg(script(name))
        .arg(dir)
        .arg(case.steps().to_string())
        .output()
        .with_context(|| format!("running {name}"))?;
    if !out.status.success() {
        bail!("{name}, case {}: {}", case.name(), String::from_utf8_lossy(&out.stderr).trim());
    }
    json_line(&out.stdout, name)
}

/// The run of median time among runs of one side from the same state, with every run's time
/// per step added (`us_per_step_runs`, in the order run) and the largest peak memory. The
/// runs must have fired the same spikes: a side whose runs differ is not deterministic, and
/// that is an error, not a timing.
fn median_run(runs: Vec<Value>) -> Result<Value> {
    let first = runs.first().context("no run")?;
    for (i, run) in runs.iter().enumerate().skip(1) {
        if run["spikes"] != first["spikes"] || run["first_spikes"] != first["first_spikes"] {
            bail!(
                "run {} fired other spikes than run 1 from the same state ({} against {})",
                i + 1,
                run["spikes"],
                first["spikes"]
            );
        }
    }
    let time = |r: &Value| r["wall_per_sim_s"].as_f64().unwrap_or(f64::NAN);
    let times: Vec<Value> = runs.iter().map(|r| r["us_per_step"].clone()).collect();
    let peak = runs.iter().filter_map(|r| r["peak_rss_kb"].as_f64()).fold(0.0, f64::max);
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| time(&runs[a]).total_cmp(&time(&runs[b])));
    let mut median = runs[order[(runs.len() - 1) / 2]].clone();
    let obj = median.as_object_mut().context("a run's line is a JSON object")?;
    obj.insert("us_per_step_runs".into(), Value::Array(times));
    obj.insert("peak_rss_kb".into(), json!(peak));
    Ok(median)
}

/// The length of the common prefix of two spike lists, and how many were compared.
fn common_prefix(a: &Value, b: &Value) -> (usize, usize) {
    match (a.as_array(), b.as_array()) {
        (Some(a), Some(b)) => (a.iter().zip(b).take_while(|(x, y)| x == y).count(), a.len().min(b.len())),
        _ => (0, 0),
    }
}

/// Adds the columns of a Python side (`numpy` or `brian2`) to a case's line; a
/// disagreement, if any, for `--check-agreement`.
fn add_side(line: &mut Value, rust: &Value, side: &str, py: &Value) -> Option<String> {
    let (common, compared) = common_prefix(&rust["first_spikes"], &py["first_spikes"]);
    let ratio = py["wall_per_sim_s"].as_f64().unwrap_or(f64::NAN) / rust["wall_per_sim_s"].as_f64().unwrap_or(f64::NAN);
    let obj = line.as_object_mut().expect("an object");
    obj.insert(format!("{side}_wall_per_sim_s"), py["wall_per_sim_s"].clone());
    obj.insert(format!("{side}_us_per_step"), py["us_per_step"].clone());
    obj.insert(format!("{side}_us_per_step_runs"), py["us_per_step_runs"].clone());
    obj.insert(format!("{side}_peak_rss_mb"), json!(py["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0));
    obj.insert(format!("{side}_spikes"), py["spikes"].clone());
    obj.insert(format!("speedup_vs_{side}"), json!(ratio));
    obj.insert(format!("{side}_common_spike_prefix"), json!(common));
    obj.insert(format!("{side}_compared_spikes"), json!(compared));
    for key in ["compile_s", "binary_wall_s", "max_spikes_per_step"] {
        if let Some(v) = py.get(key) {
            obj.insert(format!("{side}_{key}"), v.clone());
        }
    }
    let same_count = py["spikes"] == rust["spikes"];
    (common < compared || !same_count || compared == 0).then(|| {
        format!(
            "{side}: {} spikes against {}, the first {common} of {compared} compared identical",
            py["spikes"], rust["spikes"]
        )
    })
}

fn json_line(bytes: &[u8], who: &str) -> Result<Value> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("{who} printed no result"))?;
    Ok(serde_json::from_str(line)?)
}

/// Runs every selected case (all if empty) and prints one JSON line per case; with `out`,
/// also writes them to `out/bench.jsonl`, and the scaling cases to `out/scaling.csv` and
/// `out/scaling.png` (cost per simulated second against N, log-log, with the fitted exponent).
pub fn bench(cases: &[Case], opts: &Options, out: Option<&Path>) -> Result<()> {
    let cases: Vec<Case> = if cases.is_empty() { Case::ALL.to_vec() } else { cases.to_vec() };
    let python = opts.python.as_str();
    let numpy = importable(python, "numpy", "numpy");
    if let Err(why) = &numpy {
        eprintln!("numpy comparison skipped: {why}");
    }
    let brian2 =
        if opts.brian2 { numpy.clone().and_then(|()| brian2_available(python)) } else { Err("--no-brian2".into()) };
    if let Err(why) = &brian2 {
        eprintln!("Brian2 comparison skipped: {why}");
    }
    if opts.check_agreement && numpy.is_err() && brian2.is_err() {
        bail!("--check-agreement: neither numpy nor Brian2 can run, so there is nothing to compare");
    }
    let exe = std::env::current_exe()?;
    let tmp = std::env::temp_dir().join(format!("ebn-bench-{}", std::process::id()));
    let mut lines = Vec::new();
    let mut disagreements = Vec::new();
    for case in cases {
        let dir = tmp.join(case.name());
        let with_numpy = numpy.is_ok() && case.with_numpy();
        // The runs alternate (this code, numpy, this code, ...), so that what else the
        // machine does at the time weighs on both sides alike. Every Rust run builds the same
        // network from the same seed and exports the same state; numpy reads that state.
        let (mut rust_runs, mut numpy_runs) = (Vec::new(), Vec::new());
        for _ in 0..opts.repeat.max(1) {
            let out = Command::new(&exe)
                .args(["bench-case", &case.name(), "--dir"])
                .arg(&dir)
                .output()
                .context("running the benchmark child")?;
            if !out.status.success() {
                bail!("case {}: {}", case.name(), String::from_utf8_lossy(&out.stderr).trim());
            }
            rust_runs.push(json_line(&out.stdout, "the Rust case")?);
            if with_numpy {
                numpy_runs.push(run_python(python, "numpy_ebn.py", &dir, case)?);
            }
        }
        let rust = median_run(rust_runs).with_context(|| format!("case {}: this code", case.name()))?;
        let mut line = json!({
            "case": case.name(), "n": case.n(), "steps": case.steps(),
            "rust_wall_per_sim_s": rust["wall_per_sim_s"], "rust_us_per_step": rust["us_per_step"],
            "rust_peak_rss_mb": rust["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0,
            "rust_spikes": rust["spikes"], "rust_steps_with_several_spikes": rust["steps_with_several_spikes"],
            "rust_us_per_step_runs": rust["us_per_step_runs"],
        });
        if let Some(bound) = rust["rmw_pass_us"].as_f64() {
            let obj = line.as_object_mut().expect("an object");
            obj.insert("rmw_pass_us".into(), json!(bound));
            obj.insert("rust_over_rmw_bound".into(), json!(rust["us_per_step"].as_f64().unwrap_or(f64::NAN) / bound));
        }
        let mut sides = Vec::new();
        if with_numpy {
            sides.push(("numpy", median_run(numpy_runs).with_context(|| format!("case {}: numpy", case.name()))));
        }
        if brian2.is_ok() && case.with_brian2() {
            sides.push(("brian2", run_python(python, "brian2_ebn.py", &dir, case).and_then(|r| median_run(vec![r]))));
        }
        for (side, py) in sides {
            let py = py?;
            if let Some(why) = add_side(&mut line, &rust, side, &py) {
                disagreements.push(format!("{}: {why}", case.name()));
            }
        }
        ebn_cli::outln!("{line}");
        lines.push(line);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let scaling: Vec<(f64, f64, Option<f64>)> = lines
        .iter()
        .filter(|l| l["case"].as_str().is_some_and(|c| c.starts_with("scale")))
        .filter_map(|l| {
            Some((l["n"].as_f64()?, l["rust_wall_per_sim_s"].as_f64()?, l["numpy_wall_per_sim_s"].as_f64()))
        })
        .collect();
    let exponent = fitted_exponent(&scaling.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>());
    if let Some(e) = exponent {
        ebn_cli::outln!("{}", json!({ "scaling_exponent_rust": e, "points": scaling.len() }));
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)?;
        let jsonl: String = lines.iter().map(|l| format!("{l}\n")).collect();
        write_atomic(&dir.join("bench.jsonl"), jsonl.as_bytes())?;
        write_atomic(&dir.join("bench.md"), markdown_table(&lines).as_bytes())?;
        if scaling.len() >= 2 {
            let mut csv = String::from("n,rust_wall_per_sim_s,numpy_wall_per_sim_s\n");
            for (n, r, p) in &scaling {
                csv.push_str(&format!("{n},{r},{}\n", p.map_or(String::new(), |v| v.to_string())));
            }
            write_atomic(&dir.join("scaling.csv"), csv.as_bytes())?;
            scaling_plot(&scaling, exponent.unwrap_or(f64::NAN), dir)?;
        }
    }
    if opts.check_agreement && !disagreements.is_empty() {
        bail!("the implementations disagree:\n  {}", disagreements.join("\n  "));
    }
    Ok(())
}

/// The cases as a Markdown table (µs per step: the median and, in brackets, the range of the
/// runs; the ratios are of the medians; spikes of each side, with how many of the compared
/// first spikes agree index for index), for docs/PERFORMANCE.md.
fn markdown_table(lines: &[Value]) -> String {
    let us = |l: &Value, side: &str| -> String {
        let Some(median) = l[format!("{side}_us_per_step")].as_f64() else { return "-".into() };
        let runs: Vec<f64> = l[format!("{side}_us_per_step_runs")]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let (lo, hi) = runs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        if runs.len() > 1 { format!("{} ({}-{})", sig(median), sig(lo), sig(hi)) } else { sig(median) }
    };
    let ratio =
        |l: &Value, side: &str| l[format!("speedup_vs_{side}")].as_f64().map_or("-".into(), |r| format!("{r:.1}x"));
    let spikes = |l: &Value, side: &str| match (
        l[format!("{side}_spikes")].as_u64(),
        l[format!("{side}_common_spike_prefix")].as_u64(),
    ) {
        (Some(n), Some(common)) => {
            format!("{n}, {common}/{} same", l[format!("{side}_compared_spikes")].as_u64().unwrap_or(0))
        }
        _ => "-".into(),
    };
    let mut md = String::from(
        "| case | N | this code | numpy | Brian2 C++ | vs numpy | vs Brian2 | spikes: this code | numpy | Brian2 | Brian2 compile (s) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for l in lines {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            l["case"].as_str().unwrap_or("?"),
            l["n"],
            us(l, "rust"),
            us(l, "numpy"),
            us(l, "brian2"),
            ratio(l, "numpy"),
            ratio(l, "brian2"),
            l["rust_spikes"],
            spikes(l, "numpy"),
            spikes(l, "brian2"),
            l["brian2_compile_s"].as_f64().map_or("-".into(), |s| format!("{s:.1}")),
        ));
    }
    md
}

/// Three significant digits, without an exponent for the values a step takes (0.01-10^4 µs).
fn sig(x: f64) -> String {
    let digits = if x == 0.0 || !x.is_finite() { 0 } else { (2 - x.abs().log10().floor() as i32).max(0) as usize };
    format!("{x:.digits$}")
}

/// Least-squares slope of log(cost) against log(N).
fn fitted_exponent(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let logs: Vec<(f64, f64)> = points.iter().map(|(n, c)| (n.ln(), c.ln())).collect();
    let k = logs.len() as f64;
    let (mx, my) = (logs.iter().map(|p| p.0).sum::<f64>() / k, logs.iter().map(|p| p.1).sum::<f64>() / k);
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    Some(sxy / sxx)
}

fn scaling_plot(points: &[(f64, f64, Option<f64>)], exponent: f64, dir: &Path) -> Result<()> {
    use crate::plot::{COMPONENT, Figure, Labeled, Panel, Series, render};
    let series = vec![
        Series {
            name: format!("this code (slope {exponent:.2})"),
            points: points.iter().map(|(n, r, _)| (n.log10(), r.log10())).collect(),
            color: COMPONENT[0],
            dashed: false,
        },
        Series {
            name: "numpy loop".into(),
            points: points.iter().filter_map(|(n, _, p)| Some((n.log10(), (*p)?.log10()))).collect(),
            color: COMPONENT[1],
            dashed: false,
        },
    ];
    let figure = Figure {
        cols: 1,
        panels: vec![Labeled {
            title: "factored training, identity basis, N_b = N, J = 2, dt = 0.1 ms".into(),
            x: "log10 N".into(),
            y: "log10 (wall s per simulated s)".into(),
            panel: Panel::Lines { series, log_y: false },
        }],
    };
    render(&figure, dir, "scaling")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits() {
        assert_eq!(sig(0.0897), "0.0897");
        assert_eq!(sig(7.9), "7.90");
        assert_eq!(sig(274.3), "274");
        assert_eq!(sig(8040.4), "8040");
        assert_eq!(sig(0.0), "0");
    }

    #[test]
    fn the_median_run_is_reported_and_differing_runs_are_an_error() {
        let run = |us: f64, spikes: u64| json!({"us_per_step": us, "wall_per_sim_s": us * 1e-2, "spikes": spikes, "first_spikes": [1, 2], "peak_rss_kb": us});
        let m = median_run(vec![run(3.0, 5), run(1.0, 5), run(2.0, 5)]).unwrap();
        assert_eq!(m["us_per_step"], json!(2.0));
        assert_eq!(m["us_per_step_runs"], json!([3.0, 1.0, 2.0]));
        assert_eq!(m["peak_rss_kb"], json!(3.0));
        assert!(median_run(vec![run(1.0, 5), run(1.0, 6)]).is_err());
    }

    #[test]
    fn the_table_has_a_row_per_case_with_ranges_and_agreement() {
        let line = json!({
            "case": "fixed100", "n": 100, "rust_us_per_step": 0.1, "rust_us_per_step_runs": [0.1, 0.12, 0.09],
            "numpy_us_per_step": 10.0, "numpy_us_per_step_runs": [10.0, 11.0, 9.5], "speedup_vs_numpy": 100.0,
            "rust_spikes": 1251, "numpy_spikes": 1251, "numpy_common_spike_prefix": 1251, "numpy_compared_spikes": 1251,
        });
        let md = markdown_table(&[line]);
        let row = md.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "| fixed100 | 100 | 0.100 (0.0900-0.120) | 10.0 (9.50-11.0) | - | 100.0x | - | 1251 | 1251, 1251/1251 same | - | - |"
        );
    }
}
