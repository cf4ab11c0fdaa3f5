//! Small adapters from tokio's primitives to the `futures::Stream`s the
//! [`synod_core::Driver`] consumes.

use futures::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

/// One `()` per period of a [`tokio::time::Interval`]: the node's logical clock.
///
/// If the node falls behind, missed ticks are delayed rather than fired in a burst
/// ([`MissedTickBehavior::Delay`]): logical time slows down with the node instead of
/// jumping, so a loaded node does not time everyone out at once.
#[derive(Debug)]
pub struct TickStream {
    interval: Interval,
}

impl TickStream {
    /// A tick every `period`, the first one `period` from now. Must be called inside
    /// a tokio runtime.
    pub fn new(period: Duration) -> Self {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        TickStream { interval }
    }
}

impl Stream for TickStream {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.interval.poll_tick(cx).map(|_| Some(()))
    }
}

/// A [`tokio::sync::mpsc::Receiver`] as a `Stream`; it ends when every sender is gone.
#[derive(Debug)]
pub struct QueueStream<T> {
    queue: mpsc::Receiver<T>,
}

impl<T> QueueStream<T> {
    /// Wrap a receiver.
    pub fn new(queue: mpsc::Receiver<T>) -> Self {
        QueueStream { queue }
    }
}

impl<T> Stream for QueueStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.queue.poll_recv(cx)
    }
}
