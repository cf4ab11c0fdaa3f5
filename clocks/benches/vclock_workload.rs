//! The `vclock_cmp` workload of BENCHMARKS.md, shared by the criterion bench and
//! the head-to-head bench against `crdts` so both time identical pairs: 16 nodes;
//! 1024 pairs of counter vectors, a quarter each equal, less, greater and
//! concurrent.

/// Nodes per clock.
pub const NODES: usize = 16;
/// Pairs in the workload.
pub const PAIRS: usize = 1024;

/// What the pair's left clock is relative to its right one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Identical.
    Equal,
    /// Left happened before right.
    Less,
    /// Left happened after right.
    Greater,
    /// Neither.
    Concurrent,
}

/// A deterministic pseudo-random source (splitmix64), so every run times the same
/// pairs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The pairs: counters per node (every counter ≥ 1, so sparse clocks hold all 16
/// entries) and the relation the comparison must report.
pub fn pairs() -> Vec<([u64; NODES], [u64; NODES], Relation)> {
    let mut rng = Rng(0x5EED);
    (0..PAIRS)
        .map(|k| {
            let mut a = [0u64; NODES];
            for c in &mut a {
                *c = 1 + rng.below(1_000);
            }
            let mut b = a;
            let i = rng.below(NODES as u64) as usize;
            let j = (i + 1 + rng.below(NODES as u64 - 1) as usize) % NODES;
            let relation = match k % 4 {
                0 => Relation::Equal,
                1 => {
                    b[i] += 1 + rng.below(5);
                    Relation::Less
                }
                2 => {
                    a[i] += 1 + rng.below(5);
                    Relation::Greater
                }
                _ => {
                    a[i] += 1;
                    b[j] += 1;
                    Relation::Concurrent
                }
            };
            (a, b, relation)
        })
        .collect()
}
