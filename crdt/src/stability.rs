//! Causal stability: which dots every replica has seen, so tombstones for them can be
//! pruned, and replica retirement.
//!
//! A dot is *causally stable* at a replica when every update concurrent with it has
//! already been delivered there: then no update that could still arrive is concurrent
//! with it, and metadata kept only to order it against concurrent updates (a
//! remove-wins token, say) can go. Each member reports the version vector of what it
//! has seen (as part of its state, so everything it saw it also sent). A dot is stable
//! locally when every member's report contains it **and** the local replica has seen
//! everything any report contains — the second half matters: an add some replica
//! made before it saw a remove is covered by that replica's report, and must have
//! arrived here before the remove's token may be dropped.

use crate::InvalidState;
use std::collections::BTreeMap;
use synod_clocks::VersionVector;
use synod_core::NodeId;

/// What each member has reported seeing.
///
/// ```
/// use synod_crdt::stability::Stability;
/// use synod_clocks::VersionVector;
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut s = Stability::new([a, b]);
/// s.observe(a, &VersionVector::from_entries([(a, 2)]))?;
/// s.observe(b, &VersionVector::from_entries([(a, 1), (b, 1)]))?;
/// // Locally we have seen a:2 but not b:1, so nothing is stable yet.
/// assert!(s.stable(&VersionVector::from_entries([(a, 2)])).is_none());
/// let stable = s.stable(&VersionVector::from_entries([(a, 2), (b, 1)])).unwrap();
/// assert_eq!(stable, VersionVector::from_entries([(a, 1)]));
/// # Ok::<(), synod_crdt::InvalidState>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stability {
    reports: BTreeMap<NodeId, VersionVector>,
    /// Retired members and their final reports.
    retired: BTreeMap<NodeId, VersionVector>,
}

impl Stability {
    /// Tracking for `members`, none of which has reported yet (so nothing is stable).
    pub fn new(members: impl IntoIterator<Item = NodeId>) -> Self {
        Stability {
            reports: members
                .into_iter()
                .map(|m| (m, VersionVector::new()))
                .collect(),
            retired: BTreeMap::new(),
        }
    }

    /// Record that `member` has seen `seen` (reports only grow: they are joined).
    ///
    /// # Errors
    /// [`InvalidState::Retired`] for a retired member; [`InvalidState::UnknownReplica`]
    /// for a replica that is not a member. Nothing changes.
    pub fn observe(&mut self, member: NodeId, seen: &VersionVector) -> Result<(), InvalidState> {
        if self.retired.contains_key(&member) {
            return Err(InvalidState::Retired(member));
        }
        let report = self
            .reports
            .get_mut(&member)
            .ok_or(InvalidState::UnknownReplica(member))?;
        report.join(seen);
        Ok(())
    }

    /// The causally stable dots given what the local replica has seen (`local`), as a
    /// version vector: the pointwise minimum of all reports. `None` while `local` has
    /// not seen everything some report contains (see the module docs for why).
    pub fn stable(&self, local: &VersionVector) -> Option<VersionVector> {
        let mut all = VersionVector::new();
        // A retired member's last updates count too: one of them may be concurrent
        // with a dot the remaining members have all seen.
        for report in self.reports.values().chain(self.retired.values()) {
            all.join(report);
        }
        if !local.descends(&all) {
            return None;
        }
        let meet = all.iter().filter_map(|(replica, _)| {
            let min = self.reports.values().map(|r| r.get(replica)).min()?;
            (min > 0).then_some((replica, min))
        });
        Some(VersionVector::from_entries(meet))
    }

    /// Retire `member`, which has stopped updating; `last` covers everything it did
    /// (at least its own dots). It no longer holds stability back, later reports from
    /// it are refused, and nothing is stable here until the local replica has seen
    /// all of `last` (an update it made concurrently with a remove may still be on
    /// its way).
    pub fn retire(&mut self, member: NodeId, last: &VersionVector) {
        let mut final_report = self.reports.remove(&member).unwrap_or_default();
        final_report.join(last);
        self.retired.insert(member, final_report);
    }

    /// Whether `member` has been retired.
    pub fn is_retired(&self, member: NodeId) -> bool {
        self.retired.contains_key(&member)
    }
}
