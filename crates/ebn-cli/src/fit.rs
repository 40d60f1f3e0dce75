//! `fit`: an experiment derived from a system by the recipe (ebn_recipe), written as a file
//! and run like any other.

use crate::output::write_atomic;
use anyhow::{Context, Result};
use ebn_network::{Registry, Spec};
use ebn_recipe::{RecipeOptions, fit};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What `fit` gets.
#[derive(Debug, Clone)]
pub struct Options {
    /// A catalogue flow's name (`rossler`), or a TOML file with a `[target]` table (any
    /// registered kind) and optionally a `[recipe]` table of [`RecipeOptions`].
    pub system: String,
    /// Output directory (default target/fit/NAME).
    pub out: Option<PathBuf>,
}

/// A system file: the target and the recipe's options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemFile {
    target: Spec,
    #[serde(default)]
    recipe: RecipeOptions,
}

/// The target spec, the recipe's options and the run's name for `system`.
fn resolve(system: &str) -> Result<(Spec, RecipeOptions, String)> {
    let path = Path::new(system);
    if path.extension().is_some_and(|e| e == "toml") {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: SystemFile = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("system").to_string();
        return Ok((file.target, file.recipe, stem));
    }
    Ok((Spec::new("catalogue").with("name", system), RecipeOptions::default(), system.to_string()))
}

/// Fits, writes `experiment.toml` (the complete experiment, every derived value in it) and
/// `recipe.json` (what was measured) under the output directory, and returns the path of the
/// experiment file.
pub fn write(options: &Options, registry: &Registry) -> Result<(PathBuf, PathBuf)> {
    let (spec, recipe_options, name) = resolve(&options.system)?;
    let out = options.out.clone().unwrap_or_else(|| PathBuf::from("target").join("fit").join(&name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let fitted = fit(&spec, registry, &recipe_options).map_err(anyhow::Error::from)?;
    let r = &fitted.recipe;
    let header = format!(
        "# Derived by `fit` from {} (ebn_recipe; docs/CATALOGUE.md). Every value below can be edited.\n\
         # Units: z = (x - center) / scale, time speed = {:.6} system units per second (characteristic\n\
         # period {:.4} system units -> {} s). Feedback gain {:.3} /s = {} x the 95th percentile of the\n\
         # expansion rate ({:.3} /s). eta {:.3} per N_b = {} (lambda + K) / {:.3}, the largest eigenvalue\n\
         # of E[Psi Psi^T] on the attractor, times N_b.\n",
        spec,
        r.speed,
        r.period_system,
        ebn_recipe::recipe::PERIOD_SECONDS,
        r.feedback_gain,
        ebn_recipe::recipe::FEEDBACK_PER_EXPANSION,
        r.expansion_p95,
        r.eta,
        ebn_recipe::recipe::ETA_MARGIN,
        r.basis_top_eigenvalue,
    );
    let body = toml::to_string(&fitted.config).context("writing the experiment as TOML")?;
    let file = out.join("experiment.toml");
    write_atomic(&file, format!("{header}{body}").as_bytes())?;
    write_atomic(&out.join("recipe.json"), serde_json::to_string_pretty(r)?.as_bytes())?;
    Ok((file, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system file (a catalogue flow and a small recipe) becomes an experiment file that
    /// loads, holds every derived value, trains and reports the attractor's statistics.
    #[test]
    fn a_system_file_is_fitted_written_and_run() {
        let dir = std::env::temp_dir().join(format!("ebn-fit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let system = dir.join("rossler.toml");
        std::fs::write(
            &system,
            r#"
target = { kind = "catalogue", name = "rossler" }
[recipe]
n = 30
n_basis = 40
max_trials = 2
plateau = { window = 1, tolerance = 0.05, min_trials = 2 }
test_duration = 4.0
initial_points = 8
survey = { periods = 40.0, transient_periods = 5.0 }
"#,
        )
        .unwrap();
        let registry = ebn_network::builtin_registry();
        let (file, out) =
            write(&Options { system: system.to_string_lossy().into_owned(), out: Some(dir.join("out")) }, &registry)
                .unwrap();
        let config = crate::run::load(&file, &registry).unwrap();
        let recipe: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("recipe.json")).unwrap()).unwrap();
        assert_eq!(config.network.feedback_gain, recipe["feedback_gain"].as_f64().unwrap());
        assert_eq!(config.target.as_ref().unwrap().kind, "normalized");
        let options = crate::run::RunOptions {
            file,
            out: Some(out.clone()),
            fresh: false,
            quiet: true,
            checkpoint_every: std::time::Duration::ZERO,
        };
        let summary = crate::run::run(&options, &registry).unwrap();
        assert_eq!(summary["training"]["trials"], 2);
        let free = &summary["tests"]["free"];
        for key in ["nrmse_at_0p25s", "frequency_teacher", "frequency_network", "mean_shift", "attractor_kept"] {
            assert!(free[key].as_f64().is_some_and(f64::is_finite), "{key}: {free}");
        }
        // An unknown flow or a misspelt option is an error naming it.
        let err = write(&Options { system: "lorentz".into(), out: Some(dir.join("bad")) }, &registry).unwrap_err();
        assert!(format!("{err:#}").contains("lorentz"), "{err:#}");
        std::fs::write(&system, "target = { kind = \"catalogue\", name = \"rossler\" }\n[recipe]\nn_basiss = 3\n")
            .unwrap();
        let err = write(&Options { system: system.to_string_lossy().into_owned(), out: None }, &registry).unwrap_err();
        assert!(format!("{err:#}").contains("n_basiss"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
