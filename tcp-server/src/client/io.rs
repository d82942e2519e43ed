//! The client's [`Io`]: outgoing frames through the shared arena
//! ([`Tx`]), received payload to stdout, and what the loop needs to know
//! of the connection's events (established, peer closed, closed how).

use std::io::{self, BufWriter, Stdout, Write};
use std::time::SystemTime;

use tcpcore::{AppEvent, CloseReason, ConnId, FourTuple, Io};

use crate::render::CsumNote;
use crate::worker::trace::Trace;
use crate::worker::tx::Tx;
use crate::worker::TracedIo;

/// Bytes of payload buffered for stdout.
const OUT_BUF: usize = 256 * 1024;

/// The client's [`Io`].
pub(super) struct ClientIo<'a> {
    pub(super) tx: Tx,
    pub(super) trace: Trace<'a>,
    pub(super) out: BufWriter<Stdout>,
    /// Writing to stdout failed: the run ends with this.
    pub(super) out_error: Option<io::Error>,
    /// The handshake completed.
    pub(super) established: bool,
    /// The peer's FIN arrived.
    pub(super) peer_closed: bool,
    /// The connection ended, so.
    pub(super) closed: Option<CloseReason>,
}

impl<'a> ClientIo<'a> {
    pub(super) fn new(trace: Trace<'a>) -> ClientIo<'a> {
        ClientIo {
            tx: Tx::new(),
            trace,
            out: BufWriter::with_capacity(OUT_BUF, io::stdout()),
            out_error: None,
            established: false,
            peer_closed: false,
            closed: None,
        }
    }

    /// Sends what the endpoint wrote.
    pub(super) fn send(
        &mut self,
        sock: &mut rawnet::RawSocket,
    ) -> Result<(), crate::server::Failure> {
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

impl Io for ClientIo<'_> {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.tx.alloc(len, 0)
    }

    fn event(&mut self, _id: ConnId, tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::StateChange { from, to } => self.trace.state(tuple, from, to),
            AppEvent::Established => self.established = true,
            AppEvent::Data(bytes) => {
                if self.out_error.is_none() {
                    if let Err(e) = self.out.write_all(bytes) {
                        self.out_error = Some(e);
                    }
                }
            }
            AppEvent::PeerClosed => self.peer_closed = true,
            AppEvent::Closed(reason) => {
                self.trace.closed(tuple, reason);
                self.closed = Some(reason);
            }
        }
    }
}

impl TracedIo for ClientIo<'_> {
    fn trace_rx(&mut self, frame: &[u8], ts: SystemTime, note: CsumNote) {
        self.trace.rx(frame, ts, note);
    }

    fn trace_new_frames(&mut self) {
        self.tx.trace_new_frames(&mut self.trace, None);
    }
}
