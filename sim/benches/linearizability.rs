//! Linearizability checker throughput on linearizable histories (the common case: a
//! passing test checks every history it records).
//!
//! - `kv_100k`: 100,000 operations over 1,000 keys from 10 concurrent clients, mixed
//!   gets and puts. Goal: under 1 s.
//! - `register_1k`: 1,000 operations on one register from 5 concurrent clients. Goal:
//!   under 100 ms.
//! - `register_100k`: 100,000 operations on one register from 5 clients: one long
//!   partition, where the memo's compact decided-set encoding matters.
//! - `register_1k_stale_read`: the 1,000-operation history plus a stale read at the end,
//!   including shrinking the counterexample to three operations.
//!
//! Histories are generated from fixed seeds outside the timed section.
//!
//! Run: `cargo bench -p synod-sim --bench linearizability`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use synod_sim::SimRng;
use synod_sim::history::{History, Operation};
use synod_sim::linearizability::check;
use synod_sim::spec::{KvInput, KvMap, KvOutput, Register, RegisterInput, RegisterOutput};

/// One planned operation: when the client invokes it, the point at which it takes
/// effect atomically, and when the client sees the reply.
struct Planned<I> {
    point: u64,
    client: u64,
    input: I,
    invoked_at: u64,
    returned_at: u64,
}

impl<I> Planned<I> {
    /// The recorded operation, once the object has answered `output`.
    fn completed<O>(self, output: O) -> Operation<I, O> {
        Operation {
            client: self.client,
            input: self.input,
            output: Some(output),
            invoked_at: self.invoked_at,
            returned_at: Some(self.returned_at),
        }
    }
}

/// Plans `per_client` back-to-back operations for each client, with random think
/// times and random linearization points inside each interval, then sorts them by
/// linearization point: the order in which a correct atomic object applies them.
fn plan<I>(
    rng: &mut SimRng,
    clients: u64,
    per_client: usize,
    mut input: impl FnMut(&mut SimRng) -> I,
) -> Vec<Planned<I>> {
    let mut planned = Vec::with_capacity(clients as usize * per_client);
    for client in 0..clients {
        let mut now = rng.below(4);
        for _ in 0..per_client {
            let invoked_at = now + rng.below(3);
            let point = invoked_at + rng.below(5);
            let returned_at = point + rng.below(5);
            planned.push(Planned {
                point,
                client,
                input: input(rng),
                invoked_at,
                returned_at,
            });
            now = returned_at + 1;
        }
    }
    planned.sort_by_key(|p| (p.point, p.client));
    planned
}

fn record<I, O>(mut ops: Vec<Operation<I, O>>) -> History<I, O> {
    ops.sort_by_key(|op| (op.invoked_at, op.client));
    let mut history = History::new();
    for op in ops {
        history
            .push(op)
            .expect("generated operations are well formed");
    }
    history
}

fn kv_history(ops: usize, keys: u64, clients: u64) -> History<KvInput<u32, u64>, KvOutput<u64>> {
    let mut rng = SimRng::new(0x5EED_0001);
    let planned = plan(&mut rng, clients, ops / clients as usize, |rng| {
        let key = rng.below(keys) as u32;
        if rng.below(2) == 0 {
            KvInput::Get(key)
        } else {
            KvInput::Put(key, rng.next_u64())
        }
    });
    let mut map = std::collections::HashMap::new();
    let ops = planned
        .into_iter()
        .map(|p| {
            let output = match &p.input {
                KvInput::Get(key) => KvOutput::Value(map.get(key).copied()),
                KvInput::Put(key, value) => {
                    map.insert(*key, *value);
                    KvOutput::Written
                }
                _ => unreachable!("only gets and puts are generated"),
            };
            p.completed(output)
        })
        .collect();
    record(ops)
}

type RegisterHistory = History<RegisterInput<u64>, RegisterOutput<u64>>;

fn register_history(ops: usize, clients: u64) -> RegisterHistory {
    let mut rng = SimRng::new(0x5EED_0002);
    let mut next_value = 0;
    let planned = plan(&mut rng, clients, ops / clients as usize, |rng| {
        if rng.below(2) == 0 {
            RegisterInput::Read
        } else {
            // Unique values, as a linearizability test would write: the hardest case for
            // the memo, since no two writes lead to the same state.
            next_value += 1;
            RegisterInput::Write(next_value)
        }
    });
    let mut value = 0;
    let ops = planned
        .into_iter()
        .map(|p| {
            let output = match &p.input {
                RegisterInput::Read => RegisterOutput::Value(value),
                RegisterInput::Write(v) => {
                    value = *v;
                    RegisterOutput::Written
                }
                RegisterInput::CompareAndSet { .. } => unreachable!("not generated"),
            };
            p.completed(output)
        })
        .collect();
    record(ops)
}

fn with_stale_read(mut history: RegisterHistory) -> RegisterHistory {
    let end = history
        .operations()
        .iter()
        .filter_map(|op| op.returned_at)
        .max()
        .unwrap_or(0);
    let ops = [
        (RegisterInput::Write(u64::MAX - 1), RegisterOutput::Written),
        (RegisterInput::Write(u64::MAX), RegisterOutput::Written),
        (RegisterInput::Read, RegisterOutput::Value(u64::MAX - 1)),
    ];
    for (i, (input, output)) in ops.into_iter().enumerate() {
        let at = end + 1 + 2 * i as u64;
        let id = history.invoke(99, input, at);
        history.complete(id, output, at + 1).expect("valid");
    }
    history
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("linearizability");

    let kv = kv_history(100_000, 1_000, 10);
    let kv_spec = KvMap::<u32, u64>::new();
    assert!(
        check(&kv_spec, &kv).is_ok(),
        "kv history must be linearizable"
    );
    group.throughput(Throughput::Elements(kv.len() as u64));
    group.bench_function("kv_100k", |b| {
        b.iter(|| check(&kv_spec, black_box(&kv)).is_ok())
    });

    let register = Register::new(0);
    let small = register_history(1_000, 5);
    assert!(
        check(&register, &small).is_ok(),
        "register history must be linearizable"
    );
    group.throughput(Throughput::Elements(small.len() as u64));
    group.bench_function("register_1k", |b| {
        b.iter(|| check(&register, black_box(&small)).is_ok())
    });

    let large = register_history(100_000, 5);
    assert!(
        check(&register, &large).is_ok(),
        "register history must be linearizable"
    );
    group.throughput(Throughput::Elements(large.len() as u64));
    group.bench_function("register_100k", |b| {
        b.iter(|| check(&register, black_box(&large)).is_ok())
    });

    let stale = with_stale_read(small);
    let violation = check(&register, &stale).expect_err("stale read");
    assert_eq!(violation.operations().len(), 3, "{violation}");
    group.throughput(Throughput::Elements(stale.len() as u64));
    group.bench_function("register_1k_stale_read", |b| {
        b.iter(|| check(&register, black_box(&stale)).is_err())
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
