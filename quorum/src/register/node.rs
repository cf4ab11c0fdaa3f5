//! Servers and clients as one node type, for a shared cluster.

use synod_core::{Input, Node, NodeId};

use super::RegisterActions;
use super::abd::AbdClient;
use super::masking::MaskingClient;
use super::message::{RegisterEvent, RegisterMessage, RegisterRequest, Tagged};
use super::server::RegisterServer;
use crate::majority::Majority;
use crate::system::QuorumSystem;

/// A register server or client, as one [`Node`] so that a cluster (or the simulator)
/// can hold both. Servers persist [`Tagged`] records; clients persist nothing.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::Majority;
/// use synod_quorum::register::{AbdClient, AbdConfig, RegisterEvent, RegisterNode, RegisterRequest, RegisterServer, Tagged};
/// use synod_sim::{Fault, Sim, SimConfig};
///
/// let servers = Majority::new((1..=3).map(NodeId))?;
/// let mut sim = Sim::new(SimConfig::new(7), (1..=4).map(NodeId), move |id, durable: &Vec<Tagged>| {
///     if id.0 <= 3 {
///         RegisterNode::Server(RegisterServer::recover(id, durable))
///     } else {
///         RegisterNode::Abd(AbdClient::new(id, servers.clone(), AbdConfig::default()))
///     }
/// })?;
/// sim.apply(Fault::Crash(NodeId(3)))?;
/// sim.request(NodeId(4), RegisterRequest::Write("hello".into()))?;
/// sim.run_for(5_000)?;
/// sim.request(NodeId(4), RegisterRequest::Read)?;
/// sim.run_for(5_000)?;
/// let reads: Vec<_> = sim.events().iter().filter_map(|(_, _, e)| match e {
///     RegisterEvent::Read { read, .. } => Some(read.value.clone()),
///     _ => None,
/// }).collect();
/// assert_eq!(reads, ["hello"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub enum RegisterNode<Q = Majority> {
    /// A replica.
    Server(RegisterServer),
    /// An ABD client.
    Abd(AbdClient<Q>),
    /// A masking-quorum client.
    Masking(MaskingClient),
}

impl<Q: QuorumSystem> Node for RegisterNode<Q> {
    type Message = RegisterMessage;
    type Request = RegisterRequest;
    type Persist = Tagged;
    type Event = RegisterEvent;

    fn id(&self) -> NodeId {
        match self {
            RegisterNode::Server(s) => s.id(),
            RegisterNode::Abd(c) => c.id(),
            RegisterNode::Masking(c) => c.id(),
        }
    }

    fn step(&mut self, input: Input<RegisterMessage, RegisterRequest>, out: &mut RegisterActions) {
        match (self, input) {
            (RegisterNode::Server(s), Input::Message { from, msg }) => s.on_message(from, msg, out),
            (RegisterNode::Server(s), Input::Request(_)) => s.on_request(out),
            (RegisterNode::Abd(c), Input::Message { from, msg }) => c.on_message(from, msg, out),
            (RegisterNode::Abd(c), Input::Request(RegisterRequest::Read)) => c.read(out),
            (RegisterNode::Abd(c), Input::Request(RegisterRequest::Write(v))) => c.write(v, out),
            (RegisterNode::Abd(c), Input::Tick) => c.on_tick(out),
            (RegisterNode::Masking(c), Input::Message { from, msg }) => {
                c.on_message(from, msg, out)
            }
            (RegisterNode::Masking(c), Input::Request(RegisterRequest::Read)) => c.read(out),
            (RegisterNode::Masking(c), Input::Request(RegisterRequest::Write(v))) => {
                c.write(v, out)
            }
            (RegisterNode::Masking(c), Input::Tick) => c.on_tick(out),
            // Servers keep no timers; nobody persists in the background.
            (_, Input::Tick | Input::Persisted(_)) => {}
        }
    }
}
