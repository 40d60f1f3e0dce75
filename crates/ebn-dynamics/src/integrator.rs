//! One-step integrators of dx/dt = f(x) + c with c held constant over the step.

use ebn_core::{Category, Integrator, Registry, Result, Spec, TargetSystem};
use serde::{Deserialize, Serialize};

/// Which integrator the teacher uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegratorConfig {
    /// Forward Euler, order 1.
    Euler,
    /// Classical Runge-Kutta, order 4 (default: at dt = 1e-4 s its error is many orders below
    /// the network's, MODEL.md §8).
    #[default]
    Rk4,
}

impl IntegratorConfig {
    /// A fresh integrator (scratch space is allocated on the first step).
    pub fn build(self) -> Box<dyn Integrator> {
        match self {
            Self::Euler => Box::new(Euler::default()),
            Self::Rk4 => Box::new(Rk4::default()),
        }
    }
}

/// Registers the integrators of this crate: `euler` and `rk4` (the default).
pub fn register_integrators(registry: &mut Registry) {
    for kind in ["euler", "rk4"] {
        registry.add_integrator_spec(kind, |spec: &Spec, field: &str| -> Result<Box<dyn Integrator>> {
            if let Some(key) = spec.params.keys().next() {
                return Err(ebn_core::Error::Parse(format!(
                    "`{field}`: the integrator `{}` takes no parameters, got `{key}`",
                    spec.kind
                )));
            }
            Ok(ebn_core::serde_json::from_value::<IntegratorConfig>(ebn_core::serde_json::Value::String(
                spec.kind.clone(),
            ))
            .map_err(|e| ebn_core::Error::Parse(e.to_string()))?
            .build())
        });
    }
    registry.set_default(Category::Integrator, "rk4");
}

/// Forward Euler: x <- x + dt (f(x) + c). Order 1.
#[derive(Debug, Clone, Default)]
pub struct Euler {
    k: Vec<f64>,
}

impl Integrator for Euler {
    fn order(&self) -> u32 {
        1
    }

    fn step(&mut self, system: &dyn TargetSystem, x: &mut [f64], c: &[f64], dt: f64) {
        self.k.resize(x.len(), 0.0);
        system.vector_field(x, &mut self.k);
        for ((xi, ki), ci) in x.iter_mut().zip(&self.k).zip(c) {
            *xi += dt * (ki + ci);
        }
    }
}

/// Classical fourth-order Runge-Kutta with the command held constant over the step
/// (zero-order hold, as the network sees it). Order 4 in dt for smooth f.
#[derive(Debug, Clone, Default)]
pub struct Rk4 {
    k: [Vec<f64>; 4],
    tmp: Vec<f64>,
}

impl Rk4 {
    /// k = f(x + h * prev) + c; `prev = None` evaluates at x.
    fn stage(
        system: &dyn TargetSystem,
        x: &[f64],
        c: &[f64],
        prev: Option<(&[f64], f64)>,
        tmp: &mut [f64],
        out: &mut [f64],
    ) {
        let point: &[f64] = match prev {
            None => x,
            Some((k, h)) => {
                for ((t, xi), ki) in tmp.iter_mut().zip(x).zip(k) {
                    *t = xi + h * ki;
                }
                tmp
            }
        };
        system.vector_field(point, out);
        for (o, ci) in out.iter_mut().zip(c) {
            *o += ci;
        }
    }
}

impl Integrator for Rk4 {
    fn order(&self) -> u32 {
        4
    }

    fn step(&mut self, system: &dyn TargetSystem, x: &mut [f64], c: &[f64], dt: f64) {
        let j = x.len();
        self.tmp.resize(j, 0.0);
        for k in &mut self.k {
            k.resize(j, 0.0);
        }
        let [k1, k2, k3, k4] = &mut self.k;
        Self::stage(system, x, c, None, &mut self.tmp, k1);
        Self::stage(system, x, c, Some((k1, dt / 2.0)), &mut self.tmp, k2);
        Self::stage(system, x, c, Some((k2, dt / 2.0)), &mut self.tmp, k3);
        Self::stage(system, x, c, Some((k3, dt)), &mut self.tmp, k4);
        for i in 0..j {
            x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
}

impl From<IntegratorConfig> for Spec {
    fn from(config: IntegratorConfig) -> Self {
        Spec::of("rk4", &config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinearSystem;

    #[test]
    fn conform() {
        ebn_core::conformance::integrator(&mut Euler::default());
        ebn_core::conformance::integrator(&mut Rk4::default());
    }

    /// Error of RK4 on the §9 oscillator after 1 s against the exact solution exp(A t) x0.
    fn oscillator_error(steps: usize) -> f64 {
        let sys = LinearSystem::damped_oscillator();
        let x0 = [1.0, -0.5];
        let exact = sys.exp_action(1.0, &x0);
        let mut x = x0;
        let mut rk4 = Rk4::default();
        let dt = 1.0 / steps as f64;
        for _ in 0..steps {
            rk4.step(&sys, &mut x, &[0.0, 0.0], dt);
        }
        ((x[0] - exact[0]).powi(2) + (x[1] - exact[1]).powi(2)).sqrt()
    }

    #[test]
    fn rk4_is_fourth_order_on_the_oscillator() {
        // Halving dt divides a fourth-order error by 16; at these step counts the error is
        // ~1e-6..1e-8, far above rounding, so the ratio is 16 to within a few percent.
        for steps in [100, 200, 400] {
            let ratio = oscillator_error(steps) / oscillator_error(2 * steps);
            assert!((ratio - 16.0).abs() < 1.0, "steps {steps}: ratio {ratio}");
        }
    }
}
