//! Carrying out a connection's transition: the new state stored, the
//! application's data offered and its window re-advertised, the replies
//! sent (or held for ACK batching), the events reported, and the slot
//! refiled in the timer heap or freed.

use crate::conn::{Event, Reply, State, StateName, Transition};
use crate::isn::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::TcpControl;

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
        t: Transition<'_>,
        now: Instant,
        io: &mut I,
    ) {
        let slot = &mut self.slots[i as usize];
        let id = ConnId {
            index: i,
            generation: slot.generation,
        };
        let Some(conn) = slot.conn.as_ref() else {
            return;
        };
        let (tuple, peer_mac) = (conn.tuple, conn.peer_mac);
        let to = t.state.name();
        // The new state goes into the table once; what follows works on it
        // there, in place.
        if let Some(c) = self.slots[i as usize].conn.as_mut() {
            c.state = t.state;
        }
        if from == StateName::SynReceived && to != StateName::SynReceived {
            self.half_open -= 1;
        }
        if from != to {
            io.event(id, &tuple, AppEvent::StateChange { from, to });
        }
        // Events in the RFC's order: establishment, data, FIN, closing.
        let mut events = t.events.iter().peekable();
        // A connection that leaves SYN-RECEIVED without being established
        // was never reported to the application: its end is not either.
        let mut reported = from != StateName::SynReceived;
        while let Some(Event::Established) = events.peek() {
            events.next();
            reported = true;
            self.stats.established += 1;
            io.event(id, &tuple, AppEvent::Established);
        }
        let mut replies = t.replies;
        let mut more: heapless::Vec<Reply, 4> = heapless::Vec::new();
        let unread = t.state.unread();
        let consumed = self.deliver(i, id, &tuple, unread, t.data, io);
        let cfg = self.cfg.conn;
        let slot = &mut self.slots[i as usize];
        if let Some(state) = slot.conn.as_mut().map(|c| &mut c.state) {
            if consumed > 0 {
                let update = state.consume(consumed, now, &cfg, &slot.rx);
                if replies.is_empty() {
                    more.extend(update);
                } else if let Some(w) = state.readvertise() {
                    // The replies were made before the application took the
                    // data: they advertise the window as it is now instead.
                    for r in replies.iter_mut().filter(|r| r.control != TcpControl::Rst) {
                        r.window = w;
                    }
                }
            }
            // The seed's behaviour: once the peer's FIN is in and everything
            // before it read, close our side.
            if cfg.close_on_peer_fin
                && matches!(state, State::CloseWait(_))
                && state.unread().is_some_and(|(r, e)| r == e)
            {
                let c = state.close(now, &cfg);
                *state = c.state;
                more.extend(c.replies);
            }
        }
        // Data and FIN to send go first; a pure ACK they make redundant (the
        // same ACK, no SACK blocks) is left out.
        let sent = self.transmit(i, &tuple, peer_mac, now, io);
        let (rcv_nxt, last, closed) = match self.slots[i as usize].conn.as_ref() {
            Some(c) => (
                c.state.rcv_nxt(),
                c.state.name(),
                matches!(c.state, State::Closed(_)),
            ),
            None => (None, StateName::Closed, true),
        };
        let advanced = !t.data.is_empty() || t.buffered > 0;
        for r in replies.iter().chain(more.iter()) {
            let pure =
                r.control == TcpControl::None && r.len == 0 && r.options.sack_blocks.is_empty();
            if sent > 0 && pure && r.ack == rcv_nxt {
                // Made redundant by the segments just sent.
                self.forget_ack(i);
                continue;
            }
            if self.batching && pure && advanced && !closed {
                // Batching: an ACK that only moves RCV.NXT forward waits for
                // the end of the batch, where one ACK per connection covers
                // every segment of the batch.
                self.defer_ack(i, id.generation, *r, &tuple, peer_mac, io);
                continue;
            }
            if r.ack.is_some() {
                // It acknowledges at least as much as any held ACK.
                self.forget_ack(i);
            }
            self.emit(&tuple, peer_mac, r, io);
        }
        if sent > 0 {
            self.forget_ack(i);
        }
        if last != to {
            io.event(id, &tuple, AppEvent::StateChange { from: to, to: last });
        }
        for e in events {
            match e {
                Event::Established => {}
                Event::PeerClosed => io.event(id, &tuple, AppEvent::PeerClosed),
                Event::Closed(r) if !reported => {
                    self.stats.handshakes_failed[close_index(*r)] += 1;
                }
                Event::Closed(r) => {
                    self.stats.closed[close_index(*r)] += 1;
                    io.event(id, &tuple, AppEvent::Closed(*r));
                }
            }
        }
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
        let (_, mut rx) = self.rx_buf(i);
        let mut taken = 0u32;
        if !data.is_empty() {
            let n = io.deliver(id, tuple, data).min(data.len());
            taken += n as u32;
            if n < data.len() {
                rx.store(read + n as u32, &data[n..]);
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
