//! Raft's safety invariants (Raft Figure 3) checked after every step over random
//! fault schedules, liveness after the faults heal, and proof that the checker
//! catches deliberately broken nodes.

mod common;

use common::*;
use proptest::prelude::*;
use synod_sim::{
    FaultSchedule, Faults, LinkConfig, SimConfig, check_seeds, proptest_cases, sim_runner,
};

const HORIZON: u64 = 60 * ELECTION;

/// Run a proposal workload under `schedule`, then heal and require liveness: a leader
/// exists and every node applies the leader's whole committed log.
fn run(seed: u64, nodes: u64, schedule: &FaultSchedule, breakage: Breakage) -> Result<(), String> {
    run_with(
        seed,
        nodes,
        schedule,
        breakage,
        AppOptions::default(),
        false,
        8, // (no snapshots without an application that takes them)
    )
}

/// [`run`] with an application that snapshots as `app` says, leadership transfers
/// if `transfers`, and `window` snapshot chunks in flight.
fn run_with(
    seed: u64,
    nodes: u64,
    schedule: &FaultSchedule,
    breakage: Breakage,
    app: AppOptions,
    transfers: bool,
    window: usize,
) -> Result<(), String> {
    let (mut sim, _observer) =
        cluster_configured(SimConfig::new(seed), nodes, breakage, app, move |c| {
            c.max_inflight_snapshot_chunks = window
        });
    let ids = ids(nodes);
    let schedule = schedule
        .clone()
        .healed_at(HORIZON, &ids, LinkConfig::default());
    sim.schedule_all(&schedule).map_err(|e| e.to_string())?;
    let mut proposed = 0u64;
    while sim.now() < HORIZON {
        sim.run_for(ELECTION / 4).map_err(|v| v.to_string())?;
        if proposed < 24 {
            let data = format!("c{proposed}");
            let accepted = if proposed.is_multiple_of(2) {
                propose(&mut sim, &data)
            } else {
                propose_batch(&mut sim, &data)
            };
            proposed += u64::from(accepted);
            // Now and then, hand leadership to another node (thesis §3.10).
            if transfers
                && proposed % 5 == 4
                && let Some(l) = leader(&sim)
            {
                let target = synod_core::NodeId(sim.now() / TICK % nodes + 1);
                // (A paused leader cannot take requests; then there is no transfer.)
                let _ = sim.request(l, synod_raft::Request::TransferLeadership(target));
            }
        }
    }
    // Liveness (Raft §5.2, §5.3): after the heal, within a bounded time, one leader
    // and every node applied everything it committed, including a fresh proposal.
    sim.run_for(6 * ELECTION).map_err(|v| v.to_string())?;
    propose(&mut sim, "after-heal");
    let converged = sim
        .run_until(|s| converged(s, &ids), 400_000)
        .map_err(|v| v.to_string())?;
    if !converged {
        return Err(format!("no convergence after heal at {HORIZON}"));
    }
    Ok(())
}

// Election safety, log matching, leader completeness, state-machine safety and a
// monotone commit index hold at every step under random crashes, restarts, pauses,
// partitions, lossy/duplicating/reordering links and clock skew; after healing, the
// cluster converges (the liveness claim of Raft §5 and §9).
#[test]
fn safety_and_liveness_under_random_faults() {
    let strategy = (
        any::<u64>(),
        Faults::new(&ids(5), HORIZON).max_faults(12).strategy(),
    );
    sim_runner(proptest_cases(24))
        .run(&strategy, |(seed, schedule)| {
            run(seed, 5, &schedule, Breakage::default()).map_err(TestCaseError::fail)
        })
        .unwrap();
}

// The same search over three-node clusters, whose single-crash margin is thinner.
#[test]
fn safety_and_liveness_three_nodes() {
    let strategy = (
        any::<u64>(),
        Faults::new(&ids(3), HORIZON).max_faults(10).strategy(),
    );
    sim_runner(proptest_cases(24))
        .run(&strategy, |(seed, schedule)| {
            run(seed, 3, &schedule, Breakage::default()).map_err(TestCaseError::fail)
        })
        .unwrap();
}

// The same invariants with snapshots, compaction and leadership transfers in play
// (Raft §7, thesis §3.10): leaders are asked to hand over to random nodes, and every node
// snapshots after a random number of applied entries (1 to 8, so compaction lands at
// arbitrary points, before and after crashes), and snapshots travel in chunks of a
// random size, 1 to 16 of them in flight, over the faulty links; restored snapshots
// must equal the applied log.
#[test]
fn safety_and_liveness_with_snapshots() {
    let strategy = (
        any::<u64>(),
        1u64..=8,
        1u64..=64,
        1usize..=16,
        Faults::new(&ids(3), HORIZON).max_faults(10).strategy(),
    );
    sim_runner(proptest_cases(16))
        .run(&strategy, |(seed, every, chunk, window, schedule)| {
            let app = AppOptions {
                snapshot_every: every,
                chunk_bytes: chunk,
            };
            run_with(seed, 3, &schedule, Breakage::default(), app, true, window)
                .map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// Search seeds and crash-heavy schedules until `breakage` is caught.
fn finds(breakage: Breakage, what: &str) -> String {
    let nodes = ids(3);
    for seed in 0..400u64 {
        let mut schedule = FaultSchedule::new();
        // Crash and restart nodes often, with partitions that force new elections.
        for k in 0..12u64 {
            let t = (k + 1) * 4 * ELECTION + seed % 7 * 37;
            let victim = nodes[((seed + k) % 3) as usize];
            let other = nodes[((seed + k + 1) % 3) as usize];
            schedule = schedule
                .at(t, synod_sim::Fault::Partition(vec![vec![victim]]))
                .at(t + ELECTION + seed % 5 * 97, synod_sim::Fault::Crash(other))
                .at(
                    t + ELECTION + 150 + seed % 3 * 50,
                    synod_sim::Fault::Restart(other),
                )
                .at(t + 2 * ELECTION, synod_sim::Fault::Heal);
        }
        if let Err(why) = run(seed, 3, &schedule, breakage) {
            assert!(
                why.contains("raft safety"),
                "{what} failed liveness, not safety: {why}"
            );
            return why;
        }
    }
    panic!("the invariants never caught {what}");
}

// Checker check: a node that does not persist its term and vote (Raft Figure 2) can
// vote twice in a term after a crash; the invariants catch it.
#[test]
fn invariants_catch_forgotten_votes() {
    let why = finds(
        Breakage {
            forget_votes: true,
            ..Breakage::default()
        },
        "forgotten votes",
    );
    eprintln!("caught: {why}");
}

// Checker check: a leader that tells followers its whole log is committed (no quorum,
// no §5.4.2 current-term rule) makes nodes apply entries that are later replaced; the
// invariants catch it.
#[test]
fn invariants_catch_commit_without_quorum() {
    let why = finds(
        Breakage {
            commit_everything: true,
            ..Breakage::default()
        },
        "premature commits",
    );
    eprintln!("caught: {why}");
}

// A 5-node cluster with 10% message loss elects a leader within 3 election
// timeouts of the start of the run in at least 99% of seeds (also checked with SYNOD_SEEDS=1000).
#[test]
fn lossy_five_node_election_is_fast() {
    let seeds = synod_sim::seed_count(200);
    let mut slow = Vec::new();
    for seed in 0..seeds {
        let mut config = SimConfig::new(seed);
        config.network = LinkConfig {
            loss: 0.1,
            ..LinkConfig::default()
        };
        let (mut sim, _) = cluster(config, 5, Breakage::default());
        // Counted from the very start, so the first (randomized) timeout is included.
        let limit = 3 * ELECTION;
        sim.run_until(|s| leader(s).is_some() || s.now() > limit, 1_000_000)
            .unwrap();
        if leader(&sim).is_none() {
            slow.push(seed);
        }
    }
    eprintln!(
        "{} of {seeds} seeds took longer than three election timeouts: {slow:?}",
        slow.len()
    );
    assert!(
        slow.len() as u64 * 100 <= seeds,
        "{} of {seeds} seeds slow: {slow:?}",
        slow.len()
    );
}

// Message count of an idle second: with no proposals, a 3-node leader sends one
// heartbeat per follower per heartbeat interval and followers answer each; nothing
// else (6.824 "RPC counts"). Also a single election costs a bounded number.
#[test]
fn message_counts() {
    check_seeds("message_counts", 8, |seed| {
        let (mut sim, _) = cluster(SimConfig::new(seed), 3, Breakage::default());
        sim.run_until(|s| leader(s).is_some(), 1_000_000)
            .map_err(|v| v.to_string())?;
        let election = sim.stats().messages_sent;
        // pre-vote + vote requests and answers, plus the first appends: small.
        if election > 30 {
            return Err(format!("an election took {election} messages"));
        }
        sim.run_for(5 * ELECTION).map_err(|v| v.to_string())?;
        let before = sim.stats().messages_sent;
        let window = 100 * TICK; // 100 ticks = 50 heartbeat intervals
        sim.run_for(window).map_err(|v| v.to_string())?;
        let idle = sim.stats().messages_sent - before;
        // 2 followers × (append + response) × 50 intervals = 200, plus slack for
        // staggering at the window's edges.
        if idle > 220 {
            return Err(format!("idle cluster sent {idle} messages in 100 ticks"));
        }
        Ok(())
    });
}
