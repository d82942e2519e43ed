//! Setting up a run: the interface, the raw sockets (one per worker), the
//! endpoints, the firewall rule; starting the workers ([`crate::worker`]),
//! waiting for them, and the exit summary (in `summary`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

use rawnet::firewall::{rst_drop_commands, Addrs, NftTable, RstWatch};
use rawnet::{Filter, Interface, RawSocket, SocketConfig};
use tcpcore::wire::EthernetAddress;
use tcpcore::{CloseReason, Config, Endpoint, EndpointConfig, OwnedStorage};

use crate::cli::{Cli, Mode};
use crate::link::Link;
use crate::pcap::PcapWriter;
use crate::sys;
use crate::worker::{self, ErrOut, Report, Settings, Shared, Stop, Worker};

mod dad;
mod summary;

pub(crate) use dad::detect as detect_duplicate_address;

use summary::summary;

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
/// The receive ring a single worker starts with: it grows to its full size
/// ([`ring_bytes`]) the first time the server finds it three quarters full
/// (`rawnet::SocketConfig::ring_start_bytes`). The kernel maps every page
/// of a ring up front, so this is what an idle server holds: 2 MiB, 1024
/// frames of an MTU of 1500, more than one connection can have in flight
/// with the default 256 KiB window (and the bench's 1 MiB one). Several
/// workers share a fanout group, where a ring cannot grow: theirs are
/// their full size from the start.
const RING_START: usize = 2 << 20;

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

/// The exit status of `result` for program `prog`, with the error (if
/// any) printed as one line: `prog: <error>`; 2 for a usage error, 1 for
/// any other.
pub fn exit(prog: &str, result: Result<ExitCode, Failure>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("{prog}: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("{prog}: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// 16 secret random bytes (the endpoint's key for ISNs and its table).
pub fn random_key() -> Result<[u8; 16], Failure> {
    let mut key = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Failure::Runtime(format!("reading 16 random bytes from /dev/urandom: {e}")))?;
    Ok(key)
}

/// `--pcap FILE`: the file created, or none.
pub(crate) fn open_pcap(path: Option<&std::path::Path>) -> Result<Option<PcapWriter>, Failure> {
    path.map(|path| {
        PcapWriter::create(path).map_err(|e| {
            Failure::Runtime(format!("cannot create pcap file {}: {e}", path.display()))
        })
    })
    .transpose()
}

/// The MSS that fits `iface`'s MTU (IPv4 and TCP headers without options),
/// 1460 when the MTU is unknown or too small.
pub(crate) fn mss_for(iface: &Interface) -> u16 {
    u16::try_from(iface.mtu.saturating_sub(40))
        .ok()
        .filter(|&m| m >= 536)
        .unwrap_or(1460)
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

/// Where the server listens and how the work is divided: decided from the
/// command line and the interface before any socket is opened.
struct Placement {
    iface: Interface,
    /// The IPv4 address; 0.0.0.0 when there is none (only an IPv6 `--ip`,
    /// or, shared, an interface with a global IPv6 address alone): the
    /// socket filter then lets no IPv4 (and no ARP) through, so nothing is
    /// answered for an IPv4 address we do not own.
    addr: Ipv4Addr,
    /// The IPv6 address: `--ip` with an IPv6 address (own-address mode), or
    /// the interface's first global IPv6 address (shared-address mode).
    addr6: Option<Ipv6Addr>,
    port: u16,
    /// Own-address mode (`--ip`): the kernel does not have `addr`.
    own: bool,
    /// `--tun`: `iface` is the TUN device (bare IP packets, no ARP).
    tun: bool,
    workers: usize,
    /// The `PACKET_FANOUT` group of this process's sockets.
    group: u16,
    /// Each worker's share of `--max-conns`, rounded up.
    per_worker: usize,
    mss: u16,
}

impl Placement {
    /// The addresses served, as the firewall rules take them.
    fn addrs(&self) -> Addrs {
        Addrs {
            v4: (!self.addr.is_unspecified()).then_some(self.addr),
            v6: self.addr6,
        }
    }

    /// The addresses and port served: `198.18.0.1:3000`, `[2001:2::1]:3000`
    /// or `198.18.0.1:3000 and [2001:2::1]:3000`.
    fn served(&self) -> String {
        let port = self.port;
        match (self.addrs().v4, self.addr6) {
            (Some(a), Some(b)) => format!("{a}:{port} and [{b}]:{port}"),
            (None, Some(b)) => format!("[{b}]:{port}"),
            (_, None) => format!("{}:{port}", self.addr),
        }
    }
}

/// Runs the server as `cli` says; the exit status on success.
pub fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    // Settings first, before anything touches the network.
    let file = load_file(cli)?;
    check_memory_bound(cli)?;
    sys::init_time_zone();
    // `--tun`: the device first (the placement reads its MTU), and the
    // kernel's route to our address (removed on exit).
    let tun = open_tun(cli)?;
    let at = placement(cli)?;
    let (mut socks, _route) = match tun {
        Some((dev, route)) => (vec![Link::Tun(dev)], Some(route)),
        None => (
            open_sockets(cli, &at)?.into_iter().map(Link::Raw).collect(),
            None,
        ),
    };
    let mut err = ErrOut::new();
    let (rules, watch) = install_rules(cli, &at, &mut err)?;
    let pcap = open_pcap(cli.pcap.as_deref())?;
    let mut owned = storage(cli, &at)?;
    let endpoints = endpoints(cli, &at, &mut owned)?;
    // An IPv6 address of our own on a link: duplicate address detection
    // first (RFC 4862 §5.4), as the kernel does for the addresses it
    // assigns. Not on a TUN device (no neighbor discovery there).
    if at.own && !at.tun {
        dad::detect(&mut socks, endpoint_config(cli, &at), &at.iface.name)?;
    }

    sys::install_signal_handlers()
        .map_err(|e| Failure::Runtime(format!("installing signal handlers: {}", e.desc())))?;
    announce(&mut err, cli.mode, &at);

    let shared = Shared::new(pcap);
    let settings = Settings {
        mode: cli.mode,
        file,
        debug: cli.debug,
        verbose: cli.verbose,
        color: cli.color.enabled(),
        single_session: cli.single_session,
        max_wait: if at.workers == 1 {
            MAX_WAIT
        } else {
            MAX_WAIT_MANY
        },
        start: std::time::Instant::now(),
    };
    let parts = assemble(socks, endpoints, watch);
    let reports = run_workers(settings, &shared, parts);

    let mut rule_result = Ok(());
    for r in rules {
        let removed = r.remove().map_err(Failure::from);
        if rule_result.is_ok() {
            rule_result = removed;
        }
    }
    summary(&mut err, &reports, settings.start.elapsed());
    let _ = err.flush();
    outcome(reports, rule_result, &shared)
}

/// File mode: the file every connection is sent, read once and shared by
/// all workers and connections for the whole run (so leaked, not freed).
/// A file that cannot be read is a usage error (exit status 2).
fn load_file(cli: &Cli) -> Result<Option<&'static [u8]>, Failure> {
    match (&cli.file, cli.mode) {
        (Some(path), Mode::File) => match std::fs::read(path) {
            Ok(bytes) => Ok(Some(Vec::leak(bytes))),
            Err(e) => Err(Failure::Usage(format!(
                "cannot read --file {}: {e}",
                path.display()
            ))),
        },
        (None, Mode::File) => Err(Failure::Usage("--mode file needs --file PATH".into())),
        (Some(_), _) => Err(Failure::Usage("--file needs --mode file".into())),
        (None, _) => Ok(None),
    }
}

/// The total memory bound: every buffer of every connection, at worst,
/// must fit in `--max-memory`.
fn check_memory_bound(cli: &Cli) -> Result<(), Failure> {
    let echo_tx = if cli.mode.sends() { cli.tx_buf } else { 0 };
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
    Ok(())
}

/// The interface, the addresses (refused if `--ip` names one the kernel
/// has already; without `--ip`, the interface's own IPv4 address and first
/// global IPv6 address, either or both), the number of workers and their
/// share of the connections.
fn placement(cli: &Cli) -> Result<Placement, Failure> {
    let (v4, v6) = cli.own_addrs().map_err(Failure::Usage)?;
    let iface = match (&cli.tun, &cli.iface) {
        (Some(name), _) | (None, Some(name)) => Interface::by_name(name)?,
        (None, None) => Interface::default_interface()?,
    };
    let own = !cli.ip.is_empty();
    if let Some(ip) = v4 {
        if iface.owns_address(ip) {
            return Err(rawnet::Error::AddressInUse {
                addr: ip,
                iface: iface.name.clone(),
            }
            .into());
        }
    }
    if let Some(ip) = v6 {
        if iface.owns_address6(ip) {
            return Err(Failure::Runtime(format!(
                "{ip} is the kernel's own address in this namespace, so the kernel would reset our connections: use an unassigned address (we answer neighbor solicitations for it)"
            )));
        }
    }
    let (addr, addr6) = if own {
        // IPv6 alone: no IPv4 address (the filter drops all IPv4 and ARP).
        (v4.unwrap_or(Ipv4Addr::UNSPECIFIED), v6)
    } else {
        // Shared-address mode: the kernel's own addresses on the interface.
        // Of several global IPv6 addresses the first (`ip -6 addr`'s
        // order) is served: the endpoint has one address per family.
        let (a4, a6) = (iface.ipv4.map(|(a, _)| a), iface.ipv6().map(|(a, _)| a));
        if a4.is_none() && a6.is_none() {
            return Err(Failure::Runtime(format!(
                "interface `{0}` has neither an IPv4 nor a global IPv6 address to share: add one with `sudo ip addr add <addr>/<len> dev {0}`, or serve on an unassigned address with --ip ADDR",
                iface.name
            )));
        }
        (a4.unwrap_or(Ipv4Addr::UNSPECIFIED), a6)
    };
    let workers = usize::from(cli.workers.max(1));
    let mss = mss_for(&iface);
    Ok(Placement {
        iface,
        addr,
        addr6,
        port: cli.port,
        own,
        tun: cli.tun.is_some(),
        workers,
        // One PACKET_FANOUT group for this process's sockets: rawnet's
        // program sends each connection, and the ICMP errors about it, to
        // one of them.
        group: (std::process::id() & 0xffff) as u16,
        // Each worker has its own table: a share of --max-conns, rounded up.
        per_worker: (cli.max_conns as usize).div_ceil(workers),
        mss,
    })
}

/// The routes `ip route add ADDR/32 dev NAME` (IPv4) and `ip -6 route
/// add ADDR/128 dev NAME` (IPv6) that `--tun` gives the kernel to our
/// addresses; deleted when dropped, unless the device goes away with them
/// (one we created: the kernel removes the device, and its routes, when
/// its file is closed).
pub(crate) struct TunRoute {
    /// The routes we added, `ADDR/32` or `ADDR/128`.
    added: Vec<String>,
    dev: String,
    /// The device was there before us (persistent): the routes must go.
    remove: bool,
}

impl Drop for TunRoute {
    fn drop(&mut self) {
        if !self.remove {
            return;
        }
        for cidr in &self.added {
            let _ = rawnet::netns::run(
                std::process::Command::new("ip").args(["route", "del", cidr, "dev", &self.dev]),
            );
        }
    }
}

/// `--tun NAME`: the TUN device, opened (created if missing, brought up),
/// and the kernel's route to each of our addresses through it, `ip route
/// add ADDR/32 dev NAME` for IPv4 and `ADDR/128` for IPv6 (unless the
/// kernel has one there already). Refused: more than one worker (one
/// queue), and an address the kernel owns (checked by the placement).
pub(crate) fn open_tun(cli: &Cli) -> Result<Option<(rawnet::TunDevice, TunRoute)>, Failure> {
    let Some(name) = &cli.tun else {
        return Ok(None);
    };
    let addrs: Vec<IpAddr> = match cli.own_addrs().map_err(Failure::Usage)? {
        (None, None) => return Err(Failure::Usage("--tun needs --ip ADDR".into())),
        (v4, v6) => v4
            .map(IpAddr::V4)
            .into_iter()
            .chain(v6.map(IpAddr::V6))
            .collect(),
    };
    if cli.workers > 1 {
        return Err(Failure::Usage(
            "--tun serves with one worker (--workers 1)".into(),
        ));
    }
    tun_with_route(name, &addrs).map(Some)
}

/// The TUN device `name` (created if missing, brought up) and the
/// kernel's routes to `addrs` through it (see [`open_tun`]).
pub(crate) fn tun_with_route(
    name: &str,
    addrs: &[IpAddr],
) -> Result<(rawnet::TunDevice, TunRoute), Failure> {
    let dev = rawnet::TunDevice::open(name, &rawnet::TunOptions::default())?;
    let dev_name = dev.name().to_string();
    let mut route = TunRoute {
        added: Vec::new(),
        dev: dev_name.clone(),
        remove: !dev.created(),
    };
    for &addr in addrs {
        let (family, len) = if addr.is_ipv6() {
            ("-6", 128)
        } else {
            ("-4", 32)
        };
        let cidr = format!("{addr}/{len}");
        let have = rawnet::netns::run(
            std::process::Command::new("ip")
                .args([family, "route", "show", &cidr, "dev", &dev_name]),
        )
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
        if !have {
            // (A route added before a later one fails is removed with
            // `route` as it drops.)
            dev.add_route(addr, len)?;
            route.added.push(cidr);
        }
    }
    Ok((dev, route))
}

/// One raw socket per worker, all open (and in the fanout group) before
/// any connection is served: a flow never moves from one to another.
fn open_sockets(cli: &Cli, at: &Placement) -> Result<Vec<RawSocket>, Failure> {
    let (addr, own, workers) = (at.addr, at.own, at.workers);
    let sock_cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: addr,
            tcp_port: at.port,
            // No ARP when we have no IPv4 address (IPv6 alone).
            arp: own && !addr.is_unspecified(),
            ipv6: at.addr6,
            // Own-address mode: the address's other ports are ours to
            // answer with a reset (RFC 9293 §3.10.7.1), so their segments
            // must reach the endpoint; in shared-address mode the kernel
            // answers them.
            all_ports: own,
        }),
        fanout: (workers > 1).then_some(at.group),
        ring_bytes: ring_bytes(workers),
        ring_start_bytes: RING_START,
        ring: match cli.ring {
            crate::cli::Ring::V2 => rawnet::RingVersion::V2,
            crate::cli::Ring::V3 => rawnet::RingVersion::V3,
        },
        ..SocketConfig::default()
    };
    let mut socks = RawSocket::open_group(&at.iface, &sock_cfg, workers)?;
    // Large segments cut by the kernel (GSO) when it takes them; the
    // server sends data in echo and file modes only.
    if cli.mode.sends() && !cli.no_gso {
        for sock in &mut socks {
            let _ = sock.enable_gso();
        }
    }
    Ok(socks)
}

/// Shared-address mode: the kernel owns the address and resets what it
/// does not know, so its RSTs from our port must be dropped (a rule,
/// removed on exit) or at least watched for (with a warning now).
fn install_rules(
    cli: &Cli,
    at: &Placement,
    err: &mut ErrOut,
) -> Result<(Vec<NftTable>, Option<RstWatch>), Failure> {
    let (addrs, port) = (at.addrs(), at.port);
    let mut rules: Vec<NftTable> = Vec::new();
    let mut watch: Option<RstWatch> = None;
    if cli.install_ingress_rule {
        let r = NftTable::install_ingress_drop(&at.iface.name, addrs, port)?;
        let _ = writeln!(
            err,
            "tcp-server: installed nftables table `netdev {}` dropping frames to {} at {}'s ingress once this server has its copy: the kernel's IP stack never sees them (removed on exit)",
            r.table(),
            at.served(),
            at.iface.name
        );
        rules.push(r);
    }
    // With the ingress rule the kernel sees none of our segments, so it
    // answers none with a RST.
    if !at.own && !cli.install_ingress_rule {
        if cli.install_rst_rule {
            let r = NftTable::install_rst_drop(addrs, port)?;
            let _ = writeln!(
                err,
                "tcp-server: installed nftables table `{} {}` dropping the kernel's RSTs from {} (removed on exit)",
                r.family(),
                r.table(),
                at.served()
            );
            rules.push(r);
        } else {
            let (nft, ipt) = rst_drop_commands(addrs, port);
            let is = if addrs.v4.is_some() && addrs.v6.is_some() {
                "are also the kernel's addresses"
            } else {
                "is also the kernel's address"
            };
            let from = at.served();
            let _ = writeln!(
                err,
                "tcp-server: warning: {addrs} {is}, and the kernel resets connections it does not know. \
Drop its RSTs from {from} with one of (as root):\n  {nft}\n  {ipt}\n\
or run with --install-rst-rule or --install-ingress-rule (removed on exit), or serve on an unassigned address with --ip ADDR."
            );
            watch = RstWatch::new(&at.iface, addrs, port).ok();
        }
    }
    Ok((rules, watch))
}

/// Each worker's connection storage: a share of `--max-conns`, with the
/// buffers (a send buffer in echo and file modes only). Zeroed, so the system backs
/// a connection's buffers with memory only where data lands: idle
/// connections cost their slot alone.
fn storage(cli: &Cli, at: &Placement) -> Result<Vec<OwnedStorage>, Failure> {
    let tx_buf = if cli.mode.sends() { cli.tx_buf } else { 0 };
    let mut owned = Vec::with_capacity(at.workers);
    for _ in 0..at.workers {
        owned.push(
            OwnedStorage::new(at.per_worker, cli.rx_buf, tx_buf)
                .map_err(|e| Failure::Runtime(e.to_string()))?,
        );
    }
    Ok(owned)
}

/// One endpoint per worker, each on its storage with its own secret key.
fn endpoints<'s>(
    cli: &Cli,
    at: &Placement,
    owned: &'s mut [OwnedStorage],
) -> Result<Vec<Endpoint<'s>>, Failure> {
    let cfg = endpoint_config(cli, at);
    let mut endpoints = Vec::with_capacity(owned.len());
    for o in owned.iter_mut() {
        let mut ep = Endpoint::new(cfg, o.storage(), random_key()?)
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        // ACKs of a batch of frames are sent once, at its end.
        ep.set_batching(true);
        // Echo: in-order bytes go straight into the send buffer (what does
        // not fit waits in the receive buffer for `echo_pending`).
        ep.set_echo(cli.mode == Mode::Echo);
        endpoints.push(ep);
    }
    Ok(endpoints)
}

/// Each worker's pieces: a socket and an endpoint; the RST watch goes to
/// the first.
fn assemble<'s>(
    socks: Vec<Link>,
    endpoints: Vec<Endpoint<'s>>,
    watch: Option<RstWatch>,
) -> Vec<Worker<'s>> {
    let mut parts: Vec<Worker<'s>> = socks
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
    parts
}

/// Each worker's endpoint configuration.
fn endpoint_config(cli: &Cli, at: &Placement) -> EndpointConfig {
    EndpointConfig {
        // `--tun`: bare IP packets, no ARP.
        medium: if cli.tun.is_some() {
            tcpcore::Medium::Ip
        } else {
            tcpcore::Medium::Ethernet
        },
        mac: EthernetAddress(at.iface.mac),
        addr: at.addr,
        addr6: at.addr6,
        port: at.port,
        answer_arp: at.own,
        // The address is ours alone: its other ports are closed (RFC 9293
        // §3.10.7.1) and get a reset from us, as the kernel would.
        reset_other_ports: at.own,
        max_half_open: cli
            .max_half_open
            .map_or(at.per_worker.div_ceil(2), |n| n as usize)
            .max(1),
        // (With IPv6 alone, `addr` is 0.0.0.0 and the socket filter passes
        // no ARP or IPv4; `answer_arp` also answers neighbor solicitations
        // for `addr6`.)
        // The server only answers: it never resolves a neighbour.
        gateway: None,
        prefix_len: 0,
        conn: Config {
            mss: at.mss,
            // Echo answers each message at once (RFC 862); Nagle would hold
            // back the tail of every reply for an ACK.
            nagle: cli.mode != Mode::Echo,
            syn_cookies: !cli.no_syn_cookies,
            max_per_source: cli.max_per_source,
            idle_timeout: tcpcore::Duration::from_secs(cli.idle_timeout),
            max_retries: cli.max_retries,
            gso_max: 64 * 1024,
            keepalive: cli
                .keepalive
                .map(|s| tcpcore::KeepAlive::after(tcpcore::Duration::from_secs(s))),
            user_timeout: cli.user_timeout.map(tcpcore::Duration::from_millis),
            // Pacing: a whole window landing at once keeps a Linux
            // receiver's buffer from growing (`tcpcore` `conn/send/pace.rs`).
            pacing: !cli.no_pacing,
            ..Config::default()
        },
    }
}

/// The `listening on ...` line.
fn announce(err: &mut ErrOut, mode: Mode, at: &Placement) {
    let Placement {
        iface,
        addr,
        addr6,
        port: _,
        own,
        tun,
        workers,
        group,
        per_worker,
        mss,
    } = at;
    // With one worker, exactly --max-conns.
    let cap = per_worker * workers;
    // IPv6 segments carry 20 bytes more of IP header (the endpoint
    // advertises the MSS less 20 on them).
    let mss6 = mss.saturating_sub(20);
    let mss = match (addr.is_unspecified(), addr6) {
        (true, Some(_)) => format!("{mss6}"),
        (false, Some(_)) => format!("{mss} (IPv6 {mss6})"),
        (_, None) => format!("{mss}"),
    };
    let served = at.served();
    let _ = write!(
        err,
        "tcp-server: listening on {served} on {} ({}), MSS {mss}, up to {cap} connections, mode {}",
        iface.name,
        if *tun {
            "TUN device: bare IP packets, no ARP; routed here by the kernel".to_string()
        } else if *own {
            format!(
                "own address, answering {} as {}",
                match (addr.is_unspecified(), addr6.is_some()) {
                    (false, false) => "ARP",
                    (false, true) => "ARP and neighbor solicitations",
                    (true, _) => "neighbor solicitations",
                },
                EthernetAddress(iface.mac)
            )
        } else if !addr.is_unspecified() && addr6.is_some() {
            "shared addresses: the kernel's own".to_string()
        } else {
            "shared address: the kernel's own".to_string()
        },
        match mode {
            Mode::Print => "print",
            Mode::Discard => "discard",
            Mode::Echo => "echo",
            Mode::File => "file",
        }
    );
    if *workers > 1 {
        let _ = write!(
            err,
            ", {workers} workers ({per_worker} connections each, fanout group {group})"
        );
    }
    let _ = writeln!(err);
    let _ = err.flush();
}

/// Runs the workers until they end: one on this thread (exactly the
/// single-threaded server); several on threads of their own, joined here.
fn run_workers(
    settings: Settings,
    shared: &Shared,
    parts: Vec<Worker<'_>>,
) -> Vec<Result<Report, Failure>> {
    if parts.len() == 1 {
        return parts
            .into_iter()
            .map(|w| Ok(worker::run(settings, shared, w)))
            .collect();
    }
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
}

/// The exit status, or the error to report: in the order the single worker
/// always reported them: how the loop ended, the last send, the rule, the
/// pcap file, stdout.
fn outcome(
    reports: Vec<Result<Report, Failure>>,
    rule_result: Result<(), Failure>,
    shared: &Shared,
) -> Result<ExitCode, Failure> {
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
        Some(Stop::Session(
            CloseReason::TimedOut | CloseReason::Aborted | CloseReason::Icmp(_),
        )) => ExitCode::from(4),
    })
}
