//! Hybrid logical clocks driven by the simulator: each node's physical clock is its
//! tick-driven `LocalClock` (skewed ±100, drifting ±10%), nodes gossip timestamps
//! through a lossy, reordering network, and one node's clock is 100,000 ahead. With
//! a maximum offset the broken node's timestamps are rejected and every correct
//! node's `l` stays within the correct physical clocks (Kulkarni et al. 2014,
//! Theorem 2), its timestamps strictly increasing; without the bound the broken
//! clock drags everyone into the future, which the same invariant catches.

use synod_clocks::sync::LocalClock;
use synod_clocks::{Hlc, HlcTimestamp, PhysicalClock};
use synod_core::{Actions, Input, Node, NodeId};
use synod_sim::{Delay, Fault, LinkConfig, Sim, SimConfig, check_seeds};

const BROKEN: NodeId = NodeId(4);
const NODES: [NodeId; 4] = [NodeId(1), NodeId(2), NodeId(3), BROKEN];

struct HlcNode {
    id: NodeId,
    hlc: Hlc<LocalClock>,
    last_issued: Option<HlcTimestamp>,
    went_backwards: bool,
    rejected: u64,
}

impl HlcNode {
    fn issued(&mut self, t: HlcTimestamp) {
        self.went_backwards |= self.last_issued.is_some_and(|last| last >= t);
        self.last_issued = Some(t);
    }
}

impl Node for HlcNode {
    type Message = u64; // a packed timestamp
    type Request = ();
    type Persist = ();
    type Event = ();
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<u64, ()>, out: &mut Actions<u64, (), ()>) {
        match input {
            Input::Tick => {
                self.hlc.physical_clock().tick();
                if let Ok(t) = self.hlc.now() {
                    self.issued(t);
                    out.broadcast(t.to_u64());
                }
            }
            Input::Message { msg, .. } => match self.hlc.receive(HlcTimestamp::from_u64(msg)) {
                Ok(t) => self.issued(t),
                Err(_) => self.rejected += 1,
            },
            _ => {}
        }
    }
}

fn run(seed: u64, max_offset: u64) -> Result<(), String> {
    let mut config = SimConfig::new(seed);
    config.tick_period = 10;
    config.network = LinkConfig {
        delay: Delay::Exponential { min: 1, mean: 20 },
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.2,
    };
    let mut sim = Sim::new(config, NODES, move |id, _: &Vec<()>| {
        let offset = match id {
            BROKEN => 100_000,
            _ => 1_000 + (id.0 as i64 - 2) * 100,
        };
        HlcNode {
            id,
            hlc: Hlc::new(LocalClock::new(10, offset), max_offset),
            last_issued: None,
            went_backwards: false,
            rejected: 0,
        }
    })
    .map_err(|e| e.to_string())?;
    for (node, period) in NODES.iter().zip([9, 11, 10, 10]) {
        sim.apply(Fault::SetTickPeriod {
            node: *node,
            period,
        })
        .map_err(|e| e.to_string())?;
    }
    sim.add_invariant(
        "correct nodes stay within the correct physical clocks",
        |sim| {
            let max_pt = sim
                .live_nodes()
                .filter(|(id, _)| *id != BROKEN)
                .map(|(_, n)| n.hlc.clone().physical_clock().now())
                .max()
                .unwrap_or(0);
            for (id, node) in sim.live_nodes().filter(|(id, _)| *id != BROKEN) {
                let l = node.hlc.last().physical();
                if l > max_pt {
                    return Err(format!(
                        "{id} has l = {l}, above every correct clock ({max_pt})"
                    ));
                }
                if node.went_backwards {
                    return Err(format!("{id} issued a non-increasing timestamp"));
                }
            }
            Ok(())
        },
    );
    sim.run_for(20_000).map_err(|v| v.to_string())?;
    let rejected: u64 = sim
        .live_nodes()
        .filter(|(id, _)| *id != BROKEN)
        .map(|(_, n)| n.rejected)
        .sum();
    if rejected == 0 {
        return Err("the broken clock's timestamps were never rejected".into());
    }
    Ok(())
}

// With a 500-unit maximum offset the broken clock is rejected and the bound holds.
#[test]
fn hlc_rejects_a_clock_far_ahead_on_the_simulator() {
    check_seeds(
        "hlc_rejects_a_clock_far_ahead_on_the_simulator",
        16,
        |seed| run(seed, 500),
    );
}

// Without a meaningful bound the broken clock drags the correct nodes: caught.
#[test]
fn hlc_checker_catches_an_unbounded_offset() {
    assert!(run(0, u64::MAX).is_err());
}
