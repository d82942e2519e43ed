//! A model TCP client sends a random byte stream to an [`Endpoint`] through a
//! simulated link that loses, duplicates and reorders frames in both
//! directions, on a simulated clock (see `sim/mod.rs`).
//!
//! The client is deliberately simple: a fixed window of outstanding bytes
//! (also bounded by the server's advertised window), go-back-N from the last
//! ACK on timeout, a fast retransmit of the first unacknowledged segment on
//! the third duplicate ACK, SACK blocks (when negotiated) to skip data the
//! server holds, then its FIN; it waits for the server's FIN and ACKs it,
//! again for every retransmission (TIME-WAIT).
//!
//! Checked: the server delivers the client's stream byte for byte, exactly
//! once; both ends end closed (the table empty, one normal close, the client
//! saw the server's FIN); RCV.NXT never goes back and the advertised right
//! edge never moves left; every ACK and SACK block the server sends covers
//! only bytes the client has sent; the run ends within bounds.

mod sim;

use proptest::prelude::*;
use sim::{earliest, Link, LinkParams, Rng, Server, MS, SEC, SERVER_PORT};
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl, TcpOptions, TcpRepr, Timestamps};
use tcpcore::SeqNum;

/// Receive buffer per connection: 64 KiB.
const BUF: usize = 1 << 16;
/// The run fails if it is not over after this much simulated time...
const MAX_TIME: u64 = 600 * SEC;
/// ... or this many steps.
const MAX_STEPS: u64 = 1_000_000;

/// What the model client does.
#[derive(Clone, Copy, Debug)]
struct ClientOpts {
    /// Bytes in the stream.
    len: usize,
    /// Most bytes outstanding at once.
    window: u32,
    /// Segments of random size (1..=MSS) instead of full-sized ones.
    random_sizes: bool,
    sack: bool,
    timestamps: bool,
    /// The window shift offered in the SYN (`None`: no option).
    wscale: Option<u8>,
    /// The client's ISN (`None`: random).
    isn: Option<u32>,
    /// Ignore the server's window (send up to `window` regardless).
    overrun: bool,
    /// The server echoes (RFC 862): the client takes the bytes coming back
    /// (in order; out-of-order ones are dropped and re-ACKed).
    echo: bool,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            len: 100_000,
            window: 32 * 1024,
            random_sizes: false,
            sack: true,
            timestamps: true,
            wscale: Some(7),
            isn: None,
            overrun: false,
            echo: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    SynSent,
    Open,
    /// Both FINs done (TIME-WAIT): only ACKs retransmitted FINs.
    Done,
}

/// The model client. Offsets count stream bytes: offset `o` has sequence
/// number `ISN + 1 + o`, and the FIN is at offset `len`.
struct Client {
    opts: ClientOpts,
    rng: Rng,
    port: u16,
    data: Vec<u8>,
    iss: u32,
    phase: Phase,
    // Negotiated in the handshake.
    sack: bool,
    ts: bool,
    /// Shift to apply to the server's window field.
    peer_shift: u8,
    mss: usize,
    /// Segments carry up to this many times the MSS, as a receiver's GRO
    /// would hand them over (1, or in echo runs 1 to 3 by the seed: the
    /// server echoes larger ones straight from the segment, see
    /// `Endpoint::set_echo`).
    gro: u64,
    // Send state.
    una: u64,
    nxt: u64,
    max_sent: u64,
    /// The right edge of the server's window (highest seen).
    peer_right: Option<SeqNum>,
    dup_acks: u32,
    /// SACKed ranges above `una`, in offsets.
    sacked: Vec<(u64, u64)>,
    // Receive state (the server sends only SYN and FIN).
    rcv_nxt: Option<SeqNum>,
    got_fin: bool,
    /// Bytes echoed back by the server, in order.
    echoed: Vec<u8>,
    ts_recent: u32,
    // Timer.
    rto: u64,
    rto_at: Option<u64>,
    out: Vec<Vec<u8>>,
    retransmits: u64,
    fast_retransmits: u64,
}

const RTO_MIN: u64 = 100 * MS;
const RTO_MAX: u64 = 10 * SEC;

impl Client {
    fn new(opts: ClientOpts, seed: u64) -> Client {
        let mut rng = Rng::new(seed ^ 0x00c1_1e47);
        let data = rng.bytes(opts.len);
        let iss = opts.isn.unwrap_or_else(|| rng.next_u64() as u32);
        let port = 32768 + rng.below(28000) as u16;
        let gro = if opts.echo { 1 + rng.below(3) } else { 1 };
        Client {
            gro,
            opts,
            rng,
            port,
            data,
            iss,
            phase: Phase::SynSent,
            sack: false,
            ts: false,
            peer_shift: 0,
            mss: 536,
            una: 0,
            nxt: 0,
            max_sent: 0,
            peer_right: None,
            dup_acks: 0,
            sacked: Vec::new(),
            rcv_nxt: None,
            got_fin: false,
            echoed: Vec::new(),
            ts_recent: 0,
            rto: RTO_MIN,
            rto_at: None,
            out: Vec::new(),
            retransmits: 0,
            fast_retransmits: 0,
        }
    }

    fn seq(&self, off: u64) -> SeqNum {
        SeqNum::new(self.iss.wrapping_add(1).wrapping_add(off as u32))
    }

    fn off(&self, seq: SeqNum) -> u64 {
        u64::from(seq - self.seq(0))
    }

    /// The FIN's offset plus one: everything is acknowledged at this `una`.
    fn end(&self) -> u64 {
        self.data.len() as u64 + 1
    }

    fn fin_acked(&self) -> bool {
        self.una == self.end()
    }

    fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn timer(&self) -> Option<u64> {
        self.rto_at
    }

    fn tsopt(&self, now: u64) -> Option<Timestamps> {
        self.ts.then(|| Timestamps {
            tsval: (now / MS) as u32 + 7_000,
            tsecr: self.ts_recent,
        })
    }

    fn emit(&mut self, seq: SeqNum, control: TcpControl, options: TcpOptions, payload: &[u8]) {
        let tcp = TcpRepr {
            src_port: self.port,
            dst_port: SERVER_PORT,
            seq_number: seq,
            ack_number: self.rcv_nxt,
            control,
            push: !payload.is_empty(),
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 65535,
            options,
            payload,
        };
        self.out.push(sim::client_frame(&tcp));
    }

    fn send_syn(&mut self, now: u64) {
        let options = TcpOptions {
            mss: Some(1460),
            window_scale: self.opts.wscale,
            sack_permitted: self.opts.sack,
            timestamps: self.opts.timestamps.then_some(Timestamps {
                tsval: (now / MS) as u32 + 7_000,
                tsecr: 0,
            }),
            ..TcpOptions::default()
        };
        self.emit(SeqNum::new(self.iss), TcpControl::Syn, options, &[]);
    }

    fn send_ack(&mut self, now: u64) {
        let options = TcpOptions {
            timestamps: self.tsopt(now),
            ..TcpOptions::default()
        };
        let seq = self.seq(self.nxt);
        self.emit(seq, TcpControl::None, options, &[]);
    }

    /// The segment at `off` of up to `max` bytes (the FIN rides along when
    /// it fits); returns the sequence space it took.
    fn send_segment(&mut self, now: u64, off: u64, max: u64) -> u64 {
        let len = self.data.len() as u64;
        let options = TcpOptions {
            timestamps: self.tsopt(now),
            ..TcpOptions::default()
        };
        let seq = self.seq(off);
        if off >= len {
            self.emit(seq, TcpControl::Fin, options, &[]);
            return 1;
        }
        let n = (len - off).min(max).min(self.mss as u64 * self.gro);
        let fin = off + n == len && max > n;
        let payload = self.data[off as usize..(off + n) as usize].to_vec();
        let control = if fin {
            TcpControl::Fin
        } else {
            TcpControl::None
        };
        self.emit(seq, control, options, &payload);
        n + u64::from(fin)
    }

    /// Sends what the windows allow.
    fn pump(&mut self, now: u64) {
        if self.phase != Phase::Open {
            return;
        }
        let Some(peer_right) = self.peer_right else {
            return;
        };
        while self.nxt < self.end() {
            // Skip what the server is known to hold.
            if let Some(&(_, e)) = self
                .sacked
                .iter()
                .find(|&&(s, e)| s <= self.nxt && self.nxt < e)
            {
                self.nxt = e;
                continue;
            }
            let in_flight = self.nxt - self.una;
            let ours = u64::from(self.opts.window).saturating_sub(in_flight);
            let theirs = if self.opts.overrun {
                u64::MAX
            } else if self.seq(self.nxt).before(peer_right) {
                u64::from(peer_right - self.seq(self.nxt))
            } else {
                0
            };
            let mut room = ours.min(theirs);
            let len = self.data.len() as u64;
            if self.nxt >= len {
                // A bare FIN takes no window.
                room = room.max(1);
            }
            if room == 0 {
                break;
            }
            let mut want = room;
            if self.opts.random_sizes {
                want = want.min(self.rng.range(1, self.mss as u64 * self.gro));
            }
            // Stop at the next SACKed range.
            if let Some(&(s, _)) = self.sacked.iter().find(|&&(s, _)| s > self.nxt) {
                want = want.min(s - self.nxt);
            }
            let took = self.send_segment(now, self.nxt, want);
            if self.nxt < self.max_sent {
                self.retransmits += 1;
            }
            self.nxt += took;
            self.max_sent = self.max_sent.max(self.nxt);
            if self.rto_at.is_none() {
                self.rto_at = Some(now + self.rto);
            }
        }
    }

    fn on_timer(&mut self, now: u64) {
        if self.rto_at.is_none_or(|t| t > now) {
            return;
        }
        self.rto = (self.rto * 2).min(RTO_MAX);
        self.rto_at = Some(now + self.rto);
        match self.phase {
            Phase::SynSent => self.send_syn(now),
            Phase::Open if self.una < self.max_sent => {
                // Go-back-N; RFC 2018 §8: the SACK information is forgotten.
                self.nxt = self.una;
                self.sacked.clear();
                self.dup_acks = 0;
                self.pump(now);
            }
            _ => self.rto_at = None,
        }
    }

    fn on_frame(&mut self, now: u64, frame: &[u8]) {
        let parsed = wire::parse_frame(frame, ChecksumPolicy::Verify)
            .unwrap_or_else(|e| panic!("server sent a bad frame ({e}): {frame:02x?}"));
        let Frame::Tcp { eth, ip, tcp } = parsed else {
            panic!("server sent a frame that is not TCP: {parsed:?}");
        };
        assert_eq!(eth.dst_addr, sim::CLIENT_MAC);
        assert_eq!(ip.dst_addr, sim::CLIENT_IP);
        assert_eq!(tcp.dst_port, self.port);
        assert!(
            self.opts.echo || tcp.payload.is_empty(),
            "the server sent data: {tcp}"
        );
        if tcp.control == TcpControl::Rst {
            assert!(
                self.done(),
                "server reset the connection at {now} us: {tcp}"
            );
            return;
        }
        match self.phase {
            Phase::SynSent => self.on_syn_sent(now, &tcp),
            Phase::Open | Phase::Done => self.on_open(now, &tcp),
        }
    }

    fn on_syn_sent(&mut self, now: u64, tcp: &TcpRepr<'_>) {
        if tcp.control != TcpControl::Syn {
            return;
        }
        let ack = tcp.ack_number.expect("SYN-ACK without ACK");
        assert_eq!(ack, self.seq(0), "SYN-ACK acknowledges {ack}");
        let o = &tcp.options;
        self.sack = self.opts.sack && o.sack_permitted;
        self.ts = self.opts.timestamps && o.timestamps.is_some();
        assert_eq!(self.sack, self.opts.sack, "SACK not negotiated");
        assert_eq!(self.ts, self.opts.timestamps, "timestamps not negotiated");
        assert_eq!(o.window_scale.is_some(), self.opts.wscale.is_some());
        self.peer_shift = match self.opts.wscale {
            Some(_) => o.window_scale.unwrap_or(0),
            None => 0,
        };
        self.mss = usize::from(o.mss.unwrap_or(536).min(1460));
        if let Some(t) = o.timestamps {
            self.ts_recent = t.tsval;
        }
        self.rcv_nxt = Some(tcp.seq_number + 1);
        // The SYN-ACK's window is never scaled.
        self.peer_right = Some(ack + u32::from(tcp.window_len));
        self.phase = Phase::Open;
        self.rto = RTO_MIN;
        self.rto_at = None;
        self.send_ack(now);
        self.pump(now);
    }

    fn on_open(&mut self, now: u64, tcp: &TcpRepr<'_>) {
        if let Some(t) = tcp.options.timestamps {
            if self.ts && (t.tsval.wrapping_sub(self.ts_recent) as i32) >= 0 {
                self.ts_recent = t.tsval;
            }
        }
        if tcp.control == TcpControl::Syn {
            // A retransmitted SYN-ACK: our ACK was lost.
            self.send_ack(now);
            return;
        }
        let ack = tcp.ack_number.expect("segment without ACK");
        let sent = self.seq(self.max_sent);
        assert!(
            ack.before_eq(sent),
            "server acknowledged {ack}, beyond what was sent ({sent})"
        );
        let ack_off = self.off(ack);
        for (i, &(l, r)) in tcp.options.sack_blocks.as_slice().iter().enumerate() {
            assert!(self.sack, "SACK block without SACK negotiated");
            if i == 0 && l.before(r) && r.before_eq(ack) {
                // RFC 2883 §4: a D-SACK block, data received twice (below
                // the ACK); it tells the sender nothing more to skip.
                continue;
            }
            assert!(
                ack.before(l) && l.before(r) && r.before_eq(sent),
                "SACK block {l}-{r} with ACK {ack}, sent up to {sent}"
            );
            let (s, e) = (self.off(l), self.off(r));
            self.sacked.push((s, e));
        }
        self.sacked.sort_unstable();
        let right = ack + (u32::from(tcp.window_len) << self.peer_shift);
        if self.peer_right.is_none_or(|p| right.after(p)) {
            self.peer_right = Some(right);
        }
        if ack_off > self.una {
            self.una = ack_off;
            self.nxt = self.nxt.max(self.una);
            self.dup_acks = 0;
            self.rto = RTO_MIN;
            self.rto_at = (self.una < self.max_sent).then_some(now + self.rto);
            let una = self.una;
            self.sacked.retain(|&(_, e)| e > una);
        } else if ack_off == self.una
            && tcp.control == TcpControl::None
            && tcp.payload.is_empty()
            && self.una < self.max_sent
            && !self.got_fin
        {
            self.dup_acks += 1;
            if self.dup_acks == 3 {
                self.fast_retransmits += 1;
                let max = self
                    .sacked
                    .iter()
                    .find(|&&(s, _)| s > self.una)
                    .map_or(self.mss as u64, |&(s, _)| s - self.una)
                    .min(self.max_sent - self.una);
                self.send_segment(now, self.una, max);
            }
        }
        if !tcp.payload.is_empty() {
            // Echoed data: taken in order only, every segment ACKed.
            let expect = self.rcv_nxt.expect("no RCV.NXT");
            if tcp.seq_number == expect && !self.got_fin {
                self.echoed.extend_from_slice(tcp.payload);
                self.rcv_nxt = Some(expect + tcp.payload.len() as u32);
            }
            if tcp.control != TcpControl::Fin {
                self.send_ack(now);
            }
        }
        if tcp.control == TcpControl::Fin {
            let fin = tcp.seq_number + tcp.payload.len() as u32;
            let expect = self.rcv_nxt.expect("no RCV.NXT");
            if !self.got_fin && fin == expect {
                assert!(self.fin_acked(), "server FIN before ours was acknowledged");
                self.got_fin = true;
                self.rcv_nxt = Some(fin + 1);
            } else if !self.got_fin {
                // Data before the FIN is missing (echo): wait for it.
                assert!(self.opts.echo, "server FIN at {fin}, expected {expect}");
            }
            // Every FIN, retransmitted or not, is acknowledged.
            self.send_ack(now);
        }
        if self.got_fin && self.fin_acked() {
            self.phase = Phase::Done;
            self.rto_at = None;
        }
        self.pump(now);
    }
}

/// What a run did.
#[derive(Debug)]
struct Outcome {
    steps: u64,
    time: u64,
    c2s: sim::LinkStats,
    s2c: sim::LinkStats,
    retransmits: u64,
    fast_retransmits: u64,
    checks: u64,
}

/// Runs one connection to its end and checks everything, with a receive
/// buffer of 64 KiB.
fn run(seed: u64, link: LinkParams, opts: ClientOpts) -> Outcome {
    run_with::<BUF>(seed, link, opts)
}

/// The same with a receive buffer of `N` bytes.
fn run_with<const N: usize>(seed: u64, link: LinkParams, opts: ClientOpts) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut c2s = Link::new(link, rng.next_u64());
    let mut s2c = Link::new(link, rng.next_u64());
    let mut key = [0u8; 16];
    key.copy_from_slice(&rng.bytes(16));
    let mut server = if opts.echo {
        Server::<N>::new_echo(sim::server_config(), 4, key)
    } else {
        Server::<N>::new(sim::server_config(), 4, key)
    };
    let mut client = Client::new(opts, rng.next_u64());
    let mut now = 0u64;
    let mut steps = 0u64;
    client.send_syn(now);
    client.rto_at = Some(now + SEC);
    client.rto = SEC;
    loop {
        for f in client.out.drain(..) {
            sim::trace(now, "C>", &f);
            c2s.send(now, f);
        }
        if client.done() && server.ep.is_empty() {
            break;
        }
        steps += 1;
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            client.timer(),
            server.poll_timeout(),
        ]);
        let Some(next) = next else {
            panic!(
                "stuck at {now} us: nothing scheduled; client {:?} una {} nxt {} fin {}, server {:?}",
                client.phase,
                client.una,
                client.nxt,
                client.got_fin,
                server.ep.connections().collect::<Vec<_>>()
            );
        };
        now = now.max(next);
        assert!(
            now <= MAX_TIME && steps <= MAX_STEPS,
            "not done after {steps} steps, {now} us: client {:?} una {}/{} fin {}, server {:?}, \
             delivered {}",
            client.phase,
            client.una,
            client.end(),
            client.got_fin,
            server.ep.connections().collect::<Vec<_>>(),
            server.io.data.len()
        );
        while let Some(f) = c2s.recv(now) {
            for out in server.handle_frame(now, &f) {
                sim::trace(now, "S>", &out);
                s2c.send(now, out);
            }
        }
        for out in server.handle_timeout(now) {
            sim::trace(now, "S>", &out);
            s2c.send(now, out);
        }
        while let Some(f) = s2c.recv(now) {
            client.on_frame(now, &f);
        }
        client.on_timer(now);
        client.pump(now);
    }
    if opts.echo {
        server.assert_echoed(&client.data, &client.echoed);
    } else {
        server.assert_done(&client.data);
    }
    assert!(client.got_fin, "the client never saw the server's FIN");
    Outcome {
        steps,
        time: now,
        c2s: c2s.stats,
        s2c: s2c.stats,
        retransmits: client.retransmits,
        fast_retransmits: client.fast_retransmits,
        checks: server.checks,
    }
}

#[test]
fn clean_link_delivers_everything() {
    let o = run(1, LinkParams::CLEAN, ClientOpts::default());
    assert_eq!(o.retransmits, 0, "{o:?}");
    assert!(o.checks > 100 && o.steps < 100, "{o:?}");
    assert_eq!(o.c2s.lost + o.s2c.lost, 0);
    // 100 kB over a 2 ms round trip with a 32 KiB window: well under a second.
    assert!(o.time < SEC, "{o:?}");
}

#[test]
fn clean_link_no_options_random_sizes() {
    let opts = ClientOpts {
        len: 50_000,
        random_sizes: true,
        sack: false,
        timestamps: false,
        wscale: None,
        ..ClientOpts::default()
    };
    let o = run(2, LinkParams::CLEAN, opts);
    assert_eq!(o.retransmits, 0, "{o:?}");
}

#[test]
fn empty_stream() {
    let opts = ClientOpts {
        len: 0,
        ..ClientOpts::default()
    };
    run(3, LinkParams::lossy(0.1, 0.05, 0.2), opts);
}

#[test]
fn sequence_numbers_wrap() {
    let opts = ClientOpts {
        len: 200_000,
        isn: Some(u32::MAX - 50_000),
        ..ClientOpts::default()
    };
    run(4, LinkParams::lossy(0.05, 0.02, 0.1), opts);
}

#[test]
fn five_percent_loss() {
    let opts = ClientOpts {
        len: 300_000,
        ..ClientOpts::default()
    };
    let o = run(5, LinkParams::lossy(0.05, 0.0, 0.0), opts);
    assert!(o.c2s.lost > 0 && o.retransmits > 0, "{o:?}");
}

#[test]
fn ten_percent_loss_dup_reorder_both_ways() {
    let opts = ClientOpts {
        len: 300_000,
        window: 60_000,
        random_sizes: true,
        ..ClientOpts::default()
    };
    let o = run(6, LinkParams::lossy(0.10, 0.05, 0.2), opts);
    assert!(o.c2s.lost > 0 && o.s2c.lost > 0, "{o:?}");
    assert!(o.c2s.duplicated > 0 && o.c2s.delayed > 0, "{o:?}");
    assert!(o.fast_retransmits > 0, "{o:?}");
}

#[test]
fn lossy_without_sack_or_timestamps() {
    let opts = ClientOpts {
        len: 200_000,
        sack: false,
        timestamps: false,
        wscale: None,
        ..ClientOpts::default()
    };
    run(7, LinkParams::lossy(0.07, 0.03, 0.15), opts);
}

/// Cases of the property test: 16, or `LOSSY_LINK_CASES` for a longer hunt.
fn cases(default: u32) -> u32 {
    std::env::var("LOSSY_LINK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client that ignores the advertised window: the server trims and drops
/// what lies beyond it, and still delivers every byte once.
#[test]
fn client_overruns_window() {
    let opts = ClientOpts {
        len: 200_000,
        window: 65_535,
        overrun: true,
        ..ClientOpts::default()
    };
    run_with::<8192>(8, LinkParams::lossy(0.03, 0.02, 0.1), opts);
}

/// A receive buffer smaller than a full-sized segment.
#[test]
fn tiny_receive_buffer() {
    let opts = ClientOpts {
        len: 50_000,
        random_sizes: true,
        ..ClientOpts::default()
    };
    run_with::<1024>(9, LinkParams::lossy(0.05, 0.02, 0.2), opts);
}

fn link_params() -> impl Strategy<Value = LinkParams> {
    (0.0..0.10f64, 0.0..0.05f64, 0.0..0.25f64, 1..5_000u64).prop_map(
        |(loss, dup, reorder, reorder_max)| LinkParams {
            reorder_max,
            ..LinkParams::lossy(loss, dup, reorder)
        },
    )
}

fn client_opts() -> impl Strategy<Value = ClientOpts> {
    (
        0..300_000usize,
        1_000..65_536u32,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0..15u8),
        prop::option::of(any::<u32>()),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(len, window, random_sizes, sack, timestamps, wscale, isn, overrun, echo)| {
                ClientOpts {
                    len,
                    window,
                    random_sizes,
                    sack,
                    timestamps,
                    wscale,
                    isn,
                    overrun,
                    echo,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(16),
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_lossy_link_delivers_exactly_once(
        seed in any::<u64>(),
        link in link_params(),
        opts in client_opts(),
        buf in 0..3u8,
    ) {
        match buf {
            0 => run_with::<2048>(seed, link, opts),
            1 => run_with::<16384>(seed, link, opts),
            _ => run_with::<BUF>(seed, link, opts),
        };
    }
}

/// Echo (RFC 862) through the lossy, duplicating, reordering link: the
/// model client gets back exactly its stream; the server's send path
/// recovers every loss.
#[test]
fn lossy_link_echo() {
    for (seed, loss) in [(31, 0.0), (32, 0.05), (33, 0.1)] {
        let opts = ClientOpts {
            echo: true,
            len: 200_000,
            ..ClientOpts::default()
        };
        let o = run(seed, LinkParams::lossy(loss, 0.03, 0.1), opts);
        eprintln!("echo, loss {loss}: {o:?}");
    }
}

/// Echo without SACK and timestamps: NewReno recovery alone.
#[test]
fn lossy_link_echo_no_sack() {
    let opts = ClientOpts {
        echo: true,
        len: 150_000,
        sack: false,
        timestamps: false,
        ..ClientOpts::default()
    };
    let o = run(34, LinkParams::lossy(0.05, 0.02, 0.1), opts);
    eprintln!("{o:?}");
}

/// Found by the property test: echo with duplication and reordering, a
/// client that overruns the window, no window scaling.
#[test]
fn echo_dup_reorder_overrun_regression() {
    let link = LinkParams {
        delay: 1000,
        loss: 0.0,
        dup: 0.03112035245438997,
        reorder: 0.08588932117092374,
        reorder_max: 2251,
    };
    let opts = ClientOpts {
        len: 190210,
        window: 28269,
        random_sizes: true,
        sack: true,
        timestamps: true,
        wscale: None,
        isn: None,
        overrun: true,
        echo: true,
    };
    let o = run_with::<BUF>(28680572053, link, opts);
    eprintln!("{o:?}");
}
