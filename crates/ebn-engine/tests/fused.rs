//! Every step plan gives the bits of the generic plan (the components' trait methods only):
//! each built-in neuron model, basis and rule, networks built with the plan chosen for them
//! against the same networks built with `Overrides::generic_plan`; and whole networks trained
//! side by side with components the plan does not know (wrappers, as a fork's components),
//! for 1 to 3 dimensions, factored and dense slow weights, one and several spikes per step,
//! with and without noise and perturbations. The kernels themselves are tested against the
//! models' own calls in `ebn-engine` (kernels/membrane.rs).

use ebn_core::{
    Basis, BasisSetup, LearningSignal, NeuronModel, PlasticityRule, Result, Rng, RuleSetup, SeedStreams, SlowWeights,
    Spec, Stream, WeightForm,
};
use ebn_engine::{FastForm, Network, NetworkConfig, Overrides, Protocol, network_components};
use ebn_neurons::{EbnMultiSpike, EbnNeuron, EbnState};
use ebn_perturb::SilenceNeurons;
use ebn_plasticity::{LocalRule, RobustLocal, Safeguard};

/// A model the plan does not know (as a fork's): every call delegates, so the network takes
/// the generic path.
#[derive(Debug, Clone)]
struct Unfused<M>(M);

impl<M: NeuronModel<State = EbnState>> NeuronModel for Unfused<M> {
    type State = EbnState;
    fn validate(&self, dt: f64) -> Result<()> {
        self.0.validate(dt)
    }
    fn init_state(&self, n: usize, rng: &mut Rng) -> EbnState {
        self.0.init_state(n, rng)
    }
    fn voltages<'a>(&self, s: &'a EbnState) -> &'a [f64] {
        self.0.voltages(s)
    }
    fn voltages_mut<'a>(&self, s: &'a mut EbnState) -> &'a mut [f64] {
        self.0.voltages_mut(s)
    }
    fn integrate(&self, s: &mut EbnState, input: &[f64], dt: f64) {
        self.0.integrate(s, input, dt);
    }
    fn select_spike(&self, s: &EbnState, thresholds: &[f64]) -> Option<usize> {
        self.0.select_spike(s, thresholds)
    }
    fn max_spikes_per_step(&self) -> usize {
        self.0.max_spikes_per_step()
    }
}

/// The network with the membrane noise of its configuration's `sigma_v` (as the protocol
/// gives each run), on the network's noise stream.
fn with_noise<M: NeuronModel>(mut net: Network<M>) -> Network<M> {
    let sigma = net.config().sigma_v;
    if sigma > 0.0 {
        let rng = net.seeds().rng(Stream::Noise);
        net.add_perturbation(Box::new(ebn_perturb::MembraneNoise::new(sigma, ebn_perturb::Window::ALWAYS, rng)));
    }
    net
}

/// Learning off from the next step on (the rest of the protocol as it is).
fn stop_learning<M: NeuronModel>(net: &mut Network<M>) {
    let protocol = net.protocol();
    net.set_protocol(Protocol { learning: false, ..protocol }).unwrap();
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Trains a network of `model` and its unfused twin side by side on the same teacher and
/// compares every step's spikes, voltages, traces and the final weights, bit for bit.
fn side_by_side<M: NeuronModel<State = EbnState> + Clone>(config: &NetworkConfig, model: M, steps: usize) -> usize {
    let seeds = SeedStreams::new(7);
    let mut fused = with_noise(
        Network::build_generic(config, seeds, model.clone(), network_components(), Overrides::default()).unwrap(),
    );
    let mut plain = with_noise(
        Network::build_generic(config, seeds, Unfused(model), network_components(), Overrides::default()).unwrap(),
    );
    let j = config.dim;
    let mut spikes = 0;
    for s in 0..steps {
        let t = s as f64 * config.dt;
        let target: Vec<f64> = (0..j).map(|c| 0.5 * (6.0 * t + c as f64).sin()).collect();
        let command: Vec<f64> = (0..j).map(|c| 3.0 * (6.0 * t + c as f64).cos()).collect();
        let a = fused.step(&command, Some(&target)).to_vec();
        let b = plain.step(&command, Some(&target)).to_vec();
        assert_eq!(a, b, "spikes differ at step {s}");
        spikes += a.len();
        assert_eq!(bits(fused.voltages()), bits(plain.voltages()), "voltages differ at step {s}");
        assert_eq!(bits(fused.traces()), bits(plain.traces()), "traces differ at step {s}");
    }
    let (wa, wb) = (fused.slow_weights().synaptic(fused.decoder()), plain.slow_weights().synaptic(plain.decoder()));
    for c in 0..wa.ncols() {
        assert_eq!(bits(wa.col_as_slice(c)), bits(wb.col_as_slice(c)));
    }
    spikes
}

fn config(n: usize, j: usize, form: WeightForm, basis: Spec) -> NetworkConfig {
    let mut c = NetworkConfig::paper(n, j);
    c.slow_weights = form;
    c.basis = basis;
    c.rule = Spec::new("local").with("eta", 10.0);
    c
}

#[test]
fn networks_with_and_without_the_fused_path_agree_bit_for_bit() {
    let identity = Spec::new("identity");
    let tanh = Spec::new("random_tanh").with("n_basis", 37).with("weight_std", 0.3).with("bias", 1.0);
    for j in 1..=3 {
        for (form, basis) in
            [(WeightForm::Factored, &identity), (WeightForm::Dense, &identity), (WeightForm::Dense, &tanh)]
        {
            let c = config(41, j, form, basis.clone());
            // Voltages and traces are compared at every step; the spike counts only guard
            // against a comparison of silent networks.
            let spikes = side_by_side(&c, EbnNeuron::default(), 4000);
            assert!(spikes > 30, "J = {j}, {form:?}: {spikes} spikes: the comparison needs spikes");
            let multi = side_by_side(&c, EbnMultiSpike { lambda_v: 10.0, max_spikes: 4 }, 4000);
            assert!(multi > 30, "J = {j}, {form:?}: {multi} spikes");
        }
    }
    // J = 4 (no fused path: the kernel declines) and membrane noise (the separate path):
    // still the same as the twin.
    assert!(side_by_side(&config(40, 4, WeightForm::Factored, identity.clone()), EbnNeuron::default(), 2000) > 30);
    let mut noisy = config(40, 2, WeightForm::Factored, identity);
    noisy.sigma_v = 1e-3;
    assert!(side_by_side(&noisy, EbnNeuron::default(), 2000) > 30);
}

/// A rule the plan does not know: every call delegates, so the network calls `update` with
/// every field of the signal and computes the next slow current from the weights.
#[derive(Debug)]
struct Unclaimed(Box<dyn PlasticityRule>);

impl PlasticityRule for Unclaimed {
    fn bind(&mut self, setup: &RuleSetup) -> Result<()> {
        self.0.bind(setup)
    }
    fn update(&mut self, signal: &LearningSignal<'_>, weights: &mut SlowWeights) {
        self.0.update(signal, weights);
    }
}

/// The fused learning passes (update + next slow current, dense and factored) against a
/// twin whose rule does not claim them: the same spikes, voltages and weights, bit for bit,
/// for the paper's rule and a dead zone (which opens and closes during the run).
#[test]
fn the_fused_learning_pass_is_update_then_product() {
    let identity = Spec::new("identity");
    let tanh = Spec::new("random_tanh").with("n_basis", 37).with("weight_std", 0.3).with("bias", 1.0);
    let rules: [fn() -> Box<dyn PlasticityRule>; 2] = [
        || Box::new(LocalRule::new(10.0).unwrap()),
        || Box::new(RobustLocal::new(10.0, Safeguard::DeadZone { threshold: 0.05 }).unwrap()),
    ];
    for j in 1..=4 {
        for (form, basis) in
            [(WeightForm::Factored, &identity), (WeightForm::Factored, &tanh), (WeightForm::Dense, &tanh)]
        {
            for make in rules {
                let c = config(41, j, form, basis.clone());
                let build = |rule| {
                    let overrides = Overrides { rule: Some(rule), ..Default::default() };
                    Network::build_generic(
                        &c,
                        SeedStreams::new(7),
                        EbnNeuron::default(),
                        network_components(),
                        overrides,
                    )
                    .unwrap()
                };
                let (mut fused, mut plain) = (build(make()), build(Box::new(Unclaimed(make()))));
                let mut spikes = 0;
                for s in 0..3000 {
                    let t = s as f64 * c.dt;
                    let target: Vec<f64> = (0..j).map(|k| 0.5 * (6.0 * t + k as f64).sin()).collect();
                    let command: Vec<f64> = (0..j).map(|k| 3.0 * (6.0 * t + k as f64).cos()).collect();
                    let a = fused.step(&command, Some(&target)).to_vec();
                    assert_eq!(a, plain.step(&command, Some(&target)), "J = {j}, {form:?}: spikes differ at step {s}");
                    assert_eq!(bits(fused.voltages()), bits(plain.voltages()), "J = {j}, {form:?}: step {s}");
                    spikes += a.len();
                }
                let (wa, wb) = (fused.slow_weights().matrix(), plain.slow_weights().matrix());
                for k in 0..wa.ncols() {
                    assert_eq!(bits(wa.col_as_slice(k)), bits(wb.col_as_slice(k)), "J = {j}, {form:?}: weights");
                }
                assert!(spikes > 30, "J = {j}, {form:?}: {spikes} spikes: the comparison needs spikes");
            }
        }
    }
}

/// Steps `a` with [`Network::step`] and `b` through a [`Network::deferred`] handle (the last
/// spike's column delivered in the next step's pass): phase 1 trains (the rule reads V, so
/// the column is delivered within the step), phase 2 runs with the teacher's feedback and
/// learning off, phase 3 without a teacher. Spikes, readout and traces are compared at every
/// step, the voltages every 97 steps (asking for them delivers the column) and after the
/// handle is dropped. Returns the spikes of phases 2 and 3, where the column is deferred.
fn deferred_is_stepped<M: NeuronModel>(mut a: Network<M>, mut b: Network<M>, phase: usize) -> usize {
    let j = a.config().dim;
    let dt = a.config().dt;
    let mut deferred_spikes = 0;
    {
        let mut h = b.deferred();
        for s in 0..3 * phase {
            if s == phase {
                stop_learning(&mut a);
                stop_learning(h.network());
            }
            let t = s as f64 * dt;
            let target: Vec<f64> = (0..j).map(|c| 0.5 * (6.0 * t + c as f64).sin()).collect();
            let command: Vec<f64> = (0..j).map(|c| 3.0 * (6.0 * t + c as f64).cos()).collect();
            let teacher = (s < 2 * phase).then_some(target.as_slice());
            let x = a.step(&command, teacher).to_vec();
            let y = h.step(&command, teacher).to_vec();
            assert_eq!(x, y, "spikes differ at step {s}");
            if s >= phase {
                deferred_spikes += x.len();
            }
            assert_eq!(bits(a.readout()), bits(h.readout()), "readout differs at step {s}");
            assert_eq!(bits(a.traces()), bits(h.traces()), "traces differ at step {s}");
            assert_eq!(bits(a.error()), bits(h.error()), "error differs at step {s}");
            assert_eq!(a.last_spikes(), h.last_spikes());
            assert_eq!(a.time().to_bits(), h.time().to_bits());
            if s % 97 == 0 {
                assert_eq!(bits(a.voltages()), bits(h.voltages()), "voltages differ at step {s}");
            }
        }
    }
    assert_eq!(bits(a.voltages()), bits(b.voltages()), "voltages differ after the handle's drop");
    // After the drop, the two networks step alike with `step`.
    for s in 0..50 {
        assert_eq!(a.step(&vec![1.0; j], None).to_vec(), b.step(&vec![1.0; j], None).to_vec(), "after drop, {s}");
        assert_eq!(bits(a.voltages()), bits(b.voltages()));
    }
    deferred_spikes
}

#[test]
fn stepping_through_the_deferred_handle_is_stepping() {
    let identity = Spec::new("identity");
    let tanh = Spec::new("random_tanh").with("n_basis", 37).with("weight_std", 0.3).with("bias", 1.0);
    let build = |c: &NetworkConfig| with_noise(Network::build(c, SeedStreams::new(11)).unwrap());
    let neurons = [
        Spec::new("ebn"),
        // The column of the cap's last spike is deferred, the others are not.
        Spec::new("ebn_multi_spike").with("max_spikes", 3),
        // No pass with the column: the network delivers it before the model's own pass.
        Spec::new("refractory").with("tau_ref", 2e-3),
        // The model's own synapses: never deferred.
        Spec::new("synaptic_lif").with("tau_s", 5e-3),
    ];
    for j in 1..=4 {
        for (form, basis) in
            [(WeightForm::Factored, &identity), (WeightForm::Factored, &tanh), (WeightForm::Dense, &tanh)]
        {
            for neuron in &neurons {
                let mut c = config(41, j, form, basis.clone());
                c.neuron = neuron.clone();
                let spikes = deferred_is_stepped(build(&c), build(&c), 1500);
                assert!(spikes > 30, "J = {j}, {form:?}, {}: {spikes} spikes", neuron.kind);
            }
        }
    }
    // The fast-weight forms the deferral does not take, membrane noise (the separate path)
    // and a perturbation (silencing mid-run, in the deferred phase).
    let mut c = config(40, 2, WeightForm::Factored, identity.clone());
    for fast in [FastForm::Dense, FastForm::ResetOnly] {
        c.fast_weights = fast;
        assert!(deferred_is_stepped(build(&c), build(&c), 1500) > 30, "{fast:?}");
    }
    c.fast_weights = FastForm::Factored;
    c.sigma_v = 1e-3;
    assert!(deferred_is_stepped(build(&c), build(&c), 1500) > 30, "noise");
    c.sigma_v = 0.0;
    let silenced = |c: &NetworkConfig| {
        let mut net = build(c);
        net.add_perturbation(Box::new(SilenceNeurons::new(0.2, vec![0, 3, 5, 7, 11])));
        net
    };
    assert!(deferred_is_stepped(silenced(&c), silenced(&c), 1500) > 30, "silenced");
    // A model without any one-pass path (as a fork's): the separate path delivers the column.
    let seeds = SeedStreams::new(5);
    let unfused = || {
        Network::build_generic(&c, seeds, Unfused(EbnNeuron::default()), network_components(), Overrides::default())
            .unwrap()
    };
    assert!(deferred_is_stepped(unfused(), unfused(), 1500) > 30, "unfused");
}

/// A basis under another name, which the plan does not know: an identity basis the network
/// evaluates (Psi = a copy of r, W Psi taken from Psi, never in the traces' decay pass), a
/// tanh basis stepped in three passes instead of `TanhBasis::sweep`.
#[derive(Debug)]
struct Plain(Box<dyn Basis>);

impl Basis for Plain {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn n_inputs(&self) -> usize {
        self.0.n_inputs()
    }
    fn drive_len(&self) -> usize {
        self.0.drive_len()
    }
    fn on_spike(&self, k: usize, drive: &mut [f64]) {
        self.0.on_spike(k, drive);
    }
    fn drive_from_traces(&self, r: &[f64], drive: &mut [f64]) {
        self.0.drive_from_traces(r, drive);
    }
    fn evaluate(&self, r: &[f64], drive: &[f64], psi: &mut [f64]) {
        self.0.evaluate(r, drive, psi);
    }
}

/// The traces' decay fused with the next step's W r (identity basis, steps without
/// learning) against a twin whose identity basis is hidden, so that it takes the separate
/// decay and dot products: training, then fixed weights with the teacher's feedback, then
/// without a teacher; one and several spikes per step. Spikes, voltages, traces and weights
/// bit for bit at every step.
#[test]
fn the_decay_pass_with_the_next_slow_current_is_decay_then_dots() {
    let basis = Spec::new("identity");
    for j in 1..=3 {
        for max_spikes in [1usize, 3] {
            let mut c = config(41, j, WeightForm::Factored, basis.clone());
            c.neuron = Spec::new("ebn_multi_spike").with("max_spikes", max_spikes);
            let seeds = SeedStreams::new(13);
            let mut fused = Network::build(&c, seeds).unwrap();
            // The same basis as the network's own: the same specification, decoder and stream.
            let setup = BasisSetup { decoder: fused.decoder() };
            let inner =
                network_components().basis(&basis, "network.basis", &setup, &mut seeds.rng(Stream::Basis)).unwrap();
            let overrides = Overrides { basis: Some(Box::new(Plain(inner))), ..Default::default() };
            let mut plain = Network::build_with(&c, seeds, overrides).unwrap();
            let mut spikes = [0usize; 2];
            for s in 0..6000 {
                // Training, then fixed weights with the teacher's feedback, then without it.
                if s == 2000 {
                    stop_learning(&mut fused);
                    stop_learning(&mut plain);
                }
                let t = s as f64 * c.dt;
                let target: Vec<f64> = (0..j).map(|k| (6.0 * t + k as f64).sin()).collect();
                let command: Vec<f64> = (0..j).map(|k| 6.0 * (6.0 * t + k as f64).cos()).collect();
                let teacher = (s < 4000).then_some(target.as_slice());
                let a = fused.step(&command, teacher).to_vec();
                let b = plain.step(&command, teacher).to_vec();
                assert_eq!(a, b, "J = {j}: spikes differ at step {s}");
                spikes[usize::from(s >= 2000)] += a.len();
                assert_eq!(bits(fused.voltages()), bits(plain.voltages()), "voltages differ at step {s}");
                assert_eq!(bits(fused.traces()), bits(plain.traces()), "traces differ at step {s}");
            }
            let (wa, wb) = (fused.slow_weights().matrix(), plain.slow_weights().matrix());
            for k in 0..wa.ncols() {
                assert_eq!(bits(wa.col_as_slice(k)), bits(wb.col_as_slice(k)));
            }
            // Spikes while learning and while not: neither phase compares silent networks.
            assert!(spikes[0] > 30 && spikes[1] > 30, "J = {j}: spikes {spikes:?}");
        }
    }
}

/// The fast tanh basis's one sweep at the end of a step (the spikes' M columns, the drive's
/// decay and Psi, `TanhBasis::sweep`) against a twin the plan does not know (the three
/// passes): training, then fixed weights; one and several spikes per step (the sweep takes
/// the last two spikes' columns, the jumps of earlier ones are made on their own).
#[test]
fn the_drive_sweep_is_jumps_decay_then_psi() {
    const AMP: f64 = 8.0;
    let basis =
        Spec::new("random_tanh").with("n_basis", 45).with("weight_std", 0.3).with("bias", 1.0).with("fast_tanh", true);
    for j in [1, 2] {
        for max_spikes in [1usize, 4] {
            let mut c = config(41, j, WeightForm::Factored, basis.clone());
            c.neuron = Spec::new("ebn_multi_spike").with("max_spikes", max_spikes);
            let seeds = SeedStreams::new(17);
            let mut swept = Network::build(&c, seeds).unwrap();
            let setup = BasisSetup { decoder: swept.decoder() };
            let inner =
                network_components().basis(&basis, "network.basis", &setup, &mut seeds.rng(Stream::Basis)).unwrap();
            let overrides = Overrides { basis: Some(Box::new(Plain(inner))), ..Default::default() };
            let mut plain = Network::build_with(&c, seeds, overrides).unwrap();
            let (mut spikes, mut several) = (0, 0);
            for s in 0..4000 {
                if s == 2000 {
                    stop_learning(&mut swept);
                    stop_learning(&mut plain);
                }
                let t = s as f64 * c.dt;
                // A large, fast signal: several spikes in many steps.
                let target: Vec<f64> = (0..j).map(|k| AMP * (60.0 * t + k as f64).sin()).collect();
                let command: Vec<f64> = (0..j).map(|k| AMP * 60.0 * (60.0 * t + k as f64).cos()).collect();
                let a = swept.step(&command, Some(&target)).to_vec();
                let b = plain.step(&command, Some(&target)).to_vec();
                assert_eq!(a, b, "J = {j}: spikes differ at step {s}");
                spikes += a.len();
                several += usize::from(a.len() > 2);
                assert_eq!(bits(swept.voltages()), bits(plain.voltages()), "voltages differ at step {s}");
                assert_eq!(bits(swept.psi()), bits(plain.psi()), "Psi differs at step {s}");
            }
            let (wa, wb) = (swept.slow_weights().matrix(), plain.slow_weights().matrix());
            for k in 0..wa.ncols() {
                assert_eq!(bits(wa.col_as_slice(k)), bits(wb.col_as_slice(k)));
            }
            // Measured at AMP = 8: 3926-4000 spikes with one per step, 6640-10310 with up to
            // four, 1156-1877 steps with more than two.
            assert!(spikes > 1000, "J = {j}: {spikes} spikes");
            if max_spikes > 2 {
                assert!(several > 100, "J = {j}: {several} steps with more than two spikes");
            }
        }
    }
}

/// Every built-in neuron model, basis and rule, in the plan chosen for it and in the generic
/// plan: the same spikes, voltages, traces and weights, bit for bit, through training, fixed
/// weights with feedback and a free run, stepped through the deferred handle as `simulate`
/// steps (the plan's deferred column, where it has one).
#[test]
fn every_plan_is_the_generic_plan() {
    let neurons = [
        Spec::new("ebn"),
        Spec::new("ebn_multi_spike").with("max_spikes", 3),
        Spec::new("refractory").with("tau_ref", 2e-3),
        Spec::new("synaptic_lif").with("tau_s", 0.0),
        Spec::new("synaptic_lif").with("tau_s", 2e-3).with("max_spikes", 2),
    ];
    let bases = [
        (WeightForm::Factored, Spec::new("identity")),
        (WeightForm::Dense, Spec::new("identity")),
        (WeightForm::Factored, Spec::new("random_tanh").with("n_basis", 37).with("weight_std", 0.3).with("bias", 1.0)),
        (
            WeightForm::Factored,
            Spec::new("random_tanh")
                .with("n_basis", 37)
                .with("weight_std", 0.3)
                .with("bias", 1.0)
                .with("fast_tanh", true),
        ),
    ];
    let rules = [
        Spec::new("local").with("eta", 10.0),
        Spec::new("none"),
        Spec::new("local_dead_zone").with("eta", 10.0).with("threshold", 0.05),
        Spec::new("local_sigma").with("eta", 10.0).with("sigma", 0.5),
        Spec::new("rls").with("gamma", 1.0).with("alpha", 1.0).with("every", 2).with("filter", 20.0),
    ];
    let mut plans = std::collections::BTreeSet::new();
    for j in [1, 2, 4] {
        for neuron in &neurons {
            for (form, basis) in &bases {
                for rule in &rules {
                    let mut c = config(33, j, *form, basis.clone());
                    c.neuron = neuron.clone();
                    c.rule = rule.clone();
                    let seeds = SeedStreams::new(19);
                    let mut planned = Network::build(&c, seeds).unwrap();
                    let generic = Overrides { generic_plan: true, ..Default::default() };
                    let mut reference = Network::build_with(&c, seeds, generic).unwrap();
                    plans.insert(planned.plan());
                    let what = format!("J = {j}, {}, {}, {form:?}, {}", neuron.kind, basis.kind, rule.kind);
                    assert!(reference.plan().starts_with("generic membrane"), "{}", reference.plan());
                    let mut spikes = 0;
                    {
                        let (mut a, mut b) = (planned.deferred(), reference.deferred());
                        for s in 0..3000 {
                            if s == 1600 {
                                stop_learning(a.network());
                                stop_learning(b.network());
                            }
                            let t = s as f64 * c.dt;
                            let target: Vec<f64> = (0..j).map(|k| (6.0 * t + k as f64).sin()).collect();
                            let command: Vec<f64> = (0..j).map(|k| 6.0 * (6.0 * t + k as f64).cos()).collect();
                            let teacher = (s < 2400).then_some(target.as_slice());
                            let x = a.step(&command, teacher).to_vec();
                            assert_eq!(x, b.step(&command, teacher), "{what}: spikes differ at step {s}");
                            spikes += x.len();
                            assert_eq!(bits(a.traces()), bits(b.traces()), "{what}: traces at step {s}");
                            assert_eq!(bits(a.readout()), bits(b.readout()), "{what}: readout at step {s}");
                        }
                    }
                    assert_eq!(bits(planned.voltages()), bits(reference.voltages()), "{what}: voltages");
                    assert_eq!(bits(planned.psi()), bits(reference.psi()), "{what}: Psi");
                    let (wa, wb) = (planned.slow_weights().matrix(), reference.slow_weights().matrix());
                    for k in 0..wa.ncols() {
                        assert_eq!(bits(wa.col_as_slice(k)), bits(wb.col_as_slice(k)), "{what}: weights");
                    }
                    assert_eq!(planned.rule_state(), reference.rule_state(), "{what}: rule state");
                    assert!(spikes > 30, "{what}: {spikes} spikes: the comparison needs spikes");
                }
            }
        }
    }
    // Each fused kernel was taken somewhere above.
    let all = plans.iter().cloned().collect::<Vec<_>>().join("; ");
    for part in [
        "EBN one-pass membrane",
        "refractory one-pass membrane",
        "instantaneous-synapse one-pass membrane",
        "synaptic one-pass membrane",
        "identity basis in place",
        "fast-tanh drive sweep",
        "fused local rule",
        "fused robust rule",
        "rule update without voltages",
        "no learning",
    ] {
        assert!(all.contains(part), "no plan with {part}: {all}");
    }
}
