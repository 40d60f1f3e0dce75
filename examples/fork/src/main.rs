//! The fork's command line: `cargo run --release -- run duffing.toml` (and sweep,
//! robustness, longrun, check, kinds), with the fork's components registered.

fn main() -> std::process::ExitCode {
    ebn_cli::main("ebn-fork", ebn_fork::registry())
}
