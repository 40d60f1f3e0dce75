#![doc = include_str!("../README.md")]

pub mod fast_tanh;

use ebn_core::{Basis, BasisSetup, Error, Mat, Registry, Result, Rng, check};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Which basis, with its parameters (serde: `kind = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BasisConfig {
    /// Psi(r) = r; N_b = N.
    Identity,
    /// Psi(r) = tanh(M r + theta) with M_ij ~ N(0, weight_std^2) and theta_i ~ U(-bias, bias).
    RandomTanh {
        /// Number of basis functions N_b.
        n_basis: usize,
        /// Standard deviation of the entries of M (per unit of trace).
        weight_std: f64,
        /// Half-width of the uniform distribution of theta.
        bias: f64,
        /// Evaluate tanh with [`fast_tanh::tanh`] (~1 ulp, vectorised) instead of the C
        /// library's; default false.
        #[serde(default)]
        fast_tanh: bool,
    },
    /// Psi = tanh(M_x x_hat + theta) = tanh(M_x D r + theta): random features of the decoded
    /// state. Row i of M_x is `gain` times a random vector u_i of R^J, divided component-wise
    /// by `x_scale` (the typical magnitude of each component of x, default 1), so that
    /// M_x x = gain u_i . (x / x_scale) spans about [-gain, gain] over the state's range;
    /// theta_i ~ U(-bias, bias). u_i is a unit vector (default) or has N(0, 1) entries
    /// (`encoders = "gaussian"`, a reference implementation's draw; its norms then vary,
    /// chi-distributed with J degrees of freedom).
    StateTanh {
        /// Number of basis functions N_b.
        n_basis: usize,
        /// Gain of the encoders (per unit of x / x_scale).
        gain: f64,
        /// Half-width of the uniform distribution of theta.
        bias: f64,
        /// Typical magnitude of each component of x (length J); default all 1.
        #[serde(default)]
        x_scale: Option<Vec<f64>>,
        /// How the encoder rows are drawn (default unit directions).
        #[serde(default)]
        encoders: Encoders,
        /// Evaluate tanh with [`fast_tanh::tanh`] (~1 ulp, vectorised) instead of the C
        /// library's; default false.
        #[serde(default)]
        fast_tanh: bool,
        /// If set, each feature but the last has its mean over these states (each of length
        /// J) subtracted, Psi_i = tanh(M_x,i x + theta_i) - mean_p tanh(M_x,i p + theta_i), and
        /// the last is the constant 1 ([`Centered`]). The fitting recipe passes states of the
        /// attractor, so that the features have zero mean where the network lives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        center_on: Option<Vec<Vec<f64>>>,
    },
}

/// How the rows u_i of a state-space basis's encoder are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoders {
    /// Uniform random directions, |u_i| = 1 (the project's default: every feature has the
    /// same slope).
    #[default]
    Unit,
    /// Entries N(0, 1), not normalised.
    Gaussian,
}

impl BasisConfig {
    /// Number of basis functions for a network of `n` neurons.
    pub fn n_basis(&self, n: usize) -> usize {
        match self {
            Self::Identity => n,
            Self::RandomTanh { n_basis, .. } | Self::StateTanh { n_basis, .. } => *n_basis,
        }
    }

    /// Validates, samples M and theta from `rng`, and builds the basis for the decoder
    /// `decoder` (J x N).
    pub fn build(&self, decoder: &Mat<f64>, rng: &mut Rng) -> Result<Box<dyn Basis>> {
        let n = decoder.ncols();
        Ok(match *self {
            Self::Identity => Box::new(IdentityBasis { n }),
            Self::RandomTanh { n_basis, weight_std, bias, fast_tanh } => {
                check::basis_size("n_basis", n, n_basis)?;
                check::positive("weight_std", weight_std)?;
                check::in_range("weight_std", weight_std, 0.0, MAX_SCALE)?;
                check::in_range("bias", bias, 0.0, MAX_SCALE)?;
                let m = Mat::from_fn(n_basis, n, |_, _| weight_std * rng.sample::<f64, _>(StandardNormal));
                let theta = uniform(rng, n_basis, bias);
                Box::new(TanhBasis { m, theta, encoders: None, fast: fast_tanh })
            }
            Self::StateTanh { n_basis, gain, bias, ref x_scale, encoders, fast_tanh, ref center_on } => {
                check::basis_size("n_basis", n, n_basis)?;
                let scale = x_scale.clone().unwrap_or_else(|| vec![1.0; decoder.nrows()]);
                let mut basis = TanhBasis::state_space(n_basis, gain, bias, &scale, encoders, decoder, rng)?;
                basis.fast = fast_tanh;
                match center_on {
                    None => Box::new(basis),
                    Some(points) => Box::new(Centered::new(basis, points)?),
                }
            }
        })
    }
}

/// Registers the bases of this crate (every kind of [`BasisConfig`]).
pub fn register(registry: &mut Registry) {
    for kind in ["identity", "random_tanh", "state_tanh"] {
        registry.add_basis_spec(kind, |spec, field, setup: &BasisSetup<'_>, rng: &mut Rng| {
            spec.parse_tagged::<BasisConfig>(field)?.build(setup.decoder, rng)
        });
    }
}

/// Largest gain, weight scale or bias of a tanh basis (tanh saturates for |argument| > 20;
/// beyond 10^6 a value is a typo, and 2 x 10^308 would overflow).
pub const MAX_SCALE: f64 = 1e6;

/// `len` draws from U(-half_width, half_width); `half_width` <= [`MAX_SCALE`] (checked by the
/// callers), so the range's width cannot overflow.
fn uniform(rng: &mut Rng, len: usize, half_width: f64) -> Vec<f64> {
    (0..len).map(|_| if half_width > 0.0 { rng.random_range(-half_width..half_width) } else { 0.0 }).collect()
}

/// Psi(r) = r: the slow weights act directly on the traces (N_b = N). With it, the optimal
/// weights for a linear target dx/dt = A x are known in closed form,
/// Omega_s* = D^T (A + lambda I) D (MODEL.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityBasis {
    /// Number of neurons N.
    pub n: usize,
}

impl Basis for IdentityBasis {
    fn len(&self) -> usize {
        self.n
    }
    fn n_inputs(&self) -> usize {
        self.n
    }
    fn drive_len(&self) -> usize {
        0
    }
    fn on_spike(&self, _k: usize, _drive: &mut [f64]) {}
    fn drive_from_traces(&self, _r: &[f64], _drive: &mut [f64]) {}
    #[inline]
    fn evaluate(&self, r: &[f64], _drive: &[f64], psi: &mut [f64]) {
        psi.copy_from_slice(r);
    }
}

/// Psi(r) = tanh(M r + theta), M of size N_b x N, theta of length N_b (MODEL.md §5).
///
/// The drive u = M r is kept by the network: it jumps by the column M_k at a spike of neuron
/// k (O(N_b)) and decays with r. If built from a state-space configuration, M = M_x D and
/// [`TanhBasis::evaluate_state`] gives Psi as a function of a decoded state x.
#[derive(Debug, Clone, PartialEq)]
pub struct TanhBasis {
    /// The projection M (N_b x N).
    pub m: Mat<f64>,
    /// The offsets theta (N_b).
    pub theta: Vec<f64>,
    /// For state-space bases, the encoders M_x (N_b x J) with M = M_x D.
    pub encoders: Option<Mat<f64>>,
    /// Evaluate with [`fast_tanh::tanh`] instead of the C library's tanh.
    pub fast: bool,
}

impl TanhBasis {
    /// The end of a step for the drive, in one sweep over u and Psi: u += M_k for each spike
    /// k of the step in order, u_i <- `coding::decayed(u_i, decay)`, then Psi =
    /// [`Basis::evaluate`] on the new u, with the fast tanh only (`fast = true`; the C
    /// library's tanh is the cost otherwise, so nothing is gained from one sweep: call the
    /// three passes). The same bits as the three passes (tested); the engine's plan calls it
    /// for this basis.
    pub fn sweep(&self, spikes: &[usize], decay: f64, drive: &mut [f64], psi: &mut [f64]) {
        debug_assert!(self.fast, "the one-sweep step is that of the fast tanh");
        // The jumps of all but the last two spikes on their own (a step has one by default),
        // then the last ones, the decay and Psi in one sweep: the same order per element.
        let (first, last) = spikes.split_at(spikes.len().saturating_sub(2));
        for &k in first {
            self.on_spike(k, drive);
        }
        let col = |k: usize| self.m.col_as_slice(k);
        match *last {
            [] => fast_tanh::drive_step([], decay, drive, &self.theta, psi),
            [a] => fast_tanh::drive_step([col(a)], decay, drive, &self.theta, psi),
            [a, b] => fast_tanh::drive_step([col(a), col(b)], decay, drive, &self.theta, psi),
            _ => unreachable!("at most two spikes are left"),
        }
    }

    /// tanh by the configured method.
    #[inline(always)]
    fn tanh(&self, x: f64) -> f64 {
        if self.fast { fast_tanh::tanh(x) } else { x.tanh() }
    }

    /// Samples a state-space basis (see [`BasisConfig::StateTanh`]) for the decoder D (J x N):
    /// encoder rows `gain` u_i / x_scale (u_i random unit or Gaussian vectors, division
    /// component-wise), theta ~ U(-bias, bias), M = M_x D.
    pub fn state_space(
        n_basis: usize,
        gain: f64,
        bias: f64,
        x_scale: &[f64],
        draw: Encoders,
        decoder: &Mat<f64>,
        rng: &mut Rng,
    ) -> Result<Self> {
        check::nonzero("n_basis", n_basis)?;
        check::positive("gain", gain)?;
        check::in_range("gain", gain, 0.0, MAX_SCALE)?;
        check::in_range("bias", bias, 0.0, MAX_SCALE)?;
        let j = decoder.nrows();
        check::same_len("x_scale", j, x_scale.len())?;
        for (i, s) in x_scale.iter().enumerate() {
            check::positive(&format!("x_scale[{i}]"), *s)?;
        }
        let mut encoders = Mat::from_fn(n_basis, j, |_, _| rng.sample::<f64, _>(StandardNormal));
        for row in 0..n_basis {
            let norm = match draw {
                Encoders::Unit => (0..j).map(|c| encoders[(row, c)].powi(2)).sum::<f64>().sqrt(),
                Encoders::Gaussian => 1.0,
            };
            if norm == 0.0 {
                return Err(Error::degenerate("state_tanh encoders", "a zero random direction"));
            }
            for c in 0..j {
                encoders[(row, c)] *= gain / (norm * x_scale[c]);
            }
        }
        let theta = uniform(rng, n_basis, bias);
        Ok(Self { m: &encoders * decoder, theta, encoders: Some(encoders), fast: false })
    }

    /// Psi at the decoded state x: tanh(M_x x + theta). `None` unless the basis is a
    /// state-space one.
    pub fn evaluate_state(&self, x: &[f64], psi: &mut [f64]) -> Option<()> {
        let enc = self.encoders.as_ref()?;
        for (i, p) in psi.iter_mut().enumerate() {
            let u: f64 = (0..enc.ncols()).map(|c| enc[(i, c)] * x[c]).sum();
            *p = self.tanh(u + self.theta[i]);
        }
        Some(())
    }
}

impl Basis for TanhBasis {
    fn len(&self) -> usize {
        self.theta.len()
    }
    fn n_inputs(&self) -> usize {
        self.m.ncols()
    }
    fn drive_len(&self) -> usize {
        self.theta.len()
    }
    #[inline]
    fn on_spike(&self, k: usize, drive: &mut [f64]) {
        for (u, m) in drive.iter_mut().zip(self.m.col_as_slice(k)) {
            *u += m;
        }
    }
    fn drive_from_traces(&self, r: &[f64], drive: &mut [f64]) {
        drive.fill(0.0);
        for (k, rk) in r.iter().enumerate() {
            if *rk != 0.0 {
                for (u, m) in drive.iter_mut().zip(self.m.col_as_slice(k)) {
                    *u += m * rk;
                }
            }
        }
    }
    #[inline]
    fn evaluate(&self, _r: &[f64], drive: &[f64], psi: &mut [f64]) {
        if self.fast {
            fast_tanh::tanh_of_sums(drive, &self.theta, psi);
        } else {
            for ((p, u), t) in psi.iter_mut().zip(drive).zip(&self.theta) {
                *p = (u + t).tanh();
            }
        }
    }
    fn evaluate_at_state(&self, x: &[f64], psi: &mut [f64]) -> bool {
        self.evaluate_state(x, psi).is_some()
    }
}

/// A state-space tanh basis whose features have zero mean over given states, and a constant:
///
/// ```text
/// Psi_i(x) = tanh(M_x,i x + theta_i) - m_i,    m_i = mean over the states p of tanh(M_x,i p + theta_i)
/// Psi_(N_b - 1)(x) = 1
/// ```
///
/// Why: with offsets theta_i of order 1, most features have a large mean on the attractor, so
/// E[Psi Psi^T] has one dominant eigenvalue (about N_b times the mean square of the means)
/// along the common mode. The learning rule converges along each eigendirection at a rate
/// proportional to its eigenvalue, and the stable rate is bounded by the largest one, so the
/// informative directions learn slowly. Removing the means (a constant per dendrite, still a
/// function of the presynaptic traces only: the rule stays local) shrinks that eigenvalue.
/// The constant the removed means could sum to is then given back by one feature, the last,
/// held at 1 (a bias): without it the least-squares fit of the Lorenz field on the attractor
/// has a relative error of 0.54 instead of 2e-4. A project addition.
#[derive(Debug, Clone, PartialEq)]
pub struct Centered {
    /// The underlying state-space basis.
    pub inner: TanhBasis,
    /// The subtracted means m_i.
    pub offsets: Vec<f64>,
}

impl Centered {
    /// Centres `inner` (a state-space basis) on `points`.
    pub fn new(inner: TanhBasis, points: &[Vec<f64>]) -> Result<Self> {
        let Some(enc) = inner.encoders.as_ref() else {
            return Err(Error::Unsupported("center_on needs a state-space basis".into()));
        };
        if points.is_empty() {
            return Err(Error::invalid("center_on", "[]", "at least one state"));
        }
        let mut offsets = vec![0.0; inner.theta.len()];
        let mut psi = vec![0.0; inner.theta.len()];
        for (k, p) in points.iter().enumerate() {
            check::same_len(&format!("center_on[{k}]"), enc.ncols(), p.len())?;
            check::all_finite(&format!("center_on[{k}]"), p)?;
            inner.evaluate_state(p, &mut psi);
            for (o, v) in offsets.iter_mut().zip(&psi) {
                *o += v;
            }
        }
        offsets.iter_mut().for_each(|o| *o /= points.len() as f64);
        Ok(Self { inner, offsets })
    }

    fn subtract(&self, psi: &mut [f64]) {
        for (p, o) in psi.iter_mut().zip(&self.offsets) {
            *p -= o;
        }
        if let Some(last) = psi.last_mut() {
            *last = 1.0;
        }
    }
}

impl Basis for Centered {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn n_inputs(&self) -> usize {
        self.inner.n_inputs()
    }
    fn drive_len(&self) -> usize {
        self.inner.drive_len()
    }
    fn on_spike(&self, k: usize, drive: &mut [f64]) {
        self.inner.on_spike(k, drive);
    }
    fn drive_from_traces(&self, r: &[f64], drive: &mut [f64]) {
        self.inner.drive_from_traces(r, drive);
    }
    fn evaluate(&self, r: &[f64], drive: &[f64], psi: &mut [f64]) {
        self.inner.evaluate(r, drive, psi);
        self.subtract(psi);
    }
    fn evaluate_at_state(&self, x: &[f64], psi: &mut [f64]) -> bool {
        let ok = self.inner.evaluate_at_state(x, psi);
        self.subtract(psi);
        ok
    }
}

impl From<BasisConfig> for ebn_core::Spec {
    fn from(config: BasisConfig) -> Self {
        ebn_core::Spec::tagged(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{SeedStreams, Stream};

    fn decoder(j: usize, n: usize) -> Mat<f64> {
        let mut rng = SeedStreams::new(1).rng(Stream::Decoder);
        Mat::from_fn(j, n, |_, _| rng.random_range(-0.1..0.1))
    }

    fn configs() -> [BasisConfig; 5] {
        [
            BasisConfig::Identity,
            BasisConfig::RandomTanh { n_basis: 17, weight_std: 0.3, bias: 1.0, fast_tanh: false },
            BasisConfig::RandomTanh { n_basis: 17, weight_std: 0.3, bias: 1.0, fast_tanh: true },
            BasisConfig::StateTanh {
                n_basis: 23,
                gain: 2.0,
                bias: 2.0,
                x_scale: Some(vec![1.0, 10.0]),
                encoders: Encoders::Unit,
                fast_tanh: false,
                center_on: None,
            },
            BasisConfig::StateTanh {
                n_basis: 23,
                gain: 1.0,
                bias: 2.0,
                x_scale: None,
                encoders: Encoders::Gaussian,
                fast_tanh: false,
                center_on: None,
            },
        ]
    }

    #[test]
    fn every_basis_conforms() {
        let d = decoder(2, 12);
        for cfg in configs() {
            let b = cfg.build(&d, &mut SeedStreams::new(4).rng(Stream::Basis)).unwrap();
            assert_eq!(b.len(), cfg.n_basis(12));
            ebn_core::conformance::basis(b.as_ref());
        }
    }

    /// A centred basis conforms; its features have zero mean over the centring states, the
    /// last is 1, and the others differ from the uncentred basis by constants only (the same
    /// encoders and offsets are drawn: centring consumes no random numbers).
    #[test]
    fn centred_features_have_zero_mean_on_their_states() {
        let d = decoder(2, 12);
        let points: Vec<Vec<f64>> = (0..50).map(|k| vec![(k as f64 * 0.37).sin(), (k as f64 * 0.11).cos()]).collect();
        let cfg = |center_on| BasisConfig::StateTanh {
            n_basis: 23,
            gain: 1.5,
            bias: 2.0,
            x_scale: None,
            encoders: Encoders::Unit,
            fast_tanh: true,
            center_on,
        };
        let centred = cfg(Some(points.clone())).build(&d, &mut SeedStreams::new(4).rng(Stream::Basis)).unwrap();
        let plain = cfg(None).build(&d, &mut SeedStreams::new(4).rng(Stream::Basis)).unwrap();
        ebn_core::conformance::basis(centred.as_ref());
        let (mut sum, mut psi, mut raw) = (vec![0.0; 23], vec![0.0; 23], vec![0.0; 23]);
        for p in &points {
            assert!(centred.evaluate_at_state(p, &mut psi));
            sum.iter_mut().zip(&psi).for_each(|(s, v)| *s += v);
        }
        assert!(sum[..22].iter().all(|s| s.abs() < 1e-12), "{sum:?}");
        assert_eq!(psi[22], 1.0);
        let shift: Vec<f64> = {
            plain.evaluate_at_state(&points[0], &mut raw);
            centred.evaluate_at_state(&points[0], &mut psi);
            raw.iter().zip(&psi).map(|(a, b)| a - b).collect()
        };
        for p in &points[1..] {
            plain.evaluate_at_state(p, &mut raw);
            centred.evaluate_at_state(p, &mut psi);
            for i in 0..22 {
                assert!((raw[i] - psi[i] - shift[i]).abs() < 1e-14);
            }
        }
        let bad = cfg(Some(vec![vec![0.0; 3]])).build(&d, &mut SeedStreams::new(4).rng(Stream::Basis));
        assert!(bad.unwrap_err().to_string().contains("center_on[0]"));
        assert!(cfg(Some(vec![])).build(&d, &mut SeedStreams::new(4).rng(Stream::Basis)).is_err());
    }

    #[test]
    fn encoder_draws_have_the_documented_norms() {
        // Unit: every row of M_x has norm gain / x_scale = 2. Gaussian (J = 2): the norms are
        // chi-distributed with 2 degrees of freedom, mean sqrt(pi / 2) = 1.2533, sd 0.655,
        // so over 4000 rows the sample mean is within 0.04 (4 standard errors).
        let d = decoder(2, 12);
        let draw = |encoders| {
            let b = TanhBasis::state_space(
                4000,
                2.0,
                1.0,
                &[1.0, 1.0],
                encoders,
                &d,
                &mut SeedStreams::new(9).rng(Stream::Basis),
            )
            .unwrap();
            let e = b.encoders.unwrap();
            (0..e.nrows()).map(|i| (e[(i, 0)].powi(2) + e[(i, 1)].powi(2)).sqrt()).collect::<Vec<f64>>()
        };
        assert!(draw(Encoders::Unit).iter().all(|n| (n - 2.0).abs() < 1e-12));
        let norms = draw(Encoders::Gaussian);
        let mean = norms.iter().sum::<f64>() / norms.len() as f64 / 2.0;
        assert!((mean - std::f64::consts::FRAC_PI_2.sqrt()).abs() < 0.04, "mean norm {mean}");
    }

    #[test]
    fn state_basis_is_a_function_of_the_readout() {
        let d = decoder(2, 12);
        let tb = TanhBasis::state_space(
            9,
            2.0,
            2.0,
            &[1.0, 1.0],
            Encoders::Unit,
            &d,
            &mut SeedStreams::new(4).rng(Stream::Basis),
        )
        .unwrap();
        let r: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin().abs()).collect();
        let mut drive = vec![0.0; 9];
        tb.drive_from_traces(&r, &mut drive);
        let mut psi = vec![0.0; 9];
        tb.evaluate(&r, &drive, &mut psi);
        let x_hat = ebn_core::coding::readout(&d, &r);
        let mut psi_x = vec![0.0; 9];
        tb.evaluate_state(&x_hat, &mut psi_x).unwrap();
        for (a, b) in psi.iter().zip(&psi_x) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let d = decoder(2, 5);
        for cfg in [
            BasisConfig::RandomTanh { n_basis: 0, weight_std: 1.0, bias: 1.0, fast_tanh: false },
            BasisConfig::RandomTanh { n_basis: 3, weight_std: f64::NAN, bias: 1.0, fast_tanh: false },
            BasisConfig::StateTanh {
                n_basis: 3,
                gain: -1.0,
                bias: 1.0,
                x_scale: None,
                encoders: Encoders::Unit,
                fast_tanh: false,
                center_on: None,
            },
            BasisConfig::StateTanh {
                n_basis: 3,
                gain: 1.0,
                bias: f64::INFINITY,
                x_scale: None,
                encoders: Encoders::Unit,
                fast_tanh: false,
                center_on: None,
            },
            BasisConfig::StateTanh {
                n_basis: 3,
                gain: 1.0,
                bias: 1.0,
                x_scale: Some(vec![1.0, 0.0]),
                encoders: Encoders::Unit,
                fast_tanh: false,
                center_on: None,
            },
        ] {
            let err = cfg.build(&d, &mut SeedStreams::new(0).rng(Stream::Basis)).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
        }
    }
}
