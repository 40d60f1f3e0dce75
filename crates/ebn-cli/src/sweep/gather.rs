//! Gathering: the point files of a sweep into `sweep.csv` (with `sweep.npz`) and
//! `sweep.json`.

use super::FORMAT;
use super::grid::Grid;
use super::point::{Outcome, Point, value_text};
use super::runner::Runner;
use crate::output::write_atomic;
use anyhow::{Result, ensure};
use serde_json::{Value, json};
use std::path::Path;

/// The gathered table: every finished point of the grid, and the indices of those missing.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// Finished points (done or failed), in grid order.
    pub points: Vec<Point>,
    /// Points with no result file.
    pub missing: Vec<usize>,
}

/// Collects the point files of `runner`'s sweep.
pub fn gather(runner: &Runner<'_>) -> Result<Gathered> {
    let mut points = Vec::new();
    let mut missing = Vec::new();
    for i in 0..runner.grid.len() {
        match runner.read_point(i)? {
            Some(p) => points.push(p),
            None => missing.push(i),
        }
    }
    Ok(Gathered { points, missing })
}

/// Writes `sweep.csv` (and `sweep.npz`) and `sweep.json` under `out`; returns the JSON.
/// Columns: index, seed, replicate, one per parameter, last_trial_error, spikes_per_second,
/// capped_fraction (both of the first test), `test_<name>_nrmse` per test, error (empty for a
/// finished point).
pub fn write(grid: &Grid, hash: &str, gathered: &Gathered, out: &Path) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let params = grid.params();
    let tests: Vec<String> = grid.config(&grid.point(0))?.tests.iter().map(|t| t.name.clone()).collect();
    let mut header: Vec<String> = vec!["index".into(), "seed".into(), "replicate".into()];
    header.extend(params.iter().cloned());
    header.extend(["last_trial_error".into(), "spikes_per_second".into(), "capped_fraction".into()]);
    header.extend(tests.iter().map(|t| format!("test_{t}_nrmse")));
    header.push("error".into());
    let mut csv = header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(",");
    csv.push('\n');
    let mut rows = Vec::new();
    for p in &gathered.points {
        let mut cells = vec![p.spec.index.to_string(), p.spec.seed.to_string(), p.spec.replicate.to_string()];
        cells.extend(p.spec.params.iter().map(|(_, v)| csv_cell(&plain_text(v))));
        let (outcome, error) = match &p.result {
            Ok(o) => (o.clone(), String::new()),
            Err(e) => (
                Outcome {
                    last_trial_error: f64::NAN,
                    test_nrmse: vec![f64::NAN; tests.len()],
                    spikes_per_second: f64::NAN,
                    capped_fraction: f64::NAN,
                },
                e.clone(),
            ),
        };
        ensure!(
            outcome.test_nrmse.len() == tests.len(),
            "point {}: {} tests, point 0 has {}: a sweep's points must share their tests",
            p.spec.index,
            outcome.test_nrmse.len(),
            tests.len()
        );
        cells.push(outcome.last_trial_error.to_string());
        cells.push(outcome.spikes_per_second.to_string());
        cells.push(outcome.capped_fraction.to_string());
        cells.extend(outcome.test_nrmse.iter().map(f64::to_string));
        cells.push(csv_cell(&error));
        csv.push_str(&cells.join(","));
        csv.push('\n');
        let params: serde_json::Map<String, Value> =
            p.spec.params.iter().map(|(k, v)| (k.clone(), json!(value_text(v)))).collect();
        rows.push(json!({
            "index": p.spec.index, "seed": p.spec.seed, "replicate": p.spec.replicate, "params": params,
            "last_trial_error": outcome.last_trial_error, "spikes_per_second": outcome.spikes_per_second,
            "capped_fraction": outcome.capped_fraction,
            "test_nrmse": outcome.test_nrmse, "error": p.result.as_ref().err(),
        }));
    }
    write_atomic(&out.join("sweep.csv"), csv.as_bytes())?;
    let json = json!({
        "format": FORMAT,
        "sweep": hash,
        "experiment": grid.experiment,
        "params": params,
        "tests": tests,
        "total": grid.len(),
        "missing": gathered.missing,
        "failed": gathered.points.iter().filter(|p| p.result.is_err()).map(|p| p.spec.index).collect::<Vec<_>>(),
        "points": rows,
    });
    write_atomic(&out.join("sweep.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(json)
}

/// A value as a table cell: numbers and booleans as written, strings without their quotes.
fn plain_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => value_text(other),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
