//! The client's side of [`Stack`]: after every call into the stack, the
//! frames it staged go to the shared arena ([`Tx`]), its events are acted
//! on (received bytes to stdout), and state changes are traced (the stack
//! reports none: they are found by comparing the connection's state
//! before and after).

use std::io::{self, BufWriter, Stdout, Write};

use tcpcore::{CloseReason, ConnId, FourTuple, Instant, Stack, StackEvent, StateName};

use crate::worker::trace::Trace;
use crate::worker::tx::Tx;

/// Bytes of payload buffered for stdout.
const OUT_BUF: usize = 256 * 1024;
/// Bytes copied out of the receive buffer at once, at most.
const RECV_MAX: usize = 256 * 1024;

/// The stack, the outgoing frames, stdout and what the loop needs to know
/// of the connection's events (established, peer closed, closed how).
pub(super) struct Driver<'s, 't> {
    pub(super) stack: Stack<'s>,
    pub(super) tx: Tx,
    pub(super) trace: Trace<'t>,
    out: BufWriter<Stdout>,
    /// What [`Stack::recv`] fills.
    buf: Vec<u8>,
    /// The connection's 4-tuple, for the trace.
    tuple: FourTuple,
    /// The connection's state after the last step (CLOSED: none).
    last: StateName,
    /// Writing to stdout failed: the run ends with this.
    pub(super) out_error: Option<io::Error>,
    /// The handshake completed.
    pub(super) established: bool,
    /// The peer's FIN arrived.
    pub(super) peer_closed: bool,
    /// The connection ended, so.
    pub(super) closed: Option<CloseReason>,
}

impl<'s, 't> Driver<'s, 't> {
    pub(super) fn new(stack: Stack<'s>, trace: Trace<'t>, tuple: FourTuple) -> Driver<'s, 't> {
        Driver {
            stack,
            tx: Tx::new(),
            trace,
            out: BufWriter::with_capacity(OUT_BUF, io::stdout()),
            buf: vec![0; RECV_MAX],
            tuple,
            last: StateName::Closed,
            out_error: None,
            established: false,
            peer_closed: false,
            closed: None,
        }
    }

    /// What follows any call into the stack for connection `id`: its state
    /// change traced, the staged frames moved to the arena, the events
    /// acted on, and what those staged moved too.
    pub(super) fn settle(&mut self, id: ConnId, now: Instant) {
        self.trace_state(id);
        self.take_frames();
        while let Some(ev) = self.stack.poll_event() {
            match ev {
                StackEvent::Established(_) => self.established = true,
                StackEvent::Readable(c) => self.read(c, now),
                StackEvent::PeerClosed(_) => self.peer_closed = true,
                StackEvent::Closed(_, reason) => {
                    self.trace.closed(&self.tuple, reason);
                    self.closed = Some(reason);
                }
            }
        }
        self.take_frames();
        self.tx.trace_new_frames(&mut self.trace);
    }

    /// A line for the state change since the last step, if any.
    fn trace_state(&mut self, id: ConnId) {
        let now = self.stack.state(id).unwrap_or(StateName::Closed);
        if now != self.last {
            self.trace.state(&self.tuple, self.last, now);
            self.last = now;
        }
    }

    /// Copies the staged frames into the arena (a frame it has no room
    /// for is lost, as on a full NIC queue, and retransmitted).
    fn take_frames(&mut self) {
        while let Some(t) = self.stack.poll_transmit() {
            let gso = t.gso_size.unwrap_or(0);
            if let Some(buf) = self.tx.alloc(t.frame.len(), gso) {
                buf[..t.frame.len()].copy_from_slice(t.frame);
            }
        }
    }

    /// Reads what connection `id` has unread, to stdout.
    fn read(&mut self, id: ConnId, now: Instant) {
        while let Ok(n) = self.stack.recv(id, &mut self.buf, now) {
            if self.out_error.is_none() {
                if let Err(e) = self.out.write_all(&self.buf[..n]) {
                    self.out_error = Some(e);
                }
            }
        }
    }

    /// Sends what the stack wrote.
    pub(super) fn send(
        &mut self,
        sock: &mut crate::link::Link,
    ) -> Result<(), crate::server::Failure> {
        // The stack's Io copies GSO data into the arena (the trait's
        // default): no frame here borrows a send buffer.
        self.tx.send(sock, &mut self.trace, None)
    }

    /// Writes out the payload buffered for stdout, and the trace.
    pub(super) fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.out_error.get_or_insert(e);
        }
        self.trace.flush();
    }
}
