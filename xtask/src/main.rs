//! `cargo xtask`: the project's command-line entry point (reproduces figures, runs
//! experiments). The only crate that does file I/O and prints.

mod bench;
mod coding;
mod figures;
mod fuzz;
mod plot;

// The experiment commands (`run`, `sweep`, `robustness`, `longrun`, `check`, `kinds`) live in
// `ebn-cli`, the reusable command line; the figures use its output and robustness modules.
use ebn_cli::{output, robustness};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Reproduce the figures of Alemi et al. (2018) and run experiments")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
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
    #[command(flatten)]
    Experiment(ebn_cli::ExperimentCommand),
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
    /// (bench/numpy_ebn.py) and against Brian2's C++ standalone mode (bench/brian2_ebn.py),
    /// case by case, from the same state; prints one JSON line per case (wall seconds per
    /// simulated second of each, the ratios, Brian2's compile time, peak memory, agreement
    /// of the spikes).
    Bench {
        /// Cases to run (comma-separated; all by default).
        #[arg(long, value_delimiter = ',', value_enum)]
        cases: Vec<bench::Case>,
        /// The Python interpreter that has numpy (and Brian2, for its column; Brian2 2.9
        /// needs numpy < 2.4 and a C++ compiler).
        #[arg(long, default_value = "python3")]
        python: String,
        /// Leave Brian2 out even where it is installed (it compiles each case: ~20 s).
        #[arg(long)]
        no_brian2: bool,
        /// Fail unless every implementation that ran fired the same number of spikes and the
        /// same compared spikes, index for index (a test of the harness, not of speed).
        #[arg(long)]
        check_agreement: bool,
        /// Also write bench.jsonl, scaling.csv and scaling.png here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Timed runs of this code and of numpy per case, alternating, each from the same
        /// state; the medians are reported, with every run's time (Brian2 runs once: each of
        /// its runs compiles).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=99))]
        repeat: u32,
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
    /// Write the noisy van der Pol recording that examples/vanderpol_recorded.toml learns
    /// from (the `recorded` figure's: 410 s at 1 kHz, state noise, 5 % measurement noise;
    /// arrays t, x_0, x_1, c_0, c_1, x_clean_0, x_clean_1).
    Data {
        /// Master seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The .npz to write.
        #[arg(long, default_value = "examples/data/vanderpol_noisy.npz")]
        out: PathBuf,
    },
    /// One benchmark case in this process (used by `bench`).
    #[command(hide = true)]
    BenchCase {
        case: bench::Case,
        /// Where to write the network for the numpy side.
        #[arg(long)]
        dir: PathBuf,
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
        ebn_cli::outln!("{id}: {summary}");
    }
    eprintln!("wrote {}", o.out.display());
    Ok(())
}

fn main() -> ExitCode {
    ebn_cli::install_panic_hook();
    let cli = match ebn_cli::parse_args::<Cli>("cargo xtask") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Experiment(command) => command.execute(ebn_network::builtins()),
        Command::Coding { seed, duration, out } => coding::run(seed, duration, out.as_deref()),
        Command::Figures { list: true, .. } => {
            figures::list();
            Ok(())
        }
        Command::Figures { opts, only, .. } => figures_cmd(&only, &opts),
        Command::Figure { id, opts } => figures_cmd(&[id], &opts),
        Command::Fuzz { inputs, seed, corpus } => fuzz::fuzz(inputs, seed, corpus.as_deref()).map(|s| {
            ebn_cli::outln!("{s}");
        }),
        Command::Data { seed, out } => write_recording(seed, &out),
        Command::Bench { cases, python, no_brian2, check_agreement, out, repeat } => {
            let opts = bench::Options { python, brian2: !no_brian2, check_agreement, repeat: repeat as usize };
            bench::bench(&cases, &opts, out.as_deref())
        }
        Command::BenchCase { case, dir } => bench::run_case(case, &dir),
    };
    ebn_cli::report(result)
}

fn write_recording(seed: u64, out: &std::path::Path) -> anyhow::Result<()> {
    use figures::recorded;
    let mut config = ebn_network::ExperimentConfig::from_toml(recorded::VANDERPOL)?;
    config.seed = seed;
    let data = recorded::synthesize(&config, recorded::Layout::PAPER, seed)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    ebn_cli::output::write_atomic(out, &ebn_cli::npz::csv_to_npz(&data.csv())?)?;
    eprintln!("wrote {} ({} samples)", out.display(), data.t.len());
    Ok(())
}
