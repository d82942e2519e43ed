//! The listener table: the ports the endpoint accepts connections on, each
//! with its own half-open count and accept queue, and an optional "any
//! port" listener (transparent-proxy use: a SYN to any port of our address
//! opens a connection).
//!
//! # Finding a listener
//!
//! A segment that matches no connection goes to the listener of its
//! destination port; without one, to the any-port listener; without that
//! either, the port is CLOSED (RFC 9293 §3.10.7.1: a reset in own-address
//! mode, nothing when the kernel shares the address).
//!
//! # Accept queues
//!
//! Each listener is either *auto-accepting* or *queued*:
//!
//! - Auto-accepting (the listener of [`EndpointConfig::port`], as before
//!   listeners existed): a connection is the application's the moment it
//!   is established; [`AppEvent::Established`] tells it, nothing is queued
//!   and there is no backlog.
//! - Queued (every listener made by [`Endpoint::listen`] or
//!   [`Endpoint::listen_any`]): an established connection is also put on
//!   the listener's accept queue, oldest first, until [`Endpoint::accept`]
//!   takes it. [`AppEvent::Established`] is still reported (and data is
//!   still delivered through [`Io`]); `accept` is how the application
//!   learns of connections in order, and how it makes room. A connection
//!   that closes before it is accepted leaves the queue.
//!
//! Bounds, as in Linux's `tcp_conn_request`:
//!
//! - A queued listener whose accept queue holds `backlog` connections drops
//!   new SYNs ([`DropReason::AcceptQueueFull`]; Linux: `sk_acceptq_is_full`
//!   → `LINUX_MIB_LISTENOVERFLOWS`, drop), with or without SYN cookies: a
//!   connection that could not be queued is no use. The handshake ACK of a
//!   connection already in SYN-RECEIVED is dropped too while the queue is
//!   full (Linux's `tcp_check_req` with `tcp_abort_on_overflow` off), and
//!   so is a returning SYN cookie; the client's retransmission completes
//!   the handshake once there is room.
//! - Each listener has at most [`EndpointConfig::max_half_open`]
//!   connections in SYN-RECEIVED (Linux's SYN queue); past that, SYN
//!   cookies answer (RFC 4987 §3.6) when [`crate::Config::syn_cookies`] is
//!   on, or the SYN is dropped ([`DropReason::HalfOpenFull`]). A cookie's
//!   MAC covers the 4-tuple, our port included, so it only opens a
//!   connection on the port it was sent from.
//!
//! # Removing a listener
//!
//! [`Endpoint::unlisten`] (and [`Endpoint::unlisten_any`]) leaves no
//! connection orphaned, as Linux's `inet_csk_listen_stop` does when a
//! listening socket is closed:
//!
//! - Connections on its accept queue (established, never taken with
//!   [`Endpoint::accept`]) are aborted: a RST `<SEQ=SND.NXT><CTL=RST,ACK>`
//!   goes to the peer where RFC 9293 §3.10.5 ABORT sends one (ESTABLISHED,
//!   FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT; not CLOSING, LAST-ACK or
//!   TIME-WAIT, as Linux's `tcp_need_reset`), and the slot is freed.
//!   Linux: `inet_child_forget` → `tcp_disconnect` →
//!   `tcp_send_active_reset`. They end as any abort does: counted in
//!   [`Stats::closed`] as aborted, and, since [`AppEvent::Established`]
//!   told the application of them, reported [`AppEvent::Closed`] with
//!   [`CloseReason::Aborted`].
//! - Its connections in SYN-RECEIVED are aborted too (the same RST, SEQ =
//!   ISS+1) and freed, counted in [`Stats::handshakes_failed`] as aborted;
//!   the application never knew them and is told nothing (Linux drops the
//!   request socks silently and resets the client's next segment as one
//!   for a CLOSED port; the RST here only says so sooner).
//! - Connections already accepted, and every connection of an
//!   auto-accepting listener once established (the application's from
//!   that moment), go on untouched.
//!
//! A SYN to the port then finds the any-port listener, or a CLOSED port
//! (RFC 9293 §3.10.7.1).
//!
//! [`EndpointConfig::port`]: super::EndpointConfig::port
//! [`EndpointConfig::max_half_open`]: super::EndpointConfig::max_half_open
//! [`AppEvent::Established`]: super::AppEvent::Established
//! [`Io`]: super::Io
//! [`DropReason::AcceptQueueFull`]: super::DropReason::AcceptQueueFull
//! [`DropReason::HalfOpenFull`]: super::DropReason::HalfOpenFull
//! [`Stats::closed`]: super::Stats::closed
//! [`Stats::handshakes_failed`]: super::Stats::handshakes_failed
//! [`AppEvent::Closed`]: super::AppEvent::Closed
//! [`CloseReason::Aborted`]: crate::conn::CloseReason::Aborted

use crate::conn::State;
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

use super::{ConnId, Endpoint, Io, NIL};

/// Listeners on exact ports an endpoint can have at once (the any-port
/// listener comes on top).
pub const LISTENERS: usize = 8;

/// The table index of the any-port listener.
const ANY: usize = LISTENERS;

/// Names a listener (and its incarnation: an id of a listener that was
/// removed names nothing, even when its port is listened on again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId {
    index: u8,
    generation: u16,
}

/// Why [`Endpoint::listen`] or [`Endpoint::listen_any`] made no listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenError {
    /// Port 0 (use [`Endpoint::listen_any`] for every port).
    PortZero,
    /// A backlog of 0: a queued listener could accept nothing.
    ZeroBacklog,
    /// The port (or, for [`Endpoint::listen_any`], any port) is listened
    /// on already.
    InUse,
    /// [`LISTENERS`] listeners exist already.
    TableFull,
}

impl core::fmt::Display for ListenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ListenError::PortZero => "port 0 cannot be listened on",
            ListenError::ZeroBacklog => "a backlog of 0 accepts nothing",
            ListenError::InUse => "the port is listened on already",
            ListenError::TableFull => "the listener table is full",
        })
    }
}

/// What a listener is, and what waits on it ([`Endpoint::listener_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerInfo {
    /// Its port; 0 for the any-port listener.
    pub port: u16,
    /// Most connections its accept queue holds (queued listeners).
    pub backlog: u16,
    /// Established connections are the application's without
    /// [`Endpoint::accept`]; nothing is queued.
    pub auto_accept: bool,
    /// Its connections in SYN-RECEIVED.
    pub half_open: usize,
    /// Established connections waiting for [`Endpoint::accept`].
    pub queued: usize,
}

/// One listener.
#[derive(Clone, Copy, Debug)]
pub(super) struct Listener {
    pub(super) port: u16,
    pub(super) backlog: u16,
    pub(super) auto_accept: bool,
    pub(super) half_open: usize,
    pub(super) queued: usize,
    /// The accept queue: a list through the connections' [`Membership`],
    /// oldest first, or `NIL`.
    head: u32,
    tail: u32,
}

impl Listener {
    /// A queued listener whose accept queue is full.
    #[inline]
    pub(super) fn queue_full(&self) -> bool {
        !self.auto_accept && self.queued >= usize::from(self.backlog)
    }
}

/// A connection's place with its listener: which one made it, and its
/// links on that listener's accept queue.
#[derive(Clone, Copy, Debug)]
pub(super) struct Membership {
    listener: Option<ListenerId>,
    queued: bool,
    prev: u32,
    next: u32,
}

impl Membership {
    /// Made by no listener (an active open).
    pub(super) const NONE: Membership = Membership {
        listener: None,
        queued: false,
        prev: NIL,
        next: NIL,
    };

    /// Made by listener `id`.
    pub(super) const fn of(id: Option<ListenerId>) -> Membership {
        Membership {
            listener: id,
            ..Membership::NONE
        }
    }
}

/// The listener table.
pub(super) struct Listeners {
    entries: [Option<Listener>; LISTENERS + 1],
    generations: [u16; LISTENERS + 1],
}

impl Listeners {
    /// The table with the listener of the configured port, if not 0: an
    /// auto-accepting one, as the endpoint behaved before listeners.
    pub(super) fn new(port: u16) -> Self {
        let mut l = Listeners {
            entries: [None; LISTENERS + 1],
            generations: [0; LISTENERS + 1],
        };
        if port != 0 {
            l.entries[0] = Some(Listener::new(port, u16::MAX, true));
        }
        l
    }

    /// The listener for a segment to `port`: the exact one, or else the
    /// any-port listener.
    #[inline]
    pub(super) fn find(&self, port: u16) -> Option<ListenerId> {
        self.exact(port).or_else(|| self.id_of(ANY))
    }

    /// The listener of exactly `port`.
    #[inline]
    pub(super) fn exact(&self, port: u16) -> Option<ListenerId> {
        (0..LISTENERS)
            .find(|&i| self.entries[i].is_some_and(|l| l.port == port))
            .and_then(|i| self.id_of(i))
    }

    #[inline]
    fn id_of(&self, i: usize) -> Option<ListenerId> {
        self.entries[i].map(|_| ListenerId {
            index: i as u8,
            generation: self.generations[i],
        })
    }

    #[inline]
    pub(super) fn get(&self, id: Option<ListenerId>) -> Option<&Listener> {
        let id = id?;
        let i = usize::from(id.index);
        if self.generations.get(i) != Some(&id.generation) {
            return None;
        }
        self.entries[i].as_ref()
    }

    #[inline]
    pub(super) fn get_mut(&mut self, id: Option<ListenerId>) -> Option<&mut Listener> {
        let id = id?;
        let i = usize::from(id.index);
        if self.generations.get(i) != Some(&id.generation) {
            return None;
        }
        self.entries[i].as_mut()
    }

    fn add(&mut self, i: usize, l: Listener) -> ListenerId {
        self.generations[i] = self.generations[i].wrapping_add(1);
        self.entries[i] = Some(l);
        ListenerId {
            index: i as u8,
            generation: self.generations[i],
        }
    }

    fn remove(&mut self, i: usize) -> bool {
        let had = self.entries[i].take().is_some();
        // Connections that name the old incarnation no longer find it.
        self.generations[i] = self.generations[i].wrapping_add(1);
        had
    }
}

impl Listener {
    fn new(port: u16, backlog: u16, auto_accept: bool) -> Self {
        Listener {
            port,
            backlog,
            auto_accept,
            half_open: 0,
            queued: 0,
            head: NIL,
            tail: NIL,
        }
    }
}

impl Endpoint<'_> {
    /// Listens on `port`: SYNs to it open connections (RFC 9293 §3.10.7.2),
    /// at most `backlog` of them established and waiting for
    /// [`Endpoint::accept`] (see the accept-queue rules in the module
    /// `endpoint::listeners`' docs). An exact-port listener takes
    /// precedence over the any-port listener.
    pub fn listen(&mut self, port: u16, backlog: u16) -> Result<ListenerId, ListenError> {
        if port == 0 {
            return Err(ListenError::PortZero);
        }
        if backlog == 0 {
            return Err(ListenError::ZeroBacklog);
        }
        if self.listeners.exact(port).is_some() {
            return Err(ListenError::InUse);
        }
        let i = (0..LISTENERS)
            .find(|&i| self.listeners.entries[i].is_none())
            .ok_or(ListenError::TableFull)?;
        Ok(self.listeners.add(i, Listener::new(port, backlog, false)))
    }

    /// Listens on every port of our address that has no listener of its own
    /// (transparent-proxy use), with an accept queue of `backlog`.
    pub fn listen_any(&mut self, backlog: u16) -> Result<ListenerId, ListenError> {
        if backlog == 0 {
            return Err(ListenError::ZeroBacklog);
        }
        if self.listeners.entries[ANY].is_some() {
            return Err(ListenError::InUse);
        }
        Ok(self.listeners.add(ANY, Listener::new(0, backlog, false)))
    }

    /// Stops listening on `port`: a SYN to it then finds the any-port
    /// listener, or a CLOSED port (RFC 9293 §3.10.7.1). Returns whether
    /// there was such a listener.
    ///
    /// No connection of the listener is left orphaned (Linux's
    /// `inet_csk_listen_stop`, when a listening socket is closed):
    ///
    /// - each one on its accept queue, established but never
    ///   [`Endpoint::accept`]ed, is aborted ([`State::abort`]: a RST
    ///   `<SEQ=SND.NXT><CTL=RST,ACK>` in ESTABLISHED, FIN-WAIT and
    ///   CLOSE-WAIT, none in CLOSING, LAST-ACK or TIME-WAIT) and its slot
    ///   freed; it counts in [`Stats::closed`](super::Stats::closed) as
    ///   aborted, and the application, which had
    ///   [`AppEvent::Established`](super::AppEvent::Established) for it,
    ///   gets [`AppEvent::Closed`](super::AppEvent::Closed) with
    ///   [`CloseReason::Aborted`](crate::conn::CloseReason::Aborted);
    /// - each one in SYN-RECEIVED is aborted the same way (a RST at
    ///   ISS+1) and freed, counted in
    ///   [`Stats::handshakes_failed`](super::Stats::handshakes_failed) as
    ///   aborted; the application never knew it and is told nothing;
    /// - connections already accepted (and the established connections of
    ///   an auto-accepting listener, the application's from the start) go
    ///   on untouched.
    ///
    /// The resets go out through `io` now, stamped `now`. O(table size).
    pub fn unlisten<I: Io>(&mut self, port: u16, now: Instant, io: &mut I) -> bool {
        match (0..LISTENERS).find(|&i| self.listeners.entries[i].is_some_and(|l| l.port == port)) {
            Some(i) => self.stop_listener(i, now, io),
            None => false,
        }
    }

    /// Removes the any-port listener, as [`Endpoint::unlisten`] does (its
    /// connections not yet accepted, and those in SYN-RECEIVED, are
    /// reset and freed).
    pub fn unlisten_any<I: Io>(&mut self, now: Instant, io: &mut I) -> bool {
        self.stop_listener(ANY, now, io)
    }

    /// Removes the listener at table index `i` after aborting its
    /// connections in SYN-RECEIVED and on its accept queue (see
    /// [`Endpoint::unlisten`]). Each abort is carried out by
    /// `Endpoint::apply`, as [`Endpoint::abort`] does, so the RST, the
    /// counters, the half-open counts, the accept queue, the timer heap
    /// and the free list all follow; the listener is removed last, once
    /// its queue and half-open count are empty.
    fn stop_listener<I: Io>(&mut self, i: usize, now: Instant, io: &mut I) -> bool {
        let Some(id) = self.listeners.id_of(i) else {
            return false;
        };
        for s in 0..self.slots.len() {
            let Some(c) = self.slots[s].conn.as_ref() else {
                continue;
            };
            if c.lq.listener != Some(id) || !(c.lq.queued || c.state.is_half_open()) {
                continue;
            }
            let state = c.state;
            let t = state.abort(now);
            self.apply(s as u32, state.name(), &t, now, io);
        }
        debug_assert!(self
            .listeners
            .get(Some(id))
            .is_some_and(|l| l.queued == 0 && l.half_open == 0));
        self.listeners.remove(i)
    }

    /// The listener of exactly `port` (not the any-port listener).
    pub fn listener(&self, port: u16) -> Option<ListenerId> {
        self.listeners.exact(port)
    }

    /// The any-port listener.
    pub fn any_listener(&self) -> Option<ListenerId> {
        self.listeners.id_of(ANY)
    }

    /// What listener `id` is and holds, while it exists.
    pub fn listener_info(&self, id: ListenerId) -> Option<ListenerInfo> {
        self.listeners.get(Some(id)).map(|l| ListenerInfo {
            port: l.port,
            backlog: l.backlog,
            auto_accept: l.auto_accept,
            half_open: l.half_open,
            queued: l.queued,
        })
    }

    /// Makes listener `id` auto-accepting (`true`: established connections
    /// are no longer queued) or queued. Connections already queued stay
    /// until accepted. Returns whether the listener exists.
    pub fn set_auto_accept(&mut self, id: ListenerId, on: bool) -> bool {
        match self.listeners.get_mut(Some(id)) {
            Some(l) => {
                l.auto_accept = on;
                true
            }
            None => false,
        }
    }

    /// Takes the oldest established connection off listener `id`'s accept
    /// queue. `None` when the queue is empty or the listener is gone.
    pub fn accept(&mut self, id: ListenerId) -> Option<ConnId> {
        let i = self.listeners.get(Some(id))?.head;
        if i == NIL {
            return None;
        }
        self.dequeue(i);
        Some(ConnId {
            index: i,
            generation: self.slots[i as usize].generation,
        })
    }

    /// The connection in slot `i` is established: on a queued listener it
    /// joins the tail of the accept queue.
    #[inline]
    pub(super) fn enqueue(&mut self, i: u32) {
        let Some(m) = self.slots[i as usize].conn.as_ref().map(|c| c.lq) else {
            return;
        };
        let Some(l) = self.listeners.get_mut(m.listener) else {
            return;
        };
        if l.auto_accept || m.queued {
            return;
        }
        let tail = l.tail;
        l.tail = i;
        if tail == NIL {
            l.head = i;
        }
        l.queued += 1;
        if tail != NIL {
            if let Some(c) = self.slots[tail as usize].conn.as_mut() {
                c.lq.next = i;
            }
        }
        if let Some(c) = self.slots[i as usize].conn.as_mut() {
            c.lq.queued = true;
            c.lq.prev = tail;
            c.lq.next = NIL;
        }
    }

    /// Takes the connection in slot `i` off its accept queue, if it is on
    /// one.
    pub(super) fn dequeue(&mut self, i: u32) {
        let Some(m) = self.slots[i as usize].conn.as_ref().map(|c| c.lq) else {
            return;
        };
        self.unlink(m);
        if let Some(c) = self.slots[i as usize].conn.as_mut() {
            c.lq = Membership::of(m.listener);
        }
    }

    /// Unlinks a connection whose membership is `m` from its accept queue
    /// (its own links are left to the caller).
    pub(super) fn unlink(&mut self, m: Membership) {
        if !m.queued {
            return;
        }
        let Some(l) = self.listeners.get_mut(m.listener) else {
            return;
        };
        l.queued -= 1;
        if m.prev == NIL {
            l.head = m.next;
        } else if let Some(c) = self.slots[m.prev as usize].conn.as_mut() {
            c.lq.next = m.next;
        }
        if m.next == NIL {
            l.tail = m.prev;
        } else if let Some(c) = self.slots[m.next as usize].conn.as_mut() {
            c.lq.prev = m.prev;
        }
    }

    /// Whether `tcp` would complete the handshake of the connection in slot
    /// `i` into a full accept queue. As Linux's `tcp_check_req` does (with
    /// `tcp_abort_on_overflow` off), such an ACK is dropped and the
    /// connection stays in SYN-RECEIVED; the client's next segment, or its
    /// answer to our SYN-ACK retransmission, completes it once there is
    /// room.
    #[inline]
    pub(super) fn accept_overflow(&self, i: u32, tcp: &TcpRepr<'_>) -> bool {
        let Some(c) = self.slots[i as usize].conn.as_ref() else {
            return false;
        };
        matches!(c.state, State::SynReceived(_))
            && tcp.ack_number.is_some()
            && !matches!(tcp.control, TcpControl::Rst | TcpControl::Syn)
            && self
                .listeners
                .get(c.lq.listener)
                .is_some_and(|l| l.queue_full())
    }

    /// The connection with membership `m` enters (`+1`) or leaves (`-1`)
    /// SYN-RECEIVED: its listener's count follows the endpoint's.
    #[inline]
    pub(super) fn listener_half_open(&mut self, m: Membership, entered: bool) {
        if let Some(l) = self.listeners.get_mut(m.listener) {
            if entered {
                l.half_open += 1;
            } else {
                l.half_open = l.half_open.saturating_sub(1);
            }
        }
    }
}
