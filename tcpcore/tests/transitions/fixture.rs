//! The fixtures: a connection brought into each state by `State::accept`
//! (`State::connect` for SYN-SENT) and `State::on_segment`, and the
//! connection's variables that rows are written against.

use super::*;
use tcpcore::conn::{Buffers, RecvBuffer, RecvRanges, Reply, SegmentDrop, State, Transition};
use tcpcore::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps};
use tcpcore::{Config, Duration, Event, Instant, SeqNum, StateName};

/// The connection's variables, read from the state.
#[derive(Clone, Copy, Debug)]
pub struct Vars {
    pub rcv_nxt: SeqNum,
    pub rcv_right: SeqNum,
    pub snd_una: SeqNum,
    pub snd_nxt: SeqNum,
    pub max_wnd: u32,
    pub ts_recent: Option<u32>,
}

pub fn vars(s: &State) -> Vars {
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
        State::SynReceived(x) => (Some(*x.snd()), x.tcb().ts()),
        State::Established(x) | State::FinWait1(x) => (Some(*x.snd()), x.tcb().ts()),
        State::FinWait2(x) => (Some(*x.snd()), x.tcb().ts()),
        State::CloseWait(x) | State::Closing(x) | State::LastAck(x) => {
            v.rcv_right = x.rcv().right();
            (Some(*x.snd()), x.tcb().ts())
        }
        State::TimeWait(x) => {
            v.rcv_right = x.rcv().right();
            v.snd_una = x.snd_nxt();
            v.snd_nxt = x.snd_nxt();
            (None, x.ts())
        }
        // SYN-SENT: SND.UNA = ISS, SND.NXT = ISS + 1; nothing of the
        // peer's is known (its rows use `P::Irs`).
        State::SynSent(x) => {
            v.snd_una = x.iss();
            v.snd_nxt = x.iss() + 1;
            (None, None)
        }
        State::Closed(_) => (None, None),
    };
    if let Some(snd) = snd {
        v.snd_una = snd.una();
        v.snd_nxt = snd.max();
        v.max_wnd = snd.max_wnd();
    }
    v.ts_recent = ts.map(|t| t.recent());
    v
}

pub fn add(s: SeqNum, n: i32) -> SeqNum {
    SeqNum::new(s.get().wrapping_add(n as u32))
}

pub fn resolve(v: &Vars, p: P, seg_ack: Option<SeqNum>) -> SeqNum {
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

pub fn tsval(v: &Vars, ts: Ts) -> Option<u32> {
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

pub fn outcome(t: Transition<'_>) -> Outcome {
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

    /// The application opens a connection (`State::connect`, ISS): our SYN
    /// is out, SYN-SENT, 50 ms later. The peer's segments in rows carry no
    /// options, so nothing but the MSS is negotiated.
    pub fn syn_sent() -> Fx {
        let cfg = Config::default();
        let now = Instant::from_millis(10_000);
        let (state, syn) =
            State::connect(SeqNum::new(ISS), 0, now, &cfg, Buffers { rx: RX, tx: TX });
        assert_eq!(
            (syn.seq, syn.ack, syn.control),
            (SeqNum::new(ISS), None, TcpControl::Syn),
            "connect sends <SEQ=ISS><CTL=SYN>"
        );
        let mut fx = Fx {
            state,
            now,
            cfg,
            opts: PLAIN,
            ranges: RecvRanges::default(),
            buf: vec![0; RX],
        };
        fx.wait(Duration::from_millis(50));
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
        let mut sack_blocks = SackBlocks::new();
        if let Some((l, r)) = s.sack_block() {
            let _ = sack_blocks.push(resolve(&v, l, None), resolve(&v, r, None));
        }
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
                sack_blocks,
                ..TcpOptions::default()
            },
            payload: &DATA[..s.len as usize],
        }
    }

    /// Feeds a segment; the state moves on.
    pub fn feed(&mut self, s: &Seg) -> Outcome {
        let mut o = self.arrive(s);
        // The ACK the transition made owed goes out now (with data to
        // send, `poll_transmit` puts it on the data instead).
        o.replies.extend(self.poll_ack());
        o.state = self.state;
        o
    }

    /// Feeds a segment and sends nothing yet: an ACK the transition made
    /// owed stays owed (see [`Fx::transmit`], [`Fx::poll_ack`]).
    pub fn arrive(&mut self, s: &Seg) -> Outcome {
        let repr = self.repr(s);
        let mut rx = RecvBuffer::new(&mut self.ranges, &mut self.buf).expect("rx buffer");
        let o = outcome(self.state.on_segment(&repr, self.now, &self.cfg, &mut rx));
        self.state = o.state;
        o
    }

    /// The owed pure ACK alone, if any.
    pub fn poll_ack(&mut self) -> Option<Reply> {
        self.state.poll_ack(self.now, &self.cfg, &self.ranges)
    }

    /// Feeds a segment that must lead to `want` (building fixtures).
    pub fn step(&mut self, s: Seg, want: StateName) {
        let o = self.feed(&s);
        assert_eq!(o.state.name(), want, "fixture step {s:?}: {o:?}");
    }

    /// The application reads `n` bytes.
    pub fn read(&mut self, n: u32) {
        if self.state.consume(n, &self.cfg) {
            // The window update is not what the rows look at.
            let _ = self.state.poll_ack(self.now, &self.cfg, &self.ranges);
        }
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
