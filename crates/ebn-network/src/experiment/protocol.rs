//! The protocol: training trials and tests, and what they read from the experiment.

use super::*;

impl Experiment {
    /// A run's perturbations from its start (`RunSettings::from_start`): the membrane noise
    /// of `network.sigma_v`, drawn from the noise stream of run `run`, and the training
    /// dropout's `silenced` neurons (silenced at the run's first step, the preload's if it
    /// preloads). Both are ordinary perturbations (`ebn_perturb`): the network has no noise
    /// or dropout of its own.
    pub(super) fn run_start_perturbations(
        &self,
        run: u64,
        silenced: Vec<usize>,
    ) -> Vec<Box<dyn ebn_core::Perturbation>> {
        let mut from_start: Vec<Box<dyn ebn_core::Perturbation>> = Vec::new();
        let sigma = self.config.network.sigma_v;
        if sigma > 0.0 {
            let rng = self.seeds.indexed(Stream::Noise, run);
            from_start.push(Box::new(ebn_perturb::MembraneNoise::new(sigma, ebn_perturb::Window::ALWAYS, rng)));
        }
        if !silenced.is_empty() {
            from_start.push(Box::new(ebn_perturb::SilenceNeurons::new(0.0, silenced)));
        }
        from_start
    }

    /// The registry the experiment was built with.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The analyses of test `index`, with their kinds.
    pub fn analyses(&self, index: usize) -> &[(String, Box<dyn Analysis>)] {
        self.analyses.get(index).map_or(&[], |a| a.as_slice())
    }

    /// Runs the analyses of test `index` on its recording: (kind, its numbers or why not).
    ///
    /// When a kind appears more than once in a test and its instances report the same key,
    /// those keys (and the instance's kind in the first element) carry a suffix so that
    /// none overwrites another in a summary: `_<component>` if the instances have distinct
    /// `component` parameters (two `limit_cycle`s on x and y give `amplitude_error_0` and
    /// `amplitude_error_1`), else `_<position in the test's list>`. Keys that are already
    /// distinct (two `nrmse_horizon`s with their own `key`) and kinds that appear once keep
    /// their plain names.
    pub fn analyse(&self, index: usize, recording: &Recording) -> Vec<(String, Result<Measures>)> {
        let suffixes = self.key_suffixes.get(index).map_or(&[][..], |s| s.as_slice());
        let results: Vec<(String, Result<Measures>)> =
            self.analyses(index).iter().map(|(kind, a)| (kind.clone(), a.analyse(recording))).collect();
        // How many instances of the same kind report each key.
        let shared = |kind: &str, key: &str| {
            results
                .iter()
                .filter(|(k, r)| k == kind && r.as_ref().is_ok_and(|m| m.iter().any(|(name, _)| name == key)))
                .count()
                > 1
        };
        results
            .iter()
            .zip(suffixes)
            .map(|((kind, result), suffix)| {
                let named = match result {
                    Ok(values) => Ok(values
                        .iter()
                        .map(
                            |(key, v)| {
                                if shared(kind, key) { (format!("{key}{suffix}"), *v) } else { (key.clone(), *v) }
                            },
                        )
                        .collect()),
                    Err(e) => Err(e.clone()),
                };
                (format!("{kind}{suffix}"), named)
            })
            .collect()
    }

    pub(super) fn build_perturbation<M: NeuronModel>(
        &self,
        network: &Network<M>,
        spec: &Spec,
        field: &str,
        stream: u64,
    ) -> Result<Box<dyn ebn_core::Perturbation>> {
        let setup = PerturbationSetup { decoder: network.decoder(), dt: self.config.network.dt };
        self.registry.perturbation(spec, field, &setup, self.seeds.indexed(Stream::Scheduled, stream))
    }

    /// The perturbations `specs` of one run (stream index `run`).
    pub(super) fn run_perturbations<M: NeuronModel>(
        &self,
        network: &Network<M>,
        specs: &[Spec],
        run: u64,
        field: &str,
    ) -> Result<Vec<Box<dyn ebn_core::Perturbation>>> {
        specs
            .iter()
            .enumerate()
            .map(|(p, spec)| {
                self.build_perturbation(network, spec, &format!("{field}[{p}]"), perturbation_stream(run, p))
            })
            .collect()
    }

    /// The preload of a run starting at `x0`, if the configuration preloads and x0 is not 0.
    pub(super) fn preload_of(&self, x0: &[f64]) -> Option<PreloadState> {
        let p = &self.config.preload;
        (p.duration > 0.0 && x0.iter().any(|v| *v != 0.0)).then(|| PreloadState {
            state: x0.to_vec(),
            duration: p.duration,
            gain: p.gain,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The teacher's vector field (none for an experiment that only replays a recording).
    pub fn teacher(&self) -> Option<&dyn TargetSystem> {
        self.teacher.as_deref()
    }

    /// The recording the experiment replays, if it has a `[data]` section.
    pub fn data(&self) -> Option<&RecordedData> {
        self.data.as_ref()
    }

    /// The vector field, for the parts of the protocol that need one (validated at build).
    pub(super) fn vector_field(&self) -> Result<&dyn TargetSystem> {
        self.teacher.as_deref().ok_or_else(|| Error::Unsupported("no [target] vector field".into()))
    }

    /// Draws the teacher's initial state and command for trial `trial`, redrawing (attempt
    /// 1, 2, ...) while the teacher leaves the bound. Returns (x0, command stream, redraws).
    pub(super) fn draw_trial(
        &mut self,
        training: &TrainingConfig,
        trial: usize,
    ) -> (Vec<f64>, Box<dyn CommandStream>, usize) {
        let dt = self.config.network.dt;
        let j = self.config.network.dim;
        let (Some(signal), Some(teacher)) = (self.training_command.as_ref(), self.teacher.as_deref()) else {
            unreachable!("built with a training command and a target unless training replays the recording")
        };
        let steps = (training.trial_duration / dt).round() as u64;
        for attempt in 0u64.. {
            let index = ((trial as u64) << 16) | attempt.min(0xFFFF);
            let x0 = match &training.initial_state {
                InitialState::Zero => vec![0.0; j],
                InitialState::Fixed { x } => x.clone(),
                InitialState::Uniform { low, high } => {
                    let mut rng = self.seeds.indexed(Stream::InitialState, index);
                    low.iter().zip(high).map(|(l, h)| if h > l { rng.random_range(*l..*h) } else { *l }).collect()
                }
                InitialState::Points { points, jitter } => {
                    let mut rng = self.seeds.indexed(Stream::InitialState, index);
                    let base = &points[rng.random_range(0..points.len())];
                    base.iter().map(|v| v + jitter * rng.sample::<f64, _>(rand_distr::StandardNormal)).collect()
                }
            };
            let realise = || signal.realise(dt, training.trial_duration, self.seeds.indexed(Stream::Command, index));
            let within = match &training.bound {
                None => true,
                Some(bound) if attempt < 1000 => {
                    let inside = |x: &[f64]| x.iter().zip(bound).all(|(v, b)| v.abs() <= *b);
                    let mut x = x0.clone();
                    let mut c = vec![0.0; j];
                    let mut stream = realise();
                    let mut ok = inside(&x);
                    for _ in 0..steps {
                        if !ok {
                            break;
                        }
                        stream.next(&mut c);
                        self.integrator.step(teacher, &mut x, &c, dt);
                        ok = inside(&x);
                    }
                    ok
                }
                // After 1000 redraws the bound is unreachable for this command: keep the trial.
                Some(_) => true,
            };
            if within {
                return (x0, realise(), attempt as usize);
            }
        }
        unreachable!("the attempt loop only ends by returning")
    }

    /// The recorded window that training trial `trial` replays (`data.train` set).
    pub(super) fn replayed_trial(&self, training: &TrainingConfig, trial: usize) -> Option<Segment> {
        let [a, b] = self.config.data.as_ref()?.train?;
        let data = self.data.as_ref()?;
        let windows = (((b - a) / training.trial_duration) + 1e-9).floor().max(1.0) as usize;
        let start = a + (trial % windows) as f64 * training.trial_duration;
        let steps = (training.trial_duration / self.config.network.dt).round() as usize;
        Some(data.segment(start, steps, self.config.network.dt))
    }

    /// The teacher's initial state and command stream of training trial `trial`, drawn as
    /// [`Experiment::train_trial`] draws them (redraws included), for protocols that drive
    /// something else than a [`Network`] with the same teacher (learning the code,
    /// [`crate::code`]). Needs the vector field (not a replayed recording).
    pub fn training_inputs(&mut self, trial: usize) -> Result<(Vec<f64>, Box<dyn CommandStream>)> {
        let training =
            self.config.training.clone().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
        if self.replayed_trial(&training, trial).is_some() {
            return Err(Error::Unsupported("training_inputs of a replayed recording".into()));
        }
        let (x0, stream, _) = self.draw_trial(&training, trial);
        Ok((x0, stream))
    }

    /// The teacher's initial state and command stream of test `index` (repeat 0), as
    /// [`Experiment::run_test`] draws them.
    pub fn test_inputs(&self, index: usize) -> Result<(Vec<f64>, Box<dyn CommandStream>)> {
        let test = self.config.tests.get(index).ok_or_else(|| {
            Error::invalid("test index", index, format!("< number of tests = {}", self.config.tests.len()))
        })?;
        let dt = self.config.network.dt;
        let stream_index = TEST_STREAM_OFFSET + index as u64;
        let signal = self.test_commands[index]
            .as_ref()
            .ok_or_else(|| Error::Unsupported(format!("test_inputs of test[{index}], which replays the recording")))?;
        let stream = signal.realise(dt, test.duration, self.seeds.indexed(Stream::Command, stream_index));
        let x0 = test.initial_state.clone().unwrap_or_else(|| vec![0.0; self.config.network.dim]);
        Ok((x0, stream))
    }

    /// Advances the teacher's state `x` by one time step under the command `c` (no-op
    /// without a vector field).
    pub fn step_teacher(&mut self, x: &mut [f64], c: &[f64]) {
        if let Some(teacher) = self.teacher.as_deref() {
            self.integrator.step(teacher, x, c, self.config.network.dt);
        }
    }

    /// Whether training is over: every trial of `training.trials` done, or the last plateau of
    /// `training.until_plateau` reached. Always true without `[training]`.
    pub fn training_done(&self, state: &TrainingState) -> bool {
        let Some(t) = &self.config.training else { return true };
        state.trials_done >= t.trials || t.until_plateau.is_some_and(|p| p.reached(&state.learning_curve))
    }

    /// Runs the remaining training trials (until [`Experiment::training_done`]), calling
    /// `after_trial` with each trial's normalised error (a progress bar): the one training
    /// loop of the figures, the Python package and the recipe's benchmark (`run` calls
    /// [`Experiment::train_trial`] itself, between checkpoints and stop signals).
    pub fn train<M: NeuronModel>(
        &mut self,
        network: &mut Network<M>,
        state: &mut TrainingState,
        mut after_trial: impl FnMut(f64),
    ) -> Result<()> {
        while !self.training_done(state) {
            let error = self.train_trial(network, state)?;
            after_trial(error);
        }
        Ok(())
    }

    /// Runs training trial `state.trials_done` on `network` and records its error (and the
    /// rule's state after it). A trial whose error is not finite is [`Error::Diverged`]
    /// (and leaves `state` as it was before the trial).
    pub fn train_trial<M: NeuronModel>(&mut self, network: &mut Network<M>, state: &mut TrainingState) -> Result<f64> {
        let training =
            self.config.training.clone().ok_or_else(|| Error::Unsupported("no [training] section".into()))?;
        let trial = state.trials_done;
        if trial >= training.trials {
            return Err(Error::invalid("trial", trial, format!("< training.trials = {}", training.trials)));
        }
        let replayed = self.replayed_trial(&training, trial);
        let (x0, mut stream, redraws, replay) = match replayed {
            Some(segment) => {
                let x0 = segment.initial_state();
                let (replay, stream) = segment.into_parts();
                (x0, stream, 0, Some(replay))
            }
            None => {
                let (x0, stream, redraws) = self.draw_trial(&training, trial);
                (x0, stream, redraws, None)
            }
        };
        let k_full = training.feedback_gain.unwrap_or(self.config.network.feedback_gain);
        let scale = training.anneal.map_or(1.0, |a| a.factor(trial, training.trials))
            * training.until_plateau.map_or(1.0, |p| p.rate_factor(&state.learning_curve));
        let k_scale = training.anneal.map_or(1.0, |a| a.feedback_factor(trial, training.trials));
        let mut silenced = Vec::new();
        if training.dropout > 0.0 {
            let n = self.config.network.n;
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut self.seeds.indexed(Stream::Perturbation, trial as u64));
            silenced.extend_from_slice(&order[..(training.dropout * n as f64).round() as usize]);
        }
        let settings = RunSettings {
            kind: RunKind::Training { trial },
            protocol: Protocol { feedback_gain: k_full * k_scale, learning: true, rate_scale: scale },
            neuron_state: self.seeds.indexed(Stream::NeuronState, trial as u64),
            from_start: self.run_start_perturbations(trial as u64, silenced),
            preload: self.preload_of(&x0),
            perturbations: self.run_perturbations(
                network,
                &training.perturbations,
                trial as u64,
                "training.perturbations",
            )?,
        };
        network.start_run(settings)?;
        let steps = (training.trial_duration / self.config.network.dt).round() as u64;
        let mut x = x0;
        let mut recorder = Recorder::disabled();
        let stats = match (replay, self.teacher.as_deref()) {
            (Some(replay), _) => simulate(network, replay, stream.as_mut(), &mut x, steps, &mut recorder),
            (None, Some(system)) => {
                let teacher = Teacher { system, integrator: self.integrator.as_mut() };
                simulate(network, teacher, stream.as_mut(), &mut x, steps, &mut recorder)
            }
            (None, None) => return Err(Error::Unsupported("no [target] vector field".into())),
        };
        network.end_run();
        let error = stats.normalised_error();
        if !error.is_finite() {
            return Err(Error::Diverged { trial: trial + 1, error });
        }
        state.trials_done += 1;
        state.learning_curve.push(error);
        state.capped_fraction.push(stats.capped_fraction());
        state.redraws += redraws;
        state.rule_state = network.rule_state();
        Ok(error)
    }

    /// Runs test `index` of the configuration on `network` (K = 0, no learning), from the
    /// test's initial state (preloaded), and returns the recording.
    pub fn run_test<M: NeuronModel>(&mut self, network: &mut Network<M>, index: usize) -> Result<Recording> {
        self.run_test_repeat(network, index, 0)
    }

    /// Repeat `repeat` of test `index`: the same command realisation and initial state, the
    /// membrane noise (and nothing else) drawn from another stream, for trial-to-trial
    /// variability. Repeat 0 is [`Experiment::run_test`].
    pub fn run_test_repeat<M: NeuronModel>(
        &mut self,
        network: &mut Network<M>,
        index: usize,
        repeat: u64,
    ) -> Result<Recording> {
        let test = self.config.tests.get(index).cloned().ok_or_else(|| {
            Error::invalid("test index", index, format!("< number of tests = {}", self.config.tests.len()))
        })?;
        let dt = self.config.network.dt;
        let j = self.config.network.dim;
        let stream_index = TEST_STREAM_OFFSET + index as u64;
        let steps = (test.duration / dt).round() as u64;
        let (mut stream, mut x, replay) = match (&self.test_commands[index], test.start, &self.data) {
            (Some(signal), _, _) => {
                let stream = signal.realise(dt, test.duration, self.seeds.indexed(Stream::Command, stream_index));
                (stream, test.initial_state.clone().unwrap_or_else(|| vec![0.0; j]), None)
            }
            (None, Some(start), Some(data)) => {
                let segment = data.segment(start, steps as usize, dt);
                let x0 = segment.initial_state();
                let (replay, stream) = segment.into_parts();
                (stream, x0, Some(replay))
            }
            _ => unreachable!("a test without a command replays the recording (checked at build)"),
        };
        let run = stream_index + (repeat << 24);
        // A test does not learn, so its perturbations leave the network as they found it.
        let settings = RunSettings {
            kind: RunKind::Test { index, repeat },
            protocol: Protocol::FREE,
            neuron_state: self.seeds.indexed(Stream::NeuronState, run),
            from_start: self.run_start_perturbations(run, Vec::new()),
            preload: self.preload_of(&x),
            perturbations: self.run_perturbations(
                network,
                &test.perturbations,
                run,
                &format!("test[{index}].perturbations"),
            )?,
        };
        network.start_run(settings)?;
        let mut recorder = Recorder::new(&self.config.record, dt, j, self.config.network.n);
        match (replay, self.teacher.as_deref()) {
            (Some(replay), _) => simulate(network, replay, stream.as_mut(), &mut x, steps, &mut recorder),
            (None, Some(system)) => {
                let teacher = Teacher { system, integrator: self.integrator.as_mut() };
                simulate(network, teacher, stream.as_mut(), &mut x, steps, &mut recorder)
            }
            (None, None) => unreachable!("a test without a recording has a target (checked at build)"),
        };
        network.end_run();
        Ok(recorder.finish(test.duration))
    }
}
