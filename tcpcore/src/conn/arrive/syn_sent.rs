//! The active open (RFC 9293 §3.10.1 OPEN, §3.10.7.3 SYN-SENT): our SYN
//! goes out ([`State::connect`]); the peer's SYN-ACK completes the
//! handshake (options negotiated as RFC 7323 §2.2, §3.2 and RFC 2018 §2
//! say, the RTT sample of RFC 6298 §3 / RFC 7323 §4.1), its bare SYN makes
//! a simultaneous open (MUST-10), its RST refuses the connection when it
//! acknowledges our SYN (RFC 5961 §3.2), and anything else is dropped.
//!
//! §3.10.7.3 is its own procedure, not §3.10.7.4's: the ACK is checked
//! first, and nothing is judged against RCV.NXT (there is none yet). Its
//! steps, in the RFC's order, are written as [`steps`](super::steps)' are:
//! each returns a [`Step`], going on or stopping with a [`Stop`], and a
//! stop ends through the shared [`stopped`]. Only the third step and that
//! machinery are shared.
//!
//! | RFC 9293 §3.10.7.3 | function |
//! |--------------------|----------|
//! | first: the ACK bit (SEG.ACK =< ISS or > SND.NXT: `<SEQ=SEG.ACK><CTL=RST>`) | `first_ack` |
//! | second: the RST bit (acceptable if it acknowledges our SYN, §3.5.3; its SEQ unchecked) | `second_rst` |
//! | third: security | `steps::third_security` |
//! | fourth: the SYN bit | `fourth_syn`, then `established` (SYN-ACK: ESTABLISHED, ACK owed, sixth step on) or `simultaneous_open` (bare SYN: SYN-RECEIVED, SYN-ACK) |
//! | fifth: neither SYN nor RST, drop | `fifth_drop` |
//!
//! Where the RFCs leave a choice, Linux's `tcp_rcv_synsent_state_process`
//! (net/ipv4/tcp_input.c) is followed, as said at each place.

use core::ops::ControlFlow;

use crate::conn::arrive::steps::{stopped, third_security, Step, Stop};
use crate::conn::arrive::synchronized::after_ack_into;
use crate::conn::ecn;
use crate::conn::keepalive::ConnOptions;
use crate::conn::recv::ack::AckOwed;
use crate::conn::recv::quickack::QuickAck;
use crate::conn::send::{self, rtt_sample, rtt_update, WriteEnds};
use crate::conn::state::OpenKind;
use crate::conn::{
    effective_send_mss, window_shift_for, Buffers, CloseReason, Config, Congestion, Event, Open,
    RecvBuffer, RecvHalf, Reply, Rtx, SegmentDrop, SendHalf, State, SynSent, Tcb, Transition,
    TsState, MAX_WINDOW_SHIFT,
};
use crate::conn::{Timer, TimerTable};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps};

impl State {
    /// The application opens a connection (RFC 9293 §3.10.1, active OPEN):
    /// SYN-SENT, and the SYN `<SEQ=ISS><CTL=SYN>` to send.
    ///
    /// The SYN offers what a SYN-ACK of ours accepts (see
    /// [`State::accept`]): our MSS (`cfg.mss`, the MTU less 40), window
    /// scaling with the shift our receive buffer needs
    /// ([`window_shift_for`]), SACK-permitted and timestamps (TSval our
    /// clock plus `ts_offset`), each when `cfg` allows it. The
    /// retransmission timer starts at `cfg.rto_initial` (RFC 6298 §2.1:
    /// 1 s, Linux `TCP_TIMEOUT_INIT`).
    pub fn connect(
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
        cfg: &Config,
        bufs: Buffers,
    ) -> (State, Reply) {
        let cap = bufs.rx.min(1 << 30) as u32;
        let mut s = SynSent {
            iss,
            ts_offset: cfg.timestamps.then_some(ts_offset),
            wscale: cfg.window_scale.then(|| window_shift_for(cap as usize)),
            sack: cfg.sack,
            rcv_cap: cap,
            snd_buf: bufs.tx.min(1 << 30) as u32,
            rtx: Rtx::new(now, cfg),
            timers: TimerTable::new(),
            opts: ConnOptions::new(cfg),
            ecn: ecn::request(cfg),
        };
        send::arm(&mut s.rtx, &mut s.timers, now, cfg);
        let syn = syn(&s, now, cfg);
        (State::SynSent(s), syn)
    }

    /// SYN-SENT's SYN goes out again now, without counting as a
    /// retransmission: the endpoint has just learnt where to send it (the
    /// neighbour's link-layer address). If it never left before, it leaves
    /// now (RTT samples count from here); the timer restarts from now.
    /// `None` in any other state.
    pub fn resend_syn(&mut self, now: Instant, cfg: &Config) -> Option<Reply> {
        let State::SynSent(s) = self else {
            return None;
        };
        if s.rtx.retries == 0 {
            s.rtx.sent_at = now;
        }
        let at = now + send::backed_off(&s.rtx, cfg);
        s.timers.set(Timer::Retransmit, at);
        Some(syn(s, now, cfg))
    }
}

/// Our SYN, with the options `s` offers; RFC 7323 §2.2: the window field of
/// a SYN is never scaled.
pub(crate) fn syn(s: &SynSent, now: Instant, cfg: &Config) -> Reply {
    Reply {
        seq: s.iss,
        len: 0,
        gso: 0,
        push: false,
        ack: None,
        control: TcpControl::Syn,
        window: s.rcv_cap.min(0xffff) as u16,
        options: TcpOptions {
            mss: Some(cfg.mss),
            window_scale: s.wscale,
            sack_permitted: s.sack,
            sack_blocks: SackBlocks::new(),
            timestamps: s.ts_offset.map(|off| Timestamps {
                tsval: (now.as_millis() as u32).wrapping_add(off),
                tsecr: 0,
            }),
        },
        // RFC 3168 §6.1.1: an ECN-setup SYN; never ECT.
        ece: ecn::syn_setup(s.ecn, s.rtx.retries),
        cwr: ecn::syn_setup(s.ecn, s.rtx.retries),
        ect: false,
    }
}

/// What the fourth step makes of a SYN in SYN-SENT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handshake {
    /// "If SND.UNA > ISS (our SYN has been ACKed), change the connection
    /// state to ESTABLISHED" -- and go on at the sixth step.
    Established,
    /// "Otherwise, enter SYN-RECEIVED" (a simultaneous open).
    SimultaneousOpen,
}

/// RFC 9293 §3.10.7.3: a segment arrives in SYN-SENT. The steps run in the
/// RFC's order ([`first_to_fifth`]); a stop ends through the shared
/// [`stopped`], a SYN in [`established`] or [`simultaneous_open`].
pub(crate) fn syn_sent<'a>(
    s: SynSent,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    let mut t = Transition::new(State::SynSent(s));
    match first_to_fifth(&s, seg, &mut t) {
        ControlFlow::Break(stop) => stopped(t, stop, State::SynSent(s)),
        ControlFlow::Continue(Handshake::Established) => established(s, seg, now, cfg, rx, t),
        ControlFlow::Continue(Handshake::SimultaneousOpen) => {
            simultaneous_open(s, seg, now, cfg, t)
        }
    }
}

/// RFC 9293 §3.10.7.3 first to fifth. Not §3.10.7.4's steps: nothing of the
/// peer's sequence space is known yet, so there is no sequence-number
/// check, and the ACK comes first. Only the third step is the shared one.
/// Goes on with what the SYN makes of the connection.
fn first_to_fifth(s: &SynSent, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step<Handshake> {
    let acked = first_ack(s, seg, t)?;
    second_rst(acked, seg)?;
    third_security()?;
    let syn = fourth_syn(acked, seg)?;
    fifth_drop(syn)
}

/// RFC 9293 §3.10.7.3 first: "check the ACK bit. If the ACK bit is set, If
/// SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is
/// set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and
/// discard the segment. Return. If SND.UNA < SEG.ACK =< SND.NXT, then the
/// ACK is acceptable." SND.UNA = ISS and SND.NXT = ISS + 1: the only
/// acceptable ACK is ISS + 1. Goes on with whether the segment carries that
/// acceptable ACK (`false`: no ACK at all).
fn first_ack(s: &SynSent, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step<bool> {
    match seg.ack_number {
        None => ControlFlow::Continue(false),
        Some(ack) if ack == s.iss + 1 => ControlFlow::Continue(true),
        Some(ack) => {
            if seg.control != TcpControl::Rst {
                t.reply(Reply::rst(ack, None));
            }
            ControlFlow::Break(Stop::Drop(SegmentDrop::BadAck))
        }
    }
}

/// RFC 9293 §3.10.7.3 second: "check the RST bit. If the RST bit is set, If
/// the ACK was acceptable, then signal to the user "error: connection
/// reset", drop the segment, enter CLOSED state, delete TCB, and return.
/// Otherwise (no ACK), drop the segment and return." As RFC 9293 §3.5.3
/// has it: "In the SYN-SENT state (a RST received in response to an
/// initial SYN), the RST is acceptable if the ACK field acknowledges the
/// SYN" -- its sequence number is not checked, as nothing of the peer's is
/// known; RFC 5961 §3.2's checks against RCV.NXT (§3.10.7.4's
/// `second_rst`) are for the states that have one. An unacceptable ACK was
/// dropped by the first step.
fn second_rst(acked: bool, seg: &TcpRepr<'_>) -> Step {
    match (seg.control, acked) {
        (TcpControl::Rst, true) => ControlFlow::Break(Stop::Reset),
        (TcpControl::Rst, false) => ControlFlow::Break(Stop::Drop(SegmentDrop::RstNotExact)),
        _ => ControlFlow::Continue(()),
    }
}

/// RFC 9293 §3.10.7.3 fourth: "check the SYN bit. This step should be
/// reached only if the ACK is ok, or there is no ACK, and the segment did
/// not contain a RST. If the SYN bit is on ... If SND.UNA > ISS (our SYN
/// has been ACKed), change the connection state to ESTABLISHED ...
/// Otherwise, enter SYN-RECEIVED". Goes on with which of the two, or `None`
/// without a SYN (for the fifth step).
fn fourth_syn(acked: bool, seg: &TcpRepr<'_>) -> Step<Option<Handshake>> {
    ControlFlow::Continue(match (seg.control, acked) {
        (TcpControl::Syn, true) => Some(Handshake::Established),
        (TcpControl::Syn, false) => Some(Handshake::SimultaneousOpen),
        _ => None,
    })
}

/// RFC 9293 §3.10.7.3 fifth: "if neither of the SYN or RST bits is set,
/// then drop the segment and return" -- an acceptable ACK without SYN, data,
/// a FIN (the RST stopped at the second step).
fn fifth_drop(syn: Option<Handshake>) -> Step<Handshake> {
    match syn {
        Some(h) => ControlFlow::Continue(h),
        None => ControlFlow::Break(Stop::Drop(SegmentDrop::BadAck)),
    }
}

/// RFC 9293 §3.10.7.3 fourth, a SYN without ACK: "Otherwise, enter
/// SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
/// and send it." (a simultaneous open, RFC 9293 §3.5, MUST-10). The SYN-ACK
/// offers what our SYN did and is negotiated against the peer's SYN exactly
/// as LISTEN does. "If there are other controls or text in the segment,
/// queue them for processing after the ESTABLISHED state has been reached"
/// -- they are not kept here (the peer retransmits them), as Linux
/// (tcp_rcv_synsent_state_process: "We see SYN without ACK ... " drops the
/// data of the SYN).
fn simultaneous_open<'a>(
    s: SynSent,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
    mut t: Transition<'a>,
) -> Transition<'a> {
    let bufs = Buffers {
        rx: s.rcv_cap as usize,
        tx: s.snd_buf as usize,
    };
    let mut syn = ecn::simultaneous_syn(s.ecn, seg);
    syn.payload = &[];
    let off = s.ts_offset.unwrap_or(0);
    let accepted = State::accept(&syn, s.iss, off, now, cfg, bufs);
    t.state = accepted.state;
    if let State::SynReceived(mut r) = accepted.state {
        r.simultaneous = true;
        t.state = State::SynReceived(r);
    }
    for r in accepted.replies {
        t.reply(r);
    }
    t
}

/// RFC 9293 §3.10.7.3 fourth, a SYN-ACK that acknowledges our SYN: "RCV.NXT
/// is set to SEG.SEQ+1, IRS is set to SEG.SEQ. SND.UNA should be advanced
/// to equal SEG.ACK ... If SND.UNA > ISS (our SYN has been ACKed), change
/// the connection state to ESTABLISHED, form an ACK segment
/// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it. Data or controls that
/// were queued for transmission MAY be included. ... If there are other
/// controls or text in the segment, then continue processing at the sixth
/// step".
fn established<'a>(
    s: SynSent,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
    mut t: Transition<'a>,
) -> Transition<'a> {
    let irs = seg.seq_number;
    let open = synchronize(s, seg, now, cfg);
    t.event(Event::Established);
    // Sixth on: the SYN-ACK's text (data in a SYN-ACK is accepted, RFC
    // 9293 §3.10.7.3) and FIN, as in ESTABLISHED, from IRS + 1.
    let mut rest = *seg;
    rest.seq_number = irs + 1;
    rest.control = TcpControl::None;
    after_ack_into(
        OpenKind::Established,
        open,
        false,
        &rest,
        now,
        cfg,
        rx,
        &mut t,
    );
    // "form an ACK segment ... and send it": at once, not delayed (Linux
    // delays it only with data waiting to go or TCP_DEFER_ACCEPT /
    // quickack off, none of which applies here).
    // `poll_transmit` sends it, after any data queued during SYN-SENT
    // (which carries it).
    match &mut t.state {
        State::Established(o) => o.tcb.owe(AckOwed::Now),
        State::CloseWait(o) => o.tcb.owe(AckOwed::Now),
        _ => {}
    }
    t
}

/// The synchronized connection a SYN-ACK makes of SYN-SENT: options
/// negotiated ([`negotiate`]), the RTT sample, the initial window and the
/// sequence variables.
fn synchronize(s: SynSent, seg: &TcpRepr<'_>, now: Instant, cfg: &Config) -> Open {
    let n = negotiate(&s, seg, now, cfg);
    let irs = seg.seq_number;
    let mut tcb = Tcb {
        ts: n.ts,
        sack: n.sack,
        last_ack_sent: irs + 1,
        challenge: (now, 0),
        rtx: s.rtx,
        timers: s.timers,
        ack_owed: AckOwed::No,
        ka_probes: 0,
        opts: s.opts,
        // RFC 3168 §6.1.1: the SYN-ACK's answer to our SYN.
        ecn: ecn::on_syn_ack(s.ecn, seg),
        soft_err: None,
    };
    let retried = handshake_rtt(&mut tcb, seg, now, cfg);
    let snd = send_half(&s, seg, &n, retried, cfg);
    let rcv = RecvHalf {
        irs,
        nxt: irs + 1,
        read: irs + 1,
        wscale: n.rcv_wscale,
        cap: s.rcv_cap,
        adv_right: irs + 1 + s.rcv_cap.min(0xffff),
        unacked: 0,
        fin: None,
        ackq: QuickAck::new(
            cfg.mss,
            send::smss_for(snd.mss, tcb.ts.is_some()).min(0xffff) as u16,
            s.rcv_cap,
            tcb.ts.is_some(),
        ),
        dsack: None,
    };
    Open { tcb, snd, rcv }
}

/// What our SYN and the peer's SYN-ACK settle between them.
struct Negotiated {
    /// The peer's window shift (applied to SEG.WND).
    snd_wscale: u8,
    /// Ours.
    rcv_wscale: u8,
    /// Timestamps, with TS.Recent from the SYN-ACK.
    ts: Option<TsState>,
    /// SACK.
    sack: bool,
    /// The effective send MSS.
    mss: u16,
}

/// RFC 7323 §2.2, §3.2, RFC 2018 §2: window scaling, timestamps and SACK
/// each only if both SYNs carry the option; a shift above 14 is taken as 14
/// (RFC 7323 §2.3). The send MSS as RFC 9293 §3.7.1 has it
/// ([`effective_send_mss`]).
fn negotiate(s: &SynSent, seg: &TcpRepr<'_>, now: Instant, cfg: &Config) -> Negotiated {
    let opts = &seg.options;
    let (snd_wscale, rcv_wscale) = match (s.wscale, opts.window_scale) {
        (Some(ours), Some(peer)) => (peer.min(MAX_WINDOW_SHIFT), ours),
        _ => (0, 0),
    };
    let ts = match (s.ts_offset, opts.timestamps) {
        (Some(offset), Some(t)) => Some(TsState {
            recent: t.tsval,
            recent_at: now,
            offset,
        }),
        _ => None,
    };
    Negotiated {
        snd_wscale,
        rcv_wscale,
        ts,
        sack: s.sack && opts.sack_permitted,
        mss: effective_send_mss(opts.mss, ts.is_some(), cfg),
    }
}

/// The send half after the SYN-ACK: SND.UNA = SND.NXT = ISS + 1, the
/// peer's window, SND.WL1 = IRS, SND.WL2 = ISS + 1, the initial window.
fn send_half(
    s: &SynSent,
    seg: &TcpRepr<'_>,
    n: &Negotiated,
    retried: bool,
    cfg: &Config,
) -> SendHalf {
    let ack = s.iss + 1;
    let smss = send::smss_for(n.mss, n.ts.is_some());
    let mut cc = Congestion::new(smss, cfg.congestion_control).paced(cfg.pacing);
    if retried {
        // RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial
        // window used by a sender after a correctly transmitted SYN MUST be
        // one segment". (Linux tcp_init_transfer cuts cwnd to 1 only after
        // two or more retransmissions; the RFC's MUST is followed.)
        cc.cc.set_cwnd(smss);
    }
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    let wnd = u32::from(seg.window_len);
    SendHalf {
        iss: s.iss,
        una: ack,
        nxt: ack,
        wnd,
        max_wnd: wnd,
        wl1: seg.seq_number,
        wl2: ack,
        wscale: n.snd_wscale,
        mss: n.mss,
        buf: s.snd_buf,
        max: ack,
        end: ack,
        fin: false,
        writes: WriteEnds::new(ack),
        cc,
    }
}

/// The SYN timer fires (RFC 6298 §5.4-5.6 for the SYN, §5.5 back-off):
/// the SYN again, or, after `cfg.syn_retries` retransmissions, the end
/// ([`CloseReason::TimedOut`], no reset: nothing was synchronized).
pub(crate) fn syn_sent_timeout(mut s: SynSent, now: Instant, cfg: &Config) -> Transition<'static> {
    if !s.timers.due(Timer::Retransmit, now) {
        return Transition::new(State::SynSent(s));
    }
    if s.rtx.retries >= cfg.syn_retries {
        let mut t = Transition::new(State::Closed(CloseReason::TimedOut));
        t.event(Event::Closed(CloseReason::TimedOut));
        return t;
    }
    s.rtx.retries += 1;
    s.rtx.backoff = s.rtx.backoff.saturating_add(1);
    let at = now + send::backed_off(&s.rtx, cfg);
    s.timers.set(Timer::Retransmit, at);
    let mut t = Transition::new(State::SynSent(s));
    t.reply(syn(&s, now, cfg));
    t
}

/// The handshake's timer bookkeeping: the RTT sample, or the RTO of RFC
/// 6298 §5.7; the timer stopped. Returns whether the SYN was retransmitted.
fn handshake_rtt(tcb: &mut Tcb, seg: &TcpRepr<'_>, now: Instant, cfg: &Config) -> bool {
    let mut rtx = tcb.rtx;
    // The handshake's RTT sample (RFC 6298 §3, Karn): from when the SYN
    // went out, in microseconds, unless it was retransmitted; else from
    // the SYN-ACK's TSecr when it echoes one (RFC 7323 §4.1; Linux
    // tcp_ack_update_rtt prefers the send time to TSecr).
    if rtx.retries == 0 {
        rtt_sample(&mut rtx, now, cfg);
    } else if let Some(sample) = send::ts_rtt_fallback(tcb, seg, now) {
        rtt_update(&mut rtx, sample, cfg);
    } else if rtx.rtt.is_none() {
        // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN
        // segment and the TCP implementation is using an RTO less than 3
        // seconds, the RTO MUST be re-initialized to 3 seconds when data
        // transmission begins" (Linux tcp_init_metrics:
        // TCP_TIMEOUT_FALLBACK).
        rtx.rto = rtx.rto.max(Duration::from_secs(3)).min(cfg.rto_max);
    }
    let retried = rtx.retries > 0;
    tcb.timers.clear(Timer::Retransmit);
    rtx.retries = 0;
    rtx.backoff = 0;
    tcb.rtx = rtx;
    retried
}
