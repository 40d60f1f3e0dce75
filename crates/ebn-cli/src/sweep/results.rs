//! The output directory of a sweep: its marker `sweep-grid.json` and one file per point,
//! written and read back with the sweep's hash.

use super::FORMAT;
use super::point::{Outcome, Point, value_text};
use super::runner::Runner;
use crate::output::write_atomic;
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::path::PathBuf;

impl Runner<'_> {
    fn points_dir(&self) -> PathBuf {
        self.out.join("points")
    }

    /// The result file of point `index`.
    pub fn point_file(&self, index: usize) -> PathBuf {
        self.points_dir().join(format!("{index:06}.json"))
    }

    pub(super) fn checkpoint_file(&self, index: usize) -> PathBuf {
        self.points_dir().join(format!("{index:06}.checkpoint.ebn"))
    }

    /// Creates the output directory and its `sweep-grid.json`, or checks that it is this
    /// sweep's (with `fresh`, removes another sweep's results first).
    pub fn prepare(&self, fresh: bool) -> Result<()> {
        let marker = self.out.join("sweep-grid.json");
        if fresh {
            for p in [self.points_dir(), marker.clone()] {
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
                } else if p.exists() {
                    std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                }
            }
        }
        std::fs::create_dir_all(self.points_dir())
            .with_context(|| format!("creating {}", self.points_dir().display()))?;
        if let Ok(text) = std::fs::read_to_string(&marker) {
            let found: Value = serde_json::from_str(&text).with_context(|| format!("reading {}", marker.display()))?;
            if found["sweep"].as_str() != Some(self.hash.as_str()) {
                bail!(
                    "{} holds the results of another sweep (hash {}, this one is {}): use --fresh to start over, or another --out",
                    self.out.display(),
                    found["sweep"],
                    self.hash
                );
            }
            return Ok(());
        }
        let grid = json!({
            "format": FORMAT,
            "sweep": self.hash,
            "experiment": self.grid.experiment,
            "points": self.grid.len(),
            "params": self.grid.params(),
            "args": self.grid.args,
        });
        write_atomic(&marker, serde_json::to_string_pretty(&grid)?.as_bytes())
    }

    /// Reads point `index`'s file if it is a finished result of this sweep; `Ok(None)` if
    /// absent; an error if it belongs to another sweep or is corrupt.
    pub fn read_point(&self, index: usize) -> Result<Option<Point>> {
        let path = self.point_file(index);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not a point file", path.display()))?;
        ensure!(v["format"] == FORMAT, "{}: not a point file of this version ({})", path.display(), v["format"]);
        if v["sweep"].as_str() != Some(self.hash.as_str()) {
            bail!(
                "{} belongs to another sweep (hash {}, this one is {}): results of two sweeps are never mixed",
                path.display(),
                v["sweep"],
                self.hash
            );
        }
        let spec = self.grid.point(index);
        ensure!(
            v["index"].as_u64() == Some(index as u64) && v["seed"].as_u64() == Some(spec.seed),
            "{}: holds another point ({} seed {})",
            path.display(),
            v["index"],
            v["seed"]
        );
        let num = |x: &Value| x.as_f64().unwrap_or(f64::NAN);
        let result = match v["error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(Outcome {
                last_trial_error: num(&v["last_trial_error"]),
                test_nrmse: v["test_nrmse"]
                    .as_array()
                    .with_context(|| format!("{}: no test_nrmse", path.display()))?
                    .iter()
                    .map(num)
                    .collect(),
                spikes_per_second: num(&v["spikes_per_second"]),
                capped_fraction: num(&v["capped_fraction"]),
            }),
        };
        Ok(Some(Point { spec, result }))
    }

    pub(super) fn write_point(&self, point: &Point, timing: Value) -> Result<()> {
        let params: serde_json::Map<String, Value> =
            point.spec.params.iter().map(|(k, v)| (k.clone(), json!(value_text(v)))).collect();
        let mut v = json!({
            "format": FORMAT,
            "sweep": self.hash,
            "index": point.spec.index,
            "seed": point.spec.seed,
            "replicate": point.spec.replicate,
            "params": params,
            "timing": timing,
        });
        match &point.result {
            Ok(o) => {
                // NaN (no training) is written as null and read back as NaN.
                v["last_trial_error"] = json!(o.last_trial_error);
                v["test_nrmse"] = json!(o.test_nrmse);
                v["spikes_per_second"] = json!(o.spikes_per_second);
                v["capped_fraction"] = json!(o.capped_fraction);
            }
            Err(e) => v["error"] = json!(e),
        }
        write_atomic(&self.point_file(point.spec.index), serde_json::to_string_pretty(&v)?.as_bytes())
    }
}
