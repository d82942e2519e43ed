//! Issue #16: HyStart++ (RFC 9406) in the first slow start, for CUBIC and
//! NewReno, and CUBIC's epoch across an application-limited pause (RFC
//! 9438 §5.8, Linux `cubictcp_cwnd_event(CA_EVENT_TX_START)`).
//!
//! A connection is driven directly through its public API, with
//! timestamps, over a simulated path: every segment is acknowledged on its
//! own, one RTT after it was sent, with TSecr its TSval, so that every ACK
//! is an RTT sample (RFC 7323 §4.1) of the RTT the test chooses.

use std::collections::VecDeque;

use tcpcore::conn::{Open, RecvRanges, Reply};
use tcpcore::wire::{TcpControl, TcpOptions, TcpRepr, Timestamps};
use tcpcore::{Buffers, Config, CongestionControl, Instant, RecvBuffer, SeqNum, State};

const ISS: u32 = 0;
const IRS: u32 = 1000;
/// The peer's MSS: with timestamps on every segment, SMSS is 1000.
const PEER_MSS: u16 = 1012;
const SMSS: u32 = 1000;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// One connection with timestamps (our TSval is our clock in ms: offset 0).
struct Conn {
    st: State,
    cfg: Config,
    ranges: RecvRanges,
    data: Vec<u8>,
}

fn seg(ack: Option<u32>, control: TcpControl, ts: Timestamps) -> TcpRepr<'static> {
    let mut options = TcpOptions {
        timestamps: Some(ts),
        ..TcpOptions::default()
    };
    if control == TcpControl::Syn {
        options.mss = Some(PEER_MSS);
        options.window_scale = Some(8);
    }
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq_number: SeqNum::new(if control == TcpControl::Syn {
            IRS
        } else {
            IRS + 1
        }),
        ack_number: ack.map(|a| SeqNum::new(ISS.wrapping_add(a))),
        control,
        push: false,
        urgent: None,
        ece: false,
        cwr: false,
        window_len: 65535,
        options,
        payload: &[],
    }
}

impl Conn {
    /// SYN at 1 s, its ACK at 1.010 s (RTT 10 ms).
    fn new(cfg: Config) -> Conn {
        let syn = seg(
            None,
            TcpControl::Syn,
            Timestamps {
                tsval: 1000,
                tsecr: 0,
            },
        );
        let bufs = Buffers {
            rx: 1 << 16,
            tx: 1 << 24,
        };
        let t = State::accept(&syn, SeqNum::new(ISS), 0, ms(1000), &cfg, bufs);
        let mut c = Conn {
            st: t.state,
            cfg,
            ranges: RecvRanges::new(),
            data: vec![0; 1 << 16],
        };
        c.ack_at(1010, 1, 1000);
        assert!(matches!(c.st, State::Established(_)), "{:?}", c.st);
        c
    }

    fn open(&self) -> &Open {
        match &self.st {
            State::Established(o) => o,
            other => panic!("not open: {other:?}"),
        }
    }

    /// The peer's ACK of byte `ack` at `t` ms, echoing TSval `tsecr`.
    fn ack_at(&mut self, t: u64, ack: u32, tsecr: u64) {
        let ts = Timestamps {
            tsval: t as u32,
            tsecr: tsecr as u32,
        };
        let s = seg(Some(ack), TcpControl::None, ts);
        let mut rx = RecvBuffer::new(&mut self.ranges, &mut self.data).unwrap();
        let st = core::mem::replace(&mut self.st, State::Closed(tcpcore::CloseReason::Normal));
        self.st = st.on_segment(&s, ms(t), &self.cfg, &mut rx).state;
    }

    /// Everything sent at `t`: `(seq relative to the ISS, len)`.
    fn send_at(&mut self, t: u64) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        while let Some(r) = self.st.poll_transmit(ms(t), &self.cfg, &self.ranges) {
            let Reply { seq, len, .. } = r;
            out.push((seq.get().wrapping_sub(ISS), len));
            assert!(out.len() < 10_000);
        }
        out
    }

    fn cwnd(&self) -> u32 {
        self.open().snd().cc().cwnd()
    }

    fn ssthresh(&self) -> u32 {
        self.open().snd().cc().ssthresh()
    }

    fn in_css(&self) -> bool {
        self.open().snd().cc().cc().hystart().in_css()
    }

    fn snd_nxt(&self) -> u32 {
        self.open().snd().nxt().get().wrapping_sub(ISS)
    }
}

/// What one ACK did.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// When the ACK arrived, ms.
    t: u64,
    /// cwnd before and after it.
    before: u32,
    after: u32,
    ssthresh: u32,
    css: bool,
    /// RFC 9406's round (SND.UNA reaching SND.NXT of the round's start),
    /// counted here independently of the code under test.
    round: u32,
}

/// A path that acknowledges each segment `rtt(sent_ms)` after it went,
/// for `acks` ACKs, from `start` ms; the application always has data.
fn run_path(c: &mut Conn, start: u64, acks: usize, rtt: impl Fn(u64) -> u64) -> Vec<Step> {
    c.st.queue(1 << 24);
    let mut flight: VecDeque<(u32, u64)> = VecDeque::new();
    for (seq, len) in c.send_at(start) {
        flight.push_back((seq + len, start));
    }
    let mut t = start;
    let mut steps = Vec::new();
    let mut round = 0;
    let mut window_end = 0;
    for _ in 0..acks {
        let (end, sent) = flight.pop_front().expect("something in flight");
        t = t.max(sent + rtt(sent));
        if end >= window_end {
            round += 1;
            window_end = c.snd_nxt();
        }
        let before = c.cwnd();
        c.ack_at(t, end, sent);
        steps.push(Step {
            t,
            before,
            after: c.cwnd(),
            ssthresh: c.ssthresh(),
            css: c.in_css(),
            round,
        });
        for (seq, len) in c.send_at(t) {
            flight.push_back((seq + len, t));
        }
    }
    steps
}

/// RFC 9406 §4.2 with a steady RTT: slow start all along, cwnd one SMSS
/// per ACK of one segment, no CSS, ssthresh untouched.
#[test]
fn steady_rtt_stays_in_slow_start() {
    for cc in [CongestionControl::Cubic, CongestionControl::NewReno] {
        let mut c = Conn::new(Config {
            congestion_control: cc,
            ..Config::default()
        });
        let steps = run_path(&mut c, 1100, 300, |_| 20);
        for s in &steps {
            assert_eq!(s.after - s.before, SMSS, "{cc:?} {s:?}");
            assert!(!s.css && s.ssthresh == u32::MAX, "{cc:?} {s:?}");
        }
    }
}

/// RFC 9406 §4.2: the RTT rises from 20 ms to 30 ms (more than
/// lastRoundMinRTT + max(4 ms, 20/8 ms)) for the segments sent from 1.140
/// s, the fourth round's: once a round has N_RTT_SAMPLE = 8 samples at 30 ms, CSS begins,
/// cwnd grows by SMSS / CSS_GROWTH_DIVISOR = 250 bytes per ACK; after
/// CSS_ROUNDS = 5 rounds (the one CSS began in counting), congestion
/// avoidance with ssthresh = cwnd. Both congestion controls.
#[test]
fn rtt_increase_leads_to_css_then_congestion_avoidance() {
    for cc in [CongestionControl::Cubic, CongestionControl::NewReno] {
        let mut c = Conn::new(Config {
            congestion_control: cc,
            ..Config::default()
        });
        let steps = run_path(&mut c, 1100, 2000, |sent| if sent < 1140 { 20 } else { 30 });
        let first_css = steps.iter().position(|s| s.css).expect("CSS");
        // Slow start before: one SMSS per ACK; the first ACK at 30 ms is
        // not yet an exit (fewer than 8 samples of its round).
        for s in &steps[..first_css] {
            assert_eq!(s.after - s.before, SMSS, "{cc:?} {s:?}");
        }
        let entry = steps[first_css];
        assert_eq!(entry.round, 4, "{cc:?}");
        assert!(steps.iter().any(|s| s.round == 4 && s.t == 1170));
        let slow = steps[..first_css]
            .iter()
            .filter(|s| s.round == entry.round)
            .count();
        assert_eq!(slow, 7, "{cc:?}: the 8th sample of the round exits");
        let last_css = steps.iter().rposition(|s| s.css).unwrap();
        // In CSS: a quarter of the growth.
        for s in &steps[first_css + 1..=last_css] {
            assert_eq!(s.after - s.before, SMSS / 4, "{cc:?} {s:?}");
            assert_eq!(s.ssthresh, u32::MAX);
        }
        // CSS_ROUNDS rounds: the one it began in and four more; at the
        // start of the sixth, ssthresh = cwnd.
        let exit = steps[last_css + 1];
        assert_eq!(exit.round, entry.round + 5, "{cc:?}: {entry:?} {exit:?}");
        assert!(!exit.css);
        assert_eq!(exit.ssthresh, exit.before, "{cc:?}: ssthresh = cwnd");
        // Congestion avoidance after: far slower than CSS.
        let ca = &steps[last_css + 1..last_css + 101];
        let grown = ca.last().unwrap().after - ca[0].before;
        assert!(grown < 100 * SMSS / 4, "{cc:?}: {grown}");
        assert!(ca.iter().all(|s| s.ssthresh == exit.ssthresh));
    }
}

/// RFC 9406 §4.2: in CSS, a round whose least RTT is below
/// cssBaselineMinRtt shows the exit was spurious: back to slow start
/// (one SMSS per ACK again), ssthresh untouched.
#[test]
fn rtt_drop_in_css_returns_to_slow_start() {
    for cc in [CongestionControl::Cubic, CongestionControl::NewReno] {
        let mut c = Conn::new(Config {
            congestion_control: cc,
            ..Config::default()
        });
        let steps = run_path(&mut c, 1100, 400, |sent| {
            if (1140..1175).contains(&sent) {
                30
            } else {
                20
            }
        });
        let first_css = steps.iter().position(|s| s.css).expect("CSS");
        let back = first_css + steps[first_css..].iter().position(|s| !s.css).unwrap();
        let resumed = steps[back];
        assert!(resumed.round <= steps[first_css].round + 2, "{resumed:?}");
        assert_eq!(resumed.ssthresh, u32::MAX, "{cc:?}");
        for s in &steps[back + 1..] {
            assert!(!s.css, "{cc:?} {s:?}");
            assert_eq!(s.after - s.before, SMSS, "{cc:?} {s:?}");
        }
    }
}

/// The path of [`run_path`] for an application that writes `bytes` at
/// `start` and then nothing: ACKs until nothing is in flight. Returns the
/// time of the last ACK.
fn run_until_idle(c: &mut Conn, start: u64, bytes: usize, rtt: impl Fn(u64) -> u64) -> u64 {
    c.st.queue(bytes);
    let mut flight: VecDeque<(u32, u64)> = VecDeque::new();
    for (seq, len) in c.send_at(start) {
        flight.push_back((seq + len, start));
    }
    let mut t = start;
    while let Some((end, sent)) = flight.pop_front() {
        t = t.max(sent + rtt(sent));
        c.ack_at(t, end, sent);
        for (seq, len) in c.send_at(t) {
            flight.push_back((seq + len, t));
        }
    }
    t
}

/// CUBIC in congestion avoidance (HyStart++ left slow start: RTT 20 ms,
/// then 30 ms), 1.5 MB written, then an application-limited pause of
/// `idle` ms (shorter than the RTO, 60 s here, so no restart window);
/// then the application writes again. Returns cwnd before the pause and
/// after 300 more ACKs.
fn cubic_after_pause(idle: u64) -> (u32, u32) {
    let mut c = Conn::new(Config {
        rto_min: tcpcore::Duration::from_secs(60),
        ..Config::default()
    });
    let rtt = |sent: u64| if sent < 1140 { 20 } else { 30 };
    let end = run_until_idle(&mut c, 1100, 1_500_000, rtt);
    assert!(c.ssthresh() < u32::MAX, "in congestion avoidance");
    let before = c.cwnd();
    let steps = run_path(&mut c, end + idle, 300, |_| 30);
    (before, steps.last().unwrap().after)
}

/// RFC 9438 §5.8 (Linux `cubictcp_cwnd_event(CA_EVENT_TX_START)`): after
/// an application-limited pause the epoch moves forward by the idle time,
/// so cwnd goes on along the cubic curve from where it was: 300 ACKs after
/// a 20-second pause grow cwnd as much as after a 30 ms one (15 segments,
/// Linux's floor of 5% per RTT before any loss). Without the shift the
/// curve's time would have run on through the pause, and cwnd would jump
/// toward a target 20 s further on (C·t³ = 3200 segments above the
/// origin): one segment per two ACKs, 150.
#[test]
fn cubic_idle_restart_does_not_jump() {
    let (before_short, after_short) = cubic_after_pause(0);
    let (before_long, after_long) = cubic_after_pause(20_000);
    assert_eq!(before_short, before_long);
    let short = after_short - before_short;
    let long = after_long - before_long;
    assert!(short > 0, "cwnd grows in congestion avoidance");
    assert!(
        long.abs_diff(short) <= 2 * SMSS,
        "after 20 s idle: +{long}, after none: +{short}"
    );
}
