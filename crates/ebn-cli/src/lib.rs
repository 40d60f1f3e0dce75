#![doc = include_str!("../README.md")]

/// println! that does not panic when stdout is closed (e.g. piped into `head`).
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub mod fit;
pub mod longrun;
pub mod npz;
pub mod output;
pub mod robustness;
pub mod run;
pub mod signals;
pub mod sweep;
mod sweep_cmd;

use clap::{Parser, Subcommand};
use ebn_network::Registry;
use std::path::PathBuf;
use std::process::ExitCode;

/// The experiment commands, for any registry of components.
// Parsed once per process: the size of the largest variant (sweep's options) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Train and test the experiment described by a TOML file; write the learning curve, test
    /// traces and spikes (CSV), summary.json (the same for an interrupted and resumed run as
    /// for an uninterrupted one), provenance.json (wall times) and the trained network
    /// (network.ebn) under --out (default target/experiments/STEM, STEM the file's name
    /// without extension). An interrupted training resumes from its last checkpoint.
    Run {
        /// The experiment file (see examples/).
        file: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Ignore an existing checkpoint and train from scratch.
        #[arg(long)]
        fresh: bool,
        /// No progress bar and no messages; only the summary on stdout.
        #[arg(long)]
        quiet: bool,
        /// Seconds between checkpoints (0: after every trial).
        #[arg(long, default_value_t = 5.0, value_parser = non_negative_seconds)]
        checkpoint_every: f64,
    },
    /// Derive an experiment from a system with the recipe (docs/CATALOGUE.md): survey its
    /// attractor, derive units, time scale, feedback gain, basis, learning rate, training
    /// states, command and length, write experiment.toml and recipe.json under --out (default
    /// target/fit/NAME), then run the experiment as `run` does (checkpoints, summary.json,
    /// provenance.json, config.json).
    Fit {
        /// A flow of the catalogue (`rossler`, `aizawa`, ...; `kinds` lists none of them,
        /// docs/CATALOGUE.md does), or a TOML file with a `[target]` table of any kind and an
        /// optional `[recipe]` table (n, n_basis, max_trials, seed, feedback_gain, eta, ...).
        system: String,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the experiment file and the recipe, run nothing.
        #[arg(long)]
        write_only: bool,
        /// Ignore an existing checkpoint and train from scratch.
        #[arg(long)]
        fresh: bool,
        /// No progress bar and no messages; only the summary on stdout.
        #[arg(long)]
        quiet: bool,
    },
    /// Robustness and variability of a trained network: test error against the fraction of
    /// neurons silenced (intact and with the lateral fast connections removed) and against
    /// membrane noise; ISI CV, Fano factor and readout variability over repeated trials.
    /// Writes robustness.json under --out (default target/robustness/STEM, STEM the file's name without extension).
    Robustness {
        /// The experiment file (trained first, or its finished checkpoint reused).
        #[arg(default_value = "examples/linear.toml")]
        file: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Membrane noise sigma_V for the variability statistics (units of x per sqrt(s)).
        #[arg(long, default_value_t = 1e-3)]
        sigma: f64,
    },
    /// Train and test one experiment over a grid: seeds and one parameter of an experiment
    /// file (--seeds, --param, --values), or a sweep file (several parameters, cartesian and
    /// zipped, derived seeds; docs/SWEEPS.md). Runs every point on this machine (resumable:
    /// finished points are kept, a stopped one resumes from its checkpoint) and gathers
    /// sweep.csv, sweep.npz and sweep.json under --out (default target/sweeps/STEM); or, with
    /// --task-id, the points of one task of a job array (SLURM, HyperQueue), gathered later
    /// with --gather. Results do not depend on --jobs or on how points are packed into tasks.
    Sweep {
        /// The experiment file, or a sweep file (a `[sweep]` table).
        file: PathBuf,
        /// Seeds of an experiment file, e.g. `1-8` or `1,5,9` (default 1-4).
        #[arg(long, value_parser = parse_seeds)]
        seeds: Option<SeedList>,
        /// A dotted path in the experiment file to vary, e.g. `network.sigma_v`.
        #[arg(long, requires = "values")]
        param: Option<String>,
        /// The values of --param (TOML values, comma-separated).
        #[arg(long, value_delimiter = ',', requires = "param")]
        values: Vec<String>,
        /// Threads (default: SLURM_CPUS_PER_TASK, else the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
        jobs: Option<u32>,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the number of tasks and the points each runs (every point validated); run nothing.
        #[arg(long, conflicts_with_all = ["gather", "task_id", "emit_sbatch"])]
        dry_run: bool,
        /// Run one task of a job array: its number, or, without one, SLURM_ARRAY_TASK_ID
        /// (counted from SLURM_ARRAY_TASK_MIN in steps of SLURM_ARRAY_TASK_STEP) or HQ_TASK_ID.
        #[arg(long, num_args = 0..=1, default_missing_value = "env", conflicts_with_all = ["gather", "fresh", "emit_sbatch"])]
        task_id: Option<String>,
        /// Points per array task (consecutive in grid order).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        tasks_per_job: u64,
        /// Collect the finished points into sweep.csv, sweep.npz and sweep.json; list the
        /// missing ones (exit status 1 if any).
        #[arg(long, conflicts_with_all = ["fresh", "emit_sbatch"])]
        gather: bool,
        /// Write an sbatch script that runs the grid as a SLURM job array, and exit.
        #[arg(long)]
        emit_sbatch: Option<PathBuf>,
        /// --time of each array task (with --emit-sbatch).
        #[arg(long, default_value = "01:00:00", requires = "emit_sbatch")]
        sbatch_time: String,
        /// --mem of each array task (with --emit-sbatch).
        #[arg(long, default_value = "2G", requires = "emit_sbatch")]
        sbatch_mem: String,
        /// --cpus-per-task (with --emit-sbatch; the points of a task share them).
        #[arg(long, default_value_t = 1, requires = "emit_sbatch", value_parser = clap::value_parser!(u32).range(1..=1024))]
        sbatch_cpus: u32,
        /// --partition (with --emit-sbatch).
        #[arg(long, requires = "emit_sbatch")]
        sbatch_partition: Option<String>,
        /// Further sbatch options, e.g. `--sbatch-option=--account=lab` (with --emit-sbatch).
        #[arg(long, requires = "emit_sbatch")]
        sbatch_option: Vec<String>,
        /// Remove the results of another sweep in --out and start over.
        #[arg(long)]
        fresh: bool,
        /// Seconds between checkpoints of a training point (0: after every trial).
        #[arg(long, default_value_t = 5.0, value_parser = non_negative_seconds)]
        checkpoint_every: f64,
        /// No progress bar and no per-point messages.
        #[arg(long)]
        quiet: bool,
    },
    /// Run a trained network (trained first, or its finished checkpoint reused) for a long
    /// time with its teacher and K = 0, window by window: checks for NaN and growth, and
    /// reports whether the error and spike statistics stay stationary. Writes longrun.csv and
    /// longrun.json under --out (default target/longrun/STEM, STEM the file's name without extension).
    Longrun {
        /// The experiment file (its first test sets the command and initial state).
        file: PathBuf,
        /// Simulated seconds.
        #[arg(long, default_value_t = 10_000.0, value_parser = positive_seconds)]
        seconds: f64,
        /// Window length (s).
        #[arg(long, default_value_t = 100.0, value_parser = positive_seconds)]
        window: f64,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check that experiment files parse and validate (all of examples/ by default).
    Check {
        /// Files to check.
        files: Vec<PathBuf>,
    },
    /// List the component kinds of this command line's registry, by category.
    Kinds,
}

impl ExperimentCommand {
    /// Runs the command with the components of `registry`, printing its result on stdout.
    pub fn execute(self, registry: &Registry) -> anyhow::Result<()> {
        match self {
            Self::Run { file, out, fresh, quiet, checkpoint_every } => {
                signals::install()?;
                let checkpoint_every = std::time::Duration::from_secs_f64(checkpoint_every);
                let summary = run::run(&run::RunOptions { file, out, fresh, quiet, checkpoint_every }, registry)?;
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            }
            Self::Fit { system, out, write_only, fresh, quiet } => {
                let (file, out) = fit::write(&fit::Options { system, out }, registry)?;
                if write_only {
                    outln!("{}", file.display());
                } else {
                    signals::install()?;
                    let checkpoint_every = std::time::Duration::from_secs(5);
                    let options = run::RunOptions { file, out: Some(out), fresh, quiet, checkpoint_every };
                    let summary = run::run(&options, registry)?;
                    outln!("{}", serde_json::to_string_pretty(&summary)?);
                }
            }
            Self::Robustness { file, out, sigma } => {
                let out = out.unwrap_or_else(|| run::default_out("robustness", &file));
                let s = robustness::robustness(&robustness::Options { file, out, variability_sigma: sigma }, registry)?;
                outln!("{}", serde_json::to_string_pretty(&s)?);
            }
            Self::Sweep {
                file,
                seeds,
                param,
                values,
                jobs,
                out,
                dry_run,
                task_id,
                tasks_per_job,
                gather,
                emit_sbatch,
                sbatch_time,
                sbatch_mem,
                sbatch_cpus,
                sbatch_partition,
                sbatch_option,
                fresh,
                checkpoint_every,
                quiet,
            } => {
                let flags_given = seeds.is_some() || param.is_some();
                let seeds = seeds.map_or_else(|| (1..=4).collect(), |s| s.0);
                let grid =
                    sweep::Grid::load(&file, &seeds, param.as_deref().map(|p| (p, values.as_slice())), flags_given)?;
                let opts = sweep_cmd::Options {
                    out: out.unwrap_or_else(|| run::default_out("sweeps", &file)),
                    jobs: sweep::threads(jobs, |k| std::env::var(k).ok()),
                    per_task: usize::try_from(tasks_per_job)?,
                    checkpoint_every: std::time::Duration::from_secs_f64(checkpoint_every),
                    quiet,
                };
                let action = if dry_run {
                    sweep_cmd::Action::DryRun
                } else if let Some(path) = emit_sbatch {
                    let sbatch = sweep::Sbatch {
                        time: sbatch_time,
                        mem: sbatch_mem,
                        cpus: sbatch_cpus,
                        partition: sbatch_partition,
                        extra: sbatch_option,
                        checkpoint_every,
                    };
                    sweep_cmd::Action::EmitSbatch(path, sbatch)
                } else if gather {
                    sweep_cmd::Action::Gather
                } else if let Some(id) = task_id {
                    sweep_cmd::Action::Task(id)
                } else {
                    sweep_cmd::Action::Local { fresh }
                };
                sweep_cmd::execute(&grid, &opts, action, registry)?;
            }
            Self::Longrun { file, seconds, window, out, quiet } => {
                let out = out.unwrap_or_else(|| run::default_out("longrun", &file));
                let s = longrun::longrun(&longrun::Options { file, out, seconds, window, quiet }, registry)?;
                outln!("{}", serde_json::to_string_pretty(&s)?);
            }
            Self::Check { files } => check(files, registry)?,
            Self::Kinds => {
                for category in ebn_network::core::Category::ALL {
                    outln!("{:<13} {}", category.name(), registry.kinds(category).join(", "));
                }
            }
        }
        Ok(())
    }
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: ExperimentCommand,
}

/// The whole command line for a registry: parses the arguments, runs the command and turns
/// every error into one line on stderr (exit code 1; 2 for bad arguments). `name` is the
/// program name in messages and `--help`.
pub fn main(name: &'static str, registry: Registry) -> ExitCode {
    install_panic_hook();
    let cli = match parse_args::<Cli>(name) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    report(cli.command.execute(&registry))
}

/// A bug is reported in one line, never as a backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info.location().map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("internal error (a bug, please report it){at}: {}", what.replace('\n', " "));
    }));
}

/// Parses the process arguments as `P`, printing clap's message on one line on failure
/// (and help or version in full); the `Err` is the exit code to return.
pub fn parse_args<P: Parser>(name: &'static str) -> Result<P, ExitCode> {
    let command = P::command().name(name);
    match command.try_get_matches().and_then(|m| P::from_arg_matches(&m)) {
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(ExitCode::SUCCESS);
            }
            // clap's message on one line: the first paragraph and the allowed values, if listed.
            let text = e.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = if first.is_empty() { "error: invalid arguments".to_string() } else { first.join(" ") };
            let allowed = text.lines().map(str::trim).find(|l| l.starts_with("[possible values:")).unwrap_or("");
            let parts = [first.as_str(), allowed, "(see --help)"];
            eprintln!("{}", parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" "));
            Err(ExitCode::from(2))
        }
    }
}

/// Exit code of a command's result; an error is printed on one line.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(i) = e.downcast_ref::<signals::Interrupted>() {
                eprintln!("{i}");
                return ExitCode::from(i.exit_status());
            }
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// A list of seeds.
#[derive(Debug, Clone)]
pub struct SeedList(pub Vec<u64>);

/// `1-8`, `3`, or `1,5,9` (for clap).
pub fn parse_seeds(s: &str) -> Result<SeedList, String> {
    let bad = || format!("`{s}` is not a seed list (e.g. 1-8 or 1,5,9)");
    let mut seeds = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if b < a || b - a >= 100_000 {
                    return Err(format!("`{part}`: a range from low to high, at most 100000 seeds"));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(part.trim().parse().map_err(|_| bad())?),
        }
    }
    Ok(SeedList(seeds))
}

/// A number of seconds > 0 (for clap).
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1e9 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in (0, 1e9)")),
    }
}

/// A number of seconds >= 0 (for clap).
pub fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1e9).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in [0, 1e9)")),
    }
}

/// Checks experiment files and sweep files (all of `examples/`, `examples/reference/` and
/// `examples/sweeps/` when `files` is empty); a sweep file has every point built.
pub fn check(files: Vec<PathBuf>, registry: &Registry) -> anyhow::Result<()> {
    let files = if files.is_empty() {
        let mut all: Vec<PathBuf> = Vec::new();
        for dir in ["examples", "examples/reference", "examples/sweeps"] {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            all.extend(
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")),
            );
        }
        all.sort();
        all
    } else {
        files
    };
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?;
        if sweep::is_sweep_file(&text) {
            let grid = sweep::Grid::from_sweep_file(f, &text)?;
            sweep::plan(&grid, &grid.hash()?, 1, registry).map_err(|e| e.context(format!("in {}", f.display())))?;
            outln!("ok  {} (sweep of {} points)", f.display(), grid.len());
        } else {
            run::load(f, registry)?;
            outln!("ok  {}", f.display());
        }
    }
    Ok(())
}
