//! `catalogue`: one recipe (ebn_recipe), no per-system setting, on chaotic flows of a
//! published catalogue, limit cycles and 4-D hyperchaotic systems; for each, the teacher's
//! attractor beside the network's 200 s free run and the verdict, counted separately on the
//! systems the recipe was developed on and on those held out (docs/CATALOGUE.md).

use super::{Ctx, Output, Scale, Spec};
use crate::plot::{COMPONENT, Figure, INK, Labeled, Panel, Series, render};
use anyhow::Result;
use ebn_network::Plateau;
use ebn_recipe::harness::{BenchOptions, BenchSystem, Evaluated, Role, evaluate, systems};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::fmt::Write as _;

pub const SPEC: Spec = Spec {
    id: "catalogue",
    description: "one recipe on unseen systems: chaotic flows of a catalogue, limit cycles, 4-D; attractors kept or not",
    run,
};

/// The recipe's options at each scale: the defaults at paper scale; at smoke scale a small
/// network, three trials and a 6 s test on two systems (one of each role).
fn options(scale: Scale, seed: u64) -> BenchOptions {
    let mut o = BenchOptions::default();
    o.recipe.seed = seed;
    if scale == Scale::Smoke {
        o.recipe.n = 40;
        o.recipe.n_basis = 60;
        o.recipe.max_trials = 3;
        o.recipe.plateau = Plateau { window: 1, tolerance: 0.05, min_trials: 3, reductions: 0, factor: 0.25 };
        o.recipe.test_duration = 6.0;
        o.recipe.initial_points = 16;
        o.recipe.survey.periods = 60.0;
        o.recipe.survey.transient_periods = 10.0;
    }
    o
}

fn selected(scale: Scale) -> Vec<BenchSystem> {
    let all = systems();
    match scale {
        Scale::Paper => all,
        Scale::Smoke => all.into_iter().filter(|s| s.name == "lorenz" || s.name == "aizawa").collect(),
    }
}

/// Components (0, 1) of a list of states, at most `max_points` of them.
fn projection(states: &[Vec<f64>], max_points: usize) -> Vec<(f64, f64)> {
    let stride = (states.len() / max_points.max(1)).max(1);
    states.iter().step_by(stride).map(|s| (s[0], s[1])).collect()
}

/// A CSV of states every `dt` s: t, then one column per component.
fn states_csv(prefix: &str, states: &[Vec<f64>], dt: f64) -> String {
    let j = states.first().map_or(0, Vec::len);
    let mut out = String::from("t");
    for c in 0..j {
        let _ = write!(out, ",{prefix}_{c}");
    }
    out.push('\n');
    for (k, s) in states.iter().enumerate() {
        let _ = write!(out, "{}", k as f64 * dt);
        for v in s {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

fn run(ctx: &Ctx) -> Result<Output> {
    let options = options(ctx.scale, ctx.seed);
    let chosen = selected(ctx.scale);
    ctx.bar.inc_length((chosen.len() * options.recipe.max_trials) as u64);
    let registry = ebn_network::builtins();
    let results: Vec<Evaluated> = chosen
        .par_iter()
        .map(|s| evaluate(s, registry, &options, &|| ctx.bar.inc(1)).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;

    let mut table = String::from(
        "system,role,chaotic,dim,trials,feedback_gain,eta,speed,nrmse_at_0p25s,nrmse_at_1s,mean_shift,spread_error,\
         frequency_error,kept,twin_kept,field_error_on,field_error_near,stabilised_fixed_points,capped_fraction,\
         mean_rate_hz,correlation_dimension_teacher,correlation_dimension_network,teacher_windows,\
         teacher_windows_kept,teacher_worst_frequency_error\n",
    );
    let mut panels = Vec::new();
    let mut per_system = serde_json::Map::new();
    for e in &results {
        let r = &e.report;
        let j = r.recipe.center.len();
        let free_seconds = e.free_run.len() as f64 * e.sample_interval;
        let teacher_window: Vec<Vec<f64>> =
            e.attractor.iter().take((free_seconds / e.sample_interval) as usize).cloned().collect();
        ctx.write(&format!("teacher_{}.csv", r.name), &states_csv("x", &teacher_window, e.sample_interval))?;
        ctx.write(&format!("network_{}.csv", r.name), &states_csv("x_hat", &e.free_run, e.sample_interval))?;
        let _ = writeln!(
            table,
            "{},{},{},{j},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.name,
            match r.role {
                Role::Development => "development",
                Role::HeldOut => "held_out",
                Role::HeldOutSecond => "held_out_second",
            },
            u8::from(r.chaotic),
            r.trials,
            r.recipe.feedback_gain,
            r.recipe.eta,
            r.recipe.speed,
            r.nrmse_at_0p25s,
            r.nrmse_at_1s,
            max_abs(&r.network.mean_shift),
            max_abs(&r.network.spread_error),
            r.network.frequency_error,
            u8::from(r.network.kept),
            r.twin.as_ref().map_or(0, |t| u8::from(t.kept)),
            r.diagnosis.field_error_on,
            r.diagnosis.field_error_near,
            r.diagnosis.stabilised,
            r.capped_fraction,
            r.mean_rate_hz,
            r.recipe.teacher_correlation_dimension.unwrap_or(f64::NAN),
            r.network.correlation_dimension.unwrap_or(f64::NAN),
            r.teacher_self.windows,
            r.teacher_self.kept,
            r.teacher_self.frequency_error,
        );
        let role = match r.role {
            Role::Development => "development",
            Role::HeldOut => "held out",
            Role::HeldOutSecond => "held out, 2nd set",
        };
        panels.push(Labeled {
            title: format!("{} ({role}): teacher", r.name),
            x: "x_0 (normalised)".into(),
            y: "x_1 (normalised)".into(),
            panel: Panel::Lines {
                series: vec![Series {
                    name: "teacher".into(),
                    points: projection(&teacher_window, 4000),
                    color: INK,
                    dashed: false,
                }],
                log_y: false,
            },
        });
        panels.push(Labeled {
            title: format!("{}: network, {}", r.name, r.network.verdict),
            x: "x_hat_0".into(),
            y: "x_hat_1".into(),
            panel: Panel::Lines {
                series: vec![Series {
                    name: "network".into(),
                    points: projection(&e.free_run, 4000),
                    color: if r.network.kept { COMPONENT[2] } else { COMPONENT[0] },
                    dashed: false,
                }],
                log_y: false,
            },
        });
        per_system.insert(r.name.clone(), serde_json::to_value(r)?);
    }
    ctx.write("catalogue.csv", &table)?;
    ctx.write("reports.json", &serde_json::to_string_pretty(&Value::Object(per_system))?)?;
    render(&Figure { cols: 6, panels }, &ctx.dir, "catalogue")?;

    let count = |role: Role, chaotic: bool, kept: bool| {
        results
            .iter()
            .filter(|e| e.report.role == role && e.report.chaotic == chaotic && (!kept || e.report.network.kept))
            .count()
    };
    let summary = json!({
        "systems": results.len(),
        "kept_development_chaotic": count(Role::Development, true, true),
        "development_chaotic": count(Role::Development, true, false),
        "kept_held_out_chaotic": count(Role::HeldOut, true, true),
        "held_out_chaotic": count(Role::HeldOut, true, false),
        "kept_held_out_second_chaotic": count(Role::HeldOutSecond, true, true),
        "held_out_second_chaotic": count(Role::HeldOutSecond, true, false),
        "kept_limit_cycles": count(Role::Development, false, true) + count(Role::HeldOut, false, true),
        "limit_cycles": count(Role::Development, false, false) + count(Role::HeldOut, false, false),
        "verdicts": results.iter().map(|e| (e.report.name.clone(), json!(e.report.network.verdict))).collect::<serde_json::Map<_, _>>(),
        "nrmse_at_0p25s": results.iter().map(|e| e.report.nrmse_at_0p25s).collect::<Vec<_>>(),
    });
    let config = json!({ "recipe_options": serde_json::to_value(&options.recipe)?, "systems": chosen.iter().map(|s| json!({"name": s.name, "spec": s.spec, "role": format!("{:?}", s.role)})).collect::<Vec<_>>() });
    Ok(Output { summary, config })
}
