//! Random executions with their ground-truth happened-before relation, shared by the
//! property tests.

#![allow(dead_code)]

use proptest::prelude::*;

/// One event of an execution. Every op is one event at one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A local event at `process`.
    Local { process: usize },
    /// `process` sends message number `message`.
    Send { process: usize, message: usize },
    /// `process` receives message number `message` (sent earlier, never before).
    Receive { process: usize, message: usize },
}

impl Op {
    pub fn process(&self) -> usize {
        match *self {
            Op::Local { process } | Op::Send { process, .. } | Op::Receive { process, .. } => {
                process
            }
        }
    }
}

/// A random execution over `processes` processes.
#[derive(Clone, Debug)]
pub struct Execution {
    pub processes: usize,
    pub ops: Vec<Op>,
}

/// Causal histories: `history[e]` is the set of events that happened before or are
/// `e`, as a bitset. This is the definition of happened-before (Lamport 1978), not
/// any clock: every clock under test is checked against it.
pub fn histories(exec: &Execution) -> Vec<Vec<u64>> {
    let words = exec.ops.len().div_ceil(64).max(1);
    let mut at_process: Vec<Vec<u64>> = vec![vec![0; words]; exec.processes];
    let mut in_message: Vec<Vec<u64>> = Vec::new();
    let mut out = Vec::with_capacity(exec.ops.len());
    for (e, op) in exec.ops.iter().enumerate() {
        let p = op.process();
        if let Op::Receive { message, .. } = *op {
            for (a, b) in at_process[p].iter_mut().zip(&in_message[message]) {
                *a |= *b;
            }
        }
        at_process[p][e / 64] |= 1 << (e % 64);
        if let Op::Send { message, .. } = *op {
            if in_message.len() <= message {
                in_message.resize(message + 1, vec![0; words]);
            }
            in_message[message] = at_process[p].clone();
        }
        out.push(at_process[p].clone());
    }
    out
}

/// Whether event `a` happened before event `b` (strictly).
pub fn happened_before(h: &[Vec<u64>], a: usize, b: usize) -> bool {
    a != b && h[b][a / 64] & (1 << (a % 64)) != 0
}

/// Random executions: each step is a local event, a send, or the receipt of a
/// message in flight (any one: the network reorders freely).
pub fn executions(max_processes: usize, max_ops: usize) -> impl Strategy<Value = Execution> {
    (2..=max_processes).prop_flat_map(move |n| {
        prop::collection::vec((0u8..3, 0..n, any::<prop::sample::Index>()), 1..max_ops).prop_map(
            move |steps| {
                let mut ops = Vec::new();
                let mut in_flight: Vec<(usize, usize)> = Vec::new(); // (message, to)
                let mut messages = 0;
                for (kind, p, pick) in steps {
                    match kind {
                        0 => ops.push(Op::Local { process: p }),
                        1 => {
                            let to = (p + 1 + pick.index(n - 1)) % n;
                            ops.push(Op::Send {
                                process: p,
                                message: messages,
                            });
                            in_flight.push((messages, to));
                            messages += 1;
                        }
                        _ if !in_flight.is_empty() => {
                            let (message, to) = in_flight.remove(pick.index(in_flight.len()));
                            ops.push(Op::Receive {
                                process: to,
                                message,
                            });
                        }
                        _ => ops.push(Op::Local { process: p }),
                    }
                }
                Execution { processes: n, ops }
            },
        )
    })
}

/// Proptest config honouring `SYNOD_PROPTEST_CASES`, with a fixed seed (or the one
/// in `SYNOD_SEED`), so every run is the same and a failure replays with
/// `SYNOD_SEED=<seed> cargo test -p synod-clocks <name>`.
pub fn config(default_cases: u32) -> ProptestConfig {
    let seed = synod_sim::seed_from_env().unwrap_or(0xC10C_5EED);
    ProptestConfig {
        cases: synod_sim::proptest_cases(default_cases),
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}
