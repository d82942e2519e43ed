//! The application's calls on a connection: send, echo, resume delivery,
//! keep-alive and user timeout, close and abort (one connection or all).

use crate::conn::{send, KeepAlive, RecvBuffer, Transition};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

use super::{ConnId, Endpoint, Io, Slot};

/// How many connections can send from the application's memory at once
/// ([`Endpoint::send_borrowed`]); beyond that, borrowed sends are copied.
pub const BORROWED: usize = 64;

/// A span of a connection's stream that lies in the application's memory
/// ([`Endpoint::send_borrowed`]): the bytes from `from` to `to` are
/// `base[off + (seq - from)]`. `from` moves up to SND.UNA as the span is
/// continued, so `seq - from` stays within the send buffer's size, however
/// long the stream.
#[derive(Clone, Copy, Debug)]
pub(super) struct Borrowed<'s> {
    slot: u32,
    generation: u32,
    from: SeqNum,
    /// Where `from` is in `base`.
    off: usize,
    to: SeqNum,
    base: &'s [u8],
}

impl<'s> Borrowed<'s> {
    /// The `len` bytes from `seq`, if connection `slot`/`generation`'s
    /// borrowed span holds them all.
    fn get(&self, slot: u32, generation: u32, seq: SeqNum, len: usize) -> Option<&'s [u8]> {
        if self.slot != slot || self.generation != generation {
            return None;
        }
        if seq.before(self.from) || (self.to - seq) < u32::try_from(len).ok()? {
            return None;
        }
        let start = self.off.checked_add((seq - self.from) as usize)?;
        self.base.get(start..start.checked_add(len)?)
    }

    /// Its connection is still there and has not had all of it
    /// acknowledged.
    fn live(&self, slots: &[Slot]) -> bool {
        slots
            .get(self.slot as usize)
            .filter(|s| s.generation == self.generation)
            .and_then(|s| s.conn.as_ref())
            .and_then(|c| c.state.snd_una())
            .is_some_and(|una| self.to.after(una))
    }
}

/// The `len` bytes connection `slot`/`generation` sends from `seq`: from
/// its borrowed span if it has one holding them, else from its send ring.
pub(super) fn payload<'a>(
    borrowed: &[Borrowed<'a>],
    ring: &'a [u8],
    slot: u32,
    generation: u32,
    seq: SeqNum,
    len: usize,
) -> &'a [u8] {
    borrowed
        .iter()
        .find_map(|b| b.get(slot, generation, seq, len))
        .unwrap_or_else(|| send::ring_read(ring, seq, len))
}

impl<'s> Endpoint<'s> {
    /// The application sends `base[offset..]` on connection `id` from where
    /// it lies, without copying it into the send buffer: the bytes are
    /// borrowed for as long as the endpoint lives (a file mapped or read
    /// once, flash on a microcontroller) and read again each time a
    /// segment carries them (a retransmission too), handed to the [`Io`]
    /// as [`TxPayload`](super::TxPayload) for a gather write. Returns how
    /// many bytes were queued: as many as the send buffer has room for
    /// (the buffer's size still bounds what is queued and in flight; its
    /// memory is not used). Call it again, with the same `base` and the
    /// offset moved on, as ACKs make room.
    ///
    /// A connection's unacknowledged data is either all borrowed or all in
    /// its send buffer: while borrowed data is unacknowledged,
    /// [`Endpoint::send`] and [`Endpoint::echo`] take nothing; a
    /// `send_borrowed` while buffered data is unacknowledged, or when
    /// [`BORROWED`] connections hold borrowed data already, copies the
    /// bytes into the send buffer instead, as `send` does; one that does
    /// not continue the last (another `base`, or not the offset where the
    /// last ended) while that is unacknowledged takes nothing, as `send`.
    pub fn send_borrowed<I: Io>(
        &mut self,
        id: ConnId,
        base: &'s [u8],
        offset: usize,
        now: Instant,
        io: &mut I,
    ) -> usize {
        let Some(data) = base.get(offset..) else {
            return 0;
        };
        let Some(state) = self.state(id) else {
            return 0;
        };
        let (Some((end, room)), Some(una)) = (state.send_space(), state.snd_una()) else {
            return 0;
        };
        let n = data.len().min(room);
        if n == 0 {
            return 0;
        }
        // Spans of gone connections, or all acknowledged, are let go.
        let slots = &*self.slots;
        self.borrowed.retain(|b| b.live(slots));
        let mine = self
            .borrowed
            .iter()
            .position(|b| b.slot == id.index && b.generation == id.generation);
        let continues = mine.is_some_and(|k| {
            let b = &self.borrowed[k];
            b.to == end
                && core::ptr::eq(b.base, base)
                && b.off.checked_add((end - b.from) as usize) == Some(offset)
        });
        let k = if continues {
            mine.inspect(|&k| {
                // What is acknowledged is let go: `from` moves up to
                // SND.UNA.
                let b = &mut self.borrowed[k];
                if b.from.before(una) {
                    b.off += (una - b.from) as usize;
                    b.from = una;
                }
            })
        } else if mine.is_none() && end == una {
            // Nothing unacknowledged: a new span starts here.
            let b = Borrowed {
                slot: id.index,
                generation: id.generation,
                from: end,
                off: offset,
                to: end,
                base,
            };
            self.borrowed.push(b).ok().map(|()| self.borrowed.len() - 1)
        } else {
            None
        };
        let Some(k) = k else {
            // Copied into the send buffer instead.
            return self.send(id, &data[..n], now, io);
        };
        let Some(conn) = self.slots[id.index as usize].conn.as_mut() else {
            return 0;
        };
        let taken = conn.state.queue(n);
        self.borrowed[k].to = end + taken as u32;
        let (tuple, mac) = (conn.tuple, conn.peer_mac);
        self.transmit(id.index, &tuple, mac, now, false, io);
        self.wake_for(id.index);
        taken
    }

    /// Connection `i` has borrowed data not yet acknowledged
    /// ([`Endpoint::send_borrowed`]): nothing may be queued after it in
    /// its send buffer.
    pub(super) fn borrowing(&self, i: u32) -> bool {
        !self.borrowed.is_empty()
            && self
                .borrowed
                .iter()
                .any(|b| b.slot == i && b.live(self.slots))
    }

    /// The application is ready for more bytes on connection `id`: what
    /// waits in its receive buffer is offered again through [`Io::deliver`],
    /// and the window reopens (with a window update when it had closed).
    pub fn resume<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = Transition::idle(state);
            self.apply(id.index, state.name(), &t, now, io);
        }
    }

    /// The `len` bytes connection `id` sent from `seq`, borrowed again
    /// from its send buffer: for a transport that queued a frame of
    /// [`Io::tx_gso_gather`] and sends it after the endpoint's call
    /// returned. `None` once any of them is acknowledged (the buffer may
    /// then hold newer data there; the frame is not needed any more, or
    /// only in part, and is dropped: TCP resends what was not received),
    /// when the connection is gone (its slot perhaps another's), or when
    /// the range is not one the connection has queued.
    pub fn unacked(&self, id: ConnId, seq: SeqNum, len: usize) -> Option<&[u8]> {
        let (una, end) = self.state(id)?.unacked_span()?;
        let len32 = u32::try_from(len).ok()?;
        // Wholly within [SND.UNA, end of the queued data).
        if seq.before(una) || (end - seq) < len32 || end.before(seq) {
            return None;
        }
        let each = self.bufs.tx;
        let at = id.index as usize * each;
        let ring = self.tx_mem.get(at..at + each)?;
        let bytes = payload(&self.borrowed, ring, id.index, id.generation, seq, len);
        (bytes.len() == len).then_some(bytes)
    }

    /// The application sends `data` on connection `id`; returns how many
    /// bytes the send buffer took (fewer when it is full, none once the
    /// connection is closing). They go out as the windows allow.
    pub fn send<I: Io>(&mut self, id: ConnId, data: &[u8], now: Instant, io: &mut I) -> usize {
        if self.state(id).is_none() || self.borrowing(id.index) {
            // Gone; or nothing is queued after unacknowledged borrowed data.
            return 0;
        }
        let slot = &mut self.slots[id.index as usize];
        let Some(conn) = slot.conn.as_mut() else {
            return 0;
        };
        let Some((end, room)) = conn.state.send_space() else {
            return 0;
        };
        let n = data.len().min(room);
        let each = self.bufs.tx;
        let at = id.index as usize * each;
        send::ring_write(&mut self.tx_mem[at..at + each], end, &data[..n]);
        let taken = conn.state.queue(n);
        let (tuple, mac) = (conn.tuple, conn.peer_mac);
        self.transmit(id.index, &tuple, mac, now, false, io);
        self.wake_for(id.index);
        taken
    }

    /// RFC 862 echo without a copy through the application: moves as many
    /// of connection `id`'s unread received bytes as its send buffer has room
    /// for into the send buffer, reopens the receive window by as much, and
    /// sends. Returns how many bytes moved. An application that echoes
    /// leaves its [`Io::deliver`] taking nothing and calls this after each
    /// batch of frames (and after ACKs free send-buffer room).
    pub fn echo<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) -> usize {
        let Some(mut state) = self.state(id).copied() else {
            return 0;
        };
        if self.borrowing(id.index) {
            return 0;
        }
        let (Some((read, end)), Some((send_at, room))) = (state.unread(), state.send_space())
        else {
            return 0;
        };
        let n = ((end - read) as usize).min(room);
        if n == 0 {
            return 0;
        }
        let i = id.index;
        let tx_each = self.bufs.tx;
        let tx_at = i as usize * tx_each;
        let rx_each = self.bufs.rx;
        let rx_at = i as usize * rx_each;
        let tx = &mut self.tx_mem[tx_at..tx_at + tx_each];
        let rx = RecvBuffer::from_checked(
            &mut self.slots[i as usize].rx,
            &mut self.rx_mem[rx_at..rx_at + rx_each],
        );
        let (a, b) = rx.slices(read, read + n as u32);
        send::ring_write(tx, send_at, a);
        send::ring_write(tx, send_at + a.len() as u32, b);
        let queued = state.queue(n);
        // A window update it makes owed goes out with `apply`'s transmit.
        let _ = state.consume(queued as u32, &self.cfg.conn);
        self.stats.bytes_delivered += queued as u64;
        let t = Transition::idle(state);
        if let Some(conn) = self.slots[i as usize].conn.as_mut() {
            conn.state = state;
        }
        self.apply(i, state.name(), &t, now, io);
        queued
    }

    /// RFC 862 echo on every connection, without a copy through a receive
    /// buffer: with it on, the in-order bytes of a segment larger than the
    /// MSS (a GRO or GSO batch) go from it straight into the connection's
    /// send buffer, as far as it has room, and out with its ACK as one
    /// segmentation-offload burst. Everything else is offered to
    /// [`Io::deliver`] as usual: an echo application takes none of it
    /// there and calls [`Endpoint::echo`] after each batch of frames, which
    /// moves it (so that the echoes of many small segments go out
    /// together, not one frame each), and moves what did not fit once ACKs
    /// have made room. The bytes stay in order: a segment's bytes go
    /// straight only while nothing waits before them. Off by default.
    pub fn set_echo(&mut self, on: bool) {
        self.echo = on;
    }

    /// With [`Endpoint::set_echo`] on: queues as much of `data` (in-order
    /// bytes with nothing unread before them) on connection `i`'s send
    /// buffer as it has room for; returns how many bytes.
    pub(super) fn echo_direct(&mut self, i: u32, data: &[u8]) -> usize {
        if self.borrowing(i) {
            return 0;
        }
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return 0;
        };
        let Some((end, room)) = conn.state.send_space() else {
            return 0;
        };
        let n = data.len().min(room);
        let each = self.bufs.tx;
        let at = i as usize * each;
        send::ring_write(&mut self.tx_mem[at..at + each], end, &data[..n]);
        conn.state.queue(n)
    }

    /// Bytes connection `id` could still queue with [`Endpoint::send`].
    pub fn send_room(&self, id: ConnId) -> usize {
        self.state(id)
            .and_then(|s| s.send_space())
            .map_or(0, |(_, r)| r)
    }

    /// Turns keep-alive (RFC 1122 §4.2.3.6) on with `ka`, or off (`None`),
    /// for connection `id` alone (RFC 9293 §3.8.4 MUST-24; Linux
    /// `SO_KEEPALIVE` with `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
    /// An established connection's idle time counts from `now`. `false`
    /// when `id` is unknown, in TIME-WAIT or closed.
    pub fn set_keepalive<I: Io>(
        &mut self,
        id: ConnId,
        ka: Option<KeepAlive>,
        now: Instant,
        io: &mut I,
    ) -> bool {
        let Some(mut state) = self.state(id).copied() else {
            return false;
        };
        if !state.set_keepalive(ka, now) {
            return false;
        }
        let t = Transition::idle(state);
        self.apply(id.index, state.name(), &t, now, io);
        true
    }

    /// Sets connection `id`'s user timeout (RFC 5482; Linux
    /// `TCP_USER_TIMEOUT`; `None` or zero: off), which otherwise is
    /// [`Config::user_timeout`](crate::Config::user_timeout). `false` when
    /// `id` is unknown, in TIME-WAIT or closed.
    pub fn set_user_timeout<I: Io>(
        &mut self,
        id: ConnId,
        t: Option<Duration>,
        now: Instant,
        io: &mut I,
    ) -> bool {
        let Some(mut state) = self.state(id).copied() else {
            return false;
        };
        if !state.set_user_timeout(t) {
            return false;
        }
        let t = Transition::idle(state);
        self.apply(id.index, state.name(), &t, now, io);
        true
    }

    /// The application closes connection `id` (sends our FIN).
    pub fn close<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = state.close(now, &self.cfg.conn);
            self.apply(id.index, state.name(), &t, now, io);
        }
    }

    /// The application aborts connection `id` (sends a reset).
    pub fn abort<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = state.abort(now);
            self.apply(id.index, state.name(), &t, now, io);
        }
    }

    /// Closes every connection gracefully (for shutdown): each gets our FIN,
    /// and [`Endpoint::handle_frame`] / [`Endpoint::handle_timeout`] finish
    /// the exchange.
    pub fn close_all<I: Io>(&mut self, now: Instant, io: &mut I) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if let Some(conn) = slot.conn.as_ref() {
                let id = ConnId {
                    index: i as u32,
                    generation: slot.generation,
                };
                let _ = conn;
                self.close(id, now, io);
            }
        }
    }

    /// Aborts every connection that is still open (the last step of a
    /// shutdown whose graceful close ran out of time).
    pub fn abort_all<I: Io>(&mut self, now: Instant, io: &mut I) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.conn.is_some() {
                let id = ConnId {
                    index: i as u32,
                    generation: slot.generation,
                };
                self.abort(id, now, io);
            }
        }
    }
}
