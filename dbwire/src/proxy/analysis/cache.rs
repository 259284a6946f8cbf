//! A small cache of statement analyses by SQL text, one per executor core: an application
//! sends the same few statements over and over, and a hit costs one hash of the text
//! instead of a pass of the tokenizer.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::{inspect, Digest, StatementInfo};

/// Statements longer than this are analysed every time (they are rarely repeated, and their
/// text would take room).
const MAX_CACHED_TEXT: usize = 2048;

/// Two generations of analyses: lookups promote entries to the young one; when it is full it
/// becomes the old one, and what the old one held and nobody used since is forgotten. Holds
/// at most twice `capacity` entries, and keeps the statements in use (an approximate LRU
/// without bookkeeping per hit). A text is cached the second time it is seen: statements
/// with their values written in (emulated prepares) are never repeated, and would only churn
/// the cache.
#[derive(Debug)]
pub struct AnalysisCache {
    young: HashMap<Box<str>, Arc<(Digest, StatementInfo)>>,
    old: HashMap<Box<str>, Arc<(Digest, StatementInfo)>>,
    /// Hashes of texts seen once (forgotten wholesale past `4 * capacity`).
    seen_once: HashSet<u64>,
    capacity: usize,
}

impl AnalysisCache {
    /// An empty cache of `capacity` entries per generation.
    pub fn new(capacity: usize) -> AnalysisCache {
        AnalysisCache {
            young: HashMap::new(),
            old: HashMap::new(),
            seen_once: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// The digest and analysis of `sql`, from the cache or made now.
    pub fn inspect(&mut self, sql: &str) -> Arc<(Digest, StatementInfo)> {
        if let Some(found) = self.young.get(sql) {
            return Arc::clone(found);
        }
        let analysis = match self.old.remove(sql) {
            Some(found) => found,
            None => {
                let made = Arc::new(inspect(sql));
                if sql.len() > MAX_CACHED_TEXT || self.first_sight(sql) {
                    return made;
                }
                made
            }
        };
        if self.young.len() >= self.capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(sql.into(), Arc::clone(&analysis));
        analysis
    }

    /// True the first time `sql` is seen (since the memory of texts seen once was last
    /// cleared).
    fn first_sight(&mut self, sql: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        sql.hash(&mut hasher);
        if self.seen_once.len() >= 4 * self.capacity {
            self.seen_once.clear();
        }
        self.seen_once.insert(hasher.finish())
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_text_is_analysed_twice_then_cached() {
        let mut cache = AnalysisCache::new(4);
        let first = cache.inspect("SELECT 1");
        assert!(cache.is_empty(), "a text seen once is not kept");
        let second = cache.inspect("SELECT 1");
        let third = cache.inspect("SELECT 1");
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&second, &third));
        assert_eq!(*third, inspect("SELECT 1"));
    }

    #[test]
    fn statements_seen_once_do_not_churn_the_cache() {
        let mut cache = AnalysisCache::new(2);
        cache.inspect("SELECT hot");
        let hot = cache.inspect("SELECT hot");
        for id in 0..100 {
            cache.inspect(&format!("SELECT c FROM t WHERE id = {id}"));
        }
        assert_eq!(cache.len(), 1);
        assert!(Arc::ptr_eq(&hot, &cache.inspect("SELECT hot")));
    }

    #[test]
    fn statements_in_use_survive_and_the_size_is_bounded() {
        let mut cache = AnalysisCache::new(2);
        cache.inspect("SELECT hot");
        let hot = cache.inspect("SELECT hot");
        for n in 0..20 {
            cache.inspect(&format!("SELECT {n}"));
            cache.inspect(&format!("SELECT {n}"));
            // Used between every two others: always promoted back before it ages out.
            assert!(Arc::ptr_eq(&hot, &cache.inspect("SELECT hot")));
            assert!(cache.len() <= 4);
        }
    }

    #[test]
    fn long_statements_are_not_kept() {
        let mut cache = AnalysisCache::new(2);
        let long = format!("SELECT '{}'", "x".repeat(MAX_CACHED_TEXT));
        cache.inspect(&long);
        cache.inspect(&long);
        assert!(cache.is_empty());
    }
}
