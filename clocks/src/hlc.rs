//! Hybrid logical clocks (Kulkarni, Demirbas, Madappa, Avva, Leone: "Logical
//! Physical Clocks", OPODIS 2014).
//!
//! An HLC timestamp `(l, c)` stays within the clock-synchronization error of
//! physical time (`l` is the largest physical time heard of) while satisfying the
//! clock condition like a Lamport clock (`c` breaks ties among events that share an
//! `l`). It fits in 64 bits and orders as an integer, so it can key a database.

use crate::ClockError;
use core::fmt;

/// Bits of the packed form given to the physical part.
pub const PHYSICAL_BITS: u32 = 48;
const LOGICAL_BITS: u32 = 64 - PHYSICAL_BITS;
/// The largest physical time a packed timestamp can hold (2^48 − 1: with
/// milliseconds since 1970 that lasts until the year 10889).
pub const PHYSICAL_MAX: u64 = (1 << PHYSICAL_BITS) - 1;

/// Where an HLC reads physical time. Injected so that tests and the simulator drive
/// it; production code wraps the system clock (in whatever unit the deployment uses,
/// typically milliseconds since the Unix epoch). Any `FnMut() -> u64` is one.
///
/// ```
/// use synod_clocks::{Hlc, PhysicalClock};
/// // In production: `|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64`.
/// let mut ticks = 0u64;
/// let counter = move || { ticks += 10; ticks };
/// let mut hlc = Hlc::new(counter, 1_000);
/// assert_eq!(hlc.now()?.physical(), 10);
/// assert_eq!(hlc.now()?.physical(), 20);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
pub trait PhysicalClock {
    /// The current physical time. It may jump backwards (an NTP step): the HLC
    /// stays monotonic regardless.
    fn now(&mut self) -> u64;
}

impl<F: FnMut() -> u64> PhysicalClock for F {
    fn now(&mut self) -> u64 {
        self()
    }
}

/// A physical clock that reads whatever it was last set to: for tests and
/// simulations.
///
/// ```
/// use synod_clocks::{ManualClock, PhysicalClock};
/// let mut clock = ManualClock::new(100);
/// clock.advance(5);
/// assert_eq!(clock.now(), 105);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManualClock {
    time: u64,
}

impl ManualClock {
    /// A clock reading `time`.
    pub const fn new(time: u64) -> Self {
        ManualClock { time }
    }
    /// Set the reading (backwards too).
    pub fn set(&mut self, time: u64) {
        self.time = time;
    }
    /// Move the reading forward, saturating.
    pub fn advance(&mut self, by: u64) {
        self.time = self.time.saturating_add(by);
    }
}

impl PhysicalClock for ManualClock {
    fn now(&mut self) -> u64 {
        self.time
    }
}

impl PhysicalClock for &mut ManualClock {
    fn now(&mut self) -> u64 {
        self.time
    }
}

/// A hybrid timestamp: physical part `l` (< 2^48) and logical part `c` (< 2^16).
///
/// The derived order (by `l`, then `c`) equals the order of the packed integers.
///
/// ```
/// use synod_clocks::HlcTimestamp;
/// let a = HlcTimestamp::new(1_700_000_000_000, 3)?;
/// let b = HlcTimestamp::new(1_700_000_000_001, 0)?;
/// assert!(a < b && a.to_u64() < b.to_u64());
/// assert_eq!(HlcTimestamp::from_u64(a.to_u64()), a);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HlcTimestamp {
    physical: u64,
    logical: u16,
}

impl HlcTimestamp {
    /// A timestamp.
    ///
    /// # Errors
    /// [`ClockError::PhysicalTimeTooLarge`] if `physical` ≥ 2^48.
    pub fn new(physical: u64, logical: u16) -> Result<Self, ClockError> {
        if physical > PHYSICAL_MAX {
            return Err(ClockError::PhysicalTimeTooLarge(physical));
        }
        Ok(HlcTimestamp { physical, logical })
    }

    /// The physical part `l`.
    pub const fn physical(self) -> u64 {
        self.physical
    }

    /// The logical part `c`.
    pub const fn logical(self) -> u16 {
        self.logical
    }

    /// The packed form: `l` in the high 48 bits, `c` in the low 16.
    pub const fn to_u64(self) -> u64 {
        (self.physical << LOGICAL_BITS) | self.logical as u64
    }

    /// Unpack. Every `u64` is a valid packed timestamp.
    pub const fn from_u64(packed: u64) -> Self {
        HlcTimestamp {
            physical: packed >> LOGICAL_BITS,
            logical: packed as u16,
        }
    }
}

impl fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.physical, self.logical)
    }
}

/// A hybrid logical clock over a [`PhysicalClock`].
///
/// - [`now`](Hlc::now) (also for sends) returns a timestamp larger than every one
///   this clock issued or received, and at least the physical time;
/// - [`receive`](Hlc::receive) merges a peer's timestamp, unless it is further ahead
///   of the local physical clock than `max_offset`: a peer with a broken clock must
///   not drag everyone's timestamps into the future.
///
/// ```
/// use synod_clocks::{ClockError, Hlc, ManualClock};
/// let mut a = Hlc::new(ManualClock::new(100), 50);
/// let mut b = Hlc::new(ManualClock::new(90), 50);   // b's physical clock is behind
/// let sent = a.now()?;
/// let got = b.receive(sent)?;
/// assert!(got > sent);                               // the clock condition
/// assert_eq!((got.physical(), got.logical()), (100, 1));
/// let from_the_future = synod_clocks::HlcTimestamp::new(1_000, 0)?;
/// assert!(matches!(b.receive(from_the_future), Err(ClockError::RemoteTooFarAhead { .. })));
/// # Ok::<(), ClockError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Hlc<C> {
    clock: C,
    last: HlcTimestamp,
    max_offset: u64,
}

impl<C: PhysicalClock> Hlc<C> {
    /// A clock reading `clock` that rejects remote timestamps more than `max_offset`
    /// physical units ahead of it.
    pub fn new(clock: C, max_offset: u64) -> Self {
        Hlc {
            clock,
            last: HlcTimestamp::default(),
            max_offset,
        }
    }

    /// Resume from the largest timestamp this node ever issued (from durable state),
    /// so a restart cannot issue a smaller one.
    pub fn resume(clock: C, max_offset: u64, last: HlcTimestamp) -> Self {
        Hlc {
            clock,
            last,
            max_offset,
        }
    }

    /// The latest timestamp issued or merged.
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// The physical clock.
    pub fn physical_clock(&mut self) -> &mut C {
        &mut self.clock
    }

    fn physical_now(&mut self) -> Result<u64, ClockError> {
        let pt = self.clock.now();
        if pt > PHYSICAL_MAX {
            return Err(ClockError::PhysicalTimeTooLarge(pt));
        }
        Ok(pt)
    }

    /// A timestamp for a local or send event.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if 2^16 events share one physical time (the logical
    /// part is full; wait for the physical clock to move), and
    /// [`ClockError::PhysicalTimeTooLarge`] for a physical reading ≥ 2^48.
    pub fn now(&mut self) -> Result<HlcTimestamp, ClockError> {
        let pt = self.physical_now()?;
        let next = if pt > self.last.physical {
            HlcTimestamp {
                physical: pt,
                logical: 0,
            }
        } else {
            HlcTimestamp {
                physical: self.last.physical,
                logical: self
                    .last
                    .logical
                    .checked_add(1)
                    .ok_or(ClockError::Overflow)?,
            }
        };
        self.last = next;
        Ok(next)
    }

    /// Merge a timestamp received from a peer and return the receive event's
    /// timestamp, larger than both the remote one and every earlier local one.
    ///
    /// # Errors
    /// [`ClockError::RemoteTooFarAhead`] if `remote` is more than `max_offset` ahead
    /// of the physical clock (nothing changes), and the errors of [`now`](Self::now).
    pub fn receive(&mut self, remote: HlcTimestamp) -> Result<HlcTimestamp, ClockError> {
        let pt = self.physical_now()?;
        if remote.physical > pt.saturating_add(self.max_offset) {
            return Err(ClockError::RemoteTooFarAhead {
                remote_physical: remote.physical,
                local_physical: pt,
                max_offset: self.max_offset,
            });
        }
        let last = self.last;
        let physical = pt.max(last.physical).max(remote.physical);
        let logical = if physical == last.physical && physical == remote.physical {
            last.logical.max(remote.logical).checked_add(1)
        } else if physical == last.physical {
            last.logical.checked_add(1)
        } else if physical == remote.physical {
            remote.logical.checked_add(1)
        } else {
            Some(0)
        }
        .ok_or(ClockError::Overflow)?;
        self.last = HlcTimestamp { physical, logical };
        Ok(self.last)
    }
}
