//! Logical time, counted in ticks.
//!
//! A node never reads a clock. Its runtime feeds it [`Input::Tick`](crate::Input::Tick)
//! at a steady rate (every 10 ms, say), and every timeout a protocol has — election,
//! heartbeat, retransmission, lease — is a number of ticks. This is the etcd/raft model:
//! many internal timers collapse into one external notion of time, which the simulator
//! can speed up, slow down or skew per node.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A span of logical time, in ticks.
///
/// Arithmetic saturates instead of wrapping or panicking: a timeout computed from a
/// peer-supplied number can never overflow into a tiny one.
///
/// ```
/// use synod_core::Ticks;
/// let heartbeat = Ticks(3);
/// assert_eq!(heartbeat + Ticks(2), Ticks(5));
/// assert_eq!(Ticks(2) - Ticks(5), Ticks::ZERO); // saturates
/// assert_eq!(Ticks(u64::MAX) + Ticks(1), Ticks(u64::MAX));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Ticks(pub u64);

impl Ticks {
    /// No time at all.
    pub const ZERO: Ticks = Ticks(0);
    /// One tick.
    pub const ONE: Ticks = Ticks(1);

    /// The number of ticks.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self * factor`, saturating.
    pub const fn saturating_mul(self, factor: u64) -> Ticks {
        Ticks(self.0.saturating_mul(factor))
    }
}

impl Add for Ticks {
    type Output = Ticks;
    fn add(self, rhs: Ticks) -> Ticks {
        Ticks(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Ticks {
    fn add_assign(&mut self, rhs: Ticks) {
        *self = *self + rhs;
    }
}

impl Sub for Ticks {
    type Output = Ticks;
    fn sub(self, rhs: Ticks) -> Ticks {
        Ticks(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Ticks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ticks", self.0)
    }
}

/// A countdown that fires after a number of ticks: the one timer shape every protocol
/// needs (election timeout, heartbeat interval, retransmission).
///
/// Call [`Timer::tick`] once per [`Input::Tick`](crate::Input::Tick); it returns `true`
/// exactly once, on the tick at which the timer expires, and then stays expired until
/// [`Timer::reset`].
///
/// ```
/// use synod_core::{Ticks, Timer};
/// let mut heartbeat = Timer::new(Ticks(3));
/// assert_eq!((0..3).map(|_| heartbeat.tick()).collect::<Vec<_>>(), [false, false, true]);
/// assert!(!heartbeat.tick()); // fires once
/// heartbeat.reset(Ticks(1));
/// assert!(heartbeat.tick());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    remaining: Ticks,
    armed: bool,
}

impl Timer {
    /// A timer that fires after `after` ticks. `Ticks::ZERO` fires on the next tick.
    pub const fn new(after: Ticks) -> Timer {
        Timer {
            remaining: after,
            armed: true,
        }
    }

    /// A timer that never fires until it is [`reset`](Timer::reset).
    pub const fn stopped() -> Timer {
        Timer {
            remaining: Ticks::ZERO,
            armed: false,
        }
    }

    /// Re-arm to fire after `after` ticks from now.
    pub fn reset(&mut self, after: Ticks) {
        *self = Timer::new(after);
    }

    /// Disarm without firing.
    pub fn stop(&mut self) {
        self.armed = false;
    }

    /// Whether the timer is armed and has not fired yet.
    pub const fn is_armed(&self) -> bool {
        self.armed
    }

    /// Ticks left before the timer fires (zero when stopped or fired).
    pub const fn remaining(&self) -> Ticks {
        if self.armed {
            self.remaining
        } else {
            Ticks::ZERO
        }
    }

    /// Advance by one tick; `true` on the tick at which the timer fires.
    pub fn tick(&mut self) -> bool {
        if !self.armed {
            return false;
        }
        self.remaining = self.remaining - Ticks::ONE;
        if self.remaining == Ticks::ZERO {
            self.armed = false;
            return true;
        }
        false
    }
}
