//! Job arrays: the points of each task, the task and threads from the scheduler's
//! environment, and the plan of `--dry-run`.

use super::grid::Grid;
use super::point::describe;
use anyhow::{Context, Result, bail, ensure};
use ebn_network::Registry;
use std::ops::Range;

/// The points of array task `task` when each task runs `per_task` consecutive points of
/// `total`.
pub fn task_range(total: usize, per_task: usize, task: u64) -> Result<Range<usize>> {
    ensure!(per_task >= 1, "--tasks-per-job must be at least 1");
    let tasks = task_count(total, per_task);
    let t = usize::try_from(task).ok().filter(|t| *t < tasks).with_context(|| {
        format!(
            "task {task} is out of range: {total} points, {per_task} per task make tasks 0-{}",
            tasks.saturating_sub(1)
        )
    })?;
    Ok(t * per_task..((t + 1) * per_task).min(total))
}

/// How many array tasks run `total` points at `per_task` per task.
pub fn task_count(total: usize, per_task: usize) -> usize {
    total.div_ceil(per_task.max(1))
}

/// The array task this process is, from the scheduler's environment: SLURM's
/// `SLURM_ARRAY_TASK_ID`, counted from `SLURM_ARRAY_TASK_MIN` in steps of
/// `SLURM_ARRAY_TASK_STEP` (so `--array=1-16` and `--array=0-30:2` are tasks 0-15), or
/// HyperQueue's `HQ_TASK_ID`. Returns the task and where it came from.
pub fn task_from_env(var: impl Fn(&str) -> Option<String>) -> Result<(u64, String)> {
    let num = |name: &str| -> Result<Option<u64>> {
        var(name)
            .map(|v| v.trim().parse::<u64>().with_context(|| format!("{name}={v} is not a task number")))
            .transpose()
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        ensure!(id >= min && (id - min) % step == 0, "SLURM_ARRAY_TASK_ID={id} is not in the array {min}-...:{step}");
        return Ok(((id - min) / step, format!("SLURM_ARRAY_TASK_ID={id} (min {min}, step {step})")));
    }
    if let Some(id) = num("HQ_TASK_ID")? {
        return Ok((id, format!("HQ_TASK_ID={id}")));
    }
    bail!("--task-id without a number needs SLURM_ARRAY_TASK_ID or HQ_TASK_ID in the environment")
}

/// Threads for a sweep: `--jobs`, else SLURM's `SLURM_CPUS_PER_TASK`, else the machine's.
pub fn threads(jobs: Option<u32>, var: impl Fn(&str) -> Option<String>) -> usize {
    jobs.map(|j| j as usize)
        .or_else(|| var("SLURM_CPUS_PER_TASK").and_then(|v| v.trim().parse().ok()))
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1)
}

/// `--dry-run`: what each task runs (and every point's configuration validated).
pub fn plan(grid: &Grid, hash: &str, per_task: usize, registry: &Registry) -> Result<String> {
    let total = grid.len();
    let tasks = task_count(total, per_task);
    let mut text = format!(
        "sweep {hash}: {total} points ({} seeds x {} axis values), {tasks} tasks of {per_task} point{} (array indices 0-{})\n",
        grid.seed_count(),
        total / grid.seed_count(),
        if per_task == 1 { "" } else { "s" },
        tasks - 1
    );
    for t in 0..tasks {
        let range = task_range(total, per_task, t as u64)?;
        for i in range {
            let p = grid.point(i);
            let config = grid.config(&p)?;
            crate::run::build(&config, registry).with_context(|| format!("point {i} ({})", describe(&p)))?;
            text.push_str(&format!("task {t}: point {i}: {}\n", describe(&p)));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn task_ids_from_the_scheduler() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "7")])).unwrap().0, 7);
        assert_eq!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1")])).unwrap().0, 2);
        let strided =
            env(&[("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_STEP", "4")]);
        assert_eq!(task_from_env(strided).unwrap().0, 2);
        assert!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_STEP", "4")])).is_err());
        assert_eq!(task_from_env(env(&[("HQ_TASK_ID", "5")])).unwrap().0, 5);
        assert!(task_from_env(env(&[])).is_err());
        assert!(task_from_env(env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
        assert_eq!(threads(None, env(&[("SLURM_CPUS_PER_TASK", "3")])), 3);
        assert_eq!(threads(Some(2), env(&[("SLURM_CPUS_PER_TASK", "3")])), 2);
        assert!(task_range(8, 3, 3).is_err());
    }

    proptest! {
        /// The tasks partition the grid: every point in exactly one task, in order.
        #[test]
        fn tasks_partition_the_points(total in 1usize..500, per_task in 1usize..40) {
            let mut next = 0;
            for t in 0..task_count(total, per_task) {
                let r = task_range(total, per_task, t as u64).unwrap();
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() && r.len() <= per_task);
                next = r.end;
            }
            prop_assert_eq!(next, total);
            prop_assert!(task_range(total, per_task, task_count(total, per_task) as u64).is_err());
        }
    }
}
