//! The replicated key-value demo end to end: three synod-raft nodes over real TCP on
//! loopback, each with a segmented file log; the leader is killed (its task aborted,
//! its files kept) and the cluster must keep every acknowledged write.

use std::time::Duration;
use synod_core::Ticks;
use synod_examples::kv::demo::{DemoOptions, run_demo};
use synod_examples::raft_log::{RaftLogOptions, SegmentedLog};
use synod_raft::LogStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_serves_every_acknowledged_write_and_the_old_one_catches_up() {
    // Checks the demo claim: after the leader is killed a new leader is
    // elected in a later term, every write acknowledged before the crash reads back
    // through it, and the restarted node, rebuilt from its snapshot and segments,
    // converges to the same applied index and map digest as the others.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = DemoOptions::new(dir.path());
    // Generous timeouts for a loaded 2-core machine: 20 ms ticks, 15-tick elections.
    options.tick = Duration::from_millis(20);
    options.election_ticks = Ticks(15);
    options.deadline = Duration::from_secs(40);
    let summary = tokio::time::timeout(Duration::from_secs(60), run_demo(options))
        .await
        .expect("the demo ends within its deadline")
        .expect("the demo succeeds");
    assert_ne!(summary.killed_leader.0, summary.new_leader.0);
    assert!(summary.new_leader.1 > summary.killed_leader.1);
    assert_eq!(summary.acknowledged_before_crash, 13);
    assert_eq!(summary.final_status.len(), 3);
    let digests: Vec<u32> = summary.final_status.values().map(|s| s.digest).collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    // 10 puts + "log" + 5 after the crash.
    assert!(summary.final_status.values().all(|s| s.keys == 16));
    // Snapshots every 5 entries (the demo's default): every node compacted.
    assert!(
        summary.final_status.values().all(|s| s.snapshot > 0),
        "{:?}",
        summary.final_status
    );

    // Every node's directory reopens to a log holding every applied entry.
    for (id, status) in &summary.final_status {
        let node_dir = dir.path().join(format!("n{}", id.get()));
        let recovered = SegmentedLog::open_indexed(&node_dir, RaftLogOptions::default())
            .expect("reopen segments");
        assert!(
            recovered.storage.last_index().0 >= status.applied,
            "{id}: log ends before its applied index"
        );
    }
}
