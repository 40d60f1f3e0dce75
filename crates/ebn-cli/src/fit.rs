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
