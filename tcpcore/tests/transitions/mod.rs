//! Per-state transition tables (issue #15, Tests): a connection is brought
//! into a state by driving [`State::accept`] and [`State::on_segment`]
//! directly, without an endpoint, and each row of a table feeds one segment
//! (or fires one timer) and checks exactly what comes out: the next state,
//! the segments to send, the events, the drop reason, the bytes delivered.
//!
//! Sequence numbers in rows are written relative to the connection's
//! variables before the segment ([`P`]), so a row reads like the RFC:
//! `seg().seq(P::RcvNxt(100))` is "a segment 100 bytes past RCV.NXT".

#![allow(dead_code)] // each test file uses its part

use tcpcore::conn::{Buffers, RecvBuffer, RecvRanges, Reply, SegmentDrop, State, Transition};
use tcpcore::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps};
use tcpcore::{Config, Duration, Event, Instant, SeqNum, StateName};

/// The peer's initial sequence number (IRS).
pub const IRS: u32 = 1_000;
/// Our initial sequence number (ISS).
pub const ISS: u32 = 50_000;
/// Our receive buffer (its free space is the window).
pub const RX: usize = 4096;
/// Our send buffer.
pub const TX: usize = 4096;
/// The peer's window field in its segments (scaled by 7 with window scaling).
pub const PEER_WND: u16 = 8000;
/// Bytes the application has sent and the peer has not acknowledged in the
/// fixtures from ESTABLISHED on.
pub const IN_FLIGHT: u32 = 300;
/// Bytes the peer sent (and the application read) in ESTABLISHED.
pub const PEER_SENT: u32 = 200;
/// The peer's TSval in its SYN.
pub const SYN_TSVAL: u32 = 100;

static DATA: [u8; 8192] = [0x5a; 8192];

/// Options the peer offers in its SYN (and we accept: `Config::default()`
/// accepts them all).
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// RFC 7323 timestamps.
    pub ts: bool,
    /// RFC 2018 SACK-permitted.
    pub sack: bool,
    /// RFC 7323 window scale (the peer's shift is 7).
    pub ws: bool,
}

/// MSS only.
pub const PLAIN: Opts = Opts {
    ts: false,
    sack: false,
    ws: false,
};
/// Timestamps, SACK and window scaling.
pub const FULL: Opts = Opts {
    ts: true,
    sack: true,
    ws: true,
};

/// A point in sequence space, relative to the connection's variables before
/// the segment (or timer) of the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P {
    /// RCV.NXT + n.
    RcvNxt(i32),
    /// The right edge of the receive window last advertised, + n.
    RcvRight(i32),
    /// IRS + n.
    Irs(i32),
    /// SND.UNA + n.
    SndUna(i32),
    /// SND.NXT + n (the highest sent: SND.MAX).
    SndNxt(i32),
    /// SND.UNA - MAX.SND.WND + n (RFC 5961 §5.2's lower bound).
    UnaLessMaxWnd(i32),
    /// ISS + n.
    Iss(i32),
    /// The segment's own SEG.ACK.
    SegAck,
    /// Zero.
    Zero,
}

/// The peer's timestamp option in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ts {
    /// TSval newer than TS.Recent (when timestamps are in use).
    Fresh,
    /// TSval equal to TS.Recent.
    Same,
    /// TSval older than TS.Recent: fails PAWS (RFC 7323 §5.3 R1).
    Old,
    /// No timestamp option.
    Absent,
}

/// A segment from the peer, built from the connection's variables.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    ctl: TcpControl,
    seq: P,
    ack: Option<P>,
    len: u32,
    wnd: u16,
    ts: Ts,
}

/// An ACK at RCV.NXT acknowledging nothing new (SEG.ACK = SND.UNA).
pub fn seg() -> Seg {
    Seg {
        ctl: TcpControl::None,
        seq: P::RcvNxt(0),
        ack: Some(P::SndUna(0)),
        len: 0,
        wnd: PEER_WND,
        ts: Ts::Fresh,
    }
}

/// A RST at RCV.NXT, without ACK.
pub fn rst() -> Seg {
    Seg {
        ctl: TcpControl::Rst,
        ack: None,
        ..seg()
    }
}

/// A SYN at RCV.NXT, without ACK.
pub fn syn() -> Seg {
    Seg {
        ctl: TcpControl::Syn,
        ack: None,
        ..seg()
    }
}

/// A FIN at RCV.NXT with ACK = SND.UNA.
pub fn fin() -> Seg {
    Seg {
        ctl: TcpControl::Fin,
        ..seg()
    }
}

impl Seg {
    /// SEG.SEQ.
    pub fn seq(mut self, p: P) -> Self {
        self.seq = p;
        self
    }
    /// SEG.ACK (sets the ACK flag).
    pub fn ack(mut self, p: P) -> Self {
        self.ack = Some(p);
        self
    }
    /// No ACK flag.
    pub fn no_ack(mut self) -> Self {
        self.ack = None;
        self
    }
    /// `n` bytes of payload.
    pub fn len(mut self, n: u32) -> Self {
        self.len = n;
        self
    }
    /// The window field.
    pub fn wnd(mut self, w: u16) -> Self {
        self.wnd = w;
        self
    }
    /// The timestamp option.
    pub fn ts(mut self, ts: Ts) -> Self {
        self.ts = ts;
        self
    }
}

/// A segment we are expected to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out {
    ctl: TcpControl,
    seq: P,
    ack: Option<P>,
    len: u32,
    sack: Option<(P, P)>,
}

/// `<SEQ=seq><ACK=ack><CTL=ACK>`.
pub fn ack(seq: P, ack: P) -> Out {
    Out {
        ctl: TcpControl::None,
        seq,
        ack: Some(ack),
        len: 0,
        sack: None,
    }
}

/// The RFC 5961 challenge ACK (and the ACK for an unacceptable segment):
/// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
pub fn challenge() -> Out {
    ack(P::SndNxt(0), P::RcvNxt(0))
}

/// `<SEQ=seq><CTL=RST>`.
pub fn rst_out(seq: P) -> Out {
    Out {
        ctl: TcpControl::Rst,
        seq,
        ack: None,
        len: 0,
        sack: None,
    }
}

/// `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
pub fn rst_ack_out(seq: P, ack: P) -> Out {
    Out {
        ack: Some(ack),
        ..rst_out(seq)
    }
}

/// `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`.
pub fn syn_ack() -> Out {
    Out {
        ctl: TcpControl::Syn,
        seq: P::Iss(0),
        ack: Some(P::RcvNxt(0)),
        len: 0,
        sack: None,
    }
}

/// `len` bytes of data at `seq`, with the current ACK.
pub fn data(seq: P, len: u32) -> Out {
    Out {
        ctl: TcpControl::None,
        seq,
        ack: Some(P::RcvNxt(0)),
        len,
        sack: None,
    }
}

/// Our FIN at `seq`, with the current ACK.
pub fn fin_out(seq: P) -> Out {
    Out {
        ctl: TcpControl::Fin,
        ..data(seq, 0)
    }
}

impl Out {
    /// The one SACK block the segment carries (RFC 2018 §4).
    pub fn sack(mut self, left: P, right: P) -> Self {
        self.sack = Some((left, right));
        self
    }
}

/// A check on the state after the transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// SND.UNA afterwards.
    SndUna(P),
    /// RCV.NXT afterwards.
    RcvNxt(P),
    /// TS.Recent afterwards.
    TsRecent(Ts),
    /// The FIN-WAIT-2 deadline or the TIME-WAIT expiry, from now.
    Deadline(Duration),
    /// [`State::poll_timeout`] afterwards, from now.
    Timeout(Option<Duration>),
}

/// What a row expects.
#[derive(Clone, Debug)]
pub struct Expect {
    state: StateName,
    replies: Vec<Out>,
    events: Vec<Event>,
    drop: Option<SegmentDrop>,
    delivered: u32,
    reopen: Option<P>,
    after: Vec<After>,
}

/// The next state is `state`, and (until said otherwise) nothing is sent,
/// nothing happens, nothing is dropped or delivered.
pub fn to(state: StateName) -> Expect {
    Expect {
        state,
        replies: Vec::new(),
        events: Vec::new(),
        drop: None,
        delivered: 0,
        reopen: None,
        after: Vec::new(),
    }
}

impl Expect {
    /// A segment sent, in order.
    pub fn reply(mut self, o: Out) -> Self {
        self.replies.push(o);
        self
    }
    /// An event, in order.
    pub fn event(mut self, e: Event) -> Self {
        self.events.push(e);
        self
    }
    /// Dropped for this reason.
    pub fn drop(mut self, why: SegmentDrop) -> Self {
        self.drop = Some(why);
        self
    }
    /// Bytes handed to the application.
    pub fn delivered(mut self, n: u32) -> Self {
        self.delivered = n;
        self
    }
    /// TIME-WAIT reopens with this ISS (RFC 6191).
    pub fn reopen(mut self, iss: P) -> Self {
        self.reopen = Some(iss);
        self
    }
    /// A check on the state afterwards.
    pub fn then(mut self, a: After) -> Self {
        self.after.push(a);
        self
    }
}

/// One row: a segment and what it must do, with the RFC rule it checks.
pub struct Row {
    /// A short name.
    pub name: &'static str,
    /// The RFC rule, cited.
    pub rule: &'static str,
    /// The segment.
    pub seg: Seg,
    /// The expected outcome.
    pub expect: Expect,
}

/// A row.
pub fn row(name: &'static str, rule: &'static str, seg: Seg, expect: Expect) -> Row {
    Row {
        name,
        rule,
        seg,
        expect,
    }
}

/// The connection's variables, read from the state.
#[derive(Clone, Copy, Debug)]
pub struct Vars {
    rcv_nxt: SeqNum,
    rcv_right: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    max_wnd: u32,
    ts_recent: Option<u32>,
}

fn vars(s: &State) -> Vars {
    let zero = SeqNum::new(0);
    let mut v = Vars {
        rcv_nxt: s.rcv_nxt().unwrap_or(zero),
        rcv_right: s.rcv_adv_right().unwrap_or(zero),
        snd_una: zero,
        snd_nxt: zero,
        max_wnd: 0,
        ts_recent: None,
    };
    let (snd, ts) = match s {
        State::SynReceived(x) => (Some(x.snd), x.tcb.ts),
        State::Established(x) | State::FinWait1(x) => (Some(x.snd), x.tcb.ts),
        State::FinWait2(x) => (Some(x.snd), x.tcb.ts),
        State::CloseWait(x) | State::Closing(x) | State::LastAck(x) => {
            v.rcv_right = x.rcv.right;
            (Some(x.snd), x.tcb.ts)
        }
        State::TimeWait(x) => {
            v.rcv_right = x.rcv.right;
            v.snd_una = x.snd_nxt;
            v.snd_nxt = x.snd_nxt;
            (None, x.ts)
        }
        State::Closed(_) => (None, None),
    };
    if let Some(snd) = snd {
        v.snd_una = snd.una;
        v.snd_nxt = snd.max;
        v.max_wnd = snd.max_wnd;
    }
    v.ts_recent = ts.map(|t| t.recent);
    v
}

fn add(s: SeqNum, n: i32) -> SeqNum {
    SeqNum::new(s.get().wrapping_add(n as u32))
}

fn resolve(v: &Vars, p: P, seg_ack: Option<SeqNum>) -> SeqNum {
    match p {
        P::RcvNxt(n) => add(v.rcv_nxt, n),
        P::RcvRight(n) => add(v.rcv_right, n),
        P::Irs(n) => add(SeqNum::new(IRS), n),
        P::SndUna(n) => add(v.snd_una, n),
        P::SndNxt(n) => add(v.snd_nxt, n),
        P::UnaLessMaxWnd(n) => add(v.snd_una - v.max_wnd, n),
        P::Iss(n) => add(SeqNum::new(ISS), n),
        P::SegAck => seg_ack.expect("SegAck in a row whose segment has no ACK"),
        P::Zero => SeqNum::new(0),
    }
}

fn tsval(v: &Vars, ts: Ts) -> Option<u32> {
    let recent = v.ts_recent?;
    match ts {
        Ts::Fresh => Some(recent.wrapping_add(7)),
        Ts::Same => Some(recent),
        Ts::Old => Some(recent.wrapping_sub(1000)),
        Ts::Absent => None,
    }
}

/// What a transition did, with the payload borrowed no more.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The next state.
    pub state: State,
    /// The segments to send.
    pub replies: Vec<Reply>,
    /// The events.
    pub events: Vec<Event>,
    /// The drop reason.
    pub dropped: Option<SegmentDrop>,
    /// Bytes delivered (`data` and `buffered`).
    pub delivered: u32,
    /// TIME-WAIT's reopen ISS.
    pub reopen: Option<SeqNum>,
}

fn outcome(t: Transition<'_>) -> Outcome {
    Outcome {
        state: t.state,
        replies: t.replies.iter().copied().collect(),
        events: t.events.iter().copied().collect(),
        dropped: t.dropped,
        delivered: t.data.len() as u32 + t.buffered,
        reopen: t.reopen,
    }
}

/// A connection, its receive buffer, the configuration and the clock.
#[derive(Clone)]
pub struct Fx {
    /// The connection.
    pub state: State,
    /// Now.
    pub now: Instant,
    /// The configuration.
    pub cfg: Config,
    /// The options negotiated.
    pub opts: Opts,
    ranges: RecvRanges,
    buf: Vec<u8>,
}

impl Fx {
    /// LISTEN gets the peer's SYN (`<SEQ=IRS><CTL=SYN>`, with `o`):
    /// SYN-RECEIVED, 10 ms later.
    pub fn syn_received(o: Opts) -> Fx {
        let cfg = Config::default();
        let now = Instant::from_millis(10_000);
        let syn = TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq_number: SeqNum::new(IRS),
            ack_number: None,
            control: TcpControl::Syn,
            push: false,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 64_240,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: o.ws.then_some(7),
                sack_permitted: o.sack,
                sack_blocks: SackBlocks::new(),
                timestamps: o.ts.then_some(Timestamps {
                    tsval: SYN_TSVAL,
                    tsecr: 0,
                }),
            },
            payload: &[],
        };
        let t = State::accept(
            &syn,
            SeqNum::new(ISS),
            0,
            now,
            &cfg,
            Buffers { rx: RX, tx: TX },
        );
        assert_eq!(t.replies.len(), 1, "accept sends the SYN-ACK");
        let mut fx = Fx {
            state: t.state,
            now,
            cfg,
            opts: o,
            ranges: RecvRanges::default(),
            buf: vec![0; RX],
        };
        fx.wait(Duration::from_millis(10));
        fx
    }

    /// The handshake ACK, then `PEER_SENT` bytes from the peer (read by the
    /// application), then `IN_FLIGHT` bytes from us, unacknowledged.
    pub fn established(o: Opts) -> Fx {
        let mut fx = Fx::syn_received(o);
        fx.step(seg().ack(P::SndNxt(0)), StateName::Established);
        fx.wait(Duration::from_millis(5));
        fx.step(seg().len(PEER_SENT), StateName::Established);
        fx.read(PEER_SENT);
        fx.send(IN_FLIGHT);
        fx
    }

    /// ESTABLISHED whose receive window the peer has filled: the
    /// application reads nothing more.
    pub fn established_zero_window(o: Opts) -> Fx {
        let mut fx = Fx::established(o);
        fx.step(seg().len(RX as u32), StateName::Established);
        assert_eq!(fx.vars().rcv_right, fx.vars().rcv_nxt, "window closed");
        fx
    }

    /// ESTABLISHED, then CLOSE: our FIN follows the data in flight.
    pub fn fin_wait_1(o: Opts) -> Fx {
        let mut fx = Fx::established(o);
        fx.close(StateName::FinWait1);
        fx
    }

    /// FIN-WAIT-1, then the ACK of everything: FIN-WAIT-2, one second ago.
    pub fn fin_wait_2(o: Opts) -> Fx {
        let mut fx = Fx::fin_wait_1(o);
        fx.step(seg().ack(P::SndNxt(0)), StateName::FinWait2);
        fx.wait(Duration::from_secs(1));
        fx
    }

    /// FIN-WAIT-1, then the peer's FIN acknowledging our data but not our
    /// FIN: CLOSING.
    pub fn closing(o: Opts) -> Fx {
        let mut fx = Fx::fin_wait_1(o);
        fx.step(fin().ack(P::SndNxt(-1)), StateName::Closing);
        fx
    }

    /// FIN-WAIT-2, then the peer's FIN: TIME-WAIT, one second ago.
    pub fn time_wait(o: Opts) -> Fx {
        let mut fx = Fx::fin_wait_2(o);
        fx.step(fin().ack(P::SndNxt(0)), StateName::TimeWait);
        fx.wait(Duration::from_secs(1));
        fx
    }

    /// ESTABLISHED, then the peer's FIN (our data still in flight).
    pub fn close_wait(o: Opts) -> Fx {
        let mut fx = Fx::established(o);
        fx.step(fin(), StateName::CloseWait);
        fx
    }

    /// CLOSE-WAIT, then CLOSE: our FIN follows the data in flight.
    pub fn last_ack(o: Opts) -> Fx {
        let mut fx = Fx::close_wait(o);
        fx.close(StateName::LastAck);
        fx
    }

    /// The connection's variables now.
    pub fn vars(&self) -> Vars {
        vars(&self.state)
    }

    /// Time passes.
    pub fn wait(&mut self, d: Duration) {
        self.now += d;
    }

    /// The TcpRepr of `s` against the current variables.
    pub fn repr(&self, s: &Seg) -> TcpRepr<'static> {
        let v = self.vars();
        let ack_number = s.ack.map(|p| resolve(&v, p, None));
        let timestamps = tsval(&v, s.ts).map(|tsval| Timestamps { tsval, tsecr: 0 });
        TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq_number: resolve(&v, s.seq, None),
            ack_number,
            control: s.ctl,
            push: false,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: s.wnd,
            options: TcpOptions {
                timestamps,
                ..TcpOptions::default()
            },
            payload: &DATA[..s.len as usize],
        }
    }

    /// Feeds a segment; the state moves on.
    pub fn feed(&mut self, s: &Seg) -> Outcome {
        let repr = self.repr(s);
        let mut rx = RecvBuffer::new(&mut self.ranges, &mut self.buf).expect("rx buffer");
        let o = outcome(self.state.on_segment(&repr, self.now, &self.cfg, &mut rx));
        self.state = o.state;
        o
    }

    /// Feeds a segment that must lead to `want` (building fixtures).
    pub fn step(&mut self, s: Seg, want: StateName) {
        let o = self.feed(&s);
        assert_eq!(o.state.name(), want, "fixture step {s:?}: {o:?}");
    }

    /// The application reads `n` bytes.
    pub fn read(&mut self, n: u32) {
        let _ = self.state.consume(n, self.now, &self.cfg, &self.ranges);
    }

    /// The application sends `n` bytes, and they go out.
    pub fn send(&mut self, n: u32) -> Vec<Reply> {
        assert_eq!(self.state.queue(n as usize), n as usize, "queued");
        self.transmit()
    }

    /// Everything `poll_transmit` has to send now.
    pub fn transmit(&mut self) -> Vec<Reply> {
        let mut v = Vec::new();
        while let Some(r) = self.state.poll_transmit(self.now, &self.cfg, &self.ranges) {
            v.push(r);
            assert!(v.len() < 64, "poll_transmit does not stop");
        }
        v
    }

    /// The application closes; our FIN goes out.
    pub fn close(&mut self, want: StateName) {
        self.state = self.state.close(self.now, &self.cfg).state;
        assert_eq!(self.state.name(), want, "close");
        let sent = self.transmit();
        assert!(
            sent.iter().any(|r| r.control == TcpControl::Fin),
            "our FIN goes out: {sent:?}"
        );
    }

    /// Runs `on_timeout` at `at`.
    pub fn timeout_at(&mut self, at: Instant) -> Outcome {
        self.now = at;
        let rx = RecvBuffer::new(&mut self.ranges, &mut self.buf).expect("rx buffer");
        let o = outcome(self.state.on_timeout(self.now, &self.cfg, &rx));
        self.state = o.state;
        o
    }

    /// The next timer fires, and what it makes due is sent.
    pub fn fire(&mut self) -> (Outcome, Vec<Reply>) {
        let at = self.state.poll_timeout().expect("a timer is armed");
        let o = self.timeout_at(at);
        let sent = self.transmit();
        (o, sent)
    }
}

/// A segment sent, in the RFC's notation.
pub fn show(r: &Reply) -> String {
    let ctl = match r.control {
        TcpControl::None => "",
        TcpControl::Syn => "SYN,",
        TcpControl::Fin => "FIN,",
        TcpControl::Rst => "RST,",
    };
    let ack = r.ack.map(|a| format!("<ACK={a}>")).unwrap_or_default();
    let flag = if r.ack.is_some() { "ACK" } else { "" };
    format!(
        "<SEQ={}>{ack}<CTL={}{flag}> len {} win {} ts {:?} sack {:?}",
        r.seq,
        ctl,
        r.len,
        r.window,
        r.options.timestamps.map(|t| (t.tsval, t.tsecr)),
        r.options.sack_blocks.as_slice()
    )
}

/// Compares a segment sent with the one expected; `Err` says how it differs.
fn check_out(
    fx: &Fx,
    v: &Vars,
    got: &Reply,
    want: &Out,
    seg_ack: Option<SeqNum>,
) -> Result<(), String> {
    let want_seq = resolve(v, want.seq, seg_ack);
    let want_ack = want.ack.map(|p| resolve(v, p, seg_ack));
    let mut errs = Vec::new();
    if got.control != want.ctl {
        errs.push(format!("control {:?}, want {:?}", got.control, want.ctl));
    }
    if got.seq != want_seq {
        errs.push(format!(
            "seq {}, want {} ({:?})",
            got.seq, want_seq, want.seq
        ));
    }
    if got.ack != want_ack {
        errs.push(format!(
            "ack {:?}, want {:?} ({:?})",
            got.ack, want_ack, want.ack
        ));
    }
    if got.len != want.len {
        errs.push(format!("len {}, want {}", got.len, want.len));
    }
    // RFC 7323 §3.2: TSopt "MUST be sent in every non-<RST> segment", and
    // SHOULD be in a RST; this core sends it in both.
    if got.options.timestamps.is_some() != fx.opts.ts {
        errs.push(format!(
            "timestamps {:?} with timestamps negotiated: {}",
            got.options.timestamps, fx.opts.ts
        ));
    }
    let want_sack: Vec<(SeqNum, SeqNum)> = want
        .sack
        .map(|(l, r)| vec![(resolve(v, l, seg_ack), resolve(v, r, seg_ack))])
        .unwrap_or_default();
    if got.options.sack_blocks.as_slice() != want_sack.as_slice() {
        errs.push(format!(
            "SACK blocks {:?}, want {:?}",
            got.options.sack_blocks.as_slice(),
            want_sack
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

fn check_replies(
    fx: &Fx,
    v: &Vars,
    got: &[Reply],
    want: &[Out],
    seg_ack: Option<SeqNum>,
    what: &str,
    errs: &mut Vec<String>,
) {
    if got.len() != want.len() {
        let got: Vec<String> = got.iter().map(show).collect();
        errs.push(format!(
            "{what}: {} segments, want {}: {got:?}",
            got.len(),
            want.len()
        ));
        return;
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if let Err(e) = check_out(fx, v, g, w, seg_ack) {
            errs.push(format!("{what} #{i}: {e}"));
        }
    }
}

fn check_after(fx: &Fx, before: &Vars, after: &[After], errs: &mut Vec<String>) {
    let v = fx.vars();
    for a in after {
        match *a {
            After::SndUna(p) => {
                let want = resolve(before, p, None);
                if v.snd_una != want {
                    errs.push(format!("SND.UNA {}, want {} ({p:?})", v.snd_una, want));
                }
            }
            After::RcvNxt(p) => {
                let want = resolve(before, p, None);
                if v.rcv_nxt != want {
                    errs.push(format!("RCV.NXT {}, want {} ({p:?})", v.rcv_nxt, want));
                }
            }
            After::TsRecent(ts) => {
                let want = tsval(before, ts);
                if v.ts_recent != want {
                    errs.push(format!(
                        "TS.Recent {:?}, want {want:?} ({ts:?})",
                        v.ts_recent
                    ));
                }
            }
            After::Deadline(d) => {
                let got = match fx.state {
                    State::FinWait2(s) => Some(s.deadline),
                    State::TimeWait(s) => Some(s.expires),
                    _ => None,
                };
                if got != Some(fx.now + d) {
                    errs.push(format!("deadline {got:?}, want now + {d:?}"));
                }
            }
            After::Timeout(d) => {
                let got = fx.state.poll_timeout();
                if got != d.map(|d| fx.now + d) {
                    errs.push(format!("poll_timeout {got:?}, want now + {d:?}"));
                }
            }
        }
    }
}

/// Runs every row of a table on a copy of `fx`; panics with every failing
/// row, named with its rule.
pub fn run_table(table: &str, fx: &Fx, rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let mut f = fx.clone();
        let before = f.vars();
        let repr = f.repr(&r.seg);
        let o = f.feed(&r.seg);
        let e = &r.expect;
        let mut errs = Vec::new();
        if o.state.name() != e.state {
            errs.push(format!("state {}, want {}", o.state.name(), e.state));
        }
        check_replies(
            &f,
            &before,
            &o.replies,
            &e.replies,
            repr.ack_number,
            "replies",
            &mut errs,
        );
        if o.events != e.events {
            errs.push(format!("events {:?}, want {:?}", o.events, e.events));
        }
        if o.dropped != e.drop {
            errs.push(format!("dropped {:?}, want {:?}", o.dropped, e.drop));
        }
        if o.delivered != e.delivered {
            errs.push(format!("delivered {}, want {}", o.delivered, e.delivered));
        }
        let want_reopen = e.reopen.map(|p| resolve(&before, p, None));
        if o.reopen != want_reopen {
            errs.push(format!("reopen {:?}, want {want_reopen:?}", o.reopen));
        }
        if o.dropped.is_some() && f.vars().rcv_nxt != before.rcv_nxt {
            errs.push("a dropped segment moved RCV.NXT".to_string());
        }
        check_after(&f, &before, &e.after, &mut errs);
        if !errs.is_empty() {
            failures.push(format!(
                "{table} row `{}` [{}]\n    segment: {:?} seq={} ack={:?} len={} ts={:?}\n    {}",
                r.name,
                r.rule,
                r.seg.ctl,
                repr.seq_number,
                repr.ack_number,
                r.seg.len,
                repr.options.timestamps,
                errs.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// One row of a timer table: `on_timeout` at the connection's
/// `poll_timeout`.
pub struct TimerRow {
    /// A short name.
    pub name: &'static str,
    /// The RFC rule, cited.
    pub rule: &'static str,
    /// The connection.
    pub fx: Fx,
    /// `poll_timeout`, from the fixture's now.
    pub due: Duration,
    /// What `on_timeout` returns (its replies are checked as such).
    pub expect: Expect,
    /// What `poll_transmit` then sends.
    pub transmit: Vec<Out>,
}

/// A timer row.
pub fn timer(
    name: &'static str,
    rule: &'static str,
    fx: Fx,
    due: Duration,
    expect: Expect,
    transmit: Vec<Out>,
) -> TimerRow {
    TimerRow {
        name,
        rule,
        fx,
        due,
        expect,
        transmit,
    }
}

/// Runs a timer table: for each row, `poll_timeout` is `due` from now;
/// `on_timeout` a microsecond earlier changes nothing; at `due` it does
/// what the row expects, then `poll_transmit` sends `transmit`.
pub fn run_timers(rows: &[TimerRow]) {
    let mut failures = Vec::new();
    for r in rows {
        let mut f = r.fx.clone();
        let before = f.vars();
        let mut errs = Vec::new();
        let due = f.state.poll_timeout();
        let want_due = f.now + r.due;
        if due != Some(want_due) {
            errs.push(format!("poll_timeout {due:?}, want now + {:?}", r.due));
        }
        if let Some(due) = due {
            let mut early = f.clone();
            let o = early.timeout_at(Instant::from_micros(due.as_micros() - 1));
            if o.state != f.state || !o.replies.is_empty() || !o.events.is_empty() {
                errs.push(format!("on_timeout before the deadline acted: {o:?}"));
            }
            let o = f.timeout_at(due);
            let e = &r.expect;
            if o.state.name() != e.state {
                errs.push(format!("state {}, want {}", o.state.name(), e.state));
            }
            check_replies(
                &f,
                &before,
                &o.replies,
                &e.replies,
                None,
                "on_timeout",
                &mut errs,
            );
            if o.events != e.events {
                errs.push(format!("events {:?}, want {:?}", o.events, e.events));
            }
            let sent = f.transmit();
            check_replies(
                &f,
                &before,
                &sent,
                &r.transmit,
                None,
                "poll_transmit",
                &mut errs,
            );
            check_after(&f, &before, &e.after, &mut errs);
        }
        if !errs.is_empty() {
            failures.push(format!(
                "timer row `{}` [{}]\n    {}",
                r.name,
                r.rule,
                errs.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} timer rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
