//! Outgoing frames: the endpoint writes them into one arena per batch
//! ([`Tx`]), the loop then traces them and queues them on the socket.

use std::time::SystemTime;

use rawnet::TxFrame;
use tcpcore::{ConnId, Endpoint, SeqNum, TxPayload};

use crate::link::Link;

use super::trace::Trace;
use crate::render::CsumNote;
use crate::server::Failure;

/// Bytes of outgoing frames held between two flushes.
const TX_ARENA_BYTES: usize = 16 << 20;
/// Outgoing frames held between two flushes.
const TX_ARENA_FRAMES: usize = 16384;
/// Outgoing frames of one batch, in one preallocated buffer: the endpoint
/// writes into slices of it, the loop then queues them on the socket.
pub(crate) struct TxArena {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Per frame: the GSO segment size, or 0 for a plain frame.
    gso: Vec<u16>,
    /// Per frame: for a frame of headers only, where its data lies in
    /// its connection's send buffer (sent from there by a gather write).
    body: Vec<Option<(ConnId, SeqNum, usize)>>,
}

impl TxArena {
    fn new() -> TxArena {
        TxArena {
            buf: Vec::with_capacity(TX_ARENA_BYTES),
            ends: Vec::with_capacity(TX_ARENA_FRAMES),
            gso: Vec::with_capacity(TX_ARENA_FRAMES),
            body: Vec::with_capacity(TX_ARENA_FRAMES),
        }
    }

    fn alloc(
        &mut self,
        len: usize,
        gso: u16,
        body: Option<(ConnId, SeqNum, usize)>,
    ) -> Option<&mut [u8]> {
        let start = self.buf.len();
        if start + len > self.buf.capacity() || self.ends.len() == self.ends.capacity() {
            return None;
        }
        self.buf.resize(start + len, 0);
        self.ends.push(start + len);
        self.gso.push(gso);
        self.body.push(body);
        Some(&mut self.buf[start..])
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn frame(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.gso.clear();
        self.body.clear();
    }
}

/// The frames of one batch, and how many of them are traced already.
pub(crate) struct Tx {
    arena: TxArena,
    /// Frames of the arena already traced.
    traced: usize,
}

impl Tx {
    /// An empty arena (its buffers allocated).
    pub(crate) fn new() -> Tx {
        Tx {
            arena: TxArena::new(),
            traced: 0,
        }
    }

    /// A buffer of `len` bytes for one frame (GSO segment size `gso`, or
    /// 0); `None` when the arena is full.
    pub(crate) fn alloc(&mut self, len: usize, gso: u16) -> Option<&mut [u8]> {
        self.arena.alloc(len, gso, None)
    }

    /// A buffer for the `head_len` bytes of headers of a GSO frame whose
    /// data stays in its connection's send buffer (`payload`), to be
    /// borrowed from there again when the frame is sent; `None` when the
    /// arena is full.
    pub(crate) fn alloc_gather(
        &mut self,
        head_len: usize,
        gso: u16,
        payload: &TxPayload<'_>,
    ) -> Option<&mut [u8]> {
        let body = (payload.conn, payload.seq, payload.bytes.len());
        self.arena.alloc(head_len, gso, Some(body))
    }

    /// Traces the frames the endpoint wrote since the last call.
    pub(crate) fn trace_new_frames(&mut self, trace: &mut Trace<'_>) {
        for i in self.traced..self.arena.len() {
            let frame = self.arena.frame(i);
            if trace.wants_frames() {
                // A GSO frame's TCP checksum is left to the segmentation.
                let note = if self.arena.gso[i] > 0 {
                    CsumNote::NotReady
                } else {
                    CsumNote::Plain
                };
                trace.frame("TX", frame, SystemTime::now(), note);
            }
        }
        self.traced = self.arena.len();
    }

    /// Traces and sends every frame the endpoint wrote (the data of a
    /// frame of headers only borrowed from `endpoint`'s send buffers).
    pub(crate) fn send(
        &mut self,
        sock: &mut Link,
        trace: &mut Trace<'_>,
        endpoint: Option<&Endpoint<'_>>,
    ) -> Result<(), Failure> {
        self.trace_new_frames(trace);
        if self.arena.len() == 0 {
            return Ok(());
        }
        // A frame of headers only gets its data from the send buffer; one
        // whose data has been acknowledged meanwhile (or whose connection
        // is gone) is not needed any more and stays unsent.
        let frames: Vec<TxFrame<'_>> = (0..self.arena.len())
            .filter_map(|i| {
                let body = match self.arena.body[i] {
                    Some((id, seq, len)) => endpoint?.unacked(id, seq, len)?,
                    None => &[],
                };
                Some(TxFrame {
                    head: self.arena.frame(i),
                    body,
                    gso_size: self.arena.gso[i],
                })
            })
            .collect();
        // A frame the socket cannot take is that frame's problem (its
        // connection retransmits or times out), never the server's end: no
        // input from the network may stop the server.
        let res = if sock.is_ip() {
            // A TUN device writes each packet now; one it cannot take is
            // warned of, the others still go.
            for f in &frames {
                if let Err(e) = sock.queue_parts(f.head, f.body) {
                    trace.warn_limited(&e.to_string());
                }
            }
            Ok(frames.len())
        } else {
            sock.send_frames(&frames)
        };
        drop(frames);
        self.arena.clear();
        self.traced = 0;
        if let Some(e) = sock.take_refused() {
            trace.warn_limited(&e.to_string());
        }
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => {
                trace.warn(&e.to_string());
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
