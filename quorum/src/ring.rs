//! A consistent-hash ring with virtual nodes, and Dynamo's preference lists.
//!
//! This is the one piece of `synod-dht` the Dynamo-style store needs; it lives here
//! until that crate exists, and will move there.

use std::collections::BTreeSet;

use synod_core::NodeId;

use crate::error::QuorumError;

/// The most virtual nodes per node (a bound on the ring's size).
pub const VNODES_MAX: u32 = 4096;

/// Hash bytes to a point on the ring: FNV-1a, then a SplitMix64 finalizer so that
/// similar keys land far apart. Stable across platforms and releases: placement is
/// part of a cluster's durable layout.
pub fn token(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Nodes placed on a hash ring, each at `vnodes` points (DeCandia et al. 2007, §4.2).
///
/// A key belongs to the first node clockwise from its token; its *preference list* is
/// the first N distinct nodes clockwise. Virtual nodes spread each node's share
/// evenly, and a joining node takes keys only from its neighbours — about 1/n of them.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::ring::Ring;
///
/// let mut ring = Ring::new(64)?;
/// for id in 1..=5 {
///     ring.add(NodeId(id));
/// }
/// let replicas = ring.preference_list(b"cart:alice", 3);
/// assert_eq!(replicas.len(), 3);
/// assert_eq!(replicas[0], ring.owner(b"cart:alice").unwrap());
/// // Sloppy quorum: walking on past the first three finds the stand-ins.
/// let walk: Vec<NodeId> = ring.walk(b"cart:alice").collect();
/// assert_eq!(&walk[..3], &replicas[..]);
/// assert_eq!(walk.len(), 5);
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ring {
    /// `(token, node)`, sorted by token then node.
    points: Vec<(u64, NodeId)>,
    nodes: BTreeSet<NodeId>,
    vnodes: u32,
}

impl Ring {
    /// An empty ring placing each node at `vnodes` points (1..=[`VNODES_MAX`]).
    pub fn new(vnodes: u32) -> Result<Self, QuorumError> {
        if vnodes == 0 || vnodes > VNODES_MAX {
            return Err(QuorumError::SizeOutOfRange {
                size: u64::from(vnodes),
                total: u64::from(VNODES_MAX),
            });
        }
        Ok(Ring {
            points: Vec::new(),
            nodes: BTreeSet::new(),
            vnodes,
        })
    }

    /// Place `node`; false if it was already on the ring.
    pub fn add(&mut self, node: NodeId) -> bool {
        if !self.nodes.insert(node) {
            return false;
        }
        for vnode in 0..self.vnodes {
            let mut name = [0u8; 12];
            name[..8].copy_from_slice(&node.0.to_le_bytes());
            name[8..].copy_from_slice(&vnode.to_le_bytes());
            self.points.push((token(&name), node));
        }
        self.points.sort_unstable();
        true
    }

    /// Take `node` off the ring; false if it was not on it.
    pub fn remove(&mut self, node: NodeId) -> bool {
        if !self.nodes.remove(&node) {
            return false;
        }
        self.points.retain(|&(_, n)| n != node);
        true
    }

    /// The nodes on the ring, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes.iter().copied()
    }

    /// The node that owns `key` (first clockwise), if the ring is not empty.
    pub fn owner(&self, key: &[u8]) -> Option<NodeId> {
        self.walk(key).next()
    }

    /// The first `n` distinct nodes clockwise from `key` (fewer if the ring has fewer).
    pub fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        self.walk(key).take(n).collect()
    }

    /// Every node, each once, in clockwise order from `key`: the preference list
    /// followed by the stand-ins a sloppy quorum uses when preferred nodes are down.
    pub fn walk(&self, key: &[u8]) -> impl Iterator<Item = NodeId> + '_ {
        let start = self.points.partition_point(|&(t, _)| t < token(key));
        let mut seen = BTreeSet::new();
        self.points[start..]
            .iter()
            .chain(&self.points[..start])
            .map(|&(_, node)| node)
            .filter(move |node| seen.insert(*node))
            .take(self.nodes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(nodes: u64) -> Ring {
        let mut ring = Ring::new(128).unwrap();
        for id in 1..=nodes {
            ring.add(NodeId(id));
        }
        ring
    }

    fn key(i: u32) -> [u8; 4] {
        i.to_le_bytes()
    }

    /// Virtual nodes balance load: with 10 nodes × 128 points, every node owns within
    /// ±35% of a tenth of 100,000 keys.
    #[test]
    fn ownership_is_balanced() {
        let ring = ring(10);
        let mut owned = [0u32; 11];
        for i in 0..100_000 {
            owned[ring.owner(&key(i)).unwrap().0 as usize] += 1;
        }
        for (node, &count) in owned.iter().enumerate().skip(1) {
            assert!(
                (6_500..=13_500).contains(&count),
                "node {node} owns {count} of 100,000"
            );
        }
    }

    /// A joining node takes about 1/n of the keys, and only takes: no key moves between
    /// two old nodes (§4.2's point of consistent hashing).
    #[test]
    fn a_join_moves_only_keys_to_the_new_node() {
        let before = ring(10);
        let mut after = before.clone();
        assert!(after.add(NodeId(11)));
        assert!(!after.add(NodeId(11)));
        let mut moved = 0;
        for i in 0..100_000 {
            let (old, new) = (
                before.owner(&key(i)).unwrap(),
                after.owner(&key(i)).unwrap(),
            );
            if old != new {
                assert_eq!(new, NodeId(11), "key {i} moved from {old} to {new}");
                moved += 1;
            }
        }
        assert!(
            (5_000..=14_000).contains(&moved),
            "{moved} of 100,000 keys moved"
        );
        assert!(after.remove(NodeId(11)));
        assert_eq!(after, before);
    }

    /// Preference lists hold distinct nodes, start with the owner, and are prefixes of
    /// the walk; asking for more than exist gives every node once.
    #[test]
    fn preference_lists_are_distinct_prefixes() {
        let ring = ring(7);
        for i in 0..1_000 {
            let walk: Vec<NodeId> = ring.walk(&key(i)).collect();
            assert_eq!(walk.len(), 7);
            assert_eq!(walk.iter().collect::<BTreeSet<_>>().len(), 7);
            assert_eq!(ring.preference_list(&key(i), 3), walk[..3]);
            assert_eq!(ring.preference_list(&key(i), 99), walk);
        }
        assert_eq!(Ring::new(4).unwrap().owner(b"x"), None);
        assert!(Ring::new(0).is_err() && Ring::new(VNODES_MAX + 1).is_err());
    }
}
