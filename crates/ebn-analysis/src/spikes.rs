//! Spike-train statistics: irregularity (ISI CV), trial-to-trial variability (Fano factor),
//! and the reliability of the readout across trials.

use ebn_core::{Error, Result, SpikeTrain, Trace};

/// A per-neuron statistic with the neurons that did not qualify counted, not hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct PerNeuron {
    /// The value for each neuron, `None` where it is undefined (too few spikes).
    pub values: Vec<Option<f64>>,
    /// Number of neurons without a value.
    pub excluded: usize,
    /// Median over the neurons with a value.
    pub median: f64,
}

/// Median of a non-empty sample of finite numbers.
pub fn median(values: &[f64]) -> Result<f64> {
    if values.is_empty() {
        return Err(Error::degenerate("median", "no values"));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::degenerate("median", "non-finite values"));
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Ok(if v.len() % 2 == 1 { v[m] } else { 0.5 * (v[m - 1] + v[m]) })
}

fn per_neuron(values: Vec<Option<f64>>, quantity: &str) -> Result<PerNeuron> {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    if defined.is_empty() {
        return Err(Error::degenerate(quantity, "no neuron has enough spikes"));
    }
    Ok(PerNeuron { excluded: values.len() - defined.len(), median: median(&defined)?, values })
}

/// Coefficient of variation of the inter-spike intervals of each neuron, std(ISI) / mean(ISI)
/// (population standard deviation). Neurons with fewer than `min_spikes` spikes (at least 3,
/// i.e. two intervals) are excluded and counted. A Poisson train has CV 1, a regular one 0.
pub fn isi_cv(spikes: &SpikeTrain, min_spikes: usize) -> Result<PerNeuron> {
    let min_spikes = min_spikes.max(3);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); spikes.n];
    for (t, i) in spikes.times.iter().zip(&spikes.neurons) {
        times[*i as usize].push(*t);
    }
    let values = times
        .iter()
        .map(|ts| {
            if ts.len() < min_spikes {
                return None;
            }
            let isi: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = isi.iter().sum::<f64>() / isi.len() as f64;
            let var = isi.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isi.len() as f64;
            (mean > 0.0).then(|| var.sqrt() / mean)
        })
        .collect();
    per_neuron(values, "ISI CV")
}

/// Local irregularity CV2 of each neuron (Holt, Softky, Koch & Douglas 1996, J Neurophysiol
/// 75:1806): the mean over successive interval pairs of 2 |I_(k+1) - I_k| / (I_(k+1) + I_k).
/// Unlike the CV it compares only neighbouring intervals, so slow changes of rate (a
/// command that modulates the firing) do not count as irregularity. Poisson trains have
/// CV2 1, regular ones 0. Neurons with fewer than `min_spikes` spikes (at least 3, i.e. one
/// interval pair) are excluded and counted.
pub fn isi_cv2(spikes: &SpikeTrain, min_spikes: usize) -> Result<PerNeuron> {
    let min_spikes = min_spikes.max(3);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); spikes.n];
    for (t, i) in spikes.times.iter().zip(&spikes.neurons) {
        times[*i as usize].push(*t);
    }
    let values = times
        .iter()
        .map(|ts| {
            if ts.len() < min_spikes {
                return None;
            }
            let isi: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            let pairs: Vec<f64> = isi
                .windows(2)
                .filter(|w| w[0] + w[1] > 0.0)
                .map(|w| 2.0 * (w[1] - w[0]).abs() / (w[1] + w[0]))
                .collect();
            (!pairs.is_empty()).then(|| pairs.iter().sum::<f64>() / pairs.len() as f64)
        })
        .collect();
    per_neuron(values, "ISI CV2")
}

/// Fano factor of each neuron's spike count across repeated trials: the counts in windows
/// of `window` seconds over `duration` seconds; in each window, variance across trials
/// (unbiased, n - 1) / mean across trials; averaged over the windows where the mean count is
/// positive. Neurons that never fire are excluded and counted. Needs >= 2 trials. A Poisson
/// process has Fano factor 1; identical trials have 0.
pub fn fano_factors(trials: &[SpikeTrain], window: f64, duration: f64) -> Result<PerNeuron> {
    if trials.len() < 2 {
        return Err(Error::degenerate("Fano factor", "fewer than 2 trials"));
    }
    if !(window > 0.0 && duration >= window && duration.is_finite()) {
        return Err(Error::invalid("window", window, format!("0 < window <= duration = {duration}")));
    }
    let n = trials[0].n;
    if let Some(t) = trials.iter().find(|t| t.n != n) {
        return Err(Error::dimension("trial population", n, t.n));
    }
    let bins = (duration / window).floor() as usize;
    // counts[trial][neuron * bins + bin]
    let counts: Vec<Vec<f64>> = trials
        .iter()
        .map(|tr| {
            let mut c = vec![0.0; n * bins];
            for (t, i) in tr.times.iter().zip(&tr.neurons) {
                let b = (t / window).floor();
                if b >= 0.0 && (b as usize) < bins {
                    c[*i as usize * bins + b as usize] += 1.0;
                }
            }
            c
        })
        .collect();
    let k = trials.len() as f64;
    let values = (0..n)
        .map(|i| {
            let mut fanos = Vec::new();
            for b in 0..bins {
                let xs = counts.iter().map(|c| c[i * bins + b]);
                let mean = xs.clone().sum::<f64>() / k;
                if mean > 0.0 {
                    let var = xs.map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
                    fanos.push(var / mean);
                }
            }
            (!fanos.is_empty()).then(|| fanos.iter().sum::<f64>() / fanos.len() as f64)
        })
        .collect();
    per_neuron(values, "Fano factor")
}

/// Trial-to-trial variability of the readout: at each sample, the standard deviation of
/// x_hat across trials (unbiased, pooled over components); averaged over samples (RMS).
/// Needs >= 2 trials of equal shape.
pub fn readout_trial_sd(trials: &[Trace]) -> Result<f64> {
    if trials.len() < 2 {
        return Err(Error::degenerate("readout trial-to-trial SD", "fewer than 2 trials"));
    }
    let (dim, len) = (trials[0].dim, trials[0].data.len());
    if let Some(t) = trials.iter().find(|t| t.dim != dim || t.data.len() != len) {
        return Err(Error::dimension("trial length", len, t.data.len()));
    }
    if len == 0 {
        return Err(Error::degenerate("readout trial-to-trial SD", "empty traces"));
    }
    let k = trials.len() as f64;
    let mut total = 0.0;
    for idx in 0..len {
        let mean = trials.iter().map(|t| t.data[idx]).sum::<f64>() / k;
        total += trials.iter().map(|t| (t.data[idx] - mean).powi(2)).sum::<f64>() / (k - 1.0);
    }
    let sd = (total / len as f64).sqrt();
    if sd.is_finite() { Ok(sd) } else { Err(Error::degenerate("readout trial-to-trial SD", "non-finite traces")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebn_core::{SeedStreams, Stream};
    use rand::RngExt;

    /// A Poisson train of `rate` Hz for `duration` s per neuron (exponential intervals).
    fn poisson(n: usize, rate: f64, duration: f64, seed: u64) -> SpikeTrain {
        let mut rng = SeedStreams::new(seed).rng(Stream::Noise);
        let mut events = Vec::new();
        for i in 0..n {
            let mut t = 0.0;
            loop {
                t += -(1.0 - rng.random::<f64>()).ln() / rate;
                if t >= duration {
                    break;
                }
                events.push((t, i));
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut s = SpikeTrain::new(n);
        events.into_iter().for_each(|(t, i)| s.push(t, i));
        s
    }

    #[test]
    fn poisson_trains_have_cv_and_fano_one() {
        // 20 neurons x 100 s x 20 Hz: 2000 intervals per neuron, so each CV has a standard
        // error of ~1/sqrt(2000) = 2.2 %; the median of 20 is within 5 % with a wide margin.
        let s = poisson(20, 20.0, 100.0, 1);
        let cv = isi_cv(&s, 3).unwrap();
        assert_eq!(cv.excluded, 0);
        assert!((cv.median - 1.0).abs() < 0.05, "{}", cv.median);
        // 100 trials, 10 windows of 1 s: each window's Fano has a standard error of
        // sqrt(2 / 99) = 14 %; averaged over 10 windows 4.5 %; median over 20 neurons: 10 %.
        let trials: Vec<SpikeTrain> = (0..100).map(|k| poisson(20, 20.0, 10.0, 100 + k)).collect();
        let fano = fano_factors(&trials, 1.0, 10.0).unwrap();
        assert!((fano.median - 1.0).abs() < 0.1, "{}", fano.median);
    }

    #[test]
    fn cv2_is_one_for_poisson_and_ignores_slow_rate_changes() {
        // Poisson: E[2|I2 - I1| / (I1 + I2)] = 1 for independent exponential intervals;
        // 2000 pairs per neuron, median over 20 within 5 %.
        let cv2 = isi_cv2(&poisson(20, 20.0, 100.0, 2), 3).unwrap();
        assert!((cv2.median - 1.0).abs() < 0.05, "{}", cv2.median);
        // A regular train whose rate jumps from 10 to 40 Hz halfway: CV ~0.6 (a rate change
        // looks like irregularity), CV2 ~0.02 (one interval pair in 250 differs).
        let mut s = SpikeTrain::new(1);
        let mut t = 0.0;
        for k in 0..250 {
            t += if k < 50 { 0.1 } else { 0.025 };
            s.push(t, 0);
        }
        let (cv, cv2) = (isi_cv(&s, 3).unwrap().median, isi_cv2(&s, 3).unwrap().median);
        assert!(cv > 0.5, "CV {cv}");
        assert!(cv2 < 0.02, "CV2 {cv2}");
    }

    #[test]
    fn regular_and_identical_trains_have_zero_variability() {
        let mut s = SpikeTrain::new(2);
        for k in 0..50 {
            s.push(0.1 * k as f64, 0);
        }
        s.push(0.5, 1);
        let cv = isi_cv(&s, 3).unwrap();
        assert!(cv.values[0].unwrap().abs() < 1e-9);
        assert_eq!((cv.values[1], cv.excluded), (None, 1));
        let fano = fano_factors(&[s.clone(), s.clone(), s], 1.0, 5.0).unwrap();
        assert_eq!(fano.values[0], Some(0.0));
        let x = Trace { dim: 1, data: vec![1.0, 2.0, 3.0] };
        assert_eq!(readout_trial_sd(&[x.clone(), x]).unwrap(), 0.0);
    }

    #[test]
    fn readout_sd_known_answer() {
        let a = Trace { dim: 1, data: vec![0.0, 0.0] };
        let b = Trace { dim: 1, data: vec![2.0, 2.0] };
        // Two trials differing by 2: unbiased variance 2, SD sqrt 2.
        assert!((readout_trial_sd(&[a, b]).unwrap() - 2f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert!(isi_cv(&SpikeTrain::new(3), 3).is_err());
        assert!(fano_factors(&[SpikeTrain::new(3)], 1.0, 2.0).is_err());
        assert!(fano_factors(&[SpikeTrain::new(3), SpikeTrain::new(3)], 1.0, 2.0).is_err());
        assert!(fano_factors(&[SpikeTrain::new(3), SpikeTrain::new(2)], 1.0, 2.0).is_err());
        assert!(readout_trial_sd(&[Trace { dim: 1, data: vec![1.0] }]).is_err());
        assert!(median(&[]).is_err());
    }
}
