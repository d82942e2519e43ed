//! Tail loss probes (RFC 8985 §7): the probe timeout, the probe, and how
//! an ACK or a DSACK (RFC 2883) ends the TLP episode.
//!
//! The probe timer runs while something is in flight (data, or only our
//! FIN: Linux probes with the last buffer of the retransmission queue,
//! which may be a lone FIN), in the open state with nothing SACKed (RFC
//! 8985 §7.2: not "in fast recovery, RTO recovery, or" with "segments
//! ... SACKed"; Linux `tcp_schedule_loss_probe` asks for `TCP_CA_Open`),
//! and no probe out. The probe (`segment.rs`) is a new segment if the
//! peer's window allows one, else the last segment again; either way the
//! RTO is re-armed after it (§7.3). Its episode ends (§7.4) when an ACK
//! covers it: without a loss if it carried new data, or a DSACK or a
//! duplicate ACK shows the original arrived too; with a loss the probe
//! repaired -- and a congestion response -- when an ACK goes beyond it
//! with no such sign.

use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::TcpRepr;

use super::cc::smss;
use super::recovery::Recovery;
use super::rto::backed_off;
use crate::conn::{Config, SendHalf, Tcb, Timer};

/// RFC 8985 §7.2: TLP.max_ack_delay, what the probe timeout of a lone
/// segment allows for the peer's delayed ACK ("implementation specific"):
/// Linux's, TCP_RTO_MIN, 200 ms (tcp_schedule_loss_probe).
pub(crate) const TLP_MAX_ACK_DELAY: u64 = 200_000;
/// What Linux's tcp_schedule_loss_probe adds to 2·SRTT when more than one
/// segment is out: TCP_TIMEOUT_MIN, 2 ms (the RFC adds nothing).
pub(crate) const TLP_MIN_SLACK: u64 = 2_000;
/// RFC 8985 §7.2: "when there is no SRTT estimate available, the PTO
/// SHOULD be 1 second" (Linux: TCP_TIMEOUT_INIT).
pub(crate) const PTO_NO_SRTT: u64 = 1_000_000;

/// RFC 8985 §7.2, TLP_calc_PTO: "If SRTT is available: PTO = 2 * SRTT. If
/// FlightSize is one segment: PTO += TLP.max_ack_delay. Else: PTO = 1 sec.
/// If Now() + PTO > TCP_RTO_expiration(): PTO = TCP_RTO_expiration() -
/// Now()": the probe is never later than the RTO, and goes in its place.
/// With more than one segment out, Linux's tcp_schedule_loss_probe adds
/// TCP_TIMEOUT_MIN (2 ms) to 2·SRTT, room for the timer's granularity
/// and the peer's ACK decimation ([`TLP_MIN_SLACK`]).
pub(crate) fn pto_after(snd: &SendHalf, tcb: &Tcb, now: Instant) -> Option<Instant> {
    let pto = match tcb.rtx.rtt {
        Some((srtt, _)) => {
            let slack = if snd.max - snd.una <= smss(snd, tcb) {
                TLP_MAX_ACK_DELAY
            } else {
                TLP_MIN_SLACK
            };
            2 * srtt + slack
        }
        None => PTO_NO_SRTT,
    };
    let at = now + Duration::from_micros(pto);
    Some(match tcb.timers.rto_at() {
        Some(rto) if rto < at => rto,
        _ => at,
    })
}

/// A loss probe may be scheduled (RFC 8985 §7.2): something (data or the
/// FIN) is in flight, in the open state, with nothing SACKed, and no probe
/// is out.
pub(crate) fn may_probe(snd: &SendHalf) -> bool {
    snd.una != snd.max
        && snd.cc.tlp.is_none()
        && snd.cc.recovery == Recovery::Open
        && snd.cc.sacked.is_empty()
}

/// Arms (or re-arms) the tail-loss-probe timer when a probe may be
/// scheduled ([`may_probe`]); stops it otherwise. The RTO deadline must
/// be set first.
pub(crate) fn arm_pto(snd: &SendHalf, tcb: &mut Tcb, now: Instant) {
    let at = if may_probe(snd) {
        pto_after(snd, tcb, now)
    } else {
        None
    };
    match at {
        Some(at) => tcb.timers.set(Timer::TailLossProbe, at),
        None => tcb.timers.clear(Timer::TailLossProbe),
    }
}

/// The tail-loss-probe timer fired (RFC 8985 §7.3): a new segment, or the
/// last segment again, is sent (by [`next_segment`](super::next_segment)), so that a lost tail
/// draws a SACK (and recovery) instead of waiting for the RTO. "After attempting to send a loss probe, regardless
/// of whether a loss probe was sent, the sender MUST re-arm the RTO timer,
/// not the PTO timer, if FlightSize is not empty" (Linux
/// tcp_send_loss_probe -> tcp_rearm_rto).
pub fn on_pto(snd: &mut SendHalf, tcb: &mut Tcb, now: Instant, cfg: &Config) {
    tcb.timers.clear(Timer::TailLossProbe);
    if may_probe(snd) {
        snd.cc.tlp = Some(snd.max);
        snd.cc.rtx_last = true;
        tcb.timers.rearm_rto(now + backed_off(&tcb.rtx, cfg));
    }
}

/// RFC 2883 §4: the ACK's first SACK block lies at or below its cumulative
/// ACK (a DSACK) and reports the segment that ends at `end` (the loss
/// probe) as received twice.
pub(crate) fn dsack_covers(seg: &TcpRepr<'_>, ack: SeqNum, end: SeqNum) -> bool {
    seg.options
        .sack_blocks
        .as_slice()
        .first()
        .is_some_and(|&(l, r)| r.before_eq(ack) && l.before(end) && r.after_eq(end))
}

/// RFC 8985 §7.4.2: a duplicate ACK at or beyond the loss probe's end, with
/// a DSACK for it or with no SACK option at all, shows that both the
/// original and the probe arrived: the probe repaired nothing.
pub(crate) fn tlp_dupack(snd: &mut SendHalf, seg: &TcpRepr<'_>, ack: SeqNum) {
    if let Some(end) = snd.cc.tlp.filter(|&end| ack.after_eq(end)) {
        if seg.options.sack_blocks.as_slice().is_empty() || dsack_covers(seg, ack, end) {
            snd.cc.tlp = None;
        }
    }
}
