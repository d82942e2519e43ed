//! RFC 9293 §3.10.7.4 in TIME-WAIT: a retransmitted FIN is acknowledged
//! again (RFC 5961 §7 rate limit, RFC 7323 §5 PAWS), and a new SYN may open
//! a new incarnation (RFC 6191, RFC 1122 §4.2.2.13).

use crate::conn::arrive::checks::{challenge_allowed, paws_rejects, rst_check, update_ts_recent};
use crate::conn::recv::ack::make_ack_closed;
use crate::conn::{
    CloseReason, Config, Event, Rtx, SegmentDrop, State, Tcb, TimeWait, Transition, PAWS_IDLE,
};
use crate::conn::{Timer, TimerTable};
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr};

pub(crate) fn time_wait<'a>(
    mut s: TimeWait,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
) -> Transition<'a> {
    let mut t = Transition::new(State::TimeWait(s));
    // What TIME-WAIT keeps of a TCB, for the helpers: TS.Recent, the
    // challenge-ACK budget, Last.ACK.sent (RCV.NXT: every ACK we sent here
    // acknowledged the peer's FIN).
    let mut tcb = Tcb {
        ts: s.ts,
        sack: false,
        last_ack_sent: s.rcv.nxt,
        challenge: s.challenge,
        rtx: Rtx {
            rtt: None,
            rto: cfg.rto_initial,
            retries: 0,
            backoff: 0,
            sent_at: now,
        },
        timers: TimerTable::new(),
    };
    if seg.control == TcpControl::Rst {
        // RFC 9293: "If the RST bit is set, then enter the CLOSED state";
        // RFC 5961 §3.2 narrows that to a RST exactly at RCV.NXT, and has
        // one elsewhere in the window answered with a challenge ACK, in
        // every synchronized state. (RFC 1337 warns against TIME-WAIT
        // assassination; an exact RST is accepted here as the RFC says, as
        // Linux does with tcp_rfc1337 = 0. Linux's
        // tcp_timewait_state_process drops an inexact RST silently; RFC
        // 5961's MUST is followed instead -- the ACK is rate-limited and
        // costs the peer nothing.)
        match rst_check(&s.rcv, seg) {
            Ok(()) => {
                t.event(Event::Closed(CloseReason::Reset));
                t.state = State::Closed(CloseReason::Reset);
                return t;
            }
            Err(why) => {
                if why == SegmentDrop::RstNotExact && challenge_allowed(&mut tcb, now, cfg) {
                    let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
                    t.reply(r);
                }
                s.challenge = tcb.challenge;
                t.state = State::TimeWait(s);
                return t.drop_seg(why);
            }
        }
    }
    if seg.control == TcpControl::Syn && seg.ack_number.is_none() {
        // RFC 9293 §3.10.7.4 allows, and RFC 1122 4.2.2.13 and RFC 6191 §2
        // say how: a new SYN may end TIME-WAIT and open a new incarnation
        // when it cannot be an old duplicate, that is when its sequence
        // number is above the last RCV.NXT, or, if the old incarnation used
        // timestamps, when its TSval is newer than TS.Recent. As Linux
        // `tcp_timewait_state_process` decides it: a SYN that fails PAWS
        // (RFC 7323 §5) is refused whatever its sequence number; otherwise
        // `after(seq, rcv_nxt)` or a TSval newer than TS.Recent accepts it.
        let seq_newer = s.rcv.nxt.before(seg.seq_number);
        let (paws_reject, ts_newer) = match (s.ts, seg.options.timestamps) {
            (Some(ts), Some(seg_ts)) => {
                let d = seg_ts.tsval.wrapping_sub(ts.recent) as i32;
                (
                    d < 0 && now.saturating_since(ts.recent_at) < PAWS_IDLE,
                    d > 0,
                )
            }
            _ => (false, false),
        };
        if !paws_reject && (seq_newer || ts_newer) {
            // RFC 6191 §2 / RFC 1122 4.2.2.13: the new ISS must be above
            // every sequence number of the old incarnation; Linux takes
            // SND.NXT + 65535 + 2 (`tcp_timewait_state_process`).
            t.reopen = Some(s.snd_nxt + 65537u32);
            return t;
        }
    }
    // RFC 7323 §5.3 R1 (PAWS), in TIME-WAIT too (Linux
    // tcp_timewait_state_process: `paws_reject`): a segment with a TSval
    // older than TS.Recent is an old duplicate; it is acknowledged, within
    // the challenge-ACK budget, and dropped -- it neither updates TS.Recent
    // nor restarts the timer.
    if paws_rejects(&tcb, seg, now) {
        if challenge_allowed(&mut tcb, now, cfg) {
            let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        s.challenge = tcb.challenge;
        t.state = State::TimeWait(s);
        return t.drop_seg(SegmentDrop::Paws);
    }
    // The acceptable segments: a bare ACK at RCV.NXT, and a retransmission
    // of the peer's FIN (ending at RCV.NXT). RFC 7323 §4.3: "If SEG.TSval
    // >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is copied
    // to TS.Recent" (Linux `tw_ts_recent`), so that our ACK echoes the
    // newest TSval.
    let bare_ack =
        seg.control == TcpControl::None && seg.payload.is_empty() && seg.seq_number == s.rcv.nxt;
    let fin_again = seg.control == TcpControl::Fin
        && seg.seq_number + seg.payload.len() as u32 + 1 == s.rcv.nxt;
    if bare_ack || fin_again {
        update_ts_recent(&mut tcb, seg, now);
        s.ts = tcb.ts;
    }
    // "The only thing that can arrive in this state is a retransmission of
    // the remote FIN. Acknowledge it, and restart the 2 MSL timeout." Any
    // other segment is answered with an ACK as well (RFC 9293's
    // unacceptable-segment rule; RFC 5961 §4 for a SYN) -- except a bare ACK
    // at RCV.NXT: it is acceptable (zero length at RCV.NXT with a zero
    // window) and carries nothing to acknowledge, so answering it would be
    // an ACK for an ACK (Linux's tcp_timewait_state_process drops it too).
    if bare_ack {
        t.state = State::TimeWait(s);
        return t;
    }
    // Only the peer's FIN sent again (with its ACK) restarts 2 MSL (RFC
    // 9293 §3.10.7.4 eighth; Linux tcp_timewait_state_process reschedules
    // for segments with ACK). Everything else is unacceptable here and
    // reported dropped, so that the endpoint neither refreshes the idle
    // clock and the peer's MAC nor counts it as accepted: a FIN or data
    // beyond RCV.NXT (first check), a SYN that could not reopen (RFC 5961
    // §4), and a FIN without ACK (fifth check: "if the ACK bit is off drop
    // the segment"; Linux does not reschedule for an ACK-less segment).
    // All of them still get the ACK of the first check, as Linux sends.
    let why = if seg.control == TcpControl::Syn {
        Some(SegmentDrop::UnexpectedSyn)
    } else if seg.ack_number.is_none() {
        Some(SegmentDrop::BadAck)
    } else if fin_again {
        s.timers.set(Timer::TimeWait, now + cfg.time_wait);
        None
    } else {
        Some(SegmentDrop::OutOfWindow)
    };
    // RFC 5961 §7: every ACK TIME-WAIT sends -- for a retransmitted FIN
    // too -- comes out of the challenge-ACK budget (Linux
    // tcp_timewait_check_oow_rate_limit). Linux's tcp_oow_rate_limited
    // exempts segments that occupy sequence space, FINs included; here,
    // where the connection is over, nothing legitimate arrives faster than
    // the peer's backed-off FIN retransmissions, far below the budget,
    // while forged FINs at any sequence number would otherwise each draw
    // an ACK.
    if challenge_allowed(&mut tcb, now, cfg) {
        let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
        t.reply(r);
    }
    s.challenge = tcb.challenge;
    t.state = State::TimeWait(s);
    match why {
        Some(why) => t.drop_seg(why),
        None => t,
    }
}
