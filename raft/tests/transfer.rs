//! Leadership transfer (thesis §3.10) on the simulator, with Raft's safety invariants
//! checked after every step: a transfer hands leadership to an up-to-date target,
//! proposals are refused meanwhile, and a transfer whose target cannot take over
//! aborts after an election timeout.

mod common;

use bytes::Bytes;
use common::*;
use synod_core::NodeId;
use synod_raft::{Event, ProposeError, Request, Role, TransferError};
use synod_sim::{Fault, SimConfig, check_seeds};

fn refusals(sim: &Cluster, id: NodeId, from: usize) -> Vec<ProposeError> {
    sim.events()[from..]
        .iter()
        .filter(|(_, n, _)| *n == id)
        .filter_map(|(_, _, e)| match e {
            Event::ProposalRefused(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Transfer from the first leader to another node; whether the target took over
/// within an election timeout.
fn transfer_once(seed: u64, breakage: Breakage) -> Result<bool, String> {
    let (mut sim, _) = cluster(SimConfig::new(seed), 3, breakage);
    let old = run_to_leader(&mut sim)?;
    let target = sim.ids().find(|&id| id != old).unwrap();
    propose(&mut sim, "x");
    sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
    sim.request(old, Request::TransferLeadership(target))
        .map_err(|e| e.to_string())?;
    run_until_leader_is(&mut sim, target, ELECTION)
}

// Checker check: without the transfer flag on its vote requests (thesis §3.10), the
// target's campaign is ignored by voters inside their leader lease (§4.2.3), so the
// transfer does not complete; the success check catches that on most seeds (the old
// leader may still vote when its own lease has just lapsed).
#[test]
fn transfer_check_catches_unflagged_votes() {
    let broken = Breakage {
        unflagged_transfer_votes: true,
        ..Breakage::default()
    };
    let mut stuck = 0;
    for seed in 0..16 {
        assert!(
            transfer_once(seed, Breakage::default()).unwrap(),
            "seed {seed}"
        );
        stuck += usize::from(!transfer_once(seed, broken).unwrap());
    }
    assert!(
        stuck >= 8,
        "the broken transfer got stuck on only {stuck} of 16 seeds"
    );
}

// Thesis §3.10: the leader brings a lagging target up to date and sends TimeoutNow;
// the target wins the next term within an election timeout (no pre-vote, voters
// past their leader lease), and every committed entry survives.
#[test]
fn transfer_hands_leadership_to_the_target() {
    check_seeds("transfer_hands_leadership_to_the_target", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 5, Breakage::default());
        let old = run_to_leader(&mut sim)?;
        let target = sim.ids().find(|&id| id != old).unwrap();
        // The target misses some entries first, so the leader must catch it up.
        sim.apply(Fault::Partition(vec![vec![target]])).unwrap();
        for i in 0..5 {
            propose(&mut sim, &format!("c{i}"));
        }
        sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
        sim.apply(Fault::Heal).unwrap();
        let term = sim.node(old).unwrap().raft.term();
        sim.request(old, Request::TransferLeadership(target))
            .map_err(|e| e.to_string())?;
        if !run_until_leader_is(&mut sim, target, ELECTION)? {
            return Err(format!(
                "{target} did not take over from {old} within an election timeout"
            ));
        }
        if sim.node(target).unwrap().raft.term() <= term {
            return Err("the new leader did not start a new term".into());
        }
        propose(&mut sim, "after");
        if !run_until_applied(&mut sim, &observer, 6, 300_000)? {
            return Err("not every node applied after the transfer".into());
        }
        Ok(())
    });
}

// The same over lossy, duplicating, reordering links: a lost TimeoutNow is resent
// at heartbeats; a transfer may abort, and is then retried. Safety holds throughout.
#[test]
fn transfer_over_a_lossy_network() {
    check_seeds("transfer_over_a_lossy_network", 8, |seed| {
        let config = lossy(seed, 0.1, 0.1, 0.1);
        let (mut sim, _observer) = cluster(config, 3, Breakage::default());
        let target = NodeId(3);
        for _attempt in 0..10 {
            let l = run_to_leader(&mut sim)?;
            if l == target {
                return Ok(());
            }
            propose(&mut sim, "x");
            sim.request(l, Request::TransferLeadership(target))
                .map_err(|e| e.to_string())?;
            sim.run_for(2 * ELECTION).map_err(|v| v.to_string())?;
        }
        Err(format!("{target} never took over"))
    });
}

// Thesis §3.10: while a transfer is under way the leader refuses proposals; if the
// target cannot take over (cut off), the transfer aborts after an election timeout,
// the leader keeps its term and accepts proposals again.
#[test]
fn transfer_to_an_unreachable_target_times_out() {
    check_seeds("transfer_to_an_unreachable_target_times_out", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let l = run_to_leader(&mut sim)?;
        let target = sim.ids().find(|&id| id != l).unwrap();
        sim.apply(Fault::Partition(vec![vec![target]])).unwrap();
        let term = sim.node(l).unwrap().raft.term();
        let from = sim.events().len();
        sim.request(l, Request::TransferLeadership(target))
            .map_err(|e| e.to_string())?;
        sim.request(l, Request::Propose(Bytes::from_static(b"refused")))
            .map_err(|e| e.to_string())?;
        if refusals(&sim, l, from) != [ProposeError::TransferInProgress { target }] {
            return Err(format!(
                "proposal during transfer: {:?}",
                refusals(&sim, l, from)
            ));
        }
        sim.request(l, Request::TransferLeadership(target))
            .map_err(|e| e.to_string())?;
        let second = sim.events()[from..].iter().any(|(_, _, e)| {
            matches!(e, Event::TransferRefused(TransferError::InProgress(t)) if *t == target)
        });
        if !second {
            return Err("a second transfer was not refused as in progress".into());
        }
        let start = sim.now();
        sim.run_until(
            |s| {
                s.events()[from..]
                    .iter()
                    .any(|(_, _, e)| matches!(e, Event::TransferAborted { .. }))
                    || s.now() > start + 3 * ELECTION
            },
            1_000_000,
        )
        .map_err(|v| v.to_string())?;
        let aborted_at = sim.events()[from..]
            .iter()
            .find(|(_, _, e)| matches!(e, Event::TransferAborted { .. }))
            .map(|(t, _, _)| *t)
            .ok_or("the transfer never aborted")?;
        if aborted_at > start + ELECTION + TICK {
            return Err(format!(
                "aborted only after {} time units",
                aborted_at - start
            ));
        }
        let raft = &sim.node(l).unwrap().raft;
        if raft.role() != Role::Leader || raft.term() != term {
            return Err("the leader lost its term to an aborted transfer".into());
        }
        propose(&mut sim, "accepted");
        sim.apply(Fault::Heal).unwrap();
        if !run_until_applied(&mut sim, &observer, 1, 300_000)? {
            return Err("no commit after the abort".into());
        }
        Ok(())
    });
}

// Requests that cannot start a transfer are typed refusals: not the leader, a target
// that is not another voter.
#[test]
fn invalid_transfers_are_refused() {
    let (mut sim, _) = cluster(SimConfig::new(1), 3, Breakage::default());
    let l = run_to_leader(&mut sim).unwrap();
    let follower = sim.ids().find(|&id| id != l).unwrap();
    for (node, target) in [(follower, l), (l, l), (l, NodeId(9))] {
        let from = sim.events().len();
        sim.request(node, Request::TransferLeadership(target))
            .unwrap();
        let refused = sim.events()[from..]
            .iter()
            .any(|(_, _, e)| matches!(e, Event::TransferRefused(_)));
        assert!(refused, "{node} -> {target} was not refused");
    }
}

// Thesis §3.10: only the campaign the leader started with TimeoutNow carries the
// transfer flag that lets it past the voters' leader lease. If that campaign fails
// and the target times out and campaigns again on its own, the flag is gone —
// otherwise a target cut off during its transfer later disrupts a healthy leader.
#[test]
fn only_the_campaign_timeout_now_started_is_flagged() {
    use synod_core::{Action, Actions, Input, Node};
    use synod_raft::{Config, MemStorage, Message, RaftNode, Term};
    let mut node = RaftNode::new(
        Config::new(NodeId(2), [1, 2, 3].map(NodeId)),
        MemStorage::new(),
    )
    .unwrap();
    let mut out = Actions::new();
    let heartbeat = Message::AppendEntries {
        term: Term(1),
        prev_log_index: synod_raft::LogIndex(0),
        prev_log_term: Term(0),
        entries: Vec::new(),
        leader_commit: synod_raft::LogIndex(0),
    };
    node.step(
        Input::Message {
            from: NodeId(1),
            msg: heartbeat,
        },
        &mut out,
    );
    let timeout_now = Message::TimeoutNow { term: Term(1) };
    node.step(
        Input::Message {
            from: NodeId(1),
            msg: timeout_now,
        },
        &mut out,
    );
    let flags = |out: &mut Actions<_, _, _>| -> Vec<(bool, bool)> {
        out.drain()
            .filter_map(|a| match a {
                Action::Send {
                    msg:
                        Message::RequestVote {
                            pre_vote, transfer, ..
                        },
                    ..
                } => Some((pre_vote, transfer)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(node.role(), Role::Candidate);
    assert!(
        flags(&mut out)
            .iter()
            .all(|&(pre, transfer)| !pre && transfer)
    );
    // Nobody answers; the candidate times out, wins a pre-vote and campaigns again.
    while node.role() != Role::PreCandidate {
        node.step(Input::Tick, &mut out);
    }
    let grant = Message::RequestVoteResponse {
        term: Term(3),
        pre_vote: true,
        granted: true,
    };
    node.step(
        Input::Message {
            from: NodeId(3),
            msg: grant,
        },
        &mut out,
    );
    assert_eq!((node.role(), node.term()), (Role::Candidate, Term(3)));
    let sent = flags(&mut out);
    assert!(sent.iter().any(|&(pre, _)| !pre), "vote requests sent");
    assert!(
        sent.iter().all(|&(_, transfer)| !transfer),
        "a campaign of its own is flagged as a transfer: {sent:?}"
    );
}

// Thesis §3.10 with §4.3: while C_old,new is in force, a voter on its way out (in
// C_old only) cannot be handed leadership — it could not lead C_new — while a voter of
// C_new can.
#[test]
fn no_transfer_to_a_voter_being_removed() {
    use synod_core::{Actions, Input, Node, PersistToken};
    use synod_raft::{
        AppendOutcome, Config, LogIndex, MemStorage, MembershipChange, Message, RaftNode, Term,
    };
    let mut node = RaftNode::new(
        Config::new(NodeId(1), [1, 2, 3].map(NodeId)),
        MemStorage::new(),
    )
    .unwrap();
    let mut out = Actions::new();
    while node.role() != Role::PreCandidate {
        node.step(Input::Tick, &mut out);
    }
    for pre_vote in [true, false] {
        let grant = Message::RequestVoteResponse {
            term: Term(1),
            pre_vote,
            granted: true,
        };
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: grant,
            },
            &mut out,
        );
    }
    node.step(Input::Persisted(PersistToken(1)), &mut out);
    let matched = Message::AppendEntriesResponse {
        term: Term(1),
        outcome: AppendOutcome::Matched {
            match_index: LogIndex(1),
        },
    };
    node.step(
        Input::Message {
            from: NodeId(2),
            msg: matched,
        },
        &mut out,
    );
    assert_eq!(node.commit_index(), LogIndex(1));
    node.change_membership(&[MembershipChange::Remove(NodeId(3))], &mut out)
        .unwrap();
    assert!(node.membership().is_joint());
    assert_eq!(
        node.transfer_leadership(NodeId(3), &mut out),
        Err(TransferError::NotAVoter(NodeId(3)))
    );
    assert_eq!(node.transfer_leadership(NodeId(2), &mut out), Ok(()));
}
