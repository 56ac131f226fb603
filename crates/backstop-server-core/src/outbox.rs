//! Coalescing of queue sends. Every accepted request's job must be on the queue before the
//! request is answered, but one `send` per request is a platform round trip each; requests that
//! arrive while one batch is in flight wait in an [`Outbox`] and leave together in the next
//! `sendBatch`, so a busy isolate pays one round trip per batch instead of one per request. Each
//! request is still answered only once the batch holding its job was accepted (or refused: then
//! every request in it is refused, and each client retries).
//!
//! Sans-IO: the glue keeps one outbox per isolate, performs the sends and the timers, and asks
//! this what to do next:
//!
//! - [`Outbox::push`] queues an item and says whether the caller must start a flush (none is
//!   running);
//! - a flush repeats [`Outbox::take_batch`] (the next batch within the platform's limits), sends
//!   it, settles its items, then [`Outbox::after_batch`] (go on, or stop: nothing waits, or the
//!   flush has run for [`FLUSH_LEASE_MS`], since the task running it has a bounded life);
//! - a waiting request wakes every [`WAIT_CHECK_MS`] and calls [`Outbox::check`]: it takes over
//!   the flush if none runs (the one that ran ended or was cancelled with items still waiting),
//!   and gives up after [`GIVE_UP_MS`] (its item is withdrawn and the client told to retry, so
//!   nothing waits forever).

use std::collections::VecDeque;

/// Messages per `sendBatch` (Cloudflare Queues' limit).
pub const MAX_BATCH_MESSAGES: usize = 100;

/// Bytes of message bodies per `sendBatch`. Cloudflare's limit is 256 KB; this leaves room for
/// the platform's framing and still fits two of the largest messages
/// ([`crate::pipeline::MAX_MESSAGE_BYTES`]).
pub const MAX_BATCH_BYTES: usize = 240 * 1024;

/// How long one flush keeps taking batches before it stops and lets a waiting request's task
/// take over (a `waitUntil` task lives at most 30 s past its response on Cloudflare).
pub const FLUSH_LEASE_MS: u64 = 10_000;

/// How often a waiting request checks that a flush is running.
pub const WAIT_CHECK_MS: u64 = 100;

/// How long a request waits for the queue before it is refused as unavailable (503, retry).
pub const GIVE_UP_MS: u64 = 20_000;

/// Identifies a pushed item.
pub type Ticket = u64;

/// What a waiting request does after [`Outbox::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Keep waiting: its item waits and a flush runs, or its batch is in flight.
    Wait,
    /// Its item waits and no flush runs: start one.
    Flush,
    /// It waited [`GIVE_UP_MS`]; its item was withdrawn (or its batch never settled): refuse.
    GiveUp,
}

/// Items waiting to be sent, oldest first, and whether a flush runs.
#[derive(Debug)]
pub struct Outbox<T> {
    waiting: VecDeque<(Ticket, usize, T)>,
    /// Since when the running flush runs, if one does.
    flushing_since: Option<u64>,
    next_ticket: Ticket,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
            flushing_since: None,
            next_ticket: 0,
        }
    }
}

impl<T> Outbox<T> {
    /// Queues `item` (a message of `size` bytes). Returns its ticket and whether the caller must
    /// start a flush (none was running; from now one is considered running).
    pub fn push(&mut self, size: usize, item: T, now_ms: u64) -> (Ticket, bool) {
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.waiting.push_back((ticket, size, item));
        let start = self.flushing_since.is_none();
        if start {
            self.flushing_since = Some(now_ms);
        }
        (ticket, start)
    }

    /// The next batch, oldest first: as many waiting items as fit [`MAX_BATCH_MESSAGES`] and
    /// [`MAX_BATCH_BYTES`], and always at least one while any waits (a message larger than the
    /// byte budget goes alone). Empty when nothing waits, which also ends the flush.
    pub fn take_batch(&mut self) -> Vec<(Ticket, T)> {
        let mut bytes = 0usize;
        let mut len = 0usize;
        for (_, size, _) in &self.waiting {
            if len == MAX_BATCH_MESSAGES
                || (len > 0 && bytes.saturating_add(*size) > MAX_BATCH_BYTES)
            {
                break;
            }
            bytes = bytes.saturating_add(*size);
            len += 1;
        }
        if len == 0 {
            self.flushing_since = None;
        }
        self.waiting
            .drain(..len)
            .map(|(ticket, _, item)| (ticket, item))
            .collect()
    }

    /// After a flush sent (and settled) a batch: whether it takes another. It stops when nothing
    /// waits or its lease ran out; waiting requests then start the next one ([`Outbox::check`]).
    pub fn after_batch(&mut self, now_ms: u64) -> bool {
        let leased = self
            .flushing_since
            .is_some_and(|since| now_ms.saturating_sub(since) < FLUSH_LEASE_MS);
        if self.waiting.is_empty() || !leased {
            self.flushing_since = None;
            return false;
        }
        true
    }

    /// A flush that could not finish its batch (its task failed before settling): nothing is
    /// considered running any more, so a waiting request takes over.
    pub fn flush_ended(&mut self) {
        self.flushing_since = None;
    }

    /// What the holder of `ticket`, waiting since `pushed_ms`, does now.
    pub fn check(&mut self, ticket: Ticket, pushed_ms: u64, now_ms: u64) -> Check {
        let position = self.waiting.iter().position(|(t, _, _)| *t == ticket);
        if now_ms.saturating_sub(pushed_ms) >= GIVE_UP_MS {
            if let Some(i) = position {
                self.waiting.remove(i);
            }
            return Check::GiveUp;
        }
        // A flush that ran past its lease without ending (its task was cancelled mid-send) no
        // longer counts as running.
        let stale = self
            .flushing_since
            .is_some_and(|since| now_ms.saturating_sub(since) >= FLUSH_LEASE_MS.saturating_mul(2));
        match (position, self.flushing_since) {
            (Some(_), None) => {
                self.flushing_since = Some(now_ms);
                Check::Flush
            }
            (Some(_), Some(_)) if stale => {
                self.flushing_since = Some(now_ms);
                Check::Flush
            }
            _ => Check::Wait,
        }
    }

    /// Items waiting (not yet in a batch).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether a flush is considered running.
    pub fn flushing(&self) -> bool {
        self.flushing_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_push_starts_a_flush_and_later_ones_join_it() {
        let mut o = Outbox::default();
        assert_eq!(o.push(10, "a", 0), (0, true));
        assert_eq!(o.push(10, "b", 1), (1, false));
        let batch = o.take_batch();
        assert_eq!(batch, vec![(0, "a"), (1, "b")]);
        assert!(o.flushing());
        // Arrived while the batch was in flight: the same flush takes it next.
        assert_eq!(o.push(10, "c", 2), (2, false));
        assert!(o.after_batch(3));
        assert_eq!(o.take_batch(), vec![(2, "c")]);
        assert!(!o.after_batch(4));
        assert!(!o.flushing());
        assert_eq!(o.push(10, "d", 5), (3, true));
    }

    #[test]
    fn batches_keep_to_the_count_and_byte_limits() {
        let mut o = Outbox::default();
        for i in 0..250 {
            o.push(100, i, 0);
        }
        assert_eq!(o.take_batch().len(), MAX_BATCH_MESSAGES);
        let mut o = Outbox::default();
        o.push(MAX_BATCH_BYTES / 2, 0, 0);
        o.push(MAX_BATCH_BYTES / 2, 1, 0);
        o.push(1, 2, 0);
        assert_eq!(o.take_batch().len(), 2);
        assert_eq!(o.take_batch().len(), 1);
        // One message over the byte budget still goes, alone.
        let mut o = Outbox::default();
        o.push(MAX_BATCH_BYTES + 1, 0, 0);
        o.push(1, 1, 0);
        assert_eq!(o.take_batch(), vec![(0, 0)]);
    }

    #[test]
    fn an_empty_take_ends_the_flush() {
        let mut o: Outbox<()> = Outbox::default();
        o.push(1, (), 0);
        assert_eq!(o.take_batch().len(), 1);
        assert!(o.take_batch().is_empty());
        assert!(!o.flushing());
    }

    #[test]
    fn a_flush_stops_at_its_lease_and_a_waiter_takes_over() {
        let mut o = Outbox::default();
        o.push(1, "a", 0);
        o.take_batch();
        o.push(1, "b", 5);
        assert!(!o.after_batch(FLUSH_LEASE_MS));
        assert!(!o.flushing());
        assert_eq!(o.check(1, 5, FLUSH_LEASE_MS + 1), Check::Flush);
        assert!(o.flushing());
        assert_eq!(o.take_batch(), vec![(1, "b")]);
    }

    #[test]
    fn a_waiter_keeps_waiting_while_a_flush_runs_or_its_batch_is_in_flight() {
        let mut o = Outbox::default();
        o.push(1, "a", 0);
        let (b, _) = o.push(1, "b", 0);
        assert_eq!(o.check(b, 0, WAIT_CHECK_MS), Check::Wait);
        o.take_batch();
        // In flight: not waiting any more, and not to be withdrawn.
        assert_eq!(o.check(b, 0, WAIT_CHECK_MS * 2), Check::Wait);
    }

    #[test]
    fn a_flush_cancelled_mid_send_is_taken_over() {
        let mut o = Outbox::default();
        o.push(1, "a", 0);
        o.take_batch();
        // Its task died with the batch in flight; a later item waits behind it.
        let (b, _) = o.push(1, "b", 100);
        assert_eq!(o.check(b, 100, 200), Check::Wait);
        assert_eq!(o.check(b, 100, FLUSH_LEASE_MS * 2), Check::Flush);
        assert_eq!(o.take_batch(), vec![(b, "b")]);
    }

    #[test]
    fn a_waiter_gives_up_and_its_item_is_withdrawn() {
        let mut o = Outbox::default();
        let (a, _) = o.push(1, "a", 0);
        assert_eq!(o.check(a, 0, GIVE_UP_MS), Check::GiveUp);
        assert_eq!(o.waiting(), 0);
        assert!(o.take_batch().is_empty());
    }

    #[test]
    fn flush_ended_lets_a_waiter_start_the_next_one() {
        let mut o = Outbox::default();
        let (a, _) = o.push(1, "a", 0);
        o.flush_ended();
        assert_eq!(o.check(a, 0, 1), Check::Flush);
    }

    proptest! {
        /// Whatever the sizes, batches come out oldest first, each within the limits (or one
        /// oversized message alone), and together hold every item exactly once.
        #[test]
        fn batches_partition_the_waiting_items(sizes in proptest::collection::vec(0usize..200_000, 0..300)) {
            let mut o = Outbox::default();
            for (i, s) in sizes.iter().enumerate() {
                o.push(*s, i, 0);
            }
            let mut seen = Vec::new();
            loop {
                let batch = o.take_batch();
                if batch.is_empty() {
                    break;
                }
                prop_assert!(batch.len() <= MAX_BATCH_MESSAGES);
                let bytes: usize = batch.iter().map(|(_, i)| sizes[*i]).sum();
                prop_assert!(bytes <= MAX_BATCH_BYTES || batch.len() == 1);
                seen.extend(batch.into_iter().map(|(_, i)| i));
            }
            prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
        }
    }
}
