//! Client sessions: exactly-once application of retried commands (Ongaro's thesis §6.3).
//!
//! Raft commits a command once per proposal, but a client that times out and retries
//! may get its command into the log twice — a retried `append` would then append twice.
//! The fix belongs to the replicated state machine, not to Raft: each client registers
//! a session (itself a committed command), numbers its requests, and the state machine
//! remembers, per client, the last sequence number it executed and the response. A
//! command seen again is answered from that memory instead of being executed again.
//!
//! [`Sessions`] is that memory. Every replica applies the same committed entries in the
//! same order, so it must make the same decisions everywhere: it therefore never looks
//! at a clock — it ages sessions by the log index of the entry that last used them —
//! and it belongs in the application's snapshot (it derives serde under the `serde`
//! feature).
//!
//! Rules, for a client with at most one request outstanding (the usual client loop: send
//! request `n`, retry it until answered, then send `n + 1`):
//!
//! - `seq` above the last executed one: **fresh** — execute and remember the response;
//! - `seq` equal to it: a **duplicate** — return the remembered response;
//! - `seq` below it: **stale** — the client has already moved on, so this is an old copy
//!   still in flight; it is not executed and nobody waits for its answer;
//! - an unknown client id (never registered, or evicted to keep the table bounded):
//!   [`SessionError::Expired`] — executing could repeat a command whose memory was
//!   evicted, so the client must register again and decide itself whether to resend.

use crate::LogIndex;
use std::collections::{BTreeMap, BTreeSet};

/// A registered client, named by the log index of its registration entry — unique,
/// and the same on every replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ClientId(pub u64);

/// A client's request number; a client numbers its requests 1, 2, 3, … and reuses a
/// number only when retrying that same request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Sequence(pub u64);

/// Why a session command was not executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The client id is unknown: never registered, or evicted. The client must register
    /// again.
    #[error("session {0:?} is unknown or expired")]
    Expired(ClientId),
    /// An old copy of a request the client has already moved past.
    #[error("request {seq:?} is older than the last executed {last:?}")]
    Stale {
        /// The request's number.
        seq: Sequence,
        /// The last request of this client that was executed.
        last: Sequence,
    },
}

/// What [`Sessions::execute`] did with a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a, R> {
    /// The command ran now; this is its response.
    Executed(&'a R),
    /// The command had run before; this is the response it produced then.
    Duplicate(&'a R),
}

impl<'a, R> Outcome<'a, R> {
    /// The response, whether just produced or remembered.
    pub fn response(self) -> &'a R {
        match self {
            Outcome::Executed(r) | Outcome::Duplicate(r) => r,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Session<R> {
    last_seq: Sequence,
    /// The response to `last_seq`; `None` until the first command executes.
    response: Option<R>,
    /// Log index of the entry that last touched this session (its age).
    last_active: LogIndex,
}

/// The exactly-once table of a replicated state machine: per client, the last executed
/// sequence number and its response, bounded to `capacity` sessions (the least recently
/// active one is evicted first).
///
/// ```
/// use synod_raft::LogIndex;
/// use synod_raft::session::{Outcome, Sequence, SessionError, Sessions};
///
/// let mut sessions = Sessions::new(1_000);
/// let mut value = String::new();
/// // The registration entry committed at index 7 names the client.
/// let client = sessions.register(LogIndex(7));
/// // `append x` committed at index 8, and a retry of it committed again at index 9.
/// let first = sessions.execute(client, Sequence(1), LogIndex(8), || { value.push('x'); value.len() });
/// assert_eq!(first, Ok(Outcome::Executed(&1)));
/// let retry = sessions.execute(client, Sequence(1), LogIndex(9), || { value.push('x'); value.len() });
/// assert_eq!(retry, Ok(Outcome::Duplicate(&1)));
/// assert_eq!(value, "x"); // appended once
/// // Unknown clients are refused rather than risk a second execution.
/// let stranger = synod_raft::session::ClientId(3);
/// assert_eq!(
///     sessions.execute(stranger, Sequence(1), LogIndex(10), || 0),
///     Err(SessionError::Expired(stranger)),
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sessions<R> {
    capacity: usize,
    by_client: BTreeMap<ClientId, Session<R>>,
    /// (last_active, client): the eviction order. Log indices are unique per entry, but
    /// two sessions can share one after a [`register`](Self::register) and an
    /// [`execute`](Self::execute) at the same index in tests, hence the pair.
    by_age: BTreeSet<(LogIndex, ClientId)>,
    /// The newest age of any evicted session: a registration at or below it that is
    /// not open is a replay of a session already evicted, which must stay expired.
    #[cfg_attr(feature = "serde", serde(default))]
    evicted_through: LogIndex,
}

impl<R> Sessions<R> {
    /// An empty table keeping at most `capacity` sessions (at least one).
    pub fn new(capacity: usize) -> Self {
        Sessions {
            capacity: capacity.max(1),
            by_client: BTreeMap::new(),
            by_age: BTreeSet::new(),
            evicted_through: LogIndex(0),
        }
    }

    /// Opens a session for the registration entry committed at `at`; the returned id is
    /// `at` itself, so every replica hands out the same one. Registering at the same
    /// index twice (a replayed entry) returns the same id and leaves the session as is
    /// — or, if it was evicted meanwhile, expired.
    /// When the table is full, the least recently active session is evicted.
    pub fn register(&mut self, at: LogIndex) -> ClientId {
        let client = ClientId(at.0);
        // Open, or a replay of a registration whose session was evicted since (a
        // session's age is at least its registration index): leave the table alone.
        if self.by_client.contains_key(&client) || at <= self.evicted_through {
            return client;
        }
        while self.by_client.len() >= self.capacity {
            let Some((age, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_client.remove(&oldest);
            self.evicted_through = self.evicted_through.max(age);
        }
        self.by_client.insert(
            client,
            Session {
                last_seq: Sequence(0),
                response: None,
                last_active: at,
            },
        );
        self.by_age.insert((at, client));
        client
    }

    /// Applies request `seq` of `client`, committed at log index `at`: runs `command`
    /// only if the request is fresh, and returns its response or the remembered one.
    pub fn execute(
        &mut self,
        client: ClientId,
        seq: Sequence,
        at: LogIndex,
        command: impl FnOnce() -> R,
    ) -> Result<Outcome<'_, R>, SessionError> {
        let session = self
            .by_client
            .get_mut(&client)
            .ok_or(SessionError::Expired(client))?;
        self.by_age.remove(&(session.last_active, client));
        session.last_active = session.last_active.max(at);
        self.by_age.insert((session.last_active, client));
        if seq < session.last_seq {
            return Err(SessionError::Stale {
                seq,
                last: session.last_seq,
            });
        }
        let fresh = seq > session.last_seq || session.response.is_none();
        if fresh {
            session.last_seq = seq;
            session.response = Some(command());
        }
        match &session.response {
            Some(response) if fresh => Ok(Outcome::Executed(response)),
            Some(response) => Ok(Outcome::Duplicate(response)),
            // Unreachable: a fresh request has just stored its response, and a duplicate
            // needs one stored earlier. Answer as expired rather than panic.
            None => Err(SessionError::Expired(client)),
        }
    }

    /// Closes a session (an explicit client logout, committed as an entry).
    pub fn close(&mut self, client: ClientId) {
        if let Some(session) = self.by_client.remove(&client) {
            self.by_age.remove(&(session.last_active, client));
        }
    }

    /// Whether `client` has an open session.
    pub fn contains(&self, client: ClientId) -> bool {
        self.by_client.contains_key(&client)
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A retried request runs once, however many copies of it commit.
    #[test]
    fn duplicates_run_once() {
        let mut s = Sessions::new(4);
        let c = s.register(LogIndex(1));
        let mut runs = 0;
        for at in 2..6 {
            let out = s.execute(c, Sequence(1), LogIndex(at), || {
                runs += 1;
                runs
            });
            assert_eq!(*out.unwrap().response(), 1);
        }
        assert_eq!(runs, 1);
    }

    // An old copy arriving after the client moved on is not executed (at-most-once).
    #[test]
    fn stale_copy_is_refused() {
        let mut s = Sessions::new(4);
        let c = s.register(LogIndex(1));
        s.execute(c, Sequence(1), LogIndex(2), || "a").unwrap();
        s.execute(c, Sequence(2), LogIndex(3), || "b").unwrap();
        assert_eq!(
            s.execute(c, Sequence(1), LogIndex(4), || "again"),
            Err(SessionError::Stale {
                seq: Sequence(1),
                last: Sequence(2)
            })
        );
    }

    // The table stays bounded and evicts the least recently active session; the evicted
    // client is told its session expired instead of having a retry re-executed.
    #[test]
    fn eviction_is_by_age_and_expires_the_client() {
        let mut s = Sessions::new(2);
        let a = s.register(LogIndex(1));
        let b = s.register(LogIndex(2));
        s.execute(a, Sequence(1), LogIndex(3), || 1).unwrap(); // a is now newer than b
        let c = s.register(LogIndex(4));
        assert_eq!(s.len(), 2);
        assert!(s.contains(a) && s.contains(c) && !s.contains(b));
        assert_eq!(
            s.execute(b, Sequence(1), LogIndex(5), || 2),
            Err(SessionError::Expired(b))
        );
    }

    // Registering twice at the same index (a replayed entry) keeps the session's memory.
    #[test]
    fn replayed_registration_is_idempotent() {
        let mut s = Sessions::new(2);
        let a = s.register(LogIndex(1));
        s.execute(a, Sequence(1), LogIndex(2), || 7).unwrap();
        assert_eq!(s.register(LogIndex(1)), a);
        assert_eq!(
            s.execute(a, Sequence(1), LogIndex(3), || 8),
            Ok(Outcome::Duplicate(&7))
        );
    }

    // Thesis §6.3: a replayed registration must not resurrect an evicted session with
    // an empty memory — a retry of a request it already executed would run again.
    #[test]
    fn replayed_registration_of_an_evicted_session_stays_expired() {
        let mut s = Sessions::new(1);
        let a = s.register(LogIndex(1));
        s.execute(a, Sequence(1), LogIndex(2), || 7).unwrap();
        let b = s.register(LogIndex(3)); // evicts a
        assert!(!s.contains(a) && s.contains(b));
        assert_eq!(s.register(LogIndex(1)), a);
        assert!(!s.contains(a), "an evicted session came back empty");
        assert_eq!(
            s.execute(a, Sequence(1), LogIndex(4), || 8),
            Err(SessionError::Expired(a))
        );
        assert!(s.contains(b), "the replay evicted a live session");
    }

    // Replicas that apply the same entries make the same decisions and end equal.
    #[test]
    fn deterministic_across_replicas() {
        let run = || {
            let mut s = Sessions::new(3);
            let mut log = Vec::new();
            for i in 1..50u64 {
                if i % 7 == 1 {
                    s.register(LogIndex(i));
                } else {
                    let client = ClientId((i / 7) * 7 + 1);
                    let r = s.execute(client, Sequence(i % 3), LogIndex(i), || i);
                    log.push(format!("{r:?}"));
                }
            }
            (s, log)
        };
        assert_eq!(run(), run());
    }
}
