//! Maps keyed by the database's own ids, or by keys made of them, on the paths every dashboard
//! read takes: a reference row by id, the latest reading of a metric, a batch's answers.
//!
//! std's `HashMap` hashes with SipHash, about 120 instructions for an `i32`, so that a nested
//! dashboard query spent as much on looking up its metrics and readings as on decoding them.
//! foldhash takes a tenth of that. It is not meant to withstand keys chosen to collide, and it
//! does not need to here: the keys are ids the database gave, never a client's text; maps keyed
//! by what a client sends (documents, keys, addresses) keep std's hasher.

use std::collections::HashMap;

/// Its constructors (`IdMap::new`, `IdMap::with_capacity`), as foldhash gives them.
pub use foldhash::HashMapExt;

/// A `HashMap` keyed by database ids, hashed with foldhash (seeded for each process).
pub type IdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_as_in_a_map_of_std() {
        let mut by_id = IdMap::with_capacity(3);
        for id in [7, -1, 1_000_000] {
            by_id.insert(id, id.to_string());
        }
        assert_eq!(by_id.get(&-1).map(String::as_str), Some("-1"));
        assert_eq!(by_id.get(&1_000_000).map(String::as_str), Some("1000000"));
        assert_eq!(by_id.get(&8), None);
        let collected: IdMap<i32, i32> = (0..100).map(|id| (id, id * 2)).collect();
        assert!((0..100).all(|id| collected[&id] == id * 2));
    }
}
