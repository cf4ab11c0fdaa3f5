//! A public test kit: check any [`Lattice`] against the laws of delta-state CRDTs.
//!
//! The laws, each a function returning the first [`Violation`] it finds:
//! - [`commutative`], [`associative`], [`idempotent`]: join is a semilattice join;
//! - delta correctness: a mutator's in-place effect equals joining its delta,
//!   `m(X) = X ⊔ mδ(X)`, and a refused operation changes nothing;
//! - convergence: replicas that applied operations concurrently and then received
//!   every delta — in any order, duplicated, reordered — hold equal states.
//!
//! [`Laws`] runs all of them as a property test over random *schedules*: operations
//! at random replicas interleaved with deliveries and duplicate deliveries of the
//! deltas in flight. States are always reached through the type's own mutators, so
//! the laws are checked on reachable states (two replicas never mint the same dot).
//!
//! ```
//! use proptest::prelude::*;
//! use synod_crdt::laws::Laws;
//! use synod_crdt::{CrdtError, GCounter};
//! use synod_core::NodeId;
//!
//! fn bump(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
//!     c.increment(at, *by)
//! }
//! Laws::new(0..100u64, bump).cases(32).check().unwrap();
//! ```

use crate::{Lattice, Mutator};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::fmt;
use synod_core::NodeId;

/// Which law failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    /// `a ⊔ b == b ⊔ a`.
    Commutative,
    /// `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
    Associative,
    /// `a ⊔ a == a`.
    Idempotent,
    /// `m(X) == X ⊔ mδ(X)`, and a refused mutation leaves `X` unchanged.
    DeltaCorrect,
    /// A state or delta produced by the type's own mutators fails its `validate`.
    Valid,
    /// Replicas that received every delta hold equal states.
    Convergence,
}

/// A law broken, with the states involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The law.
    pub law: Law,
    /// What was compared, for the failure message.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} violated: {}", self.law, self.detail)
    }
}

impl std::error::Error for Violation {}

fn joined<T: Lattice>(a: &T, b: &T) -> T {
    let mut x = a.clone();
    x.join(b);
    x
}

/// Check `a ⊔ b == b ⊔ a`.
///
/// # Errors
/// The [`Violation`] with both results.
pub fn commutative<T: Lattice>(a: &T, b: &T) -> Result<(), Violation> {
    let (ab, ba) = (joined(a, b), joined(b, a));
    if ab != ba {
        return Err(Violation {
            law: Law::Commutative,
            detail: format!("a={a:?} b={b:?}: a⊔b={ab:?} but b⊔a={ba:?}"),
        });
    }
    Ok(())
}

/// Check `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
///
/// # Errors
/// The [`Violation`] with both results.
pub fn associative<T: Lattice>(a: &T, b: &T, c: &T) -> Result<(), Violation> {
    let (left, right) = (joined(&joined(a, b), c), joined(a, &joined(b, c)));
    if left != right {
        return Err(Violation {
            law: Law::Associative,
            detail: format!("a={a:?} b={b:?} c={c:?}: (a⊔b)⊔c={left:?} but a⊔(b⊔c)={right:?}"),
        });
    }
    Ok(())
}

/// Check `a ⊔ a == a`.
///
/// # Errors
/// The [`Violation`] with the result.
pub fn idempotent<T: Lattice>(a: &T) -> Result<(), Violation> {
    let aa = joined(a, a);
    if aa != *a {
        return Err(Violation {
            law: Law::Idempotent,
            detail: format!("a={a:?}: a⊔a={aa:?}"),
        });
    }
    Ok(())
}

/// One step of a schedule.
#[derive(Clone, Debug)]
pub enum Step<O> {
    /// Apply `op` at replica `replica` (taken modulo the replica count); its delta goes
    /// in flight to every other replica.
    Op {
        /// Replica index.
        replica: usize,
        /// The operation.
        op: O,
    },
    /// Deliver (and remove) the in-flight delta at `pick` modulo their number.
    Deliver {
        /// Which delta.
        pick: usize,
    },
    /// Deliver the in-flight delta at `pick` but leave it in flight (a duplicate).
    Duplicate {
        /// Which delta.
        pick: usize,
    },
}

/// The property test: a mutator, a strategy for operations, and how hard to try.
pub struct Laws<T, O> {
    ops: BoxedStrategy<O>,
    mutator: Mutator<T, O>,
    replicas: usize,
    cases: u32,
    max_steps: usize,
    seed: u64,
}

impl<T: Lattice, O: Clone + fmt::Debug + 'static> Laws<T, O> {
    /// Laws for the CRDT `T` driven by `mutator` on operations drawn from `ops`.
    /// Defaults: 3 replicas, 64 cases, schedules of up to 40 steps, seed 0.
    pub fn new(ops: impl Strategy<Value = O> + 'static, mutator: Mutator<T, O>) -> Self {
        Laws {
            ops: ops.boxed(),
            mutator,
            replicas: 3,
            cases: 64,
            max_steps: 40,
            seed: 0,
        }
    }

    /// Number of replicas (at least 1).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n.max(1);
        self
    }

    /// Number of random schedules.
    pub fn cases(mut self, n: u32) -> Self {
        self.cases = n;
        self
    }

    /// Longest schedule.
    pub fn max_steps(mut self, n: usize) -> Self {
        self.max_steps = n.max(1);
        self
    }

    /// The seed of the schedule generator: the same seed checks the same schedules.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The strategy for schedules this kit draws.
    pub fn schedules(&self) -> BoxedStrategy<Vec<Step<O>>> {
        let n = self.replicas;
        let step = prop_oneof![
            2 => (0..n, self.ops.clone()).prop_map(|(replica, op)| Step::Op { replica, op }),
            2 => any::<usize>().prop_map(|pick| Step::Deliver { pick }),
            1 => any::<usize>().prop_map(|pick| Step::Duplicate { pick }),
        ];
        proptest::collection::vec(step, 0..self.max_steps).boxed()
    }

    /// Run random schedules; on failure, the shrunk schedule and the violation.
    ///
    /// # Errors
    /// A message naming the law, the states and the minimal schedule.
    pub fn check(&self) -> Result<(), String> {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        let config = Config {
            cases: self.cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let result = runner.run(&self.schedules(), |schedule| {
            self.check_schedule(&schedule)
                .map_err(|v| TestCaseError::fail(v.to_string()))
        });
        match result {
            Ok(()) => Ok(()),
            Err(TestError::Fail(why, schedule)) => {
                Err(format!("{why}\nminimal schedule: {schedule:?}"))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Run one schedule and check every law along it.
    ///
    /// # Errors
    /// The first [`Violation`].
    pub fn check_schedule(&self, schedule: &[Step<O>]) -> Result<(), Violation> {
        let n = self.replicas;
        let mut states: Vec<T> = vec![T::default(); n];
        let mut in_flight: Vec<(usize, T)> = Vec::new();
        for step in schedule {
            match step {
                Step::Op { replica, op } => {
                    let r = replica % n;
                    let before = states[r].clone();
                    let id = NodeId(r as u64 + 1);
                    match (self.mutator)(&mut states[r], id, op) {
                        Ok(delta) => {
                            let expect = joined(&before, &delta);
                            if expect != states[r] {
                                return Err(Violation {
                                    law: Law::DeltaCorrect,
                                    detail: format!(
                                        "{op:?} at {id} on {before:?}: m(X)={:?} but X⊔mδ(X)={expect:?} (δ={delta:?})",
                                        states[r]
                                    ),
                                });
                            }
                            valid(&delta)?;
                            valid(&states[r])?;
                            for to in (0..n).filter(|&to| to != r) {
                                in_flight.push((to, delta.clone()));
                            }
                        }
                        Err(e) if states[r] != before => {
                            return Err(Violation {
                                law: Law::DeltaCorrect,
                                detail: format!(
                                    "{op:?} at {id} was refused ({e}) but changed {before:?} into {:?}",
                                    states[r]
                                ),
                            });
                        }
                        Err(_) => {}
                    }
                }
                Step::Deliver { pick } | Step::Duplicate { pick } if !in_flight.is_empty() => {
                    let i = pick % in_flight.len();
                    let (to, delta) = if matches!(step, Step::Deliver { .. }) {
                        in_flight.remove(i)
                    } else {
                        in_flight[i].clone()
                    };
                    states[to].join(&delta);
                }
                Step::Deliver { .. } | Step::Duplicate { .. } => {}
            }
        }
        let (a, b, c) = (&states[0], &states[1 % n], &states[2 % n]);
        commutative(a, b)?;
        associative(a, b, c)?;
        idempotent(a)?;
        idempotent(b)?;
        for (to, delta) in in_flight {
            states[to].join(&delta);
        }
        if let Some(i) = (1..n).find(|&i| states[i] != states[0]) {
            return Err(Violation {
                law: Law::Convergence,
                detail: format!(
                    "after every delta was delivered, replica 1 holds {:?} but replica {} holds {:?}",
                    states[0],
                    i + 1,
                    states[i]
                ),
            });
        }
        Ok(())
    }
}

fn valid<T: Lattice>(x: &T) -> Result<(), Violation> {
    x.validate().map_err(|e| Violation {
        law: Law::Valid,
        detail: format!("{x:?}: {e}"),
    })
}
