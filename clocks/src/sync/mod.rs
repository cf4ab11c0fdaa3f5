//! Clock synchronization: pure arithmetic for Cristian's algorithm, the Berkeley
//! algorithm, NTP's on-wire protocol, its clock filter, and Marzullo's algorithm with
//! NTP's intersection variant; and step-function nodes running Cristian
//! ([`CristianNode`]), Berkeley ([`BerkeleyNode`]) and an NTP-style client with
//! falseticker rejection ([`NtpNode`]) on the `synod-core` contract.
//!
//! Times here are clock readings in any unit the caller chooses, as `i64` (offsets
//! are signed). Arithmetic is done in 128 bits, so no intermediate overflows; results
//! beyond the `i64` range saturate (a clock that far off is rejected long before).

mod berkeley;
mod clock;
mod cristian;
mod ntp;
mod ntp_node;
mod select;

pub use berkeley::{
    BerkeleyConfig, BerkeleyEvent, BerkeleyMessage, BerkeleyNode, BerkeleyRound, Reading,
    berkeley_average,
};
pub use clock::LocalClock;
pub use cristian::{
    Adjusted, CristianConfig, CristianEstimate, CristianMessage, CristianNode, CristianSample,
};
pub use ntp::{ClockFilter, NtpSample};
pub use ntp_node::{NtpConfig, NtpMessage, NtpNode, Selected};
pub use select::{Agreement, Interval, Selection, intersection, marzullo};

/// A measurement that cannot be right was offered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The reply arrived before the request left by the local clock (it stepped
    /// backwards in between), or the server's processing time exceeds the round trip.
    #[error("negative round-trip time")]
    NegativeRoundTrip,
    /// An interval's low end is above its high end.
    #[error("interval low end {lo} above high end {hi}")]
    EmptyInterval {
        /// Low end.
        lo: i64,
        /// High end.
        hi: i64,
    },
}

/// How far two clocks whose rates differ by at most `ppm` parts per million can drift
/// apart over `window` units, rounded up (so a bound built from it is never short).
pub(crate) fn drift_allowance(window: i128, ppm: i64) -> i128 {
    (window * i128::from(ppm) + 999_999) / 1_000_000
}

/// `i128` → `i64`, saturating.
pub(crate) fn clamp(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
