//! The counter-cluster scenario end to end: three nodes over real TCP on loopback with
//! real files, a crash and a restart from the file.

use std::time::Duration;
use synod_core::NodeId;
use synod_examples::cluster::{ClusterOptions, VICTIM, log_path, run_counter_cluster};
use synod_examples::counter::SlotRecord;
use synod_examples::file_storage::FileStorage;

/// Run the scenario in `dir`, failing (not hanging) if it overruns its own deadline.
async fn run_in(dir: &std::path::Path) -> synod_examples::cluster::ClusterSummary {
    let options = ClusterOptions::new(dir);
    let limit = options.deadline + Duration::from_secs(5);
    tokio::time::timeout(limit, run_counter_cluster(options))
        .await
        .expect("the scenario ends within its deadline")
        .expect("the cluster converges")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_across_a_crash_and_restart_from_file() {
    // Checks the whole demo: every acknowledged increment survives node 3's crash
    // (recovered slot == acknowledged slot), node 3 catches up on what it missed, and
    // all three drivers return nodes with the same, expected total at shutdown.
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = run_in(dir.path()).await;

    // Phase 1 adds 3 × (1 + 2 + 3), phase 3 adds 10 + 10, phase 4 adds 3.
    assert_eq!(summary.expected_total, 18 + 20 + 3);
    let want: Vec<(NodeId, u64)> = [1, 2, 3].map(|id| (NodeId(id), 41)).to_vec();
    assert_eq!(summary.final_totals.into_iter().collect::<Vec<_>>(), want);
    assert_eq!(summary.slot_before_crash, 9);
    assert_eq!(summary.recovered_slot, 9);
    assert_eq!(summary.records_recovered, 3, "one record per increment");
    assert!(summary.elapsed.as_secs() < 10);

    // What is on disk after a clean shutdown: node 3's log was compacted to one record
    // at the restart and then got the post-restart increment.
    let on_disk =
        FileStorage::<SlotRecord>::open(log_path(dir.path(), VICTIM)).expect("open node 3's log");
    assert_eq!(on_disk.truncated_bytes, 0);
    assert_eq!(
        on_disk.records,
        [SlotRecord { value: 9 }, SlotRecord { value: 12 }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_data_resumes_from_the_files() {
    // Checks restart of the whole cluster from disk: running the scenario again on
    // the same directories starts every node from its last durable slot, so the
    // totals continue from the first run's instead of starting at zero.
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run_in(dir.path()).await;
    let second = run_in(dir.path()).await;
    assert_eq!(second.expected_total, first.expected_total + 41);
    assert!(second.final_totals.values().all(|&t| t == 82));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_has_passed_fails_the_run_instead_of_hanging() {
    // Checks the scenario's bound: with no time at all it returns a Timeout error
    // promptly (so the example exits non-zero) rather than waiting forever.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = ClusterOptions::new(dir.path());
    options.deadline = Duration::ZERO;
    let outcome = tokio::time::timeout(Duration::from_secs(5), run_counter_cluster(options))
        .await
        .expect("returns promptly");
    assert!(
        matches!(
            outcome,
            Err(synod_examples::cluster::ClusterError::Timeout { .. })
        ),
        "{outcome:?}"
    );
}
