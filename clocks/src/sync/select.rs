//! Choosing truechimers: Marzullo's algorithm and NTP's intersection variant
//! (RFC 5905 §11.2.1).

use super::SyncError;

/// A closed interval `[lo, hi]` that a source claims holds the true time (or offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Interval {
    /// Low end.
    pub lo: i64,
    /// High end.
    pub hi: i64,
}

impl Interval {
    /// `[lo, hi]`.
    ///
    /// # Errors
    /// [`SyncError::EmptyInterval`] if `lo > hi`.
    pub fn new(lo: i64, hi: i64) -> Result<Self, SyncError> {
        if lo > hi {
            return Err(SyncError::EmptyInterval { lo, hi });
        }
        Ok(Interval { lo, hi })
    }

    /// `[center − radius, center + radius]`, saturating.
    pub fn around(center: i64, radius: u64) -> Self {
        let r = i64::try_from(radius).unwrap_or(i64::MAX);
        Interval {
            lo: center.saturating_sub(r),
            hi: center.saturating_add(r),
        }
    }

    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: i64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Whether the two intervals share a point.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// The midpoint, rounded down.
    pub fn midpoint(&self) -> i64 {
        super::clamp((i128::from(self.lo) + i128::from(self.hi)).div_euclid(2))
    }
}

/// What Marzullo's algorithm found: the smallest interval consistent with the most
/// sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// Where the most sources agree.
    pub interval: Interval,
    /// How many sources contain it.
    pub count: usize,
}

/// Marzullo's algorithm (1984): the interval contained in the largest number of
/// source intervals (the first such, from the left). Valid intervals only
/// (`lo <= hi`; build them with [`Interval::new`]). `None` for no sources.
///
/// ```
/// use synod_clocks::sync::{Interval, marzullo};
/// let sources = [Interval { lo: 8, hi: 12 }, Interval { lo: 11, hi: 13 }, Interval { lo: 10, hi: 12 }];
/// let best = marzullo(&sources).unwrap();
/// assert_eq!((best.interval, best.count), (Interval { lo: 11, hi: 12 }, 3));
/// ```
pub fn marzullo(sources: &[Interval]) -> Option<Agreement> {
    // Edges: (value, kind) with starts (-1) sorted before ends (+1) at equal values,
    // so intervals that touch count as overlapping.
    let mut edges: Vec<(i64, i8)> = Vec::with_capacity(sources.len() * 2);
    for s in sources {
        edges.push((s.lo, -1));
        edges.push((s.hi, 1));
    }
    edges.sort_unstable();
    let (mut best, mut count) = (0usize, 0usize);
    let mut found: Option<Interval> = None;
    for (k, &(value, kind)) in edges.iter().enumerate() {
        if kind < 0 {
            count += 1;
            if count > best {
                best = count;
                // The next edge is the nearest end: the agreement runs to it.
                let hi = edges.get(k + 1).map_or(value, |e| e.0);
                found = Some(Interval { lo: value, hi });
            }
        } else {
            count -= 1;
        }
    }
    found.map(|interval| Agreement {
        interval,
        count: best,
    })
}

/// What NTP's selection found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The intersection interval the truechimers agree on.
    pub interval: Interval,
    /// Indices (into the input) of sources whose intervals meet it.
    pub truechimers: Vec<usize>,
    /// Indices of the rest.
    pub falsetickers: Vec<usize>,
}

/// NTP's intersection algorithm (RFC 5905 §11.2.1): find the smallest interval that
/// contains points from at least `n − f` source intervals and at most `f` source
/// midpoints outside it, for the smallest number of falsetickers `f < n/2`. `None`
/// when no majority agrees (no clock can be trusted).
///
/// Unlike plain Marzullo it requires a majority and also counts midpoints, so a
/// falseticker whose huge interval happens to cover the others cannot pull the
/// result toward itself.
///
/// ```
/// use synod_clocks::sync::{Interval, intersection};
/// let sources = [
///     Interval::around(100, 10),
///     Interval::around(104, 10),
///     Interval::around(97, 10),
///     Interval::around(5_000, 10),           // a falseticker
/// ];
/// let chosen = intersection(&sources).unwrap();
/// assert_eq!(chosen.truechimers, [0, 1, 2]);
/// assert_eq!(chosen.falsetickers, [3]);
/// assert!(chosen.interval.contains(100));
/// ```
pub fn intersection(sources: &[Interval]) -> Option<Selection> {
    let n = sources.len();
    if n == 0 {
        return None;
    }
    // (value, type): low end -1, midpoint 0, high end +1, sorted ascending.
    let mut edges: Vec<(i64, i8)> = Vec::with_capacity(n * 3);
    for s in sources {
        edges.push((s.lo, -1));
        edges.push((s.midpoint(), 0));
        edges.push((s.hi, 1));
    }
    edges.sort_unstable();
    let mut f = 0;
    while 2 * f < n {
        let need = n - f;
        let (mut found, mut chime) = (0usize, 0usize);
        let mut low = None;
        for &(value, kind) in &edges {
            if kind < 0 {
                chime += 1;
            } else if kind > 0 {
                chime = chime.saturating_sub(1);
            }
            if chime >= need {
                low = Some(value);
                break;
            }
            if kind == 0 {
                found += 1;
            }
        }
        chime = 0;
        let mut high = None;
        for &(value, kind) in edges.iter().rev() {
            if kind > 0 {
                chime += 1;
            } else if kind < 0 {
                chime = chime.saturating_sub(1);
            }
            if chime >= need {
                high = Some(value);
                break;
            }
            if kind == 0 {
                found += 1;
            }
        }
        if let (Some(lo), Some(hi)) = (low, high)
            && found <= f
            && lo <= hi
        {
            let interval = Interval { lo, hi };
            let (truechimers, falsetickers) = (0..n).partition(|&k| sources[k].overlaps(&interval));
            return Some(Selection {
                interval,
                truechimers,
                falsetickers,
            });
        }
        f += 1;
    }
    None
}
