//! LISTEN receives a SYN (RFC 9293 §3.10.7.2) and SYN-RECEIVED receives a
//! segment (RFC 9293 §3.10.7.4): the handshake completes, with its RTT
//! sample (RFC 6298 §3, RFC 7323 §4.1) and initial window (RFC 5681 §3.1).

use core::ops::ControlFlow;

use crate::conn::arrive::steps::{
    first_sequence, fourth_syn, second_rst, stopped, third_security, Arrival, Rcv, Step, Stop,
};
use crate::conn::arrive::synchronized::after_ack_into;
use crate::conn::close::rst_ts;
use crate::conn::ecn;
use crate::conn::recv::quickack::QuickAck;
use crate::conn::send::{arm, rtt_sample, WriteEnds};
use crate::conn::state::{ts_now, ts_option, OpenKind};
use crate::conn::Timer;
use crate::conn::{
    effective_send_mss, send, window_shift_for, Buffers, Config, Congestion, Event, Open,
    RecvBuffer, RecvHalf, Reply, SegmentDrop, SendHalf, State, SynReceived, Tcb, Transition,
    TsState, MAX_WINDOW_SHIFT,
};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr};

impl State {
    /// LISTEN receives a SYN (RFC 9293 §3.10.7.2): choose the ISS, negotiate
    /// options, enter SYN-RECEIVED and send `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`.
    ///
    /// The SYN-ACK carries our MSS, and window scale, SACK-permitted and
    /// timestamps when the client offered them and `cfg` allows them.
    /// `ts_offset` randomises our timestamp clock. The caller has checked
    /// that `syn` is a SYN without ACK or RST.
    pub fn accept(
        syn: &TcpRepr<'_>,
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
        cfg: &Config,
        bufs: Buffers,
    ) -> Transition<'static> {
        let opts = &syn.options;
        // RFC 7323 §2.2: scaling only if both sides send the option; a shift
        // above 14 is taken as 14 (§2.3).
        let (snd_wscale, rcv_wscale, scaled) = match opts.window_scale {
            Some(peer) if cfg.window_scale => {
                (peer.min(MAX_WINDOW_SHIFT), window_shift_for(bufs.rx), true)
            }
            _ => (0, 0, false),
        };
        let ts = match opts.timestamps {
            Some(t) if cfg.timestamps => Some(TsState {
                recent: t.tsval,
                recent_at: now,
                offset: ts_offset,
            }),
            _ => None,
        };
        let irs = syn.seq_number;
        let send_mss = effective_send_mss(opts.mss, ts.is_some(), cfg);
        let mut s = SynReceived {
            tcb: Tcb::new(ts, cfg.sack && opts.sack_permitted, irs + 1, now, cfg),
            snd: SendHalf {
                iss,
                una: iss,
                nxt: iss + 1,
                wnd: u32::from(syn.window_len), // RFC 7323 §2.2: the SYN's window is not scaled
                max_wnd: u32::from(syn.window_len),
                wl1: irs,
                wl2: iss,
                wscale: snd_wscale,
                mss: send_mss,
                buf: bufs.tx.min(1 << 30) as u32,
                max: iss + 1,
                end: iss + 1,
                fin: false,
                writes: WriteEnds::new(iss),
                // RFC 6928 §2: IW from SMSS, the effective MSS less options.
                cc: Congestion::new(
                    send::smss_for(send_mss, ts.is_some()),
                    cfg.congestion_control,
                )
                .paced(cfg.pacing),
            },
            rcv: RecvHalf {
                irs,
                nxt: irs + 1,
                read: irs + 1,
                wscale: rcv_wscale,
                cap: bufs.rx.min(1 << 30) as u32,
                adv_right: irs + 1,
                unacked: 0,
                fin: None,
                ackq: QuickAck::new(
                    cfg.mss,
                    send_mss.saturating_sub(if ts.is_some() { 12 } else { 0 }),
                    bufs.rx.min(1 << 30) as u32,
                    ts.is_some(),
                ),
                dsack: None,
            },
            window_scaling: scaled,
            dup_syn_answered: None,
            close_queued: false,
            simultaneous: false,
        };
        // RFC 3168 §6.1.1: ECN when the SYN asks for it and we allow it.
        s.tcb.ecn = ecn::accept_syn(syn, cfg);
        let reply = syn_ack(&mut s, now, cfg);
        arm(&mut s.tcb.rtx, &mut s.tcb.timers, now, cfg);
        let mut t = Transition::new(State::SynReceived(s));
        t.reply(reply);
        t
    }
}

pub(crate) fn syn_ack(s: &mut SynReceived, now: Instant, cfg: &Config) -> Reply {
    let window_scaling = s.window_scaling;
    let SynReceived { tcb, snd, rcv, .. } = s;
    let window = rcv.cap.min(0xffff) as u16; // RFC 7323 §2.2: the SYN's window is never scaled.
    rcv.adv_right = rcv.nxt + u32::from(window);
    let options = TcpOptions {
        mss: Some(cfg.mss),
        window_scale: window_scaling.then_some(rcv.wscale),
        sack_permitted: tcb.sack,
        sack_blocks: SackBlocks::new(),
        timestamps: ts_option(tcb.ts, now),
    };
    tcb.last_ack_sent = rcv.nxt;
    Reply {
        seq: snd.iss,
        len: 0,
        gso: 0,
        push: false,
        ack: Some(rcv.nxt),
        control: TcpControl::Syn,
        window,
        options,
        // RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE, not CWR, and is
        // never ECT.
        ece: tcb.ecn.negotiated(),
        cwr: false,
        ect: false,
    }
}

#[inline]
pub(crate) fn syn_received<'a>(
    mut s: SynReceived,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    if let Some(t) = retransmitted_syn(&mut s, seg, now, cfg) {
        return t;
    }
    let simul;
    let seg = match simultaneous_syn_ack(&s, seg) {
        Some(ack) => {
            simul = ack;
            &simul
        }
        None => seg,
    };
    let mut t = Transition::new(State::SynReceived(s));
    match first_to_fifth(&mut s, seg, now, cfg, rx, &mut t) {
        ControlFlow::Break(stop) => stopped(t, stop, State::SynReceived(s)),
        ControlFlow::Continue(ack) => {
            let (est, close_queued) = establish(s, ack, seg, now, cfg);
            t.event(Event::Established);
            // The rest of the segment (sixth to eighth: URG, text, FIN) as
            // in ESTABLISHED.
            after_ack_into(OpenKind::Established, est, false, seg, now, cfg, rx, &mut t);
            if close_queued {
                // RFC 9293 §3.10.4: the CLOSE queued in SYN-RECEIVED is
                // processed now that the connection is ESTABLISHED (or
                // CLOSE-WAIT, if this segment carried the peer's FIN);
                // `poll_transmit` sends the FIN.
                let c = t.state.close(now, cfg);
                t.state = c.state;
            }
            t
        }
    }
}

/// A retransmitted SYN (SEG.SEQ = IRS) means the client lost our SYN-ACK:
/// it gets the same SYN-ACK at once. It would fail the acceptability test
/// ("If an incoming segment is not acceptable, an acknowledgment should be
/// sent in reply", RFC 9293 §3.10.7.4 first), so it is recognised before
/// the steps, as Linux's tcp_check_req does. Only the answers to further
/// duplicates are debounced, one per `cfg.syn_debounce` (Linux:
/// tcp_oow_rate_limited with tcp_invalid_ratelimit, 500 ms); the SYN-ACKs
/// of `accept` and of the retransmission timer do not count.
#[inline]
fn retransmitted_syn<'a>(
    s: &mut SynReceived,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) -> Option<Transition<'a>> {
    if !(seg.control == TcpControl::Syn && seg.ack_number.is_none() && seg.seq_number == s.rcv.irs)
    {
        return None;
    }
    let mut t = Transition::new(State::SynReceived(*s));
    let limited = s
        .dup_syn_answered
        .is_some_and(|at| now.saturating_since(at) < cfg.syn_debounce);
    if !limited {
        s.dup_syn_answered = Some(now);
        let r = syn_ack(s, now, cfg);
        t.reply(r);
        t.state = State::SynReceived(*s);
    }
    Some(t)
}

/// RFC 9293 §3.10.7.4 first to fifth in SYN-RECEIVED: the shared first and
/// second steps, with a SYN judged by the first as RFC 9293 orders it (RFC
/// 5961 §4 is for synchronized states); the fourth and fifth are
/// SYN-RECEIVED's own. Goes on with the acceptable SEG.ACK.
#[inline]
fn first_to_fifth(
    s: &mut SynReceived,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
    rx: &RecvBuffer<'_>,
    t: &mut Transition<'_>,
) -> Step<SeqNum> {
    let simultaneous = s.simultaneous;
    let SynReceived { tcb, snd, rcv, .. } = &mut *s;
    let mut a = Arrival {
        tcb,
        snd_nxt: snd.nxt,
        rcv: Rcv::Open(rcv, rx),
        now,
        cfg,
        synchronized: false,
        owe: false,
        // Before the handshake completes there is no duplicate ACK to
        // spare (Linux judges it by a send window not yet set): strict.
        paws_exempt: false,
    };
    first_sequence(&mut a, seg, t)?;
    second_rst(&mut a, seg, t)?;
    third_security()?;
    fourth_syn_received(&mut a, simultaneous, seg, t)?;
    fifth_syn_received(s, seg, now, t)
}

/// RFC 9293 §3.10.7.4 fourth in SYN-RECEIVED, for a SYN that passed the
/// first step: "SYN-RECEIVED STATE: If the connection was initiated with a
/// passive OPEN, then return this connection to the LISTEN state and
/// return" -- the embryonic connection goes, without a reply. (Linux
/// tcp_check_req does the same, except that it also sends a RST for the
/// in-window SYN, `embryonic_reset`; the RFC sends nothing, and a RST to an
/// address that may be spoofed helps no one.) "Otherwise, handle per the
/// directions for synchronized states": a connection we opened
/// (simultaneous open) answers with RFC 5961 §4's challenge ACK and stays
/// (Linux tcp_validate_incoming).
#[inline]
fn fourth_syn_received(
    a: &mut Arrival,
    simultaneous: bool,
    seg: &TcpRepr<'_>,
    t: &mut Transition<'_>,
) -> Step {
    if seg.control != TcpControl::Syn || simultaneous {
        return fourth_syn(a, seg, t);
    }
    ControlFlow::Break(Stop::Reset)
}

/// RFC 9293 §3.10.7.4 fifth in SYN-RECEIVED: "If SND.UNA < SEG.ACK =<
/// SND.NXT, then enter ESTABLISHED state ... If the segment acknowledgment
/// is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send
/// it"; "if the ACK bit is off drop the segment".
#[inline]
fn fifth_syn_received(
    s: &SynReceived,
    seg: &TcpRepr<'_>,
    now: Instant,
    t: &mut Transition<'_>,
) -> Step<SeqNum> {
    let Some(ack) = seg.ack_number else {
        return ControlFlow::Break(Stop::Drop(SegmentDrop::BadAck));
    };
    if !(s.snd.una.before(ack) && ack.before_eq(s.snd.nxt)) {
        t.reply(rst_ts(ack, None, s.tcb.ts, now));
        return ControlFlow::Break(Stop::Drop(SegmentDrop::BadAck));
    }
    ControlFlow::Continue(ack)
}

/// The handshake completes on an acceptable ACK (RFC 9293 §3.10.7.4 fifth):
/// the RTT sample and initial window ([`handshake_rtt`]), then "continue
/// processing with the variables below set to: SND.WND <- SEG.WND, SND.WL1
/// <- SEG.SEQ, SND.WL2 <- SEG.ACK". Returns the ESTABLISHED connection and
/// whether a CLOSE was queued.
#[inline]
fn establish(
    s: SynReceived,
    ack: SeqNum,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) -> (Open, bool) {
    let SynReceived {
        mut tcb,
        mut snd,
        rcv,
        window_scaling: _,
        dup_syn_answered,
        close_queued,
        simultaneous: _,
    } = s;
    handshake_rtt(
        &mut tcb,
        &mut snd,
        dup_syn_answered.is_some(),
        seg,
        now,
        cfg,
    );
    tcb.timers.clear(Timer::Retransmit);
    tcb.rtx.retries = 0;
    tcb.rtx.backoff = 0;
    snd.una = ack;
    snd.wnd = u32::from(seg.window_len) << snd.wscale;
    snd.max_wnd = snd.max_wnd.max(snd.wnd);
    snd.wl1 = seg.seq_number;
    snd.wl2 = ack;
    (Open { tcb, snd, rcv }, close_queued)
}

/// The handshake's RTT sample: from the ACK's TSecr when it echoes one
/// (RFC 7323 §4.1), which is never ambiguous; else from when the SYN-ACK
/// went out, if it went out once. Karn (RFC 6298 §3): the ACK of a SYN-ACK
/// sent more than once -- by the timer or in answer to a retransmitted SYN
/// (Linux counts both in req->num_retrans) -- gives no sample. A
/// connection made from a SYN cookie was created at this ACK's arrival
/// (`sent_at == now`): the SYN-ACK's time is unknown and no sample is taken
/// (Linux: a cookie's request has no snt_synack).
///
/// RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial window used
/// by a sender after a correctly transmitted SYN MUST be one segment". The
/// SYN-ACK timed out (`retries > 0`); unless the ACK's TSecr echoes the
/// TSval of the first SYN-ACK -- then that one arrived and the timeout was
/// spurious (Linux tcp_try_undo_spurious_syn) -- the first flight is one
/// segment. (Linux tcp_init_transfer cuts cwnd to 1 only after two or more
/// SYN-ACK retransmissions, in view of the 1 s initial RTO; the RFC's MUST
/// has no such allowance and is followed.)
fn handshake_rtt(
    tcb: &mut Tcb,
    snd: &mut SendHalf,
    dup_syn_answered: bool,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) {
    if tcb.rtx.retries > 0 {
        let first_tsval = tcb.ts.map(|ts| ts_now(&ts, tcb.rtx.sent_at));
        let echo = seg.options.timestamps.map(|t| t.tsecr);
        let spurious = first_tsval.is_some() && first_tsval == echo;
        if !spurious {
            snd.cc.cc.set_cwnd(send::smss(snd, tcb));
        }
    }
    // The SYN-ACK's own send time when it went once (Karn), in
    // microseconds; else the echoed timestamp (Linux tcp_synack_rtt_meas:
    // TSecr only when the SYN-ACK was resent or, with a cookie, not
    // recorded).
    if tcb.rtx.retries == 0 && !dup_syn_answered && tcb.rtx.sent_at != now {
        rtt_sample(&mut tcb.rtx, now, cfg);
    } else if let Some(sample) = send::ts_rtt_fallback(tcb, seg, now) {
        send::rtt_update(&mut tcb.rtx, sample, cfg);
    } else if tcb.rtx.retries > 0 && tcb.rtx.rtt.is_none() {
        // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN
        // segment and the TCP implementation is using an RTO less than 3
        // seconds, the RTO MUST be re-initialized to 3 seconds when data
        // transmission begins" (Linux tcp_init_metrics:
        // TCP_TIMEOUT_FALLBACK).
        tcb.rtx.rto = tcb.rtx.rto.max(Duration::from_secs(3)).min(cfg.rto_max);
    }
}

/// A simultaneous open (RFC 9293 §3.5, figure 7): both sides in
/// SYN-RECEIVED, the peer's SYN-ACK `<SEQ=IRS><ACK=ISS+1><CTL=SYN,ACK>`
/// completes the handshake as the ACK it carries would. The RFC's first
/// check would find SEG.SEQ = IRS below RCV.NXT; Linux lets exactly this
/// segment pass (tcp_validate_incoming: "SYN-ACK in simultaneous open" --
/// sk_state SYN_RECV, ACK = SND.NXT, SEQ + 1 = RCV.NXT). Returns it as the
/// pure ACK at RCV.NXT it stands for (any data in it is left for the peer to
/// send again); `None` for any other segment or a passive open.
fn simultaneous_syn_ack<'a>(s: &SynReceived, seg: &TcpRepr<'a>) -> Option<TcpRepr<'a>> {
    let exact = seg.control == TcpControl::Syn
        && seg.ack_number == Some(s.snd.nxt)
        && seg.seq_number == s.rcv.irs;
    (s.simultaneous && exact).then(|| TcpRepr {
        seq_number: s.rcv.irs + 1,
        control: TcpControl::None,
        payload: &[],
        ..*seg
    })
}
