//! Tests of the linearizability checker: hand-written histories with known verdicts,
//! counterexample shrinking, budgets, and property tests against a correct and a broken
//! register implementation.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use synod_sim::history::{History, HistoryError, OpId, Operation};
use synod_sim::linearizability::{CheckError, Checker, NonLinearizable, check};
use synod_sim::spec::{
    KvInput, KvMap, KvOutput, Register, RegisterInput, RegisterInput::*, RegisterOutput,
    RegisterOutput::*, Spec,
};

type RegisterHistory = History<RegisterInput<u32>, RegisterOutput<u32>>;

/// A completed operation.
fn done<I, O>(
    client: u64,
    input: I,
    output: O,
    invoked_at: u64,
    returned_at: u64,
) -> Operation<I, O> {
    Operation {
        client,
        input,
        output: Some(output),
        invoked_at,
        returned_at: Some(returned_at),
    }
}

/// An operation that never returned.
/// A register compare-and-set input, written short so a history reads one
/// operation a line.
fn cas(expected: u32, new: u32) -> RegisterInput<u32> {
    CompareAndSet { expected, new }
}

fn pending<I, O>(client: u64, input: I, invoked_at: u64) -> Operation<I, O> {
    Operation {
        client,
        input,
        output: None,
        invoked_at,
        returned_at: None,
    }
}

fn history<I, O>(ops: Vec<Operation<I, O>>) -> History<I, O> {
    let mut history = History::new();
    for op in ops {
        history.push(op).expect("well-formed test operation");
    }
    history
}

fn register() -> Register<u32> {
    Register::new(0)
}

fn accepts(ops: Vec<Operation<RegisterInput<u32>, RegisterOutput<u32>>>) -> bool {
    check(&register(), &history(ops)).is_ok()
}

/// Replays a witness: every operation of the partition appears at most once, completed
/// ones exactly once, real-time order is respected, and the spec accepts each step.
fn assert_valid_witness<S: Spec>(
    spec: &S,
    history: &History<S::Input, S::Output>,
    key: &S::Key,
    order: &[OpId],
) {
    let mut state = spec.init();
    let mut seen = std::collections::HashSet::new();
    for (position, id) in order.iter().enumerate() {
        assert!(seen.insert(*id), "{id} linearized twice");
        let op = history.get(*id).expect("witness ids come from the history");
        state = spec
            .step(&state, &op.input, op.output.as_ref())
            .unwrap_or_else(|| panic!("{id} is illegal at position {position}"));
        for later in &order[position + 1..] {
            let later_op = history
                .get(*later)
                .expect("witness ids come from the history");
            assert!(!later_op.precedes(op), "{later} precedes {id} in real time");
        }
    }
    for (i, op) in history.operations().iter().enumerate() {
        if !op.is_pending() && spec.key(&op.input) == *key {
            assert!(
                seen.contains(&OpId(i)),
                "completed op#{i} missing from the witness"
            );
        }
    }
}

/// Rechecks a counterexample on its own, from the state it starts in.
fn recheck_register(violation: &NonLinearizable<Register<u32>>) -> bool {
    let ops = violation
        .operations()
        .iter()
        .map(|(_, op)| op.clone())
        .collect();
    check(&Register::new(*violation.initial_state()), &history(ops)).is_err()
}

// ---------------------------------------------------------------------------------
// Hand-written histories.
// ---------------------------------------------------------------------------------

#[test]
fn sequential_history_is_linearizable() {
    // A strictly sequential write/read/CAS/read history is accepted, and the witness is
    // the history's own order.
    let ops = vec![
        done(1, Write(1), Written, 0, 1),
        done(2, Read, Value(1), 2, 3),
        done(1, cas(1, 2), Swapped(true), 4, 5),
        done(2, Read, Value(2), 6, 7),
    ];
    let h = history(ops);
    let witness = check(&register(), &h).expect("sequential history");
    assert_eq!(
        witness.order(&()),
        Some(&[OpId(0), OpId(1), OpId(2), OpId(3)][..])
    );
    assert_valid_witness(&register(), &h, &(), witness.order(&()).unwrap_or_default());
}

#[test]
fn empty_history_is_linearizable() {
    // A history with no operations is trivially linearizable and has no partitions.
    let witness = check(&register(), &RegisterHistory::new()).expect("empty history");
    assert_eq!(witness.partitions().count(), 0);
}

#[test]
fn stale_read_after_completed_write_is_rejected() {
    // A read invoked after a write returned must see it (or a later write): reading the
    // initial value is the classic stale read.
    let violation = check(
        &register(),
        &history(vec![
            done(1, Write(1), Written, 0, 10),
            done(2, Read, Value(0), 11, 12),
        ]),
    )
    .expect_err("stale read");
    assert_eq!(violation.op_ids().collect::<Vec<_>>(), [OpId(0), OpId(1)]);
    assert!(violation.is_minimal());
    assert_eq!(violation.prefix_len(), 0);
}

#[test]
fn reads_after_overlapping_writes_may_see_either_order() {
    // Two concurrent writes may take effect in either order, so a later read may see
    // either value (each history alone is linearizable).
    for seen in [1, 2] {
        assert!(
            accepts(vec![
                done(1, Write(1), Written, 0, 10),
                done(2, Write(2), Written, 1, 9),
                done(3, Read, Value(seen), 11, 12),
                done(3, Read, Value(seen), 13, 14),
            ]),
            "read of {seen}"
        );
    }
}

#[test]
fn reads_seeing_both_orders_of_completed_writes_are_rejected() {
    // Once both writes completed, their order is fixed: two sequential reads that see v2
    // then v1 would need the writes in both orders.
    let violation = check(
        &register(),
        &history(vec![
            done(1, Write(1), Written, 0, 10),
            done(2, Write(2), Written, 1, 9),
            done(3, Read, Value(2), 11, 12),
            done(3, Read, Value(1), 13, 14),
        ]),
    )
    .expect_err("inconsistent reads");
    assert_eq!(violation.operations().len(), 4);
}

#[test]
fn read_concurrent_with_two_writes_sees_any_of_three_values() {
    // A read spanning two sequential writes may take effect before, between or after
    // them, but cannot return a value nobody wrote.
    for seen in [0, 1, 2] {
        assert!(
            accepts(vec![
                done(1, Write(1), Written, 1, 3),
                done(2, Read, Value(seen), 0, 10),
                done(1, Write(2), Written, 5, 7),
            ]),
            "read of {seen}"
        );
    }
    assert!(!accepts(vec![
        done(1, Write(1), Written, 1, 3),
        done(2, Read, Value(3), 0, 10),
        done(1, Write(2), Written, 5, 7),
    ]));
    // Reading the first write after the second one completed is stale.
    assert!(!accepts(vec![
        done(1, Write(1), Written, 1, 3),
        done(1, Write(2), Written, 5, 7),
        done(2, Read, Value(1), 8, 10),
    ]));
}

#[test]
fn pending_write_that_took_effect_is_accepted() {
    // A write whose client crashed may have taken effect: a later read of its value is fine.
    let h = history(vec![pending(1, Write(1), 0), done(2, Read, Value(1), 5, 6)]);
    let witness = check(&register(), &h).expect("pending write took effect");
    assert_eq!(witness.order(&()), Some(&[OpId(0), OpId(1)][..]));
}

#[test]
fn pending_write_that_did_not_take_effect_is_accepted() {
    // ... or it may never have taken effect: reads of the old value stay legal, and the
    // witness leaves the pending write out.
    let h = history(vec![
        pending(1, Write(1), 0),
        done(2, Read, Value(0), 5, 6),
        done(2, Read, Value(0), 100, 101),
    ]);
    let witness = check(&register(), &h).expect("pending write had no effect");
    assert_eq!(witness.order(&()), Some(&[OpId(1), OpId(2)][..]));
}

#[test]
fn pending_write_seen_then_unseen_is_rejected() {
    // Once a read observed a pending write, it took effect; a later read of the old value
    // is stale. The counterexample keeps the pending write, which explains the first read.
    let violation = check(
        &register(),
        &history(vec![
            pending(1, Write(1), 0),
            done(2, Read, Value(1), 5, 6),
            done(3, Read, Value(0), 7, 8),
        ]),
    )
    .expect_err("seen then unseen");
    assert_eq!(
        violation.op_ids().collect::<Vec<_>>(),
        [OpId(0), OpId(1), OpId(2)]
    );
    let report = violation.to_string();
    assert!(report.contains("pending"), "{report}");
    assert!(report.contains("[0, -]"), "{report}");
}

#[test]
fn pending_operation_that_the_spec_never_allows_is_left_out() {
    // Pending operations are never forced in: a pending CAS that could only fail, and a
    // pending read, do not block a history whose completed operations are fine.
    assert!(accepts(vec![
        pending(1, cas(7, 8), 0),
        pending(2, Read, 0),
        done(3, Write(4), Written, 1, 2),
        done(3, Read, Value(4), 3, 4),
    ]));
}

#[test]
fn compare_and_set_histories() {
    // CAS must report success exactly when the register held the expected value.
    // Sequential success then failure: fine.
    assert!(accepts(vec![
        done(1, cas(0, 1), Swapped(true), 0, 1),
        done(2, cas(0, 2), Swapped(false), 2, 3),
        done(2, Read, Value(1), 4, 5),
    ]));
    // Two concurrent CAS(0 -> x) cannot both succeed.
    assert!(!accepts(vec![
        done(1, cas(0, 1), Swapped(true), 0, 5),
        done(2, cas(0, 2), Swapped(true), 1, 4),
    ]));
    // One of them wins, the other fails, and a later read sees the winner.
    assert!(accepts(vec![
        done(1, cas(0, 1), Swapped(false), 0, 5),
        done(2, cas(0, 2), Swapped(true), 1, 4),
        done(3, Read, Value(2), 6, 7),
    ]));
    // A failed CAS claims the value was not 0, but nothing changed it.
    assert!(!accepts(vec![done(1, cas(0, 1), Swapped(false), 0, 1),]));
    // A pending CAS explains a later read of its new value.
    assert!(accepts(vec![
        pending(1, cas(0, 9), 0),
        done(2, Read, Value(9), 3, 4),
    ]));
    // Wrong output kind for the input: illegal, not a panic.
    assert!(!accepts(vec![done(1, Read, Written, 0, 1)]));
}

#[test]
fn equal_times_are_concurrent() {
    // A return and an invocation at the same time are concurrent: the read invoked at the
    // write's return time may still take effect before it.
    assert!(accepts(vec![
        done(1, Write(1), Written, 0, 5),
        done(2, Read, Value(0), 5, 6)
    ]));
    // One tick later it is strictly after, and the stale read is caught.
    assert!(!accepts(vec![
        done(1, Write(1), Written, 0, 5),
        done(2, Read, Value(0), 6, 7)
    ]));
    // Zero-length intervals work and order strictly by time.
    assert!(accepts(vec![
        done(1, Write(1), Written, 3, 3),
        done(2, Read, Value(1), 4, 4),
        done(1, Write(2), Written, 5, 5),
        done(2, Read, Value(2), 5, 5),
    ]));
    assert!(!accepts(vec![
        done(1, Write(1), Written, 3, 3),
        done(2, Read, Value(0), 4, 4)
    ]));
}

type Kv = KvMap<&'static str, u32>;

#[test]
fn kv_histories_are_checked_per_key() {
    // Operations on different keys never constrain each other: each key alone is fine.
    let spec = Kv::new();
    let ok = history(vec![
        done(1, KvInput::Put("a", 1), KvOutput::Written, 0, 10),
        done(2, KvInput::Get("b"), KvOutput::Value(None), 11, 12),
        done(2, KvInput::Put("b", 2), KvOutput::Written, 13, 14),
        done(3, KvInput::Get("a"), KvOutput::Value(Some(1)), 15, 16),
        done(3, KvInput::Delete("a"), KvOutput::Deleted, 17, 18),
        done(1, KvInput::Get("a"), KvOutput::Value(None), 19, 20),
        done(
            1,
            KvInput::CompareAndSet {
                key: "c",
                expected: None,
                new: Some(5),
            },
            KvOutput::Swapped(true),
            21,
            22,
        ),
        done(2, KvInput::Get("c"), KvOutput::Value(Some(5)), 23, 24),
    ]);
    let witness = check(&spec, &ok).expect("every key is fine");
    assert_eq!(
        witness.partitions().map(|(k, _)| *k).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    for (key, order) in witness.partitions() {
        assert_valid_witness(&spec, &ok, key, order);
    }
}

#[test]
fn kv_violation_names_its_key_and_only_its_operations() {
    // One key has a stale read; the counterexample names that key and holds only its
    // operations, however busy the other keys are.
    let spec = Kv::new();
    let mut ops = Vec::new();
    for i in 0..50u64 {
        let key = if i % 2 == 0 { "x" } else { "z" };
        ops.push(done(
            i % 3,
            KvInput::Put(key, i as u32),
            KvOutput::Written,
            3 * i,
            3 * i + 2,
        ));
    }
    ops.push(done(7, KvInput::Put("y", 1), KvOutput::Written, 0, 10));
    ops.push(done(7, KvInput::Put("y", 2), KvOutput::Written, 11, 20));
    ops.push(done(8, KvInput::Get("y"), KvOutput::Value(Some(1)), 25, 30));
    let h = history(ops);
    let violation = check(&spec, &h).expect_err("stale read of y");
    assert_eq!(*violation.key(), "y");
    assert_eq!(violation.partition_len(), 3);
    assert!(
        violation
            .operations()
            .iter()
            .all(|(_, op)| *op.input.key() == "y")
    );
    let report = violation.to_string();
    assert!(report.contains("key \"y\" has 3 operations"), "{report}");
}

#[test]
fn first_failing_key_in_key_order_is_reported() {
    // With two bad keys the report is deterministic: the smaller key.
    let spec = Kv::new();
    let h = history(vec![
        done(1, KvInput::Get("m"), KvOutput::Value(Some(1)), 0, 1),
        done(1, KvInput::Get("b"), KvOutput::Value(Some(1)), 2, 3),
    ]);
    assert_eq!(*check(&spec, &h).expect_err("both keys bad").key(), "b");
}

// ---------------------------------------------------------------------------------
// Counterexamples.
// ---------------------------------------------------------------------------------

/// Deterministic PRNG for building histories by hand (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A linearizable register history from `clients` clients, each doing `per_client`
/// operations with random intervals around atomic linearization points. Returns the
/// history and the time after the last operation.
fn random_register_history(seed: u64, clients: u64, per_client: usize) -> (RegisterHistory, u64) {
    let mut rng = SplitMix(seed);
    // (linearization point, client, input, invoked_at, returned_at)
    let mut planned = Vec::new();
    for client in 0..clients {
        let mut now = rng.below(5);
        for _ in 0..per_client {
            let invoked_at = now + rng.below(4);
            let point = invoked_at + rng.below(6);
            let returned_at = point + rng.below(6);
            let input = match rng.below(5) {
                0 | 1 => Read,
                2 | 3 => Write(rng.below(5) as u32),
                _ => CompareAndSet {
                    expected: rng.below(5) as u32,
                    new: rng.below(5) as u32,
                },
            };
            planned.push((point, client, input, invoked_at, returned_at));
            now = returned_at + 1;
        }
    }
    planned.sort_by_key(|p| (p.0, p.1));
    let mut value = 0;
    let mut ops = Vec::new();
    let mut end = 0;
    for (_, client, input, invoked_at, returned_at) in planned {
        let output = match &input {
            Read => Value(value),
            Write(v) => {
                value = *v;
                Written
            }
            CompareAndSet { expected, new } => {
                let swapped = *expected == value;
                if swapped {
                    value = *new;
                }
                Swapped(swapped)
            }
        };
        end = end.max(returned_at);
        ops.push(done(client, input, output, invoked_at, returned_at));
    }
    ops.sort_by_key(|op| (op.invoked_at, op.client));
    (history(ops), end + 1)
}

#[test]
fn random_linearizable_history_with_witness() {
    // A 600-operation history from a correct register is accepted and its witness
    // replays against the spec in real-time order.
    let (h, _) = random_register_history(7, 5, 120);
    let witness = check(&register(), &h).expect("correct register");
    assert_valid_witness(&register(), &h, &(), witness.order(&()).unwrap_or_default());
}

#[test]
fn counterexample_for_a_stale_read_in_a_long_history_is_three_operations() {
    // A stale read appended to a 1,000-operation history is reported as just the stale
    // read and the two writes it straddles, printed one per line.
    let (mut h, end) = random_register_history(42, 5, 200);
    h.push(done(9, Write(100), Written, end, end + 1))
        .expect("valid");
    h.push(done(9, Write(101), Written, end + 2, end + 3))
        .expect("valid");
    let stale = h
        .push(done(8, Read, Value(100), end + 4, end + 5))
        .expect("valid");
    let violation = check(&register(), &h).expect_err("stale read");
    assert_eq!(violation.partition_len(), 1003);
    assert_eq!(violation.operations().len(), 3, "{violation}");
    assert_eq!(violation.op_ids().last(), Some(stale));
    assert!(violation.is_minimal());
    assert!(recheck_register(&violation));
    let report = violation.to_string();
    println!("{report}");
    assert!(
        report.contains("key () has 1003 operations; these 3 cannot be linearized"),
        "{report}"
    );
    let lines: Vec<&str> = report.lines().filter(|l| l.contains("client")).collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(
        lines[0].contains("client 9") && lines[0].contains("Write(100)"),
        "{report}"
    );
    assert!(
        lines[1].contains("Write(101)") && lines[1].contains("Written"),
        "{report}"
    );
    assert!(
        lines[2].contains("client 8") && lines[2].contains("Read"),
        "{report}"
    );
    assert!(lines[2].contains("Value(100)"), "{report}");
    assert!(
        lines[2].contains(&format!("[{}, {}]", end + 4, end + 5)),
        "{report}"
    );
}

#[test]
fn counterexample_in_the_middle_of_a_long_history() {
    // A violation early in a long history is found and shrunk too, without looking at
    // the thousands of operations after it.
    let (h, _) = random_register_history(3, 4, 1000);
    let mut ops: Vec<_> = h.operations().to_vec();
    // Shift everything after the first 20 operations later and insert a stale read.
    let cut = ops[20].invoked_at;
    for op in &mut ops[20..] {
        op.invoked_at += 100;
        op.returned_at = op.returned_at.map(|t| t + 100);
    }
    let gap = cut + 10;
    ops.insert(20, done(11, Write(77), Written, gap, gap + 1));
    ops.insert(21, done(12, Read, Value(78), gap + 2, gap + 3));
    let violation = check(&register(), &history(ops)).expect_err("read of an unwritten value");
    assert!(violation.operations().len() <= 2, "{violation}");
    assert!(violation.to_string().contains("Value(78)"));
    assert!(recheck_register(&violation));
}

#[test]
fn counterexample_that_depends_on_a_long_prefix_is_anchored_by_its_write() {
    // A read of the initial value long after a write of 100 (with hundreds of reads of
    // 100 in between) is reported as just that write and that read: the write, not one
    // of the reads of its value, explains why the initial value is stale.
    let (mut h, end) = random_register_history(11, 3, 100);
    let write = h
        .push(done(9, Write(100), Written, end, end + 1))
        .expect("valid");
    for i in 0..200 {
        let t = end + 2 + 2 * i;
        h.push(done(9, Read, Value(100), t, t + 1)).expect("valid");
    }
    let t = end + 402;
    let stale = h.push(done(8, Read, Value(0), t, t + 1)).expect("valid");
    let violation = check(&register(), &h).expect_err("stale read");
    assert_eq!(
        violation.op_ids().collect::<Vec<_>>(),
        [write, stale],
        "{violation}"
    );
    assert_eq!(violation.prefix_len(), 0);
    assert!(recheck_register(&violation));
}

#[test]
fn stale_read_after_a_compare_and_set_chain_names_the_chain() {
    // A read of 1 long after CAS(0 -> 1) and CAS(1 -> 2) is explained by both: the first
    // wrote the 1, the second (consistent only after the first) overwrote it.
    let mut ops = vec![
        done(1, cas(0, 1), Swapped(true), 0, 1),
        done(2, cas(1, 2), Swapped(true), 2, 3),
    ];
    for i in 0..100 {
        ops.push(done(3, Read, Value(2), 4 + 2 * i, 5 + 2 * i));
    }
    ops.push(done(4, Read, Value(1), 300, 301));
    let violation = check(&register(), &history(ops)).expect_err("stale read");
    assert_eq!(
        violation.op_ids().collect::<Vec<_>>(),
        [OpId(0), OpId(1), OpId(102)],
        "{violation}"
    );
}

/// A linearizable single-register history in which every write writes a fresh value
/// (as linearizability tests usually do) and about one operation in `crash_every`
/// never returns (its client crashed; it may or may not have taken effect).
fn unique_value_history(seed: u64, ops: usize, clients: u64, crash_every: u64) -> RegisterHistory {
    let mut rng = SplitMix(seed);
    let mut planned = Vec::new();
    let mut next_value = 0;
    for client in 0..clients {
        let mut now = rng.below(4);
        for _ in 0..ops / clients as usize {
            let invoked_at = now + rng.below(3);
            let point = invoked_at + rng.below(5);
            let returned_at = point + rng.below(5);
            let input = if rng.below(2) == 0 {
                Read
            } else {
                next_value += 1;
                Write(next_value)
            };
            let crashed = crash_every > 0 && rng.below(crash_every) == 0;
            let took_effect = !crashed || rng.below(2) == 0;
            planned.push((
                point,
                client,
                input,
                invoked_at,
                returned_at,
                crashed,
                took_effect,
            ));
            now = returned_at + 1;
        }
    }
    planned.sort_by_key(|p| (p.0, p.1));
    let mut value = 0;
    let mut recorded = Vec::new();
    for (_, client, input, invoked_at, returned_at, crashed, took_effect) in planned {
        let output = match &input {
            Read => Value(value),
            Write(v) => {
                if took_effect {
                    value = *v;
                }
                Written
            }
            CompareAndSet { .. } => unreachable!("not generated"),
        };
        recorded.push(if crashed {
            pending(client, input, invoked_at)
        } else {
            done(client, input, output, invoked_at, returned_at)
        });
    }
    recorded.sort_by_key(|op| (op.invoked_at, op.client));
    history(recorded)
}

#[test]
fn busy_history_with_crashed_clients_is_accepted() {
    // 20,000 operations on one register from 5 clients, one in 200 of them pending
    // (half of those took effect): accepted, and the witness replays. Each pending
    // operation may or may not have taken effect, so this is the costly case for the
    // search.
    let h = unique_value_history(5, 20_000, 5, 200);
    assert!(h.pending().count() > 50);
    let witness = check(&register(), &h).expect("correct register with crashes");
    assert_valid_witness(&register(), &h, &(), witness.order(&()).unwrap_or_default());
}

#[test]
fn stale_read_of_a_long_overwritten_value_names_its_writes() {
    // In the middle of a busy 10-client history, a read returns a value written ~60
    // operations earlier. The report is that write, a write that overwrote it before
    // the read began, and the read -- not "a read of a value nobody wrote", which is
    // what dropping the distant write would suggest.
    let mut ops: Vec<_> = unique_value_history(9, 4_000, 10, 0).operations().to_vec();
    let middle = ops.len() / 2;
    let (written_at, old) = ops[..middle - 60]
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, op)| match op.input {
            Write(v) => Some((i, v)),
            _ => None,
        })
        .expect("some write");
    let at = ops[middle].invoked_at;
    ops.insert(middle, done(99, Read, Value(old), at, at + 3));
    let h = history(ops);
    let violation = check(&register(), &h).expect_err("stale read");
    assert_eq!(violation.operations().len(), 3, "{violation}");
    let ids: Vec<OpId> = violation.op_ids().collect();
    assert_eq!(ids[0], OpId(written_at), "{violation}");
    assert_eq!(ids[2], OpId(middle), "{violation}");
    assert!(
        matches!(violation.operations()[1].1.input, Write(_)),
        "{violation}"
    );
    assert!(violation.is_minimal());
    assert!(recheck_register(&violation));
}

#[test]
fn shrinking_can_be_turned_off() {
    // With no shrinking budget the whole considered history is returned, marked as not
    // minimal; it is still non-linearizable.
    let (mut h, end) = random_register_history(5, 3, 30);
    h.push(done(9, Write(100), Written, end, end + 1))
        .expect("valid");
    h.push(done(9, Read, Value(55), end + 2, end + 3))
        .expect("valid");
    let spec = register();
    let Err(CheckError::NonLinearizable(violation)) =
        Checker::new(&spec).shrink_states(0).check(&h)
    else {
        panic!("expected a violation");
    };
    assert!(!violation.is_minimal());
    assert_eq!(violation.operations().len(), 92);
    assert!(violation.to_string().contains("may be unnecessary"));
    assert!(recheck_register(&violation));
}

// ---------------------------------------------------------------------------------
// Budgets and recording errors.
// ---------------------------------------------------------------------------------

#[test]
fn tiny_budget_gives_unknown() {
    // A history that needs more states than the budget allows is reported as unknown,
    // not as a verdict either way.
    let (h, _) = random_register_history(1, 5, 50);
    let spec = register();
    let verdict = Checker::new(&spec).max_states(3).check(&h);
    let Err(CheckError::Unknown(unknown)) = verdict else {
        panic!("expected Unknown, got {verdict:?}");
    };
    assert_eq!(unknown.max_states, 3);
    assert_eq!(unknown.partition_len, 250);
    assert!(
        CheckError::<Register<u32>>::Unknown(unknown)
            .to_string()
            .contains("budget of 3 states")
    );
    // The same history with room to search is linearizable.
    assert!(Checker::new(&spec).max_states(1_000_000).check(&h).is_ok());
}

#[test]
fn a_definite_violation_beats_an_unknown_partition() {
    // If one key runs out of budget but another is non-linearizable, the violation is
    // reported: it is a definite answer.
    let spec = Kv::new();
    let mut ops = Vec::new();
    for i in 0..30 {
        ops.push(done(
            i,
            KvInput::Put("a", i as u32),
            KvOutput::Written,
            0,
            100,
        ));
    }
    ops.push(done(99, KvInput::Get("z"), KvOutput::Value(Some(1)), 0, 1));
    let verdict = Checker::new(&spec).max_states(10).check(&history(ops));
    assert!(matches!(verdict, Err(CheckError::NonLinearizable(v)) if *v.key() == "z"));
}

#[test]
fn history_recording_errors_are_typed() {
    // Completing an unknown, already returned or not-yet-invoked operation is refused,
    // and the history is unchanged.
    let mut h = RegisterHistory::new();
    let id = h.invoke(1, Read, 10);
    assert_eq!(
        h.complete(OpId(5), Value(0), 11),
        Err(HistoryError::UnknownOperation { id: OpId(5) })
    );
    assert_eq!(
        h.complete(id, Value(0), 9),
        Err(HistoryError::ReturnBeforeInvoke {
            id,
            invoked_at: 10,
            returned_at: 9
        })
    );
    assert_eq!(h.pending().count(), 1);
    h.complete(id, Value(0), 10)
        .expect("same-time return is fine");
    assert_eq!(
        h.complete(id, Value(0), 12),
        Err(HistoryError::AlreadyReturned { id })
    );
    assert_eq!(h.pending().count(), 0);
    let half = Operation {
        client: 1,
        input: Read,
        output: Some(Value(0)),
        invoked_at: 0,
        returned_at: None,
    };
    assert_eq!(h.push(half), Err(HistoryError::IncompleteReturn));
    assert_eq!(h.len(), 1);
}

// ---------------------------------------------------------------------------------
// Property tests.
// ---------------------------------------------------------------------------------

/// One planned client operation: timing relative to the client's previous operation and
/// the atomic linearization point, what it does, and whether the client crashes during it.
#[derive(Clone, Debug)]
struct Plan {
    think: u64,
    before_point: u64,
    after_point: u64,
    kind: u8,
    value: u32,
    expected: u32,
    crash: bool,
    /// If the client crashes: whether the operation took effect anyway.
    applied: bool,
    /// For the broken implementation: how far behind a lagging replica serves a read.
    lag: u64,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        (0..4u64, 0..6u64, 0..6u64),
        (0..3u8, 0..4u32, 0..4u32),
        (prop::bool::weighted(0.05), any::<bool>(), 1..12u64),
    )
        .prop_map(
            |(
                (think, before_point, after_point),
                (kind, value, expected),
                (crash, applied, lag),
            )| Plan {
                think,
                before_point,
                after_point,
                kind,
                value,
                expected,
                crash,
                applied,
                lag,
            },
        )
}

fn clients() -> impl Strategy<Value = Vec<Vec<Plan>>> {
    prop::collection::vec(prop::collection::vec(plan(), 1..10), 1..6)
}

/// Runs the plans against a real register, applying each operation atomically at its
/// linearization point. With `lagging_reads`, a read returns the value the register had
/// `lag` time units before its point (a replica that is behind).
fn simulate(clients: &[Vec<Plan>], lagging_reads: bool) -> RegisterHistory {
    struct Event {
        point: u64,
        client: u64,
        input: RegisterInput<u32>,
        invoked_at: u64,
        returned_at: Option<u64>,
        applied: bool,
        lag: u64,
    }
    let mut events = Vec::new();
    for (client, plans) in clients.iter().enumerate() {
        let mut now = 0;
        for p in plans {
            let invoked_at = now + p.think;
            let point = invoked_at + p.before_point;
            let returned_at = point + p.after_point;
            // Writes never write the initial 0, so "0" can stand for "absent" in a map.
            let input = match p.kind {
                0 => Read,
                1 => Write(p.value + 1),
                _ => CompareAndSet {
                    expected: p.expected,
                    new: p.value + 1,
                },
            };
            events.push(Event {
                point,
                client: client as u64,
                input,
                invoked_at,
                returned_at: (!p.crash).then_some(returned_at),
                applied: !p.crash || p.applied,
                lag: p.lag,
            });
            if p.crash {
                break; // a crashed client issues nothing more
            }
            now = returned_at + 1;
        }
    }
    events.sort_by_key(|e| (e.point, e.client));
    // (time, value from then on): the register's history, for lagging replicas.
    let mut timeline: Vec<(u64, u32)> = vec![(0, 0)];
    let mut ops = Vec::new();
    for e in events {
        let value = timeline.last().map_or(0, |(_, v)| *v);
        let (output, next) = match &e.input {
            Read if lagging_reads => {
                let as_of = e.point.saturating_sub(e.lag);
                let old = timeline
                    .iter()
                    .rev()
                    .find(|(t, _)| *t < as_of)
                    .map_or(0, |(_, v)| *v);
                (Value(old), value)
            }
            Read => (Value(value), value),
            Write(v) => (Written, *v),
            CompareAndSet { expected, new } => {
                let swapped = *expected == value;
                (Swapped(swapped), if swapped { *new } else { value })
            }
        };
        if e.applied && next != value {
            timeline.push((e.point, next));
        }
        ops.push(Operation {
            client: e.client,
            input: e.input,
            output: e.returned_at.map(|_| output),
            invoked_at: e.invoked_at,
            returned_at: e.returned_at,
        });
    }
    ops.sort_by_key(|op| (op.invoked_at, op.client));
    history(ops)
}

fn runner() -> TestRunner {
    let config = Config {
        cases: synod_sim::proptest_cases(256),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn correct_register_histories_are_always_accepted() {
    // Histories produced by a correct (atomic) register, with random intervals around the
    // linearization points, concurrent clients and crashed clients whose last operation
    // may or may not have taken effect, are always linearizable; the witness replays.
    runner()
        .run(&clients(), |plans| {
            let h = simulate(&plans, false);
            match check(&register(), &h) {
                Ok(witness) => {
                    if let Some(order) = witness.order(&()) {
                        assert_valid_witness(&register(), &h, &(), order);
                    }
                    Ok(())
                }
                Err(violation) => Err(TestCaseError::fail(format!("rejected: {violation}"))),
            }
        })
        .expect("a correct register is linearizable");
}

#[test]
fn lagging_replica_reads_are_caught_with_sound_counterexamples() {
    // Reads served by a lagging replica make many histories non-linearizable. The
    // checker must catch at least some, every counterexample must itself be
    // non-linearizable, and each must be small compared to the history.
    let rejected = std::cell::Cell::new(0);
    let total = std::cell::Cell::new(0);
    runner()
        .run(&clients(), |plans| {
            let h = simulate(&plans, true);
            total.set(total.get() + 1);
            if let Err(violation) = check(&register(), &h) {
                rejected.set(rejected.get() + 1);
                prop_assert!(
                    recheck_register(&violation),
                    "counterexample is linearizable: {violation}"
                );
                prop_assert!(violation.is_minimal());
                prop_assert!(violation.operations().len() <= h.len());
                // Every core read needs at most a handful of operations to explain it.
                prop_assert!(violation.operations().len() <= 6, "{violation}");
            }
            Ok(())
        })
        .expect("sound counterexamples");
    let (rejected, total) = (rejected.get(), total.get());
    assert!(rejected > 0, "no lagging read caught in {total} histories");
    println!("rejected {rejected} of {total} histories with lagging reads");
}

#[test]
fn kv_histories_from_a_correct_map_are_accepted() {
    // The register property, lifted to a map: each client's operations go to one of three
    // keys, each key behaves as its own correct register, and the whole history passes.
    runner()
        .run(
            &(clients(), prop::collection::vec(0..3usize, 64)),
            |(plans, keys)| {
                // Spread operations over keys while keeping each key's sub-history the
                // register history restricted to it: run one register per key.
                let names = ["k0", "k1", "k2"];
                let mut kv = History::new();
                for (key, name) in names.into_iter().enumerate() {
                    let sub: Vec<Vec<Plan>> = plans
                        .iter()
                        .enumerate()
                        .filter(|(c, _)| keys[*c % keys.len()] == key)
                        .map(|(_, p)| p.clone())
                        .collect();
                    for op in simulate(&sub, false).operations() {
                        let input = match op.input {
                            Read => KvInput::Get(name),
                            Write(v) => KvInput::Put(name, v),
                            CompareAndSet { expected, new } => KvInput::CompareAndSet {
                                key: name,
                                expected: (expected != 0).then_some(expected),
                                new: Some(new),
                            },
                        };
                        // The register starts at 0 and never writes it: 0 is "absent".
                        let output = op.output.as_ref().map(|o| match o {
                            Value(v) => KvOutput::Value((*v != 0).then_some(*v)),
                            Written => KvOutput::Written,
                            Swapped(s) => KvOutput::Swapped(*s),
                        });
                        kv.push(Operation {
                            client: op.client,
                            input,
                            output,
                            invoked_at: op.invoked_at,
                            returned_at: op.returned_at,
                        })
                        .expect("well-formed");
                    }
                }
                prop_assert!(check(&Kv::new(), &kv).is_ok());
                Ok(())
            },
        )
        .expect("a correct map is linearizable");
}
