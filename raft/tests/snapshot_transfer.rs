//! InstallSnapshot at the level of one node fed hand-made messages (Raft §7, Figure
//! 13): which bytes a follower assembles when chunks of different transfers
//! interleave, and how a leader's Snapshot progress reacts to hostile or stale
//! answers.

use bytes::Bytes;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_raft::{
    Config, Event, LogIndex, MemStorage, Membership, Message, RaftNode, SnapshotMeta, Term,
};

type Out = Actions<Message, synod_raft::Record, Event>;

fn deliver(node: &mut RaftNode, out: &mut Out, from: u64, msg: Message) {
    node.step(
        Input::Message {
            from: NodeId(from),
            msg,
        },
        out,
    );
}

fn meta(index: u64, term: u64) -> SnapshotMeta {
    SnapshotMeta {
        index: LogIndex(index),
        term: Term(term),
        membership: Membership::new([1, 2, 3].map(NodeId)),
    }
}

fn chunk(term: u64, meta: &SnapshotMeta, offset: u64, data: &'static [u8], done: bool) -> Message {
    Message::InstallSnapshot {
        term: Term(term),
        meta: meta.clone(),
        offset,
        data: Bytes::from_static(data),
        done,
    }
}

/// The snapshots the node handed to the application.
fn restored(out: &Out) -> Vec<Bytes> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Emit(Event::RestoreSnapshot(s)) => Some(s.data.clone()),
            _ => None,
        })
        .collect()
}

/// Node 1 of {1, 2, 3}, a fresh follower.
fn follower() -> (RaftNode, Out) {
    let config = Config::new(NodeId(1), [1, 2, 3].map(NodeId));
    (
        RaftNode::new(config, MemStorage::new()).unwrap(),
        Actions::new(),
    )
}

// Raft §7: the chunks a follower assembles all come from one leader's copy of the
// snapshot. Two leaders' snapshots at the same index and term describe the same state
// but need not be the same bytes (the application serializes its state as it likes),
// so a transfer that a new leader starts must not continue the old leader's buffer.
#[test]
fn a_new_leaders_transfer_never_continues_the_old_leaders_bytes() {
    let (mut node, mut out) = follower();
    let m = meta(5, 1);
    deliver(&mut node, &mut out, 2, chunk(1, &m, 0, b"AAAA", false));
    // Node 2 is deposed; node 3 leads term 2 and sends its own snapshot at index 5,
    // from its first byte. Whatever the follower answers, node 3 then continues from
    // the offset the follower named.
    out.drain().for_each(drop);
    deliver(&mut node, &mut out, 3, chunk(2, &m, 0, b"BBBB", false));
    let named = out
        .as_slice()
        .iter()
        .find_map(|a| match a {
            Action::Send {
                msg: Message::InstallSnapshotResponse { next_offset, .. },
                ..
            } => Some(*next_offset),
            _ => None,
        })
        .expect("the chunk is answered");
    let rest: &'static [u8] = if named == 0 { b"BBBBBBBB" } else { b"BBBB" };
    deliver(&mut node, &mut out, 3, chunk(2, &m, named, rest, true));
    assert_eq!(restored(&out), [Bytes::from_static(b"BBBBBBBB")]);
}
