//! Snapshots and log compaction (Raft §7, thesis ch. 5) in the spirit of the MIT 6.824
//! snapshot lab (2D), on the simulator with Raft's safety invariants — including
//! "a restored snapshot equals the state of applying the committed log" — checked
//! after every step. Thresholds are in ticks.

mod common;

use common::*;
use synod_core::NodeId;
use synod_raft::{Event, LogIndex, LogStorage, ProgressState};
use synod_sim::{Fault, SimConfig, check_seeds};

/// The application snapshots every 10 applied entries, sent in 16-byte chunks (its
/// snapshots are about 100 bytes, so every install takes several chunks).
const APP: AppOptions = AppOptions {
    snapshot_every: 10,
    chunk_bytes: 16,
};

/// Elect a leader and cut one follower off while the others commit 30 commands and
/// compact past its log; the follower.
fn cut_off_while_compacting(sim: &mut Cluster) -> Result<NodeId, String> {
    let l = run_to_leader(sim)?;
    let lagging = sim.ids().find(|&id| id != l).unwrap();
    sim.apply(Fault::Partition(vec![vec![lagging]])).unwrap();
    propose_all(sim, "c", 30)?;
    Ok(lagging)
}

/// Heal, commit `more` commands, and run until every node applied all of them.
fn heal_and_catch_up(
    sim: &mut Cluster,
    observer: &std::rc::Rc<std::cell::RefCell<Observer>>,
    more: usize,
) -> Result<(), String> {
    sim.apply(Fault::Heal).unwrap();
    propose_all(sim, "d", more)?;
    all_apply(sim, observer, 30 + more)
}

fn restores(sim: &Cluster, id: NodeId) -> usize {
    sim.events()
        .iter()
        .filter(|(_, from, e)| *from == id && matches!(e, Event::RestoreSnapshot(_)))
        .count()
}

// 6.824 "basic snapshot": with the application snapshotting every 10 entries, every
// node compacts its log (the log stays short) while agreement continues (Raft §7).
#[test]
fn basic_snapshot_compacts_every_log() {
    check_seeds("basic_snapshot_compacts_every_log", 8, |seed| {
        let (mut sim, observer) = cluster_with(SimConfig::new(seed), 3, Breakage::default(), APP);
        run_to_leader(&mut sim)?;
        propose_all(&mut sim, "c", 45)?;
        all_apply(&mut sim, &observer, 45)?;
        for (id, node) in sim.live_nodes() {
            let storage = node.raft.storage();
            let held = storage.last_index().0 + 1 - storage.first_index().0;
            if node.raft.snapshot_index() < LogIndex(30) || held > 2 * APP.snapshot_every {
                return Err(format!(
                    "{id} snapshot at {}, holds {held} entries",
                    node.raft.snapshot_index()
                ));
            }
        }
        Ok(())
    });
}

// 6.824 "install snapshots (disconnect)": a follower cut off while the others commit
// and compact past its log is brought back by InstallSnapshot in chunks, restores
// the snapshot and then applies the rest (Raft §7, Figure 13).
#[test]
fn install_to_a_lagging_follower() {
    check_seeds("install_to_a_lagging_follower", 8, |seed| {
        let (mut sim, observer) = cluster_with(SimConfig::new(seed), 3, Breakage::default(), APP);
        let lagging = cut_off_while_compacting(&mut sim)?;
        sim.run_for(2 * ELECTION).map_err(|v| v.to_string())?;
        let leader_now = leader(&sim).ok_or("no leader")?;
        if sim.node(leader_now).unwrap().raft.snapshot_index()
            <= sim.node(lagging).unwrap().raft.last_index()
        {
            return Err("the leader did not compact past the lagging log".into());
        }
        heal_and_catch_up(&mut sim, &observer, 1)?;
        if restores(&sim, lagging) == 0 {
            return Err(format!("{lagging} caught up without a snapshot"));
        }
        Ok(())
    });
}

// 6.824 "install snapshots (unreliable)": the same over links that lose, duplicate
// and reorder messages — chunks arrive twice, late or never, and the offset check
// keeps the assembled snapshot exact (Raft §7).
#[test]
fn install_over_a_lossy_network() {
    check_seeds("install_over_a_lossy_network", 8, |seed| {
        let config = lossy(seed, 0.1, 0.2, 0.2);
        let (mut sim, observer) = cluster_with(config, 3, Breakage::default(), APP);
        cut_off_while_compacting(&mut sim)?;
        heal_and_catch_up(&mut sim, &observer, 5)
    });
}

// 6.824 "install snapshots (crash)": a follower crashes, the others compact past its
// durable log, it restarts from that log and is brought up by a snapshot (Raft §7).
#[test]
fn install_to_a_crashed_and_restarted_node() {
    check_seeds("install_to_a_crashed_and_restarted_node", 8, |seed| {
        let (mut sim, observer) = cluster_with(SimConfig::new(seed), 3, Breakage::default(), APP);
        let l = run_to_leader(&mut sim)?;
        propose_all(&mut sim, "a", 5)?;
        all_apply(&mut sim, &observer, 5)?;
        let victim = sim.ids().find(|&id| id != l).unwrap();
        sim.apply(Fault::Crash(victim)).unwrap();
        propose_all(&mut sim, "c", 30)?;
        sim.apply(Fault::Restart(victim)).unwrap();
        propose_all(&mut sim, "d", 1)?;
        all_apply(&mut sim, &observer, 36)?;
        if restores(&sim, victim) == 0 {
            return Err(format!("{victim} caught up without a snapshot"));
        }
        Ok(())
    });
}

// 6.824 "crash and restart all servers" with snapshots: every node restarts from its
// snapshot plus log; each hands its snapshot to the application first, its applied
// index starts at the snapshot index, and the cluster keeps committing.
#[test]
fn all_crash_and_restart_from_snapshots() {
    check_seeds("all_crash_and_restart_from_snapshots", 8, |seed| {
        let (mut sim, observer) = cluster_with(SimConfig::new(seed), 3, Breakage::default(), APP);
        run_to_leader(&mut sim)?;
        for round in 0..3 {
            propose_all(&mut sim, &format!("r{round}."), 12)?;
            all_apply(&mut sim, &observer, 12)?;
            let ids: Vec<NodeId> = sim.ids().collect();
            for &id in &ids {
                sim.apply(Fault::Crash(id)).unwrap();
            }
            let before = sim.events().len();
            for &id in &ids {
                sim.apply(Fault::Restart(id)).unwrap();
                let node = &sim.node(id).unwrap().raft;
                if node.applied_index() != node.snapshot_index() {
                    return Err(format!(
                        "{id} restarted with applied {} but snapshot {}",
                        node.applied_index(),
                        node.snapshot_index()
                    ));
                }
            }
            run_to_leader(&mut sim)?;
            for &id in &ids {
                let first = sim.events()[before..]
                    .iter()
                    .find(|(_, from, _)| *from == id);
                if !matches!(first, Some((_, _, Event::RestoreSnapshot(_)))) {
                    return Err(format!("{id}'s first event after restart: {first:?}"));
                }
            }
        }
        Ok(())
    });
}

// Restart from snapshot plus log on a single node: the snapshot is restored, then
// exactly the committed entries after it are applied (no entry twice, none skipped).
#[test]
fn restart_from_snapshot_applies_only_the_suffix() {
    check_seeds("restart_from_snapshot_applies_only_the_suffix", 4, |seed| {
        let (mut sim, observer) = cluster_with(SimConfig::new(seed), 3, Breakage::default(), APP);
        run_to_leader(&mut sim)?;
        propose_all(&mut sim, "c", 15)?;
        all_apply(&mut sim, &observer, 15)?;
        let victim = NodeId(1);
        sim.apply(Fault::Crash(victim)).unwrap();
        sim.apply(Fault::Restart(victim)).unwrap();
        let snapshot = sim.node(victim).unwrap().raft.snapshot_index();
        if snapshot == LogIndex(0) {
            return Err("no snapshot before the crash".into());
        }
        let before = sim.events().len();
        propose_all(&mut sim, "d", 1)?;
        all_apply(&mut sim, &observer, 16)?;
        let mine: Vec<_> = sim.events()[before..]
            .iter()
            .filter(|(_, from, _)| *from == victim)
            .filter_map(|(_, _, e)| match e {
                Event::RestoreSnapshot(s) => Some(s.meta.index),
                Event::Committed(e) => Some(e.index),
                _ => None,
            })
            .collect();
        let expected: Vec<_> = (snapshot.0..snapshot.0 + mine.len() as u64)
            .map(LogIndex)
            .collect();
        if mine != expected {
            return Err(format!("after restart at snapshot {snapshot}: {mine:?}"));
        }
        Ok(())
    });
}

// The leader moves a follower behind its compaction point to the Snapshot progress
// state, and back to replicating once it installed (etcd's progress model, §7).
#[test]
fn lagging_follower_goes_through_snapshot_state() {
    let (mut sim, observer) = cluster_with(SimConfig::new(7), 3, Breakage::default(), APP);
    let l = run_to_leader(&mut sim).unwrap();
    let lagging = sim.ids().find(|&id| id != l).unwrap();
    sim.apply(Fault::Crash(lagging)).unwrap();
    propose_all(&mut sim, "c", 25).unwrap();
    sim.apply(Fault::Restart(lagging)).unwrap();
    let mut states = Vec::new();
    sim.run_until(
        |s| {
            if let Some(l) = leader(s)
                && let Some((state, _)) = s.node(l).unwrap().raft.follower_progress(lagging)
                && states.last() != Some(&state)
            {
                states.push(state);
            }
            states.ends_with(&[ProgressState::Snapshot, ProgressState::Replicate])
        },
        1_000_000,
    )
    .unwrap();
    assert!(states.contains(&ProgressState::Snapshot), "{states:?}");
    all_apply(&mut sim, &observer, 25).unwrap();
}

// Checker check: a follower that accepts snapshot chunks wherever they claim to start
// (no offset check) assembles a corrupt snapshot once a chunk is lost, duplicated or
// reordered; the invariants catch it as a restored state that differs from the log.
#[test]
fn invariants_catch_chunks_spliced_at_the_wrong_offset() {
    let broken = Breakage {
        splice_chunks: true,
        ..Breakage::default()
    };
    for seed in 0..200u64 {
        let config = lossy(seed, 0.1, 0.2, 0.2);
        let (mut sim, observer) = cluster_with(config, 3, broken, APP);
        let outcome = (|| -> Result<(), String> {
            cut_off_while_compacting(&mut sim)?;
            heal_and_catch_up(&mut sim, &observer, 5)
        })();
        if let Err(why) = outcome
            && why.contains("raft safety")
        {
            assert!(why.contains("snapshot"), "{why}");
            eprintln!("seed {seed} caught: {why}");
            return;
        }
    }
    panic!("the invariants never caught spliced chunks");
}
