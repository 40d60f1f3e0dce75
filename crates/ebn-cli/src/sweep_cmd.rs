//! The `sweep` command's actions on a [`Grid`]: what is printed, the progress bar, signals.

use crate::sweep::{self, Grid, Runner};
use anyhow::{Context, Result, bail};
use ebn_network::Registry;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub(crate) struct Options {
    pub out: PathBuf,
    pub jobs: usize,
    pub per_task: usize,
    pub checkpoint_every: Duration,
    pub quiet: bool,
}

pub(crate) enum Action {
    DryRun,
    EmitSbatch(PathBuf, sweep::Sbatch),
    Gather,
    Task(String),
    Local { fresh: bool },
}

/// `3,5,7-9`: SLURM's array syntax for these task numbers (sorted).
fn array_list(tasks: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut k = 0;
    while k < tasks.len() {
        let mut j = k;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        parts.push(if j == k { tasks[k].to_string() } else { format!("{}-{}", tasks[k], tasks[j]) });
        k = j + 1;
    }
    parts.join(",")
}

pub(crate) fn execute(grid: &Grid, opts: &Options, action: Action, registry: &Registry) -> Result<()> {
    let started = Instant::now();
    let hash = grid.hash()?;
    let total = grid.len();
    let quiet = opts.quiet;
    let log = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let no_tick = || {};
    let runner = Runner {
        grid,
        hash: hash.clone(),
        out: opts.out.clone(),
        registry,
        jobs: opts.jobs,
        checkpoint_every: opts.checkpoint_every,
        stop: &crate::signals::requested,
        log: &log,
        tick: &no_tick,
    };
    match action {
        Action::DryRun => {
            outln!("{}", sweep::plan(grid, &hash, opts.per_task, registry)?.trim_end());
        }
        Action::EmitSbatch(path, sbatch) => {
            let exe = std::env::current_exe().context("the path of this program")?;
            let script = sweep::sbatch_script(grid, &hash, opts.per_task, &opts.out, &exe, &sbatch)?;
            std::fs::create_dir_all(opts.out.join("logs"))
                .with_context(|| format!("creating {}", opts.out.join("logs").display()))?;
            crate::output::write_atomic(&path, script.as_bytes())?;
            outln!(
                "wrote {}: {total} points in {} array tasks; submit with `sbatch {}`, then gather with `--gather`",
                path.display(),
                sweep::task_count(total, opts.per_task),
                path.display()
            );
        }
        Action::Gather => {
            anyhow::ensure!(opts.out.is_dir(), "{} does not exist: nothing to gather", opts.out.display());
            let gathered = sweep::gather(&runner)?;
            let json = sweep::write(grid, &hash, &gathered, &opts.out)?;
            outln!("{}", serde_json::to_string_pretty(&json)?);
            if !gathered.missing.is_empty() {
                let mut tasks: Vec<usize> = gathered.missing.iter().map(|i| i / opts.per_task).collect();
                tasks.dedup();
                bail!(
                    "{} of {total} points missing ({}): wrote the {} finished ones; rerun tasks {} (e.g. `sbatch --array={} ...`)",
                    gathered.missing.len(),
                    array_list(&gathered.missing),
                    gathered.points.len(),
                    array_list(&tasks),
                    array_list(&tasks)
                );
            }
        }
        Action::Task(id) => {
            crate::signals::install()?;
            let (task, source) = match id.as_str() {
                "env" => sweep::task_from_env(|k| std::env::var(k).ok())?,
                n => {
                    (n.parse::<u64>().with_context(|| format!("--task-id {n}: not a task number"))?, "--task-id".into())
                }
            };
            let range = sweep::task_range(total, opts.per_task, task)?;
            log(&format!(
                "task {task} ({source}): points {}-{} of {total} of sweep {hash}, {} thread{}",
                range.start,
                range.end - 1,
                opts.jobs,
                if opts.jobs == 1 { "" } else { "s" }
            ));
            runner.prepare(false)?;
            let setup = started.elapsed().as_secs_f64();
            let report = runner.run(range.clone())?;
            let wall = started.elapsed().as_secs_f64();
            // The task's overhead beyond training and testing (start, load, write), meaningful
            // when its points ran one after another.
            let overhead = (opts.jobs == 1 || range.len() == 1).then_some(wall - report.compute_seconds);
            let summary = json!({
                "sweep": hash,
                "task": task,
                "points": [range.start, range.end],
                "done": report.done,
                "skipped": report.skipped,
                "failed": report.failed.iter().map(|(i, e)| json!({"index": i, "error": e})).collect::<Vec<_>>(),
                "wall_seconds": wall,
                "setup_seconds": setup,
                "compute_seconds": report.compute_seconds,
                "overhead_seconds": overhead,
            });
            log(&format!(
                "task {task}: {} done, {} skipped, {} failed in {wall:.3} s (training and tests {:.3} s{})",
                report.done.len(),
                report.skipped.len(),
                report.failed.len(),
                report.compute_seconds,
                overhead.map_or(String::new(), |o| format!("; start, load and write {o:.3} s"))
            ));
            outln!("{}", serde_json::to_string(&summary)?);
        }
        Action::Local { fresh } => {
            crate::signals::install()?;
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
            if !quiet {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_style(
                ProgressStyle::with_template("sweep [{bar:25}] {pos}/{len} points {elapsed}, ~{eta} left")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            let log = |line: &str| {
                if !quiet {
                    bar.suspend(|| eprintln!("{line}"));
                }
            };
            let tick = || bar.inc(1);
            let runner = Runner { log: &log, tick: &tick, ..runner };
            runner.prepare(fresh)?;
            let report = runner.run(0..total)?;
            bar.finish_and_clear();
            let gathered = sweep::gather(&runner)?;
            let json = sweep::write(grid, &hash, &gathered, &opts.out)?;
            if !quiet {
                eprintln!(
                    "{} points done, {} kept from before, {} failed; wrote {}",
                    report.done.len(),
                    report.skipped.len(),
                    report.failed.len(),
                    opts.out.join("sweep.csv").display()
                );
            }
            outln!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn array_lists() {
        assert_eq!(super::array_list(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(super::array_list(&[0]), "0");
    }
}
