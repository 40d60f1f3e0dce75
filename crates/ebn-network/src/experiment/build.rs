//! Building an experiment: every component resolved and validated once.

use super::*;

impl Experiment {
    /// Validates the whole configuration and builds the teacher and the commands, with the
    /// built-in components.
    pub fn build(config: &ExperimentConfig) -> Result<Self> {
        Self::build_in(config, builtins())
    }

    /// Validates the whole configuration and builds its components through `registry` (a
    /// fork's registry: the built-ins plus its own kinds). Components made in code are
    /// handed in by registering them under a kind (a closure may capture them).
    ///
    /// A configuration with a `[data]` section needs its recording:
    /// [`Experiment::build_with_data`].
    pub fn build_in(config: &ExperimentConfig, registry: &Registry) -> Result<Self> {
        Self::build_with_data(config, registry, None)
    }

    /// [`Experiment::build_in`] with the recording that the configuration's `[data]` section
    /// names, read by the caller ([`RecordedData::parse`] of the file's bytes).
    pub fn build_with_data(config: &ExperimentConfig, registry: &Registry, data: Option<RecordedData>) -> Result<Self> {
        // Every kind the file names, checked before anything is built: a file written for a
        // fork, read without its registry, names all it lacks in one error.
        let unknown = config
            .component_specs()
            .into_iter()
            .filter_map(|(category, field, spec)| registry.check_kind(category, spec, &field).err())
            .collect();
        if let Some(error) = Error::first_with_unknown_kinds(unknown) {
            return Err(error);
        }
        let teacher = config.target.as_ref().map(|t| registry.target(t, "target")).transpose()?;
        let j = config.network.dim;
        if let Some(teacher) = &teacher {
            check::same_len("network.dim (the target's dimension)", teacher.dim(), j)?;
        }
        let data = match (&config.data, data) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(Error::Unsupported(
                    "a recording was given but the configuration has no [data] section".into(),
                ));
            }
            (Some(d), None) => {
                return Err(Error::Unsupported(format!(
                    "the configuration replays the recording {} ([data]): build it with the recording's arrays \
                     (Experiment::build_with_data; the command line and the Python package read the file)",
                    d.file
                )));
            }
            (Some(_), Some(data)) => {
                check::same_len("data.x (components, the network's dim)", j, data.dim())?;
                Some(data)
            }
        };
        let needs_target = |what: &str| {
            Error::Unsupported(format!("{what} needs a [target] vector field (or a recording to replay: [data])"))
        };
        if teacher.is_none() && config.slow_weights == InitialWeights::ClosedForm {
            return Err(needs_target("slow_weights = \"closed_form\""));
        }
        check::non_negative("preload.duration", config.preload.duration)?;
        check::non_negative("preload.gain", config.preload.gain)?;
        let training_command = match &config.training {
            None => None,
            Some(t) => {
                check::nonzero("training.trials", t.trials)?;
                check::positive("training.trial_duration", t.trial_duration)?;
                check_steps("training.trial_duration", t.trial_duration, config.network.dt)?;
                let replayed = config.data.as_ref().and_then(|d| d.train);
                if let (Some([a, b]), Some(data)) = (replayed, &data) {
                    check::finite("data.train[0]", a)?;
                    data.check_segment("data.train", a, b - a)?;
                    if b - a < t.trial_duration {
                        return Err(Error::invalid(
                            "data.train",
                            format!("[{a}, {b}]"),
                            format!("a range at least one trial long ({} s)", t.trial_duration),
                        ));
                    }
                    let forbid = |field: &str, set: bool| {
                        if set {
                            Err(Error::Unsupported(format!(
                                "training.{field} with data.train: a replayed trial has the recording's initial \
                                 state and command and cannot be redrawn"
                            )))
                        } else {
                            Ok(())
                        }
                    };
                    forbid("command", t.command.is_some())?;
                    forbid("initial_state", t.initial_state != InitialState::Zero)?;
                    forbid("bound", t.bound.is_some())?;
                } else if teacher.is_none() {
                    return Err(needs_target("[training] without data.train"));
                }
                match &t.initial_state {
                    InitialState::Zero => {}
                    InitialState::Fixed { x } => check_state("training.initial_state.x", j, x)?,
                    InitialState::Uniform { low, high } => {
                        check_state("training.initial_state.low", j, low)?;
                        check_state("training.initial_state.high", j, high)?;
                        if let Some(i) = (0..j).find(|&i| low[i] > high[i]) {
                            return Err(Error::invalid(
                                format!("training.initial_state.high[{i}]"),
                                high[i],
                                format!(">= low[{i}] = {}", low[i]),
                            ));
                        }
                    }
                    InitialState::Points { points, jitter } => {
                        if points.is_empty() {
                            return Err(Error::invalid("training.initial_state.points", "[]", "at least one state"));
                        }
                        for (k, x) in points.iter().enumerate() {
                            check_state(&format!("training.initial_state.points[{k}]"), j, x)?;
                        }
                        check::non_negative("training.initial_state.jitter", *jitter)?;
                        check::finite("training.initial_state.jitter", *jitter)?;
                    }
                }
                check::in_range("training.dropout", t.dropout, 0.0, 0.95)?;
                if let Some(k) = t.feedback_gain {
                    check::non_negative("training.feedback_gain", k)?;
                }
                if let Some(p) = &t.until_plateau {
                    check::nonzero("training.until_plateau.window", p.window)?;
                    check::in_range("training.until_plateau.tolerance", p.tolerance, 0.0, 0.999)?;
                    check::in_range("training.until_plateau.factor", p.factor, 1e-6, 1.0)?;
                    if t.anneal.is_some() {
                        return Err(Error::Unsupported(
                            "training.anneal with training.until_plateau: annealing counts from training.trials, \
                             which a plateau stop leaves unknown"
                                .into(),
                        ));
                    }
                }
                if let Some(a) = &t.anneal {
                    check::in_range("training.anneal.start", a.start, 0.0, 1.0)?;
                    check::in_range("training.anneal.final_scale", a.final_scale, 0.0, 1.0)?;
                }
                if let Some(b) = &t.bound {
                    check::same_len("training.bound", j, b.len())?;
                    for (i, v) in b.iter().enumerate() {
                        check::positive(&format!("training.bound[{i}]"), *v)?;
                    }
                }
                for (p, spec) in t.perturbations.iter().enumerate() {
                    registry.check_kind(
                        ebn_core::Category::Perturbation,
                        spec,
                        &format!("training.perturbations[{p}]"),
                    )?;
                }
                match (&t.command, replayed) {
                    (Some(command), None) => Some(registry.command(command, "training.command", j)?),
                    (None, None) => {
                        return Err(Error::invalid("training.command", "none", "a command (or data.train)"));
                    }
                    (_, Some(_)) => None,
                }
            }
        };
        let mut test_commands = Vec::new();
        let mut analyses = Vec::new();
        let mut key_suffixes = Vec::new();
        for (k, test) in config.tests.iter().enumerate() {
            let field = |f: &str| format!("test[{k}].{f}");
            check::positive(&field("duration"), test.duration)?;
            check_steps(&field("duration"), test.duration, config.network.dt)?;
            if let Some(x0) = &test.initial_state {
                check_state(&field("initial_state"), j, x0)?;
            }
            match (test.start, &data) {
                (Some(start), Some(data)) => {
                    check::finite(&field("start"), start)?;
                    data.check_segment(&field("start"), start, test.duration)?;
                    if test.command.is_some() || test.initial_state.is_some() {
                        return Err(Error::Unsupported(format!(
                            "{} with {}: a replayed test has the recording's command and initial state",
                            field(if test.command.is_some() { "command" } else { "initial_state" }),
                            field("start")
                        )));
                    }
                    test_commands.push(None);
                }
                (Some(_), None) => {
                    return Err(Error::Unsupported(format!("{} needs a [data] recording", field("start"))));
                }
                (None, _) => {
                    if teacher.is_none() {
                        return Err(needs_target(&format!("test[{k}] without a start in the recording")));
                    }
                    let command = test
                        .command
                        .as_ref()
                        .ok_or_else(|| Error::invalid(field("command"), "none", "a command (or a start in [data])"))?;
                    test_commands.push(Some(registry.command(command, &field("command"), j)?));
                }
            }
            let mut built = Vec::new();
            for (a, spec) in test.analyses.iter().enumerate() {
                let place = field(&format!("analyses[{a}]"));
                let kind = registry.resolve(ebn_core::Category::Analysis, spec, &place)?;
                built.push((kind, registry.analysis(spec, &place)?));
            }
            analyses.push(built);
            key_suffixes.push(suffixes_of(&analyses[k], &test.analyses));
            for (p, spec) in test.perturbations.iter().enumerate() {
                registry.check_kind(ebn_core::Category::Perturbation, spec, &field(&format!("perturbations[{p}]")))?;
            }
        }
        let mut experiment = Self {
            config: config.clone(),
            registry: registry.clone(),
            seeds: SeedStreams::new(config.seed),
            teacher,
            data,
            integrator: registry.integrator(&config.integrator, "integrator")?,
            training_command,
            test_commands,
            analyses,
            key_suffixes,
            validated: std::sync::Mutex::new(None),
        };
        // Building the network validates the network section and the initial weights; the
        // perturbations are built once on it, so that their parameters are checked now. The
        // network is kept for the first caller that asks for one.
        let network = experiment.initial_network()?;
        let all = config.training.iter().flat_map(|t| t.perturbations.iter().map(|s| (s, "training".to_string())));
        let tests = config
            .tests
            .iter()
            .enumerate()
            .flat_map(|(k, t)| t.perturbations.iter().map(move |s| (s, format!("test[{k}]"))));
        for (p, (spec, owner)) in all.chain(tests).enumerate() {
            experiment.build_perturbation(&network, spec, &format!("{owner}.perturbations"), p as u64)?;
        }
        *experiment.validated.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(network);
        Ok(experiment)
    }
}

/// The key suffixes of one test's analyses (see [`Experiment::analyse`]): "" for a kind that
/// appears once, else `_<component>` when the instances' components are distinct, else
/// `_<position>`.
pub(super) fn suffixes_of(built: &[(String, Box<dyn Analysis>)], specs: &[Spec]) -> Vec<String> {
    built
        .iter()
        .enumerate()
        .map(|(a, (kind, _))| {
            let same: Vec<usize> = built.iter().enumerate().filter(|(_, (k, _))| k == kind).map(|(i, _)| i).collect();
            if same.len() == 1 {
                return String::new();
            }
            let component = |i: usize| specs[i].params.get("component").and_then(serde_json::Value::as_u64);
            let components: Vec<Option<u64>> = same.iter().map(|&i| component(i)).collect();
            let distinct = components.iter().all(Option::is_some)
                && components.iter().enumerate().all(|(p, c)| !components[..p].contains(c));
            match component(a) {
                Some(c) if distinct => format!("_{c}"),
                _ => format!("_{a}"),
            }
        })
        .collect()
}
