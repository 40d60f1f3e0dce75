//! The one-pass membrane kernels of the built-in neuron models: the input current (given in
//! parts), the membrane update and the first spike choice in one pass over the neurons, as
//! 8-lane blocks (AVX-512 where the CPU has it, beside the portable loop that is its
//! reference) and a scalar tail. Each gives exactly the voltages and the spike of the
//! model's own `integrate` then `select_spike` (tested below, bit for bit); the plan
//! (`crate::plan`) chooses one by the concrete type of the model.

use ebn_neurons::choice::{CHUNK, LANES, Winner, eligible_excess, first_at, first_eligible_at, larger, tick};

/// The input current of one step in parts: I_i = D^T z + extra, that is
/// `(0.0 + D[0, i] z[0] + D[1, i] z[1] + ...) + extra[i]`, summed in that order (the order of
/// the step's separate computation, so a fused loop gives the same bits).
#[derive(Debug, Clone, Copy)]
pub struct SplitInput<'a> {
    /// The rows of D (one per component, each of length N), 1 to 3 of them.
    pub rows: &'a [&'a [f64]],
    /// z: the command, the feedback and (factored slow weights) W Psi, per component.
    pub z: &'a [f64],
    /// A current added after the projection (dense slow weights: Omega_s Psi), if any.
    pub extra: Option<&'a [f64]>,
}

impl SplitInput<'_> {
    /// I_i, computed as the step computes it.
    #[inline(always)]
    pub fn current(&self, i: usize) -> f64 {
        let mut s = 0.0;
        for (row, z) in self.rows.iter().zip(self.z) {
            s += row[i] * z;
        }
        match self.extra {
            Some(x) => s + x[i],
            None => s,
        }
    }
}

/// A spike whose fast-weight column has not reached the voltages yet (the deferred column of
/// `Network::deferred`), in the factored form of the default fast weights:
/// `Omega_f[i, k] = -(D_i^T D_k) - mu delta_ik`, computed as the step computes it,
/// `V_i <- V_i - (0.0 + D[0, i] d[0] + D[1, i] d[1] + ...)`, then `V_k <- V_k - mu`. The rows
/// of D are those of the step's [`SplitInput`].
#[derive(Debug, Clone, Copy)]
pub struct PendingSpike<'a> {
    /// The neuron that fired.
    pub k: usize,
    /// Its decoding vector D_k (length J).
    pub d: &'a [f64],
    /// The L2 cost mu (the extra self-inhibition of the spiker).
    pub mu: f64,
}

/// The forward-Euler membrane update `V <- keep V + dt I` (`EbnNeuron::integrate`, with
/// keep = 1 - dt lambda_v) and `largest_excess` in one pass, with I computed in the loop
/// from its parts; `None` if the parts are not of a supported shape (1 to 3 components).
/// The same operations in the same order as the separate calls, so the same bits (tested).
#[inline]
pub fn integrate_largest_excess(
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
pub fn pending_integrate_largest_excess(
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

/// As [`integrate_largest_excess`], with the refractory clock of `Refractory` advanced in
/// the same pass (`left_i <- left_i - dt`, or 0 once that is not above dt / 2) and only the
/// neurons with no time left eligible: `Refractory::integrate` then its spike choice.
#[inline]
pub fn integrate_largest_excess_eligible(
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

/// As [`integrate_largest_excess`], with the synaptic current of `SynapticLif` integrated
/// in the same pass: `V <- keep V + dt I + charge I_s`, then `I_s <- a I_s`
/// (`SynapticLif::integrate` then the EBN spike choice).
#[inline]
pub fn integrate_synaptic_largest_excess(
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

/// The loop of [`integrate_largest_excess`] for J components, with or without the extra
/// current: each element is integrated and its excess folded into the running maximum of
/// `largest_excess` in the same pass; the index is found afterwards by `first_at`.
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

#[cfg(test)]
mod tests {
    //! Each kernel against the model's own calls (`integrate`, then `select_spike`; for a
    //! pending spike the column, `on_spike`, then the kernel without one), bit for bit, on
    //! inputs with frequent ties, silenced neurons, every supported J, with and without the
    //! extra current, and lengths that are not a multiple of the lane width; and the
    //! AVX-512 blocks against the portable ones.
    use super::*;
    use ebn_core::NeuronModel;
    use ebn_neurons::{
        EbnMultiSpike, EbnNeuron, EbnState, Refractory, RefractoryState, Reset, SynapticLif, SynapticState,
    };
    use proptest::prelude::*;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The current of `input` for every neuron, as the step's separate path writes it.
    fn current(input: &SplitInput<'_>, n: usize) -> Vec<f64> {
        (0..n).map(|i| input.current(i)).collect()
    }

    /// Rows of D, z and an extra current from quantised cells (few distinct values, so that
    /// equal excesses are frequent).
    fn parts(raw: &[(i8, i8, i8, i8)]) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let rows = (0..3)
            .map(|c| raw.iter().map(|x| f64::from(x.2) * (c as f64 + 1.0) - f64::from(x.3) / 8.0).collect())
            .collect();
        let v = raw.iter().map(|x| f64::from(x.0) / 4.0).collect();
        let t = raw.iter().map(|x| if x.1 == 3 { f64::INFINITY } else { f64::from(x.1) / 8.0 }).collect();
        let extra = raw.iter().map(|x| f64::from(x.0) / 2.0).collect();
        (rows, v, t, extra)
    }

    proptest! {
        #[test]
        fn the_ebn_kernel_is_integrate_then_select(
            raw in proptest::collection::vec((-4i8..5, 0i8..4, -2i8..3, -8i8..8), 0..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in any::<bool>(),
            lambda_v in prop_oneof![Just(10.0), Just(50.0)],
        ) {
            let (rows, v0, t, extra) = parts(&raw);
            let rows = [rows[0].as_slice(), rows[1].as_slice(), rows[2].as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let (m, dt) = (EbnNeuron { lambda_v }, 1e-4);
            let mut separate = EbnState { v: v0.clone() };
            m.integrate(&mut separate, &current(&input, t.len()), dt);
            let mut fused = EbnState { v: v0 };
            let got = integrate_largest_excess(1.0 - dt * lambda_v, dt, &mut fused.v, &t, &input);
            prop_assert_eq!(got, Some(m.select_spike(&separate, &t)));
            prop_assert_eq!(bits(&fused.v), bits(&separate.v));
        }

        #[test]
        fn the_pending_kernel_is_the_column_on_spike_then_the_kernel(
            raw in proptest::collection::vec((-4i8..5, 0i8..4, -2i8..3, -8i8..8), 1..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in any::<bool>(),
            k_frac in 0.0f64..1.0,
            mu in prop_oneof![Just(0.0), 1e-6f64..1e-2],
        ) {
            let (rows, v0, t, extra) = parts(&raw);
            let rows = [rows[0].as_slice(), rows[1].as_slice(), rows[2].as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let n = t.len();
            let k = ((k_frac * n as f64) as usize).min(n - 1);
            let d_k: Vec<f64> = rows[..j].iter().map(|row| row[k]).collect();
            let pending = PendingSpike { k, d: &d_k, mu };
            let dt = 1e-4;
            let multi = EbnMultiSpike { lambda_v: 20.0, max_spikes: 3 };
            for lambda_v in [EbnNeuron::default().lambda_v, multi.lambda_v] {
                let keep = 1.0 - dt * lambda_v;
                // The reference: the column as the step adds it, on_spike (nothing for these
                // models), then the kernel without a pending spike.
                let mut reference = EbnState { v: v0.clone() };
                for (i, v) in reference.v.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for (row, d) in rows[..j].iter().zip(&d_k) {
                        s += row[i] * d;
                    }
                    *v -= s;
                }
                reference.v[k] -= mu;
                EbnNeuron { lambda_v }.on_spike(&mut reference, k);
                multi.on_spike(&mut reference, k);
                let expected = integrate_largest_excess(keep, dt, &mut reference.v, &t, &input);
                let mut fused = EbnState { v: v0.clone() };
                let got = pending_integrate_largest_excess(keep, dt, &mut fused.v, &t, &input, &pending);
                prop_assert_eq!(got, expected);
                prop_assert_eq!(bits(&fused.v), bits(&reference.v));
            }
        }

        #[test]
        fn the_refractory_kernel_is_integrate_then_select(
            raw in proptest::collection::vec((-4i8..5, 0i8..4, -2i8..3, -8i8..8), 0..700),
            clocks in proptest::collection::vec(0usize..6, 700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in any::<bool>(),
        ) {
            let (rows, v0, t, extra) = parts(&raw);
            let rows = [rows[0].as_slice(), rows[1].as_slice(), rows[2].as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let (m, dt) = (Refractory { lambda_v: 10.0, tau_ref: 2e-3 }, 1e-4);
            // Time left: none, a full period, one step, a step and a half, a rounding residue
            // around dt / 2.
            let left0: Vec<f64> = (0..t.len()).map(|i| [0.0, 2e-3, 1e-4, 1.5e-4, 1.5e-4 + 1e-19, 0.0][clocks[i]]).collect();
            let mut separate = RefractoryState { v: v0.clone(), left: left0.clone() };
            m.integrate(&mut separate, &current(&input, t.len()), dt);
            let mut fused = RefractoryState { v: v0, left: left0 };
            let got = integrate_largest_excess_eligible(1.0 - dt * m.lambda_v, dt, &mut fused.v, &t, &mut fused.left, &input);
            prop_assert_eq!(got, Some(m.select_spike(&separate, &t)));
            prop_assert_eq!(bits(&fused.v), bits(&separate.v));
            prop_assert_eq!(bits(&fused.left), bits(&separate.left));
        }

        #[test]
        fn the_synaptic_kernel_is_integrate_then_select(
            raw in proptest::collection::vec((-4i8..5, 0i8..4, -2i8..3, -8i8..8), 0..700),
            z in proptest::collection::vec(-50.0..50.0f64, 3),
            j in 1usize..4,
            with_extra in any::<bool>(),
            tau_s in proptest::sample::select(vec![5e-4, 2e-3]),
        ) {
            let (rows, v0, t, extra) = parts(&raw);
            let rows = [rows[0].as_slice(), rows[1].as_slice(), rows[2].as_slice()];
            let input = SplitInput { rows: &rows[..j], z: &z[..j], extra: with_extra.then_some(extra.as_slice()) };
            let (m, dt) = (SynapticLif { lambda_v: 10.0, tau_s, reset: Reset::Hard, max_spikes: 4 }, 1e-4);
            let start = SynapticState { v: v0, i_s: raw.iter().map(|x| f64::from(x.3) * 100.0).collect() };
            let mut separate = start.clone();
            m.integrate(&mut separate, &current(&input, t.len()), dt);
            let mut fused = start;
            let a = (-dt / tau_s).exp();
            let charge = tau_s * (1.0 - a);
            let got = integrate_synaptic_largest_excess(1.0 - dt * m.lambda_v, dt, [charge, a], &mut fused.v, &t, &mut fused.i_s, &input);
            prop_assert_eq!(got, Some(m.select_spike(&separate, &t)));
            prop_assert_eq!(bits(&fused.v), bits(&separate.v));
            prop_assert_eq!(bits(&fused.i_s), bits(&separate.i_s));
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
}
