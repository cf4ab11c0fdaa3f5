//! The replicated state machine: a string map, with client sessions for exactly-once
//! application of retried requests (thesis §6.3).

use crate::crc32::Crc32;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synod_raft::session::{ClientId, Sequence, SessionError, Sessions};
use synod_raft::{Entry, EntryKind, LogIndex};

/// Sessions kept at most; the least recently active one is evicted beyond this.
pub const MAX_SESSIONS: usize = 10_000;

/// A command as it travels through the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Open a session; the client's id is the index this command commits at.
    Register,
    /// Set `key` to `value`.
    Put {
        /// The client's session.
        client: ClientId,
        /// The request's number within the session.
        seq: Sequence,
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Read `key` through the log, ordered with every write. The client reads with
    /// [`ClientRequest::Read`](super::wire::ClientRequest::Read) (ReadIndex) instead;
    /// this command stays for clients that want a read in their session order.
    Get {
        /// The client's session.
        client: ClientId,
        /// The request's number within the session.
        seq: Sequence,
        /// The key.
        key: String,
    },
    /// Append `value` to the value of `key` (an absent key counts as empty).
    Append {
        /// The client's session.
        client: ClientId,
        /// The request's number within the session.
        seq: Sequence,
        /// The key.
        key: String,
        /// What to append.
        value: String,
    },
}

/// What applying a command answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResponse {
    /// The session was opened.
    Registered(ClientId),
    /// The value of a get (`None`: absent).
    Value(Option<String>),
    /// A put took effect.
    Written,
    /// An append took effect; the value is now this long (bytes).
    Appended {
        /// The new length.
        len: u64,
    },
    /// The session is unknown or was evicted: register again.
    SessionExpired,
    /// An old copy of a request the client already moved past; nobody waits for it.
    Stale,
    /// The entry did not decode as a command (never written by this service).
    Invalid,
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    data: &'a BTreeMap<String, String>,
    sessions: &'a Sessions<KvResponse>,
}

#[derive(Deserialize)]
struct SnapshotOwned {
    data: BTreeMap<String, String>,
    sessions: Sessions<KvResponse>,
}

/// The key-value map and its session table.
///
/// ```
/// use bytes::Bytes;
/// use synod_examples::kv::store::{Command, KvResponse, KvStore};
/// use synod_raft::session::Sequence;
/// use synod_raft::{Entry, EntryKind, LogIndex, Term};
///
/// let entry = |i: u64, c: &Command| Entry {
///     index: LogIndex(i), term: Term(1), kind: EntryKind::Command,
///     data: Bytes::from(postcard::to_stdvec(c).unwrap()),
/// };
/// let mut store = KvStore::new();
/// let Some(KvResponse::Registered(client)) = store.apply(&entry(1, &Command::Register)) else { panic!() };
/// let append = Command::Append { client, seq: Sequence(1), key: "k".into(), value: "ab".into() };
/// assert_eq!(store.apply(&entry(2, &append)), Some(KvResponse::Appended { len: 2 }));
/// // The same request committed again (a client retry) is answered, not re-applied.
/// assert_eq!(store.apply(&entry(3, &append)), Some(KvResponse::Appended { len: 2 }));
/// assert_eq!(store.get("k"), Some("ab"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: Sessions<KvResponse>,
}

impl Default for KvStore {
    fn default() -> Self {
        KvStore::new()
    }
}

impl KvStore {
    /// An empty map with room for [`MAX_SESSIONS`] sessions.
    pub fn new() -> Self {
        KvStore {
            data: BTreeMap::new(),
            sessions: Sessions::new(MAX_SESSIONS),
        }
    }

    /// Apply one committed entry; `None` for what is not a command (a leader's
    /// no-op, a membership change).
    pub fn apply(&mut self, entry: &Entry) -> Option<KvResponse> {
        if entry.kind != EntryKind::Command {
            return None;
        }
        let Ok(command) = postcard::from_bytes::<Command>(&entry.data) else {
            return Some(KvResponse::Invalid);
        };
        Some(self.execute(command, entry.index))
    }

    fn execute(&mut self, command: Command, at: LogIndex) -> KvResponse {
        let data = &mut self.data;
        let outcome = match command {
            Command::Register => return KvResponse::Registered(self.sessions.register(at)),
            Command::Put {
                client,
                seq,
                key,
                value,
            } => self.sessions.execute(client, seq, at, || {
                data.insert(key, value);
                KvResponse::Written
            }),
            Command::Get { client, seq, key } => self.sessions.execute(client, seq, at, || {
                KvResponse::Value(data.get(&key).cloned())
            }),
            Command::Append {
                client,
                seq,
                key,
                value,
            } => self.sessions.execute(client, seq, at, || {
                let slot = data.entry(key).or_default();
                slot.push_str(&value);
                KvResponse::Appended {
                    len: slot.len() as u64,
                }
            }),
        };
        match outcome {
            Ok(outcome) => outcome.response().clone(),
            Err(SessionError::Expired(_)) => KvResponse::SessionExpired,
            Err(SessionError::Stale { .. }) => KvResponse::Stale,
        }
    }

    /// The map and the session table as snapshot data (Raft §7; the sessions must
    /// travel with the map, thesis §6.3, or a retried request would apply twice after
    /// a restore). Deterministic: both are ordered maps, encoded with postcard, so
    /// equal stores give equal bytes.
    pub fn snapshot(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(&SnapshotRef {
            data: &self.data,
            sessions: &self.sessions,
        })
    }

    /// A store from [`snapshot`](Self::snapshot) data.
    ///
    /// ```
    /// use synod_examples::kv::store::KvStore;
    /// let store = KvStore::new();
    /// assert_eq!(KvStore::restore(&store.snapshot()?)?, store);
    /// assert!(KvStore::restore(b"\xff\xff").is_err());
    /// # Ok::<(), postcard::Error>(())
    /// ```
    pub fn restore(data: &[u8]) -> Result<KvStore, postcard::Error> {
        let owned: SnapshotOwned = postcard::from_bytes(data)?;
        Ok(KvStore {
            data: owned.data,
            sessions: owned.sessions,
        })
    }

    /// The value of `key`, read locally (no linearizability: for inspection).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A CRC-32 over every key and value in order: equal maps give equal digests, so
    /// replicas can be compared without shipping the map.
    pub fn digest(&self) -> u32 {
        let mut crc = Crc32::new();
        for (key, value) in &self.data {
            crc.update(&(key.len() as u64).to_be_bytes());
            crc.update(key.as_bytes());
            crc.update(&(value.len() as u64).to_be_bytes());
            crc.update(value.as_bytes());
        }
        crc.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use synod_raft::Term;

    fn entry(index: u64, command: &Command) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(1),
            kind: EntryKind::Command,
            data: Bytes::from(postcard::to_stdvec(command).expect("encode")),
        }
    }

    #[test]
    fn retried_and_stale_requests_are_not_applied_twice() {
        // Checks exactly-once application (thesis §6.3): a put committed twice is
        // answered twice but applied once, an older request after a newer one is
        // Stale, an unknown session is SessionExpired, a no-op answers nothing.
        let mut store = KvStore::new();
        let Some(KvResponse::Registered(client)) = store.apply(&entry(1, &Command::Register))
        else {
            panic!("register");
        };
        let append = |seq, value: &str| Command::Append {
            client,
            seq: Sequence(seq),
            key: "k".into(),
            value: value.into(),
        };
        assert_eq!(
            store.apply(&entry(2, &append(1, "a"))),
            Some(KvResponse::Appended { len: 1 })
        );
        assert_eq!(
            store.apply(&entry(3, &append(1, "a"))),
            Some(KvResponse::Appended { len: 1 })
        );
        assert_eq!(
            store.apply(&entry(4, &append(2, "b"))),
            Some(KvResponse::Appended { len: 2 })
        );
        assert_eq!(
            store.apply(&entry(5, &append(1, "a"))),
            Some(KvResponse::Stale)
        );
        assert_eq!(store.get("k"), Some("ab"));
        let stranger = Command::Get {
            client: ClientId(99),
            seq: Sequence(1),
            key: "k".into(),
        };
        assert_eq!(
            store.apply(&entry(6, &stranger)),
            Some(KvResponse::SessionExpired)
        );
        let noop = Entry {
            kind: EntryKind::Noop,
            ..entry(7, &Command::Register)
        };
        assert_eq!(store.apply(&noop), None);
        let garbage = Entry {
            data: Bytes::from_static(&[0xFF, 0xFF]),
            ..entry(8, &Command::Register)
        };
        assert_eq!(store.apply(&garbage), Some(KvResponse::Invalid));
    }

    #[test]
    fn the_retry_check_catches_a_store_without_sessions() {
        // Checks the checker: a test-local store that executes every committed append
        // (no session table) applies a retried append twice, which the assertion in
        // `retried_and_stale_requests_are_not_applied_twice` would reject.
        let mut naive: BTreeMap<String, String> = BTreeMap::new();
        let mut apply_naively = |command: &Command| {
            if let Command::Append { key, value, .. } = command {
                naive.entry(key.clone()).or_default().push_str(value);
            }
        };
        let append = Command::Append {
            client: ClientId(1),
            seq: Sequence(1),
            key: "k".into(),
            value: "a".into(),
        };
        apply_naively(&append);
        apply_naively(&append); // the client's retry, committed a second time
        assert_ne!(naive.get("k").map(String::as_str), Some("a"));
    }

    #[test]
    fn digests_tell_different_maps_apart() {
        // Checks the replica digest: equal contents give equal digests, a differing
        // value or a key/value boundary moved gives a different one.
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        a.data.insert("ab".into(), "c".into());
        b.data.insert("a".into(), "bc".into());
        assert_ne!(a.digest(), b.digest());
        b.data.clear();
        b.data.insert("ab".into(), "c".into());
        assert_eq!(a.digest(), b.digest());
    }
}
