//! Cristian's algorithm (Cristian 1989): ask a time server, assume the reply took
//! half the round trip.

use super::{LocalClock, SyncError, clamp, drift_allowance};
use synod_core::{Actions, Input, Node, NodeId};

/// One request/reply exchange with a time server, in local-clock readings except
/// `server_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CristianSample {
    /// Local clock when the request left.
    pub request_sent: i64,
    /// The server's clock when it answered.
    pub server_time: i64,
    /// Local clock when the reply arrived.
    pub reply_received: i64,
}

/// What one exchange (or the best of several) says about the local clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CristianEstimate {
    /// Add this to the local clock to read the server's.
    pub offset: i64,
    /// The true offset is within `offset ± error` (half the round trip, rounded up,
    /// plus the clocks' granularity if the caller adds it).
    pub error: i64,
    /// The measured round trip.
    pub round_trip: i64,
}

impl CristianSample {
    /// The estimate: the server's time now is `server_time + rtt/2`, give or take
    /// `rtt/2`, whatever the split between the two directions.
    ///
    /// ```
    /// use synod_clocks::sync::CristianSample;
    /// // The course notes' example: the reply says 8:01.000 after a 1.01 s round trip.
    /// let s = CristianSample { request_sent: 0, server_time: 481_000, reply_received: 1_010 };
    /// let e = s.estimate()?;
    /// assert_eq!(e.offset + 1_010, 481_505); // set the clock to 8:01.505
    /// assert_eq!(e.error, 505);
    /// # Ok::<(), synod_clocks::sync::SyncError>(())
    /// ```
    ///
    /// # Errors
    /// [`SyncError::NegativeRoundTrip`] if the reply arrived "before" the request.
    pub fn estimate(&self) -> Result<CristianEstimate, SyncError> {
        let rtt = i128::from(self.reply_received) - i128::from(self.request_sent);
        if rtt < 0 {
            return Err(SyncError::NegativeRoundTrip);
        }
        let half_down = rtt / 2;
        let half_up = (rtt + 1) / 2;
        let offset = i128::from(self.server_time) + half_down - i128::from(self.reply_received);
        Ok(CristianEstimate {
            offset: clamp(offset),
            error: clamp(half_up),
            round_trip: clamp(rtt),
        })
    }

    /// The estimate with the smallest error among `samples` (Cristian's refinement:
    /// repeat the exchange and trust the fastest). Invalid samples are skipped.
    pub fn best(samples: &[CristianSample]) -> Option<CristianEstimate> {
        samples
            .iter()
            .filter_map(|s| s.estimate().ok())
            .min_by_key(|e| e.error)
    }
}

/// Settings of a Cristian client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CristianConfig {
    /// The time server.
    pub server: NodeId,
    /// Start a round every this many ticks.
    pub poll_every_ticks: u64,
    /// Requests per round; the fastest reply wins.
    pub probes: u64,
    /// Reading granularity of the two clocks together (one tick of each), added to
    /// the error bound because a reading can lag its clock by up to one tick.
    pub granularity: i64,
    /// Largest relative rate difference between client and server clocks, in parts
    /// per million; the error bound grows by this much per unit of elapsed time.
    pub max_drift_ppm: i64,
}

/// Messages between Cristian clients and the time server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CristianMessage {
    /// "What time is it?"
    Request {
        /// Matches the reply to the request.
        probe: u64,
    },
    /// "It is `time`."
    Reply {
        /// The request's probe number.
        probe: u64,
        /// The server's clock.
        time: i64,
    },
}

/// What a Cristian client reports after each round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adjusted {
    /// The correction applied to the local clock.
    pub delta: i64,
    /// The error bound right after it.
    pub error_bound: i64,
}

#[derive(Clone, Debug)]
enum Role {
    Server,
    Client {
        config: CristianConfig,
        /// Probe numbers are `round * probes + k`; only the current round counts.
        round: u64,
        sent_at: Vec<i64>,
        samples: Vec<CristianSample>,
        /// The estimate applied last and the reading when it was applied.
        synced: Option<(CristianEstimate, i64)>,
    },
}

/// A node running Cristian's algorithm on the step-function contract: a time server,
/// or a client that polls it every `poll_every_ticks` ticks with `probes` requests,
/// and at the end of the round steps its [`LocalClock`] by the best estimate.
///
/// The client states its own error bound ([`error_bound`](Self::error_bound)): the
/// best round trip's half, plus granularity, plus drift since the round. Tests check
/// on the simulator that the true error never exceeds it.
///
/// Driving a client and its server by hand (the simulator does the same with
/// delays, loss and drift):
///
/// ```
/// use synod_clocks::sync::{CristianConfig, CristianMessage, CristianNode, LocalClock};
/// use synod_core::{Action, Actions, Input, Node, NodeId};
///
/// let (server_id, client_id) = (NodeId(0), NodeId(1));
/// let config = CristianConfig {
///     server: server_id, poll_every_ticks: 5, probes: 1, granularity: 20, max_drift_ppm: 0,
/// };
/// let mut server = CristianNode::server(server_id, LocalClock::new(10, 10_000));
/// let mut client = CristianNode::client(client_id, LocalClock::new(10, 0), config);
/// let (mut to_server, mut to_client) = (Actions::new(), Actions::new());
/// for _ in 0..5 {
///     server.step(Input::Tick, &mut to_client);
///     client.step(Input::Tick, &mut to_server);   // the fifth tick starts a round
/// }
/// for action in to_server.drain() {
///     if let Action::Send { msg, .. } = action {
///         server.step(Input::Message { from: client_id, msg }, &mut to_client);
///     }
/// }
/// let mut out = Actions::new();
/// for action in to_client.drain() {
///     if let Action::Send { msg, .. } = action {
///         client.step(Input::Message { from: server_id, msg }, &mut out);
///     }
/// }
/// // The reply arrived within the same tick: the client now reads the server's time.
/// assert_eq!(client.clock().read(), server.clock().read());
/// assert_eq!(client.error_bound(), Some(40)); // RTT/2 = 0, plus 2 × granularity
/// ```
#[derive(Clone, Debug)]
pub struct CristianNode {
    id: NodeId,
    clock: LocalClock,
    role: Role,
}

impl CristianNode {
    /// The time server, whose clock is the reference.
    pub fn server(id: NodeId, clock: LocalClock) -> Self {
        CristianNode {
            id,
            clock,
            role: Role::Server,
        }
    }

    /// A client.
    pub fn client(id: NodeId, clock: LocalClock, config: CristianConfig) -> Self {
        let probes = config.probes.max(1) as usize;
        CristianNode {
            id,
            clock,
            role: Role::Client {
                config,
                round: 0,
                sent_at: Vec::with_capacity(probes),
                samples: Vec::with_capacity(probes),
                synced: None,
            },
        }
    }

    /// The local clock.
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    /// For a client that has synchronized: the bound it promises on
    /// |its clock − the server's clock| right now.
    pub fn error_bound(&self) -> Option<i64> {
        let Role::Client { config, synced, .. } = &self.role else {
            return Some(0);
        };
        let (estimate, at) = (*synced)?;
        let since = i128::from(self.clock.read()) - i128::from(at);
        let drift_window = i128::from(estimate.round_trip) + i128::from(config.granularity) + since;
        let drift = drift_allowance(drift_window, config.max_drift_ppm);
        Some(clamp(
            i128::from(estimate.error) + 2 * i128::from(config.granularity) + drift,
        ))
    }

    fn finish_round(&mut self, out: &mut Actions<CristianMessage, (), Adjusted>) {
        let Role::Client {
            samples, synced, ..
        } = &mut self.role
        else {
            return;
        };
        // The best sample and when (local reading) it was taken: drift since then
        // counts against the bound, even if the round is settled later.
        let Some((best, taken_at)) = samples
            .iter()
            .filter_map(|s| s.estimate().ok().map(|e| (e, s.reply_received)))
            .min_by_key(|(e, _)| e.error)
        else {
            return;
        };
        samples.clear();
        self.clock.adjust(best.offset);
        *synced = Some((best, taken_at.saturating_add(best.offset)));
        let error_bound = self.error_bound().unwrap_or(i64::MAX);
        out.emit(Adjusted {
            delta: best.offset,
            error_bound,
        });
    }
}

impl Node for CristianNode {
    type Message = CristianMessage;
    type Request = ();
    type Persist = ();
    type Event = Adjusted;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(
        &mut self,
        input: Input<CristianMessage, ()>,
        out: &mut Actions<CristianMessage, (), Adjusted>,
    ) {
        match input {
            Input::Tick => {
                self.clock.tick();
                let start = match &self.role {
                    Role::Client { config, .. } => self.clock.every(config.poll_every_ticks),
                    Role::Server => false,
                };
                if start {
                    // A new round: settle the previous one with what arrived.
                    self.finish_round(out);
                    // Read after settling: the round may just have stepped the clock,
                    // and the new requests' send times must be on the new scale.
                    let now = self.clock.read();
                    if let Role::Client {
                        config,
                        round,
                        sent_at,
                        ..
                    } = &mut self.role
                    {
                        *round += 1;
                        sent_at.clear();
                        let probes = config.probes.max(1);
                        for k in 0..probes {
                            sent_at.push(now);
                            out.send(
                                config.server,
                                CristianMessage::Request {
                                    probe: round.saturating_mul(probes).saturating_add(k),
                                },
                            );
                        }
                    }
                }
            }
            Input::Message { from, msg } => match (&mut self.role, msg) {
                (Role::Server, CristianMessage::Request { probe }) => {
                    out.send(
                        from,
                        CristianMessage::Reply {
                            probe,
                            time: self.clock.read(),
                        },
                    );
                }
                (
                    Role::Client {
                        config,
                        round,
                        sent_at,
                        samples,
                        ..
                    },
                    CristianMessage::Reply { probe, time },
                ) if from == config.server => {
                    let probes = config.probes.max(1);
                    // Only replies of the current round, each at most once
                    // (duplicates and stragglers from old rounds are ignored).
                    let first = round.saturating_mul(probes);
                    if probe < first || probe - first >= probes {
                        return;
                    }
                    let k = (probe - first) as usize;
                    if let Some(sent) = sent_at.get_mut(k)
                        && *sent != i64::MIN
                    {
                        samples.push(CristianSample {
                            request_sent: *sent,
                            server_time: time,
                            reply_received: self.clock.read(),
                        });
                        *sent = i64::MIN;
                    }
                    if samples.len() as u64 == probes {
                        self.finish_round(out);
                    }
                }
                // Anything else (a reply to a server, a request to a client, a
                // reply from a stranger) is ignored.
                _ => {}
            },
            Input::Request(()) | Input::Persisted(_) => {}
        }
    }
}
