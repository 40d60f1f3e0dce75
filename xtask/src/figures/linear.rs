//! `linear`: learning the §9 oscillator with the identity basis.

use super::{Ctx, Output, Spec, series, train_example};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{Figure, Labeled, Panel, render};
use anyhow::Result;
use ebn_network::analysis;
use ebn_network::core::{SlowWeights, WeightForm};
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "linear",
    description: "learning the authors' damped oscillator (identity basis): learning curve, test with K = 0, raster, learned against closed-form weights",
    run,
};

fn run(ctx: &Ctx) -> Result<Output> {
    let (config, mut exp, mut net, state) = train_example(ctx, include_str!("../../../examples/linear.toml"), 4)?;
    let rec = exp.run_test(&mut net, 0)?;
    ctx.write("test.csv", &traces_csv(&rec))?;
    ctx.write("spikes.csv", &spikes_csv(&rec))?;

    let d = net.decoder();
    let SlowWeights::Dense(ideal) = exp.closed_form_weights(&net, WeightForm::Dense)? else {
        unreachable!("asked for the dense form")
    };
    let learned = net.slow_weights().synaptic(d);
    let flat =
        |m: &ebn_network::core::Mat<f64>| (0..m.ncols()).flat_map(|c| m.col_as_slice(c).to_vec()).collect::<Vec<f64>>();
    let (ideal, learned) = (flat(&ideal), flat(&learned));
    let mut weights_csv = String::from("closed_form,learned\n");
    ideal.iter().zip(&learned).for_each(|(i, l)| weights_csv.push_str(&format!("{i},{l}\n")));
    ctx.write("weights.csv", &weights_csv)?;
    let figure = Figure {
        cols: 2,
        panels: vec![
            series::learning_curve_panel(&state.learning_curve),
            Labeled {
                title: "test, K = 0: teacher (dashed), network (solid)".into(),
                x: "time (s)".into(),
                y: "x".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&rec, &["v", "p"], 3000), log_y: false },
            },
            Labeled {
                title: format!("test spikes, {} neurons", config.network.n),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: series::raster(&rec), n: config.network.n as u32, t_max: rec.duration },
            },
            Labeled {
                title: "learned against closed-form Omega_s".into(),
                x: "D^T (A + lambda I) D".into(),
                y: "learned Omega_s".into(),
                panel: Panel::Scatter { points: ideal.iter().copied().zip(learned.iter().copied()).collect() },
            },
        ],
    };
    render(&figure, &ctx.dir, "linear")?;
    Ok(Output {
        summary: json!({
            "test_nrmse": analysis::nrmse(&rec.x, &rec.x_hat)?,
            "weight_correlation": analysis::correlation(&learned, &ideal)?,
            "first_trial_error": state.learning_curve.first(),
            "last_trial_error": state.learning_curve.last(),
        }),
        config: serde_json::to_value(&config)?,
    })
}
