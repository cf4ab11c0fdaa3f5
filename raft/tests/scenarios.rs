//! Scenario tests in the spirit of the MIT 6.824 Raft labs, on the simulator, with
//! Raft's safety invariants checked after every step. Thresholds are in ticks.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use synod_core::NodeId;
use synod_raft::{EntryKind, LogIndex, Role, Term};
use synod_sim::{Fault, LinkConfig, SimConfig, check_seeds};

// 6.824 "initial election": a leader is elected within a few election timeouts and,
// with no faults, the term stays the same for 50 more timeouts (Raft §5.2).
#[test]
fn initial_election_and_stable_term() {
    check_seeds("initial_election_and_stable_term", 16, |seed| {
        let (mut sim, _) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let first = run_to_leader(&mut sim)?;
        let term = sim.node(first).unwrap().raft.term();
        sim.run_for(50 * ELECTION).map_err(|v| v.to_string())?;
        let now = leader(&sim);
        let term_now = sim.live_nodes().map(|(_, n)| n.raft.term()).max().unwrap();
        if now != Some(first) || term_now != term {
            return Err(format!(
                "leader {first} in {term} became {now:?} in {term_now} without faults"
            ));
        }
        Ok(())
    });
}

// 6.824 "re-election": after the leader crashes a new one is elected; the old leader
// rejoining does not disturb it; without a quorum there is no leader (check-quorum).
#[test]
fn reelection_and_no_leader_without_quorum() {
    check_seeds("reelection_and_no_leader_without_quorum", 16, |seed| {
        let (mut sim, _) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let first = run_to_leader(&mut sim)?;
        sim.apply(Fault::Crash(first)).unwrap();
        let second = run_to_leader(&mut sim)?;
        if second == first {
            return Err("crashed leader still leads".into());
        }
        sim.apply(Fault::Restart(first)).unwrap();
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        if leader(&sim) != Some(second) {
            return Err(format!("rejoining {first} disturbed leader {second}"));
        }
        let other = sim.ids().find(|&id| id != second && id != first).unwrap();
        sim.apply(Fault::Crash(other)).unwrap();
        sim.apply(Fault::Crash(first)).unwrap();
        sim.run_for(4 * ELECTION).map_err(|v| v.to_string())?;
        if let Some(l) = leader(&sim) {
            return Err(format!("{l} leads without a quorum"));
        }
        sim.apply(Fault::Restart(other)).unwrap();
        run_to_leader(&mut sim)?;
        Ok(())
    });
}

// A follower partitioned away for many election timeouts rejoins without changing
// the term or the leader: pre-vote keeps its term from growing (thesis §9.6).
#[test]
fn rejoining_partitioned_follower_does_not_disrupt() {
    check_seeds(
        "rejoining_partitioned_follower_does_not_disrupt",
        16,
        |seed| {
            let (mut sim, _) = cluster(SimConfig::new(seed), 5, Breakage::default());
            let first = run_to_leader(&mut sim)?;
            let term = sim.node(first).unwrap().raft.term();
            let loner = sim.ids().find(|&id| id != first).unwrap();
            sim.apply(Fault::Partition(vec![vec![loner]])).unwrap();
            sim.run_for(20 * ELECTION).map_err(|v| v.to_string())?;
            if sim.node(loner).unwrap().raft.term() != term {
                return Err(format!(
                    "isolated {loner} raised its term to {}",
                    sim.node(loner).unwrap().raft.term()
                ));
            }
            sim.apply(Fault::Heal).unwrap();
            sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
            let max_term = sim.live_nodes().map(|(_, n)| n.raft.term()).max().unwrap();
            if leader(&sim) != Some(first) || max_term != term {
                return Err(format!(
                    "rejoin changed leader/term: {:?} in {max_term}",
                    leader(&sim)
                ));
            }
            Ok(())
        },
    );
}

// 6.824 "basic agreement" and "concurrent proposals": every node applies the same
// commands in the same order (Raft §5.3).
#[test]
fn basic_agreement() {
    check_seeds("basic_agreement", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        run_to_leader(&mut sim)?;
        for i in 0..20 {
            if !propose(&mut sim, &format!("cmd{i}")) {
                return Err("no leader to propose to".into());
            }
        }
        if !run_until_applied(&mut sim, &observer, 20, 200_000)? {
            return Err("not every node applied 20 commands".into());
        }
        let first = applied_commands(&sim, NodeId(1));
        for id in sim.ids() {
            if applied_commands(&sim, id) != first {
                return Err(format!("{id} applied a different sequence"));
            }
        }
        Ok(())
    });
}

// 6.824 "agreement despite a disconnected follower" and "no agreement without a
// majority": one crashed follower does not stop commits; two do, until they return.
#[test]
fn agreement_needs_a_majority() {
    check_seeds("agreement_needs_a_majority", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let l = run_to_leader(&mut sim)?;
        let followers: Vec<NodeId> = sim.ids().filter(|&id| id != l).collect();
        sim.apply(Fault::Crash(followers[0])).unwrap();
        propose(&mut sim, "a");
        if !run_until_applied(&mut sim, &observer, 1, 100_000)? {
            return Err("no commit with one follower down".into());
        }
        sim.apply(Fault::Crash(followers[1])).unwrap();
        let commit = sim.node(l).unwrap().raft.commit_index();
        propose(&mut sim, "b");
        sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
        if sim.node(l).unwrap().raft.commit_index() != commit {
            return Err("committed without a majority".into());
        }
        sim.apply(Fault::Restart(followers[0])).unwrap();
        sim.apply(Fault::Restart(followers[1])).unwrap();
        run_to_leader(&mut sim)?;
        propose(&mut sim, "c");
        if !run_until_applied(&mut sim, &observer, 2, 300_000)? {
            return Err("no progress after the followers returned".into());
        }
        Ok(())
    });
}

// 6.824 "rejoin of partitioned leader": an old leader that accepted proposals alone
// rejoins; its uncommitted entries are replaced and everyone agrees (Raft §5.3).
#[test]
fn partitioned_old_leader_rejoins() {
    check_seeds("partitioned_old_leader_rejoins", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let old = run_to_leader(&mut sim)?;
        propose(&mut sim, "before");
        run_until_applied(&mut sim, &observer, 1, 100_000)?;
        sim.apply(Fault::Partition(vec![vec![old]])).unwrap();
        for i in 0..3 {
            sim.request(old, synod_raft::Request::Propose(format!("lost{i}").into()))
                .unwrap();
        }
        let start = sim.now();
        sim.run_until(
            |s| leader(s).is_some_and(|l| l != old) || s.now() > start + LEADER_WITHIN,
            1_000_000,
        )
        .map_err(|v| v.to_string())?;
        let new = leader(&sim).filter(|&l| l != old).ok_or("no new leader")?;
        propose(&mut sim, "after");
        sim.apply(Fault::Heal).unwrap();
        if !run_until_applied(&mut sim, &observer, 2, 300_000)? {
            return Err("not everyone applied after the heal".into());
        }
        let applied = applied_commands(&sim, old);
        if applied.iter().any(|d| d.starts_with(b"lost")) {
            return Err(format!(
                "entries proposed to the deposed leader were applied: {applied:?} (new {new})"
            ));
        }
        Ok(())
    });
}

// 6.824 "persistence": after every node crashes and restarts, the log survives and the
// cluster keeps committing on top of it (Raft Figure 2: term, vote, log durable).
#[test]
fn persistence_across_crash_of_all() {
    check_seeds("persistence_across_crash_of_all", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        run_to_leader(&mut sim)?;
        for i in 0..5 {
            propose(&mut sim, &format!("x{i}"));
        }
        run_until_applied(&mut sim, &observer, 5, 200_000)?;
        let ids: Vec<NodeId> = sim.ids().collect();
        for &id in &ids {
            sim.apply(Fault::Crash(id)).unwrap();
        }
        for &id in &ids {
            sim.apply(Fault::Restart(id)).unwrap();
        }
        run_to_leader(&mut sim)?;
        propose(&mut sim, "y");
        if !run_until_applied(&mut sim, &observer, 6, 300_000)? {
            return Err("restarted cluster did not re-apply 5 commands plus a new one".into());
        }
        Ok(())
    });
}

// 6.824 "Figure 8" (reliable and unreliable): leaders crash at random moments while
// proposals arrive; the invariants (state-machine safety, leader completeness) hold
// throughout, and after the faults stop every node applies the same log (§5.4.2).
#[test]
fn figure_8_reliable_and_unreliable() {
    for unreliable in [false, true] {
        check_seeds("figure_8_reliable_and_unreliable", 8, |seed| {
            let config = if unreliable {
                lossy(seed, 0.1, 0.05, 0.1)
            } else {
                SimConfig::new(seed)
            };
            let (mut sim, observer) = cluster(config, 5, Breakage::default());
            let ids: Vec<NodeId> = sim.ids().collect();
            let mut down = Vec::new();
            for round in 0..30u64 {
                propose(&mut sim, &format!("r{round}"));
                let wait = if sim.rng().below(10) < 1 {
                    5 * ELECTION
                } else {
                    sim.rng().below(ELECTION / 2) + 1
                };
                sim.run_for(wait).map_err(|v| v.to_string())?;
                if let Some(l) = leader(&sim) {
                    sim.apply(Fault::Crash(l)).unwrap();
                    down.push(l);
                }
                if down.len() >= 3 {
                    let pick = sim.rng().below(down.len() as u64) as usize;
                    let back = down.swap_remove(pick);
                    sim.apply(Fault::Restart(back)).unwrap();
                }
            }
            for id in down {
                sim.apply(Fault::Restart(id)).unwrap();
            }
            sim.apply(Fault::SetNetwork(LinkConfig::default())).unwrap();
            run_to_leader(&mut sim)?;
            propose(&mut sim, "final");
            let target_ok = sim
                .run_until(|s| converged(s, &ids), 500_000)
                .map_err(|v| v.to_string())?;
            if !target_ok {
                return Err(format!(
                    "cluster did not converge (unreliable: {unreliable})"
                ));
            }
            let _ = observer;
            Ok(())
        });
    }
}

// The leader is the only node that accepts proposals; the others name it.
#[test]
fn followers_refuse_proposals_with_a_leader_hint() {
    let (mut sim, _) = cluster(SimConfig::new(3), 3, Breakage::default());
    let l = run_to_leader(&mut sim).unwrap();
    let follower = sim.ids().find(|&id| id != l).unwrap();
    sim.run_for(ELECTION).unwrap(); // the follower hears from the leader
    sim.request(follower, synod_raft::Request::Propose("x".into()))
        .unwrap();
    sim.run_for(1).unwrap();
    let refused = sim.events().iter().any(|(_, id, e)| {
        *id == follower
            && *e
                == synod_raft::Event::ProposalRefused(synod_raft::ProposeError::NotLeader {
                    leader: Some(l),
                })
    });
    assert!(refused, "follower did not refuse with the leader hint");
    assert_eq!(sim.node(follower).unwrap().raft.role(), Role::Follower);
}

// 6.824 "persistence" (leader and follower): a crashed leader and, later, a crashed
// follower restart from their durable state alone and the cluster keeps agreeing.
#[test]
fn persistence_across_leader_and_follower_crashes() {
    check_seeds(
        "persistence_across_leader_and_follower_crashes",
        16,
        |seed| {
            let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
            let l = run_to_leader(&mut sim)?;
            propose(&mut sim, "a");
            run_until_applied(&mut sim, &observer, 1, 100_000)?;
            sim.apply(Fault::Crash(l)).unwrap();
            sim.apply(Fault::Restart(l)).unwrap();
            run_to_leader(&mut sim)?;
            propose(&mut sim, "b");
            if !run_until_applied(&mut sim, &observer, 2, 300_000)? {
                return Err("no agreement after the leader restarted".into());
            }
            let l = leader(&sim).ok_or("no leader")?;
            let f = sim.ids().find(|&id| id != l).unwrap();
            sim.apply(Fault::Crash(f)).unwrap();
            propose(&mut sim, "c");
            sim.run_for(ELECTION).map_err(|v| v.to_string())?;
            sim.apply(Fault::Restart(f)).unwrap();
            if !run_until_applied(&mut sim, &observer, 3, 300_000)? {
                return Err("restarted follower did not catch up".into());
            }
            if applied_commands(&sim, f).last().map(|b| &b[..]) != Some(b"c") {
                return Err("follower's last applied command is not c".into());
            }
            Ok(())
        },
    );
}

// 6.824 "RPC counts" for agreement: ten proposals made together cost about one
// append and one response per follower each, plus heartbeats while followers learn
// the commit index.
#[test]
fn message_count_of_ten_agreements() {
    check_seeds("message_count_of_ten_agreements", 16, |seed| {
        let (mut sim, observer) = cluster(SimConfig::new(seed), 3, Breakage::default());
        run_to_leader(&mut sim)?;
        sim.run_for(ELECTION).map_err(|v| v.to_string())?;
        let before = sim.stats().messages_sent;
        for i in 0..10 {
            propose(&mut sim, &format!("m{i}"));
        }
        if !run_until_applied(&mut sim, &observer, 10, 100_000)? {
            return Err("ten proposals not applied".into());
        }
        let used = sim.stats().messages_sent - before;
        // 10 appends + 10 responses per follower = 40; commit notices and heartbeats
        // (4 messages per interval) make up the rest.
        if used > 80 {
            return Err(format!("ten agreements took {used} messages"));
        }
        Ok(())
    });
}

/// Clients proposing at once in "concurrent proposals", and proposals each makes.
const CLIENTS: usize = 8;
const ROUNDS: usize = 12;

/// Shuffle `items` with the simulation's seeded generator.
fn shuffle<T>(sim: &mut Cluster, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = sim.rng().below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// The commands of a committed log, by index.
fn commands_by_index(log: &[synod_raft::Entry]) -> BTreeMap<LogIndex, bytes::Bytes> {
    log.iter()
        .filter(|e| e.kind == EntryKind::Command)
        .map(|e| (e.index, e.data.clone()))
        .collect()
}

/// 6.824 "concurrent Start()": `CLIENTS` clients propose to the leader at the same
/// instant, round after round, while a follower crashes and restarts and another is
/// cut off, over links that lose, duplicate and reorder. Every acknowledged proposal
/// must land at its own index, after the same client's earlier ones, and every node
/// must commit exactly the acknowledged commands, at the acknowledged indices.
fn concurrent_proposals(seed: u64, breakage: Breakage) -> Result<(), String> {
    // Links that duplicate and reorder appends (and lose a few).
    let config = lossy(seed, 0.05, 0.1, 0.2);
    let (mut sim, observer) = cluster(config, 5, breakage);
    let l = run_to_leader(&mut sim)?;
    let term = sim.node(l).unwrap().raft.term();
    let followers: Vec<NodeId> = sim.ids().filter(|&id| id != l).collect();
    let mut acked: BTreeMap<LogIndex, String> = BTreeMap::new();
    let mut last_of = [LogIndex(0); CLIENTS];
    for round in 0..ROUNDS {
        match round {
            3 => sim.apply(Fault::Crash(followers[0])).unwrap(),
            5 => sim
                .apply(Fault::Partition(vec![vec![followers[1]]]))
                .unwrap(),
            8 => {
                sim.apply(Fault::Heal).unwrap();
                sim.apply(Fault::Restart(followers[0])).unwrap();
            }
            _ => {}
        }
        let mut order: Vec<usize> = (0..CLIENTS).collect();
        shuffle(&mut sim, &mut order);
        for client in order {
            let data = format!("c{client}.{round}");
            let (index, t) = propose_to(&mut sim, l, &data)
                .ok_or_else(|| format!("leader {l} refused {data}"))?;
            if t != term {
                return Err(format!(
                    "{data} acknowledged in {t}, the leader's term is {term}"
                ));
            }
            if let Some(other) = acked.insert(index, data.clone()) {
                return Err(format!("{other} and {data} both acknowledged at {index}"));
            }
            if index <= last_of[client] {
                return Err(format!(
                    "{data} landed at {index}, before the client's previous proposal"
                ));
            }
            last_of[client] = index;
        }
        // Sometimes the next burst comes at the same instant, sometimes a tick later.
        let wait = sim.rng().below(TICK + 1);
        sim.run_for(wait).map_err(|v| v.to_string())?;
    }
    if !run_until_applied(&mut sim, &observer, acked.len(), 1_000_000)? {
        return Err("not every node applied every acknowledged proposal".into());
    }
    if leader(&sim) != Some(l) || sim.node(l).unwrap().raft.term() != term {
        return Err(format!(
            "{l} lost leadership of {term}: the test's premise failed"
        ));
    }
    let expected: BTreeMap<LogIndex, bytes::Bytes> = acked
        .into_iter()
        .map(|(index, data)| (index, bytes::Bytes::from(data)))
        .collect();
    for id in sim.ids() {
        let committed = commands_by_index(&committed_log(&sim, id)?);
        if committed != expected {
            let lost = expected
                .keys()
                .filter(|i| !committed.contains_key(i))
                .count();
            let extra = committed
                .keys()
                .filter(|i| !expected.contains_key(i))
                .count();
            return Err(format!(
                "{id} committed other commands than were acknowledged ({lost} missing, {extra} extra)"
            ));
        }
        if observer.borrow().commands_applied(id) != expected.len() {
            return Err(format!(
                "{id} applied {} commands",
                observer.borrow().commands_applied(id)
            ));
        }
    }
    Ok(())
}

// 6.824 "concurrent Start()" (Raft §5.3): proposals made at the same instant by many
// clients are acknowledged at distinct indices, in each client's order, and every
// node commits exactly them in one order — none lost, none duplicated — despite a
// crashed follower, a partitioned one and a lossy, duplicating, reordering network.
#[test]
fn concurrent_proposals_commit_once_in_one_order() {
    check_seeds(
        "concurrent_proposals_commit_once_in_one_order",
        16,
        |seed| concurrent_proposals(seed, Breakage::default()),
    );
}

// Checker check: a follower that appends wherever a message lands (no §5.3
// consistency check) takes duplicated and reordered appends twice; the scenario
// fails on nearly every seed (as a state-machine-safety violation or as commands
// committed twice or out of place).
#[test]
fn concurrent_proposals_catch_blind_appends() {
    let broken = Breakage {
        append_blindly: true,
        ..Breakage::default()
    };
    let failed = (0..16)
        .filter(|&seed| concurrent_proposals(seed, broken).is_err())
        .count();
    assert!(
        failed >= 12,
        "blind appends failed only {failed} of 16 seeds"
    );
}

/// After the faults heal, every node applies everything within this many ticks.
const CONVERGE_WITHIN: u64 = 20 * ELECTION;

/// What "churn with crashes" saw: acknowledged proposals and the final logs.
struct Churn {
    unreliable: bool,
    rounds: u64,
    /// Applications snapshot every 5 entries; snapshots go in 8-byte chunks, 4 in
    /// flight, to nodes that fell behind the compaction point.
    snapshots: bool,
}

impl Churn {
    /// Random crashes and restarts of at most two of five nodes, random partitions and
    /// heals, and three clients proposing to whoever they think leads, for `rounds`
    /// rounds of up to an election timeout each; then every fault heals.
    fn run(&self, seed: u64, breakage: Breakage) -> Result<(), String> {
        let config = if self.unreliable {
            lossy(seed, 0.1, 0.1, 0.1)
        } else {
            SimConfig::new(seed)
        };
        let (mut sim, observer) = if self.snapshots {
            let app = AppOptions {
                snapshot_every: 5,
                chunk_bytes: 8,
            };
            cluster_configured(config, 5, breakage, app, |c| {
                c.max_inflight_snapshot_chunks = 4
            })
        } else {
            cluster(config, 5, breakage)
        };
        let ids: Vec<NodeId> = sim.ids().collect();
        let mut down: Vec<NodeId> = Vec::new();
        let mut acked: Vec<(LogIndex, Term, String)> = Vec::new();
        for round in 0..self.rounds {
            let up: Vec<NodeId> = ids
                .iter()
                .copied()
                .filter(|id| !down.contains(id))
                .collect();
            for client in 0..3 {
                if sim.rng().below(2) == 0 {
                    continue;
                }
                let to = match leader(&sim) {
                    Some(l) => l,
                    None => up[sim.rng().below(up.len() as u64) as usize],
                };
                let data = format!("c{client}.{round}");
                if let Some((index, term)) = propose_to(&mut sim, to, &data) {
                    acked.push((index, term, data));
                }
            }
            match sim.rng().below(8) {
                0 | 1 if down.len() < 2 => {
                    // Half the time the leader, which loses the most in flight.
                    let victim = match leader(&sim) {
                        Some(l) if sim.rng().below(2) == 0 => l,
                        _ => up[sim.rng().below(up.len() as u64) as usize],
                    };
                    sim.apply(Fault::Crash(victim)).unwrap();
                    down.push(victim);
                }
                2 | 3 if !down.is_empty() => {
                    let back = down.swap_remove(sim.rng().below(down.len() as u64) as usize);
                    sim.apply(Fault::Restart(back)).unwrap();
                }
                4 => {
                    let mut shuffled = ids.clone();
                    shuffle(&mut sim, &mut shuffled);
                    let size = 1 + sim.rng().below(2) as usize;
                    sim.apply(Fault::Partition(vec![shuffled[..size].to_vec()]))
                        .unwrap();
                }
                5 => sim.apply(Fault::Heal).unwrap(),
                _ => {}
            }
            let wait = sim.rng().below(ELECTION) + 1;
            sim.run_for(wait).map_err(|v| v.to_string())?;
        }
        for id in down {
            sim.apply(Fault::Restart(id)).unwrap();
        }
        sim.apply(Fault::Heal).unwrap();
        sim.apply(Fault::SetNetwork(LinkConfig::default())).unwrap();
        run_to_leader(&mut sim)?;
        propose(&mut sim, "final");
        let start = sim.now();
        sim.run_until(
            |s| s.now() > start + CONVERGE_WITHIN || converged(s, &ids),
            1_000_000,
        )
        .map_err(|v| v.to_string())?;
        if !converged(&sim, &ids) {
            return Err("the cluster did not converge after the faults healed".into());
        }
        self.check(&sim, &observer.borrow(), &acked)
    }

    /// Every entry ever seen committed is in every node's log (or behind its
    /// compaction point), at one index with one term, each command once; every node
    /// applied all of it this lifetime (without snapshots: command by command); an
    /// acknowledged proposal whose term holds its index there holds its command.
    fn check(
        &self,
        sim: &Cluster,
        observer: &Observer,
        acked: &[(LogIndex, Term, String)],
    ) -> Result<(), String> {
        let mut merged: BTreeMap<LogIndex, synod_raft::Entry> = BTreeMap::new();
        for id in sim.ids() {
            let log = committed_log(sim, id)?;
            let commands = log.iter().filter(|e| e.kind == EntryKind::Command).count();
            if !self.snapshots && observer.commands_applied(id) != commands {
                return Err(format!(
                    "{id} applied {} of {commands} committed commands",
                    observer.commands_applied(id)
                ));
            }
            for e in log {
                if let Some(other) = merged.get(&e.index)
                    && *other != e
                {
                    return Err(format!("{id}'s committed log differs at {}", e.index));
                }
                merged.insert(e.index, e);
            }
        }
        for (index, term) in observer.committed_terms() {
            let held = merged.get(&index).map(|e| e.term);
            if held != Some(term) && (held.is_some() || !self.snapshots) {
                return Err(format!(
                    "{index} committed in {term} but the final logs hold {held:?}"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for e in merged.values().filter(|e| e.kind == EntryKind::Command) {
            if !seen.insert(e.data.clone()) {
                return Err(format!("{:?} committed twice", e.data));
            }
        }
        for (index, term, data) in acked {
            if let Some(e) = merged.get(index)
                && e.term == *term
                && e.data != data.as_bytes()
            {
                return Err(format!(
                    "{data} acknowledged at {index} in {term}, {:?} is there",
                    e.data
                ));
            }
        }
        Ok(())
    }
}

// 6.824 "churn" (Figure 8 unreliable, crashes of up to a minority): many ticks of random
// crashes and restarts, partitions and proposals from several clients; after the
// faults heal every committed entry is on every node in one order, each command
// once, and every node applies all of it (Raft §5.3, §5.4, Figure 2 persistence).
#[test]
fn churn_with_crashes() {
    for unreliable in [false, true] {
        let churn = Churn {
            unreliable,
            rounds: 60,
            snapshots: false,
        };
        check_seeds("churn_with_crashes", 8, |seed| {
            churn.run(seed, Breakage::default())
        });
    }
}

// Checker check: followers that acknowledge appends without making them durable
// (the barrier persist dropped) lose committed entries in a crash; the churn
// scenario fails on some seed.
#[test]
fn churn_catches_dropped_persist_barriers() {
    let broken = Breakage {
        forget_appends: true,
        ..Breakage::default()
    };
    let churn = Churn {
        unreliable: false,
        rounds: 60,
        snapshots: false,
    };
    let caught: Vec<u64> = (0..16)
        .filter(|&seed| match churn.run(seed, broken) {
            Ok(()) => false,
            Err(why) => {
                eprintln!("seed {seed} caught: {why}");
                true
            }
        })
        .collect();
    assert!(
        caught.len() >= 4,
        "dropped persist barriers failed only seeds {caught:?} of 16"
    );
}

// Churn with snapshots (Raft §7 under crashes): the same faults over lossy links
// while every node snapshots each 5 applied entries, so restarted and partitioned
// nodes are caught up by pipelined InstallSnapshot (8-byte chunks, 4 in flight);
// after the heal all committed entries still agree and every node applies through
// the commit index (restored snapshots are checked against the applied log).
#[test]
fn churn_with_crashes_and_snapshots() {
    let churn = Churn {
        unreliable: true,
        rounds: 60,
        snapshots: true,
    };
    check_seeds("churn_with_crashes_and_snapshots", 8, |seed| {
        churn.run(seed, Breakage::default())
    });
}
