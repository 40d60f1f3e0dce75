//! The efficient balanced network and its time step.

use crate::config::{FastForm, NetworkConfig};
use crate::kernels::{self, PendingSpike, SplitInput};
use crate::plan::{self, Drive, Learning, Membrane, StepPlan};
use crate::registry::builtins;
use ebn_basis::TanhBasis;
use ebn_core::{
    Basis, BasisSetup, DynNeuron, Error, InputContext, LearningSignal, Mat, NeuronModel, Perturbation,
    PerturbationContext, PlasticityRule, Registry, Result, Rng, RuleSetup, SeedStreams, SlowWeights, Stream,
    WeightForm, check, coding,
};
use ebn_plasticity::{LocalRule, RobustLocal};
use rand::RngExt;
use rand_distr::StandardNormal;

/// Components handed in from code instead of those the configuration names (each `None`
/// is built from the configuration through the registry).
#[derive(Debug, Default)]
pub struct Overrides {
    /// A basis to use instead of `config.basis` (its sizes are checked).
    pub basis: Option<Box<dyn Basis>>,
    /// A rule to use instead of `config.rule` (bound to the network like one from a file).
    pub rule: Option<Box<dyn PlasticityRule>>,
    /// Step with the generic plan only (the components' trait methods, no fused kernel),
    /// whatever the components are: the reference the fused plans are tested against, and
    /// the speed of a fork's components.
    pub generic_plan: bool,
}

/// An efficient balanced network of N neurons representing a J-dimensional state
/// (MODEL.md §3–4, §8), with its slow weights and their learning rule.
///
/// # The time step
///
/// [`Network::step`] advances from t_n = n dt to t_(n+1). At its start the network holds V_n,
/// r_n, x_hat_n = D r_n, the basis drive u_n = M r_n, Psi_n = Psi(r_n) and the error
/// e_n = x_n - x_hat_n (0 if no target was given). It receives the command c_n and the
/// target's new state x_(n+1) (the teacher is integrated first, MODEL.md §8 sub-step 1):
///
/// 2. **voltages**: `V <- V + dt (-lambda_V V + D^T c_n + Omega_s Psi_n + K D^T e_n)` by the
///    neuron model (forward Euler), then the noise `sigma_V sqrt(dt) N(0,1)` per neuron, then
///    the perturbations;
/// 3. **spike**: the neuron model names at most one neuron k (largest V_k - T_k > 0); then
///    `V += Omega_f[:, k]` (V_j -= D_j^T D_k + mu delta_jk), `r_k += 1`, `x_hat += D_k`,
///    `u += M_k` (event-driven: one column, never a dense product);
/// 4. **decay**: r, x_hat and u are multiplied by exp(-lambda dt) (exact for the leak), and
///    Psi_(n+1) = Psi(r_(n+1)) is evaluated once;
/// 5. **learning**: e_(n+1) = x_(n+1) - x_hat_(n+1), and the rule updates Omega_s (or W) with
///    e_(n+1), D^T e_(n+1) and Psi_(n+1).
///
/// So the voltage update of step n uses Psi_n and e_n, both computed at the end of step n-1,
/// and the dense and factored forms compute exactly the same quantities. Slow current: in
/// factored form the network computes z = c + W Psi + K e (J values) and then D^T z (one
/// N x J product); in dense form D^T (c + K e) + Omega_s Psi.
///
/// # The step plan
///
/// How these sub-steps run is chosen once, at build, from the concrete components (the
/// engine's plan module; [`Network::plan`] says which): the generic plan calls only the
/// components' trait methods, in the order above; for the built-in components the plan
/// takes fused kernels, each of which gives the bits of the generic plan (tested for every
/// built-in model, basis and rule, `Overrides::generic_plan` building the reference). A
/// fork's component runs the generic plan; nothing in its trait is about speed.
///
/// **Fused dense pass**: Omega_s (N x N_b) is the only large array, and learning at step n
/// and the slow current of step n+1 both read it with the same Psi_(n+1). Where the rule's
/// dense update is a rank-1 outer product (the paper's rule, `LocalRule::outer_gain`; the
/// dead zone while it is open), sub-step 5 updates each column and at once accumulates it into
/// Omega_s Psi_(n+1), kept for the next step: one pass over Omega_s per step instead of two.
/// The arithmetic, and its order per element, is that of the unfused path, so the results are
/// bit-identical (tested). The kept current is dropped whenever Psi or Omega_s change in
/// another way.
///
/// **Deferred fast column** ([`Network::deferred`]): stepping through a [`Deferred`] handle,
/// the fast-weight column of a step's last spike (factored form, instantaneous synapses) is
/// left off the voltages and added in the next step's membrane pass, by the plan's one-pass
/// kernel (EBN and multi-spike models) or, where it has none, by the network before anything
/// reads V: one pass over the neurons per step instead of two. Same
/// operations in the same order, so the same bits (tested). Outside a handle V is always
/// current: the handle borrows the network mutably and delivers the column when dropped.
///
/// **One-pass membrane**: with no membrane noise and no perturbation (which act between the
/// membrane update and the spike choice), the built-in models' membrane, the input current
/// D^T z (+ Omega_s Psi) and the first spike choice are one pass over the neurons (AVX-512
/// where the CPU has it).
///
/// **Decay and slow current in one pass**: where Psi is r itself (identity basis) and the
/// step does not learn, the decay of r and the next step's W r are one pass over r
/// ([`coding::decay_dots`]): the J chains of additions of the dot products bound that pass,
/// and the decay rides in their latency. Same operations per element in the same order, so
/// the same bits (tested).
///
/// x_hat is kept incrementally (it jumps by D_k and decays with r), so it equals D r up to
/// rounding (checked in the tests).
#[derive(Debug)]
pub struct Network<M: NeuronModel = DynNeuron> {
    config: NetworkConfig,
    seeds: SeedStreams,
    neuron: M,
    state: M::State,
    decoder: Mat<f64>,
    /// D in the layouts the step reads.
    d: DecoderLayouts,
    fast_dense: Option<Mat<f64>>,
    base_thresholds: Vec<f64>,
    /// Thresholds in use: +inf for silenced neurons.
    thresholds: Vec<f64>,
    alive: Vec<bool>,
    basis: Box<dyn Basis>,
    rule: Box<dyn PlasticityRule>,
    slow: SlowWeights,
    /// Perturbations in force, each with whether it belongs to the current run only.
    perturbations: Vec<(Box<dyn Perturbation>, bool)>,
    /// Neurons that fired in the current step, in order.
    spikes: Vec<usize>,
    max_spikes: usize,
    /// The fast-weight column of a spike, for a model that filters its fast input
    /// ([`NeuronModel::filters_fast_input`]); empty otherwise.
    fast_column: Vec<f64>,
    noise: Rng,
    r: Vec<f64>,
    x_hat: Vec<f64>,
    drive: Vec<f64>,
    /// Psi of the current step; empty for the identity basis, whose Psi is r itself (read
    /// through [`basis_values`], never copied).
    psi: Vec<f64>,
    /// The spike whose fast-weight column (and [`NeuronModel::on_spike`]) has not reached
    /// the neuron state yet; `None` whenever no [`Deferred`] handle is alive.
    pending: Option<usize>,
    /// How the step runs, chosen at build from the components ([`crate::plan`]).
    plan: StepPlan,
    /// Whether Psi is r itself (the plan's identity basis), read in place, never copied.
    identity_basis: bool,
    error: Vec<f64>,
    feedback: Vec<f64>,
    input: Vec<f64>,
    z: Vec<f64>,
    /// Omega_s Psi computed by the fused dense pass for the next step, if still valid.
    slow_current: Vec<f64>,
    /// W Psi (length J) for the next step, computed by the fused factored learning pass or,
    /// with the identity basis and no learning in the step, by the traces' decay pass
    /// ([`coding::decay_dots`]); valid, as `slow_current`, while `slow_current_ready`.
    slow_z: Vec<f64>,
    slow_current_ready: bool,
    decay: f64,
    noise_scale: f64,
    /// The protocol's switches in force (feedback gain, learning, rate scale).
    protocol: Protocol,
    /// False only while preloading (the slow current off).
    slow_enabled: bool,
    /// What the run's perturbations may damage, as it was when the run started
    /// ([`Network::start_run`]); restored by [`Network::end_run`].
    run_start: Option<RunStart>,
    step: u64,
}

impl Network<DynNeuron> {
    /// Builds the network of `config` with the built-in components, drawing D and the basis
    /// from `seeds`. The only step that can fail.
    pub fn build(config: &NetworkConfig, seeds: SeedStreams) -> Result<Self> {
        Self::build_in(config, seeds, builtins(), Overrides::default())
    }

    /// Builds the network of `config` with some components supplied by the caller.
    pub fn build_with(config: &NetworkConfig, seeds: SeedStreams, overrides: Overrides) -> Result<Self> {
        Self::build_in(config, seeds, builtins(), overrides)
    }

    /// Builds the network of `config`, resolving its neuron, basis and rule through
    /// `registry` (a fork's kinds included), except those in `overrides`.
    pub fn build_in(
        config: &NetworkConfig,
        seeds: SeedStreams,
        registry: &Registry,
        overrides: Overrides,
    ) -> Result<Self> {
        config.validate()?;
        let neuron = registry.neuron(&config.neuron, "network.neuron")?;
        Network::build_generic(config, seeds, neuron, registry, overrides)
    }
}

impl<M: NeuronModel> Network<M> {
    /// Builds a network around a neuron model given as a value of a concrete type (static
    /// dispatch; `config.neuron` is ignored), the rest through `registry` and `overrides`.
    pub fn build_generic(
        config: &NetworkConfig,
        seeds: SeedStreams,
        neuron: M,
        registry: &Registry,
        overrides: Overrides,
    ) -> Result<Self> {
        config.validate()?;
        neuron.validate(config.dt).map_err(|e| e.within("network.neuron"))?;
        let (n, j) = (config.n, config.dim);
        let decoder = config.decoder.build(n, j, &mut seeds.rng(Stream::Decoder)).map_err(|e| e.within("network"))?;
        let basis = match overrides.basis {
            Some(b) => b,
            None => registry.basis(
                &config.basis,
                "network.basis",
                &BasisSetup { decoder: &decoder },
                &mut seeds.rng(Stream::Basis),
            )?,
        };
        check::same_len("basis inputs (network.n)", n, basis.n_inputs())?;
        check::nonzero("network.basis.n_basis", basis.len())?;
        let nb = basis.len();
        if config.slow_weights == WeightForm::Dense {
            check::at_most("network.n x n_basis", n * nb, check::MAX_MATRIX, "dense slow weights, 8 bytes each")?;
        }
        let mut rule = match overrides.rule {
            Some(r) => r,
            None => registry.rule(&config.rule, "network.rule")?,
        };
        rule.bind(&RuleSetup { form: config.slow_weights, n, dim: j, n_basis: nb })
            .map_err(|e| e.within("network.rule"))?;
        let d = DecoderLayouts::new(&decoder);
        let fast_dense = match config.fast_weights {
            FastForm::Factored | FastForm::ResetOnly => None,
            FastForm::Dense => Some(Mat::from_fn(n, n, |a, b| {
                -(coding::dot(decoder.col_as_slice(a), decoder.col_as_slice(b)) + if a == b { config.mu } else { 0.0 })
            })),
        };
        let base_thresholds = coding::thresholds(&decoder, config.mu, config.nu);
        let drive_len = basis.drive_len();
        let plan = if overrides.generic_plan {
            StepPlan::GENERIC
        } else {
            StepPlan::choose(&neuron, basis.as_ref(), rule.as_ref(), j, config.dt)
        };
        let identity_basis = plan.drive == Drive::Identity;
        let slow = SlowWeights::zeros(config.slow_weights, n, j, nb);
        let max_spikes = neuron.max_spikes_per_step().max(1);
        let fast_column = if neuron.filters_fast_input() { vec![0.0; n] } else { Vec::new() };
        let mut net = Self {
            state: neuron.init_state(n, &mut seeds.rng(Stream::NeuronState)),
            neuron,
            seeds,
            thresholds: base_thresholds.clone(),
            base_thresholds,
            alive: vec![true; n],
            basis,
            rule,
            slow,
            perturbations: Vec::new(),
            spikes: Vec::with_capacity(max_spikes.min(4 * n)),
            max_spikes,
            fast_column,
            noise: seeds.rng(Stream::Noise),
            r: vec![0.0; n],
            x_hat: vec![0.0; j],
            drive: vec![0.0; drive_len],
            psi: if identity_basis { Vec::new() } else { vec![0.0; nb] },
            identity_basis,
            plan,
            pending: None,
            error: vec![0.0; j],
            feedback: vec![0.0; n],
            input: vec![0.0; n],
            z: vec![0.0; j],
            slow_current: vec![0.0; n],
            slow_z: vec![0.0; j],
            slow_current_ready: false,
            decay: (-config.lambda * config.dt).exp(),
            noise_scale: config.sigma_v * config.dt.sqrt(),
            protocol: Protocol { feedback_gain: config.feedback_gain, learning: true, rate_scale: 1.0 },
            slow_enabled: true,
            run_start: None,
            step: 0,
            decoder,
            d,
            fast_dense,
            config: config.clone(),
        };
        net.reset_state();
        Ok(net)
    }

    /// Sets the network back to rest (V = r = x_hat = e = 0, t = 0), keeping all weights,
    /// silenced neurons and perturbations.
    pub fn reset_state(&mut self) {
        self.reset_state_with(&mut self.seeds.rng(Stream::NeuronState));
    }

    /// [`Network::reset_state`], with the neuron model's initial state drawn from `rng` (each
    /// run has its own stream, [`RunSettings::neuron_state`]).
    fn reset_state_with(&mut self, rng: &mut Rng) {
        self.state = self.neuron.init_state(self.config.n, rng);
        self.pending = None;
        self.spikes.clear();
        self.r.fill(0.0);
        self.x_hat.fill(0.0);
        self.drive.fill(0.0);
        self.error.fill(0.0);
        self.refresh_psi();
        self.slow_current_ready = false;
        self.step = 0;
    }

    /// Replaces the slow weights (checked against the network's sizes and form).
    pub fn set_slow_weights(&mut self, weights: SlowWeights) -> Result<()> {
        let (expected_rows, expected_cols) = match weights {
            SlowWeights::Dense(_) => (self.config.n, self.basis.len()),
            SlowWeights::Factored(_) => (self.basis.len(), self.config.dim),
        };
        if weights.form() != self.slow.form() {
            return Err(Error::Unsupported(format!(
                "slow weights of form {:?} given to a network configured for {:?}",
                weights.form(),
                self.slow.form()
            )));
        }
        check::same_len("slow_weights rows", expected_rows, weights.matrix().nrows())?;
        check::same_len("slow_weights columns", expected_cols, weights.matrix().ncols())?;
        for c in 0..weights.matrix().ncols() {
            check::all_finite(&format!("slow_weights[:, {c}]"), weights.matrix().col_as_slice(c))?;
        }
        self.slow = weights;
        self.slow_current_ready = false;
        Ok(())
    }

    /// Silences neuron `i` for good (it never fires again; index and decoder stay).
    pub fn silence(&mut self, i: usize) -> Result<()> {
        if i >= self.config.n {
            return Err(Error::invalid("neuron", i, format!("an index < N = {}", self.config.n)));
        }
        self.alive[i] = false;
        self.thresholds[i] = f64::INFINITY;
        Ok(())
    }

    /// Adds a perturbation, applied at every step from now on, until it reports itself
    /// [finished](Perturbation::finished) (then it is removed) or is removed.
    pub fn add_perturbation(&mut self, perturbation: Box<dyn Perturbation>) {
        self.perturbations.push((perturbation, false));
    }

    /// Number of perturbations in force.
    pub fn perturbation_count(&self) -> usize {
        self.perturbations.len()
    }

    /// The learning rule.
    pub fn rule(&self) -> &dyn PlasticityRule {
        self.rule.as_ref()
    }

    /// The learning rule's own state (for checkpoints; empty for the paper's rule).
    pub fn rule_state(&self) -> Vec<f64> {
        self.rule.state()
    }

    /// Restores the learning rule's state (from a checkpoint).
    pub fn set_rule_state(&mut self, state: &[f64]) -> Result<()> {
        self.rule.set_state(state).map_err(|e| e.within("rule_state"))
    }

    /// The neuron model.
    pub fn neuron(&self) -> &M {
        &self.neuron
    }

    /// The neuron model's state.
    pub fn neuron_state(&self) -> &M::State {
        &self.state
    }

    /// The seed streams the network was built from.
    pub fn seeds(&self) -> SeedStreams {
        self.seeds
    }

    /// Starts a run (a training trial, a test): the state back to rest (V, r, x_hat, e = 0,
    /// t = 0; the neuron model's initial state drawn from `settings.neuron_state`), the
    /// membrane noise drawn from `settings.noise` from now on, the run's silenced neurons
    /// silenced, the preload run (MODEL.md §7), then the run's perturbations installed and
    /// its protocol in force. The settings are checked first: on an error nothing has
    /// changed. A run that has not ended is ended first. What the run's perturbations may
    /// damage is remembered, for [`Network::end_run`].
    pub fn start_run(&mut self, settings: RunSettings) -> Result<()> {
        settings.protocol.validate()?;
        for &i in &settings.silenced {
            if i >= self.config.n {
                return Err(Error::invalid("silenced neuron", i, format!("an index < N = {}", self.config.n)));
            }
        }
        if let Some(p) = &settings.preload {
            check::same_len("preload state", self.config.dim, p.state.len())?;
            check::all_finite("preload state", &p.state)?;
            check::non_negative("preload duration", p.duration)?;
            check::non_negative("preload gain", p.gain)?;
        }
        self.end_run();
        let RunSettings { protocol, mut neuron_state, noise, silenced, preload, perturbations } = settings;
        // A run that learns keeps what happens to its weights (its perturbations act on
        // what it learns from); one that does not leaves them as it found them.
        let weights = (!protocol.learning && !perturbations.is_empty()).then(|| self.slow.clone());
        self.run_start = Some(RunStart { thresholds: self.thresholds.clone(), alive: self.alive.clone(), weights });
        self.reset_state_with(&mut neuron_state);
        self.noise = noise;
        for i in silenced {
            self.alive[i] = false;
            self.thresholds[i] = f64::INFINITY;
        }
        if let Some(p) = preload {
            self.preload(&p.state, p.duration, p.gain);
        }
        self.perturbations.extend(perturbations.into_iter().map(|p| (p, true)));
        self.protocol = protocol;
        Ok(())
    }

    /// Ends the run started by [`Network::start_run`], if any: its perturbations are removed,
    /// the thresholds and the silenced neurons are as they were at its start, and the slow
    /// weights too where it did not learn. Learning, the weights it changed and permanent
    /// perturbations stay. The protocol stays in force.
    pub fn end_run(&mut self) {
        self.perturbations.retain(|(_, run)| !run);
        if let Some(start) = self.run_start.take() {
            self.thresholds = start.thresholds;
            self.alive = start.alive;
            if let Some(w) = start.weights {
                self.slow = w;
                self.slow_current_ready = false;
            }
        }
    }

    /// Changes the protocol of the run in force (checked): from the next step on, the error
    /// is fed back with this gain and the rule learns or not at this rate.
    pub fn set_protocol(&mut self, protocol: Protocol) -> Result<()> {
        protocol.validate()?;
        self.protocol = protocol;
        Ok(())
    }

    /// The protocol in force.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Brings the network from rest to represent the constant state `x0` (MODEL.md §7): runs
    /// it for `duration` seconds as an autoencoder of x0, with the slow current and learning
    /// off, the command lambda x0 (which holds x_hat = x0 in place) and the error fed back
    /// with gain `gain` (1/s). The step counter is then reset, so the run that follows starts
    /// at t = 0; the protocol in force before is restored.
    pub fn preload(&mut self, x0: &[f64], duration: f64, gain: f64) {
        debug_assert_eq!(x0.len(), self.config.dim);
        let saved = self.protocol;
        self.protocol = Protocol { feedback_gain: gain, learning: false, rate_scale: saved.rate_scale };
        self.slow_enabled = false;
        let hold: Vec<f64> = x0.iter().map(|x| self.config.lambda * x).collect();
        let steps = (duration / self.config.dt).round() as u64;
        for _ in 0..steps {
            self.step(&hold, Some(x0));
        }
        self.protocol = saved;
        self.slow_enabled = true;
        self.step = 0;
    }

    /// Advances the network by one step (see the type's documentation for the order of
    /// sub-steps). `command` is c_n (length J); `target` is the teacher's x_(n+1), or `None`
    /// when there is no teacher (then e = 0: no feedback and no learning). Returns the neurons
    /// that spiked in this step, in firing order (at most one under the default spike policy).
    pub fn step(&mut self, command: &[f64], target: Option<&[f64]>) -> &[usize] {
        self.advance(command, target, false)
    }

    /// A handle that steps the network with the last spike's fast-weight column delivered in
    /// the next step's membrane pass (see the type's documentation): the same results, one
    /// pass over the neurons less per step. The handle delivers the column when dropped, and
    /// when asked for the voltages or the network.
    pub fn deferred(&mut self) -> Deferred<'_, M> {
        Deferred { net: self }
    }

    /// [`Network::step`]; with `defer`, the column of the step's last spike may be left
    /// pending (only through [`Deferred`]).
    fn advance(&mut self, command: &[f64], target: Option<&[f64]>, defer: bool) -> &[usize] {
        let j = self.config.dim;
        let dt = self.config.dt;
        debug_assert_eq!(command.len(), j);

        // 2. Input current and membrane update.
        for ((z, c), e) in self.z.iter_mut().zip(command).zip(&self.error) {
            *z = c + self.protocol.feedback_gain * e;
        }
        if let SlowWeights::Factored(wt) = &self.slow
            && self.slow_enabled
        {
            // W Psi: from the fused learning pass of the last step if still valid, else all
            // J dot products in one pass over Psi (the bits of J separate ones).
            let col = |c: usize| wt.col_as_slice(c);
            let psi = basis_values(self.identity_basis, &self.r, &self.psi);
            match j {
                _ if self.slow_current_ready => {
                    for (z, s) in self.z.iter_mut().zip(&self.slow_z) {
                        *z += s;
                    }
                }
                1 => self.z[0] += coding::dots([col(0)], psi)[0],
                2 => {
                    let [a, b] = coding::dots([col(0), col(1)], psi);
                    self.z[0] += a;
                    self.z[1] += b;
                }
                3 => {
                    let [a, b, c] = coding::dots([col(0), col(1), col(2)], psi);
                    self.z[0] += a;
                    self.z[1] += b;
                    self.z[2] += c;
                }
                _ => {
                    for (jj, z) in self.z.iter_mut().enumerate() {
                        *z += coding::dot(col(jj), psi);
                    }
                }
            }
        }
        let dense_slow = match &self.slow {
            SlowWeights::Dense(omega) if self.slow_enabled => {
                if !self.slow_current_ready {
                    self.slow_current.fill(0.0);
                    for (col, psi) in basis_values(self.identity_basis, &self.r, &self.psi).iter().enumerate() {
                        if *psi != 0.0 {
                            axpy(*psi, omega.col_as_slice(col), &mut self.slow_current);
                        }
                    }
                }
                true
            }
            _ => false,
        };
        // The one-pass path (project, integrate and find the first spike in one loop), when
        // nothing acts between the membrane update and the spike choice and the model has it;
        // the same bits as the separate path below (tested).
        let mut first_spike = None;
        if self.plan.membrane != Membrane::Generic && self.perturbations.is_empty() && self.noise_scale <= 0.0 {
            let n = self.d.n;
            let row = |c: usize| &self.d.by_component[c.min(j - 1) * n..(c.min(j - 1) + 1) * n];
            let rows = [row(0), row(1), row(2)];
            let input =
                SplitInput { rows: &rows[..j], z: &self.z, extra: dense_slow.then_some(self.slow_current.as_slice()) };
            if let Some(k) = self.pending {
                let pending = PendingSpike { k, d: self.d.column(k), mu: self.config.mu };
                first_spike = kernels::integrate_and_select(
                    self.plan.membrane,
                    &mut self.state,
                    &input,
                    Some(&pending),
                    &self.thresholds,
                    dt,
                );
                if first_spike.is_none() {
                    // The model has no pass with the column in it: deliver it, then as usual.
                    deliver(&self.d, &self.neuron, &mut self.state, k, self.config.mu);
                }
                self.pending = None;
            }
            if first_spike.is_none() {
                first_spike = kernels::integrate_and_select(
                    self.plan.membrane,
                    &mut self.state,
                    &input,
                    None,
                    &self.thresholds,
                    dt,
                );
            }
        }
        if first_spike.is_none() {
            self.deliver_pending();
            self.d.project(&self.z, &mut self.input, false);
            if dense_slow {
                for (i, s) in self.input.iter_mut().zip(&self.slow_current) {
                    *i += s;
                }
            }
            self.integrate_and_perturb(dt);
        }

        // 3. The spikes of the step (at most one by default); each spike's fast-weight column
        // reaches every voltage before the next neuron is chosen.
        // With `defer`, the column of a spike no choice follows (the cap's last) may wait.
        self.spikes.clear();
        for s in 0..self.max_spikes {
            let chosen = match first_spike.take() {
                Some(chosen) => chosen,
                None => self.neuron.select_spike(&self.state, &self.thresholds),
            };
            match chosen {
                Some(k) => {
                    self.fire_neuron(k, defer && s + 1 == self.max_spikes);
                    self.spikes.push(k);
                }
                None => break,
            }
        }

        // 4. Exact exponential decay of the traces, the readout and the basis drive.
        self.slow_current_ready = false;
        let a = self.decay;
        // Where Psi is r itself and this step's learning leaves W as it is, the next step's
        // W Psi is taken in the decay's pass over r (the bits of the decay, then the dots).
        let learns = target.is_some() && self.protocol.learning && self.plan.learning != Learning::Never;
        let mut slow_z_ready = false;
        match &self.slow {
            SlowWeights::Factored(wt)
                if self.identity_basis && self.slow_enabled && !learns && (1..=3).contains(&j) =>
            {
                let col = |c: usize| wt.col_as_slice(c);
                let r = &mut self.r;
                match j {
                    1 => self.slow_z[0] = coding::decay_dots([col(0)], r, a, coding::FLUSH_TO_ZERO)[0],
                    2 => {
                        self.slow_z.copy_from_slice(&coding::decay_dots([col(0), col(1)], r, a, coding::FLUSH_TO_ZERO))
                    }
                    _ => self.slow_z.copy_from_slice(&coding::decay_dots(
                        [col(0), col(1), col(2)],
                        r,
                        a,
                        coding::FLUSH_TO_ZERO,
                    )),
                }
                slow_z_ready = true;
            }
            _ => coding::decay(&mut self.r, a),
        }
        coding::decay(&mut self.x_hat, a);
        // The drive's jumps at this step's spikes (left out of `fire_neuron`), its decay and
        // Psi: three passes, or one sweep for the fast-tanh basis (the same bits).
        match (self.plan.drive, plan::basis::<TanhBasis>(self.basis.as_ref())) {
            (Drive::Sweep, Some(tanh)) => tanh.sweep(&self.spikes, a, &mut self.drive, &mut self.psi),
            _ => {
                for &k in &self.spikes {
                    self.basis.on_spike(k, &mut self.drive);
                }
                coding::decay(&mut self.drive, a);
                if !self.identity_basis {
                    self.basis.evaluate(&self.r, &self.drive, &mut self.psi);
                }
            }
        }

        // 5. New error and learning.
        match target {
            Some(x) => {
                debug_assert_eq!(x.len(), j);
                for ((e, x), xh) in self.error.iter_mut().zip(x).zip(&self.x_hat) {
                    *e = x - xh;
                }
                if learns {
                    // What the rule reads: the voltages with any pending column delivered,
                    // the feedback D^T e (also the fused dense pass's outer product).
                    let reads_voltages = self.plan.rule_reads_voltages();
                    if reads_voltages {
                        self.deliver_pending();
                    }
                    let dense = matches!(self.slow, SlowWeights::Dense(_));
                    let reads_feedback = dense || self.plan.rule_reads_factored_feedback();
                    if reads_feedback || dense {
                        self.d.project(&self.error, &mut self.feedback, false);
                    }
                    let signal = LearningSignal {
                        error: &self.error,
                        feedback: if reads_feedback { &self.feedback } else { &[] },
                        psi: basis_values(self.identity_basis, &self.r, &self.psi),
                        target: x,
                        readout: &self.x_hat,
                        traces: &self.r,
                        voltages: if reads_voltages { self.neuron.voltages(&self.state) } else { &[] },
                        spikes: &self.spikes,
                        decoder: &self.decoder,
                        t: (self.step + 1) as f64 * dt,
                        rate_scale: self.protocol.rate_scale,
                        dt,
                    };
                    // The fused pass, where the plan's rule is an outer product in this step
                    // (the factored pass unrolls J = 1 to 3).
                    let fusable = dense || (1..=3).contains(&j);
                    let gain = match self.plan.learning {
                        Learning::Local if fusable => {
                            plan::rule::<LocalRule>(self.rule.as_ref()).map(|r| r.outer_gain(&signal))
                        }
                        Learning::Robust if fusable => {
                            plan::rule::<RobustLocal>(self.rule.as_ref()).and_then(|r| r.outer_gain(&signal))
                        }
                        _ => None,
                    };
                    match (&mut self.slow, gain) {
                        (SlowWeights::Factored(wt), Some(gain)) => {
                            // The fused pass: update each W^T column and take its dot
                            // product with Psi for the next step (same operations as update
                            // + product).
                            let a = |c: usize| gain * self.error[c];
                            let mut cols = wt.col_iter_mut().map(|c| {
                                c.try_as_col_major_mut().expect("a column of W^T is contiguous").as_slice_mut()
                            });
                            let mut col = || cols.next().expect("J columns");
                            let psi = basis_values(self.identity_basis, &self.r, &self.psi);
                            match j {
                                1 => self.slow_z[0] = coding::axpy_dots([col()], [a(0)], psi)[0],
                                2 => {
                                    let [c0, c1] = [col(), col()];
                                    self.slow_z.copy_from_slice(&coding::axpy_dots([c0, c1], [a(0), a(1)], psi));
                                }
                                _ => {
                                    let [c0, c1, c2] = [col(), col(), col()];
                                    let s = coding::axpy_dots([c0, c1, c2], [a(0), a(1), a(2)], psi);
                                    self.slow_z.copy_from_slice(&s);
                                }
                            }
                            self.slow_current_ready = true;
                        }
                        (SlowWeights::Dense(omega), Some(gain)) => {
                            // The fused pass: update each column, then add it into the next
                            // step's slow current (same operations as update + product).
                            self.slow_current.fill(0.0);
                            let psi = basis_values(self.identity_basis, &self.r, &self.psi);
                            for (col, psi) in psi.iter().enumerate() {
                                let column = omega.col_as_slice_mut(col);
                                axpy(gain * psi, &self.feedback, column);
                                if *psi != 0.0 {
                                    axpy(*psi, column, &mut self.slow_current);
                                }
                            }
                            self.slow_current_ready = true;
                        }
                        _ => self.rule.update(&signal, &mut self.slow),
                    }
                }
            }
            None => self.error.fill(0.0),
        }
        if slow_z_ready {
            self.slow_current_ready = true;
        }
        self.step += 1;
        &self.spikes
    }

    /// Sub-step 2 after the input current: input perturbations, the membrane update,
    /// membrane noise and the perturbations that act on the voltages and traces.
    fn integrate_and_perturb(&mut self, dt: f64) {
        if !self.perturbations.is_empty() {
            let mut ctx = InputContext { step: self.step, t: self.step as f64 * dt, dt, input: &mut self.input };
            for (p, _) in &mut self.perturbations {
                p.apply_input(&mut ctx);
            }
        }
        self.neuron.integrate(&mut self.state, &self.input, dt);
        let v = self.neuron.voltages_mut(&mut self.state);
        if self.noise_scale > 0.0 {
            for vi in v.iter_mut() {
                *vi += self.noise_scale * self.noise.sample::<f64, _>(StandardNormal);
            }
        }
        if !self.perturbations.is_empty() {
            let mut ctx = PerturbationContext::new(
                self.step,
                dt,
                v,
                &mut self.slow,
                &mut self.thresholds,
                &self.base_thresholds,
                &mut self.alive,
                &mut self.r,
            );
            for (p, _) in &mut self.perturbations {
                p.apply(&mut ctx);
            }
            let t = ctx.t;
            if ctx.traces_changed() {
                for r in &mut self.r {
                    *r = if r.is_finite() && *r > 0.0 { *r } else { 0.0 };
                }
                // x_hat = D r in place (the step never allocates).
                self.x_hat.fill(0.0);
                for (i, r) in self.r.iter().enumerate() {
                    if *r != 0.0 {
                        for (x, d) in self.x_hat.iter_mut().zip(self.d.column(i)) {
                            *x += r * d;
                        }
                    }
                }
                self.basis.drive_from_traces(&self.r, &mut self.drive);
                self.refresh_psi();
            }
            self.perturbations.retain(|(p, _)| !p.finished(t));
        }
    }

    /// One spike of sub-step 3: the neuron model chooses at most one neuron on the current
    /// voltages; if one fires, its fast-weight column is added to every voltage
    /// (V_j -= D_j^T D_k + mu delta_jk), r_k += 1, x_hat += D_k, the basis drive jumps and
    /// the model is told ([`NeuronModel::on_spike`]). Nothing decays and no time passes.
    /// [`Network::step`] calls it up to the model's spikes-per-step cap; calling it until it
    /// returns `None` encodes the current voltages greedily (MODEL.md §3).
    pub fn fire(&mut self) -> Option<usize> {
        self.deliver_pending();
        let k = self.neuron.select_spike(&self.state, &self.thresholds)?;
        self.fire_neuron(k, false);
        self.basis.on_spike(k, &mut self.drive);
        Some(k)
    }

    /// Neuron k fires: the fast-weight column, the trace, the readout and the model's own
    /// spike state (see [`Network::fire`]). The basis drive's jump is the caller's: `fire`
    /// adds it at once, a step with the decay (nothing reads the drive in between). With `defer`, the column and the model's spike state wait in
    /// [`Network::pending`] where the fast weights are factored and the synapses
    /// instantaneous.
    fn fire_neuron(&mut self, k: usize, defer: bool) {
        let dk = self.d.column(k);
        if defer
            && self.fast_column.is_empty()
            && self.fast_dense.is_none()
            && self.config.fast_weights == FastForm::Factored
        {
            debug_assert!(self.pending.is_none(), "one pending spike at most");
            self.pending = Some(k);
            self.r[k] += 1.0;
            for (x, d) in self.x_hat.iter_mut().zip(dk) {
                *x += d;
            }
            return;
        }
        if self.fast_column.is_empty() {
            // Instantaneous synapses: the column goes straight onto the voltages.
            let v = self.neuron.voltages_mut(&mut self.state);
            match (&self.fast_dense, self.config.fast_weights) {
                (Some(omega_f), _) => {
                    for (vi, w) in v.iter_mut().zip(omega_f.col_as_slice(k)) {
                        *vi += w;
                    }
                }
                (None, FastForm::ResetOnly) => v[k] -= coding::dot(dk, dk) + self.config.mu,
                (None, _) => {
                    self.d.project(dk, v, true);
                    v[k] -= self.config.mu;
                }
            }
        } else {
            // The model's own synapses: it receives the column (the same values).
            let column = &mut self.fast_column;
            match (&self.fast_dense, self.config.fast_weights) {
                (Some(omega_f), _) => column.copy_from_slice(omega_f.col_as_slice(k)),
                (None, FastForm::ResetOnly) => {
                    column.fill(0.0);
                    column[k] = -(coding::dot(dk, dk) + self.config.mu);
                }
                (None, _) => {
                    column.fill(0.0);
                    self.d.project(dk, column, true);
                    column[k] -= self.config.mu;
                }
            }
            self.neuron.receive_fast(&mut self.state, k, &self.fast_column, &self.thresholds);
        }
        self.r[k] += 1.0;
        for (x, d) in self.x_hat.iter_mut().zip(dk) {
            *x += d;
        }
        self.neuron.on_spike(&mut self.state, k);
    }

    /// Delivers the pending spike, if any: its column onto the voltages, then the model's
    /// [`NeuronModel::on_spike`] (what [`Network::fire_neuron`] does without deferring).
    fn deliver_pending(&mut self) {
        if let Some(k) = self.pending.take() {
            deliver(&self.d, &self.neuron, &mut self.state, k, self.config.mu);
        }
    }

    /// Psi = Psi(r, u) after r or u changed (nothing to do for the identity basis).
    fn refresh_psi(&mut self) {
        if !self.identity_basis {
            self.basis.evaluate(&self.r, &self.drive, &mut self.psi);
        }
    }

    /// Sets the traces r (length N, finite, >= 0) and recomputes x_hat = D r, the basis drive
    /// and Psi from scratch. Voltages are left as they are.
    pub fn set_traces(&mut self, r: &[f64]) -> Result<()> {
        check::same_len("traces", self.config.n, r.len())?;
        for (i, v) in r.iter().enumerate() {
            check::non_negative(&format!("traces[{i}]"), *v)?;
        }
        self.r.copy_from_slice(r);
        self.x_hat = coding::readout(&self.decoder, r);
        self.basis.drive_from_traces(&self.r, &mut self.drive);
        self.refresh_psi();
        self.slow_current_ready = false;
        Ok(())
    }

    /// Sets the membrane voltages (length N, finite).
    pub fn set_voltages(&mut self, v: &[f64]) -> Result<()> {
        check::same_len("voltages", self.config.n, v.len())?;
        check::all_finite("voltages", v)?;
        self.neuron.voltages_mut(&mut self.state).copy_from_slice(v);
        Ok(())
    }

    /// How the step runs, in words (chosen at build from the components, see
    /// `ebn_engine`'s plan module): e.g. "EBN one-pass membrane, identity basis in place,
    /// fused local rule". Every plan gives the bits of the generic one.
    pub fn plan(&self) -> String {
        self.plan.to_string()
    }
    /// Whether Psi(r) = r (the built-in identity basis), for which the slow weights of a
    /// linear target have a closed form.
    pub fn identity_basis(&self) -> bool {
        self.identity_basis
    }
    /// The configuration the network was built from.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }
    /// The decoder D (J x N).
    pub fn decoder(&self) -> &Mat<f64> {
        &self.decoder
    }
    /// Thresholds T_i = (||D_i||^2 + mu + nu) / 2 (without silencing or perturbation).
    #[allow(clippy::misnamed_getters)]
    pub fn thresholds(&self) -> &[f64] {
        &self.base_thresholds
    }
    /// The thresholds in force: +inf for silenced neurons, as perturbations left them.
    pub fn thresholds_in_force(&self) -> &[f64] {
        &self.thresholds
    }
    /// The neurons that fired in the last step, in firing order.
    pub fn last_spikes(&self) -> &[usize] {
        &self.spikes
    }
    /// Which neurons can still fire.
    pub fn alive(&self) -> &[bool] {
        &self.alive
    }
    /// Membrane voltages V.
    pub fn voltages(&self) -> &[f64] {
        self.neuron.voltages(&self.state)
    }
    /// Filtered spike trains r.
    pub fn traces(&self) -> &[f64] {
        &self.r
    }
    /// The readout x_hat.
    pub fn readout(&self) -> &[f64] {
        &self.x_hat
    }
    /// The basis drive the network keeps for its basis (e.g. u = M r of a tanh basis; empty
    /// for bases without one).
    pub fn basis_drive(&self) -> &[f64] {
        &self.drive
    }
    /// The basis values Psi(r) of the current step.
    pub fn psi(&self) -> &[f64] {
        basis_values(self.identity_basis, &self.r, &self.psi)
    }
    /// The output error e of the current step (0 without a target).
    pub fn error(&self) -> &[f64] {
        &self.error
    }
    /// The basis.
    pub fn basis(&self) -> &dyn Basis {
        self.basis.as_ref()
    }
    /// The slow weights.
    pub fn slow_weights(&self) -> &SlowWeights {
        &self.slow
    }
    /// The most spikes one step can hold: the neuron model's spike policy
    /// ([`NeuronModel::max_spikes_per_step`], 1 for the paper's rule). A network that fires
    /// this many in most steps is pinned at the policy's limit (its readout cannot move
    /// faster, whatever the weights ask).
    pub fn spike_cap(&self) -> usize {
        self.max_spikes
    }
    /// Number of steps taken since the last reset.
    pub fn steps(&self) -> u64 {
        self.step
    }
    /// Time since the last reset (s).
    pub fn time(&self) -> f64 {
        self.step as f64 * self.config.dt
    }
}

/// The protocol's switches of a run: what the network does with the teacher's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Protocol {
    /// The feedback gain K (1/s, >= 0): K (x - x_hat) enters the voltages through D^T
    /// (MODEL.md §4); 0 in a test.
    pub feedback_gain: f64,
    /// Whether the rule learns (at the steps given a teacher's state).
    pub learning: bool,
    /// Multiplier of the rule's rate (>= 0; annealing and reduce-on-plateau lower it); 1
    /// normally.
    pub rate_scale: f64,
}

impl Protocol {
    /// Training: the error fed back with gain `feedback_gain` (1/s), the rule learning at
    /// its own rate.
    pub fn training(feedback_gain: f64) -> Self {
        Self { feedback_gain, learning: true, rate_scale: 1.0 }
    }

    /// The network on its own: no feedback, no learning (a test, a free run).
    pub const FREE: Protocol = Protocol { feedback_gain: 0.0, learning: false, rate_scale: 1.0 };

    fn validate(&self) -> Result<()> {
        check::non_negative("feedback_gain", self.feedback_gain)?;
        check::non_negative("rate_scale", self.rate_scale)?;
        Ok(())
    }
}

/// Everything one run (a training trial, a test) sets on a network, given at once to
/// [`Network::start_run`]; [`Network::end_run`] undoes what the run may have damaged.
#[derive(Debug)]
pub struct RunSettings {
    /// Feedback gain, learning and rate scale.
    pub protocol: Protocol,
    /// The stream of the neuron model's initial state (each run its own).
    pub neuron_state: Rng,
    /// The stream of the membrane noise sigma_V (each run its own, so that a resumed run
    /// draws what an uninterrupted one does).
    pub noise: Rng,
    /// Neurons silenced for this run only (training dropout).
    pub silenced: Vec<usize>,
    /// The state to preload before the run (MODEL.md §7), if any.
    pub preload: Option<PreloadState>,
    /// Perturbations of this run only (in files: `[training]` and `[[test]]`
    /// `perturbations`).
    pub perturbations: Vec<Box<dyn Perturbation>>,
}

impl RunSettings {
    /// A run with this protocol and these streams, and nothing else.
    pub fn new(protocol: Protocol, neuron_state: Rng, noise: Rng) -> Self {
        Self { protocol, neuron_state, noise, silenced: Vec::new(), preload: None, perturbations: Vec::new() }
    }
}

/// A preload (MODEL.md §7, [`Network::preload`]): the state x0 to represent, for how long
/// (s) and with what feedback gain (1/s).
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadState {
    /// x0 (length J).
    pub state: Vec<f64>,
    /// Seconds.
    pub duration: f64,
    /// Feedback gain (1/s).
    pub gain: f64,
}

/// What a run's perturbations may damage, as it was at the run's start.
#[derive(Debug, Clone)]
struct RunStart {
    thresholds: Vec<f64>,
    alive: Vec<bool>,
    /// The slow weights, for a run that does not learn and has perturbations.
    weights: Option<SlowWeights>,
}

/// y += a x, element by element.
#[inline]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// A [`Network`] stepped with each step's last fast-weight column delivered in the next
/// step's pass ([`Network::deferred`]). It borrows the network mutably, so nothing else can
/// read the voltages while a column is pending; the column is delivered when the voltages or
/// the network are asked for, and when the handle is dropped.
#[derive(Debug)]
pub struct Deferred<'a, M: NeuronModel = DynNeuron> {
    net: &'a mut Network<M>,
}

impl<M: NeuronModel> Deferred<'_, M> {
    /// [`Network::step`].
    pub fn step(&mut self, command: &[f64], target: Option<&[f64]>) -> &[usize] {
        self.net.advance(command, target, true)
    }
    /// Membrane voltages V, with any pending column delivered.
    pub fn voltages(&mut self) -> &[f64] {
        self.net.deliver_pending();
        self.net.voltages()
    }
    /// The network, with any pending column delivered.
    pub fn network(&mut self) -> &mut Network<M> {
        self.net.deliver_pending();
        self.net
    }
    /// The readout x_hat (current at once: it jumps at the spike).
    pub fn readout(&self) -> &[f64] {
        self.net.readout()
    }
    /// Filtered spike trains r.
    pub fn traces(&self) -> &[f64] {
        self.net.traces()
    }
    /// The output error e of the current step.
    pub fn error(&self) -> &[f64] {
        self.net.error()
    }
    /// The neurons that fired in the last step.
    pub fn last_spikes(&self) -> &[usize] {
        self.net.last_spikes()
    }
    /// Time t = n dt.
    pub fn time(&self) -> f64 {
        self.net.time()
    }
}

impl<M: NeuronModel> Drop for Deferred<'_, M> {
    fn drop(&mut self) {
        self.net.deliver_pending();
    }
}

/// The factored fast-weight column of spike k onto the voltages (V_j -= D_j^T D_k, then
/// V_k -= mu, as [`Network::fire_neuron`] adds it), then the model's `on_spike`.
fn deliver<M: NeuronModel>(d: &DecoderLayouts, neuron: &M, state: &mut M::State, k: usize, mu: f64) {
    let v = neuron.voltages_mut(state);
    d.project(d.column(k), v, true);
    v[k] -= mu;
    neuron.on_spike(state, k);
}

/// Psi: the traces themselves for the identity basis (never copied), else the values the basis
/// wrote.
#[inline(always)]
fn basis_values<'a>(identity: bool, r: &'a [f64], psi: &'a [f64]) -> &'a [f64] {
    if identity { r } else { psi }
}

/// D in the two layouts the step reads: neuron-major (`by_neuron[i * J + c] = D[c, i]`, the
/// decoding vector of one neuron at a spike) and component-major (`by_component[c * N + i]`,
/// for the products D^T z over all neurons: one contiguous row per component, so the loop over
/// neurons needs no shuffles).
#[derive(Debug, Clone)]
struct DecoderLayouts {
    by_neuron: Vec<f64>,
    by_component: Vec<f64>,
    n: usize,
    j: usize,
}

impl DecoderLayouts {
    fn new(decoder: &Mat<f64>) -> Self {
        let (j, n) = (decoder.nrows(), decoder.ncols());
        let by_neuron = (0..n).flat_map(|i| decoder.col_as_slice(i).to_vec()).collect();
        let by_component = (0..j).flat_map(|c| (0..n).map(move |i| decoder[(c, i)])).collect();
        Self { by_neuron, by_component, n, j }
    }

    /// D_k, the decoding vector of neuron k.
    #[inline]
    fn column(&self, k: usize) -> &[f64] {
        &self.by_neuron[k * self.j..(k + 1) * self.j]
    }

    /// out_i = sum_c D[c, i] z_c (or out_i -= that, when `subtract`) for every neuron i: the
    /// product D^T z. Each sum runs over c = 0, 1, ... from 0.0, in every layout, so the
    /// result does not depend on which loop computes it. J = 1, 2, 3 read the component rows
    /// (vectorised); larger J the neuron-major layout.
    #[inline]
    fn project(&self, z: &[f64], out: &mut [f64], subtract: bool) {
        let n = self.n;
        let row = |c: usize| &self.by_component[c * n..(c + 1) * n];
        #[inline(always)]
        fn put(o: &mut f64, s: f64, subtract: bool) {
            if subtract { *o -= s } else { *o = s }
        }
        match self.j {
            1 => {
                for (o, d0) in out.iter_mut().zip(row(0)) {
                    put(o, 0.0 + d0 * z[0], subtract);
                }
            }
            2 => {
                for ((o, d0), d1) in out.iter_mut().zip(row(0)).zip(row(1)) {
                    put(o, 0.0 + d0 * z[0] + d1 * z[1], subtract);
                }
            }
            3 => {
                for (((o, d0), d1), d2) in out.iter_mut().zip(row(0)).zip(row(1)).zip(row(2)) {
                    put(o, 0.0 + d0 * z[0] + d1 * z[1] + d2 * z[2], subtract);
                }
            }
            j => {
                for (o, d) in out.iter_mut().zip(self.by_neuron.chunks_exact(j)) {
                    let mut s = 0.0;
                    for (dc, zc) in d.iter().zip(z) {
                        s += dc * zc;
                    }
                    put(o, s, subtract);
                }
            }
        }
    }
}
