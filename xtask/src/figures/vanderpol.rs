//! `vanderpol`: a learned limit cycle kept with no command, from the cycle and from inside it.

use super::{Ctx, Output, Spec, series, train_example};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{Figure, Labeled, Panel, render};
use anyhow::{Context, Result};
use ebn_network::analysis::{self, TestAnalysis};
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "vanderpol",
    description: "a learned van der Pol limit cycle kept with no command, from the cycle and from inside: traces, phase plane, raster",
    run,
};

/// Period and amplitude errors of one test (relative to the teacher's).
fn cycle_errors(rec: &ebn_network::core::Recording, analyses: &[ebn_network::Spec]) -> Result<(f64, f64)> {
    let a = analyses.iter().find(|a| a.kind == "limit_cycle").context("no limit_cycle analysis")?;
    let m = analysis::analyse(&a.parse_tagged::<TestAnalysis>("analyses")?, rec)?;
    let get = |key: &str| m.iter().find(|(k, _)| k == key).map(|(_, v)| *v).context("missing measure");
    Ok((get("period_error")?, get("amplitude_error")?))
}

fn run(ctx: &Ctx) -> Result<Output> {
    let (config, mut exp, mut net, state) = train_example(ctx, include_str!("../../../examples/vanderpol.toml"), 3)?;
    let on_cycle = exp.run_test(&mut net, 0)?;
    let inside = exp.run_test(&mut net, 1)?;
    ctx.write("test_from_cycle.csv", &traces_csv(&on_cycle))?;
    ctx.write("test_from_inside.csv", &traces_csv(&inside))?;
    ctx.write("spikes_from_cycle.csv", &spikes_csv(&on_cycle))?;
    let (p1, a1) = cycle_errors(&on_cycle, &config.tests[0].analyses)?;
    let (p2, a2) = cycle_errors(&inside, &config.tests[1].analyses)?;
    // The y amplitude (the example analyses y too; computed here with the same transient).
    let y_cycle = [TestAnalysis::LimitCycle { component: 1, skip: 4.0 }.into()];
    let (_, ay1) = cycle_errors(&on_cycle, &y_cycle)?;
    let (_, ay2) = cycle_errors(&inside, &y_cycle)?;
    let names = ["x / 2", "y / 2"];
    let figure = Figure {
        cols: 3,
        panels: vec![
            series::learning_curve_panel(&state.learning_curve),
            Labeled {
                title: "no command, from the cycle, K = 0".into(),
                x: "time (s)".into(),
                y: "state (scaled units)".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&on_cycle, &names, 3000), log_y: false },
            },
            Labeled {
                title: "no command, from inside, K = 0".into(),
                x: "time (s)".into(),
                y: "state (scaled units)".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&inside, &names, 3000), log_y: false },
            },
            Labeled {
                title: "phase plane, from inside".into(),
                x: "x / 2".into(),
                y: "y / 2".into(),
                panel: Panel::Lines { series: series::phase(&inside, 4000), log_y: false },
            },
            Labeled {
                title: format!("spikes from the cycle, {} neurons", config.network.n),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster {
                    spikes: series::raster(&on_cycle),
                    n: config.network.n as u32,
                    t_max: on_cycle.duration,
                },
            },
        ],
    };
    render(&figure, &ctx.dir, "vanderpol")?;
    Ok(Output {
        summary: json!({
            "period_error": [p1, p2],
            "amplitude_error": [a1, a2],
            "amplitude_error_y": [ay1, ay2],
            "mean_rate_hz": analysis::mean_rate(&on_cycle.spikes, on_cycle.duration)?,
        }),
        config: serde_json::to_value(&config)?,
    })
}
