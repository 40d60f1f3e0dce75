//! `pendulum`: learning a damped pendulum (angle and angular velocity, command on the velocity).

use super::{Ctx, Output, Spec, series, train_example};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{Figure, Labeled, Panel, render};
use anyhow::Result;
use ebn_network::analysis;
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "pendulum",
    description: "learning a damped pendulum, N = 100: learning curve, driven test and free swing with K = 0, phase portrait, raster",
    run,
};

fn run(ctx: &Ctx) -> Result<Output> {
    let (config, mut exp, mut net, state) = train_example(ctx, include_str!("../../../examples/pendulum.toml"), 3)?;
    let driven = exp.run_test(&mut net, 0)?;
    let swing = exp.run_test(&mut net, 1)?;
    ctx.write("test_driven.csv", &traces_csv(&driven))?;
    ctx.write("test_free_swing.csv", &traces_csv(&swing))?;
    ctx.write("spikes_driven.csv", &spikes_csv(&driven))?;
    let names = ["theta / 2 rad", "omega / 12 rad/s"];
    let figure = Figure {
        cols: 3,
        panels: vec![
            series::learning_curve_panel(&state.learning_curve),
            Labeled {
                title: "driven test, K = 0".into(),
                x: "time (s)".into(),
                y: "state (scaled units)".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&driven, &names, 3000), log_y: false },
            },
            Labeled {
                title: "free swing from 2 rad, K = 0".into(),
                x: "time (s)".into(),
                y: "state (scaled units)".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&swing, &names, 3000), log_y: false },
            },
            Labeled {
                title: "phase portrait of the free swing".into(),
                x: "theta / 2 rad".into(),
                y: "omega / 12 rad/s".into(),
                panel: Panel::Lines { series: series::phase(&swing, 3000), log_y: false },
            },
            Labeled {
                title: format!("driven-test spikes, {} neurons", config.network.n),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster {
                    spikes: series::raster(&driven),
                    n: config.network.n as u32,
                    t_max: driven.duration,
                },
            },
        ],
    };
    render(&figure, &ctx.dir, "pendulum")?;
    Ok(Output {
        summary: json!({
            "test_nrmse": analysis::nrmse(&driven.x, &driven.x_hat)?,
            "free_swing_nrmse": analysis::nrmse(&swing.x, &swing.x_hat)?,
        }),
        config: serde_json::to_value(&config)?,
    })
}
