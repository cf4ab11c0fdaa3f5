//! The store node: every node is a replica, a coordinator for the keys it replicates,
//! and a stand-in holding hints for others.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use synod_core::{Actions, Input, Node, NodeId};

use super::message::{
    DynamoError, DynamoEvent, DynamoMessage, DynamoRecord, DynamoRequest, Versions,
};
use crate::error::QuorumError;
use crate::merkle::MerkleTree;
use crate::ring::{Ring, token};

type DynamoActions = Actions<DynamoMessage, DynamoRecord, DynamoEvent>;

/// Replication and timing parameters of a [`DynamoNode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DynamoConfig {
    /// Replicas per key (the preference list's length).
    pub n: usize,
    /// Answers a get waits for, the coordinator's own included.
    pub r: usize,
    /// Acknowledgements a put waits for, the coordinator's own included.
    pub w: usize,
    /// Re-send to silent nodes every this many ticks.
    pub retransmit_ticks: u32,
    /// Replace a preferred replica silent this long by a stand-in holding a hint.
    pub hint_after_ticks: u32,
    /// Give up on a request after this many ticks.
    pub request_timeout_ticks: u32,
    /// Try to hand hints back every this many ticks.
    pub handoff_ticks: u32,
    /// The most requests one node coordinates at once.
    pub requests_max: usize,
    /// The most hints one node holds; beyond it, it refuses to stand in.
    pub hints_max: usize,
    /// Start a Merkle-tree exchange with the next peer every this many ticks (0: never).
    pub anti_entropy_ticks: u32,
    /// Depth of the anti-entropy trees (2^depth buckets).
    pub merkle_depth: u8,
}

impl DynamoConfig {
    /// (N, R, W) with default timings; a typed error unless 1 ≤ R, W ≤ N.
    ///
    /// R + W > N is not required — Dynamo lets applications trade consistency for
    /// latency — but only then does a get see every earlier acknowledged put.
    pub fn new(n: usize, r: usize, w: usize) -> Result<Self, QuorumError> {
        for size in [r, w] {
            if size == 0 || size > n {
                return Err(QuorumError::SizeOutOfRange {
                    size: size as u64,
                    total: n as u64,
                });
            }
        }
        Ok(DynamoConfig {
            n,
            r,
            w,
            retransmit_ticks: 2,
            hint_after_ticks: 4,
            request_timeout_ticks: 40,
            handoff_ticks: 10,
            requests_max: 1024,
            hints_max: 1 << 16,
            anti_entropy_ticks: 50,
            merkle_depth: 8,
        })
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Get {
        replies: BTreeMap<NodeId, Versions>,
    },
    Put {
        versions: Versions,
        acked: BTreeSet<NodeId>,
        reported: bool,
    },
}

#[derive(Clone, Debug)]
struct Request {
    op: u64,
    key: Bytes,
    /// The preference list without this node.
    others: Vec<NodeId>,
    /// Stand-in → the preferred replica it replaces.
    stand_ins: BTreeMap<NodeId, NodeId>,
    age: u32,
    kind: Kind,
}

/// A node of the Dynamo-style store; see the [module docs](super).
///
/// ```
/// use synod_core::NodeId;
/// use synod_clocks::VersionVector;
/// use synod_quorum::dynamo::{DynamoConfig, DynamoEvent, DynamoNode, DynamoRecord, DynamoRequest};
/// use synod_quorum::ring::Ring;
/// use synod_sim::{Sim, SimConfig};
///
/// let mut ring = Ring::new(16)?;
/// (1..=5).for_each(|i| { ring.add(NodeId(i)); });
/// let config = DynamoConfig::new(3, 2, 2)?;
/// let coordinator = ring.preference_list(b"cart", 3)[0];
/// let mut sim = Sim::new(SimConfig::new(1), (1..=5).map(NodeId), move |id, log: &Vec<DynamoRecord>| {
///     DynamoNode::recover(id, ring.clone(), config, log)
/// })?;
/// let put = |op, value: &'static str, context| DynamoRequest::Put { op, key: "cart".into(), value: value.into(), context };
/// sim.request(coordinator, put(1, "apple", VersionVector::new()))?;
/// sim.request(coordinator, put(2, "pear", VersionVector::new()))?; // concurrent: no context
/// sim.run_for(2_000)?;
/// sim.request(coordinator, DynamoRequest::Get { op: 3, key: "cart".into() })?;
/// sim.run_for(2_000)?;
/// let got = sim.events().iter().find_map(|(_, _, e)| match e {
///     DynamoEvent::Got { values, .. } => Some(values.clone()),
///     _ => None,
/// });
/// assert_eq!(got.unwrap(), ["apple", "pear"]); // siblings, neither dropped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynamoNode {
    id: NodeId,
    ring: Ring,
    config: DynamoConfig,
    store: BTreeMap<Bytes, Versions>,
    hints: BTreeMap<(NodeId, Bytes), Versions>,
    requests: BTreeMap<u64, Request>,
    next_req: u64,
    ticks: u64,
}

impl DynamoNode {
    /// A node restarted from its durable records (none the first time).
    pub fn recover<'a>(
        id: NodeId,
        ring: Ring,
        config: DynamoConfig,
        durable: impl IntoIterator<Item = &'a DynamoRecord>,
    ) -> Self {
        let mut node = DynamoNode {
            id,
            ring,
            config,
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_req: 0,
            ticks: 0,
        };
        for record in durable {
            match record {
                DynamoRecord::Key { key, versions } => {
                    node.store.insert(key.clone(), versions.clone());
                }
                DynamoRecord::Hint {
                    owner,
                    key,
                    versions,
                } => {
                    node.hints.insert((*owner, key.clone()), versions.clone());
                }
                DynamoRecord::HandedOff { owner, key } => {
                    node.hints.remove(&(*owner, key.clone()));
                }
            }
        }
        node
    }

    /// This node's versions of `key`, if it holds any.
    pub fn versions(&self, key: &[u8]) -> Option<&Versions> {
        self.store.get(key)
    }

    /// The keys this node holds, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> + '_ {
        self.store.keys()
    }

    /// How many hints this node holds for other replicas.
    pub fn hints_held(&self) -> usize {
        self.hints.len()
    }

    fn on_request(&mut self, request: DynamoRequest, out: &mut DynamoActions) {
        let (op, key) = match &request {
            DynamoRequest::Get { op, key } | DynamoRequest::Put { op, key, .. } => {
                (*op, key.clone())
            }
        };
        let preferred = self.ring.preference_list(&key, self.config.n);
        let refuse = if !preferred.contains(&self.id) {
            Some(DynamoError::NotAReplica {
                preferred: preferred.clone(),
            })
        } else if self.requests.values().any(|r| r.op == op) {
            Some(DynamoError::DuplicateOp(op))
        } else if self.requests.len() >= self.config.requests_max {
            Some(DynamoError::Overloaded)
        } else {
            None
        };
        if let Some(error) = refuse {
            out.emit(DynamoEvent::Failed { op, error });
            return;
        }
        self.next_req += 1;
        let req = self.next_req;
        let others: Vec<NodeId> = preferred.into_iter().filter(|&p| p != self.id).collect();
        let kind = match request {
            DynamoRequest::Get { .. } => {
                let local = self.store.get(&key).cloned().unwrap_or_default();
                for &peer in &others {
                    out.send(
                        peer,
                        DynamoMessage::Read {
                            req,
                            key: key.clone(),
                        },
                    );
                }
                Kind::Get {
                    replies: BTreeMap::from([(self.id, local)]),
                }
            }
            DynamoRequest::Put { value, context, .. } => {
                let mut versions = self.store.get(&key).cloned().unwrap_or_default();
                if versions.update(&context, self.id, value).is_err() {
                    out.emit(DynamoEvent::Failed {
                        op,
                        error: DynamoError::Overflow,
                    });
                    return;
                }
                // Durable here before any replica can count it.
                out.persist(DynamoRecord::Key {
                    key: key.clone(),
                    versions: versions.clone(),
                });
                self.store.insert(key.clone(), versions.clone());
                for &peer in &others {
                    out.send(peer, replicate(req, &key, &versions, None));
                }
                Kind::Put {
                    versions,
                    acked: BTreeSet::from([self.id]),
                    reported: false,
                }
            }
        };
        self.requests.insert(
            req,
            Request {
                op,
                key,
                others,
                stand_ins: BTreeMap::new(),
                age: 0,
                kind,
            },
        );
        self.settle(req, out);
    }

    fn on_message(&mut self, from: NodeId, msg: DynamoMessage, out: &mut DynamoActions) {
        match msg {
            DynamoMessage::Read { req, key } => {
                let versions = self.store.get(&key).cloned().unwrap_or_default();
                out.send(from, DynamoMessage::ReadReply { req, versions });
            }
            DynamoMessage::ReadReply { req, versions } => {
                if let Some(Request {
                    others,
                    kind: Kind::Get { replies },
                    ..
                }) = self.requests.get_mut(&req)
                    && others.contains(&from)
                {
                    replies.entry(from).or_insert(versions);
                    self.settle(req, out);
                }
            }
            DynamoMessage::Replicate {
                req,
                key,
                versions,
                hint,
                handoff,
            } => {
                if self.accept(&key, versions, hint, out) {
                    out.send(from, DynamoMessage::ReplicateAck { req, key, handoff });
                }
            }
            DynamoMessage::TreeHashes { nodes } => self.compare_trees(from, &nodes, out),
            DynamoMessage::BucketEntries {
                buckets,
                entries,
                reply,
            } => {
                if reply {
                    let mine = self.bucket_entries(from, &buckets);
                    out.send(
                        from,
                        DynamoMessage::BucketEntries {
                            buckets,
                            entries: mine,
                            reply: false,
                        },
                    );
                }
                for (key, versions) in entries {
                    self.accept(&key, versions, None, out);
                }
            }
            DynamoMessage::ReplicateAck { req, key, handoff } => match handoff {
                Some(digest) => self.handed_off(from, key, digest, out),
                None => {
                    if let Some(Request {
                        others,
                        stand_ins,
                        kind: Kind::Put { acked, .. },
                        ..
                    }) = self.requests.get_mut(&req)
                        && (others.contains(&from) || stand_ins.contains_key(&from))
                    {
                        acked.insert(from);
                        self.settle(req, out);
                    }
                }
            },
        }
    }

    /// Merge `versions` of `key` as a replica, or as a stand-in holding them for
    /// `hint`. Returns whether to acknowledge.
    fn accept(
        &mut self,
        key: &Bytes,
        versions: Versions,
        hint: Option<NodeId>,
        out: &mut DynamoActions,
    ) -> bool {
        match hint {
            Some(owner) if owner != self.id => {
                let slot = (owner, key.clone());
                if !self.hints.contains_key(&slot) && self.hints.len() >= self.config.hints_max {
                    return false; // full: the coordinator will find another stand-in
                }
                let held = self.hints.entry(slot).or_default();
                let merged = held.sync(&versions);
                if merged != *held {
                    *held = merged.clone();
                    out.persist(DynamoRecord::Hint {
                        owner,
                        key: key.clone(),
                        versions: merged,
                    });
                }
                true
            }
            _ => {
                // Only a replica of the key keeps it; anything else is a stale or
                // confused sender, ignored.
                if !self
                    .ring
                    .preference_list(key, self.config.n)
                    .contains(&self.id)
                {
                    return false;
                }
                let held = self.store.entry(key.clone()).or_default();
                let merged = held.sync(&versions);
                if merged != *held {
                    *held = merged.clone();
                    out.persist(DynamoRecord::Key {
                        key: key.clone(),
                        versions: merged,
                    });
                }
                true
            }
        }
    }

    fn handed_off(&mut self, owner: NodeId, key: Bytes, digest: u64, out: &mut DynamoActions) {
        let slot = (owner, key);
        // Only if what was acknowledged is what is still held: a hint that grew since
        // is handed off again next round.
        if self
            .hints
            .get(&slot)
            .is_some_and(|held| digest_of(held) == digest)
        {
            self.hints.remove(&slot);
            out.persist(DynamoRecord::HandedOff {
                owner: slot.0,
                key: slot.1,
            });
        }
    }

    /// Report and retire a request whose quorum is reached.
    fn settle(&mut self, req: u64, out: &mut DynamoActions) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        let finished = match &mut request.kind {
            Kind::Get { replies } => {
                if replies.len() < self.config.r {
                    return;
                }
                let merged = replies
                    .values()
                    .fold(Versions::default(), |acc, v| acc.sync(v));
                let mut values: Vec<Bytes> = merged.values().cloned().collect();
                values.sort();
                out.emit(DynamoEvent::Got {
                    op: request.op,
                    values,
                    context: merged.join(),
                });
                // Read repair: whoever answered with less gets the merged versions.
                for (&node, versions) in replies.iter() {
                    if *versions != merged && node != self.id {
                        out.send(node, replicate(0, &request.key, &merged, None));
                    }
                }
                let key = request.key.clone();
                if replies.get(&self.id) != Some(&merged) {
                    self.accept(&key, merged, None, out);
                }
                true
            }
            Kind::Put {
                acked, reported, ..
            } => {
                if !*reported && acked.len() >= self.config.w {
                    *reported = true;
                    out.emit(DynamoEvent::Put { op: request.op });
                }
                // Keep replicating until every preferred replica, or its stand-in, has it.
                *reported
                    && request.others.iter().all(|p| {
                        acked.contains(p)
                            || request
                                .stand_ins
                                .iter()
                                .any(|(s, o)| o == p && acked.contains(s))
                    })
            }
        };
        if finished {
            self.requests.remove(&req);
        }
    }

    fn on_tick(&mut self, out: &mut DynamoActions) {
        self.ticks += 1;
        let config = self.config;
        let mut expired = Vec::new();
        for (&req, request) in &mut self.requests {
            request.age += 1;
            if request.age >= config.request_timeout_ticks {
                expired.push(req);
                continue;
            }
            let resend = request.age % config.retransmit_ticks.max(1) == 0;
            match &request.kind {
                Kind::Get { replies } => {
                    for &peer in request.others.iter().filter(|p| !replies.contains_key(p)) {
                        if resend {
                            out.send(
                                peer,
                                DynamoMessage::Read {
                                    req,
                                    key: request.key.clone(),
                                },
                            );
                        }
                    }
                }
                Kind::Put {
                    versions, acked, ..
                } => {
                    for &peer in &request.others {
                        let covered = acked.contains(&peer)
                            || request
                                .stand_ins
                                .iter()
                                .any(|(s, o)| *o == peer && acked.contains(s));
                        if covered {
                            continue;
                        }
                        if resend {
                            out.send(peer, replicate(req, &request.key, versions, None));
                        }
                        // Sloppy quorum: after a silence, also ask the next node
                        // clockwise outside the list to hold it for `peer`.
                        let has_stand_in = request.stand_ins.values().any(|o| *o == peer);
                        if request.age >= config.hint_after_ticks && !has_stand_in {
                            let taken: BTreeSet<NodeId> =
                                request.stand_ins.keys().copied().collect();
                            let stand_in = self
                                .ring
                                .walk(&request.key)
                                .skip(config.n)
                                .find(|s| *s != self.id && !taken.contains(s));
                            if let Some(stand_in) = stand_in {
                                request.stand_ins.insert(stand_in, peer);
                            }
                        }
                    }
                    if resend {
                        for (&stand_in, &owner) in &request.stand_ins {
                            if !acked.contains(&stand_in) {
                                out.send(
                                    stand_in,
                                    replicate(req, &request.key, versions, Some(owner)),
                                );
                            }
                        }
                    }
                }
            }
        }
        for req in expired {
            if let Some(request) = self.requests.remove(&req) {
                let failure = match request.kind {
                    Kind::Get { replies } => Some((replies.len(), config.r)),
                    Kind::Put {
                        acked,
                        reported: false,
                        ..
                    } => Some((acked.len(), config.w)),
                    Kind::Put { reported: true, .. } => None,
                };
                if let Some((answered, needed)) = failure {
                    out.emit(DynamoEvent::Failed {
                        op: request.op,
                        error: DynamoError::Timeout { answered, needed },
                    });
                }
            }
        }
        if config.anti_entropy_ticks > 0
            && self
                .ticks
                .is_multiple_of(u64::from(config.anti_entropy_ticks))
        {
            let peers: Vec<NodeId> = self.ring.nodes().filter(|&n| n != self.id).collect();
            if !peers.is_empty() {
                let round = self.ticks / u64::from(config.anti_entropy_ticks);
                let peer = peers[(round % peers.len() as u64) as usize];
                let root = self.shared_tree(peer).map_or(0, |t| t.root());
                out.send(
                    peer,
                    DynamoMessage::TreeHashes {
                        nodes: vec![(0, root)],
                    },
                );
            }
        }
        if self
            .ticks
            .is_multiple_of(u64::from(config.handoff_ticks.max(1)))
        {
            for ((owner, key), versions) in &self.hints {
                out.send(
                    *owner,
                    DynamoMessage::Replicate {
                        req: 0,
                        key: key.clone(),
                        versions: versions.clone(),
                        hint: None,
                        handoff: Some(digest_of(versions)),
                    },
                );
            }
        }
    }
}

impl DynamoNode {
    /// The keys this node holds that `peer` also replicates.
    fn shared_keys(&self, peer: NodeId) -> impl Iterator<Item = (&Bytes, &Versions)> + '_ {
        self.store.iter().filter(move |(key, _)| {
            self.ring
                .preference_list(key, self.config.n)
                .contains(&peer)
        })
    }

    /// A Merkle tree over the keys shared with `peer` (rebuilt per exchange step: local
    /// work proportional to the data, traffic proportional to the difference).
    fn shared_tree(&self, peer: NodeId) -> Option<MerkleTree> {
        let mut tree = MerkleTree::new(self.config.merkle_depth).ok()?;
        for (key, versions) in self.shared_keys(peer) {
            tree.insert(key, &digest_of(versions).to_le_bytes());
        }
        Some(tree)
    }

    /// Answer `peer`'s tree hashes: descend into the differing inner nodes, and
    /// exchange the contents of differing leaves.
    fn compare_trees(&mut self, peer: NodeId, theirs: &[(u32, u64)], out: &mut DynamoActions) {
        let Some(tree) = self.shared_tree(peer) else {
            return;
        };
        let first_leaf = tree.first_leaf();
        let mut children = Vec::new();
        let mut buckets = Vec::new();
        for &(index, hash) in theirs {
            let index = index as usize;
            match tree.hash(index) {
                Some(mine) if mine != hash => {
                    if index >= first_leaf {
                        buckets.push((index - first_leaf) as u32);
                    } else {
                        for child in [2 * index + 1, 2 * index + 2] {
                            children.push((child as u32, tree.hash(child).unwrap_or(0)));
                        }
                    }
                }
                _ => {} // equal, or an index outside our tree: nothing to do
            }
        }
        if !children.is_empty() {
            out.send(peer, DynamoMessage::TreeHashes { nodes: children });
        }
        if !buckets.is_empty() {
            let entries = self.bucket_entries(peer, &buckets);
            out.send(
                peer,
                DynamoMessage::BucketEntries {
                    buckets,
                    entries,
                    reply: true,
                },
            );
        }
    }

    fn bucket_entries(&self, peer: NodeId, buckets: &[u32]) -> Vec<(Bytes, Versions)> {
        let depth = self.config.merkle_depth;
        self.shared_keys(peer)
            .filter(|(key, _)| buckets.contains(&(MerkleTree::bucket_of(depth, key) as u32)))
            .map(|(key, versions)| (key.clone(), versions.clone()))
            .collect()
    }
}

fn replicate(req: u64, key: &Bytes, versions: &Versions, hint: Option<NodeId>) -> DynamoMessage {
    DynamoMessage::Replicate {
        req,
        key: key.clone(),
        versions: versions.clone(),
        hint,
        handoff: None,
    }
}

/// A fingerprint of versions, to match a handoff with its acknowledgement.
fn digest_of(versions: &Versions) -> u64 {
    token(&versions.encode_with(|value, out| {
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(value);
    }))
}

impl Node for DynamoNode {
    type Message = DynamoMessage;
    type Request = DynamoRequest;
    type Persist = DynamoRecord;
    type Event = DynamoEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(&mut self, input: Input<DynamoMessage, DynamoRequest>, out: &mut DynamoActions) {
        match input {
            Input::Tick => self.on_tick(out),
            Input::Message { from, msg } => self.on_message(from, msg, out),
            Input::Request(request) => self.on_request(request, out),
            Input::Persisted(_) => {}
        }
    }
}
