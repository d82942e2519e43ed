//! One worker: a raw socket, an endpoint, and what is done with their
//! frames and events (payload to stdout, trace to stderr, pcap).
//!
//! With `--workers N` there are N of these, one per thread, each with its
//! own socket in one `PACKET_FANOUT` group: rawnet's fanout program keeps
//! every connection, and the ICMP errors about it, on one worker, so
//! workers share no connection state. What they do share is in [`Shared`] (the stop decision, the pcap
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
//!
//! The pieces: `shared` (what the workers share, stderr), `trace`
//! (`--debug`, `--verbose`, `--pcap`), `server_io` (the endpoint's `Io`: outgoing
//! frames, events, echo), `arrival` (the time each frame is handled at)
//! and `acks` (ACK coalescing).

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rawnet::firewall::RstWatch;
use rawnet::{CsumStatus, RxMeta};

use crate::link::Link;
use tcpcore::wire::ChecksumPolicy;
use tcpcore::{ConnId, Endpoint, Instant, Io, StateName};

mod arrival;
mod server_io;
pub(crate) mod shared;
pub(crate) mod trace;
pub(crate) mod tx;

pub use shared::{ErrOut, Shared, Stop};

use arrival::Arrivals;
use server_io::{echo_pending, file_pending, ServerIo};
use shared::StopOnDrop;

use crate::cli::Mode;
use crate::render::CsumNote;
use crate::server::Failure;
use crate::sys;

/// How long a shutdown waits for the FIN exchanges before aborting.
const SHUTDOWN_GRACE: tcpcore::Duration = tcpcore::Duration::from_secs(2);

/// How every worker runs (the same for all).
#[derive(Clone, Copy)]
pub struct Settings {
    pub mode: Mode,
    /// File mode: the bytes every connection is sent.
    pub file: Option<&'static [u8]>,
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
    /// The raw socket, or (`--tun`) the TUN device.
    pub sock: Link,
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
    let mut sio = ServerIo::new(&settings, shared, w.sock.gso());
    sio.trace.ip_medium = w.sock.is_ip();
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
    let sent = sio.send(&mut w.sock, &w.endpoint);
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
    let mut deadline: Option<Instant> = None;
    let mut rsts = RstCheck::default();
    // Waiting on an empty ring: spin this long before sleeping in `ppoll`.
    sock.set_spin(SPIN);
    let mut arrivals = Arrivals::new(clock());
    sock.set_batch_max(BATCH_MAX);
    loop {
        let now = arrivals.now(clock(), sock.has_frames());
        if watch_stop(settings, first, endpoint, sio, &mut deadline, now).is_break() {
            return Ok(());
        }
        if let Some(d) = deadline {
            let all_done = endpoint
                .connections()
                .all(|(_, _, s)| s == StateName::TimeWait);
            if all_done || now >= d {
                sio.send(sock, endpoint)?;
                return Ok(());
            }
        }
        if endpoint.poll_timeout().is_some_and(|w| w <= now) {
            if sio.trace.debug {
                sio.trace.event_ts = SystemTime::now();
            }
            endpoint.handle_timeout(now, sio);
        }
        sio.send(sock, endpoint)?;

        let wait = wait_for(endpoint, deadline, now, settings.max_wait);
        let got = receive(sock, endpoint, sio, wait, &clock, &mut arrivals)?;
        if !sio.echo.is_empty() {
            echo_pending(endpoint, sio, arrivals.now(clock(), sock.has_frames()));
        }
        if !sio.file.is_empty() {
            file_pending(endpoint, sio, arrivals.now(clock(), sock.has_frames()));
        }
        // ACK batching: each connection holds the ACK of its in-order data
        // for a while (`Config::ack_hold_bytes`, `Config::ack_hold`, its
        // timer); the ring running dry or the run closing ends the batch.
        if endpoint.acks_held() > 0 && (got == 0 || deadline.is_some()) {
            endpoint.flush_acks(arrivals.now(clock(), sock.has_frames()), sio);
        }
        sio.send(sock, endpoint)?;

        if let Some(w) = watch.as_mut() {
            rsts.check(w, endpoint, sio);
        }
        flush_outputs(sio)?;
    }
}

/// The stop decision at the top of each pass: a second signal ends the loop
/// at once (`Break`); a first signal, (with `-s`) the first connection's
/// end, or another worker's stop starts the graceful close and sets the
/// `deadline`.
fn watch_stop(
    settings: &Settings,
    first: bool,
    endpoint: &mut Endpoint<'_>,
    sio: &mut ServerIo<'_>,
    deadline: &mut Option<Instant>,
    now: Instant,
) -> ControlFlow<()> {
    let shared = sio.shared;
    let signals = sys::signals();
    if signals >= 2 {
        if first {
            sio.trace.warn("second signal: exiting now");
        }
        return ControlFlow::Break(());
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
                sio.trace
                    .warn("signal received: closing connections (send another to exit at once)");
            }
            *deadline = Some(now + SHUTDOWN_GRACE);
            sio.trace.event_ts = SystemTime::now();
            endpoint.close_all(now, sio);
        }
    }
    ControlFlow::Continue(())
}

/// How long to wait on the socket: until the endpoint's next timer or the
/// shutdown deadline, at most `max_wait`.
pub(crate) fn wait_for(
    endpoint: &Endpoint<'_>,
    deadline: Option<Instant>,
    now: Instant,
    max_wait: std::time::Duration,
) -> std::time::Duration {
    let mut wake = endpoint.poll_timeout();
    if let Some(d) = deadline {
        wake = Some(wake.map_or(d, |w| w.min(d)));
    }
    match wake {
        Some(w) => std::time::Duration::from_micros((w - now).as_micros()).min(max_wait),
        None => max_wait,
    }
}

/// An endpoint's [`Io`] with a trace: what [`receive`] needs.
pub(crate) trait TracedIo: Io {
    /// A frame came in (kernel timestamp `ts`): trace it, if asked.
    fn trace_rx(&mut self, frame: &[u8], ts: SystemTime, note: CsumNote);
    /// Traces the frames the endpoint wrote since the last call.
    fn trace_new_frames(&mut self);
    /// Within a batch: tops up what the application sends (file mode),
    /// so that the ACKs of the batch find data to clock out.
    fn refill(&mut self, _endpoint: &mut Endpoint<'_>, _now: Instant) {}
}

impl TracedIo for ServerIo<'_> {
    fn trace_rx(&mut self, frame: &[u8], ts: SystemTime, note: CsumNote) {
        self.trace.rx(frame, ts, note);
    }

    fn trace_new_frames(&mut self) {
        ServerIo::trace_new_frames(self);
    }

    fn refill(&mut self, endpoint: &mut Endpoint<'_>, now: Instant) {
        if !self.file.is_empty() {
            file_pending(endpoint, self, now);
        }
    }
}

/// Waiting on an empty ring: spin this long before sleeping in `ppoll`; a
/// peer's next frame (a request after a reply, the ACK of a handshake, the
/// next segments of a stream) usually comes within it.
///
/// While a stream came in (64 KiB of frames a millisecond) the loop used
/// to nap 10 µs at a time instead, so as not to slow a sender on the other
/// vCPU; when the loop was slower that bought upload with offloads 20.8 ->
/// 28.0 Gbit/s. Measured again on 2026-12-06 (bench-e2e --only
/// upload,echotput, two alternating 3-round runs each), the naps cost
/// upload with offloads on a fifth (37.7 and 39.9 against 46.8 and 48.0
/// Gbit/s without them) and echo a little, and bought nothing without
/// offloads (16.9 and 16.4 against 15.4 and 17.8): gone.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Frames of a batch between two top-ups of what the application sends.
const REFILL_EVERY: usize = 16;

/// Most frames handled between two sends: what the endpoint writes for a
/// batch leaves when the batch is done, so a pass over a whole ring (8,192
/// frames) would hold back the frames written for its first ACKs for
/// milliseconds. The endpoint's clock is not the problem (each frame is
/// handled at its arrival, see `arrival.rs`); the wire is. Linux hands a
/// NAPI poll at most 64 frames (`NAPI_POLL_WEIGHT`), but sends from the
/// ACK's processing itself; here 64 cost a quarter of the echo throughput
/// (bench-e2e --only echotput, offloads off: 8.3 -> 6.3 Gbit/s, the
/// kernel 8.3), and 1,024 measured as no cap at all (echo and upload, two
/// alternating 3-round runs each).
const BATCH_MAX: usize = 1024;

/// Waits up to `wait` for a batch of frames and hands each to the endpoint
/// (traced first) at the time it arrived (`arrivals`); returns how many.
fn receive<I: TracedIo>(
    sock: &mut Link,
    endpoint: &mut Endpoint<'_>,
    sio: &mut I,
    wait: std::time::Duration,
    clock: &impl Fn() -> Instant,
    arrivals: &mut Arrivals,
) -> Result<usize, Failure> {
    let mut frames = 0usize;
    let mut started = false;
    let got = sock.recv_batch(Some(wait), |frame, meta: &RxMeta| {
        if !started {
            // After the wait: the two clocks read together once a batch.
            started = true;
            arrivals.start_batch(clock());
        }
        let now = arrivals.frame(meta.timestamp, clock());
        let (policy, note) = match meta.csum {
            CsumStatus::Unknown => (ChecksumPolicy::Verify, CsumNote::Plain),
            CsumStatus::Valid => (ChecksumPolicy::Skip, CsumNote::Plain),
            CsumStatus::NotReady => (ChecksumPolicy::Skip, CsumNote::NotReady),
        };
        sio.trace_rx(frame, meta.timestamp, note);
        endpoint.handle_frame(now, frame, policy, sio);
        sio.trace_new_frames();
        frames += 1;
        if frames % REFILL_EVERY == 0 {
            sio.refill(endpoint, now);
        }
    })?;
    Ok(got)
}

/// Shared-address mode without the rule: tells the kernel's RSTs from ours
/// and warns once when the kernel sent any.
#[derive(Default)]
struct RstCheck {
    /// RSTs from our address and port seen since the start.
    seen: u64,
    warned: bool,
}

impl RstCheck {
    fn check(&mut self, watch: &mut RstWatch, endpoint: &Endpoint<'_>, sio: &mut ServerIo<'_>) {
        // Totals since the start: ours are counted before they are
        // sent, so the watch can only lag behind them, never get ahead.
        self.seen += watch.poll_count() as u64;
        let kernel = self
            .seen
            .saturating_sub(sio.shared.our_rsts.load(Ordering::SeqCst));
        if kernel > 0 && !self.warned {
            self.warned = true;
            let cfg = endpoint.config();
            let port = cfg.port;
            // Our address (IPv4, IPv6 or both: the watch counts both).
            let from = match (cfg.addr.is_unspecified(), cfg.addr6) {
                (false, Some(a6)) => format!("{}:{port} or [{a6}]:{port}", cfg.addr),
                (true, Some(a6)) => format!("[{a6}]:{port}"),
                (_, None) => format!("{}:{port}", cfg.addr),
            };
            sio.trace.warn(&format!(
                "the kernel sent {kernel} RST(s) from {from}: it is resetting our connections (drop its RSTs as shown above, or use --ip)"
            ));
        }
    }
}

/// End of a pass: stdout when a batch asked for it, the trace; a failed
/// write to stdout ends the run.
fn flush_outputs(sio: &mut ServerIo<'_>) -> Result<(), Failure> {
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
    Ok(())
}
