//! The proposal path when the leader's storage refuses the append: the proposal is
//! refused with a typed error, no index is promised, and the uncommitted-size budget
//! is not charged for entries that never entered the log.

use bytes::Bytes;
use std::cell::Cell;
use std::rc::Rc;
use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};
use synod_raft::{
    Config, Entry, Event, HardState, LogIndex, LogStorage, MemStorage, Message, ProposeError,
    RaftNode, Record, Role, SnapshotMeta, StorageError, Term,
};

type Out = Actions<Message, Record, Event>;

/// `MemStorage` whose appends of entries fail while `fail` is set.
struct Flaky {
    inner: MemStorage,
    fail: Rc<Cell<bool>>,
}

impl LogStorage for Flaky {
    fn hard_state(&self) -> HardState {
        self.inner.hard_state()
    }
    fn first_index(&self) -> LogIndex {
        self.inner.first_index()
    }
    fn last_index(&self) -> LogIndex {
        self.inner.last_index()
    }
    fn term(&self, index: LogIndex) -> Result<Term, StorageError> {
        self.inner.term(index)
    }
    fn entries(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        self.inner.entries(from, to, max_bytes, out)
    }
    fn apply(&mut self, record: &Record) -> Result<(), StorageError> {
        if self.fail.get() && matches!(record, Record::Entries(_)) {
            return Err(StorageError::Other("disk full".into()));
        }
        self.inner.apply(record)
    }
    fn snapshot_meta(&self) -> Option<SnapshotMeta> {
        self.inner.snapshot_meta()
    }
    fn snapshot_data(&self) -> Result<Bytes, StorageError> {
        self.inner.snapshot_data()
    }
}

fn persist_all(node: &mut RaftNode<Flaky>, out: &mut Out) {
    let tokens: Vec<_> = out
        .drain()
        .filter_map(|a| match a {
            Action::PersistInBackground { token, .. } => Some(token),
            _ => None,
        })
        .collect();
    for PersistToken(t) in tokens {
        node.step(Input::Persisted(PersistToken(t)), out);
    }
}

// Issue 3 ("a proposal returns where it will land or a typed reason it was
// refused"): a proposal or batch whose append the storage refused is refused, so no
// index is promised twice (the next proposal lands there), and the uncommitted
// budget it would have charged stays free — proposals are accepted again once the
// storage recovers, and the budget empties when they commit.
#[test]
fn a_failed_append_is_refused_and_charges_nothing() {
    let fail = Rc::new(Cell::new(false));
    let storage = Flaky {
        inner: MemStorage::new(),
        fail: fail.clone(),
    };
    let mut config = Config::new(NodeId(1), [NodeId(1)]);
    config.max_uncommitted_bytes = 8;
    let mut node = RaftNode::new(config, storage).unwrap();
    let mut out = Actions::new();
    while node.role() != Role::Leader {
        node.step(Input::Tick, &mut out);
    }
    persist_all(&mut node, &mut out);
    assert_eq!(node.commit_index(), LogIndex(1));
    out.clear();

    fail.set(true);
    let single = node.propose(Bytes::from_static(b"abcd"), &mut out);
    assert!(
        matches!(single, Err(ProposeError::Storage(_))),
        "{single:?}"
    );
    let batch = node.propose_batch(&[Bytes::from_static(b"efgh")], &mut out);
    assert!(matches!(batch, Err(ProposeError::Storage(_))), "{batch:?}");
    assert_eq!(node.last_index(), LogIndex(1));
    out.clear();

    // The storage recovers: a full budget's worth is accepted at the next free index.
    fail.set(false);
    let accepted = node.propose_batch(
        &[Bytes::from_static(b"1234"), Bytes::from_static(b"5678")],
        &mut out,
    );
    assert_eq!(accepted, Ok((LogIndex(2), LogIndex(3), Term(1))));
    persist_all(&mut node, &mut out);
    assert_eq!(node.commit_index(), LogIndex(3));
    // Committed: the budget is free again.
    assert!(
        node.propose(Bytes::from_static(b"12345678"), &mut out)
            .is_ok()
    );
    assert!(matches!(
        node.propose(Bytes::from_static(b"9"), &mut out),
        Err(ProposeError::UncommittedLimit { uncommitted: 8, .. })
    ));
}
