//! The event loop: the raw socket, the endpoint, and what is done with
//! their frames and events (payload to stdout, trace to stderr, pcap).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Stderr, StdoutLock, Write};
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::SystemTime;

use rawnet::firewall::{rst_drop_commands, RstDropRule, RstWatch};
use rawnet::{CsumStatus, Filter, Interface, RawSocket, RxMeta, SocketConfig};
use tcpcore::wire::{ChecksumPolicy, EthernetAddress, Ipv4Packet, TcpPacket};
use tcpcore::{
    AppEvent, CloseReason, Config, ConnId, DropReason, Endpoint, EndpointConfig, FourTuple,
    Instant, Io, OwnedStorage, StateName,
};

use crate::cli::{Cli, Mode};
use crate::pcap::PcapWriter;
use crate::render::{self, CsumNote, Palette};
use crate::sys;

/// Receive buffer per connection (a power of two, as `RecvBuffer` needs).
pub const RX_BUF: usize = 256 * 1024;
/// Send buffer per connection in echo mode (other modes send no data).
pub const TX_BUF: usize = 256 * 1024;

/// How long a shutdown waits for the FIN exchanges before aborting.
const SHUTDOWN_GRACE: tcpcore::Duration = tcpcore::Duration::from_secs(2);
/// The longest sleep on the socket.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes of outgoing frames held between two flushes.
const TX_ARENA_BYTES: usize = 4 << 20;
/// Outgoing frames held between two flushes.
const TX_ARENA_FRAMES: usize = 8192;

/// Why the server stopped with an error.
#[derive(Debug)]
pub enum Failure {
    /// Anything else: exit status 1.
    Runtime(String),
}

impl From<rawnet::Error> for Failure {
    fn from(e: rawnet::Error) -> Self {
        Failure::Runtime(e.to_string())
    }
}

/// Outgoing frames of one batch, in one preallocated buffer: the endpoint
/// writes into slices of it, the loop then queues them on the socket.
struct TxArena {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl TxArena {
    fn new() -> TxArena {
        TxArena {
            buf: Vec::with_capacity(TX_ARENA_BYTES),
            ends: Vec::with_capacity(TX_ARENA_FRAMES),
        }
    }

    fn alloc(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.buf.len();
        if start + len > self.buf.capacity() || self.ends.len() == self.ends.capacity() {
            return None;
        }
        self.buf.resize(start + len, 0);
        self.ends.push(start + len);
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
    }
}

/// The `--debug` / `--verbose` / `--pcap` side: everything about frames
/// that goes to stderr or the pcap file.
struct Trace {
    debug: bool,
    verbose: bool,
    palette: Palette,
    err: BufWriter<Stderr>,
    pcap: Option<PcapWriter>,
    pcap_error: Option<io::Error>,
    line: String,
    scratch: Vec<u8>,
    /// When what is being handled happened: the received frame's kernel
    /// timestamp, or the time a timer was run. State lines carry it, so the
    /// trace reads in the order things happened.
    event_ts: SystemTime,
}

impl Trace {
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
        }
        if self.pcap.is_some() {
            // A frame whose TCP checksum is not filled in yet (offload) is
            // written with the checksum filled in: the pcap shows what the
            // peer meant, and tshark finds no bad checksums in it.
            let data = if note == CsumNote::NotReady {
                fill_tcp_checksum(&mut self.scratch, frame)
            } else {
                frame
            };
            if let Some(p) = self.pcap.as_mut() {
                if let Err(e) = p.write(ts, data, frame.len()) {
                    self.pcap_error.get_or_insert(e);
                    self.pcap = None;
                }
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
        }
    }

    fn warn(&mut self, msg: &str) {
        let _ = writeln!(self.err, "tcp-server: warning: {msg}");
    }

    fn flush(&mut self) {
        let _ = self.err.flush();
        if let Some(p) = self.pcap.as_mut() {
            if let Err(e) = p.flush() {
                self.pcap_error.get_or_insert(e);
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
    out: BufWriter<StdoutLock<'static>>,
    out_error: Option<io::Error>,
    /// The state the connection being closed was in (from its last
    /// `StateChange`, which comes right before its `Closed`).
    closing_from: StateName,
    /// How the first connection that completed the handshake ended.
    first_end: Option<CloseReason>,
    flush_due: bool,
}

/// The endpoint's [`Io`]: lends slices of the arena for outgoing frames and
/// takes the events.
struct ServerIo {
    arena: TxArena,
    /// Frames of the arena already traced.
    traced: usize,
    /// RSTs we sent since [`RstWatch`] was last polled.
    our_rsts: usize,
    app: App,
    trace: Trace,
    /// Echo mode: connections with received bytes not yet echoed.
    echo: HashSet<ConnId>,
}

impl Io for ServerIo {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.arena.alloc(len)
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

impl ServerIo {
    /// Traces the frames the endpoint wrote since the last call.
    fn trace_new_frames(&mut self) {
        for i in self.traced..self.arena.len() {
            let frame = self.arena.frame(i);
            // TCP flags: Ethernet 14 + IPv4 20 (we send no IP options) + 13.
            if frame.get(12..14) == Some(&[0x08, 0x00])
                && frame.get(47).is_some_and(|f| f & 0x04 != 0)
            {
                self.our_rsts += 1;
            }
            if self.trace.wants_frames() {
                let frame = self.arena.frame(i);
                self.trace
                    .frame("TX", frame, SystemTime::now(), CsumNote::Plain);
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
            sock.queue(self.arena.frame(i))?;
        }
        self.arena.clear();
        self.traced = 0;
        match sock.flush() {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => {
                self.trace.warn(&e.to_string());
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn random_key() -> Result<[u8; 16], Failure> {
    let mut key = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Failure::Runtime(format!("reading 16 random bytes from /dev/urandom: {e}")))?;
    Ok(key)
}

/// Runs the server as `cli` says; the exit status on success.
pub fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    sys::init_time_zone();
    let iface = match &cli.iface {
        Some(name) => Interface::by_name(name)?,
        None => Interface::default_interface()?,
    };
    let own = cli.ip.is_some();
    let addr: Ipv4Addr = match cli.ip {
        Some(ip) => {
            if iface.owns_address(ip) {
                return Err(rawnet::Error::AddressInUse {
                    addr: ip,
                    iface: iface.name.clone(),
                }
                .into());
            }
            ip
        }
        None => iface.require_ipv4()?.0,
    };
    let port = cli.port;
    let sock_cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: addr,
            tcp_port: port,
            arp: own,
        }),
        ..SocketConfig::default()
    };
    let mut sock = RawSocket::open(&iface, &sock_cfg)?;

    let color = cli.color.enabled();
    let mut err = BufWriter::with_capacity(64 * 1024, io::stderr());

    // Shared-address mode: the kernel owns `addr` and resets what it does
    // not know, so its RSTs from our port must be dropped.
    let mut rule: Option<RstDropRule> = None;
    let mut watch: Option<RstWatch> = None;
    if !own {
        if cli.install_rst_rule {
            let r = RstDropRule::install(addr, port)?;
            let _ = writeln!(
                err,
                "tcp-server: installed nftables table `ip {}` dropping the kernel's RSTs from {addr}:{port} (removed on exit)",
                r.table()
            );
            rule = Some(r);
        } else {
            let (nft, ipt) = rst_drop_commands(addr, port);
            let _ = writeln!(
                err,
                "tcp-server: warning: {addr} is also the kernel's address, and the kernel resets connections it does not know. \
Drop its RSTs from {addr}:{port} with one of (as root):\n  {nft}\n  {ipt}\n\
or run with --install-rst-rule (removed on exit), or serve on an unassigned address with --ip ADDR."
            );
            watch = RstWatch::new(&iface, addr, port).ok();
        }
    }

    let pcap = match &cli.pcap {
        Some(path) => Some(PcapWriter::create(path).map_err(|e| {
            Failure::Runtime(format!("cannot create pcap file {}: {e}", path.display()))
        })?),
        None => None,
    };

    let mss = u16::try_from(iface.mtu.saturating_sub(40))
        .ok()
        .filter(|&m| m >= 536)
        .unwrap_or(1460);
    let cfg = EndpointConfig {
        mac: EthernetAddress(iface.mac),
        addr,
        port,
        answer_arp: own,
        max_half_open: (cli.max_conns as usize).div_ceil(2).max(1),
        conn: Config {
            mss,
            // Echo answers each message at once (RFC 862); Nagle would hold
            // back the tail of every reply for an ACK.
            nagle: cli.mode != Mode::Echo,
            ..Config::default()
        },
    };
    let cap = cli.max_conns as usize;
    let tx_buf = if cli.mode == Mode::Echo { TX_BUF } else { 0 };
    // Zeroed, so the system backs a connection's buffers with memory only
    // where data lands: idle connections cost their slot alone.
    let mut owned =
        OwnedStorage::new(cap, RX_BUF, tx_buf).map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut endpoint = Endpoint::new(cfg, owned.storage(), random_key()?)
        .map_err(|e| Failure::Runtime(e.to_string()))?;

    sys::install_signal_handlers()
        .map_err(|e| Failure::Runtime(format!("installing signal handlers: {}", e.desc())))?;

    let _ = writeln!(
        err,
        "tcp-server: listening on {addr}:{port} on {} ({}), MSS {mss}, up to {cap} connections, mode {}",
        iface.name,
        if own {
            format!("own address, answering ARP as {}", EthernetAddress(iface.mac))
        } else {
            "shared address".to_string()
        },
        match cli.mode {
            Mode::Print => "print",
            Mode::Discard => "discard",
            Mode::Echo => "echo",
        }
    );
    let _ = err.flush();

    let stdout = io::stdout().lock();
    let mut sio = ServerIo {
        arena: TxArena::new(),
        traced: 0,
        our_rsts: 0,
        app: App {
            mode: cli.mode,
            out: BufWriter::with_capacity(256 * 1024, stdout),
            out_error: None,
            closing_from: StateName::Listen,
            first_end: None,
            flush_due: false,
        },
        trace: Trace {
            debug: cli.debug,
            verbose: cli.verbose,
            palette: Palette::new(color),
            err,
            pcap,
            pcap_error: None,
            line: String::with_capacity(4096),
            scratch: Vec::with_capacity(64 * 1024),
            event_ts: SystemTime::now(),
        },
        echo: HashSet::new(),
    };

    let start = std::time::Instant::now();
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let result = event_loop(
        cli,
        &mut sock,
        &mut endpoint,
        &mut sio,
        watch.as_mut(),
        clock,
    );

    // Cleanup, also after an error: abort what is left (TIME-WAIT needs no
    // reset), send, flush, remove the rule, summarize.
    let now = clock();
    sio.trace.event_ts = SystemTime::now();
    let left: Vec<ConnId> = endpoint
        .connections()
        .filter(|&(_, _, s)| s != StateName::TimeWait)
        .map(|(id, _, _)| id)
        .collect();
    for id in left {
        endpoint.abort(id, now, &mut sio);
    }
    let sent = sio.send(&mut sock);
    let _ = sio.app.out.flush();
    sio.trace.flush();
    let rule_result = match rule.take() {
        Some(r) => r.remove().map_err(Failure::from),
        None => Ok(()),
    };
    summary(&mut sio.trace.err, &endpoint, &sock, start.elapsed());
    let _ = sio.trace.err.flush();
    let session = result?;
    sent?;
    rule_result?;
    if let Some(e) = sio.trace.pcap_error.take() {
        return Err(Failure::Runtime(format!("writing the pcap file: {e}")));
    }
    if let Some(e) = sio.app.out_error.take() {
        return Err(Failure::Runtime(format!(
            "writing the payload to stdout: {e}"
        )));
    }
    Ok(match session {
        None | Some(CloseReason::Normal) => ExitCode::SUCCESS,
        Some(CloseReason::Reset) => ExitCode::from(3),
        Some(CloseReason::TimedOut | CloseReason::Aborted) => ExitCode::from(4),
    })
}

/// Runs until a signal or (with `-s`) the end of the first connection, then
/// closes connections gracefully for up to [`SHUTDOWN_GRACE`]. Returns how
/// the single session ended (`None` without `-s`, or when a signal came
/// first).
fn event_loop(
    cli: &Cli,
    sock: &mut RawSocket,
    endpoint: &mut Endpoint<'_>,
    sio: &mut ServerIo,
    mut watch: Option<&mut RstWatch>,
    clock: impl Fn() -> Instant,
) -> Result<Option<CloseReason>, Failure> {
    let mut deadline: Option<Instant> = None;
    let mut session: Option<CloseReason> = None;
    let mut warned_rst = false;
    loop {
        let now = clock();
        let signals = sys::signals();
        if signals >= 2 {
            sio.trace.warn("second signal: exiting now");
            return Ok(session);
        }
        let single_done = cli.single_session && sio.app.first_end.is_some();
        if deadline.is_none() && (signals >= 1 || single_done) {
            if signals >= 1 {
                sio.trace
                    .warn("signal received: closing connections (send another to exit at once)");
            } else {
                session = sio.app.first_end;
            }
            deadline = Some(now + SHUTDOWN_GRACE);
            sio.trace.event_ts = SystemTime::now();
            endpoint.close_all(now, sio);
        }
        if let Some(d) = deadline {
            let all_done = endpoint
                .connections()
                .all(|(_, _, s)| s == StateName::TimeWait);
            if all_done || now >= d {
                sio.send(sock)?;
                return Ok(session);
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
        let wait = match wake {
            Some(w) => std::time::Duration::from_micros((w - now).as_micros()).min(MAX_WAIT),
            None => MAX_WAIT,
        };
        sock.recv_batch(Some(wait), |frame, meta: &RxMeta| {
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
        sio.send(sock)?;

        if let Some(w) = watch.as_deref_mut() {
            let seen = w.poll_count();
            let kernel = seen.saturating_sub(sio.our_rsts);
            sio.our_rsts = 0;
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
fn echo_pending(endpoint: &mut Endpoint<'_>, sio: &mut ServerIo, now: Instant) {
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

fn summary(
    err: &mut impl Write,
    endpoint: &Endpoint<'_>,
    sock: &RawSocket,
    elapsed: std::time::Duration,
) {
    let s = endpoint.stats();
    let r = sock.stats().unwrap_or_default();
    let mut drops = String::new();
    for reason in DropReason::ALL {
        let n = s.dropped(reason);
        if n > 0 {
            if !drops.is_empty() {
                drops.push_str(", ");
            }
            let _ = write!(drops, "{} {n}", reason.as_str());
        }
    }
    if drops.is_empty() {
        drops.push_str("none");
    }
    let _ = writeln!(
        err,
        "tcp-server: summary after {:.3} s\n  connections  {} established; closed: {} normal, {} reset, {} timed out, {} aborted\n  payload      {} bytes received in order\n  frames       {} received, {} sent, {} retransmissions, {} resets to unknown connections\n  dropped      {drops}\n  socket       {} frames dropped by the kernel (ring full), {} truncated, {} not sent",
        elapsed.as_secs_f64(),
        s.established,
        s.closed_by(CloseReason::Normal),
        s.closed_by(CloseReason::Reset),
        s.closed_by(CloseReason::TimedOut),
        s.closed_by(CloseReason::Aborted),
        s.bytes_delivered,
        s.rx_frames,
        s.tx_frames,
        s.retransmits,
        s.resets_sent,
        r.drops,
        r.truncated,
        r.tx_dropped,
    );
}
