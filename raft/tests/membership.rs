//! Membership changes on the simulator (thesis ch. 4): adding and removing voters
//! through the joint configuration (§4.3), learners, removing the leader itself
//! (§4.2.2), typed refusals, random faults with changes at random times — and proof
//! that the invariant checker catches a cluster that switches configurations without
//! the joint phase.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use synod_core::NodeId;
use synod_raft::{
    Event, MemStorage, Membership, MembershipChange, MembershipError, RaftNode, Request, Role,
};
use synod_sim::{
    Fault, FaultSchedule, Faults, LinkConfig, Sim, SimConfig, check_seeds, proptest_cases,
    sim_runner,
};

/// A simulated cluster of `total` nodes of which `voters` form the initial
/// configuration. The others are new nodes, started the documented way: with the
/// cluster's voters in their `Config`, themselves not among them, so they never
/// campaign and wait to hear from a leader. `configured` overrides the voters a node
/// is configured with (to build a broken cluster). Every invariant is checked after
/// every step.
fn cluster_of(
    seed: u64,
    total: u64,
    voters: &[NodeId],
    app: AppOptions,
    configured: impl Fn(NodeId) -> Option<Vec<NodeId>> + 'static,
) -> (Cluster, Rc<RefCell<Observer>>) {
    let observer = Rc::new(RefCell::new(Observer::default()));
    let factory_observer = observer.clone();
    let voters = voters.to_vec();
    let mut sim = Sim::new(
        SimConfig::new(seed),
        ids(total),
        move |id, durable: &Vec<synod_raft::Record>| {
            factory_observer.borrow_mut().restarted(id);
            let storage = MemStorage::from_records(durable).expect("durable records fold");
            let voters = configured(id).unwrap_or_else(|| voters.clone());
            let mut config = config(id, &voters, seed);
            config.max_snapshot_chunk_bytes = app.chunk_bytes;
            let raft = RaftNode::new(config, storage).expect("valid config");
            TestNode::new(raft, Breakage::default(), app)
        },
    )
    .expect("valid simulation");
    let check = observer.clone();
    sim.add_invariant("raft safety", move |sim| check.borrow_mut().check(sim));
    (sim, observer)
}

fn cluster_growing(seed: u64, total: u64, voters: &[NodeId]) -> (Cluster, Rc<RefCell<Observer>>) {
    cluster_of(seed, total, voters, AppOptions::default(), |_| None)
}

fn nodes(list: &[u64]) -> Vec<NodeId> {
    list.iter().copied().map(NodeId).collect()
}

/// Run until a leader exists that has committed an entry of its term.
fn settle(sim: &mut Cluster) -> Result<NodeId, String> {
    let ready = sim
        .run_until(
            |s| {
                leader(s).is_some_and(|l| {
                    let raft = &s.node(l).unwrap().raft;
                    raft.log_term(raft.commit_index()) == Some(raft.term())
                })
            },
            200_000,
        )
        .map_err(|v| v.to_string())?;
    if !ready {
        return Err("no leader committed an entry of its term".into());
    }
    Ok(leader(sim).unwrap())
}

/// Ask the current leader for `changes`; the event it answered with.
fn change(sim: &mut Cluster, changes: &[MembershipChange]) -> Result<Event, String> {
    let l = leader(sim).ok_or("no leader")?;
    let seen = sim.events().len();
    sim.request(l, Request::ChangeMembership(changes.to_vec()))
        .map_err(|e| e.to_string())?;
    sim.events()[seen..]
        .iter()
        .find_map(|(_, from, e)| match e {
            Event::MembershipProposed { .. } | Event::MembershipRefused(_) if *from == l => {
                Some(e.clone())
            }
            _ => None,
        })
        .ok_or_else(|| "no answer to the change".into())
}

/// Whether the leader's whole log is committed, its configuration is `target` (not
/// joint), and every node in `members` has applied through the leader's commit index.
fn settled_on(sim: &Cluster, target: &Membership, members: &[NodeId]) -> bool {
    let Some(l) = leader(sim) else { return false };
    let raft = &sim.node(l).unwrap().raft;
    let commit = raft.commit_index();
    raft.membership() == target
        && raft.last_index() == commit
        && members.iter().all(|&id| {
            sim.node(id)
                .is_some_and(|n| n.raft.applied_index() >= commit)
        })
}

fn run_until_settled(
    sim: &mut Cluster,
    target: &Membership,
    members: &[NodeId],
) -> Result<(), String> {
    let done = sim
        .run_until(|s| settled_on(s, target, members), 200_000)
        .map_err(|v| v.to_string())?;
    if !done {
        let l = leader(sim).map(|l| sim.node(l).unwrap().raft.membership().clone());
        return Err(format!("never settled on {target:?}; leader has {l:?}"));
    }
    Ok(())
}

/// Propose a command on the leader and run until `members` applied it.
fn commit_one(sim: &mut Cluster, data: &str, members: &[NodeId]) -> Result<(), String> {
    let done = sim
        .run_until(
            |s| {
                leader(s).is_some_and(|l| {
                    let r = &s.node(l).unwrap().raft;
                    r.log_term(r.commit_index()) == Some(r.term())
                })
            },
            200_000,
        )
        .map_err(|v| v.to_string())?;
    if !done || !propose(sim, data) {
        return Err(format!("no leader took {data}"));
    }
    let want = Bytes::copy_from_slice(data.as_bytes());
    let done = sim
        .run_until(
            |s| {
                members
                    .iter()
                    .all(|&id| applied_commands(s, id).contains(&want))
            },
            200_000,
        )
        .map_err(|v| v.to_string())?;
    if !done {
        return Err(format!("{data} not applied by all of {members:?}"));
    }
    Ok(())
}

fn voters_of(list: &[u64]) -> Membership {
    Membership::new(nodes(list))
}

// Thesis §4.3: a new voter added through the joint configuration catches up, and then
// counts: with the old leader crashed, the three remaining voters of four elect a
// leader and commit only with the new node's vote and acknowledgement.
#[test]
fn add_a_voter_it_catches_up_and_votes() {
    check_seeds("add_a_voter_it_catches_up_and_votes", 8, |seed| {
        let (mut sim, _) = cluster_growing(seed, 4, &nodes(&[1, 2, 3]));
        settle(&mut sim)?;
        for i in 0..5 {
            commit_one(&mut sim, &format!("before{i}"), &nodes(&[1, 2, 3]))?;
        }
        let Event::MembershipProposed { membership, .. } =
            change(&mut sim, &[MembershipChange::AddVoter(NodeId(4))])?
        else {
            return Err("add refused".into());
        };
        if membership.voters != nodes(&[1, 2, 3, 4]) || membership.outgoing != nodes(&[1, 2, 3]) {
            return Err(format!("not joint: {membership:?}"));
        }
        let all = nodes(&[1, 2, 3, 4]);
        run_until_settled(&mut sim, &voters_of(&[1, 2, 3, 4]), &all)?;
        if applied_commands(&sim, NodeId(4)).len() < 5 {
            return Err("node 4 did not catch up".into());
        }
        let old = leader(&sim).unwrap();
        sim.apply(Fault::Crash(old)).map_err(|e| e.to_string())?;
        let rest: Vec<NodeId> = all.iter().copied().filter(|&id| id != old).collect();
        commit_one(&mut sim, "after", &rest)?;
        Ok(())
    });
}

// Thesis §4.3: a removed follower stops receiving the log once it holds C_new, and the
// two remaining voters form the quorum alone; the removed node never campaigns
// (thesis §4.2.3).
#[test]
fn remove_a_follower() {
    check_seeds("remove_a_follower", 8, |seed| {
        let (mut sim, _) = cluster_growing(seed, 3, &nodes(&[1, 2, 3]));
        let l = settle(&mut sim)?;
        let gone = NodeId(l.0 % 3 + 1);
        change(&mut sim, &[MembershipChange::Remove(gone)])?;
        let rest: Vec<NodeId> = ids(3).into_iter().filter(|&id| id != gone).collect();
        let target = Membership::new(rest.iter().copied());
        run_until_settled(&mut sim, &target, &rest)?;
        let seen = sim.events().len();
        for i in 0..3 {
            commit_one(&mut sim, &format!("c{i}"), &rest)?;
        }
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        // Tracked until it holds C_new (so it learns it is out), then dropped.
        let leader_raft = &sim.node(leader(&sim).unwrap()).unwrap().raft;
        if leader_raft.follower_progress(gone).is_some() {
            return Err("the leader still tracks the removed node".into());
        }
        quiet_since(&sim, gone, seen)
    });
}

/// The node never became a (pre-)candidate or leader after event number `seen`.
fn quiet_since(sim: &Cluster, id: NodeId, seen: usize) -> Result<(), String> {
    for (_, from, e) in &sim.events()[seen..] {
        if *from == id
            && let Event::RoleChanged { role, .. } = e
            && *role != Role::Follower
        {
            return Err(format!("removed node {id} became {role:?}"));
        }
    }
    Ok(())
}

// Thesis §4.2.2: removing the leader itself — it keeps leading through the joint
// phase without counting itself in C_new, steps down once C_new commits (with an
// event), a remaining voter it hands over to takes over within an election timeout,
// and the removed node stays quiet.
#[test]
fn remove_the_leader() {
    check_seeds("remove_the_leader", 8, |seed| {
        let (mut sim, _) = cluster_growing(seed, 3, &nodes(&[1, 2, 3]));
        let old = settle(&mut sim)?;
        commit_one(&mut sim, "x", &ids(3))?;
        change(&mut sim, &[MembershipChange::Remove(old)])?;
        let stepped_down = sim
            .run_until(
                |s| {
                    s.events().iter().any(|(_, from, e)| {
                        *from == old && matches!(e, Event::RemovedFromCluster { .. })
                    })
                },
                100_000,
            )
            .map_err(|v| v.to_string())?;
        if !stepped_down {
            return Err("the removed leader did not step down".into());
        }
        let seen = sim.events().len();
        // A successor it told to campaign (TimeoutNow) leads within one election
        // timeout of the step-down, where waiting for a timeout would take longer.
        let down_at = sim.now();
        let took_over = sim
            .run_until(|s| leader(s).is_some_and(|l| l != old), 100_000)
            .map_err(|v| v.to_string())?;
        if !took_over || sim.now() - down_at >= ELECTION {
            return Err(format!(
                "no quick takeover: {} time units after the step-down",
                sim.now() - down_at
            ));
        }
        let rest: Vec<NodeId> = ids(3).into_iter().filter(|&id| id != old).collect();
        let target = Membership::new(rest.iter().copied());
        run_until_settled(&mut sim, &target, &rest)?;
        if leader(&sim) == Some(old) {
            return Err("the removed node leads".into());
        }
        commit_one(&mut sim, "y", &rest)?;
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        quiet_since(&sim, old, seen)
    });
}

// Thesis §4.3: the whole voter set is replaced at once ({1, 2, 3} → {4, 5, 6}); the
// joint phase carries it through, the new voters elect a leader among themselves and
// keep committing with every old node crashed.
#[test]
fn replace_a_majority_at_once() {
    check_seeds("replace_a_majority_at_once", 6, |seed| {
        let (mut sim, _) = cluster_growing(seed, 6, &nodes(&[1, 2, 3]));
        settle(&mut sim)?;
        commit_one(&mut sim, "old", &ids(3))?;
        let changes = [
            MembershipChange::AddVoter(NodeId(4)),
            MembershipChange::AddVoter(NodeId(5)),
            MembershipChange::AddVoter(NodeId(6)),
            MembershipChange::Remove(NodeId(1)),
            MembershipChange::Remove(NodeId(2)),
            MembershipChange::Remove(NodeId(3)),
        ];
        change(&mut sim, &changes)?;
        let new = nodes(&[4, 5, 6]);
        run_until_settled(&mut sim, &voters_of(&[4, 5, 6]), &new)?;
        for id in ids(3) {
            sim.apply(Fault::Crash(id)).map_err(|e| e.to_string())?;
        }
        commit_one(&mut sim, "new", &new)?;
        if !new.contains(&leader(&sim).unwrap()) {
            return Err("the leader is not a new voter".into());
        }
        Ok(())
    });
}

// Thesis §4.2.1: a learner receives the whole log but counts toward no quorum (with
// two of three voters down, nothing commits even though the learner is up) and never
// campaigns; promoted through the joint configuration, it votes.
#[test]
fn learner_catches_up_then_is_promoted() {
    check_seeds("learner_catches_up_then_is_promoted", 6, |seed| {
        let (mut sim, _) = cluster_growing(seed, 4, &nodes(&[1, 2, 3]));
        settle(&mut sim)?;
        for i in 0..4 {
            commit_one(&mut sim, &format!("a{i}"), &ids(3))?;
        }
        let Event::MembershipProposed { membership, .. } =
            change(&mut sim, &[MembershipChange::AddLearner(NodeId(4))])?
        else {
            return Err("learner refused".into());
        };
        if membership.is_joint() {
            return Err("adding a learner must not go joint".into());
        }
        run_until_settled(&mut sim, &membership, &ids(4))?;
        if applied_commands(&sim, NodeId(4)).len() < 4 {
            return Err("the learner did not catch up".into());
        }
        // The learner counts for nothing: a voter majority down stops commits.
        let l = leader(&sim).unwrap();
        let voters_down: Vec<NodeId> = nodes(&[1, 2, 3])
            .into_iter()
            .filter(|&id| id != l)
            .collect();
        for &id in &voters_down {
            sim.apply(Fault::Crash(id)).map_err(|e| e.to_string())?;
        }
        let before = sim.node(l).unwrap().raft.commit_index();
        propose(&mut sim, "stuck");
        sim.run_for(3 * ELECTION).map_err(|v| v.to_string())?;
        if sim.node(l).is_some_and(|n| n.raft.commit_index() > before) {
            return Err("committed with a learner in the quorum".into());
        }
        let seen = 0;
        quiet_since(&sim, NodeId(4), seen)?;
        for &id in &voters_down {
            sim.apply(Fault::Restart(id)).map_err(|e| e.to_string())?;
        }
        run_until_settled(&mut sim, &membership, &ids(4))?;
        let answer = change(&mut sim, &[MembershipChange::Promote(NodeId(4))])?;
        if !matches!(&answer, Event::MembershipProposed { membership, .. } if membership.is_joint())
        {
            return Err(format!("promotion not joint: {answer:?}"));
        }
        run_until_settled(&mut sim, &voters_of(&[1, 2, 3, 4]), &ids(4))?;
        // Node 4 votes now: crash the leader, three of four must elect and commit.
        let old = leader(&sim).unwrap();
        sim.apply(Fault::Crash(old)).map_err(|e| e.to_string())?;
        let rest: Vec<NodeId> = ids(4).into_iter().filter(|&id| id != old).collect();
        commit_one(&mut sim, "promoted", &rest)
    });
}

// Thesis §4.1 (one change at a time) and the typed refusals: a second change while the
// first one's C_new is not committed, a follower asked, an empty voter set, promoting
// a non-learner, adding a member, removing a stranger, a no-op change, a change during
// a leadership transfer; and a transfer to a learner is refused.
#[test]
fn refusals_are_typed() {
    let (mut sim, _) = cluster_growing(1, 5, &nodes(&[1, 2, 3]));
    let l = settle(&mut sim).unwrap();
    let add4 = [MembershipChange::AddVoter(NodeId(4))];
    assert!(matches!(
        change(&mut sim, &add4).unwrap(),
        Event::MembershipProposed { .. }
    ));
    let second = change(&mut sim, &[MembershipChange::AddVoter(NodeId(5))]).unwrap();
    assert!(
        matches!(
            second,
            Event::MembershipRefused(MembershipError::ChangeInProgress { .. })
        ),
        "{second:?}"
    );
    run_until_settled(&mut sim, &voters_of(&[1, 2, 3, 4]), &ids(4)).unwrap();
    let follower = NodeId(l.0 % 3 + 1);
    let seen = sim.events().len();
    sim.request(follower, Request::ChangeMembership(add4.to_vec()))
        .unwrap();
    let refused = sim.events()[seen..]
        .iter()
        .find_map(|(_, from, e)| match e {
            Event::MembershipRefused(e) if *from == follower => Some(e.clone()),
            _ => None,
        });
    assert!(
        matches!(
            refused,
            Some(MembershipError::NotLeader { leader: Some(_) })
        ),
        "{refused:?}"
    );
    let cases = [
        (
            vec![1, 2, 3, 4]
                .into_iter()
                .map(|i| MembershipChange::Remove(NodeId(i)))
                .collect::<Vec<_>>(),
            MembershipError::NoVoters,
        ),
        (
            vec![MembershipChange::Promote(NodeId(5))],
            MembershipError::NotALearner(NodeId(5)),
        ),
        (
            vec![MembershipChange::AddLearner(NodeId(2))],
            MembershipError::AlreadyMember(NodeId(2)),
        ),
        (
            vec![MembershipChange::Remove(NodeId(9))],
            MembershipError::NotAMember(NodeId(9)),
        ),
        (
            vec![
                MembershipChange::AddLearner(NodeId(5)),
                MembershipChange::Remove(NodeId(5)),
            ],
            MembershipError::NoChange,
        ),
    ];
    for (changes, expected) in cases {
        let answer = change(&mut sim, &changes).unwrap();
        assert_eq!(answer, Event::MembershipRefused(expected));
    }
    // Leadership goes to voters only: a learner is refused as a transfer target.
    let learner = [MembershipChange::AddLearner(NodeId(5))];
    assert!(matches!(
        change(&mut sim, &learner).unwrap(),
        Event::MembershipProposed { .. }
    ));
    let with_learner = Membership {
        learners: nodes(&[5]),
        ..voters_of(&[1, 2, 3, 4])
    };
    run_until_settled(&mut sim, &with_learner, &ids(5)).unwrap();
    let l = leader(&sim).unwrap();
    let seen = sim.events().len();
    sim.request(l, Request::TransferLeadership(NodeId(5)))
        .unwrap();
    assert!(sim.events()[seen..].iter().any(|(_, _, e)| matches!(
        e,
        Event::TransferRefused(synod_raft::TransferError::NotAVoter(NodeId(5)))
    )));
    // No change while leadership is being handed over (cut the target off so the
    // transfer cannot complete at once).
    let target = ids(4).into_iter().find(|&id| id != l).unwrap();
    sim.apply(Fault::Partition(vec![vec![target]])).unwrap();
    sim.request(l, Request::TransferLeadership(target)).unwrap();
    let answer = change(&mut sim, &[MembershipChange::Remove(NodeId(5))]).unwrap();
    assert_eq!(
        answer,
        Event::MembershipRefused(MembershipError::TransferInProgress { target })
    );
}

const HORIZON: u64 = 40 * ELECTION;

/// A change for the cluster as the leader sees it, drawn from `pick`: add a node as
/// voter or learner, promote a learner, remove a member, demote a voter to a learner.
fn random_change(m: &Membership, pick: u64) -> Vec<MembershipChange> {
    let id = NodeId(pick % 5 + 1);
    let change = if m.is_learner(id) {
        if pick.is_multiple_of(3) {
            MembershipChange::Remove(id)
        } else {
            MembershipChange::Promote(id)
        }
    } else if m.voters.contains(&id) {
        if pick % 7 == 3 {
            return vec![
                MembershipChange::Remove(id),
                MembershipChange::AddLearner(id),
            ];
        }
        MembershipChange::Remove(id)
    } else if pick.is_multiple_of(2) {
        MembershipChange::AddVoter(id)
    } else {
        MembershipChange::AddLearner(id)
    };
    vec![change]
}

/// Five simulated nodes, {1, 2, 3} voting at first, under `schedule`, with proposals
/// and membership changes at random times; then heal and require liveness: a leader,
/// and every member of its configuration applied its whole log.
fn run_with_changes(
    seed: u64,
    picks: &[u64],
    app: AppOptions,
    schedule: &FaultSchedule,
) -> Result<(), String> {
    let (mut sim, _) = cluster_of(seed, 5, &nodes(&[1, 2, 3]), app, |_| None);
    let all = ids(5);
    let schedule = schedule
        .clone()
        .healed_at(HORIZON, &all, LinkConfig::default());
    sim.schedule_all(&schedule).map_err(|e| e.to_string())?;
    let mut proposed = 0u64;
    let mut picks = picks.iter().copied().cycle();
    while sim.now() < HORIZON {
        sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
        if proposed < 16 {
            proposed += u64::from(propose(&mut sim, &format!("c{proposed}")));
        }
        if let (Some(l), Some(pick)) = (leader(&sim), picks.next())
            && pick.is_multiple_of(3)
        {
            let m = sim.node(l).unwrap().raft.membership().clone();
            if !m.is_joint() {
                // A refusal (change in flight, leader not ready) is fine here.
                let _ = sim.request(l, Request::ChangeMembership(random_change(&m, pick / 3)));
            }
        }
    }
    sim.run_for(6 * ELECTION).map_err(|v| v.to_string())?;
    propose(&mut sim, "after-heal");
    let converged = sim
        .run_until(
            |s| {
                let Some(l) = leader(s) else { return false };
                let raft = &s.node(l).unwrap().raft;
                let commit = raft.commit_index();
                !raft.membership().is_joint()
                    && raft.last_index() == commit
                    && raft
                        .membership()
                        .members()
                        .iter()
                        .all(|&id| s.node(id).is_some_and(|n| n.raft.applied_index() == commit))
            },
            400_000,
        )
        .map_err(|v| v.to_string())?;
    if !converged {
        let l = leader(&sim).map(|l| sim.node(l).unwrap().raft.membership().clone());
        return Err(format!("no convergence after heal; leader config {l:?}"));
    }
    snapshots_record_their_configuration(&sim)
}

/// Thesis §5.1: every snapshot restored (installed from a leader, or loaded on
/// restart) carries the configuration in force at its index — the latest committed
/// configuration entry at or before it, else the initial one.
fn snapshots_record_their_configuration(sim: &Cluster) -> Result<(), String> {
    let mut configs = std::collections::BTreeMap::new();
    for (_, _, e) in sim.events() {
        if let Event::Committed(entry) = e
            && entry.kind == synod_raft::EntryKind::Membership
        {
            let m = Membership::decode(&entry.data)
                .ok_or("a committed configuration does not decode")?;
            configs.insert(entry.index, m);
        }
    }
    for (_, id, e) in sim.events() {
        if let Event::RestoreSnapshot(s) = e {
            let expected = configs
                .range(..=s.meta.index)
                .next_back()
                .map_or_else(|| voters_of(&[1, 2, 3]), |(_, m)| m.clone());
            if s.meta.membership != expected {
                return Err(format!(
                    "{id} restored a snapshot at {} with {:?}, but {expected:?} was in force",
                    s.meta.index, s.meta.membership
                ));
            }
        }
    }
    Ok(())
}

// Election safety, log matching, leader completeness, state-machine safety and a
// monotone commit index hold at every step while the membership changes at random
// times under crashes, partitions and lossy links (thesis §4.3), with snapshots taken
// every 0 (never) to 6 entries so configurations also travel in snapshot metadata
// (thesis §5.1); after the heal, a leader exists and every member of its configuration
// applies its whole log.
#[test]
fn safety_and_liveness_with_membership_changes() {
    let strategy = (
        any::<u64>(),
        prop::collection::vec(any::<u64>(), 1..16),
        0u64..=6,
        1u64..=64,
        Faults::new(&ids(5), HORIZON).max_faults(8).strategy(),
    );
    sim_runner(proptest_cases(32))
        .run(&strategy, |(seed, picks, every, chunk, schedule)| {
            let app = AppOptions {
                snapshot_every: every,
                chunk_bytes: chunk,
            };
            run_with_changes(seed, &picks, app, &schedule).map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// The split of thesis §4.3, Figure 4.2: C_old = {1, 2, 3}, C_new = {1, .., 5}, and
/// only 3, 4 and 5 know C_new when {1, 2} and {3, 4, 5} are cut apart. `straight`
/// builds the broken cluster — 3, 4 and 5 switched straight to C_new (a test-local
/// node config: as if the entry held C_new with no joint phase) — otherwise the
/// change goes through the real joint configuration. Returns the invariant checker's
/// verdict.
fn split_during_change(seed: u64, straight: bool) -> Result<(), String> {
    let old = nodes(&[1, 2, 3]);
    let (mut sim, _) = if straight {
        cluster_of(seed, 5, &old, AppOptions::default(), |id| {
            (id.0 >= 3).then(|| nodes(&[1, 2, 3, 4, 5]))
        })
    } else {
        cluster_growing(seed, 5, &old)
    };
    sim.apply(Fault::Partition(vec![nodes(&[1, 2]), nodes(&[3, 4, 5])]))
        .map_err(|e| e.to_string())?;
    if !straight {
        // Node 3 can only lead with 1 or 2, so heal briefly for an election, then
        // hand C_old,new to 3, 4 and 5 only.
        sim.apply(Fault::Heal).map_err(|e| e.to_string())?;
        let l = settle(&mut sim)?;
        if l != NodeId(3) {
            sim.request(l, Request::TransferLeadership(NodeId(3)))
                .map_err(|e| e.to_string())?;
            let ok = sim
                .run_until(
                    |s| {
                        leader(s) == Some(NodeId(3)) && {
                            let r = &s.node(NodeId(3)).unwrap().raft;
                            r.log_term(r.commit_index()) == Some(r.term())
                        }
                    },
                    100_000,
                )
                .map_err(|v| v.to_string())?;
            if !ok {
                return Err("node 3 never took over".into());
            }
        }
        for to in [1, 2] {
            sim.apply(Fault::BlockLink {
                from: NodeId(3),
                to: NodeId(to),
            })
            .map_err(|e| e.to_string())?;
        }
        sim.request(
            NodeId(3),
            Request::ChangeMembership(vec![
                MembershipChange::AddVoter(NodeId(4)),
                MembershipChange::AddVoter(NodeId(5)),
            ]),
        )
        .map_err(|e| e.to_string())?;
        sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
        sim.apply(Fault::Partition(vec![nodes(&[1, 2]), nodes(&[3, 4, 5])]))
            .map_err(|e| e.to_string())?;
        // The scenario holds: 4 and 5 use C_old,new, 1 and 2 still C_old.
        let joint = |id| sim.node(NodeId(id)).unwrap().raft.membership().is_joint();
        let reached = joint(4) && joint(5) && !joint(1) && !joint(2);
        if !reached {
            return Err("the change did not reach exactly 3, 4 and 5".into());
        }
    }
    sim.run_for(12 * ELECTION).map_err(|v| v.to_string())
}

// The checker catches a cluster that changes configuration without the joint phase:
// with {1, 2} on C_old and {3, 4, 5} on C_new, each side holds a majority of its own
// configuration and elects a leader — in some seed, both in the same term (election
// safety, Raft §5.2; thesis §4.3). The seed is printed.
#[test]
fn checker_catches_a_change_without_the_joint_phase() {
    let found =
        (0..200u64).find_map(|seed| split_during_change(seed, true).err().map(|why| (seed, why)));
    let Some((seed, why)) = found else {
        panic!("no seed showed two leaders in one term without the joint phase");
    };
    println!("broken membership change caught at seed {seed}: {why}");
    assert!(why.contains("two leaders"), "seed {seed}: {why}");
}

// The same split with the real joint configuration never elects two leaders in one
// term: every election during the change needs a majority of C_old too (thesis §4.3).
#[test]
fn joint_phase_keeps_the_split_safe() {
    check_seeds("joint_phase_keeps_the_split_safe", 24, |seed| {
        split_during_change(seed, false)
    });
}

// Thesis §4.1: a node uses a configuration as soon as it is appended (before it
// commits), reverts to the latest one still in its log when a new leader replaces
// the entry, ignores an append whose configuration does not decode, and recovers
// the latest configuration from its log after a restart.
#[test]
fn configuration_in_force_follows_the_log() {
    use synod_core::{Action, Actions, Input, Node};
    use synod_raft::{Config, Entry, EntryKind, LogIndex, Message, Record, Term};
    let old = voters_of(&[1, 2, 3]);
    let joint = old
        .apply_changes(&[MembershipChange::AddVoter(NodeId(4))])
        .unwrap();
    let entry = |index, term, kind, data| Entry {
        index: LogIndex(index),
        term: Term(term),
        kind,
        data,
    };
    let append = |term, entries| Input::Message {
        from: NodeId(term),
        msg: Message::AppendEntries {
            term: Term(term),
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries,
            leader_commit: LogIndex(0),
        },
    };
    let mut node =
        RaftNode::new(Config::new(NodeId(2), nodes(&[1, 2, 3])), MemStorage::new()).unwrap();
    let mut out = Actions::new();
    let mut durable = Vec::new();
    let step = |node: &mut RaftNode, input, out: &mut Actions<_, _, _>, durable: &mut Vec<_>| {
        node.step(input, out);
        for action in out.drain() {
            if let Action::Persist(r) = action {
                durable.push(r);
            }
        }
    };
    // A configuration that does not decode: the whole append is ignored.
    let junk = entry(1, 1, EntryKind::Membership, Bytes::from_static(b"junk"));
    step(&mut node, append(1, vec![junk]), &mut out, &mut durable);
    assert_eq!(node.last_index(), LogIndex(0));
    // In force once appended, uncommitted.
    let config = entry(1, 1, EntryKind::Membership, joint.encode());
    step(&mut node, append(1, vec![config]), &mut out, &mut durable);
    assert_eq!(
        (node.membership(), node.commit_index()),
        (&joint, LogIndex(0))
    );
    // Restart: recovered from the log.
    let restarted = RaftNode::new(
        Config::new(NodeId(2), nodes(&[1, 2, 3])),
        MemStorage::from_records(&durable).unwrap(),
    )
    .unwrap();
    assert_eq!(restarted.membership(), &joint);
    // A leader of term 3 replaces the entry: the configuration before it applies.
    let noop = entry(1, 3, EntryKind::Noop, Bytes::new());
    step(&mut node, append(3, vec![noop]), &mut out, &mut durable);
    assert_eq!(node.log_term(LogIndex(1)), Some(Term(3)));
    assert_eq!(node.membership(), &old);
    assert!(durable.iter().any(|r| matches!(r, Record::Entries(_))));
}

// Thesis §4.2.3: a removed server that never learned of its removal (cut off before
// C_new reached it) times out and, with pre-vote off, sends RequestVote of a higher
// term. A leader that hears from its quorum must ignore it like its followers do
// (check-quorum's leader lease) — at every point of its own election-timer cycle,
// not only in the first election timeout of it — so the removed node never deposes it.
#[test]
fn removed_node_cannot_depose_a_healthy_leader_without_pre_vote() {
    use synod_core::{Action, Actions, Input, Node, PersistToken};
    use synod_raft::{AppendOutcome, Config, Message, Term};
    let mut config = Config::new(NodeId(1), nodes(&[1, 2, 3]));
    config.pre_vote = false;
    let mut node = RaftNode::new(config, MemStorage::new()).unwrap();
    let mut out = Actions::new();
    while node.role() != Role::Candidate {
        node.step(Input::Tick, &mut out);
    }
    let grant = Message::RequestVoteResponse {
        term: Term(1),
        pre_vote: false,
        granted: true,
    };
    node.step(
        Input::Message {
            from: NodeId(2),
            msg: grant,
        },
        &mut out,
    );
    assert_eq!(node.role(), Role::Leader);
    for tick in 0..100 {
        node.step(Input::Tick, &mut out);
        // The followers answer every append: the leader hears from its quorum.
        let tokens: Vec<_> = out
            .drain()
            .filter_map(|a| match a {
                Action::PersistInBackground { token, .. } => Some(token),
                _ => None,
            })
            .collect();
        for PersistToken(t) in tokens {
            node.step(Input::Persisted(PersistToken(t)), &mut out);
        }
        for from in [2, 3] {
            let matched = Message::AppendEntriesResponse {
                term: Term(1),
                outcome: AppendOutcome::Matched {
                    match_index: node.last_index(),
                },
            };
            node.step(
                Input::Message {
                    from: NodeId(from),
                    msg: matched,
                },
                &mut out,
            );
        }
        // Node 4, removed by a change it never received, campaigns with a log as
        // long as the leader's.
        let disrupt = Message::RequestVote {
            term: Term(node.term().0 + 1),
            pre_vote: false,
            transfer: false,
            last_log_index: node.last_index(),
            last_log_term: node.log_term(node.last_index()).unwrap(),
        };
        node.step(
            Input::Message {
                from: NodeId(4),
                msg: disrupt,
            },
            &mut out,
        );
        out.clear();
        assert_eq!(
            (node.role(), node.term()),
            (Role::Leader, Term(1)),
            "deposed at tick {tick}"
        );
    }
}

// Thesis §4.2.1/§4.3: a follower demoted from voter to learner in one change
// (`[Remove(id), AddLearner(id)]`) — the joint configuration lists it both as an
// outgoing voter and as a learner. Every follower must accept that entry: the cluster
// settles on the two remaining voters, the learner keeps applying the log, and it
// stays quiet.
#[test]
fn demote_a_voter_to_a_learner() {
    check_seeds("demote_a_voter_to_a_learner", 8, |seed| {
        let (mut sim, _) = cluster_growing(seed, 3, &nodes(&[1, 2, 3]));
        let l = settle(&mut sim)?;
        let demoted = NodeId(l.0 % 3 + 1);
        let answer = change(
            &mut sim,
            &[
                MembershipChange::Remove(demoted),
                MembershipChange::AddLearner(demoted),
            ],
        )?;
        if !matches!(answer, Event::MembershipProposed { .. }) {
            return Err(format!("demotion refused: {answer:?}"));
        }
        let rest: Vec<NodeId> = ids(3).into_iter().filter(|&id| id != demoted).collect();
        let target = Membership {
            learners: vec![demoted],
            ..Membership::new(rest.iter().copied())
        };
        run_until_settled(&mut sim, &target, &ids(3))?;
        let seen = sim.events().len();
        for i in 0..3 {
            commit_one(&mut sim, &format!("c{i}"), &ids(3))?;
        }
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        quiet_since(&sim, demoted, seen)
    });
}

/// Storage holding `records` in order (a restart's durable state).
fn storage_of(records: &[synod_raft::Record]) -> MemStorage {
    let mut storage = MemStorage::new();
    for record in records {
        synod_raft::LogStorage::apply(&mut storage, record).unwrap();
    }
    storage
}

fn config_entry(index: u64, term: u64, m: &Membership) -> synod_raft::Entry {
    synod_raft::Entry {
        index: synod_raft::LogIndex(index),
        term: synod_raft::Term(term),
        kind: synod_raft::EntryKind::Membership,
        data: m.encode(),
    }
}

// Thesis §4.1 and §5.1 on restart: the configuration in force comes from the latest
// configuration entry after the snapshot, else from the snapshot's metadata — not from
// `Config::voters`; and a node that is a learner there never campaigns, even though
// its `Config::voters` (stale) lists it as a voter.
#[test]
fn restart_takes_the_configuration_from_snapshot_and_log() {
    use synod_core::{Actions, Input, Node};
    use synod_raft::{Config, Entry, EntryKind, LogIndex, Record, Snapshot, SnapshotMeta, Term};
    let with_learner = Membership {
        learners: vec![NodeId(4)],
        ..voters_of(&[1, 2, 3])
    };
    let snapshot = Record::Snapshot(Snapshot {
        meta: SnapshotMeta {
            index: LogIndex(5),
            term: Term(1),
            membership: with_learner.clone(),
        },
        data: Bytes::new(),
    });
    let noop = |index| Entry {
        index: LogIndex(index),
        term: Term(2),
        kind: EntryKind::Noop,
        data: Bytes::new(),
    };
    let joint = with_learner
        .apply_changes(&[MembershipChange::Remove(NodeId(3))])
        .unwrap();
    let configured = Config::new(NodeId(4), nodes(&[1, 2, 3, 4]));
    // Snapshot only: its configuration.
    let node = RaftNode::new(
        configured.clone(),
        storage_of(std::slice::from_ref(&snapshot)),
    )
    .unwrap();
    assert_eq!(node.membership(), &with_learner);
    // Snapshot, then a log holding a configuration entry after it.
    let records = [
        snapshot.clone(),
        Record::Entries(vec![noop(6), config_entry(7, 2, &joint), noop(8)]),
    ];
    let mut node = RaftNode::new(configured.clone(), storage_of(&records)).unwrap();
    assert_eq!(node.membership(), &joint);
    // The learner never campaigns, however long it hears nothing.
    let mut out = Actions::new();
    for _ in 0..100 {
        node.step(Input::Tick, &mut out);
        assert_eq!(node.role(), Role::Follower);
        assert!(
            !out.as_slice().iter().any(|a| matches!(
                a,
                synod_core::Action::Send {
                    msg: synod_raft::Message::RequestVote { .. },
                    ..
                }
            )),
            "a learner campaigned"
        );
        out.clear();
    }
    assert_eq!(node.term(), Term(0));
}

// Thesis §4.3: a leader that finds a committed C_old,new without C_new after it (its
// predecessor crashed in between) appends C_new itself — once, in its own term — and
// after C_new commits appends no further configuration.
#[test]
fn new_leader_finishes_a_committed_joint_change_once() {
    use synod_core::{Action, Actions, Input, Node};
    use synod_raft::{
        AppendOutcome, Config, Entry, EntryKind, HardState, LogIndex, Message, Record, Term,
    };
    let joint = voters_of(&[1, 2, 3])
        .apply_changes(&[MembershipChange::AddVoter(NodeId(4))])
        .unwrap();
    let records = [
        Record::Entries(vec![
            Entry {
                index: LogIndex(1),
                term: Term(1),
                kind: EntryKind::Noop,
                data: Bytes::new(),
            },
            config_entry(2, 1, &joint),
        ]),
        Record::HardState(HardState {
            term: Term(1),
            voted_for: None,
        }),
    ];
    let mut node = RaftNode::new(
        Config::new(NodeId(1), nodes(&[1, 2, 3])),
        storage_of(&records),
    )
    .unwrap();
    assert_eq!(node.membership(), &joint);
    let mut out = Actions::new();
    while node.role() != Role::PreCandidate {
        node.step(Input::Tick, &mut out);
    }
    let deliver = |node: &mut RaftNode, out: &mut Actions<_, _, _>, from: u64, msg| {
        node.step(
            Input::Message {
                from: NodeId(from),
                msg,
            },
            out,
        );
    };
    for pre_vote in [true, false] {
        for from in [2, 3] {
            let grant = Message::RequestVoteResponse {
                term: Term(2),
                pre_vote,
                granted: true,
            };
            deliver(&mut node, &mut out, from, grant);
        }
    }
    assert_eq!((node.role(), node.term()), (Role::Leader, Term(2)));
    // Its no-op (3) and whatever follows become durable and reach nodes 2, 3 and 4.
    for _ in 0..5 {
        let tokens: Vec<_> = out
            .drain()
            .filter_map(|a| match a {
                Action::PersistInBackground { token, .. } => Some(token),
                _ => None,
            })
            .collect();
        for token in tokens {
            node.step(Input::Persisted(token), &mut out);
        }
        for from in [2, 3, 4] {
            let matched = Message::AppendEntriesResponse {
                term: Term(2),
                outcome: AppendOutcome::Matched {
                    match_index: node.last_index(),
                },
            };
            deliver(&mut node, &mut out, from, matched);
        }
    }
    let c_new = joint.leave_joint();
    assert_eq!(node.membership(), &c_new);
    assert_eq!(
        (node.last_index(), node.commit_index()),
        (LogIndex(4), LogIndex(4))
    );
    let mut read = Vec::new();
    synod_raft::LogStorage::entries(node.storage(), LogIndex(4), LogIndex(4), 1 << 20, &mut read)
        .unwrap();
    let entry = &read[0];
    assert_eq!(
        (entry.term, entry.kind, Membership::decode(&entry.data)),
        (Term(2), EntryKind::Membership, Some(c_new))
    );
}

// Thesis §4.2.3: a follower removed while cut off must still be told once it is back
// (the leader keeps replicating to it until it holds the configuration without it),
// even if the next change — here adding a learner — is appended right after C_new
// commits: that append must not drop the removed node early. Otherwise it never
// learns it is out and keeps campaigning.
#[test]
fn removed_node_is_informed_despite_a_quick_next_change() {
    check_seeds(
        "removed_node_is_informed_despite_a_quick_next_change",
        8,
        |seed| {
            let (mut sim, _) = cluster_growing(seed, 4, &nodes(&[1, 2, 3]));
            let l = settle(&mut sim)?;
            let gone = NodeId(l.0 % 3 + 1);
            sim.apply(Fault::Partition(vec![vec![gone]]))
                .map_err(|e| e.to_string())?;
            change(&mut sim, &[MembershipChange::Remove(gone)])?;
            let rest: Vec<NodeId> = nodes(&[1, 2, 3])
                .into_iter()
                .filter(|&id| id != gone)
                .collect();
            run_until_settled(&mut sim, &Membership::new(rest.iter().copied()), &rest)?;
            let answer = change(&mut sim, &[MembershipChange::AddLearner(NodeId(4))])?;
            if !matches!(answer, Event::MembershipProposed { .. }) {
                return Err(format!("learner refused: {answer:?}"));
            }
            sim.apply(Fault::Heal).map_err(|e| e.to_string())?;
            sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
            let theirs = sim.node(gone).ok_or("removed node gone")?.raft.membership();
            if theirs.is_voter(gone) {
                return Err(format!("the removed node still votes in {theirs:?}"));
            }
            Ok(())
        },
    );
}

// Thesis §4.2.2: a leader removing itself that stepped down (check-quorum, a crash)
// after appending C_new but before it committed may hold the only log that can finish
// the change: the remaining voter, still on C_old,new, needs its vote and is not up
// to date enough to get it. So a node that is a voter of the configuration before
// its latest, uncommitted one still campaigns (counting no vote of its own); it wins
// with C_new's majority, commits C_new, and steps down again.
#[test]
fn removed_leader_finishes_its_uncommitted_c_new() {
    use synod_core::{Action, Actions, Input, Node};
    use synod_raft::{
        AppendOutcome, Config, Entry, EntryKind, HardState, LogIndex, Message, Record, Term,
    };
    let old = voters_of(&[2, 3]);
    let joint = old
        .apply_changes(&[MembershipChange::Remove(NodeId(2))])
        .unwrap();
    let c_new = joint.leave_joint();
    let records = [
        Record::Entries(vec![
            Entry {
                index: LogIndex(1),
                term: Term(1),
                kind: EntryKind::Noop,
                data: Bytes::new(),
            },
            config_entry(2, 1, &joint),
            config_entry(3, 1, &c_new),
        ]),
        Record::HardState(HardState {
            term: Term(1),
            voted_for: Some(NodeId(2)),
        }),
    ];
    let mut node =
        RaftNode::new(Config::new(NodeId(2), nodes(&[2, 3])), storage_of(&records)).unwrap();
    assert_eq!(node.membership(), &c_new);
    let mut out = Actions::new();
    for _ in 0..100 {
        node.step(Input::Tick, &mut out);
        if node.role() == Role::PreCandidate {
            break;
        }
    }
    assert_eq!(
        node.role(),
        Role::PreCandidate,
        "the removed leader never campaigns"
    );
    let deliver = |node: &mut RaftNode, out: &mut Actions<_, _, _>, msg| {
        node.step(
            Input::Message {
                from: NodeId(3),
                msg,
            },
            out,
        );
    };
    for pre_vote in [true, false] {
        let grant = Message::RequestVoteResponse {
            term: Term(2),
            pre_vote,
            granted: true,
        };
        deliver(&mut node, &mut out, grant);
    }
    assert_eq!((node.role(), node.term()), (Role::Leader, Term(2)));
    let matched = Message::AppendEntriesResponse {
        term: Term(2),
        outcome: AppendOutcome::Matched {
            match_index: node.last_index(),
        },
    };
    deliver(&mut node, &mut out, matched);
    assert_eq!(node.commit_index(), node.last_index());
    assert_ne!(node.role(), Role::Leader, "steps down once C_new commits");
    assert!(
        out.as_slice()
            .iter()
            .any(|a| matches!(a, Action::Emit(Event::RemovedFromCluster { .. })))
    );
}
