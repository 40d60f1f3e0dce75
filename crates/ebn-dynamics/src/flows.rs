//! A catalogue of chaotic flows, each with its published parameters, and a change of units
//! that puts any target in the network's range and time scale.
//!
//! The flows and their parameter values are those of the dysts catalogue of strange attractors
//! (W. Gilpin, "Chaos as an interpretable benchmark for forecasting and data-driven
//! modelling", NeurIPS Datasets and Benchmarks 2021; the values of its
//! `chaotic_attractors.json`), each with the original publication it names. The equations are
//! written here from those publications' formulas; time is in each system's own units (the
//! [`Normalized`] wrapper maps it to seconds). Also listed, for reference and the harness's
//! report: a point on or near the attractor, and the catalogue's estimates of the dominant
//! period (in the system's units), the largest Lyapunov exponent and the correlation dimension.

use ebn_core::{Registry, Result, TargetSystem, check};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A right-hand side: parameters (in the order of [`Entry::params`]), state, derivative.
type Rhs = fn(&[f64], &[f64], &mut [f64]);

/// One flow of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Name in files (`kind = "catalogue"`, `name = "rossler"`).
    pub name: &'static str,
    /// State dimension.
    pub dim: usize,
    /// Parameter names and the catalogue's values.
    pub params: &'static [(&'static str, f64)],
    /// A point on or near the attractor (the catalogue's initial condition).
    pub initial: &'static [f64],
    /// The catalogue's dominant period (system time units).
    pub period: f64,
    /// The catalogue's estimate of the largest Lyapunov exponent (1 / system time unit).
    pub lyapunov: f64,
    /// The catalogue's estimate of the correlation dimension.
    pub correlation_dimension: f64,
    /// The equations, as written in the source.
    pub equations: &'static str,
    /// The original publication.
    pub citation: &'static str,
    rhs: Rhs,
}

macro_rules! flow {
    ($name:literal, $dim:literal, [$($p:ident = $v:expr),*], $ic:expr, $period:expr, $lyap:expr, $cd:expr,
     $eq:literal, $cite:literal, |$x:ident, $d:ident| $body:block) => {
        Entry {
            name: $name,
            dim: $dim,
            params: &[$((stringify!($p), $v)),*],
            initial: &$ic,
            period: $period,
            lyapunov: $lyap,
            correlation_dimension: $cd,
            equations: $eq,
            citation: $cite,
            rhs: {
                #[allow(unused_variables, unused_mut, unused_assignments)]
                fn rhs(params: &[f64], $x: &[f64], $d: &mut [f64]) {
                    let mut _i = 0;
                    $(let $p = params[_i]; _i += 1;)*
                    $body
                }
                rhs
            },
        }
    };
}

/// Every flow of the catalogue, in alphabetical order.
pub const CATALOGUE: &[Entry] = &[
    flow!(
        "aizawa",
        3,
        [a = 0.95, b = 0.7, c = 0.6, d = 3.5, e = 0.25, f = 0.1],
        [-0.78450179, -0.62887672, -0.17620268],
        2.5837,
        0.1348,
        1.892,
        "x' = (z - b) x - d y; y' = d x + (z - b) y; z' = c + a z - z^3/3 - (x^2 + y^2)(1 + e z) + f z x^3",
        "Aizawa & Uezu (1982), Prog. Theor. Phys. 67:982; Langford (1984)",
        |x, dx| {
            let (u, v, w) = (x[0], x[1], x[2]);
            dx[0] = u * w - b * u - d * v;
            dx[1] = d * u + v * w - b * v;
            dx[2] = c + a * w - w * w * w / 3.0 - u * u - v * v - e * w * u * u - e * w * v * v + f * w * u * u * u;
        }
    ),
    flow!(
        "arneodo",
        3,
        [a = -5.5, b = 4.5, c = 1.0, d = -1.0],
        [-2.7515698, 0.19079818, 3.4703629],
        3.1641,
        0.2373,
        1.933,
        "x' = y; y' = z; z' = -a x - b y - c z + d x^3",
        "Arneodo, Coullet & Tresser (1980), Phys. Lett. A 79:259",
        |x, d_| {
            d_[0] = x[1];
            d_[1] = x[2];
            d_[2] = -a * x[0] - b * x[1] - c * x[2] + d * x[0] * x[0] * x[0];
        }
    ),
    flow!(
        "chen",
        3,
        [a = 35.0, b = 3.0, c = 28.0],
        [3.2689697, 5.2990458, 19.435349],
        0.58689,
        2.0059,
        2.080,
        "x' = a (y - x); y' = (c - a) x - x z + c y; z' = x y - b z",
        "Chen (1997), Proc. First Int. Conf. Control of Oscillations and Chaos",
        |x, d| {
            d[0] = a * x[1] - a * x[0];
            d[1] = (c - a) * x[0] - x[0] * x[2] + c * x[1];
            d[2] = x[0] * x[1] - b * x[2];
        }
    ),
    flow!(
        "chen_lee",
        3,
        [a = 5.0, b = -10.0, c = -0.38],
        [0.17177112, 0.10360479, 6.2553878],
        2.8043,
        0.1636,
        1.227,
        "x' = a x - y z; y' = b y + x z; z' = c z + x y / 3",
        "Chen & Lee (2004), Chaos Solitons Fractals (anti-control of chaos in rigid body motion)",
        |x, d| {
            d[0] = a * x[0] - x[1] * x[2];
            d[1] = b * x[1] + x[0] * x[2];
            d[2] = c * x[2] + 1.0 / 3.0 * x[0] * x[1];
        }
    ),
    flow!(
        "coullet",
        3,
        [a = -0.8, b = 1.1, c = 0.45, d = -1.0],
        [0.34539837958549907, 0.4284701181998099, 0.086983698175975],
        5.7663,
        0.1371,
        2.092,
        "x' = y; y' = z; z' = -a x - b y - c z + d x^3 (Arneodo's form)",
        "Arneodo, Coullet & Tresser (1980), Phys. Lett. A 79:259",
        |x, d_| {
            d_[0] = x[1];
            d_[1] = x[2];
            d_[2] = -a * x[0] - b * x[1] - c * x[2] + d * x[0] * x[0] * x[0];
        }
    ),
    flow!(
        "dadras",
        3,
        [c = 2.0, e = 9.0, o = 2.7, p = 3.0, r = 1.7],
        [1.0284085, -3.5348655, -0.72081646],
        3.2886,
        0.4059,
        1.605,
        "x' = y - p x + o y z; y' = r y - x z + z; z' = c x y - e z",
        "Dadras & Momeni (2009), Phys. Lett. A 373:3637",
        |x, d| {
            d[0] = x[1] - p * x[0] + o * x[1] * x[2];
            d[1] = r * x[1] - x[0] * x[2] + x[2];
            d[2] = c * x[0] * x[1] - e * x[2];
        }
    ),
    flow!(
        "finance",
        3,
        [a = 0.001, b = 0.2, c = 1.1],
        [-0.51664739, -3.9568707, 0.0012893581],
        9.8932,
        0.0935,
        1.922,
        "x' = (1/b - a) x + z + x y; y' = -b y - x^2; z' = -x - c z",
        "Cai & Huang (2007), Int. J. Nonlinear Science 3",
        |x, d| {
            d[0] = (1.0 / b - a) * x[0] + x[2] + x[0] * x[1];
            d[1] = -b * x[1] - x[0] * x[0];
            d[2] = -x[0] - c * x[2];
        }
    ),
    flow!(
        "genesio_tesi",
        3,
        [a = 0.44, b = 1.1, c = 1.0],
        [-0.053772565, -0.26162564, 0.33501557],
        5.9431,
        0.1050,
        1.947,
        "x' = y; y' = z; z' = -c x - b y - a z + x^2",
        "Genesio & Tesi (1992), Automatica 28:531",
        |x, d| {
            d[0] = x[1];
            d[1] = x[2];
            d[2] = -c * x[0] - b * x[1] - a * x[2] + x[0] * x[0];
        }
    ),
    flow!(
        "hadley",
        3,
        [a = 0.2, b = 4.0, f = 9.0, g = 1.0],
        [1.3664423, 0.9309146, 0.64283417],
        1.4541,
        0.2386,
        2.029,
        "x' = -y^2 - z^2 - a x + a f; y' = x y - b x z - y + g; z' = b x y + x z - z",
        "Hadley (1735), Philos. Trans. R. Soc. 34:58",
        |x, d| {
            d[0] = -x[1] * x[1] - x[2] * x[2] - a * x[0] + a * f;
            d[1] = x[0] * x[1] - b * x[0] * x[2] - x[1] + g;
            d[2] = b * x[0] * x[1] + x[0] * x[2] - x[2];
        }
    ),
    flow!(
        "halvorsen",
        3,
        [a = 1.4, b = 4.0],
        [-8.6807408, -2.4741399, 0.070775762],
        1.4889,
        0.6963,
        1.884,
        "x' = -a x - b (y + z) - y^2, cyclically in (x, y, z)",
        "Sprott (2010), Elegant Chaos, World Scientific",
        |x, d| {
            d[0] = -a * x[0] - b * x[1] - b * x[2] - x[1] * x[1];
            d[1] = -a * x[1] - b * x[2] - b * x[0] - x[2] * x[2];
            d[2] = -a * x[2] - b * x[0] - b * x[1] - x[0] * x[0];
        }
    ),
    flow!(
        "hyper_lorenz",
        4,
        [a = 10.0, b = 2.667, c = 28.0, d = 1.1],
        [-9.186073735061425, -0.6744570634419695, 16.440536886214517, -145.0243848950473],
        1.277546730110058,
        0.3288,
        2.325,
        "x' = a (y - x) + w; y' = -x z + c x - y; z' = -b z + x y; w' = d w - x z",
        "Meier (2003), Presentation of Attractors with Cinema (hyperchaotic Lorenz)",
        |x, d_| {
            d_[0] = a * x[1] - a * x[0] + x[3];
            d_[1] = -x[0] * x[2] + c * x[0] - x[1];
            d_[2] = -b * x[2] + x[0] * x[1];
            d_[3] = d * x[3] - x[0] * x[2];
        }
    ),
    flow!(
        "hyper_rossler",
        4,
        [a = 0.25, b = 3.0, c = 0.5, d = 0.05],
        [-93.667697, 15.5078, 0.032086964, 43.792796],
        1.1157476694793766,
        0.1718,
        1.891,
        "x' = -y - z; y' = x + a y + w; z' = b + x z; w' = -c z + d w",
        "Rossler (1979), An equation for hyperchaos, Phys. Lett. A 71:155",
        |x, d_| {
            d_[0] = -x[1] - x[2];
            d_[1] = x[0] + a * x[1] + x[3];
            d_[2] = b + x[0] * x[2];
            d_[3] = -c * x[2] + d * x[3];
        }
    ),
    flow!(
        "lorenz",
        3,
        [beta = 2.667, rho = 28.0, sigma = 10.0],
        [-9.7869288, -15.03852, 20.533978],
        1.5008,
        0.8917,
        1.994,
        "x' = sigma (y - x); y' = rho x - x z - y; z' = x y - beta z",
        "Lorenz (1963), J. Atmos. Sci. 20:130",
        |x, d| {
            d[0] = sigma * x[1] - sigma * x[0];
            d[1] = rho * x[0] - x[0] * x[2] - x[1];
            d[2] = x[0] * x[1] - beta * x[2];
        }
    ),
    flow!(
        "lu_chen",
        3,
        [a = 36.0, b = 3.0, c = 18.0],
        [10.956479, 9.8813092, 22.676714],
        2.3385,
        0.3266,
        1.372,
        "x' = a (y - x); y' = -x z + c y; z' = x y - b z",
        "Lu & Chen (2002), Int. J. Bifurcat. Chaos 12:659",
        |x, d| {
            d[0] = a * x[1] - a * x[0];
            d[1] = -x[0] * x[2] + c * x[1];
            d[2] = x[0] * x[1] - b * x[2];
        }
    ),
    flow!(
        "moore_spiegel",
        3,
        [a = 10.0, b = 4.0, eps = 9.0],
        [-3.4733266, 19.666962, -3.8262485],
        1.2887,
        0.6976,
        1.846,
        "x' = y; y' = a z; z' = -z + eps y - y x^2 - b x",
        "Moore & Spiegel (1966), Astrophys. J. 143:871",
        |x, d| {
            d[0] = x[1];
            d[1] = a * x[2];
            d[2] = -x[2] + eps * x[1] - x[1] * x[0] * x[0] - b * x[0];
        }
    ),
    flow!(
        "rikitake",
        3,
        [a = 1.0, mu = 1.0],
        [-0.7791562791136255, -0.6302244598741468, 2.671200187214492],
        5.8975,
        0.1318,
        1.905,
        "x' = -mu x + y z; y' = -mu y - a x + x z; z' = 1 - x y",
        "Rikitake (1958), Math. Proc. Cambridge Philos. Soc. 54:89",
        |x, d| {
            d[0] = -mu * x[0] + x[1] * x[2];
            d[1] = -mu * x[1] - a * x[0] + x[0] * x[2];
            d[2] = 1.0 - x[0] * x[1];
        }
    ),
    flow!(
        "rossler",
        3,
        [a = 0.2, b = 0.2, c = 5.7],
        [6.5134412, 0.4772013, 0.34164294],
        5.9086,
        0.1505,
        1.796,
        "x' = -y - z; y' = x + a y; z' = b + z x - c z",
        "Rossler (1976), Phys. Lett. A 57:397",
        |x, d| {
            d[0] = -x[1] - x[2];
            d[1] = x[0] + a * x[1];
            d[2] = b + x[2] * x[0] - c * x[2];
        }
    ),
    flow!(
        "rucklidge",
        3,
        [a = 2.0, b = 6.7],
        [1.9257158, 3.1923835, 5.7829655],
        6.0721,
        0.1936,
        1.982,
        "x' = -a x + b y - y z; y' = x; z' = -z + y^2",
        "Rucklidge (1992), J. Fluid Mech. 237:209",
        |x, d| {
            d[0] = -a * x[0] + b * x[1] - x[1] * x[2];
            d[1] = x[0];
            d[2] = -x[2] + x[1] * x[1];
        }
    ),
    flow!(
        "sakarya",
        3,
        [a = -1.0, b = 1.0, c = 1.0, h = 1.0, p = 1.0, q = 0.4, r = 0.3, s = 1.0],
        [-2.8976045, 3.8877978, 3.07465],
        4.9844,
        0.2650,
        2.055,
        "x' = a x + h y + s y z; y' = -b y - p x + q x z; z' = c z - r x y",
        "Li et al. (2015), IEICE Electronics Express 12 (a four-wing attractor born in bistability)",
        |x, d| {
            d[0] = a * x[0] + h * x[1] + s * x[1] * x[2];
            d[1] = -b * x[1] - p * x[0] + q * x[0] * x[2];
            d[2] = c * x[2] - r * x[0] * x[1];
        }
    ),
    flow!(
        "shimizu_morioka",
        3,
        [a = 0.85, b = 0.5],
        [0.016838697, 0.03489384, 0.35346848],
        12.038,
        0.0357,
        1.716,
        "x' = y; y' = x - a y - x z; z' = -b z + x^2",
        "Shimizu & Morioka (1980), Phys. Lett. A 76:201",
        |x, d| {
            d[0] = x[1];
            d[1] = x[0] - a * x[1] - x[0] * x[2];
            d[2] = -b * x[2] + x[0] * x[0];
        }
    ),
    flow!(
        "sprott_b",
        3,
        [],
        [1.6878282, 1.4848132, -0.53706628],
        11.050142857142857,
        0.2067,
        1.934,
        "x' = y z; y' = x - y; z' = 1 - x y",
        "Sprott (1994), Phys. Rev. E 50:R647",
        |x, d| {
            d[0] = x[1] * x[2];
            d[1] = x[0] - x[1];
            d[2] = 1.0 - x[0] * x[1];
        }
    ),
    flow!(
        "sprott_d",
        3,
        [],
        [-1.3396906, -0.21238338, 0.32982163],
        4.8333,
        0.1017,
        1.950,
        "x' = -y; y' = x + z; z' = x z + 3 y^2",
        "Sprott (1994), Phys. Rev. E 50:R647",
        |x, d| {
            d[0] = -x[1];
            d[1] = x[0] + x[2];
            d[2] = x[0] * x[2] + 3.0 * x[1] * x[1];
        }
    ),
    flow!(
        "sprott_s",
        3,
        [],
        [0.12635702, 0.12260693, 1.2215429],
        3.3505,
        0.2737,
        1.909,
        "x' = -x - 4 y; y' = x + z^2; z' = 1 + x",
        "Sprott (1994), Phys. Rev. E 50:R647",
        |x, d| {
            d[0] = -x[0] - 4.0 * x[1];
            d[1] = x[0] + x[2] * x[2];
            d[2] = 1.0 + x[0];
        }
    ),
    flow!(
        "thomas",
        3,
        [a = 1.85, b = 10.0],
        [2.199442, 2.3634225, 3.220197],
        4.969,
        0.6324,
        1.648,
        "x' = -a x + b sin y; y' = -a y + b sin z; z' = -a z + b sin x",
        "Thomas (1999), Int. J. Bifurcat. Chaos 9:1889 (labyrinth chaos)",
        |x, d| {
            d[0] = -a * x[0] + b * x[1].sin();
            d[1] = -a * x[1] + b * x[2].sin();
            d[2] = -a * x[2] + b * x[0].sin();
        }
    ),
];

/// The catalogue's entry named `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

/// A flow of the catalogue with its parameters (the catalogue's, or overridden by name).
#[derive(Debug, Clone)]
pub struct CatalogueFlow {
    entry: &'static Entry,
    values: Vec<f64>,
}

impl CatalogueFlow {
    /// The flow `name` with the catalogue's parameters, any of them overridden by `params`;
    /// an unknown name or parameter, or a non-finite value, is an error naming it.
    pub fn new(name: &str, params: &BTreeMap<String, f64>) -> Result<Self> {
        let entry = entry(name).ok_or_else(|| {
            let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
            ebn_core::Error::invalid("name", name, format!("a flow of the catalogue: {}", names.join(", ")))
        })?;
        let mut values: Vec<f64> = entry.params.iter().map(|(_, v)| *v).collect();
        for (key, v) in params {
            let Some(i) = entry.params.iter().position(|(p, _)| p == key) else {
                let names: Vec<&str> = entry.params.iter().map(|(p, _)| *p).collect();
                return Err(ebn_core::Error::invalid(
                    format!("params.{key}"),
                    v,
                    format!("a parameter of `{name}`: [{}]", names.join(", ")),
                ));
            };
            check::finite(&format!("params.{key}"), *v)?;
            values[i] = *v;
        }
        Ok(Self { entry, values })
    }

    /// The catalogue entry.
    pub fn entry(&self) -> &'static Entry {
        self.entry
    }
}

impl TargetSystem for CatalogueFlow {
    fn dim(&self) -> usize {
        self.entry.dim
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        (self.entry.rhs)(&self.values, x, dxdt);
    }
}

/// Parameters of the `catalogue` kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueParams {
    /// The flow's name (see [`CATALOGUE`]).
    pub name: String,
    /// Parameters overridden by name (default: the catalogue's values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
}

/// Any target in normalised units and time: with z = (x - center) / scale (component-wise)
/// and a time t' = speed t,
///
/// ```text
/// dz/dt = speed f(center + scale z) / scale + c
/// ```
///
/// (the command c in units of z per second). `center`, `scale` and `speed` are what the
/// fitting recipe derives from the system's attractor (its centre, range and dominant
/// period), so that every system meets the network at the same range and time scale.
#[derive(Debug)]
pub struct Normalized {
    center: Vec<f64>,
    scale: Vec<f64>,
    speed: f64,
    inner: Box<dyn TargetSystem>,
}

impl Normalized {
    /// Wraps `inner`; `center` finite and `scale` > 0 (length J each), `speed` > 0 (system
    /// time units per second).
    pub fn new(center: Vec<f64>, scale: Vec<f64>, speed: f64, inner: Box<dyn TargetSystem>) -> Result<Self> {
        check::same_len("center", inner.dim(), center.len())?;
        check::same_len("scale", inner.dim(), scale.len())?;
        check::all_finite("center", &center)?;
        for (i, v) in scale.iter().enumerate() {
            check::positive(&format!("scale[{i}]"), *v)?;
        }
        check::positive("speed", speed)?;
        Ok(Self { center, scale, speed, inner })
    }

    /// From the state in the system's own units to normalised units.
    pub fn to_normalized(&self, x: &[f64]) -> Vec<f64> {
        x.iter().zip(&self.center).zip(&self.scale).map(|((x, c), s)| (x - c) / s).collect()
    }
}

/// Parameters of the `normalized` kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizedParams {
    center: Vec<f64>,
    scale: Vec<f64>,
    speed: f64,
    target: ebn_core::Spec,
}

impl TargetSystem for Normalized {
    fn dim(&self) -> usize {
        self.scale.len()
    }

    fn vector_field(&self, z: &[f64], dzdt: &mut [f64]) {
        let mut stack = [0.0; 16];
        let mut heap = Vec::new();
        let x: &mut [f64] = if z.len() <= stack.len() {
            &mut stack[..z.len()]
        } else {
            heap.resize(z.len(), 0.0);
            &mut heap
        };
        for (((xi, zi), s), c) in x.iter_mut().zip(z).zip(&self.scale).zip(&self.center) {
            *xi = c + zi * s;
        }
        self.inner.vector_field(x, dzdt);
        for (d, s) in dzdt.iter_mut().zip(&self.scale) {
            *d *= self.speed / s;
        }
    }
}

/// Registers `catalogue` (a flow of [`CATALOGUE`] by name) and `normalized` (any registered
/// target, a fork's too, in normalised units and time).
pub fn register_flows(registry: &mut Registry) {
    registry.add_target("catalogue", |p: CatalogueParams, _: &Registry| -> Result<Box<dyn TargetSystem>> {
        Ok(Box::new(CatalogueFlow::new(&p.name, &p.params)?))
    });
    registry.add_target("normalized", |p: NormalizedParams, reg: &Registry| -> Result<Box<dyn TargetSystem>> {
        let inner = reg.target(&p.target, "target")?;
        Ok(Box::new(Normalized::new(p.center, p.scale, p.speed, inner)?))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lorenz;

    #[test]
    fn every_flow_conforms_and_is_finite_at_its_initial_point() {
        for e in CATALOGUE {
            let flow = CatalogueFlow::new(e.name, &BTreeMap::new()).unwrap();
            assert_eq!(flow.dim(), e.initial.len(), "{}", e.name);
            ebn_core::conformance::target_system(&flow, 1.0);
            let mut d = vec![0.0; e.dim];
            flow.vector_field(e.initial, &mut d);
            assert!(d.iter().all(|v| v.is_finite()) && d.iter().any(|v| *v != 0.0), "{}: {d:?}", e.name);
        }
        let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "the catalogue is sorted and has no duplicates");
    }

    /// The catalogue's Lorenz agrees with the hand-written one (which has its own units).
    #[test]
    fn catalogue_lorenz_is_the_lorenz_system() {
        let mut p = BTreeMap::new();
        p.insert("beta".to_string(), 8.0 / 3.0);
        let flow = CatalogueFlow::new("lorenz", &p).unwrap();
        let reference = Lorenz { scale: 1.0, z_offset: 0.0, speed: 1.0, ..Lorenz::default() };
        let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
        for x in [[1.0, -2.0, 3.0], [-7.5, 0.25, 30.0]] {
            flow.vector_field(&x, &mut a);
            reference.vector_field(&x, &mut b);
            assert_eq!(a, b);
        }
    }

    /// dz/dt = speed f(c + s z) / s: checked against the Rossler field by hand.
    #[test]
    fn normalized_is_a_change_of_units_and_time() {
        let inner = CatalogueFlow::new("rossler", &BTreeMap::new()).unwrap();
        let (c, s, k) = (vec![1.0, -2.0, 0.5], vec![2.0, 4.0, 0.25], 3.0);
        let norm = Normalized::new(c.clone(), s.clone(), k, Box::new(inner.clone())).unwrap();
        let z = [0.3, -0.7, 1.1];
        let x: Vec<f64> = (0..3).map(|i| c[i] + s[i] * z[i]).collect();
        let (mut fz, mut fx) = ([0.0; 3], [0.0; 3]);
        norm.vector_field(&z, &mut fz);
        inner.vector_field(&x, &mut fx);
        for i in 0..3 {
            assert!((fz[i] - k * fx[i] / s[i]).abs() < 1e-13);
        }
        let back = norm.to_normalized(&x);
        assert!(back.iter().zip(z).all(|(a, b)| (a - b).abs() < 1e-15));
    }

    #[test]
    fn bad_names_and_parameters_are_errors_naming_them() {
        let err = CatalogueFlow::new("lorentz", &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("lorentz") && err.contains("rossler"), "{err}");
        let mut p = BTreeMap::new();
        p.insert("rh0".to_string(), 28.0);
        let err = CatalogueFlow::new("lorenz", &p).unwrap_err().to_string();
        assert!(err.contains("rh0") && err.contains("rho"), "{err}");
        p.clear();
        p.insert("rho".to_string(), f64::NAN);
        assert!(CatalogueFlow::new("lorenz", &p).is_err());
        let inner = || Box::new(CatalogueFlow::new("rossler", &BTreeMap::new()).unwrap()) as Box<dyn TargetSystem>;
        assert!(Normalized::new(vec![0.0; 3], vec![1.0, 0.0, 1.0], 1.0, inner()).is_err());
        assert!(Normalized::new(vec![0.0; 2], vec![1.0; 3], 1.0, inner()).is_err());
        assert!(Normalized::new(vec![0.0; 3], vec![1.0; 3], -1.0, inner()).is_err());
        assert!(Normalized::new(vec![f64::INFINITY, 0.0, 0.0], vec![1.0; 3], 1.0, inner()).is_err());
    }
}
