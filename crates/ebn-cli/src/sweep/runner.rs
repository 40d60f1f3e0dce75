//! The resumable runner: points of a grid in parallel, skipping those done, checkpointing on
//! a stop request.

use super::grid::Grid;
use super::point::{Point, describe, run_point};
use crate::signals::Interrupted;
use anyhow::Result;
use ebn_network::Registry;
use rayon::prelude::*;
use serde_json::json;
use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Runs points of a grid into an output directory (module docs).
pub struct Runner<'a> {
    /// The grid.
    pub grid: &'a Grid,
    /// Its hash ([`Grid::hash`]).
    pub hash: String,
    /// The output directory.
    pub out: PathBuf,
    /// Components.
    pub registry: &'a Registry,
    /// Threads (points run in parallel, each on one thread).
    pub jobs: usize,
    /// Time between a point's checkpoints.
    pub checkpoint_every: Duration,
    /// Polled between trials ([`crate::signals::requested`] on the command line).
    pub stop: &'a (dyn Fn() -> Option<i32> + Sync),
    /// Where progress lines go.
    pub log: &'a (dyn Fn(&str) + Sync),
    /// Called when a point is finished (done, skipped or failed): a progress bar's tick.
    pub tick: &'a (dyn Fn() + Sync),
}

/// What a run of points did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Points trained and tested now.
    pub done: Vec<usize>,
    /// Points already done, skipped.
    pub skipped: Vec<usize>,
    /// Points that failed, with their errors (written; retried by the next run).
    pub failed: Vec<(usize, String)>,
    /// Seconds spent training and testing, summed over points.
    pub compute_seconds: f64,
}

enum PointRun {
    Done,
    Skipped,
    Failed(String),
    Interrupted(Interrupted),
}
impl Runner<'_> {
    fn run_one(&self, index: usize) -> Result<(PointRun, f64)> {
        if let Some(p) = self.read_point(index)? {
            if p.result.is_ok() {
                return Ok((PointRun::Skipped, 0.0));
            }
            (self.log)(&format!("point {index}: retrying (it failed before)"));
        }
        if let Some(signal) = (self.stop)() {
            let saved = format!("point {index} not started");
            return Ok((PointRun::Interrupted(Interrupted { signal, saved }), 0.0));
        }
        let spec = self.grid.point(index);
        let config = self.grid.config(&spec)?;
        let log = |line: &str| (self.log)(&format!("point {index}: {line}"));
        let control = crate::run::Control {
            checkpoint: self.checkpoint_file(index),
            fresh: false,
            checkpoint_every: self.checkpoint_every,
            stop: self.stop,
            progress: false,
            log: &log,
        };
        let t0 = Instant::now();
        let result = run_point(&config, self.registry, &control);
        let seconds = t0.elapsed().as_secs_f64();
        let (result, resumed) = match result {
            Ok((o, resumed)) => (Ok(o), resumed),
            Err(e) => match e.downcast::<Interrupted>() {
                Ok(i) => return Ok((PointRun::Interrupted(i), seconds)),
                Err(e) => (Err(format!("{e:#}").replace('\n', " ")), None),
            },
        };
        let point = Point { spec, result };
        let timing = json!({"compute_seconds": seconds, "resumed_after_trial": resumed});
        self.write_point(&point, timing)?;
        let _ = std::fs::remove_file(self.checkpoint_file(index));
        Ok(match &point.result {
            Ok(o) => {
                log(&format!("done in {seconds:.2} s ({})", describe(&point.spec)));
                if o.capped_fraction > crate::run::CAPPED_WARNING {
                    log(&format!(
                        "warning: {:.0} % of the test's steps at the spike cap: the network is pinned at its spike \
                         policy's limit (capped_fraction in the table)",
                        100.0 * o.capped_fraction
                    ));
                }
                (PointRun::Done, seconds)
            }
            Err(e) => {
                log(&format!("failed: {e}"));
                (PointRun::Failed(e.clone()), seconds)
            }
        })
    }

    /// Runs the points of `range` (in parallel, `jobs` threads), skipping those already done.
    /// Returns [`Interrupted`] (after checkpointing) if a stop was requested.
    pub fn run(&self, range: Range<usize>) -> Result<Report> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(self.jobs.max(1)).build()?;
        let runs: Vec<Result<(PointRun, f64)>> = pool.install(|| {
            range
                .clone()
                .into_par_iter()
                .map(|i| {
                    let r = self.run_one(i);
                    if matches!(r, Ok((PointRun::Done | PointRun::Skipped | PointRun::Failed(_), _))) {
                        (self.tick)();
                    }
                    r
                })
                .collect()
        });
        let mut report = Report::default();
        let mut interrupted: Vec<Interrupted> = Vec::new();
        for (i, r) in range.zip(runs) {
            let (run, seconds) = r?;
            report.compute_seconds += seconds;
            match run {
                PointRun::Done => report.done.push(i),
                PointRun::Skipped => report.skipped.push(i),
                PointRun::Failed(e) => report.failed.push((i, e)),
                PointRun::Interrupted(x) => interrupted.push(x),
            }
        }
        if let Some(first) = interrupted.first() {
            let saved = interrupted.iter().map(|x| x.saved.clone()).collect::<Vec<_>>().join("; ");
            return Err(Interrupted { signal: first.signal, saved }.into());
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::testing::{SWEEP, grid, runner, scratch};
    use crate::sweep::{gather, task_count, task_range, write};
    use std::path::Path;
    use std::sync::Mutex;

    /// A sweep run with 1 and 2 threads, in one task or in tasks of 3 points, gives the same
    /// table byte for byte; each point equals its configuration run alone; a rerun skips
    /// every point; a directory of another sweep is refused.
    #[test]
    fn tasks_threads_and_reruns_give_the_same_table() {
        let dir = scratch("tasks");
        let g = grid(&dir, SWEEP);
        let no_stop = || None;
        let table = |out: &Path| std::fs::read(out.join("sweep.csv")).unwrap();
        let whole = |out: &Path, jobs: usize| {
            let r = runner(&g, out, jobs, &no_stop);
            r.prepare(false).unwrap();
            let report = r.run(0..g.len()).unwrap();
            write(&g, &r.hash, &gather(&r).unwrap(), out).unwrap();
            report
        };
        let one = dir.join("one");
        assert_eq!(whole(&one, 1).done.len(), 8);
        let two = dir.join("two");
        whole(&two, 2);
        assert_eq!(table(&one), table(&two));
        let packed = dir.join("packed");
        let r = runner(&g, &packed, 1, &no_stop);
        r.prepare(false).unwrap();
        for t in 0..task_count(8, 3) as u64 {
            r.run(task_range(8, 3, t).unwrap()).unwrap();
        }
        write(&g, &r.hash, &gather(&r).unwrap(), &packed).unwrap();
        assert_eq!(table(&one), table(&packed));
        // A rerun does nothing and leaves the same table.
        let again = whole(&one, 2);
        assert_eq!((again.done.len(), again.skipped.len()), (0, 8));
        assert_eq!(table(&one), table(&two));
        // Point 6 alone.
        let p6 = g.point(6);
        let control = crate::run::Control {
            checkpoint: dir.join("alone.checkpoint.ebn"),
            fresh: true,
            checkpoint_every: Duration::from_secs(3600),
            stop: &no_stop,
            progress: false,
            log: &|_| {},
        };
        let (alone, _) = run_point(&g.config(&p6).unwrap(), ebn_network::builtins(), &control).unwrap();
        assert_eq!(r.read_point(6).unwrap().unwrap().result, Ok(alone.clone()));
        assert!(alone.test_nrmse[0].is_finite());
        let csv = String::from_utf8(table(&one)).unwrap();
        assert!(csv.starts_with("index,seed,replicate,network.sigma_v,network.n,training.trials,last_trial_error,"));
        assert_eq!(csv.lines().count(), 9);
        // Points differ (the grid is not degenerate).
        let p0 = r.read_point(0).unwrap().unwrap().result.unwrap();
        let p1 = r.read_point(1).unwrap().unwrap().result.unwrap();
        assert_ne!(p0.test_nrmse, p1.test_nrmse);
        // Another sweep in the same directory: refused, file by file and as a whole.
        let other = grid(&dir, &SWEEP.replace("seed = 9", "seed = 10"));
        let r2 = runner(&other, &one, 1, &no_stop);
        assert!(format!("{:#}", r2.prepare(false).unwrap_err()).contains("another sweep"));
        assert!(format!("{:#}", r2.read_point(0).unwrap_err()).contains("another sweep"));
        r2.prepare(true).unwrap();
        assert!(r2.read_point(0).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stop request checkpoints the running point and returns Interrupted; the next run
    /// resumes it from its checkpoint and ends with the same table as an uninterrupted run.
    #[test]
    fn a_stopped_point_resumes_bit_identically() {
        let dir = scratch("stop");
        let g = grid(&dir, &SWEEP.replace("values = [[16, 2], [24, 3]]", "values = [[16, 6]]"));
        let no_stop = || None;
        let reference = dir.join("reference");
        let r = runner(&g, &reference, 1, &no_stop);
        r.prepare(false).unwrap();
        r.run(0..g.len()).unwrap();
        write(&g, &r.hash, &gather(&r).unwrap(), &reference).unwrap();
        // Stop at the fifth poll (one before point 0 starts, one before each trial): point 0
        // trains 3 trials, then checkpoints.
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let stop = || (polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 4).then_some(15);
        let out = dir.join("stopped");
        let r = runner(&g, &out, 1, &stop);
        r.prepare(false).unwrap();
        let err = r.run(0..g.len()).unwrap_err();
        let i = err.downcast_ref::<Interrupted>().expect("interrupted");
        assert!(i.saved.contains("trial 3 of 6") && i.saved.contains("point 1 not started"), "{}", i.saved);
        assert!(out.join("points/000000.checkpoint.ebn").is_file());
        assert!(r.read_point(0).unwrap().is_none());
        let lines = Mutex::new(Vec::new());
        let log = |l: &str| lines.lock().unwrap().push(l.to_string());
        let r = Runner { stop: &no_stop, log: &log, ..runner(&g, &out, 1, &no_stop) };
        r.run(0..g.len()).unwrap();
        assert!(
            lines.lock().unwrap().iter().any(|l| l.starts_with("point 0: resuming") && l.contains("after trial 3"))
        );
        assert!(!out.join("points/000000.checkpoint.ebn").exists());
        write(&g, &r.hash, &gather(&r).unwrap(), &out).unwrap();
        assert_eq!(std::fs::read(out.join("sweep.csv")).unwrap(), std::fs::read(reference.join("sweep.csv")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A failing point is a recorded failure (its error in the table, NaN in its numbers),
    /// not a lost sweep; a saturated one is flagged by its capped fraction.
    #[test]
    fn failing_and_saturated_points_are_recorded() {
        let dir = scratch("fail");
        let g = grid(
            &dir,
            "[sweep]\nexperiment = \"smoke.toml\"\n[[sweep.axis]]\nparams = [\"network.n\", \"network.rule.eta\"]\nvalues = [[24, 10.0], [0, 10.0], [24, 1e300]]\n",
        );
        let no_stop = || None;
        let out = dir.join("out");
        let r = runner(&g, &out, 1, &no_stop);
        r.prepare(false).unwrap();
        let report = r.run(0..3).unwrap();
        assert_eq!(report.done, [0, 2]);
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert!(report.failed[0].1.contains("network.n"), "{report:?}");
        let json = write(&g, &r.hash, &gather(&r).unwrap(), &out).unwrap();
        assert_eq!(json["failed"], json!([1]));
        let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
        let row: Vec<&str> = csv.lines().nth(2).unwrap().split(',').collect();
        assert_eq!(&row[..3], ["1", &g.point(1).seed.to_string(), "0"]);
        assert!(row[5..9].iter().all(|c| *c == "NaN") && row[9].contains("network.n"), "{csv}");
        // eta = 1e300 saturates the network: at the spike cap in most steps of its test.
        let capped = |i: usize| r.read_point(i).unwrap().unwrap().result.unwrap().capped_fraction;
        assert!(capped(2) > crate::run::CAPPED_WARNING && capped(0) < 0.2, "{} {}", capped(2), capped(0));
        assert!(csv.lines().nth(3).unwrap().contains("1e300"), "{csv}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
