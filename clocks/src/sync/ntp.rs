//! NTP's on-wire arithmetic and clock filter (RFC 5905 §8, §10).

use super::{SyncError, clamp};
use std::collections::VecDeque;

/// One NTP exchange: offset θ and round-trip delay δ from the four timestamps
///
/// - `t1` client transmit (client clock), `t2` server receive (server clock),
/// - `t3` server transmit (server clock), `t4` client receive (client clock):
///
/// θ = ((t2 − t1) + (t3 − t4)) / 2 and δ = (t4 − t1) − (t3 − t2). The true offset
/// lies within θ ± δ/2 whatever the asymmetry of the path.
///
/// ```
/// use synod_clocks::sync::NtpSample;
/// // The server is 100 ahead; 10 out, 30 back, 5 of processing.
/// let s = NtpSample::from_timestamps(1_000, 1_110, 1_115, 1_045)?;
/// assert_eq!(s.delay, 40);
/// assert_eq!(s.offset, 90);                  // within 100 ± 20
/// assert!(s.interval().contains(100));
/// # Ok::<(), synod_clocks::sync::SyncError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NtpSample {
    /// θ: what to add to the client clock to read the server's.
    pub offset: i64,
    /// δ: the round trip, server processing excluded.
    pub delay: i64,
}

impl NtpSample {
    /// θ and δ from T1..T4.
    ///
    /// # Errors
    /// [`SyncError::NegativeRoundTrip`] if δ < 0.
    pub fn from_timestamps(t1: i64, t2: i64, t3: i64, t4: i64) -> Result<Self, SyncError> {
        let (t1, t2, t3, t4) = (
            i128::from(t1),
            i128::from(t2),
            i128::from(t3),
            i128::from(t4),
        );
        let delay = (t4 - t1) - (t3 - t2);
        if delay < 0 {
            return Err(SyncError::NegativeRoundTrip);
        }
        // Floor division keeps the result within the interval for odd sums.
        let offset = ((t2 - t1) + (t3 - t4)).div_euclid(2);
        Ok(NtpSample {
            offset: clamp(offset),
            delay: clamp(delay),
        })
    }

    /// The correctness interval θ ± δ/2 (δ/2 rounded up).
    pub fn interval(&self) -> super::Interval {
        let half = (i128::from(self.delay) + 1) / 2;
        super::Interval {
            lo: clamp(i128::from(self.offset) - half),
            hi: clamp(i128::from(self.offset) + half),
        }
    }
}

/// NTP's clock filter: the last `capacity` samples from one server (8 in NTP), of
/// which the one with the smallest delay is trusted — delay is the error bound, and
/// the least-delayed exchange is the least distorted by queueing. Each sample may
/// carry the local time it arrived (for aging its error, as NTP's dispersion does).
///
/// ```
/// use synod_clocks::sync::{ClockFilter, NtpSample};
/// let mut filter = ClockFilter::new(8);
/// filter.push(NtpSample { offset: 130, delay: 90 });
/// filter.push_at(NtpSample { offset: 101, delay: 12 }, 5_000);
/// filter.push(NtpSample { offset: 70, delay: 60 });
/// assert_eq!(filter.best(), Some(NtpSample { offset: 101, delay: 12 }));
/// assert_eq!(filter.best_at(), Some((NtpSample { offset: 101, delay: 12 }, 5_000)));
/// filter.shift(-100);                       // the local clock was stepped back 100
/// assert_eq!(filter.best_at(), Some((NtpSample { offset: 201, delay: 12 }, 4_900)));
/// ```
#[derive(Clone, Debug)]
pub struct ClockFilter {
    samples: VecDeque<(NtpSample, i64)>,
    capacity: usize,
}

impl ClockFilter {
    /// A filter over the last `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ClockFilter {
            samples: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Add a sample (arrival time 0), forgetting the oldest beyond the capacity.
    pub fn push(&mut self, sample: NtpSample) {
        self.push_at(sample, 0);
    }

    /// Add a sample that arrived at local time `arrived`.
    pub fn push_at(&mut self, sample: NtpSample, arrived: i64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((sample, arrived));
    }

    /// The sample with the smallest delay (the newest among equals).
    pub fn best(&self) -> Option<NtpSample> {
        self.best_at().map(|(s, _)| s)
    }

    /// The best sample and when it arrived.
    pub fn best_at(&self) -> Option<(NtpSample, i64)> {
        self.samples
            .iter()
            .rev()
            .min_by_key(|(s, _)| s.delay)
            .copied()
    }

    /// Every sample with its arrival time, oldest first: for a selection that ages
    /// samples (NTP's synchronization distance: δ/2 plus dispersion grown since).
    pub fn samples(&self) -> impl ExactSizeIterator<Item = (NtpSample, i64)> + '_ {
        self.samples.iter().copied()
    }

    /// The local clock was stepped by `delta`: re-express every sample on the new
    /// scale (offsets to the server shrink by `delta`, arrival times move by it).
    pub fn shift(&mut self, delta: i64) {
        for (sample, arrived) in &mut self.samples {
            sample.offset = sample.offset.saturating_sub(delta);
            *arrived = arrived.saturating_add(delta);
        }
    }

    /// The root-mean-square difference of the samples' offsets from the best one's
    /// (NTP's jitter), rounded down.
    pub fn jitter(&self) -> i64 {
        let Some(best) = self.best() else { return 0 };
        let n = self.samples.len() as i128;
        let sum: i128 = self
            .samples
            .iter()
            .map(|(s, _)| {
                let d = i128::from(s.offset) - i128::from(best.offset);
                d.saturating_mul(d)
            })
            .fold(0i128, i128::saturating_add);
        clamp(isqrt(sum / n))
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

fn isqrt(v: i128) -> i128 {
    if v <= 0 {
        return 0;
    }
    let mut x = (v as f64).sqrt() as i128;
    while x * x > v {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= v {
        x += 1;
    }
    x
}
