//! Reading a grid: a sweep file (a `[sweep]` table: the experiment, the seeds, the
//! cartesian and zipped axes), or an experiment file with the command line's seeds and
//! parameter.

use super::grid::{Axis, Grid};
use super::seeds::Seeds;
use anyhow::{Context, Result, bail, ensure};
use ebn_network::ExperimentConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSection {
    experiment: PathBuf,
    seeds: Option<Vec<u64>>,
    replicates: Option<u64>,
    seed: Option<u64>,
    #[serde(default)]
    axis: Vec<AxisSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisSection {
    param: Option<String>,
    params: Option<Vec<String>>,
    values: Vec<toml::Value>,
}

/// Whether `text` is a sweep file (a TOML document whose only table is `[sweep]`) rather
/// than an experiment file.
pub fn is_sweep_file(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("sweep"))
}

/// Parses a TOML value given on the command line (`1e-3`, `true`, `"name"`).
pub fn parse_value(value: &str) -> Result<toml::Value> {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .with_context(|| format!("--values: `{value}` is not a TOML value (quote strings: '\"name\"')"))
}

impl Grid {
    /// The grid of the command-line form: the experiment file, its seeds, and optionally one
    /// parameter and its values (values outer, seeds inner).
    pub fn from_flags(file: &Path, seeds: &[u64], param: Option<(&str, &[String])>) -> Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let axes = match param {
            None => Vec::new(),
            Some((p, values)) => vec![Axis {
                params: vec![p.to_string()],
                values: values.iter().map(|v| parse_value(v).map(|v| vec![v])).collect::<Result<_>>()?,
            }],
        };
        let mut args =
            vec![file_arg(file)?, "--seeds".into(), seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",")];
        if let Some((p, values)) = param {
            args.extend(["--param".into(), p.to_string(), "--values".into(), values.join(",")]);
        }
        Self::new(file.to_path_buf(), text, axes, Seeds::List(seeds.to_vec()), args)
    }

    /// The grid of a sweep file (module docs; `experiment` relative to the sweep file).
    pub fn from_sweep_file(file: &Path, text: &str) -> Result<Self> {
        let parsed: SweepFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("in {}: {}", file.display(), e.message().trim().replace('\n', " ")))?;
        let s = parsed.sweep;
        let experiment = file.parent().unwrap_or(Path::new("")).join(&s.experiment);
        let exp_text = std::fs::read_to_string(&experiment)
            .with_context(|| format!("{}: sweep.experiment: reading {}", file.display(), experiment.display()))?;
        let seeds = match (s.seeds, s.replicates, s.seed) {
            (Some(_), Some(_), _) => bail!("{}: sweep.seeds and sweep.replicates: set one", file.display()),
            (Some(_), None, Some(_)) => {
                bail!("{}: sweep.seed (a master seed) goes with sweep.replicates, not with a seed list", file.display())
            }
            (Some(list), None, None) => Seeds::List(list),
            (None, count, master) => {
                let master = match master {
                    Some(m) => m,
                    None => {
                        ExperimentConfig::from_toml(&exp_text)
                            .with_context(|| format!("in {}", experiment.display()))?
                            .seed
                    }
                };
                let count = count.unwrap_or(1);
                ensure!(count >= 1, "{}: sweep.replicates must be at least 1", file.display());
                Seeds::Replicates { master, count }
            }
        };
        let mut axes = Vec::new();
        for (a, ax) in s.axis.into_iter().enumerate() {
            let axis = match (ax.param, ax.params) {
                (Some(p), None) => Axis { params: vec![p], values: ax.values.into_iter().map(|v| vec![v]).collect() },
                (None, Some(ps)) => {
                    let mut rows = Vec::new();
                    for (k, v) in ax.values.into_iter().enumerate() {
                        let toml::Value::Array(row) = v else {
                            bail!(
                                "{}: sweep.axis[{a}].values[{k}]: an array of {} values (one per param)",
                                file.display(),
                                ps.len()
                            )
                        };
                        rows.push(row);
                    }
                    Axis { params: ps, values: rows }
                }
                _ => bail!("{}: sweep.axis[{a}]: set `param` (one parameter) or `params` (zipped)", file.display()),
            };
            axes.push(axis);
        }
        Self::new(experiment, exp_text, axes, seeds, vec![file_arg(file)?])
            .with_context(|| format!("in {}", file.display()))
    }

    /// Reads `file`: a sweep file, or an experiment file with the command line's seeds and
    /// parameter.
    pub fn load(file: &Path, seeds: &[u64], param: Option<(&str, &[String])>, flags_given: bool) -> Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        if is_sweep_file(&text) {
            ensure!(
                !flags_given,
                "{} is a sweep file: its grid and seeds are in it, not in --seeds/--param",
                file.display()
            );
            Self::from_sweep_file(file, &text)
        } else {
            Self::from_flags(file, seeds, param)
        }
    }
}

/// The file argument as the emitted script repeats it (absolute).
fn file_arg(file: &Path) -> Result<String> {
    Ok(std::path::absolute(file)?.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::testing::{SMOKE, scratch};
    use crate::sweep::{plan, value_text};

    /// Bad sweep files are errors that name the field.
    #[test]
    fn bad_sweep_files_name_the_field() {
        let dir = scratch("bad");
        std::fs::write(dir.join("smoke.toml"), SMOKE).unwrap();
        let file = dir.join("s.toml");
        let err = |text: &str| {
            std::fs::write(&file, text).unwrap();
            format!("{:#}", Grid::load(&file, &[], None, false).unwrap_err())
        };
        assert!(err("[sweep]\nexperiment = \"smoke.toml\"\nreplicate = 2\n").contains("replicate"));
        assert!(err("[sweep]\nexperiment = \"nope.toml\"\n").contains("nope.toml"));
        let e = err(
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparams = [\"network.n\", \"network.mu\"]\nvalues = [[16]]\n",
        );
        assert!(e.contains("sweep.axis[0].values[0]"), "{e}");
        let e = err("[sweep]\nexperiment = \"smoke.toml\"\nseeds = [1]\nreplicates = 2\n");
        assert!(e.contains("set one"), "{e}");
        let e = err("[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparam = \"seed\"\nvalues = [1]\n");
        assert!(e.contains("seed"), "{e}");
        // A bad value of a point is caught by the plan (before anything is submitted).
        std::fs::write(
            &file,
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparam = \"network.n\"\nvalues = [16, -5]\n",
        )
        .unwrap();
        let g = Grid::load(&file, &[], None, false).unwrap();
        let e = format!("{:#}", plan(&g, "h", 1, ebn_network::builtins()).unwrap_err());
        assert!(e.contains("point 1") && e.contains("network.n"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_command_line_form_and_bad_paths() {
        let dir = scratch("flags");
        let file = dir.join("smoke.toml");
        std::fs::write(&file, SMOKE).unwrap();
        let values = vec!["0.0".to_string(), "1e-3".to_string()];
        let g = Grid::load(&file, &[4, 5, 6], Some(("network.sigma_v", &values)), true).unwrap();
        assert_eq!(g.len(), 6);
        let p = g.point(4);
        assert_eq!((p.seed, value_text(&p.params[0].1)), (5, "0.001".into()));
        assert!(g.args.iter().any(|a| a == "0.0,1e-3"));
        let bad = |path: &str, value: &str| {
            let v = vec![value.to_string()];
            let g = Grid::from_flags(&file, &[1], Some((path, &v)));
            g.and_then(|g| g.config(&g.point(0))).is_err()
        };
        assert!(bad("seed.x", "1"));
        assert!(bad("network.sigma_v", "not a value"));
        assert!(bad("network..n", "1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
