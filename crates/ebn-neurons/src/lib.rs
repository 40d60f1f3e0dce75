#![doc = include_str!("../README.md")]

mod models;

pub use models::{EbnMultiSpike, MAX_SPIKES_PER_STEP, Refractory, RefractoryState, Reset, SynapticLif, SynapticState};

use ebn_core::{Error, NeuronModel, PendingSpike, Registry, Result, Rng, SplitInput, check};
use serde::{Deserialize, Serialize};

/// The integrate-and-fire neuron of the efficient balanced network (Boerlin, Machens &
/// Denève 2013; Alemi et al. 2018, MODEL.md §3–4).
///
/// Sub-threshold dynamics, for neuron i:
///
/// ```text
/// dV_i/dt = -lambda_v V_i + I_i
/// ```
///
/// where I_i (units of V per second) is the sum of the command, slow, feedback and noise
/// currents assembled by the network. V is in units of the decoded variable x (it is the
/// error projected on the neuron's decoder, V_i = D_i^T (x - x_hat) - mu r_i).
///
/// **Integration scheme**: forward Euler, `V <- V + dt (-lambda_v V + I)`, with I held over
/// the step; valid (monotone decay, no sign flip) for `dt lambda_v < 1`, and accurate to
/// O(dt lambda_v), i.e. 0.5 % per step at the defaults. This is the explicit update of the
/// authors' discrete algorithm; the exponential decay of r and x_hat is exact.
///
/// **Spike rule**: at most one spike per step, by the neuron with the largest V_i - T_i if
/// that is positive (the authors' rule, MODEL.md §8). The reset is not the neuron's business:
/// the network applies the fast-weight column of the spiking neuron to all voltages, which
/// lowers V_k by ||D_k||^2 + mu (= 2 T_k - nu).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EbnNeuron {
    /// Membrane leak rate lambda_V (1/s). Project default: equal to the readout decay lambda
    /// (10 /s; MODEL.md §4); the authors used 50 /s.
    pub lambda_v: f64,
}

impl Default for EbnNeuron {
    fn default() -> Self {
        Self { lambda_v: 10.0 }
    }
}

/// State of a population of [`EbnNeuron`]s: the membrane voltages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EbnState {
    /// Membrane voltages V_i (units of x).
    pub v: Vec<f64>,
}

impl NeuronModel for EbnNeuron {
    type State = EbnState;

    fn validate(&self, dt: f64) -> Result<()> {
        check::positive("lambda_v", self.lambda_v)?;
        check::positive("dt", dt)?;
        if dt * self.lambda_v >= 1.0 {
            return Err(Error::invalid(
                "lambda_v",
                self.lambda_v,
                format!("lambda_v * dt < 1 for the forward-Euler membrane (dt = {dt} s)"),
            ));
        }
        Ok(())
    }

    fn init_state(&self, n: usize, _rng: &mut Rng) -> EbnState {
        EbnState { v: vec![0.0; n] }
    }

    fn voltages<'a>(&self, state: &'a EbnState) -> &'a [f64] {
        &state.v
    }

    fn voltages_mut<'a>(&self, state: &'a mut EbnState) -> &'a mut [f64] {
        &mut state.v
    }

    #[inline]
    fn integrate(&self, state: &mut EbnState, input: &[f64], dt: f64) {
        debug_assert_eq!(state.v.len(), input.len());
        let keep = 1.0 - dt * self.lambda_v;
        for (v, i) in state.v.iter_mut().zip(input) {
            *v = keep * *v + dt * i;
        }
    }

    #[inline]
    fn select_spike(&self, state: &EbnState, thresholds: &[f64]) -> Option<usize> {
        largest_excess(&state.v, thresholds)
    }

    #[inline]
    fn integrate_and_select(
        &self,
        state: &mut EbnState,
        input: &SplitInput<'_>,
        thresholds: &[f64],
        dt: f64,
    ) -> Option<Option<usize>> {
        integrate_largest_excess(1.0 - dt * self.lambda_v, dt, &mut state.v, thresholds, input)
    }

    /// The pending column, the membrane and the search in one pass ([`on_spike`] is nothing
    /// for this model).
    ///
    /// [`on_spike`]: NeuronModel::on_spike
    #[inline]
    fn integrate_and_select_pending(
        &self,
        state: &mut EbnState,
        input: &SplitInput<'_>,
        pending: &PendingSpike<'_>,
        thresholds: &[f64],
        dt: f64,
    ) -> Option<Option<usize>> {
        pending_integrate_largest_excess(1.0 - dt * self.lambda_v, dt, &mut state.v, thresholds, input, pending)
    }
}

/// The forward-Euler membrane update `V <- keep V + dt I` ([`EbnNeuron::integrate`], with
/// keep = 1 - dt lambda_v) and [`largest_excess`] in one pass, with I computed in the loop
/// from its parts; `None` if the parts are not of a supported shape (1 to 3 components).
/// The same operations in the same order as the separate calls, so the same bits (tested).
#[inline]
pub(crate) fn integrate_largest_excess(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    input: &SplitInput<'_>,
) -> Option<Option<usize>> {
    one_pass::<PLAIN>(keep, dt, v, t, &mut [], [0.0; 2], input, None)
}

/// As [`integrate_largest_excess`], with the pending spike's column added to each voltage
/// first, in the same pass ([`PendingSpike`]'s operations, in its order).
#[inline]
pub(crate) fn pending_integrate_largest_excess(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    input: &SplitInput<'_>,
    pending: &PendingSpike<'_>,
) -> Option<Option<usize>> {
    if pending.k >= v.len() || pending.d.len() != input.rows.len() {
        return None;
    }
    one_pass::<PLAIN>(keep, dt, v, t, &mut [], [0.0; 2], input, Some(pending))
}

/// As [`integrate_largest_excess`], with the refractory clock of [`Refractory`] advanced in
/// the same pass (`left_i <- left_i - dt`, or 0 once that is not above dt / 2) and only the
/// neurons with no time left eligible: [`Refractory::integrate`] then its spike choice.
#[inline]
pub(crate) fn integrate_largest_excess_eligible(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    left: &mut [f64],
    input: &SplitInput<'_>,
) -> Option<Option<usize>> {
    if left.len() != v.len() {
        return None;
    }
    one_pass::<CLOCK>(keep, dt, v, t, left, [0.0; 2], input, None)
}

/// As [`integrate_largest_excess`], with the synaptic current of [`SynapticLif`] integrated
/// in the same pass: `V <- keep V + dt I + charge I_s`, then `I_s <- a I_s`
/// ([`SynapticLif::integrate`] then the EBN spike choice).
#[inline]
pub(crate) fn integrate_synaptic_largest_excess(
    keep: f64,
    dt: f64,
    [charge, a]: [f64; 2],
    v: &mut [f64],
    t: &[f64],
    i_s: &mut [f64],
    input: &SplitInput<'_>,
) -> Option<Option<usize>> {
    if i_s.len() != v.len() {
        return None;
    }
    one_pass::<SYNAPTIC>(keep, dt, v, t, i_s, [charge, a], input, None)
}

/// What the one-pass loop does besides the EBN membrane: nothing, the refractory clock of
/// `aux` (with only eligible neurons chosen), or the synaptic current `aux`.
const PLAIN: u8 = 0;
const CLOCK: u8 = 1;
const SYNAPTIC: u8 = 2;

/// Dispatch of the one-pass loop on the shape of the input (a pending spike only with the
/// plain EBN membrane).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn one_pass<const MODE: u8>(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    left: &mut [f64],
    syn: [f64; 2],
    input: &SplitInput<'_>,
    pending: Option<&PendingSpike<'_>>,
) -> Option<Option<usize>> {
    let n = v.len();
    if t.len() != n || input.rows.iter().any(|r| r.len() != n) || input.extra.is_some_and(|x| x.len() != n) {
        return None;
    }
    let r = input.rows;
    let z = input.z;
    macro_rules! go {
        ($j:literal, $extra:literal, $rows:expr, $z:expr, $x:expr) => {
            if MODE == PLAIN {
                match pending {
                    None => fused::<$j, $extra, false>(keep, dt, v, t, $rows, $z, $x, (0, [0.0; $j], 0.0)),
                    Some(p) => fused::<$j, $extra, true>(
                        keep,
                        dt,
                        v,
                        t,
                        $rows,
                        $z,
                        $x,
                        (p.k, std::array::from_fn(|c| p.d[c]), p.mu),
                    ),
                }
            } else {
                fused_aux::<$j, $extra, MODE>(keep, dt, v, t, left, syn, $rows, $z, $x)
            }
        };
    }
    Some(match (r.len(), input.extra) {
        (1, None) => go!(1, false, [r[0]], [z[0]], &[]),
        (2, None) => go!(2, false, [r[0], r[1]], [z[0], z[1]], &[]),
        (3, None) => go!(3, false, [r[0], r[1], r[2]], [z[0], z[1], z[2]], &[]),
        (1, Some(x)) => go!(1, true, [r[0]], [z[0]], x),
        (2, Some(x)) => go!(2, true, [r[0], r[1]], [z[0], z[1]], x),
        (3, Some(x)) => go!(3, true, [r[0], r[1], r[2]], [z[0], z[1], z[2]], x),
        _ => return None,
    })
}

/// One step of the refractory clock: the time left after dt, or 0 once it is not above
/// dt / 2 (half a step of tolerance, see [`Refractory`]).
#[inline(always)]
fn tick(left: f64, dt: f64, half: f64) -> f64 {
    let next = left - dt;
    if next > half { next } else { 0.0 }
}

/// The excess of a neuron for the spike choice: v - t, or -inf while it is refractory.
#[inline(always)]
fn eligible_excess(v: f64, t: f64, left: f64) -> f64 {
    if left == 0.0 { v - t } else { f64::NEG_INFINITY }
}

/// The loop of [`integrate_largest_excess`] for J components, with or without the extra
/// current: each element is integrated and its excess folded into the running maximum of
/// [`largest_excess`] in the same pass; the index is found afterwards by [`first_at`].
///
/// With `PENDING`, the column of the pending spike `(k, D_k, mu)` is added to each voltage
/// before its update (`V_i - (0.0 + D[0, i] D_k[0] + ...)`, then `- mu` for i = k: the
/// network's order of operations).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fused<const J: usize, const EXTRA: bool, const PENDING: bool>(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    rows: [&[f64]; J],
    z: [f64; J],
    extra: &[f64],
    (k_spike, d_spike, mu): (usize, [f64; J], f64),
) -> Option<usize> {
    let n = v.len();
    let t = &t[..n];
    let rows = rows.map(|r| &r[..n]);
    let extra = if EXTRA { &extra[..n] } else { extra };
    #[inline(always)]
    fn current<const J: usize, const EXTRA: bool>(rows: &[&[f64]; J], z: &[f64; J], extra: &[f64], i: usize) -> f64 {
        let mut s = 0.0;
        for c in 0..J {
            s += rows[c][i] * z[c];
        }
        if EXTRA { s + extra[i] } else { s }
    }
    let split = n - n % LANES;
    let pending = (k_spike, d_spike, mu);
    let blocks =
        Blocks { keep, dt, rows: rows.map(|r| &r[..split]), z, extra: if EXTRA { &extra[..split] } else { extra } };
    #[cfg(target_arch = "x86_64")]
    let mut winner = if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the kernel's only requirement is AVX-512F, which the CPU was just found to
        // have (ARCHITECTURE.md, "unsafe only to enter an AVX-512 kernel").
        #[allow(unsafe_code)]
        unsafe {
            avx512::blocks::<J, EXTRA, PENDING>(&blocks, &mut v[..split], &t[..split], pending)
        }
    } else {
        blocks.portable::<EXTRA, PENDING>(&mut v[..split], &t[..split], pending)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let mut winner = blocks.portable::<EXTRA, PENDING>(&mut v[..split], &t[..split], pending);
    for i in split..n {
        let mut old = v[i];
        if PENDING {
            let mut column = 0.0;
            for c in 0..J {
                column += rows[c][i] * d_spike[c];
            }
            old -= column;
            if i == k_spike {
                old -= mu;
            }
        }
        let vi = keep * old + dt * current::<J, EXTRA>(&rows, &z, extra, i);
        v[i] = vi;
        winner.element(vi - t[i], i);
    }
    winner.find(n, |from, to, best| first_at(&v[from..to], &t[from..to], best))
}

/// The whole blocks of 8 of [`fused`]'s loop: the voltages' update and the lane maxima of
/// the excess per chunk, folded into a [`Winner`].
struct Blocks<'a, const J: usize> {
    keep: f64,
    dt: f64,
    rows: [&'a [f64]; J],
    z: [f64; J],
    extra: &'a [f64],
}

impl<const J: usize> Blocks<'_, J> {
    /// The loop as arrays of 8 (vectorised by the compiler at the width it prefers); the
    /// reference of [`avx512::blocks`].
    #[inline(always)]
    fn portable<const EXTRA: bool, const PENDING: bool>(
        &self,
        v: &mut [f64],
        t: &[f64],
        (k_spike, d_spike, mu): (usize, [f64; J], f64),
    ) -> Winner {
        let (keep, dt, z) = (self.keep, self.dt, self.z);
        let (rows, extra) = (&self.rows, self.extra);
        let split = v.len();
        let mut winner = Winner::new();
        for chunk in (0..split).step_by(CHUNK) {
            let mut lanes = [f64::NEG_INFINITY; LANES];
            for base in (chunk..split.min(chunk + CHUNK)).step_by(LANES) {
                // Fixed-size views of the block: one bounds check per block, and a loop over k that
                // the compiler turns into vector operations.
                let vb: &mut [f64; LANES] = (&mut v[base..base + LANES]).try_into().expect("a block");
                let tb: &[f64; LANES] = t[base..base + LANES].try_into().expect("a block");
                let rb: [&[f64; LANES]; J] =
                    std::array::from_fn(|c| rows[c][base..base + LANES].try_into().expect("a block"));
                let xb: &[f64; LANES] =
                    if EXTRA { extra[base..base + LANES].try_into().expect("a block") } else { &[0.0; LANES] };
                let mut current = [0.0f64; LANES];
                for c in 0..J {
                    for k in 0..LANES {
                        current[k] += rb[c][k] * z[c];
                    }
                }
                if EXTRA {
                    for k in 0..LANES {
                        current[k] += xb[k];
                    }
                }
                // Whole-block array operations, each a vector instruction (element-wise loops over
                // the borrowed block compiled to scalar code with an extra current).
                let mut old: [f64; LANES] = *vb;
                if PENDING {
                    let mut column = [0.0f64; LANES];
                    for c in 0..J {
                        for k in 0..LANES {
                            column[k] += rb[c][k] * d_spike[c];
                        }
                    }
                    // The reset as a whole-block operation too: mu in the spiking neuron's lane, 0
                    // in the others (x - 0.0 is x, bit for bit, signed zeros and NaN included).
                    // Subtracting mu from one element of the block instead sent the block through
                    // memory, a failed store-to-load forwarding in every block.
                    let reset: [f64; LANES] = std::array::from_fn(|k| if base + k == k_spike { mu } else { 0.0 });
                    let before = old;
                    old = std::array::from_fn(|k| (before[k] - column[k]) - reset[k]);
                }
                let new: [f64; LANES] = std::array::from_fn(|k| keep * old[k] + dt * current[k]);
                *vb = new;
                for k in 0..LANES {
                    lanes[k] = larger(new[k] - tb[k], lanes[k]);
                }
            }
            winner.chunk(lanes, chunk);
        }
        winner
    }
}

/// [`Blocks::portable`] in 8-lane AVX-512 vectors: the same operations on each element in
/// the same order (separate multiplies and adds, as the portable loop), so the same
/// voltages, bit for bit. The maxima of a chunk are kept in two vectors, of its even and its
/// odd blocks, joined at the chunk's end (`vmaxpd` keeps the second operand unless the first
/// is larger, as [`larger`]): the one chain of maxima through every block bounded the loop
/// (`cargo xtask bench` case fixed4000: 4.74 -> 4.41 µs a step, medians of 8 alternating runs). A
/// maximum is the same number in any order, so the winner is the same neuron; only the sign
/// of a zero maximum could differ, and an excess of zero is no spike. (The same two maxima
/// in the portable loop made LLVM's code slower: 4.74 -> 6.55 µs.) LLVM keeps 256-bit
/// vectors on Intel's AVX-512 servers, so the portable loop runs 4 lanes there.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Blocks, CHUNK, LANES, Winner};
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(x: &[f64], base: usize) -> __m512d {
        let block: &[f64; LANES] = x[base..base + LANES].try_into().expect("a block");
        bytemuck::cast(*block)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn blocks<const J: usize, const EXTRA: bool, const PENDING: bool>(
        b: &Blocks<'_, J>,
        v: &mut [f64],
        t: &[f64],
        (k_spike, d_spike, mu): (usize, [f64; J], f64),
    ) -> Winner {
        let split = v.len();
        let (keep, dt) = (_mm512_set1_pd(b.keep), _mm512_set1_pd(b.dt));
        let z = b.z.map(|x| _mm512_set1_pd(x));
        let d_spike = d_spike.map(|x| _mm512_set1_pd(x));
        let mu = _mm512_set1_pd(mu);
        let mut winner = Winner::new();
        for chunk in (0..split).step_by(CHUNK) {
            // Two running maxima, of the even and the odd blocks: one chain of vmaxpd
            // through every block bounded the loop (its latency, 4 cycles per block).
            let block = |v: &mut [f64], base: usize| -> __m512d {
                let rows: [__m512d; J] = std::array::from_fn(|c| load(b.rows[c], base));
                let mut current = _mm512_setzero_pd();
                for c in 0..J {
                    current = _mm512_add_pd(current, _mm512_mul_pd(rows[c], z[c]));
                }
                if EXTRA {
                    current = _mm512_add_pd(current, load(b.extra, base));
                }
                let mut old = load(v, base);
                if PENDING {
                    let mut column = _mm512_setzero_pd();
                    for c in 0..J {
                        column = _mm512_add_pd(column, _mm512_mul_pd(rows[c], d_spike[c]));
                    }
                    // mu in the spiking neuron's lane, +0.0 in the others.
                    let lane = k_spike.wrapping_sub(base);
                    let hit: __mmask8 = if lane < LANES { 1 << lane } else { 0 };
                    let reset = _mm512_maskz_mov_pd(hit, mu);
                    old = _mm512_sub_pd(_mm512_sub_pd(old, column), reset);
                }
                let new = _mm512_add_pd(_mm512_mul_pd(keep, old), _mm512_mul_pd(dt, current));
                let out: &mut [f64; LANES] = (&mut v[base..base + LANES]).try_into().expect("a block");
                *out = bytemuck::cast(new);
                _mm512_sub_pd(new, load(t, base))
            };
            let end = split.min(chunk + CHUNK);
            let mut even = _mm512_set1_pd(f64::NEG_INFINITY);
            let mut odd = even;
            let mut base = chunk;
            while base + 2 * LANES <= end {
                even = _mm512_max_pd(block(v, base), even);
                odd = _mm512_max_pd(block(v, base + LANES), odd);
                base += 2 * LANES;
            }
            if base < end {
                even = _mm512_max_pd(block(v, base), even);
            }
            let lanes = _mm512_max_pd(odd, even);
            winner.chunk(bytemuck::cast(lanes), chunk);
        }
        winner
    }
}

/// [`fused`] with what `MODE` adds (the refractory clock, with only the eligible neurons
/// chosen, or the synaptic current, both in `aux`). A loop of its own, not a mode of
/// [`fused`]: running the plain EBN case through this body was slower (criterion on a
/// Zen 4 core, same run: `project_integrate_search_fused_1000` 267 -> 304 ns, the dense
/// form 284 -> 330 ns).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fused_aux<const J: usize, const EXTRA: bool, const MODE: u8>(
    keep: f64,
    dt: f64,
    v: &mut [f64],
    t: &[f64],
    aux: &mut [f64],
    [charge, a]: [f64; 2],
    rows: [&[f64]; J],
    z: [f64; J],
    extra: &[f64],
) -> Option<usize> {
    let n = v.len();
    let t = &t[..n];
    let rows = rows.map(|r| &r[..n]);
    let extra = if EXTRA { &extra[..n] } else { extra };
    let aux = if MODE == PLAIN { aux } else { &mut aux[..n] };
    let half = 0.5 * dt;
    #[inline(always)]
    fn current<const J: usize, const EXTRA: bool>(rows: &[&[f64]; J], z: &[f64; J], extra: &[f64], i: usize) -> f64 {
        let mut s = 0.0;
        for c in 0..J {
            s += rows[c][i] * z[c];
        }
        if EXTRA { s + extra[i] } else { s }
    }
    // The membrane of one neuron from its input current, and its excess for the choice.
    #[inline(always)]
    fn neuron<const MODE: u8>(
        keep: f64,
        dt: f64,
        half: f64,
        ca: [f64; 2],
        v: &mut f64,
        t: f64,
        aux: &mut f64,
        i: f64,
    ) -> f64 {
        if MODE == SYNAPTIC {
            *v = keep * *v + dt * i + ca[0] * *aux;
            *aux *= ca[1];
        } else {
            *v = keep * *v + dt * i;
        }
        if MODE == CLOCK {
            *aux = tick(*aux, dt, half);
            eligible_excess(*v, t, *aux)
        } else {
            *v - t
        }
    }
    let ca = [charge, a];
    let mut winner = Winner::new();
    let split = n - n % LANES;
    let mut no_aux = [0.0f64; LANES];
    for chunk in (0..split).step_by(CHUNK) {
        let mut lanes = [f64::NEG_INFINITY; LANES];
        for base in (chunk..split.min(chunk + CHUNK)).step_by(LANES) {
            // Fixed-size views of the block: one bounds check per block, and a loop over k that
            // the compiler turns into vector operations.
            let vb: &mut [f64; LANES] = (&mut v[base..base + LANES]).try_into().expect("a block");
            let tb: &[f64; LANES] = t[base..base + LANES].try_into().expect("a block");
            let rb: [&[f64; LANES]; J] =
                std::array::from_fn(|c| rows[c][base..base + LANES].try_into().expect("a block"));
            let xb: &[f64; LANES] =
                if EXTRA { extra[base..base + LANES].try_into().expect("a block") } else { &[0.0; LANES] };
            let ab: &mut [f64; LANES] =
                if MODE == PLAIN { &mut no_aux } else { (&mut aux[base..base + LANES]).try_into().expect("a block") };
            let mut current = [0.0f64; LANES];
            for c in 0..J {
                for k in 0..LANES {
                    current[k] += rb[c][k] * z[c];
                }
            }
            if EXTRA {
                for k in 0..LANES {
                    current[k] += xb[k];
                }
            }
            // Whole-block array operations, as in [`fused`].
            let (old, aux_old): ([f64; LANES], [f64; LANES]) = (*vb, *ab);
            let mut new = old;
            let mut aux_new = aux_old;
            let excess: [f64; LANES] = std::array::from_fn(|k| {
                neuron::<MODE>(keep, dt, half, ca, &mut new[k], tb[k], &mut aux_new[k], current[k])
            });
            *vb = new;
            *ab = aux_new;
            for k in 0..LANES {
                lanes[k] = larger(excess[k], lanes[k]);
            }
        }
        winner.chunk(lanes, chunk);
    }
    let mut none = 0.0;
    for i in split..n {
        let current = current::<J, EXTRA>(&rows, &z, extra, i);
        let a = if MODE == PLAIN { &mut none } else { &mut aux[i] };
        winner.element(neuron::<MODE>(keep, dt, half, ca, &mut v[i], t[i], a, current), i);
    }
    winner.find(n, |from, to, best| {
        if MODE == CLOCK {
            first_eligible_at(&v[from..to], &t[from..to], &aux[from..to], best)
        } else {
            first_at(&v[from..to], &t[from..to], best)
        }
    })
}

/// Lanes of the running maximum: two AVX2 vectors, or four SSE2 ones.
const LANES: usize = 8;

/// Neurons per chunk of the spike search: the loops keep the lane maxima of one chunk, fold
/// them at its end, and remember the first chunk whose maximum is the largest so far; the
/// scan for the winner's index then reads one chunk instead of everything before the winner
/// (on average half the voltages and thresholds, from L2 at N = 4000). The fold of eight
/// lanes is a chain of shuffles and comparisons; at 64 neurons per chunk it was about a
/// fifth of the one-pass loop's profile at N = 4000, so a chunk is 256 neurons (32 blocks).
const CHUNK: usize = 32 * LANES;

/// The largest excess so far and where to look for it: the start of the first chunk (or the
/// index of the first tail element) that attains it. Only a strictly larger value moves it,
/// so a later chunk that ties never does, and a NaN never enters (as [`larger`]).
///
/// The same neuron as one running maximum and a scan from 0: the maximum of a set does not
/// depend on the order it is taken in, except for the sign of a zero, and an excess of zero
/// (or less) is no spike. No chunk before the one found holds an excess equal to the
/// maximum, so the first index in that chunk that equals it is the first index overall.
struct Winner {
    best: f64,
    at: usize,
}

impl Winner {
    #[inline(always)]
    fn new() -> Self {
        Self { best: f64::NEG_INFINITY, at: 0 }
    }

    /// A chunk starting at `start`, through its lane maxima.
    #[inline(always)]
    fn chunk(&mut self, lanes: [f64; LANES], start: usize) {
        let m = lanes.into_iter().fold(f64::NEG_INFINITY, |a, b| larger(b, a));
        if m > self.best {
            self.best = m;
            self.at = start;
        }
    }

    /// One element of the tail (after every chunk), at index `i`.
    #[inline(always)]
    fn element(&mut self, excess: f64, i: usize) {
        if excess > self.best {
            self.best = excess;
            self.at = i;
        }
    }

    /// The winner among `n` neurons: `scan(from, to, best)` is the first offset in `from..to`
    /// whose excess is `best` ([`first_at`] or [`first_eligible_at`] on the sub-slices).
    #[inline(always)]
    fn find(self, n: usize, scan: impl FnOnce(usize, usize, f64) -> Option<usize>) -> Option<usize> {
        if self.best <= 0.0 {
            return None;
        }
        scan(self.at, n.min(self.at + CHUNK), self.best).map(|i| self.at + i)
    }
}

/// `e` if it is larger than `than`, else `than` (so a NaN `e` never enters): one `max`
/// instruction on x86.
#[inline(always)]
fn larger(e: f64, than: f64) -> f64 {
    if e > than { e } else { than }
}

/// The first index i with v_i - t_i == best, if best > 0: given the largest excess, the
/// neuron of the sequential "first strict maximum" rule. A scan that stops at the winner and
/// tests a block of 8 at a time.
#[inline]
fn first_at(v: &[f64], t: &[f64], best: f64) -> Option<usize> {
    // NaN and -inf (no finite excess) and every excess <= 0 mean no spike.
    if best.is_nan() || best <= 0.0 {
        return None;
    }
    let split = v.len() - v.len() % 8;
    for (block, (v8, t8)) in v[..split].chunks_exact(8).zip(t[..split].chunks_exact(8)).enumerate() {
        let mut hit = false;
        for k in 0..8 {
            hit |= v8[k] - t8[k] == best;
        }
        if hit {
            return (0..8).find(|&k| v8[k] - t8[k] == best).map(|k| 8 * block + k);
        }
    }
    (split..v.len()).find(|&i| v[i] - t[i] == best)
}

/// The first index of the largest v_i - t_i, if that is > 0.
///
/// Two passes that vectorise: the largest excess, kept in [`LANES`] interleaved running
/// maxima (a comparison and a select per element, with no index to carry), then the first
/// index that attains it ([`first_at`]), which stops at the winner. Exactly the sequential
/// "first strict maximum" rule (tested against it): the maximum of a set does not depend on
/// the order it is taken in, and the excess is recomputed with the same subtraction.
#[inline]
pub(crate) fn largest_excess(v: &[f64], t: &[f64]) -> Option<usize> {
    debug_assert_eq!(v.len(), t.len());
    let mut winner = Winner::new();
    let split = v.len() - v.len() % LANES;
    for chunk in (0..split).step_by(CHUNK) {
        let end = split.min(chunk + CHUNK);
        let mut lanes = [f64::NEG_INFINITY; LANES];
        for (v8, t8) in v[chunk..end].chunks_exact(LANES).zip(t[chunk..end].chunks_exact(LANES)) {
            for k in 0..LANES {
                lanes[k] = larger(v8[k] - t8[k], lanes[k]);
            }
        }
        winner.chunk(lanes, chunk);
    }
    for i in split..v.len() {
        winner.element(v[i] - t[i], i);
    }
    winner.find(v.len(), |from, to, best| first_at(&v[from..to], &t[from..to], best))
}

/// As [`first_at`], among the neurons with no refractory time left.
#[inline]
fn first_eligible_at(v: &[f64], t: &[f64], left: &[f64], best: f64) -> Option<usize> {
    if best.is_nan() || best <= 0.0 {
        return None;
    }
    let split = v.len() - v.len() % 8;
    let blocks = v[..split].chunks_exact(8).zip(t[..split].chunks_exact(8)).zip(left[..split].chunks_exact(8));
    for (block, ((v8, t8), l8)) in blocks.enumerate() {
        let mut hit = false;
        for k in 0..8 {
            hit |= eligible_excess(v8[k], t8[k], l8[k]) == best;
        }
        if hit {
            return (0..8).find(|&k| eligible_excess(v8[k], t8[k], l8[k]) == best).map(|k| 8 * block + k);
        }
    }
    (split..v.len()).find(|&i| eligible_excess(v[i], t[i], left[i]) == best)
}

/// As [`largest_excess`], among the neurons with no refractory time left (`left_i == 0`):
/// the spike choice of [`Refractory`], in the same two vectorised passes.
#[inline]
pub(crate) fn largest_eligible_excess(v: &[f64], t: &[f64], left: &[f64]) -> Option<usize> {
    debug_assert!(v.len() == t.len() && v.len() == left.len());
    let mut winner = Winner::new();
    let split = v.len() - v.len() % LANES;
    for chunk in (0..split).step_by(CHUNK) {
        let end = split.min(chunk + CHUNK);
        let blocks = v[chunk..end]
            .chunks_exact(LANES)
            .zip(t[chunk..end].chunks_exact(LANES))
            .zip(left[chunk..end].chunks_exact(LANES));
        let mut lanes = [f64::NEG_INFINITY; LANES];
        for ((v8, t8), l8) in blocks {
            for k in 0..LANES {
                lanes[k] = larger(eligible_excess(v8[k], t8[k], l8[k]), lanes[k]);
            }
        }
        winner.chunk(lanes, chunk);
    }
    for i in split..v.len() {
        winner.element(eligible_excess(v[i], t[i], left[i]), i);
    }
    winner.find(v.len(), |from, to, best| first_eligible_at(&v[from..to], &t[from..to], &left[from..to], best))
}

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
        fn refractory_one_pass_is_integrate_then_the_sequential_rule(
            raw in proptest::collection::vec((-4i8..5, 0i8..3, -2i8..3, 0u8..6), 0..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in proptest::bool::ANY,
        ) {
            // Few distinct neurons, so that equal excesses (ties between a refractory and an
            // eligible neuron) are frequent.
            let cells: Vec<(f64, f64, f64, u8)> =
                raw.iter().map(|c| (f64::from(c.0) / 4.0, f64::from(c.1) / 8.0, f64::from(c.2), c.3)).collect();
            let m = Refractory { lambda_v: 10.0, tau_ref: 2e-3 };
            let dt = 1e-4;
            // Time left: none, a full period, one step, a step and a half, a rounding residue
            // around dt / 2.
            let left0: Vec<f64> = cells.iter().map(|c| [0.0, 2e-3, 1e-4, 1.5e-4, 1.5e-4 + 1e-19, 0.0][c.3 as usize]).collect();
            let v0: Vec<f64> = cells.iter().map(|c| c.0).collect();
            let t: Vec<f64> = cells.iter().map(|c| c.1).collect();
            let r0: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let r1: Vec<f64> = cells.iter().map(|c| c.0 - c.2).collect();
            let r2: Vec<f64> = cells.iter().map(|c| c.1 * c.2).collect();
            let extra: Vec<f64> = cells.iter().map(|c| c.0 * c.2).collect();
            let rows = [r0.as_slice(), r1.as_slice(), r2.as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let mut fused = RefractoryState { v: v0.clone(), left: left0.clone() };
            let chosen = m.integrate_and_select(&mut fused, &input, &t, dt);
            // The separate path, written out: Euler membrane, the clock, the sequential rule.
            let mut v = v0;
            let keep = 1.0 - dt * m.lambda_v;
            for (i, vi) in v.iter_mut().enumerate() {
                *vi = keep * *vi + dt * input.current(i);
            }
            let mut left = left0;
            sequential_clock(&mut left, dt);
            proptest::prop_assert_eq!(chosen, Some(sequential_eligible(&v, &t, &left)));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&fused.v), bits(&v));
            proptest::prop_assert_eq!(bits(&fused.left), bits(&left));
        }

        #[test]
        fn synaptic_one_pass_is_integrate_then_the_sequential_rule(
            raw in proptest::collection::vec((-4i8..5, 0i8..3, -2i8..3, -8i8..8), 0..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in proptest::bool::ANY,
            tau_s in proptest::sample::select(vec![0.0, 5e-4, 2e-3]),
        ) {
            let m = SynapticLif { lambda_v: 10.0, tau_s, reset: Reset::Hard, max_spikes: 4 };
            let dt = 1e-4;
            let rows: Vec<Vec<f64>> = (0..3).map(|c| raw.iter().map(|x| f64::from(x.2) * (c as f64 + 1.0)).collect()).collect();
            let rows = [rows[0].as_slice(), rows[1].as_slice(), rows[2].as_slice()];
            let extra: Vec<f64> = raw.iter().map(|x| f64::from(x.0) / 2.0).collect();
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let t: Vec<f64> = raw.iter().map(|x| f64::from(x.1) / 8.0).collect();
            let start = SynapticState {
                v: raw.iter().map(|x| f64::from(x.0) / 4.0).collect(),
                i_s: raw.iter().map(|x| f64::from(x.3) * 100.0).collect(),
            };
            let mut fused = start.clone();
            let chosen = m.integrate_and_select(&mut fused, &input, &t, dt);
            let mut separate = start;
            let current: Vec<f64> = (0..t.len()).map(|i| input.current(i)).collect();
            m.integrate(&mut separate, &current, dt);
            proptest::prop_assert_eq!(chosen, Some(sequential(&separate.v, &t)));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&fused.v), bits(&separate.v));
            proptest::prop_assert_eq!(bits(&fused.i_s), bits(&separate.i_s));
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

        #[test]
        fn one_pass_is_integrate_then_the_sequential_rule(
            cells in proptest::collection::vec((-1.0..1.0f64, 0.0..0.5f64, -4.0..4.0f64, -4.0..4.0f64), 0..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in proptest::bool::ANY,
        ) {
            let m = EbnNeuron::default();
            let dt = 1e-4;
            let v0: Vec<f64> = cells.iter().map(|c| c.0).collect();
            let t: Vec<f64> = cells.iter().map(|c| c.1).collect();
            let r0: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let r1: Vec<f64> = cells.iter().map(|c| c.3).collect();
            let r2: Vec<f64> = cells.iter().map(|c| c.2 - c.3).collect();
            let extra: Vec<f64> = cells.iter().map(|c| c.0 * c.3).collect();
            let rows = [r0.as_slice(), r1.as_slice(), r2.as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let mut fused = EbnState { v: v0.clone() };
            let chosen = m.integrate_and_select(&mut fused, &input, &t, dt);
            let mut separate = EbnState { v: v0 };
            let current: Vec<f64> = (0..t.len()).map(|i| input.current(i)).collect();
            m.integrate(&mut separate, &current, dt);
            proptest::prop_assert_eq!(chosen, Some(sequential(&separate.v, &t)));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&fused.v), bits(&separate.v));
        }
    }

    /// The AVX-512 block loop against the portable one (x86-64 only).
    #[cfg(target_arch = "x86_64")]
    mod eight_lanes {
        use super::super::{Blocks, LANES, avx512};

        /// A value that could make a lane part from the portable loop: NaN, infinities, signed
        /// zeros, subnormals, huge; else an ordinary one.
        fn awkward(pick: u8, x: f64) -> f64 {
            match pick {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => -0.0,
                4 => 0.0,
                5 => f64::MIN_POSITIVE / 4.0,
                6 => 1e300 * x,
                _ => x,
            }
        }

        fn blocks_agree<const J: usize, const EXTRA: bool, const PENDING: bool>(
            cells: &[(f64, u8, f64, u8, f64, f64)],
            z: [f64; J],
            k_spike: usize,
        ) -> Result<(), String> {
            let n = cells.len() - cells.len() % LANES;
            let v0: Vec<f64> = cells[..n].iter().map(|c| awkward(c.1, c.0)).collect();
            let t: Vec<f64> = cells[..n].iter().map(|c| awkward(c.3 % 3 + 7 * u8::from(c.3 > 2), c.2)).collect();
            let rows: Vec<Vec<f64>> =
                (0..J).map(|c| cells[..n].iter().map(|x| x.4 * (c as f64 + 1.0) - x.5).collect()).collect();
            let extra: Vec<f64> = cells[..n].iter().map(|x| awkward(x.1 / 2, x.5)).collect();
            let blocks =
                Blocks { keep: 0.999, dt: 1e-4, rows: std::array::from_fn(|c| rows[c].as_slice()), z, extra: &extra };
            let d_spike: [f64; J] = std::array::from_fn(|c| 0.1 * (c as f64 + 1.0));
            let pending = (k_spike, d_spike, 1e-6);
            let (mut va, mut vb) = (v0.clone(), v0);
            let a = blocks.portable::<EXTRA, PENDING>(&mut va, &t, pending);
            if !std::arch::is_x86_feature_detected!("avx512f") {
                return Ok(()); // no 8-lane kernel to compare on this CPU
            }
            // SAFETY: the CPU has AVX-512F, just checked.
            #[allow(unsafe_code)]
            let b = unsafe { avx512::blocks::<J, EXTRA, PENDING>(&blocks, &mut vb, &t, pending) };
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            if bits(&va) != bits(&vb) {
                return Err("voltages differ".into());
            }
            if (a.best, a.at) != (b.best, b.at) {
                return Err(format!("winner ({}, {}) vs ({}, {})", a.best, a.at, b.best, b.at));
            }
            Ok(())
        }

        proptest::proptest! {
            #[test]
            fn eight_lanes_are_the_portable_blocks_bit_for_bit(
                cells in proptest::collection::vec(
                    (-2.0..2.0f64, 0u8..24, 0.0..0.5f64, 0u8..12, -4.0..4.0f64, -4.0..4.0f64), 0..600),
                z in proptest::collection::vec(-50.0..50.0f64, 3),
                k_spike in 0usize..600,
                variant in 0u8..4,
            ) {
                let r = match variant {
                    0 => blocks_agree::<1, false, false>(&cells, [z[0]], k_spike),
                    1 => blocks_agree::<2, false, true>(&cells, [z[0], z[1]], k_spike),
                    2 => blocks_agree::<2, true, true>(&cells, [z[0], z[1]], k_spike),
                    _ => blocks_agree::<3, true, false>(&cells, [z[0], z[1], z[2]], k_spike),
                };
                proptest::prop_assert_eq!(r, Ok(()));
            }
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
