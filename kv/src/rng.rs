//! A small per-thread pseudo-random generator (xorshift64*) for eviction samples, SPOP,
//! SRANDMEMBER and RANDOMKEY. Not for anything security related.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded from the OS once per thread; any nonzero value works.
    RandomState::new().hash_one(0x9e37_79b9_7f4a_7c15_u64) | 1
}

/// The next pseudo-random 64-bit value.
pub fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A value in `0..n` (`n` must be nonzero).
pub fn below(n: usize) -> usize {
    (next_u64() % n as u64) as usize
}

/// `n` random bytes, which zstd cannot shrink (tests of compression).
#[cfg(test)]
pub fn noise(n: usize) -> Vec<u8> {
    (0..n).map(|_| next_u64() as u8).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn below_stays_in_range_and_varies() {
        let values: Vec<usize> = (0..1000).map(|_| super::below(10)).collect();
        assert!(values.iter().all(|&v| v < 10));
        assert!((0..10).all(|v| values.contains(&v)));
    }
}
