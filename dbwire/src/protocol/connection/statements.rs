//! A connection's prepared statements: the SQL text behind each statement id, and the
//! parameter state that lives between executes.

use std::collections::HashMap;

use crate::backend::DbError;
use crate::protocol::params::BoundParams;

/// One prepared statement.
#[derive(Debug)]
pub(crate) struct PreparedEntry {
    /// The SQL text handed to `Session::execute`.
    pub sql: String,
    /// Parameter types and long data.
    pub bound: BoundParams,
    /// An error from COM_STMT_SEND_LONG_DATA (which has no reply), reported by the next execute.
    pub deferred_error: Option<DbError>,
}

/// Statement ids -> statements, for one connection.
#[derive(Debug)]
pub(crate) struct StatementRegistry {
    next_id: u32,
    entries: HashMap<u32, PreparedEntry>,
}

impl StatementRegistry {
    /// An empty registry; the first id is 1, as in MySQL.
    pub fn new() -> StatementRegistry {
        StatementRegistry {
            next_id: 1,
            entries: HashMap::new(),
        }
    }

    /// Number of open statements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Registers `sql` with `params` parameters and returns its id.
    pub fn insert(&mut self, sql: String, params: usize) -> u32 {
        let id = self.free_id();
        let entry = PreparedEntry {
            sql,
            bound: BoundParams::new(params),
            deferred_error: None,
        };
        self.entries.insert(id, entry);
        id
    }

    /// The statement `id`.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut PreparedEntry> {
        self.entries.get_mut(&id)
    }

    /// Forgets the statement `id`.
    pub fn remove(&mut self, id: u32) {
        self.entries.remove(&id);
    }

    /// Forgets every statement.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The next id not in use, skipping 0 when the counter wraps.
    fn free_id(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.entries.contains_key(&id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_are_not_reused_while_open() {
        let mut registry = StatementRegistry::new();
        assert_eq!(registry.insert("SELECT 1".into(), 0), 1);
        assert_eq!(registry.insert("SELECT ?".into(), 1), 2);
        registry.remove(1);
        assert_eq!(registry.len(), 1);
        assert_eq!(
            registry.get_mut(2).map(|entry| entry.bound.long_data.len()),
            Some(1)
        );
        assert!(registry.get_mut(1).is_none());
    }

    #[test]
    fn ids_wrap_around_skipping_zero_and_open_ones() {
        let mut registry = StatementRegistry::new();
        registry.insert("a".into(), 0);
        registry.next_id = u32::MAX;
        assert_eq!(registry.insert("b".into(), 0), u32::MAX);
        assert_eq!(registry.insert("c".into(), 0), 2, "0 is skipped, 1 is open");
    }
}
