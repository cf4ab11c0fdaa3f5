//! Sequential specifications: what an object does when operations run one at a time.
//!
//! The [linearizability checker](crate::linearizability) asks whether a concurrent
//! [`History`](crate::history::History) could have come from one atomic copy of an object
//! that behaves as a [`Spec`] says. Two specs ship with the crate: a single
//! [`Register`] (read, write, compare-and-set) and a [`KvMap`] of independent registers
//! keyed by `K`. Anything else — a queue, a counter, a lock, your own state machine — is
//! a few lines: implement [`Spec`].
//!
//! # Writing a spec
//!
//! A counter with `add` and `get`, as the checker sees it. `step` answers one question:
//! "in `state`, may `input` return `output`, and if so what is the state afterwards?"
//!
//! ```
//! use synod_sim::history::History;
//! use synod_sim::linearizability::check;
//! use synod_sim::spec::Spec;
//!
//! #[derive(Debug, Clone)]
//! enum CounterInput { Add(u64), Get }
//!
//! struct Counter;
//!
//! impl Spec for Counter {
//!     type State = u64;
//!     type Input = CounterInput;
//!     type Output = u64; // add returns the new total, get the current one
//!     type Key = ();     // one object: nothing to partition
//!
//!     fn init(&self) -> u64 {
//!         0
//!     }
//!
//!     fn step(&self, total: &u64, input: &CounterInput, output: Option<&u64>) -> Option<u64> {
//!         let (next, returns) = match input {
//!             CounterInput::Add(n) => (total + n, total + n),
//!             CounterInput::Get => (*total, *total),
//!         };
//!         // A pending operation (`None`) may have returned anything.
//!         output.is_none_or(|&seen| seen == returns).then_some(next)
//!     }
//!
//!     fn key(&self, _: &CounterInput) {}
//! }
//!
//! let mut history = History::new();
//! let add = history.invoke(1, CounterInput::Add(5), 0);
//! let get = history.invoke(2, CounterInput::Get, 1); // concurrent with the add
//! history.complete(get, 5, 2)?;
//! history.complete(add, 5, 3)?;
//! assert!(check(&Counter, &history).is_ok()); // the add took effect before the get
//! # Ok::<(), synod_sim::history::HistoryError>(())
//! ```

use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;

/// A sequential specification of an object, for the
/// [linearizability checker](crate::linearizability).
///
/// The spec must be *deterministic*: a state and an input determine the output and the
/// next state. That is what lets [`step`](Spec::step) handle a pending operation (whose
/// output was never seen) by returning the one state it leads to.
pub trait Spec {
    /// The object's abstract state. The checker memoizes `(operations linearized, state)`
    /// pairs, so equal states must compare and hash equal; keep it small.
    type State: Clone + Eq + Hash + Debug;
    /// An operation as the client invoked it.
    type Input: Clone + Debug;
    /// What the system returned to the client.
    type Output: Clone + Debug;
    /// Which independent object an operation touches.
    ///
    /// Linearizability is *local* (Herlihy & Wing 1990, Theorem 1): a history is
    /// linearizable if and only if the sub-history of each object is. The checker
    /// splits a history by key and searches each part alone, which turns one search
    /// exponential in the concurrency of the whole system into many small ones.
    type Key: Clone + Eq + Hash + Ord + Debug;

    /// The state of every object before any operation.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state` atomically.
    ///
    /// `output` is what the system returned, or `None` for a pending operation, which may
    /// have returned anything. Returns the next state if the operation may return
    /// `output` in `state`, else `None`. Must not panic on any combination: an input
    /// paired with an output of the wrong kind is simply not legal (`None`).
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// The object `input` operates on. Return one constant (for example `()`) if the
    /// object cannot be split.
    fn key(&self, input: &Self::Input) -> Self::Key;
}

/// An operation on a [`Register`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput<V> {
    /// Read the value.
    Read,
    /// Overwrite the value.
    Write(V),
    /// Replace the value with `new` only if it equals `expected`.
    CompareAndSet {
        /// The value the register must hold for the swap to happen.
        expected: V,
        /// The value written if it does.
        new: V,
    },
}

/// What a [`Register`] operation returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput<V> {
    /// A read returned this value.
    Value(V),
    /// A write took effect.
    Written,
    /// A compare-and-set swapped (`true`) or found another value (`false`).
    Swapped(bool),
}

/// A single read/write/compare-and-set register (an atomic register, Lamport 1986, with
/// CAS added). The state is the current value.
///
/// ```
/// use synod_sim::spec::{Register, RegisterInput::*, RegisterOutput::*, Spec};
///
/// let register = Register::new(0);
/// assert_eq!(register.step(&0, &Write(3), Some(&Written)), Some(3));
/// assert_eq!(register.step(&3, &Read, Some(&Value(3))), Some(3));
/// assert_eq!(register.step(&3, &Read, Some(&Value(0))), None); // stale
/// let cas = CompareAndSet { expected: 3, new: 4 };
/// assert_eq!(register.step(&3, &cas, Some(&Swapped(true))), Some(4));
/// assert_eq!(register.step(&3, &cas, None), Some(4)); // pending: whatever it returned
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Register<V> {
    initial: V,
}

impl<V> Register<V> {
    /// A register that holds `initial` before the first write.
    pub fn new(initial: V) -> Self {
        Self { initial }
    }
}

impl<V: Clone + Eq + Hash + Debug> Spec for Register<V> {
    type State = V;
    type Input = RegisterInput<V>;
    type Output = RegisterOutput<V>;
    type Key = ();

    fn init(&self) -> V {
        self.initial.clone()
    }

    fn step(
        &self,
        value: &V,
        input: &RegisterInput<V>,
        output: Option<&RegisterOutput<V>>,
    ) -> Option<V> {
        match (input, output) {
            (RegisterInput::Read, None) => Some(value.clone()),
            (RegisterInput::Read, Some(RegisterOutput::Value(seen))) => {
                (seen == value).then(|| value.clone())
            }
            (RegisterInput::Write(new), None | Some(RegisterOutput::Written)) => Some(new.clone()),
            (RegisterInput::CompareAndSet { expected, new }, output) => {
                let swapped = expected == value;
                match output {
                    None => {}
                    Some(RegisterOutput::Swapped(reported)) if *reported == swapped => {}
                    Some(_) => return None,
                }
                Some(if swapped { new.clone() } else { value.clone() })
            }
            _ => None,
        }
    }

    fn key(&self, _: &RegisterInput<V>) {}
}

/// An operation on a [`KvMap`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvInput<K, V> {
    /// Read the value under a key (`None` if absent).
    Get(K),
    /// Set the value under a key.
    Put(K, V),
    /// Remove a key.
    Delete(K),
    /// Set the value under `key` to `new` (`None`: remove it) only if it currently is
    /// `expected` (`None`: absent). `expected: None` is a put-if-absent.
    CompareAndSet {
        /// The key.
        key: K,
        /// The value the key must hold for the swap to happen.
        expected: Option<V>,
        /// The value it gets if it does.
        new: Option<V>,
    },
}

impl<K, V> KvInput<K, V> {
    /// The key this operation touches.
    pub fn key(&self) -> &K {
        match self {
            KvInput::Get(key)
            | KvInput::Put(key, _)
            | KvInput::Delete(key)
            | KvInput::CompareAndSet { key, .. } => key,
        }
    }
}

/// What a [`KvMap`] operation returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput<V> {
    /// A get returned this value (`None`: the key was absent).
    Value(Option<V>),
    /// A put took effect.
    Written,
    /// A delete took effect (whether or not the key existed).
    Deleted,
    /// A compare-and-set swapped (`true`) or found another value (`false`).
    Swapped(bool),
}

/// A map from keys to values, where every key is an independent register that starts
/// absent. The checker partitions a history by key, so a history over many keys costs
/// little more than the sum of its keys.
///
/// ```
/// use synod_sim::spec::{KvInput, KvMap, KvOutput, Spec};
///
/// let map = KvMap::<&str, u32>::new();
/// let put = KvInput::Put("x", 1);
/// assert_eq!(map.key(&put), "x");
/// assert_eq!(map.step(&None, &put, Some(&KvOutput::Written)), Some(Some(1)));
/// assert_eq!(map.step(&Some(1), &KvInput::Get("x"), Some(&KvOutput::Value(None))), None);
/// ```
pub struct KvMap<K, V> {
    // `fn() -> _` keeps the spec Send + Sync whatever K and V are: it holds no K or V.
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> KvMap<K, V> {
    /// The spec of a map whose keys all start absent.
    pub fn new() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<K, V> Default for KvMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Clone for KvMap<K, V> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<K, V> Debug for KvMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvMap")
    }
}

impl<K, V> Spec for KvMap<K, V>
where
    K: Clone + Eq + Hash + Ord + Debug,
    V: Clone + Eq + Hash + Debug,
{
    /// The value under the partition's key.
    type State = Option<V>;
    type Input = KvInput<K, V>;
    type Output = KvOutput<V>;
    type Key = K;

    fn init(&self) -> Option<V> {
        None
    }

    fn step(
        &self,
        value: &Option<V>,
        input: &KvInput<K, V>,
        output: Option<&KvOutput<V>>,
    ) -> Option<Option<V>> {
        match (input, output) {
            (KvInput::Get(_), None) => Some(value.clone()),
            (KvInput::Get(_), Some(KvOutput::Value(seen))) => {
                (seen == value).then(|| value.clone())
            }
            (KvInput::Put(_, new), None | Some(KvOutput::Written)) => Some(Some(new.clone())),
            (KvInput::Delete(_), None | Some(KvOutput::Deleted)) => Some(None),
            (KvInput::CompareAndSet { expected, new, .. }, output) => {
                let swapped = expected == value;
                match output {
                    None => {}
                    Some(KvOutput::Swapped(reported)) if *reported == swapped => {}
                    Some(_) => return None,
                }
                Some(if swapped { new.clone() } else { value.clone() })
            }
            _ => None,
        }
    }

    fn key(&self, input: &KvInput<K, V>) -> K {
        input.key().clone()
    }
}
