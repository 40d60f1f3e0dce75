//! The grid: its axes, its points in grid order, a point's configuration and the sweep's
//! hash.

use super::point::{PointSpec, describe};
use super::seeds::{Seeds, derived_seed};
use super::{FORMAT, MAX_POINTS};
use anyhow::{Context, Result, bail, ensure};
use ebn_network::ExperimentConfig;
use ebn_network::core::hash::Fnv1a;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// One axis of the grid: parameters that move together, and their values point by point.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted paths into the experiment file (`network.sigma_v`).
    pub params: Vec<String>,
    /// One row per point of the axis, one value per parameter.
    pub values: Vec<Vec<toml::Value>>,
}

/// A sweep: an experiment file, the axes and the seeds.
#[derive(Debug)]
pub struct Grid {
    /// The experiment file (relative `[data]` files resolve against its folder).
    pub experiment: PathBuf,
    /// The experiment file's text.
    pub text: String,
    /// The axes, slowest first.
    pub axes: Vec<Axis>,
    /// The seeds.
    pub seeds: Seeds,
    /// The command-line arguments that name this grid (after the `sweep` command).
    pub args: Vec<String>,
    digests: Mutex<HashMap<String, String>>,
}

impl Grid {
    pub(super) fn new(
        experiment: PathBuf,
        text: String,
        axes: Vec<Axis>,
        seeds: Seeds,
        args: Vec<String>,
    ) -> Result<Self> {
        let grid = Self { experiment, text, axes, seeds, args, digests: Mutex::default() };
        let mut total: usize = grid.seed_count();
        ensure!(total > 0, "the sweep has no seeds");
        for (a, axis) in grid.axes.iter().enumerate() {
            ensure!(!axis.params.is_empty(), "sweep.axis[{a}]: no parameter");
            ensure!(!axis.values.is_empty(), "sweep.axis[{a}]: no values");
            for (k, row) in axis.values.iter().enumerate() {
                ensure!(
                    row.len() == axis.params.len(),
                    "sweep.axis[{a}].values[{k}]: {} values for the {} parameters {:?}",
                    row.len(),
                    axis.params.len(),
                    axis.params
                );
            }
            total = total.checked_mul(axis.values.len()).filter(|t| *t <= MAX_POINTS).with_context(|| {
                format!("the sweep has more than {MAX_POINTS} points: split it into several sweep files")
            })?;
        }
        let mut seen = std::collections::HashSet::new();
        for p in grid.axes.iter().flat_map(|a| &a.params) {
            ensure!(seen.insert(p), "parameter {p} is set by two axes");
            ensure!(p != "seed", "the seed is not an axis: list `seeds` or set `replicates`");
        }
        Ok(grid)
    }

    pub(super) fn seed_count(&self) -> usize {
        match &self.seeds {
            Seeds::List(l) => l.len(),
            Seeds::Replicates { count, .. } => usize::try_from(*count).unwrap_or(usize::MAX),
        }
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product::<usize>() * self.seed_count()
    }

    /// Whether the grid has no point (never: [`Grid::new`] refuses it).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameters the axes set, in order (the table's columns).
    pub fn params(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.params.iter().cloned()).collect()
    }

    /// Point `index` (< [`Grid::len`]).
    pub fn point(&self, index: usize) -> PointSpec {
        let seeds = self.seed_count();
        let replicate = index % seeds;
        let mut rest = index / seeds;
        let mut rows = vec![0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            rows[a] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let params: Vec<(String, toml::Value)> = self
            .axes
            .iter()
            .zip(&rows)
            .flat_map(|(axis, &r)| axis.params.iter().cloned().zip(axis.values[r].iter().cloned()))
            .collect();
        let seed = match &self.seeds {
            Seeds::List(list) => list[replicate],
            Seeds::Replicates { master, .. } => derived_seed(*master, &params, replicate),
        };
        PointSpec { index, params, replicate, seed }
    }

    /// The configuration of a point: the experiment file with the point's values set and its
    /// seed, its recording resolved and digested.
    pub fn config(&self, point: &PointSpec) -> Result<ExperimentConfig> {
        let mut doc: toml::Value =
            toml::from_str(&self.text).with_context(|| format!("parsing {}", self.experiment.display()))?;
        for (path, value) in &point.params {
            set_path(&mut doc, path, value.clone())?;
        }
        let text = toml::to_string(&doc)?;
        let mut config = ExperimentConfig::from_toml(&text)
            .with_context(|| format!("point {} ({})", point.index, describe(point)))?;
        config.seed = point.seed;
        crate::run::resolve_data(&mut config, &self.experiment);
        // The recording's digest, read once per file for the whole grid.
        if let Some(data) = &mut config.data
            && data.digest.is_none()
        {
            let mut cache = self.digests.lock().unwrap_or_else(|e| e.into_inner());
            let digest = match cache.get(&data.file) {
                Some(d) => d.clone(),
                None => {
                    let bytes = std::fs::read(&data.file)
                        .with_context(|| format!("reading the recording data.file = {}", data.file))?;
                    let d = ebn_network::data::digest(&bytes);
                    cache.insert(data.file.clone(), d.clone());
                    d
                }
            };
            data.digest = Some(digest);
        }
        Ok(config)
    }

    /// The sweep's hash: FNV-1a over every point's index, seed and configuration. Two sweeps
    /// with the same hash run the same trainings.
    pub fn hash(&self) -> Result<String> {
        let mut h = Fnv1a::new();
        h.update(FORMAT.as_bytes());
        for i in 0..self.len() {
            let p = self.point(i);
            let config = self.config(&p)?;
            h.update(format!("\n{i} {} ", p.seed).as_bytes());
            h.update(serde_json::to_string(&config)?.as_bytes());
        }
        Ok(format!("{:016x}", h.finish()))
    }
}

/// Sets `path` (dotted, e.g. `network.sigma_v` or `training.trials`) in a TOML document.
fn set_path(doc: &mut toml::Value, path: &str, value: toml::Value) -> Result<()> {
    let mut node = doc;
    let keys: Vec<&str> = path.split('.').collect();
    ensure!(keys.iter().all(|k| !k.is_empty()), "parameter `{path}`: not a dotted path");
    for (k, key) in keys.iter().enumerate() {
        let table = node.as_table_mut().with_context(|| format!("parameter {path}: `{key}` is not inside a table"))?;
        if k + 1 == keys.len() {
            table.insert((*key).to_string(), value);
            return Ok(());
        }
        node = table.entry((*key).to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    bail!("parameter: empty path")
}

#[cfg(test)]
mod tests {
    use crate::sweep::testing::{SWEEP, grid, scratch};
    use crate::sweep::value_text;

    /// The grid's order, its zipped axis, and seeds derived from the values (not the
    /// position): adding a value to an axis keeps the other points' seeds.
    #[test]
    fn grid_order_and_derived_seeds() {
        let dir = scratch("grid");
        let g = grid(&dir, SWEEP);
        assert_eq!(g.len(), 8);
        assert_eq!(g.params(), ["network.sigma_v", "network.n", "training.trials"]);
        let p5 = g.point(5);
        assert_eq!(p5.replicate, 1);
        assert_eq!(value_text(&p5.params[0].1), "0.001");
        assert_eq!((value_text(&p5.params[1].1), value_text(&p5.params[2].1)), ("16".into(), "2".into()));
        let c = g.config(&p5).unwrap();
        assert_eq!((c.network.n, c.training.as_ref().unwrap().trials, c.seed), (16, 2, p5.seed));
        // Every seed differs, and the seeds are a function of the values only.
        let seeds: std::collections::HashSet<u64> = (0..8).map(|i| g.point(i).seed).collect();
        assert_eq!(seeds.len(), 8);
        let wider = grid(&dir, &SWEEP.replace("values = [0.0, 1e-3]", "values = [0.0, 5e-4, 1e-3]"));
        assert_eq!(wider.len(), 12);
        assert_eq!(wider.point(9).params, p5.params);
        assert_eq!(wider.point(9).seed, p5.seed);
        assert_ne!(wider.hash().unwrap(), g.hash().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
