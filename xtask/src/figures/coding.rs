//! `coding`: a network with fixed, closed-form weights implementing the §9 oscillator.

use super::{Ctx, Output, Scale, Spec, series};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{ACCENT, COMPONENT, Figure, Labeled, Panel, Series, render};
use anyhow::Result;
use ebn_network::analysis;
use ebn_network::core::WeightForm;
use ebn_network::{Experiment, presets};
use serde_json::json;

pub const SPEC: Spec = Spec {
    id: "coding",
    description: "closed-form weights (no learning) implement the 2-D oscillator: x and x_hat, raster, voltages against thresholds, error at each spike",
    run,
};

fn run(ctx: &Ctx) -> Result<Output> {
    let duration = match ctx.scale {
        Scale::Paper => 3.0,
        Scale::Smoke => 0.5,
    };
    let mut config = presets::coding(ctx.seed, duration, WeightForm::Factored);
    config.record.every = 1;
    let mut exp = Experiment::build(&config)?;
    let mut net = exp.initial_network()?;
    let rec = exp.run_test(&mut net, 0)?;
    let thresholds = net.thresholds().to_vec();
    ctx.write("traces.csv", &traces_csv(&rec))?;
    ctx.write("spikes.csv", &spikes_csv(&rec))?;

    // C and D zoom on a 60 ms window during the command, sampled at every step: two
    // neurons' voltages ramp to threshold and reset; the squared error falls at each spike
    // (a spike is fired because it lowers the loss).
    let (w0, w1) = (0.1 * duration, 0.1 * duration + 0.06);
    let in_window = |t: &f64| (w0..w1).contains(t);
    let error: Vec<(f64, f64)> = rec
        .times
        .iter()
        .enumerate()
        .filter(|(_, t)| in_window(t))
        .map(|(k, t)| {
            let e: f64 = rec.x.sample(k).iter().zip(rec.x_hat.sample(k)).map(|(a, b)| (a - b).powi(2)).sum();
            (*t, e)
        })
        .collect();
    let mut loss_csv = String::from("t,squared_error\n");
    error.iter().for_each(|(t, e)| loss_csv.push_str(&format!("{t},{e}\n")));
    ctx.write("error_window.csv", &loss_csv)?;

    let voltages: Vec<Series> = rec
        .voltage_neurons
        .iter()
        .enumerate()
        .take(2)
        .flat_map(|(col, &i)| {
            let v = rec
                .times
                .iter()
                .enumerate()
                .filter(|(_, t)| in_window(t))
                .map(|(k, t)| (*t, rec.voltages.sample(k)[col]))
                .collect();
            let color = COMPONENT[(col + 2) % COMPONENT.len()];
            [
                Series { name: format!("V{i}"), points: v, color, dashed: false },
                Series {
                    name: format!("T{i}"),
                    points: vec![(w0, thresholds[i]), (w1, thresholds[i])],
                    color,
                    dashed: true,
                },
            ]
        })
        .collect();
    let figure = Figure {
        cols: 2,
        panels: vec![
            Labeled {
                title: "state: teacher (dashed) and network (solid)".into(),
                x: "time (s)".into(),
                y: "x".into(),
                panel: Panel::Lines { series: series::teacher_and_network(&rec, &["v", "p"], 3000), log_y: false },
            },
            Labeled {
                title: format!("spikes of all {} neurons", config.network.n),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: series::raster(&rec), n: config.network.n as u32, t_max: duration },
            },
            Labeled {
                title: "two voltages (solid) and thresholds (dashed), 60 ms".into(),
                x: "time (s)".into(),
                y: "V (units of x)".into(),
                panel: Panel::Lines { series: voltages, log_y: false },
            },
            Labeled {
                title: "squared error at every step, 60 ms".into(),
                x: "time (s)".into(),
                y: "||x - x_hat||^2".into(),
                panel: Panel::Lines {
                    series: vec![Series { name: "error".into(), points: error, color: ACCENT, dashed: false }],
                    log_y: false,
                },
            },
        ],
    };
    render(&figure, &ctx.dir, "coding")?;
    Ok(Output {
        summary: json!({
            "test_nrmse": analysis::nrmse(&rec.x, &rec.x_hat)?,
            "spikes_per_second": analysis::population_rate(&rec.spikes, rec.duration)?,
            "mean_rate_hz": analysis::mean_rate(&rec.spikes, rec.duration)?,
        }),
        config: serde_json::to_value(&config)?,
    })
}
