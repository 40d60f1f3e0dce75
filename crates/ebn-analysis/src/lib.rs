#![doc = include_str!("../README.md")]

pub mod attractor;
mod dynamics;
mod spikes;
mod vector_field;

pub use attractor::{AttractorComparison, AttractorStats};
pub use dynamics::{
    Measure, TestAnalysis, analyse, damped_oscillation, lobe_switches, period_and_amplitude, pooled_std, register,
    upward_crossings,
};
use ebn_core::{Error, Result, SpikeTrain, Trace};
pub use spikes::{PerNeuron, fano_factors, isi_cv, isi_cv2, median, readout_trial_sd};
pub use vector_field::learned_vector_field;

fn check_pair(x: &Trace, x_hat: &Trace) -> Result<()> {
    if x.dim != x_hat.dim {
        return Err(Error::dimension("x_hat.dim", x.dim, x_hat.dim));
    }
    if x.len() != x_hat.len() {
        return Err(Error::dimension("x_hat.len", x.len(), x_hat.len()));
    }
    if x.is_empty() {
        return Err(Error::degenerate("error of an empty trace", "no samples"));
    }
    if x.data.iter().chain(&x_hat.data).any(|v| !v.is_finite()) {
        return Err(Error::degenerate("error", "the traces contain non-finite values"));
    }
    Ok(())
}

/// Normalised root-mean-square error, pooled over the J components:
///
/// ```text
/// NRMSE = sqrt( sum_k ||x_k - x_hat_k||^2 / sum_k ||x_k - mean(x)||^2 )
/// ```
///
/// i.e. RMSE(x - x_hat) / std(x) with both taken over all samples and components. 0 is
/// perfect; 1 is as bad as predicting the mean. Errors if x is constant.
pub fn nrmse(x: &Trace, x_hat: &Trace) -> Result<f64> {
    check_pair(x, x_hat)?;
    let n = x.len() as f64;
    let mean: Vec<f64> = (0..x.dim).map(|j| x.samples().map(|s| s[j]).sum::<f64>() / n).collect();
    let mut err = 0.0;
    let mut var = 0.0;
    for (a, b) in x.samples().zip(x_hat.samples()) {
        for j in 0..x.dim {
            err += (a[j] - b[j]).powi(2);
            var += (a[j] - mean[j]).powi(2);
        }
    }
    if var == 0.0 {
        return Err(Error::degenerate("NRMSE", "the target is constant (zero variance)"));
    }
    Ok((err / var).sqrt())
}

/// The learning-curve error of one trial: sum_k ||x_k - x_hat_k||^2 / sum_k ||x_k||^2.
pub fn normalised_error(x: &Trace, x_hat: &Trace) -> Result<f64> {
    check_pair(x, x_hat)?;
    let err: f64 = x.data.iter().zip(&x_hat.data).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = x.data.iter().map(|a| a * a).sum();
    if norm == 0.0 {
        return Err(Error::degenerate("normalised error", "the target is identically zero"));
    }
    Ok(err / norm)
}

fn check_duration(duration: f64) -> Result<()> {
    if duration.is_finite() && duration > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("duration", duration, "a finite duration > 0 s"))
    }
}

/// Firing rate of every neuron (Hz) over a run of `duration` seconds.
pub fn firing_rates(spikes: &SpikeTrain, duration: f64) -> Result<Vec<f64>> {
    check_duration(duration)?;
    Ok(spikes.counts().into_iter().map(|c| c as f64 / duration).collect())
}

/// Spikes per second of the whole population (Hz).
pub fn population_rate(spikes: &SpikeTrain, duration: f64) -> Result<f64> {
    check_duration(duration)?;
    Ok(spikes.len() as f64 / duration)
}

/// Mean firing rate per neuron (Hz).
pub fn mean_rate(spikes: &SpikeTrain, duration: f64) -> Result<f64> {
    if spikes.n == 0 {
        return Err(Error::degenerate("mean rate", "the population is empty"));
    }
    Ok(population_rate(spikes, duration)? / spikes.n as f64)
}

/// Fraction of the `steps` steps of a run (time step `dt`) whose spike count reached `cap`,
/// the most the spike policy allows per step (1 for the paper's rule). Spikes carry the end
/// time of their step, t = (n + 1) dt, so the step of a spike is round(t / dt) - 1.
pub fn capped_fraction(spikes: &SpikeTrain, dt: f64, steps: u64, cap: usize) -> Result<f64> {
    if steps == 0 || dt.is_nan() || dt <= 0.0 {
        return Err(Error::degenerate("capped fraction", "a run of no steps"));
    }
    let (mut capped, mut run, mut last) = (0u64, 0usize, None);
    for t in &spikes.times {
        let step = (t / dt).round() as u64;
        if Some(step) == last {
            run += 1;
        } else {
            last = Some(step);
            run = 1;
        }
        capped += u64::from(run == cap);
    }
    Ok(capped as f64 / steps as f64)
}

/// Pearson correlation of two equal-length samples (e.g. learned and closed-form weights,
/// entry by entry).
pub fn correlation(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::dimension("correlation samples", a.len(), b.len()));
    }
    if a.len() < 2 {
        return Err(Error::degenerate("correlation", "fewer than 2 samples"));
    }
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 || !(saa * sbb).is_finite() {
        return Err(Error::degenerate("correlation", "a sample is constant or not finite"));
    }
    Ok(sab / (saa * sbb).sqrt())
}

#[cfg(test)]
mod tests {
    #[test]
    fn capped_fraction_counts_steps_at_the_cap() {
        // 10 steps of 1 ms; spikes at the ends of steps 0, 0, 3, 5, 5, 5.
        let spikes =
            SpikeTrain { n: 4, times: vec![1e-3, 1e-3, 4e-3, 6e-3, 6e-3, 6e-3], neurons: vec![0, 1, 2, 0, 1, 3] };
        assert_eq!(super::capped_fraction(&spikes, 1e-3, 10, 1).unwrap(), 0.3);
        assert_eq!(super::capped_fraction(&spikes, 1e-3, 10, 2).unwrap(), 0.2);
        assert_eq!(super::capped_fraction(&spikes, 1e-3, 10, 3).unwrap(), 0.1);
        assert!(super::capped_fraction(&spikes, 1e-3, 0, 1).is_err());
    }

    use super::*;

    fn trace(values: &[f64]) -> Trace {
        Trace { dim: 1, data: values.to_vec() }
    }

    #[test]
    fn nrmse_known_answers() {
        let x = trace(&[1.0, -1.0, 1.0, -1.0]);
        assert_eq!(nrmse(&x, &x).unwrap(), 0.0);
        // Predicting the mean (0) gives exactly 1.
        assert_eq!(nrmse(&x, &trace(&[0.0; 4])).unwrap(), 1.0);
        // A constant offset of 0.5 against a unit std: 0.5.
        assert_eq!(nrmse(&x, &trace(&[1.5, -0.5, 1.5, -0.5])).unwrap(), 0.5);
        assert_eq!(normalised_error(&x, &trace(&[0.0; 4])).unwrap(), 1.0);
    }

    #[test]
    fn degenerate_input_is_an_error() {
        assert!(nrmse(&trace(&[1.0, 1.0]), &trace(&[1.0, 1.0])).is_err());
        assert!(nrmse(&trace(&[]), &trace(&[])).is_err());
        assert!(nrmse(&trace(&[1.0, 2.0]), &trace(&[1.0])).is_err());
        assert!(nrmse(&trace(&[1.0, f64::NAN]), &trace(&[1.0, 2.0])).is_err());
        assert!(normalised_error(&trace(&[0.0]), &trace(&[1.0])).is_err());
        assert!(mean_rate(&SpikeTrain::new(0), 1.0).is_err());
        assert!(population_rate(&SpikeTrain::new(3), 0.0).is_err());
    }

    #[test]
    fn correlation_known_answers() {
        assert!((correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-15);
        assert!((correlation(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(correlation(&[1.0, -1.0, 1.0, -1.0], &[1.0, 1.0, -1.0, -1.0]).unwrap(), 0.0);
        assert!(correlation(&[1.0, 1.0], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn rates() {
        let mut s = SpikeTrain::new(2);
        for k in 0..10 {
            s.push(k as f64 * 0.1, k % 2);
        }
        s.push(0.95, 0);
        assert_eq!(firing_rates(&s, 2.0).unwrap(), vec![3.0, 2.5]);
        assert_eq!(population_rate(&s, 2.0).unwrap(), 5.5);
        assert_eq!(mean_rate(&s, 2.0).unwrap(), 2.75);
    }
}
