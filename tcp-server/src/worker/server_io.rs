//! The endpoint's [`Io`] in a worker: outgoing frames written into one
//! arena per batch and then queued on the socket (RSTs counted, frames
//! traced), events turned into payload on stdout, echo mode's
//! connections with bytes to send back, and file mode's with the rest of
//! the file to send.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, Stdout, Write};
use std::sync::atomic::Ordering;

use crate::link::Link;
use tcpcore::{
    AppEvent, CloseReason, ConnId, Endpoint, FourTuple, Instant, Io, StateName, TxPayload,
};

use super::shared::Shared;
use super::trace::Trace;
use super::tx::Tx;
use super::Settings;
use crate::cli::Mode;
use crate::server::Failure;

/// Bytes of payload a worker buffers for stdout.
const OUT_BUF: usize = 256 * 1024;

/// What the application does with events: the payload, and the first
/// connection's end for `--single-session`.
pub(super) struct App {
    pub(super) mode: Mode,
    pub(super) out: BufWriter<Stdout>,
    pub(super) out_error: Option<io::Error>,
    /// The state the connection being closed was in (from its last
    /// `StateChange`, which comes right before its `Closed`).
    pub(super) closing_from: StateName,
    /// How the first connection of this worker that completed the
    /// handshake ended.
    pub(super) first_end: Option<CloseReason>,
    pub(super) flush_due: bool,
}

/// The endpoint's [`Io`]: lends slices of the arena for outgoing frames and
/// takes the events.
pub(super) struct ServerIo<'a> {
    tx: Tx,
    pub(super) shared: &'a Shared,
    pub(super) app: App,
    pub(super) trace: Trace<'a>,
    /// Echo mode: connections with received bytes not yet echoed.
    pub(super) echo: HashSet<ConnId>,
    /// File mode: the bytes every connection is sent.
    file_data: Option<&'static [u8]>,
    /// File mode: connections not yet sent all of the file, with how much of
    /// it they have queued.
    pub(super) file: HashMap<ConnId, usize>,
    /// The socket takes GSO frames (`RawSocket::enable_gso` worked).
    gso: bool,
    /// The endpoint's `Stats::tx_rsts` already added to `Shared::our_rsts`.
    rsts_published: u64,
}

impl Io for ServerIo<'_> {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.tx.alloc(len, 0)
    }

    fn gso(&self) -> bool {
        self.gso
    }

    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        if !self.gso {
            return None;
        }
        self.tx.alloc(len, gso_size)
    }

    fn tx_gso_gather<F: FnOnce(&mut [u8]) -> bool>(
        &mut self,
        head_len: usize,
        gso_size: u16,
        payload: TxPayload<'_>,
        write: F,
    ) -> bool {
        if !self.gso {
            return false;
        }
        if self.trace.wants_frames() {
            // A traced frame is whole in the arena (the trace reads it
            // there before it is sent).
            let buf = self.tx.alloc(head_len + payload.bytes.len(), gso_size);
            return payload.write_whole(buf, head_len, write);
        }
        // The headers only; the data is sent from the send buffer (see
        // `Tx::send`), neither copied nor read here.
        self.tx
            .alloc_gather(head_len, gso_size, &payload)
            .is_some_and(write)
    }

    fn deliver(&mut self, id: ConnId, tuple: &FourTuple, data: &[u8]) -> usize {
        if self.app.mode == Mode::Echo {
            // The bytes stay in the receive buffer; `Endpoint::echo` moves
            // them into the send buffer after the batch.
            self.echo.insert(id);
            return 0;
        }
        self.event(id, tuple, AppEvent::Data(data));
        data.len()
    }

    fn event(&mut self, id: ConnId, tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::StateChange { from, to } => {
                self.trace.state(tuple, from, to);
                if to == StateName::Closed {
                    self.app.closing_from = from;
                }
                if to == StateName::TimeWait {
                    // Our FIN went first (file mode, a simultaneous close):
                    // for `--single-session` the session is over, TIME-WAIT
                    // only outlives it in the table.
                    self.app.first_end.get_or_insert(CloseReason::Normal);
                }
            }
            AppEvent::Established => {
                // File mode: the file goes out after this batch.
                if self.file_data.is_some() {
                    self.file.insert(id, 0);
                }
            }
            AppEvent::Data(bytes) => {
                if self.app.mode == Mode::Print && self.app.out_error.is_none() {
                    if let Err(e) = self.app.out.write_all(bytes) {
                        self.app.out_error = Some(e);
                    }
                    // Written out once per batch, so an interactive peer's
                    // lines show up as they come.
                    self.app.flush_due = true;
                }
            }
            AppEvent::PeerClosed => self.app.flush_due = true,
            AppEvent::Closed(reason) => {
                self.trace.closed(tuple, reason);
                self.app.flush_due = true;
                if self.app.closing_from != StateName::SynReceived {
                    self.app.first_end.get_or_insert(reason);
                }
            }
        }
    }
}

impl<'a> ServerIo<'a> {
    /// The `Io` of one worker, its buffers allocated.
    pub(super) fn new(settings: &Settings, shared: &'a Shared, gso: bool) -> ServerIo<'a> {
        ServerIo {
            tx: Tx::new(),
            shared,
            app: App {
                mode: settings.mode,
                out: BufWriter::with_capacity(OUT_BUF, io::stdout()),
                out_error: None,
                closing_from: StateName::Listen,
                first_end: None,
                flush_due: false,
            },
            trace: Trace::new(settings, shared.pcap.as_ref()),
            echo: HashSet::new(),
            file_data: settings.file.filter(|_| settings.mode == Mode::File),
            file: HashMap::new(),
            gso,
            rsts_published: 0,
        }
    }

    /// Traces the frames the endpoint wrote since the last call.
    pub(super) fn trace_new_frames(&mut self) {
        self.tx.trace_new_frames(&mut self.trace);
    }

    /// Traces and sends every frame the endpoint wrote; first tells the
    /// other workers how many RSTs the endpoint has written (`stats`), so
    /// the RST watch counts ours before it can see them on the wire.
    pub(super) fn send(&mut self, sock: &mut Link, endpoint: &Endpoint<'_>) -> Result<(), Failure> {
        let stats = endpoint.stats();
        let new = stats.tx_rsts - self.rsts_published;
        if new > 0 {
            self.shared.our_rsts.fetch_add(new, Ordering::SeqCst);
            self.rsts_published = stats.tx_rsts;
        }
        self.tx.send(sock, &mut self.trace, Some(endpoint))
    }
}

/// Echo mode: moves what each connection received into its send buffer, as
/// far as there is room; a connection whose send buffer is full stays in the
/// set (its receive window closes meanwhile) and is tried again after the
/// next batch, when ACKs have made room.
pub(super) fn echo_pending(endpoint: &mut Endpoint<'_>, sio: &mut ServerIo<'_>, now: Instant) {
    let mut ids = std::mem::take(&mut sio.echo);
    ids.retain(|&id| {
        endpoint.echo(id, now, sio);
        endpoint
            .state(id)
            .and_then(|s| s.unread())
            .is_some_and(|(r, e)| r != e)
    });
    ids.extend(sio.echo.drain());
    sio.echo = ids;
}

/// File mode: queues the next part of the file on each connection that has
/// not had all of it, as far as its send buffer has room, and closes (sends
/// the FIN after the last byte) once all is queued. A connection whose
/// buffer is full stays in the map and is tried again every 16 frames of
/// the next batch and after it (`TracedIo::refill`), when ACKs have made
/// room; one that is closing or gone leaves it. Each call visits every
/// connection still sending a file.
pub(super) fn file_pending(endpoint: &mut Endpoint<'_>, sio: &mut ServerIo<'_>, now: Instant) {
    let Some(data) = sio.file_data else {
        sio.file.clear();
        return;
    };
    let mut conns = std::mem::take(&mut sio.file);
    conns.retain(|&id, off| {
        if endpoint.state(id).and_then(|s| s.send_space()).is_none() {
            return false;
        }
        if *off < data.len() {
            // Sent from the file's bytes where they lie: no copy into the
            // send buffer (`Endpoint::send_borrowed`).
            *off += endpoint.send_borrowed(id, data, *off, now, sio);
        }
        if *off < data.len() {
            return true;
        }
        endpoint.close(id, now, sio);
        false
    });
    conns.extend(sio.file.drain());
    sio.file = conns;
}
