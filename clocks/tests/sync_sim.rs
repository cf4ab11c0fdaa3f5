//! Clock synchronization on the simulator, with clocks that start skewed and drift
//! (per-node tick periods 10% apart), lossy, duplicating, reordering links with
//! heavy-tailed delays, partitions and crashes. Checked after every step: every
//! synchronized node is within the error bound it claims (Cristian: half the best
//! round trip plus granularity and drift; Berkeley: the master's estimation error
//! plus the same), and a Berkeley falseticker never drags the group. Deliberately
//! broken variants are caught by the same invariants. Replay a failing seed with
//! `SYNOD_SEED=<seed> cargo test -p synod-clocks --test sync_sim <name>`.

use std::collections::BTreeMap;
use synod_clocks::sync::{
    BerkeleyConfig, BerkeleyEvent, BerkeleyMessage, BerkeleyNode, CristianConfig, CristianMessage,
    CristianNode, LocalClock, NtpConfig, NtpNode,
};
use synod_core::{ActionsOf, Input, InputOf, Node, NodeId};
use synod_sim::{Delay, Fault, LinkConfig, SimConfig, SimRng, check_seeds};

/// Clock units per tick; nominal tick period is the same number of time units, so a
/// clock ticking at the nominal rate reads simulated time (plus its offset).
const UNITS: i64 = 10;
/// Two readings' granularity: one tick of each clock.
const GRANULARITY: i64 = 2 * UNITS;
/// Tick periods are 9..=11 against a nominal 10: rates differ by at most 1/9 < 1/8.
const MAX_DRIFT_PPM: i64 = 125_000;
const HORIZON: u64 = 30_000;

fn network() -> LinkConfig {
    LinkConfig {
        delay: Delay::Exponential { min: 2, mean: 15 },
        loss: 0.05,
        duplicate: 0.05,
        reorder: 0.1,
    }
}

fn sim_config(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(seed);
    config.trace = std::env::var("DEBUG_TRACE").is_ok();
    config.tick_period = UNITS as u64;
    config.network = network();
    config
}

/// An initial clock error in `-spread..=spread`, derived from the seed and node.
fn initial_offset(seed: u64, node: NodeId, spread: i64) -> i64 {
    let mut rng = SimRng::new(seed ^ node.0.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.between(0, 2 * spread as u64) as i64 - spread
}

/// A simulation of clock-synchronization nodes (nothing durable).
type ClockSim<N> = synod_sim::Sim<N, Vec<()>>;

/// Drift (each listed node ticks at its own period, nominal 10) and the run's real
/// faults, scheduled at their times.
fn drift_and_faults<N>(
    sim: &mut ClockSim<N>,
    periods: impl IntoIterator<Item = (NodeId, u64)>,
    faults: impl IntoIterator<Item = (u64, Fault)>,
) -> Result<(), String>
where
    N: Node<Persist = ()>,
    N::Message: Clone + std::fmt::Debug,
    N::Request: std::fmt::Debug,
    N::Event: std::fmt::Debug,
{
    for (node, period) in periods {
        sim.apply(Fault::SetTickPeriod { node, period })
            .map_err(|e| e.to_string())?;
    }
    for (at, fault) in faults {
        sim.schedule(at, fault).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Run to the horizon; on a violation, print the trace when `DEBUG_TRACE` is set.
fn run_traced<N>(sim: &mut ClockSim<N>) -> Result<(), String>
where
    N: Node<Persist = ()>,
    N::Message: Clone + std::fmt::Debug,
    N::Request: std::fmt::Debug,
    N::Event: std::fmt::Debug,
{
    let r = sim.run_for(HORIZON).map_err(|v| v.to_string());
    if r.is_err()
        && let Some(trace) = sim.trace()
    {
        for line in trace.to_text().lines() {
            eprintln!("{line}");
        }
    }
    r
}

/// Liveness at the end: `node` synchronized, with a bound far below its initial error.
fn ends_tight(node: NodeId, bound: Option<i64>) -> Result<(), String> {
    let bound = bound.ok_or(format!("{node} never synchronized"))?;
    if bound > 300 {
        return Err(format!("{node} ends with a loose bound {bound}"));
    }
    Ok(())
}

const SERVER: NodeId = NodeId(0);
const CLIENTS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

/// A Cristian client, or (`ignore_transit`) a deliberately broken one made by
/// tampering with its input: each reply's server time is moved back by half the round
/// trip the client measures for it, so the client's `server_time + rtt/2` is exactly
/// the server's reported time: it sets its clock to that, forgetting the reply's
/// transit, and still claims ±RTT/2.
#[derive(Debug)]
struct Client {
    node: CristianNode,
    ignore_transit: bool,
    /// Local reading at which each recent request left, by probe.
    sent_at: BTreeMap<u64, i64>,
}

impl Node for Client {
    type Message = CristianMessage;
    type Request = ();
    type Persist = ();
    type Event = <CristianNode as Node>::Event;
    fn id(&self) -> NodeId {
        self.node.id()
    }
    fn step(&mut self, mut input: InputOf<CristianNode>, out: &mut ActionsOf<CristianNode>) {
        if self.ignore_transit
            && let Input::Message {
                msg: CristianMessage::Reply { probe, time },
                ..
            } = &mut input
            && let Some(&sent) = self.sent_at.get(probe)
        {
            // The node reads its clock for `reply_received` in this very step.
            let round_trip = self.node.clock().read() - sent;
            if round_trip >= 0 {
                *time = time.saturating_sub(round_trip / 2);
            }
        }
        let before = out.len();
        self.node.step(input, out);
        let now = self.node.clock().read();
        for action in &out.as_slice()[before..] {
            if let synod_core::Action::Send {
                msg: CristianMessage::Request { probe },
                ..
            } = action
            {
                self.sent_at.insert(*probe, now);
                // Bounded: older rounds' probes are ignored by the client anyway.
                while self.sent_at.len() > SENT_KEPT {
                    self.sent_at.pop_first();
                }
            }
        }
    }
}

/// Request send times the tamperer remembers (a few rounds' worth of probes).
const SENT_KEPT: usize = 16;

fn cristian(seed: u64, ignore_transit: bool) -> Result<(), String> {
    let config = CristianConfig {
        server: SERVER,
        poll_every_ticks: 20,
        probes: 3,
        granularity: GRANULARITY,
        max_drift_ppm: MAX_DRIFT_PPM,
    };
    let ids = std::iter::once(SERVER).chain(CLIENTS);
    let mut sim = synod_sim::Sim::new(sim_config(seed), ids, move |id, _: &Vec<()>| {
        let clock = LocalClock::new(UNITS, initial_offset(seed, id, 5_000));
        let node = match id {
            SERVER => CristianNode::server(id, LocalClock::new(UNITS, 0)),
            _ => CristianNode::client(id, clock, config.clone()),
        };
        Client {
            node,
            ignore_transit,
            sent_at: BTreeMap::new(),
        }
    })
    .map_err(|e| e.to_string())?;
    // Drift: clients tick 10% fast, 10% slow and on time. Real faults: a partition
    // cutting client 1 off, and a crash of client 2 (its clock restarts
    // unsynchronized and must not claim a bound until it syncs).
    drift_and_faults(
        &mut sim,
        CLIENTS.into_iter().zip([9, 11, 10]),
        [
            (5_000, Fault::Partition(vec![vec![CLIENTS[0]]])),
            (9_000, Fault::Heal),
            (12_000, Fault::Crash(CLIENTS[1])),
            (13_000, Fault::Restart(CLIENTS[1])),
        ],
    )?;
    sim.add_invariant(
        "every synchronized client is within its claimed bound",
        |sim| {
            let server = match sim.node(SERVER) {
                Some(s) => s.node.clock().read(),
                None => return Ok(()),
            };
            for (id, node) in sim.live_nodes() {
                let node = &node.node;
                if let Some(bound) = node.error_bound() {
                    let error = (node.clock().read() - server).abs();
                    if error > bound {
                        return Err(format!(
                            "{id} is {error} off, claims at most {bound}: {node:?}, server {server}"
                        ));
                    }
                }
            }
            Ok(())
        },
    );
    run_traced(&mut sim)?;
    // Liveness: after the faults, every client synchronized again, to within a bound
    // far below its initial error.
    for client in CLIENTS {
        let node = &sim.node(client).ok_or("client down at the end")?.node;
        ends_tight(client, node.error_bound())?;
    }
    Ok(())
}

// Cristian clients with skewed, drifting clocks converge and are always within the
// bound they claim (±RTT/2 plus granularity and drift), through loss, a partition
// and a crash.
#[test]
fn cristian_clients_stay_within_their_claimed_bound() {
    check_seeds(
        "cristian_clients_stay_within_their_claimed_bound",
        16,
        |seed| cristian(seed, false),
    );
}

// A client that forgets the reply's transit time (sets the server's reported time,
// made test-side by the `Client` tamperer) breaks its bound on asymmetric delays:
// the bound invariant catches it.
#[test]
fn cristian_checker_catches_a_client_ignoring_transit_time() {
    let caught: Vec<(u64, String)> = (0..16)
        .filter_map(|seed| cristian(seed, true).err().map(|why| (seed, why)))
        .collect();
    let (seed, why) = caught.first().expect("no seed exposed the broken client");
    eprintln!(
        "caught {} of 16 seeds, first at seed {seed}: {why}",
        caught.len()
    );
    assert!(why.contains("within its claimed bound"), "{why}");
}

const MASTER: NodeId = NodeId(0);
const MEMBERS: [NodeId; 4] = [NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
/// Member 4 is a falseticker: its clock is 50,000 ahead and cannot be set.
const FALSETICKER: NodeId = NodeId(4);
const FALSE_BY: i64 = 50_000;

/// A Berkeley node, or one whose clock ignores corrections (a falseticker).
struct Member {
    node: BerkeleyNode,
    stuck: bool,
}

impl Node for Member {
    type Message = BerkeleyMessage;
    type Request = ();
    type Persist = ();
    type Event = BerkeleyEvent;
    fn id(&self) -> NodeId {
        self.node.id()
    }
    fn step(&mut self, input: InputOf<BerkeleyNode>, out: &mut ActionsOf<BerkeleyNode>) {
        if self.stuck
            && matches!(
                input,
                Input::Message {
                    msg: BerkeleyMessage::Adjust { .. },
                    ..
                }
            )
        {
            return;
        }
        self.node.step(input, out);
    }
}
const SPREAD: i64 = 2_000;

/// The outlier tolerance the Berkeley tests run with.
const TOLERANCE: u64 = 400;

fn berkeley(seed: u64, tolerance: u64) -> Result<(), String> {
    let config = BerkeleyConfig {
        members: MEMBERS.to_vec(),
        poll_every_ticks: 20,
        tolerance,
    };
    let ids = std::iter::once(MASTER).chain(MEMBERS);
    let mut sim = synod_sim::Sim::new(sim_config(seed), ids, move |id, _: &Vec<()>| {
        let offset = initial_offset(seed, id, SPREAD);
        match id {
            MASTER => Member {
                node: BerkeleyNode::master(id, LocalClock::new(UNITS, 0), config.clone()),
                stuck: false,
            },
            FALSETICKER => Member {
                node: BerkeleyNode::member(id, LocalClock::new(UNITS, FALSE_BY), MASTER),
                stuck: true,
            },
            _ => Member {
                node: BerkeleyNode::member(id, LocalClock::new(UNITS, offset), MASTER),
                stuck: false,
            },
        }
    })
    .map_err(|e| e.to_string())?;
    drift_and_faults(
        &mut sim,
        MEMBERS.into_iter().zip([9, 11, 10, 10]),
        [
            (8_000, Fault::Partition(vec![vec![MEMBERS[1]]])),
            (11_000, Fault::Heal),
        ],
    )?;
    sim.add_invariant(
        "correct members are within their bound of the master",
        |sim| {
            let Some(master) = sim.node(MASTER).map(|m| &m.node) else {
                return Ok(());
            };
            for (id, node) in sim.live_nodes() {
                let node = &node.node;
                if id == FALSETICKER || id == MASTER || node.round() != master.round() {
                    continue;
                }
                if let Some(bound) = node.error_bound(GRANULARITY, MAX_DRIFT_PPM) {
                    let error = (node.clock().read() - master.clock().read()).abs();
                    if error > bound {
                        return Err(format!(
                            "{id} is {error} from the master, claims at most {bound}"
                        ));
                    }
                }
            }
            Ok(())
        },
    );
    sim.add_invariant("the falseticker does not drag the master", |sim| {
        // The master only ever moves toward the average of correct clocks, which
        // started within ±SPREAD of it and drift apart by at most 1/8 of the time.
        let Some(master) = sim.node(MASTER).map(|m| &m.node) else {
            return Ok(());
        };
        let moved = master.clock().offset().abs();
        let allowed = 2 * SPREAD + sim.now() as i64 / 8;
        if moved > allowed {
            return Err(format!("master moved {moved}, more than {allowed}"));
        }
        Ok(())
    });
    run_traced(&mut sim)?;
    // The falseticker was left out of every average it took part in, and was told
    // to correct by about how far off it is.
    for (_, _, event) in sim.events() {
        if let BerkeleyEvent::Round(round) = event
            && round.included.contains(&FALSETICKER)
        {
            return Err(format!("falseticker included in {round:?}"));
        }
    }
    // Liveness: the correct members end synchronized with a tight bound (checked
    // once they all applied the master's latest round).
    let caught_up = sim
        .run_until(
            |sim| {
                let round = sim.node(MASTER).map_or(0, |m| m.node.round());
                MEMBERS[..3]
                    .iter()
                    .all(|m| sim.node(*m).is_some_and(|n| n.node.round() == round))
            },
            100_000,
        )
        .map_err(|v| v.to_string())?;
    if !caught_up {
        return Err("members never caught up with the master's round".into());
    }
    let master = &sim.node(MASTER).ok_or("master down")?.node;
    for member in &MEMBERS[..3] {
        let node = &sim.node(*member).ok_or("member down")?.node;
        let bound = node
            .error_bound(GRANULARITY, MAX_DRIFT_PPM)
            .ok_or(format!("{member} never synchronized: {node:?}"))?;
        let error = (node.clock().read() - master.clock().read()).abs();
        if bound > 400 || error > bound {
            return Err(format!("{member} ends {error} off with bound {bound}"));
        }
    }
    Ok(())
}

// Berkeley with skewed, drifting clocks and a falseticker reporting times far
// ahead: correct members stay
// within their bound of the master, the falseticker is excluded from every average
// and never drags the group.
#[test]
fn berkeley_converges_and_rejects_the_falseticker() {
    check_seeds(
        "berkeley_converges_and_rejects_the_falseticker",
        16,
        |seed| berkeley(seed, TOLERANCE),
    );
}

// Without outlier rejection (a legal but useless `tolerance: u64::MAX`, which keeps
// every reading), the falseticker drags the master away: the drag invariant catches
// it on every seed, during the run.
#[test]
fn berkeley_checker_catches_averaging_the_falseticker() {
    for seed in 0..8 {
        let why = berkeley(seed, u64::MAX)
            .err()
            .unwrap_or_else(|| panic!("seed {seed}: averaging a falseticker went unnoticed"));
        assert!(
            why.contains("does not drag the master"),
            "seed {seed}: {why}"
        );
    }
}

/// True time: a perfect server. Two more true servers are within ±12 of it (and say
/// so: server error 15); the fourth is a falseticker 50,000 ahead.
const REFERENCE: NodeId = NodeId(10);
const NTP_SERVERS: [NodeId; 4] = [REFERENCE, NodeId(11), NodeId(12), NodeId(13)];
const NTP_FALSETICKER: NodeId = NodeId(13);
const NTP_CLIENTS: [NodeId; 2] = [NodeId(1), NodeId(2)];

/// The server error the NTP tests run with: the true servers are within ±12.
const SERVER_ERROR: i64 = 15;

fn ntp(seed: u64, server_error: i64) -> Result<(), String> {
    let config = NtpConfig {
        servers: NTP_SERVERS.to_vec(),
        poll_every_ticks: 20,
        filter_size: 8,
        server_error,
        granularity: GRANULARITY,
        max_drift_ppm: MAX_DRIFT_PPM,
        min_truechimers: 2,
    };
    let ids = NTP_SERVERS.iter().chain(&NTP_CLIENTS).copied();
    let mut sim = synod_sim::Sim::new(sim_config(seed), ids, move |id, _: &Vec<()>| match id.0 {
        10 => NtpNode::server(id, LocalClock::new(UNITS, 0)),
        11 => NtpNode::server(id, LocalClock::new(UNITS, 12)),
        12 => NtpNode::server(id, LocalClock::new(UNITS, -12)),
        13 => NtpNode::server(id, LocalClock::new(UNITS, 50_000)),
        _ => NtpNode::client(
            id,
            LocalClock::new(UNITS, initial_offset(seed, id, 5_000)),
            config.clone(),
        ),
    })
    .map_err(|e| e.to_string())?;
    // One true server is unreachable for a while: its samples age and widen.
    drift_and_faults(
        &mut sim,
        NTP_CLIENTS.into_iter().zip([9, 11]),
        [
            (6_000, Fault::Partition(vec![vec![NodeId(11)]])),
            (12_000, Fault::Heal),
        ],
    )?;
    sim.add_invariant(
        "every synchronized client is within its claimed bound of true time",
        |sim| {
            let Some(truth) = sim.node(REFERENCE).map(|r| r.clock().read()) else {
                return Ok(());
            };
            for client in NTP_CLIENTS {
                let Some(node) = sim.node(client) else {
                    continue;
                };
                if let Some(bound) = node.error_bound() {
                    let error = (node.clock().read() - truth).abs();
                    if error > bound {
                        return Err(format!(
                            "{client} is {error} from true time, claims at most {bound}"
                        ));
                    }
                }
            }
            Ok(())
        },
    );
    run_traced(&mut sim)?;
    for (_, _, selected) in sim.events() {
        if selected.truechimers.contains(&NTP_FALSETICKER) {
            return Err(format!("falseticker selected: {selected:?}"));
        }
    }
    for client in NTP_CLIENTS {
        ends_tight(client, sim.node(client).and_then(|n| n.error_bound()))?;
    }
    Ok(())
}

// An NTP-style client polling four servers, one a falseticker, through loss,
// duplication, reordering and a partition, with a drifting clock: it never selects
// the falseticker and is always within its claimed bound of true time.
#[test]
fn ntp_client_rejects_the_falseticker_and_keeps_its_bound() {
    check_seeds(
        "ntp_client_rejects_the_falseticker_and_keeps_its_bound",
        16,
        |seed| ntp(seed, SERVER_ERROR),
    );
}

// A client that cannot tell the falseticker from the true servers is caught: with a
// legal but wrong `server_error` of half the falseticker's lead plus a little, every
// server's interval overlaps every other's and selection names all four truechimers;
// the "falseticker never selected" check flags it on every seed. (The midpoint rule
// of the intersection algorithm still keeps the clock and its claimed bound honest,
// so the bound invariant has nothing to catch here; Cristian's test above shows it
// failing.)
#[test]
fn ntp_checker_catches_trusting_every_server() {
    for seed in 0..8 {
        let why = ntp(seed, 25_100)
            .err()
            .unwrap_or_else(|| panic!("seed {seed}: trusting the falseticker went unnoticed"));
        assert!(why.contains("falseticker selected"), "seed {seed}: {why}");
    }
}
