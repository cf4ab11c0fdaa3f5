//! A Dynamo-style replicated key-value store (DeCandia et al. 2007).
//!
//! Every key has a *preference list*: the first N distinct nodes clockwise from its
//! token on a consistent-hash [`Ring`](crate::ring::Ring). A request goes to one of
//! them — the *coordinator* (Dynamo's partition-aware client routing, §6.4); a node
//! outside the list refuses it with the list, so the client can re-route.
//!
//! - **put(key, value, context)**: the coordinator records the write in the key's
//!   [`DvvSet`](synod_clocks::DvvSet) with its own dot — discarding the values the
//!   client's context covers and keeping concurrent ones as siblings — persists it,
//!   sends it to the other N − 1 replicas and replies once W have it (itself included).
//! - **get(key)**: the coordinator asks the other replicas and replies once R answered
//!   (itself included) with every sibling and the context to write back with; replicas
//!   that answered with less are sent the merged version (**read repair**).
//! - **Sloppy quorum, hinted handoff**: a preferred replica silent for
//!   `hint_after_ticks` is replaced, for this write, by the next node clockwise that is
//!   not in the list; it keeps the write as a *hint* for the intended replica (durably)
//!   and hands it back every `handoff_ticks` until acknowledged.
//! - **Merkle-tree anti-entropy**: every `anti_entropy_ticks` a node compares a
//!   [`MerkleTree`](crate::merkle::MerkleTree) over the keys it shares with the next
//!   peer, descending only into differing subtrees and exchanging only differing
//!   buckets — repairing replicas that every coordinator gave up on.
//!
//! Guarantees, tested on the simulator: an acknowledged write is never lost while
//! fewer than W of the nodes holding it fail; concurrent writes come back as siblings,
//! never silently dropped; after faults heal and hints are handed off, replicas that
//! hold a key converge. With R + W > N and no sloppy substitutes, a get sees every
//! put acknowledged before it began.
//!
//! Bounds: `requests_max` coordinated requests and `hints_max` hints per node; a node
//! rebuilds its anti-entropy tree per exchange step (local work proportional to the
//! keys it shares with the peer; network traffic proportional to the difference).

mod message;
mod node;

pub use message::{DynamoError, DynamoEvent, DynamoMessage, DynamoRecord, DynamoRequest};
pub use node::{DynamoConfig, DynamoNode};
