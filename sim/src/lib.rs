//! # synod-sim: a deterministic simulator for step-function nodes
//!
//! `synod-sim` runs any set of [`synod_core::Node`]s in one thread from one `u64`
//! seed. Every source of nondeterminism — message delays, loss, duplication,
//! reordering, which unsynced writes survive a crash, when each node ticks — is drawn
//! from that seed, so a failing run replays exactly: set `SYNOD_SEED=<seed>` and run
//! the same test again.
//!
//! What it offers:
//!
//! - **Network faults** ([`LinkConfig`], [`Fault`]): per-link delay distributions,
//!   loss, duplication, reordering; symmetric partitions of arbitrary groups, one-way
//!   blocked links; heal.
//! - **Node faults**: crash (volatile state gone, durable state kept, unacknowledged
//!   background writes partly or wholly lost), restart from exactly the durable
//!   state, pause and resume, clock skew (per-node tick periods), Byzantine senders
//!   ([`Sim::set_byzantine`]).
//! - **Observation**: invariants checked after every step ([`Sim::add_invariant`]),
//!   [`Sim::run_until`] with a step limit, counters ([`SimStats`]), client histories
//!   ([`history::History`]), and a [`Trace`] exported as text, Mermaid or ShiViz.
//! - **A linearizability checker** ([`linearizability`]) over histories, against a
//!   sequential [`spec::Spec`] (register and key-value map included).
//! - **Property testing**: [`Faults`] generates fault schedules as a proptest
//!   strategy that shrinks to a short failing schedule; [`sim_runner`] makes the
//!   whole property run replay from `SYNOD_SEED`; [`check_seeds`] sweeps seeds.
//!
//! ## Time
//!
//! Simulated time is an abstract `u64` of "time units". Each node ticks every
//! [`SimConfig::tick_period`] units (100 by default; skew changes it per node) and
//! messages take [`LinkConfig::delay`] units (5 to 50 by default). Protocol timeouts
//! are in ticks, so the ratio between the two is what matters.
//!
//! ## Example
//!
//! A node that floods the largest number it has seen. The invariant says no node
//! ever believes a number nobody proposed; the run injects loss and a partition,
//! heals, and waits until every node agrees.
//!
//! ```
//! use synod_core::{Actions, Input, Node, NodeId};
//! use synod_sim::{Fault, LinkConfig, Sim, SimConfig};
//!
//! struct MaxNode { id: NodeId, max: u64 }
//!
//! impl Node for MaxNode {
//!     type Message = u64;
//!     type Request = u64;
//!     type Persist = u64;
//!     type Event = u64;
//!     fn id(&self) -> NodeId { self.id }
//!     fn step(&mut self, input: Input<u64, u64>, out: &mut Actions<u64, u64, u64>) {
//!         match input {
//!             Input::Request(v) | Input::Message { msg: v, .. } if v > self.max => {
//!                 self.max = v;
//!                 out.persist(v);
//!                 out.emit(v);
//!             }
//!             // Gossip on every tick, so loss and partitions are eventually repaired.
//!             Input::Tick => out.broadcast(self.max),
//!             _ => {}
//!         }
//!     }
//! }
//!
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut config = SimConfig::new(7);
//! config.network = LinkConfig { loss: 0.3, ..LinkConfig::default() };
//! // A restarted node resumes from the largest number it persisted.
//! let mut sim = Sim::new(config, ids, |id, log: &Vec<u64>| MaxNode {
//!     id,
//!     max: log.iter().copied().max().unwrap_or(0),
//! }).unwrap();
//! sim.add_invariant("only proposed values", |sim| {
//!     match sim.live_nodes().find(|(_, n)| ![0, 5, 9].contains(&n.max)) {
//!         Some((id, n)) => Err(format!("{id} believes {}", n.max)),
//!         None => Ok(()),
//!     }
//! });
//! sim.apply(Fault::Partition(vec![vec![NodeId(1)]])).unwrap();
//! sim.request(NodeId(1), 9).unwrap();
//! sim.request(NodeId(2), 5).unwrap();
//! sim.apply(Fault::Crash(NodeId(3))).unwrap();
//! sim.run_for(2_000).unwrap();
//! assert_eq!(sim.node(NodeId(2)).unwrap().max, 5); // nodes 1 and 2 cannot talk
//! sim.apply(Fault::Heal).unwrap();
//! sim.apply(Fault::Restart(NodeId(3))).unwrap();
//! let agreed = sim
//!     .run_until(|sim| sim.live_nodes().all(|(_, n)| n.max == 9), 100_000)
//!     .unwrap();
//! assert!(agreed, "seed {} did not converge", sim.seed());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod fault;
pub mod history;
pub mod linearizability;
mod network;
mod rng;
mod seed;
mod sim;
pub mod spec;
mod strategy;
mod trace;

pub use fault::{Fault, FaultSchedule};
pub use network::{Delay, LinkConfig};
pub use rng::SimRng;
pub use seed::{check_seeds, seed_count, seed_from_env};
pub use sim::{Byzantine, Durable, Sim, SimConfig, SimError, SimStats, StepKind, Violation};
pub use strategy::{Faults, proptest_cases, sim_runner};
pub use trace::{Trace, TraceKind};

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
