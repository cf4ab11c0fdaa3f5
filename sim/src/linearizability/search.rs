//! The search for one partition: Wing & Gong's backtracking search over the minimal
//! operations of a history, with Lowe's two improvements (Lowe, "Testing for
//! linearizability", 2017): the history is a doubly linked list of call and return
//! entries from which linearized operations are *lifted* (and restored on backtrack,
//! dancing-links style), and every `(operations decided, state)` configuration reached
//! is memoized so that no configuration is explored twice.
//!
//! Three extensions over the textbook algorithm serve pending operations and the
//! shrinking of counterexamples:
//!
//! - An operation without a return entry (pending, or [`Role::Open`]) has no deadline:
//!   it may be linearized anywhere after its invocation, or never. The search succeeds
//!   as soon as every *required* operation is linearized, so pending ones are never
//!   forced in.
//! - A [`Role::Optional`] operation may be linearized inside its interval or be
//!   *omitted*: when the scan reaches its return entry it is omitted (it can no longer
//!   take effect after that point). The shrinking uses this to ask "is this set still
//!   non-linearizable whatever the other operations did?".
//! - [`Mode::Frontier`] explores every way to linearize all required operations and
//!   reports each configuration reached, so a long prefix can be summarized once.
//!
//! And three economies that change no verdict: candidates are tried in passes (those
//! that leave the state unchanged first, operations without a deadline last, see
//! [`Pass`]); pending operations are matched by *dominance* in the memo (see
//! [`Decided`]); and a pending operation whose effect the next one erases is not tried
//! in front of it (see [`Search::try_linearize`]). The brute-force oracle test at the
//! end of this file checks the search against every order of every allowed subset.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::SpecOperation;
use crate::history::Operation;
use crate::rng::splitmix64;
use crate::spec::Spec;

/// How the search treats one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Must take effect inside its interval (if it returned), with its recorded output.
    Required,
    /// Takes effect inside its interval with its recorded output, or not at all.
    Optional,
    /// Takes effect with its recorded output at any time after its invocation, or not
    /// at all (as if pending): for an operation still in flight at the end of a prefix.
    Open,
}

/// What the search is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Stop at the first linearization.
    FindOne,
    /// Explore everything and report every distinct configuration in which all
    /// required operations are linearized: its state and which operations without a
    /// deadline (open or pending) were linearized too.
    Frontier,
}

/// The result of one search.
#[derive(Debug)]
pub(super) enum Outcome<St> {
    /// A linearization: indices into the searched slice, in the order they took effect.
    /// Omitted operations are absent.
    Linearizable(Vec<usize>),
    /// For [`Mode::Frontier`]: configurations with all required operations linearized,
    /// as their state and the operations without a deadline that were also linearized.
    /// If `complete`, these are all of them (none: the required operations cannot be
    /// linearized); otherwise the budget ran out after finding these.
    Frontier {
        configurations: Vec<(St, Vec<usize>)>,
        complete: bool,
    },
    /// No linearization exists. `considered` lists the operations the search ever
    /// looked at (in slice order): the search on just those fails identically, because
    /// every other call entry lies past the last return entry that blocked it.
    NotLinearizable { considered: Vec<usize> },
    /// The state budget ran out first.
    BudgetExceeded,
}

/// A search's outcome and the number of configurations it memoized.
pub(super) struct Report<St> {
    pub outcome: Outcome<St>,
    pub states_explored: u64,
}

const NONE: u32 = u32::MAX;
/// The head sentinel of both lists.
const HEAD: u32 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Head,
    Call,
    /// The deadline of a required operation: the scan may not pass it.
    Return,
    /// The deadline of an optional operation: passing it omits the operation.
    OptionalReturn,
    Tail,
}

/// One choice on the search stack.
struct Frame {
    op: u32,
    /// Memo entry of the configuration before the choice.
    prev: usize,
    /// Where the scan was when it made the choice: on backtrack it goes on from there.
    /// `None` for an omission, the last option at its point, which unwinds further.
    cursor: Option<Cursor>,
}

/// The passes over a configuration's candidates, in the order they are tried.
///
/// Every candidate is tried in some pass, so the order changes no verdict; it decides
/// how soon a linearization is found. That matters: under high concurrency a wrong turn
/// costs an exploration of every interleaving after it before it is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// Main-list operations that leave the state as it is (a read of the current
    /// value): they can never make a later operation illegal.
    Quiet,
    /// Main-list operations that change the state.
    Loud,
    /// Operations without a deadline, once the main list has nothing left to try.
    /// Each may or may not have taken effect, so trying them early multiplies the
    /// configurations; measured, trying first the one that makes the operation due
    /// next legal was slower on every history with crashed clients we tried.
    Open,
}

/// Where the scan of a configuration is.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    pass: Pass,
    /// A main-list entry in the main passes, an open-list node in the open pass.
    node: u32,
    /// In the open pass: the position where the main scan stopped; only operations
    /// invoked before it are candidates.
    block: u32,
    /// In the open pass: the optional operation whose deadline stopped the main scan,
    /// omitted once nothing else is left (`NONE` if the stop was a required deadline or
    /// the end of the list).
    omit: u32,
}

/// Searches `ops` (sorted by invocation for the best memo compression; correctness does
/// not depend on it) for a linearization starting from `initial`.
pub(super) fn search<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    roles: &[Role],
    initial: &S::State,
    mode: Mode,
    max_states: u64,
) -> Report<S::State> {
    debug_assert_eq!(ops.len(), roles.len());
    let lists = Lists::new(ops, roles);
    let mut search = Search {
        spec,
        ops,
        decided: Decided::new(ops, &lists.return_entry),
        lists,
        memo: Memo::default(),
        max_states,
    };
    let outcome = search.run(initial, mode);
    Report {
        outcome,
        states_explored: search.memo.len() as u64,
    }
}

/// The history as two doubly linked lists, both in time order (calls before returns at
/// equal times, since a return and a call at the same time are concurrent):
///
/// - the *main* list is Lowe's: call and return entries of the operations with a
///   deadline (completed, required or optional);
/// - the *open* list holds the calls of operations without one (pending, or open).
///
/// Keeping operations without a deadline apart means the main scan never walks over
/// them (a crashed client's operation would otherwise sit at the front of the list for
/// the rest of the history), and they are tried only when the main scan is blocked: in
/// a passing history they are rarely needed.
struct Lists {
    kind: Vec<Entry>,
    /// The operation of each main entry (`NONE` for the sentinels).
    entry_op: Vec<u32>,
    /// Position of each main entry in the global time order (`u32::MAX` for the tail).
    entry_position: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation of each open node (`NONE` for the sentinels).
    open_op: Vec<u32>,
    open_position: Vec<u32>,
    open_next: Vec<u32>,
    open_prev: Vec<u32>,
    /// Per operation: its call entry in the main list, or its node in the open list.
    call_entry: Vec<u32>,
    /// Per operation: its return entry, or `NONE` if it has no deadline.
    return_entry: Vec<u32>,
    /// Per operation: whether it must be linearized for the search to succeed.
    required: Vec<bool>,
}

impl Lists {
    fn new<I, O>(ops: &[&Operation<I, O>], roles: &[Role]) -> Self {
        let has_deadline = |i: usize| ops[i].returned_at.is_some() && roles[i] != Role::Open;
        // (time, calls first, operation): the operation index makes the order total, so
        // the search is deterministic.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoked_at, false, i as u32));
            if let (Some(returned_at), true) = (op.returned_at, has_deadline(i)) {
                events.push((returned_at, true, i as u32));
            }
        }
        events.sort_unstable();
        let mut lists = Lists {
            kind: vec![Entry::Head],
            entry_op: vec![NONE],
            entry_position: vec![0],
            next: Vec::new(),
            prev: Vec::new(),
            open_op: vec![NONE],
            open_position: vec![0],
            open_next: Vec::new(),
            open_prev: Vec::new(),
            call_entry: vec![NONE; ops.len()],
            return_entry: vec![NONE; ops.len()],
            required: (0..ops.len())
                .map(|i| roles[i] == Role::Required && has_deadline(i))
                .collect(),
        };
        for (position, (_, is_return, op)) in events.into_iter().enumerate() {
            let i = op as usize;
            let position = position as u32;
            if !has_deadline(i) {
                lists.call_entry[i] = lists.open_op.len() as u32;
                lists.open_op.push(op);
                lists.open_position.push(position);
                continue;
            }
            let entry = lists.kind.len() as u32;
            if is_return {
                lists.return_entry[i] = entry;
                lists.kind.push(match roles[i] {
                    Role::Required => Entry::Return,
                    Role::Optional | Role::Open => Entry::OptionalReturn,
                });
            } else {
                lists.call_entry[i] = entry;
                lists.kind.push(Entry::Call);
            }
            lists.entry_op.push(op);
            lists.entry_position.push(position);
        }
        lists.kind.push(Entry::Tail);
        lists.entry_op.push(NONE);
        lists.entry_position.push(u32::MAX);
        lists.open_op.push(NONE);
        lists.open_position.push(u32::MAX);
        let main_len = lists.kind.len() as u32;
        lists.next = (1..=main_len).collect();
        lists.prev = (0..main_len).map(|i| i.wrapping_sub(1)).collect();
        let open_len = lists.open_op.len() as u32;
        lists.open_next = (1..=open_len).collect();
        lists.open_prev = (0..open_len).map(|i| i.wrapping_sub(1)).collect();
        lists
    }

    fn has_deadline(&self, op: u32) -> bool {
        self.return_entry[op as usize] != NONE
    }

    /// Removes `op` from the lists once it is linearized or omitted.
    fn lift(&mut self, op: u32) {
        let call = self.call_entry[op as usize];
        let ret = self.return_entry[op as usize];
        if ret == NONE {
            unlink(&mut self.open_next, &mut self.open_prev, call);
        } else {
            unlink(&mut self.next, &mut self.prev, call);
            unlink(&mut self.next, &mut self.prev, ret);
        }
    }

    /// Undoes [`lift`](Self::lift); valid because restores happen in exactly the
    /// reverse order of removals (the search stack is LIFO).
    fn unlift(&mut self, op: u32) {
        let call = self.call_entry[op as usize];
        let ret = self.return_entry[op as usize];
        if ret == NONE {
            relink(&mut self.open_next, &mut self.open_prev, call);
        } else {
            relink(&mut self.next, &mut self.prev, ret);
            relink(&mut self.next, &mut self.prev, call);
        }
    }
}

fn unlink(next: &mut [u32], prev: &mut [u32], node: u32) {
    let (p, n) = (prev[node as usize], next[node as usize]);
    next[p as usize] = n;
    prev[n as usize] = p;
}

/// Dancing links (Knuth): a removed node still knows its neighbours.
fn relink(next: &mut [u32], prev: &mut [u32], node: u32) {
    let (p, n) = (prev[node as usize], next[node as usize]);
    next[p as usize] = node;
    prev[n as usize] = node;
}

struct Search<'a, 'h, S: Spec> {
    spec: &'a S,
    ops: &'a [&'h SpecOperation<S>],
    lists: Lists,
    decided: Decided,
    memo: Memo<S::State>,
    max_states: u64,
}

impl<S: Spec> Search<'_, '_, S> {
    fn run(&mut self, initial: &S::State, mode: Mode) -> Outcome<S::State> {
        let mut remaining = self.lists.required.iter().filter(|r| **r).count();
        let mut frames: Vec<Frame> = Vec::new();
        let mut frontier = Vec::new();
        // The furthest position at which the main scan was ever blocked.
        let mut furthest_block = 0;
        let Some(mut current) = self.memo.insert_state(&self.decided, initial.clone()) else {
            return Outcome::BudgetExceeded; // unreachable: the memo starts empty
        };
        if mode == Mode::Frontier && remaining == 0 {
            frontier.push((initial.clone(), Vec::new()));
        }
        let fresh = |lists: &Lists| Cursor {
            pass: Pass::Quiet,
            node: lists.next[HEAD as usize],
            block: 0,
            omit: NONE,
        };
        let mut cursor = fresh(&self.lists);
        loop {
            if remaining == 0 && mode == Mode::FindOne {
                let order = frames
                    .iter()
                    .filter(|f| f.cursor.is_some())
                    .map(|f| f.op as usize)
                    .collect();
                return Outcome::Linearizable(order);
            }
            // The next candidate at the cursor, or the move to the next pass.
            let node = cursor.node as usize;
            let (op, omission) = match cursor.pass {
                Pass::Quiet | Pass::Loud if self.lists.kind[node] == Entry::Call => {
                    (self.lists.entry_op[node], false)
                }
                Pass::Quiet | Pass::Loud => {
                    // The main scan stopped at a deadline (or the end of the list).
                    let block = self.lists.entry_position[node];
                    let omit = if self.lists.kind[node] == Entry::OptionalReturn {
                        self.lists.entry_op[node]
                    } else {
                        furthest_block = furthest_block.max(block);
                        NONE
                    };
                    cursor = if cursor.pass == Pass::Quiet {
                        Cursor {
                            pass: Pass::Loud,
                            node: self.lists.next[HEAD as usize],
                            ..cursor
                        }
                    } else {
                        Cursor {
                            pass: Pass::Open,
                            node: self.lists.open_next[HEAD as usize],
                            block,
                            omit,
                        }
                    };
                    continue;
                }
                Pass::Open if self.lists.open_position[node] < cursor.block => {
                    (self.lists.open_op[node], false)
                }
                // Nothing left but omitting the optional operation whose deadline this
                // is, if any.
                Pass::Open => (cursor.omit, true),
            };
            let advanced = if op == NONE {
                None
            } else if omission {
                self.try_omit(op, current)
            } else {
                // The configuration before the last choice, if that choice was a
                // pending operation.
                let before_open = frames
                    .last()
                    .filter(|f| f.cursor.is_some_and(|c| c.pass == Pass::Open))
                    .filter(|f| self.ops[f.op as usize].returned_at.is_none())
                    .map(|f| f.prev);
                self.try_linearize(op, current, cursor, before_open)
            };
            if let Some(next) = advanced {
                if self.memo.len() as u64 > self.max_states {
                    return match mode {
                        Mode::FindOne => Outcome::BudgetExceeded,
                        Mode::Frontier => Outcome::Frontier {
                            configurations: frontier,
                            complete: false,
                        },
                    };
                }
                frames.push(Frame {
                    op,
                    prev: current,
                    cursor: (!omission).then_some(cursor),
                });
                current = next;
                self.lists.lift(op);
                if !omission && self.lists.required[op as usize] {
                    remaining -= 1;
                }
                if mode == Mode::Frontier && remaining == 0 {
                    frontier.push(self.configuration(current, &frames));
                }
                cursor = fresh(&self.lists);
                continue;
            }
            if !omission {
                cursor.node = self.next_in_pass(cursor);
                continue;
            }
            // This configuration is exhausted: backtrack to the most recent
            // linearization and go on scanning after it.
            loop {
                let Some(frame) = frames.pop() else {
                    return match mode {
                        Mode::Frontier => Outcome::Frontier {
                            configurations: frontier,
                            complete: true,
                        },
                        Mode::FindOne => Outcome::NotLinearizable {
                            considered: self.considered(furthest_block),
                        },
                    };
                };
                self.decided.toggle(frame.op as usize);
                self.lists.unlift(frame.op);
                current = frame.prev;
                if let Some(at) = frame.cursor {
                    if self.lists.required[frame.op as usize] {
                        remaining += 1;
                    }
                    cursor = Cursor {
                        node: self.next_in_pass(at),
                        ..at
                    };
                    break;
                }
            }
        }
    }

    /// The candidate after the cursor's, in its pass's list.
    fn next_in_pass(&self, cursor: Cursor) -> u32 {
        match cursor.pass {
            Pass::Quiet | Pass::Loud => self.lists.next[cursor.node as usize],
            Pass::Open => self.lists.open_next[cursor.node as usize],
        }
    }

    /// The state of memo entry `current` and the operations without a deadline that
    /// the path to it linearized.
    fn configuration(&self, current: usize, frames: &[Frame]) -> (S::State, Vec<usize>) {
        let open = frames
            .iter()
            .filter(|f| f.cursor.is_some() && !self.lists.has_deadline(f.op))
            .map(|f| f.op as usize)
            .collect();
        (self.memo.state(current).clone(), open)
    }

    /// Tries to linearize `op` in configuration `current`, if it qualifies for the
    /// cursor's pass; on success the operation is marked decided and the new
    /// configuration memoized.
    ///
    /// `before_open` is the configuration before the last choice if that was a pending
    /// operation `p`. If `op` is tried in the open pass too and leads to the same state
    /// whether or not `p` went first (a write overwriting a pending write), it is
    /// skipped: that configuration is dominated by the one with `op` alone, which the
    /// open pass before `p` tries as well (the main list, and so the point where the
    /// main scan stops, is the same with or without `p`). Without this, `k` crashed
    /// writes would be tried in all `2^k` combinations wherever the search backtracks.
    fn try_linearize(
        &mut self,
        op: u32,
        current: usize,
        cursor: Cursor,
        before_open: Option<usize>,
    ) -> Option<usize> {
        let operation = self.ops[op as usize];
        let state = self.memo.state(current);
        let next_state = self
            .spec
            .step(state, &operation.input, operation.output.as_ref())?;
        let qualifies = match cursor.pass {
            Pass::Quiet => next_state == *state,
            Pass::Loud => next_state != *state,
            Pass::Open => true,
        };
        if !qualifies {
            return None;
        }
        if let Some(before) = before_open.filter(|_| cursor.pass == Pass::Open) {
            let without = self.spec.step(
                self.memo.state(before),
                &operation.input,
                operation.output.as_ref(),
            );
            if without.as_ref() == Some(&next_state) {
                return None;
            }
        }
        // A pending operation that changes nothing is better left undecided: it stays
        // available for later, which dominates using it up here. (Not so for an open
        // operation: it has a deadline after the searched prefix, and the caller needs
        // to know whether it already took effect.)
        if operation.returned_at.is_none() && next_state == *state {
            return None;
        }
        self.decided.toggle(op as usize);
        let next = self.memo.insert_state(&self.decided, next_state);
        if next.is_none() {
            self.decided.toggle(op as usize);
        }
        next
    }

    /// Omits optional `op` (its deadline is here) in configuration `current`.
    fn try_omit(&mut self, op: u32, current: usize) -> Option<usize> {
        self.decided.toggle(op as usize);
        let next = self.memo.insert_slot(&self.decided, current);
        if next.is_none() {
            self.decided.toggle(op as usize);
        }
        next
    }

    /// The operations invoked before position `furthest_block`.
    fn considered(&self, furthest_block: u32) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| {
                let call = self.lists.call_entry[i] as usize;
                let position = if self.lists.has_deadline(i as u32) {
                    self.lists.entry_position[call]
                } else {
                    self.lists.open_position[call]
                };
                position < furthest_block
            })
            .collect()
    }
}

/// The set of decided (linearized or omitted) operations, kept in a form that is cheap
/// to compare and store.
///
/// A plain bitset costs `n / 64` words per memo entry, which for a long single-object
/// history (100,000 operations) would be 12 KB per configuration. But the search
/// decides operations with a deadline roughly in invocation order: all operations
/// invoked long before the current point are decided, and none invoked long after are.
/// So their bits are stored as "the first `full` words are all ones" plus the words
/// from there to the last non-zero word, a window whose length is bounded by the
/// concurrency of the history.
///
/// Operations without a deadline never have to be decided, so they would hold that
/// prefix down; they get plain bitsets of their own. For pending operations the memo
/// also uses *dominance*: a configuration that used up a superset of the pending
/// operations another one used, with the same state and the same decided operations
/// otherwise, can do nothing the other cannot, so it is pruned. That keeps a history
/// with many crashed clients from exploring every subset of their operations.
struct Decided {
    /// Per operation: which bitset holds it, and its bit there.
    place: Vec<(Region, u32)>,
    tracked: Vec<u64>,
    /// Mask of the valid bits of the last word of `tracked`.
    last_word_mask: u64,
    /// Leading words of `tracked` that are all ones.
    full: usize,
    /// One past the last non-zero word of `tracked` (at least `full`).
    top: usize,
    /// Completed operations searched without a deadline ([`Role::Open`]): matched exactly.
    open: Vec<u64>,
    /// Pending operations: matched by dominance.
    pending: Vec<u64>,
    /// Zobrist hash of the tracked and open bits: the xor of a random key per decided
    /// operation, updated in O(1) per toggle. Pending bits are left out so that
    /// configurations that differ only in them share a fingerprint and can be compared
    /// for dominance.
    zobrist: u64,
    keys: Vec<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    Tracked,
    Open,
    Pending,
}

impl Decided {
    fn new<I, O>(ops: &[&Operation<I, O>], return_entry: &[u32]) -> Self {
        let mut counts = [0u32; 3];
        let place: Vec<(Region, u32)> = ops
            .iter()
            .zip(return_entry)
            .map(|(op, ret)| {
                let region = if *ret != NONE {
                    Region::Tracked
                } else if op.returned_at.is_some() {
                    Region::Open
                } else {
                    Region::Pending
                };
                let slot = &mut counts[region as usize];
                *slot += 1;
                (region, *slot - 1)
            })
            .collect();
        let [tracked, open, pending] = counts.map(|c| c as usize);
        let rem = tracked % 64;
        Decided {
            place,
            tracked: vec![0; tracked.div_ceil(64)],
            last_word_mask: if rem == 0 { !0 } else { (1u64 << rem) - 1 },
            full: 0,
            top: 0,
            open: vec![0; open.div_ceil(64)],
            pending: vec![0; pending.div_ceil(64)],
            zobrist: 0,
            keys: (0..ops.len() as u64)
                .map(|i| splitmix64(i ^ 0x6c62_272e_07bb_0142))
                .collect(),
        }
    }

    fn word_is_full(&self, word: usize) -> bool {
        let mask = if word + 1 == self.tracked.len() {
            self.last_word_mask
        } else {
            !0
        };
        self.tracked[word] == mask
    }

    /// Adds `op` to the set if absent, removes it if present.
    fn toggle(&mut self, op: usize) {
        let (region, bit) = self.place[op];
        let (word, mask) = (bit as usize / 64, 1u64 << (bit % 64));
        match region {
            Region::Pending => {
                self.pending[word] ^= mask;
                return;
            }
            Region::Open => {
                self.zobrist ^= self.keys[op];
                self.open[word] ^= mask;
                return;
            }
            Region::Tracked => self.zobrist ^= self.keys[op],
        }
        self.tracked[word] ^= mask;
        if self.tracked[word] & mask != 0 {
            self.top = self.top.max(word + 1);
            while self.full < self.tracked.len() && self.word_is_full(self.full) {
                self.full += 1;
            }
            self.top = self.top.max(self.full);
        } else {
            self.full = self.full.min(word);
            while self.top > self.full && self.tracked[self.top - 1] == 0 {
                self.top -= 1;
            }
        }
    }

    /// Stored as `[full, tracked[full..top].., open.., pending..]`.
    fn encode_into(&self, out: &mut Vec<u64>) {
        out.push(self.full as u64);
        out.extend_from_slice(&self.tracked[self.full..self.top]);
        out.extend_from_slice(&self.open);
        out.extend_from_slice(&self.pending);
    }

    /// Whether a stored configuration's decided set makes this one redundant: equal
    /// apart from pending operations, of which it used a subset.
    fn is_dominated_by(&self, stored: &[u64]) -> bool {
        let middle = self.top - self.full;
        let exact = 1 + middle + self.open.len();
        if stored.len() != exact + self.pending.len() || stored[0] != self.full as u64 {
            return false;
        }
        let (key, pending) = stored.split_at(exact);
        key[1..1 + middle] == self.tracked[self.full..self.top]
            && key[1 + middle..] == self.open[..]
            && pending.iter().zip(&self.pending).all(|(s, c)| s & !c == 0)
    }
}

/// The memo of explored configurations, and the arena that owns their states.
///
/// Entries are found by a 64-bit fingerprint (Zobrist hash of the decided set mixed with
/// the state's hash) and confirmed by full comparison, so a fingerprint collision costs
/// a comparison, never a wrong verdict. States live here and the search refers to them
/// by index, so the hot loop never clones a state.
struct Memo<St> {
    /// Fingerprint to the newest entry with it; older ones are chained through `chain`.
    index: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    chain: Vec<usize>,
    key_start: Vec<usize>,
    keys: Vec<u64>,
    slot: Vec<usize>,
    states: Vec<St>,
    state_hash: Vec<u64>,
}

impl<St> Default for Memo<St> {
    fn default() -> Self {
        Memo {
            index: HashMap::default(),
            chain: Vec::new(),
            key_start: vec![0],
            keys: Vec::new(),
            slot: Vec::new(),
            states: Vec::new(),
            state_hash: Vec::new(),
        }
    }
}

impl<St: Eq + Hash> Memo<St> {
    fn len(&self) -> usize {
        self.slot.len()
    }

    fn state(&self, entry: usize) -> &St {
        &self.states[self.slot[entry]]
    }

    /// Memoizes `(decided, state)` unless it is redundant; returns the new entry.
    fn insert_state(&mut self, decided: &Decided, state: St) -> Option<usize> {
        let state_hash = hash_state(&state);
        let fingerprint = fingerprint(decided.zobrist, state_hash);
        if self.covers(fingerprint, decided, |s| *s == state) {
            return None;
        }
        self.states.push(state);
        self.state_hash.push(state_hash);
        Some(self.push(fingerprint, decided, self.states.len() - 1))
    }

    /// Memoizes `(decided, state of entry)` unless it is redundant, sharing the state.
    fn insert_slot(&mut self, decided: &Decided, entry: usize) -> Option<usize> {
        let slot = self.slot[entry];
        let fingerprint = fingerprint(decided.zobrist, self.state_hash[slot]);
        let state = &self.states[slot];
        if self.covers(fingerprint, decided, |s| {
            std::ptr::eq(s, state) || s == state
        }) {
            return None;
        }
        Some(self.push(fingerprint, decided, slot))
    }

    /// Whether a memoized configuration makes `(decided, state)` redundant.
    fn covers(
        &self,
        fingerprint: u64,
        decided: &Decided,
        same_state: impl Fn(&St) -> bool,
    ) -> bool {
        let mut candidate = self.index.get(&fingerprint).copied();
        while let Some(entry) = candidate {
            let stored = &self.keys[self.key_start[entry]..self.key_start[entry + 1]];
            if decided.is_dominated_by(stored) && same_state(&self.states[self.slot[entry]]) {
                return true;
            }
            candidate = Some(self.chain[entry]).filter(|&e| e != usize::MAX);
        }
        false
    }

    fn push(&mut self, fingerprint: u64, decided: &Decided, slot: usize) -> usize {
        let entry = self.slot.len();
        decided.encode_into(&mut self.keys);
        self.key_start.push(self.keys.len());
        self.slot.push(slot);
        let older = self.index.insert(fingerprint, entry);
        self.chain.push(older.unwrap_or(usize::MAX));
        entry
    }
}

/// A word-at-a-time multiplicative hasher (FxHash's mixing step, with a final avalanche
/// so the low bits are usable as bucket index). SipHash would be safer against chosen
/// inputs, but states come from the user's own test, and this runs once per step.
#[derive(Default)]
struct StateHasher(u64);

impl StateHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for StateHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        splitmix64(self.0)
    }
}

fn hash_state<St: Hash>(state: &St) -> u64 {
    let mut hasher = StateHasher::default();
    state.hash(&mut hasher);
    hasher.finish()
}

fn fingerprint(zobrist: u64, state_hash: u64) -> u64 {
    splitmix64(zobrist ^ state_hash.rotate_left(17))
}

/// The memo's keys are already well-mixed fingerprints; hashing them again is waste.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with this; fold anything else in for safety.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    //! The search against a brute-force oracle that tries every order of every allowed
    //! subset of operations.
    use super::*;
    use crate::spec::{Register, RegisterInput, RegisterOutput};

    type Op = Operation<RegisterInput<u8>, RegisterOutput<u8>>;

    /// Whether some sequence of the operations is a linearization: every required
    /// completed operation appears, optional and pending ones may, the real-time order
    /// is respected and the register accepts every step.
    fn brute_force(ops: &[Op], roles: &[Role]) -> bool {
        fn extend(ops: &[Op], roles: &[Role], used: &mut Vec<usize>, value: u8) -> bool {
            let done = (0..ops.len()).all(|i| {
                used.contains(&i) || roles[i] != Role::Required || ops[i].returned_at.is_none()
            });
            if done {
                return true;
            }
            for i in 0..ops.len() {
                if used.contains(&i) {
                    continue;
                }
                // Every operation placed before `i` must not be preceded by it; and an
                // optional operation left out for good is fine, but `i` may not follow
                // an operation it precedes.
                if used.iter().any(|&j| ops[i].precedes(&ops[j])) {
                    continue;
                }
                // A required operation that is still missing and precedes `i` must go
                // first.
                if (0..ops.len()).any(|j| {
                    !used.contains(&j)
                        && j != i
                        && roles[j] == Role::Required
                        && ops[j].precedes(&ops[i])
                }) {
                    continue;
                }
                let spec = Register::new(0u8);
                if let Some(next) = spec.step(&value, &ops[i].input, ops[i].output.as_ref()) {
                    used.push(i);
                    if extend(ops, roles, used, next) {
                        return true;
                    }
                    used.pop();
                }
            }
            false
        }
        extend(ops, roles, &mut Vec::new(), 0)
    }

    #[test]
    fn search_agrees_with_brute_force() {
        // Random small histories with required, optional and pending operations: the
        // search and the oracle agree on every one, and every witness is valid.
        let mut seed = 1u64;
        let mut next = |m: u64| {
            seed = splitmix64(seed);
            seed % m
        };
        let (mut linearizable, mut not) = (0, 0);
        for _ in 0..20_000 {
            let n = 1 + next(6) as usize;
            let mut ops = Vec::new();
            let mut roles = Vec::new();
            for _ in 0..n {
                let invoked_at = next(8);
                let returned_at = invoked_at + next(4);
                let value = next(3) as u8;
                let (input, output) = match next(3) {
                    0 => (RegisterInput::Read, RegisterOutput::Value(value)),
                    1 => (RegisterInput::Write(value), RegisterOutput::Written),
                    _ => (
                        RegisterInput::CompareAndSet {
                            expected: next(3) as u8,
                            new: value,
                        },
                        RegisterOutput::Swapped(next(2) == 0),
                    ),
                };
                let pending = next(5) == 0;
                ops.push(Operation {
                    client: 0,
                    input,
                    output: (!pending).then_some(output),
                    invoked_at,
                    returned_at: (!pending).then_some(returned_at),
                });
                roles.push(if next(3) == 0 {
                    Role::Optional
                } else {
                    Role::Required
                });
            }
            let refs: Vec<&Op> = ops.iter().collect();
            let expected = brute_force(&ops, &roles);
            let report = search(
                &Register::new(0u8),
                &refs,
                &roles,
                &0,
                Mode::FindOne,
                u64::MAX,
            );
            match report.outcome {
                Outcome::Linearizable(order) => {
                    assert!(
                        expected,
                        "search found a linearization the oracle did not: {ops:?} {roles:?} {order:?}"
                    );
                    let mut value = 0;
                    for (k, &i) in order.iter().enumerate() {
                        value = Register::new(0u8)
                            .step(&value, &ops[i].input, ops[i].output.as_ref())
                            .expect("witness step is legal");
                        for &j in &order[k + 1..] {
                            assert!(!ops[j].precedes(&ops[i]), "witness breaks real time");
                        }
                    }
                    linearizable += 1;
                }
                Outcome::NotLinearizable { .. } => {
                    assert!(
                        !expected,
                        "search missed a linearization: {ops:?} {roles:?}"
                    );
                    not += 1;
                }
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert!(linearizable > 1000 && not > 1000, "{linearizable} / {not}");
    }
}
