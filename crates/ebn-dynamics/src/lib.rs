#![doc = include_str!("../README.md")]

mod command;
mod integrator;
mod systems;

pub use command::{CommandConfig, FilteredNoise, Pulse, Pulses, Zero, register_commands};
pub use integrator::{Euler, IntegratorConfig, Rk4, register_integrators};
pub use systems::{Bistable, LinearSystem, Lorenz, Pendulum, Scaled, TargetConfig, VanDerPol, register_targets};

/// Registers every component of this crate: targets, integrators and commands.
pub fn register(registry: &mut ebn_core::Registry) {
    register_targets(registry);
    register_integrators(registry);
    register_commands(registry);
}
