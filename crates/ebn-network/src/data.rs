//! Learning from recorded data: a teacher given as a sampled trajectory x(t) (and the command
//! c(t), if one was recorded) instead of a vector field.
//!
//! An experiment file names the recording in a `[data]` section ([`DataConfig`]). Training
//! trials then replay consecutive windows of `data.train`, and a `[[test]]` with a `start`
//! replays the recording from that time: the network starts from the recorded state
//! (preloaded), receives the recorded command, runs with K = 0, and is compared with the
//! recorded x. A test outside the training range is a held-out test.
//!
//! ## Conventions (project choices; the paper learns from vector fields only)
//!
//! - **Interpolation**: x and c are interpolated linearly between samples to the network's
//!   time step (x at the end of each step, c at its start, as the vector-field teacher
//!   provides them, MODEL.md §8). For a smooth x sampled every h seconds the error is at most
//!   h^2 max|x''| / 8 (tested). A sample time that falls on a step is used exactly, so a
//!   recording sampled at dt replays bit for bit.
//! - **Training windows**: trial k replays the window that starts at
//!   `train[0] + (k mod W) trial_duration`, W the number of whole windows in the training
//!   range; with more trials than windows the recording is replayed in epochs. Each trial
//!   starts from the recorded (noisy) state at its window's start.
//! - **No file I/O here**: the front ends (command line, Python package) read the file's
//!   bytes; [`RecordedData::parse`] reads `.npz` (stored or deflated, as `numpy.savez` and
//!   `numpy.savez_compressed` write), `.npy` and `.csv`. [`digest`] of the bytes is kept in
//!   the configuration, so a checkpoint or a trained network is never resumed or tested on a
//!   file that changed.
//!
//! Units: times in seconds (the recording's own clock, any origin), x and c in the units of
//! the state.

use ebn_core::{CommandStream, Error, Result, check};
use serde::{Deserialize, Serialize};

pub mod csv;

/// The `[data]` section: where the recording is and which part trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The file (`.npz`, `.npy` or `.csv`). Front ends resolve a relative path against the
    /// experiment file's folder.
    pub file: String,
    /// Name of the sample times (an `.npz` array or a CSV column), default `t`; not used for
    /// `.npy`, whose first column is t. If the file has no such array, `rate` must be set.
    #[serde(default = "default_t")]
    pub t: String,
    /// Sampling rate (Hz) of an `.npz` or CSV recording without a time array (sample k at
    /// k / rate).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Names of the state: one `.npz` array of shape (T, J), or J names of 1-D arrays or CSV
    /// columns. Default `["x"]`. For `.npy` (one (T, 1 + J) or (T, 1 + 2J) array: t, x, then c)
    /// names are not used.
    #[serde(default = "default_x")]
    pub x: Vec<String>,
    /// Names of the recorded command, laid out as `x`; empty (default): no command recorded,
    /// c = 0.
    #[serde(default)]
    pub c: Vec<String>,
    /// Time range `[start, end]` (s, the recording's clock) that training trials replay;
    /// absent: training uses the `[target]` vector field.
    #[serde(default)]
    pub train: Option<[f64; 2]>,
    /// [`digest`] of the file's bytes, filled in by the front end when it first reads the
    /// file; a later read of different bytes is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

fn default_t() -> String {
    "t".into()
}

fn default_x() -> Vec<String> {
    vec!["x".into()]
}

/// FNV-1a (64 bit, [`ebn_core::hash::fnv1a64`]) of `bytes`, as 16 hex digits: identifies a
/// data file's content.
pub fn digest(bytes: &[u8]) -> String {
    format!("{:016x}", ebn_core::hash::fnv1a64(bytes))
}

/// A recorded trajectory: sample times, states and (optionally) commands, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedData {
    t: Vec<f64>,
    /// T x J, row-major.
    x: Vec<f64>,
    /// T x J, row-major, if recorded.
    c: Option<Vec<f64>>,
    j: usize,
}

/// Most samples a recording may hold (10^8, 800 MB per component): checked before the file's
/// arrays are copied.
pub const MAX_SAMPLES: usize = 100_000_000;

impl RecordedData {
    /// A recording from its columns: `t` strictly increasing, `x` and `c` (if any) one row of
    /// J values per sample; every value finite.
    pub fn new(t: Vec<f64>, x: Vec<Vec<f64>>, c: Option<Vec<Vec<f64>>>) -> Result<Self> {
        let j = x.first().map_or(0, Vec::len);
        let flat = |name: &str, rows: Vec<Vec<f64>>| -> Result<Vec<f64>> {
            check::same_len(&format!("data.{name} (rows)"), t.len(), rows.len())?;
            let mut out = Vec::with_capacity(rows.len() * j);
            for (k, row) in rows.iter().enumerate() {
                check::same_len(&format!("data.{name}[{k}]"), j, row.len())?;
                out.extend_from_slice(row);
            }
            Ok(out)
        };
        let x = flat("x", x)?;
        let c = c.map(|c| flat("c", c)).transpose()?;
        Self::from_flat(t, x, c, j)
    }

    fn from_flat(t: Vec<f64>, x: Vec<f64>, c: Option<Vec<f64>>, j: usize) -> Result<Self> {
        if t.len() < 2 {
            return Err(Error::invalid("data.t", t.len(), "at least 2 samples"));
        }
        check::nonzero("data.x (components)", j)?;
        check::all_finite("data.t", &t)?;
        if let Some(k) = (1..t.len()).find(|&k| t[k] <= t[k - 1]) {
            return Err(Error::invalid(
                format!("data.t[{k}]"),
                check::show(t[k]),
                format!("> data.t[{}] = {} (strictly increasing times)", k - 1, t[k - 1]),
            ));
        }
        check::all_finite("data.x", &x)?;
        if let Some(c) = &c {
            check::all_finite("data.c", c)?;
        }
        Ok(Self { t, x, c, j })
    }

    /// Reads a recording from the bytes of a file named `name` (its extension picks the
    /// format: `.npz`, `.npy` or `.csv`), with the array or column names of `config`; `j` is
    /// the network's dimension.
    pub fn parse(name: &str, bytes: &[u8], config: &DataConfig, j: usize) -> Result<Self> {
        let lower = name.to_ascii_lowercase();
        let arrays = if lower.ends_with(".npz") {
            npy::read_npz(bytes)?
        } else if lower.ends_with(".npy") {
            return Self::from_npy(npy::read_npy(bytes)?, j);
        } else if lower.ends_with(".csv") {
            read_csv(bytes)?
        } else {
            return Err(Error::invalid("data.file", name, "a .npz, .npy or .csv file"));
        };
        let get = |name: &str| arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a);
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        let columns = |field: &str, wanted: &[String]| -> Result<Vec<f64>> {
            // One 2-D array of J columns, or J 1-D arrays; row-major T x J either way.
            if let [one] = wanted
                && let Some(a) = get(one)
                && a.shape.len() == 2
            {
                check::same_len(&format!("data.{field} (columns of `{one}`)"), j, a.shape[1])?;
                return Ok(a.data.clone());
            }
            check::same_len(&format!("data.{field} (names)"), j, wanted.len())?;
            let mut cols = Vec::with_capacity(j);
            for w in wanted {
                let a = get(w).ok_or_else(|| {
                    Error::invalid(
                        format!("data.{field}"),
                        w,
                        format!("one of the file's arrays: {}", names.join(", ")),
                    )
                })?;
                if a.shape.len() != 1 {
                    return Err(Error::invalid(format!("data.{field} `{w}`"), format!("{:?}", a.shape), "a 1-D array"));
                }
                cols.push(&a.data);
            }
            let rows = cols[0].len();
            for (w, col) in wanted.iter().zip(&cols) {
                check::same_len(&format!("data.{field} `{w}` (samples)"), rows, col.len())?;
            }
            Ok((0..rows).flat_map(|r| cols.iter().map(move |col| col[r])).collect())
        };
        let x = columns("x", &config.x)?;
        let rows = x.len() / j;
        let t = match (get(&config.t), config.rate) {
            (Some(t), _) => {
                if t.shape.len() != 1 {
                    return Err(Error::invalid(
                        format!("data.t `{}`", config.t),
                        format!("{:?}", t.shape),
                        "a 1-D array",
                    ));
                }
                check::same_len("data.t (samples, as data.x)", rows, t.data.len())?;
                t.data.clone()
            }
            (None, Some(rate)) => uniform_times(rows, rate)?,
            (None, None) => {
                return Err(Error::invalid(
                    "data.t",
                    &config.t,
                    format!("one of the file's arrays ({}), or data.rate for uniform samples", names.join(", ")),
                ));
            }
        };
        let c = if config.c.is_empty() { None } else { Some(columns("c", &config.c)?) };
        if let Some(c) = &c {
            check::same_len("data.c (samples, as data.x)", x.len(), c.len())?;
        }
        Self::from_flat(t, x, c, j)
    }

    fn from_npy(array: npy::Array, j: usize) -> Result<Self> {
        let cols = match array.shape.as_slice() {
            [_, cols] => *cols,
            shape => {
                return Err(Error::invalid("data.file (.npy shape)", format!("{shape:?}"), "a 2-D array (T, 1 + J)"));
            }
        };
        let with_c = if cols == 1 + j {
            false
        } else if cols == 1 + 2 * j {
            true
        } else {
            return Err(Error::invalid(
                "data.file (.npy columns)",
                cols,
                format!("1 + J = {} (t, x) or 1 + 2J = {} (t, x, c)", 1 + j, 1 + 2 * j),
            ));
        };
        let rows = array.shape[0];
        let at = |r: usize, k: usize| array.data[r * cols + k];
        let t: Vec<f64> = (0..rows).map(|r| at(r, 0)).collect();
        let x = (0..rows).flat_map(|r| (0..j).map(move |i| at(r, 1 + i))).collect();
        let c = with_c.then(|| (0..rows).flat_map(|r| (0..j).map(move |i| at(r, 1 + j + i))).collect());
        Self::from_flat(t, x, c, j)
    }

    /// State dimension J.
    pub fn dim(&self) -> usize {
        self.j
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Always false: a recording has at least two samples.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The sample times.
    pub fn times(&self) -> &[f64] {
        &self.t
    }

    /// Whether a command was recorded.
    pub fn has_command(&self) -> bool {
        self.c.is_some()
    }

    /// First and last sample time.
    pub fn span(&self) -> (f64, f64) {
        (self.t[0], self.t[self.t.len() - 1])
    }

    /// Checks that `[start, start + duration]` lies within the recording.
    pub fn check_segment(&self, field: &str, start: f64, duration: f64) -> Result<()> {
        let (a, b) = self.span();
        // A relative slack of 1e-12 keeps a segment that ends on the last sample valid after
        // the rounding of start + duration.
        let slack = 1e-12 * (a.abs().max(b.abs()).max(1.0));
        if !(start >= a - slack && start + duration <= b + slack) {
            return Err(Error::invalid(
                field,
                format!("[{start}, {}]", start + duration),
                format!("a segment within the recording [{a}, {b}] s"),
            ));
        }
        Ok(())
    }

    /// The state at time `t` (linear interpolation; clamped to the recording's ends).
    pub fn state_at(&self, t: f64) -> Vec<f64> {
        let mut out = vec![0.0; self.j];
        let mut cursor = 0;
        interpolate(&self.t, &self.x, self.j, t, &mut cursor, &mut out);
        out
    }

    /// The recording from `start` for `steps` steps of `dt`: the states x_n at
    /// `start + n dt`, n = 0..=steps ((steps + 1) x J) and the commands c_n at `start + n dt`,
    /// n < steps (steps x J; zeros without a recorded command).
    pub fn segment(&self, start: f64, steps: usize, dt: f64) -> Segment {
        let j = self.j;
        let mut x = vec![0.0; (steps + 1) * j];
        let mut c = vec![0.0; steps * j];
        let mut cursor = 0;
        for n in 0..=steps {
            let t = start + n as f64 * dt;
            interpolate(&self.t, &self.x, j, t, &mut cursor, &mut x[n * j..(n + 1) * j]);
        }
        if let Some(rec) = &self.c {
            let mut cursor = 0;
            for n in 0..steps {
                let t = start + n as f64 * dt;
                interpolate(&self.t, rec, j, t, &mut cursor, &mut c[n * j..(n + 1) * j]);
            }
        }
        Segment { x, c, j }
    }
}

fn uniform_times(rows: usize, rate: f64) -> Result<Vec<f64>> {
    check::positive("data.rate", rate)?;
    Ok((0..rows).map(|k| k as f64 / rate).collect())
}

/// Linear interpolation of the rows `values` (J per sample, at times `t`) at time `at`,
/// clamped to the ends; `cursor` (a sample index) makes a forward sweep O(1) per query. A
/// query on a sample time returns that sample exactly.
fn interpolate(t: &[f64], values: &[f64], j: usize, at: f64, cursor: &mut usize, out: &mut [f64]) {
    let last = t.len() - 1;
    if *cursor > last || t[*cursor] > at {
        *cursor = t.partition_point(|&s| s <= at).saturating_sub(1);
    }
    while *cursor < last && t[*cursor + 1] <= at {
        *cursor += 1;
    }
    let k = *cursor;
    let row = |k: usize| &values[k * j..(k + 1) * j];
    if at <= t[0] {
        out.copy_from_slice(row(0));
    } else if k == last || at == t[k] {
        out.copy_from_slice(row(k));
    } else {
        let w = (at - t[k]) / (t[k + 1] - t[k]);
        for ((o, a), b) in out.iter_mut().zip(row(k)).zip(row(k + 1)) {
            *o = a + w * (b - a);
        }
    }
}

/// A stretch of a recording resampled at the network's step.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    x: Vec<f64>,
    c: Vec<f64>,
    j: usize,
}

impl Segment {
    /// The state at the segment's start.
    pub fn initial_state(&self) -> Vec<f64> {
        self.x[..self.j].to_vec()
    }

    /// Splits into the teacher's replay (x_1, x_2, ...) and the command stream (c_0, ...).
    pub fn into_parts(self) -> (Replay, Box<dyn CommandStream>) {
        let j = self.j;
        (Replay { x: self.x, j, n: 0 }, Box::new(RecordedCommand { c: self.c, j, n: 0 }))
    }
}

/// The teacher of a recorded segment: each step sets x to the next recorded state.
#[derive(Debug, Clone)]
pub struct Replay {
    x: Vec<f64>,
    j: usize,
    n: usize,
}

impl crate::simulate::Advance for Replay {
    fn advance(&mut self, x: &mut [f64], _c: &[f64], _dt: f64) {
        self.n += 1;
        let rows = self.x.len() / self.j;
        let k = self.n.min(rows - 1);
        x.copy_from_slice(&self.x[k * self.j..(k + 1) * self.j]);
    }
}

/// The recorded command of a segment (zero past its end).
#[derive(Debug, Clone)]
struct RecordedCommand {
    c: Vec<f64>,
    j: usize,
    n: usize,
}

impl CommandStream for RecordedCommand {
    fn next(&mut self, out: &mut [f64]) {
        let start = self.n * self.j;
        match self.c.get(start..start + self.j) {
            Some(row) => out.copy_from_slice(row),
            None => out.fill(0.0),
        }
        self.n += 1;
    }
}

/// A CSV of numbers with a header row ([`csv`]): one 1-D array per column (spaces around
/// names and cells allowed; empty cells are an error, not NaN, since a recording has no gaps
/// to fill).
fn read_csv(bytes: &[u8]) -> Result<Vec<(String, npy::Array)>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Corrupt(format!("CSV is not UTF-8: {e}")))?;
    let (header, rows) = csv::rows(text)?;
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for (r, cells) in rows.enumerate() {
        for (k, cell) in cells?.iter().enumerate() {
            let v = cell.trim().parse::<f64>().map_err(|_| {
                Error::Corrupt(format!("CSV row {}, column `{}`: `{}` is not a number", r + 2, header[k], cell.trim()))
            })?;
            cols[k].push(v);
        }
        if cols[0].len() > MAX_SAMPLES {
            return Err(Error::invalid("data.file (rows)", cols[0].len(), format!("at most {MAX_SAMPLES}")));
        }
    }
    Ok(header.into_iter().zip(cols).map(|(name, data)| (name, npy::Array { shape: vec![data.len()], data })).collect())
}

/// Reading `.npy` arrays and `.npz` archives (the writer is in the command line).
pub mod npy {
    use super::MAX_SAMPLES;
    use ebn_core::{Error, Result};

    /// A numeric array, converted to f64, in C order.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Array {
        /// The shape.
        pub shape: Vec<usize>,
        /// The values, row-major.
        pub data: Vec<f64>,
    }

    fn corrupt(what: impl std::fmt::Display) -> Error {
        Error::Corrupt(format!(".npy: {what}"))
    }

    /// Parses one `.npy` file (format versions 1-3; little- or big-endian float64, float32,
    /// int64, int32, int16, int8, uint8; C or Fortran order).
    pub fn read_npy(bytes: &[u8]) -> Result<Array> {
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(corrupt("no \\x93NUMPY magic"));
        }
        let (header_len, start) = match bytes[6] {
            1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
            2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
            v => return Err(corrupt(format!("format version {v}"))),
        };
        let header = bytes.get(start..start + header_len).ok_or_else(|| corrupt("truncated header"))?;
        let header = std::str::from_utf8(header).map_err(|_| corrupt("header is not text"))?;
        let value_of = |key: &str| -> Result<&str> {
            let at = header.find(&format!("'{key}'")).ok_or_else(|| corrupt(format!("no '{key}' in the header")))?;
            let rest = &header[at + key.len() + 2..];
            let colon = rest.find(':').ok_or_else(|| corrupt(format!("no value for '{key}'")))?;
            Ok(rest[colon + 1..].trim_start())
        };
        let descr = value_of("descr")?;
        let descr = descr.strip_prefix('\'').and_then(|d| d.split('\'').next()).ok_or_else(|| corrupt("descr"))?;
        let fortran = value_of("fortran_order")?.starts_with("True");
        let shape_text = value_of("shape")?;
        let shape_text = shape_text
            .strip_prefix('(')
            .and_then(|s| s.split(')').next())
            .ok_or_else(|| corrupt("shape is not a tuple"))?;
        let shape: Vec<usize> = shape_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().map_err(|_| corrupt(format!("shape entry `{s}`"))))
            .collect::<Result<_>>()?;
        let count =
            shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).ok_or_else(|| corrupt("shape overflows"))?;
        if count > MAX_SAMPLES.saturating_mul(16) {
            return Err(Error::invalid(
                "data.file (array size)",
                count,
                format!("at most {} values", MAX_SAMPLES * 16),
            ));
        }
        let (little, kind, size) = match descr.as_bytes() {
            [e @ (b'<' | b'>' | b'|' | b'='), k, rest @ ..] => {
                let size: usize = std::str::from_utf8(rest).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                (*e != b'>', *k, size)
            }
            _ => return Err(corrupt(format!("descr `{descr}`"))),
        };
        let body = &bytes[start + header_len..];
        let need = count.checked_mul(size).ok_or_else(|| corrupt("size overflows"))?;
        if size == 0 || body.len() < need {
            return Err(corrupt(format!("{} data bytes for {count} values of `{descr}`", body.len())));
        }
        let value = |chunk: &[u8]| -> Option<f64> {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(chunk);
            if !little {
                b[..size].reverse();
            }
            Some(match (kind, size) {
                (b'f', 8) => f64::from_le_bytes(b),
                (b'f', 4) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                (b'i', 8) => i64::from_le_bytes(b) as f64,
                (b'i', 4) => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                (b'i', 2) => f64::from(i16::from_le_bytes([b[0], b[1]])),
                (b'i', 1) => f64::from(b[0] as i8),
                (b'u', 1) => f64::from(b[0]),
                _ => return None,
            })
        };
        let mut data = Vec::with_capacity(count);
        for chunk in body[..need].chunks_exact(size) {
            data.push(
                value(chunk).ok_or_else(|| {
                    corrupt(format!("dtype `{descr}` (numbers only: float64/32, int64/32/16/8, uint8)"))
                })?,
            );
        }
        if fortran && shape.len() == 2 {
            let (rows, cols) = (shape[0], shape[1]);
            data = (0..rows * cols).map(|k| data[(k % cols) * rows + k / cols]).collect();
        } else if fortran && shape.len() > 2 {
            return Err(corrupt("Fortran order with more than two dimensions"));
        }
        Ok(Array { shape, data })
    }

    fn u16_at(b: &[u8], at: usize) -> Result<usize> {
        b.get(at..at + 2).map(|s| usize::from(u16::from_le_bytes([s[0], s[1]]))).ok_or_else(|| zip("truncated"))
    }

    fn u32_at(b: &[u8], at: usize) -> Result<u64> {
        b.get(at..at + 4)
            .map(|s| u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
            .ok_or_else(|| zip("truncated"))
    }

    fn u64_at(b: &[u8], at: usize) -> Result<u64> {
        b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]))).ok_or_else(|| zip("truncated"))
    }

    fn zip(what: impl std::fmt::Display) -> Error {
        Error::Corrupt(format!(".npz: {what}"))
    }

    /// Parses an `.npz` archive (ZIP, entries stored or deflated, ZIP64 sizes), by its
    /// central directory; each entry's CRC-32 is checked. Returns (name without `.npy`, array).
    pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, Array)>> {
        // End of central directory: the last "PK\x05\x06" (a comment may follow it).
        let eocd = (0..bytes.len().saturating_sub(21))
            .rev()
            .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
            .ok_or_else(|| zip("no end of central directory (not a ZIP archive)"))?;
        let mut entries = u16_at(bytes, eocd + 10)? as u64;
        let mut dir = u32_at(bytes, eocd + 16)?;
        // ZIP64: a locator just before the record points to the ZIP64 end of directory.
        if (entries == 0xFFFF || dir == 0xFFFF_FFFF) && eocd >= 20 && bytes[eocd - 20..].starts_with(b"PK\x06\x07") {
            let z = u64_at(bytes, eocd - 12)? as usize;
            if !bytes.get(z..).is_some_and(|b| b.starts_with(b"PK\x06\x06")) {
                return Err(zip("bad ZIP64 end of central directory"));
            }
            entries = u64_at(bytes, z + 32)?;
            dir = u64_at(bytes, z + 48)?;
        }
        let mut at = dir as usize;
        let mut out = Vec::new();
        for _ in 0..entries {
            if !bytes.get(at..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
                return Err(zip("bad central directory entry"));
            }
            let method = u16_at(bytes, at + 10)?;
            let crc = u32_at(bytes, at + 16)? as u32;
            let mut packed = u32_at(bytes, at + 20)?;
            let mut size = u32_at(bytes, at + 24)?;
            let name_len = u16_at(bytes, at + 28)?;
            let extra_len = u16_at(bytes, at + 30)?;
            let comment_len = u16_at(bytes, at + 32)?;
            let mut local = u32_at(bytes, at + 42)?;
            let name = bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| zip("truncated name"))?;
            let name = String::from_utf8_lossy(name).into_owned();
            // ZIP64 extra field: the 64-bit values of the fields set to 0xFFFFFFFF, in order.
            let extra = bytes.get(at + 46 + name_len..at + 46 + name_len + extra_len).unwrap_or(&[]);
            let mut e = 0;
            while e + 4 <= extra.len() {
                let id = u16_at(extra, e)?;
                let len = u16_at(extra, e + 2)?;
                if id == 1 {
                    let mut f = e + 4;
                    for field in [&mut size, &mut packed, &mut local] {
                        if *field == 0xFFFF_FFFF {
                            *field = u64_at(extra, f)?;
                            f += 8;
                        }
                    }
                }
                e += 4 + len;
            }
            at += 46 + name_len + extra_len + comment_len;
            let l = local as usize;
            if !bytes.get(l..).is_some_and(|b| b.starts_with(b"PK\x03\x04")) {
                return Err(zip(format!("entry `{name}`: bad local header")));
            }
            let data_start = l + 30 + u16_at(bytes, l + 26)? + u16_at(bytes, l + 28)?;
            let raw = bytes
                .get(data_start..data_start.saturating_add(packed as usize))
                .ok_or_else(|| zip(format!("entry `{name}` is truncated")))?;
            if size > (MAX_SAMPLES as u64) * 128 {
                return Err(zip(format!("entry `{name}` claims {size} bytes")));
            }
            let content = match method {
                0 => raw.to_vec(),
                8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, size as usize)
                    .map_err(|e| zip(format!("entry `{name}`: deflate: {e:?}")))?,
                m => return Err(zip(format!("entry `{name}`: compression method {m} (stored or deflate only)"))),
            };
            if crc32fast::hash(&content) != crc {
                return Err(zip(format!("entry `{name}`: CRC-32 mismatch (corrupt file)")));
            }
            let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
            let array = read_npy(&content).map_err(|e| zip(format!("entry `{name}`: {e}")))?;
            out.push((key, array));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_error_is_within_the_linear_bound() {
        // x = sin(2 pi f t) sampled every h: |error| <= h^2 max|x''| / 8.
        let (f, h) = (3.0, 1e-3);
        let t: Vec<f64> = (0..=2000).map(|k| k as f64 * h).collect();
        let x: Vec<Vec<f64>> = t.iter().map(|t| vec![(2.0 * std::f64::consts::PI * f * t).sin()]).collect();
        let data = RecordedData::new(t, x, None).unwrap();
        let dt = 1e-4;
        let seg = data.segment(0.0, 19_000, dt);
        let w = 2.0 * std::f64::consts::PI * f;
        let bound = h * h * w * w / 8.0;
        let worst = (0..=19_000).map(|n| (seg.x[n] - (w * n as f64 * dt).sin()).abs()).fold(0.0, f64::max);
        assert!(worst <= bound * (1.0 + 1e-6), "worst {worst} > bound {bound}");
        assert!(worst > 0.5 * bound, "the bound is tight for a sine: worst {worst}, bound {bound}");
    }

    #[test]
    fn samples_on_the_grid_replay_exactly() {
        let dt = 1e-4;
        let t: Vec<f64> = (0..100).map(|k| k as f64 * dt).collect();
        let x: Vec<Vec<f64>> = (0..100).map(|k| vec![(k as f64).sqrt(), -(k as f64)]).collect();
        let c: Vec<Vec<f64>> = (0..100).map(|k| vec![k as f64, 1.0]).collect();
        let data = RecordedData::new(t, x.clone(), Some(c.clone())).unwrap();
        let (mut replay, mut stream) = data.segment(0.0, 99, dt).into_parts();
        let mut state = vec![0.0; 2];
        let mut cmd = vec![0.0; 2];
        for n in 0..99 {
            stream.next(&mut cmd);
            assert_eq!(cmd, c[n]);
            crate::simulate::Advance::advance(&mut replay, &mut state, &cmd, dt);
            assert_eq!(state, x[n + 1]);
        }
    }

    #[test]
    fn bad_recordings_are_typed_errors() {
        let e = RecordedData::new(vec![0.0, 0.0], vec![vec![1.0], vec![2.0]], None).unwrap_err();
        assert!(e.to_string().contains("strictly increasing"), "{e}");
        let e = RecordedData::new(vec![0.0, 1.0], vec![vec![1.0], vec![f64::NAN]], None).unwrap_err();
        assert!(e.to_string().contains("data.x"), "{e}");
        let cfg: DataConfig = toml::from_str("file = 'a.npz'").unwrap();
        let e = RecordedData::parse("a.npz", b"not a zip", &cfg, 2).unwrap_err();
        assert!(matches!(e, Error::Corrupt(_)), "{e}");
        let e = RecordedData::parse("a.txt", b"", &cfg, 2).unwrap_err();
        assert!(e.to_string().contains(".npz, .npy or .csv"), "{e}");
        let csv = b"t,x0,x1\n0,1,2\n0.1,1,oops\n";
        let cfg: DataConfig = toml::from_str("file = 'a.csv'\nx = ['x0', 'x1']").unwrap();
        let e = RecordedData::parse("a.csv", csv, &cfg, 2).unwrap_err();
        assert!(e.to_string().contains("`oops` is not a number"), "{e}");
        let cfg: DataConfig = toml::from_str("file = 'a.csv'\nx = ['x0', 'y']").unwrap();
        let e = RecordedData::parse("a.csv", b"t,x0,x1\n0,1,2\n0.1,1,2\n", &cfg, 2).unwrap_err();
        assert!(e.to_string().contains("one of the file's arrays: t, x0, x1"), "{e}");
    }

    #[test]
    fn csv_and_npy_give_the_same_recording() {
        let csv = b"\"t\",x0,x1,c0,c1\n0,1,2,0,0\n0.5,1.5,2.5,1,0\n1,2,3,0,1\n";
        let cfg: DataConfig = toml::from_str("file = 'a.csv'\nx = ['x0', 'x1']\nc = ['c0', 'c1']").unwrap();
        let a = RecordedData::parse("a.csv", csv, &cfg, 2).unwrap();
        // The same table as one (3, 5) float64 .npy.
        let values: [f64; 15] = [0.0, 1.0, 2.0, 0.0, 0.0, 0.5, 1.5, 2.5, 1.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0];
        let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 5), }".to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
        npy.extend_from_slice(header.as_bytes());
        values.iter().for_each(|v| npy.extend_from_slice(&v.to_le_bytes()));
        let b = RecordedData::parse("a.npy", &npy, &cfg, 2).unwrap();
        assert_eq!(a, b);
        assert!(a.has_command());
        assert_eq!(a.state_at(0.25), vec![1.25, 2.25]);
    }
}
