//! An NTP-style client on the step-function contract: poll several servers, keep a
//! clock filter per server, choose truechimers with the intersection algorithm and
//! step the clock to the middle of the interval they agree on.

use super::{ClockFilter, Interval, LocalClock, NtpSample, clamp, drift_allowance, intersection};
use synod_core::{Actions, Input, Node, NodeId};

/// Settings of an [`NtpNode`] client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtpConfig {
    /// The servers polled.
    pub servers: Vec<NodeId>,
    /// Poll every server (and select) every this many ticks.
    pub poll_every_ticks: u64,
    /// Samples kept per server (NTP keeps 8).
    pub filter_size: usize,
    /// How far a server's clock may be from true time, by its own account (NTP's
    /// root dispersion), added to every interval from it.
    pub server_error: i64,
    /// Reading granularity of client and server together (one tick of each).
    pub granularity: i64,
    /// Largest rate difference between clocks, parts per million: a sample's interval
    /// widens by this much of its age, as NTP's dispersion grows.
    pub max_drift_ppm: i64,
    /// Step the clock only if at least this many servers survive selection (NTP's
    /// `minsane`): a lone server cannot be told from a falseticker.
    pub min_truechimers: usize,
}

/// Messages of the NTP-style exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum NtpMessage {
    /// Client → server, carrying the client's transmit time T1.
    Request {
        /// T1 (client clock).
        origin: i64,
    },
    /// Server → client.
    Response {
        /// T1, echoed: matches the response to the request and bounds replays.
        origin: i64,
        /// T2: server clock at receipt.
        receive: i64,
        /// T3: server clock at transmit.
        transmit: i64,
    },
}

/// What a client reports after each selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// Servers whose intervals meet the agreed interval.
    pub truechimers: Vec<NodeId>,
    /// The rest.
    pub falsetickers: Vec<NodeId>,
    /// The correction applied.
    pub delta: i64,
    /// The claimed error bound right after it.
    pub error_bound: i64,
}

#[derive(Clone, Debug)]
struct Peer {
    id: NodeId,
    filter: ClockFilter,
    /// T1 of the request in flight, if any.
    outstanding: Option<i64>,
}

#[derive(Clone, Debug)]
enum Role {
    Server,
    Client {
        config: NtpConfig,
        peers: Vec<Peer>,
        /// Half-width of the last selection and the reading it was made at.
        synced: Option<(i64, i64)>,
    },
}

/// A time server or an NTP-style client (RFC 5905 in miniature: on-wire protocol,
/// clock filter, intersection algorithm; no clustering, no frequency discipline).
///
/// Each round the client turns every server's best recent sample into a correctness
/// interval θ ± (δ/2 + server error + granularity + drift since the sample), runs
/// [`intersection`] to find the truechimers, and steps its [`LocalClock`] to the
/// middle of their common interval. It claims half that interval's width (plus
/// granularity and drift since) as its error bound; the simulator tests check the
/// claim against a true clock, with a falseticker among the servers.
///
/// ```
/// use synod_clocks::sync::{LocalClock, NtpConfig, NtpNode};
/// use synod_core::{Action, Actions, Input, Node, NodeId};
///
/// let servers = [NodeId(1), NodeId(2), NodeId(3)];
/// let config = NtpConfig {
///     servers: servers.to_vec(), poll_every_ticks: 1, filter_size: 8, server_error: 5,
///     granularity: 0, max_drift_ppm: 0, min_truechimers: 2,
/// };
/// let mut nodes = vec![
///     NtpNode::client(NodeId(0), LocalClock::new(10, -700), config),
///     NtpNode::server(servers[0], LocalClock::new(10, 0)),
///     NtpNode::server(servers[1], LocalClock::new(10, 4)),
///     NtpNode::server(servers[2], LocalClock::new(10, 90_000)), // a falseticker
/// ];
/// let mut events = Vec::new();
/// for _ in 0..2 {
///     // Everyone ticks, the client last (it selects from what it has, then polls);
///     // messages are delivered at once.
///     let mut queue: Vec<(NodeId, Input<_, ()>)> =
///         (0..4).map(|k| (NodeId(k), Input::Tick)).collect();
///     while let Some((at, input)) = queue.pop() {
///         let mut out = Actions::new();
///         nodes[at.0 as usize].step(input, &mut out);
///         for action in out.drain() {
///             match action {
///                 Action::Send { to, msg } => queue.insert(0, (to, Input::Message { from: at, msg })),
///                 Action::Emit(selected) => events.push(selected),
///                 _ => {}
///             }
///         }
///     }
/// }
/// assert_eq!(events[0].truechimers, [NodeId(1), NodeId(2)]);
/// assert_eq!(events[0].falsetickers, [NodeId(3)]);
/// let error = nodes[0].clock().read() - nodes[1].clock().read();
/// assert!(error.abs() <= nodes[0].error_bound().unwrap());
/// ```
#[derive(Clone, Debug)]
pub struct NtpNode {
    id: NodeId,
    clock: LocalClock,
    role: Role,
}

impl NtpNode {
    /// A server answering with its clock.
    pub fn server(id: NodeId, clock: LocalClock) -> Self {
        NtpNode {
            id,
            clock,
            role: Role::Server,
        }
    }

    /// A client.
    pub fn client(id: NodeId, clock: LocalClock, config: NtpConfig) -> Self {
        let peers = config
            .servers
            .iter()
            .map(|&id| Peer {
                id,
                filter: ClockFilter::new(config.filter_size),
                outstanding: None,
            })
            .collect();
        NtpNode {
            id,
            clock,
            role: Role::Client {
                config,
                peers,
                synced: None,
            },
        }
    }

    /// The local clock.
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    /// For a client that has selected: its bound on |its clock − true time| now.
    pub fn error_bound(&self) -> Option<i64> {
        let Role::Client { config, synced, .. } = &self.role else {
            return Some(0);
        };
        let (half_width, at) = (*synced)?;
        let since = i128::from(self.clock.read()) - i128::from(at);
        Some(clamp(
            i128::from(half_width)
                + i128::from(config.granularity)
                + drift(since, config.max_drift_ppm),
        ))
    }

    fn select(&mut self, out: &mut Actions<NtpMessage, (), Selected>) {
        let now = self.clock.read();
        let Role::Client {
            config,
            peers,
            synced,
        } = &mut self.role
        else {
            return;
        };
        let mut candidates: Vec<(NodeId, Interval)> = Vec::new();
        for peer in peers.iter() {
            // NTP's choice: the sample with the smallest synchronization distance,
            // half its delay plus the dispersion its age has accumulated.
            let radius = |(sample, arrived): (NtpSample, i64)| {
                let age = i128::from(now) - i128::from(arrived);
                (i128::from(sample.delay) + 1) / 2
                    + i128::from(config.server_error)
                    + i128::from(config.granularity)
                    + drift(age + i128::from(sample.delay), config.max_drift_ppm)
            };
            let Some((best, r)) = peer
                .filter
                .samples()
                .map(|s| (s.0, radius(s)))
                .min_by_key(|&(_, r)| r)
            else {
                continue;
            };
            let radius = u64::try_from(r.max(0)).unwrap_or(u64::MAX);
            candidates.push((peer.id, Interval::around(best.offset, radius)));
        }
        if candidates.is_empty() {
            return;
        }
        let intervals: Vec<Interval> = candidates.iter().map(|c| c.1).collect();
        let Some(selection) = intersection(&intervals) else {
            return; // no majority agrees: keep the clock as it is
        };
        let pick = |ks: &[usize]| -> Vec<NodeId> { ks.iter().map(|&k| candidates[k].0).collect() };
        let agreed = selection.interval;
        let truechimers = pick(&selection.truechimers);
        let falsetickers = pick(&selection.falsetickers);
        if truechimers.len() < config.min_truechimers.max(1) {
            return;
        }
        let delta = agreed.midpoint();
        let half_width = clamp((i128::from(agreed.hi) - i128::from(agreed.lo) + 1) / 2);
        self.clock.adjust(delta);
        // Stored samples measured server − local on the old scale.
        for peer in peers.iter_mut() {
            peer.filter.shift(delta);
        }
        *synced = Some((half_width, self.clock.read()));
        let error_bound = self.error_bound().unwrap_or(i64::MAX);
        out.emit(Selected {
            truechimers,
            falsetickers,
            delta,
            error_bound,
        });
    }
}

fn drift(elapsed: i128, ppm: i64) -> i128 {
    drift_allowance(elapsed.max(0), ppm)
}

impl Node for NtpNode {
    type Message = NtpMessage;
    type Request = ();
    type Persist = ();
    type Event = Selected;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(&mut self, input: Input<NtpMessage, ()>, out: &mut Actions<NtpMessage, (), Selected>) {
        match input {
            Input::Tick => {
                self.clock.tick();
                let poll = match &self.role {
                    Role::Client { config, .. } => self.clock.every(config.poll_every_ticks),
                    Role::Server => false,
                };
                if poll {
                    self.select(out);
                    let origin = self.clock.read();
                    if let Role::Client { peers, .. } = &mut self.role {
                        for peer in peers.iter_mut() {
                            peer.outstanding = Some(origin);
                            out.send(peer.id, NtpMessage::Request { origin });
                        }
                    }
                }
            }
            Input::Message { from, msg } => match (&mut self.role, msg) {
                (Role::Server, NtpMessage::Request { origin }) => {
                    let now = self.clock.read();
                    out.send(
                        from,
                        NtpMessage::Response {
                            origin,
                            receive: now,
                            transmit: now,
                        },
                    );
                }
                (
                    Role::Client { peers, .. },
                    NtpMessage::Response {
                        origin,
                        receive,
                        transmit,
                    },
                ) => {
                    let t4 = self.clock.read();
                    let Some(peer) = peers.iter_mut().find(|p| p.id == from) else {
                        return;
                    };
                    // Only the answer to the request in flight, once: duplicates,
                    // stale answers and replays are ignored.
                    if peer.outstanding != Some(origin) {
                        return;
                    }
                    peer.outstanding = None;
                    let Ok(sample) = NtpSample::from_timestamps(origin, receive, transmit, t4)
                    else {
                        return;
                    };
                    peer.filter.push_at(sample, t4);
                }
                _ => {}
            },
            Input::Request(()) | Input::Persisted(_) => {}
        }
    }
}
