//! Saving and loading trained networks and training checkpoints.
//!
//! The library only turns values into bytes and back; writing files (atomically) is the
//! caller's business (xtask). Format, little-endian:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "EBNLEARN"
//! 8       4     format version (currently 3; versions 1 and 2 are read too)
//! 12      4     kind: 1 = trained network, 2 = training checkpoint
//! 16      8     payload length in bytes
//! 24      8     FNV-1a 64-bit hash of the payload
//! 32      ...   payload: bincode 2 (standard configuration) of the value
//! ```
//!
//! The experiment configuration inside the payload is stored as JSON text (serde's
//! internally tagged enums do not go through bincode), so a file also documents itself: it
//! names every component's kind and parameters. Loading rebuilds them through a registry
//! ([`TrainedNetwork::from_bytes_in`]); a kind the registry lacks (a fork's file read
//! without the fork) is an [`Error::UnknownKind`] naming it.
//!
//! Version 2 added the learning rule's own state to the training state (version 1 files
//! load with an empty one); version 3 the fraction of each trial's steps at the spike cap
//! (older files load with an empty list: those trials did not record it).
//! Loading checks, in order: length, magic, version, kind, payload length, hash, decoding,
//! and finally that the configuration builds and the weights fit the network. Every failure
//! is a typed [`Error`], never a panic.

use crate::builtins;
use crate::experiment::{ExperimentConfig, TrainedNetwork, TrainingState};
use ebn_core::{Error, Registry, Result, StoredWeights};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"EBNLEARN";
/// The file-format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;
const HEADER_LEN: usize = 32;
/// Upper bound on the payload a file may claim (1 GiB); larger claims are rejected before
/// any allocation.
const MAX_PAYLOAD: u64 = 1 << 30;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FileKind {
    /// A [`TrainedNetwork`].
    TrainedNetwork = 1,
    /// A training [`Checkpoint`].
    Checkpoint = 2,
}

/// A training run's state at a trial boundary: enough to resume it bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The experiment being trained.
    pub config: ExperimentConfig,
    /// Progress and learning curve.
    pub state: TrainingState,
    /// The slow weights after `state.trials_done` trials.
    pub weights: StoredWeights,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    config_json: String,
    state: TrainingState,
    weights: StoredWeights,
}

/// The training state of format version 1 (before rules had state).
#[derive(Serialize, Deserialize)]
struct TrainingStateV1 {
    trials_done: usize,
    learning_curve: Vec<f64>,
    redraws: usize,
}

#[derive(Serialize, Deserialize)]
struct PayloadV1 {
    config_json: String,
    state: TrainingStateV1,
    weights: StoredWeights,
}

impl From<PayloadV1> for Payload {
    fn from(p: PayloadV1) -> Self {
        let TrainingStateV1 { trials_done, learning_curve, redraws } = p.state;
        let state = TrainingStateV2 { trials_done, learning_curve, redraws, rule_state: Vec::new() };
        PayloadV2 { config_json: p.config_json, state, weights: p.weights }.into()
    }
}

/// The training state of format version 2 (before the spike-cap fraction).
#[derive(Serialize, Deserialize)]
struct TrainingStateV2 {
    trials_done: usize,
    learning_curve: Vec<f64>,
    redraws: usize,
    rule_state: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct PayloadV2 {
    config_json: String,
    state: TrainingStateV2,
    weights: StoredWeights,
}

impl From<PayloadV2> for Payload {
    fn from(p: PayloadV2) -> Self {
        let TrainingStateV2 { trials_done, learning_curve, redraws, rule_state } = p.state;
        Self {
            config_json: p.config_json,
            state: TrainingState { trials_done, learning_curve, redraws, rule_state, capped_fraction: Vec::new() },
            weights: p.weights,
        }
    }
}

/// The header's checksum of a payload: FNV-1a, 64 bits (public so that tools can build
/// test files, e.g. the fuzzer's payload mutations with a valid header).
pub fn payload_checksum(bytes: &[u8]) -> u64 {
    ebn_core::hash::fnv1a64(bytes)
}

fn encode(
    kind: FileKind,
    config: &ExperimentConfig,
    state: &TrainingState,
    weights: &StoredWeights,
) -> Result<Vec<u8>> {
    let config_json =
        serde_json::to_string(config).map_err(|e| Error::Corrupt(format!("encoding the configuration: {e}")))?;
    let payload = Payload { config_json, state: state.clone(), weights: weights.clone() };
    let body = bincode::serde::encode_to_vec(&payload, bincode::config::standard())
        .map_err(|e| Error::Corrupt(format!("encoding: {e}")))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(kind as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload_checksum(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a payload with an allocation limit proportional to its size: a container that
/// claims more elements than the bytes could hold is refused before it is allocated. A
/// decoded value takes at most ~24x its encoding in memory (a `Vec` header per encoded
/// length byte), so the limit is 32x the body, rounded up to a power-of-two tier (bincode
/// takes the limit as a constant).
fn decode_payload<P: serde::de::DeserializeOwned>(
    body: &[u8],
) -> std::result::Result<(P, usize), bincode::error::DecodeError> {
    use bincode::config::standard;
    use bincode::serde::decode_from_slice;
    match body.len() {
        0..=0x1_0000 => decode_from_slice(body, standard().with_limit::<{ 32 << 16 }>()),
        0x1_0001..=0x10_0000 => decode_from_slice(body, standard().with_limit::<{ 32 << 20 }>()),
        0x10_0001..=0x200_0000 => decode_from_slice(body, standard().with_limit::<{ 32 << 25 }>()),
        _ => decode_from_slice(body, standard().with_limit::<{ 32 << 30 }>()),
    }
}

fn decode(bytes: &[u8], kind: FileKind) -> Result<(ExperimentConfig, TrainingState, StoredWeights)> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::Corrupt(format!("{} bytes is shorter than the {HEADER_LEN}-byte header", bytes.len())));
    }
    if &bytes[0..8] != MAGIC {
        return Err(Error::Corrupt("not an ebn-learn file (bad magic bytes)".into()));
    }
    let word = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let long = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let version = word(8);
    if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(Error::Version { found: version, supported: FORMAT_VERSION });
    }
    let found_kind = word(12);
    if found_kind != kind as u32 {
        return Err(Error::Corrupt(format!("file holds kind {found_kind}, expected {} ({kind:?})", kind as u32)));
    }
    let len = long(16);
    if len > MAX_PAYLOAD || len != (bytes.len() - HEADER_LEN) as u64 {
        return Err(Error::Corrupt(format!(
            "header claims a {len}-byte payload, the file holds {} (truncated or corrupt)",
            bytes.len() - HEADER_LEN
        )));
    }
    let body = &bytes[HEADER_LEN..];
    if payload_checksum(body) != long(24) {
        return Err(Error::Corrupt("checksum mismatch (the file was modified or damaged)".into()));
    }
    let decoded = match version {
        1 => decode_payload::<PayloadV1>(body).map(|(p, used)| (Payload::from(p), used)),
        2 => decode_payload::<PayloadV2>(body).map(|(p, used)| (Payload::from(p), used)),
        _ => decode_payload::<Payload>(body),
    };
    let (payload, used) = decoded.map_err(|e| Error::Corrupt(format!("decoding: {e}")))?;
    if used != body.len() {
        return Err(Error::Corrupt(format!("{} trailing bytes after the payload", body.len() - used)));
    }
    let config: ExperimentConfig =
        serde_json::from_str(&payload.config_json).map_err(|e| Error::Corrupt(format!("stored configuration: {e}")))?;
    Ok((config, payload.state, payload.weights))
}

impl TrainedNetwork {
    /// The file representation (see the module documentation).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(FileKind::TrainedNetwork, &self.config, &self.training, &self.weights)
    }

    /// Reads a trained network, checking the header, the hash, and that the weights fit the
    /// network its configuration builds with the built-in components.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes_in(bytes, builtins())
    }

    /// [`TrainedNetwork::from_bytes`] with the components built through `registry` (a
    /// fork's files need the fork's registry).
    pub fn from_bytes_in(bytes: &[u8], registry: &Registry) -> Result<Self> {
        let (config, training, weights) = decode(bytes, FileKind::TrainedNetwork)?;
        let trained = Self { config, weights, training };
        trained.network_in(registry)?;
        Ok(trained)
    }
}

impl Checkpoint {
    /// The file representation (see the module documentation).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(FileKind::Checkpoint, &self.config, &self.state, &self.weights)
    }

    /// Reads a checkpoint, with the same checks as [`TrainedNetwork::from_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes_in(bytes, builtins())
    }

    /// Reads a checkpoint's header, hash and payload, without building its network: for a
    /// caller that compares its configuration with an experiment it has built and then
    /// resumes it there ([`crate::Experiment::resume`] checks the weights and the rule's
    /// state against the network it builds). The command line's `run` does, so that a run
    /// builds one network, resumed or not.
    pub fn read(bytes: &[u8]) -> Result<Self> {
        let (config, state, weights) = decode(bytes, FileKind::Checkpoint)?;
        Ok(Self { config, state, weights })
    }

    /// [`Checkpoint::from_bytes`] with the components built through `registry`.
    pub fn from_bytes_in(bytes: &[u8], registry: &Registry) -> Result<Self> {
        let (config, state, weights) = decode(bytes, FileKind::Checkpoint)?;
        // The same checks as a trained network's (a configuration that replays a recording
        // is checked without it).
        TrainedNetwork { config: config.clone(), weights: weights.clone(), training: state.clone() }
            .network_in(registry)?;
        Ok(Self { config, state, weights })
    }
}
