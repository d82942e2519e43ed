//! The event queue: one [`EventSlot`] per connection slot, holding the
//! events not yet pulled as flags, and a FIFO of the slots that hold any.
//!
//! A connection is in the FIFO at most once, and each kind of event is one
//! bit, so the queue cannot overflow whatever the endpoint reports: a
//! second [`StackEvent::Readable`] before the first was pulled merges into
//! it, and the others happen at most once in a connection's life. The
//! events of one connection come out in the order they can happen
//! (established, readable, peer closed, closed).
//!
//! The one way to lose an event is to let a slot be reused by a new
//! connection while its previous connection's events wait -- which the
//! call order of [`Stack`](super::Stack) rules out (every event of a call
//! pulled before the next `handle_*`). Should it happen anyway, the old
//! events are counted in
//! [`StackStats::events_overwritten`](super::StackStats::events_overwritten).

use crate::conn::CloseReason;
use crate::endpoint::ConnId;

use super::StackEvent;

const NIL: u32 = u32::MAX;
const ESTABLISHED: u8 = 1;
const READABLE: u8 = 2;
const PEER_CLOSED: u8 = 4;
const CLOSED: u8 = 8;

/// One connection slot's events not yet pulled (see
/// [`StackStorage::events`](super::StackStorage::events)). Opaque; make
/// them with [`EventSlot::EMPTY`] or `Default`.
#[derive(Clone, Copy, Debug)]
pub struct EventSlot {
    id: Option<ConnId>,
    flags: u8,
    reason: CloseReason,
    next: u32,
    queued: bool,
}

impl EventSlot {
    /// A slot with no events.
    pub const EMPTY: EventSlot = EventSlot {
        id: None,
        flags: 0,
        reason: CloseReason::Normal,
        next: NIL,
        queued: false,
    };
}

impl Default for EventSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// The queue over the slots.
pub(super) struct Events<'s> {
    slots: &'s mut [EventSlot],
    head: u32,
    tail: u32,
    /// Events lost to a slot's reuse before they were pulled.
    pub(super) overwritten: u64,
}

impl<'s> Events<'s> {
    pub(super) fn new(slots: &'s mut [EventSlot]) -> Self {
        slots.fill(EventSlot::EMPTY);
        Events {
            slots,
            head: NIL,
            tail: NIL,
            overwritten: 0,
        }
    }

    /// Whether no event waits.
    pub(super) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    pub(super) fn established(&mut self, id: ConnId) {
        self.push(id, ESTABLISHED, None);
    }

    pub(super) fn readable(&mut self, id: ConnId) {
        self.push(id, READABLE, None);
    }

    pub(super) fn peer_closed(&mut self, id: ConnId) {
        self.push(id, PEER_CLOSED, None);
    }

    pub(super) fn closed(&mut self, id: ConnId, reason: CloseReason) {
        self.push(id, CLOSED, Some(reason));
    }

    fn push(&mut self, id: ConnId, flag: u8, reason: Option<CloseReason>) {
        let i = id.index();
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        if s.flags != 0 && s.id != Some(id) {
            // The slot's previous connection still had events waiting.
            self.overwritten += u64::from(s.flags.count_ones());
            s.flags = 0;
        }
        s.id = Some(id);
        s.flags |= flag;
        if let Some(r) = reason {
            s.reason = r;
        }
        if !s.queued {
            s.queued = true;
            s.next = NIL;
            match self.slots.get_mut(self.tail as usize) {
                Some(t) => t.next = i as u32,
                None => self.head = i as u32,
            }
            self.tail = i as u32;
        }
    }

    /// The next event: the first waiting connection's earliest one.
    pub(super) fn pop(&mut self) -> Option<StackEvent> {
        loop {
            let i = self.head;
            let s = self.slots.get_mut(i as usize)?;
            let flag = s.flags & s.flags.wrapping_neg();
            s.flags &= !flag;
            let (id, reason) = (s.id, s.reason);
            if s.flags == 0 {
                s.queued = false;
                self.head = s.next;
                if self.head == NIL {
                    self.tail = NIL;
                }
            }
            let Some(id) = id else { continue };
            return Some(match flag {
                ESTABLISHED => StackEvent::Established(id),
                READABLE => StackEvent::Readable(id),
                PEER_CLOSED => StackEvent::PeerClosed(id),
                CLOSED => StackEvent::Closed(id, reason),
                _ => continue,
            });
        }
    }
}
