//! `tcp-client`: the reference client on the server's transport. One
//! connection from our own address (`--ip`, answered for by ARP) on a raw
//! socket: stdin goes out, what comes in goes to stdout, our FIN follows
//! the end of stdin, and the run ends when both sides have closed.
//!
//! It is built from the server's parts: the raw socket and its filter
//! ([`rawnet`]), the trace and pcap (`worker::trace`) and the outgoing
//! frame arena (`worker::tx`); the connection is driven through
//! [`tcpcore::Stack`], the pull API (issue #15): frames in, then staged
//! frames and events out, nothing called back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use rawnet::{CsumStatus, Filter, Interface, RawSocket, RxMeta, SocketConfig};

use crate::link::Link;
use tcpcore::wire::{ChecksumPolicy, EthernetAddress};
use tcpcore::{
    CloseReason, Config, ConnId, EndpointConfig, FourTuple, Instant, OwnedStackStorage, Stack,
    StateName,
};

use crate::render::CsumNote;
use crate::server::{mss_for, open_pcap, random_key, Failure};
use crate::sys;
use crate::worker::trace::Trace;
use crate::worker::{wait_for, Shared};

mod cli;
mod driver;

pub use cli::ClientCli;

use driver::Driver;

/// The connection's receive and send buffers, each.
const BUF: usize = 1 << 20;
/// Bytes read from stdin at once, at most.
const READ_MAX: usize = 256 * 1024;
/// Reads from stdin in one pass of the loop, at most.
const READS_PER_PASS: usize = 16;
/// The stack's staging area: what one call can stage, a send buffer's
/// worth of full frames with their headers, and more.
const STAGING: usize = 2 * BUF;
/// The longest sleep on the socket.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Runs the client as `cli` says; the exit status on success.
pub fn run(cli: &ClientCli) -> Result<ExitCode, Failure> {
    sys::init_time_zone();
    let remote = SocketAddr::new(cli.host, cli.port);
    check_families(cli)?;
    // `--tun`: the device first (its MTU is read below), and the kernel's
    // route to our address (removed on exit).
    let tun = match &cli.tun {
        Some(name) => Some(crate::server::tun_with_route(name, &[cli.ip])?),
        None => None,
    };
    let iface = own_interface(cli)?;
    let local_port = match cli.local_port {
        Some(p) => p,
        None => random_port()?,
    };
    let (mut sock, _route) = match tun {
        Some((dev, route)) => (Link::Tun(dev), Some(route)),
        None => (open_socket(&iface, cli.ip, local_port)?, None),
    };
    // An IPv6 address of our own on a link: duplicate address detection
    // first, as the server does (RFC 4862 §5.4).
    if cli.tun.is_none() {
        crate::server::detect_duplicate_address(
            std::slice::from_mut(&mut sock),
            endpoint_config(cli, &iface),
            &iface.name,
        )?;
    }
    let shared = Shared::new(open_pcap(cli.pcap.as_deref())?);
    let mut owned = OwnedStackStorage::new(1, BUF, BUF, STAGING)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let stack = Stack::new(endpoint_config(cli, &iface), owned.storage(), random_key()?)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    sys::install_signal_handlers()
        .map_err(|e| Failure::Runtime(format!("installing signal handlers: {}", e.desc())))?;

    let mut trace = Trace::with(
        "tcp-client",
        (cli.debug, cli.verbose, cli.color.enabled()),
        shared.pcap_sink(),
    );
    trace.ip_medium = sock.is_ip();
    let tuple = FourTuple {
        local_addr: cli.ip,
        local_port,
        remote_addr: remote.ip(),
        remote_port: remote.port(),
    };
    let mut d = Driver::new(stack, trace, tuple);
    if cli.debug || cli.verbose {
        let how = if sock.is_ip() {
            "TUN device: bare IP packets, no ARP".to_string()
        } else {
            format!(
                "own address, answering {} as {}",
                if cli.ip.is_ipv6() {
                    "neighbor solicitations"
                } else {
                    "ARP"
                },
                EthernetAddress(iface.mac)
            )
        };
        // IPv6: 20 bytes more of IP header (the endpoint advertises less).
        let mss = mss_for(&iface) - if cli.ip.is_ipv6() { 20 } else { 0 };
        d.trace.note(&format!(
            "connecting to {remote} from {} on {} ({how}), MSS {mss}",
            SocketAddr::new(cli.ip, local_port),
            iface.name,
        ));
    }
    let start = std::time::Instant::now();
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let failed_before = *d.stack.endpoint().stats();
    let id = d
        .stack
        .connect(local_port, remote, clock())
        .map_err(|e| Failure::Runtime(format!("cannot connect to {remote}: {e}")))?;
    d.settle(id, clock());
    let mut session = Session {
        id,
        remote,
        input: Input::default(),
        failed_before,
    };
    let result = session.run(&mut d, &mut sock, &clock);
    let sent = shut_down(&mut d, id, &mut sock, clock());
    if cli.debug || cli.verbose {
        d.trace.note(&format!(
            "{} bytes sent, {} received in {:.3} s",
            session.input.sent,
            d.stack.endpoint().stats().bytes_delivered,
            start.elapsed().as_secs_f64()
        ));
        d.trace.flush();
    }
    result?;
    sent?;
    output_errors(&shared, &mut d)?;
    Ok(ExitCode::SUCCESS)
}

/// HOST and `--ip` of one family; an IPv6 HOST on the interface's link
/// (no `--gateway`) or behind `--tun`.
fn check_families(cli: &ClientCli) -> Result<(), Failure> {
    if cli.host.is_ipv6() != cli.ip.is_ipv6() {
        return Err(Failure::Usage(format!(
            "HOST {} and --ip {} are not of one family: both IPv4 or both IPv6",
            cli.host, cli.ip
        )));
    }
    if cli.ip.is_ipv6() && cli.gateway.is_some() {
        return Err(Failure::Usage(
            "--gateway is an IPv4 router: an IPv6 HOST must be on the link".into(),
        ));
    }
    Ok(())
}

/// The interface to use, after checking the addresses: HOST is another
/// host, and our own address (`--ip`) is not one the kernel already owns.
fn own_interface(cli: &ClientCli) -> Result<Interface, Failure> {
    if cli.host == cli.ip {
        return Err(Failure::Usage(format!(
            "HOST {} is our own address (--ip): connect to another host",
            cli.host
        )));
    }
    let name = cli
        .tun
        .as_deref()
        .or(cli.iface.as_deref())
        .unwrap_or_default();
    let iface = Interface::by_name(name)?;
    match cli.ip {
        IpAddr::V4(ip) if iface.owns_address(ip) => {
            return Err(rawnet::Error::AddressInUse {
                addr: ip,
                iface: iface.name.clone(),
            }
            .into());
        }
        IpAddr::V6(ip) if iface.owns_address6(ip) => {
            return Err(Failure::Runtime(format!(
                "{ip} is the kernel's own address in this namespace, so the kernel would reset our connection: use an unassigned address (we answer neighbor solicitations for it)"
            )));
        }
        _ => {}
    }
    Ok(iface)
}

/// The raw socket, filtered to our address and port, and ARP (IPv4) or
/// ICMPv6 (neighbor discovery, IPv6).
fn open_socket(iface: &Interface, ip: IpAddr, local_port: u16) -> Result<Link, Failure> {
    let (ipv4, ipv6) = split(ip);
    let sock_cfg = SocketConfig {
        filter: Some(Filter {
            ipv4,
            tcp_port: local_port,
            all_ports: false,
            arp: ip.is_ipv4(),
            ipv6,
        }),
        ..SocketConfig::default()
    };
    Ok(Link::Raw(RawSocket::open(iface, &sock_cfg)?))
}

/// The end of a run, also after an error: a connection still open is
/// reset, not left; what is queued goes out and stdout is flushed.
fn shut_down(
    d: &mut Driver<'_, '_>,
    id: ConnId,
    sock: &mut Link,
    now: Instant,
) -> Result<(), Failure> {
    if d.stack.state(id).is_some_and(|s| s != StateName::TimeWait) {
        d.trace.event_ts = SystemTime::now();
        d.stack.abort(id, now);
        d.settle(id, now);
    }
    let sent = d.send(sock);
    d.flush();
    sent
}

/// The errors of the outputs, the pcap file first, then stdout.
fn output_errors(shared: &Shared, d: &mut Driver<'_, '_>) -> Result<(), Failure> {
    if let Some(e) = shared.pcap().and_then(|mut p| p.error.take()) {
        return Err(Failure::Runtime(format!("writing the pcap file: {e}")));
    }
    if let Some(e) = d.out_error.take() {
        return Err(Failure::Runtime(format!(
            "writing the payload to stdout: {e}"
        )));
    }
    Ok(())
}

/// Our IPv4 address (0.0.0.0 with an IPv6 `--ip`: the socket filter then
/// passes no IPv4 or ARP) and our IPv6 address, if any.
fn split(ip: IpAddr) -> (Ipv4Addr, Option<std::net::Ipv6Addr>) {
    match ip {
        IpAddr::V4(a) => (a, None),
        IpAddr::V6(a) => (Ipv4Addr::UNSPECIFIED, Some(a)),
    }
}

/// A random port from the dynamic range, 49152 to 65535 (RFC 6335).
fn random_port() -> Result<u16, Failure> {
    let k = random_key()?;
    Ok(49152 + u16::from_le_bytes([k[0], k[1]]) % 16384)
}

/// The endpoint of one active open: our address (ARP answered), no
/// listener, other segments to our port reset.
fn endpoint_config(cli: &ClientCli, iface: &Interface) -> EndpointConfig {
    EndpointConfig {
        // `--tun`: bare IP packets, no ARP.
        medium: if cli.tun.is_some() {
            tcpcore::Medium::Ip
        } else {
            tcpcore::Medium::Ethernet
        },
        mac: EthernetAddress(iface.mac),
        addr: split(cli.ip).0,
        addr6: split(cli.ip).1,
        // No listener: the client accepts nothing.
        port: 0,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 1,
        gateway: cli.gateway,
        prefix_len: prefix_len(split(cli.ip).0, iface),
        conn: Config {
            mss: mss_for(iface),
            // stdin may still have data after the peer's FIN: we close
            // when it ends, not when the peer does.
            close_on_peer_fin: false,
            idle_timeout: tcpcore::Duration::ZERO,
            // As the server: Linux with the fq qdisc (`pace.rs`); the
            // loop's waits are to the microsecond (`wait_both`,
            // `recv_batch`), as the pacing timer needs.
            pacing: !cli.no_pacing,
            ..Config::default()
        },
    }
}

/// Our subnet's prefix length, for telling on-link hosts from those behind
/// `--gateway`: that of the interface's subnet that holds our address, or
/// 32 (every other host is behind the gateway) when none does.
fn prefix_len(own: Ipv4Addr, iface: &Interface) -> u8 {
    iface
        .ipv4_all
        .iter()
        .find(|&&(a, len)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(own) & mask
        })
        .map_or(32, |&(_, len)| len)
}

/// stdin, as far as it went out.
#[derive(Default)]
struct Input {
    /// Read but not yet taken by the send buffer.
    pending: Vec<u8>,
    /// What a read fills.
    buf: Vec<u8>,
    /// stdin ended.
    eof: bool,
    /// Our FIN is queued (after the last byte of stdin).
    fin: bool,
    /// Bytes read from stdin.
    sent: u64,
}

impl Input {
    /// Whether the loop should wake for stdin.
    fn wants_stdin(&self) -> bool {
        !self.eof && self.pending.is_empty()
    }

    /// Moves what stdin has ready into connection `id`'s send buffer, as far
    /// as it has room; queues our FIN after the end of stdin.
    fn pump(&mut self, d: &mut Driver<'_, '_>, id: ConnId, now: Instant) -> Result<(), Failure> {
        for _ in 0..READS_PER_PASS {
            if !self.pending.is_empty() {
                // Refused (full, or the connection closing): tried again
                // on a later pass, or the end comes by the connection.
                let n = d.stack.send(id, &self.pending, now).unwrap_or(0);
                d.settle(id, now);
                self.pending.drain(..n);
                if !self.pending.is_empty() {
                    return Ok(());
                }
            }
            if self.eof {
                if !self.fin {
                    self.fin = true;
                    d.stack.close(id, now);
                    d.settle(id, now);
                }
                return Ok(());
            }
            let room = d.stack.endpoint().send_room(id).min(READ_MAX);
            if room == 0 || !stdin_ready(Duration::ZERO) {
                return Ok(());
            }
            self.buf.resize(room, 0);
            let n = match nix::unistd::read(std::io::stdin().as_raw_fd(), &mut self.buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(Failure::Runtime(format!("reading stdin: {}", e.desc()))),
            };
            if n == 0 {
                self.eof = true;
                continue;
            }
            self.sent += n as u64;
            self.pending.extend_from_slice(&self.buf[..n]);
        }
        Ok(())
    }
}

/// Whether stdin has something to read (or its end) within `wait`.
fn stdin_ready(wait: Duration) -> bool {
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    matches!(ppoll(&mut fds, Some(poll_timeout(wait)), None), Ok(n) if n > 0)
}

/// `wait` for `ppoll`, to the microsecond (a pacing timer is due in
/// microseconds; `poll`'s whole milliseconds would stretch it).
fn poll_timeout(wait: Duration) -> TimeSpec {
    TimeSpec::from_duration(wait)
}

/// Sleeps until the socket or stdin has something, at most `wait`.
fn wait_both(sock: &Link, wait: Duration) {
    let stdin = std::io::stdin();
    let mut fds = [
        PollFd::new(sock.as_fd(), PollFlags::POLLIN),
        PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
    ];
    // EINTR (a signal) and errors end the wait; the loop looks again.
    let _ = ppoll(&mut fds, Some(poll_timeout(wait)), None);
}

/// The one connection, from the connect to its end.
struct Session {
    id: ConnId,
    remote: SocketAddr,
    input: Input,
    /// The endpoint's counters before the connect (to tell how a
    /// handshake failed).
    failed_before: tcpcore::Stats,
}

impl Session {
    /// Runs until both sides have closed (`Ok`), or the connection failed
    /// or a signal came (`Err`, with the line to print).
    fn run(
        &mut self,
        d: &mut Driver<'_, '_>,
        sock: &mut Link,
        clock: &impl Fn() -> Instant,
    ) -> Result<(), Failure> {
        let id = self.id;
        loop {
            let now = clock();
            if sys::signals() > 0 {
                return Err(Failure::Runtime(format!(
                    "interrupted: connection to {} reset",
                    self.remote
                )));
            }
            if d.stack.poll_timeout().is_some_and(|w| w <= now) {
                d.trace.event_ts = SystemTime::now();
                d.stack.handle_timeout(now);
                d.settle(id, now);
            }
            if d.established {
                d.trace.event_ts = SystemTime::now();
                self.input.pump(d, id, now)?;
            }
            d.send(sock)?;
            if let Some(end) = self.end(d) {
                return end;
            }
            let wait = wait_for(d.stack.endpoint(), None, now, MAX_WAIT);
            let room = d.stack.endpoint().send_room(id) > 0;
            let wait = if d.established && self.input.wants_stdin() && room {
                wait_both(sock, wait);
                Duration::ZERO
            } else {
                wait
            };
            receive(sock, d, id, wait, clock)?;
            d.send(sock)?;
            d.flush();
            if let Some(e) = d.out_error.take() {
                return Err(Failure::Runtime(format!(
                    "writing the payload to stdout: {e}"
                )));
            }
        }
    }

    /// How the session ended, if it did: both sides closed and our FIN
    /// acknowledged (TIME-WAIT, or CLOSED from LAST-ACK), or the line of
    /// the error.
    fn end(&self, d: &Driver<'_, '_>) -> Option<Result<(), Failure>> {
        let remote = self.remote;
        let fail = |msg: String| Some(Err(Failure::Runtime(msg)));
        match d.closed {
            Some(CloseReason::Normal) => return Some(Ok(())),
            Some(CloseReason::Reset) if !d.established => {
                return fail(format!("connection refused by {remote}"))
            }
            Some(CloseReason::Reset) => return fail(format!("connection reset by {remote}")),
            Some(CloseReason::TimedOut) => {
                return fail(format!("connection to {remote} timed out"))
            }
            Some(CloseReason::Aborted) => return fail(format!("connection to {remote} aborted")),
            // RFC 5461: the connection request aborted by an ICMP error,
            // or an established connection timed out with one on record.
            Some(r @ CloseReason::Icmp(_)) if !d.established => {
                return fail(format!("connect to {remote}: {r}"))
            }
            Some(r @ CloseReason::Icmp(_)) => return fail(format!("connection to {remote}: {r}")),
            None => {}
        }
        match d.stack.state(self.id) {
            Some(StateName::TimeWait) => Some(Ok(())),
            Some(_) => None,
            // Gone without a `Closed` event: the handshake failed.
            None => {
                let s = d.stack.endpoint().stats();
                let b = &self.failed_before;
                let more = |r| s.handshakes_failed_by(r) > b.handshakes_failed_by(r);
                if more(CloseReason::Reset) {
                    fail(format!("connection refused by {remote}"))
                } else if more(CloseReason::TimedOut) {
                    fail(format!("connection to {remote} timed out (no answer)"))
                } else {
                    fail(format!("connection to {remote} failed"))
                }
            }
        }
    }
}

/// Waits up to `wait` for a batch of frames and hands each to the stack
/// (traced first), settling connection `id` after each.
fn receive(
    sock: &mut Link,
    d: &mut Driver<'_, '_>,
    id: ConnId,
    wait: Duration,
    clock: &impl Fn() -> Instant,
) -> Result<(), Failure> {
    sock.recv_batch(Some(wait), |frame, meta: &RxMeta| {
        let now = clock();
        let (policy, note) = match meta.csum {
            CsumStatus::Unknown => (ChecksumPolicy::Verify, CsumNote::Plain),
            CsumStatus::Valid => (ChecksumPolicy::Skip, CsumNote::Plain),
            CsumStatus::NotReady => (ChecksumPolicy::Skip, CsumNote::NotReady),
        };
        d.trace.rx(frame, meta.timestamp, note);
        d.stack.set_tcp_checksum(policy);
        d.stack.handle_frame(now, frame);
        d.settle(id, now);
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The endpoint's connections pace unless `--no-pacing`.
    #[test]
    fn paces_unless_no_pacing() {
        let iface = Interface {
            name: "eth0".into(),
            index: 2,
            mac: [2, 0, 0, 0, 0, 1],
            ipv4: Some((Ipv4Addr::new(198, 18, 0, 20), 24)),
            ipv4_all: vec![(Ipv4Addr::new(198, 18, 0, 20), 24)],
            ipv6_global: Vec::new(),
            mtu: 1500,
            up: true,
            running: true,
            loopback: false,
        };
        let cfg = |extra: &[&str]| {
            let cli = ClientCli::try_parse_from(
                ["tcp-client", "--ip", "198.18.0.20", "-i", "eth0"]
                    .iter()
                    .chain(extra)
                    .chain(&["198.18.0.10", "3000"]),
            )
            .unwrap();
            endpoint_config(&cli, &iface).conn.pacing
        };
        assert!(cfg(&[]));
        assert!(!cfg(&["--no-pacing"]));
    }
}
