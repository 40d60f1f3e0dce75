#![doc = include_str!("../README.md")]

mod command;
pub mod flows;
mod integrator;
mod systems;

pub use command::{CommandConfig, FilteredNoise, Pulse, Pulses, Zero, register_commands};
pub use flows::{CATALOGUE, CatalogueFlow, Normalized, register_flows};
pub use integrator::{Euler, IntegratorConfig, Rk4, register_integrators};
pub use systems::{Bistable, LinearSystem, Lorenz, Pendulum, Scaled, TargetConfig, VanDerPol, register_targets};

/// Registers every component of this crate: targets (the catalogue of flows and the
/// `normalized` wrapper included), integrators and commands.
pub fn register(registry: &mut ebn_core::Registry) {
    register_targets(registry);
    register_flows(registry);
    register_integrators(registry);
    register_commands(registry);
}
