//! Writing results: CSV for traces and spikes (read by Python, R and spreadsheets), each with
//! a `.npz` of its columns beside it (`numpy.load`, [`crate::npz`]), JSON for summaries.
//! Files are written to a temporary name, flushed to disk and renamed, so an interrupted run
//! never leaves a half-written file.

use anyhow::{Context, Result};
use ebn_network::core::{Recording, Trace};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Writes `contents` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`. A `.csv` file gets its columns also as `<name>.npz` beside it
/// (written first, so that a CSV never exists without its arrays).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    if path.extension().is_some_and(|e| e == "csv") {
        let text = std::str::from_utf8(contents).with_context(|| format!("{}: not UTF-8", path.display()))?;
        let npz = crate::npz::csv_to_npz(text).with_context(|| format!("{} as .npz", path.display()))?;
        write_file(&path.with_extension("npz"), &npz)?;
    }
    write_file(path, contents)
}

fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    // The process id keeps two processes writing the same file (two array tasks writing a
    // sweep's marker) from sharing a temporary file; the last rename wins, whole.
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents).with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// The sampled traces of a recording as CSV: `t, x0.., x_hat0.., c0.., v<i>..`.
pub fn traces_csv(rec: &Recording) -> String {
    let dim = rec.x.dim;
    let mut header = vec!["t".to_string()];
    for (name, d) in [("x", dim), ("x_hat", dim), ("c", dim)] {
        header.extend((0..d).map(|j| format!("{name}{j}")));
    }
    header.extend(rec.voltage_neurons.iter().map(|i| format!("v{i}")));
    let mut out = header.join(",");
    out.push('\n');
    let traces: [&Trace; 4] = [&rec.x, &rec.x_hat, &rec.command, &rec.voltages];
    for (k, t) in rec.times.iter().enumerate() {
        let _ = write!(out, "{t}");
        for tr in traces {
            if tr.dim > 0 {
                for v in tr.sample(k) {
                    let _ = write!(out, ",{v}");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The spikes of a recording as CSV: `t,neuron`.
pub fn spikes_csv(rec: &Recording) -> String {
    let mut out = String::from("t,neuron\n");
    for (t, i) in rec.spikes.times.iter().zip(&rec.spikes.neurons) {
        let _ = writeln!(out, "{t},{i}");
    }
    out
}

/// A one-column series as CSV with a header row.
pub fn series_csv(header: &str, index_name: &str, values: &[f64]) -> String {
    let mut out = format!("{index_name},{header}\n");
    for (k, v) in values.iter().enumerate() {
        let _ = writeln!(out, "{k},{v}");
    }
    out
}
