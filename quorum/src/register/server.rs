//! The replica: keeps the highest-tagged value it has been sent.

use synod_core::{Actions, NodeId};

use super::message::{RegisterEvent, RegisterMessage, RequestError, Tagged};

/// A register replica. It answers queries with what it holds and keeps a stored value
/// only if its tag is higher — so stores are idempotent and commute, and duplicated or
/// reordered messages are harmless.
///
/// A newer value is persisted (an [`Action::Persist`](synod_core::Action::Persist)
/// barrier) before the acknowledgement that lets a client count it; on restart,
/// [`recover`](RegisterServer::recover) takes the highest record.
///
/// ```
/// use bytes::Bytes;
/// use synod_core::{Action, Actions, NodeId};
/// use synod_quorum::register::{OpNumber, RegisterMessage, RegisterServer, Tag, Tagged};
///
/// let mut server = RegisterServer::new(NodeId(1));
/// let mut out = Actions::new();
/// let stored = Tagged { tag: Tag { timestamp: 1, writer: NodeId(9) }, value: Bytes::from("x") };
/// server.on_message(NodeId(9), RegisterMessage::Store { op: OpNumber(1), stored: stored.clone() }, &mut out);
/// assert!(matches!(out.as_slice(), [Action::Persist(p), Action::Send { .. }] if *p == stored));
/// assert_eq!(server.stored(), &stored);
/// ```
#[derive(Clone, Debug)]
pub struct RegisterServer {
    id: NodeId,
    stored: Tagged,
}

impl RegisterServer {
    /// A fresh replica holding the initial (empty) value.
    pub fn new(id: NodeId) -> Self {
        RegisterServer {
            id,
            stored: Tagged::default(),
        }
    }

    /// A replica restarted from its persisted records: it holds the highest-tagged one.
    pub fn recover<'a>(id: NodeId, durable: impl IntoIterator<Item = &'a Tagged>) -> Self {
        let stored = durable
            .into_iter()
            .max_by_key(|t| t.tag)
            .cloned()
            .unwrap_or_default();
        RegisterServer { id, stored }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The value and tag held.
    pub fn stored(&self) -> &Tagged {
        &self.stored
    }

    /// Handle a client's message. Replies from other servers are not for us: ignored.
    pub fn on_message(
        &mut self,
        from: NodeId,
        msg: RegisterMessage,
        out: &mut Actions<RegisterMessage, Tagged, RegisterEvent>,
    ) {
        match msg {
            RegisterMessage::Query { op } => {
                out.send(
                    from,
                    RegisterMessage::QueryReply {
                        op,
                        stored: self.stored.clone(),
                    },
                );
            }
            RegisterMessage::Store { op, stored } => {
                if stored.tag > self.stored.tag {
                    out.persist(stored.clone());
                    self.stored = stored;
                }
                out.send(from, RegisterMessage::StoreAck { op });
            }
            RegisterMessage::QueryReply { .. } | RegisterMessage::StoreAck { .. } => {}
        }
    }

    /// Servers take no requests.
    pub fn on_request(&mut self, out: &mut Actions<RegisterMessage, Tagged, RegisterEvent>) {
        out.emit(RegisterEvent::Rejected(RequestError::NotAClient));
    }
}
