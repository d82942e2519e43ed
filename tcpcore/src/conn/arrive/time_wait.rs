//! RFC 9293 §3.10.7.4 in TIME-WAIT: a retransmitted FIN is acknowledged
//! again (RFC 5961 §7 rate limit, RFC 7323 §5 PAWS), and a new SYN may open
//! a new incarnation (RFC 6191, RFC 1122 §4.2.2.13). The second step (RST)
//! is the shared one; the first and fourth are TIME-WAIT's own.

use core::ops::ControlFlow;

use crate::conn::arrive::checks::{paws_rejects, update_ts_recent};
use crate::conn::arrive::steps::{
    fourth_syn, second_rst, stopped, third_security, Arrival, Rcv, Step, Stop,
};
use crate::conn::{Config, SegmentDrop, State, Tcb, TimeWait, Transition};
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
    // What TIME-WAIT keeps of a TCB, for the steps: TS.Recent, the
    // challenge-ACK budget, Last.ACK.sent (RCV.NXT: every ACK we sent here
    // acknowledged the peer's FIN).
    let mut tcb = Tcb::new(s.ts, false, s.rcv.nxt, now, cfg);
    tcb.challenge = s.challenge;
    let TimeWait {
        snd_nxt,
        rcv,
        timers,
        ..
    } = &mut s;
    let mut a = Arrival {
        tcb: &mut tcb,
        snd_nxt: *snd_nxt,
        rcv: Rcv::Closed(rcv),
        now,
        cfg,
        synchronized: true,
        owe: false,
        // No send half to judge a duplicate ACK by (Linux
        // `tcp_timewait_state_process` has no exemption either).
        paws_exempt: false,
    };
    let step = first_to_fourth(&mut a, timers, seg, &mut t);
    s.ts = tcb.ts;
    s.challenge = tcb.challenge;
    match step {
        ControlFlow::Break(stop) => stopped(t, stop, State::TimeWait(s)),
        // Every segment stops at one of the first four steps.
        ControlFlow::Continue(()) => stopped(t, Stop::Taken, State::TimeWait(s)),
    }
}

/// RFC 9293 §3.10.7.4 first to fourth in TIME-WAIT. The RST is the shared
/// second step: "If the RST bit is set, then enter the CLOSED state", which
/// RFC 5961 §3.2 narrows to a RST exactly at RCV.NXT, and has one elsewhere
/// in the window answered with a challenge ACK, in every synchronized
/// state. (RFC 1337 warns against TIME-WAIT assassination; an exact RST is
/// accepted here as the RFC says, as Linux does with tcp_rfc1337 = 0.
/// Linux's tcp_timewait_state_process drops an inexact RST silently; RFC
/// 5961's MUST is followed instead -- the ACK is rate-limited and costs the
/// peer nothing.)
fn first_to_fourth(
    a: &mut Arrival,
    timers: &mut TimerTable,
    seg: &TcpRepr<'_>,
    t: &mut Transition<'_>,
) -> Step {
    first_time_wait(a, timers, seg, t)?;
    second_rst(a, seg, t)?;
    third_security()?;
    fourth_time_wait(a, seg, t)
}

/// RFC 9293 §3.10.7.4 first, in TIME-WAIT, for a segment that is neither
/// RST nor SYN (the second and fourth steps judge those).
///
/// RFC 7323 §5.3 R1 (PAWS) holds here too (Linux
/// tcp_timewait_state_process: `paws_reject`): a segment with a TSval older
/// than TS.Recent is an old duplicate; it is acknowledged and dropped -- it
/// neither updates TS.Recent nor restarts the timer.
///
/// The acceptable segments: a bare ACK at RCV.NXT, and a retransmission of
/// the peer's FIN (ending at RCV.NXT). RFC 7323 §4.3: "If SEG.TSval >=
/// TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is copied to
/// TS.Recent" (Linux `tw_ts_recent`), so that our ACK echoes the newest
/// TSval.
///
/// "The only thing that can arrive in this state is a retransmission of the
/// remote FIN. Acknowledge it, and restart the 2 MSL timeout." Any other
/// segment is answered with an ACK as well (RFC 9293's unacceptable-segment
/// rule) -- except a bare ACK at RCV.NXT: it is acceptable (zero length at
/// RCV.NXT with a zero window) and carries nothing to acknowledge, so
/// answering it would be an ACK for an ACK (Linux's
/// tcp_timewait_state_process drops it too).
///
/// Only the peer's FIN sent again (with its ACK) restarts 2 MSL (RFC 9293
/// §3.10.7.4 eighth; Linux tcp_timewait_state_process reschedules for
/// segments with ACK). Everything else is unacceptable here and reported
/// dropped, so that the endpoint neither refreshes the idle clock and the
/// peer's MAC nor counts it as accepted: a FIN or data beyond RCV.NXT, and
/// a FIN without ACK (fifth: "if the ACK bit is off drop the segment";
/// Linux does not reschedule for an ACK-less segment). All of them still
/// get the ACK of the first check, as Linux sends.
///
/// RFC 5961 §7: every ACK TIME-WAIT sends -- for a retransmitted FIN too --
/// comes out of the challenge-ACK budget (Linux
/// tcp_timewait_check_oow_rate_limit). Linux's tcp_oow_rate_limited exempts
/// segments that occupy sequence space, FINs included; here, where the
/// connection is over, nothing legitimate arrives faster than the peer's
/// backed-off FIN retransmissions, far below the budget, while forged FINs
/// at any sequence number would otherwise each draw an ACK.
fn first_time_wait(
    a: &mut Arrival,
    timers: &mut TimerTable,
    seg: &TcpRepr<'_>,
    t: &mut Transition<'_>,
) -> Step {
    if matches!(seg.control, TcpControl::Rst | TcpControl::Syn) {
        return ControlFlow::Continue(());
    }
    if paws_rejects(a.tcb, seg, a.now, 0) {
        a.challenge(t);
        return ControlFlow::Break(Stop::Drop(SegmentDrop::Paws));
    }
    let nxt = a.rcv.nxt();
    let bare_ack =
        seg.control == TcpControl::None && seg.payload.is_empty() && seg.seq_number == nxt;
    let fin_again =
        seg.control == TcpControl::Fin && seg.seq_number + seg.payload.len() as u32 + 1 == nxt;
    if bare_ack || fin_again {
        update_ts_recent(a.tcb, seg, a.now);
    }
    if bare_ack {
        return ControlFlow::Break(Stop::Taken);
    }
    let stop = if seg.ack_number.is_none() {
        Stop::Drop(SegmentDrop::BadAck)
    } else if fin_again {
        timers.set(Timer::TimeWait, a.now + a.cfg.time_wait);
        Stop::Taken
    } else {
        Stop::Drop(SegmentDrop::OutOfWindow)
    };
    a.challenge(t);
    ControlFlow::Break(stop)
}

/// RFC 9293 §3.10.7.4 fourth, in TIME-WAIT. RFC 9293 allows, and RFC 1122
/// 4.2.2.13 and RFC 6191 §2 say how: a new SYN may end TIME-WAIT and open a
/// new incarnation when it cannot be an old duplicate, that is when its
/// sequence number is above the last RCV.NXT, or, if the old incarnation
/// used timestamps, when its TSval is newer than TS.Recent. As Linux
/// `tcp_timewait_state_process` decides it: a SYN that fails PAWS (RFC 7323
/// §5) is refused whatever its sequence number (acknowledged and dropped as
/// PAWS-old); otherwise `after(seq, rcv_nxt)` or a TSval newer than
/// TS.Recent accepts it. Any other SYN gets RFC 5961 §4's challenge ACK.
fn fourth_time_wait(a: &mut Arrival, seg: &TcpRepr<'_>, t: &mut Transition<'_>) -> Step {
    if seg.control != TcpControl::Syn {
        return ControlFlow::Continue(());
    }
    if paws_rejects(a.tcb, seg, a.now, 0) {
        a.challenge(t);
        return ControlFlow::Break(Stop::Drop(SegmentDrop::Paws));
    }
    let seq_newer = a.rcv.nxt().before(seg.seq_number);
    let ts_newer = match (a.tcb.ts, seg.options.timestamps) {
        (Some(ts), Some(seg_ts)) => (seg_ts.tsval.wrapping_sub(ts.recent) as i32) > 0,
        _ => false,
    };
    if seg.ack_number.is_none() && (seq_newer || ts_newer) {
        // RFC 6191 §2 / RFC 1122 4.2.2.13: the new ISS must be above every
        // sequence number of the old incarnation; Linux takes SND.NXT +
        // 65535 + 2 (`tcp_timewait_state_process`).
        return ControlFlow::Break(Stop::Reopen(a.snd_nxt + 65537u32));
    }
    fourth_syn(a, seg, t)
}
