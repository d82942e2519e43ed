//! Structure-aware: two [`Stack`]s, a client and a server listening on its
//! configured port, joined by an in-memory link (a queue of frames each way)
//! that the fuzzer controls, driven through the pull API (issue #15). Steps:
//! connect, send, recv, close, abort on either side; time advances; the
//! next frame of either direction delivered, dropped, duplicated or moved
//! back; frames injected into either stack (arbitrary bytes, or a real frame
//! of that direction re-emitted with its flags, sequence or ACK number,
//! window, options or payload changed); the documented call order kept
//! (every `handle_*` and application call followed by draining
//! `poll_transmit` and `poll_event`) or, on the fuzzer's say, broken by
//! skipping drains.
//!
//! After every step: no panic; what each application read is exactly the
//! next part of what its peer's application wrote on that connection (a
//! prefix, in order, never duplicated), unless a frame with forged payload
//! was injected into that side; each connection's events come in a legal
//! order (`Established` once and before `Readable`/`PeerClosed`,
//! `PeerClosed` once, nothing after `Closed`, a connection that saw
//! `Established` and is gone has had its `Closed`); every frame fits
//! 14 + MTU bytes unless it carries a GSO size; after
//! `handle_timeout(now)` for a deadline that came, `poll_timeout` is
//! later than `now`; the counters agree (`staging_full` with the
//! endpoint's `TxNoRoom` drops, frames pulled plus frames waiting with the
//! endpoint's `tx_frames`, no event overwritten while the call order is
//! kept). At the end of an input without injected frames the link is made
//! clean and time runs on: every connection that both sides still hold,
//! and that neither application closed or aborted, must then have
//! delivered every byte both ways.
#![no_main]

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tcpcore::conn::Ecn;
use tcpcore::stack::OwnedStackStorage;
use tcpcore::wire::{self, ChecksumPolicy, EthernetAddress, SackBlocks, TcpControl, Timestamps};
use tcpcore::{
    Config, ConnId, DropReason, Duration, EndpointConfig, Instant, RecvError, SendError, SeqNum,
    Stack, StackEvent, State,
};

/// The link's MTU; each side's MSS is this less 40.
const MTU: usize = 1500;
const SERVER_PORT: u16 = 7;
const CONNS: usize = 4;
/// Real frames of each direction kept for mutation.
const HISTORY: usize = 32;
const MAX_STEPS: usize = 256;

/// Byte `off` of the stream of direction `dir` of connection `k`.
fn pattern(k: usize, dir: usize, off: usize) -> u8 {
    ((off as u64 * 7 + k as u64 * 31 + dir as u64 * 101) % 251) as u8
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

impl Side {
    fn ix(self) -> usize {
        self as usize
    }
}

/// A side's settings.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Knobs {
    close_on_peer_fin: bool,
    nagle: bool,
    sack: bool,
    timestamps: bool,
    window_scale: bool,
    /// Small buffers: windows close, sends block.
    small_buffers: bool,
    /// A staging area for barely one frame: frames are refused.
    small_staging: bool,
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    /// The control (none, SYN, FIN, RST), ACK present, PSH, URG, ECE, CWR,
    /// and CE in the IP header.
    Flags(u8),
    /// The sequence number moved (the payload cut to stay consistent).
    Seq(i32),
    Ack(i32),
    Window(u16),
    NoOptions,
    Mss(Option<u16>),
    WindowScale(Option<u8>),
    SackPermitted(bool),
    SackBlock(i32, u16),
    Timestamps(Option<(u32, u32)>),
    /// The payload cut to this length (and so consistent).
    Payload(u16),
    /// The frame's bytes cut, without fixing the headers.
    Truncate(u16),
    /// One byte xored, without fixing any checksum.
    Flip(u16, u8),
    /// The payload replaced with these bytes (forged data).
    Forge(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// An active open from the client, to the server's listening port or
    /// to a closed one, from an ephemeral port or a fixed one.
    Connect {
        other_port: bool,
        fixed_local: bool,
    },
    Send {
        side: Side,
        conn: u8,
        len: u16,
    },
    Recv {
        side: Side,
        conn: u8,
        max: u16,
    },
    Close {
        side: Side,
        conn: u8,
    },
    Abort {
        side: Side,
        conn: u8,
    },
    /// Time moves on; each side's timers run if due.
    AdvanceTime(u16),
    /// Time jumps to the earliest deadline of either side.
    ToNextTimeout,
    /// `handle_timeout` now, due or not.
    Timeout(Side),
    /// The next `n` frames of direction `from` (sent by that side) arrive.
    Deliver {
        from: Side,
        n: u8,
    },
    DeliverAll,
    DropNext(Side),
    DuplicateNext(Side),
    /// The next frame moves back by `by` places.
    ReorderNext {
        from: Side,
        by: u8,
    },
    /// A frame injected into the side that `from` sends to.
    InjectRaw {
        from: Side,
        bytes: Vec<u8>,
    },
    InjectMutated {
        from: Side,
        which: u8,
        m: Mutation,
    },
    /// Whether the harness drains after each call (the documented order)
    /// or skips it (robustness).
    SkipDrains(bool),
    Drain(Side),
}

#[derive(Arbitrary, Debug)]
struct Input {
    knobs: [Knobs; 2],
    steps: Vec<Step>,
}

/// A connection opened by the client: its streams both ways.
#[derive(Default)]
struct Pair {
    /// Client port (the server's remote port) and server port.
    port: u16,
    dst: u16,
    /// Bytes each direction's sender had taken (index: the sender side).
    sent: [Vec<u8>; 2],
    /// Bytes read of them by the other side.
    read: [usize; 2],
    /// An application closed or aborted it.
    closed_by_app: bool,
    ids: [Option<ConnId>; 2],
}

/// What one side's application saw of a connection.
#[derive(Default, Clone, Copy)]
struct Seen {
    established: bool,
    peer_closed: bool,
    closed: bool,
    pair: Option<usize>,
}

struct Harness<'s> {
    stacks: [Stack<'s>; 2],
    /// `links[s]`: the frames sent by side `s`, oldest first.
    links: [VecDeque<Vec<u8>>; 2],
    history: [VecDeque<Vec<u8>>; 2],
    now: Instant,
    pairs: Vec<Pair>,
    seen: [HashMap<ConnId, Seen>; 2],
    /// Each side's connection ids in the order it learnt them.
    ids: [Vec<ConnId>; 2],
    /// Frames pulled by `poll_transmit`, per side.
    pulled: [u64; 2],
    skip_drains: bool,
    /// The call order was broken at some point.
    misused: bool,
    /// Some frame was injected.
    injected: bool,
    /// A frame with forged payload went into this side: what it reads is
    /// no longer checked.
    tainted: [bool; 2],
}

fn config(last: u8, port: u16, k: &Knobs) -> EndpointConfig {
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: EthernetAddress([2, 0, 0, 0, 0, last]),
        addr: Ipv4Addr::new(10, 0, 0, last),
        addr6: None,
        port,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 8,
        gateway: None,
        prefix_len: 24,
        conn: Config {
            mss: (MTU - 40) as u16,
            close_on_peer_fin: k.close_on_peer_fin,
            nagle: k.nagle,
            sack: k.sack,
            timestamps: k.timestamps,
            window_scale: k.window_scale,
            // RFC 3168: both sides ask for ECN (a Flags mutation may take
            // ECE and CWR off a SYN), so that ECT, CE, ECE and CWR flow.
            ecn: Ecn::On,
            ..Config::default()
        },
    }
}

fn storage(k: &Knobs) -> OwnedStackStorage {
    let buf = if k.small_buffers { 2048 } else { 16384 };
    let staging = if k.small_staging {
        6 + 14 + 120 + MTU
    } else {
        64 * 1024
    };
    OwnedStackStorage::new(CONNS, buf, buf, staging).unwrap()
}

impl Harness<'_> {
    fn other(side: usize) -> usize {
        1 - side
    }

    /// Every staged frame of `side` onto its link; checks each one's size.
    fn drain_tx(&mut self, side: usize) {
        while let Some(t) = self.stacks[side].poll_transmit() {
            assert!(
                t.frame.len() <= 14 + MTU || t.gso_size.is_some(),
                "a {}-byte frame on a {MTU}-byte link",
                t.frame.len()
            );
            self.pulled[side] += 1;
            let f = t.frame.to_vec();
            if self.history[side].len() == HISTORY {
                self.history[side].pop_front();
            }
            self.history[side].push_back(f.clone());
            self.links[side].push_back(f);
        }
    }

    /// Every event of `side`, checked against the connection's past.
    fn drain_events(&mut self, side: usize) {
        while let Some(ev) = self.stacks[side].poll_event() {
            let id = match ev {
                StackEvent::Established(id)
                | StackEvent::Readable(id)
                | StackEvent::PeerClosed(id)
                | StackEvent::Closed(id, _) => id,
            };
            let known = self.seen[side].contains_key(&id);
            let s = self.seen[side].entry(id).or_default();
            assert!(!s.closed, "side {side}: {ev:?} after Closed");
            match ev {
                StackEvent::Established(_) => {
                    assert!(!s.established, "side {side}: Established twice for {id:?}");
                    assert!(
                        side == 0 || !known,
                        "side {side}: Established for an id seen before"
                    );
                    s.established = true;
                }
                StackEvent::Readable(_) => {
                    assert!(s.established, "side {side}: Readable before Established");
                }
                StackEvent::PeerClosed(_) => {
                    assert!(s.established, "side {side}: PeerClosed before Established");
                    assert!(!s.peer_closed, "side {side}: PeerClosed twice");
                    s.peer_closed = true;
                }
                StackEvent::Closed(..) => {
                    s.closed = true;
                    assert!(
                        self.stacks[side].state(id).is_none(),
                        "side {side}: Closed but the connection lives on"
                    );
                }
            }
            if let StackEvent::Established(id) = ev {
                if side == 1 {
                    // Which client connection: the newest one from its port.
                    let port = self.stacks[1]
                        .endpoint()
                        .connections()
                        .find(|c| c.0 == id)
                        .map(|c| (c.1.remote_port, c.1.local_port));
                    if let Some(p) = port.and_then(|(port, dst)| {
                        self.pairs
                            .iter()
                            .rposition(|p| p.port == port && p.dst == dst && p.ids[1].is_none())
                    }) {
                        self.pairs[p].ids[1] = Some(id);
                        if let Some(s) = self.seen[1].get_mut(&id) {
                            s.pair = Some(p);
                        }
                    }
                    self.ids[1].push(id);
                }
            }
        }
    }

    /// The documented output steps after a call on `side` (unless skipped).
    fn after(&mut self, side: usize) {
        if self.skip_drains {
            self.misused = true;
            return;
        }
        self.drain_tx(side);
        self.drain_events(side);
        self.drain_tx(side);
    }

    fn deliver(&mut self, from: usize) {
        if let Some(f) = self.links[from].pop_front() {
            let to = Self::other(from);
            self.stacks[to].handle_frame(self.now, &f);
            self.after(to);
        }
    }

    fn timeout(&mut self, side: usize) {
        let due = self.stacks[side].poll_timeout();
        self.stacks[side].handle_timeout(self.now);
        if let Some(t) = self.stacks[side].poll_timeout() {
            if due.is_some_and(|d| d <= self.now) {
                assert!(
                    t > self.now,
                    "side {side}: poll_timeout {t:?} not after now {:?} after handle_timeout",
                    self.now
                );
            }
        }
        self.after(side);
    }

    fn pick(&self, side: usize, conn: u8) -> Option<ConnId> {
        let ids = &self.ids[side];
        (!ids.is_empty()).then(|| ids[usize::from(conn) % ids.len()])
    }

    fn pair_of(&self, side: usize, id: ConnId) -> Option<usize> {
        self.pairs.iter().position(|p| p.ids[side] == Some(id))
    }

    /// Reads up to `max` bytes of `id` on `side` and checks them.
    fn recv(&mut self, side: usize, id: ConnId, max: usize) -> Result<usize, RecvError> {
        let mut buf = vec![0u8; max];
        let r = self.stacks[side].recv(id, &mut buf, self.now);
        if let Ok(n) = r {
            assert!(n <= max);
            assert!(n > 0 || max == 0, "recv Ok(0) into a {max}-byte buffer");
            let from = Self::other(side);
            if let Some(p) = self.pair_of(side, id) {
                if !self.tainted[side] {
                    let pair = &mut self.pairs[p];
                    let at = pair.read[from];
                    let sent = &pair.sent[from];
                    assert!(
                        at + n <= sent.len(),
                        "side {side} read {} bytes, its peer sent {}",
                        at + n,
                        sent.len()
                    );
                    assert_eq!(
                        &buf[..n],
                        &sent[at..at + n],
                        "side {side} read bytes its peer did not send there"
                    );
                }
                self.pairs[p].read[from] += n;
            }
        }
        if self.stacks[side].state(id).is_none() {
            assert_eq!(r, Err(RecvError::NoConnection));
        }
        r
    }

    fn send(&mut self, side: usize, id: ConnId, len: usize) {
        let p = self.pair_of(side, id);
        let (k, off) = p.map_or((usize::MAX / 1024, 0), |p| {
            (p, self.pairs[p].sent[side].len())
        });
        let data: Vec<u8> = (0..len).map(|i| pattern(k, side, off + i)).collect();
        let r = self.stacks[side].send(id, &data, self.now);
        match r {
            Ok(n) => {
                assert!(n <= len);
                assert!(n > 0 || len == 0, "send took nothing of {len} bytes");
                if let Some(p) = p {
                    self.pairs[p].sent[side].extend_from_slice(&data[..n]);
                }
            }
            Err(SendError::NoConnection) => {
                assert!(self.stacks[side].state(id).is_none())
            }
            Err(_) => {}
        }
        self.after(side);
    }

    /// A frame into the side `from` sends to; `consistent` says whether its
    /// payload (if any) is the stream's at its sequence number.
    fn inject(&mut self, from: usize, frame: &[u8], consistent: bool) {
        let to = Self::other(from);
        self.injected = true;
        if let Ok(wire::Frame::Tcp { tcp, .. }) = wire::parse_frame(frame, ChecksumPolicy::Verify) {
            let syn_data = tcp.control == TcpControl::Syn && !tcp.payload.is_empty();
            if !tcp.payload.is_empty() && (!consistent || syn_data) {
                self.tainted[to] = true;
            }
        }
        self.stacks[to].handle_frame(self.now, frame);
        self.after(to);
    }

    fn mutate(&mut self, from: usize, which: u8, m: Mutation) {
        let hist = &self.history[from];
        if hist.is_empty() {
            return;
        }
        let orig = hist[usize::from(which) % hist.len()].clone();
        let mut raw = None;
        match &m {
            Mutation::Truncate(n) => {
                raw = Some(orig[..usize::from(*n) % (orig.len() + 1)].to_vec())
            }
            Mutation::Flip(at, x) => {
                let mut f = orig.clone();
                let i = usize::from(*at) % f.len();
                f[i] ^= *x;
                raw = Some(f);
            }
            _ => {}
        }
        if let Some(f) = raw {
            return self.inject(from, &f, false);
        }
        let Ok(wire::Frame::Tcp {
            eth,
            mut ip,
            mut tcp,
        }) = wire::parse_frame(&orig, ChecksumPolicy::Verify)
        else {
            return;
        };
        let forged;
        let mut consistent = true;
        match m {
            Mutation::Flags(f) => {
                tcp.control = match f & 3 {
                    0 => TcpControl::None,
                    1 => TcpControl::Syn,
                    2 => TcpControl::Fin,
                    _ => TcpControl::Rst,
                };
                if f & 4 != 0 {
                    tcp.ack_number = match tcp.ack_number {
                        Some(_) => None,
                        None => Some(SeqNum::new(0)),
                    };
                }
                tcp.push = f & 8 != 0;
                tcp.urgent = (f & 16 != 0).then_some(1);
                tcp.ece = f & 32 != 0;
                tcp.cwr = f & 64 != 0;
                if f & 128 != 0 {
                    // A router on the way marks congestion (RFC 3168 §5).
                    ip.ecn = 3;
                }
            }
            Mutation::Seq(d) => {
                tcp.seq_number = SeqNum::new(tcp.seq_number.get().wrapping_add(d as u32));
                // The payload stays the stream's at its new place: cut
                // from the front, or gone.
                tcp.payload = match usize::try_from(d) {
                    Ok(k) if k <= tcp.payload.len() => &tcp.payload[k..],
                    _ => &[],
                };
            }
            Mutation::Ack(d) => {
                let a = tcp.ack_number.map_or(0, |a| a.get());
                tcp.ack_number = Some(SeqNum::new(a.wrapping_add(d as u32)));
            }
            Mutation::Window(w) => tcp.window_len = w,
            Mutation::NoOptions => tcp.options = Default::default(),
            Mutation::Mss(v) => tcp.options.mss = v,
            Mutation::WindowScale(v) => tcp.options.window_scale = v,
            Mutation::SackPermitted(v) => tcp.options.sack_permitted = v,
            Mutation::SackBlock(off, len) => {
                let mut sb = SackBlocks::new();
                let l = tcp
                    .ack_number
                    .map_or(0, |a| a.get())
                    .wrapping_add(off as u32);
                sb.push(SeqNum::new(l), SeqNum::new(l.wrapping_add(u32::from(len))));
                tcp.options.sack_blocks = sb;
            }
            Mutation::Timestamps(ts) => {
                tcp.options.timestamps = ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr })
            }
            Mutation::Payload(n) => {
                tcp.payload = &tcp.payload[..usize::from(n).min(tcp.payload.len())]
            }
            Mutation::Forge(bytes) => {
                forged = bytes;
                tcp.payload = &forged[..forged.len().min(MTU - 100)];
                consistent = false;
            }
            Mutation::Truncate(_) | Mutation::Flip(..) => unreachable!(),
        }
        ip.payload_len = tcp.buffer_len();
        let mut buf = vec![0u8; wire::tcp_frame_len(&tcp)];
        if wire::emit_tcp_frame(&mut buf, &eth, &ip, &tcp).is_ok() {
            self.inject(from, &buf, consistent);
        }
    }

    /// Invariants that hold between any two steps.
    fn check(&self) {
        for side in 0..2 {
            let st = &self.stacks[side];
            // RFC 6298 §5.1: data (or a FIN) in flight always has a
            // retransmission timer running (or the persist timer).
            for (id, _, _) in st.endpoint().connections() {
                let Some(state) = st.endpoint().state(id) else {
                    continue;
                };
                let timers = match state {
                    State::Established(o) | State::FinWait1(o) => Some(o.tcb().timers()),
                    State::CloseWait(h) | State::Closing(h) | State::LastAck(h) => {
                        Some(h.tcb().timers())
                    }
                    _ => None,
                };
                if let Some(t) = timers {
                    assert!(
                        state.snd_una() == state.send_max() || t.rto_deadline().is_some(),
                        "side {side}: {id:?} has data in flight and no retransmission timer: {state:?}"
                    );
                }
            }
            let ep = st.endpoint().stats();
            assert_eq!(
                st.stats().staging_full,
                ep.dropped(DropReason::TxNoRoom),
                "side {side}: staging_full and the endpoint's TxNoRoom drops differ"
            );
            assert_eq!(
                self.pulled[side] + st.transmits_waiting() as u64,
                ep.tx_frames,
                "side {side}: frames pulled and waiting are not the frames sent"
            );
            if !self.misused {
                assert_eq!(
                    st.stats().events_overwritten,
                    0,
                    "side {side}: events overwritten with the call order kept"
                );
                assert_eq!(st.transmits_waiting(), 0, "side {side}: frames left staged");
                assert!(!st.has_events(), "side {side}: events left after draining");
                for (id, s) in &self.seen[side] {
                    if s.established && !s.closed {
                        assert!(
                            st.state(*id).is_some(),
                            "side {side}: {id:?} gone without Closed"
                        );
                    }
                }
            }
            assert!(st.endpoint().len() <= CONNS);
        }
    }

    /// Every live connection read to the end, on both sides.
    fn read_all(&mut self) {
        for side in 0..2 {
            for id in self.ids[side].clone() {
                while let Ok(n) = self.recv(side, id, 4096) {
                    if n == 0 {
                        break;
                    }
                }
                self.after(side);
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let Input { knobs, steps } = input;
    let mut mem = [storage(&knobs[0]), storage(&knobs[1])];
    let [m0, m1] = &mut mem;
    let client = Stack::new(config(1, 9, &knobs[0]), m0.storage(), [1; 16]).unwrap();
    let server = Stack::new(config(2, SERVER_PORT, &knobs[1]), m1.storage(), [2; 16]).unwrap();
    let mut h = Harness {
        stacks: [client, server],
        links: Default::default(),
        history: Default::default(),
        now: Instant::from_millis(1),
        pairs: Vec::new(),
        seen: Default::default(),
        ids: Default::default(),
        pulled: [0; 2],
        skip_drains: false,
        misused: false,
        injected: false,
        tainted: [false; 2],
    };
    for step in steps.into_iter().take(MAX_STEPS) {
        match step {
            Step::Connect {
                other_port,
                fixed_local,
            } => {
                let port = if other_port { 8 } else { SERVER_PORT };
                let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), port);
                let local = if fixed_local { 4000 } else { 0 };
                if let Ok(id) = h.stacks[0].connect(local, remote, h.now) {
                    let lp = h.stacks[0]
                        .endpoint()
                        .connections()
                        .find(|c| c.0 == id)
                        .map(|c| c.1.local_port)
                        .expect("a connection just opened is in the table");
                    assert!(!h.ids[0].contains(&id), "connect returned a used id");
                    h.ids[0].push(id);
                    h.pairs.push(Pair {
                        port: lp,
                        dst: port,
                        ids: [Some(id), None],
                        ..Default::default()
                    });
                    let p = h.pairs.len() - 1;
                    h.seen[0].entry(id).or_default().pair = Some(p);
                }
                h.after(0);
            }
            Step::Send { side, conn, len } => {
                if let Some(id) = h.pick(side.ix(), conn) {
                    h.send(side.ix(), id, usize::from(len) % 20_000);
                }
            }
            Step::Recv { side, conn, max } => {
                if let Some(id) = h.pick(side.ix(), conn) {
                    let _ = h.recv(side.ix(), id, usize::from(max) % 8192);
                    h.after(side.ix());
                }
            }
            Step::Close { side, conn } | Step::Abort { side, conn } => {
                let abort = matches!(step, Step::Abort { .. });
                if let Some(id) = h.pick(side.ix(), conn) {
                    if let Some(p) = h.pair_of(side.ix(), id) {
                        h.pairs[p].closed_by_app = true;
                    }
                    if abort {
                        h.stacks[side.ix()].abort(id, h.now);
                    } else {
                        h.stacks[side.ix()].close(id, h.now);
                    }
                    h.after(side.ix());
                }
            }
            Step::AdvanceTime(ms) => {
                h.now += Duration::from_millis(u64::from(ms));
                for side in 0..2 {
                    if h.stacks[side].poll_timeout().is_some_and(|t| t <= h.now) {
                        h.timeout(side);
                    }
                }
            }
            Step::ToNextTimeout => {
                let next = h.stacks.iter().filter_map(|s| s.poll_timeout()).min();
                if let Some(t) = next {
                    h.now = h.now.max(t);
                    for side in 0..2 {
                        if h.stacks[side].poll_timeout().is_some_and(|t| t <= h.now) {
                            h.timeout(side);
                        }
                    }
                }
            }
            Step::Timeout(side) => h.timeout(side.ix()),
            Step::Deliver { from, n } => {
                for _ in 0..(n % 16).max(1) {
                    h.deliver(from.ix());
                }
            }
            Step::DeliverAll => {
                for _ in 0..64 {
                    if h.links[0].is_empty() && h.links[1].is_empty() {
                        break;
                    }
                    h.deliver(0);
                    h.deliver(1);
                }
            }
            Step::DropNext(from) => {
                h.links[from.ix()].pop_front();
            }
            Step::DuplicateNext(from) => {
                if let Some(f) = h.links[from.ix()].front().cloned() {
                    h.links[from.ix()].push_front(f);
                }
            }
            Step::ReorderNext { from, by } => {
                let l = &mut h.links[from.ix()];
                if let Some(f) = l.pop_front() {
                    let at = usize::from(by).min(l.len());
                    l.insert(at, f);
                }
            }
            Step::InjectRaw { from, bytes } => h.inject(from.ix(), &bytes, false),
            Step::InjectMutated { from, which, m } => h.mutate(from.ix(), which, m),
            Step::SkipDrains(on) => h.skip_drains = on,
            Step::Drain(side) => {
                h.drain_tx(side.ix());
                h.drain_events(side.ix());
                h.drain_tx(side.ix());
            }
        }
        h.check();
    }

    // The end: the call order restored, every frame delivered on a clean
    // link, everything read, time running to each next deadline.
    h.skip_drains = false;
    for side in 0..2 {
        h.drain_tx(side);
        h.drain_events(side);
        h.drain_tx(side);
    }
    if h.injected {
        return;
    }
    let end = h.now + Duration::from_secs(600);
    let mut quiet = false;
    for _ in 0..2000 {
        h.read_all();
        if !(h.links[0].is_empty() && h.links[1].is_empty()) {
            h.deliver(0);
            h.deliver(1);
            continue;
        }
        let next = h.stacks.iter().filter_map(|s| s.poll_timeout()).min();
        match next {
            Some(t) if t <= end => {
                h.now = h.now.max(t);
                for side in 0..2 {
                    if h.stacks[side].poll_timeout().is_some_and(|t| t <= h.now) {
                        h.timeout(side);
                    }
                }
            }
            _ => {
                quiet = true;
                break;
            }
        }
    }
    h.read_all();
    h.check();
    if !quiet {
        return;
    }
    for p in &h.pairs {
        let [Some(c), Some(s)] = p.ids else { continue };
        if p.closed_by_app || h.stacks[0].state(c).is_none() || h.stacks[1].state(s).is_none() {
            continue;
        }
        for from in 0..2 {
            if p.read[from] != p.sent[from].len() {
                let id = if from == 0 { c } else { s };
                eprintln!(
                    "DEBUG sender state: {:#?}",
                    h.stacks[from].endpoint().state(id)
                );
                eprintln!(
                    "DEBUG now {:?} poll {:?} {:?}",
                    h.now,
                    h.stacks[0].poll_timeout(),
                    h.stacks[1].poll_timeout()
                );
            }
            assert_eq!(
                p.read[from],
                p.sent[from].len(),
                "side {from} sent {} bytes on {c:?}/{s:?}, its peer read {} (client {:?}, server {:?})",
                p.sent[from].len(),
                p.read[from],
                h.stacks[0].state(c),
                h.stacks[1].state(s)
            );
        }
    }
});
