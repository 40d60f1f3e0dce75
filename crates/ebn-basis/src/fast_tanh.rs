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
//! # Accuracy
//!
//! Against `f64::tanh`, over 2 x 10^6 points spanning [-25, 25] (dense near 0 and near the
//! switch at 0.625): relative error at most 4.0e-16 (within 2 ulp), tested in
//! `matches_the_library_tanh` (the same 4.0e-16 before and after the change to fused
//! multiply-adds). The results are not bit-identical to the library's, so a
//! network using it fires a different (equally valid) spike train after a while; this is
//! why it is opt-in (`fast_tanh = true` in a tanh basis) and the shipped examples keep the
//! library tanh, whose numbers docs/REPRODUCTION.md reports.

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
}
