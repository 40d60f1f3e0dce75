//! Seeds: one master seed, one independent random stream per purpose.
//!
//! Every random number in the workspace comes from a [`Rng`] (ChaCha8, a portable, named
//! algorithm: the same seed gives the same numbers on every platform and version of this
//! crate) obtained from [`SeedStreams`]. Streams are derived from the master seed and a
//! [`Stream`] purpose (and, for repeated objects such as trials, an index), so that adding a
//! noise source, or drawing a fresh test command, never shifts the decoder or the basis.
//! There is no global or OS-seeded generator anywhere in the library crates (clippy's
//! `disallowed-methods` enforces it).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The random number generator used everywhere.
pub type Rng = ChaCha8Rng;

/// The purpose a random stream serves. Each purpose is a separate ChaCha stream of the same
/// key, so streams never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// The decoder matrix D.
    Decoder,
    /// The random basis (M, theta).
    Basis,
    /// Membrane noise.
    Noise,
    /// The command signal c(t) (indexed by trial).
    Command,
    /// Initial states of the teacher (indexed by trial).
    InitialState,
    /// Perturbations (indexed by perturbation).
    Perturbation,
    /// Random slow weights used in tests and benchmarks.
    Weights,
    /// Initial states of the neuron model (indexed by trial or test).
    NeuronState,
    /// Perturbations declared in an experiment file (indexed by run and perturbation).
    Scheduled,
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Self::Decoder => 1,
            Self::Basis => 2,
            Self::Noise => 3,
            Self::Command => 4,
            Self::InitialState => 5,
            Self::Perturbation => 6,
            Self::Weights => 7,
            Self::NeuronState => 8,
            Self::Scheduled => 9,
        }
    }
}

/// Derives independent generators from one master seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedStreams {
    master: u64,
}

impl SeedStreams {
    /// Streams derived from `master`.
    pub fn new(master: u64) -> Self {
        Self { master }
    }

    /// The master seed.
    pub fn master(&self) -> u64 {
        self.master
    }

    /// The generator for `stream` (index 0).
    pub fn rng(&self, stream: Stream) -> Rng {
        self.indexed(stream, 0)
    }

    /// The generator for the `index`-th object of purpose `stream` (trial, perturbation...).
    ///
    /// The ChaCha key is a SplitMix64 hash of (master, index); the purpose selects the ChaCha
    /// stream. Distinct (purpose, index) pairs give independent sequences.
    pub fn indexed(&self, stream: Stream, index: u64) -> Rng {
        self.keyed(stream.id(), index)
    }

    /// A stream of a fork's own, named by a string (`"duffing.jitter"`): its ChaCha stream
    /// number is a hash of the name with the top bit set, so it never coincides with a
    /// built-in [`Stream`] (whose numbers are small), and adding one shifts no other stream.
    pub fn named(&self, name: &str, index: u64) -> Rng {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        self.keyed(hash | (1 << 63), index)
    }

    fn keyed(&self, stream_id: u64, index: u64) -> Rng {
        let key = splitmix64(self.master ^ splitmix64(index.wrapping_add(0x5EED)));
        let mut rng = ChaCha8Rng::seed_from_u64(key);
        rng.set_stream(stream_id);
        rng
    }
}

/// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective mixing of 64 bits.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn first(mut rng: Rng) -> [u64; 4] {
        std::array::from_fn(|_| rng.random::<u64>())
    }

    #[test]
    fn same_seed_same_numbers() {
        let s = SeedStreams::new(7);
        assert_eq!(first(s.rng(Stream::Decoder)), first(SeedStreams::new(7).rng(Stream::Decoder)));
    }

    #[test]
    fn purposes_and_indices_are_independent() {
        let s = SeedStreams::new(7);
        let all = [
            first(s.rng(Stream::Decoder)),
            first(s.rng(Stream::Basis)),
            first(s.rng(Stream::Noise)),
            first(s.indexed(Stream::Command, 0)),
            first(s.indexed(Stream::Command, 1)),
            first(SeedStreams::new(8).rng(Stream::Decoder)),
            first(s.named("fork.jitter", 0)),
            first(s.named("fork.other", 0)),
            first(s.rng(Stream::NeuronState)),
            first(s.rng(Stream::Scheduled)),
        ];
        for i in 0..all.len() {
            for j in 0..i {
                assert_ne!(all[i], all[j], "streams {i} and {j} coincide");
            }
        }
    }
}
