//! The connection table: the keyed hash index over the slots (lookup,
//! insert, remove), the per-source counts, the free list, and the list of
//! TIME-WAIT slots oldest first, from which a full table recycles.

use core::net::IpAddr;

use crate::conn::{CloseReason, Event, State, StateName, Transition};
use crate::isn::FourTuple;
use crate::time::Instant;

use super::{Conn, Endpoint, Io, NIL, SOURCE_BUCKETS};

impl Endpoint<'_> {
    pub(super) fn bucket_of(&self, tuple: &FourTuple) -> usize {
        (self.keyed.bucket_hash(tuple) % self.slots.len() as u64) as usize
    }

    pub(super) fn lookup(&self, tuple: &FourTuple) -> Option<u32> {
        // Frames of one connection come in runs (a bulk transfer, a burst
        // of ACKs): the last connection found is tried first, before the
        // keyed hash.
        let last = self.last_hit.get();
        if let Some(s) = self.slots.get(last as usize) {
            if s.conn.as_ref().is_some_and(|c| c.tuple == *tuple) {
                return Some(last);
            }
        }
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.slots[self.bucket_of(tuple)].bucket;
        while i != NIL {
            let s = &self.slots[i as usize];
            if s.conn.as_ref().is_some_and(|c| c.tuple == *tuple) {
                self.last_hit.set(i);
                return Some(i);
            }
            i = s.next;
        }
        None
    }

    pub(super) fn source_bucket(&self, addr: IpAddr) -> usize {
        (self.keyed.hash_addr(addr) % SOURCE_BUCKETS as u64) as usize
    }

    pub(super) fn insert(&mut self, conn: Conn) -> Option<u32> {
        let tuple_addr = conn.tuple.remote_addr;
        let i = self.free;
        if i == NIL {
            return None;
        }
        let b = self.bucket_of(&conn.tuple);
        let head = self.slots[b].bucket;
        let slot = &mut self.slots[i as usize];
        self.free = slot.next;
        slot.conn = Some(conn);
        slot.generation = slot.generation.wrapping_add(1);
        slot.rx.clear();
        slot.next = head;
        self.slots[b].bucket = i;
        self.len += 1;
        let src = self.source_bucket(tuple_addr);
        self.per_source[src] = self.per_source[src].saturating_add(1);
        self.wake_for(i);
        Some(i)
    }

    pub(super) fn remove(&mut self, i: u32) {
        let Some(conn) = self.slots[i as usize].conn.take() else {
            return;
        };
        self.timers.remove(self.slots, i);
        // Its held ACK would not be sent (wrong generation); let it go now.
        self.forget_ack(i);
        self.tw_unlink(i);
        let b = self.bucket_of(&conn.tuple);
        // Unlink from the bucket's chain.
        let mut prev = NIL;
        let mut cur = self.slots[b].bucket;
        while cur != NIL && cur != i {
            prev = cur;
            cur = self.slots[cur as usize].next;
        }
        let next = self.slots[i as usize].next;
        if cur == i {
            if prev == NIL {
                self.slots[b].bucket = next;
            } else {
                self.slots[prev as usize].next = next;
            }
        }
        self.slots[i as usize].next = self.free;
        self.free = i;
        self.len -= 1;
        let src = self.source_bucket(conn.tuple.remote_addr);
        self.per_source[src] = self.per_source[src].saturating_sub(1);
        if conn.state.is_half_open() {
            self.half_open -= 1;
            self.listener_half_open(conn.lq, false);
        }
        // A connection closed before it was accepted leaves the queue.
        self.unlink(conn.lq);
    }

    /// Puts slot `i` at the tail of the TIME-WAIT list, unless it is on it.
    pub(super) fn tw_link(&mut self, i: u32) {
        let tail = self.tw_tail;
        let slot = &mut self.slots[i as usize];
        if slot.tw_linked {
            return;
        }
        slot.tw_linked = true;
        slot.tw_prev = tail;
        slot.tw_next = NIL;
        if tail == NIL {
            self.tw_head = i;
        } else {
            self.slots[tail as usize].tw_next = i;
        }
        self.tw_tail = i;
    }

    /// Takes slot `i` off the TIME-WAIT list, if it is on it.
    pub(super) fn tw_unlink(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        if !slot.tw_linked {
            return;
        }
        let (prev, next) = (slot.tw_prev, slot.tw_next);
        slot.tw_linked = false;
        slot.tw_prev = NIL;
        slot.tw_next = NIL;
        if prev == NIL {
            self.tw_head = next;
        } else {
            self.slots[prev as usize].tw_next = next;
        }
        if next == NIL {
            self.tw_tail = prev;
        } else {
            self.slots[next as usize].tw_prev = prev;
        }
    }

    /// Ends the TIME-WAIT of the connection in slot `i` now, as its timer
    /// would: CLOSED, reported as a normal close, and the slot freed.
    pub(super) fn end_time_wait<I: Io>(&mut self, i: u32, now: Instant, io: &mut I) {
        let mut t = Transition::idle(State::Closed(CloseReason::Normal));
        let _ = t.events.push(Event::Closed(CloseReason::Normal));
        self.apply(i, StateName::TimeWait, &t, now, io);
    }

    /// The table is full: frees the slot that entered TIME-WAIT first, if
    /// any, for a new connection. TIME-WAIT guards against old duplicates
    /// (RFC 9293 §3.6) and must not turn new peers away. Linux bounds it the
    /// same way in spirit: past `tcp_max_tw_buckets` a closing socket skips
    /// TIME-WAIT ("TCP: time wait bucket table overflow",
    /// `inet_twsk_alloc`); here TIME-WAIT shares the table with live
    /// connections, so the oldest one gives way when a SYN needs its room.
    /// O(1): the TIME-WAIT slots are kept on a list in the order they
    /// entered it.
    pub(super) fn recycle_time_wait<I: Io>(&mut self, now: Instant, io: &mut I) -> bool {
        let i = self.tw_head;
        if i == NIL {
            return false;
        }
        self.stats.time_wait_recycled += 1;
        self.end_time_wait(i, now, io);
        true
    }
}
