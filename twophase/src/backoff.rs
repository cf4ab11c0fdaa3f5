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

/// When an uncertain participant asks for the outcome: silent for a number of ticks,
/// then at once, then again with exponential backoff.
#[derive(Clone, Debug)]
pub(crate) struct Inquiry {
    quiet_ticks: u64,
    asking: Option<Backoff>,
}

impl Inquiry {
    /// First ask at the tick after `quiet_ticks` ticks (0: at the next tick, as a
    /// recovering participant does).
    pub(crate) fn after(quiet_ticks: u64) -> Self {
        Inquiry {
            quiet_ticks,
            asking: None,
        }
    }

    /// Count one tick; true when it is time to ask.
    pub(crate) fn tick(&mut self, resend_ticks: u64, resend_max_ticks: u64) -> bool {
        match self.asking.as_mut() {
            None if self.quiet_ticks > 0 => {
                self.quiet_ticks -= 1;
                false
            }
            None => {
                self.asking = Some(Backoff::new(resend_ticks));
                true
            }
            Some(backoff) => backoff.tick(resend_max_ticks),
        }
    }
}
