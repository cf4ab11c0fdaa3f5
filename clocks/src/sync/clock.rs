//! The local clock a synchronization node disciplines.

/// A node's local clock, advanced by ticks: `ticks × units_per_tick + offset`.
///
/// A step-function node never reads a system clock, so its notion of local time is
/// its tick count; the offset is the clock's initial error plus every correction the
/// protocol applied. On the simulator, nodes ticking at different periods
/// (`Fault::SetTickPeriod`) have clocks that drift apart — exactly what
/// synchronization must fight.
///
/// ```
/// use synod_clocks::sync::LocalClock;
/// let mut clock = LocalClock::new(10, -500);   // 10 units per tick, 500 behind
/// clock.tick();
/// assert_eq!(clock.read(), -490);
/// clock.adjust(500);
/// assert_eq!(clock.read(), 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalClock {
    ticks: u64,
    units_per_tick: i64,
    offset: i64,
}

impl LocalClock {
    /// A clock at zero ticks with an initial `offset`.
    pub const fn new(units_per_tick: i64, offset: i64) -> Self {
        LocalClock {
            ticks: 0,
            units_per_tick,
            offset,
        }
    }

    /// One tick passed.
    pub fn tick(&mut self) {
        self.ticks = self.ticks.saturating_add(1);
    }

    /// The current reading.
    pub fn read(&self) -> i64 {
        let elapsed = i128::from(self.ticks) * i128::from(self.units_per_tick);
        super::clamp(elapsed + i128::from(self.offset))
    }

    /// Ticks counted so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Whether the tick just counted starts a period of `period_ticks` (a zero period
    /// counts as one): how the polling nodes decide when a round begins.
    pub(crate) fn every(&self, period_ticks: u64) -> bool {
        self.ticks.is_multiple_of(period_ticks.max(1))
    }

    /// Units the reading advances per tick (its granularity).
    pub fn units_per_tick(&self) -> i64 {
        self.units_per_tick
    }

    /// The offset: the initial error plus every adjustment so far.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Step the clock by `delta` (positive: forward).
    pub fn adjust(&mut self, delta: i64) {
        self.offset = self.offset.saturating_add(delta);
    }
}

/// A [`LocalClock`] can drive a hybrid logical clock inside a step-function node (and
/// so on the simulator): negative readings count as 0.
///
/// ```
/// use synod_clocks::Hlc;
/// use synod_clocks::sync::LocalClock;
/// let mut hlc = Hlc::new(LocalClock::new(10, 1_000), 500);
/// hlc.physical_clock().tick();
/// assert_eq!(hlc.now()?.physical(), 1_010);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
impl crate::PhysicalClock for LocalClock {
    fn now(&mut self) -> u64 {
        u64::try_from(self.read()).unwrap_or(0)
    }
}
