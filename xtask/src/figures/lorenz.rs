//! `lorenz`: a chaotic attractor learned (examples/lorenz.toml: N = 200, N_b = 500 tanh
//! features, 1200 s of training), then run with no command from a point on the attractor:
//! short-horizon prediction, lobe switches over 20 s, and the two attractors side by side.

use super::{Ctx, Output, Scale, Spec, series, train_example};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{COMPONENT, Figure, INK, Labeled, Panel, Series, render};
use anyhow::{Context, Result};
use ebn_network::analysis;
use ebn_network::core::Recording;
use serde_json::{Value, json};

pub const SPEC: Spec = Spec {
    id: "lorenz",
    description: "a learned Lorenz attractor: short-horizon prediction, lobe switches over 20 s, attractors in projection",
    run,
};

/// Length of the short-horizon panel (s).
const SHORT: f64 = 2.0;

/// Component `j` against component `k` of a trace, at most `max_points` points.
fn projection(
    rec: &Recording,
    tr: &ebn_network::core::Trace,
    (j, k): (usize, usize),
    max_points: usize,
) -> Vec<(f64, f64)> {
    let stride = (rec.times.len() / max_points).max(1);
    (0..rec.times.len()).step_by(stride).map(|s| (tr.sample(s)[j], tr.sample(s)[k])).collect()
}

fn run(ctx: &Ctx) -> Result<Output> {
    let (mut config, mut exp, mut net, state) = train_example(ctx, include_str!("../../../examples/lorenz.toml"), 3)?;
    if ctx.scale == Scale::Smoke {
        config.tests[0].duration = 2.0;
        config.tests[1].duration = 12.0;
        exp = ebn_network::Experiment::build(&config)?;
    }
    let rec = exp.run_test(&mut net, 0)?;
    ctx.write("test_autonomous.csv", &traces_csv(&rec))?;
    ctx.write("spikes_autonomous.csv", &spikes_csv(&rec))?;
    let mut measures = Vec::new();
    for (_, m) in exp.analyse(0, &rec) {
        measures.extend(m?);
    }
    let get = |key: &str| -> Result<f64> {
        measures.iter().find(|(k, _)| k == key).map(|(_, v)| *v).with_context(|| format!("no measure `{key}`"))
    };

    // The first SHORT seconds, all three components.
    let k_short = rec.times.iter().position(|t| *t > SHORT).unwrap_or(rec.times.len());
    let short = Recording {
        times: rec.times[..k_short].to_vec(),
        x: truncated(&rec.x, k_short),
        x_hat: truncated(&rec.x_hat, k_short),
        ..Recording::default()
    };
    // The whole run, x only.
    let stride = (rec.times.len() / 4000).max(1);
    let x_only = |tr: &ebn_network::core::Trace| -> Vec<(f64, f64)> {
        rec.times.iter().enumerate().step_by(stride).map(|(s, t)| (*t, tr.sample(s)[0])).collect()
    };
    let n = config.network.n;
    let figure = Figure {
        cols: 3,
        panels: vec![
            series::learning_curve_panel(&state.learning_curve),
            Labeled {
                title: format!("first {SHORT} s with no command, K = 0"),
                x: "time (s)".into(),
                y: "state (scaled units)".into(),
                panel: Panel::Lines {
                    series: series::teacher_and_network(&short, &["x", "y", "z"], 2000),
                    log_y: false,
                },
            },
            Labeled {
                title: format!(
                    "x over {:.0} s: lobe switches {} (teacher), {} (network)",
                    rec.duration,
                    get("lobe_switches_teacher")?,
                    get("lobe_switches_network")?
                ),
                x: "time (s)".into(),
                y: "x (scaled units)".into(),
                panel: Panel::Lines {
                    series: vec![
                        Series { name: "teacher".into(), points: x_only(&rec.x), color: INK, dashed: true },
                        Series {
                            name: "network".into(),
                            points: x_only(&rec.x_hat),
                            color: COMPONENT[0],
                            dashed: false,
                        },
                    ],
                    log_y: false,
                },
            },
            Labeled {
                title: "teacher attractor (x, z)".into(),
                x: "x (scaled units)".into(),
                y: "z (scaled units)".into(),
                panel: Panel::Lines {
                    series: vec![Series {
                        name: "teacher".into(),
                        points: projection(&rec, &rec.x, (0, 2), 6000),
                        color: INK,
                        dashed: false,
                    }],
                    log_y: false,
                },
            },
            Labeled {
                title: "network attractor (x_hat, z_hat)".into(),
                x: "x_hat (scaled units)".into(),
                y: "z_hat (scaled units)".into(),
                panel: Panel::Lines {
                    series: vec![Series {
                        name: "network".into(),
                        points: projection(&rec, &rec.x_hat, (0, 2), 6000),
                        color: COMPONENT[0],
                        dashed: false,
                    }],
                    log_y: false,
                },
            },
            Labeled {
                title: format!("spikes, {n} neurons"),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: series::raster(&rec), n: n as u32, t_max: rec.duration },
            },
        ],
    };
    render(&figure, &ctx.dir, "lorenz")?;
    let mut summary = serde_json::Map::new();
    for (k, v) in &measures {
        summary.insert(k.clone(), json!(v));
    }
    summary.insert("mean_rate_hz".into(), json!(analysis::mean_rate(&rec.spikes, rec.duration)?));
    // The long free run: the attractor's statistics against the teacher's over the same time.
    let long = exp.run_test(&mut net, 1)?;
    for (_, m) in exp.analyse(1, &long) {
        for (k, v) in m? {
            summary.insert(format!("long_{k}"), json!(v));
        }
    }
    Ok(Output { summary: Value::Object(summary), config: serde_json::to_value(&config)? })
}

/// The first `k` samples of a trace.
fn truncated(tr: &ebn_network::core::Trace, k: usize) -> ebn_network::core::Trace {
    ebn_network::core::Trace { dim: tr.dim, data: tr.data[..k * tr.dim].to_vec() }
}
