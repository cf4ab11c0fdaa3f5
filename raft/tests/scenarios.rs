//! Scenario tests in the spirit of the MIT 6.824 Raft labs, on the simulator, with
//! Raft's safety invariants checked after every step. Thresholds are in ticks.

mod common;

use common::*;
use synod_core::NodeId;
use synod_raft::Role;
use synod_sim::{Fault, LinkConfig, SimConfig, check_seeds};

/// How long an election may take: split votes happen (two nodes whose randomized
/// timeouts land in the same tick both win their pre-votes), so allow several rounds,
/// as the 6.824 labs do (they allow about 15 timeouts).
const LEADER_WITHIN: u64 = 10 * ELECTION;

fn run_to_leader(sim: &mut Cluster, max_time: u64) -> Result<NodeId, String> {
    let start = sim.now();
    sim.run_until(
        |s| leader(s).is_some() || s.now() > start + max_time,
        1_000_000,
    )
    .map_err(|v| v.to_string())?;
    leader(sim).ok_or_else(|| format!("no leader within {max_time} time units (at {})", sim.now()))
}

// 6.824 "initial election": a leader is elected within a few election timeouts and,
// with no faults, the term stays the same for 50 more timeouts (Raft §5.2).
#[test]
fn initial_election_and_stable_term() {
    check_seeds("initial_election_and_stable_term", 16, |seed| {
        let (mut sim, _) = cluster(SimConfig::new(seed), 3, Breakage::default());
        let first = run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        let first = run_to_leader(&mut sim, LEADER_WITHIN)?;
        sim.apply(Fault::Crash(first)).unwrap();
        let second = run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
            let first = run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        let l = run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        let old = run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
            let mut config = SimConfig::new(seed);
            if unreliable {
                config.network = LinkConfig {
                    loss: 0.1,
                    duplicate: 0.05,
                    reorder: 0.1,
                    ..LinkConfig::default()
                };
            }
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
            run_to_leader(&mut sim, LEADER_WITHIN)?;
            propose(&mut sim, "final");
            let target_ok = sim
                .run_until(
                    |s| {
                        let Some(l) = leader(s) else { return false };
                        let commit = s.node(l).unwrap().raft.commit_index();
                        let final_in = s.node(l).unwrap().raft.last_index() == commit;
                        final_in
                            && ids.iter().all(|&id| {
                                s.node(id).is_some_and(|n| n.raft.applied_index() == commit)
                            })
                    },
                    500_000,
                )
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
    let l = run_to_leader(&mut sim, LEADER_WITHIN).unwrap();
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
            let l = run_to_leader(&mut sim, LEADER_WITHIN)?;
            propose(&mut sim, "a");
            run_until_applied(&mut sim, &observer, 1, 100_000)?;
            sim.apply(Fault::Crash(l)).unwrap();
            sim.apply(Fault::Restart(l)).unwrap();
            run_to_leader(&mut sim, LEADER_WITHIN)?;
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
        run_to_leader(&mut sim, LEADER_WITHIN)?;
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
