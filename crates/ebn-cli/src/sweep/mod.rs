//! `sweep`: many trainings of one experiment over a grid of parameters and seeds, on one
//! machine or as the tasks of a job array (SLURM, HyperQueue), gathered into one table.
//!
//! # The grid
//!
//! A grid is the cartesian product of its axes, in order (the first axis varies slowest),
//! times its seeds (fastest). An axis sets one parameter (`param`, a dotted path into the
//! experiment file, and its `values`) or several together (`params`, and one array of values
//! per point: zipped lists). Seeds are either listed (each point runs with that master seed) or
//! derived: with `replicates = R` and a master `seed`, replicate r of a point runs with
//! `splitmix64(fnv1a("<seed>|<assignments>|<r>"))`, a function of the point's values and not of
//! its position, so that adding a value to an axis leaves every other point's seed (and
//! result) unchanged. Points are numbered 0..P in grid order: the index is stable for a given
//! sweep file.
//!
//! # Where results live
//!
//! Under the output directory: `sweep-grid.json` (the sweep's hash, its points), then
//! `points/<index>.json`, one file per finished point, written atomically and carrying the
//! sweep's hash; `points/<index>.checkpoint.ebn` while a point trains. A point whose file
//! exists with this sweep's hash is done and skipped, so a repeated or requeued task redoes
//! nothing; a point that failed (training diverged) is written with its error and retried by
//! the next run. A stop signal (SIGTERM, SIGINT) checkpoints the training points at their
//! next trial boundary and ends the command with status 128 + signal; the same command
//! resumes them, bit for bit. [`gather`] reads the point files back into `sweep.csv` (with
//! `sweep.npz` beside it) and `sweep.json`, never mixing two sweeps: a point file of another
//! hash is an error.
//!
//! Every point is a function of its configuration alone (its seed names every random
//! stream), so results do not depend on the number of threads, on the way points are packed
//! into tasks, on the machine, or on the order in which points finish.

mod gather;
mod grid;
mod load;
mod point;
mod results;
mod runner;
mod sbatch;
mod seeds;
mod tasks;
#[cfg(test)]
mod testing;

pub use gather::{Gathered, gather, write};
pub use grid::{Axis, Grid};
pub use load::{is_sweep_file, parse_value};
pub use point::{Outcome, Point, PointSpec, run_point, value_text};
pub use runner::{Report, Runner};
pub use sbatch::{Sbatch, sbatch_script};
pub use seeds::{Seeds, derived_seed};
pub use tasks::{plan, task_count, task_from_env, task_range, threads};

/// At most this many points in a grid (checked before anything is enumerated).
pub const MAX_POINTS: usize = 1_000_000;

/// The tag of the files a sweep writes, with their format's version.
const FORMAT: &str = "ebn-sweep 1";
