//! RFC 9293 §3.10.7.4 in CLOSE-WAIT, CLOSING and LAST-ACK, after the peer's
//! FIN: the shared steps one to five (`steps.rs`), judged against the
//! window last advertised; only an ACK (of our data or FIN) may still
//! arrive.

use core::ops::ControlFlow;

use crate::conn::arrive::checks::{disordered_ack, update_ts_recent};
use crate::conn::arrive::steps::{
    fifth_ack, first_sequence, fourth_syn, second_rst, stopped_mut, third_security, Arrival, Rcv,
    Step,
};
use crate::conn::state::{half_state, HalfKind};
use crate::conn::timers::time_wait_timer;
use crate::conn::{CloseReason, Config, Event, HalfClosed, State, TimeWait, Transition};
use crate::time::Instant;
use crate::wire::TcpRepr;

pub(crate) fn half_closed<'a>(
    kind: HalfKind,
    mut s: HalfClosed,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
) -> Transition<'a> {
    let mut t = Transition::new(State::Closed(CloseReason::Normal));
    t.state =
        half_closed_mut(kind, &mut s, seg, now, cfg, &mut t).unwrap_or_else(|| half_state(kind, s));
    t
}

/// [`half_closed`] on the state in place: `s` changes where it lies, what
/// the segment does goes into `t` (its `state` left alone), and the next
/// state is returned only when it is another one (CLOSED, TIME-WAIT).
#[inline(always)]
pub(crate) fn half_closed_mut(
    kind: HalfKind,
    s: &mut HalfClosed,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'_>,
) -> Option<State> {
    match first_to_fifth(s, seg, now, cfg, t) {
        ControlFlow::Break(stop) => stopped_mut(t, stop),
        ControlFlow::Continue(fin_acked) => {
            // RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ =<
            // Last.ACK.sent, then SEG.TSval is copied to TS.Recent" -- in
            // these states too, or our segments echo a stale TSval.
            update_ts_recent(&mut s.tcb, seg, now);
            // Sixth to eighth (URG, text, FIN): "This should not occur,
            // since a FIN has been received from the remote side" -- the
            // first step let through only a zero-length segment.
            after_ack(kind, s, fin_acked, now, cfg, t)
        }
    }
}

/// RFC 9293 §3.10.7.4 first to fifth after the peer's FIN. RFC 5961 §3.2's
/// RST rules hold here as in ESTABLISHED (Linux tcp_validate_incoming,
/// which CLOSE-WAIT, CLOSING and LAST-ACK go through as ESTABLISHED does);
/// the window is the one last advertised, and the acceptability test's
/// RCV.WND is zero: nothing more may come after the FIN.
fn first_to_fifth(
    s: &mut HalfClosed,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'_>,
) -> Step<bool> {
    let HalfClosed { tcb, snd, rcv } = s;
    let paws_exempt = disordered_ack(tcb, snd, rcv.nxt, seg, cfg);
    let mut a = Arrival {
        tcb,
        snd_nxt: snd.nxt,
        rcv: Rcv::Closed(rcv),
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

/// The fifth step's state changes in these states, once the ACK is taken:
/// the next state when it is another one.
#[inline(always)]
fn after_ack(
    kind: HalfKind,
    s: &HalfClosed,
    fin_acked: bool,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'_>,
) -> Option<State> {
    match (kind, fin_acked) {
        // "LAST-ACK: The only thing that can arrive in this state is an
        // acknowledgment of our FIN. If our FIN is now acknowledged, delete
        // the TCB, enter the CLOSED state".
        (HalfKind::LastAck, true) => {
            t.event(Event::Closed(CloseReason::Normal));
            Some(State::Closed(CloseReason::Normal))
        }
        // "CLOSING: if the ACK acknowledges our FIN, then enter the
        // TIME-WAIT state".
        (HalfKind::Closing, true) => Some(State::TimeWait(TimeWait {
            ts: s.tcb.ts,
            snd_nxt: s.snd.nxt,
            rcv: s.rcv,
            timers: time_wait_timer(now, cfg),
            challenge: (now, 0),
        })),
        _ => None,
    }
}
