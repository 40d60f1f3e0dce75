//! `bistable`: learning dx/dt = 5 (x/4 - x^3) + c with a tanh basis of the decoded state.

use super::{Ctx, Output, Spec, series, train_example};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{ACCENT, Figure, INK, Labeled, Panel, Series, render};
use anyhow::Result;
use ebn_network::analysis;
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "bistable",
    description: "learning a bistable system (attractors at +-1/2), N = 50: learning curve, pulse test with K = 0, raster, learned vector field",
    run,
};

fn run(ctx: &Ctx) -> Result<Output> {
    let (config, mut exp, mut net, state) = train_example(ctx, include_str!("../../../examples/bistable.toml"), 3)?;
    let rec = exp.run_test(&mut net, 0)?;
    ctx.write("test.csv", &traces_csv(&rec))?;
    ctx.write("spikes.csv", &spikes_csv(&rec))?;

    // The learned vector field f_hat(x) = W Psi(x) - lambda x against the true f on [-1, 1].
    let grid: Vec<Vec<f64>> = (0..=200).map(|k| vec![-1.0 + 0.01 * k as f64]).collect();
    let learned = analysis::learned_vector_field(net.basis(), net.slow_weights(), config.network.lambda, &grid)?;
    let mut truth = vec![0.0];
    let teacher = exp.teacher().ok_or_else(|| anyhow::anyhow!("the bistable example has a [target]"))?;
    let mut field_csv = String::from("x,f_true,f_learned\n");
    let (mut true_pts, mut learned_pts) = (Vec::new(), Vec::new());
    for (x, f_hat) in grid.iter().zip(&learned) {
        teacher.vector_field(x, &mut truth);
        field_csv.push_str(&format!("{},{},{}\n", x[0], truth[0], f_hat[0]));
        true_pts.push((x[0], truth[0]));
        learned_pts.push((x[0], f_hat[0]));
    }
    ctx.write("vector_field.csv", &field_csv)?;

    let agreement = exp
        .analyse(0, &rec)
        .into_iter()
        .find(|(kind, _)| kind == "attractors")
        .map(|(_, m)| m)
        .transpose()?
        .and_then(|m| m.into_iter().find(|(k, _)| k == "attractor_agreement").map(|(_, v)| v));
    let figure = Figure {
        cols: 2,
        panels: vec![
            series::learning_curve_panel(&state.learning_curve),
            Labeled {
                title: "pulse test, K = 0: teacher (dashed), network (solid)".into(),
                x: "time (s)".into(),
                y: "x".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&rec, &["x"], 3000), log_y: false },
            },
            Labeled {
                title: format!("test spikes, {} neurons", config.network.n),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: series::raster(&rec), n: config.network.n as u32, t_max: rec.duration },
            },
            Labeled {
                title: "vector field: true (dashed), learned (solid)".into(),
                x: "x".into(),
                y: "dx/dt without command (1/s)".into(),
                panel: Panel::Lines {
                    series: vec![
                        Series { name: "f(x)".into(), points: true_pts, color: INK, dashed: true },
                        Series { name: "f_hat(x)".into(), points: learned_pts, color: ACCENT, dashed: false },
                    ],
                    log_y: false,
                },
            },
        ],
    };
    render(&figure, &ctx.dir, "bistable")?;
    Ok(Output {
        summary: json!({
            "test_nrmse": analysis::nrmse(&rec.x, &rec.x_hat)?,
            "attractor_agreement": agreement,
        }),
        config: serde_json::to_value(&config)?,
    })
}
