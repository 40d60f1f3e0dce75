//! `cargo xtask`: the project's command-line entry point (reproduces figures, runs
//! experiments). The only crate that does file I/O and prints.

/// println! that does not panic when stdout is closed (e.g. piped into `head`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod bench;
mod coding;
mod figures;
mod fuzz;
mod longrun;
mod output;
mod plot;
mod robustness;
mod run;
mod sweep;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Reproduce the figures of Alemi et al. (2018) and run experiments")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate the `coding` figure's network (closed-form weights, no learning) and print its
    /// summary as JSON.
    Coding {
        /// Master seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated duration (s).
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
        /// Also write the data (CSV) and summary.json into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train and test the experiment described by a TOML file; write the learning curve, test
    /// traces and spikes (CSV), summary.json and the trained network (network.ebn) under
    /// --out (default target/experiments/<file stem>). An interrupted training resumes from
    /// its last checkpoint.
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
    /// Robustness and variability of a trained network: test error against the fraction of
    /// neurons silenced (intact and with the lateral fast connections removed) and against
    /// membrane noise; ISI CV, Fano factor and readout variability over repeated trials.
    /// Writes robustness.json under --out (default target/robustness/<file stem>).
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
    /// Reproduce the paper's figures (all by default): PNG + SVG, CSV data, summary.json and
    /// provenance.json per figure under --out (default target/figures).
    Figures {
        #[command(flatten)]
        opts: FigureOptions,
        /// Only these figures (comma-separated ids).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// List the figures and exit.
        #[arg(long)]
        list: bool,
    },
    /// Reproduce one figure.
    Figure {
        /// The figure id (see `cargo xtask figures --list`).
        id: String,
        #[command(flatten)]
        opts: FigureOptions,
    },
    /// Time this simulator against a vectorised numpy loop of the same algorithm
    /// (bench/numpy_ebn.py), case by case; prints one JSON line per case (wall seconds per
    /// simulated second of each, their ratio, peak memory, agreement of the spikes).
    Bench {
        /// Cases to run (comma-separated; all by default).
        #[arg(long, value_delimiter = ',', value_enum)]
        cases: Vec<bench::Case>,
        /// The Python interpreter that has numpy.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Also write bench.jsonl, scaling.csv and scaling.png here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Feed hostile inputs to the file and TOML loaders (seeded, structure-aware); count
    /// panics (must be 0), accepted inputs and distinct outcomes; print a JSON summary.
    Fuzz {
        /// Inputs per loader.
        #[arg(long, default_value_t = 1_000_000)]
        inputs: u64,
        /// Seed of the generators.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the first input of each distinct outcome here (the corpus).
        #[arg(long)]
        corpus: Option<PathBuf>,
    },
    /// Train and test one experiment over several seeds (and optionally the values of one
    /// parameter) in parallel; writes sweep.csv and sweep.json under --out (default
    /// target/sweeps/<file stem>). Results do not depend on --jobs.
    Sweep {
        /// The experiment file.
        file: PathBuf,
        /// Seeds, e.g. `1-8` or `1,5,9`.
        #[arg(long, default_value = "1-4", value_parser = parse_seeds)]
        seeds: SeedList,
        /// A dotted path in the file to vary, e.g. `network.sigma_v`.
        #[arg(long, requires = "values")]
        param: Option<String>,
        /// The values of --param (TOML values, comma-separated).
        #[arg(long, value_delimiter = ',', requires = "param")]
        values: Vec<String>,
        /// Threads.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1024))]
        jobs: u32,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a trained network (trained first, or its finished checkpoint reused) for a long
    /// time with its teacher and K = 0, window by window: checks for NaN and growth, and
    /// reports whether the error and spike statistics stay stationary. Writes longrun.csv and
    /// longrun.json under --out (default target/longrun/<file stem>).
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
    /// One benchmark case in this process (used by `bench`).
    #[command(hide = true)]
    BenchCase {
        case: bench::Case,
        /// Where to write the network for the numpy side.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Check that experiment files parse and validate (all of examples/ by default).
    Check {
        /// Files to check.
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct FigureOptions {
    /// Paper scale (default) or smoke scale (fast, small).
    #[arg(long, value_enum, default_value_t = figures::Scale::Paper)]
    scale: figures::Scale,
    /// Output directory.
    #[arg(long, default_value = "target/figures")]
    out: PathBuf,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Figures run in parallel (results do not depend on it).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn figures_cmd(only: &[String], o: &FigureOptions) -> anyhow::Result<()> {
    for (id, summary) in figures::run(only, o.scale, o.seed, &o.out, o.jobs, !o.quiet)? {
        outln!("{id}: {summary}");
    }
    eprintln!("wrote {}", o.out.display());
    Ok(())
}

fn main() -> ExitCode {
    // A bug is reported in one line, never as a backtrace.
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's message on one line: the first line and the allowed values, if listed.
            let text = e.render().to_string();
            // The first paragraph (a missing argument is named on the line after the first).
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
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Coding { seed, duration, out } => coding::run(seed, duration, out.as_deref()),
        Command::Run { file, out, fresh, quiet, checkpoint_every } => {
            let checkpoint_every = std::time::Duration::from_secs_f64(checkpoint_every);
            run::run(&run::RunOptions { file, out, fresh, quiet, checkpoint_every }).and_then(|summary| {
                outln!("{}", serde_json::to_string_pretty(&summary)?);
                Ok(())
            })
        }
        Command::Robustness { file, out, sigma } => {
            let out = out.unwrap_or_else(|| run::default_out("robustness", &file));
            robustness::robustness(&robustness::Options { file, out, variability_sigma: sigma }).and_then(|s| {
                outln!("{}", serde_json::to_string_pretty(&s)?);
                Ok(())
            })
        }
        Command::Figures { list: true, .. } => {
            figures::list();
            Ok(())
        }
        Command::Figures { opts, only, .. } => figures_cmd(&only, &opts),
        Command::Figure { id, opts } => figures_cmd(&[id], &opts),
        Command::Check { files } => check(files),
        Command::Longrun { file, seconds, window, out, quiet } => {
            let out = out.unwrap_or_else(|| run::default_out("longrun", &file));
            longrun::longrun(&longrun::Options { file, out, seconds, window, quiet }).map(|s| {
                outln!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            })
        }
        Command::Sweep { file, seeds, param, values, jobs, out } => (|| {
            let text =
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let grid = param.as_deref().map(|p| (p, values.as_slice()));
            let points = sweep::sweep(&text, &seeds.0, grid, jobs as usize)?;
            let out = out.unwrap_or_else(|| run::default_out("sweeps", &file));
            let json = sweep::write(&points, param.as_deref(), &out)?;
            outln!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        })(),
        Command::Fuzz { inputs, seed, corpus } => fuzz::fuzz(inputs, seed, corpus.as_deref()).map(|s| {
            outln!("{s}");
        }),
        Command::Bench { cases, python, out } => bench::bench(&cases, &python, out.as_deref()),
        Command::BenchCase { case, dir } => bench::run_case(case, &dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// A list of seeds.
#[derive(Debug, Clone)]
struct SeedList(Vec<u64>);

/// `1-8`, `3`, or `1,5,9` (for clap).
fn parse_seeds(s: &str) -> Result<SeedList, String> {
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
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1e9 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in (0, 1e9)")),
    }
}

/// A number of seconds >= 0 (for clap).
fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1e9).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds in [0, 1e9)")),
    }
}

fn check(files: Vec<PathBuf>) -> anyhow::Result<()> {
    let files = if files.is_empty() {
        let mut all: Vec<PathBuf> = std::fs::read_dir("examples")?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        all.sort();
        all
    } else {
        files
    };
    for f in &files {
        run::load(f)?;
        outln!("ok  {}", f.display());
    }
    Ok(())
}
