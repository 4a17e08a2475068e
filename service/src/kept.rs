//! A map kept between requests and bounded by emptying it when full: what it keeps (parsed
//! documents, statements) is cheap to make again, and a flood of one-off keys cannot grow it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use crate::unpoisoned::LockUnpoisoned;

pub struct Kept<K, V> {
    entries: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    /// Keeps up to `capacity` entries; the next one empties it first.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock_unpoisoned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_is_emptied_before_the_next_entry() {
        let kept = Kept::new(2);
        kept.insert("a", 1);
        kept.insert("b", 2);
        assert_eq!(
            (kept.get("a"), kept.get("b"), kept.len()),
            (Some(1), Some(2), 2)
        );
        kept.insert("c", 3);
        assert_eq!(
            (kept.get("a"), kept.get("c"), kept.len()),
            (None, Some(3), 1)
        );
    }
}
