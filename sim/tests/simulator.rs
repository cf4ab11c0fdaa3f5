//! Scenario tests of the simulator itself: every fault it claims to inject is
//! observed to happen, every impossible configuration is refused, and a seed replays
//! byte for byte.

use synod_core::{Actions, Input, Node, NodeId, PersistToken};
use synod_sim::{Delay, Fault, LinkConfig, Sim, SimConfig, SimError, StepKind};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// What a test asks a probe to do.
#[derive(Clone, Debug, PartialEq)]
enum Do {
    Send(NodeId, u64),
    Broadcast(u64),
    Persist(u64),
    PersistInBackground(u64),
}

/// A node that does exactly what it is told and remembers what happened to it.
#[derive(Debug, Default)]
struct Probe {
    id: NodeId,
    ticks: u64,
    received: Vec<(NodeId, u64)>,
    acked: Vec<PersistToken>,
    /// Rebuilt from the durable log on restart.
    restored: Vec<u64>,
}

impl Node for Probe {
    type Message = u64;
    type Request = Do;
    type Persist = u64;
    type Event = u64;
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<u64, Do>, out: &mut Actions<u64, u64, u64>) {
        match input {
            Input::Tick => self.ticks += 1,
            Input::Message { from, msg } => {
                self.received.push((from, msg));
                out.emit(msg);
            }
            Input::Request(Do::Send(to, v)) => out.send(to, v),
            Input::Request(Do::Broadcast(v)) => out.broadcast(v),
            Input::Request(Do::Persist(v)) => out.persist(v),
            Input::Request(Do::PersistInBackground(v)) => {
                out.persist_in_background(PersistToken(v), v)
            }
            Input::Persisted(token) => self.acked.push(token),
        }
    }
}

fn probes(config: SimConfig, ids: &[NodeId]) -> Sim<Probe> {
    Sim::new(config, ids.iter().copied(), |id, log: &Vec<u64>| Probe {
        id,
        restored: log.clone(),
        ..Probe::default()
    })
    .expect("valid configuration")
}

fn received(sim: &Sim<Probe>, id: NodeId) -> Vec<(NodeId, u64)> {
    sim.node(id).map(|p| p.received.clone()).unwrap_or_default()
}

#[test]
fn impossible_configurations_are_typed_errors() {
    // The simulator refuses what it cannot run instead of panicking or misbehaving.
    let make = |ids: Vec<NodeId>, config: SimConfig| {
        Sim::<Probe>::new(config, ids, |id, _: &Vec<u64>| Probe {
            id,
            ..Probe::default()
        })
        .map(|_| ())
    };
    assert_eq!(make(vec![], SimConfig::new(0)), Err(SimError::NoNodes));
    assert_eq!(
        make(vec![N1, N1], SimConfig::new(0)),
        Err(SimError::DuplicateNode(N1))
    );
    let mut bad = SimConfig::new(0);
    bad.network.loss = 1.5;
    assert!(matches!(
        make(vec![N1], bad),
        Err(SimError::InvalidProbability { name: "loss", .. })
    ));
    let mut bad = SimConfig::new(0);
    bad.network.delay = Delay::Uniform { min: 9, max: 3 };
    assert_eq!(
        make(vec![N1], bad),
        Err(SimError::InvalidDelay { min: 9, max: 3 })
    );
    let mut bad = SimConfig::new(0);
    bad.tick_period = 0;
    assert_eq!(make(vec![N1], bad), Err(SimError::ZeroTickPeriod));

    let mut sim = probes(SimConfig::new(0), &[N1, N2]);
    assert_eq!(
        sim.apply(Fault::Partition(vec![vec![N1, NodeId(9)]])),
        Err(SimError::UnknownNode(NodeId(9)))
    );
    assert_eq!(
        sim.schedule(5, Fault::Crash(NodeId(7))),
        Err(SimError::UnknownNode(NodeId(7)))
    );
    assert_eq!(
        sim.request(NodeId(4), Do::Broadcast(1)),
        Err(SimError::UnknownNode(NodeId(4)))
    );
    sim.apply(Fault::Crash(N2)).unwrap();
    assert_eq!(
        sim.request(N2, Do::Broadcast(1)),
        Err(SimError::NodeDown(N2))
    );
    assert_eq!(
        sim.apply(Fault::SetTickPeriod {
            node: N1,
            period: 0
        }),
        Err(SimError::ZeroTickPeriod)
    );
}

/// A busy run with every fault kind, returning the trace text.
fn busy_run(seed: u64) -> String {
    let mut config = SimConfig::new(seed);
    config.trace = true;
    config.network = LinkConfig::unreliable();
    let mut sim = probes(config, &[N1, N2, N3]);
    sim.schedule(300, Fault::Partition(vec![vec![N1]])).unwrap();
    sim.schedule(600, Fault::Heal).unwrap();
    sim.schedule(700, Fault::Crash(N2)).unwrap();
    sim.schedule(900, Fault::Restart(N2)).unwrap();
    sim.schedule(950, Fault::Pause(N3)).unwrap();
    sim.schedule(1100, Fault::Resume(N3)).unwrap();
    for i in 0..60u64 {
        let from = [N1, N2, N3][(i % 3) as usize];
        sim.schedule_request(i * 20, from, Do::Broadcast(i))
            .unwrap();
        sim.schedule_request(i * 20 + 5, from, Do::PersistInBackground(i))
            .unwrap();
    }
    sim.run_for(2_000).unwrap();
    sim.trace().unwrap().to_text()
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    // Replay: two runs from one seed produce identical traces; another seed differs.
    let a = busy_run(42);
    let b = busy_run(42);
    assert!(a.lines().count() > 300, "the run did real work");
    assert_eq!(a, b);
    assert_ne!(a, busy_run(43));
}

#[test]
fn loss_drops_about_the_configured_share() {
    // With 30% loss on a link, about 30% of 10,000 messages never arrive.
    let mut config = SimConfig::new(1);
    config.network.loss = 0.3;
    let mut sim = probes(config, &[N1, N2]);
    for i in 0..10_000 {
        sim.request(N1, Do::Send(N2, i)).unwrap();
    }
    sim.run_for(1_000).unwrap();
    let got = received(&sim, N2).len();
    assert!((6_700..7_300).contains(&got), "{got} of 10000 arrived");
    assert_eq!(sim.stats().dropped_by_loss as usize, 10_000 - got);
}

#[test]
fn duplication_delivers_twice_and_reordering_overtakes_fifo() {
    // A FIFO link stays in order; with duplication copies appear; with reordering
    // later messages overtake earlier ones.
    let mut config = SimConfig::new(2);
    config.network = LinkConfig::reliable(10);
    let mut sim = probes(config, &[N1, N2]);
    for i in 0..1_000 {
        sim.request(N1, Do::Send(N2, i)).unwrap();
    }
    sim.run_for(100).unwrap();
    let got: Vec<u64> = received(&sim, N2).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, (0..1_000).collect::<Vec<_>>());

    let mut config = SimConfig::new(2);
    config.network = LinkConfig {
        duplicate: 0.2,
        reorder: 0.2,
        ..LinkConfig::reliable(10)
    };
    let mut sim = probes(config, &[N1, N2]);
    for i in 0..1_000 {
        sim.request(N1, Do::Send(N2, i)).unwrap();
    }
    sim.run_for(1_000).unwrap();
    let got: Vec<u64> = received(&sim, N2).into_iter().map(|(_, v)| v).collect();
    assert!(got.len() > 1_100, "duplicates delivered: {}", got.len());
    assert!(got.windows(2).any(|w| w[0] > w[1]), "some reordering");
    let mut distinct = got.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 1_000, "nothing lost");
}

#[test]
fn partitions_are_symmetric_one_way_blocks_are_not_and_heal_restores() {
    // A partition cuts both directions between groups but not inside a group; a
    // blocked link cuts one direction; heal lifts both.
    let mut sim = probes(SimConfig::new(3), &[N1, N2, N3]);
    sim.apply(Fault::Partition(vec![vec![N1]])).unwrap();
    sim.request(N1, Do::Broadcast(1)).unwrap();
    sim.request(N2, Do::Broadcast(2)).unwrap();
    sim.run_for(100).unwrap();
    assert_eq!(received(&sim, N1), vec![]);
    assert_eq!(received(&sim, N2), vec![]);
    assert_eq!(received(&sim, N3), vec![(N2, 2)]);

    sim.apply(Fault::Heal).unwrap();
    sim.apply(Fault::BlockLink { from: N1, to: N2 }).unwrap();
    sim.request(N1, Do::Send(N2, 3)).unwrap();
    sim.request(N2, Do::Send(N1, 4)).unwrap();
    sim.run_for(100).unwrap();
    assert_eq!(received(&sim, N1), vec![(N2, 4)]);
    assert_eq!(received(&sim, N2), vec![]);

    sim.apply(Fault::Heal).unwrap();
    sim.request(N1, Do::Send(N2, 5)).unwrap();
    sim.run_for(100).unwrap();
    assert_eq!(received(&sim, N2), vec![(N1, 5)]);
}

#[test]
fn crash_keeps_durable_state_only_and_restart_rebuilds_from_it() {
    // A crash forgets volatile state; barrier writes survive; background writes that
    // were acknowledged survive; unacknowledged ones may be lost (a prefix survives).
    let mut config = SimConfig::new(4);
    config.persist_delay = Delay::Fixed(50);
    let mut sim = probes(config, &[N1, N2]);
    sim.request(N1, Do::Persist(1)).unwrap();
    sim.request(N1, Do::PersistInBackground(2)).unwrap();
    sim.run_for(60).unwrap();
    assert_eq!(sim.node(N1).unwrap().acked, vec![PersistToken(2)]);
    for v in 3..=10 {
        sim.request(N1, Do::PersistInBackground(v)).unwrap();
    }
    sim.apply(Fault::Crash(N1)).unwrap();
    assert!(sim.node(N1).is_none(), "volatile state is gone");
    sim.run_for(200).unwrap();
    sim.apply(Fault::Restart(N1)).unwrap();
    let restored = sim.node(N1).unwrap().restored.clone();
    assert_eq!(&restored[..2], &[1, 2], "acknowledged writes survive");
    let survived = &restored[2..];
    assert_eq!(
        survived,
        &(3..3 + survived.len() as u64).collect::<Vec<_>>()[..]
    );
    assert!(survived.len() < 8, "some unacknowledged writes were lost");
    assert_eq!(
        sim.node(N1).unwrap().acked,
        vec![],
        "no ack reaches the new life"
    );
    assert_eq!(sim.node(N1).unwrap().ticks, 0);
    assert_eq!(
        sim.stats().persists_lost,
        8 - survived.len() as u64,
        "lost writes counted"
    );
}

#[test]
fn unacknowledged_writes_are_sometimes_all_lost_and_sometimes_kept() {
    // Across seeds, both outcomes of a crash with pending writes occur.
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let mut config = SimConfig::new(seed);
        config.persist_delay = Delay::Fixed(50);
        let mut sim = probes(config, &[N1]);
        sim.request(N1, Do::PersistInBackground(1)).unwrap();
        sim.apply(Fault::Crash(N1)).unwrap();
        sim.apply(Fault::Restart(N1)).unwrap();
        outcomes.insert(sim.node(N1).unwrap().restored.len());
    }
    assert_eq!(outcomes.into_iter().collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn a_barrier_covers_and_acknowledges_earlier_background_writes() {
    // Persist after PersistInBackground makes both durable and acknowledges the
    // background write without waiting for its own delay.
    let mut config = SimConfig::new(5);
    config.persist_delay = Delay::Fixed(1_000);
    let mut sim = probes(config, &[N1]);
    sim.request(N1, Do::PersistInBackground(1)).unwrap();
    sim.request(N1, Do::Persist(2)).unwrap();
    sim.run_for(10).unwrap();
    assert_eq!(sim.durable(N1).unwrap(), &vec![1, 2]);
    assert_eq!(sim.node(N1).unwrap().acked, vec![PersistToken(1)]);
    sim.run_for(2_000).unwrap();
    assert_eq!(
        sim.node(N1).unwrap().acked,
        vec![PersistToken(1)],
        "acked once"
    );
}

#[test]
fn paused_nodes_neither_tick_nor_receive_until_resumed() {
    // A pause freezes a node's clock and holds its messages; resume delivers them in
    // order.
    let mut config = SimConfig::new(6);
    config.network = LinkConfig::reliable(5);
    let mut sim = probes(config, &[N1, N2]);
    sim.run_for(1_000).unwrap();
    sim.apply(Fault::Pause(N2)).unwrap();
    let ticks_before = sim.node(N2).unwrap().ticks;
    for v in 0..5 {
        sim.request(N1, Do::Send(N2, v)).unwrap();
    }
    sim.run_for(1_000).unwrap();
    assert_eq!(sim.node(N2).unwrap().ticks, ticks_before);
    assert_eq!(received(&sim, N2), vec![]);
    assert!(!sim.is_up(N2));
    sim.apply(Fault::Resume(N2)).unwrap();
    let got: Vec<u64> = received(&sim, N2).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    sim.run_for(1_000).unwrap();
    assert!(sim.node(N2).unwrap().ticks >= ticks_before + 9);
}

#[test]
fn clock_skew_changes_tick_rates() {
    // A node with half the tick period ticks twice as often.
    let mut sim = probes(SimConfig::new(7), &[N1, N2]);
    sim.apply(Fault::SetTickPeriod {
        node: N2,
        period: 50,
    })
    .unwrap();
    sim.run_for(10_000).unwrap();
    let (a, b) = (sim.node(N1).unwrap().ticks, sim.node(N2).unwrap().ticks);
    assert!((99..=101).contains(&a), "{a}");
    assert!((198..=201).contains(&b), "{b}");
}

#[test]
fn invariant_violations_stop_the_run_with_the_seed() {
    // An invariant that fails reports its name, the time and the seed to replay.
    let mut sim = probes(SimConfig::new(99), &[N1, N2]);
    sim.add_invariant("fewer than 3 ticks", |sim| {
        match sim.live_nodes().find(|(_, p)| p.ticks >= 3) {
            Some((id, _)) => Err(format!("{id} ticked 3 times")),
            None => Ok(()),
        }
    });
    let violation = sim.run_for(10_000).unwrap_err();
    assert_eq!(violation.invariant, "fewer than 3 ticks");
    assert_eq!(violation.seed, 99);
    assert!(violation.time > 200 && violation.time <= 300);
    assert!(violation.to_string().contains("simulation seed 99"));
}

#[test]
fn run_until_stops_on_the_predicate_or_the_step_limit() {
    // run_until returns true as soon as the predicate holds, false at the limit.
    let mut sim = probes(SimConfig::new(8), &[N1]);
    assert!(
        sim.run_until(|s| s.node(N1).unwrap().ticks == 5, 1_000)
            .unwrap()
    );
    assert_eq!(sim.node(N1).unwrap().ticks, 5);
    assert!(
        !sim.run_until(|s| s.node(N1).unwrap().ticks == 1_000, 10)
            .unwrap()
    );
    assert_eq!(sim.step().unwrap(), Some(StepKind::Tick));
}

#[test]
fn byzantine_nodes_can_equivocate_or_fall_silent() {
    // A Byzantine behaviour rewrites each outgoing message per recipient.
    let mut sim = probes(SimConfig::new(9), &[N1, N2, N3]);
    sim.set_byzantine(N1, |_, to, v| Some(if to == N2 { v } else { v + 100 }))
        .unwrap();
    sim.request(N1, Do::Broadcast(1)).unwrap();
    sim.run_for(100).unwrap();
    assert_eq!(received(&sim, N2), vec![(N1, 1)]);
    assert_eq!(received(&sim, N3), vec![(N1, 101)]);
    sim.set_byzantine(N1, |_, _, _| None).unwrap();
    sim.request(N1, Do::Broadcast(2)).unwrap();
    sim.run_for(100).unwrap();
    assert_eq!(received(&sim, N2).len(), 1);
}

#[test]
fn counters_count_messages_and_bytes() {
    // Sent, delivered and byte counters add up on a lossless network.
    let mut sim = probes(SimConfig::new(10), &[N1, N2, N3]);
    sim.set_message_size(|_| 100);
    for v in 0..10 {
        sim.request(N1, Do::Broadcast(v)).unwrap();
    }
    sim.run_for(100).unwrap();
    let stats = sim.stats();
    assert_eq!(stats.messages_sent, 20);
    assert_eq!(stats.messages_delivered, 20);
    assert_eq!(stats.bytes_sent, 2_000);
    assert_eq!(stats.events, 20);
}

#[test]
fn traces_export_to_mermaid_and_shiviz() {
    // Dropped messages appear as crosses in Mermaid; ShiViz clocks merge on receive.
    let mut config = SimConfig::new(11);
    config.trace = true;
    config.network = LinkConfig::reliable(5);
    let mut sim = probes(config, &[N1, N2]);
    sim.request(N1, Do::Send(N2, 7)).unwrap();
    sim.run_for(10).unwrap();
    sim.apply(Fault::Partition(vec![vec![N1]])).unwrap();
    sim.request(N2, Do::Send(N1, 8)).unwrap();
    let trace = sim.trace().unwrap();
    let mermaid = trace.to_mermaid();
    assert!(mermaid.starts_with("sequenceDiagram\n    participant n1\n    participant n2\n"));
    assert!(mermaid.contains("n1->>n2: t=5 m1 7"), "{mermaid}");
    assert!(mermaid.contains("n2-xn1:"), "{mermaid}");
    assert!(mermaid.contains("(partition)"), "{mermaid}");
    let shiviz = trace.to_shiviz();
    let lines: Vec<&str> = shiviz.lines().collect();
    // request (n1:1), send (n1:2), receive merges the sender's clock (n1:2, n2:1).
    assert_eq!(lines[1], "n1 {\"n1\":1}");
    assert!(lines[2].contains("send #1 to n2: 7"), "{shiviz}");
    assert_eq!(lines[3], "n1 {\"n1\":2}");
    assert!(lines[4].contains("receive #1 from n1"), "{shiviz}");
    assert_eq!(lines[5], "n2 {\"n1\":2,\"n2\":1}");
    assert!(lines.len().is_multiple_of(2));
}
