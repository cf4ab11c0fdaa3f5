//! Re-send timers.

/// A re-send timer with exponential backoff.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    wait_ticks: u64,
    interval_ticks: u64,
}

impl Backoff {
    pub(crate) fn new(first_ticks: u64) -> Self {
        Backoff {
            wait_ticks: first_ticks,
            interval_ticks: first_ticks.max(1),
        }
    }

    /// Count one tick; true when it is time to re-send (and the interval doubles).
    pub(crate) fn tick(&mut self, max_ticks: u64) -> bool {
        self.wait_ticks = self.wait_ticks.saturating_sub(1);
        if self.wait_ticks > 0 {
            return false;
        }
        self.interval_ticks = self.interval_ticks.saturating_mul(2).min(max_ticks.max(1));
        self.wait_ticks = self.interval_ticks;
        true
    }
}
