//! The simulator's one source of randomness.

/// A small, fast, seedable generator (xoshiro256++ seeded through SplitMix64).
///
/// Every random choice the simulator makes — delays, loss, duplication, which writes
/// survive a crash — is drawn from one `SimRng` in a fixed order, which is what makes a
/// run a pure function of its seed. The algorithm is written out here rather than taken
/// from a crate so that a seed replays identically across dependency upgrades.
///
/// ```
/// use synod_sim::SimRng;
/// let mut a = SimRng::new(42);
/// let mut b = SimRng::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRng {
    state: [u64; 4],
}

/// The splitmix64 step (Steele, Lea & Flood 2014): a bijective 64-bit mix of `x`
/// plus the golden-ratio increment. Also the checker's hash finalizer.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn next_seed(x: &mut u64) -> u64 {
    let out = splitmix64(*x);
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    out
}

impl SimRng {
    /// A generator seeded from `seed`. Every seed, including 0, is fine.
    pub fn new(seed: u64) -> SimRng {
        let mut x = seed;
        SimRng {
            state: [
                next_seed(&mut x),
                next_seed(&mut x),
                next_seed(&mut x),
                next_seed(&mut x),
            ],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform number in `0..bound` (0 when `bound` is 0), without modulo bias
    /// worth caring about (Lemire's multiply-shift).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A uniform number in `low..=high` (`low` when `high < low`).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (never for `p <= 0`, always for `p >= 1`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.unit() < p
    }

    /// A new generator whose stream is independent of this one's future draws: use it
    /// to give each node its own seeded randomness (election jitter).
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }
}
