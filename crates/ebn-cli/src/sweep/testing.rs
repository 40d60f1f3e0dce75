//! Fixtures shared by the sweep's tests: a smoke experiment, a sweep file over it, scratch
//! directories, a grid and a runner.

use super::{Grid, Runner};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) const SMOKE: &str = ebn_network::presets::smoke_toml();

pub(super) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebn-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) fn grid(dir: &Path, sweep: &str) -> Grid {
    std::fs::write(dir.join("smoke.toml"), SMOKE).unwrap();
    let file = dir.join("sweep.toml");
    std::fs::write(&file, sweep).unwrap();
    Grid::load(&file, &[], None, false).unwrap()
}

pub(super) fn runner<'a>(
    grid: &'a Grid,
    out: &Path,
    jobs: usize,
    stop: &'a (dyn Fn() -> Option<i32> + Sync),
) -> Runner<'a> {
    Runner {
        grid,
        hash: grid.hash().unwrap(),
        out: out.to_path_buf(),
        registry: ebn_network::builtins(),
        jobs,
        checkpoint_every: Duration::ZERO,
        stop,
        log: &|_| {},
        tick: &|| {},
    }
}

pub(super) const SWEEP: &str = r#"
[sweep]
experiment = "smoke.toml"
replicates = 2
seed = 9
[[sweep.axis]]
param = "network.sigma_v"
values = [0.0, 1e-3]
[[sweep.axis]]
params = ["network.n", "training.trials"]
values = [[16, 2], [24, 3]]
"#;
