#![doc = include_str!("../README.md")]

pub mod choice;
mod ebn;
mod models;

pub use ebn::{EbnNeuron, EbnState};
pub use models::{EbnMultiSpike, MAX_SPIKES_PER_STEP, Refractory, RefractoryState, Reset, SynapticLif, SynapticState};

use ebn_core::Registry;

/// Registers the neuron models of this crate: `ebn` ([`EbnNeuron`], the default of the
/// neuron slot), `ebn_multi_spike` ([`EbnMultiSpike`]), `refractory` ([`Refractory`]) and
/// `synaptic_lif` ([`SynapticLif`]).
pub fn register(registry: &mut Registry) {
    registry.add_neuron::<EbnNeuron>("ebn");
    registry.add_neuron::<EbnMultiSpike>("ebn_multi_spike");
    registry.add_neuron::<Refractory>("refractory");
    registry.add_neuron::<SynapticLif>("synaptic_lif");
    registry.set_default(ebn_core::Category::Neuron, "ebn");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::largest_excess;
    use ebn_core::{Error, NeuronModel};

    #[test]
    fn conforms() {
        ebn_core::conformance::neuron_model(&EbnNeuron::default(), 1e-4);
        ebn_core::conformance::neuron_model(&EbnNeuron { lambda_v: 50.0 }, 1e-3);
        ebn_core::conformance::neuron_model(&EbnMultiSpike { lambda_v: 10.0, max_spikes: 8 }, 1e-4);
        ebn_core::conformance::neuron_model(&Refractory { lambda_v: 10.0, tau_ref: 2e-3 }, 1e-4);
        for (tau_s, reset) in [(0.0, Reset::Hard), (2e-3, Reset::Hard), (5e-3, Reset::Soft)] {
            ebn_core::conformance::neuron_model(&SynapticLif { lambda_v: 10.0, tau_s, reset, max_spikes: 4 }, 1e-4);
        }
    }

    #[test]
    fn refractory_neurons_are_skipped_for_tau_ref() {
        let m = Refractory { lambda_v: 10.0, tau_ref: 2e-3 };
        let mut s = m.init_state(2, &mut ebn_core::SeedStreams::new(1).rng(ebn_core::Stream::NeuronState));
        s.v.copy_from_slice(&[2.0, 1.5]);
        let t = [1.0, 1.0];
        assert_eq!(m.select_spike(&s, &t), Some(0));
        m.on_spike(&mut s, 0);
        // 2 ms at 0.1 ms: neuron 0 is skipped in the next 20 choices, then eligible again.
        for _ in 0..19 {
            m.integrate(&mut s, &[20.0, 15.0], 1e-4);
            assert_eq!(m.select_spike(&s, &t), Some(1));
        }
        m.integrate(&mut s, &[20.0, 15.0], 1e-4);
        assert_eq!(m.select_spike(&s, &t), Some(0));
        // Without a refractory period it is the EBN neuron's choice.
        let plain = Refractory { lambda_v: 10.0, tau_ref: 0.0 };
        let mut s = plain.init_state(2, &mut ebn_core::SeedStreams::new(1).rng(ebn_core::Stream::NeuronState));
        s.v.copy_from_slice(&[2.0, 1.5]);
        plain.on_spike(&mut s, 0);
        plain.integrate(&mut s, &[0.0, 0.0], 1e-4);
        assert_eq!(plain.select_spike(&s, &t), EbnNeuron::default().select_spike(&EbnState { v: s.v.clone() }, &t));
    }

    #[test]
    fn variants_reject_bad_parameters() {
        assert!(EbnMultiSpike { lambda_v: 10.0, max_spikes: 0 }.validate(1e-4).is_err());
        assert!(EbnMultiSpike { lambda_v: 10.0, max_spikes: 1 << 40 }.validate(1e-4).is_err());
        assert!(Refractory { lambda_v: 10.0, tau_ref: -1e-3 }.validate(1e-4).is_err());
        assert!(Refractory { lambda_v: 10.0, tau_ref: f64::NAN }.validate(1e-4).is_err());
    }

    /// The sequential rule the vectorised search must reproduce exactly.
    fn sequential(v: &[f64], t: &[f64]) -> Option<usize> {
        let mut best = 0.0;
        let mut winner = None;
        for (i, (vi, ti)) in v.iter().zip(t).enumerate() {
            if vi - ti > best {
                best = vi - ti;
                winner = Some(i);
            }
        }
        winner
    }

    /// The refractory model's sequential rule: the first strict maximum of V_i - T_i > 0 among
    /// the neurons with no time left.
    fn sequential_eligible(v: &[f64], t: &[f64], left: &[f64]) -> Option<usize> {
        let mut best = 0.0;
        let mut winner = None;
        for i in 0..v.len() {
            if left[i] == 0.0 && v[i] - t[i] > best {
                best = v[i] - t[i];
                winner = Some(i);
            }
        }
        winner
    }

    /// The refractory clock as documented: left - dt, or 0 once that is not above dt / 2.
    fn sequential_clock(left: &mut [f64], dt: f64) {
        for l in left {
            let next = *l - dt;
            *l = if next > 0.5 * dt { next } else { 0.0 };
        }
    }

    proptest::proptest! {
        #[test]
        fn refractory_search_is_the_sequential_rule(
            cells in proptest::collection::vec((-1.0..1.0f64, 0.0..0.5f64, 0u8..8, 0u8..4), 0..700)
        ) {
            // Ties, silenced neurons and NaN voltages as below; one neuron in 4 refractory
            // (one in 16 with an excess above every eligible one).
            let v: Vec<f64> = cells.iter().map(|c| match c.2 {
                1 => f64::NAN,
                2 if c.3 == 0 => 5.0,
                _ => (c.0 * 8.0).round() / 8.0,
            }).collect();
            let t: Vec<f64> = cells.iter().map(|c| if c.2 == 0 { f64::INFINITY } else { (c.1 * 8.0).round() / 8.0 }).collect();
            let left: Vec<f64> = cells.iter().map(|c| if c.3 == 0 { 1e-3 } else { 0.0 }).collect();
            let m = Refractory { lambda_v: 10.0, tau_ref: 2e-3 };
            let state = RefractoryState { v: v.clone(), left: left.clone() };
            proptest::prop_assert_eq!(m.select_spike(&state, &t), sequential_eligible(&v, &t, &left));
        }

        #[test]
        fn refractory_separate_calls_are_the_written_out_step(
            cells in proptest::collection::vec((-1.0..1.0f64, 0.0..0.5f64, -40.0..40.0f64, 0u8..6), 0..700),
        ) {
            let m = Refractory { lambda_v: 10.0, tau_ref: 2e-3 };
            let dt = 1e-4;
            let left0: Vec<f64> = cells.iter().map(|c| [0.0, 2e-3, 1e-4, 1.5e-4, 1.5e-4 + 1e-19, 0.0][c.3 as usize]).collect();
            let input: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let t: Vec<f64> = cells.iter().map(|c| c.1).collect();
            let mut state = RefractoryState { v: cells.iter().map(|c| c.0).collect(), left: left0.clone() };
            let keep = 1.0 - dt * m.lambda_v;
            let v: Vec<f64> = state.v.iter().zip(&input).map(|(v, i)| keep * v + dt * i).collect();
            let mut left = left0;
            sequential_clock(&mut left, dt);
            m.integrate(&mut state, &input, dt);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&state.v), bits(&v));
            proptest::prop_assert_eq!(bits(&state.left), bits(&left));
            proptest::prop_assert_eq!(m.select_spike(&state, &t), sequential_eligible(&v, &t, &left));
        }

        #[test]
        fn vectorised_search_is_the_sequential_rule(
            cells in proptest::collection::vec((-1.0..1.0f64, 0.0..0.5f64, 0u8..8), 0..700)
        ) {
            // Quantised voltages make ties frequent; one threshold in 8 is +inf (silenced)
            // and one voltage in 8 is NaN (never chosen). Up to 300 neurons: several chunks
            // of the search (ties across chunks too), blocks of the vector lanes and a tail.
            let v: Vec<f64> = cells.iter().map(|c| if c.2 == 1 { f64::NAN } else { (c.0 * 8.0).round() / 8.0 }).collect();
            let t: Vec<f64> = cells.iter().map(|c| if c.2 == 0 { f64::INFINITY } else { (c.1 * 8.0).round() / 8.0 }).collect();
            proptest::prop_assert_eq!(largest_excess(&v, &t), sequential(&v, &t));
        }

    }

    #[test]
    fn picks_the_largest_excess() {
        let m = EbnNeuron::default();
        let s = EbnState { v: vec![1.0, 3.0, 2.5, 10.0] };
        // Neuron 3 has the largest voltage but an infinite threshold (silenced).
        assert_eq!(m.select_spike(&s, &[0.5, 2.0, 1.0, f64::INFINITY]), Some(2));
        assert_eq!(m.select_spike(&s, &[5.0, 5.0, 5.0, 11.0]), None);
    }

    #[test]
    fn euler_leak_matches_exponential_to_first_order() {
        // Constant input I: V -> I / lambda_v; after 1 s with dt = 1e-4 the Euler solution
        // differs from I/lambda (1 - exp(-lambda t)) by O(dt lambda) relative.
        let m = EbnNeuron { lambda_v: 10.0 };
        let mut s = m.init_state(1, &mut ebn_core::SeedStreams::new(1).rng(ebn_core::Stream::NeuronState));
        for _ in 0..10_000 {
            m.integrate(&mut s, &[2.0], 1e-4);
        }
        let exact = 0.2 * (1.0 - (-10.0f64).exp());
        assert!((s.v[0] - exact).abs() < 1e-3 * exact, "{} vs {}", s.v[0], exact);
    }

    #[test]
    fn rejects_bad_parameters() {
        for (lv, dt) in [(f64::NAN, 1e-4), (0.0, 1e-4), (-1.0, 1e-4), (50.0, 0.02), (10.0, 0.0)] {
            let err = EbnNeuron { lambda_v: lv }.validate(dt).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
        }
    }
}
