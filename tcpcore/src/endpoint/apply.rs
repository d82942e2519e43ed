//! Carrying out a connection's transition: the new state stored, the
//! application's data offered and its window re-advertised, the replies
//! sent (or held for ACK batching), the events reported, and the slot
//! refiled in the timer heap or freed.

use core::iter::Peekable;
use core::slice;

use crate::conn::{Event, Reply, State, StateName, Transition};
use crate::isn::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::EthernetAddress;

use super::stats::close_index;
use super::{AppEvent, ConnId, Endpoint, Io};

impl Endpoint<'_> {
    /// Carries out a transition of the connection in slot `i`: stores the
    /// new state, offers the application its data, closes our side after the
    /// peer's FIN when configured to, sends the replies, reports events, and
    /// frees the slot when the connection is closed.
    pub(super) fn apply<I: Io>(
        &mut self,
        i: u32,
        from: StateName,
        t: &Transition<'_>,
        now: Instant,
        io: &mut I,
    ) {
        self.apply_to(i, from, Some(&t.state), t, now, io);
    }

    /// [`Endpoint::apply`] for a transition made in place
    /// (`State::on_segment_mut`): the connection's slot holds the new
    /// state already; `t.state` is not it.
    #[inline]
    pub(super) fn apply_in_place<I: Io>(
        &mut self,
        i: u32,
        from: StateName,
        t: &Transition<'_>,
        now: Instant,
        io: &mut I,
    ) {
        self.apply_to(i, from, None, t, now, io);
    }

    /// [`Endpoint::apply`] with the new state given (copied into the slot)
    /// or, `None`, in the slot already.
    #[inline(always)]
    fn apply_to<I: Io>(
        &mut self,
        i: u32,
        from: StateName,
        state: Option<&State>,
        t: &Transition<'_>,
        now: Instant,
        io: &mut I,
    ) {
        let mac = self.peer_mac_of(i);
        let slot = &self.slots[i as usize];
        let Some(conn) = slot.conn.as_ref() else {
            return;
        };
        let at = Target {
            id: ConnId {
                index: i,
                generation: slot.generation,
            },
            tuple: conn.tuple,
            mac,
            active: conn.active,
        };
        let (to, unread) = self.enter(&at, from, state, io);
        // Events in the RFC's order: establishment, data, FIN, closing.
        let mut events = t.events.iter().peekable();
        let reported = self.report_established(&at, from, &mut events, io);
        let consumed = self.deliver(i, at.id, &at.tuple, unread, t.data, io);
        if consumed > 0 {
            self.consume(i, consumed);
        }
        let mut closing: heapless::Vec<Reply, 2> = heapless::Vec::new();
        self.close_after_peer_fin(i, now, &mut closing);
        let (last, closed) =
            self.send_replies(&at, t.replies.iter().chain(closing.iter()), now, io);
        if last != to {
            io.event(
                at.id,
                &at.tuple,
                AppEvent::StateChange { from: to, to: last },
            );
        }
        self.report_events(&at, events, reported, io);
        self.refile(i, last, closed);
    }

    /// The new state goes into the table once (what follows works on it
    /// there, in place), unless it is there already (`None`); the
    /// half-open count and the application learn of the change. Returns
    /// the new state's name and its unread bytes.
    #[inline]
    fn enter<I: Io>(
        &mut self,
        at: &Target,
        from: StateName,
        state: Option<&State>,
        io: &mut I,
    ) -> (StateName, Option<(SeqNum, SeqNum)>) {
        let mut lq = super::listeners::Membership::NONE;
        let mut now_in = (StateName::Closed, None);
        if let Some(c) = self.slots[at.id.index as usize].conn.as_mut() {
            if let Some(state) = state {
                c.state = *state;
            }
            lq = c.lq;
            now_in = (c.state.name(), c.state.unread());
        }
        let to = now_in.0;
        if from == StateName::SynReceived && to != StateName::SynReceived {
            self.half_open -= 1;
            self.listener_half_open(lq, false);
        }
        if from == StateName::SynSent && to == StateName::SynReceived {
            // A simultaneous open is half-open too (`State::is_half_open`).
            self.half_open += 1;
        }
        if from != to {
            io.event(at.id, &at.tuple, AppEvent::StateChange { from, to });
        }
        now_in
    }

    /// Reports the establishment at the front of `events`, if it is there.
    /// Returns whether the application knows of the connection: one that
    /// leaves SYN-RECEIVED without being established was never reported to
    /// the application, so its end is not either.
    #[inline]
    fn report_established<'e, I: Io>(
        &mut self,
        at: &Target,
        from: StateName,
        events: &mut Peekable<slice::Iter<'e, Event>>,
        io: &mut I,
    ) -> bool {
        let mut reported = !matches!(from, StateName::SynReceived | StateName::SynSent);
        while let Some(Event::Established) = events.peek() {
            events.next();
            reported = true;
            self.stats.established += 1;
            // A queued listener's connection waits for `accept` too.
            self.enqueue(at.id.index);
            io.event(at.id, &at.tuple, AppEvent::Established);
        }
        reported
    }

    /// The application took `consumed` bytes: the receive window reopens
    /// by as much (a window update it makes owed goes out with the
    /// connection's next segments, see [`State::consume`]).
    #[inline]
    fn consume(&mut self, i: u32, consumed: u32) {
        let cfg = self.cfg.conn;
        if let Some(c) = self.slots[i as usize].conn.as_mut() {
            let _ = c.state.consume(consumed, &cfg);
        }
    }

    /// The seed's behaviour: once the peer's FIN is in and everything
    /// before it read, close our side. The replies of that close go into
    /// `more`.
    #[inline]
    fn close_after_peer_fin(&mut self, i: u32, now: Instant, more: &mut heapless::Vec<Reply, 2>) {
        let cfg = self.cfg.conn;
        if !cfg.close_on_peer_fin {
            return;
        }
        let Some(state) = self.slots[i as usize].conn.as_mut().map(|c| &mut c.state) else {
            return;
        };
        if matches!(state, State::CloseWait(_)) && state.unread().is_some_and(|(r, e)| r == e) {
            let c = state.close(now, &cfg);
            *state = c.state;
            for r in c.replies {
                let _ = more.push(r);
            }
        }
    }

    /// Sends what the connection has to send (data, FIN, the ACK it owes;
    /// with batching on, an owed ACK that only acknowledges in-order data
    /// may wait for [`Endpoint::flush_acks`]), then `replies`, what the
    /// transition answered. Returns the state's name after sending, and
    /// whether it is closed.
    #[inline]
    fn send_replies<'r, I: Io>(
        &mut self,
        at: &Target,
        replies: impl Iterator<Item = &'r Reply>,
        now: Instant,
        io: &mut I,
    ) -> (StateName, bool) {
        let i = at.id.index;
        let (tuple, peer_mac) = (at.tuple, at.mac);
        self.transmit(i, &tuple, peer_mac, now, self.batching, io);
        if self.batching {
            self.hold_ack(i, at.id.generation, now, io);
        }
        for r in replies {
            self.emit(&tuple, peer_mac, r, io);
        }
        match self.slots[i as usize].conn.as_ref() {
            Some(c) => (c.state.name(), matches!(c.state, State::Closed(_))),
            None => (StateName::Closed, true),
        }
    }

    /// Reports the events after establishment: the peer's FIN, and the end
    /// of the connection (only counted when the application never knew of
    /// it, see [`Endpoint::report_established`]).
    #[inline]
    fn report_events<'e, I: Io>(
        &mut self,
        at: &Target,
        events: impl Iterator<Item = &'e Event>,
        reported: bool,
        io: &mut I,
    ) {
        for e in events {
            match e {
                Event::Established => {}
                Event::PeerClosed => io.event(at.id, &at.tuple, AppEvent::PeerClosed),
                Event::Closed(r) if !reported => {
                    self.stats.handshakes_failed[close_index(*r)] += 1;
                    if at.active {
                        // The application asked for this connection.
                        io.event(at.id, &at.tuple, AppEvent::Closed(*r));
                    }
                }
                Event::Closed(r) => {
                    self.stats.closed[close_index(*r)] += 1;
                    io.event(at.id, &at.tuple, AppEvent::Closed(*r));
                }
            }
        }
    }

    /// Frees slot `i` when its connection is closed; otherwise files it in
    /// the timer heap (and on the TIME-WAIT list when it entered TIME-WAIT).
    #[inline]
    fn refile(&mut self, i: u32, last: StateName, closed: bool) {
        if closed {
            self.remove(i);
        } else {
            if last == StateName::TimeWait {
                self.tw_link(i);
            }
            self.wake_for(i);
        }
    }

    /// Offers the application the in-order bytes it has not consumed:
    /// `data` straight from the segment (it starts at the first unread byte
    /// when non-empty), then what waits in the receive buffer. Bytes it
    /// refuses from `data` are kept in the buffer. Returns how many it took.
    pub(super) fn deliver<I: Io>(
        &mut self,
        i: u32,
        id: ConnId,
        tuple: &FourTuple,
        unread: Option<(SeqNum, SeqNum)>,
        data: &[u8],
        io: &mut I,
    ) -> u32 {
        let Some((read, end)) = unread else {
            return 0;
        };
        let mut taken = 0u32;
        let mut data = data;
        if self.echo && data.len() > usize::from(self.cfg.conn.mss) {
            // Echo of a segment larger than the MSS (a GRO or GSO batch):
            // `data` starts at the first unread byte, so it may go to the
            // send buffer before anything else (`set_echo`).
            let n = self.echo_direct(i, data);
            taken += n as u32;
            data = &data[n..];
        }
        let (_, mut rx) = self.rx_buf(i);
        if !data.is_empty() {
            let n = io.deliver(id, tuple, data).min(data.len());
            taken += n as u32;
            if n < data.len() {
                rx.store(read + taken, &data[n..]);
                self.stats.bytes_delivered += u64::from(taken);
                return taken;
            }
        }
        let from = read + taken;
        if from.before(end) {
            let (a, b) = rx.slices(from, end);
            for part in [a, b] {
                if part.is_empty() {
                    continue;
                }
                let n = io.deliver(id, tuple, part).min(part.len());
                taken += n as u32;
                if n < part.len() {
                    break;
                }
            }
        }
        self.stats.bytes_delivered += u64::from(taken);
        taken
    }
}

/// The connection a transition is applied to: its id, 4-tuple and the
/// peer's MAC address as they were when the transition began.
struct Target {
    id: ConnId,
    tuple: FourTuple,
    mac: EthernetAddress,
    /// Opened by [`Endpoint::connect`].
    active: bool,
}
