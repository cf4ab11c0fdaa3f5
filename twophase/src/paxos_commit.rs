//! Paxos Commit (placeholder).
