//! Three replicated-counter nodes as tokio tasks, talking TCP on loopback and keeping
//! their state in files; one is killed and restarted from its file, and all three
//! must converge.
//!
//! ```text
//! cargo run --example counter_cluster            # data in a temporary directory
//! cargo run --example counter_cluster -- ./data  # keep the data in ./data
//! ```
//!
//! Exits 0 when the cluster converged, 1 with the reason otherwise (including running
//! past the scenario's 10-second deadline).

use std::process::ExitCode;
use synod_examples::cluster::{ClusterOptions, run_counter_cluster};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    // A data directory named on the command line is kept; otherwise use a temporary
    // one that is removed on exit.
    let temporary;
    let data_dir = match std::env::args_os().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            temporary = match tempfile::Builder::new().prefix("synod-counter-").tempdir() {
                Ok(dir) => dir,
                Err(error) => {
                    eprintln!("counter_cluster: cannot create a temporary directory: {error}");
                    return ExitCode::FAILURE;
                }
            };
            temporary.path().to_path_buf()
        }
    };
    let mut options = ClusterOptions::new(&data_dir);
    options.verbose = true;
    println!(
        "counter_cluster: 3 nodes on 127.0.0.1, {} ms ticks, gossip every {} ticks, data in {}",
        options.tick.as_millis(),
        options.gossip_interval.get(),
        data_dir.display()
    );
    // The scenario bounds each of its waits by `options.deadline`; this outer limit
    // also covers anything that might hang outside them.
    let limit = options.deadline + std::time::Duration::from_secs(5);
    let outcome = match tokio::time::timeout(limit, run_counter_cluster(options)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            eprintln!(
                "counter_cluster FAILED: still running after {} s",
                limit.as_secs()
            );
            return ExitCode::FAILURE;
        }
    };
    match outcome {
        Ok(summary) => {
            println!();
            println!("summary:");
            for (id, total) in &summary.final_totals {
                println!("  {id} final total   {total}");
            }
            println!("  expected total     {}", summary.expected_total);
            println!(
                "  crash/restart      n3 acknowledged slot {} before the crash, recovered {} from {} records",
                summary.slot_before_crash, summary.recovered_slot, summary.records_recovered
            );
            println!(
                "  network            {} frames sent, {} refused, {} faults survived",
                summary.frames_sent, summary.send_failures, summary.reports
            );
            println!("  elapsed            {} ms", summary.elapsed.as_millis());
            println!("converged: OK");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("counter_cluster FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}
