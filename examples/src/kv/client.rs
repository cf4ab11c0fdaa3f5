//! A client of the key-value service: opens a session, numbers its requests, follows
//! leader hints, and retries a request with the same number until it is answered — so
//! a request the cluster applied but whose answer was lost is not applied twice.

use super::store::{Command, KvResponse};
use super::wire::{ClientReply, ClientRequest, NodeStatus, read_frame, write_frame};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use synod_core::NodeId;
use synod_raft::session::{ClientId, Sequence};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No node answered the request within the call's time limit.
    #[error("no answer within {0:?} (last problem: {1})")]
    Timeout(Duration, String),
    /// The session was evicted or never existed: register again.
    #[error("the session expired")]
    SessionExpired,
    /// The node asked for is not among this client's nodes.
    #[error("node {0} is not a node of this client")]
    UnknownNode(NodeId),
    /// The request can never succeed as sent (too large for a frame or for a
    /// proposal); it was not retried.
    #[error("refused: {0}")]
    Refused(String),
    /// The cluster answered something this call does not expect.
    #[error("unexpected reply: {0:?}")]
    Unexpected(ClientReply),
}

/// A session with the cluster. Build with [`KvClient::new`], then
/// [`register`](KvClient::register).
#[derive(Debug)]
pub struct KvClient {
    nodes: BTreeMap<NodeId, SocketAddr>,
    target: NodeId,
    client: Option<ClientId>,
    next_seq: u64,
    /// How long one attempt at one node may take.
    pub attempt_timeout: Duration,
    /// How long one call may take in all, across retries.
    pub call_timeout: Duration,
}

impl KvClient {
    /// A client of the nodes at these client addresses (not yet registered). Attempts
    /// time out after 500 ms, calls after 10 s.
    pub fn new(nodes: BTreeMap<NodeId, SocketAddr>) -> Self {
        let target = nodes.keys().next().copied().unwrap_or(NodeId(1));
        KvClient {
            nodes,
            target,
            client: None,
            next_seq: 1,
            attempt_timeout: Duration::from_millis(500),
            call_timeout: Duration::from_secs(10),
        }
    }

    /// The node this client believes leads.
    pub fn leader_guess(&self) -> NodeId {
        self.target
    }

    /// Open a session (a command committed through the log).
    pub async fn register(&mut self) -> Result<ClientId, ClientError> {
        match self.call(Command::Register).await? {
            KvResponse::Registered(client) => {
                self.client = Some(client);
                self.next_seq = 1;
                Ok(client)
            }
            other => Err(ClientError::Unexpected(ClientReply::Done(other))),
        }
    }

    /// Set `key` to `value`.
    pub async fn put(&mut self, key: &str, value: &str) -> Result<(), ClientError> {
        let (client, seq) = self.next()?;
        match self
            .call(Command::Put {
                client,
                seq,
                key: key.into(),
                value: value.into(),
            })
            .await?
        {
            KvResponse::Written => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Read `key` linearizably through ReadIndex (thesis §6.4): any node may answer
    /// (a follower forwards the read index request to its leader); no log write and no
    /// sequence number.
    pub async fn get(&mut self, key: &str) -> Result<Option<String>, ClientError> {
        match self.send(ClientRequest::Read { key: key.into() }).await? {
            KvResponse::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// Read `key` at one particular node (a follower serves it through a forwarded
    /// read index), retrying there until it answers or the call times out.
    pub async fn get_at(&mut self, node: NodeId, key: &str) -> Result<Option<String>, ClientError> {
        let deadline = Instant::now() + self.call_timeout;
        let addr = *self
            .nodes
            .get(&node)
            .ok_or(ClientError::UnknownNode(node))?;
        let request = ClientRequest::Read { key: key.into() };
        let mut problem = String::from("none");
        while Instant::now() < deadline {
            match exchange(addr, &request, self.attempt_timeout).await {
                Ok(ClientReply::Done(KvResponse::Value(value))) => return Ok(value),
                Ok(ClientReply::ReadFailed { reason, .. }) => problem = reason,
                Ok(other) => return Err(ClientError::Unexpected(other)),
                Err(error) => problem = format!("{node}: {error}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ClientError::Timeout(self.call_timeout, problem))
    }

    /// Append `value` to `key`'s value; returns the new length.
    pub async fn append(&mut self, key: &str, value: &str) -> Result<u64, ClientError> {
        let (client, seq) = self.next()?;
        match self
            .call(Command::Append {
                client,
                seq,
                key: key.into(),
                value: value.into(),
            })
            .await?
        {
            KvResponse::Appended { len } => Ok(len),
            other => Err(unexpected(other)),
        }
    }

    fn next(&mut self) -> Result<(ClientId, Sequence), ClientError> {
        let client = self.client.ok_or(ClientError::SessionExpired)?;
        let seq = Sequence(self.next_seq);
        self.next_seq += 1;
        Ok((client, seq))
    }

    /// Send `command` until some node answers it, following leader hints; the same
    /// command (same sequence number) on every retry.
    async fn call(&mut self, command: Command) -> Result<KvResponse, ClientError> {
        self.send(ClientRequest::Command(command)).await
    }

    /// Send `request` until some node answers it, following leader hints.
    async fn send(&mut self, request: ClientRequest) -> Result<KvResponse, ClientError> {
        let deadline = Instant::now() + self.call_timeout;
        let mut problem = String::from("none");
        let mut followed_hint = false;
        // Bounded by the deadline: every iteration makes one attempt or waits.
        while Instant::now() < deadline {
            let Some(&addr) = self.nodes.get(&self.target) else {
                self.rotate();
                continue;
            };
            match exchange(addr, &request, self.attempt_timeout).await {
                Ok(ClientReply::Done(KvResponse::SessionExpired)) => {
                    return Err(ClientError::SessionExpired);
                }
                Ok(ClientReply::Done(response)) => return Ok(response),
                Ok(ClientReply::Refused { reason }) => return Err(ClientError::Refused(reason)),
                // Our own frame limit: no node would take it either.
                Err(error) if error.kind() == io::ErrorKind::InvalidInput => {
                    return Err(ClientError::Refused(error.to_string()));
                }
                Ok(
                    ClientReply::NotLeader {
                        leader: Some(leader),
                    }
                    | ClientReply::ReadFailed {
                        leader: Some(leader),
                        ..
                    },
                ) if leader != self.target && self.nodes.contains_key(&leader) => {
                    // A fresh hint is followed at once; a chain of them (stale hints
                    // naming each other) is paced like any other retry.
                    if followed_hint {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    followed_hint = true;
                    self.target = leader;
                    continue;
                }
                Ok(ClientReply::ReadFailed { reason, .. }) => problem = reason,
                Ok(ClientReply::NotLeader { .. }) => {
                    problem = format!("{} does not know a leader", self.target);
                }
                Ok(ClientReply::Retry { reason }) => problem = reason,
                Ok(other) => return Err(ClientError::Unexpected(other)),
                Err(error) => problem = format!("{}: {error}", self.target),
            }
            followed_hint = false;
            self.rotate();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ClientError::Timeout(self.call_timeout, problem))
    }

    fn rotate(&mut self) {
        self.target = self
            .nodes
            .range(self.target.next_id()..)
            .next()
            .or_else(|| self.nodes.iter().next())
            .map_or(self.target, |(&id, _)| id);
    }
}

trait NextId {
    fn next_id(self) -> NodeId;
}

impl NextId for NodeId {
    fn next_id(self) -> NodeId {
        NodeId(self.get().saturating_add(1))
    }
}

fn unexpected(response: KvResponse) -> ClientError {
    match response {
        KvResponse::SessionExpired => ClientError::SessionExpired,
        other => ClientError::Unexpected(ClientReply::Done(other)),
    }
}

/// Ask the node at `addr` for its status (answered locally).
pub async fn status(addr: SocketAddr, timeout: Duration) -> io::Result<NodeStatus> {
    match exchange(addr, &ClientRequest::Status, timeout).await? {
        ClientReply::Status(status) => Ok(status),
        other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
    }
}

/// One request and its reply over a fresh connection, within `timeout`.
async fn exchange(
    addr: SocketAddr,
    request: &ClientRequest,
    timeout: Duration,
) -> io::Result<ClientReply> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        write_frame(&mut stream, request).await?;
        read_frame(&mut stream).await
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "timed out"))?
}
