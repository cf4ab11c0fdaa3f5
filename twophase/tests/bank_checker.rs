//! The bank checkers can fail: a shard that releases its locks at prepare instead of
//! at commit (two-phase locking, but not *strict*) loses updates under concurrent
//! transfers, and the total/serializability check reports it; the strict shard
//! passes the same runs.

mod common;

use common::*;
use synod_core::NodeId;
use synod_sim::SimConfig;
use synod_twophase::kv::{KvOp, KvRedo, KvShard};
use synod_twophase::twopc::{self, TwoPhaseNode};
use synod_twophase::{Prepared, Resource, TxId};

/// A KV shard whose locks are released as soon as it votes: a transaction that
/// prepares after it reads the old value, and the later commit overwrites the
/// earlier one's update.
struct EarlyRelease(KvShard);

impl Resource for EarlyRelease {
    type Work = Vec<KvOp>;
    type Redo = KvRedo;
    fn prepare(&mut self, tx: TxId, work: &Vec<KvOp>) -> Prepared<KvRedo> {
        let vote = self.0.prepare(tx, work);
        self.0.abort(tx); // BUG: releases the locks before the outcome is known
        vote
    }
    fn commit(&mut self, tx: TxId, redo: &KvRedo) {
        self.0.commit(tx, redo)
    }
    fn abort(&mut self, tx: TxId) {
        self.0.abort(tx)
    }
    fn restore_prepared(&mut self, tx: TxId, redo: &KvRedo) {
        self.0.restore_prepared(tx, redo)
    }
}

impl BankNode for TwoPhaseNode<EarlyRelease> {
    fn build(id: NodeId, log: &[Self::Persist]) -> Self {
        let shard = KvShard::with_data(opening(id)).record_history();
        TwoPhaseNode::recover(twopc::Config::new(id), EarlyRelease(shard), log)
    }
    fn shard(&self) -> &KvShard {
        &self.resource().0
    }
    fn idle(&self) -> bool {
        self.in_doubt().next().is_none() && self.coordinating() == 0
    }
}

fn run<N: BankNode>(seed: u64) -> Result<(), String> {
    let mut sim = bank::<N>(SimConfig::new(seed));
    add_atomicity_invariant(&mut sim);
    schedule_transfers(&mut sim, seed, 400, 20_000);
    sim.run_for(20_000).map_err(|v| v.to_string())?;
    run_to_quiescence(&mut sim, 1_000_000)?;
    check_bank(&sim)
}

#[test]
fn non_strict_locking_is_caught_by_the_bank_checker() {
    // Serializability and the constant total are real checks: the early-release
    // shard fails them within a few seeds.
    let found = (0..50).find_map(|seed| run::<TwoPhaseNode<EarlyRelease>>(seed).err());
    let why = found.expect("early lock release was not caught in 50 seeds");
    eprintln!("caught: {why}");
    assert!(
        why.contains("total") || why.contains("serializable") || why.contains("serial replay"),
        "{why}"
    );
}

#[test]
fn strict_locking_passes_the_same_runs() {
    // Control: the strict shard, same seeds, no fault — clean.
    for seed in 0..50 {
        run::<TwoPhaseNode<KvShard>>(seed).unwrap_or_else(|why| panic!("seed {seed}: {why}"));
    }
}
