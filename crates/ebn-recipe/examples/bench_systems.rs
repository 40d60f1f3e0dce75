//! Runs the benchmark on the named systems (all by default), two at a time, printing one
//! line per system and writing target/catalogue-dev/NAME.json.
use ebn_recipe::harness::{BenchOptions, evaluate, systems};
fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let all: Vec<_> = systems().into_iter().filter(|s| names.is_empty() || names.iter().any(|n| n == s.name)).collect();
    let queue = std::sync::Mutex::new(all.into_iter());
    let mut options = BenchOptions::default();
    if let Ok(v) = std::env::var("EBN_TRIALS") {
        options.recipe.max_trials = v.parse().unwrap();
        options.recipe.plateau.min_trials = options.recipe.plateau.min_trials.min(options.recipe.max_trials);
    }
    if let Ok(v) = std::env::var("EBN_REDUCTIONS") {
        options.recipe.plateau.reductions = v.parse().unwrap();
    }
    if std::env::var("EBN_AUTO_GAIN").is_ok() {
        options.recipe.auto_gain = true;
    }
    if let Ok(v) = std::env::var("EBN_TEST") {
        options.recipe.test_duration = v.parse().unwrap();
    }
    let options = &options;
    let out_dir = std::env::var("EBN_OUT").unwrap_or_else(|_| "target/catalogue-dev".into());
    let out = std::path::Path::new(&out_dir);
    std::fs::create_dir_all(out).unwrap();
    std::thread::scope(|scope| {
        let threads: usize = std::env::var("EBN_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
        for _ in 0..threads {
            scope.spawn(|| loop {
                let Some(sys) = queue.lock().unwrap().next() else { break };
                let t = std::time::Instant::now();
                match evaluate(&sys, ebn_network::builtins(), options, &|| {}) {
                    Ok(e) => {
                        let r = &e.report;
                        println!(
                            "{:16} {:?} gain {} trials {} K {:.1} eta {:.0} h0.25 {:.3} net: {} (mean {:?} spread {:?} freq {:+.3}) twin: {} field err {:.3}/{:.3} best {:?} stabilised {} capped {:.3} [{:.0} s]",
                            r.name, r.role, r.recipe.basis_gain, r.trials, r.recipe.feedback_gain, r.recipe.eta, r.nrmse_at_0p25s, r.network.verdict,
                            r.network.mean_shift.iter().map(|v| (v * 100.0).round() / 100.0).collect::<Vec<_>>(),
                            r.network.spread_error.iter().map(|v| (v * 100.0).round() / 100.0).collect::<Vec<_>>(),
                            r.network.frequency_error,
                            r.twin.as_ref().map_or("diverged".to_string(), |t| t.verdict.clone()),
                            r.diagnosis.field_error_on, r.diagnosis.field_error_near, r.diagnosis.field_error_best.map(|v| (v * 1000.0).round() / 1000.0), r.diagnosis.stabilised, r.capped_fraction,
                            t.elapsed().as_secs_f64()
                        );
                        std::fs::write(out.join(format!("{}.json", r.name)), serde_json::to_string_pretty(r).unwrap()).unwrap();
                    }
                    Err(e) => println!("{:16} error: {e}", sys.name),
                }
            });
        }
    });
}
