//! `cargo xtask`: the project's command-line entry point (reproduces figures, runs
//! experiments). The only crate that does file I/O and prints.

mod coding;
mod output;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Reproduce the figures of Alemi et al. (2018) and run experiments"
)]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Coding {
            seed,
            duration,
            out,
        } => coding::run(seed, duration, out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
