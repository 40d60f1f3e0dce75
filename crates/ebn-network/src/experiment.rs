//! An experiment: a teacher, a command and a network, run together.

use crate::closed_form::linear_slow_weights;
use crate::config::NetworkConfig;
use crate::network::Network;
use crate::record::{RecordConfig, Recorder};
use ebn_core::{
    CommandSignal, CommandStream, Error, Integrator, Recording, Result, SeedStreams, Stream,
    TargetSystem, check,
};
use ebn_dynamics::{CommandConfig, IntegratorConfig, TargetConfig};
use serde::{Deserialize, Serialize};

/// The slow weights an experiment starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialWeights {
    /// Omega_s = 0 (learning starts here).
    #[default]
    Zero,
    /// The closed form D^T (A + lambda I) D; needs a linear target and the identity basis.
    ClosedForm,
}

/// A complete, serialisable description of one simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Master seed; every random stream derives from it.
    pub seed: u64,
    /// Simulated duration (s).
    pub duration: f64,
    /// The teacher system.
    pub target: TargetConfig,
    /// The teacher's integrator.
    #[serde(default)]
    pub integrator: IntegratorConfig,
    /// The command c(t).
    pub command: CommandConfig,
    /// Initial state of the teacher (default: 0).
    #[serde(default)]
    pub initial_state: Option<Vec<f64>>,
    /// The network.
    pub network: NetworkConfig,
    /// Initial slow weights.
    #[serde(default)]
    pub slow_weights: InitialWeights,
    /// What to record.
    #[serde(default)]
    pub record: RecordConfig,
}

impl ExperimentConfig {
    /// Parses an experiment from TOML text; unknown keys are rejected with their name.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }
}

/// A built experiment: validated components ready to run.
#[derive(Debug)]
pub struct Experiment {
    config: ExperimentConfig,
    seeds: SeedStreams,
    teacher: Box<dyn TargetSystem>,
    integrator: Box<dyn Integrator>,
    command: Box<dyn CommandSignal>,
    network: Network,
}

impl Experiment {
    /// Validates the whole configuration and builds every component.
    pub fn build(config: &ExperimentConfig) -> Result<Self> {
        check::positive("duration", config.duration)?;
        let teacher = config.target.build().map_err(|e| e.within("target"))?;
        let j = teacher.dim();
        check::same_len(
            "network.dim (the target's dimension)",
            j,
            config.network.dim,
        )?;
        if let Some(x0) = &config.initial_state {
            check::same_len("initial_state", j, x0.len())?;
            check::all_finite("initial_state", x0)?;
        }
        let command = config.command.build(j).map_err(|e| e.within("command"))?;
        let seeds = SeedStreams::new(config.seed);
        let mut network = Network::build(&config.network, seeds)?;
        if config.slow_weights == InitialWeights::ClosedForm {
            let a = match &config.target {
                TargetConfig::DampedOscillator => ebn_dynamics::LinearSystem::damped_oscillator()
                    .matrix()
                    .to_vec(),
                TargetConfig::Linear { a } => a.clone(),
                other => {
                    return Err(Error::Unsupported(format!(
                        "closed-form weights need a linear target, not {other:?}"
                    )));
                }
            };
            if config.network.basis != ebn_basis::BasisConfig::Identity {
                return Err(Error::Unsupported(
                    "closed-form weights need the identity basis".into(),
                ));
            }
            let w = linear_slow_weights(
                &a,
                network.decoder(),
                config.network.lambda,
                config.network.slow_weights,
            )?;
            network.set_slow_weights(w)?;
        }
        Ok(Self {
            config: config.clone(),
            seeds,
            teacher,
            integrator: config.integrator.build(),
            command,
            network,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The network (e.g. to inspect its weights).
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The network, mutably (e.g. to add a perturbation).
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    /// Runs the experiment once from rest, with the `trial`-th realisation of the command,
    /// and returns the recording.
    pub fn run(&mut self, trial: u64) -> Recording {
        let dt = self.config.network.dt;
        let duration = self.config.duration;
        let j = self.teacher.dim();
        let mut stream =
            self.command
                .realise(dt, duration, self.seeds.indexed(Stream::Command, trial));
        let mut x = self
            .config
            .initial_state
            .clone()
            .unwrap_or_else(|| vec![0.0; j]);
        self.network.reset_state();
        let steps = (duration / dt).round() as u64;
        let mut recorder = Recorder::new(&self.config.record, dt, j, self.config.network.n);
        simulate(
            &mut self.network,
            Teacher {
                system: self.teacher.as_ref(),
                integrator: self.integrator.as_mut(),
            },
            stream.as_mut(),
            &mut x,
            steps,
            &mut recorder,
        );
        recorder.finish(duration)
    }
}

/// A target system together with its integrator.
pub struct Teacher<'a> {
    /// The vector field.
    pub system: &'a dyn TargetSystem,
    /// The integrator.
    pub integrator: &'a mut dyn Integrator,
}

/// Runs `steps` steps of teacher and network together (MODEL.md §8): each step draws c_n,
/// integrates the teacher to x_(n+1), then steps the network with c_n and x_(n+1). The
/// recorder gets a sample at the start (t = 0 of this segment) and every `every` steps, and
/// every spike, stamped with the end of its step.
pub fn simulate(
    network: &mut Network,
    teacher: Teacher<'_>,
    command: &mut dyn CommandStream,
    x: &mut [f64],
    steps: u64,
    recorder: &mut Recorder,
) {
    let dt = network.config().dt;
    let t0 = network.time();
    let mut c = vec![0.0; x.len()];
    for n in 0..steps {
        command.next(&mut c);
        if recorder.due(n) {
            recorder.sample(
                t0 + n as f64 * dt,
                x,
                network.readout(),
                &c,
                network.voltages(),
            );
        }
        teacher.integrator.step(teacher.system, x, &c, dt);
        if let Some(k) = network.step(&c, Some(x)) {
            recorder.spike(t0 + (n + 1) as f64 * dt, k);
        }
    }
}
