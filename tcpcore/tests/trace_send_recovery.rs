//! Loss recovery and timers of the send path (issue #14): RTO backoff and
//! Karn's rule (RFC 6298 §5), the persist timer's give-up (RFC 9293
//! §3.8.6.1), SACK recovery (RFC 6675), congestion control (RFC 5681, RFC
//! 3465, RFC 6582), tail loss probes (RFC 8985 §7), and the RTT sample of a
//! SYN-cookie connection (RFC 7323 §4).
//!
//! Where a packet trace is awkward, the tests drive a [`State`] directly
//! through its public API and look at its public fields.

mod common;

#[allow(unused_imports)]
use common::{default_config, no_nagle, run, Harness, CLIENT_PORT};
use tcpcore::conn::{Open, RecvRanges, Reply};
use tcpcore::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr};
use tcpcore::{Buffers, Config, CongestionControl, Instant, RecvBuffer, SeqNum, State};

/// The default configuration with NewReno (RFC 5681, RFC 6582) in place of
/// the default CUBIC, for the tests that assert NewReno's ssthresh and
/// cwnd (FlightSize / 2 on a loss, one SMSS per cwnd acknowledged).
fn newreno() -> Config {
    Config {
        congestion_control: CongestionControl::NewReno,
        ..Config::default()
    }
}

/// Our ISS in the direct tests.
const ISS: u32 = 0;
/// The peer's ISN in the direct tests.
const IRS: u32 = 1000;
/// The peer's MSS in the direct tests (no options on our segments, so it
/// is also SMSS).
const MSS: u32 = 1000;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// One connection driven directly, with its receive buffer.
struct Direct {
    st: State,
    cfg: Config,
    ranges: RecvRanges,
    data: Vec<u8>,
}

impl Direct {
    /// SYN at 0 ms, its ACK at 10 ms (an RTT sample of 10 ms: SRTT 10 ms,
    /// RTO 200 ms, the lower bound). `sack`: SACK is negotiated. The peer's
    /// window is 1 MB (shift 4).
    fn new(cfg: Config, sack: bool) -> Direct {
        let syn = seg(IRS, None, TcpControl::Syn, 65535, |o| {
            o.mss = Some(MSS as u16);
            o.sack_permitted = sack;
            o.window_scale = Some(4);
        });
        let bufs = Buffers {
            rx: 1 << 16,
            tx: 1 << 20,
        };
        let t = State::accept(&syn, SeqNum::new(ISS), 0, ms(0), &cfg, bufs);
        let mut d = Direct {
            st: t.state,
            cfg,
            ranges: RecvRanges::new(),
            data: vec![0; 1 << 16],
        };
        d.ack_at(10, 1, 65535, &[]);
        assert!(matches!(d.st, State::Established(_)), "{:?}", d.st);
        d
    }

    fn open(&self) -> &Open {
        match &self.st {
            State::Established(o) | State::FinWait1(o) => o,
            other => panic!("not open: {other:?}"),
        }
    }

    /// The peer's ACK of our byte `ack` (relative to the ISS), window
    /// `win` (before scaling), SACK blocks relative to the ISS.
    fn ack_at(&mut self, t: u64, ack: u32, win: u16, sack: &[(u32, u32)]) {
        let s = seg(IRS + 1, Some(ack), TcpControl::None, win, |o| {
            let mut b = SackBlocks::new();
            for &(l, r) in sack {
                b.push(SeqNum::new(ISS + l), SeqNum::new(ISS + r));
            }
            o.sack_blocks = b;
        });
        let mut rx = RecvBuffer::new(&mut self.ranges, &mut self.data).unwrap();
        let st = core::mem::replace(&mut self.st, State::Closed(tcpcore::CloseReason::Normal));
        self.st = st.on_segment(&s, ms(t), &self.cfg, &mut rx).state;
    }

    /// Queues `n` bytes to send.
    fn queue(&mut self, n: usize) {
        assert_eq!(self.st.queue(n), n);
    }

    /// Everything the connection sends now: `(seq relative to the ISS, len)`.
    fn send_at(&mut self, t: u64) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        while let Some(r) = self.st.poll_transmit(ms(t), &self.cfg, &self.ranges) {
            let Reply { seq, len, .. } = r;
            out.push((seq.get().wrapping_sub(ISS), len));
            assert!(out.len() < 1000);
        }
        out
    }

    /// Runs the timers due at `t`, then sends.
    fn timeout_at(&mut self, t: u64) -> Vec<(u32, u32)> {
        let rx = RecvBuffer::new(&mut self.ranges, &mut self.data).unwrap();
        let st = core::mem::replace(&mut self.st, State::Closed(tcpcore::CloseReason::Normal));
        self.st = st.on_timeout(ms(t), &self.cfg, &rx).state;
        self.send_at(t)
    }

    /// The RTO deadline, in ms from the start.
    fn rto_deadline(&self) -> Option<u64> {
        self.open()
            .tcb()
            .timers()
            .rto_deadline()
            .map(|d| d.as_millis())
    }
}

fn seg(
    seq: u32,
    ack: Option<u32>,
    control: TcpControl,
    win: u16,
    opts: impl FnOnce(&mut TcpOptions),
) -> TcpRepr<'static> {
    let mut options = TcpOptions::default();
    opts(&mut options);
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq_number: SeqNum::new(seq),
        ack_number: ack.map(|a| SeqNum::new(ISS.wrapping_add(a))),
        control,
        push: false,
        urgent: None,
        ece: false,
        cwr: false,
        window_len: win,
        options,
        payload: &[],
    }
}

/// RFC 6298 §5 and Karn's algorithm (§3): the backed-off RTO is kept until
/// a new RTT sample is taken; an ACK that covers retransmitted data gives
/// no sample and so must not collapse the backoff (Linux
/// `tcp_ack_update_rtt`: "RFC6298: only reset backoff on valid RTT
/// measurement"). Otherwise, once the path's RTT has grown above the RTO,
/// every timeout is spurious and cwnd never leaves one segment. A later
/// valid sample does reset it.
#[test]
fn karn_ack_of_retransmission_keeps_backoff() {
    let mut d = Direct::new(Config::default(), false);
    d.queue(1000);
    assert_eq!(d.send_at(100), vec![(1, 1000)]);
    // Two retransmission timeouts (the RTO doubles: 200, 400, 800 ms);
    // run every timer as it comes (a tail loss probe may come first).
    let mut t = 100;
    while d.open().tcb().rtx().retries() < 2 {
        t = d.st.poll_timeout().unwrap().as_millis();
        d.timeout_at(t);
    }
    // The ACK of the retransmitted segment: no sample (no timestamps).
    d.ack_at(t + 500, 1001, 65535, &[]);
    assert_eq!(
        d.open().tcb().rtx().retries(),
        0,
        "forward progress resets the retry count"
    );
    d.queue(1000);
    let now = t + 600;
    assert_eq!(d.send_at(now), vec![(1001, 1000)]);
    assert_eq!(
        d.rto_deadline(),
        Some(now + 800),
        "the RTO stays backed off (200 ms << 2) without a new RTT sample"
    );
    // A valid sample (the new segment was never retransmitted) resets the
    // backoff: SRTT 7/8 * 10 + 1/8 * 100 ms, RTO 200 ms + 4 RTTVAR.
    d.ack_at(now + 100, 2001, 65535, &[]);
    d.queue(1000);
    assert_eq!(d.send_at(now + 200), vec![(2001, 1000)]);
    let rto = d.open().tcb().rtx().rto().as_millis();
    assert_eq!(d.rto_deadline(), Some(now + 200 + rto));
    assert!(rto < 800, "rto {rto}");
}

/// Handshake with SACK and window scaling (client window 502 << 7).
const HS_SACK: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: a zero-window probe that is
/// never answered counts towards the retry limit, as Linux's
/// `tcp_probe_timer` counts `icsk_probes_out` against `tcp_retries2`: a peer
/// that closed its window and vanished does not hold the slot for ever.
#[test]
fn unanswered_zero_window_probes_give_up() {
    let mut cfg = no_nagle();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.050 < . 1001:1001(0) ack 1 win 0
             0.100 ! app-send 100
             0.300 > . 1:2(1) ack 1001
             0.700 > . 1:2(1) ack 1001
             1.500 > R. 2:2(0) ack 1001
             1.500 ! closed timedout
             1.500 ! state CLOSED"
        ),
    );
}

/// The same in LAST-ACK: the peer sent its FIN with a zero window and
/// vanished; our FIN, retransmitted as a probe, gives up after the retry
/// limit (RFC 9293 §3.8.6.1; Linux `tcp_probe_timer`).
#[test]
fn unanswered_fin_probes_in_last_ack_give_up() {
    let mut cfg = no_nagle();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.050 < F. 1001:1001(0) ack 1 win 0
             0.050 > . 1:1(0) ack 1002
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1002
             0.100 ! state LAST-ACK
             0.300 > F. 1:1(0) ack 1002
             0.700 > F. 1:1(0) ack 1002
             1.500 > R. 2:2(0) ack 1002
             1.500 ! closed timedout
             1.500 ! state CLOSED"
        ),
    );
}

/// Any acceptable ACK from the peer resets the probe count (Linux `tcp_ack`
/// clears `icsk_probes_out`): a peer that answers each probe with a zero
/// window keeps the connection, in LAST-ACK too, past the retry limit.
#[test]
fn answered_fin_probes_in_last_ack_keep_it_alive() {
    let mut cfg = no_nagle();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.050 < F. 1001:1001(0) ack 1 win 0
             0.050 > . 1:1(0) ack 1002
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1002
             0.300 > F. 1:1(0) ack 1002
             0.310 < . 1002:1002(0) ack 1 win 0
             0.700 > F. 1:1(0) ack 1002
             0.710 < . 1002:1002(0) ack 1 win 0
             1.500 > F. 1:1(0) ack 1002
             1.510 < . 1002:1002(0) ack 1 win 0
             3.100 > F. 1:1(0) ack 1002
             3.110 < . 1002:1002(0) ack 2 win 0
             3.110 ! state CLOSED
             3.110 ! closed normal"
        ),
    );
}

/// RFC 6675 §5: in SACK-based recovery `pipe` decides what may be sent; a
/// partial ACK does not deflate cwnd (RFC 6937 PRR sets cwnd on each ACK,
/// here back up to ssthresh by its slow start reduction bound; NewReno's
/// "deflate by the amount acknowledged, add back one SMSS", RFC 6582 §3.2
/// step 5, is not used). Deflating here took cwnd to a couple of segments
/// after the first partial ACK and stopped sending for an RTT.
#[test]
fn sack_recovery_partial_ack_keeps_cwnd() {
    let mut d = Direct::new(newreno(), true);
    d.queue(30_000);
    let sent = d.send_at(100);
    assert_eq!(sent.len(), 10);
    // Segments [1, 1001) and [3001, 4001) are lost; the others are SACKed.
    d.ack_at(110, 1, 65535, &[(1001, 2001)]);
    d.ack_at(111, 1, 65535, &[(1001, 3001)]);
    d.ack_at(112, 1, 65535, &[(4001, 5001), (1001, 3001)]);
    assert_eq!(d.send_at(112), vec![(1, 1000)], "the first hole, at once");
    let cc = d.open().snd().cc();
    // RFC 6937 PRR (Linux tcp_cwnd_reduction), not cwnd = ssthresh on
    // entry: cwnd = pipe + sndcnt = 5000 + 1000 (ceil(1000 * 5000 /
    // 10000) rounded up to one segment, the fast retransmit just sent).
    // RFC 8985 RACK (reo_wnd 0: three segments SACKed, no reordering
    // seen) marks both holes lost, [3001, 4001) too, for it was sent
    // before [4001, 5001): pipe = 10000 - 3000 SACKed - 2000 lost. (RFC
    // 6675's IsLost held the second hole in flight: 6000.)
    assert_eq!((cc.ssthresh(), cc.cwnd()), (5000, 6000));
    d.ack_at(113, 1, 65535, &[(4001, 6001), (1001, 3001)]);
    d.ack_at(114, 1, 65535, &[(4001, 7001), (1001, 3001)]);
    assert_eq!(d.send_at(114), vec![(3001, 1000)], "the second hole");
    // The partial ACK: the first hole repaired; recovery goes on (recover
    // is 10001).
    d.ack_at(120, 3001, 65535, &[(4001, 8001)]);
    let cc = d.open().snd().cc();
    assert!(cc.recover().is_some());
    // PRR's slow start reduction bound (pipe 3000 <= ssthresh): sndcnt =
    // min(ssthresh - pipe, ...) = 2000, so cwnd = 5000, not deflated.
    assert_eq!(
        cc.cwnd(),
        5000,
        "a partial ACK does not deflate cwnd in RFC 6675 recovery"
    );
    // pipe: [3001, 4001) resent, [8001, 10001) in flight: 3000 < cwnd, so
    // two new segments go at once.
    assert_eq!(d.send_at(120), vec![(10001, 1000), (11001, 1000)]);
}

/// Gets a connection without SACK into congestion avoidance with cwnd =
/// ssthresh = 6000 and six segments in flight, [12001, 18001): ten
/// segments out, the first lost; two more by Limited Transmit (RFC 3042);
/// NewReno recovery (RFC 6582) from the third duplicate ACK (recover =
/// 12001), five more segments as RFC 6937 PRR allows; the full ACK at 130
/// ms (cwnd = ssthresh), and one more segment.
fn in_congestion_avoidance() -> Direct {
    let mut d = Direct::new(newreno(), false);
    d.queue(100_000);
    assert_eq!(d.send_at(100).len(), 10);
    for k in 0..11 {
        d.ack_at(110 + k, 1, 65535, &[]);
        d.send_at(110 + k);
    }
    let cc = d.open().snd().cc();
    assert_eq!(cc.ssthresh(), 6000);
    d.ack_at(130, 12_001, 65535, &[]);
    assert_eq!(d.send_at(130), vec![(17_001, 1000)]);
    let o = d.open();
    assert!(o.snd().cc().recover().is_none());
    assert_eq!((o.snd().cc().cwnd(), o.snd().cc().ssthresh()), (6000, 6000));
    assert_eq!(o.snd().max().get().wrapping_sub(ISS), 18_001);
    d
}

/// RFC 5681 §3.1 with RFC 3465 §2.1 (appropriate byte counting):
/// congestion avoidance grows cwnd by one SMSS once a whole cwnd of bytes
/// has been acknowledged, however many ACKs that took (Linux
/// `tcp_cong_avoid_ai` with `snd_cwnd_cnt`). Counting per ACK
/// (`SMSS * SMSS / cwnd` each) grows cwnd six times slower here, where one
/// stretch ACK covers the window, and twenty times slower with a peer that
/// acknowledges every twentieth segment.
#[test]
fn congestion_avoidance_counts_bytes_acked() {
    let mut d = in_congestion_avoidance();
    // One ACK for the whole window.
    d.ack_at(150, 18_001, 65535, &[]);
    assert_eq!(
        d.open().snd().cc().cwnd(),
        7000,
        "one SMSS per cwnd of bytes acked"
    );
    // The next window, acknowledged one segment at a time: cwnd grows by
    // one SMSS after 7000 bytes, not before.
    assert_eq!(d.send_at(150).len(), 7);
    for k in 1..=6 {
        d.ack_at(160 + k, 18_001 + 1000 * k as u32, 65535, &[]);
        assert_eq!(d.open().snd().cc().cwnd(), 7000, "after {k} segments");
    }
    d.ack_at(167, 25_001, 65535, &[]);
    assert_eq!(d.open().snd().cc().cwnd(), 8000);
}

/// RFC 6582 §4 (and RFC 6675 §5.1): "After a retransmission timeout,
/// record the highest sequence number transmitted in the variable
/// recover"; duplicate ACKs then start a fast retransmit only once the
/// cumulative ACK covers more than `recover` (§3.2 step 2). Duplicate ACKs
/// for data sent before the timeout (here: the original segments arriving
/// late) must not halve ssthresh again and start a spurious recovery.
#[test]
fn rto_sets_recover_to_highest_sent() {
    let mut d = Direct::new(newreno(), false);
    d.queue(10_000);
    assert_eq!(d.send_at(100).len(), 10);
    let mut t = 100;
    while d.open().tcb().rtx().retries() < 1 {
        t = d.st.poll_timeout().unwrap().as_millis();
        d.timeout_at(t);
    }
    let ssthresh = d.open().snd().cc().ssthresh();
    assert_eq!(ssthresh, 5000);
    // Go-back-N from SND.UNA, one segment (cwnd = 1 SMSS), sent by the
    // timeout above. Three duplicate ACKs from segments sent before it:
    for k in 1..=3 {
        d.ack_at(t + k, 1, 65535, &[]);
        assert_eq!(d.send_at(t + k), vec![], "no fast retransmit");
    }
    let cc = d.open().snd().cc();
    assert!(cc.recover().is_none(), "no fast recovery: {cc:?}");
    assert_eq!(cc.ssthresh(), ssthresh);
    // Once SND.UNA passes the old SND.MAX, fast retransmit works again.
    d.ack_at(t + 10, 10_001, 65535, &[]);
    d.queue(10_000);
    let sent = d.send_at(t + 10);
    assert!(!sent.is_empty());
    for k in 11..=13 {
        d.ack_at(t + k, 10_001, 65535, &[]);
    }
    assert!(d.open().snd().cc().recover().is_some());
    assert_eq!(d.send_at(t + 13).first(), Some(&(10_001, 1000)));
}

/// RFC 8985 §7.3: "the sender MUST re-arm the RTO timer, not the PTO
/// timer" after sending the loss probe while data is in flight (Linux
/// `tcp_send_loss_probe` calls `tcp_rearm_rto`): the probe gets a whole RTO
/// to be answered. Here the probe goes 2 SRTT + 2 ms (22 ms, Linux's
/// tcp_schedule_loss_probe) after the last ACK; neither it nor anything
/// else is answered, so the RTO fires 200 ms after the probe (0.332), not
/// 200 ms after the ACK (0.310).
#[test]
fn tail_loss_probe_rearms_rto() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 7300
             0.100 > . 1:1461(1460) ack 1001
             0.100 > . 1461:2921(1460) ack 1001
             0.100 > . 2921:4381(1460) ack 1001
             0.100 > . 4381:5841(1460) ack 1001
             0.100 > P. 5841:7301(1460) ack 1001
             0.110 < . 1001:1001(0) ack 4381 win 502
             0.132 > P. 5841:7301(1460) ack 1001
             0.332 > . 4381:5841(1460) ack 1001"
        ),
    );
}

/// RFC 8985 §7.2: with one segment in flight the PTO is 2 SRTT plus
/// TLP.max_ack_delay ("implementation specific"; Linux adds `TCP_RTO_MIN`,
/// 200 ms), so that a delayed ACK is not taken for a loss; and the PTO is
/// never later than the RTO: "If Now() + PTO >
/// TCP_RTO_expiration(): PTO = TCP_RTO_expiration() - Now()". Here 20 ms +
/// 200 ms is beyond the RTO (200 ms), so the probe goes at the RTO's time
/// (0.300) and the RTO is re-armed after it (§7.3): the timeout comes at
/// 0.500.
#[test]
fn tail_loss_probe_single_segment_allows_for_delayed_ack() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.300 > P. 1:101(100) ack 1001
             0.500 > P. 1:101(100) ack 1001
             0.510 < . 1001:1001(0) ack 101 win 502
             2.000 tick"
        ),
    );
}

/// RFC 5681 §4.1: "a TCP SHOULD set cwnd to no more than RW before
/// beginning transmission if the TCP has not sent data in an interval
/// exceeding the retransmission timeout", RW = min(IW, cwnd) (Linux
/// `tcp_cwnd_restart`, with `tcp_slow_start_after_idle` = 1, its default).
/// A cwnd grown before the idle time no longer describes the path: after
/// it, at most the initial window (ten segments) goes out at once.
#[test]
fn restart_window_after_idle() {
    let mut d = Direct::new(Config::default(), true);
    d.queue(10_000);
    assert_eq!(d.send_at(100).len(), 10);
    for k in 1..=10 {
        d.ack_at(110 + u64::from(k), 1 + 1000 * k, 65535, &[]);
    }
    assert_eq!(d.open().snd().cc().cwnd(), 20_000, "slow start");
    // Not idle longer than the RTO (200 ms): the whole cwnd.
    d.queue(20_000);
    assert_eq!(d.send_at(250).len(), 20);
    for k in 1..=20 {
        d.ack_at(260, 10_001 + 1000 * k, 65535, &[]);
    }
    let cwnd = d.open().snd().cc().cwnd();
    assert_eq!(cwnd, 40_000);
    // Idle for a second: the restart window.
    d.queue(40_000);
    assert_eq!(d.send_at(1260).len(), 10, "RW = min(IW, cwnd)");
    assert_eq!(d.open().snd().cc().cwnd(), 10_000);
}

/// The RTT state of the connection from `port`, if established.
fn rtt_of(h: &Harness, port: u16) -> Option<(u64, u64)> {
    let (id, _, _) = h.ep.connections().find(|(_, t, _)| t.remote_port == port)?;
    match h.ep.state(id)? {
        State::Established(o) => o.tcb().rtx().rtt(),
        other => panic!("not established: {other:?}"),
    }
}

/// An endpoint with one half-open place, taken by a connection from port
/// 40000; the next SYN (from port 40001) gets a SYN cookie.
fn cookie_harness() -> Harness {
    let mut cfg = no_nagle();
    cfg.max_half_open = 1;
    let mut h = Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    h.port = 40001;
    h.iss = None;
    h
}

/// A connection made from a SYN cookie (RFC 4987 §3.6) keeps no record of
/// when its SYN-ACK went out. With timestamps, its RTT sample comes from
/// the ACK's TSecr (RFC 7323 §4: "RTTM"; Linux `tcp_synack_rtt_meas` and
/// `tcp_ack_update_rtt` use it), here 50 ms -- plus up to two rounds of the
/// cookie's TSval low bits (RFC 4987 §3.6: the SYN-ACK's TSval was rounded
/// down to carry the client's options; Linux's sample is as high). It must
/// not be the 0 µs between the connection's creation and the same ACK
/// (SRTT 1 µs, a 10 ms probe timeout and spurious probes).
#[test]
fn syn_cookie_rtt_from_tsecr() {
    let mut h = cookie_harness();
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.100 > S. 0:0(0) ack 5001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.150 < . 5001:5001(0) ack 1 win 502 <nop,nop,TS val 150 ecr *>
         0.150 ! state ESTABLISHED",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
    let (srtt, _) = rtt_of(&h, 40001).expect("an RTT sample");
    assert!(
        (50_000..=50_000 + 2 * 32_000).contains(&srtt),
        "srtt {srtt}"
    );
}

/// Without timestamps the SYN-ACK's time of a cookie connection is unknown:
/// no RTT sample is taken (Linux's cookie request has no `snt_synack`), so
/// the RTO stays at its initial value and no tail loss probe fires 10 ms
/// after the first data segment (RFC 6298 §2.1; RFC 8985 §7.2).
#[test]
fn syn_cookie_without_timestamps_takes_no_rtt_sample() {
    let mut h = cookie_harness();
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1460>
         0.100 > S. 0:0(0) ack 5001 <mss 1460>
         0.150 < . 5001:5001(0) ack 1 win 64240
         0.150 ! state ESTABLISHED",
    );
    assert_eq!(rtt_of(&h, 40001), None);
    h.run(
        "0.200 ! app-send 100
         0.200 > P. 1:101(100) ack 5001
         0.300 tick
         0.310 < . 5001:5001(0) ack 101 win 64240",
    );
    assert_eq!(rtt_of(&h, 40001), Some((110_000, 55_000)));
}

/// Five segments out, the first three acknowledged at 110 ms, the last
/// lost; the tail loss probe resends it at 132 ms (2 SRTT + 2 ms after the
/// ACK).
fn tail_probe_out() -> Direct {
    let mut d = Direct::new(newreno(), true);
    d.queue(5000);
    assert_eq!(d.send_at(100).len(), 5);
    d.ack_at(110, 3001, 65535, &[]);
    assert_eq!(d.st.poll_timeout(), Some(ms(132)));
    assert_eq!(d.timeout_at(132), vec![(4001, 1000)], "the probe");
    d
}

/// RFC 8985 §7.4.2: "If the TLP sender does not receive such an indication
/// [a DSACK, or a duplicate ACK, showing that both the original and the
/// probe arrived] before the end of the TLP recovery episode, then it MUST
/// estimate that either the original data segment or the TLP
/// retransmission were lost, and congestion control MUST react
/// appropriately to that loss as it would any other loss." The episode ends
/// with an ACK beyond the probe (RFC 8985 §7.4.2's pseudo-code, Linux
/// `tcp_process_tlp_ack`); the response is Linux's: ssthresh from cwnd
/// (`tcp_init_cwnd_reduction`), cwnd = ssthresh (`tcp_end_cwnd_reduction`).
#[test]
fn tail_loss_probe_repair_reduces_cwnd() {
    let mut d = tail_probe_out();
    // The probe's ACK: it repaired the loss (no DSACK follows).
    d.ack_at(140, 5001, 65535, &[]);
    d.queue(1000);
    assert_eq!(d.send_at(150), vec![(5001, 1000)]);
    let before = d.open().snd().cc().cwnd();
    d.ack_at(160, 6001, 65535, &[]);
    let cc = d.open().snd().cc();
    // The ACK grows nothing first: one segment out does not fill cwnd
    // (Linux `tcp_is_cwnd_limited`).
    assert_eq!(cc.ssthresh(), before / 2, "{cc:?}");
    assert_eq!(cc.cwnd(), cc.ssthresh());
    assert!(cc.tlp().is_none());
}

/// RFC 8985 §7.4.2 / RFC 2883: a DSACK for the probe shows that the
/// original arrived too: nothing was lost, cwnd is not reduced.
#[test]
fn tail_loss_probe_dsack_means_no_loss() {
    let mut d = tail_probe_out();
    d.ack_at(140, 5001, 65535, &[]);
    d.ack_at(141, 5001, 65535, &[(4001, 5001)]);
    assert!(d.open().snd().cc().tlp().is_none());
    d.queue(1000);
    assert_eq!(d.send_at(150), vec![(5001, 1000)]);
    d.ack_at(160, 6001, 65535, &[]);
    assert_eq!(d.open().snd().cc().ssthresh(), u32::MAX);
}

/// RFC 6675 §5: SACK-based recovery ends when SND.UNA reaches
/// RecoveryPoint with cwnd = ssthresh (RFC 6937 §3.1; Linux
/// `tcp_end_cwnd_reduction`; not RFC 6582 §3.2 step 3's `min(ssthresh,
/// FlightSize + SMSS)`). Here the full ACK comes with two segments in flight: cwnd
/// stays 5000, it does not fall to 3000.
#[test]
fn sack_recovery_exit_keeps_cwnd_at_ssthresh() {
    let mut d = Direct::new(newreno(), true);
    d.queue(30_000);
    assert_eq!(d.send_at(100).len(), 10);
    d.ack_at(110, 1, 65535, &[(1001, 2001)]);
    d.ack_at(111, 1, 65535, &[(1001, 3001)]);
    d.ack_at(112, 1, 65535, &[(4001, 5001), (1001, 3001)]);
    d.send_at(112);
    d.ack_at(113, 1, 65535, &[(4001, 6001), (1001, 3001)]);
    d.ack_at(114, 1, 65535, &[(4001, 7001), (1001, 3001)]);
    d.send_at(114);
    d.ack_at(120, 3001, 65535, &[(4001, 8001)]);
    d.send_at(120);
    // The full ACK (recover = 10001), with [10001, 12001) in flight.
    d.ack_at(130, 10_001, 65535, &[]);
    let cc = d.open().snd().cc();
    assert!(cc.recover().is_none());
    assert_eq!((cc.ssthresh(), cc.cwnd()), (5000, 5000));
}

/// RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment
/// and the TCP implementation is using an RTO less than 3 seconds, the RTO
/// MUST be re-initialized to 3 seconds when data transmission begins"
/// (Linux `tcp_init_metrics`, TCP_TIMEOUT_FALLBACK). Here the SYN-ACK was
/// resent, so the handshake gives no sample (Karn; no timestamps): the
/// first data segment's RTO is 3 s, not the initial 1 s. Without an SRTT
/// the tail loss probe comes after 1 s (RFC 8985 §7.2: "when there is no
/// SRTT estimate available, the PTO SHOULD be 1 second"; Linux
/// TCP_TIMEOUT_INIT) and re-arms the RTO (§7.3): 3 s after the probe.
#[test]
fn rto_three_seconds_after_synack_timeout() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         1.000 > S. 0:0(0) ack 1001
         1.010 < . 1001:1001(0) ack 1 win 502
         1.010 ! state ESTABLISHED
         1.100 ! app-send 100
         1.100 > P. 1:101(100) ack 1001
         2.100 > P. 1:101(100) ack 1001
         5.100 > P. 1:101(100) ack 1001
         5.110 < . 1001:1001(0) ack 101 win 502
         10.000 tick",
    );
}

/// RFC 5681 §3.2 / RFC 3042 (Limited Transmit): "On the first and second
/// duplicate ACKs received at a sender, a TCP SHOULD send a segment of
/// previously unsent data ... provided that the receiver's advertised
/// window allows, the total FlightSize would remain less than or equal to
/// cwnd plus 2*SMSS, and that new data is available", cwnd unchanged.
/// Without SACK (with it, `pipe` already counts the SACKed segments out).
#[test]
fn limited_transmit_on_first_two_dupacks() {
    let mut d = Direct::new(newreno(), false);
    d.queue(20_000);
    assert_eq!(d.send_at(100).len(), 10);
    d.ack_at(110, 1, 65535, &[]);
    assert_eq!(d.send_at(110), vec![(10_001, 1000)]);
    d.ack_at(111, 1, 65535, &[]);
    assert_eq!(d.send_at(111), vec![(11_001, 1000)]);
    assert_eq!(d.open().snd().cc().cwnd(), 10_000, "cwnd unchanged");
    // The third: fast retransmit, ssthresh from the FlightSize of 12000.
    d.ack_at(112, 1, 65535, &[]);
    assert_eq!(d.send_at(112), vec![(1, 1000)]);
    assert_eq!(d.open().snd().cc().ssthresh(), 6000);
}

/// NewReno recovery with small segments (100 bytes, no Nagle), under RFC
/// 6937 PRR (issue #16; it replaced RFC 6582 §3.2 step 4's inflation and
/// step 5's "deflate ... add back SMSS", which this test checked before:
/// cwnd 5000, then 4900). The ten segments are one SMSS in all, so no
/// duplicate ACK counts as delivered (at most FlightSize less one SMSS
/// may, Linux `tcp_limit_reno_sacked`), and pipe is 0 once the head is
/// counted lost. Entry: cwnd = pipe + the fast retransmit's SMSS. A
/// partial ACK of 100 bytes: the slow start reduction bound, DeliveredData
/// alone (the ACK marked the new head lost), and the segment at SND.UNA is
/// resent.
#[test]
fn newreno_small_segments_prr_partial_ack() {
    let cfg = Config {
        nagle: false,
        ..newreno()
    };
    let mut d = Direct::new(cfg, false);
    for k in 0..10 {
        d.queue(100);
        assert_eq!(d.send_at(100), vec![(1 + 100 * k, 100)]);
    }
    for k in 0..3 {
        d.ack_at(110 + k, 1, 65535, &[]);
    }
    // The fast retransmit (repacketized: up to one SMSS from SND.UNA).
    assert_eq!(d.send_at(112).first().map(|r| r.0), Some(1));
    let cc = d.open().snd().cc();
    assert_eq!((cc.ssthresh(), cc.cwnd()), (2000, 1000));
    // A partial ACK of 100 bytes (the peer took only the first of them).
    // It shows the new head lost (Linux tcp_newreno_mark_lost), so the
    // slow start reduction bound gives no extra SMSS (Linux
    // tcp_cwnd_reduction: `FLAG_SND_UNA_ADVANCED && !newly_lost`):
    // cwnd = pipe 0 + DeliveredData 100. The head is resent regardless.
    d.ack_at(120, 101, 65535, &[]);
    assert!(d.open().snd().cc().recover().is_some());
    assert_eq!(d.open().snd().cc().cwnd(), 100);
    assert_eq!(d.send_at(120).first().map(|r| r.0), Some(101));
}

/// RFC 8985 §7.3: the loss probe retransmits "the last segment sent";
/// with only our FIN in flight that is the FIN (Linux
/// `tcp_send_loss_probe` resends the last buffer of the retransmission
/// queue, a lone FIN included). The PTO (2 SRTT + TLP.max_ack_delay,
/// 220 ms) is later than the RTO (200 ms after the ACK), so the probe goes
/// at the RTO's time in its place (§7.2), and the RTO is re-armed after
/// it (§7.3): the FIN again 200 ms later, the timeout.
#[test]
fn fin_alone_in_flight_is_the_loss_probe() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.105 ! app-close
             0.105 > F. 101:101(0) ack 1001
             0.110 < . 1001:1001(0) ack 101 win 502
             0.310 > F. 101:101(0) ack 1001
             0.510 > F. 101:101(0) ack 1001
             0.520 < . 1001:1001(0) ack 102 win 502
             0.520 ! state FIN-WAIT-2"
        ),
    );
}

/// Issue #16: CUBIC (RFC 9438) is the default congestion control. On the
/// third duplicate ACK, with cwnd 10000 (and FlightSize 12000 after
/// Limited Transmit), ssthresh = cwnd · β_cubic = 10000 · 717 / 1024 =
/// 7001 (RFC 9438 §4.6, Linux `cubictcp_recalc_ssthresh`), not NewReno's
/// FlightSize / 2 = 6000 (RFC 5681 equation (4)); the full ACK ends
/// recovery with cwnd = ssthresh. A timeout then takes ssthresh from cwnd
/// again (0.7 · 7001 = 4901) and cwnd to one segment.
#[test]
fn default_congestion_control_is_cubic() {
    let mut d = Direct::new(Config::default(), false);
    assert_eq!(
        d.open().snd().cc().cc().algorithm(),
        CongestionControl::Cubic
    );
    d.queue(20_000);
    assert_eq!(d.send_at(100).len(), 10);
    d.ack_at(110, 1, 65535, &[]);
    assert_eq!(d.send_at(110), vec![(10_001, 1000)]);
    d.ack_at(111, 1, 65535, &[]);
    assert_eq!(d.send_at(111), vec![(11_001, 1000)]);
    d.ack_at(112, 1, 65535, &[]);
    assert_eq!(d.send_at(112), vec![(1, 1000)], "the fast retransmit");
    let cc = d.open().snd().cc();
    assert_eq!(
        cc.ssthresh(),
        7001,
        "0.7 x cwnd, not FlightSize / 2: {cc:?}"
    );
    d.ack_at(120, 12_001, 65535, &[]);
    let cc = d.open().snd().cc();
    assert!(cc.recover().is_none());
    assert_eq!((cc.ssthresh(), cc.cwnd()), (7001, 7001));
    d.send_at(120);
    while d.open().tcb().rtx().retries() < 1 {
        let t = d.st.poll_timeout().unwrap().as_millis();
        d.timeout_at(t);
    }
    let cc = d.open().snd().cc();
    assert_eq!((cc.ssthresh(), cc.cwnd()), (7001 * 717 / 1024, 1000));
}

/// The same with SACK: SACK-based recovery, ssthresh 0.7 · cwnd.
#[test]
fn default_congestion_control_is_cubic_with_sack() {
    let mut d = Direct::new(Config::default(), true);
    d.queue(30_000);
    assert_eq!(d.send_at(100).len(), 10);
    d.ack_at(110, 1, 65535, &[(1001, 2001)]);
    d.ack_at(111, 1, 65535, &[(1001, 3001)]);
    d.ack_at(112, 1, 65535, &[(1001, 4001)]);
    assert_eq!(d.send_at(112).first(), Some(&(1, 1000)));
    let cc = d.open().snd().cc();
    assert!(cc.recover().is_some());
    assert_eq!(cc.ssthresh(), 7001, "{cc:?}");
}

/// RFC 1191 / RFC 8201 with RFC 5927 §4.1 (Linux `tcp_v4_err`,
/// `tcp_v4_mtu_reduced`, `tcp_simple_retransmit`): an ICMP "fragmentation
/// needed" quoting data in flight lowers the MSS to the MTU less 40
/// bytes, and what is in flight goes again at once, cut to it, with no
/// congestion response; one quoting anything else, or allowing the MSS in
/// use, changes nothing; an MTU below 552 counts as 552 (Linux
/// `ip_rt_min_pmtu`).
#[test]
fn packet_too_big_lowers_the_mss_and_resends() {
    use tcpcore::conn::pmtu::{PathFamily, TooBig};
    let mut d = Direct::new(newreno(), true);
    d.queue(5000);
    let first = d.send_at(20);
    assert_eq!(first.len(), 5);
    let cwnd = d.open().snd().cc().cwnd();
    let seq = |rel: u32| SeqNum::new(ISS + rel);
    // Not data in flight: SND.NXT itself, and below SND.UNA.
    assert_eq!(
        d.st.on_packet_too_big(seq(5001), 576, PathFamily::V4),
        TooBig::NotInFlight
    );
    assert_eq!(
        d.st.on_packet_too_big(seq(0), 576, PathFamily::V4),
        TooBig::NotInFlight
    );
    // An MTU that fits the MSS in use (IPv6's minimum of 1280: 1220).
    assert_eq!(
        d.st.on_packet_too_big(seq(1001), 1500, PathFamily::V4),
        TooBig::NoChange
    );
    assert_eq!(
        d.st.on_packet_too_big(seq(1001), 1280, PathFamily::V6),
        TooBig::NoChange
    );
    assert!(d.send_at(21).is_empty(), "nothing changed, nothing sent");
    // A 576-byte link: MSS 536, everything in flight again in 536-byte
    // pieces, cwnd as it was.
    assert_eq!(
        d.st.on_packet_too_big(seq(2001), 576, PathFamily::V4),
        TooBig::Lowered(536)
    );
    let again = d.send_at(22);
    assert_eq!(again.first(), Some(&(1, 536)));
    assert!(again.iter().all(|&(_, l)| l == 536), "{again:?}");
    // Nine of them; the last 176 bytes wait for Nagle.
    assert_eq!(again.len(), 9);
    assert_eq!(d.open().snd().cc().cwnd(), cwnd, "no congestion response");
    d.ack_at(25, 4825, 65535, &[]);
    assert_eq!(d.send_at(25), vec![(4825, 176)]);
    // Lower again, below the minimum: 552 - 40.
    assert_eq!(
        d.st.on_packet_too_big(seq(4825), 68, PathFamily::V4),
        TooBig::Lowered(512)
    );
    // All acknowledged: nothing in flight to quote.
    d.ack_at(30, 5001, 65535, &[]);
    assert_eq!(
        d.st.on_packet_too_big(seq(1), 300, PathFamily::V4),
        TooBig::NotInFlight
    );
    d.queue(1000);
    assert_eq!(
        d.send_at(31),
        vec![(5001, 512)],
        "the 488 left wait for Nagle"
    );
}

/// The black-hole fallback (RFC 4821's idea; Linux `tcp_mtu_probing`
/// after `tcp_retries1` timeouts): a full-sized segment timed out three
/// times in a row goes the third time at half the MSS, not below 536;
/// with `Config::blackhole_fallback` off it stays full-sized.
#[test]
fn blackhole_fallback_halves_the_mss_at_the_third_timeout() {
    for on in [true, false] {
        let mut d = Direct::new(
            Config {
                blackhole_fallback: on,
                ..newreno()
            },
            true,
        );
        d.queue(3000);
        assert_eq!(d.send_at(20).len(), 3);
        // Every timer as it comes (the loss probe goes first); what each
        // timeout resends from SND.UNA.
        let mut sent = Vec::new();
        while d.open().tcb().rtx().retries() < 3 {
            let t = d.st.poll_timeout().expect("a timer runs").as_millis();
            let out = d.timeout_at(t);
            if d.open().tcb().rtx().retries() > sent.len() as u8 {
                sent.push(out.first().copied());
            }
        }
        let third = if on { 536 } else { 1000 };
        assert_eq!(
            sent,
            vec![Some((1, 1000)), Some((1, 1000)), Some((1, third))]
        );
    }
}

/// RFC 7323 §4.1's RTT from timestamps has millisecond ticks here: on a
/// path of 200 µs, the handshake's ACK and every ACK that covers no timed
/// segment echo a TSval of this very millisecond, a sample of "0 ms".
/// Taken as 1 µs, and preferred to the SYN-ACK's send time, they left SRTT
/// at 6 µs here (and a long transfer at 1 µs, where RACK's reordering
/// window, capped at SRTT, closes: thousands of resends per download on
/// the reordering path of `bench-e2e`). Now, as Linux: the SYN-ACK's and
/// the timed segment's send times in microseconds first, TSecr only
/// without them, and a 0 ms sample only while there is no SRTT (as 1
/// ms).
#[test]
fn zero_millisecond_timestamp_samples_leave_srtt_alone() {
    let mut script = String::from(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.0002 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 101 ecr *>
         0.010 ! app-send 14480\n",
    );
    for k in 0..10u32 {
        script += &format!(
            "0.010 > {}. {}:{}(1448) ack 1001 <nop,nop,TS val * ecr 101>\n",
            if k == 9 { "P" } else { "" },
            1 + 1448 * k,
            1449 + 1448 * k
        );
    }
    for k in 0..10u32 {
        script += &format!(
            "0.{:05} < . 1001:1001(0) ack {} win 502 <nop,nop,TS val 102 ecr *>\n",
            1020 + 5 * k,
            1449 + 1448 * k
        );
    }
    let h = run(default_config(), &script);
    let (srtt, _) = rtt_of(&h, CLIENT_PORT).expect("an RTT sample");
    assert!((190..=210).contains(&srtt), "srtt {srtt} µs");
}
