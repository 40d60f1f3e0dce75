//! `rules`: the learning rules side by side (beyond the paper, docs/FIGURES.md; results in
//! docs/RULES.md): the paper's local rule, its four robust-adaptive-control variants,
//! recursive least squares (FORCE, the non-local baseline) and the paper's rule without error
//! feedback during training.
//!
//! **Table.** Each rule replaces the rule of three example files (linear oscillator,
//! bistable system, van der Pol; everything else kept, annealing included) and is trained
//! and tested like the example: the first test's NRMSE, van der Pol's period error, and the
//! simulated training time until the learning curve (5-trial running mean) first comes
//! within 2x of its final value (mean of the last 10 % of the trials).
//!
//! **Drift.** Van der Pol and Lorenz trained for 3x their shipped number of trials with no
//! annealing (annealing is the protocol's own cure for drift, so it is left out), tested
//! every quarter of the shipped training (van der Pol: RMSE over the first 2 s of the free
//! run from the cycle, relative to the teacher's std, and the period error; Lorenz: the
//! 0.25 s horizon error), with ||W||_F recorded. The drift ratios compare the median of the
//! four tests of the last third with that of the first third (one test alone swings by 10x
//! from one checkpoint to the next), and the learning curve's mean over the last 10 % of the
//! shipped trials before 3x and before 1x.
//!
//! **Parameters of the variants** (project choices, docs/RULES.md), all derived from the
//! paper rule's own run of the same experiment (its shipped training for the table, its
//! first 1x for the drift runs), so that they follow the system's scale and the seed:
//! - sigma-modification: sigma = 0.4 / T (T the shipped training time): an unreinforced
//!   weight decays by e^-0.4 over the shipped training;
//! - e-modification: sigma_e = sigma / e_rms, with e_rms the paper rule's RMS training error
//!   at the end (same leak as sigma-modification at that error, less below it);
//! - dead zone: e_0 = e_rms / 2;
//! - projection: bound = 1.2 ||W||_F of the paper rule (||W*|| known within 20 %);
//! - RLS: gamma = 1 and the regressor filtered at lambda + K (each update the exact
//!   least-squares step of the linearised error model), alpha = 0.1 (P(0) = 10 I), one update
//!   per step (at the same N and N_b as the local rule).

use super::{Ctx, Output, Scale, example, train};
use crate::plot::{ACCENT, COMPONENT, Figure, INK, Labeled, Panel, Series, render};
use anyhow::{Context, Result};
use ebn_network::plasticity::RuleConfig;
use ebn_network::{Experiment, ExperimentConfig, Network, Spec, TrainingState, analysis};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::fmt::Write as _;

pub const SPEC: super::Spec = super::Spec {
    id: "rules",
    description: "local rule, robust variants, RLS/FORCE and learning without feedback on three systems; drift over 3x training on van der Pol and Lorenz",
    run,
};

const SYSTEMS: [(&str, &str); 3] = [
    ("linear", include_str!("../../../examples/linear.toml")),
    ("bistable", include_str!("../../../examples/bistable.toml")),
    ("vanderpol", include_str!("../../../examples/vanderpol.toml")),
];

const LORENZ: &str = include_str!("../../../examples/lorenz.toml");

/// The rules compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Local,
    Sigma,
    EMod,
    DeadZone,
    Projection,
    Rls,
    NoFeedback,
}

/// (rule, label, kind in files, what each synapse reads, short label for bar groups).
const RULES: [(Rule, &str, &str, &str, &str); 7] = [
    (Rule::Local, "local (paper)", "local", "local: own feedback (D^T e)_i x presynaptic Psi_j", "local"),
    (Rule::Sigma, "sigma-modification", "local_sigma", "local: as the paper's, plus its own weight", "sigma"),
    (Rule::EMod, "e-modification", "local_e_mod", "local + one broadcast scalar ||e||", "e-mod"),
    (Rule::DeadZone, "dead zone", "local_dead_zone", "local + one broadcast scalar ||e||", "dead zone"),
    (Rule::Projection, "projection", "local_projection", "local + one broadcast scalar ||W||", "projection"),
    (
        Rule::Rls,
        "RLS / FORCE",
        "rls",
        "non-local: (P Psi)_j mixes all N_b inputs through the N_b x N_b matrix P",
        "RLS",
    ),
    (Rule::NoFeedback, "local, K = 0 in training", "local", "local (no error feedback into the network)", "K = 0"),
];

/// The rules of the drift runs: the paper's and its robust variants.
const DRIFT_RULES: [Rule; 5] = [Rule::Local, Rule::Sigma, Rule::EMod, Rule::DeadZone, Rule::Projection];

/// Multiple of the shipped training in the drift runs, and test points per shipped training.
const DRIFT_TIMES: usize = 3;
const TESTS_PER_X: usize = 4;

fn label(rule: Rule) -> &'static str {
    RULES.iter().find(|r| r.0 == rule).map_or("?", |r| r.1)
}

/// What the variants' parameters are scaled by, measured on the paper rule's run.
#[derive(Debug, Clone, Copy)]
struct Reference {
    /// RMS training error at the end: sqrt(final normalised error x mean ||x||^2).
    e_rms: f64,
    /// ||W||_F of the paper rule.
    w_norm: f64,
}

fn eta_of(config: &ExperimentConfig) -> Result<f64> {
    match config.network.rule.parse_tagged::<RuleConfig>("network.rule")? {
        RuleConfig::Local { eta } => Ok(eta),
        other => anyhow::bail!("the examples use the local rule, not {other:?}"),
    }
}

/// Shipped training time (s) of an example.
fn training_time(config: &ExperimentConfig) -> f64 {
    config.training.as_ref().map_or(0.0, |t| t.trials as f64 * t.trial_duration)
}

/// `config` (an example) with `rule` in place of its rule; `t_ship` is the shipped training
/// time the leak is scaled to.
fn with_rule(
    config: &ExperimentConfig,
    rule: Rule,
    reference: Option<Reference>,
    t_ship: f64,
) -> Result<ExperimentConfig> {
    let mut config = config.clone();
    let eta = eta_of(&config)?;
    let sigma = 0.4 / t_ship;
    let reference = || reference.context("the variant needs the paper rule's reference run");
    let spec: RuleConfig = match rule {
        Rule::Local | Rule::NoFeedback => RuleConfig::Local { eta },
        Rule::Sigma => RuleConfig::LocalSigma { eta, sigma },
        Rule::EMod => RuleConfig::LocalEMod { eta, sigma: sigma / reference()?.e_rms },
        Rule::DeadZone => RuleConfig::LocalDeadZone { eta, threshold: 0.5 * reference()?.e_rms },
        Rule::Projection => RuleConfig::LocalProjection { eta, bound: 1.2 * reference()?.w_norm },
        Rule::Rls => RuleConfig::Rls {
            gamma: 1.0,
            alpha: 0.1,
            forgetting: 0.0,
            every: 1,
            filter: config.network.lambda + config.network.feedback_gain,
        },
    };
    config.network.rule = spec.into();
    if rule == Rule::NoFeedback
        && let Some(t) = config.training.as_mut()
    {
        t.feedback_gain = Some(0.0);
    }
    Ok(config)
}

/// The reference of a trained paper-rule network: its final RMS error (over the last 10 %
/// of its trials, with mean ||x||^2 from the teacher of `rec`) and ||W||_F.
fn reference_of(curve: &[f64], net: &Network, x_ms: f64) -> Reference {
    Reference { e_rms: (final_error(curve) * x_ms).sqrt(), w_norm: w_norm(net) }
}

/// Mean ||x||^2 of a recording's teacher.
fn mean_square(rec: &ebn_network::core::Recording) -> f64 {
    let n = rec.times.len().max(1);
    (0..rec.times.len()).map(|k| rec.x.sample(k).iter().map(|v| v * v).sum::<f64>()).sum::<f64>() / n as f64
}

/// ||W||_F, W the factored slow weights (J x N_b).
fn w_norm(net: &Network) -> f64 {
    net.slow_weights().matrix().norm_l2()
}

/// Mean of the last 10 % of a learning curve (at least one trial).
fn final_error(curve: &[f64]) -> f64 {
    let k = (curve.len() / 10).max(1).min(curve.len());
    curve[curve.len() - k..].iter().sum::<f64>() / k as f64
}

/// Trials until the 5-trial running mean first comes within 2x of the final error.
fn trials_to_twice_final(curve: &[f64]) -> usize {
    let target = 2.0 * final_error(curve);
    (0..curve.len())
        .find(|&k| {
            let window = &curve[k.saturating_sub(4)..=k];
            window.iter().sum::<f64>() / window.len() as f64 <= target
        })
        .map_or(curve.len(), |k| k + 1)
}

/// One table entry.
struct Point {
    nrmse: f64,
    period_error: Option<f64>,
    curve: Vec<f64>,
    trial_duration: f64,
    reference: Reference,
}

fn system_config(ctx: &Ctx, s: usize) -> Result<ExperimentConfig> {
    let mut config = example(ctx, SYSTEMS[s].1, 3)?;
    config.tests.truncate(1);
    if ctx.scale == Scale::Smoke {
        config.tests[0].duration = config.tests[0].duration.min(3.0);
    }
    Ok(config)
}

fn table_point(ctx: &Ctx, rule: Rule, s: usize, reference: Option<Reference>) -> Result<Point> {
    let base = system_config(ctx, s)?;
    let config = with_rule(&base, rule, reference, training_time(&base))?;
    let (mut exp, mut net, state) = train(ctx, &config)?;
    let rec = exp.run_test(&mut net, 0)?;
    let measures: Vec<(String, f64)> = exp.analyse(0, &rec).into_iter().filter_map(|(_, r)| r.ok()).flatten().collect();
    let period_error = measures.iter().find(|(k, _)| k == "period_error_0").map(|(_, v)| *v);
    Ok(Point {
        nrmse: analysis::nrmse(&rec.x, &rec.x_hat)?,
        period_error,
        reference: reference_of(&state.learning_curve, &net, mean_square(&rec)),
        trial_duration: config.training.as_ref().map_or(0.0, |t| t.trial_duration),
        curve: state.learning_curve,
    })
}

/// A drift run in progress: 3x the shipped trials, no annealing, tested on the way.
struct Drift {
    system: &'static str,
    rule: Rule,
    exp: Experiment,
    net: Network,
    state: TrainingState,
    trials: usize,
    /// Shipped number of trials (1x).
    shipped: usize,
    trial_duration: f64,
    /// (trial, headline test error, second measure, ||W||_F).
    tests: Vec<(usize, f64, f64, f64)>,
    /// Mean ||x||^2 of the teacher in the last test.
    x_ms: f64,
}

/// The drift configuration of `system` ("vanderpol" or "lorenz") and the shipped trials.
fn drift_config(ctx: &Ctx, system: &str) -> Result<(ExperimentConfig, usize)> {
    let toml = if system == "lorenz" { LORENZ } else { SYSTEMS[2].1 };
    let mut config = example(ctx, toml, 2)?;
    config.tests.truncate(1);
    if system == "vanderpol" {
        config.tests[0].analyses.push(Spec::new("nrmse_horizon").with("horizon", 2.0).with("key", "nrmse_2s"));
    }
    let training = config.training.as_mut().context("a training section")?;
    let shipped = training.trials;
    training.trials = DRIFT_TIMES * shipped;
    training.anneal = None;
    if ctx.scale == Scale::Smoke {
        training.trial_duration = training.trial_duration.min(0.5);
        config.tests[0].duration = config.tests[0].duration.min(2.5);
    }
    Ok((config, shipped))
}

impl Drift {
    fn new(ctx: &Ctx, system: &'static str, rule: Rule, reference: Option<Reference>) -> Result<Self> {
        let (base, shipped) = drift_config(ctx, system)?;
        let trial_duration = base.training.as_ref().map_or(0.0, |t| t.trial_duration);
        let config = with_rule(&base, rule, reference, shipped as f64 * trial_duration)?;
        let exp = Experiment::build(&config)?;
        let net = exp.initial_network()?;
        let trials = DRIFT_TIMES * shipped;
        ctx.bar.inc_length(trials as u64);
        Ok(Self {
            system,
            rule,
            exp,
            net,
            state: TrainingState::default(),
            trials,
            shipped,
            trial_duration,
            tests: Vec::new(),
            x_ms: 0.0,
        })
    }

    /// Trains up to `until` trials, testing every shipped / TESTS_PER_X trials.
    fn advance(&mut self, ctx: &Ctx, until: usize) -> Result<()> {
        let every = (self.shipped / TESTS_PER_X).max(1);
        while self.state.trials_done < until.min(self.trials) {
            self.exp.train_trial(&mut self.net, &mut self.state)?;
            ctx.bar.inc(1);
            if self.state.trials_done.is_multiple_of(every) {
                self.test()?;
            }
        }
        Ok(())
    }

    fn test(&mut self) -> Result<()> {
        let rec = self.exp.run_test(&mut self.net, 0)?;
        let measures: Vec<(String, f64)> =
            self.exp.analyse(0, &rec).into_iter().filter_map(|(_, r)| r.ok()).flatten().collect();
        let get = |key: &str| measures.iter().find(|(k, _)| k == key).map_or(f64::NAN, |(_, v)| *v);
        let (main, second) = if self.system == "lorenz" {
            (get("nrmse_at_0p25s"), get("nrmse_at_1s"))
        } else {
            (get("nrmse_2s"), get("period_error_0"))
        };
        self.x_ms = mean_square(&rec);
        self.tests.push((self.state.trials_done, main, second, w_norm(&self.net)));
        Ok(())
    }

    fn reference(&self) -> Reference {
        reference_of(&self.state.learning_curve, &self.net, self.x_ms)
    }

    /// Mean of the 10 % of the shipped trials that end at trial `end`.
    fn curve_at(&self, end: usize) -> f64 {
        let k = (self.shipped / 10).max(1);
        let c = &self.state.learning_curve[end.saturating_sub(k)..end];
        c.iter().sum::<f64>() / c.len() as f64
    }

    /// The test error at trial `trial` (the test run there).
    fn test_at(&self, trial: usize) -> f64 {
        self.tests.iter().find(|t| t.0 == trial).map_or(f64::NAN, |t| t.1)
    }

    /// Median test error over the tests in trials (from, to]: one test is noisy (a free run
    /// from one state of a cycle or an attractor), the median of four is less so.
    fn test_median(&self, from: usize, to: usize) -> f64 {
        let mut v: Vec<f64> = self.tests.iter().filter(|t| t.0 > from && t.0 <= to).map(|t| t.1).collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
        }
    }
}

enum Job {
    Table(Rule, usize, Option<Reference>),
    Drift(&'static str, Rule, Option<Reference>),
    Continue(Box<Drift>),
}

enum Done {
    Table(Rule, usize, Point),
    Drift(Box<Drift>),
}

fn do_job(ctx: &Ctx, job: Job) -> Result<Done> {
    Ok(match job {
        Job::Table(rule, s, reference) => Done::Table(
            rule,
            s,
            table_point(ctx, rule, s, reference).with_context(|| format!("{} on {}", label(rule), SYSTEMS[s].0))?,
        ),
        Job::Drift(system, rule, reference) => {
            let mut drift = Drift::new(ctx, system, rule, reference)?;
            let all = drift.trials;
            drift.advance(ctx, all).with_context(|| format!("drift: {} on {system}", label(rule)))?;
            Done::Drift(Box::new(drift))
        }
        Job::Continue(mut drift) => {
            let all = drift.trials;
            drift.advance(ctx, all)?;
            Done::Drift(drift)
        }
    })
}

/// A running mean over `w` trials, as (simulated training time, value) points.
fn smoothed(curve: &[f64], w: usize, trial_duration: f64) -> Vec<(f64, f64)> {
    (0..curve.len())
        .map(|k| {
            let window = &curve[k.saturating_sub(w - 1)..=k];
            ((k + 1) as f64 * trial_duration, window.iter().sum::<f64>() / window.len() as f64)
        })
        .collect()
}

fn run(ctx: &Ctx) -> Result<Output> {
    let drift_systems: [&'static str; 2] = ["vanderpol", "lorenz"];
    // Stage 1: the paper rule, whose runs set the variants' parameters.
    let stage1: Vec<Job> = (0..SYSTEMS.len())
        .map(|s| Job::Table(Rule::Local, s, None))
        .chain(drift_systems.iter().map(|&system| Job::Drift(system, Rule::Local, None)))
        .collect();
    // The drift runs of stage 1 stop at 1x (their reference) and continue in stage 2.
    let stage1: Vec<Done> = stage1
        .into_par_iter()
        .map(|job| match job {
            Job::Drift(system, rule, reference) => {
                let mut drift = Drift::new(ctx, system, rule, reference)?;
                let shipped = drift.shipped;
                drift.advance(ctx, shipped).with_context(|| format!("drift: paper rule on {system}"))?;
                Ok(Done::Drift(Box::new(drift)))
            }
            other => do_job(ctx, other),
        })
        .collect::<Result<_>>()?;
    let mut table: Vec<(Rule, usize, Point)> = Vec::new();
    let mut drifts: Vec<Drift> = Vec::new();
    for done in stage1 {
        match done {
            Done::Table(r, s, p) => table.push((r, s, p)),
            Done::Drift(d) => drifts.push(*d),
        }
    }
    let table_reference: Vec<Reference> = (0..SYSTEMS.len())
        .map(|s| table.iter().find(|(r, ss, _)| *r == Rule::Local && *ss == s).map(|(_, _, p)| p.reference))
        .collect::<Option<_>>()
        .context("paper-rule table runs")?;
    let drift_reference: Vec<Reference> = drift_systems
        .iter()
        .map(|sys| drifts.iter().find(|d| d.system == *sys).map(Drift::reference))
        .collect::<Option<_>>()
        .context("paper-rule drift runs")?;

    // Stage 2: every other run, and the paper rule's drift runs to 3x.
    let mut stage2: Vec<Job> = drifts.drain(..).map(|d| Job::Continue(Box::new(d))).collect();
    for (i, &system) in drift_systems.iter().enumerate() {
        for &rule in &DRIFT_RULES[1..] {
            stage2.push(Job::Drift(system, rule, Some(drift_reference[i])));
        }
    }
    for (rule, ..) in RULES.iter().skip(1) {
        for s in 0..SYSTEMS.len() {
            stage2.push(Job::Table(*rule, s, Some(table_reference[s])));
        }
    }
    // Longest first, so that two workers finish together.
    stage2.sort_by_key(|j| match j {
        Job::Continue(d) if d.system == "lorenz" => 0,
        Job::Drift("lorenz", ..) => 0,
        Job::Continue(_) | Job::Drift(..) => 1,
        Job::Table(Rule::Rls, ..) => 2,
        Job::Table(..) => 3,
    });
    for done in stage2.into_par_iter().map(|job| do_job(ctx, job)).collect::<Result<Vec<_>>>()? {
        match done {
            Done::Table(r, s, p) => table.push((r, s, p)),
            Done::Drift(d) => drifts.push(*d),
        }
    }
    let rule_index = |rule: Rule| RULES.iter().position(|r| r.0 == rule).unwrap_or(usize::MAX);
    table.sort_by_key(|(r, s, _)| (rule_index(*r), *s));
    drifts.sort_by_key(|d| (d.system != "vanderpol", rule_index(d.rule)));
    let at = |rule: Rule, s: usize| table.iter().find(|(r, ss, _)| *r == rule && *ss == s).map(|(_, _, p)| p);

    // Data files.
    let mut csv = String::from(
        "rule,kind,system,test_nrmse,period_error,final_training_error,trials_to_2x_final,seconds_to_2x_final,synapse_reads\n",
    );
    for (rule, s, p) in &table {
        let meta = RULES[rule_index(*rule)];
        let k = trials_to_twice_final(&p.curve);
        let _ = writeln!(
            csv,
            "\"{}\",{},{},{},{},{},{},{},\"{}\"",
            meta.1,
            meta.2,
            SYSTEMS[*s].0,
            p.nrmse,
            p.period_error.map_or(String::new(), |v| v.to_string()),
            final_error(&p.curve),
            k,
            k as f64 * p.trial_duration,
            meta.3
        );
    }
    ctx.write("rules.csv", &csv)?;
    let mut curves = String::from("rule,system,trial,normalised_error\n");
    for (rule, s, p) in &table {
        for (k, e) in p.curve.iter().enumerate() {
            let _ = writeln!(curves, "\"{}\",{},{},{e}", label(*rule), SYSTEMS[*s].0, k + 1);
        }
    }
    ctx.write("learning_curves.csv", &curves)?;
    let mut drift_csv = String::from("system,rule,trial,training_seconds,test_error,second_measure,w_norm\n");
    let mut drift_curves = String::from("system,rule,trial,normalised_error\n");
    for d in &drifts {
        for (trial, main, second, w) in &d.tests {
            let _ = writeln!(
                drift_csv,
                "{},\"{}\",{trial},{},{main},{second},{w}",
                d.system,
                label(d.rule),
                *trial as f64 * d.trial_duration
            );
        }
        for (k, e) in d.state.learning_curve.iter().enumerate() {
            let _ = writeln!(drift_curves, "{},\"{}\",{},{e}", d.system, label(d.rule), k + 1);
        }
    }
    ctx.write("drift.csv", &drift_csv)?;
    ctx.write("drift_learning_curves.csv", &drift_curves)?;

    // Figure.
    let groups: Vec<String> = RULES.iter().map(|r| r.4.to_string()).collect();
    let bars = |f: &dyn Fn(&Point) -> f64| -> Vec<(String, Vec<f64>, plotters::style::RGBColor)> {
        SYSTEMS
            .iter()
            .enumerate()
            .map(|(s, (name, _))| {
                let values = RULES.iter().map(|r| at(r.0, s).map_or(f64::NAN, f)).collect();
                ((*name).to_string(), values, COMPONENT[s])
            })
            .collect()
    };
    let colors = [INK, COMPONENT[0], COMPONENT[1], COMPONENT[2], ACCENT];
    let drift_lines = |system: &str, f: &dyn Fn(&Drift) -> Vec<(f64, f64)>| -> Vec<Series> {
        drifts
            .iter()
            .filter(|d| d.system == system)
            .enumerate()
            .map(|(i, d)| Series {
                name: label(d.rule).into(),
                points: f(d),
                color: colors[i % colors.len()],
                dashed: false,
            })
            .collect()
    };
    let window = |d: &Drift| (d.shipped / 10).max(1);
    let curve_panel = |system: &str, title: &str| Labeled {
        title: title.into(),
        x: "simulated training time (s)".into(),
        y: "sum ||e||^2 / sum ||x||^2 (running mean)".into(),
        panel: Panel::Lines {
            series: drift_lines(system, &|d| smoothed(&d.state.learning_curve, window(d), d.trial_duration)),
            log_y: true,
        },
    };
    let test_panel = |system: &str, title: &str, y: &str| Labeled {
        title: title.into(),
        x: "simulated training time (s)".into(),
        y: y.into(),
        panel: Panel::Lines {
            series: drift_lines(system, &|d| d.tests.iter().map(|t| (t.0 as f64 * d.trial_duration, t.1)).collect()),
            log_y: true,
        },
    };
    let norm_panel = |system: &str, title: &str| Labeled {
        title: title.into(),
        x: "simulated training time (s)".into(),
        y: "||W||_F".into(),
        panel: Panel::Lines {
            series: drift_lines(system, &|d| d.tests.iter().map(|t| (t.0 as f64 * d.trial_duration, t.3)).collect()),
            log_y: false,
        },
    };
    let force_series: Vec<Series> = [(Rule::Local, INK), (Rule::Rls, ACCENT), (Rule::NoFeedback, COMPONENT[1])]
        .iter()
        .filter_map(|&(rule, color)| {
            at(rule, 2).map(|p| Series {
                name: label(rule).into(),
                points: smoothed(&p.curve, 5, p.trial_duration),
                color,
                dashed: false,
            })
        })
        .collect();
    let figure = Figure {
        cols: 3,
        panels: vec![
            Labeled {
                title: "test error (each example's first test), K = 0".into(),
                x: "rule".into(),
                y: "test NRMSE".into(),
                panel: Panel::Bars { groups: groups.clone(), series: bars(&|p| p.nrmse), log_y: true },
            },
            Labeled {
                title: "training time to 2x the final error".into(),
                x: "rule".into(),
                y: "simulated seconds".into(),
                panel: Panel::Bars {
                    groups: groups.clone(),
                    series: bars(&|p| trials_to_twice_final(&p.curve) as f64 * p.trial_duration),
                    log_y: true,
                },
            },
            Labeled {
                title: "van der Pol: local, RLS/FORCE, no feedback".into(),
                x: "simulated training time (s)".into(),
                y: "sum ||e||^2 / sum ||x||^2 (5-trial mean)".into(),
                panel: Panel::Lines { series: force_series, log_y: true },
            },
            curve_panel("vanderpol", "van der Pol, 3x training, no annealing"),
            test_panel("vanderpol", "van der Pol: free-run error over 2 s", "RMSE / std (first 2 s)"),
            norm_panel("vanderpol", "van der Pol: weight norm"),
            curve_panel("lorenz", "Lorenz, 3x training, no annealing"),
            test_panel("lorenz", "Lorenz: 0.25 s horizon error", "RMSE / std (0.25 s)"),
            norm_panel("lorenz", "Lorenz: weight norm"),
        ],
    };
    render(&figure, &ctx.dir, "rules")?;

    // Summary.
    let by_rule = |f: &dyn Fn(&Point) -> Value| -> Value {
        RULES
            .iter()
            .map(|r| {
                let row: serde_json::Map<String, Value> = SYSTEMS
                    .iter()
                    .enumerate()
                    .map(|(s, (name, _))| ((*name).to_string(), at(r.0, s).map_or(Value::Null, f)))
                    .collect();
                (r.1.to_string(), Value::Object(row))
            })
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let drift_summary = |system: &str| -> Value {
        drifts
            .iter()
            .filter(|d| d.system == system)
            .map(|d| {
                let (one, three) = (d.shipped, d.trials);
                let v = json!({
                    "curve_1x": d.curve_at(one),
                    "curve_3x": d.curve_at(three),
                    "curve_ratio_3x_to_1x": d.curve_at(three) / d.curve_at(one),
                    "test_1x": d.test_at(one),
                    "test_3x": d.test_at(three),
                    "test_ratio_3x_to_1x": d.test_at(three) / d.test_at(one),
                    "test_min": d.tests.iter().map(|t| t.1).fold(f64::INFINITY, f64::min),
                    "test_median_first_x": d.test_median(0, one),
                    "test_median_last_x": d.test_median(three - one, three),
                    "w_norm_1x": d.tests.iter().find(|t| t.0 == one).map(|t| t.3),
                    "w_norm_3x": d.tests.last().map(|t| t.3),
                });
                (label(d.rule).to_string(), v)
            })
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let ratios = |system: &str| -> Vec<f64> {
        DRIFT_RULES
            .iter()
            .filter_map(|r| drifts.iter().find(|d| d.system == system && d.rule == *r))
            .map(|d| d.test_median(d.trials - d.shipped, d.trials) / d.test_median(0, d.shipped))
            .collect()
    };
    let configs: Vec<Value> = table
        .iter()
        .map(|(rule, s, _)| {
            let base = system_config(ctx, *s)?;
            let reference = (*rule != Rule::Local).then_some(table_reference[*s]);
            Ok(json!({ "rule": label(*rule), "system": SYSTEMS[*s].0,
                       "config": with_rule(&base, *rule, reference, training_time(&base))? }))
        })
        .collect::<Result<_>>()?;
    Ok(Output {
        summary: json!({
            "rules": RULES.iter().map(|r| json!({ "label": r.1, "kind": r.2, "synapse_reads": r.3 })).collect::<Vec<_>>(),
            "systems": SYSTEMS.iter().map(|s| s.0).collect::<Vec<_>>(),
            "test_nrmse": by_rule(&|p| json!(p.nrmse)),
            "vanderpol_period_error": by_rule(&|p| json!(p.period_error)),
            "final_training_error": by_rule(&|p| json!(final_error(&p.curve))),
            "seconds_to_2x_final": by_rule(&|p| json!(trials_to_twice_final(&p.curve) as f64 * p.trial_duration)),
            "drift_vanderpol": drift_summary("vanderpol"),
            "drift_lorenz": drift_summary("lorenz"),
            "drift_test_ratio_vanderpol": ratios("vanderpol"),
            "drift_test_ratio_lorenz": ratios("lorenz"),
            "references": {
                "table": table_reference.iter().map(|r| json!({ "e_rms": r.e_rms, "w_norm": r.w_norm })).collect::<Vec<_>>(),
                "drift": drift_reference.iter().map(|r| json!({ "e_rms": r.e_rms, "w_norm": r.w_norm })).collect::<Vec<_>>(),
            },
        }),
        config: json!({ "table_runs": configs, "drift_times": DRIFT_TIMES, "tests_per_shipped_training": TESTS_PER_X }),
    })
}
