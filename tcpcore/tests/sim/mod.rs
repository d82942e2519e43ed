//! A deterministic simulated link and a server harness, shared by the
//! lossy-link test (a model client written here) and the smoltcp interop
//! test.
//!
//! Time is a `u64` of microseconds, owned by the test's loop: it advances to
//! the next event (a frame's delivery, a client timer, the endpoint's
//! `poll_timeout`) and nothing happens in between. Every random choice comes
//! from a seeded [`Rng`], so a run is reproducible from its seed.
//!
//! [`Server`] wraps an [`Endpoint`] and checks, after every call, the
//! receive-side invariants: RCV.NXT never goes back and the advertised right
//! edge never moves left (both read from the connection's state and from the
//! ACKs on the wire).
//!
//! `SIM_TRACE=1 cargo test --test <name> -- --nocapture <test>` prints every
//! frame handed to the link.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tcpcore::conn::Config;
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl};
use tcpcore::{
    AppEvent, CloseReason, ConnId, Endpoint, EndpointConfig, FourTuple, Instant, Io, SeqNum,
};

#[path = "../common/link.rs"]
mod link;
pub use link::*;

/// One simulated second, in microseconds.
pub const SEC: u64 = 1_000_000;
/// One simulated millisecond, in microseconds.
pub const MS: u64 = 1_000;

/// xorshift64*: small, fast, good enough for a simulation, and seedable.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Spread the seed (splitmix64 step) and never start at zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`0` when `n` is zero).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// How a link mistreats frames. Each direction of a connection has its own
/// [`Link`] with these parameters.
#[derive(Clone, Copy, Debug)]
pub struct LinkParams {
    /// One-way delay, microseconds.
    pub delay: u64,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice (the copy later).
    pub dup: f64,
    /// Probability that a frame is held back by a random extra delay (so
    /// frames sent after it overtake it).
    pub reorder: f64,
    /// The largest extra delay of a held-back frame, microseconds.
    pub reorder_max: u64,
}

impl LinkParams {
    /// 1 ms each way, nothing lost, duplicated or reordered.
    pub const CLEAN: LinkParams = LinkParams {
        delay: MS,
        loss: 0.0,
        dup: 0.0,
        reorder: 0.0,
        reorder_max: 0,
    };

    pub fn lossy(loss: f64, dup: f64, reorder: f64) -> LinkParams {
        LinkParams {
            loss,
            dup,
            reorder,
            reorder_max: 5 * MS,
            ..LinkParams::CLEAN
        }
    }
}

/// What a link did, for the failure messages and for checking that a lossy
/// run did lose frames.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub delayed: u64,
}

/// One direction of a simulated link.
pub struct Link {
    params: LinkParams,
    rng: Rng,
    /// (delivery time, order of sending, frame); the order keeps delivery at
    /// equal times FIFO.
    queue: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    order: u64,
    pub stats: LinkStats,
}

impl Link {
    pub fn new(params: LinkParams, seed: u64) -> Link {
        Link {
            params,
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            order: 0,
            stats: LinkStats::default(),
        }
    }

    fn delivery_time(&mut self, now: u64) -> u64 {
        let mut t = now + self.params.delay;
        if self.params.reorder > 0.0 && self.rng.chance(self.params.reorder) {
            self.stats.delayed += 1;
            t += self.rng.range(1, self.params.reorder_max.max(1));
        }
        t
    }

    /// Hands a frame to the link at `now`.
    pub fn send(&mut self, now: u64, frame: Vec<u8>) {
        self.stats.sent += 1;
        if self.params.loss > 0.0 && self.rng.chance(self.params.loss) {
            self.stats.lost += 1;
            return;
        }
        if self.params.dup > 0.0 && self.rng.chance(self.params.dup) {
            self.stats.duplicated += 1;
            let t = self.delivery_time(now) + self.rng.range(0, MS);
            self.order += 1;
            self.queue.push(Reverse((t, self.order, frame.clone())));
        }
        let t = self.delivery_time(now);
        self.order += 1;
        self.queue.push(Reverse((t, self.order, frame)));
    }

    /// When the next frame arrives.
    pub fn next_delivery(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next frame due at `now`, if any.
    pub fn recv(&mut self, now: u64) -> Option<Vec<u8>> {
        match self.queue.peek() {
            Some(Reverse((t, _, _))) if *t <= now => self.queue.pop().map(|Reverse((_, _, f))| f),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The earliest of some optional times.
pub fn earliest(times: &[Option<u64>]) -> Option<u64> {
    times.iter().flatten().copied().min()
}

/// What the endpoint handed out.
#[derive(Default)]
pub struct ServerIo {
    /// Frames written, in order, not yet taken.
    pub out: Vec<Vec<u8>>,
    /// Every byte delivered, in order.
    pub data: Vec<u8>,
    pub closed: Vec<CloseReason>,
    pub peer_closed: usize,
    pub established: usize,
    /// Connections seen (by their events).
    pub ids: Vec<ConnId>,
    /// Echo server: received bytes are left in the receive buffer and
    /// turned around with `Endpoint::echo` instead of being delivered.
    pub echo: bool,
}

impl Io for ServerIo {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.out.push(vec![0; len]);
        self.out.last_mut().map(|v| &mut v[..])
    }

    fn deliver(&mut self, id: ConnId, tuple: &FourTuple, data: &[u8]) -> usize {
        if self.echo {
            if !self.ids.contains(&id) {
                self.ids.push(id);
            }
            return 0;
        }
        self.event(id, tuple, AppEvent::Data(data));
        data.len()
    }

    fn event(&mut self, id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
        match event {
            AppEvent::Data(d) => self.data.extend_from_slice(d),
            AppEvent::Closed(r) => self.closed.push(r),
            AppEvent::PeerClosed => self.peer_closed += 1,
            AppEvent::Established => self.established += 1,
            AppEvent::StateChange { .. } => {}
        }
    }
}

/// The endpoint's settings for the simulations: own address (answers ARP),
/// close right after the peer's FIN.
pub fn server_config() -> EndpointConfig {
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: SERVER_MAC,
        addr: SERVER_IP,
        addr6: None,
        port: SERVER_PORT,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 16,
        gateway: None,
        prefix_len: 0,
        conn: Config {
            close_on_peer_fin: true,
            ..Config::default()
        },
    }
}

/// Receive-side invariants of one connection, as seen by the server.
#[derive(Default)]
struct Watch {
    /// RCV.NXT and the advertised right edge from `Endpoint::state`.
    rcv_nxt: Option<SeqNum>,
    adv_right: Option<SeqNum>,
    /// From the frames sent: our window shift (learnt from the SYN-ACK),
    /// the highest ACK and right edge sent.
    wire_shift: u8,
    wire_ack: Option<SeqNum>,
    wire_right: Option<SeqNum>,
}

/// An endpoint with its I/O, checking invariants on every call.
pub struct Server<const N: usize> {
    pub ep: Endpoint<'static>,
    pub io: ServerIo,
    watch: Watch,
    /// The connection watched (the first one seen).
    pub id: Option<ConnId>,
    /// Checks done, so that a test can tell they ran.
    pub checks: u64,
}

impl<const N: usize> Server<N> {
    pub fn new(cfg: EndpointConfig, slots: usize, key: [u8; 16]) -> Self {
        // N is the receive buffer per connection; this server sends no data.
        let owned = Box::leak(Box::new(
            tcpcore::OwnedStorage::new(slots, N, 0).expect("storage"),
        ));
        Server {
            ep: Endpoint::new(cfg, owned.storage(), key).expect("endpoint"),
            io: ServerIo::default(),
            watch: Watch::default(),
            id: None,
            checks: 0,
        }
    }

    /// An echo server (RFC 862) with send buffers of `N` bytes.
    pub fn new_echo(cfg: EndpointConfig, slots: usize, key: [u8; 16]) -> Self {
        let owned = Box::leak(Box::new(
            tcpcore::OwnedStorage::new(slots, N, N).expect("storage"),
        ));
        let mut cfg = cfg;
        cfg.conn.nagle = false;
        let mut ep = Endpoint::new(cfg, owned.storage(), key).expect("endpoint");
        // Half the runs (by the key's first bit) echo straight from each
        // segment into the send buffer (`set_echo`), the others only
        // through `Endpoint::echo` after each frame: both must echo the
        // stream as sent.
        ep.set_echo(key[0] & 1 == 1);
        Server {
            ep,
            io: ServerIo {
                echo: true,
                ..ServerIo::default()
            },
            watch: Watch::default(),
            id: None,
            checks: 0,
        }
    }

    /// One frame in; the frames sent in answer out.
    pub fn handle_frame(&mut self, now: u64, frame: &[u8]) -> Vec<Vec<u8>> {
        self.ep.handle_frame(
            Instant::from_micros(now),
            frame,
            ChecksumPolicy::Verify,
            &mut self.io,
        );
        self.pump_echo(now);
        self.after()
    }

    /// Echo mode: turns around what every connection received.
    fn pump_echo(&mut self, now: u64) {
        if !self.io.echo {
            return;
        }
        let ids: Vec<ConnId> = self.ep.connections().map(|(id, _, _)| id).collect();
        for id in ids {
            self.ep.echo(id, Instant::from_micros(now), &mut self.io);
        }
    }

    /// Runs the timers if due; the frames sent out.
    pub fn handle_timeout(&mut self, now: u64) -> Vec<Vec<u8>> {
        if self.poll_timeout().is_some_and(|t| t <= now) {
            self.ep
                .handle_timeout(Instant::from_micros(now), &mut self.io);
        }
        self.pump_echo(now);
        self.after()
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.ep.poll_timeout().map(|t| t.as_micros())
    }

    fn after(&mut self) -> Vec<Vec<u8>> {
        if self.id.is_none() {
            self.id = self.ep.connections().next().map(|(id, _, _)| id);
        }
        if let Some(st) = self.id.and_then(|id| self.ep.state(id)) {
            let w = &mut self.watch;
            if let Some(n) = st.rcv_nxt() {
                if let Some(prev) = w.rcv_nxt {
                    assert!(n.after_eq(prev), "RCV.NXT went back from {prev} to {n}");
                }
                w.rcv_nxt = Some(n);
            }
            if let Some(r) = st.rcv_adv_right() {
                if let Some(prev) = w.adv_right {
                    assert!(
                        r.after_eq(prev),
                        "advertised right edge moved left from {prev} to {r}"
                    );
                }
                w.adv_right = Some(r);
            }
            self.checks += 1;
        }
        let out = std::mem::take(&mut self.io.out);
        for f in &out {
            self.check_wire(f);
        }
        out
    }

    /// The same invariants on the ACKs sent: the ACK number never goes back,
    /// the right edge `SEG.ACK + (SEG.WND << shift)` never moves left by a
    /// whole scale unit.
    fn check_wire(&mut self, f: &[u8]) {
        let Ok(Frame::Tcp { tcp, .. }) = wire::parse_frame(f, ChecksumPolicy::Verify) else {
            return;
        };
        let w = &mut self.watch;
        let (Some(ack), false) = (tcp.ack_number, tcp.control == TcpControl::Rst) else {
            return;
        };
        let right = if tcp.control == TcpControl::Syn {
            w.wire_shift = tcp.options.window_scale.unwrap_or(0);
            ack + u32::from(tcp.window_len)
        } else {
            ack + (u32::from(tcp.window_len) << w.wire_shift)
        };
        if let Some(prev) = w.wire_ack {
            assert!(
                ack.after_eq(prev),
                "ACK sent went back from {prev} to {ack}"
            );
        }
        if let Some(prev) = w.wire_right {
            // RFC 7323 §2.4: with a non-zero shift the edge falls on a
            // 2^shift boundary from SEG.ACK, and may be retracted by less
            // than one unit rather than offer space past the buffer (the
            // receiver still accepts up to the furthest edge).
            let slack = (1u32 << w.wire_shift) - 1;
            assert!(
                (right + slack).after_eq(prev),
                "right edge sent moved left from {prev} to {right} ({tcp})"
            );
        }
        w.wire_ack = Some(ack);
        w.wire_right = Some(match w.wire_right {
            Some(prev) if prev.after(right) => prev,
            _ => right,
        });
        self.checks += 1;
    }

    /// Echo mode: both ends are done, `echoed` (what the client got back)
    /// is exactly `want`, and the connection ended normally.
    pub fn assert_echoed(&self, want: &[u8], echoed: &[u8]) {
        assert!(
            echoed == want,
            "echoed {} bytes of {}; first difference at byte {:?}",
            echoed.len(),
            want.len(),
            echoed.iter().zip(want).position(|(a, b)| a != b)
        );
        let st = self.ep.stats();
        assert_eq!(st.bytes_delivered, want.len() as u64, "bytes moved by echo");
        assert!(
            self.ep.is_empty(),
            "table not empty: {} left",
            self.ep.len()
        );
        assert_eq!(st.closed_by(CloseReason::Normal), 1, "stats: {st:?}");
        assert!(self.checks > 0, "no invariant was checked");
    }

    /// Both ends are done: the table is empty and the one connection ended
    /// normally, having delivered `want` exactly.
    pub fn assert_done(&self, want: &[u8]) {
        assert!(
            self.io.data == want,
            "delivered {} bytes, client sent {}; first difference at byte {:?}",
            self.io.data.len(),
            want.len(),
            self.io.data.iter().zip(want).position(|(a, b)| a != b)
        );
        let st = self.ep.stats();
        assert_eq!(st.bytes_delivered, want.len() as u64, "bytes_delivered");
        assert!(
            self.ep.is_empty(),
            "table not empty: {} left",
            self.ep.len()
        );
        assert_eq!(st.closed_by(CloseReason::Normal), 1, "stats: {st:?}");
        assert_eq!(st.established, 1, "stats: {st:?}");
        assert_eq!(self.io.closed, [CloseReason::Normal]);
        assert_eq!(self.io.peer_closed, 1);
        assert!(self.checks > 0, "no invariant was checked");
    }
}

/// With `SIM_TRACE` set, prints a frame handed to a link (tcpdump-like).
pub fn trace(now: u64, dir: &str, frame: &[u8]) {
    if std::env::var_os("SIM_TRACE").is_none() {
        return;
    }
    match wire::parse_frame(frame, ChecksumPolicy::Skip) {
        Ok(Frame::Tcp { tcp, .. }) => eprintln!("{:>12.6} {dir} {tcp}", now as f64 / 1e6),
        Ok(Frame::Arp { arp, .. }) => eprintln!("{:>12.6} {dir} {arp:?}", now as f64 / 1e6),
        Err(e) => eprintln!(
            "{:>12.6} {dir} unparsable ({e}), {} bytes",
            now as f64 / 1e6,
            frame.len()
        ),
    }
}

/// A hash of `b`, to compare transfers without printing megabytes.
pub fn hash(b: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// One host of a tcpcore pair: [`server_config`] with its own MAC, address
/// and listening port, answering ARP, and closing only when its
/// application does.
/// `cfg` with a FIN-WAIT-2 timeout of 10 minutes: with 20% loss each way
/// the RTO backs off past a minute (3, 6, 12, 24, 48 s), and a side that
/// closed first must not give up in FIN-WAIT-2 (60 s, Linux's
/// tcp_fin_timeout) while the other still retransmits its data.
pub fn patient(mut cfg: EndpointConfig) -> EndpointConfig {
    cfg.conn.fin_wait2_timeout = tcpcore::Duration::from_secs(600);
    cfg
}

pub fn host_config(
    mac: tcpcore::wire::EthernetAddress,
    addr: std::net::Ipv4Addr,
    port: u16,
) -> EndpointConfig {
    let mut cfg = server_config();
    cfg.mac = mac;
    cfg.addr = addr;
    cfg.port = port;
    cfg.answer_arp = true;
    cfg.conn.close_on_peer_fin = false;
    cfg
}
