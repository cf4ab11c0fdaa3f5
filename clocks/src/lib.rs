//! # synod-clocks: logical clocks, causality tracking and clock synchronization
//!
//! One causality vocabulary — [`Causality`]`::{Before, After, Equal, Concurrent}`,
//! plus `PartialOrd` — for every clock a replicated system needs:
//!
//! | clock | module | use it for |
//! |---|---|---|
//! | [`LamportClock`] | [`lamport`] | a total order consistent with causality |
//! | [`DenseVClock`], [`SparseVClock`] | [`vclock`] | exact causality between events, fixed or open membership |
//! | [`VersionVector`], [`Dot`], [`Siblings`] | [`version_vector`] | versions of replicated data, sibling detection |
//! | [`CausalContext`] | [`causal_context`] | a set of dots with gaps (delta CRDTs) |
//! | [`Dvv`], [`DvvSet`] | [`dvv`] | Dynamo-style siblings without one entry per client |
//! | [`Stamp`] (interval tree clock) | [`itc`] | causality with participants that come and go |
//! | [`Hlc`], [`HlcTimestamp`] | [`hlc`] | timestamps close to physical time, packed into a `u64` |
//! | [`CausalBuffer`] | [`delivery`] | causal broadcast: deliver nothing before its causes |
//! | Cristian, Berkeley, NTP, Marzullo | [`sync`] | synchronizing physical clocks |
//!
//! ## What it guarantees
//!
//! - **Clock conditions.** Lamport and hybrid clocks: if `a` happened before `b`,
//!   `C(a) < C(b)`. Vector clocks, version vectors and interval tree clocks: `a`
//!   happened before `b` *if and only if* `V(a) < V(b)` (the strong clock condition),
//!   so concurrency is detected exactly. Property tests check all of these on random
//!   executions.
//! - **Lattices.** Every mergeable type's join is commutative, associative and
//!   idempotent (tested), so replicas converge whatever order merges happen in.
//! - **No silent wrap, no panic on bad input.** A counter at `u64::MAX`, dense clocks
//!   of different memberships, a hybrid timestamp too far in the future, an ITC join
//!   of overlapping ids: a [`ClockError`]. Malformed bytes: a [`DecodeError`]. Every
//!   encoding is canonical, so `decode(encode(x)) == x` and only one byte string
//!   decodes to each value.
//!
//! ## What it assumes
//!
//! Node ids ([`synod_core::NodeId`]) are unique and never reused; a replica mints
//! dots only for its own id. Clocks are plain values: persist them yourself if they
//! must survive a crash (a Lamport or hybrid clock restarted from zero can issue
//! timestamps it already issued; resume it from the largest one persisted). The
//! synchronization nodes assume a non-Byzantine network with bounded clock drift.
//!
//! ## How to drive it
//!
//! Clocks are data: create one per process (or per datum), call the event method on
//! every local event, attach the clock (or a timestamp) to messages, and merge or
//! receive on the other side. The synchronization protocols in [`sync`] are also
//! step-function nodes ([`sync::CristianNode`], [`sync::BerkeleyNode`],
//! [`sync::NtpNode`]) that run on the `synod-core` driver or the `synod-sim`
//! simulator.
//!
//! ## Example
//!
//! ```
//! use synod_clocks::{Causality, CausalContext, Dot, Hlc, LamportClock, ManualClock, VersionVector};
//! use synod_core::NodeId;
//! let (a, b) = (NodeId(1), NodeId(2));
//!
//! // Lamport: a total order consistent with causality.
//! let (mut la, mut lb) = (LamportClock::new(a), LamportClock::new(b));
//! let sent = la.send()?;
//! let received = lb.receive(sent.time)?;
//! assert!(sent < received);
//!
//! // Version vectors: exact causality, siblings when concurrent.
//! let mut va = VersionVector::new();
//! va.increment(a)?;
//! let mut vb = va.clone();
//! vb.increment(b)?;
//! va.increment(a)?;
//! assert_eq!(va.causality(&vb), Causality::Concurrent);
//! vb.join(&va);
//! assert!(va < vb);
//!
//! // Causal contexts: dots with gaps, compacted as they fill.
//! let mut cc = CausalContext::new();
//! cc.insert(Dot::new(a, 2));
//! assert!(!cc.contains(Dot::new(a, 1)));
//! cc.insert(Dot::new(a, 1));
//! assert_eq!(cc.version_vector().get(a), 2);
//!
//! // Hybrid logical clocks: close to physical time, packed into a u64.
//! let mut hlc = Hlc::new(ManualClock::new(1_000), 500);
//! let t = hlc.now()?;
//! assert_eq!(t.physical(), 1_000);
//! assert!(hlc.now()?.to_u64() > t.to_u64());
//! # Ok::<(), synod_clocks::ClockError>(())
//! ```
//!
//! ## Feature flags
//!
//! - `serde` (default): serde derives on clocks, timestamps, dots and messages.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod causal_context;
mod causality;
pub mod delivery;
pub mod dvv;
mod error;
pub mod hlc;
pub mod itc;
pub mod lamport;
pub mod sync;
pub mod vclock;
pub mod version_vector;
mod wire;

pub use causal_context::CausalContext;
pub use causality::Causality;
pub use delivery::{CausalBuffer, CausalMessage, DeliveryError, Receipt};
pub use dvv::{Dvv, DvvSet};
pub use error::{ClockError, DecodeError};
pub use hlc::{Hlc, HlcTimestamp, ManualClock, PhysicalClock};
pub use itc::Stamp;
pub use lamport::{LamportClock, LamportTimestamp};
pub use vclock::{DenseVClock, Membership, SparseVClock, VectorClock};
pub use version_vector::{Dot, Siblings, VersionVector, Versioned};

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
