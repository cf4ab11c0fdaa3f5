//! The Dynamo-style store on the simulator: acknowledged writes are never lost while
//! fewer than W nodes are down, concurrent writes surface as siblings, and replicas
//! converge after faults heal and hints are handed back (DeCandia et al. 2007, §4).

use bytes::Bytes;
use std::collections::BTreeMap;
use synod_clocks::{Causality, VersionVector};
use synod_core::NodeId;
use synod_quorum::dynamo::{
    DynamoConfig, DynamoError, DynamoEvent, DynamoMessage, DynamoNode, DynamoRecord, DynamoRequest,
};
use synod_quorum::ring::Ring;
use synod_sim::{Fault, LinkConfig, Sim, SimConfig, check_seeds};

const NODES: u64 = 6;
const KEYS: u64 = 6;

fn ring() -> Ring {
    let mut ring = Ring::new(32).expect("valid");
    for id in 1..=NODES {
        ring.add(NodeId(id));
    }
    ring
}

fn cluster(seed: u64, network: LinkConfig) -> Sim<DynamoNode> {
    let config = DynamoConfig::new(3, 2, 2).expect("valid");
    let mut sim_config = SimConfig::new(seed);
    sim_config.network = network;
    let ring = ring();
    Sim::new(
        sim_config,
        (1..=NODES).map(NodeId),
        move |id, log: &Vec<DynamoRecord>| DynamoNode::recover(id, ring.clone(), config, log),
    )
    .expect("valid configuration")
}

fn key(k: u64) -> Bytes {
    Bytes::from(format!("key{k}"))
}

/// The first preferred replica of `key` that is up.
fn coordinator(sim: &Sim<DynamoNode>, key: &Bytes) -> Option<NodeId> {
    ring()
        .preference_list(key, 3)
        .into_iter()
        .find(|&id| sim.is_up(id))
}

#[derive(Debug, Default)]
struct KeyLog {
    /// Values whose put was acknowledged, each with the values of the get that came
    /// right after it (None until that get returns).
    acked: Vec<(Bytes, Option<Vec<Bytes>>)>,
    written: Vec<Bytes>,
}

/// Per key, one client loops get → put(context of that get) while nodes crash and
/// restart one at a time (fewer than W = 2 down). Afterwards, faults stop, hints are
/// handed back, and a final get per key must show every acknowledged value unless a
/// later put was made with a context that had seen it.
fn durability_run(seed: u64) -> Result<(), String> {
    let mut sim = cluster(
        seed,
        LinkConfig {
            loss: 0.1,
            duplicate: 0.1,
            reorder: 0.3,
            ..LinkConfig::default()
        },
    );
    let mut at = 500;
    for _ in 0..10 {
        let victim = NodeId(1 + sim.rng().below(NODES));
        let down_for = 300 + sim.rng().below(2_500);
        sim.schedule(at, Fault::Crash(victim))
            .map_err(|e| e.to_string())?;
        sim.schedule(at + down_for, Fault::Restart(victim))
            .map_err(|e| e.to_string())?;
        at += down_for + 100 + sim.rng().below(800);
    }
    let faults_end = at;
    let mut logs: BTreeMap<u64, KeyLog> = (0..KEYS).map(|k| (k, KeyLog::default())).collect();
    // Per key: the running request (op, coordinator, is_put, value) and the last context.
    let mut running: BTreeMap<u64, (u64, NodeId, Option<Bytes>)> = BTreeMap::new();
    let mut context: BTreeMap<u64, VersionVector> = BTreeMap::new();
    let mut next_op = 0u64;
    let mut rounds: BTreeMap<u64, u32> = BTreeMap::new();
    let mut failure = None;
    sim.run_until(
        |sim| {
            let events: Vec<DynamoEvent> = sim.drain_events().map(|(_, _, e)| e).collect();
            for event in events {
                let op = match &event {
                    DynamoEvent::Got { op, .. }
                    | DynamoEvent::Put { op }
                    | DynamoEvent::Failed { op, .. } => *op,
                };
                let Some((&k, _)) = running.iter().find(|(_, (o, _, _))| *o == op) else {
                    continue;
                };
                let (_, _, value) = running.remove(&k).expect("found");
                let log = logs.get_mut(&k).expect("known");
                match event {
                    DynamoEvent::Got {
                        values,
                        context: ctx,
                        ..
                    } => {
                        if let Some((_, after @ None)) = log.acked.last_mut() {
                            *after = Some(values.clone());
                        }
                        if let Some(v) = values.iter().find(|v| !log.written.contains(v)) {
                            failure = Some(format!("key{k}: read {v:?}, never written"));
                            return true;
                        }
                        context.insert(k, ctx);
                    }
                    DynamoEvent::Put { .. } => {
                        log.acked.push((value.expect("a put has a value"), None))
                    }
                    DynamoEvent::Failed { error, .. } => {
                        failure = Some(format!("key{k}: {error} with at most one node down"));
                        return true;
                    }
                }
            }
            // A request whose coordinator crashed is abandoned (a put may or may not
            // have been stored); the client starts over with a get.
            running.retain(|_, (_, at, _)| sim.is_up(*at));
            for k in 0..KEYS {
                if running.contains_key(&k) || rounds.get(&k).copied().unwrap_or(0) >= 24 {
                    continue;
                }
                let key = key(k);
                let Some(at) = coordinator(sim, &key) else {
                    continue;
                };
                next_op += 1;
                let round = rounds.entry(k).or_default();
                let request = match context.remove(&k) {
                    Some(ctx) => {
                        *round += 1;
                        let value = Bytes::from(format!("k{k}v{round}"));
                        logs.get_mut(&k).expect("known").written.push(value.clone());
                        running.insert(k, (next_op, at, Some(value.clone())));
                        DynamoRequest::Put {
                            op: next_op,
                            key,
                            value,
                            context: ctx,
                        }
                    }
                    None => {
                        running.insert(k, (next_op, at, None));
                        DynamoRequest::Get { op: next_op, key }
                    }
                };
                sim.request(at, request).expect("coordinator is up");
            }
            running.is_empty() && rounds.values().all(|&r| r >= 24) && sim.now() > faults_end
        },
        5_000_000,
    )
    .map_err(|v| v.to_string())?;
    if let Some(why) = failure {
        return Err(why);
    }
    // Heal: let retransmissions and handoffs finish, then read every key.
    sim.run_for(20_000).map_err(|v| v.to_string())?;
    for node in 1..=NODES {
        let held = sim.node(NodeId(node)).map_or(0, DynamoNode::hints_held);
        if held > 0 {
            return Err(format!("n{node} still holds {held} hints after healing"));
        }
    }
    for (k, log) in &logs {
        let key = key(*k);
        let replicas = ring().preference_list(&key, 3);
        let copies: Vec<_> = replicas
            .iter()
            .map(|&id| sim.node(id).and_then(|n| n.versions(&key)).cloned())
            .collect();
        if copies.windows(2).any(|w| match (&w[0], &w[1]) {
            (Some(a), Some(b)) => a.causality(b) != Causality::Equal,
            _ => true,
        }) {
            return Err(format!(
                "key{k}: replicas {replicas:?} did not converge: {copies:?}"
            ));
        }
        let final_values: Vec<Bytes> = copies[0]
            .as_ref()
            .map(|v| v.values().cloned().collect())
            .unwrap_or_default();
        for (value, seen_next) in &log.acked {
            // A later put (acknowledged or not) whose context had seen this value may
            // replace it.
            let later_put = log
                .written
                .iter()
                .position(|w| w == value)
                .is_some_and(|p| p + 1 < log.written.len());
            let superseded =
                later_put && seen_next.as_ref().is_some_and(|seen| seen.contains(value));
            if !final_values.contains(value) && !superseded {
                return Err(format!(
                    "key{k}: acknowledged {value:?} is lost: final {final_values:?}; log {:?}",
                    &log.acked[log.acked.len().saturating_sub(3)..]
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn acknowledged_writes_survive_fewer_than_w_failures() {
    check_seeds(
        "acknowledged_writes_survive_fewer_than_w_failures",
        16,
        durability_run,
    );
}

/// Both sides of a partition accept writes to the same key (sloppy quorum: stand-ins
/// fill in for unreachable replicas); after the partition heals and hints are handed
/// back, a read returns both values as siblings — neither is silently dropped — and a
/// write with the context of that read replaces both.
#[test]
fn partitioned_writes_surface_as_siblings() {
    check_seeds("partitioned_writes_surface_as_siblings", 16, |seed| {
        let mut sim = cluster(seed, LinkConfig::default());
        let ring = ring();
        // A key with preferred replicas on both sides of {1,2,3} | {4,5,6}.
        let (key, prefs) = (0..100)
            .map(key)
            .map(|k| (k.clone(), ring.preference_list(&k, 3)))
            .find(|(_, p)| p.iter().any(|n| n.0 <= 3) && p.iter().any(|n| n.0 > 3))
            .expect("such a key exists");
        let left = *prefs.iter().find(|n| n.0 <= 3).expect("one on the left");
        let right = *prefs.iter().find(|n| n.0 > 3).expect("one on the right");
        let side = |n: u64| -> Vec<NodeId> { (n..n + 3).map(NodeId).collect() };
        sim.apply(Fault::Partition(vec![side(1), side(4)]))
            .map_err(|e| e.to_string())?;
        let put = |op, value: &str| DynamoRequest::Put {
            op,
            key: key.clone(),
            value: Bytes::from(value.to_owned()),
            context: VersionVector::new(),
        };
        sim.request(left, put(1, "left"))
            .map_err(|e| e.to_string())?;
        sim.request(right, put(2, "right"))
            .map_err(|e| e.to_string())?;
        sim.run_for(3_000).map_err(|v| v.to_string())?;
        let acked = sim
            .events()
            .iter()
            .filter(|(_, _, e)| matches!(e, DynamoEvent::Put { .. }))
            .count();
        if acked != 2 {
            return Err(format!(
                "both sides should accept their write, {acked} did: {:?}",
                sim.events()
            ));
        }
        sim.apply(Fault::Heal).map_err(|e| e.to_string())?;
        sim.run_for(5_000).map_err(|v| v.to_string())?;
        sim.request(
            left,
            DynamoRequest::Get {
                op: 3,
                key: key.clone(),
            },
        )
        .map_err(|e| e.to_string())?;
        sim.run_for(2_000).map_err(|v| v.to_string())?;
        let got = |sim: &Sim<DynamoNode>, op: u64| {
            sim.events().iter().find_map(|(_, _, e)| match e {
                DynamoEvent::Got {
                    op: o,
                    values,
                    context,
                } if *o == op => Some((values.clone(), context.clone())),
                _ => None,
            })
        };
        let Some((values, context)) = got(&sim, 3) else {
            return Err("the get did not finish".into());
        };
        if values != ["left", "right"] {
            return Err(format!("expected siblings [left, right], got {values:?}"));
        }
        // The client reconciles and writes back with the context it read: one value.
        sim.request(
            right,
            DynamoRequest::Put {
                op: 4,
                key: key.clone(),
                value: Bytes::from("both"),
                context,
            },
        )
        .map_err(|e| e.to_string())?;
        sim.run_for(2_000).map_err(|v| v.to_string())?;
        sim.request(left, DynamoRequest::Get { op: 5, key })
            .map_err(|e| e.to_string())?;
        sim.run_for(2_000).map_err(|v| v.to_string())?;
        match got(&sim, 5) {
            Some((values, _)) if values == ["both"] => Ok(()),
            other => Err(format!("after reconciling expected [both], got {other:?}")),
        }
    });
}

/// Requests a node cannot serve get typed errors; a configuration with R or W outside
/// 1..=N is refused.
#[test]
fn invalid_requests_and_configurations_are_typed_errors() {
    assert!(DynamoConfig::new(3, 0, 2).is_err());
    assert!(DynamoConfig::new(3, 2, 4).is_err());
    let mut sim = cluster(0, LinkConfig::default());
    let key = key(0);
    let prefs = ring().preference_list(&key, 3);
    let outsider = (1..=NODES)
        .map(NodeId)
        .find(|n| !prefs.contains(n))
        .expect("6 nodes, 3 replicas");
    sim.request(
        outsider,
        DynamoRequest::Get {
            op: 1,
            key: key.clone(),
        },
    )
    .unwrap();
    sim.request(
        prefs[0],
        DynamoRequest::Get {
            op: 2,
            key: key.clone(),
        },
    )
    .unwrap();
    sim.request(prefs[0], DynamoRequest::Get { op: 2, key })
        .unwrap();
    sim.run_for(1_000).unwrap();
    let failures: Vec<&DynamoError> = sim
        .events()
        .iter()
        .filter_map(|(_, _, e)| match e {
            DynamoEvent::Failed { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [
            &DynamoError::NotAReplica { preferred: prefs },
            &DynamoError::DuplicateOp(2)
        ]
    );
}

/// Merkle-tree anti-entropy repairs a replica that missed writes while it was down
/// longer than any coordinator kept retrying, and its traffic is proportional to the
/// difference (10 of 5,000 keys), not to the data.
#[test]
fn anti_entropy_repairs_a_stale_replica_with_traffic_proportional_to_the_difference() {
    let config = DynamoConfig {
        merkle_depth: 12,
        ..DynamoConfig::new(3, 2, 2).expect("valid")
    };
    let mut ring = Ring::new(32).expect("valid");
    for id in 1..=3 {
        ring.add(NodeId(id));
    }
    let mut sim = Sim::new(
        SimConfig::new(5),
        (1..=3).map(NodeId),
        move |id, log: &Vec<DynamoRecord>| DynamoNode::recover(id, ring.clone(), config, log),
    )
    .expect("valid");
    // Count only anti-entropy bytes: 12 per tree hash, key + values + 16 per entry.
    sim.set_message_size(|msg| match msg {
        DynamoMessage::TreeHashes { nodes } => 12 * nodes.len(),
        DynamoMessage::BucketEntries { entries, .. } => entries
            .iter()
            .map(|(k, v)| 16 + k.len() + v.values().map(Bytes::len).sum::<usize>())
            .sum(),
        _ => 0,
    });
    let put = |op: u64, k: u64| DynamoRequest::Put {
        op,
        key: key(k),
        value: Bytes::from(format!("{k:>50}{op:>50}")), // 100 bytes
        context: VersionVector::new(),
    };
    for batch in 0..5 {
        for k in batch * 1_000..(batch + 1) * 1_000 {
            sim.request(NodeId(1), put(k, k)).unwrap();
        }
        sim.run_for(10_000).unwrap();
    }
    let data_bytes: usize = (0..5_000u64)
        .map(|k| {
            sim.node(NodeId(1))
                .unwrap()
                .versions(&key(k))
                .unwrap()
                .values()
                .map(Bytes::len)
                .sum::<usize>()
                + key(k).len()
                + 16
        })
        .sum();

    sim.apply(Fault::Crash(NodeId(3))).unwrap();
    for k in 0..10 {
        sim.request(NodeId(1), put(10_000 + k, k * 500)).unwrap();
    }
    // Longer than the request timeout: the coordinator stops retrying node 3.
    sim.run_for(10_000).unwrap();
    sim.apply(Fault::Restart(NodeId(3))).unwrap();
    let stale = |sim: &Sim<DynamoNode>| {
        (0..10)
            .filter(|k| {
                sim.node(NodeId(3)).unwrap().versions(&key(k * 500))
                    != sim.node(NodeId(1)).unwrap().versions(&key(k * 500))
            })
            .count()
    };
    assert_eq!(stale(&sim), 10, "node 3 missed all ten writes");
    let before = sim.stats().bytes_sent;
    let repaired = sim.run_until(|sim| stale(sim) == 0, 1_000_000).unwrap();
    let repair_bytes = (sim.stats().bytes_sent - before) as usize;
    assert!(
        repaired,
        "anti-entropy repaired node 3 ({repair_bytes} bytes sent)"
    );
    println!(
        "anti-entropy: {repair_bytes} bytes to repair 10 of 5,000 keys; the data is {data_bytes} bytes"
    );
    assert!(
        repair_bytes * 20 < data_bytes,
        "repair cost {repair_bytes} bytes, the data is only {data_bytes}"
    );
}
