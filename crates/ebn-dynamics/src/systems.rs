//! Target systems: the vector fields f of dx/dt = f(x) + c.
//!
//! Every system documents its equations, parameters and units; the command c is added by the
//! integrator with identity gain (MODEL.md §2), so for mechanical systems the configured
//! command should drive only the velocity rows.

use ebn_core::{Registry, Result, Spec, TargetSystem, check};
use serde::{Deserialize, Serialize};

/// Which target system, with its parameters (serde: `kind = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    /// The authors' damped oscillator of MODEL.md §9 (x = [v, p]).
    DampedOscillator,
    /// A general linear system dx/dt = A x + c; `a` is given row by row.
    Linear {
        /// The matrix A, one inner list per row (1/s).
        a: Vec<Vec<f64>>,
    },
    /// See [`Bistable`].
    Bistable(Bistable),
    /// See [`Pendulum`].
    Pendulum(Pendulum),
    /// See [`VanDerPol`].
    VanDerPol(VanDerPol),
    /// See [`Lorenz`].
    Lorenz(Lorenz),
    /// Another target seen in rescaled units z = x / scale (see [`Scaled`]).
    Scaled {
        /// Typical magnitude of each component of x (length J), all > 0.
        scale: Vec<f64>,
        /// The target in its own units.
        target: Box<TargetConfig>,
    },
}

impl TargetConfig {
    /// Validates the parameters and builds the system.
    pub fn build(&self) -> Result<Box<dyn TargetSystem>> {
        Ok(match self {
            Self::DampedOscillator => Box::new(LinearSystem::damped_oscillator()),
            Self::Linear { a } => Box::new(LinearSystem::new(a.clone())?),
            Self::Bistable(s) => Box::new(s.validated()?),
            Self::Pendulum(s) => Box::new(s.validated()?),
            Self::VanDerPol(s) => Box::new(s.validated()?),
            Self::Lorenz(s) => Box::new(s.validated()?),
            Self::Scaled { scale, target } => {
                let inner = target.build().map_err(|e| e.within("target"))?;
                Box::new(Scaled::new(scale.clone(), inner)?)
            }
        })
    }

    /// The matrix A if the target is linear (dx/dt = A x + c), row by row.
    pub fn linear_matrix(&self) -> Option<Vec<Vec<f64>>> {
        match self {
            Self::DampedOscillator => Some(LinearSystem::damped_oscillator().a),
            Self::Linear { a } => Some(a.clone()),
            _ => None,
        }
    }

    /// State dimension J of the system.
    pub fn dim(&self) -> usize {
        match self {
            Self::Linear { a } => a.len(),
            Self::Bistable(_) => 1,
            Self::Lorenz(_) => 3,
            Self::DampedOscillator | Self::Pendulum(_) | Self::VanDerPol(_) => 2,
            Self::Scaled { target, .. } => target.dim(),
        }
    }
}

/// A target seen in rescaled units: the state is z = x / scale (component-wise), so
///
/// ```text
/// dz/dt = f(scale * z) / scale + c
/// ```
///
/// with the command c in the units of z. Used to present a system whose components have very
/// different ranges (a pendulum's angle ~2 rad and velocity ~12 rad/s) to a network whose
/// loss ||x - x_hat||^2 weighs all components alike.
#[derive(Debug)]
pub struct Scaled {
    scale: Vec<f64>,
    inner: Box<dyn TargetSystem>,
}

impl Scaled {
    /// Wraps any target: `scale` (length J, all > 0) is the typical magnitude of each
    /// component of its state.
    pub fn new(scale: Vec<f64>, inner: Box<dyn TargetSystem>) -> Result<Self> {
        check::same_len("scale", inner.dim(), scale.len())?;
        for (i, v) in scale.iter().enumerate() {
            check::positive(&format!("scale[{i}]"), *v)?;
        }
        Ok(Self { scale, inner })
    }

    /// The scale of each component.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// The wrapped system, in its own units.
    pub fn inner(&self) -> &dyn TargetSystem {
        self.inner.as_ref()
    }
}

/// Parameters of the `scaled` kind: any registered target, in rescaled units.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaledParams {
    scale: Vec<f64>,
    target: Spec,
}

/// Registers the target systems of this crate (every kind of [`TargetConfig`]; `scaled`
/// wraps any kind the registry knows, a fork's too).
pub fn register_targets(registry: &mut Registry) {
    for kind in ["damped_oscillator", "linear", "bistable", "pendulum", "van_der_pol", "lorenz"] {
        registry.add_target_spec(kind, |spec, field, _| spec.parse_tagged::<TargetConfig>(field)?.build());
    }
    registry.add_target("scaled", |p: ScaledParams, reg: &Registry| -> Result<Box<dyn TargetSystem>> {
        let inner = reg.target(&p.target, "target")?;
        Ok(Box::new(Scaled::new(p.scale, inner)?))
    });
}

/// States up to this dimension are rescaled on the stack (no allocation per evaluation).
const STACK_DIM: usize = 16;

impl TargetSystem for Scaled {
    fn dim(&self) -> usize {
        self.scale.len()
    }

    fn vector_field(&self, z: &[f64], dzdt: &mut [f64]) {
        let mut stack = [0.0; STACK_DIM];
        let mut heap = Vec::new();
        let x: &mut [f64] = if z.len() <= STACK_DIM {
            &mut stack[..z.len()]
        } else {
            heap.resize(z.len(), 0.0);
            &mut heap
        };
        for ((xi, zi), s) in x.iter_mut().zip(z).zip(&self.scale) {
            *xi = zi * s;
        }
        self.inner.vector_field(x, dzdt);
        for (d, s) in dzdt.iter_mut().zip(&self.scale) {
            *d /= s;
        }
    }

    /// z = S^-1 x with S = diag(scale): a linear inner system A becomes S^-1 A S.
    fn linear_matrix(&self) -> Option<Vec<Vec<f64>>> {
        let a = self.inner.linear_matrix()?;
        let s = &self.scale;
        Some(
            a.iter()
                .enumerate()
                .map(|(r, row)| row.iter().enumerate().map(|(c, v)| v * s[c] / s[r]).collect())
                .collect(),
        )
    }
}

/// A linear system dx/dt = A x + c (A in 1/s, stored row-major).
///
/// Special case: [`LinearSystem::damped_oscillator`], the authors' 2-D oscillator.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSystem {
    a: Vec<Vec<f64>>,
}

impl LinearSystem {
    /// dx/dt = A x, with A square and finite.
    pub fn new(a: Vec<Vec<f64>>) -> Result<Self> {
        let j = check::nonzero("a (number of rows)", a.len())?;
        for (i, row) in a.iter().enumerate() {
            check::same_len(&format!("a[{i}]"), j, row.len())?;
            check::all_finite(&format!("a[{i}]"), row)?;
        }
        Ok(Self { a })
    }

    /// The damped oscillator of MODEL.md §9, x = [v, p]:
    ///
    /// ```text
    /// dv/dt = -24 p - 3 v + c_v,     dp/dt = 3 v + c_p
    /// ```
    ///
    /// Eigenvalues -1.5 +- 8.35i (1/s): a period of 0.75 s and an amplitude decay time of
    /// 0.67 s. The command drives v only (c_p = 0 in the experiments).
    pub fn damped_oscillator() -> Self {
        Self { a: vec![vec![-3.0, -24.0], vec![3.0, 0.0]] }
    }

    /// The matrix A, row by row.
    pub fn matrix(&self) -> &[Vec<f64>] {
        &self.a
    }

    /// exp(A t) x0, by scaling and squaring of a Taylor series (used as the exact solution in
    /// tests; accurate to ~1e-14 relative for the small systems used here).
    pub fn exp_action(&self, t: f64, x0: &[f64]) -> Vec<f64> {
        let j = self.a.len();
        let norm: f64 = self.a.iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max) * t.abs();
        let squarings = if norm > 0.5 { (norm / 0.5).log2().ceil() as i32 } else { 0 };
        let h = t / 2f64.powi(squarings);
        let mul = |p: &[Vec<f64>], q: &[Vec<f64>]| -> Vec<Vec<f64>> {
            (0..j).map(|r| (0..j).map(|c| (0..j).map(|k| p[r][k] * q[k][c]).sum()).collect()).collect()
        };
        let ah: Vec<Vec<f64>> = self.a.iter().map(|r| r.iter().map(|v| v * h).collect()).collect();
        let mut e: Vec<Vec<f64>> = (0..j).map(|r| (0..j).map(|c| f64::from(u8::from(r == c))).collect()).collect();
        let mut term = e.clone();
        for k in 1..30 {
            term = mul(&term, &ah).into_iter().map(|r| r.into_iter().map(|v| v / k as f64).collect()).collect();
            for r in 0..j {
                for c in 0..j {
                    e[r][c] += term[r][c];
                }
            }
        }
        for _ in 0..squarings {
            e = mul(&e, &e);
        }
        (0..j).map(|r| (0..j).map(|c| e[r][c] * x0[c]).sum()).collect()
    }
}

impl TargetSystem for LinearSystem {
    fn dim(&self) -> usize {
        self.a.len()
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        for (out, row) in dxdt.iter_mut().zip(&self.a) {
            *out = row.iter().zip(x).map(|(a, v)| a * v).sum();
        }
    }

    fn linear_matrix(&self) -> Option<Vec<Vec<f64>>> {
        Some(self.a.clone())
    }
}

/// A bistable system with attractors at x = +-1/2 and an unstable point at 0:
///
/// ```text
/// dx/dt = gain (x/4 - x^3) + c
/// ```
///
/// `gain` (1/s) sets the speed of relaxation; examples/bistable.toml uses gain = 5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bistable {
    /// Rate multiplier (1/s).
    #[serde(default = "one")]
    pub gain: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for Bistable {
    fn default() -> Self {
        Self { gain: 1.0 }
    }
}

impl Bistable {
    fn validated(&self) -> Result<Self> {
        check::positive("gain", self.gain)?;
        Ok(*self)
    }
}

impl TargetSystem for Bistable {
    fn dim(&self) -> usize {
        1
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        dxdt[0] = self.gain * (x[0] / 4.0 - x[0].powi(3));
    }
}

/// A damped pendulum, x = [theta, omega] (rad, rad/s):
///
/// ```text
/// dtheta/dt = omega,    domega/dt = -omega0_sq sin(theta) - damping omega + c_omega
/// ```
///
/// Defaults: omega0_sq = 64 /s^2 (small-angle period 2 pi / 8 = 0.785 s), damping = 2 /s.
/// The command drives the angular velocity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pendulum {
    /// g / l (1/s^2).
    pub omega0_sq: f64,
    /// Viscous damping rate (1/s).
    pub damping: f64,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self { omega0_sq: 64.0, damping: 2.0 }
    }
}

impl Pendulum {
    fn validated(&self) -> Result<Self> {
        check::positive("omega0_sq", self.omega0_sq)?;
        check::non_negative("damping", self.damping)?;
        Ok(*self)
    }
}

impl TargetSystem for Pendulum {
    fn dim(&self) -> usize {
        2
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        dxdt[0] = x[1];
        dxdt[1] = -self.omega0_sq * x[0].sin() - self.damping * x[1];
    }
}

/// The van der Pol oscillator, sped up by `speed`:
///
/// ```text
/// dx/dt = speed y,    dy/dt = speed (mu (1 - x^2) y - x)
/// ```
///
/// With mu = 1 the limit cycle has amplitude ~2.01 in x and period 6.663 / speed s; the
/// default speed = 6.663 /s gives a period of ~1 s (project choice, to fit the network's
/// time scales 1/lambda = 0.1 s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VanDerPol {
    /// Nonlinear damping mu (dimensionless).
    pub mu: f64,
    /// Time-scale factor (1/s).
    pub speed: f64,
}

impl Default for VanDerPol {
    fn default() -> Self {
        Self { mu: 1.0, speed: 6.663 }
    }
}

impl VanDerPol {
    fn validated(&self) -> Result<Self> {
        check::non_negative("mu", self.mu)?;
        check::positive("speed", self.speed)?;
        Ok(*self)
    }
}

impl TargetSystem for VanDerPol {
    fn dim(&self) -> usize {
        2
    }

    fn vector_field(&self, x: &[f64], dxdt: &mut [f64]) {
        dxdt[0] = self.speed * x[1];
        dxdt[1] = self.speed * (self.mu * (1.0 - x[0] * x[0]) * x[1] - x[0]);
    }
}

/// The Lorenz-63 system, shifted, scaled and slowed to the network's range:
///
/// ```text
/// u = scale * (X, Y, Z - z_offset),   d(X, Y, Z)/dt' = (sigma (Y - X), X (rho - Z) - Y, X Y - beta Z),
/// t' = speed * t
/// ```
///
/// so that du/dt = speed * scale * f_L(u / scale + (0, 0, z_offset)). Defaults: sigma = 10,
/// rho = 28, beta = 8/3 (the classical chaotic values); scale = 0.05, z_offset = 25 (the
/// attractor then fits in about [-1, 1]^3); speed = 0.5 (one Lorenz time unit is 2 s).
/// scale, z_offset and speed are project choices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lorenz {
    /// Prandtl number sigma.
    pub sigma: f64,
    /// Rayleigh number rho.
    pub rho: f64,
    /// Geometric factor beta.
    pub beta: f64,
    /// Factor from Lorenz units to network units.
    pub scale: f64,
    /// Lorenz Z that maps to u_3 = 0.
    pub z_offset: f64,
    /// Lorenz time units per second.
    pub speed: f64,
}

impl Default for Lorenz {
    fn default() -> Self {
        Self { sigma: 10.0, rho: 28.0, beta: 8.0 / 3.0, scale: 0.05, z_offset: 25.0, speed: 0.5 }
    }
}

impl Lorenz {
    fn validated(&self) -> Result<Self> {
        check::positive("sigma", self.sigma)?;
        check::positive("rho", self.rho)?;
        check::positive("beta", self.beta)?;
        check::positive("scale", self.scale)?;
        check::finite("z_offset", self.z_offset)?;
        check::positive("speed", self.speed)?;
        Ok(*self)
    }
}

impl TargetSystem for Lorenz {
    fn dim(&self) -> usize {
        3
    }

    fn vector_field(&self, u: &[f64], dudt: &mut [f64]) {
        let (x, y, z) = (u[0] / self.scale, u[1] / self.scale, u[2] / self.scale + self.z_offset);
        let k = self.speed * self.scale;
        dudt[0] = k * self.sigma * (y - x);
        dudt[1] = k * (x * (self.rho - z) - y);
        dudt[2] = k * (x * y - self.beta * z);
    }
}

impl From<TargetConfig> for Spec {
    fn from(config: TargetConfig) -> Self {
        Spec::tagged(&config)
    }
}

impl From<LinearSystem> for TargetConfig {
    fn from(s: LinearSystem) -> Self {
        Self::Linear { a: s.a }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_conforms() {
        for cfg in [
            TargetConfig::DampedOscillator,
            TargetConfig::Linear { a: vec![vec![-1.0, 0.5, 0.0], vec![0.0, -2.0, 1.0], vec![0.3, 0.0, -0.1]] },
            TargetConfig::Bistable(Bistable { gain: 5.0 }),
            TargetConfig::Pendulum(Pendulum::default()),
            TargetConfig::VanDerPol(VanDerPol::default()),
            TargetConfig::Lorenz(Lorenz::default()),
            TargetConfig::Scaled {
                scale: vec![2.0, 12.0],
                target: Box::new(TargetConfig::Pendulum(Pendulum::default())),
            },
        ] {
            let sys = cfg.build().unwrap();
            assert_eq!(sys.dim(), cfg.dim());
            ebn_core::conformance::target_system(sys.as_ref(), 3.0);
        }
    }

    #[test]
    fn fixed_points_are_where_the_equations_say() {
        let mut out = [0.0; 3];
        let b = Bistable { gain: 5.0 };
        for x in [-0.5, 0.0, 0.5] {
            b.vector_field(&[x], &mut out[..1]);
            assert!(out[0].abs() < 1e-15);
        }
        // Lorenz fixed points C+- = (+-sqrt(beta (rho - 1)), same, rho - 1).
        let l = Lorenz::default();
        let c = (l.beta * (l.rho - 1.0)).sqrt();
        l.vector_field(&[c * l.scale, c * l.scale, (l.rho - 1.0 - l.z_offset) * l.scale], &mut out);
        assert!(out.iter().all(|v| v.abs() < 1e-12), "{out:?}");
        Pendulum::default().vector_field(&[std::f64::consts::PI, 0.0], &mut out[..2]);
        assert!(out[1].abs() < 1e-13);
    }

    #[test]
    fn scaling_is_a_change_of_units() {
        let raw = Pendulum::default();
        let scaled = TargetConfig::Scaled { scale: vec![2.0, 12.0], target: Box::new(TargetConfig::Pendulum(raw)) }
            .build()
            .unwrap();
        let (mut fx, mut fz) = ([0.0; 2], [0.0; 2]);
        raw.vector_field(&[1.2, -3.0], &mut fx);
        scaled.vector_field(&[0.6, -0.25], &mut fz);
        assert!((fz[0] - fx[0] / 2.0).abs() < 1e-14 && (fz[1] - fx[1] / 12.0).abs() < 1e-14);
    }

    #[test]
    fn rejects_bad_parameters() {
        let bad = [
            TargetConfig::Scaled { scale: vec![1.0], target: Box::new(TargetConfig::DampedOscillator) },
            TargetConfig::Scaled { scale: vec![1.0, 0.0], target: Box::new(TargetConfig::DampedOscillator) },
            TargetConfig::Linear { a: vec![] },
            TargetConfig::Linear { a: vec![vec![1.0, 2.0]] },
            TargetConfig::Linear { a: vec![vec![f64::NAN]] },
            TargetConfig::Bistable(Bistable { gain: -1.0 }),
            TargetConfig::Pendulum(Pendulum { omega0_sq: 0.0, damping: 1.0 }),
            TargetConfig::VanDerPol(VanDerPol { mu: 1.0, speed: f64::INFINITY }),
            TargetConfig::Lorenz(Lorenz { scale: 0.0, ..Lorenz::default() }),
        ];
        for cfg in bad {
            assert!(cfg.build().is_err(), "{cfg:?} accepted");
        }
    }

    #[test]
    fn config_names_and_unknown_keys() {
        let cfg: TargetConfig = toml::from_str("kind = \"pendulum\"\ndamping = 1.0").unwrap();
        assert_eq!(cfg, TargetConfig::Pendulum(Pendulum { omega0_sq: 64.0, damping: 1.0 }));
        let err = toml::from_str::<TargetConfig>("kind = \"pendulum\"\ndampnig = 1.0").unwrap_err();
        assert!(err.to_string().contains("dampnig"), "{err}");
    }
}
