//! The endpoint's timers (issue #14 §3: the timer heap that replaced the
//! scan of every slot in `Endpoint::handle_timeout`).
//!
//! Many connections with deadlines of every kind (RFC 9293 §3.8.1 /
//! RFC 6298 retransmission, RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2 delayed
//! ACK, RFC 9293 §3.10.7.4 TIME-WAIT and FIN-WAIT-2, SYN-ACK
//! retransmission, the idle timeout), driven by random segments,
//! application calls and waits, with two invariants checked after every
//! step:
//!
//! - `poll_timeout()` is exactly the earliest deadline of any connection
//!   (its state's `poll_timeout()`, or the last receive time plus the idle
//!   timeout);
//! - after `handle_timeout(now)`, no connection has a deadline at or before
//!   `now`: every timer that was due has run, at the first call after it
//!   fell due, however the connections' deadlines moved before.

mod common;

use std::collections::HashMap;

use common::{client_frame, default_config, storage, Recorder, CLIENT_IP, SERVER_IP, SERVER_PORT};
use proptest::prelude::*;
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl, TcpOptions, TcpRepr};
use tcpcore::{DropReason, Duration, Endpoint, EndpointConfig, FourTuple, Instant, SeqNum};

/// Connection slots; the peers use more ports than that, so the table fills.
const SLOTS: usize = 24;
const PORTS: u16 = 32;

#[derive(Clone, Debug)]
enum Step {
    /// A SYN from port `k`.
    Syn(u16),
    /// An ACK of everything the server sent, with `len` bytes of data.
    Data(u16, u16),
    /// A FIN (with an ACK of everything).
    Fin(u16),
    /// A reset at the right sequence number.
    Rst(u16),
    /// The application sends `n` bytes on port `k`'s connection.
    Send(u16, u16),
    /// The application closes.
    Close(u16),
    /// The application aborts.
    Abort(u16),
    /// Time passes by `us`, then one `handle_timeout`.
    Wait(u32),
    /// One `handle_timeout` at exactly `poll_timeout()` (plus `late` µs),
    /// or just before it (`early`).
    AtDeadline { late: u8, early: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..PORTS).prop_map(Step::Syn),
        4 => (0..PORTS, prop_oneof![Just(0u16), 1u16..100, 1000u16..3000])
            .prop_map(|(k, n)| Step::Data(k, n)),
        1 => (0..PORTS).prop_map(Step::Fin),
        1 => (0..PORTS).prop_map(Step::Rst),
        3 => (0..PORTS, 1u16..5000).prop_map(|(k, n)| Step::Send(k, n)),
        1 => (0..PORTS).prop_map(Step::Close),
        1 => (0..PORTS).prop_map(Step::Abort),
        3 => prop_oneof![0u32..2000, 0u32..300_000, 0u32..5_000_000].prop_map(Step::Wait),
        4 => (any::<u8>(), any::<bool>()).prop_map(|(late, early)| Step::AtDeadline {
            late: late % 4,
            early
        }),
    ]
}

/// What the client side knows of each port's connection.
#[derive(Default, Clone, Copy)]
struct Peer {
    /// Our next sequence number.
    seq: u32,
    /// The end of what the server sent (the ACK we send).
    acked: Option<u32>,
}

struct World {
    ep: Endpoint<'static>,
    rec: Recorder,
    idle: Duration,
    peers: HashMap<u16, Peer>,
    /// When a frame last reached each port's connection.
    last_rx: HashMap<u16, Instant>,
    isn: u32,
}

fn tuple(port: u16) -> FourTuple {
    FourTuple {
        local_addr: SERVER_IP.into(),
        local_port: SERVER_PORT,
        remote_addr: CLIENT_IP.into(),
        remote_port: port,
    }
}

impl World {
    fn new(idle: Duration) -> Self {
        Self::with_slots(idle, SLOTS)
    }

    fn with_slots(idle: Duration, slots: usize) -> Self {
        let mut cfg: EndpointConfig = default_config();
        cfg.conn.idle_timeout = idle;
        cfg.max_half_open = slots;
        World {
            ep: Endpoint::new(cfg, storage(slots), [9; 16]).expect("endpoint"),
            rec: Recorder::default(),
            idle,
            peers: HashMap::new(),
            last_rx: HashMap::new(),
            isn: 1000,
        }
    }

    fn now(&self) -> Instant {
        self.rec.now
    }

    /// Reads what the server sent: the end of each port's sequence space.
    fn drain(&mut self) {
        self.rec.flush();
        while let Some((_, f)) = self.rec.out.pop_front() {
            let Ok(Frame::Tcp { tcp, .. }) = wire::parse_frame(&f, ChecksumPolicy::Skip) else {
                continue;
            };
            if tcp.control == TcpControl::Rst {
                continue;
            }
            let p = self.peers.entry(tcp.dst_port).or_default();
            let end = tcp.seq_number.get().wrapping_add(tcp.segment_len() as u32);
            let newer = p
                .acked
                .is_none_or(|a| SeqNum::new(end).after(SeqNum::new(a)))
                || tcp.control == TcpControl::Syn;
            if newer {
                p.acked = Some(end);
            }
        }
    }

    fn segment(&mut self, port: u16, control: TcpControl, len: u16) {
        let peer = *self.peers.entry(port).or_default();
        let payload = vec![0x5a; len as usize];
        let (seq, ack) = match control {
            TcpControl::Syn => {
                self.isn = self.isn.wrapping_add(100_000);
                (self.isn, None)
            }
            _ => (peer.seq, peer.acked.map(SeqNum::new)),
        };
        let tcp = TcpRepr {
            src_port: port,
            dst_port: SERVER_PORT,
            seq_number: SeqNum::new(seq),
            ack_number: ack,
            control,
            push: len > 0,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 65535,
            options: if control == TcpControl::Syn {
                TcpOptions {
                    mss: Some(1460),
                    ..TcpOptions::default()
                }
            } else {
                TcpOptions::default()
            },
            payload: if control == TcpControl::Syn {
                &[]
            } else {
                &payload
            },
        };
        let next = seq.wrapping_add(tcp.segment_len() as u32);
        let frame = client_frame(&tcp);
        let now = self.now();
        // The idle timer restarts only on a segment the connection takes,
        // or a keepalive probe (SEG.SEQ = RCV.NXT - 1), which is dropped as
        // out of window.
        let drops = |ep: &Endpoint<'_>| ep.stats().drops.iter().sum::<u64>();
        let (drops_before, oow_before) = (
            drops(&self.ep),
            self.ep.stats().dropped(DropReason::OutOfWindow),
        );
        let rcv_nxt = self
            .ep
            .find(&tuple(port))
            .and_then(|id| self.ep.state(id))
            .and_then(|s| s.rcv_nxt());
        self.ep
            .handle_frame(now, &frame, ChecksumPolicy::Verify, &mut self.rec);
        let dropped = drops(&self.ep) != drops_before;
        let keepalive = self.ep.stats().dropped(DropReason::OutOfWindow) != oow_before
            && tcp.payload.len() <= 1
            && rcv_nxt.is_some_and(|n| tcp.seq_number == n - 1u32);
        if self.ep.find(&tuple(port)).is_some() && (!dropped || keepalive) {
            self.last_rx.insert(port, now);
        }
        let p = self.peers.entry(port).or_default();
        if control == TcpControl::Syn {
            p.acked = None;
        }
        if control != TcpControl::Rst {
            p.seq = next;
        }
        self.drain();
    }

    /// The true deadline of every live connection, from the public API.
    fn deadlines(&self) -> Vec<(u16, Instant)> {
        self.ep
            .connections()
            .filter_map(|(id, t, _)| {
                let state = self.ep.state(id).expect("live");
                let idle =
                    (self.idle > Duration::ZERO).then(|| self.last_rx[&t.remote_port] + self.idle);
                let d = match (state.poll_timeout(), idle) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                d.map(|d| (t.remote_port, d))
            })
            .collect()
    }

    fn timeout(&mut self, now: Instant) -> Result<(), TestCaseError> {
        self.rec.now = now;
        self.ep.handle_timeout(now, &mut self.rec);
        self.drain();
        for (port, d) in self.deadlines() {
            prop_assert!(
                d > now,
                "port {}: deadline {:?} still due after handle_timeout({:?})",
                port,
                d,
                now
            );
        }
        Ok(())
    }

    fn run(&mut self, s: &Step) -> Result<(), TestCaseError> {
        let id = |w: &World, k: u16| w.ep.find(&tuple(k));
        match *s {
            Step::Syn(k) => self.segment(k, TcpControl::Syn, 0),
            Step::Data(k, n) => self.segment(k, TcpControl::None, n),
            Step::Fin(k) => self.segment(k, TcpControl::Fin, 0),
            Step::Rst(k) => self.segment(k, TcpControl::Rst, 0),
            Step::Send(k, n) => {
                if let Some(id) = id(self, k) {
                    let now = self.now();
                    self.ep.send(id, &vec![7; n as usize], now, &mut self.rec);
                    self.drain();
                }
            }
            Step::Close(k) => {
                if let Some(id) = id(self, k) {
                    let now = self.now();
                    self.ep.close(id, now, &mut self.rec);
                    self.drain();
                }
            }
            Step::Abort(k) => {
                if let Some(id) = id(self, k) {
                    let now = self.now();
                    self.ep.abort(id, now, &mut self.rec);
                    self.drain();
                }
            }
            Step::Wait(us) => {
                let now = self.now() + Duration::from_micros(u64::from(us));
                self.timeout(now)?;
            }
            Step::AtDeadline { late, early } => {
                if let Some(w) = self.ep.poll_timeout() {
                    let w = w.max(self.now());
                    if early && w > self.now() {
                        // Just before the earliest deadline: nothing is due,
                        // nothing is sent, and nothing changes.
                        let before = self.deadlines();
                        let sent = self.ep.stats().tx_frames;
                        self.rec.now = Instant::from_micros(w.as_micros() - 1);
                        self.ep.handle_timeout(self.rec.now, &mut self.rec);
                        self.drain();
                        prop_assert_eq!(self.ep.stats().tx_frames, sent);
                        prop_assert_eq!(self.deadlines(), before);
                    } else {
                        self.timeout(w + Duration::from_micros(u64::from(late)))?;
                    }
                }
            }
        }
        // poll_timeout is the earliest deadline of any connection.
        let min = self.deadlines().iter().map(|d| d.1).min();
        prop_assert_eq!(self.ep.poll_timeout(), min, "after {:?}", s);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Issue #14 §3 (timer heap): no due timer is ever missed, each runs at
    /// the first `handle_timeout` after it is due (RFC 6298 §5, RFC 9293
    /// §3.8.6.3, RFC 9293 §3.10.7.4 TIME-WAIT), and `poll_timeout` is the
    /// true earliest deadline, among up to 24 connections whose deadlines
    /// move with every segment, send, close, abort and timeout.
    #[test]
    fn no_due_timer_missed(
        idle in prop_oneof![Just(0u64), Just(2), Just(30)],
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let mut w = World::new(Duration::from_secs(idle));
        for s in &steps {
            w.run(s)?;
        }
        // Run everything out: every connection ends (idle timeout or not,
        // retransmissions give up), one deadline at a time.
        for _ in 0..10_000 {
            let Some(d) = w.ep.poll_timeout() else { break };
            w.timeout(d.max(w.now()))?;
            let min = w.deadlines().iter().map(|d| d.1).min();
            prop_assert_eq!(w.ep.poll_timeout(), min);
        }
    }
}

/// Staggered delayed ACKs on many connections (the benchmark's pattern,
/// RFC 9293 §3.8.6.3): each `handle_timeout` at one connection's deadline
/// sends exactly that connection's ACK, and `poll_timeout` then names the
/// next one.
#[test]
fn staggered_delayed_acks_fire_one_by_one() {
    const N: u16 = 200;
    let mut w = World::with_slots(Duration::ZERO, N as usize);
    for k in 0..N {
        w.segment(k, TcpControl::Syn, 0);
        w.segment(k, TcpControl::None, 0);
    }
    assert_eq!(w.ep.len(), N as usize);
    assert_eq!(w.ep.poll_timeout(), None);
    // Quick-ACK mode (Linux tcp_incr_quickack, issue #16): each
    // connection's first 16 data segments are acknowledged at once, so no
    // delayed-ACK timer is armed; the ACKs after them are delayed.
    for k in 0..N {
        for _ in 0..16 {
            w.segment(k, TcpControl::None, 1);
        }
    }
    assert_eq!(w.ep.poll_timeout(), None);
    let start = w.now() + Duration::from_millis(1);
    for k in 0..N {
        // In reverse slot order, 1 µs apart.
        w.rec.now = start + Duration::from_micros(u64::from(k));
        w.segment(N - 1 - k, TcpControl::None, 1);
    }
    let delack = default_config().conn.delayed_ack;
    for k in 0..N {
        let due = start + Duration::from_micros(u64::from(k)) + delack;
        assert_eq!(w.ep.poll_timeout(), Some(due));
        let sent = w.ep.stats().tx_frames;
        w.timeout(due).expect("invariants");
        assert_eq!(w.ep.stats().tx_frames, sent + 1, "one ACK at {due:?}");
    }
    assert_eq!(w.ep.poll_timeout(), None);
}
