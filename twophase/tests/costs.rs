//! Failure-free cost of one transaction, measured on the simulator: message delays
//! and messages for 2PC and Paxos Commit with 2–16 participants, checked against
//! closed formulas (see docs/twophase.md for the comparison with Gray & Lamport's
//! table).

use std::fmt::Debug;
use synod_core::{Node, NodeId};
use synod_sim::{LinkConfig, Sim, SimConfig};
use synod_twophase::kv::{KvOp, KvShard};
use synod_twophase::paxos_commit::{self, PaxosCommitNode};
use synod_twophase::twopc::{self, TwoPhaseNode};
use synod_twophase::{Event, Request};

const DELAY: u64 = 10;

/// One measured transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct Cost {
    /// Message delays until the coordinator knows the outcome.
    pub decided_delays: u64,
    /// Message delays until every participant applied it.
    pub applied_delays: u64,
    /// Messages sent between nodes (a node's messages to itself are not sent).
    pub messages: u64,
}

/// Run a warm-up transaction (so every node has logged its epoch), then measure one
/// transaction begun at n1 over `participants`, `read_only` of which (the last ones)
/// only read.
fn measure<N>(
    nodes: u64,
    participants: u64,
    read_only: u64,
    factory: impl FnMut(NodeId, &Vec<N::Persist>) -> N + 'static,
) -> Cost
where
    N: Node<Request = Request<Vec<KvOp>>, Event = Event> + 'static,
    N::Message: Clone + Debug,
{
    let mut config = SimConfig::new(7);
    config.network = LinkConfig::reliable(DELAY);
    let ids: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
    let mut sim: Sim<N> = Sim::new(config, ids, factory).unwrap();
    let begin = |tag: u64| Request::Begin {
        tag,
        participants: (1..=participants)
            .map(|i| {
                let op = if i > participants - read_only {
                    KvOp::Read { key: i }
                } else {
                    KvOp::Write {
                        key: i,
                        value: tag as i64,
                    }
                };
                (NodeId(i), vec![op])
            })
            .collect(),
    };
    // Warm-up: also makes every acceptor log its epoch.
    sim.request(NodeId(1), begin(0)).unwrap();
    sim.run_for(5_000).unwrap();
    sim.drain_events().for_each(drop);
    let sent_before = sim.stats().messages_sent;
    let start = sim.now();
    sim.request(NodeId(1), begin(1)).unwrap();
    sim.run_for(5_000).unwrap();
    let writers = participants - read_only;
    let mut decided = None;
    let mut applied = Vec::new();
    for (t, _, e) in sim.events() {
        match e {
            Event::Decided { .. } => decided = decided.or(Some(*t)),
            Event::Applied { .. } => applied.push(*t),
            _ => {}
        }
    }
    assert_eq!(
        applied.len() as u64,
        writers,
        "every writer applied exactly once"
    );
    let last = applied.iter().copied().max().unwrap_or(start);
    Cost {
        decided_delays: (decided.expect("decided") - start) / DELAY,
        applied_delays: (last - start) / DELAY,
        messages: sim.stats().messages_sent - sent_before,
    }
}

fn quiet_2pc(id: NodeId) -> twopc::Config {
    // Timeouts far beyond the run, so only failure-free traffic is counted.
    let mut c = twopc::Config::new(id);
    c.resend_ticks = 10_000;
    c.termination_ticks = 10_000;
    c.vote_timeout_ticks = 10_000;
    c
}

fn two_pc(participants: u64, read_only: u64) -> Cost {
    measure(participants, participants, read_only, |id, log: &Vec<_>| {
        TwoPhaseNode::recover(quiet_2pc(id), KvShard::new(), log)
    })
}

fn paxos_commit(participants: u64, f: u64) -> Cost {
    let acceptors: Vec<NodeId> = (1..=2 * f + 1).map(NodeId).collect();
    measure(
        participants.max(2 * f + 1),
        participants,
        0,
        move |id, log: &Vec<_>| {
            let mut c = paxos_commit::Config::new(id, acceptors.clone());
            c.resend_ticks = 10_000;
            c.termination_ticks = 10_000;
            c.vote_timeout_ticks = 10_000;
            PaxosCommitNode::recover(c, KvShard::new(), log)
        },
    )
}

/// 2PC with the coordinator at one of the N participants: PREPARE, vote and COMMIT to
/// each of the N − 1 others (Gray & Lamport's co-located count, 3N − 3) plus the
/// N − 1 acknowledgements presumed abort needs before the coordinator forgets; the
/// coordinator decides after 2 delays, everyone has applied after 3.
fn two_pc_formula(n: u64) -> Cost {
    Cost {
        decided_delays: 2,
        applied_delays: 3,
        messages: 3 * (n - 1) + (n - 1),
    }
}

/// Paxos Commit, coordinator at participant 1, acceptors at nodes 1..=2F+1:
/// PREPARE to N − 1, each RM's ballot-0 phase 2a to every acceptor but itself,
/// each acceptor's phase 2b per instance to the coordinator but its own, and the
/// decision to every other RM and acceptor. Decided after 3 delays (PREPARE, 2a,
/// 2b), applied after 4 — except when F = 1 and every RM is also an acceptor: an RM's
/// own acceptance (its 2b leaves at once) and the coordinator's make the quorum of
/// 2 after 2 delays, as fast as 2PC.
fn paxos_commit_formula(n: u64, f: u64) -> Cost {
    let acceptors = 2 * f + 1;
    let messages =
        (n - 1) + (n * acceptors - n.min(acceptors)) + 2 * f * n + (n.max(acceptors) - 1);
    let decided_delays = if f == 1 && n <= acceptors { 2 } else { 3 };
    Cost {
        decided_delays,
        applied_delays: decided_delays + 1,
        messages,
    }
}

#[test]
fn two_pc_failure_free_costs_match_the_formula() {
    // Gray & Lamport §3 / Table 1: measured delays and messages of 2PC for 2–16
    // participants equal the closed formula (the paper's 3N − 3 co-located
    // messages plus presumed abort's N − 1 commit acknowledgements).
    for n in 2..=16 {
        assert_eq!(two_pc(n, 0), two_pc_formula(n), "N = {n}");
    }
}

#[test]
fn read_only_participants_save_two_messages_each() {
    // Presumed abort's read-only optimization: each read-only participant gets no
    // COMMIT and sends no acknowledgement.
    for n in [4, 8] {
        for k in 1..n {
            let full = two_pc_formula(n);
            assert_eq!(
                two_pc(n, k).messages,
                full.messages - 2 * k,
                "N = {n}, read-only = {k}"
            );
        }
    }
}

#[test]
fn paxos_commit_failure_free_costs_match_the_formula() {
    // Gray & Lamport §4 / Table 1: measured delays and messages of Paxos Commit for
    // 2–16 participants and F = 1, 2 equal the closed formula; one message delay
    // more than 2PC (the acceptors' phase 2b hop) unless co-location saves it.
    for f in [1, 2] {
        for n in 2..=16 {
            assert_eq!(
                paxos_commit(n, f),
                paxos_commit_formula(n, f),
                "N = {n}, F = {f}"
            );
        }
    }
}

#[test]
fn print_the_cost_table() {
    // Prints the table recorded in docs/twophase.md (run with --nocapture).
    println!(
        "| N | 2PC delays (decided/applied) | 2PC msgs | PC F=1 delays | PC F=1 msgs | PC F=2 msgs |"
    );
    for n in [2, 3, 4, 8, 16] {
        let a = two_pc(n, 0);
        let b = paxos_commit(n, 1);
        let c = paxos_commit(n, 2);
        println!(
            "| {n} | {}/{} | {} | {}/{} | {} | {} |",
            a.decided_delays,
            a.applied_delays,
            a.messages,
            b.decided_delays,
            b.applied_delays,
            b.messages,
            c.messages
        );
    }
}
