//! The predicates and bookkeeping the steps of `steps.rs` are made of: PAWS
//! (RFC 7323 §5.3), the acceptability test (RFC 9293 §3.10.7.4 first), the
//! challenge-ACK rate limit (RFC 5961 §7), the ACK's bookkeeping (fifth; RFC
//! 5961 §5.2, the window update), and TS.Recent (RFC 7323 §4.3).

use crate::conn::{send, Config, SendHalf, Tcb, PAWS_IDLE};
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

/// PAWS's tolerance in the synchronized states, in the peer's timestamp
/// ticks (Linux `TCP_PAWS_WINDOW`, `tcp_paws_discard`): a segment one tick
/// older than TS.Recent passes. A Linux peer's ACKs can come a tick out of
/// order (sent from two CPUs, its softirq's and its reader's): without
/// the tolerance, PAWS dropped 1-5 of the Linux client's ACKs, with their
/// SACK blocks and window, in most 256 MiB downloads at 1 % loss
/// (bench-e2e, 15 rounds), none with it.
pub(crate) const PAWS_WINDOW: u32 = 1;

/// RFC 7323 §5.3 R1: PAWS. A non-RST segment whose TSval is older than
/// TS.Recent by more than `window` ticks ([`PAWS_WINDOW`] in the
/// synchronized states, 0 in TIME-WAIT, as Linux `tcp_paws_reject`) is a
/// duplicate from an earlier incarnation of the sequence space. (The RFC
/// has no tolerance; Linux's is one tick.)
pub(crate) fn paws_rejects(tcb: &Tcb, seg: &TcpRepr<'_>, now: Instant, window: u32) -> bool {
    let (Some(ts), Some(seg_ts)) = (tcb.ts, seg.options.timestamps) else {
        return false;
    };
    if seg.control == TcpControl::Rst {
        return false;
    }
    let behind = ts.recent.wrapping_sub(seg_ts.tsval) as i32;
    behind > window as i32 && now.saturating_since(ts.recent_at) < PAWS_IDLE
}

/// Linux `tcp_disordered_ack`, which `tcp_paws_discard` exempts from PAWS:
/// a pure ACK at RCV.NXT that acknowledges nothing new (SEG.ACK =
/// SND.UNA), would not update the send window (Linux
/// `tcp_may_update_window`: SEG.SEQ after SND.WL1, or equal with a larger
/// or zero window) and whose TSval is behind TS.Recent by no more than
/// the RTO in ticks (Linux `icsk_rto * 1024 / HZ`, about a millisecond a
/// tick): a duplicate ACK that crossed a later segment, as ACKs sent from
/// two CPUs do. Dropping it would lose a duplicate ACK and its SACK
/// blocks; taking it moves nothing but the loss detection, which it is
/// for. (RFC 7323 leaves this open: §5.3 R1 drops it.)
pub(crate) fn disordered_ack(
    tcb: &Tcb,
    snd: &SendHalf,
    rcv_nxt: SeqNum,
    seg: &TcpRepr<'_>,
    cfg: &Config,
) -> bool {
    let (Some(ts), Some(seg_ts), Some(ack)) = (tcb.ts, seg.options.timestamps, seg.ack_number)
    else {
        return false;
    };
    // Asked of every segment before PAWS: the cheap tests first, and
    // nothing more for one PAWS would let pass anyway (the common case).
    let behind = ts.recent.wrapping_sub(seg_ts.tsval);
    if behind as i32 <= PAWS_WINDOW as i32
        || !seg.payload.is_empty()
        || seg.control != TcpControl::None
        || seg.seq_number != rcv_nxt
        || ack != snd.una
    {
        return false;
    }
    let wnd = u32::from(seg.window_len) << snd.wscale;
    let may_update = snd.wl1.before(seg.seq_number)
        || (snd.wl1 == seg.seq_number && (wnd > snd.wnd || wnd == 0));
    let rto_ticks = send::backed_off(&tcb.rtx, cfg)
        .as_millis()
        .saturating_mul(1024)
        / 1000;
    !may_update && u64::from(behind) <= rto_ticks
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
