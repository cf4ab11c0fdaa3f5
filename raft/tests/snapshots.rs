//! Snapshots and log compaction (Raft §7, thesis ch. 5) in the spirit of the MIT 6.824
//! snapshot lab (2D), on the simulator with Raft's safety invariants — including
//! "a restored snapshot equals the state of applying the committed log" — checked
//! after every step. Thresholds are in ticks.

mod common;

use common::*;
use synod_core::NodeId;
use synod_raft::{
    Config, ConfigError, Event, LogIndex, LogStorage, MemStorage, ProgressState, RaftNode,
};
use synod_sim::{Fault, LinkConfig, SimConfig, check_seeds};

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

// Pipelined chunks on a hostile network: 16 chunks of 4 bytes in flight over links
// that lose 20 %, duplicate 20 % and reorder 30 % of messages. Gaps are resent,
// duplicates ignored, and the offset check keeps every restored snapshot exact
// (the observer compares it with the applied log after every step).
#[test]
fn pipelined_install_over_a_hostile_network() {
    check_seeds("pipelined_install_over_a_hostile_network", 8, |seed| {
        let app = AppOptions {
            snapshot_every: 10,
            chunk_bytes: 4,
        };
        let (mut sim, observer) = cluster_configured(
            lossy(seed, 0.2, 0.2, 0.3),
            3,
            Breakage::default(),
            app,
            |c| c.max_inflight_snapshot_chunks = 16,
        );
        let lagging = cut_off_while_compacting(&mut sim)?;
        heal_and_catch_up(&mut sim, &observer, 5)?;
        if restores(&sim, lagging) == 0 {
            return Err(format!("{lagging} caught up without a snapshot"));
        }
        Ok(())
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

/// Send a lagging follower the leader's snapshot in `chunk_bytes` chunks, `window` in
/// flight, over links that delay every message by exactly one tick (a round trip is
/// two ticks): the ticks from the leader starting the transfer until the follower
/// restored the snapshot, and the snapshot's size in chunks.
fn transfer_ticks(seed: u64, chunk_bytes: u64, window: usize) -> Result<(u64, u64), String> {
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig::reliable(TICK);
    let app = AppOptions {
        snapshot_every: 10,
        chunk_bytes,
    };
    let (mut sim, _) = cluster_configured(config, 3, Breakage::default(), app, move |c| {
        c.max_inflight_snapshot_chunks = window
    });
    let lagging = cut_off_while_compacting(&mut sim)?;
    // Everything applies and the leader's snapshot settles before the transfer.
    sim.run_for(2 * ELECTION).map_err(|v| v.to_string())?;
    sim.apply(Fault::Heal).unwrap();
    let mut started = None;
    let restored = sim
        .run_until(
            |s| {
                if started.is_none()
                    && let Some(l) = leader(s)
                    && let Some((ProgressState::Snapshot, _)) =
                        s.node(l).unwrap().raft.follower_progress(lagging)
                {
                    started = Some(s.now());
                }
                s.node(lagging).unwrap().raft.snapshot_index() > LogIndex(0)
            },
            1_000_000,
        )
        .map_err(|v| v.to_string())?;
    let started = started.ok_or("the leader never sent a snapshot")?;
    if !restored {
        return Err(format!("{lagging} never restored the snapshot"));
    }
    let l = leader(&sim).ok_or("no leader")?;
    let len = sim
        .node(l)
        .unwrap()
        .raft
        .storage()
        .snapshot_data()
        .unwrap()
        .len() as u64;
    Ok(((sim.now() - started) / TICK, len.div_ceil(chunk_bytes)))
}

// Pipelined chunks: with 8 of N chunks in flight a transfer over a link with a
// one-tick delay takes about N / 8 round trips (asserted: at most N / 8 + 2), where
// one chunk at a time (window 1, stop-and-wait) takes N round trips.
#[test]
fn pipelined_install_takes_n_over_window_round_trips() {
    const RTT_TICKS: u64 = 2;
    check_seeds(
        "pipelined_install_takes_n_over_window_round_trips",
        4,
        |seed| {
            let (pipelined, chunks) = transfer_ticks(seed, 2, 8)?;
            let (stop_and_wait, _) = transfer_ticks(seed, 2, 1)?;
            eprintln!(
                "seed {seed}: {chunks} chunks, window 8: {pipelined} ticks, window 1: {stop_and_wait} ticks"
            );
            if pipelined > RTT_TICKS * (chunks.div_ceil(8) + 2) {
                return Err(format!(
                    "{chunks} chunks, 8 in flight, took {pipelined} ticks"
                ));
            }
            if stop_and_wait < RTT_TICKS * chunks {
                return Err(format!(
                    "stop-and-wait took {stop_and_wait} ticks for {chunks} chunks: the measure is off"
                ));
            }
            Ok(())
        },
    );
}

// The follower's chunk buffer is bounded: with `max_snapshot_bytes` 32, a lagging
// follower refuses the leader's (about 80-byte) snapshot over lossy links. Nothing
// panics, the follower never restores, the leader emits `SnapshotSendRefused` once
// per snapshot and keeps the follower in the Snapshot state, and the other nodes
// keep committing.
#[test]
fn an_oversized_snapshot_is_refused() {
    check_seeds("an_oversized_snapshot_is_refused", 8, |seed| {
        let (mut sim, observer) = cluster_configured(
            lossy(seed, 0.1, 0.1, 0.1),
            3,
            Breakage::default(),
            APP,
            |c| c.max_snapshot_bytes = 32,
        );
        let lagging = cut_off_while_compacting(&mut sim)?;
        sim.apply(Fault::Heal).unwrap();
        propose_all(&mut sim, "d", 5)?;
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        for (id, _) in sim.live_nodes().filter(|(id, _)| *id != lagging) {
            if observer.borrow().commands_applied(id) < 35 {
                return Err(format!("{id} stopped committing"));
            }
        }
        if restores(&sim, lagging) != 0 {
            return Err(format!("{lagging} restored a snapshot above its limit"));
        }
        let mut refused = Vec::new();
        for (_, by, e) in sim.events() {
            if let Event::SnapshotSendRefused {
                follower,
                index,
                max_snapshot_bytes,
            } = e
            {
                if (*follower, *max_snapshot_bytes) != (lagging, 32) {
                    return Err(format!("unexpected refusal {e:?}"));
                }
                if refused.contains(&(*by, *index)) {
                    return Err(format!("{by} reported the refusal of {index} twice"));
                }
                refused.push((*by, *index));
            }
        }
        if refused.is_empty() {
            return Err("the leader never learnt of the refusal".into());
        }
        let l = leader(&sim).ok_or("no leader")?;
        match sim.node(l).unwrap().raft.follower_progress(lagging) {
            Some((ProgressState::Snapshot, _)) => Ok(()),
            other => Err(format!("{lagging}'s progress: {other:?}")),
        }
    });
}

// A follower must be able to hold one whole chunk: a snapshot limit below the chunk
// size, or an empty chunk window, is a typed error at construction.
#[test]
fn snapshot_limits_are_validated() {
    let mut config = Config::new(NodeId(1), [NodeId(1)]);
    config.max_snapshot_chunk_bytes = 64;
    config.max_snapshot_bytes = 63;
    assert_eq!(
        RaftNode::new(config.clone(), MemStorage::new()).unwrap_err(),
        ConfigError::SnapshotLimitBelowChunk {
            max_snapshot_bytes: 63,
            max_snapshot_chunk_bytes: 64
        }
    );
    config.max_snapshot_bytes = 64;
    assert!(RaftNode::new(config.clone(), MemStorage::new()).is_ok());
    config.max_inflight_snapshot_chunks = 0;
    assert_eq!(
        RaftNode::new(config, MemStorage::new()).unwrap_err(),
        ConfigError::ZeroLimit("max_inflight_snapshot_chunks")
    );
}

// Raft §5.2 (the leader keeps every follower's election timer reset) with a refused
// snapshot: a follower that refused the leader's snapshot as too large must still hear
// from the leader, or it times out and — without pre-vote and check-quorum, plain
// Raft's configuration — forces a new term every election timeout, so the cluster
// loses its leader over and over because of one misconfigured follower.
#[test]
fn a_refused_follower_does_not_depose_the_leader() {
    check_seeds("a_refused_follower_does_not_depose_the_leader", 8, |seed| {
        let (mut sim, _observer) =
            cluster_configured(SimConfig::new(seed), 3, Breakage::default(), APP, |c| {
                c.max_snapshot_bytes = 32;
                c.pre_vote = false;
                c.check_quorum = false;
            });
        let lagging = cut_off_while_compacting(&mut sim)?;
        sim.apply(Fault::Heal).unwrap();
        propose_all(&mut sim, "d", 5)?;
        sim.run_for(3 * ELECTION).map_err(|v| v.to_string())?;
        let refused = sim
            .events()
            .iter()
            .any(|(_, _, e)| matches!(e, Event::SnapshotSendRefused { .. }));
        if !refused {
            return Err("the leader never learnt of the refusal".into());
        }
        let l = leader(&sim).ok_or("no leader")?;
        let term = sim.node(l).unwrap().raft.term();
        sim.run_for(10 * ELECTION).map_err(|v| v.to_string())?;
        let now = sim.node(l).unwrap().raft.term();
        if now != term || leader(&sim) != Some(l) {
            return Err(format!(
                "{lagging}, refused, deposed the leader {l}: term {term} -> {now}"
            ));
        }
        Ok(())
    });
}
