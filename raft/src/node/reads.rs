//! How a [`RaftNode`] serves linearizable reads (thesis §6.4): ReadIndex at the
//! leader, reads forwarded from followers, and lease reads (§6.4.1). The bookkeeping
//! lives in [`crate::read`]; this module wires it to the node's roles and messages.

use super::{Event, Out, RaftNode, Role};
use crate::read::{Origin, PendingRead};
use crate::{LogIndex, LogStorage, Message, ReadError, ReadSeq};
use bytes::Bytes;
use synod_core::NodeId;
use synod_quorum::{QuorumKind, QuorumSystem};

impl<S: LogStorage> RaftNode<S> {
    /// Ask for a linearizable read (thesis §6.4). `ctx` is the application's own
    /// identification of the read, handed back in [`Event::ReadReady`]`{ ctx, index }`
    /// once this node has applied through `index`: the application then answers the
    /// read from its state machine and the answer is linearizable. A read that cannot
    /// be served any more ends with [`Event::ReadFailed`]; it is never answered late.
    ///
    /// - On the leader: the read index is its commit index (once it has committed an
    ///   entry of its own term), confirmed by a heartbeat round a quorum acknowledges;
    ///   reads arriving together share one round. With [`Config::lease_read`] the round
    ///   is skipped while the leader's lease holds (§6.4.1).
    /// - On a follower that knows its leader: the read is forwarded to the leader, which
    ///   answers with a read index; the follower serves it once it has applied that far.
    ///   A follower matches answers to reads by `ctx`, so `ctx` should be unique across
    ///   restarts of the node (a client id and request number, say).
    /// - Otherwise: [`ReadError::NotLeader`].
    ///
    /// A read not ready within two election timeouts fails with
    /// [`ReadError::TimedOut`]. [`Request::Read`](crate::Request::Read) does the same
    /// through [`Node::step`](synod_core::Node::step), with a refusal emitted as
    /// [`Event::ReadFailed`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use synod_core::{Action, Actions, Input, Node, NodeId};
    /// use synod_raft::{Config, Event, MemStorage, RaftNode, ReadError, Role};
    ///
    /// // Without a known leader a follower refuses.
    /// let config = Config::new(NodeId(2), [1, 2, 3].map(NodeId));
    /// let mut follower = RaftNode::new(config, MemStorage::new())?;
    /// let mut out = Actions::new();
    /// let refused = follower.read(Bytes::from_static(b"r1"), &mut out);
    /// assert_eq!(refused, Err(ReadError::NotLeader { leader: None }));
    ///
    /// // A single-voter leader confirms leadership by itself; the read is ready once
    /// // the no-op of its term is committed and applied.
    /// let mut leader = RaftNode::new(Config::new(NodeId(1), [NodeId(1)]), MemStorage::new())?;
    /// while leader.role() != Role::Leader {
    ///     leader.step(Input::Tick, &mut out);
    /// }
    /// leader.read(Bytes::from_static(b"r2"), &mut out)?;
    /// for token in out.drain().filter_map(|a| match a {
    ///     Action::PersistInBackground { token, .. } => Some(token),
    ///     _ => None,
    /// }).collect::<Vec<_>>() {
    ///     leader.step(Input::Persisted(token), &mut out);
    /// }
    /// assert!(out.as_slice().iter().any(|a| matches!(
    ///     a,
    ///     Action::Emit(Event::ReadReady { ctx, index }) if &ctx[..] == b"r2" && index.0 == 1
    /// )));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`Config::lease_read`]: crate::Config::lease_read
    pub fn read(&mut self, ctx: Bytes, out: &mut Out) -> Result<(), ReadError> {
        self.check_read_owner(out);
        let max = self.config.max_pending_reads;
        if self.reads.pending.len() >= max {
            return Err(ReadError::TooManyPending { max });
        }
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.accept_leader_read(ctx, Origin::Local, out);
                Ok(())
            }
            (Role::Follower, Some(leader)) => {
                let expires_at = self.read_deadline();
                self.reads.pending.push_back(PendingRead {
                    ctx: ctx.clone(),
                    origin: Origin::Local,
                    index: None,
                    round: 0,
                    expires_at,
                });
                out.send(
                    leader,
                    Message::ReadIndexRequest {
                        term: self.term,
                        ctx,
                    },
                );
                Ok(())
            }
            (_, leader) => Err(ReadError::NotLeader { leader }),
        }
    }

    /// Reads time out after two election timeouts: long enough for a few lost rounds
    /// to be retried, short enough for a client to move on to another node.
    fn read_deadline(&self) -> u64 {
        self.reads
            .now
            .saturating_add(self.config.election_ticks.get().saturating_mul(2))
    }

    /// The read index the leader can offer now: its commit index, but only once it has
    /// committed an entry of its own term — before that its commit index may lag
    /// entries its predecessors committed (thesis §6.4, step 1).
    fn leader_read_index(&self) -> Option<LogIndex> {
        let committed = self.log.committed;
        (self.role == Role::Leader && self.log.term(committed) == Some(self.term))
            .then_some(committed)
    }

    fn accept_leader_read(&mut self, ctx: Bytes, origin: Origin, out: &mut Out) {
        let index = self.leader_read_index();
        let expires_at = self.read_deadline();
        let lease = self.config.lease_read
            && index.is_some()
            && self.reads.lease_holds(
                self.config.election_ticks.get(),
                self.config.lease_drift_ticks.get(),
            );
        if lease {
            // Thesis §6.4.1: no other leader can exist while the lease holds, so the
            // commit index is current without a round.
            let round = self.reads.confirmed;
            self.reads.pending.push_back(PendingRead {
                ctx,
                origin,
                index,
                round,
                expires_at,
            });
            return;
        }
        // The read needs a round sent after it arrived: the next one.
        let round = self.reads.last_sent + 1;
        self.reads.pending.push_back(PendingRead {
            ctx,
            origin,
            index,
            round,
            expires_at,
        });
        if self.reads.last_sent == self.reads.confirmed {
            self.send_read_round(out); // none in flight: start one now
        }
        // Otherwise the read waits for the round in flight to be confirmed (batching).
    }

    /// Send a numbered heartbeat round to every follower (thesis §6.4, step 3).
    fn send_read_round(&mut self, out: &mut Out) {
        let seq = ReadSeq(self.reads.start_round());
        for (id, _) in &self.progress {
            out.send(
                *id,
                Message::ReadHeartbeat {
                    term: self.term,
                    seq,
                },
            );
        }
        self.update_read_confirmation(out);
    }

    /// Confirm the highest round a quorum acknowledged, counted with the same quorum
    /// arithmetic as votes and commits; reads that arrived during the round just
    /// confirmed get the next one.
    fn update_read_confirmation(&mut self, out: &mut Out) {
        let me = self.config.id;
        let reads = &self.reads;
        let Some(round) = self.voters.committed_value(QuorumKind::Write, |id| {
            Some(if id == me {
                reads.last_sent
            } else {
                reads.acked_by(id)
            })
        }) else {
            return;
        };
        if round > self.reads.confirmed {
            self.reads.confirm(round);
            if self.reads.wants_round() {
                self.send_read_round(out);
            }
        }
    }

    /// Fail every pending read if the term, role or leader it was accepted under has
    /// changed: a deposed leader's reads must never be answered later as if valid.
    fn check_read_owner(&mut self, out: &mut Out) {
        let owner = Some((self.term, self.role, self.leader));
        if self.reads.owner == owner {
            return;
        }
        self.reads.owner = owner;
        self.reads.reset_rounds();
        for read in self.reads.pending.drain(..) {
            if read.origin == Origin::Local {
                out.emit(Event::ReadFailed {
                    ctx: read.ctx,
                    error: ReadError::LeaderChanged,
                });
            }
            // A forwarding follower gives up on its own: it times out, or its leader
            // changes and its own check fails the read.
        }
    }

    /// After every input: fail reads whose owner changed or whose time ran out, start
    /// a round on heartbeats when reads (or the lease) need one, and serve what is
    /// ready.
    pub(super) fn after_step_reads(&mut self, ticked: bool, out: &mut Out) {
        if ticked {
            self.reads.now += 1;
        }
        self.check_read_owner(out);
        let leading = self.role == Role::Leader;
        if leading && ticked && self.heartbeat_elapsed == synod_core::Ticks::ZERO {
            // A heartbeat went out this tick: retry an unconfirmed round (messages may
            // be lost), and with leases keep the lease fresh.
            if self.reads.awaits_confirmation() || self.config.lease_read {
                self.send_read_round(out);
            }
        }
        if self.reads.pending.is_empty() {
            return;
        }
        let index_now = self.leader_read_index();
        let (now, confirmed, applied, term) = (
            self.reads.now,
            self.reads.confirmed,
            self.log.applied,
            self.term,
        );
        let mut i = 0;
        while i < self.reads.pending.len() {
            let read = &mut self.reads.pending[i];
            if read.index.is_none() && leading {
                read.index = index_now;
            }
            let ready = read.round <= confirmed
                && read.index.is_some_and(|index| {
                    // A forwarding follower applies by itself; a local read waits for
                    // this node's state machine.
                    matches!(read.origin, Origin::Forwarded(_)) || applied >= index
                });
            let expired = now >= read.expires_at;
            if !ready && !expired {
                i += 1;
                continue;
            }
            let Some(read) = self.reads.pending.remove(i) else {
                break;
            };
            match (read.origin, read.index) {
                (Origin::Local, Some(index)) if ready => out.emit(Event::ReadReady {
                    ctx: read.ctx,
                    index,
                }),
                (Origin::Forwarded(to), Some(index)) if ready => out.send(
                    to,
                    Message::ReadIndexResponse {
                        term,
                        ctx: read.ctx,
                        index,
                    },
                ),
                (Origin::Local, _) => out.emit(Event::ReadFailed {
                    ctx: read.ctx,
                    error: ReadError::TimedOut,
                }),
                (Origin::Forwarded(_), _) => {}
            }
        }
    }

    /// A follower acknowledges its leader's round (and treats it as a heartbeat: it
    /// heard from the leader, so it will not vote for an election timeout — the fact
    /// lease reads rest on).
    pub(super) fn handle_read_heartbeat(&mut self, from: NodeId, seq: ReadSeq, out: &mut Out) {
        if self.role == Role::Leader {
            return; // two leaders in one term cannot happen (§5.2); ignore
        }
        self.election.reset();
        self.reads.leader_heard_at = Some(self.reads.now);
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from), out);
        }
        out.send(
            from,
            Message::ReadHeartbeatResponse {
                term: self.term,
                seq,
            },
        );
    }

    pub(super) fn handle_read_heartbeat_response(
        &mut self,
        from: NodeId,
        seq: ReadSeq,
        out: &mut Out,
    ) {
        if self.role != Role::Leader {
            return;
        }
        self.check_read_owner(out);
        // Only members the leader tracks: the acknowledgement table stays bounded by
        // the configuration whatever ids peers claim.
        let Some((_, pr)) = self.progress.iter_mut().find(|(id, _)| *id == from) else {
            return;
        };
        pr.recent_active = true;
        if self.reads.record_ack(from, seq.0) {
            self.update_read_confirmation(out);
        }
    }

    /// The leader takes a follower's read like its own and answers with the read
    /// index once confirmed. Refused silently when not leading or when the queue is
    /// full: the follower's read times out and its client retries.
    pub(super) fn handle_read_index_request(&mut self, from: NodeId, ctx: Bytes, out: &mut Out) {
        if self.role != Role::Leader {
            return;
        }
        self.check_read_owner(out);
        if self.reads.pending.len() >= self.config.max_pending_reads {
            return;
        }
        self.accept_leader_read(ctx, Origin::Forwarded(from), out);
    }

    /// A follower learns the read index of its forwarded reads with this `ctx`.
    /// Answers from anyone but the current leader, or for reads no longer pending
    /// (duplicates, answers after a restart), are ignored.
    pub(super) fn handle_read_index_response(
        &mut self,
        from: NodeId,
        ctx: Bytes,
        index: LogIndex,
        out: &mut Out,
    ) {
        if self.role != Role::Follower || self.leader != Some(from) {
            return;
        }
        self.check_read_owner(out);
        for read in &mut self.reads.pending {
            if read.index.is_none() && read.origin == Origin::Local && read.ctx == ctx {
                read.index = Some(index);
            }
        }
    }
}
