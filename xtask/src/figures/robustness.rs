//! `robustness`: test error of trained networks against the fraction of neurons silenced and
//! against membrane noise, and a test in which half of the neurons die mid-run.
//!
//! Two trained networks learn the §9 oscillator: the `linear` figure's (N = 64,
//! examples/linear.toml) and one built to survive neuron loss (N = 512 with the decoder scale
//! and spike costs of the 64-neuron network, examples/linear_robust.toml; docs/ROBUSTNESS.md
//! explains the choice). Silenced sets are drawn at random, 5 per fraction, and the error is
//! their mean.

use super::{Ctx, Output, Spec, example, train};
use crate::output::{spikes_csv, traces_csv};
use crate::plot::{ACCENT, COMPONENT, Figure, Labeled, Panel, Series, render};
use crate::robustness::{DRAWS, FRACTIONS, NOISE, loss_sweep, noise_sweep};
use anyhow::Result;
use ebn_network::core::{Recording, SeedStreams, Stream};
use ebn_network::dynamics::CommandConfig;
use ebn_network::perturb::PerturbationConfig;
use ebn_network::{Experiment, ExperimentConfig, StoredWeights, analysis};
use serde_json::json;
use std::fmt::Write as _;

pub const SPEC: Spec = Spec {
    id: "robustness",
    description: "test error against the fraction of neurons silenced and against membrane noise; half the neurons die mid-run",
    run,
};

/// When half of the neurons die in the example trace (s into the 3 s test).
const DEATH_AT: f64 = 1.5;
/// Time allowed for the readout to settle after a perturbation before the error is measured (s).
const SETTLE: f64 = 0.2;

struct Trained {
    label: &'static str,
    config: ExperimentConfig,
    weights: StoredWeights,
}

fn trained(ctx: &Ctx, label: &'static str, toml: &str) -> Result<Trained> {
    let config = example(ctx, toml, 4)?;
    let (_, net, _) = train(ctx, &config)?;
    Ok(Trained { label, config, weights: StoredWeights::from_weights(net.slow_weights()) })
}

/// NRMSE over the samples with time in [t0, t1), normalised by the SD of x over the whole
/// recording (so that windows of one recording are comparable).
fn window_nrmse(rec: &Recording, t0: f64, t1: f64) -> Result<f64> {
    let sd = analysis::pooled_std(&rec.x)?;
    let (mut sum, mut count) = (0.0, 0usize);
    for (k, t) in rec.times.iter().enumerate() {
        if (t0..t1).contains(t) {
            sum += rec.x.sample(k).iter().zip(rec.x_hat.sample(k)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
            count += rec.x.dim;
        }
    }
    anyhow::ensure!(count > 0, "no samples in [{t0}, {t1})");
    Ok((sum / count as f64).sqrt() / sd)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn run(ctx: &Ctx) -> Result<Output> {
    let nets = [
        trained(ctx, "N = 512", include_str!("../../../examples/linear_robust.toml"))?,
        trained(ctx, "N = 64", include_str!("../../../examples/linear.toml"))?,
    ];
    let mut loss = Vec::new();
    let mut noise = Vec::new();
    for t in &nets {
        loss.push(loss_sweep(ebn_network::builtins(), &t.config, &t.weights, &FRACTIONS, DRAWS)?);
        noise.push(noise_sweep(ebn_network::builtins(), &t.config, &t.weights, &NOISE)?);
    }
    let loss_means: Vec<Vec<f64>> = loss.iter().map(|l| l.iter().map(|d| mean(d)).collect()).collect();

    // Half of the robust network's neurons (a random half) die mid-test; the command stays
    // on for the whole test, so that the error before and after is measured under drive.
    let robust = &nets[0];
    let mut death_config = robust.config.clone();
    if let Some(command) = &mut death_config.tests[0].command
        && let Ok(CommandConfig::FilteredNoise(mut f)) = command.parse_tagged::<CommandConfig>("test[0].command")
    {
        f.windows = vec![[0.0, 1.0]];
        *command = CommandConfig::FilteredNoise(f).into();
    }
    let mut exp = Experiment::build(&death_config)?;
    let mut net = exp.network_with(robust.weights.to_weights()?)?;
    let rng = SeedStreams::new(robust.config.seed).indexed(Stream::Perturbation, DRAWS);
    net.add_perturbation(PerturbationConfig::KillFraction { fraction: 0.5, at: DEATH_AT }.build(net.decoder(), rng)?);
    let death = exp.run_test(&mut net, 0)?;
    let before = window_nrmse(&death, SETTLE, DEATH_AT)?;
    let after = window_nrmse(&death, DEATH_AT + SETTLE, death.duration + 1.0)?;
    ctx.write("half_die_trace.csv", &traces_csv(&death))?;
    ctx.write("half_die_spikes.csv", &spikes_csv(&death))?;

    let mut csv = String::from("network,fraction_killed,draw,nrmse\n");
    for (t, l) in nets.iter().zip(&loss) {
        for (f, draws) in FRACTIONS.iter().zip(l) {
            for (d, e) in draws.iter().enumerate() {
                let _ = writeln!(csv, "{},{f},{d},{e}", t.label);
            }
        }
    }
    ctx.write("nrmse_by_fraction_killed.csv", &csv)?;
    let mut csv = String::from("network,sigma_v,nrmse\n");
    for (t, e) in nets.iter().zip(&noise) {
        for (s, e) in NOISE.iter().zip(e) {
            let _ = writeln!(csv, "{},{s},{e}", t.label);
        }
    }
    ctx.write("nrmse_by_noise.csv", &csv)?;

    let colors = [COMPONENT[0], COMPONENT[1]];
    let loss_series = nets
        .iter()
        .zip(&loss_means)
        .zip(colors)
        .map(|((t, m), color)| Series {
            name: t.label.into(),
            points: FRACTIONS.iter().map(|f| f * 100.0).zip(m.iter().copied()).collect(),
            color,
            dashed: false,
        })
        .collect();
    // Noise on a log axis: sigma = 0 is drawn as a dashed level per network.
    let mut noise_series = Vec::new();
    let (lo, hi) = (NOISE[1].log10(), NOISE[NOISE.len() - 1].log10());
    for ((t, e), color) in nets.iter().zip(&noise).zip(colors) {
        noise_series.push(Series {
            name: t.label.into(),
            points: NOISE.iter().zip(e).skip(1).map(|(s, e)| (s.log10(), *e)).collect(),
            color,
            dashed: false,
        });
        noise_series.push(Series {
            name: format!("{}, no noise", t.label),
            points: vec![(lo, e[0]), (hi, e[0])],
            color,
            dashed: true,
        });
    }
    let mut trace = super::series::teacher_and_network(&death, &["v", "p"], 3000);
    let (y0, y1) = death
        .x
        .data
        .iter()
        .chain(&death.x_hat.data)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    trace.push(Series {
        name: "half the neurons die".into(),
        points: vec![(DEATH_AT, y0), (DEATH_AT, y1)],
        color: ACCENT,
        dashed: false,
    });
    let n = robust.config.network.n;
    let figure = Figure {
        cols: 2,
        panels: vec![
            Labeled {
                title: format!("neuron loss (mean of {DRAWS} random sets)"),
                x: "neurons silenced (%)".into(),
                y: "test NRMSE".into(),
                panel: Panel::Lines { series: loss_series, log_y: true },
            },
            Labeled {
                title: "membrane noise".into(),
                x: "log10 sigma_V (x units / sqrt(s))".into(),
                y: "test NRMSE".into(),
                panel: Panel::Lines { series: noise_series, log_y: true },
            },
            Labeled {
                title: format!("N = {n}, driven: half die at {DEATH_AT} s (NRMSE {before:.3} -> {after:.3})"),
                x: "time (s)".into(),
                y: "x".into(),
                panel: Panel::Lines { series: trace, log_y: false },
            },
            Labeled {
                title: format!("spikes, N = {n}"),
                x: "time (s)".into(),
                y: "neuron".into(),
                panel: Panel::Raster { spikes: super::series::raster(&death), n: n as u32, t_max: death.duration },
            },
        ],
    };
    render(&figure, &ctx.dir, "robustness")?;
    Ok(Output {
        summary: json!({
            "fractions_killed": FRACTIONS,
            "nrmse_by_fraction_killed": loss_means[0],
            "nrmse_by_fraction_killed_n64": loss_means[1],
            "sigma_v": NOISE,
            "nrmse_by_noise": noise[0],
            "nrmse_by_noise_n64": noise[1],
            "half_die_nrmse_before": before,
            "half_die_nrmse_after": after,
        }),
        config: json!({
            "robust": serde_json::to_value(&nets[0].config)?,
            "n64": serde_json::to_value(&nets[1].config)?,
            "half_die_test": serde_json::to_value(&death_config.tests[0])?,
            "death_at_s": DEATH_AT,
            "settle_s": SETTLE,
            "draws_per_fraction": DRAWS,
        }),
    })
}
