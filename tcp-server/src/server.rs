//! Setting up a run: the interface, the raw sockets (one per worker), the
//! endpoints, the firewall rule; starting the workers ([`crate::worker`]),
//! waiting for them, and the exit summary.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::process::ExitCode;

use rawnet::firewall::{rst_drop_commands, NftTable, RstWatch};
use rawnet::{Filter, Interface, RawSocket, SocketConfig};
use tcpcore::wire::EthernetAddress;
use tcpcore::{CloseReason, Config, DropReason, Endpoint, EndpointConfig, OwnedStorage};

use crate::cli::{Cli, Mode};
use crate::pcap::PcapWriter;
use crate::sys;
use crate::worker::{self, ErrOut, Report, Settings, Shared, Stop, Worker};

/// The longest sleep on the socket with one worker.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest sleep on the socket with several workers: a signal wakes
/// one thread; the others see the stop by looking.
const MAX_WAIT_MANY: std::time::Duration = std::time::Duration::from_millis(50);
/// Receive ring of all workers together, at most (each gets a share, at
/// least [`RING_MIN`] and at most the single worker's default).
const RING_TOTAL: usize = 32 << 20;
/// Smallest receive ring of one worker.
const RING_MIN: usize = 4 << 20;

/// Why the server stopped with an error.
#[derive(Debug)]
pub enum Failure {
    /// Settings that do not fit together (clap checks each alone): exit
    /// status 2.
    Usage(String),
    /// Anything else: exit status 1.
    Runtime(String),
}

impl From<rawnet::Error> for Failure {
    fn from(e: rawnet::Error) -> Self {
        Failure::Runtime(e.to_string())
    }
}

fn random_key() -> Result<[u8; 16], Failure> {
    let mut key = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Failure::Runtime(format!("reading 16 random bytes from /dev/urandom: {e}")))?;
    Ok(key)
}

/// The receive ring of each of `workers` sockets.
fn ring_bytes(workers: usize) -> usize {
    let single = SocketConfig::default().ring_bytes;
    if workers <= 1 {
        single
    } else {
        (RING_TOTAL / workers).clamp(RING_MIN, single)
    }
}

/// Runs the server as `cli` says; the exit status on success.
pub fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    // Settings first, before anything touches the network.
    let echo_tx = if cli.mode == Mode::Echo {
        cli.tx_buf
    } else {
        0
    };
    // The total memory bound: every buffer of every connection, at worst.
    let worst = ((cli.max_conns as usize).div_ceil(usize::from(cli.workers))
        * usize::from(cli.workers)) as u64
        * (cli.rx_buf + echo_tx) as u64;
    if worst > cli.max_memory << 20 {
        return Err(Failure::Usage(format!(
            "--max-conns {} with {} KiB of buffers each needs up to {} MiB, over --max-memory {}: \
             lower --max-conns or --rx-buf/--tx-buf, or raise --max-memory",
            cli.max_conns,
            (cli.rx_buf + echo_tx) / 1024,
            worst >> 20,
            cli.max_memory
        )));
    }
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
    let workers = usize::from(cli.workers.max(1));
    // One PACKET_FANOUT_HASH group for this process's sockets: the kernel
    // hashes each flow to one of them.
    let group = (std::process::id() & 0xffff) as u16;
    let sock_cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: addr,
            tcp_port: port,
            arp: own,
            // Own-address mode: the address's other ports are ours to
            // answer with a reset (RFC 9293 §3.10.7.1), so their segments
            // must reach the endpoint; in shared-address mode the kernel
            // answers them.
            all_ports: own,
        }),
        fanout: (workers > 1).then_some(group),
        ring_bytes: ring_bytes(workers),
        ring: match cli.ring {
            crate::cli::Ring::V2 => rawnet::RingVersion::V2,
            crate::cli::Ring::V3 => rawnet::RingVersion::V3,
        },
        ..SocketConfig::default()
    };
    // Every socket is open (and in the group) before any connection is
    // served: a flow never moves from one to another.
    let mut socks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut sock = RawSocket::open(&iface, &sock_cfg)?;
        // Large segments cut by the kernel (GSO) when it takes them; the
        // server sends data in echo mode only.
        if cli.mode == Mode::Echo && !cli.no_gso {
            let _ = sock.enable_gso();
        }
        socks.push(sock);
    }

    let color = cli.color.enabled();
    let mut err = ErrOut::new();

    // Shared-address mode: the kernel owns `addr` and resets what it does
    // not know, so its RSTs from our port must be dropped.
    let mut rules: Vec<NftTable> = Vec::new();
    let mut watch: Option<RstWatch> = None;
    if cli.install_ingress_rule {
        let r = NftTable::install_ingress_drop(&iface.name, addr, port)?;
        let _ = writeln!(
            err,
            "tcp-server: installed nftables table `netdev {}` dropping frames to {addr}:{port} at {}'s ingress once this server has its copy: the kernel's IP stack never sees them (removed on exit)",
            r.table(),
            iface.name
        );
        rules.push(r);
    }
    // With the ingress rule the kernel sees none of our segments, so it
    // answers none with a RST.
    if !own && !cli.install_ingress_rule {
        if cli.install_rst_rule {
            let r = NftTable::install_rst_drop(addr, port)?;
            let _ = writeln!(
                err,
                "tcp-server: installed nftables table `ip {}` dropping the kernel's RSTs from {addr}:{port} (removed on exit)",
                r.table()
            );
            rules.push(r);
        } else {
            let (nft, ipt) = rst_drop_commands(addr, port);
            let _ = writeln!(
                err,
                "tcp-server: warning: {addr} is also the kernel's address, and the kernel resets connections it does not know. \
Drop its RSTs from {addr}:{port} with one of (as root):\n  {nft}\n  {ipt}\n\
or run with --install-rst-rule or --install-ingress-rule (removed on exit), or serve on an unassigned address with --ip ADDR."
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
    // Each worker has its own table: a share of --max-conns, rounded up.
    let per_worker = (cli.max_conns as usize).div_ceil(workers);
    let cfg = EndpointConfig {
        mac: EthernetAddress(iface.mac),
        addr,
        port,
        answer_arp: own,
        // The address is ours alone: its other ports are closed (RFC 9293
        // §3.10.7.1) and get a reset from us, as the kernel would.
        reset_other_ports: own,
        max_half_open: cli
            .max_half_open
            .map_or(per_worker.div_ceil(2), |n| n as usize)
            .max(1),
        conn: Config {
            mss,
            // Echo answers each message at once (RFC 862); Nagle would hold
            // back the tail of every reply for an ACK.
            nagle: cli.mode != Mode::Echo,
            syn_cookies: !cli.no_syn_cookies,
            max_per_source: cli.max_per_source,
            idle_timeout: tcpcore::Duration::from_secs(cli.idle_timeout),
            max_retries: cli.max_retries,
            gso_max: 64 * 1024,
            ..Config::default()
        },
    };
    let tx_buf = if cli.mode == Mode::Echo {
        cli.tx_buf
    } else {
        0
    };
    // Zeroed, so the system backs a connection's buffers with memory only
    // where data lands: idle connections cost their slot alone.
    let mut owned = Vec::with_capacity(workers);
    for _ in 0..workers {
        owned.push(
            OwnedStorage::new(per_worker, cli.rx_buf, tx_buf)
                .map_err(|e| Failure::Runtime(e.to_string()))?,
        );
    }
    let mut endpoints = Vec::with_capacity(workers);
    for o in owned.iter_mut() {
        let mut ep = Endpoint::new(cfg, o.storage(), random_key()?)
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        // ACKs of a batch of frames are sent once, at its end.
        ep.set_batching(true);
        endpoints.push(ep);
    }

    sys::install_signal_handlers()
        .map_err(|e| Failure::Runtime(format!("installing signal handlers: {}", e.desc())))?;

    // With one worker, exactly --max-conns.
    let cap = per_worker * workers;
    let _ = write!(
        err,
        "tcp-server: listening on {addr}:{port} on {} ({}), MSS {mss}, up to {cap} connections, mode {}",
        iface.name,
        if own {
            format!(
                "own address, answering ARP as {}",
                EthernetAddress(iface.mac)
            )
        } else {
            "shared address".to_string()
        },
        match cli.mode {
            Mode::Print => "print",
            Mode::Discard => "discard",
            Mode::Echo => "echo",
        }
    );
    if workers > 1 {
        let _ = write!(
            err,
            ", {workers} workers ({per_worker} connections each, fanout group {group})"
        );
    }
    let _ = writeln!(err);
    let _ = err.flush();

    let shared = Shared::new(pcap);
    let settings = Settings {
        mode: cli.mode,
        debug: cli.debug,
        verbose: cli.verbose,
        color,
        single_session: cli.single_session,
        max_wait: if workers == 1 {
            MAX_WAIT
        } else {
            MAX_WAIT_MANY
        },
        start: std::time::Instant::now(),
    };
    let mut parts: Vec<Worker<'_>> = socks
        .into_iter()
        .zip(endpoints)
        .enumerate()
        .map(|(index, (sock, endpoint))| Worker {
            index,
            sock,
            endpoint,
            watch: None,
        })
        .collect();
    if let Some(w) = parts.first_mut() {
        w.watch = watch;
    }

    // One worker runs on this thread (exactly the single-threaded server);
    // several run on threads of their own, joined here.
    let reports: Vec<Result<Report, Failure>> = if workers == 1 {
        parts
            .into_iter()
            .map(|w| Ok(worker::run(settings, &shared, w)))
            .collect()
    } else {
        let shared = &shared;
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|w| {
                    let index = w.index;
                    let handle = std::thread::Builder::new()
                        .name(format!("worker-{index}"))
                        .spawn_scoped(s, move || worker::run(settings, shared, w));
                    if handle.is_err() {
                        shared.request_stop(Stop::Failed);
                    }
                    (index, handle)
                })
                .collect();
            handles
                .into_iter()
                .map(|(index, handle)| match handle {
                    Ok(h) => h.join().map_err(|_| {
                        shared.request_stop(Stop::Failed);
                        Failure::Runtime(format!("worker {index} stopped on an internal error"))
                    }),
                    Err(e) => Err(Failure::Runtime(format!(
                        "starting worker thread {index}: {e}"
                    ))),
                })
                .collect()
        })
    };

    let mut rule_result = Ok(());
    for r in rules {
        let removed = r.remove().map_err(Failure::from);
        if rule_result.is_ok() {
            rule_result = removed;
        }
    }
    summary(&mut err, &reports, settings.start.elapsed());
    let _ = err.flush();

    // Errors in the order the single worker always reported them: how the
    // loop ended, the last send, the rule, the pcap file, stdout.
    let mut loop_errors = Vec::new();
    let mut send_errors = Vec::new();
    let mut out_errors = Vec::new();
    for r in reports {
        match r {
            Err(e) => loop_errors.push(e),
            Ok(r) => {
                if let Err(e) = r.result {
                    loop_errors.push(e);
                }
                if let Err(e) = r.sent {
                    send_errors.push(e);
                }
                if let Some(e) = r.out_error {
                    out_errors.push(e);
                }
            }
        }
    }
    if let Some(e) = loop_errors.into_iter().next() {
        return Err(e);
    }
    if let Some(e) = send_errors.into_iter().next() {
        return Err(e);
    }
    rule_result?;
    if let Some(e) = shared.pcap().and_then(|mut p| p.error.take()) {
        return Err(Failure::Runtime(format!("writing the pcap file: {e}")));
    }
    if let Some(e) = out_errors.into_iter().next() {
        return Err(Failure::Runtime(format!(
            "writing the payload to stdout: {e}"
        )));
    }
    Ok(match shared.stop() {
        Some(Stop::Session(CloseReason::Normal)) | Some(Stop::Signal | Stop::Failed) | None => {
            ExitCode::SUCCESS
        }
        Some(Stop::Session(CloseReason::Reset)) => ExitCode::from(3),
        Some(Stop::Session(CloseReason::TimedOut | CloseReason::Aborted)) => ExitCode::from(4),
    })
}

/// Adds `s`'s counters to `total` (every counter: a field added to
/// `tcpcore::Stats` must be added here too).
fn add_stats(total: &mut tcpcore::Stats, s: &tcpcore::Stats) {
    total.rx_frames += s.rx_frames;
    total.tx_frames += s.tx_frames;
    total.established += s.established;
    for (t, n) in total.closed.iter_mut().zip(s.closed) {
        *t += n;
    }
    for (t, n) in total.handshakes_failed.iter_mut().zip(s.handshakes_failed) {
        *t += n;
    }
    total.bytes_delivered += s.bytes_delivered;
    total.retransmits += s.retransmits;
    total.resets_sent += s.resets_sent;
    total.syn_cookies_sent += s.syn_cookies_sent;
    total.syn_cookies_accepted += s.syn_cookies_accepted;
    total.time_wait_recycled += s.time_wait_recycled;
    for (t, n) in total.drops.iter_mut().zip(s.drops) {
        *t += n;
    }
}

/// Adds `s`'s counters to `total`.
fn add_sock_stats(total: &mut rawnet::Stats, s: &rawnet::Stats) {
    total.packets += s.packets;
    total.drops += s.drops;
    total.freeze_q_cnt += s.freeze_q_cnt;
    total.rx_frames += s.rx_frames;
    total.truncated += s.truncated;
    total.tx_frames += s.tx_frames;
    total.tx_dropped += s.tx_dropped;
    total.tx_retries += s.tx_retries;
}

/// The exit summary: the counters of all workers added up, then (with
/// several workers) a line per worker.
fn summary(
    err: &mut impl Write,
    reports: &[Result<Report, Failure>],
    elapsed: std::time::Duration,
) {
    let mut s = tcpcore::Stats::default();
    let mut r = rawnet::Stats::default();
    let mut open = 0;
    let mut time_wait = 0;
    for rep in reports.iter().flatten() {
        add_stats(&mut s, &rep.stats);
        add_sock_stats(&mut r, &rep.sock);
        open += rep.open;
        time_wait += rep.time_wait;
    }
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
    if s.syn_cookies_sent > 0 {
        let _ = writeln!(
            err,
            "  syn cookies  {} sent, {} returned valid (the half-open bound was reached)",
            s.syn_cookies_sent, s.syn_cookies_accepted
        );
    }
    let failed: u64 = s.handshakes_failed.iter().sum();
    if failed > 0 {
        let _ = writeln!(
            err,
            "  handshakes   {failed} ended before ESTABLISHED: {} reset, {} timed out, {} aborted",
            s.handshakes_failed_by(CloseReason::Reset),
            s.handshakes_failed_by(CloseReason::TimedOut),
            s.handshakes_failed_by(CloseReason::Aborted),
        );
    }
    if s.time_wait_recycled > 0 {
        let _ = writeln!(
            err,
            "  time-wait    {} ended early to make room in a full table",
            s.time_wait_recycled
        );
    }
    let _ = write!(err, "  open         {open} connections left in the table");
    if time_wait > 0 {
        let _ = write!(err, " ({time_wait} in TIME-WAIT)");
    }
    let _ = writeln!(err);
    if reports.len() > 1 {
        for (i, rep) in reports.iter().enumerate() {
            let label = format!("worker {i}");
            match rep {
                Ok(rep) => {
                    let _ = writeln!(
                        err,
                        "  {label:<11}  {} connections, {} bytes received, {} frames received",
                        rep.stats.established, rep.stats.bytes_delivered, rep.stats.rx_frames
                    );
                }
                Err(_) => {
                    let _ = writeln!(err, "  {label:<11}  stopped on an error (not counted)");
                }
            }
        }
    }
}
