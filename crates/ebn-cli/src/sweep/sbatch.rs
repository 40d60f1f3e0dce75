//! `--emit-sbatch`: a SLURM script that runs a grid as a job array.

use super::grid::Grid;
use super::tasks::task_count;
use anyhow::Result;
use std::path::Path;

/// `--emit-sbatch`: the options of the script.
#[derive(Debug, Clone)]
pub struct Sbatch {
    /// `--time` of each array task (SLURM's format, e.g. `01:00:00`).
    pub time: String,
    /// `--mem` of each array task (e.g. `2G`).
    pub mem: String,
    /// `--cpus-per-task` (points of a task run in parallel on them).
    pub cpus: u32,
    /// `--partition`, if any.
    pub partition: Option<String>,
    /// Further `#SBATCH` lines (`--account=x`, `--qos=y`).
    pub extra: Vec<String>,
    /// `--checkpoint-every` of the tasks (seconds).
    pub checkpoint_every: f64,
}

/// A single-quoted shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// An `sbatch` script that runs the grid as a job array (one array task per `per_task`
/// points), writing to `out` with logs in `out/logs`, with the program `exe`.
pub fn sbatch_script(
    grid: &Grid,
    hash: &str,
    per_task: usize,
    out: &Path,
    exe: &Path,
    opts: &Sbatch,
) -> Result<String> {
    let total = grid.len();
    let tasks = task_count(total, per_task);
    let out = std::path::absolute(out)?;
    let cwd = std::env::current_dir()?;
    let stem = grid.experiment.file_stem().and_then(|s| s.to_str()).unwrap_or("sweep");
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# The sweep {hash} of {}: {total} points, {tasks} array tasks of {per_task}.\n\
         # Written by `sweep --emit-sbatch`; submit with `sbatch` (one line per option below).\n\
         # A cancelled, preempted or timed-out task checkpoints on SIGTERM (sent 60 s before\n\
         # the time limit) and resumes when requeued or resubmitted; finished points are skipped.\n\
         # Then: the same command with --gather collects sweep.csv, sweep.npz and sweep.json.\n",
        grid.experiment.display()
    ));
    let mut lines = vec![
        format!("--job-name=ebn-{stem}"),
        format!("--array=0-{}", tasks - 1),
        format!("--time={}", opts.time),
        format!("--mem={}", opts.mem),
        format!("--cpus-per-task={}", opts.cpus),
        "--ntasks=1".into(),
        format!("--output={}/logs/%A_%a.log", out.display()),
        "--open-mode=append".into(),
        "--requeue".into(),
        "--signal=B:TERM@60".into(),
        format!("--chdir={}", cwd.display()),
    ];
    if let Some(p) = &opts.partition {
        lines.push(format!("--partition={p}"));
    }
    lines.extend(opts.extra.iter().cloned());
    for l in &lines {
        s.push_str(&format!("#SBATCH {l}\n"));
    }
    // `exec`: the program is the batch step's process, so SIGTERM reaches it directly. The
    // array index is passed as given, so that resubmitting the missing points with
    // `sbatch --array=3,5 ...` reruns exactly tasks 3 and 5.
    let mut cmd = vec![shell_word(&exe.to_string_lossy()), "sweep".into()];
    cmd.extend(grid.args.iter().map(|a| shell_word(a)));
    cmd.extend([
        "--out".into(),
        shell_word(&out.to_string_lossy()),
        "--tasks-per-job".into(),
        per_task.to_string(),
        "--checkpoint-every".into(),
        opts.checkpoint_every.to_string(),
        "--task-id".into(),
        "\"$SLURM_ARRAY_TASK_ID\"".into(),
    ]);
    s.push_str(&format!("exec {}\n", cmd.join(" ")));
    Ok(s)
}
