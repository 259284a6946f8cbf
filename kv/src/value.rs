//! Stored values. Collections keep a running byte estimate so memory accounting after a
//! mutation is O(1).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use crate::dict::Dict;
pub(crate) use crate::strval::StrValue;

/// Estimated bookkeeping bytes per collection element (pointers, hash slot, allocation header).
pub(crate) const ELEMENT_OVERHEAD: usize = 32;

/// A value of any type.
#[derive(Debug)]
pub(crate) enum Value {
    /// A string, possibly held compressed (see [`StrValue`]).
    Str(StrValue),
    Hash(HashValue),
    List(ListValue),
    Set(SetValue),
    ZSet(ZSetValue),
}

impl Value {
    /// Estimated bytes of the value's data.
    pub fn mem(&self) -> usize {
        match self {
            Value::Str(s) => s.stored_len(),
            Value::Hash(h) => h.bytes,
            Value::List(l) => l.bytes,
            Value::Set(s) => s.bytes,
            Value::ZSet(z) => z.bytes,
        }
    }

    /// True for a string held compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_compressed())
    }

    /// True for a collection with no elements (Redis deletes those keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.map.is_empty(),
            Value::List(l) => l.items.is_empty(),
            Value::Set(s) => s.dict.is_empty(),
            Value::ZSet(z) => z.scores.is_empty(),
        }
    }

    /// The TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }
}

/// A value type commands can ask for by Rust type.
pub(crate) trait Kind: Sized {
    /// The value as this type, if it is one.
    fn of(value: &Value) -> Option<&Self>;
    /// The value as this type, mutably.
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    /// A new empty value of this type.
    fn empty() -> Value;
}

impl Kind for Value {
    fn of(value: &Value) -> Option<&Self> {
        Some(value)
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        Some(value)
    }
    fn empty() -> Value {
        Value::Str(StrValue::default())
    }
}

macro_rules! kind {
    ($ty:ty, $variant:ident, $empty:expr) => {
        impl Kind for $ty {
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn empty() -> Value {
                Value::$variant($empty)
            }
        }
    };
}

kind!(StrValue, Str, StrValue::default());
kind!(HashValue, Hash, HashValue::default());
kind!(ListValue, List, ListValue::default());
kind!(SetValue, Set, SetValue::default());
kind!(ZSetValue, ZSet, ZSetValue::default());

/// A hash: field -> value.
#[derive(Debug, Default)]
pub(crate) struct HashValue {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&Vec<u8>> {
        self.map.get(field)
    }

    /// Sets `field`; true when it is new.
    pub fn insert(&mut self, field: &[u8], value: Vec<u8>) -> bool {
        self.bytes += value.len();
        match self.map.get_mut(field) {
            Some(old) => {
                self.bytes -= old.len();
                *old = value;
                false
            }
            None => {
                self.bytes += field.len() + ELEMENT_OVERHEAD;
                self.map.insert(field.to_vec(), value);
                true
            }
        }
    }

    /// Removes `field`; true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.remove_entry(field) {
            Some((f, v)) => {
                self.bytes -= f.len() + v.len() + ELEMENT_OVERHEAD;
                true
            }
            None => false,
        }
    }

    /// All field/value pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
        self.map.iter()
    }
}

/// A list.
#[derive(Debug, Default)]
pub(crate) struct ListValue {
    items: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl ListValue {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Element `i` from the head.
    pub fn get(&self, i: usize) -> Option<&Vec<u8>> {
        self.items.get(i)
    }

    /// Adds at the head (`left`) or tail.
    pub fn push(&mut self, left: bool, item: Vec<u8>) {
        self.bytes += item.len() + ELEMENT_OVERHEAD;
        if left {
            self.items.push_front(item);
        } else {
            self.items.push_back(item);
        }
    }

    /// Removes from the head (`left`) or tail.
    pub fn pop(&mut self, left: bool) -> Option<Vec<u8>> {
        let item = if left {
            self.items.pop_front()
        } else {
            self.items.pop_back()
        }?;
        self.bytes -= item.len() + ELEMENT_OVERHEAD;
        Some(item)
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, item: Vec<u8>) -> bool {
        match self.items.get_mut(i) {
            Some(slot) => {
                self.bytes = self.bytes + item.len() - slot.len();
                *slot = item;
                true
            }
            None => false,
        }
    }

    /// Inserts at position `i` (0..=len).
    pub fn insert(&mut self, i: usize, item: Vec<u8>) {
        self.bytes += item.len() + ELEMENT_OVERHEAD;
        self.items.insert(i, item);
    }

    /// Position of the first element equal to `item`.
    pub fn position(&self, item: &[u8]) -> Option<usize> {
        self.items.iter().position(|x| x == item)
    }

    /// Removes up to `count` elements equal to `item` (0: all; negative: from the tail).
    pub fn remove_matching(&mut self, item: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut positions: Vec<usize> = Vec::new();
        let matches = |(i, x): (usize, &Vec<u8>)| (x.as_slice() == item).then_some(i);
        if count >= 0 {
            positions.extend(
                self.items
                    .iter()
                    .enumerate()
                    .filter_map(matches)
                    .take(limit),
            );
        } else {
            positions.extend(
                self.items
                    .iter()
                    .enumerate()
                    .rev()
                    .filter_map(matches)
                    .take(limit),
            );
        }
        positions.sort_unstable();
        for &i in positions.iter().rev() {
            if let Some(x) = self.items.remove(i) {
                self.bytes -= x.len() + ELEMENT_OVERHEAD;
            }
        }
        positions.len()
    }

    /// Keeps only elements `start..=end` (already clamped; `start > end` empties the list).
    pub fn trim(&mut self, start: usize, end: usize) {
        if start > end || start >= self.items.len() {
            self.items.clear();
            self.bytes = 0;
            return;
        }
        for item in self.items.drain(end + 1..) {
            self.bytes -= item.len() + ELEMENT_OVERHEAD;
        }
        for item in self.items.drain(..start) {
            self.bytes -= item.len() + ELEMENT_OVERHEAD;
        }
    }

    /// Elements `start..=end` (clamped by the caller).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &Vec<u8>> {
        self.items.range(start..=end)
    }
}

/// A set, with O(1) random members.
#[derive(Debug, Default)]
pub(crate) struct SetValue {
    dict: Dict<()>,
    bytes: usize,
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// True when `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.dict.contains(member)
    }

    /// Adds `member`; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.dict.contains(member) {
            return false;
        }
        self.bytes += member.len() + ELEMENT_OVERHEAD;
        self.dict.insert(member, ());
        true
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.dict.remove(member) {
            Some((m, ())) => {
                self.bytes -= m.len() + ELEMENT_OVERHEAD;
                true
            }
            None => false,
        }
    }

    /// A random member.
    pub fn random(&self) -> Option<&Arc<[u8]>> {
        let i = self.dict.random_position()?;
        self.dict.at(i).map(|(m, _)| m)
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        let i = self.dict.random_position()?;
        let (m, ()) = self.dict.remove_at(i);
        self.bytes -= m.len() + ELEMENT_OVERHEAD;
        Some(m.to_vec())
    }

    /// All members.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.dict.iter().map(|(m, _)| m)
    }
}

/// A score with a total order (NaN is never stored; -0 is stored as 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Score) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Score) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set: members ordered by (score, member bytes), like Redis.
#[derive(Debug, Default)]
pub(crate) struct ZSetValue {
    scores: HashMap<Vec<u8>, f64>,
    order: BTreeSet<(Score, Vec<u8>)>,
    bytes: usize,
}

impl ZSetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets the score of `member`; returns the old score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let score = if score == 0.0 { 0.0 } else { score };
        let old = self.scores.insert(member.to_vec(), score);
        match old {
            Some(old) => {
                self.order.remove(&(Score(old), member.to_vec()));
            }
            None => self.bytes += 2 * member.len() + 2 * ELEMENT_OVERHEAD,
        }
        self.order.insert((Score(score), member.to_vec()));
        old
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(&(Score(score), member.to_vec()));
        self.bytes -= 2 * member.len() + 2 * ELEMENT_OVERHEAD;
        Some(score)
    }

    /// Removes and returns the lowest (`max == false`) or highest member.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let (score, member) = if max {
            self.order.pop_last()
        } else {
            self.order.pop_first()
        }?;
        self.scores.remove(&member);
        self.bytes -= 2 * member.len() + 2 * ELEMENT_OVERHEAD;
        Some((member, score.0))
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order.iter().map(|(s, m)| (m.as_slice(), s.0))
    }

    /// Members with score >= `min`, ascending (callers stop at their upper bound).
    pub fn scores_from(&self, min: f64) -> impl Iterator<Item = (&[u8], f64)> {
        self.order
            .range((Score(min), Vec::new())..)
            .map(|(s, m)| (m.as_slice(), s.0))
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.range(..(Score(score), member.to_vec())).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_estimates_return_to_zero() {
        let mut h = HashValue::default();
        h.insert(b"f", b"v".to_vec());
        h.insert(b"f", b"longer".to_vec());
        h.remove(b"f");
        assert_eq!(h.bytes, 0);
        let mut l = ListValue::default();
        for i in 0..10u8 {
            l.push(i % 2 == 0, vec![i; i as usize]);
        }
        l.set(0, b"xyz".to_vec());
        l.remove_matching(b"xyz", 0);
        l.trim(1, 3);
        while l.pop(true).is_some() {}
        assert_eq!(l.bytes, 0);
        let mut s = SetValue::default();
        s.insert(b"a");
        s.insert(b"bb");
        s.remove(b"a");
        s.pop_random();
        assert_eq!(s.bytes, 0);
        let mut z = ZSetValue::default();
        z.insert(b"a", 1.0);
        z.insert(b"a", 2.0);
        z.insert(b"b", 3.0);
        z.remove(b"a");
        z.pop(true);
        assert_eq!(z.bytes, 0);
    }

    #[test]
    fn zset_orders_by_score_then_member() {
        let mut z = ZSetValue::default();
        z.insert(b"b", 1.0);
        z.insert(b"a", 1.0);
        z.insert(b"c", -0.0);
        let members: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
        assert_eq!(members, vec![&b"c"[..], b"a", b"b"]);
        assert_eq!(z.rank(b"b"), Some(2));
        assert_eq!(z.scores_from(1.0).count(), 2);
    }

    #[test]
    fn list_remove_matching_from_tail() {
        let mut l = ListValue::default();
        for x in [b"a", b"b", b"a", b"a"] {
            l.push(false, x.to_vec());
        }
        assert_eq!(l.remove_matching(b"a", -2), 2);
        let rest: Vec<&Vec<u8>> = l.range(0, l.len() - 1).collect();
        assert_eq!(rest, vec![&b"a".to_vec(), &b"b".to_vec()]);
    }
}
