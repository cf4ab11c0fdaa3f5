//! What happened in a run, in a form a person can read: plain text, a Mermaid
//! sequence diagram, or a ShiViz log with vector clocks.

use std::collections::HashMap;
use std::fmt::Write as _;
use synod_core::NodeId;

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A node sent a message (`id` links it to its delivery or drop).
    Send {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
        /// Message number.
        id: u64,
        /// The message, `Debug`-formatted.
        what: String,
    },
    /// A message reached a running node.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
        /// Message number.
        id: u64,
    },
    /// A message was dropped.
    Drop {
        /// Sender.
        from: NodeId,
        /// Recipient.
        to: NodeId,
        /// Message number.
        id: u64,
        /// Why: loss, partition, node down, no such node.
        reason: &'static str,
    },
    /// A node made a barrier write durable.
    Persist {
        /// The node.
        node: NodeId,
    },
    /// A request reached a node.
    Request {
        /// The node.
        node: NodeId,
        /// The request, `Debug`-formatted.
        what: String,
    },
    /// A node emitted an event to its application.
    Emit {
        /// The node.
        node: NodeId,
        /// The event, `Debug`-formatted.
        what: String,
    },
    /// A fault was applied.
    Fault(String),
}

/// A recorded run: every send, delivery, drop, persist, request, event and fault,
/// with its simulated time. Two runs from the same seed give identical traces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    nodes: Vec<NodeId>,
    events: Vec<(u64, TraceKind)>,
}

impl Trace {
    pub(crate) fn new(nodes: &[NodeId]) -> Self {
        Trace {
            nodes: nodes.to_vec(),
            events: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, time: u64, kind: TraceKind) {
        self.events.push((time, kind));
    }

    /// The recorded events, oldest first.
    pub fn events(&self) -> &[(u64, TraceKind)] {
        &self.events
    }

    /// One line per event: the canonical form, compared byte for byte in replay tests.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (time, kind) in &self.events {
            let _ = match kind {
                TraceKind::Send { from, to, id, what } => {
                    writeln!(out, "{time} send #{id} {from}->{to} {what}")
                }
                TraceKind::Deliver { from, to, id } => {
                    writeln!(out, "{time} deliver #{id} {from}->{to}")
                }
                TraceKind::Drop {
                    from,
                    to,
                    id,
                    reason,
                } => writeln!(out, "{time} drop #{id} {from}->{to} ({reason})"),
                TraceKind::Persist { node } => writeln!(out, "{time} persist {node}"),
                TraceKind::Request { node, what } => writeln!(out, "{time} request {node} {what}"),
                TraceKind::Emit { node, what } => writeln!(out, "{time} emit {node} {what}"),
                TraceKind::Fault(what) => writeln!(out, "{time} fault {what}"),
            };
        }
        out
    }

    /// A Mermaid `sequenceDiagram`: delivered messages as arrows, dropped ones as
    /// crosses, faults, requests and events as notes. Paste it into any Mermaid viewer
    /// (GitHub renders it in a fenced `mermaid` block).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("sequenceDiagram\n");
        for n in &self.nodes {
            let _ = writeln!(out, "    participant {n}");
        }
        let labels = self.message_labels();
        for (time, kind) in &self.events {
            let _ = match kind {
                TraceKind::Deliver { from, to, id } => writeln!(
                    out,
                    "    {from}->>{to}: {}",
                    mermaid_text(&labels, *id, *time)
                ),
                TraceKind::Drop {
                    from,
                    to,
                    id,
                    reason,
                } => writeln!(
                    out,
                    "    {from}-x{to}: {} ({reason})",
                    mermaid_text(&labels, *id, *time)
                ),
                TraceKind::Request { node, what } => {
                    writeln!(
                        out,
                        "    Note over {node}: t={time} request {}",
                        escape(what)
                    )
                }
                TraceKind::Emit { node, what } => {
                    writeln!(out, "    Note over {node}: t={time} {}", escape(what))
                }
                TraceKind::Fault(what) => match self.nodes.first().zip(self.nodes.last()) {
                    Some((first, last)) => writeln!(
                        out,
                        "    Note over {first},{last}: t={time} {}",
                        escape(what)
                    ),
                    None => Ok(()),
                },
                TraceKind::Send { .. } | TraceKind::Persist { .. } => Ok(()),
            };
        }
        out
    }

    /// A ShiViz log (<https://bestchai.bitbucket.io/shiviz/>): two lines per event, a
    /// description and then `node {"node": clock, ...}`. Paste it with the regex
    /// [`Trace::SHIVIZ_REGEX`].
    pub fn to_shiviz(&self) -> String {
        // Vector clocks: a send ticks the sender; a delivery merges the clock the
        // message carried, then ticks the receiver.
        let position: HashMap<NodeId, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, i))
            .collect();
        let mut clocks = vec![vec![0u64; self.nodes.len()]; self.nodes.len()];
        let mut carried: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut out = String::new();
        for (time, kind) in &self.events {
            let (node, what) = match kind {
                TraceKind::Send { from, to, id, what } => {
                    let Some(&i) = position.get(from) else {
                        continue;
                    };
                    clocks[i][i] += 1;
                    carried.insert(*id, clocks[i].clone());
                    (*from, format!("t={time} send #{id} to {to}: {what}"))
                }
                TraceKind::Deliver { from, to, id } => {
                    let Some(&i) = position.get(to) else { continue };
                    if let Some(sent) = carried.get(id) {
                        for (mine, theirs) in clocks[i].iter_mut().zip(sent) {
                            *mine = (*mine).max(*theirs);
                        }
                    }
                    clocks[i][i] += 1;
                    (*to, format!("t={time} receive #{id} from {from}"))
                }
                TraceKind::Request { node, what } => (*node, format!("t={time} request {what}")),
                TraceKind::Emit { node, what } => (*node, format!("t={time} emit {what}")),
                TraceKind::Persist { node } => (*node, format!("t={time} persist")),
                TraceKind::Drop { .. } | TraceKind::Fault(_) => continue,
            };
            let Some(&i) = position.get(&node) else {
                continue;
            };
            if !matches!(kind, TraceKind::Send { .. } | TraceKind::Deliver { .. }) {
                clocks[i][i] += 1;
            }
            let clock: Vec<String> = self
                .nodes
                .iter()
                .zip(&clocks[i])
                .filter(|(_, c)| **c > 0)
                .map(|(n, c)| format!("\"{n}\":{c}"))
                .collect();
            let _ = writeln!(
                out,
                "{}\n{node} {{{}}}",
                what.replace('\n', " "),
                clock.join(",")
            );
        }
        out
    }

    /// The regular expression to paste into ShiViz for [`Trace::to_shiviz`] output.
    pub const SHIVIZ_REGEX: &'static str = r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})";

    fn message_labels(&self) -> HashMap<u64, &str> {
        self.events
            .iter()
            .filter_map(|(_, k)| match k {
                TraceKind::Send { id, what, .. } => Some((*id, what.as_str())),
                _ => None,
            })
            .collect()
    }
}

fn mermaid_text(labels: &HashMap<u64, &str>, id: u64, time: u64) -> String {
    let what = labels.get(&id).copied().unwrap_or("?");
    format!("t={time} m{id} {}", escape(what))
}

/// Mermaid treats `;`, `#` and `:` specially in message text, and a newline ends it.
fn escape(text: &str) -> String {
    text.replace(';', ",")
        .replace('#', "no.")
        .replace(':', "=")
        .replace('\n', " ")
}
