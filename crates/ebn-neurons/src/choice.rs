//! The spike choice of the greedy rule (MODEL.md §3): the first neuron with the largest
//! excess V_i - T_i > 0, and its building blocks. The built-in models' `select_spike` calls
//! [`largest_excess`] (or [`largest_eligible_excess`], with a refractory clock); the
//! engine's one-pass membrane kernels fold the same [`Winner`] while they integrate, so the
//! choice is one piece of code wherever it is made. A fork's model may call them too.

/// One step of the refractory clock: the time left after dt, or 0 once it is not above
/// dt / 2 (half a step of tolerance, see [`Refractory`](crate::Refractory)).
#[inline(always)]
pub fn tick(left: f64, dt: f64, half: f64) -> f64 {
    let next = left - dt;
    if next > half { next } else { 0.0 }
}

/// The excess of a neuron for the spike choice: v - t, or -inf while it is refractory.
#[inline(always)]
pub fn eligible_excess(v: f64, t: f64, left: f64) -> f64 {
    if left == 0.0 { v - t } else { f64::NEG_INFINITY }
}

/// Lanes of the running maximum: two AVX2 vectors, or four SSE2 ones.
pub const LANES: usize = 8;

/// Neurons per chunk of the spike search: the loops keep the lane maxima of one chunk, fold
/// them at its end, and remember the first chunk whose maximum is the largest so far; the
/// scan for the winner's index then reads one chunk instead of everything before the winner
/// (on average half the voltages and thresholds, from L2 at N = 4000). The fold of eight
/// lanes is a chain of shuffles and comparisons; at 64 neurons per chunk it was about a
/// fifth of the one-pass loop's profile at N = 4000, so a chunk is 256 neurons (32 blocks).
pub const CHUNK: usize = 32 * LANES;

/// The largest excess so far and where to look for it: the start of the first chunk (or the
/// index of the first tail element) that attains it. Only a strictly larger value moves it,
/// so a later chunk that ties never does, and a NaN never enters (as [`larger`]).
///
/// The same neuron as one running maximum and a scan from 0: the maximum of a set does not
/// depend on the order it is taken in, except for the sign of a zero, and an excess of zero
/// (or less) is no spike. No chunk before the one found holds an excess equal to the
/// maximum, so the first index in that chunk that equals it is the first index overall.
pub struct Winner {
    /// The largest excess so far.
    pub best: f64,
    /// Where it is: the start of its chunk, or its index in the tail.
    pub at: usize,
}

impl Default for Winner {
    fn default() -> Self {
        Self::new()
    }
}

impl Winner {
    /// Nothing seen yet.
    #[inline(always)]
    pub fn new() -> Self {
        Self { best: f64::NEG_INFINITY, at: 0 }
    }

    /// A chunk starting at `start`, through its lane maxima.
    #[inline(always)]
    pub fn chunk(&mut self, lanes: [f64; LANES], start: usize) {
        let m = lanes.into_iter().fold(f64::NEG_INFINITY, |a, b| larger(b, a));
        if m > self.best {
            self.best = m;
            self.at = start;
        }
    }

    /// One element of the tail (after every chunk), at index `i`.
    #[inline(always)]
    pub fn element(&mut self, excess: f64, i: usize) {
        if excess > self.best {
            self.best = excess;
            self.at = i;
        }
    }

    /// The winner among `n` neurons: `scan(from, to, best)` is the first offset in `from..to`
    /// whose excess is `best` ([`first_at`] or [`first_eligible_at`] on the sub-slices).
    #[inline(always)]
    pub fn find(self, n: usize, scan: impl FnOnce(usize, usize, f64) -> Option<usize>) -> Option<usize> {
        if self.best <= 0.0 {
            return None;
        }
        scan(self.at, n.min(self.at + CHUNK), self.best).map(|i| self.at + i)
    }
}

/// `e` if it is larger than `than`, else `than` (so a NaN `e` never enters): one `max`
/// instruction on x86.
#[inline(always)]
pub fn larger(e: f64, than: f64) -> f64 {
    if e > than { e } else { than }
}

/// The first index i with v_i - t_i == best, if best > 0: given the largest excess, the
/// neuron of the sequential "first strict maximum" rule. A scan that stops at the winner and
/// tests a block of 8 at a time.
#[inline]
pub fn first_at(v: &[f64], t: &[f64], best: f64) -> Option<usize> {
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
pub fn largest_excess(v: &[f64], t: &[f64]) -> Option<usize> {
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
pub fn first_eligible_at(v: &[f64], t: &[f64], left: &[f64], best: f64) -> Option<usize> {
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
/// the spike choice of [`Refractory`](crate::Refractory), in the same two vectorised passes.
#[inline]
pub fn largest_eligible_excess(v: &[f64], t: &[f64], left: &[f64]) -> Option<usize> {
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
