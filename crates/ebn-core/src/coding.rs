//! The spike-coding arithmetic of MODEL.md §3 (Boerlin, Machens & Denève 2013).
//!
//! A network of N neurons represents x (J-dimensional) by x_hat = D r, with r the filtered
//! spike trains. Spikes greedily minimise the instantaneous loss
//!
//! ```text
//! L = ||x - x_hat||^2 + mu ||r||_2^2 + nu ||r||_1
//! ```
//!
//! A spike of neuron i adds D_i to x_hat and 1 to r_i, which changes L by
//! `-2 D_i^T (x - x_hat) + ||D_i||^2 + mu (2 r_i + 1) + nu = -2 (V_i - T_i)` with
//!
//! ```text
//! V_i = D_i^T (x - x_hat) - mu r_i,    T_i = (||D_i||^2 + mu + nu) / 2.
//! ```
//!
//! So a spike lowers L exactly when V_i > T_i. These functions are the reference the engine is
//! tested against; the engine itself tracks V by integrating its derivative.
//!
//! Decoders are stored as a J x N [`faer::Mat`]; column i is neuron i's decoding vector D_i
//! (units of x per spike).

use faer::Mat;

/// Thresholds T_i = (||D_i||^2 + mu + nu) / 2.
pub fn thresholds(decoder: &Mat<f64>, mu: f64, nu: f64) -> Vec<f64> {
    (0..decoder.ncols())
        .map(|i| {
            let d = decoder.col_as_slice(i);
            (d.iter().map(|v| v * v).sum::<f64>() + mu + nu) / 2.0
        })
        .collect()
}

/// The voltages of an ideal network: V_i = D_i^T (x - x_hat) - mu r_i, with x_hat = D r.
pub fn ideal_voltages(decoder: &Mat<f64>, mu: f64, x: &[f64], r: &[f64]) -> Vec<f64> {
    let x_hat = readout(decoder, r);
    let err: Vec<f64> = x.iter().zip(&x_hat).map(|(a, b)| a - b).collect();
    (0..decoder.ncols()).map(|i| dot(decoder.col_as_slice(i), &err) - mu * r[i]).collect()
}

/// The readout x_hat = D r.
pub fn readout(decoder: &Mat<f64>, r: &[f64]) -> Vec<f64> {
    let mut x_hat = vec![0.0; decoder.nrows()];
    for (i, ri) in r.iter().enumerate() {
        for (xh, d) in x_hat.iter_mut().zip(decoder.col_as_slice(i)) {
            *xh += d * ri;
        }
    }
    x_hat
}

/// The instantaneous loss L = ||x - D r||^2 + mu ||r||^2 + nu ||r||_1.
pub fn loss(decoder: &Mat<f64>, mu: f64, nu: f64, x: &[f64], r: &[f64]) -> f64 {
    let x_hat = readout(decoder, r);
    let err2: f64 = x.iter().zip(&x_hat).map(|(a, b)| (a - b) * (a - b)).sum();
    let r2: f64 = r.iter().map(|v| v * v).sum();
    let r1: f64 = r.iter().map(|v| v.abs()).sum();
    err2 + mu * r2 + nu * r1
}

/// Dot product of two equal-length slices.
///
/// Summed in four interleaved partial sums (elements 4k, 4k+1, 4k+2, 4k+3), then the tail, so
/// the compiler can vectorise it; the order of additions is fixed, so the result is the same
/// on every machine.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 4];
    let (a4, a_tail) = a.split_at(a.len() - a.len() % 4);
    let (b4, b_tail) = b.split_at(a4.len());
    for (x, y) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// [`dot`] of each of `a` with `b`, in one pass over `b`: the same partial sums in the same
/// order as J separate calls, so the same bits, but J independent chains of additions in
/// flight instead of one (a single dot of length n is bound by n / 4 dependent additions).
///
/// On x86-64 with AVX2 the blocks are added as explicit 4-lane vectors ([`lanes4`]): written
/// as arrays, LLVM pairs lane k of the J sums into one 2-lane register instead of keeping
/// each sum in its own 4-lane one, which made J = 2 at N = 4000 take 0.96 µs instead of
/// 0.46 µs (Zen 4). The vector path does the same operations in the same order (tested).
#[inline]
pub fn dots<const J: usize>(a: [&[f64]; J], b: &[f64]) -> [f64; J] {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(lanes4::Dots { simd, a, b });
    }
    dots_blocks(a, b)
}

/// [`dots`] written on arrays (the path without AVX2, and the reference of the vector one).
#[inline]
pub fn dots_blocks<const J: usize>(a: [&[f64]; J], b: &[f64]) -> [f64; J] {
    let n = b.len();
    debug_assert!(a.iter().all(|a| a.len() == n));
    let a = a.map(|a| &a[..n]);
    let mut acc = [[0.0f64; 4]; J];
    let split = n - n % 4;
    for base in (0..split).step_by(4) {
        let y: &[f64; 4] = b[base..base + 4].try_into().expect("a block of 4");
        for j in 0..J {
            let x: &[f64; 4] = a[j][base..base + 4].try_into().expect("a block of 4");
            for k in 0..4 {
                acc[j][k] += x[k] * y[k];
            }
        }
    }
    finish(acc, a, b)
}

/// The end of [`dots`]: the scalar tail after the last whole block, then the lanes summed as
/// `(s0 + s1) + (s2 + s3) + tail`.
#[inline(always)]
fn finish<const J: usize>(acc: [[f64; 4]; J], a: [&[f64]; J], b: &[f64]) -> [f64; J] {
    let split = b.len() - b.len() % 4;
    std::array::from_fn(|j| {
        let tail: f64 = a[j][split..].iter().zip(&b[split..]).map(|(x, y)| x * y).sum();
        (acc[j][0] + acc[j][1]) + (acc[j][2] + acc[j][3]) + tail
    })
}

/// For each j, `cols[j] += a[j] b` (element by element, an axpy), then [`dot`] of the
/// updated `cols[j]` with `b`, all in one pass over `b`: the bits of J axpys followed by J
/// separate dots (the learning step's update of W^T fused with the next step's W Psi).
/// Vectorised as [`dots`] is.
#[inline]
pub fn axpy_dots<const J: usize>(cols: [&mut [f64]; J], a: [f64; J], b: &[f64]) -> [f64; J] {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(lanes4::AxpyDots { simd, cols, a, b });
    }
    axpy_dots_blocks(cols, a, b)
}

/// [`axpy_dots`] written on arrays (the path without AVX2, and the reference of the vector
/// one).
#[inline]
pub fn axpy_dots_blocks<const J: usize>(cols: [&mut [f64]; J], a: [f64; J], b: &[f64]) -> [f64; J] {
    let n = b.len();
    debug_assert!(cols.iter().all(|c| c.len() == n));
    let cols = cols.map(|c| &mut c[..n]);
    let mut acc = [[0.0f64; 4]; J];
    let split = n - n % 4;
    for base in (0..split).step_by(4) {
        let y: &[f64; 4] = b[base..base + 4].try_into().expect("a block of 4");
        for j in 0..J {
            let x: &mut [f64; 4] = (&mut cols[j][base..base + 4]).try_into().expect("a block of 4");
            for k in 0..4 {
                x[k] += a[j] * y[k];
                acc[j][k] += x[k] * y[k];
            }
        }
    }
    axpy_tail(acc, cols, a, b)
}

/// The end of [`axpy_dots`]: the axpy of the tail, then [`finish`].
#[inline(always)]
fn axpy_tail<const J: usize>(acc: [[f64; 4]; J], mut cols: [&mut [f64]; J], a: [f64; J], b: &[f64]) -> [f64; J] {
    let split = b.len() - b.len() % 4;
    for (col, aj) in cols.iter_mut().zip(a) {
        for (x, y) in col[split..].iter_mut().zip(&b[split..]) {
            *x += aj * y;
        }
    }
    finish(acc, cols.map(|c| &*c), b)
}

/// Below this magnitude a decaying quantity (trace, readout, basis drive) is set to 0. A
/// trace left alone decays by exp(-lambda dt) per step and would reach the subnormal range
/// (< 2.2e-308) after about 708 / lambda seconds of silence (70 s at lambda = 10 /s), where
/// x86 arithmetic is up to 100x slower; 1e-200 is far below anything that affects the readout
/// or a voltage.
pub const FLUSH_TO_ZERO: f64 = 1e-200;

/// One decayed value: 0 if `|x| <` [`FLUSH_TO_ZERO`], else `a x` (a NaN stays NaN).
#[inline(always)]
pub fn decayed(x: f64, a: f64) -> f64 {
    decayed_below(x, a, FLUSH_TO_ZERO)
}

/// [`decayed`] for every element: the step's exact exponential decay of the traces, the
/// readout and the basis drive (a = exp(-lambda dt)).
#[inline]
pub fn decay(xs: &mut [f64], a: f64) {
    for x in xs {
        *x = decayed(*x, a);
    }
}

/// Decays `b` in place, `b_i <- 0` where `|b_i| < flush` and `b_i <- decay b_i` elsewhere,
/// then returns [`dot`] of each of `a` with the decayed `b`, all in one pass over `b`: the
/// bits of the decay followed by [`dots`] (the end of a step's trace decay fused with the next
/// step's W Psi, when Psi is the traces themselves). The J chains of additions bound a pass
/// of [`dots`]; the decay rides along in their latency. Vectorised as [`dots`] is.
#[inline]
pub fn decay_dots<const J: usize>(a: [&[f64]; J], b: &mut [f64], decay: f64, flush: f64) -> [f64; J] {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(lanes4::DecayDots { simd, a, b, decay, flush });
    }
    decay_dots_blocks(a, b, decay, flush)
}

/// [`decay_dots`] written on arrays (the path without AVX2, and the reference of the vector
/// one).
#[inline]
pub fn decay_dots_blocks<const J: usize>(a: [&[f64]; J], b: &mut [f64], decay: f64, flush: f64) -> [f64; J] {
    let n = b.len();
    debug_assert!(a.iter().all(|a| a.len() == n));
    let a = a.map(|a| &a[..n]);
    let mut acc = [[0.0f64; 4]; J];
    let split = n - n % 4;
    for base in (0..split).step_by(4) {
        let y: &mut [f64; 4] = (&mut b[base..base + 4]).try_into().expect("a block of 4");
        for k in 0..4 {
            y[k] = decayed_below(y[k], decay, flush);
        }
        for j in 0..J {
            let x: &[f64; 4] = a[j][base..base + 4].try_into().expect("a block of 4");
            for k in 0..4 {
                acc[j][k] += x[k] * y[k];
            }
        }
    }
    decay_tail(acc, a, b, decay, flush)
}

/// One decayed value of [`decay_dots`], with its threshold.
#[inline(always)]
fn decayed_below(y: f64, decay: f64, flush: f64) -> f64 {
    if y.abs() < flush { 0.0 } else { y * decay }
}

/// The end of [`decay_dots`]: the decay of the tail, then [`finish`].
#[inline(always)]
fn decay_tail<const J: usize>(acc: [[f64; 4]; J], a: [&[f64]; J], b: &mut [f64], decay: f64, flush: f64) -> [f64; J] {
    let split = b.len() - b.len() % 4;
    for y in &mut b[split..] {
        *y = decayed_below(*y, decay, flush);
    }
    finish(acc, a, b)
}

/// The 4-lane vector forms of [`dots`], [`axpy_dots`] and [`decay_dots`], through `pulp`'s
/// AVX2 token (safe code; the CPU is checked once, at the first call). Element-wise multiplies and adds only,
/// never a fused multiply-add, so every lane rounds as the array form does.
#[cfg(target_arch = "x86_64")]
mod lanes4 {
    use pulp::Simd as _;
    use pulp::f64x4;
    use pulp::x86::V3;

    pub(super) struct Dots<'a, const J: usize> {
        pub simd: V3,
        pub a: [&'a [f64]; J],
        pub b: &'a [f64],
    }

    impl<const J: usize> pulp::NullaryFnOnce for Dots<'_, J> {
        type Output = [f64; J];
        #[inline(always)]
        fn call(self) -> [f64; J] {
            let Dots { simd, a, b } = self;
            let n = b.len();
            let a = a.map(|a| &a[..n]);
            let (yb, _) = b.as_chunks::<4>();
            let xb = a.map(|a| &a.as_chunks::<4>().0[..yb.len()]);
            let mut acc = [simd.splat_f64s(0.0); J];
            for (i, y) in yb.iter().enumerate() {
                let y: f64x4 = pulp::cast(*y);
                for j in 0..J {
                    acc[j] = simd.add_f64s(acc[j], simd.mul_f64s(pulp::cast(xb[j][i]), y));
                }
            }
            super::finish(acc.map(pulp::cast), a, b)
        }
    }

    pub(super) struct AxpyDots<'a, const J: usize> {
        pub simd: V3,
        pub cols: [&'a mut [f64]; J],
        pub a: [f64; J],
        pub b: &'a [f64],
    }

    impl<const J: usize> pulp::NullaryFnOnce for AxpyDots<'_, J> {
        type Output = [f64; J];
        #[inline(always)]
        fn call(self) -> [f64; J] {
            let AxpyDots { simd, cols, a, b } = self;
            let n = b.len();
            let mut cols = cols.map(|c| &mut c[..n]);
            let (yb, _) = b.as_chunks::<4>();
            let scale = a.map(|a| simd.splat_f64s(a));
            let mut acc = [simd.splat_f64s(0.0); J];
            let xb = cols.each_mut().map(|c| &mut c.as_chunks_mut::<4>().0[..yb.len()]);
            for (i, y) in yb.iter().enumerate() {
                let y: f64x4 = pulp::cast(*y);
                for j in 0..J {
                    let x: f64x4 = simd.add_f64s(pulp::cast(xb[j][i]), simd.mul_f64s(scale[j], y));
                    xb[j][i] = pulp::cast(x);
                    acc[j] = simd.add_f64s(acc[j], simd.mul_f64s(x, y));
                }
            }
            super::axpy_tail(acc.map(pulp::cast), cols, a, b)
        }
    }

    pub(super) struct DecayDots<'a, const J: usize> {
        pub simd: V3,
        pub a: [&'a [f64]; J],
        pub b: &'a mut [f64],
        pub decay: f64,
        pub flush: f64,
    }

    impl<const J: usize> pulp::NullaryFnOnce for DecayDots<'_, J> {
        type Output = [f64; J];
        #[inline(always)]
        fn call(self) -> [f64; J] {
            let DecayDots { simd, a, b, decay, flush } = self;
            let n = b.len();
            let a = a.map(|a| &a[..n]);
            let (yb, _) = b.as_chunks_mut::<4>();
            let xb = a.map(|a| &a.as_chunks::<4>().0[..yb.len()]);
            let (scale, limit, zero) = (simd.splat_f64s(decay), simd.splat_f64s(flush), simd.splat_f64s(0.0));
            let mut acc = [zero; J];
            for (i, y) in yb.iter_mut().enumerate() {
                let old: f64x4 = pulp::cast(*y);
                // As `decayed_below`, lane by lane: |y| < flush gives 0, anything else (NaN too) y a.
                let small = simd.less_than_f64s(simd.abs_f64s(old), limit);
                let new = simd.select_f64s(small, zero, simd.mul_f64s(old, scale));
                *y = pulp::cast(new);
                for j in 0..J {
                    acc[j] = simd.add_f64s(acc[j], simd.mul_f64s(pulp::cast(xb[j][i]), new));
                }
            }
            super::decay_tail(acc.map(pulp::cast), a, b, decay, flush)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass [`dots`] gives the bits of separate [`dot`] calls, at every length
        /// (blocks and tail) and with signed zeros among the values.
        #[test]
        fn dots_are_separate_dots_bit_for_bit(
            cells in proptest::collection::vec((-1e3..1e3f64, -1e3..1e3f64, -1e3..1e3f64, -1.0..1.0f64), 0..45),
        ) {
            let z = |x: f64| if x.abs() < 1.0 { -0.0 } else { x };
            let a0: Vec<f64> = cells.iter().map(|c| z(c.0)).collect();
            let a1: Vec<f64> = cells.iter().map(|c| c.1).collect();
            let a2: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let b: Vec<f64> = cells.iter().map(|c| c.3).collect();
            // Both paths: the vector one (where the CPU has AVX2) and the array one.
            let one = [dots([&a0], &b), dots_blocks([&a0], &b)];
            let two = [dots([&a0, &a1], &b), dots_blocks([&a0, &a1], &b)];
            let three = [dots([&a0, &a1, &a2], &b), dots_blocks([&a0, &a1, &a2], &b)];
            for path in 0..2 {
                proptest::prop_assert_eq!(one[path][0].to_bits(), dot(&a0, &b).to_bits());
                for (got, a) in two[path].iter().zip([&a0, &a1]) {
                    proptest::prop_assert_eq!(got.to_bits(), dot(a, &b).to_bits());
                }
                for (got, a) in three[path].iter().zip([&a0, &a1, &a2]) {
                    proptest::prop_assert_eq!(got.to_bits(), dot(a, &b).to_bits());
                }
            }
        }

        /// [`decay_dots`] leaves the bits of the element-wise decay (with the flush to zero)
        /// in `b` and returns the bits of separate dots with the decayed `b`, at every length,
        /// with signed zeros, values under the flush threshold of either sign, and NaN.
        #[test]
        fn decay_dots_are_decay_then_dots_bit_for_bit(
            cells in proptest::collection::vec((-1e3..1e3f64, -1e3..1e3f64, -1e3..1e3f64, -2.0..2.0f64, 0..6u8), 0..45),
            decay in 0.0..1.0f64,
        ) {
            let flush = 1e-200;
            let z = |x: f64| if x.abs() < 1.0 { -0.0 } else { x };
            let special = |y: f64, kind: u8| match kind {
                0 => -0.0,
                1 => y * 1e-201,
                2 => f64::NAN,
                3 => flush,
                _ => y,
            };
            let a0: Vec<f64> = cells.iter().map(|c| z(c.0)).collect();
            let a1: Vec<f64> = cells.iter().map(|c| c.1).collect();
            let a2: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let b: Vec<f64> = cells.iter().map(|c| special(c.3, c.4)).collect();
            let expected: Vec<f64> =
                b.iter().map(|y| if y.abs() < flush { 0.0 } else { y * decay }).collect();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            // Both paths: the vector one (where the CPU has AVX2) and the array one; J = 1..3.
            let run = |vector: bool, j: usize| {
                let mut y = b.clone();
                let got: Vec<f64> = match (vector, j) {
                    (true, 1) => decay_dots([&a0], &mut y, decay, flush).to_vec(),
                    (false, 1) => decay_dots_blocks([&a0], &mut y, decay, flush).to_vec(),
                    (true, 2) => decay_dots([&a0, &a1], &mut y, decay, flush).to_vec(),
                    (false, 2) => decay_dots_blocks([&a0, &a1], &mut y, decay, flush).to_vec(),
                    (true, _) => decay_dots([&a0, &a1, &a2], &mut y, decay, flush).to_vec(),
                    (false, _) => decay_dots_blocks([&a0, &a1, &a2], &mut y, decay, flush).to_vec(),
                };
                (y, got)
            };
            for vector in [true, false] {
                for j in 1..=3 {
                    let (y, got) = run(vector, j);
                    proptest::prop_assert_eq!(bits(&y), bits(&expected));
                    for (g, a) in got.iter().zip([&a0, &a1, &a2]) {
                        proptest::prop_assert_eq!(g.to_bits(), dot(a, &expected).to_bits());
                    }
                }
            }
        }

        /// [`axpy_dots`] leaves the bits of separate axpys in the columns and returns the
        /// bits of separate dots of the updated columns (signed zeros among the values, and
        /// a zero scalar, which still turns a -0.0 weight into +0.0 as an axpy does).
        #[test]
        fn axpy_dots_are_axpys_then_dots_bit_for_bit(
            cells in proptest::collection::vec((-1e3..1e3f64, -1e3..1e3f64, -1.0..1.0f64), 0..45),
            a in (-2.0..2.0f64, -2.0..2.0f64, proptest::bool::ANY),
        ) {
            let z = |x: f64| if x.abs() < 1.0 { -0.0 } else { x };
            let a = [a.0, if a.2 { 0.0 } else { a.1 }];
            let mut w0: Vec<f64> = cells.iter().map(|c| z(c.0)).collect();
            let mut w1: Vec<f64> = cells.iter().map(|c| z(c.1)).collect();
            let b: Vec<f64> = cells.iter().map(|c| c.2).collect();
            let mut expected = [w0.clone(), w1.clone()];
            for (w, a) in expected.iter_mut().zip(a) {
                for (x, y) in w.iter_mut().zip(&b) {
                    *x += a * y;
                }
            }
            // Both paths: the vector one (where the CPU has AVX2) and the array one.
            let (mut v0, mut v1) = (w0.clone(), w1.clone());
            let got = axpy_dots([&mut w0, &mut w1], a, &b);
            let got_blocks = axpy_dots_blocks([&mut v0, &mut v1], a, &b);
            for (got, cols) in [(got, [&w0, &w1]), (got_blocks, [&v0, &v1])] {
                for ((g, w), e) in got.iter().zip(cols).zip(&expected) {
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    proptest::prop_assert_eq!(bits(w), bits(e));
                    proptest::prop_assert_eq!(g.to_bits(), dot(e, &b).to_bits());
                }
            }
        }
    }
}
