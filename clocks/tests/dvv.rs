//! Dotted version vectors and DVVSet against the ground truth of a Dynamo-style
//! store (Preguiça et al. 2010, Gonçalves et al. 2014): on random executions of
//! clients reading from one server and writing through another, and servers
//! syncing, the siblings each server keeps are exactly the writes no other known
//! write has seen. Also the course notes' sibling examples, and a broken DVVSet
//! (one that forgets the gap below a dot) caught by the same checker.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::collections::BTreeSet;
use support::config;
use synod_clocks::{ClockError, Dot, Dvv, DvvSet, VersionVector};
use synod_core::NodeId;

const SERVERS: usize = 3;

#[derive(Clone, Debug)]
enum Step {
    /// A client reads from `read_from` (or starts blind) and writes through `via`.
    Write {
        read_from: Option<usize>,
        via: usize,
    },
    /// Server `to` pulls `from`'s state.
    Sync { from: usize, to: usize },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let server = || 0..SERVERS;
    prop::collection::vec(
        prop_oneof![
            3 => (prop::option::weighted(0.8, server()), server())
                .prop_map(|(read_from, via)| Step::Write { read_from, via }),
            2 => (server(), server()).prop_map(|(from, to)| Step::Sync { from, to }),
        ],
        1..50,
    )
}

/// Ground truth: which writes each server knows and the history of each write.
struct Truth {
    known: Vec<BTreeSet<u32>>,
    history: Vec<BTreeSet<u32>>,
}

impl Truth {
    fn new() -> Self {
        Truth {
            known: vec![BTreeSet::new(); SERVERS],
            history: Vec::new(),
        }
    }
    fn write(&mut self, context: BTreeSet<u32>, via: usize) -> u32 {
        let id = self.history.len() as u32;
        let mut h = context.clone();
        h.insert(id);
        self.history.push(h);
        self.known[via].extend(context);
        self.known[via].insert(id);
        id
    }
    /// The writes at `server` no other known write has seen.
    fn siblings(&self, server: usize) -> BTreeSet<u32> {
        let known = &self.known[server];
        known
            .iter()
            .copied()
            .filter(|&w| {
                !known
                    .iter()
                    .any(|&o| o != w && self.history[o as usize].contains(&w))
            })
            .collect()
    }
}

/// Run with DVVSet. `forget_gaps` breaks it: a write's context is rounded up to the
/// server's own counter, so concurrent writes through one server overwrite each other.
fn run_dvvset(trace: &[Step], forget_gaps: bool) -> Result<(), TestCaseError> {
    let mut truth = Truth::new();
    let mut servers: Vec<DvvSet<u32>> = vec![DvvSet::new_empty(); SERVERS];
    for step in trace {
        match *step {
            Step::Write { read_from, via } => {
                let (mut ctx, truth_ctx) = match read_from {
                    Some(r) => (servers[r].join(), truth.known[r].clone()),
                    None => (VersionVector::new(), BTreeSet::new()),
                };
                if forget_gaps {
                    ctx.join(&servers[via].join());
                }
                let id = truth.write(truth_ctx, via);
                servers[via].update(&ctx, NodeId(via as u64), id).unwrap();
            }
            Step::Sync { from, to } => {
                servers[to] = servers[to].sync(&servers[from]);
                let k = truth.known[from].clone();
                truth.known[to].extend(k);
            }
        }
        for (s, server) in servers.iter().enumerate() {
            let got: BTreeSet<u32> = server.values().copied().collect();
            prop_assert_eq!(got.len(), server.size(), "a value stored twice");
            prop_assert_eq!(got, truth.siblings(s), "server {} after {:?}", s, step);
        }
    }
    Ok(())
}

/// The same with per-version DVVs and the paper's sync.
fn run_dvv(trace: &[Step]) -> Result<(), TestCaseError> {
    let mut truth = Truth::new();
    let mut servers: Vec<Vec<(Dvv, u32)>> = vec![Vec::new(); SERVERS];
    let clocks = |s: &Vec<(Dvv, u32)>| s.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>();
    for step in trace {
        match *step {
            Step::Write { read_from, via } => {
                let (ctx, truth_ctx) = match read_from {
                    Some(r) => (Dvv::join_all(&clocks(&servers[r])), truth.known[r].clone()),
                    None => (VersionVector::new(), BTreeSet::new()),
                };
                let id = truth.write(truth_ctx, via);
                let new = Dvv::update(&clocks(&servers[via]), &ctx, NodeId(via as u64)).unwrap();
                let kept: Vec<(Dvv, u32)> = servers[via]
                    .iter()
                    .filter(|(d, _)| !d.le(&new))
                    .cloned()
                    .collect();
                servers[via] = Dvv::sync(&kept, &[(new, id)]);
            }
            Step::Sync { from, to } => {
                servers[to] = Dvv::sync(&servers[to], &servers[from]);
                let k = truth.known[from].clone();
                truth.known[to].extend(k);
            }
        }
        for (s, server) in servers.iter().enumerate() {
            let got: BTreeSet<u32> = server.iter().map(|(_, v)| *v).collect();
            prop_assert_eq!(got, truth.siblings(s), "server {} after {:?}", s, step);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    // DVVSet keeps exactly the true siblings at every server after every step.
    #[test]
    fn dvvset_siblings_are_exact(trace in steps()) {
        run_dvvset(&trace, false)?;
    }

    // Per-version DVVs with the paper's update and sync do too.
    #[test]
    fn dvv_siblings_are_exact(trace in steps()) {
        run_dvv(&trace)?;
    }

    // A DVVSet never holds more entries than servers, however many writes: the
    // point of dotting at servers instead of clients.
    #[test]
    fn dvvset_size_is_bounded_by_servers(trace in steps()) {
        let mut servers: Vec<DvvSet<u32>> = vec![DvvSet::new_empty(); SERVERS];
        for (k, step) in trace.iter().enumerate() {
            if let Step::Write { read_from, via } = *step {
                let ctx = read_from.map(|r| servers[r].join()).unwrap_or_default();
                servers[via].update(&ctx, NodeId(via as u64), k as u32).unwrap();
            }
            for s in &servers {
                prop_assert!(s.ids().count() <= SERVERS);
            }
        }
    }
}

// The checker catches a DVVSet write path that treats the server's whole counter as
// seen (the "lost update" of per-server version vectors the paper fixes).
#[test]
fn checker_catches_a_store_that_forgets_gaps() {
    let mut runner = TestRunner::new(config(256));
    assert!(runner.run(&steps(), |t| run_dvvset(&t, true)).is_err());
}

// The course notes' DVV example: two clients write through the same server with the
// same (empty) context; both writes are kept, as {s1} and {s2}.
#[test]
fn two_blind_writes_through_one_server_are_siblings() {
    let s = NodeId(1);
    let mut set = DvvSet::new_empty();
    set.update(&VersionVector::new(), s, "x").unwrap();
    set.update(&VersionVector::new(), s, "y").unwrap();
    let dotted: Vec<_> = set.dotted_values().collect();
    assert_eq!(
        dotted,
        [(Some(Dot::new(s, 1)), &"x"), (Some(Dot::new(s, 2)), &"y")]
    );
    // get() returns both; a write with the joined context overrides both.
    let ctx = set.join();
    set.update(&ctx, s, "z").unwrap();
    assert_eq!(set.values().collect::<Vec<_>>(), [&"z"]);
}

// The C2/C3 example with server-side dots: C3 writes V then A (after reading V); C2
// writes W blind: A and W are siblings, V is gone.
#[test]
fn course_notes_c2_c3_siblings() {
    let server = NodeId(1);
    let mut key = DvvSet::new_empty();
    key.update(&VersionVector::new(), server, "V").unwrap(); // C3, empty context
    let read = key.join(); // C3 syncs
    key.update(&read, server, "A").unwrap();
    key.update(&VersionVector::new(), server, "W").unwrap(); // C2, empty context
    let mut values: Vec<_> = key.values().copied().collect();
    values.sort();
    assert_eq!(values, ["A", "W"]);
}

// Reconcile and last-writer-wins leave one value and keep the history.
#[test]
fn reconcile_and_lww_resolve_siblings() {
    let (a, b) = (NodeId(1), NodeId(2));
    let mut x = DvvSet::new_empty();
    x.update(&VersionVector::new(), a, 10u32).unwrap();
    let mut y = DvvSet::new_empty();
    y.update(&VersionVector::new(), b, 20u32).unwrap();
    let both = x.sync(&y);
    let lww = both.clone().last_writer_wins(|v| *v);
    assert_eq!(lww.values().collect::<Vec<_>>(), [&20]);
    assert_eq!(lww.join(), both.join());
    let summed = both.clone().reconcile(|vs| vs.into_iter().sum());
    assert_eq!(summed.values().collect::<Vec<_>>(), [&30]);
    let mut stored = both.clone();
    stored.update(&summed.join(), a, 30).unwrap();
    assert_eq!(stored.size(), 1);
}

// A counter at u64::MAX is an error, not a wrap.
#[test]
fn dvv_overflow_is_an_error() {
    let s = NodeId(1);
    let full = VersionVector::from_entries([(s, u64::MAX)]);
    let mut set = DvvSet::with_context(&full, 1u32);
    assert_eq!(set.event(s, 2), Err(ClockError::Overflow));
    let mut stored = DvvSet::new_empty();
    assert_eq!(stored.update(&full, s, 3), Err(ClockError::Overflow));
    assert_eq!(stored, DvvSet::new_empty(), "unchanged on error");
    assert_eq!(Dvv::update(&[], &full, s), Err(ClockError::Overflow));
    assert_eq!(
        Dvv::new(Dot::new(s, 1), full).unwrap_err(),
        ClockError::Overflow
    );
}
