//! State-based and delta-state CRDTs on causal contexts, a public test kit for their
//! laws, and a delta anti-entropy node on the Synod step-function contract.
//!
//! # What it guarantees
//! Every type is a join-semilattice ([`Lattice`]): join is commutative, associative
//! and idempotent, so replicas that have received the same updates — in any order, any
//! number of times — hold equal states (strong eventual consistency). Every mutator
//! returns a **delta**, a value of the same type with `m(X) = X ⊔ mδ(X)`, so a replica
//! can ship a few bytes instead of its state. The [`laws`] kit checks all of this as
//! property tests, for these types and for yours.
//!
//! # What it assumes
//! - A replica id ([`NodeId`](synod_core::NodeId)) is used by one replica at a time,
//!   and that replica keeps its state across restarts: a replica that forgets its dots
//!   and mints them again would make two different adds share a dot. The
//!   [`sync::AntiEntropy`] node does this for you: it persists (behind a barrier)
//!   every delta it mints and every value it acknowledges, and
//!   [`sync::AntiEntropy::restore`] restarts from those records.
//! - States and deltas from peers are checked with [`Lattice::validate`] before they
//!   are joined (the [`sync::AntiEntropy`] node does it); a value that fails is
//!   rejected with [`InvalidState`], never merged.
//!
//! # How to drive it
//! Mutate a local replica through the type's methods (each takes the acting replica's
//! id and returns the delta), ship deltas or whole states however you like, and
//! [`join`](Lattice::join) what arrives. Or let [`sync::AntiEntropy`] do the shipping:
//! it buffers deltas per peer, sends joined delta groups, retransmits until
//! acknowledged and falls back to the full state for peers too far behind.
//!
//! ```
//! use synod_crdt::{AWSet, Lattice};
//! use synod_core::NodeId;
//! let (a, b) = (NodeId(1), NodeId(2));
//! let mut ra: AWSet<&str> = AWSet::new();
//! let mut rb: AWSet<&str> = AWSet::new();
//! let delta = ra.insert(a, "milk")?;   // a few bytes, not the whole set
//! rb.join(&delta);
//! let removal = rb.remove(&"milk");
//! let concurrent = ra.insert(a, "milk")?; // A re-adds while B removes
//! ra.join(&removal);
//! rb.join(&concurrent);
//! assert_eq!(ra, rb);
//! assert!(ra.contains(&"milk"));        // add wins
//! # Ok::<(), synod_crdt::CrdtError>(())
//! ```
//!
//! # Types
//! | type | what |
//! |---|---|
//! | [`GCounter`], [`PNCounter`], [`BoundedCounter`] | counters (`u64` per replica; overflow is [`CrdtError::Overflow`]) |
//! | [`LwwReg`], [`MvReg`] | last-writer-wins (timestamp, then replica) and multi-value registers |
//! | [`EWFlag`], [`DWFlag`] | enable-wins and disable-wins flags |
//! | [`GSet`], [`TwoPSet`], [`AWSet`], [`RWSet`] | grow-only, two-phase, add-wins and remove-wins sets |
//! | [`LwwMap`], [`ORMap`] | a last-writer-wins map; an observed-remove map whose values are dot stores sharing its one causal context: [`DotFun`] (multi-value register), [`DotMap`] (nested map), [`DotSet`] (enable-wins flag), [`DWFlagStore`], [`AWSetStore`], [`RWSetStore`], [`CounterStore`] (reset-on-remove counter) |
//! | [`DotKernel`] | dot-tagged values plus a causal context: the building block |
//!
//! Causal stability ([`stability::Stability`]) says which dots every replica has seen,
//! so [`RWSet::prune`] can drop remove tokens no concurrent update can still meet; the
//! [`sync::AntiEntropy`] node collects the reports on its acks and prunes by itself,
//! and [retires](sync::AntiEntropy::retire) replica ids by freezing their entries.
//!
//! # Features
//! - `serde` (default): serde derives on every type and sync message, and the
//!   versioned [`encoding`].
//! - `laws` (default): the [`laws`] test kit (pulls in `proptest`).

pub mod counter;
#[cfg(feature = "serde")]
pub mod encoding;
pub mod error;
pub mod flag;
pub mod kernel;
pub mod lattice;
#[cfg(feature = "laws")]
pub mod laws;
pub mod map;
pub mod ormap;
pub mod register;
pub mod set;
pub mod stability;
pub mod stores;
pub mod sync;

pub use counter::{BoundedCounter, GCounter, PNCounter};
pub use error::{CrdtError, InvalidState};
pub use flag::{DWFlag, EWFlag};
pub use kernel::DotKernel;
pub use lattice::{Lattice, Mutator};
pub use map::LwwMap;
pub use ormap::{DotFun, DotMap, DotStore, ORMap};
pub use register::{LwwReg, LwwWrite, MvReg};
pub use set::{AWSet, GSet, RWSet, TwoPSet};
pub use stores::{AWSetStore, CounterStore, DWFlagStore, DotSet, RWSetStore};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
