//! Reproducible pseudo-random bytes for the parsers' garbage tests (xorshift64, no
//! dependency).

/// A deterministic byte source.
pub(crate) struct Noise(u64);

impl Noise {
    /// A source seeded with `seed` (must not be zero).
    pub(crate) fn new(seed: u64) -> Noise {
        Noise(seed)
    }

    /// The next 64 pseudo-random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Up to `max_len` bytes; one in four is drawn from `favourites` when it is not empty
    /// (a protocol's marker bytes make parsers go deeper).
    pub(crate) fn bytes(&mut self, max_len: usize, favourites: &[u8]) -> Vec<u8> {
        let len = self.next() as usize % (max_len + 1);
        (0..len)
            .map(|_| match self.next() % 4 {
                0 if !favourites.is_empty() => favourites[self.next() as usize % favourites.len()],
                _ => self.next() as u8,
            })
            .collect()
    }
}
