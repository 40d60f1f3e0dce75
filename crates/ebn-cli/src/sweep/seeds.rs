//! The seeds of a grid's points: listed, or derived from a master seed and the point's
//! values (module docs of [`crate::sweep`]).

use super::point::value_text;
use ebn_network::core::hash::fnv1a64;

/// The seeds of every point.
#[derive(Debug, Clone, PartialEq)]
pub enum Seeds {
    /// These master seeds, one point each.
    List(Vec<u64>),
    /// `count` replicates with seeds derived from `master` and the point's values.
    Replicates {
        /// The master seed.
        master: u64,
        /// Replicates per point of the axes.
        count: u64,
    },
}

/// The seed of replicate `replicate` of the point with these values, from `master`.
pub fn derived_seed(master: u64, params: &[(String, toml::Value)], replicate: usize) -> u64 {
    let key = format!("{master}|{}|{replicate}", assignments(params));
    ebn_network::core::seed::splitmix64(fnv1a64(key.as_bytes()))
}

/// `a=1;b="x"`: a point's values in canonical TOML form.
fn assignments(params: &[(String, toml::Value)]) -> String {
    params.iter().map(|(p, v)| format!("{p}={}", value_text(v))).collect::<Vec<_>>().join(";")
}
