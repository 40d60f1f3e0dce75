//! Python bindings of ebn-learn (module `ebn._ebn`, re-exported by the `ebn` package): build an
//! experiment from a TOML file, TOML text or a dict; train it (with a progress bar), test it,
//! and get every recording as NumPy arrays; save and load trained networks in the project's
//! file format. Errors become Python exceptions carrying the same message: `ValueError` for a
//! bad configuration or file content, `OSError` for a file that cannot be read or written.
//!
//! The GIL is released while the network trains or runs a test, so other Python threads go
//! on meanwhile.

use ebn_network::analysis;
use ebn_network::core::Recording;
use ebn_network::core::TargetSystem;
use ebn_network::{
    Experiment as Built, ExperimentConfig, Network, Registry, StoredWeights, TrainedNetwork, TrainingState,
};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The registry every experiment of this process is built with: the built-ins plus the
/// target systems registered from Python ([`register_target`]).
static REGISTRY: std::sync::LazyLock<std::sync::Mutex<Registry>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(ebn_network::builtins().clone()));

fn registry() -> Registry {
    REGISTRY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// The first exception a Python vector field raised (or the first bad value it returned);
/// the run that met it stops calling Python and raises it when it returns.
static TARGET_ERROR: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);

fn take_target_error() -> Option<PyErr> {
    TARGET_ERROR.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// A target system whose vector field is a Python callable f(x) -> dx/dt (x a float64 array
/// of length J; any sequence of J numbers back). Each call takes the GIL: the cost of one
/// Python call (plus an array) per evaluation, 4 per step with RK4 (docs/DATA.md measures it).
struct PyTarget {
    kind: String,
    f: Py<PyAny>,
    dim: usize,
}

impl std::fmt::Debug for PyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PyTarget({}, dim {})", self.kind, self.dim)
    }
}

impl TargetSystem for PyTarget {
    fn dim(&self) -> usize {
        self.dim
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        // The lock is never held while Python runs (another thread may hold the GIL and
        // wait for it).
        if TARGET_ERROR.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some() {
            dxdt.fill(f64::NAN);
            return;
        }
        let result: PyResult<Vec<f64>> = Python::attach(|py| {
            let value = self.f.call1(py, (PyArray1::from_slice(py, x),))?;
            let v: Vec<f64> = value.extract(py).or_else(|_| value.call_method0(py, "tolist")?.extract(py))?;
            if v.len() != self.dim || v.iter().any(|d| !d.is_finite()) {
                return Err(PyValueError::new_err(format!(
                    "target `{}`: f(x) must return {} finite numbers; got {v:?} at x = {x:?}",
                    self.kind, self.dim
                )));
            }
            Ok(v)
        });
        match result {
            Ok(v) => dxdt.copy_from_slice(&v),
            Err(e) => {
                TARGET_ERROR.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                dxdt.fill(f64::NAN);
            }
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// Registers a target system written in Python under `kind`: `f(x)` returns dx/dt for a
/// state x of `dim` components (the command is added by the integrator). Experiments built
/// afterwards in this process may name it (`target = { kind = "..." }`). For exploration: each
/// evaluation is a Python call.
#[pyfunction]
fn register_target(kind: &str, f: Py<PyAny>, dim: usize) -> PyResult<()> {
    if dim == 0 {
        return Err(value_error("dim: expected >= 1, got 0"));
    }
    if ebn_network::builtins().knows(ebn_network::core::Category::Target, kind) {
        return Err(value_error(format!("`{kind}` is a built-in target kind; choose another name")));
    }
    let name = kind.to_string();
    let f = std::sync::Arc::new(f);
    REGISTRY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add_target(
        kind,
        move |_: NoParams, _: &Registry| -> ebn_network::core::Result<Box<dyn TargetSystem>> {
            let f = Python::attach(|py| f.clone_ref(py));
            Ok(Box::new(PyTarget { kind: name.clone(), f, dim }))
        },
    );
    Ok(())
}

/// An experiment: its configuration, its network (trained or not) and its learning curve.
/// (Behind a mutex: Python may share the object between threads; the components of a
/// network are `Send`, not `Sync`.)
#[pyclass(module = "ebn")]
struct Experiment {
    inner: std::sync::Mutex<Inner>,
}

struct Inner {
    config: ExperimentConfig,
    built: Built,
    network: Network,
    state: TrainingState,
}

/// Builds an experiment, reading its `[data]` recording if it has one (a relative path is
/// resolved against `base`, the experiment file's folder, and the file's digest is recorded
/// in the configuration the first time, as the command line does).
fn build(config: &mut ExperimentConfig, base: Option<&std::path::Path>) -> PyResult<Built> {
    let Some(data) = config.data.as_mut() else {
        return Built::build_in(config, &registry()).map_err(value_error);
    };
    let path = std::path::Path::new(&data.file);
    if let (true, Some(base)) = (path.is_relative(), base) {
        data.file = base.join(path).to_string_lossy().into_owned();
    }
    let bytes = std::fs::read(&data.file).map_err(|e| PyOSError::new_err(format!("data.file = {}: {e}", data.file)))?;
    let digest = ebn_network::data::digest(&bytes);
    match &data.digest {
        Some(expected) if *expected != digest => {
            return Err(value_error(format!(
                "the recording {} changed since this experiment was set up (digest {digest}, recorded {expected})",
                data.file
            )));
        }
        _ => data.digest = Some(digest),
    }
    let recording = ebn_network::data::RecordedData::parse(&data.file, &bytes, data, config.network.dim)
        .map_err(|e| value_error(format!("{}: {e}", data.file)))?;
    Built::build_with_data(config, &registry(), Some(recording)).map_err(value_error)
}

impl Experiment {
    fn from_config(mut config: ExperimentConfig, base: Option<&std::path::Path>) -> PyResult<Self> {
        let built = build(&mut config, base)?;
        let network = built.initial_network().map_err(value_error)?;
        Ok(Self::wrap(Inner { config, built, network, state: TrainingState::default() }))
    }

    fn wrap(inner: Inner) -> Self {
        Self { inner: std::sync::Mutex::new(inner) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave a half-updated network that Python
        // could see (the call raised), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A 2-D float64 array (rows x cols) from row-major data.
fn matrix<'py>(py: Python<'py>, data: Vec<f64>, rows: usize, cols: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    PyArray1::from_vec(py, data).reshape([rows, cols])
}

/// A faer matrix as a (rows, cols) float64 array.
fn mat<'py>(py: Python<'py>, m: &ebn_network::core::Mat<f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let data = (0..m.nrows()).flat_map(|r| (0..m.ncols()).map(move |c| m[(r, c)])).collect();
    matrix(py, data, m.nrows(), m.ncols())
}

fn recording_dict<'py>(py: Python<'py>, rec: &Recording) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let n = rec.times.len();
    out.set_item("t", PyArray1::from_vec(py, rec.times.clone()))?;
    for (name, trace) in [("x", &rec.x), ("x_hat", &rec.x_hat), ("c", &rec.command), ("v", &rec.voltages)] {
        if name == "v" && trace.dim == 0 {
            continue;
        }
        out.set_item(name, matrix(py, trace.data.clone(), n, trace.dim)?)?;
    }
    if !rec.voltage_neurons.is_empty() {
        let neurons: Vec<i64> = rec.voltage_neurons.iter().map(|&i| i as i64).collect();
        out.set_item("v_neurons", PyArray1::from_vec(py, neurons))?;
    }
    out.set_item("spike_times", PyArray1::from_vec(py, rec.spikes.times.clone()))?;
    let neurons: Vec<i64> = rec.spikes.neurons.iter().map(|&i| i64::from(i)).collect();
    out.set_item("spike_neurons", PyArray1::from_vec(py, neurons))?;
    out.set_item("duration", rec.duration)?;
    out.set_item("nrmse", analysis::nrmse(&rec.x, &rec.x_hat).map_err(value_error)?)?;
    Ok(out)
}

#[pymethods]
impl Experiment {
    /// The experiment of a TOML file (e.g. `examples/linear.toml`).
    #[staticmethod]
    fn from_file(path: std::path::PathBuf) -> PyResult<Self> {
        let text =
            std::fs::read_to_string(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let config = ExperimentConfig::from_toml(&text).map_err(|e| value_error(format!("{}: {e}", path.display())))?;
        Self::from_config(config, path.parent())
    }

    /// The experiment of TOML text.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        Self::from_config(ExperimentConfig::from_toml(text).map_err(value_error)?, None)
    }

    /// The experiment of a dict with the structure of the TOML files (JSON-compatible
    /// values); an unknown or missing key raises `ValueError` naming it.
    #[staticmethod]
    fn from_dict(py: Python<'_>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let json: String = py.import("json")?.call_method1("dumps", (config,))?.extract()?;
        // Through a JSON value, so that an error carries the key path (network.n), not a
        // position in a string the user never wrote.
        let value: serde_json::Value = serde_json::from_str(&json).map_err(value_error)?;
        let config: ExperimentConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." { value_error(inner) } else { value_error(format!("{path}: {inner}")) }
        })?;
        Self::from_config(config, None)
    }

    /// The configuration as a dict (what `from_dict` takes).
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = serde_json::to_string(&self.lock().config).map_err(value_error)?;
        py.import("json")?.call_method1("loads", (json,))
    }

    /// Trains the remaining trials (all of them for a fresh experiment), with a progress bar
    /// on stderr if `progress`; returns the learning curve (normalised error per trial).
    #[pyo3(signature = (progress = true))]
    fn train<'py>(&self, py: Python<'py>, progress: bool) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mut guard = self.lock();
        let trials = guard.config.training.as_ref().map_or(0, |t| t.trials);
        let Inner { built, network, state, .. } = &mut *guard;
        let result: Result<(), String> = py.detach(|| {
            let bar = if progress {
                indicatif::ProgressBar::new((trials - state.trials_done.min(trials)) as u64)
            } else {
                indicatif::ProgressBar::hidden()
            };
            built.train(network, state, |_| bar.inc(1)).map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            Ok(())
        });
        if let Some(e) = take_target_error() {
            return Err(e);
        }
        result.map_err(value_error)?;
        Ok(PyArray1::from_vec(py, guard.state.learning_curve.clone()))
    }

    /// Runs test `index` (K = 0, no learning) and returns its recording: `t` (n,), `x`,
    /// `x_hat`, `c` (n, J), `v` (n, k) when voltages are recorded, `spike_times` (m,) and
    /// `spike_neurons` (m,) int64, `duration`, and `nrmse`.
    #[pyo3(signature = (index = 0))]
    fn test<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyDict>> {
        let mut guard = self.lock();
        let Inner { built, network, .. } = &mut *guard;
        let rec = py.detach(|| built.run_test(network, index));
        if let Some(e) = take_target_error() {
            return Err(e);
        }
        let rec = rec.map_err(value_error)?;
        recording_dict(py, &rec)
    }

    /// The learning curve so far.
    fn learning_curve<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.lock().state.learning_curve.clone())
    }

    /// Trials trained so far.
    fn trials_done(&self) -> usize {
        self.lock().state.trials_done
    }

    /// The decoder D, (J, N).
    fn decoder<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let guard = self.lock();
        mat(py, guard.network.decoder())
    }

    /// The parameters of the network's NIR graph (`ebn_network::nir`; `ebn.nir.to_nir` builds
    /// the graph from them): a dict of floats, a string and NumPy arrays. Raises ValueError
    /// for what NIR cannot express (a tanh basis, a refractory neuron).
    fn nir_parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.lock();
        let g = ebn_network::nir::export(&guard.network, &registry()).map_err(value_error)?;
        let dict = PyDict::new(py);
        dict.set_item("n", g.n)?;
        dict.set_item("dim", g.dim)?;
        dict.set_item("dt", g.dt)?;
        dict.set_item("tau_mem", g.tau_mem)?;
        dict.set_item("tau_trace", g.tau_trace)?;
        dict.set_item("neuron", g.neuron)?;
        dict.set_item("v_threshold", PyArray1::from_vec(py, g.v_threshold))?;
        dict.set_item("v_reset", PyArray1::from_vec(py, g.v_reset))?;
        dict.set_item("encoder", mat(py, &g.encoder)?)?;
        dict.set_item("fast", mat(py, &g.fast)?)?;
        dict.set_item("slow", mat(py, &g.slow)?)?;
        dict.set_item("readout", mat(py, &g.readout)?)?;
        Ok(dict)
    }

    /// The slow weights as stored: Omega_s (N, N_b) for the dense form, W (J, N_b) for the
    /// factored form.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let stored = StoredWeights::from_weights(self.lock().network.slow_weights());
        // Stored column-major; the factored form stores W^T.
        let m = |r: usize, c: usize| stored.data[c * stored.rows + r];
        let (rows, cols, data): (usize, usize, Vec<f64>) = match stored.form {
            ebn_network::core::WeightForm::Dense => (
                stored.rows,
                stored.cols,
                (0..stored.rows).flat_map(|r| (0..stored.cols).map(move |c| m(r, c))).collect(),
            ),
            ebn_network::core::WeightForm::Factored => (
                stored.cols,
                stored.rows,
                (0..stored.cols).flat_map(|c| (0..stored.rows).map(move |r| m(r, c))).collect(),
            ),
        };
        matrix(py, data, rows, cols)
    }

    /// Saves the trained network in the project's file format (`network.ebn`, as
    /// `cargo xtask run` writes it).
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        let guard = self.lock();
        let trained = TrainedNetwork {
            config: guard.config.clone(),
            weights: StoredWeights::from_weights(guard.network.slow_weights()),
            training: guard.state.clone(),
        };
        let bytes = trained.to_bytes().map_err(value_error)?;
        std::fs::write(&path, bytes).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))
    }

    /// Loads a trained network file (from `save` or `cargo xtask run`).
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let registry = registry();
        let trained = TrainedNetwork::from_bytes_in(&bytes, &registry)
            .map_err(|e| value_error(format!("{}: {e}", path.display())))?;
        let mut config = trained.config.clone();
        let built = build(&mut config, None)?;
        let network = trained.network_in(&registry).map_err(value_error)?;
        Ok(Self::wrap(Inner { config: trained.config, built, network, state: trained.training }))
    }

    fn __repr__(&self) -> String {
        let g = self.lock();
        let trials = g.config.training.as_ref().map_or(0, |t| t.trials);
        format!(
            "Experiment(target={}, n={}, rule={}, trials {}/{})",
            g.config.target.as_ref().map_or("recorded data", |t| t.kind.as_str()),
            g.config.network.n,
            g.config.network.rule.kind,
            g.state.trials_done,
            trials
        )
    }
}

/// Derives a complete experiment from a target system with the project's recipe
/// (docs/CATALOGUE.md): `target` is a dict with the target's `kind` and parameters (a
/// catalogue flow, `{"kind": "catalogue", "name": "rossler"}`, a built-in kind, or one
/// registered with `register_target`), `options` a dict of the recipe's options (`n`,
/// `n_basis`, `max_trials`, `seed`, `feedback_gain`, `eta`, `initial_state`, ...). Returns
/// `{"config": ..., "recipe": ...}`: the experiment (for `Experiment.from_dict`) and every
/// measured and derived value.
#[pyfunction]
#[pyo3(signature = (target, options = None))]
fn fit<'py>(
    py: Python<'py>,
    target: &Bound<'py, PyDict>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let json = py.import("json")?;
    let as_value = |d: &Bound<'py, PyDict>| -> PyResult<serde_json::Value> {
        let text: String = json.call_method1("dumps", (d,))?.extract()?;
        serde_json::from_str(&text).map_err(value_error)
    };
    let spec: ebn_network::Spec = serde_json::from_value(as_value(target)?).map_err(|e| value_error(format!("target: {e}")))?;
    let options: ebn_recipe::RecipeOptions = match options {
        None => Default::default(),
        Some(d) => serde_path_to_error::deserialize(as_value(d)?).map_err(|e| {
            let path = e.path().to_string();
            value_error(format!("options.{path}: {}", e.into_inner()))
        })?,
    };
    let registry = registry();
    let fitted = py.detach(|| ebn_recipe::fit(&spec, &registry, &options));
    if let Some(e) = take_target_error() {
        return Err(e);
    }
    let fitted = fitted.map_err(value_error)?;
    let out = serde_json::json!({ "config": fitted.config, "recipe": fitted.recipe });
    json.call_method1("loads", (out.to_string(),))
}

/// The Rust core of the `ebn` package.
#[pymodule]
fn _ebn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Experiment>()?;
    m.add_function(wrap_pyfunction!(register_target, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
