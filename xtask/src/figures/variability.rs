//! `variability`: spike statistics of a trained network over repeated trials of one test.
//!
//! The trained network of the `linear` figure (examples/linear.toml, N = 64) runs its driven
//! test 20 times with the same command and initial state; only the membrane noise
//! (sigma_V = 1e-3, docs/ROBUSTNESS.md)
//! differs (its stationary voltage SD, reported in the summary, is about twice the mean
//! threshold). The spikes vary from repeat to repeat, the readout barely does.

use super::{Ctx, Output, Scale, Spec, train_example};
use crate::plot::{COMPONENT, Figure, INK, Labeled, Panel, Series, render};
use crate::robustness::{FANO_WINDOW, variability};
use anyhow::Result;
use ebn_network::StoredWeights;
use ebn_network::analysis;
use serde_json::json;
use std::fmt::Write as _;

pub const SPEC: Spec = Spec {
    id: "variability",
    description: "spike statistics of the trained linear network over repeated trials: rasters, ISI CV, Fano factor, rates",
    run,
};

/// The constant command of the second protocol (units of x per second, on v): the training
/// command's standard deviation (600 x 0.05 = 30), held, so that x sits at the fixed point
/// -A^(-1) c and the neurons fire at constant rates. Project choice.
const CONSTANT_COMMAND: [f64; 2] = [30.0, 0.0];

/// Quantiles (10, 25, 50, 75, 90 %) of the defined per-neuron values: the distribution.
fn quantiles(p: &analysis::PerNeuron) -> serde_json::Value {
    let mut v: Vec<f64> = p.values.iter().flatten().copied().collect();
    v.sort_by(f64::total_cmp);
    let q = |f: f64| v.get(((v.len() - 1) as f64 * f).round() as usize).copied();
    json!({ "p10": q(0.1), "p25": q(0.25), "p50": q(0.5), "p75": q(0.75), "p90": q(0.9), "neurons": v.len() })
}

/// Membrane noise of the repeats (units of x per sqrt(s)); project choice, docs/ROBUSTNESS.md.
const SIGMA_V: f64 = 1e-3;

fn run(ctx: &Ctx) -> Result<Output> {
    let (config, _exp, net, _state) = train_example(ctx, include_str!("../../../examples/linear.toml"), 4)?;
    let repeats = if ctx.scale == Scale::Paper { 20 } else { 4 };
    let weights = StoredWeights::from_weights(net.slow_weights());
    let mean_threshold = net.thresholds().iter().sum::<f64>() / net.thresholds().len() as f64;
    let lambda_v: f64 = config
        .network
        .ebn_neuron()
        .ok_or_else(|| anyhow::anyhow!("the variability figure runs the EBN neuron"))?
        .lambda_v;
    let v_sd = SIGMA_V / (2.0 * lambda_v).sqrt();
    let v = variability(ebn_network::builtins(), &config, &weights, SIGMA_V, repeats)?;
    // The same network under a constant command (no rate modulation): what is left of the
    // variability is irregularity, not the command's bursts.
    let mut constant = config.clone();
    let test = &mut constant.tests[0];
    test.command =
        Some(ebn_network::Spec::tagged(&ebn_network::dynamics::CommandConfig::Pulses(ebn_network::dynamics::Pulses {
            pulses: vec![ebn_network::dynamics::Pulse {
                start: 0.0,
                duration: test.duration,
                amplitude: CONSTANT_COMMAND.to_vec(),
            }],
        })));
    let c = variability(ebn_network::builtins(), &constant, &weights, SIGMA_V, repeats)?;
    let n = config.network.n;
    let first = &v.recs[0];

    // Data: per-neuron statistics, every repeat's spikes and readout.
    let mut per_neuron = String::from(
        "neuron,rate_hz,isi_cv,isi_cv2,fano,constant_rate_hz,constant_isi_cv,constant_isi_cv2,constant_fano\n",
    );
    for i in 0..n {
        let opt = |o: Option<f64>| o.map_or(String::new(), |x| x.to_string());
        let _ = writeln!(
            per_neuron,
            "{i},{},{},{},{},{},{},{},{}",
            v.rates[i],
            opt(v.cv.values[i]),
            opt(v.cv2.values[i]),
            opt(v.fano.values[i]),
            c.rates[i],
            opt(c.cv.values[i]),
            opt(c.cv2.values[i]),
            opt(c.fano.values[i])
        );
    }
    ctx.write("per_neuron.csv", &per_neuron)?;
    let mut spikes = String::from("repeat,t,neuron\n");
    for (k, rec) in v.recs.iter().enumerate() {
        for (t, i) in rec.spikes.times.iter().zip(&rec.spikes.neurons) {
            let _ = writeln!(spikes, "{k},{t},{i}");
        }
    }
    ctx.write("spikes_repeats.csv", &spikes)?;
    let mut readouts = String::from("t,x0");
    for k in 0..v.recs.len() {
        let _ = write!(readouts, ",x_hat0_repeat{k}");
    }
    readouts.push('\n');
    for (s, t) in first.times.iter().enumerate() {
        let _ = write!(readouts, "{t},{}", first.x.sample(s)[0]);
        for rec in &v.recs {
            let _ = write!(readouts, ",{}", rec.x_hat.sample(s)[0]);
        }
        readouts.push('\n');
    }
    ctx.write("readout_repeats.csv", &readouts)?;

    // The most active neuron of the first repeat, across repeats.
    let busiest = (0..n).max_by(|&a, &b| v.rates[a].total_cmp(&v.rates[b])).unwrap_or(0);
    let one_neuron: Vec<(f64, u32)> = v
        .recs
        .iter()
        .enumerate()
        .flat_map(|(k, rec)| {
            rec.spikes
                .times
                .iter()
                .zip(&rec.spikes.neurons)
                .filter(move |(_, i)| **i as usize == busiest)
                .map(move |(t, _)| (*t, k as u32))
        })
        .collect();
    let stride = (first.times.len() / 3000).max(1);
    let mut lines = vec![Series {
        name: "teacher".into(),
        points: first.times.iter().enumerate().step_by(stride).map(|(s, t)| (*t, first.x.sample(s)[0])).collect(),
        color: INK,
        dashed: true,
    }];
    for (k, rec) in v.recs.iter().enumerate() {
        lines.push(Series {
            name: if k == 0 { format!("network, {} repeats", v.recs.len()) } else { String::new() },
            points: rec.times.iter().enumerate().step_by(stride).map(|(s, t)| (*t, rec.x_hat.sample(s)[0])).collect(),
            color: COMPONENT[0],
            dashed: false,
        });
    }
    let finite = |p: &analysis::PerNeuron| p.values.iter().flatten().copied().collect::<Vec<f64>>();
    let mean_rate = analysis::mean_rate(&first.spikes, first.duration)?;
    let figure = Figure {
        cols: 4,
        panels: vec![
            Labeled {
                title: format!("readout v of {} repeats, same command", v.recs.len()),
                x: "time (s)".into(),
                y: "v".into(),
                panel: Panel::Lines { series: lines, log_y: false },
            },
            Labeled {
                title: format!("neuron {busiest} (most active) in each repeat"),
                x: "time (s)".into(),
                y: "repeat".into(),
                panel: Panel::Raster { spikes: one_neuron, n: v.recs.len() as u32, t_max: first.duration },
            },
            Labeled {
                title: format!("all {n} neurons, repeat 1"),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: super::series::raster(first), n: n as u32, t_max: first.duration },
            },
            Labeled {
                title: format!("ISI CV per neuron (median {:.2})", v.cv.median),
                x: "coefficient of variation of ISIs".into(),
                y: "neurons".into(),
                panel: Panel::Histogram {
                    values: finite(&v.cv),
                    bins: 20,
                    reference: Some((1.0, "Poisson (1)".into())),
                },
            },
            Labeled {
                title: format!("ISI CV2 per neuron (median {:.2}; constant command {:.2})", v.cv2.median, c.cv2.median),
                x: "local irregularity CV2 (Holt et al. 1996)".into(),
                y: "neurons".into(),
                panel: Panel::Histogram {
                    values: finite(&v.cv2),
                    bins: 20,
                    reference: Some((1.0, "Poisson (1)".into())),
                },
            },
            Labeled {
                title: format!("Fano factor, {:.0} ms counts (median {:.2})", FANO_WINDOW * 1e3, v.fano.median),
                x: "variance / mean of the spike count".into(),
                y: "neurons".into(),
                panel: Panel::Histogram {
                    values: finite(&v.fano),
                    bins: 20,
                    reference: Some((1.0, "Poisson (1)".into())),
                },
            },
            Labeled {
                title: format!("firing rates (mean {mean_rate:.1} Hz)"),
                x: "rate (Hz)".into(),
                y: "neurons".into(),
                panel: Panel::Histogram { values: v.rates.clone(), bins: 20, reference: None },
            },
        ],
    };
    render(&figure, &ctx.dir, "variability")?;
    Ok(Output {
        summary: json!({
            "median_isi_cv": v.cv.median,
            "median_isi_cv2": v.cv2.median,
            "median_fano": v.fano.median,
            "isi_cv_quantiles": quantiles(&v.cv),
            "isi_cv2_quantiles": quantiles(&v.cv2),
            "fano_quantiles": quantiles(&v.fano),
            "constant_command": {
                "command": CONSTANT_COMMAND,
                "median_isi_cv": c.cv.median,
                "median_isi_cv2": c.cv2.median,
                "median_fano": c.fano.median,
                "isi_cv_quantiles": quantiles(&c.cv),
                "isi_cv2_quantiles": quantiles(&c.cv2),
                "fano_quantiles": quantiles(&c.fano),
                "mean_rate_hz": analysis::mean_rate(&c.recs[0].spikes, c.recs[0].duration)?,
            },
            "mean_rate_hz": mean_rate,
            "readout_trial_to_trial_sd": v.readout_sd_rel,
            "readout_trial_to_trial_sd_abs": v.readout_sd,
            "isi_cv_excluded_neurons": v.cv.excluded,
            "fano_excluded_neurons": v.fano.excluded,
            "repeats": v.recs.len(),
            "sigma_v": SIGMA_V,
            "voltage_noise_sd_over_threshold": v_sd / mean_threshold,
            "fano_window_s": FANO_WINDOW,
        }),
        config: serde_json::to_value(&config)?,
    })
}
