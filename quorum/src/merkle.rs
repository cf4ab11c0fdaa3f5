//! Merkle trees over a key range, for anti-entropy that costs in proportion to the
//! difference between two replicas, not to the data (DeCandia et al. 2007, §4.7).
//!
//! Keys fall into 2^depth buckets by their ring token; a leaf summarises its bucket as
//! the wrapping sum of its items' hashes (so it updates in O(1) when an item changes,
//! whatever the order), and each inner node hashes its two children. Two replicas
//! compare roots, then descend only into children whose hashes differ: the exchange
//! sends O(d · depth) hashes for d differing buckets.

use crate::error::QuorumError;
use crate::ring::token;

/// The deepest tree (2^20 buckets).
pub const DEPTH_MAX: u8 = 20;

/// A hash tree over 2^depth buckets of keys.
///
/// ```
/// use synod_quorum::merkle::MerkleTree;
///
/// let mut a = MerkleTree::new(10)?;
/// let mut b = MerkleTree::new(10)?;
/// for key in 0..10_000u32 {
///     a.insert(&key.to_le_bytes(), b"v1");
///     b.insert(&key.to_le_bytes(), b"v1");
/// }
/// b.update(&7u32.to_le_bytes(), b"v1", b"v2");
/// let (buckets, hashes_sent) = a.diff(&b);
/// assert_eq!(buckets, vec![MerkleTree::bucket_of(10, &7u32.to_le_bytes())]);
/// assert!(hashes_sent <= 2 * 10 + 1); // one path down, not 10,000 items
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    depth: u8,
    /// Heap layout: node i has children 2i+1 and 2i+2; the last 2^depth are leaves.
    nodes: Vec<u64>,
}

impl MerkleTree {
    /// An empty tree of 2^`depth` buckets (`depth` in 0..=[`DEPTH_MAX`]).
    pub fn new(depth: u8) -> Result<Self, QuorumError> {
        if depth > DEPTH_MAX {
            return Err(QuorumError::SizeOutOfRange {
                size: u64::from(depth),
                total: u64::from(DEPTH_MAX),
            });
        }
        let mut tree = MerkleTree {
            depth,
            nodes: vec![0; (1usize << (depth + 1)) - 1],
        };
        for i in (0..tree.first_leaf()).rev() {
            tree.nodes[i] = tree.inner_hash(i);
        }
        Ok(tree)
    }

    /// The bucket `key` falls in, in a tree of `depth`: the top bits of its token, so
    /// buckets are contiguous ranges of the ring.
    pub fn bucket_of(depth: u8, key: &[u8]) -> usize {
        if depth == 0 {
            0
        } else {
            (token(key) >> (64 - u32::from(depth))) as usize
        }
    }

    /// The root hash: equal roots mean (with overwhelming probability) equal contents.
    pub fn root(&self) -> u64 {
        self.nodes[0]
    }

    /// Add an item (a key and a digest of its version/value).
    pub fn insert(&mut self, key: &[u8], version: &[u8]) {
        self.adjust(key, item_hash(key, version), true);
    }

    /// Remove an item previously inserted with the same `version`.
    pub fn remove(&mut self, key: &[u8], version: &[u8]) {
        self.adjust(key, item_hash(key, version), false);
    }

    /// Replace an item's version.
    pub fn update(&mut self, key: &[u8], old: &[u8], new: &[u8]) {
        self.remove(key, old);
        self.insert(key, new);
    }

    /// The hash of node `index` (heap layout), if it exists: what a replica sends a
    /// peer during the exchange.
    pub fn hash(&self, index: usize) -> Option<u64> {
        self.nodes.get(index).copied()
    }

    /// Descend from the root into subtrees whose hashes differ, as two replicas would
    /// by exchanging the hashes of mismatching nodes' children. Returns the differing
    /// buckets and how many hashes were exchanged. Trees of different depth differ in
    /// every bucket.
    pub fn diff(&self, other: &MerkleTree) -> (Vec<usize>, usize) {
        if self.depth != other.depth {
            return ((0..1usize << self.depth).collect(), 0);
        }
        let mut sent = 1; // the root
        let mut frontier = vec![0usize];
        let mut buckets = Vec::new();
        while let Some(i) = frontier.pop() {
            if self.nodes[i] == other.nodes[i] {
                continue;
            }
            if i >= self.first_leaf() {
                buckets.push(i - self.first_leaf());
            } else {
                sent += 2;
                frontier.extend([2 * i + 2, 2 * i + 1]);
            }
        }
        buckets.sort_unstable();
        (buckets, sent)
    }

    /// The tree's depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// The heap index of the first leaf; leaf `b` (bucket `b`) is at `first_leaf() + b`.
    pub fn first_leaf(&self) -> usize {
        (1usize << self.depth) - 1
    }

    fn inner_hash(&self, i: usize) -> u64 {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.nodes[2 * i + 1].to_le_bytes());
        bytes[8..].copy_from_slice(&self.nodes[2 * i + 2].to_le_bytes());
        token(&bytes)
    }

    fn adjust(&mut self, key: &[u8], hash: u64, add: bool) {
        let mut i = self.first_leaf() + Self::bucket_of(self.depth, key);
        self.nodes[i] = if add {
            self.nodes[i].wrapping_add(hash)
        } else {
            self.nodes[i].wrapping_sub(hash)
        };
        while i > 0 {
            i = (i - 1) / 2;
            self.nodes[i] = self.inner_hash(i);
        }
    }
}

fn item_hash(key: &[u8], version: &[u8]) -> u64 {
    // Length-prefix the key so (key, version) pairs cannot collide by concatenation.
    let mut bytes = Vec::with_capacity(8 + key.len() + version.len());
    bytes.extend_from_slice(&(key.len() as u64).to_le_bytes());
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(version);
    token(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(depth: u8, items: u32) -> MerkleTree {
        let mut tree = MerkleTree::new(depth).unwrap();
        for key in 0..items {
            tree.insert(&key.to_le_bytes(), b"v");
        }
        tree
    }

    /// The same items in any order give the same tree; removing undoes inserting.
    #[test]
    fn contents_not_history_determine_the_tree() {
        let forward = filled(8, 1_000);
        let mut backward = MerkleTree::new(8).unwrap();
        for key in (0..1_000u32).rev() {
            backward.insert(&key.to_le_bytes(), b"v");
        }
        assert_eq!(forward, backward);
        backward.insert(b"extra", b"v");
        assert_ne!(forward.root(), backward.root());
        backward.remove(b"extra", b"v");
        assert_eq!(forward, backward);
    }

    /// Traffic is proportional to the difference, not the data: with 100,000 items and
    /// d changed keys, the exchange finds exactly their buckets with at most
    /// 1 + 2·depth·d hashes; identical trees cost one hash.
    #[test]
    fn diff_costs_in_proportion_to_the_difference() {
        let depth = 12;
        let a = filled(depth, 100_000);
        assert_eq!(a.diff(&a.clone()), (vec![], 1));
        for changed in [1u32, 10, 100] {
            let mut b = a.clone();
            let mut expected: Vec<usize> = Vec::new();
            for key in (0..changed).map(|k| k * 997) {
                b.update(&key.to_le_bytes(), b"v", b"w");
                expected.push(MerkleTree::bucket_of(depth, &key.to_le_bytes()));
            }
            expected.sort_unstable();
            expected.dedup();
            let (buckets, sent) = a.diff(&b);
            assert_eq!(buckets, expected);
            assert!(
                sent <= 1 + 2 * usize::from(depth) * changed as usize,
                "{changed} changes cost {sent} hashes"
            );
        }
    }

    /// Depth is bounded; trees of different depth are wholly different.
    #[test]
    fn depth_is_bounded() {
        assert!(MerkleTree::new(DEPTH_MAX + 1).is_err());
        let (buckets, _) = filled(2, 10).diff(&filled(3, 10));
        assert_eq!(buckets.len(), 4);
    }
}
