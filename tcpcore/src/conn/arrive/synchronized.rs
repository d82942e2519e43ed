//! RFC 9293 §3.10.7.4 in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2: the
//! shared steps one to five (`steps.rs`), then URG, text and FIN (sixth to
//! eighth).

use core::ops::ControlFlow;

use crate::conn::arrive::checks::{check_ack, disordered_ack, update_ts_recent};
use crate::conn::arrive::steps::{
    fifth_ack, first_sequence, fourth_syn, second_rst, stopped_mut, third_security, Arrival, Rcv,
    Step, Stop,
};
use crate::conn::recv::ack::{ack_policy, advertise, make_ack_closed, AckOwed};
use crate::conn::recv::text::take_text;
use crate::conn::state::OpenKind;
use crate::conn::timers::time_wait_timer;
use crate::conn::Timer;
use crate::conn::{
    CloseReason, Config, Event, FinWait2, HalfClosed, Open, RecvBuffer, RecvClosed, SegmentDrop,
    State, TimeWait, Transition,
};
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

#[inline(always)]
pub(crate) fn wrap(kind: OpenKind, s: Open) -> State {
    match kind {
        OpenKind::Established => State::Established(s),
        OpenKind::FinWait1 => State::FinWait1(s),
        OpenKind::FinWait2 => {
            let Open { tcb, snd, rcv } = s;
            State::FinWait2(FinWait2 { tcb, snd, rcv })
        }
    }
}

#[inline(always)]
pub(crate) fn open<'a>(
    kind: OpenKind,
    mut s: Open,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    // The state goes into the transition once, at the end.
    let mut t = Transition::new(State::Closed(CloseReason::Normal));
    t.state = open_mut(kind, &mut s, seg, now, cfg, rx, &mut t).unwrap_or_else(|| wrap(kind, s));
    t
}

/// [`open`] on the state in place: `s` is changed where it lies, and what
/// the segment does goes into `t` (whose `state` is left alone); the next
/// state is returned only when it is another one (FIN-WAIT-2,
/// CLOSE-WAIT, CLOSING, TIME-WAIT, CLOSED), else `s` (as `kind`) stays.
#[inline(always)]
pub(crate) fn open_mut<'a>(
    kind: OpenKind,
    s: &mut Open,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
    t: &mut Transition<'a>,
) -> Option<State> {
    match first_to_fifth(s, seg, now, cfg, rx, t) {
        ControlFlow::Continue(fin_acked) => after_ack(kind, s, fin_acked, seg, now, cfg, rx, t),
        ControlFlow::Break(stop) => {
            if stop == Stop::Drop(SegmentDrop::OutOfWindow) {
                zero_window_ack(s, seg, now, cfg);
            }
            stopped_mut(t, stop)
        }
    }
}

/// RFC 9293 §3.10.7.4 first to fifth, as every synchronized state with an
/// open receive half takes them.
#[inline]
fn first_to_fifth(
    s: &mut Open,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
    rx: &RecvBuffer<'_>,
    t: &mut Transition<'_>,
) -> Step<bool> {
    let Open { tcb, snd, rcv } = s;
    let paws_exempt = disordered_ack(tcb, snd, rcv.nxt, seg, cfg);
    let mut a = Arrival {
        tcb,
        snd_nxt: snd.nxt,
        rcv: Rcv::Open(rcv, rx),
        now,
        cfg,
        synchronized: true,
        owe: true,
        paws_exempt,
    };
    first_sequence(&mut a, seg, t)?;
    second_rst(&mut a, seg, t)?;
    third_security()?;
    fourth_syn(&mut a, seg, t)?;
    fifth_ack(&mut a, snd, seg, t)
}

/// RFC 9293 §3.10.7.4: "If the RCV.WND is zero, no segments will be
/// acceptable, but special allowance should be made to accept valid ACKs".
/// A segment at RCV.NXT refused only for our zero window still carries the
/// peer's ACK and window: without them a sender whose own buffer is full
/// (an echo) and a peer that keeps sending data would wait on each other
/// for ever.
#[inline]
fn zero_window_ack(s: &mut Open, seg: &TcpRepr<'_>, now: Instant, cfg: &Config) {
    let wnd = s.rcv.adv_right.max(s.rcv.read + s.rcv.cap) - s.rcv.nxt;
    if wnd == 0
        && seg.seq_number == s.rcv.nxt
        && matches!(seg.control, TcpControl::None | TcpControl::Fin)
    {
        let _ = check_ack(&mut s.snd, &mut s.tcb, seg, now, cfg);
    }
}

/// Steps six to eight (URG, text, FIN) for ESTABLISHED and FIN-WAIT-1/2,
/// after the ACK was taken. `fin_acked`: in FIN-WAIT-1, our FIN is now
/// acknowledged (enter FIN-WAIT-2). `s` changes in place; the next state
/// is returned when it is another than `s` as `kind`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn after_ack<'a>(
    kind: OpenKind,
    s: &mut Open,
    fin_acked: bool,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
    t: &mut Transition<'a>,
) -> Option<State> {
    update_ts_recent(&mut s.tcb, seg, now);
    // Sixth: URG. RFC 6093: urgent data is delivered in line; nothing to do.
    // Seventh: text.
    let text = take_text(&mut s.rcv, rx, s.tcb.sack, seg, t);
    if text.dropped > 0 && t.dropped.is_none() && t.data.is_empty() && t.buffered == 0 {
        t.dropped = Some(SegmentDrop::NoBuffer);
    }
    // Eighth: FIN.
    if text.fin {
        return Some(eighth_fin(kind, *s, fin_acked, now, cfg, t));
    }
    ack_policy(&mut s.tcb, &mut s.rcv, rx, text.ack_now, now, cfg, t);
    match (kind, fin_acked) {
        (OpenKind::FinWait1, true) => {
            s.tcb
                .timers
                .set(Timer::FinWait2, now + cfg.fin_wait2_timeout);
            Some(wrap(OpenKind::FinWait2, *s))
        }
        _ => None,
    }
}

/// [`after_ack`] on a state taken by value: the next state goes into
/// `t.state` (the handshake's ends enter ESTABLISHED this way).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn after_ack_into<'a>(
    kind: OpenKind,
    mut s: Open,
    fin_acked: bool,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
    t: &mut Transition<'a>,
) {
    t.state =
        after_ack(kind, &mut s, fin_acked, seg, now, cfg, rx, t).unwrap_or_else(|| wrap(kind, s));
}

/// RFC 9293 §3.10.7.4 eighth: the peer's FIN, in order. It is acknowledged
/// at once; the next state is CLOSE-WAIT, CLOSING or TIME-WAIT.
#[inline]
fn eighth_fin(
    kind: OpenKind,
    s: Open,
    fin_acked: bool,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'_>,
) -> State {
    t.event(Event::PeerClosed);
    let Open {
        mut tcb,
        snd,
        mut rcv,
    } = s;
    let snd_nxt = snd.nxt;
    let window = advertise(&mut rcv);
    let closed = RecvClosed {
        nxt: rcv.nxt,
        window,
        read: rcv.read,
        right: rcv.adv_right.max(rcv.nxt),
    };
    // The FIN is acknowledged at once: in CLOSE-WAIT and CLOSING by
    // `poll_transmit` (after our data, which carries the ACK; when the
    // endpoint closes our side once the application has read everything,
    // `Config::close_on_peer_fin`, our FIN carries it), in TIME-WAIT,
    // which sends nothing else, here.
    let time_wait = matches!(
        (kind, fin_acked),
        (OpenKind::FinWait1, true) | (OpenKind::FinWait2, _)
    );
    if time_wait {
        let r = make_ack_closed(&mut tcb, snd_nxt, &closed, now);
        t.reply(r);
    } else {
        tcb.owe(AckOwed::Now);
    }
    match (kind, fin_acked) {
        // "ESTABLISHED STATE: Enter the CLOSE-WAIT state."
        (OpenKind::Established, _) => State::CloseWait(HalfClosed {
            tcb,
            snd,
            rcv: closed,
        }),
        // "If our FIN has not been ACKed, enter CLOSING."
        (OpenKind::FinWait1, false) => State::Closing(HalfClosed {
            tcb,
            snd,
            rcv: closed,
        }),
        // "If our FIN has been ACKed (perhaps in this segment), then enter
        // TIME-WAIT, start the time-wait timer"; FIN-WAIT-2: "Enter the
        // TIME-WAIT state. Start the time-wait timer".
        (OpenKind::FinWait1, true) | (OpenKind::FinWait2, _) => State::TimeWait(TimeWait {
            ts: tcb.ts,
            snd_nxt,
            rcv: closed,
            timers: time_wait_timer(now, cfg),
            challenge: (now, 0),
        }),
    }
}

/// RFC 9293 §3.10.7.4 in FIN-WAIT-2: "In addition to the processing for
/// the ESTABLISHED state": text is still received, and the peer's FIN
/// leads to TIME-WAIT.
///
/// The application only half-closed: it still receives, and RFC 9293
/// sets no limit on how long the peer may keep sending. The timeout is
/// for a peer that went quiet, so every acceptable segment (one that
/// passed the sequence, RST, SYN and ACK checks; data that found no
/// buffer space still shows the peer alive) restarts it. Linux's
/// tcp_fin_timeout applies only to orphaned sockets (closed by the
/// application, which then reads nothing: Linux resets on data arriving
/// there); a socket the application only shut down for writing waits in
/// FIN-WAIT-2 with no limit. Ours keeps reading, so it waits as long as
/// data flows and `fin_wait2_timeout` after the last segment.
#[inline]
pub(crate) fn fin_wait2<'a>(
    s: FinWait2,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    let FinWait2 { tcb, snd, rcv } = s;
    let mut t = open(
        OpenKind::FinWait2,
        Open { tcb, snd, rcv },
        seg,
        now,
        cfg,
        rx,
    );
    if let (None | Some(SegmentDrop::NoBuffer), State::FinWait2(f)) = (t.dropped, &mut t.state) {
        f.tcb
            .timers
            .set(Timer::FinWait2, now + cfg.fin_wait2_timeout);
    }
    t
}
