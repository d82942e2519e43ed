//! In-memory goodput of tcpcore's send path (issue #16, "Measure it"): a
//! tcpcore endpoint (the client, active open) sends a few MiB to a smoltcp
//! 0.12 listener and to a tcpcore listener over the deterministic
//! simulated link of tcpcore's tests (`tcpcore/tests/sim`): a fixed
//! one-way delay both ways, random loss of the data frames (the ACK path
//! clean), no bandwidth limit (so the windows and the loss recovery are
//! what bound the rate).
//!
//! Printed per receiver and loss rate (medians over the seeds): goodput in
//! simulated time (the file's bytes over the time from the SYN to the last
//! byte read by the receiving application) and in wall time (the same
//! bytes over the CPU time both stacks and the link took), the sender's
//! own count of retransmitted segments, the duplicates that reached the
//! receiver (segments whose every byte had arrived before: spurious
//! retransmissions, counted on the wire for both receivers alike), and the
//! frames the link lost.
//!
//! `cargo bench -p benches --bench goodput` (`make bench-goodput`); under a
//! minute (seconds, in fact). `-- --quick`: one seed, 4 MiB; `--receiver
//! smoltcp|tcpcore` and `--loss 0.001` pick one case (for a profiler).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::Instant as WallInstant;

#[path = "../../tcpcore/tests/sim/mod.rs"]
mod sim;
#[path = "../../tcpcore/tests/smoldev/mod.rs"]
mod smoldev;

use sim::{earliest, Link, LinkParams, Rng, MS, SEC};
use smoldev::{smol, tsval, SimDevice};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use tcpcore::endpoint::OwnedStorage;
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl};
use tcpcore::{AppEvent, CloseReason, ConnId, Endpoint, FourTuple, Instant, Io, SeqNum};

/// Send and receive buffers of every socket (both stacks): 256 KiB.
const BUF: usize = 256 << 10;
/// One-way delay of the link, both ways: 5 ms (an RTT of 10 ms).
const DELAY: u64 = 5 * MS;
/// A run that has not delivered everything by then fails.
const MAX_TIME: u64 = 600 * SEC;
const MAX_STEPS: u64 = 20_000_000;
const LOSS: [f64; 4] = [0.0, 0.001, 0.01, 0.05];

fn at(now: u64) -> Instant {
    Instant::from_micros(now)
}

/// The sending host's I/O (tcpcore, either run).
#[derive(Default)]
struct HostIo {
    out: Vec<Vec<u8>>,
    data: Vec<u8>,
    id: Option<ConnId>,
    closed: Option<CloseReason>,
}

impl Io for HostIo {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.out.push(vec![0; len]);
        self.out.last_mut().map(|v| v.as_mut_slice())
    }

    fn event(&mut self, id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::Established => self.id = Some(id),
            AppEvent::Data(d) => self.data.extend_from_slice(d),
            AppEvent::Closed(r) => self.closed = Some(r),
            AppEvent::PeerClosed | AppEvent::StateChange { .. } => {}
        }
    }
}

/// The data direction seen on the wire: the sender's initial sequence
/// number, and the byte ranges that reached the receiver (merged).
#[derive(Default)]
struct Meter {
    isn: Option<SeqNum>,
    reached: BTreeMap<u64, u64>,
    duplicates: u64,
}

impl Meter {
    /// The payload range of a data frame, as offsets into the stream.
    fn range(&mut self, f: &[u8]) -> Option<(u64, u64)> {
        let Ok(Frame::Tcp { tcp, .. }) = wire::parse_frame(f, ChecksumPolicy::Skip) else {
            return None;
        };
        if tcp.control == TcpControl::Syn && tcp.ack_number.is_none() {
            self.isn = Some(tcp.seq_number);
        }
        let isn = self.isn?;
        if tcp.payload.is_empty() {
            return None;
        }
        let start = u64::from(tcp.seq_number - (isn + 1));
        Some((start, start + tcp.payload.len() as u64))
    }

    /// A frame the sender handed to the link.
    fn sent(&mut self, f: &[u8]) {
        let _ = self.range(f);
    }

    /// A frame the link delivered to the receiver: a duplicate if every
    /// byte of it had come before.
    fn delivered(&mut self, f: &[u8]) {
        let Some((s, e)) = self.range(f) else {
            return;
        };
        let covered = self
            .reached
            .range(..=s)
            .next_back()
            .is_some_and(|(_, &end)| end >= e);
        if covered {
            self.duplicates += 1;
            return;
        }
        // Merge [s, e) with every range it touches.
        let (mut lo, mut hi) = (s, e);
        let touching: Vec<u64> = self
            .reached
            .range(..=e)
            .rev()
            .take_while(|(_, &end)| end >= s)
            .map(|(&start, _)| start)
            .collect();
        for k in touching {
            let end = self.reached.remove(&k).unwrap_or(k);
            lo = lo.min(k);
            hi = hi.max(end);
        }
        self.reached.insert(lo, hi);
    }
}

/// What one run measured.
struct Run {
    /// Simulated microseconds from the SYN to the last byte read.
    sim_us: Option<u64>,
    wall_s: f64,
    retransmits: u64,
    duplicates: u64,
    lost: u64,
    note: Option<String>,
}

fn sender(rng: &mut Rng) -> (Endpoint<'static>, HostIo) {
    let cfg = sim::host_config(sim::CLIENT_MAC, sim::CLIENT_IP, 9);
    let mem = Box::leak(Box::new(OwnedStorage::new(2, BUF, BUF).expect("storage")));
    let mut key = [0u8; 16];
    key.copy_from_slice(&rng.bytes(16));
    let ep = Endpoint::new(cfg, mem.storage(), key).expect("endpoint");
    (ep, HostIo::default())
}

fn links(loss: f64, rng: &mut Rng) -> (Link, Link) {
    let p = |loss| LinkParams {
        delay: DELAY,
        loss,
        ..LinkParams::CLEAN
    };
    (
        Link::new(p(loss), rng.next_u64()),
        Link::new(p(0.0), rng.next_u64()),
    )
}

/// tcpcore -> smoltcp: `len` bytes, until smoltcp's application read them.
fn run_smoltcp(seed: u64, loss: f64, len: usize) -> Run {
    let mut rng = Rng::new(seed);
    let data = rng.bytes(len);
    let (mut c2s, mut s2c) = links(loss, &mut rng);
    let (mut ep, mut io) = sender(&mut rng);
    // smoltcp 0.12 does not take the timestamp option's 12 bytes off its
    // segments (RFC 6691): its device gets room for them, as in
    // tcpcore/tests/interop_smoltcp_client.rs.
    let mut dev = SimDevice {
        rx: VecDeque::new(),
        tx: Vec::new(),
        mtu: 1514 + 12,
    };
    let mut icfg = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(
        sim::SERVER_MAC.0,
    )));
    icfg.random_seed = rng.next_u64();
    let mut iface = Interface::new(icfg, &mut dev, smol(0));
    let [a, b, c, d] = sim::SERVER_IP.octets();
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(a, b, c, d), 15))
            .expect("address");
    });
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; BUF]),
        tcp::SocketBuffer::new(vec![0; BUF]),
    );
    socket.set_tsval_generator(Some(tsval));
    socket.listen(sim::SERVER_PORT).expect("listen");
    let mut sockets = SocketSet::new(vec![]);
    let h = sockets.add(socket);
    let mut meter = Meter::default();
    let mut read = 0usize;
    let mut hash_ok = true;
    let remote = SocketAddrV4::new(sim::SERVER_IP, sim::SERVER_PORT);
    let wall = WallInstant::now();
    ep.connect(0, remote, at(0), &mut io).expect("connect");
    let (mut now, mut steps, mut sent) = (0u64, 0u64, 0usize);
    let mut buf = vec![0u8; 64 << 10];
    let note = loop {
        smoldev::set_clock(now);
        while let Some(f) = s2c.recv(now) {
            ep.handle_frame(at(now), &f, ChecksumPolicy::Verify, &mut io);
        }
        if ep.poll_timeout().is_some_and(|t| t.as_micros() <= now) {
            ep.handle_timeout(at(now), &mut io);
        }
        if let (Some(id), None) = (io.id, io.closed) {
            if sent < len {
                sent += ep.send(id, &data[sent..], at(now), &mut io);
            }
        }
        for f in io.out.drain(..) {
            meter.sent(&f);
            c2s.send(now, f);
        }
        while let Some(f) = c2s.recv(now) {
            meter.delivered(&f);
            dev.rx.push_back(f);
        }
        for _ in 0..10_000 {
            iface.poll(smol(now), &mut dev, &mut sockets);
            let s = sockets.get_mut::<tcp::Socket>(h);
            while s.can_recv() {
                let n = s.recv_slice(&mut buf).expect("recv");
                if n == 0 {
                    break;
                }
                hash_ok &= data.get(read..read + n) == Some(&buf[..n]);
                read += n;
            }
            // smoltcp sends one segment per socket per poll: poll again
            // while it wants to send now.
            match iface.poll_at(smol(now), &sockets) {
                Some(t) if t <= smol(now) => {}
                _ => break,
            }
        }
        for f in dev.tx.drain(..) {
            s2c.send(now, f);
        }
        if read >= len {
            break (!hash_ok).then(|| "bytes differ".to_string());
        }
        steps += 1;
        let server_at = iface
            .poll_at(smol(now), &sockets)
            .map(|t| (t.total_micros().max(0) as u64).max(now + 1));
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            ep.poll_timeout().map(|t| t.as_micros()),
            server_at,
        ]);
        let Some(next) = next else {
            break Some(format!("stuck at {now} us, {read} of {len} read"));
        };
        now = now.max(next);
        if now > MAX_TIME || steps > MAX_STEPS {
            break Some(format!(
                "not done after {} s, {read} of {len} read",
                now / SEC
            ));
        }
    };
    Run {
        sim_us: note.is_none().then_some(now),
        wall_s: wall.elapsed().as_secs_f64(),
        retransmits: ep.stats().retransmits,
        duplicates: meter.duplicates,
        lost: c2s.stats.lost,
        note,
    }
}

/// tcpcore -> tcpcore: `len` bytes, until the receiving application has
/// them.
fn run_tcpcore(seed: u64, loss: f64, len: usize) -> Run {
    let mut rng = Rng::new(seed);
    let data = rng.bytes(len);
    let (mut c2s, mut s2c) = links(loss, &mut rng);
    let (mut ep, mut io) = sender(&mut rng);
    let scfg = sim::host_config(sim::SERVER_MAC, sim::SERVER_IP, sim::SERVER_PORT);
    let smem = Box::leak(Box::new(OwnedStorage::new(2, BUF, BUF).expect("storage")));
    let mut skey = [0u8; 16];
    skey.copy_from_slice(&rng.bytes(16));
    let mut server = Endpoint::new(scfg, smem.storage(), skey).expect("endpoint");
    let mut sio = HostIo::default();
    let mut meter = Meter::default();
    let remote = SocketAddrV4::new(sim::SERVER_IP, sim::SERVER_PORT);
    let wall = WallInstant::now();
    ep.connect(0, remote, at(0), &mut io).expect("connect");
    let (mut now, mut steps, mut sent) = (0u64, 0u64, 0usize);
    let note = loop {
        if let (Some(id), None) = (io.id, io.closed) {
            if sent < len {
                sent += ep.send(id, &data[sent..], at(now), &mut io);
            }
        }
        for f in io.out.drain(..) {
            meter.sent(&f);
            c2s.send(now, f);
        }
        for f in sio.out.drain(..) {
            s2c.send(now, f);
        }
        if sio.data.len() >= len {
            break (sio.data != data).then(|| "bytes differ".to_string());
        }
        steps += 1;
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            ep.poll_timeout().map(|t| t.as_micros()),
            server.poll_timeout().map(|t| t.as_micros()),
        ]);
        let Some(next) = next else {
            break Some(format!(
                "stuck at {now} us, {} of {len} read",
                sio.data.len()
            ));
        };
        now = now.max(next);
        if now > MAX_TIME || steps > MAX_STEPS {
            break Some(format!(
                "not done after {} s, {} of {len} read",
                now / SEC,
                sio.data.len()
            ));
        }
        while let Some(f) = c2s.recv(now) {
            meter.delivered(&f);
            server.handle_frame(at(now), &f, ChecksumPolicy::Verify, &mut sio);
        }
        while let Some(f) = s2c.recv(now) {
            ep.handle_frame(at(now), &f, ChecksumPolicy::Verify, &mut io);
        }
        if ep.poll_timeout().is_some_and(|t| t.as_micros() <= now) {
            ep.handle_timeout(at(now), &mut io);
        }
        if server.poll_timeout().is_some_and(|t| t.as_micros() <= now) {
            server.handle_timeout(at(now), &mut sio);
        }
    };
    Run {
        sim_us: note.is_none().then_some(now),
        wall_s: wall.elapsed().as_secs_f64(),
        retransmits: ep.stats().retransmits,
        duplicates: meter.duplicates,
        lost: c2s.stats.lost,
        note,
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (len, seeds): (usize, &[u64]) = if quick {
        (4 << 20, &[1])
    } else {
        (32 << 20, &[1, 2, 3, 4, 5])
    };
    let t0 = WallInstant::now();
    println!(
        "goodput: tcpcore sender, {} MiB per run, seeds {seeds:?}, one-way delay {} ms both ways (RTT {} ms), loss on the data direction only, buffers {} KiB, no bandwidth limit\n",
        len >> 20,
        DELAY / MS,
        2 * DELAY / MS,
        BUF >> 10
    );
    println!("| receiver | loss | goodput, Mbit/s of simulated time | goodput, MB/s of wall time | retransmitted (sender) | duplicates at the receiver | frames lost |");
    println!("|---|---|---|---|---|---|---|");
    type RunFn = fn(u64, f64, usize) -> Run;
    let receivers: [(&str, RunFn); 2] = [("smoltcp", run_smoltcp), ("tcpcore", run_tcpcore)];
    // For profiling one case: `-- --receiver NAME --loss RATE`.
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let only_receiver = arg("--receiver");
    let only_loss: Option<f64> = arg("--loss").and_then(|l| l.parse().ok());
    for (name, run) in receivers {
        if only_receiver.as_deref().is_some_and(|r| r != name) {
            continue;
        }
        for loss in LOSS {
            if only_loss.is_some_and(|l| l != loss) {
                continue;
            }
            let runs: Vec<Run> = seeds.iter().map(|&s| run(s, loss, len)).collect();
            let ok: Vec<&Run> = runs.iter().filter(|r| r.sim_us.is_some()).collect();
            let fmt = |v: Option<f64>, d: usize| {
                v.map(|x| format!("{x:.d$}"))
                    .unwrap_or_else(|| "fails".into())
            };
            let sim = median(
                ok.iter()
                    .map(|r| len as f64 * 8.0 / (r.sim_us.unwrap_or(1) as f64 / 1e6) / 1e6)
                    .collect(),
            );
            let wall = median(ok.iter().map(|r| len as f64 / r.wall_s / 1e6).collect());
            let med = |f: fn(&Run) -> u64| {
                median(runs.iter().map(|r| f(r) as f64).collect()).unwrap_or(0.0)
            };
            let mut cell = fmt(sim, 1);
            if ok.len() < runs.len() {
                let why = runs.iter().find_map(|r| r.note.clone()).unwrap_or_default();
                cell += &format!(
                    " [{} of {} failed: {why}]",
                    runs.len() - ok.len(),
                    runs.len()
                );
            }
            println!(
                "| {name} | {} % | {cell} | {} | {:.0} | {:.0} | {:.0} |",
                loss * 100.0,
                fmt(wall, 1),
                med(|r| r.retransmits),
                med(|r| r.duplicates),
                med(|r| r.lost),
            );
        }
    }
    println!(
        "\n(medians over the seeds; {:.1} s wall in all)",
        t0.elapsed().as_secs_f64()
    );
}
