//! A fast hyperbolic tangent for the tanh bases, written so that the compiler vectorises it
//! (no branches, no calls): one evaluation costs a few nanoseconds against ~20-30 ns for the
//! C library's `tanh`, which bounded a step at N_b = 1000 (docs/PERFORMANCE.md).
//!
//! # Method
//!
//! - |x| < 0.625: tanh x = x + x z P(z) / Q(z), z = x^2, with the degree-2 / degree-3
//!   rational minimax coefficients of the Cephes library's tanh (S. L. Moshier);
//! - |x| >= 0.625: tanh |x| = 1 - 2 / (e^(2|x|) + 1), with e^y = 2^k e^r, k = round(y / ln 2),
//!   r = y - k ln 2 (ln 2 in two parts, so r is exact to ~1e-20), |r| <= ln(2) / 2, and e^r
//!   by its Taylor series to degree 12 (truncation < 2e-16 relative);
//! - |x| is clamped at 20 (tanh 20 = 1 - 8e-18 rounds to 1); the sign is copied back; NaN
//!   stays NaN.
//!
//! Every polynomial step, the argument reduction and the final `x + x z (P/Q)` are fused
//! multiply-adds (`f64::mul_add`): about 30 floating-point operations and one division per
//! value where the separate multiplies and adds took about 50 (1000 values: 1.06 -> 0.66 µs
//! on the Zen 4 machine, docs/PERFORMANCE.md). A fused multiply-add rounds once, exactly as
//! IEEE 754 defines it, so the bits are the same on every machine; where the CPU has no FMA
//! instruction (x86-64 before Haswell, built without `target-cpu`), it is a library call:
//! the same values, much slower. Since 2026-12-05; the earlier separate multiply-add form
//! had the same accuracy (below) but other last bits, so a run with `fast_tanh = true`
//! from before that date is reproduced by its version of the code, not this one.
//!
//! # Vector width
//!
//! [`tanh_of_sums`], which the tanh bases call, runs the same operations on 8 values at once
//! with AVX-512 where the CPU has it (checked at run time), else the scalar loop as the
//! compiler vectorises it; the bits are the same either way (tested). On the 2-core Ice Lake
//! Xeon, 1000 values: 1.98 µs portable (LLVM keeps 4 lanes there), 1.41 µs in 8 lanes
//! (criterion `tanh_of_sums_portable_1000`, `tanh_basis_fast_1000`, one run each).
//!
//! # Accuracy
//!
//! Against `f64::tanh`, over 2 x 10^6 points spanning [-25, 25] (dense near 0 and near the
//! switch at 0.625): relative error at most 4.0e-16 (within 2 ulp), tested in
//! `matches_the_library_tanh` (the same 4.0e-16 before and after the change to fused
//! multiply-adds). The results are not bit-identical to the library's, so a
//! network using it fires a different (equally valid) spike train after a while; this is
//! why it is opt-in (`fast_tanh = true` in a tanh basis) and the shipped examples keep the
//! library tanh, whose numbers docs/REPRODUCTION.md reports.

use ebn_core::coding;

const P: [f64; 3] = [-9.643_991_794_250_523e-1, -9.928_772_310_019_186e1, -1.614_687_684_417_084_5e3];
const Q: [f64; 3] = [1.128_116_784_916_329_3e2, 2.235_488_390_601_004_5e3, 4.844_063_053_251_255e3];
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1 / k! for k = 0..=12.
const INV_FACT: [f64; 13] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
];

/// 1.5 x 2^52: adding it to a number of magnitude < 2^51 rounds it to an integer (ties to
/// even) held in the low bits of the sum's mantissa.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// e^y for 0 <= y <= 40 (the range the large-argument branch needs).
#[inline(always)]
fn exp_0_40(y: f64) -> f64 {
    // k = round(y / ln 2) with the rounder trick, so that k and 2^k come from integer
    // operations on the bits (which vectorise; a float-to-integer cast does not everywhere).
    let shifted = y.mul_add(std::f64::consts::LOG2_E, ROUNDER);
    let k = shifted - ROUNDER;
    let r = k.mul_add(-LN2_LO, k.mul_add(-LN2_HI, y));
    let mut p = INV_FACT[12];
    for c in INV_FACT[..12].iter().rev() {
        p = p.mul_add(r, *c);
    }
    // 2^k from its exponent bits: the low bits of `shifted` are k (0 <= k <= 58).
    let k_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    p * f64::from_bits((k_bits + 1023) << 52)
}

/// tanh(x), branch-free (see the module documentation for the method and its accuracy).
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    let ax = x.abs().min(20.0);
    let z = ax * ax;
    let num = P[0].mul_add(z, P[1]).mul_add(z, P[2]);
    let den = (z + Q[0]).mul_add(z, Q[1]).mul_add(z, Q[2]);
    // One division serves both branches: P/Q below 0.625, -2/(e^(2|x|) + 1) above.
    let is_small = ax < 0.625;
    let q = if is_small { num } else { -2.0 } / if is_small { den } else { exp_0_40(2.0 * ax) + 1.0 };
    let t = if is_small { (ax * z).mul_add(q, ax) } else { 1.0 + q };
    if x.is_nan() { x } else { t.copysign(x) }
}

/// psi_i = tanh(u_i + theta_i) for every i, by [`tanh`]: the bits of that scalar loop
/// ([`tanh_of_sums_portable`]), computed 8 values at a time with AVX-512 where the CPU has it
/// (checked at run time), else as the compiler vectorises the scalar loop. Lengths must agree.
///
/// Why a separate kernel: LLVM keeps 256-bit vectors on Intel's AVX-512 server cores (its
/// `prefer-256-bit` tuning for them), so `target-cpu=native` alone gives 4 lanes there; the
/// explicit 8-lane form runs every operation of [`tanh`] in the same order on 8 values at
/// once (fused multiply-adds, the division, the exact scaling by 2^k), so each lane rounds
/// as the scalar code does. Tested bit for bit against the scalar loop (NaN payloads,
/// infinities, signed zeros, subnormals, both sides of the 0.625 switch and of the clamp at
/// 20, every tail length).
pub fn tanh_of_sums(u: &[f64], theta: &[f64], psi: &mut [f64]) {
    assert!(u.len() == psi.len() && theta.len() == psi.len(), "tanh_of_sums: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the kernel's only requirement is AVX-512F, which the CPU was just found to
        // have (ARCHITECTURE.md, "unsafe only to enter an AVX-512 kernel").
        #[allow(unsafe_code)]
        unsafe {
            avx512::tanh_of_sums(u, theta, psi)
        };
        return;
    }
    tanh_of_sums_portable(u, theta, psi);
}

/// The scalar loop of [`tanh_of_sums`] (vectorised by the compiler at the width it prefers):
/// the reference its AVX-512 form is tested against.
pub fn tanh_of_sums_portable(u: &[f64], theta: &[f64], psi: &mut [f64]) {
    for ((p, u), t) in psi.iter_mut().zip(u).zip(theta) {
        *p = tanh(u + t);
    }
}

/// The end of a step for a tanh basis's drive, in one sweep: for every i, u_i += M_k,i for
/// each spike's column in `spikes` (in order), u_i <- [`coding::decayed`]`(u_i, decay)`,
/// psi_i = [`tanh`]`(u_i + theta_i)`. The bits of those three passes made one after the other
/// (tested; [`drive_step_portable`] is the reference), in 8 AVX-512 lanes where the CPU has
/// them. The sweep reads each spike's column of M while the tanh computes, instead of in a
/// pass of its own (criterion: 1.94 -> 1.80 µs at N_b = 1000, docs/PERFORMANCE.md).
/// Lengths must agree.
pub fn drive_step<const S: usize>(spikes: [&[f64]; S], decay: f64, drive: &mut [f64], theta: &[f64], psi: &mut [f64]) {
    let n = drive.len();
    assert!(theta.len() == n && psi.len() == n && spikes.iter().all(|c| c.len() == n), "drive_step: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: as in `tanh_of_sums`.
        #[allow(unsafe_code)]
        unsafe {
            avx512::drive_step(spikes, decay, drive, theta, psi)
        };
        return;
    }
    drive_step_portable(spikes, decay, drive, theta, psi);
}

/// [`drive_step`] as a scalar loop: the reference its AVX-512 form is tested against.
pub fn drive_step_portable<const S: usize>(
    spikes: [&[f64]; S],
    decay: f64,
    drive: &mut [f64],
    theta: &[f64],
    psi: &mut [f64],
) {
    for (i, ((u, t), p)) in drive.iter_mut().zip(theta).zip(psi.iter_mut()).enumerate() {
        *u = drive_value(&spikes, i, *u, decay);
        *p = tanh(*u + t);
    }
}

/// One drive value of [`drive_step`]: the spikes' jumps, then the decay.
#[inline(always)]
fn drive_value<const S: usize>(spikes: &[&[f64]; S], i: usize, mut u: f64, decay: f64) -> f64 {
    for c in spikes {
        u += c[i];
    }
    coding::decayed(u, decay)
}

/// [`tanh`] on 8 lanes: the same operations in the same order, so the same bits per lane.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{INV_FACT, LN2_HI, LN2_LO, P, Q, ROUNDER, drive_value, tanh};
    use ebn_core::coding::FLUSH_TO_ZERO;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) fn drive_step<const S: usize>(
        spikes: [&[f64]; S],
        decay: f64,
        drive: &mut [f64],
        theta: &[f64],
        psi: &mut [f64],
    ) {
        let n = drive.len();
        let columns = spikes.map(|c| c.as_chunks::<8>().0);
        let (u8, _) = drive.as_chunks_mut::<8>();
        let (t8, _) = theta.as_chunks::<8>();
        let (p8, _) = psi.as_chunks_mut::<8>();
        for (b, ((u, t), p)) in u8.iter_mut().zip(t8).zip(p8.iter_mut()).enumerate() {
            let mut v: __m512d = bytemuck::cast(*u);
            for c in &columns {
                v = _mm512_add_pd(v, bytemuck::cast(c[b]));
            }
            // coding::decayed: 0 where |u| < FLUSH_TO_ZERO (a NaN compares false and stays
            // NaN), else u times the decay.
            let flush = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(v), splat(FLUSH_TO_ZERO));
            let v = _mm512_maskz_mul_pd(!flush, v, splat(decay));
            *u = bytemuck::cast(v);
            *p = bytemuck::cast(tanh8(_mm512_add_pd(v, bytemuck::cast(*t))));
        }
        for i in n - n % 8..n {
            drive[i] = drive_value(&spikes, i, drive[i], decay);
            psi[i] = tanh(drive[i] + theta[i]);
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn tanh_of_sums(u: &[f64], theta: &[f64], psi: &mut [f64]) {
        let (p8, p_tail) = psi.as_chunks_mut::<8>();
        let (u8, u_tail) = u.as_chunks::<8>();
        let (t8, t_tail) = theta.as_chunks::<8>();
        for ((p, u), t) in p8.iter_mut().zip(u8).zip(t8) {
            let x = _mm512_add_pd(bytemuck::cast(*u), bytemuck::cast(*t));
            *p = bytemuck::cast(tanh8(x));
        }
        for ((p, u), t) in p_tail.iter_mut().zip(u_tail).zip(t_tail) {
            *p = tanh(u + t);
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: f64) -> __m512d {
        _mm512_set1_pd(x)
    }

    /// `exp_0_40` on 8 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp8(y: __m512d) -> __m512d {
        let shifted = _mm512_fmadd_pd(y, splat(std::f64::consts::LOG2_E), splat(ROUNDER));
        let k = _mm512_sub_pd(shifted, splat(ROUNDER));
        let r = _mm512_fmadd_pd(k, splat(-LN2_LO), _mm512_fmadd_pd(k, splat(-LN2_HI), y));
        let mut p = splat(INV_FACT[12]);
        for c in INV_FACT[..12].iter().rev() {
            p = _mm512_fmadd_pd(p, r, splat(*c));
        }
        // p 2^k in one operation: the scalar code multiplies by 2^k built from its exponent
        // bits, and both products are exact (0 <= k <= 58, p in [0.7, 1.5]: no overflow, no
        // rounding), so `vscalefpd` gives the same bits with one floating-point operation
        // instead of a shift on the same port and a multiply.
        _mm512_scalef_pd(p, k)
    }

    /// `tanh` on 8 lanes. `_mm512_min_pd(a, b)` returns b where a is NaN, as `f64::min`
    /// returns the number; `_mm512_mask_blend_pd(m, a, b)` takes b where m is set.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn tanh8(x: __m512d) -> __m512d {
        let ax = _mm512_min_pd(_mm512_abs_pd(x), splat(20.0));
        let z = _mm512_mul_pd(ax, ax);
        let num = _mm512_fmadd_pd(_mm512_fmadd_pd(splat(P[0]), z, splat(P[1])), z, splat(P[2]));
        let den = _mm512_fmadd_pd(_mm512_fmadd_pd(_mm512_add_pd(z, splat(Q[0])), z, splat(Q[1])), z, splat(Q[2]));
        let small = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(ax, splat(0.625));
        let big_den = _mm512_add_pd(exp8(_mm512_mul_pd(splat(2.0), ax)), splat(1.0));
        let q = _mm512_div_pd(_mm512_mask_blend_pd(small, splat(-2.0), num), _mm512_mask_blend_pd(small, big_den, den));
        let t = _mm512_mask_blend_pd(small, _mm512_add_pd(splat(1.0), q), _mm512_fmadd_pd(_mm512_mul_pd(ax, z), q, ax));
        let sign = _mm512_set1_epi64(i64::MIN);
        let signed = _mm512_or_si512(
            _mm512_andnot_si512(sign, _mm512_castpd_si512(t)),
            _mm512_and_si512(sign, _mm512_castpd_si512(x)),
        );
        let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(x, x);
        _mm512_mask_blend_pd(nan, _mm512_castsi512_pd(signed), x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        if b == 0.0 { a.abs() } else { ((a - b) / b).abs() }
    }

    #[test]
    fn matches_the_library_tanh() {
        let mut worst: f64 = 0.0;
        let mut check = |x: f64| {
            let e = rel(tanh(x), x.tanh());
            worst = worst.max(e);
        };
        for k in 0..1_000_000 {
            check(-25.0 + 50.0 * k as f64 / 1e6);
        }
        for k in 0..500_000 {
            let x = 1e-12 * 1.00005f64.powi(k); // 1e-12 .. ~7e-2, geometric
            check(x);
            check(-x);
        }
        for k in 0..100_000 {
            check(0.6 + 0.05 * k as f64 / 1e5); // around the switch
        }
        // Within 2 ulp (relative 2 epsilon); measured: 4.0e-16.
        assert!(worst <= 2.0 * f64::EPSILON, "worst relative error {worst:e}");
    }

    #[test]
    fn special_values() {
        assert_eq!(tanh(0.0), 0.0);
        assert!(tanh(-0.0).is_sign_negative());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert_eq!(tanh(30.0), 1.0);
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(f64::MIN_POSITIVE), f64::MIN_POSITIVE);
    }

    /// Values where a lane could part from the scalar code: NaN payloads, infinities, signed
    /// zeros, subnormals, the switch at 0.625, the clamp at 20, the exponent range of 2^k.
    fn awkward() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
            f64::from_bits(0xfff8_dead_beef_0001), // NaN with a payload
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
        ];
        for edge in [0.625f64, 20.0, 19.06, 1e-8, 0.5, 1.0] {
            let mut lo = edge;
            let mut hi = edge;
            for _ in 0..4 {
                v.extend([lo, hi, -lo, -hi]);
                lo = lo.next_down();
                hi = hi.next_up();
            }
        }
        v
    }

    fn same_bits(u: &[f64], theta: &[f64]) -> Result<(), String> {
        let mut fast = vec![0.0; u.len()];
        let mut reference = vec![0.0; u.len()];
        tanh_of_sums(u, theta, &mut fast);
        tanh_of_sums_portable(u, theta, &mut reference);
        for (i, (a, b)) in fast.iter().zip(&reference).enumerate() {
            if a.to_bits() != b.to_bits() {
                return Err(format!("at {i}: tanh({} + {}) = {a:e} vs {b:e}", u[i], theta[i]));
            }
        }
        Ok(())
    }

    #[test]
    fn eight_lanes_are_the_scalar_loop_bit_for_bit() {
        if cfg!(target_arch = "x86_64") && !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512 on this CPU: tanh_of_sums is the scalar loop itself");
        }
        let odd = awkward();
        // Every tail length, and the awkward values in every lane position.
        for len in 0..=odd.len() {
            let zeros = vec![0.0; len];
            same_bits(&odd[..len], &zeros).unwrap();
            same_bits(&zeros, &odd[..len]).unwrap();
        }
        for shift in 0..8 {
            let u: Vec<f64> = odd.iter().cycle().skip(shift).take(odd.len() + 8).copied().collect();
            same_bits(&u, &vec![0.0; u.len()]).unwrap();
        }
        // A dense sweep of [-25, 25] with offsets, as the accuracy test.
        let u: Vec<f64> = (0..200_001).map(|k| -25.0 + 50.0 * k as f64 / 200_000.0).collect();
        let theta: Vec<f64> = (0..u.len()).map(|k| 1e-3 * (k % 7) as f64 - 3e-3).collect();
        same_bits(&u, &theta).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn eight_lanes_match_on_any_bits(
            u in proptest::collection::vec(proptest::num::f64::ANY, 0..40),
            scale in proptest::prop_oneof![proptest::strategy::Just(0.0), -30.0..30.0f64],
        ) {
            let theta: Vec<f64> = u.iter().enumerate().map(|(i, _)| scale * (i as f64 - 3.5) / 7.0).collect();
            proptest::prop_assert_eq!(same_bits(&u, &theta), Ok(()));
        }
    }

    fn drive_step_bits<const S: usize>(spikes: [&[f64]; S], drive: &[f64], theta: &[f64]) -> Result<(), String> {
        let decay = (-10.0f64 * 1e-4).exp();
        let (mut u_fast, mut u_ref) = (drive.to_vec(), drive.to_vec());
        let (mut p_fast, mut p_ref) = (vec![0.0; drive.len()], vec![0.0; drive.len()]);
        drive_step(spikes, decay, &mut u_fast, theta, &mut p_fast);
        drive_step_portable(spikes, decay, &mut u_ref, theta, &mut p_ref);
        // The portable loop is the three passes one after the other.
        let mut u_seq = drive.to_vec();
        for c in spikes {
            for (u, m) in u_seq.iter_mut().zip(c) {
                *u += m;
            }
        }
        coding::decay(&mut u_seq, decay);
        let mut p_seq = vec![0.0; drive.len()];
        tanh_of_sums_portable(&u_seq, theta, &mut p_seq);
        let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (name, got) in [("fast drive", b(&u_fast)), ("portable drive", b(&u_ref))] {
            if got != b(&u_seq) {
                return Err(format!("{name} differs from the separate passes"));
            }
        }
        for (name, got) in [("fast Psi", b(&p_fast)), ("portable Psi", b(&p_ref))] {
            if got != b(&p_seq) {
                return Err(format!("{name} differs from the separate passes"));
            }
        }
        Ok(())
    }

    #[test]
    fn the_drive_step_is_jumps_decay_then_tanh_bit_for_bit() {
        let odd = awkward();
        let tiny: Vec<f64> = (0..odd.len()).map(|i| [1e-200, -1e-200, 0.99e-200, -1.01e-200][i % 4]).collect();
        for len in 0..=odd.len() {
            let (u, m, t) = (&odd[..len], &tiny[..len], &vec![0.25; len]);
            drive_step_bits([], u, t).unwrap();
            drive_step_bits([m], u, t).unwrap();
            drive_step_bits([m, u], t, u).unwrap();
            // Values that the jump brings below the flush threshold, or out of it.
            drive_step_bits([m], m, t).unwrap();
        }
    }

    proptest::proptest! {
        #[test]
        fn the_drive_step_matches_on_any_bits(
            u in proptest::collection::vec(proptest::num::f64::ANY, 0..40),
            spikes in 0usize..3,
            scale in -3.0..3.0f64,
        ) {
            let m: Vec<f64> = u.iter().enumerate().map(|(i, _)| scale * (i as f64 - 7.5)).collect();
            let theta: Vec<f64> = m.iter().map(|x| 0.1 * x).collect();
            let r = match spikes {
                0 => drive_step_bits([], &u, &theta),
                1 => drive_step_bits([&m], &u, &theta),
                _ => drive_step_bits([&m, &theta], &u, &theta),
            };
            proptest::prop_assert_eq!(r, Ok(()));
        }
    }
}
