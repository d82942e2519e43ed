//! One worker: a raw socket, an endpoint, and what is done with their
//! frames and events (payload to stdout, trace to stderr, pcap).
//!
//! With `--workers N` there are N of these, one per thread, each with its
//! own socket in one `PACKET_FANOUT_HASH` group: the kernel's flow hash
//! keeps every connection on one worker, so workers share no connection
//! state. What they do share is in [`Shared`] (the stop decision, the pcap
//! file, the count of RSTs we sent) and the process's stdout and stderr:
//!
//! - stdout: each worker buffers the payload it receives and writes it out
//!   once per batch (or when its buffer fills). One connection's bytes stay
//!   in order; the payloads of connections on different workers interleave
//!   in chunks, as those of connections on one worker do.
//! - stderr: each worker gathers whole lines ([`ErrOut`]) and writes them
//!   under stderr's lock, so lines are never cut; lines of different workers
//!   interleave by batch.
//! - pcap: one file, one record at a time under a mutex.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use rawnet::firewall::RstWatch;
use rawnet::{CsumStatus, RawSocket, RxMeta};
use tcpcore::wire::{ChecksumPolicy, Ipv4Packet, TcpPacket};
use tcpcore::{AppEvent, CloseReason, ConnId, Endpoint, FourTuple, Instant, Io, StateName};

use crate::cli::Mode;
use crate::pcap::PcapWriter;
use crate::render::{self, CsumNote, Palette};
use crate::server::Failure;
use crate::sys;

/// How long a shutdown waits for the FIN exchanges before aborting.
const SHUTDOWN_GRACE: tcpcore::Duration = tcpcore::Duration::from_secs(2);
/// Bytes of outgoing frames held between two flushes.
const TX_ARENA_BYTES: usize = 16 << 20;
/// Outgoing frames held between two flushes.
const TX_ARENA_FRAMES: usize = 16384;
/// ACK coalescing: the ACKs held back by batching go out once this many
/// bytes of frames arrived since the first was held...
const ACK_COALESCE_BYTES: usize = 32 * 1024;
/// ... or this long after the first was held, or as soon as the ring stays
/// empty for that long: at most one ACK per connection per 32 KiB of
/// segments, as a Linux receiver sends under load (its stretch ACKs), instead
/// of one per ring pass, which costs the sender an ACK to process every few
/// segments when the server keeps up with it.
const ACK_COALESCE_HOLD: std::time::Duration = std::time::Duration::from_micros(50);
/// Waiting on an empty ring: spin this long before sleeping in `poll`; a
/// peer's next frame (a request after a reply, the ACK of a handshake)
/// usually comes within it.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);
/// Waiting while a stream comes in ([`Pace`]): spin this long, then nap
/// [`NAP`] at a time for up to [`NAP_FOR`] before `poll`. A sender that
/// keeps us busy is slowed by our spinning where it runs on a sibling
/// hardware thread, and by waking us for every frame if we sleep in `poll`
/// (see `RawSocket::set_nap`); between naps the frames gather in the ring.
const NAP_SPIN: std::time::Duration = std::time::Duration::from_micros(2);
/// See [`NAP_SPIN`].
const NAP: std::time::Duration = std::time::Duration::from_micros(10);
/// See [`NAP_SPIN`].
const NAP_FOR: std::time::Duration = std::time::Duration::from_millis(1);
/// A stream comes in while frames bring at least this many bytes per
/// [`STREAM_WINDOW`] (64 KiB per ms, about 0.5 Gbit/s): a bulk transfer or
/// echo, not requests, replies or handshakes, whose next frame the spin
/// catches sooner.
const STREAM_BYTES: usize = 64 * 1024;
/// See [`STREAM_BYTES`].
const STREAM_WINDOW: tcpcore::Duration = tcpcore::Duration::from_millis(1);

/// Tells from the bytes of frames taken whether a stream comes in (see
/// [`STREAM_BYTES`]).
struct Pace {
    start: Instant,
    bytes: usize,
    streaming: bool,
}

impl Pace {
    fn new(now: Instant) -> Pace {
        Pace {
            start: now,
            bytes: 0,
            streaming: false,
        }
    }

    /// Counts `bytes` taken at `now`; whether a stream comes in. It starts
    /// as soon as a window holds [`STREAM_BYTES`], and ends with the first
    /// window that holds fewer, or after a window with nothing.
    fn update(&mut self, now: Instant, bytes: usize) -> bool {
        let gone = now - self.start;
        if gone >= STREAM_WINDOW {
            // A quiet window in between: this frame starts afresh.
            let last = if gone >= STREAM_WINDOW + STREAM_WINDOW {
                0
            } else {
                self.bytes
            };
            self.streaming = last >= STREAM_BYTES;
            self.start = now;
            self.bytes = 0;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes >= STREAM_BYTES {
            self.streaming = true;
        }
        self.streaming
    }
}

/// Bytes of stderr lines a worker gathers before writing them out.
const ERR_BUF: usize = 64 * 1024;
/// Bytes of payload a worker buffers for stdout.
const OUT_BUF: usize = 256 * 1024;

/// Why the run is stopping; the first reason given wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    Signal,
    /// A worker stopped (an error, or an internal one): the others follow.
    Failed,
    /// `-s`: the first connection ended, so.
    Session(CloseReason),
}

impl Stop {
    fn code(self) -> u8 {
        match self {
            Stop::Signal => 1,
            Stop::Failed => 2,
            Stop::Session(CloseReason::Normal) => 3,
            Stop::Session(CloseReason::Reset) => 4,
            Stop::Session(CloseReason::TimedOut) => 5,
            Stop::Session(CloseReason::Aborted) => 6,
        }
    }

    fn from_code(c: u8) -> Option<Stop> {
        Some(match c {
            1 => Stop::Signal,
            2 => Stop::Failed,
            3 => Stop::Session(CloseReason::Normal),
            4 => Stop::Session(CloseReason::Reset),
            5 => Stop::Session(CloseReason::TimedOut),
            6 => Stop::Session(CloseReason::Aborted),
            _ => return None,
        })
    }
}

/// The pcap file all workers write to.
pub struct PcapSink {
    writer: Option<PcapWriter>,
    /// The first write error; the file is given up after it.
    pub error: Option<io::Error>,
}

/// What the workers share.
pub struct Shared {
    stop: AtomicU8,
    /// RSTs the workers sent, counted before they go out (so that the
    /// [`RstWatch`] never sees one of ours before it is counted).
    our_rsts: AtomicU64,
    pcap: Option<Mutex<PcapSink>>,
}

impl Shared {
    pub fn new(pcap: Option<PcapWriter>) -> Shared {
        Shared {
            stop: AtomicU8::new(0),
            our_rsts: AtomicU64::new(0),
            pcap: pcap.map(|w| {
                Mutex::new(PcapSink {
                    writer: Some(w),
                    error: None,
                })
            }),
        }
    }

    /// Asks every worker to stop, for `why`, unless a reason was given
    /// already.
    pub fn request_stop(&self, why: Stop) {
        let _ = self
            .stop
            .compare_exchange(0, why.code(), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Why the run is stopping, if it is.
    pub fn stop(&self) -> Option<Stop> {
        Stop::from_code(self.stop.load(Ordering::SeqCst))
    }

    /// The pcap file's state (its first write error), if there is one.
    pub fn pcap(&self) -> Option<MutexGuard<'_, PcapSink>> {
        self.pcap.as_ref().map(lock)
    }
}

/// A mutex's guard; a poisoned mutex (a thread panicked while holding it)
/// is used as it is: what it guards is a writer, still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the other workers to stop when dropped: a worker that ends, by an
/// error or a panic, takes the run down with it instead of leaving it half
/// served. (After a normal end the reason is given already; this changes
/// nothing then.)
struct StopOnDrop<'a>(&'a Shared);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.request_stop(Stop::Failed);
    }
}

/// stderr for one thread: lines are gathered here and written out whole
/// under stderr's lock, so that threads never cut each other's lines.
pub struct ErrOut {
    buf: Vec<u8>,
}

impl ErrOut {
    pub fn new() -> ErrOut {
        ErrOut {
            buf: Vec::with_capacity(ERR_BUF),
        }
    }

    /// Called after each complete line: writes out once enough is gathered.
    fn line_done(&mut self) {
        if self.buf.len() >= ERR_BUF {
            let _ = self.flush();
        }
    }
}

impl Write for ErrOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = io::stderr().lock().write_all(&self.buf);
        self.buf.clear();
        r
    }
}

impl Drop for ErrOut {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Outgoing frames of one batch, in one preallocated buffer: the endpoint
/// writes into slices of it, the loop then queues them on the socket.
struct TxArena {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Per frame: the GSO segment size, or 0 for a plain frame.
    gso: Vec<u16>,
}

impl TxArena {
    fn new() -> TxArena {
        TxArena {
            buf: Vec::with_capacity(TX_ARENA_BYTES),
            ends: Vec::with_capacity(TX_ARENA_FRAMES),
            gso: Vec::with_capacity(TX_ARENA_FRAMES),
        }
    }

    fn alloc(&mut self, len: usize, gso: u16) -> Option<&mut [u8]> {
        let start = self.buf.len();
        if start + len > self.buf.capacity() || self.ends.len() == self.ends.capacity() {
            return None;
        }
        self.buf.resize(start + len, 0);
        self.ends.push(start + len);
        self.gso.push(gso);
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
    }
}

/// The `--debug` / `--verbose` / `--pcap` side: everything about frames
/// that goes to stderr or the pcap file.
struct Trace<'a> {
    debug: bool,
    verbose: bool,
    palette: Palette,
    err: ErrOut,
    /// The shared pcap file; `None` without `--pcap` and after a write
    /// error.
    pcap: Option<&'a Mutex<PcapSink>>,
    line: String,
    scratch: Vec<u8>,
    /// When what is being handled happened: the received frame's kernel
    /// timestamp, or the time a timer was run. State lines carry it, so the
    /// trace reads in the order things happened.
    event_ts: SystemTime,
    /// When a send-side warning was last printed, and how many were held
    /// back since: at most one a second, so that a peer cannot flood
    /// stderr.
    warned: (Option<std::time::Instant>, u64),
}

impl Trace<'_> {
    fn wants_frames(&self) -> bool {
        self.debug || self.verbose || self.pcap.is_some()
    }

    fn frame(&mut self, dir: &str, frame: &[u8], ts: SystemTime, note: CsumNote) {
        if self.debug || self.verbose {
            let time = sys::tcpdump_time(ts);
            let style = if dir == "RX" {
                self.palette.rx
            } else {
                self.palette.tx
            };
            if self.debug {
                self.line.clear();
                let _ = write!(self.line, "{style}{dir}{style:#} {time} ");
                render::tcpdump_line(&mut self.line, frame);
                self.line.push('\n');
                let _ = self.err.write_all(self.line.as_bytes());
            }
            if self.verbose {
                self.line.clear();
                let head = format!("{style}{dir}{style:#} {time}");
                render::verbose(&mut self.line, &self.palette, &head, frame, note);
                let _ = self.err.write_all(self.line.as_bytes());
            }
            self.err.line_done();
        }
        if let Some(sink) = self.pcap {
            // A frame whose TCP checksum is not filled in yet (offload) is
            // written with the checksum filled in: the pcap shows what the
            // peer meant, and tshark finds no bad checksums in it.
            let data = if note == CsumNote::NotReady {
                fill_tcp_checksum(&mut self.scratch, frame)
            } else {
                frame
            };
            let mut sink = lock(sink);
            let failed = match sink.writer.as_mut().map(|w| w.write(ts, data, frame.len())) {
                Some(Ok(())) => false,
                Some(Err(e)) => {
                    sink.error.get_or_insert(e);
                    sink.writer = None;
                    true
                }
                None => true,
            };
            drop(sink);
            if failed {
                self.pcap = None;
            }
        }
    }

    fn state(&mut self, tuple: &FourTuple, from: StateName, to: StateName) {
        if self.debug {
            let s = self.palette.state;
            let time = sys::tcpdump_time(self.event_ts);
            let _ = writeln!(
                self.err,
                "{s}--{s:#} {time} {}:{} {} -> {}",
                tuple.remote_addr,
                tuple.remote_port,
                from.as_str(),
                to.as_str()
            );
            self.err.line_done();
        }
    }

    fn closed(&mut self, tuple: &FourTuple, reason: CloseReason) {
        if self.debug {
            let s = self.palette.state;
            let time = sys::tcpdump_time(self.event_ts);
            let _ = writeln!(
                self.err,
                "{s}--{s:#} {time} {}:{} closed ({})",
                tuple.remote_addr,
                tuple.remote_port,
                reason_str(reason)
            );
            self.err.line_done();
        }
    }

    fn warn(&mut self, msg: &str) {
        let _ = writeln!(self.err, "tcp-server: warning: {msg}");
        self.err.line_done();
    }

    /// As `warn`, at most once a second; the count of warnings held back
    /// goes with the next one printed.
    fn warn_limited(&mut self, msg: &str) {
        let now = std::time::Instant::now();
        let (last, held) = self.warned;
        if last.is_some_and(|l| now.duration_since(l) < std::time::Duration::from_secs(1)) {
            self.warned.1 = held + 1;
            return;
        }
        self.warned = (Some(now), 0);
        if held > 0 {
            self.warn(&format!("{msg} (and {held} more like it)"));
        } else {
            self.warn(msg);
        }
    }

    fn flush(&mut self) {
        let _ = self.err.flush();
        if let Some(sink) = self.pcap {
            let mut sink = lock(sink);
            let failed = match sink.writer.as_mut().map(|w| w.flush()) {
                Some(Ok(())) => false,
                Some(Err(e)) => {
                    sink.error.get_or_insert(e);
                    sink.writer = None;
                    true
                }
                None => true,
            };
            drop(sink);
            if failed {
                self.pcap = None;
            }
        }
    }
}

/// Copies `frame` into `scratch` with its TCP checksum computed; `frame`
/// itself if it is not an IPv4/TCP frame that can be fixed.
fn fill_tcp_checksum<'a>(scratch: &'a mut Vec<u8>, frame: &'a [u8]) -> &'a [u8] {
    let Some(ip_bytes) = frame.get(14..) else {
        return frame;
    };
    let Ok(ip) = Ipv4Packet::new_checked(ip_bytes) else {
        return frame;
    };
    if u8::from(ip.protocol()) != 6 || ip.frag_offset() != 0 || ip.more_frags() {
        return frame;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let start = 14 + usize::from(ip.header_len());
    let end = 14 + usize::from(ip.total_len());
    if start + 20 > end || end > frame.len() {
        return frame;
    }
    scratch.clear();
    scratch.extend_from_slice(frame);
    TcpPacket::new_unchecked(&mut scratch[start..end]).fill_checksum(src, dst);
    scratch
}

fn reason_str(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Normal => "normal",
        CloseReason::Reset => "reset",
        CloseReason::TimedOut => "timed out",
        CloseReason::Aborted => "aborted",
    }
}

/// What the application does with events: the payload, and the first
/// connection's end for `--single-session`.
struct App {
    mode: Mode,
    out: BufWriter<Stdout>,
    out_error: Option<io::Error>,
    /// The state the connection being closed was in (from its last
    /// `StateChange`, which comes right before its `Closed`).
    closing_from: StateName,
    /// How the first connection of this worker that completed the
    /// handshake ended.
    first_end: Option<CloseReason>,
    flush_due: bool,
}

/// The endpoint's [`Io`]: lends slices of the arena for outgoing frames and
/// takes the events.
struct ServerIo<'a> {
    arena: TxArena,
    /// Frames of the arena already traced.
    traced: usize,
    shared: &'a Shared,
    app: App,
    trace: Trace<'a>,
    /// Echo mode: connections with received bytes not yet echoed.
    echo: HashSet<ConnId>,
    /// The socket takes GSO frames (`RawSocket::enable_gso` worked).
    gso: bool,
}

impl Io for ServerIo<'_> {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.arena.alloc(len, 0)
    }

    fn gso(&self) -> bool {
        self.gso
    }

    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        if !self.gso {
            return None;
        }
        self.arena.alloc(len, gso_size)
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

    fn event(&mut self, _id: ConnId, tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::StateChange { from, to } => {
                self.trace.state(tuple, from, to);
                if to == StateName::Closed {
                    self.app.closing_from = from;
                }
            }
            AppEvent::Established => {}
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

impl ServerIo<'_> {
    /// Traces the frames the endpoint wrote since the last call.
    fn trace_new_frames(&mut self) {
        for i in self.traced..self.arena.len() {
            let frame = self.arena.frame(i);
            // TCP flags: Ethernet 14 + IPv4 20 (we send no IP options) + 13.
            if frame.get(12..14) == Some(&[0x08, 0x00])
                && frame.get(47).is_some_and(|f| f & 0x04 != 0)
            {
                self.shared.our_rsts.fetch_add(1, Ordering::SeqCst);
            }
            if self.trace.wants_frames() {
                let frame = self.arena.frame(i);
                // A GSO frame's TCP checksum is left to the segmentation.
                let note = if self.arena.gso[i] > 0 {
                    CsumNote::NotReady
                } else {
                    CsumNote::Plain
                };
                self.trace.frame("TX", frame, SystemTime::now(), note);
            }
        }
        self.traced = self.arena.len();
    }

    /// Traces and sends every frame the endpoint wrote.
    fn send(&mut self, sock: &mut RawSocket) -> Result<(), Failure> {
        self.trace_new_frames();
        if self.arena.len() == 0 {
            return Ok(());
        }
        for i in 0..self.arena.len() {
            let queued = match self.arena.gso[i] {
                0 => sock.queue(self.arena.frame(i)),
                g => sock.queue_gso(self.arena.frame(i), g),
            };
            // A frame the socket cannot take is that frame's problem (its
            // connection retransmits or times out), never the server's end:
            // no input from the network may stop the server.
            if let Err(e) = queued {
                self.trace.warn_limited(&e.to_string());
            }
        }
        self.arena.clear();
        self.traced = 0;
        let res = sock.flush();
        if let Some(e) = sock.take_refused() {
            self.trace.warn_limited(&e.to_string());
        }
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => {
                self.trace.warn(&e.to_string());
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// How every worker runs (the same for all).
#[derive(Clone, Copy)]
pub struct Settings {
    pub mode: Mode,
    pub debug: bool,
    pub verbose: bool,
    pub color: bool,
    pub single_session: bool,
    /// The longest sleep on the socket: with several workers short, since a
    /// signal wakes only one of them and the others notice it by looking.
    pub max_wait: std::time::Duration,
    /// When the run started: the zero of every worker's clock.
    pub start: std::time::Instant,
}

/// One worker's own pieces.
pub struct Worker<'s> {
    /// 0 for the first; worker 0 also prints the run-wide warnings.
    pub index: usize,
    pub sock: RawSocket,
    pub endpoint: Endpoint<'s>,
    /// Shared-address mode without the rule: watches the kernel's RSTs
    /// (given to one worker only).
    pub watch: Option<RstWatch>,
}

/// What a worker hands back when it ends.
pub struct Report {
    pub stats: tcpcore::Stats,
    pub sock: rawnet::Stats,
    /// Connections still in the table after the cleanup.
    pub open: usize,
    /// Of those, in TIME-WAIT.
    pub time_wait: usize,
    /// How the event loop ended.
    pub result: Result<(), Failure>,
    /// How sending the last frames went.
    pub sent: Result<(), Failure>,
    /// Writing the payload to stdout failed.
    pub out_error: Option<io::Error>,
}

/// Runs one worker until the run stops, then cleans up (aborts what is
/// left, sends, flushes) and reports.
pub fn run(settings: Settings, shared: &Shared, mut w: Worker<'_>) -> Report {
    let _stop_others = StopOnDrop(shared);
    let mut sio = ServerIo {
        arena: TxArena::new(),
        traced: 0,
        shared,
        app: App {
            mode: settings.mode,
            out: BufWriter::with_capacity(OUT_BUF, io::stdout()),
            out_error: None,
            closing_from: StateName::Listen,
            first_end: None,
            flush_due: false,
        },
        trace: Trace {
            debug: settings.debug,
            verbose: settings.verbose,
            palette: Palette::new(settings.color),
            err: ErrOut::new(),
            pcap: shared.pcap.as_ref(),
            line: String::with_capacity(4096),
            scratch: Vec::with_capacity(64 * 1024),
            event_ts: SystemTime::now(),
            warned: (None, 0),
        },
        echo: HashSet::new(),
        gso: w.sock.gso(),
    };
    let start = settings.start;
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let result = event_loop(&settings, &mut w, &mut sio, clock);
    if result.is_err() {
        shared.request_stop(Stop::Failed);
    }

    // Cleanup, also after an error: abort what is left (TIME-WAIT needs no
    // reset), send, flush.
    let now = clock();
    sio.trace.event_ts = SystemTime::now();
    let left: Vec<ConnId> = w
        .endpoint
        .connections()
        .filter(|&(_, _, s)| s != StateName::TimeWait)
        .map(|(id, _, _)| id)
        .collect();
    for id in left {
        w.endpoint.abort(id, now, &mut sio);
    }
    let sent = sio.send(&mut w.sock);
    if let Err(e) = sio.app.out.flush() {
        sio.app.out_error.get_or_insert(e);
    }
    sio.trace.flush();
    Report {
        stats: *w.endpoint.stats(),
        sock: w.sock.stats().unwrap_or_default(),
        open: w.endpoint.len(),
        time_wait: w
            .endpoint
            .connections()
            .filter(|&(_, _, s)| s == StateName::TimeWait)
            .count(),
        result,
        sent,
        out_error: sio.app.out_error.take(),
    }
}

/// Runs until a signal, (with `-s`) the end of the first connection in any
/// worker, or another worker's failure; then closes connections gracefully
/// for up to [`SHUTDOWN_GRACE`].
fn event_loop(
    settings: &Settings,
    w: &mut Worker<'_>,
    sio: &mut ServerIo<'_>,
    clock: impl Fn() -> Instant,
) -> Result<(), Failure> {
    let Worker {
        index,
        sock,
        endpoint,
        watch,
    } = w;
    let first = *index == 0;
    let shared = sio.shared;
    let mut deadline: Option<Instant> = None;
    let mut warned_rst = false;
    let mut rsts_seen: u64 = 0;
    // Since when ACKs are held, and the bytes of frames seen since.
    let mut held: Option<(Instant, usize)> = None;
    let mut pace = Pace::new(clock());
    loop {
        let now = clock();
        let signals = sys::signals();
        if signals >= 2 {
            if first {
                sio.trace.warn("second signal: exiting now");
            }
            return Ok(());
        }
        if signals >= 1 {
            shared.request_stop(Stop::Signal);
        } else if settings.single_session {
            if let Some(r) = sio.app.first_end {
                shared.request_stop(Stop::Session(r));
            }
        }
        if deadline.is_none() {
            if let Some(stop) = shared.stop() {
                if stop == Stop::Signal && first {
                    sio.trace.warn(
                        "signal received: closing connections (send another to exit at once)",
                    );
                }
                deadline = Some(now + SHUTDOWN_GRACE);
                sio.trace.event_ts = SystemTime::now();
                endpoint.close_all(now, sio);
            }
        }
        if let Some(d) = deadline {
            let all_done = endpoint
                .connections()
                .all(|(_, _, s)| s == StateName::TimeWait);
            if all_done || now >= d {
                sio.send(sock)?;
                return Ok(());
            }
        }
        if endpoint.poll_timeout().is_some_and(|w| w <= now) {
            if sio.trace.debug {
                sio.trace.event_ts = SystemTime::now();
            }
            endpoint.handle_timeout(now, sio);
        }
        sio.send(sock)?;

        let mut wake = endpoint.poll_timeout();
        if let Some(d) = deadline {
            wake = Some(wake.map_or(d, |w| w.min(d)));
        }
        let mut wait = match wake {
            Some(w) => {
                std::time::Duration::from_micros((w - now).as_micros()).min(settings.max_wait)
            }
            None => settings.max_wait,
        };
        if let Some((since, _)) = held {
            // ACKs are held: wait no longer than the rest of the hold (a
            // spin on the ring, no system call).
            let gone = std::time::Duration::from_micros((now - since).as_micros());
            wait = wait.min(ACK_COALESCE_HOLD.saturating_sub(gone));
        }
        // Nap while a stream comes in, spin otherwise (see NAP_SPIN).
        if pace.streaming {
            sock.set_spin(NAP_SPIN);
            sock.set_nap(NAP, NAP_FOR);
        } else {
            sock.set_spin(SPIN);
            sock.set_nap(std::time::Duration::ZERO, std::time::Duration::ZERO);
        }
        let mut bytes = 0usize;
        let got = sock.recv_batch(Some(wait), |frame, meta: &RxMeta| {
            bytes += frame.len();
            let now = clock();
            let (policy, note) = match meta.csum {
                CsumStatus::Unknown => (ChecksumPolicy::Verify, CsumNote::Plain),
                CsumStatus::Valid => (ChecksumPolicy::Skip, CsumNote::Plain),
                CsumStatus::NotReady => (ChecksumPolicy::Skip, CsumNote::NotReady),
            };
            if sio.trace.wants_frames() {
                sio.trace.event_ts = meta.timestamp;
                sio.trace.frame("RX", frame, meta.timestamp, note);
            }
            endpoint.handle_frame(now, frame, policy, sio);
            sio.trace_new_frames();
        })?;
        if !sio.echo.is_empty() {
            echo_pending(endpoint, sio, clock());
        }
        pace.update(clock(), bytes);
        // One ACK per connection for the frames of a while (batching is
        // on): see ACK_COALESCE_BYTES.
        if endpoint.acks_held() == 0 {
            held = None;
        } else {
            let now = clock();
            let (since, seen) = held.get_or_insert((now, 0));
            *seen += bytes;
            let gone = std::time::Duration::from_micros((now - *since).as_micros());
            if got == 0
                || *seen >= ACK_COALESCE_BYTES
                || gone >= ACK_COALESCE_HOLD
                || deadline.is_some()
            {
                endpoint.flush_acks(sio);
                held = None;
            }
        }
        sio.send(sock)?;

        if let Some(w) = watch.as_mut() {
            // Totals since the start: ours are counted before they are
            // sent, so the watch can only lag behind them, never get ahead.
            rsts_seen += w.poll_count() as u64;
            let kernel = rsts_seen.saturating_sub(shared.our_rsts.load(Ordering::SeqCst));
            if kernel > 0 && !warned_rst {
                warned_rst = true;
                sio.trace.warn(&format!(
                    "the kernel sent {kernel} RST(s) from {}:{}: it is resetting our connections (drop its RSTs as shown above, or use --ip)",
                    endpoint.config().addr,
                    endpoint.config().port
                ));
            }
        }
        if sio.app.flush_due {
            sio.app.flush_due = false;
            if let Err(e) = sio.app.out.flush() {
                sio.app.out_error.get_or_insert(e);
            }
        }
        sio.trace.flush();
        if let Some(e) = sio.app.out_error.take() {
            return Err(Failure::Runtime(format!(
                "writing the payload to stdout: {e}"
            )));
        }
    }
}

/// Echo mode: moves what each connection received into its send buffer, as
/// far as there is room; a connection whose send buffer is full stays in the
/// set (its receive window closes meanwhile) and is tried again after the
/// next batch, when ACKs have made room.
fn echo_pending(endpoint: &mut Endpoint<'_>, sio: &mut ServerIo<'_>, now: Instant) {
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

#[cfg(test)]
mod tests {
    use super::{Pace, STREAM_BYTES};
    use tcpcore::Instant;

    /// `Pace` fed `bytes` every `every_us` µs for `for_us` µs from `t`:
    /// whether it ever said "stream", its last answer, and the time after.
    fn feed(p: &mut Pace, t: u64, bytes: usize, every_us: u64, for_us: u64) -> (bool, bool, u64) {
        let (mut now, mut ever, mut last) = (t, false, false);
        while now < t + for_us {
            last = p.update(Instant::from_micros(now), bytes);
            ever |= last;
            now += every_us;
        }
        (ever, last, now)
    }

    #[test]
    fn streams_are_told_from_requests() {
        let mut p = Pace::new(Instant::from_micros(0));
        // 64-byte requests every 20 µs (an echo ping-pong): never a stream.
        let (ever, _, t) = feed(&mut p, 0, 64 + 66, 20, 10_000);
        assert!(!ever);
        // 1514-byte frames every µs (about 12 Gbit/s): a stream within the
        // first window, and on.
        let (_, last, t) = feed(&mut p, t, 1514, 1, 5_000);
        assert!(last);
        // Quiet for 2 ms, then one small frame: no longer.
        assert!(!p.update(Instant::from_micros(t + 2_000), 100));
        // One 64 KiB GRO frame makes one at once.
        assert!(p.update(Instant::from_micros(t + 2_100), STREAM_BYTES));
    }
}
