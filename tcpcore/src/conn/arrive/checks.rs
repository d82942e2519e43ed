//! RFC 9293 §3.10.7.4's checks shared by the synchronized states: PAWS (RFC
//! 7323 §5.3), the acceptability test (first), RST (second; RFC 5961 §3.2),
//! SYN (fourth; RFC 5961 §4), the challenge-ACK rate limit (RFC 5961 §7),
//! ACK (fifth; RFC 5961 §5.2, the window update), and TS.Recent (RFC 7323
//! §4.3).

use crate::conn::recv::ack::make_ack;
use crate::conn::{
    send, Config, RecvBuffer, RecvClosed, RecvHalf, SegmentDrop, SendHalf, Tcb, Transition,
    PAWS_IDLE,
};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{TcpControl, TcpRepr};

/// RFC 5961 §7: challenge ACKs are rate-limited per connection.
pub(crate) fn challenge_allowed(tcb: &mut Tcb, now: Instant, cfg: &Config) -> bool {
    let (start, count) = tcb.challenge;
    if now.saturating_since(start) >= Duration::from_secs(1) {
        tcb.challenge = (now, 1);
        return cfg.challenge_acks_per_sec > 0;
    }
    if count < cfg.challenge_acks_per_sec {
        tcb.challenge.1 = count + 1;
        true
    } else {
        false
    }
}

/// Whether an unacceptable (out-of-window, PAWS-old or duplicate) segment
/// gets its ACK (RFC 9293 §3.10.7.4 first: "an acknowledgment should be
/// sent in reply"). Pure ACKs share the challenge-ACK budget (RFC 5961 §7),
/// so forged ones cannot make us an ACK amplifier; a segment that occupies
/// sequence space (data or FIN) is always answered: it is most likely a
/// retransmission whose ACK was lost, and the sender needs the duplicate
/// ACK (RFC 5681 §4.2). Linux tcp_oow_rate_limited: "Data packets without
/// SYNs are not subject to rate limiting".
pub(crate) fn dup_ack_allowed(
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) -> bool {
    let occupies = seg.segment_len() > 0 && seg.control != TcpControl::Syn;
    occupies || challenge_allowed(tcb, now, cfg)
}

/// RFC 9293 §3.10.7.4 first: the acceptability test, all four cases of
/// segment length and receive window.
pub fn acceptable(rcv_nxt: SeqNum, rcv_wnd: u32, seq: SeqNum, seg_len: u32) -> bool {
    let right = rcv_nxt + rcv_wnd;
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_window(rcv_nxt, right),
        (_, 0) => false,
        (_, _) => seq.in_window(rcv_nxt, right) || (seq + (seg_len - 1)).in_window(rcv_nxt, right),
    }
}

/// RFC 7323 §5.3 R1: PAWS. A non-RST segment whose TSval is older than
/// TS.Recent is a duplicate from an earlier incarnation of the sequence space.
pub(crate) fn paws_rejects(tcb: &Tcb, seg: &TcpRepr<'_>, now: Instant) -> bool {
    let (Some(ts), Some(seg_ts)) = (tcb.ts, seg.options.timestamps) else {
        return false;
    };
    if seg.control == TcpControl::Rst {
        return false;
    }
    let older = (seg_ts.tsval.wrapping_sub(ts.recent) as i32) < 0;
    older && now.saturating_since(ts.recent_at) < PAWS_IDLE
}

/// RFC 7323 §4.3: TS.Recent follows the peer's TSval when the segment covers
/// Last.ACK.sent.
pub(crate) fn update_ts_recent(tcb: &mut Tcb, seg: &TcpRepr<'_>, now: Instant) {
    if let (Some(ts), Some(seg_ts)) = (tcb.ts.as_mut(), seg.options.timestamps) {
        let newer = (seg_ts.tsval.wrapping_sub(ts.recent) as i32) >= 0;
        if newer && seg.seq_number.before_eq(tcb.last_ack_sent) {
            ts.recent = seg_ts.tsval;
            ts.recent_at = now;
        }
    }
}

/// What the segment's ACK field did (RFC 9293 §3.10.7.4 fifth).
pub(crate) enum AckCheck {
    /// Acceptable; `fin_acked` says our FIN (if sent) is now acknowledged.
    Ok { fin_acked: bool },
    /// Not acceptable: send an ACK and drop (RFC 5961 §5.2).
    ChallengeAndDrop,
}

/// RFC 9293 §3.10.7.4 fifth, with RFC 5961 §5.2's acceptable range
/// `SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT` (SND.NXT being the highest
/// sent, SND.MAX), the send path's bookkeeping (`send::on_ack`), and the
/// window update rule (SND.WL1/SND.WL2).
#[inline]
pub(crate) fn check_ack(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) -> AckCheck {
    let Some(ack) = seg.ack_number else {
        return AckCheck::ChallengeAndDrop;
    };
    if ack.after(snd.max) || ack.before(snd.una - snd.max_wnd) {
        return AckCheck::ChallengeAndDrop;
    }
    send::on_ack(snd, tcb, seg, ack, now, cfg);
    // RFC 9293 §3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window
    // should be updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
    // SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, and
    // SND.WL2 <- SEG.ACK."
    if snd.una.before_eq(ack)
        && (snd.wl1.before(seg.seq_number) || (snd.wl1 == seg.seq_number && snd.wl2.before_eq(ack)))
    {
        let was_closed = snd.wnd == 0;
        snd.wnd = u32::from(seg.window_len) << snd.wscale;
        snd.max_wnd = snd.max_wnd.max(snd.wnd);
        snd.wl1 = seg.seq_number;
        snd.wl2 = ack;
        if was_closed && snd.wnd > 0 && snd.una != snd.max {
            // The window reopened with a zero-window probe outstanding: the
            // probe's byte was most likely dropped; send it again with the
            // data instead of waiting for the backed-off timer.
            snd.nxt = snd.una;
            tcb.rtx.retries = 0;
            tcb.rtx.backoff = 0; // Linux tcp_ack_probe
            tcb.timers.clear_rto();
        }
    }
    AckCheck::Ok {
        fin_acked: snd.fin && snd.una == snd.end + 1,
    }
}

/// Steps one to four of RFC 9293 §3.10.7.4 for a state with an open
/// receive half: PAWS, acceptability, RST, SYN. `Err` carries the finished
/// transition when the segment stops here.
#[allow(clippy::too_many_arguments)] // the pieces of one state, borrowed apart
#[inline]
pub(crate) fn front_checks<'a>(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &mut RecvHalf,
    rx: &RecvBuffer<'_>,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'a>,
) -> Result<(), SegmentDrop> {
    // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
    // number, TCP MUST send an ACK (also referred to as challenge ACK)",
    // rate-limited (§7) -- so before the window test, whose ACK would
    // otherwise answer every forged SYN.
    if seg.control == TcpControl::Syn {
        if challenge_allowed(tcb, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::UnexpectedSyn);
    }
    // RFC 7323 §5.3: PAWS comes before the acceptability test; the
    // offending segment is acknowledged and dropped.
    if paws_rejects(tcb, seg, now) {
        if dup_ack_allowed(tcb, seg, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::Paws);
    }
    // A RST is judged by its sequence number alone against the window we
    // advertised (RFC 5961 §3.2, which RFC 9293 §3.10.7.4 first and second
    // adopt): "1) If the RST bit is set and the sequence number is outside
    // the current receive window, silently drop the segment. 2) If the RST
    // bit is set and the sequence number exactly matches the next expected
    // sequence number (RCV.NXT), then TCP MUST reset the connection. 3) If
    // the RST bit is set and the sequence number does not exactly match the
    // next expected sequence value, yet is within the current receive
    // window, TCP MUST send an acknowledgment (challenge ACK)". The window
    // is [RCV.NXT, adv_right): what the peer was told, not the larger
    // buffer space that data may still use, and not the segment's payload
    // (a RST whose text starts below RCV.NXT is outside).
    if seg.control == TcpControl::Rst {
        if seg.seq_number == rcv.nxt {
            return Ok(());
        }
        if !seg.seq_number.in_window(rcv.nxt, rcv.adv_right) {
            return Err(SegmentDrop::OutOfWindow);
        }
        if challenge_allowed(tcb, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::RstNotExact);
    }
    // First: the sequence number. The receive window is the buffer space
    // from RCV.NXT (the application has consumed all in-order data).
    let wnd = rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt;
    let seg_len = seg.segment_len() as u32;
    if !acceptable(rcv.nxt, wnd, seg.seq_number, seg_len) {
        // "If an incoming segment is not acceptable, an acknowledgment
        // should be sent in reply (unless the RST bit is set)" -- within the
        // challenge-ACK rate limit for pure ACKs, so that forged
        // out-of-window segments cannot turn us into an ACK amplifier
        // (Linux does the same with tcp_invalid_ratelimit); data is exempt.
        if dup_ack_allowed(tcb, seg, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::OutOfWindow);
    }
    // Second: RST, handled above (RFC 5961 §3.2).
    // Third: security and compartment -- no IP security options are used.
    // Fourth: the SYN was handled first (RFC 5961 §4).
    Ok(())
}

/// RFC 5961 §3.2 after the peer's FIN (CLOSE-WAIT, CLOSING, LAST-ACK,
/// TIME-WAIT): `Ok` for a RST exactly at RCV.NXT, which resets;
/// `Err(RstNotExact)` for one elsewhere in the window last advertised,
/// which gets a challenge ACK (within the rate limit of §7);
/// `Err(OutOfWindow)` for one outside it, dropped silently.
pub(crate) fn rst_check(rcv: &RecvClosed, seg: &TcpRepr<'_>) -> Result<(), SegmentDrop> {
    if seg.seq_number == rcv.nxt {
        Ok(())
    } else if seg.seq_number.in_window(rcv.nxt, rcv.right) {
        Err(SegmentDrop::RstNotExact)
    } else {
        Err(SegmentDrop::OutOfWindow)
    }
}
