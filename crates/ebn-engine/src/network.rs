//! The efficient balanced network and its time step.

use crate::config::NetworkConfig;
use crate::deferred::Deferred;
use crate::kernels::{self, PendingSpike, SplitInput};
use crate::plan::{self, Drive, Learning, Membrane, StepPlan};
use crate::population::{DecoderLayouts, FastProjection, Population, deliver};
use crate::registry::network_components;
use crate::run::{Protocol, RunStart};
use ebn_basis::TanhBasis;
use ebn_core::{
    Basis, BasisSetup, DynNeuron, Error, InputContext, LearningSignal, Mat, NeuronModel, Perturbation,
    PerturbationContext, PlasticityRule, Registry, Result, Rng, RuleSetup, SeedStreams, SlowWeights, Stream,
    WeightForm, check, coding,
};
use ebn_plasticity::{LocalRule, RobustLocal};

thread_local! {
    static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many networks the calling thread has built so far: what the protocol's tests count
/// (a `run`, resumed or not, builds one).
pub fn networks_built() -> usize {
    BUILT.with(std::cell::Cell::get)
}

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
///    neuron model (forward Euler), then the perturbations (the membrane noise
///    `sigma_V sqrt(dt) N(0,1)` per neuron is one, the protocol's first of each run);
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
/// **One-pass membrane**: with no perturbation (membrane noise included: they act between the
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
    pub(crate) config: NetworkConfig,
    /// The neurons: model, state, decoder, thresholds, traces (one population today).
    pub(crate) pop: Population<M>,
    pub(crate) seeds: SeedStreams,
    pub(crate) fast: FastProjection,
    pub(crate) basis: Box<dyn Basis>,
    pub(crate) rule: Box<dyn PlasticityRule>,
    pub(crate) slow: SlowWeights,
    /// Perturbations in force, each with whether it belongs to the current run only.
    pub(crate) perturbations: Vec<(Box<dyn Perturbation>, bool)>,
    pub(crate) x_hat: Vec<f64>,
    pub(crate) drive: Vec<f64>,
    /// Psi of the current step; empty for the identity basis, whose Psi is r itself (read
    /// through [`basis_values`], never copied).
    pub(crate) psi: Vec<f64>,
    /// How the step runs, chosen at build from the components ([`crate::plan`]).
    pub(crate) plan: StepPlan,
    /// Whether Psi is r itself (the plan's identity basis), read in place, never copied.
    pub(crate) identity_basis: bool,
    pub(crate) error: Vec<f64>,
    pub(crate) z: Vec<f64>,
    /// Omega_s Psi computed by the fused dense pass for the next step, if still valid.
    pub(crate) slow_current: Vec<f64>,
    /// W Psi (length J) for the next step, computed by the fused factored learning pass or,
    /// with the identity basis and no learning in the step, by the traces' decay pass
    /// ([`coding::decay_dots`]); valid, as `slow_current`, while `slow_current_ready`.
    pub(crate) slow_z: Vec<f64>,
    pub(crate) slow_current_ready: bool,
    pub(crate) decay: f64,
    /// The protocol's switches in force (feedback gain, learning, rate scale).
    pub(crate) protocol: Protocol,
    /// False only while preloading (the slow current off).
    pub(crate) slow_enabled: bool,
    /// What the run's perturbations may damage, as it was when the run started
    /// ([`Network::start_run`]); restored by [`Network::end_run`].
    pub(crate) run_start: Option<RunStart>,
    pub(crate) step: u64,
}

impl Network<DynNeuron> {
    /// Builds the network of `config` with the built-in components, drawing D and the basis
    /// from `seeds`. The only step that can fail.
    pub fn build(config: &NetworkConfig, seeds: SeedStreams) -> Result<Self> {
        Self::build_in(config, seeds, network_components(), Overrides::default())
    }

    /// Builds the network of `config` with some components supplied by the caller.
    pub fn build_with(config: &NetworkConfig, seeds: SeedStreams, overrides: Overrides) -> Result<Self> {
        Self::build_in(config, seeds, network_components(), overrides)
    }

    /// Builds the network of `config`, resolving its neuron, basis and rule through
    /// `registry` (a fork's kinds included), except those in `overrides`.
    pub fn build_in(
        config: &NetworkConfig,
        seeds: SeedStreams,
        registry: &Registry,
        overrides: Overrides,
    ) -> Result<Self> {
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
        BUILT.with(|b| b.set(b.get() + 1));
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
        let fast = FastProjection::new(config.fast_weights, &decoder, config.mu);
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
            pop: Population {
                state: neuron.init_state(n, &mut seeds.rng(Stream::NeuronState)),
                neuron,
                thresholds: base_thresholds.clone(),
                base_thresholds,
                alive: vec![true; n],
                spikes: Vec::with_capacity(max_spikes.min(4 * n)),
                max_spikes,
                fast_column,
                r: vec![0.0; n],
                pending: None,
                feedback: vec![0.0; n],
                input: vec![0.0; n],
                decoder,
                d,
            },
            seeds,
            basis,
            rule,
            slow,
            perturbations: Vec::new(),
            x_hat: vec![0.0; j],
            drive: vec![0.0; drive_len],
            psi: if identity_basis { Vec::new() } else { vec![0.0; nb] },
            identity_basis,
            plan,
            error: vec![0.0; j],
            z: vec![0.0; j],
            slow_current: vec![0.0; n],
            slow_z: vec![0.0; j],
            slow_current_ready: false,
            decay: (-config.lambda * config.dt).exp(),
            protocol: Protocol { feedback_gain: config.feedback_gain, learning: true, rate_scale: 1.0 },
            slow_enabled: true,
            run_start: None,
            step: 0,
            fast,
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
    pub(crate) fn reset_state_with(&mut self, rng: &mut Rng) {
        self.pop.state = self.pop.neuron.init_state(self.config.n, rng);
        self.pop.pending = None;
        self.pop.spikes.clear();
        self.pop.r.fill(0.0);
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
        self.pop.alive[i] = false;
        self.pop.thresholds[i] = f64::INFINITY;
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
        &self.pop.neuron
    }

    /// The neuron model's state.
    pub fn neuron_state(&self) -> &M::State {
        &self.pop.state
    }

    /// The seed streams the network was built from.
    pub fn seeds(&self) -> SeedStreams {
        self.seeds
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
    pub(crate) fn advance(&mut self, command: &[f64], target: Option<&[f64]>, defer: bool) -> &[usize] {
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
            let psi = basis_values(self.identity_basis, &self.pop.r, &self.psi);
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
                    for (col, psi) in basis_values(self.identity_basis, &self.pop.r, &self.psi).iter().enumerate() {
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
        if self.plan.membrane != Membrane::Generic && self.perturbations.is_empty() {
            let n = self.pop.d.n;
            let row = |c: usize| &self.pop.d.by_component[c.min(j - 1) * n..(c.min(j - 1) + 1) * n];
            let rows = [row(0), row(1), row(2)];
            let input =
                SplitInput { rows: &rows[..j], z: &self.z, extra: dense_slow.then_some(self.slow_current.as_slice()) };
            if let Some(k) = self.pop.pending {
                let pending = PendingSpike { k, d: self.pop.d.column(k), mu: self.config.mu };
                first_spike = kernels::integrate_and_select(
                    self.plan.membrane,
                    &mut self.pop.state,
                    &input,
                    Some(&pending),
                    &self.pop.thresholds,
                    dt,
                );
                if first_spike.is_none() {
                    // The model has no pass with the column in it: deliver it, then as usual.
                    deliver(
                        &self.pop.d,
                        &self.pop.neuron,
                        &mut self.pop.state,
                        &self.pop.thresholds,
                        k,
                        self.config.mu,
                    );
                }
                self.pop.pending = None;
            }
            if first_spike.is_none() {
                first_spike = kernels::integrate_and_select(
                    self.plan.membrane,
                    &mut self.pop.state,
                    &input,
                    None,
                    &self.pop.thresholds,
                    dt,
                );
            }
        }
        if first_spike.is_none() {
            self.deliver_pending();
            self.pop.d.project(&self.z, &mut self.pop.input, false);
            if dense_slow {
                for (i, s) in self.pop.input.iter_mut().zip(&self.slow_current) {
                    *i += s;
                }
            }
            self.integrate_and_perturb(dt);
        }

        // 3. The spikes of the step (at most one by default); each spike's fast-weight column
        // reaches every voltage before the next neuron is chosen.
        // With `defer`, the column of a spike no choice follows (the cap's last) may wait.
        self.pop.spikes.clear();
        for s in 0..self.pop.max_spikes {
            let chosen = match first_spike.take() {
                Some(chosen) => chosen,
                None => self.pop.neuron.select_spike(&self.pop.state, &self.pop.thresholds),
            };
            match chosen {
                Some(k) => {
                    self.fire_neuron(k, defer && s + 1 == self.pop.max_spikes);
                    self.pop.spikes.push(k);
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
                let r = &mut self.pop.r;
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
            _ => coding::decay(&mut self.pop.r, a),
        }
        coding::decay(&mut self.x_hat, a);
        // The drive's jumps at this step's spikes (left out of `fire_neuron`), its decay and
        // Psi: three passes, or one sweep for the fast-tanh basis (the same bits).
        // (The downcast only where the plan sweeps: no other step pays for it.)
        let sweeping = match self.plan.drive {
            Drive::Sweep => plan::basis::<TanhBasis>(self.basis.as_ref()),
            Drive::Identity | Drive::Passes => None,
        };
        match sweeping {
            Some(tanh) => tanh.sweep(&self.pop.spikes, a, &mut self.drive, &mut self.psi),
            None => {
                for &k in &self.pop.spikes {
                    self.basis.on_spike(k, &mut self.drive);
                }
                coding::decay(&mut self.drive, a);
                if !self.identity_basis {
                    self.basis.evaluate(&self.pop.r, &self.drive, &mut self.psi);
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
                        self.pop.d.project(&self.error, &mut self.pop.feedback, false);
                    }
                    let signal = LearningSignal {
                        error: &self.error,
                        feedback: if reads_feedback { &self.pop.feedback } else { &[] },
                        psi: basis_values(self.identity_basis, &self.pop.r, &self.psi),
                        target: x,
                        readout: &self.x_hat,
                        traces: &self.pop.r,
                        voltages: if reads_voltages { self.pop.neuron.voltages(&self.pop.state) } else { &[] },
                        spikes: &self.pop.spikes,
                        decoder: &self.pop.decoder,
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
                            let psi = basis_values(self.identity_basis, &self.pop.r, &self.psi);
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
                            let psi = basis_values(self.identity_basis, &self.pop.r, &self.psi);
                            for (col, psi) in psi.iter().enumerate() {
                                let column = omega.col_as_slice_mut(col);
                                axpy(gain * psi, &self.pop.feedback, column);
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
        &self.pop.spikes
    }

    /// Sub-step 2 after the input current: input perturbations, the membrane update, and the
    /// perturbations that act on the voltages and traces (membrane noise among them).
    fn integrate_and_perturb(&mut self, dt: f64) {
        if !self.perturbations.is_empty() {
            let mut ctx = InputContext { step: self.step, t: self.step as f64 * dt, dt, input: &mut self.pop.input };
            for (p, _) in &mut self.perturbations {
                p.apply_input(&mut ctx);
            }
        }
        self.pop.neuron.integrate(&mut self.pop.state, &self.pop.input, dt);
        if !self.perturbations.is_empty() {
            let v = self.pop.neuron.voltages_mut(&mut self.pop.state);
            let mut ctx = PerturbationContext::new(
                self.step,
                dt,
                v,
                &mut self.slow,
                &mut self.pop.thresholds,
                &self.pop.base_thresholds,
                &mut self.pop.alive,
                &mut self.pop.r,
            );
            for (p, _) in &mut self.perturbations {
                p.apply(&mut ctx);
            }
            let t = ctx.t;
            if ctx.traces_changed() {
                for r in &mut self.pop.r {
                    *r = if r.is_finite() && *r > 0.0 { *r } else { 0.0 };
                }
                // x_hat = D r in place (the step never allocates).
                self.x_hat.fill(0.0);
                for (i, r) in self.pop.r.iter().enumerate() {
                    if *r != 0.0 {
                        for (x, d) in self.x_hat.iter_mut().zip(self.pop.d.column(i)) {
                            *x += r * d;
                        }
                    }
                }
                self.basis.drive_from_traces(&self.pop.r, &mut self.drive);
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
        let k = self.pop.neuron.select_spike(&self.pop.state, &self.pop.thresholds)?;
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
        let dk = self.pop.d.column(k);
        if defer && self.pop.fast_column.is_empty() && self.fast.deferrable() {
            debug_assert!(self.pop.pending.is_none(), "one pending spike at most");
            self.pop.pending = Some(k);
            self.pop.r[k] += 1.0;
            for (x, d) in self.x_hat.iter_mut().zip(dk) {
                *x += d;
            }
            return;
        }
        if self.pop.fast_column.is_empty() {
            // Instantaneous synapses: the column goes straight onto the voltages.
            let v = self.pop.neuron.voltages_mut(&mut self.pop.state);
            self.fast.add_column(&self.pop.d, k, v);
        } else {
            // The model's own synapses: it receives the column (the same values).
            self.fast.write_column(&self.pop.d, k, &mut self.pop.fast_column);
            self.pop.neuron.receive_fast(&mut self.pop.state, k, &self.pop.fast_column, &self.pop.thresholds);
        }
        self.pop.r[k] += 1.0;
        for (x, d) in self.x_hat.iter_mut().zip(dk) {
            *x += d;
        }
        self.pop.neuron.on_spike_at(&mut self.pop.state, k, &self.pop.thresholds);
    }

    /// Delivers the pending spike, if any: its column onto the voltages, then the model's
    /// [`NeuronModel::on_spike`] (what [`Network::fire_neuron`] does without deferring).
    pub(crate) fn deliver_pending(&mut self) {
        if let Some(k) = self.pop.pending.take() {
            deliver(&self.pop.d, &self.pop.neuron, &mut self.pop.state, &self.pop.thresholds, k, self.config.mu);
        }
    }

    /// Psi = Psi(r, u) after r or u changed (nothing to do for the identity basis).
    fn refresh_psi(&mut self) {
        if !self.identity_basis {
            self.basis.evaluate(&self.pop.r, &self.drive, &mut self.psi);
        }
    }

    /// Sets the traces r (length N, finite, >= 0) and recomputes x_hat = D r, the basis drive
    /// and Psi from scratch. Voltages are left as they are.
    pub fn set_traces(&mut self, r: &[f64]) -> Result<()> {
        check::same_len("traces", self.config.n, r.len())?;
        for (i, v) in r.iter().enumerate() {
            check::non_negative(&format!("traces[{i}]"), *v)?;
        }
        self.pop.r.copy_from_slice(r);
        self.x_hat = coding::readout(&self.pop.decoder, r);
        self.basis.drive_from_traces(&self.pop.r, &mut self.drive);
        self.refresh_psi();
        self.slow_current_ready = false;
        Ok(())
    }

    /// Sets the membrane voltages (length N, finite).
    pub fn set_voltages(&mut self, v: &[f64]) -> Result<()> {
        check::same_len("voltages", self.config.n, v.len())?;
        check::all_finite("voltages", v)?;
        self.pop.neuron.voltages_mut(&mut self.pop.state).copy_from_slice(v);
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
        &self.pop.decoder
    }
    /// Thresholds T_i = (||D_i||^2 + mu + nu) / 2 (without silencing or perturbation).
    #[allow(clippy::misnamed_getters)]
    pub fn thresholds(&self) -> &[f64] {
        &self.pop.base_thresholds
    }
    /// The thresholds in force: +inf for silenced neurons, as perturbations left them.
    pub fn thresholds_in_force(&self) -> &[f64] {
        &self.pop.thresholds
    }
    /// The neurons that fired in the last step, in firing order.
    pub fn last_spikes(&self) -> &[usize] {
        &self.pop.spikes
    }
    /// Which neurons can still fire.
    pub fn alive(&self) -> &[bool] {
        &self.pop.alive
    }
    /// Membrane voltages V.
    pub fn voltages(&self) -> &[f64] {
        self.pop.neuron.voltages(&self.pop.state)
    }
    /// Filtered spike trains r.
    pub fn traces(&self) -> &[f64] {
        &self.pop.r
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
        basis_values(self.identity_basis, &self.pop.r, &self.psi)
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
        self.pop.max_spikes
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

/// y += a x, element by element.
#[inline]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Psi: the traces themselves for the identity basis (never copied), else the values the basis
/// wrote.
#[inline(always)]
fn basis_values<'a>(identity: bool, r: &'a [f64], psi: &'a [f64]) -> &'a [f64] {
    if identity { r } else { psi }
}
