//! The simulator earns its keep: on a deliberately broken toy protocol it finds the
//! bug within a bounded number of generated fault schedules and shrinks the schedule
//! to the two faults that matter; on the correct protocol it finds nothing.

use proptest::prelude::*;
use proptest::test_runner::TestError;
use synod_core::{Actions, Input, Node, NodeId, PersistToken};
use synod_sim::{Fault, FaultSchedule, Faults, Sim, SimConfig, Violation, sim_runner};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);

/// A counter register: `Write(v)` stores `v` durably and acknowledges it. The broken
/// variant acknowledges before the background write is durable, so a crash in that
/// window forgets an acknowledged write.
struct Register {
    id: NodeId,
    value: u64,
    ack_before_durable: bool,
}

impl Node for Register {
    type Message = ();
    type Request = u64;
    type Persist = u64;
    type Event = u64;
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<(), u64>, out: &mut Actions<(), u64, u64>) {
        match input {
            Input::Request(v) => {
                self.value = v;
                out.persist_in_background(PersistToken(v), v);
                if self.ack_before_durable {
                    out.emit(v); // BUG: not yet durable
                }
            }
            Input::Persisted(PersistToken(v)) if !self.ack_before_durable => out.emit(v),
            _ => {}
        }
    }
}

/// Run a write workload under `schedule`; the invariant is that no running node holds
/// a value below one it acknowledged.
fn run(seed: u64, broken: bool, schedule: &FaultSchedule) -> Result<(), Violation> {
    let nodes = [N1, N2];
    let mut sim = Sim::new(SimConfig::new(seed), nodes, move |id, log: &Vec<u64>| {
        Register {
            id,
            value: log.last().copied().unwrap_or(0),
            ack_before_durable: broken,
        }
    })
    .expect("valid configuration");
    sim.schedule_all(schedule)
        .expect("generated faults name known nodes");
    for i in 1..=100u64 {
        for id in nodes {
            sim.schedule_request(i * 50, id, i).expect("known node");
        }
    }
    sim.add_invariant("acknowledged writes survive", |sim| {
        for (id, node) in sim.live_nodes() {
            let acked = sim
                .events()
                .iter()
                .filter(|(_, from, _)| *from == id)
                .map(|(_, _, v)| *v)
                .max()
                .unwrap_or(0);
            if node.value < acked {
                return Err(format!(
                    "{id} holds {} after acknowledging {acked}",
                    node.value
                ));
            }
        }
        Ok(())
    });
    sim.run_for(6_000)
}

fn search(broken: bool) -> Result<(), TestError<(u64, FaultSchedule)>> {
    let strategy = (
        any::<u64>(),
        Faults::new(&[N1, N2], 5_000).max_faults(8).strategy(),
    );
    sim_runner(256).run(&strategy, |(seed, schedule)| {
        run(seed, broken, &schedule).map_err(|v| TestCaseError::fail(v.to_string()))
    })
}

#[test]
fn finds_and_shrinks_an_acknowledged_write_lost_in_a_crash() {
    // The broken register fails within 256 schedules, and the shrunk schedule is
    // just the crash and the restart.
    match search(true) {
        Err(TestError::Fail(reason, (seed, schedule))) => {
            eprintln!("shrunk to seed {seed}: {schedule:?}\n{reason}");
            assert!(schedule.len() <= 2, "schedule not shrunk: {schedule:?}");
            assert!(
                schedule
                    .faults
                    .iter()
                    .any(|(_, f)| matches!(f, Fault::Crash(_))),
                "{schedule:?}"
            );
            assert!(reason.message().contains("acknowledged writes survive"));
        }
        other => panic!("the bug was not found: {other:?}"),
    }
}

#[test]
fn the_correct_register_survives_every_schedule() {
    // Acknowledging only after Persisted makes the same search come back clean.
    search(false).unwrap();
}
