//! A hash map with O(1) access by position: entries live in a dense `Vec`, a `HashMap` maps
//! keys to positions, removal swaps the last entry into the hole. Positions give the store
//! uniform random sampling (eviction, RANDOMKEY, SPOP) and resumable walks (the expiry sweeper)
//! that std's `HashMap` cannot offer. Keys are `Arc<[u8]>` so the index and the slot share one
//! allocation.

use std::collections::HashMap;
use std::sync::Arc;

use crate::rng;

/// A key -> value map with stable-until-removal positions.
#[derive(Debug)]
pub(crate) struct Dict<V> {
    index: HashMap<Arc<[u8]>, usize>,
    slots: Vec<(Arc<[u8]>, V)>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict {
            index: HashMap::new(),
            slots: Vec::new(),
        }
    }
}

impl<V> Dict<V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The position of `key`.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.slots[i].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.position(key).map(move |i| &mut self.slots[i].1)
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.index.contains_key(key)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(i) = self.position(key) {
            return Some(std::mem::replace(&mut self.slots[i].1, value));
        }
        let key: Arc<[u8]> = Arc::from(key);
        self.index.insert(key.clone(), self.slots.len());
        self.slots.push((key, value));
        None
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Arc<[u8]>, V)> {
        let i = self.position(key)?;
        Some(self.remove_at(i))
    }

    /// Removes the entry at position `i` (which must exist); the last entry moves to `i`.
    pub fn remove_at(&mut self, i: usize) -> (Arc<[u8]>, V) {
        let (key, value) = self.slots.swap_remove(i);
        self.index.remove(&key);
        if let Some((moved, _)) = self.slots.get(i) {
            self.index.insert(moved.clone(), i);
        }
        (key, value)
    }

    /// The entry at position `i`.
    pub fn at(&self, i: usize) -> Option<(&Arc<[u8]>, &V)> {
        self.slots.get(i).map(|(k, v)| (k, v))
    }

    /// The value at position `i`, mutably.
    pub fn value_at_mut(&mut self, i: usize) -> Option<&mut V> {
        self.slots.get_mut(i).map(|(_, v)| v)
    }

    /// A uniformly random position, if not empty.
    pub fn random_position(&self) -> Option<usize> {
        (!self.slots.is_empty()).then(|| rng::below(self.slots.len()))
    }

    /// All entries, in position order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<[u8]>, &V)> {
        self.slots.iter().map(|(k, v)| (k, v))
    }

    /// Removes everything, returning the entries.
    pub fn drain(&mut self) -> Vec<(Arc<[u8]>, V)> {
        self.index.clear();
        std::mem::take(&mut self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::Dict;

    #[test]
    fn insert_remove_keeps_index_consistent() {
        let mut dict = Dict::default();
        for i in 0..100u32 {
            assert_eq!(dict.insert(&i.to_be_bytes(), i), None);
        }
        assert_eq!(dict.insert(&5u32.to_be_bytes(), 500), Some(5));
        for i in (0..100u32).step_by(3) {
            assert!(dict.remove(&i.to_be_bytes()).is_some());
        }
        for i in 0..100u32 {
            let expected = if i % 3 == 0 {
                None
            } else if i == 5 {
                Some(500)
            } else {
                Some(i)
            };
            assert_eq!(dict.get(&i.to_be_bytes()).copied(), expected);
        }
        for pos in 0..dict.len() {
            let (key, _) = dict.at(pos).unwrap();
            assert_eq!(dict.position(key), Some(pos));
        }
    }
}
