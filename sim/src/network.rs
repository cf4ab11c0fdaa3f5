//! The network model: per-link delay, loss, duplication and reordering.

use crate::SimRng;

/// How long a message takes on a link, in simulated time units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Always the same: links are FIFO.
    Fixed(u64),
    /// Uniform in `min..=max`: messages overtake one another.
    Uniform {
        /// Shortest delay.
        min: u64,
        /// Longest delay.
        max: u64,
    },
    /// `min` plus an exponentially distributed tail with the given mean, capped at
    /// `min + 20 * mean`: mostly fast, occasionally very slow.
    Exponential {
        /// Shortest delay.
        min: u64,
        /// Mean of the tail above `min`.
        mean: u64,
    },
}

impl Delay {
    /// Draw one delay.
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => rng.between(min, max),
            Delay::Exponential { min, mean } => {
                // Inverse-CDF sampling; 1 - u is in (0, 1] so the log is finite.
                let tail = -(1.0 - rng.unit()).ln() * mean as f64;
                let cap = mean.saturating_mul(20) as f64;
                min.saturating_add(tail.min(cap) as u64)
            }
        }
    }

    /// The largest delay this distribution produces.
    pub fn max(&self) -> u64 {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { max, .. } => max,
            Delay::Exponential { min, mean } => min.saturating_add(mean.saturating_mul(20)),
        }
    }
}

/// The behaviour of one directed link (or, as the default, of every link).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// Delivery delay.
    pub delay: Delay,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice (each copy with its own delay).
    pub duplicate: f64,
    /// Probability that a message is held back by an extra delay of up to four times
    /// the link's largest delay, so that it arrives after later messages.
    pub reorder: f64,
}

impl LinkConfig {
    /// A reliable FIFO link with a fixed delay.
    pub const fn reliable(delay: u64) -> LinkConfig {
        LinkConfig {
            delay: Delay::Fixed(delay),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }

    /// A hostile link: variable delay, 10% loss, 5% duplication, 5% reordering.
    pub const fn unreliable() -> LinkConfig {
        LinkConfig {
            delay: Delay::Uniform { min: 5, max: 50 },
            loss: 0.10,
            duplicate: 0.05,
            reorder: 0.05,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), crate::SimError> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(crate::SimError::InvalidProbability { name, value: p });
            }
        }
        if let Delay::Uniform { min, max } = self.delay
            && max < min
        {
            return Err(crate::SimError::InvalidDelay { min, max });
        }
        Ok(())
    }
}

impl Default for LinkConfig {
    /// Delays uniform in 5..=50 time units (a tick is 100 by default), no loss.
    fn default() -> Self {
        LinkConfig {
            delay: Delay::Uniform { min: 5, max: 50 },
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}
