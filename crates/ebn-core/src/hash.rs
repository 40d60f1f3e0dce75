//! FNV-1a, 64 bits: the one non-cryptographic hash of the project (data file digests, the
//! checksum of saved networks and checkpoints, sweep hashes and derived seeds).
//!
//! FNV-1a (Fowler, Noll, Vo) starts from the offset basis 0xcbf29ce484222325 and, for each
//! byte b in order, sets `h = (h XOR b) * 0x100000001b3` (the 64-bit FNV prime,
//! 2^40 + 2^8 + 0xb3), modulo 2^64. Its values are part of file formats: never change them.

/// The FNV-1a 64-bit offset basis (the hash of no bytes).
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// The 64-bit FNV prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits, of `bytes` (module docs).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a::new();
    h.update(bytes);
    h.finish()
}

/// FNV-1a, 64 bits, fed piece by piece: the hash of the concatenation of what
/// [`Fnv1a::update`] was given, equal to [`fnv1a64`] of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a {
    /// A hasher that has seen no bytes.
    pub const fn new() -> Self {
        Self(OFFSET_BASIS)
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    }

    /// The hash of every byte fed so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published FNV-1a 64-bit test vectors.
    #[test]
    fn published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// Hashing in pieces is hashing the whole.
    #[test]
    fn pieces_hash_as_the_whole() {
        let mut h = Fnv1a::default();
        h.update(b"foo");
        h.update(b"");
        h.update(b"bar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
    }
}
