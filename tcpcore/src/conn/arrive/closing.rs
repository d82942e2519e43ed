//! RFC 9293 §3.10.7.4 in CLOSE-WAIT, CLOSING and LAST-ACK, after the peer's
//! FIN: only an ACK (of our data or FIN) may still arrive.

use crate::conn::arrive::checks::{
    acceptable, challenge_allowed, check_ack, dup_ack_allowed, paws_rejects, rst_check,
    update_ts_recent, AckCheck,
};
use crate::conn::arrive::close_reason_rst;
use crate::conn::recv::ack::make_ack_closed;
use crate::conn::state::{half_state, HalfKind};
use crate::conn::timers::time_wait_timer;
use crate::conn::{
    CloseReason, Config, Event, HalfClosed, SegmentDrop, State, TimeWait, Transition,
};
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

pub(crate) fn half_closed<'a>(
    kind: HalfKind,
    mut s: HalfClosed,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
) -> Transition<'a> {
    let mut t = Transition::new(half_state(kind, s));
    let snd_nxt = s.snd.nxt;
    if paws_rejects(&s.tcb, seg, now) {
        if dup_ack_allowed(&mut s.tcb, seg, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::Paws);
    }
    if seg.control == TcpControl::Rst {
        // RFC 5961 §3.2 holds in every synchronized state: a RST at
        // RCV.NXT resets; one elsewhere in the window we advertised gets a
        // challenge ACK; one outside it is dropped silently (Linux
        // tcp_validate_incoming, which CLOSE-WAIT, CLOSING and LAST-ACK go
        // through as ESTABLISHED does).
        return match rst_check(&s.rcv, seg) {
            Ok(()) => {
                // "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set,
                // then enter the CLOSED state"; CLOSE-WAIT: "any
                // outstanding RECEIVEs and SEND should receive 'reset'".
                t.state = close_reason_rst(&mut t);
                t
            }
            Err(why) => {
                if why == SegmentDrop::RstNotExact && challenge_allowed(&mut s.tcb, now, cfg) {
                    let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
                    t.reply(r);
                }
                t.state = half_state(kind, s);
                t.drop_seg(why)
            }
        };
    }
    // The receive window after the peer's FIN: nothing more may come, so
    // only a zero-length segment at RCV.NXT is acceptable; a retransmitted
    // FIN (below RCV.NXT) is answered with an ACK.
    let seg_len = seg.segment_len() as u32;
    if seg.control != TcpControl::Syn && !acceptable(s.rcv.nxt, 0, seg.seq_number, seg_len) {
        // A retransmitted data or FIN segment always gets an ACK, a pure
        // ACK within the challenge-ACK rate limit.
        if dup_ack_allowed(&mut s.tcb, seg, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::OutOfWindow);
    }
    if seg.control == TcpControl::Syn {
        if challenge_allowed(&mut s.tcb, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::UnexpectedSyn);
    }
    match check_ack(&mut s.snd, &mut s.tcb, seg, now, cfg) {
        AckCheck::ChallengeAndDrop => {
            if seg.ack_number.is_some() && challenge_allowed(&mut s.tcb, now, cfg) {
                let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
                t.reply(r);
            }
            t.state = half_state(kind, s);
            t.drop_seg(SegmentDrop::BadAck)
        }
        AckCheck::Ok { fin_acked } => {
            // RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ =<
            // Last.ACK.sent, then SEG.TSval is copied to TS.Recent" -- in
            // these states too, or our segments echo a stale TSval.
            update_ts_recent(&mut s.tcb, seg, now);
            t.state = match (kind, fin_acked) {
                // "LAST-ACK: The only thing that can arrive in this state is
                // an acknowledgment of our FIN. If our FIN is now
                // acknowledged, delete the TCB, enter the CLOSED state".
                (HalfKind::LastAck, true) => {
                    t.event(Event::Closed(CloseReason::Normal));
                    State::Closed(CloseReason::Normal)
                }
                // "CLOSING: if the ACK acknowledges our FIN, then enter the
                // TIME-WAIT state".
                (HalfKind::Closing, true) => State::TimeWait(TimeWait {
                    ts: s.tcb.ts,
                    snd_nxt: s.snd.nxt,
                    rcv: s.rcv,
                    timers: time_wait_timer(now, cfg),
                    challenge: (now, 0),
                }),
                _ => half_state(kind, s),
            };
            t
        }
    }
}
