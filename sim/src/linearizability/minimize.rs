//! Shrinking a failing partition to a counterexample a person can read.
//!
//! Plain greedy deletion ("drop an operation if the rest is still non-linearizable")
//! can blame the wrong operation: dropping the write that a read observed leaves a read
//! of a value nobody wrote, which is non-linearizable for a reason the real history
//! does not have. So the shrinking here *relaxes* an operation instead of dropping it:
//! a relaxed operation may have taken effect as recorded, or not at all. Relaxing only
//! adds possibilities, so whatever stays non-linearizable with most operations relaxed
//! is non-linearizable whatever those operations did.
//!
//! 1. **Truncate** to the operations the failed search ever looked at (exact: the
//!    search on them fails in the same way).
//! 2. **Localize.** Relaxed operations are expensive to search (each may or may not
//!    have happened, so the states they can leave behind multiply), so shrinking works
//!    on a short window at the end of the truncated history. The prefix before the
//!    window is summarized exactly by its *frontier*: every configuration (state, and
//!    which operations still in flight at the window's start already took effect) in
//!    which all of the prefix's finished operations are linearized. The history is
//!    linearizable exactly when the window can be linearized from some frontier
//!    configuration. Windows of 32, 128 and 512 operations are tried in turn, until the
//!    shrunk set is non-linearizable on its own.
//! 3. **Core**: relax operations, in halves and then singly (delta debugging, Zeller
//!    2002), keeping each relaxation that leaves the window non-linearizable. The
//!    operations left required are the core; relaxing any one of them makes the window
//!    linearizable.
//! 4. **Context**: for each core operation, a witness linearization shows how the rest
//!    could be ordered without it; keep the relaxed operations those witnesses need
//!    (a write that a core read observed, say), then drop the ones they can do without.
//!
//! The counterexample is the core plus its context, every operation as recorded. It is
//! non-linearizable on its own, from the spec's initial state — or, if the violation
//! only shows given a long prefix (a read of the initial value long after it was
//! overwritten), from the single state the prefix ends in at a quiescent point.

use std::collections::{BTreeSet, HashSet, VecDeque};

use super::SpecOperation;
use super::search::{Mode, Outcome, Role, search};
use crate::history::{OpId, Operation};
use crate::spec::Spec;

/// Truncated partitions up to this size are shrunk whole.
const SHRINK_WHOLE_MAX_OPS: usize = 64;
/// The window a longer partition is shrunk in, in operations.
const WINDOW_OPS: usize = 32;
/// How many explanation/blocker pairs [`robustify`] adds at most.
const ROBUSTIFY_ROUNDS: usize = 4;
/// How far back [`quietest_boundary`] looks for operations still in flight.
const MAX_IN_FLIGHT_SCAN: usize = 256;
/// At most this many frontier configurations are used as starts: any subset of them
/// is sound (each fails), and every start multiplies the cost of shrinking.
const MAX_STARTS: usize = 16;
/// States a frontier search may use beyond twice those of the failed search.
const FRONTIER_EXTRA_STATES: u64 = 100_000;
/// A prefix cut at a quiescent point leaves at least this many operations in the window.
const CUT_WINDOW_OPS: usize = 128;

/// The shrinking's result, before it is dressed up as a public counterexample.
pub(super) struct Shrunk<St> {
    /// Indices into the partition (in invocation order) of the counterexample.
    pub operations: Vec<usize>,
    pub initial_state: St,
    /// Operations of the partition before the cut (0 without a cut).
    pub prefix_len: usize,
    /// The latest return time in the prefix.
    pub prefix_returned_by: u64,
    /// Whether every step ran to completion within the budget.
    pub minimal: bool,
}

/// The shrinking's search budget, shared by all its searches.
struct Budget {
    remaining: u64,
    per_search: u64,
    exhausted: bool,
}

impl Budget {
    fn search<S: Spec>(
        &mut self,
        spec: &S,
        ops: &[&SpecOperation<S>],
        roles: &[Role],
        initial: &S::State,
        mode: Mode,
    ) -> Outcome<S::State> {
        self.search_capped(spec, ops, roles, initial, mode, u64::MAX)
    }

    /// [`search`](Self::search) with at most `cap` states. A [`Mode::Frontier`] search
    /// that hits `cap` returns what it found without exhausting the budget.
    fn search_capped<S: Spec>(
        &mut self,
        spec: &S,
        ops: &[&SpecOperation<S>],
        roles: &[Role],
        initial: &S::State,
        mode: Mode,
        cap: u64,
    ) -> Outcome<S::State> {
        if self.exhausted {
            return Outcome::BudgetExceeded;
        }
        let cap = self.per_search.min(self.remaining).min(cap);
        let report = search(spec, ops, roles, initial, mode, cap);
        self.remaining = self.remaining.saturating_sub(report.states_explored);
        if matches!(report.outcome, Outcome::BudgetExceeded) {
            self.exhausted = true;
        }
        report.outcome
    }
}

/// A configuration a window can start from.
struct Start<St> {
    state: St,
    /// Per window operation: whether it already took effect in the prefix.
    done: Vec<bool>,
}

/// Operations to shrink, and the configurations they start from.
struct Window<'h, S: Spec> {
    ops: Vec<&'h SpecOperation<S>>,
    /// Indices of `ops` in the shrunk history.
    index: Vec<usize>,
    /// How each operation starts out: required, or optional if it never returned or
    /// was only kept as a possible explanation.
    base: Vec<Role>,
    starts: Vec<Start<S::State>>,
}

enum Verdict {
    /// A linearization (window indices, in order) from some start.
    Linearizable(Vec<usize>),
    NonLinearizable,
    Unknown,
}

impl<S: Spec> Window<'_, S> {
    /// Searches the `members` of the window (sorted window indices) with the given roles
    /// (indexed by window index) from every start.
    fn solve(&self, spec: &S, budget: &mut Budget, members: &[usize], roles: &[Role]) -> Verdict {
        for start in &self.starts {
            let subset: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| !start.done[i])
                .collect();
            let ops: Vec<_> = subset.iter().map(|&i| self.ops[i]).collect();
            let sub_roles: Vec<Role> = subset.iter().map(|&i| roles[i]).collect();
            match budget.search(spec, &ops, &sub_roles, &start.state, Mode::FindOne) {
                Outcome::Linearizable(order) => {
                    return Verdict::Linearizable(order.into_iter().map(|j| subset[j]).collect());
                }
                Outcome::NotLinearizable { .. } => {}
                Outcome::BudgetExceeded | Outcome::Frontier { .. } => return Verdict::Unknown,
            }
        }
        Verdict::NonLinearizable
    }
}

/// Shrinks a failing partition. `partition` is in invocation order, and the failed
/// search only ever looked at its first `considered_len` operations, memoizing
/// `path_states` configurations.
pub(super) fn shrink<S: Spec>(
    spec: &S,
    partition: &[(OpId, &SpecOperation<S>)],
    mut considered_len: usize,
    path_states: u64,
    max_states_per_search: u64,
    max_states_total: u64,
) -> Shrunk<S::State> {
    let mut budget = Budget {
        remaining: max_states_total,
        per_search: max_states_per_search,
        exhausted: false,
    };
    let init = spec.init();
    let result = |chosen: Vec<usize>, budget: &Budget| Shrunk {
        operations: chosen,
        initial_state: spec.init(),
        prefix_len: 0,
        prefix_returned_by: 0,
        minimal: !budget.exhausted,
    };
    loop {
        // Operations invoked before the last return of a considered one may have taken
        // effect before it (the write a considered read saw). Keep them, but optional:
        // cutting the history short must not invent a read of a value nobody wrote, and
        // they cannot hide the violation (they come after the deadline the search could
        // not meet).
        let horizon = partition[..considered_len]
            .iter()
            .filter_map(|(_, op)| op.returned_at)
            .max()
            .unwrap_or(0);
        let len = considered_len
            + partition[considered_len..]
                .iter()
                .take_while(|(_, op)| op.invoked_at <= horizon)
                .count();
        let ops: Vec<&SpecOperation<S>> = partition[..len].iter().map(|(_, op)| *op).collect();
        let base: Vec<Role> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match op.returned_at {
                Some(_) if i < considered_len => Role::Required,
                _ => Role::Optional,
            })
            .collect();

        if considered_len > SHRINK_WHOLE_MAX_OPS {
            let start = quietest_boundary(&ops, considered_len);
            match frontier(spec, &ops, &base, start, path_states, &mut budget) {
                Frontier::Window(window) => {
                    if let Some(chosen) = localize(spec, &ops, &window, start, &init, &mut budget) {
                        return result(chosen, &budget);
                    }
                }
                Frontier::PrefixFails => {
                    // The failure is already inside the prefix: shrink that instead.
                    considered_len = start;
                    continue;
                }
                Frontier::Unknown => {}
            }
            // The last resorts: summarize a long prefix by the state it ends in at a
            // quiescent point, or shrink everything (within the budget).
            let cut = shrink_after_cut(spec, &ops, &base, considered_len, &mut budget);
            if let Some(shrunk) = cut {
                return shrunk;
            }
        }
        let whole = Window::<S> {
            index: (0..ops.len()).collect(),
            starts: vec![Start {
                state: init,
                done: vec![false; ops.len()],
            }],
            ops,
            base,
        };
        let chosen = shrink_window(spec, &whole, &mut budget);
        return result(chosen, &budget);
    }
}

/// Where to start the window: among the `WINDOW_OPS` candidate positions before the last
/// `WINDOW_OPS` considered operations, the one with the fewest operations in flight, as
/// each of them multiplies the frontier.
fn quietest_boundary<I, O>(ops: &[&Operation<I, O>], considered_len: usize) -> usize {
    let latest = considered_len - WINDOW_OPS;
    let earliest = latest.saturating_sub(WINDOW_OPS).max(1);
    (earliest..=latest)
        .rev()
        .min_by_key(|&start| {
            let begins = ops[start].invoked_at;
            ops[..start]
                .iter()
                .rev()
                .take(MAX_IN_FLIGHT_SCAN)
                .filter(|op| op.returned_at.is_none_or(|r| r >= begins))
                .count()
        })
        .unwrap_or(latest)
}

/// Shrinks a window at the end of `ops` (it starts at `start`) and makes the result
/// stand on its own. `None` if it cannot.
fn localize<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    window: &Window<'_, S>,
    start: usize,
    init: &S::State,
    budget: &mut Budget,
) -> Option<Vec<usize>> {
    let mut chosen = shrink_window(spec, window, budget);
    if !fails_alone(spec, ops, &chosen, None, init, budget) {
        // The violation only shows given the prefix (a read of the initial value long
        // after a write, say): anchor it with the latest operation that makes it show.
        let anchor = prefer_consistent(spec, ops, (0..start).rev(), init, budget, |i, budget| {
            fails_alone(spec, ops, &chosen, Some(i), init, budget)
        })?;
        chosen.insert(0, anchor);
    }
    Some(robustify(spec, ops, chosen, init, budget))
}

/// Whether `chosen` (sorted indices into `ops`), plus `extra` if given, is
/// non-linearizable on its own from `initial`, every operation required.
fn fails_alone<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    chosen: &[usize],
    extra: Option<usize>,
    initial: &S::State,
    budget: &mut Budget,
) -> bool {
    let mut subset: Vec<usize> = chosen.iter().copied().chain(extra).collect();
    subset.sort_unstable();
    let roles = vec![Role::Required; subset.len()];
    let subset: Vec<_> = subset.iter().map(|&i| ops[i]).collect();
    matches!(
        budget.search(spec, &subset, &roles, initial, Mode::FindOne),
        Outcome::NotLinearizable { .. }
    )
}

/// The first of `candidates` that satisfies `wanted`, preferring one that is consistent
/// on its own: the write of a value rather than another read of it, which would need an
/// explanation of its own.
fn prefer_consistent<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    candidates: impl Iterator<Item = usize> + Clone,
    initial: &S::State,
    budget: &mut Budget,
    mut wanted: impl FnMut(usize, &mut Budget) -> bool,
) -> Option<usize> {
    let consistent = candidates.clone().find(|&i| {
        !budget.exhausted
            && !fails_alone(spec, ops, &[], Some(i), initial, budget)
            && wanted(i, budget)
    });
    consistent.or_else(|| {
        candidates
            .into_iter()
            .find(|&i| !budget.exhausted && wanted(i, budget))
    })
}

/// Makes a shrunk set (sorted indices into `ops`, non-linearizable on its own) robust
/// against the rest of the history.
///
/// The window was shrunk with the prefix taken as given, so the set can fail for a
/// reason the history does not have: a read of a value written long before the window
/// looks like a read of a value nobody wrote. So look for an *explanation*: the latest
/// operation `p` outside the set that, taking effect or not as recorded, would make the
/// set linearizable (the old write). If there is one, add it together with a *blocker*:
/// an operation `q` after which the set with `p` fails again (a write that overwrote
/// the old value before the read). Repeat until nothing explains the set away.
fn robustify<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    mut chosen: Vec<usize>,
    initial: &S::State,
    budget: &mut Budget,
) -> Vec<usize> {
    for _ in 0..ROBUSTIFY_ROUNDS {
        // Operations invoked after every chosen one returned cannot take effect before
        // any of them, so they cannot explain anything.
        let last_return = chosen
            .iter()
            .map(|&i| ops[i].returned_at.unwrap_or(u64::MAX))
            .max()
            .unwrap_or(0);
        let explains = |p: usize, budget: &mut Budget| {
            let mut members: Vec<usize> = chosen.iter().copied().chain([p]).collect();
            members.sort_unstable();
            let subset: Vec<_> = members.iter().map(|&i| ops[i]).collect();
            let roles: Vec<Role> = members
                .iter()
                .map(|&i| {
                    if i == p {
                        Role::Optional
                    } else {
                        Role::Required
                    }
                })
                .collect();
            matches!(
                budget.search(spec, &subset, &roles, initial, Mode::FindOne),
                Outcome::Linearizable(_)
            )
        };
        let explanation = (0..ops.len())
            .rev()
            .filter(|i| ops[*i].invoked_at <= last_return && chosen.binary_search(i).is_err())
            .find(|&p| !budget.exhausted && explains(p, budget));
        let Some(p) = explanation else {
            return chosen;
        };
        if fails_alone(spec, ops, &chosen, Some(p), initial, budget) {
            // Required as recorded, the explanation no longer explains: keep it as context.
            chosen.push(p);
            chosen.sort_unstable();
            continue;
        }
        let with_p: Vec<usize> = {
            let mut v = chosen.clone();
            v.push(p);
            v.sort_unstable();
            v
        };
        let candidates = (p + 1..ops.len())
            .filter(|i| ops[*i].invoked_at <= last_return && with_p.binary_search(i).is_err());
        let blocker = prefer_consistent(spec, ops, candidates, initial, budget, |q, budget| {
            fails_alone(spec, ops, &with_p, Some(q), initial, budget)
        });
        let Some(q) = blocker else {
            // Explaining this needs more than one operation; settle for what we have.
            return chosen;
        };
        chosen = with_p;
        chosen.push(q);
        chosen.sort_unstable();
    }
    chosen
}

enum Frontier<'h, S: Spec> {
    Window(Window<'h, S>),
    /// The prefix's finished operations cannot be linearized.
    PrefixFails,
    Unknown,
}

/// Summarizes `ops[..start]` by its frontier and returns the window: `ops[start..]`
/// plus the prefix operations still in flight when the window starts.
fn frontier<'h, S: Spec>(
    spec: &S,
    ops: &[&'h SpecOperation<S>],
    base: &[Role],
    start: usize,
    path_states: u64,
    budget: &mut Budget,
) -> Frontier<'h, S> {
    // An operation of the prefix precedes the whole window if it returned before the
    // window's first invocation (operations are sorted by invocation); the others are
    // still in flight and may take effect before or inside the window.
    let window_begins = ops[start].invoked_at;
    let in_flight = |op: &SpecOperation<S>| op.returned_at.is_none_or(|r| r >= window_begins);
    let roles: Vec<Role> = ops[..start]
        .iter()
        .map(|op| {
            if in_flight(op) {
                Role::Open
            } else {
                Role::Required
            }
        })
        .collect();
    // Every true frontier configuration fails, so a subset found within a cap still
    // gives a window that fails from all its starts (and the result is verified on its
    // own at the end anyway). The cap leaves room for the path through the prefix that
    // the failed search took (`path_states`), and then some.
    let cap = path_states
        .saturating_mul(2)
        .saturating_add(FRONTIER_EXTRA_STATES);
    let prefix = &ops[..start];
    let configurations =
        match budget.search_capped(spec, prefix, &roles, &spec.init(), Mode::Frontier, cap) {
            Outcome::Frontier {
                configurations,
                complete,
            } => {
                if configurations.is_empty() {
                    return if complete {
                        Frontier::PrefixFails
                    } else {
                        Frontier::Unknown
                    };
                }
                configurations
            }
            _ => return Frontier::Unknown,
        };
    let index: Vec<usize> = (0..start)
        .filter(|&i| in_flight(ops[i]))
        .chain(start..ops.len())
        .collect();
    let mut position = vec![usize::MAX; start];
    for (w, &i) in index.iter().enumerate().take_while(|(_, i)| **i < start) {
        position[i] = w;
    }
    let starts = configurations
        .into_iter()
        .take(MAX_STARTS)
        .map(|(state, took_effect)| {
            let mut done = vec![false; index.len()];
            for i in took_effect {
                done[position[i]] = true;
            }
            Start { state, done }
        })
        .collect();
    Frontier::Window(Window {
        ops: index.iter().map(|&i| ops[i]).collect(),
        base: index.iter().map(|&i| base[i]).collect(),
        index,
        starts,
    })
}

/// Steps 3 and 4 on a window. Returns indices into the truncated history.
fn shrink_window<S: Spec>(spec: &S, window: &Window<'_, S>, budget: &mut Budget) -> Vec<usize> {
    let mut roles = core(spec, window, budget);
    let context = context(spec, window, &mut roles, budget);
    let mut chosen: Vec<usize> = (0..window.ops.len())
        .filter(|&i| roles[i] == Role::Required && window.ops[i].returned_at.is_some())
        .chain(context)
        .map(|i| window.index[i])
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

/// The fallback for violations that need a long prefix: the latest quiescent point at
/// least `CUT_WINDOW_OPS` before the end where every linearization of the prefix ends in
/// the same state. The rest fails from that state exactly when the whole fails.
fn shrink_after_cut<S: Spec>(
    spec: &S,
    ops: &[&SpecOperation<S>],
    base: &[Role],
    considered_len: usize,
    budget: &mut Budget,
) -> Option<Shrunk<S::State>> {
    if considered_len <= CUT_WINDOW_OPS {
        return None;
    }
    // Quiescent points: every earlier operation returned before the next is invoked. A
    // pending operation is in flight forever, so no point after it qualifies.
    let mut cuts = Vec::new();
    let mut latest_return = 0;
    for k in 1..=considered_len - CUT_WINDOW_OPS {
        let Some(returned_at) = ops[k - 1].returned_at else {
            break;
        };
        latest_return = latest_return.max(returned_at);
        if latest_return < ops[k].invoked_at {
            cuts.push((k, latest_return));
        }
    }
    // Walk the segments between cuts, carrying the set of states reachable so far.
    let mut states = vec![spec.init()];
    let mut seen = HashSet::new();
    let mut best = None;
    let mut from = 0;
    let required = vec![Role::Required; ops.len()];
    for (k, returned_by) in cuts {
        let mut next = Vec::new();
        seen.clear();
        for state in &states {
            let segment = &ops[from..k];
            match budget.search(spec, segment, &required[from..k], state, Mode::Frontier) {
                // The cut's claim needs every final state.
                Outcome::Frontier {
                    configurations,
                    complete: true,
                } => {
                    for (end, _) in configurations {
                        if seen.insert(end.clone()) {
                            next.push(end);
                        }
                    }
                }
                _ => break,
            }
        }
        if budget.exhausted || next.is_empty() {
            break;
        }
        states = next;
        from = k;
        if let [state] = states.as_slice() {
            best = Some((k, state.clone(), returned_by));
        }
    }
    let (k, state, returned_by) = best?;
    let window = Window::<S> {
        ops: ops[k..].to_vec(),
        index: (k..ops.len()).collect(),
        base: base[k..].to_vec(),
        starts: vec![Start {
            state,
            done: vec![false; ops.len() - k],
        }],
    };
    // The theory says the window fails from this state; check it, as a cut that lost the
    // violation would produce a wrong counterexample.
    let all: Vec<usize> = (0..window.ops.len()).collect();
    if !matches!(
        window.solve(spec, budget, &all, &base[k..]),
        Verdict::NonLinearizable
    ) {
        return None;
    }
    let chosen = shrink_window(spec, &window, budget);
    let minimal = !budget.exhausted;
    // If the chosen operations fail from the initial state too, they read better
    // without the prefix.
    let init = spec.init();
    let standalone = !budget.exhausted && fails_alone(spec, ops, &chosen, None, &init, budget);
    let Start { state, .. } = window.starts.into_iter().next()?;
    Some(Shrunk {
        operations: chosen,
        initial_state: if standalone { init } else { state },
        prefix_len: if standalone { 0 } else { k },
        prefix_returned_by: if standalone { 0 } else { returned_by },
        minimal,
    })
}

/// Step 3: relaxes as many operations as possible while the window stays
/// non-linearizable. Returns the roles; the required completed ones are the core.
fn core<S: Spec>(spec: &S, window: &Window<'_, S>, budget: &mut Budget) -> Vec<Role> {
    // Pending operations are optional by nature, and the operations kept only as
    // possible explanations start out optional.
    let mut roles = window.base.clone();
    let all: Vec<usize> = (0..window.ops.len()).collect();
    let mut groups = VecDeque::from([(0, window.ops.len())]);
    while let Some((from, to)) = groups.pop_front() {
        let members: Vec<usize> = (from..to).filter(|&i| roles[i] == Role::Required).collect();
        if members.is_empty() {
            continue;
        }
        for &i in &members {
            roles[i] = Role::Optional;
        }
        if let Verdict::NonLinearizable = window.solve(spec, budget, &all, &roles) {
            continue;
        }
        for &i in &members {
            roles[i] = Role::Required;
        }
        if budget.exhausted {
            break;
        }
        if members.len() > 1 {
            let middle = from + (to - from) / 2;
            groups.push_front((middle, to));
            groups.push_front((from, middle));
        }
    }
    roles
}

/// Step 4: the relaxed operations that the core's witnesses need. Returns window
/// indices.
fn context<S: Spec>(
    spec: &S,
    window: &Window<'_, S>,
    roles: &mut [Role],
    budget: &mut Budget,
) -> BTreeSet<usize> {
    let core: Vec<usize> = (0..window.ops.len())
        .filter(|&i| roles[i] == Role::Required && window.ops[i].returned_at.is_some())
        .collect();
    let all: Vec<usize> = (0..window.ops.len()).collect();
    // witnesses[c]: a linearization of the window with core[c] relaxed.
    let mut witnesses: Vec<Option<Vec<usize>>> = Vec::with_capacity(core.len());
    for &x in &core {
        roles[x] = Role::Optional;
        let witness = match window.solve(spec, budget, &all, roles) {
            Verdict::Linearizable(order) => Some(order),
            Verdict::NonLinearizable | Verdict::Unknown => None,
        };
        roles[x] = Role::Required;
        witnesses.push(witness);
    }
    let is_core = |i: usize| core.binary_search(&i).is_ok();
    let mut context: BTreeSet<usize> = witnesses
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|&i| !is_core(i))
        .collect();

    // Drop context operations that no witness needs: re-search each affected witness on
    // the core and the remaining context alone.
    let candidates: Vec<usize> = context.iter().copied().collect();
    for q in candidates {
        if budget.exhausted {
            break;
        }
        let members: Vec<usize> = core
            .iter()
            .copied()
            .chain(context.iter().copied().filter(|&i| i != q))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut replacements = Vec::new();
        let mut needed = false;
        for (c, witness) in witnesses.iter().enumerate() {
            if !witness.as_ref().is_some_and(|w| w.contains(&q)) {
                continue;
            }
            roles[core[c]] = Role::Optional;
            let verdict = window.solve(spec, budget, &members, roles);
            roles[core[c]] = Role::Required;
            match verdict {
                Verdict::Linearizable(order) => replacements.push((c, order)),
                Verdict::NonLinearizable | Verdict::Unknown => {
                    needed = true;
                    break;
                }
            }
        }
        if !needed {
            context.remove(&q);
            for (c, witness) in replacements {
                witnesses[c] = Some(witness);
            }
        }
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;
    use crate::spec::{Register, RegisterInput, RegisterOutput};

    fn generate(
        seed: u64,
        n: usize,
        clients: u64,
    ) -> History<RegisterInput<u32>, RegisterOutput<u32>> {
        let mut x = seed;
        let mut rnd = |m: u64| {
            x = crate::rng::splitmix64(x);
            x % m
        };
        let mut planned = Vec::new();
        let mut next_value = 0u32;
        for client in 0..clients {
            let mut now = rnd(4);
            for _ in 0..n / clients as usize {
                let invoked_at = now + rnd(3);
                let point = invoked_at + rnd(5);
                let returned_at = point + rnd(5);
                let input = if rnd(2) == 0 {
                    RegisterInput::Read
                } else {
                    next_value += 1;
                    RegisterInput::Write(next_value)
                };
                planned.push((point, client, input, invoked_at, returned_at));
                now = returned_at + 1;
            }
        }
        planned.sort_by_key(|p| (p.0, p.1));
        let mut value = 0;
        let mut ops = Vec::new();
        for (_, client, input, invoked_at, returned_at) in planned {
            let output = match &input {
                RegisterInput::Read => RegisterOutput::Value(value),
                RegisterInput::Write(v) => {
                    value = *v;
                    RegisterOutput::Written
                }
                _ => unreachable!(),
            };
            ops.push(Operation {
                client,
                input,
                output: Some(output),
                invoked_at,
                returned_at: Some(returned_at),
            });
        }
        ops.sort_by_key(|op| (op.invoked_at, op.client));
        let mut h = History::new();
        for op in ops {
            h.push(op).unwrap();
        }
        h
    }

    #[test]
    fn frontier_is_exact() {
        // Every window the frontier search cuts out of a linearizable history, from the
        // complete set of prefix configurations, is itself linearizable: cutting never
        // invents a violation.
        let spec = Register::new(0u32);
        for seed in 0..200 {
            let h = generate(seed, 300, 5);
            let ops: Vec<_> = h.operations().iter().collect();
            for start in [10usize, 50, 100, 150, 200, 250, 290] {
                let mut budget = Budget {
                    remaining: u64::MAX,
                    per_search: u64::MAX,
                    exhausted: false,
                };
                let base = vec![Role::Required; ops.len()];
                let Frontier::Window(window) =
                    frontier(&spec, &ops, &base, start, u64::MAX / 4, &mut budget)
                else {
                    panic!("seed {seed} start {start}: no frontier");
                };
                if window.starts.len() == MAX_STARTS {
                    // Truncated to MAX_STARTS configurations: the window is then only
                    // a candidate, which `shrink` re-verifies on its own.
                    continue;
                }
                let all: Vec<usize> = (0..window.ops.len()).collect();
                let roles = vec![Role::Required; window.ops.len()];
                match window.solve(&spec, &mut budget, &all, &roles) {
                    Verdict::Linearizable(_) => {}
                    _ => panic!(
                        "seed {seed} start {start}: window not linearizable; starts={}",
                        window.starts.len()
                    ),
                }
            }
        }
    }
}
