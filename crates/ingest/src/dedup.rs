//! Which record versions are already stored: a bounded in-process memory.
//!
//! This is an optimisation and the source of the `duplicates` count, not the guarantee: the
//! guarantee is that statistics count each (force, crime_ref) once at its highest version, so
//! a duplicate that slips past this memory (after a restart, or beyond its capacity) is stored
//! again and changes no count. Identities enter the memory only after their batch is stored,
//! so a batch abandoned on a rebalance or a crash never marks its records as seen.

use std::collections::HashSet;

use model::CrimeRecord;
use sha2::{Digest, Sha256};

/// A 128-bit digest of (force, crime_ref, version).
pub type Identity = u128;

/// The identity of a record version.
pub fn identity(record: &CrimeRecord) -> Identity {
    let mut hasher = Sha256::new();
    hasher.update(record.force.as_str().as_bytes());
    hasher.update([0x1f]);
    hasher.update(record.crime_ref.as_str().as_bytes());
    hasher.update([0x1f]);
    hasher.update(record.version.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// Two generations of identities; when the current one is full it becomes the previous one,
/// so memory stays within `2 × capacity` identities (16 bytes each plus the set's overhead).
///
/// The generation forgotten on a turn is emptied and reused as the new current one, keeping
/// its table: once both generations have filled, remembering allocates nothing, so a
/// long-running ingest does not fragment its heap with tables built and freed every turn.
#[derive(Debug)]
pub struct SeenVersions {
    current: HashSet<Identity>,
    previous: HashSet<Identity>,
    capacity: usize,
}

impl SeenVersions {
    /// A memory of about `capacity` to `2 × capacity` identities.
    pub fn new(capacity: usize) -> Self {
        Self {
            current: HashSet::new(),
            previous: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Whether `identity` was stored.
    pub fn contains(&self, identity: Identity) -> bool {
        self.current.contains(&identity) || self.previous.contains(&identity)
    }

    /// Remembers identities whose batch was stored.
    pub fn remember(&mut self, identities: impl IntoIterator<Item = Identity>) {
        for identity in identities {
            if self.current.len() >= self.capacity {
                std::mem::swap(&mut self.previous, &mut self.current);
                self.current.clear();
            }
            self.current.insert(identity);
        }
    }

    /// Identities remembered now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_bounded_and_keeps_the_recent_generation() {
        let mut seen = SeenVersions::new(3);
        seen.remember([1, 2, 3]);
        assert!(seen.contains(1) && seen.contains(3));
        seen.remember([4]);
        assert!(
            seen.contains(1),
            "the previous generation is still consulted"
        );
        seen.remember([5, 6, 7]);
        assert!(!seen.contains(1), "the oldest generation is forgotten");
        assert!(seen.contains(7) && seen.len() <= 6);
    }

    #[test]
    fn turns_reuse_the_two_tables_once_both_have_filled() {
        let mut seen = SeenVersions::new(1_000);
        seen.remember(0..2_000);
        let mut tables = [seen.current.capacity(), seen.previous.capacity()];
        tables.sort_unstable();
        assert!(
            tables[0] >= 1_000,
            "both generations have filled: {tables:?}"
        );
        for turn in 2..12u128 {
            seen.remember([turn * 1_000]);
            assert_eq!(seen.current.len(), 1, "turn {turn} began a new generation");
            assert!(
                seen.current.capacity() >= 1_000,
                "turn {turn} reuses a full-size table instead of growing a new one"
            );
            seen.remember(turn * 1_000 + 1..(turn + 1) * 1_000);
            let mut now = [seen.current.capacity(), seen.previous.capacity()];
            now.sort_unstable();
            assert_eq!(now, tables, "turn {turn} allocated a new table");
            assert!(seen.contains(turn * 1_000) && seen.contains((turn + 1) * 1_000 - 1));
            assert!(
                seen.contains((turn - 1) * 1_000),
                "the previous generation is kept"
            );
            assert!(
                !seen.contains((turn - 1) * 1_000 - 1),
                "older ones are forgotten"
            );
        }
    }
}
