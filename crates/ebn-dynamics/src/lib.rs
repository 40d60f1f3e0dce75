#![doc = include_str!("../README.md")]

mod command;
mod integrator;
mod systems;

pub use command::{CommandConfig, FilteredNoise, Pulse, Pulses, Zero};
pub use integrator::{Euler, IntegratorConfig, Rk4};
pub use systems::{Bistable, LinearSystem, Lorenz, Pendulum, TargetConfig, VanDerPol};
