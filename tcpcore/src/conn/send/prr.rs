//! Proportional Rate Reduction (RFC 6937) for the window during fast
//! recovery, with SACK ([`Recovery::SackRecovery`]) or without
//! ([`Recovery::FastRecovery`]), and during an ECN reduction
//! ([`Recovery::Cwr`], RFC 3168 §6.1.2), as Linux `tcp_cwnd_reduction` (PRR-SSRB,
//! Linux's default since 3.2).
//!
//! RFC 6937 §3: at the start of recovery `prr_delivered = prr_out = 0` and
//! `RecoverFS = snd.nxt - snd.una` (Linux `tcp_init_cwnd_reduction`). On
//! every ACK in recovery, `DeliveredData` (the bytes newly acknowledged
//! cumulatively or by SACK) is added to `prr_delivered`, and
//!
//! ```text
//! if pipe > ssthresh:   // proportional rate reduction
//!     sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
//! else:                 // slow start reduction bound (PRR-SSRB)
//!     limit  = MAX(prr_delivered - prr_out, DeliveredData) + MSS
//!     sndcnt = MIN(ssthresh - pipe, limit)
//! cwnd = pipe + sndcnt
//! ```
//!
//! and every byte sent (new or retransmitted) adds to `prr_out`. Recovery
//! ends with `cwnd = ssthresh` (RFC 6937 §3.1; Linux
//! `tcp_end_cwnd_reduction`), in `recovery.rs`.
//!
//! As Linux, which counts in packets: the proportional target is rounded
//! up to whole segments (Linux's `div_u64(ssthresh * prr_delivered +
//! prior_cwnd - 1, prior_cwnd)` in packets), the SSRB's extra MSS is given
//! only when the ACK advanced SND.UNA and marked no segment newly lost
//! (Linux: `FLAG_SND_UNA_ADVANCED && !newly_lost`; the losses are RACK's,
//! `rack.rs`, or NewReno's lost head on a partial ACK), and the first
//! ACK of recovery always allows one segment, the fast retransmit ("Force
//! a fast retransmit upon entering fast recovery": `sndcnt = max(sndcnt,
//! prr_out ? 0 : 1)`). RecoverFS is the RFC's FlightSize at the start
//! (Linux uses `prior_cwnd`, the cwnd then; the two agree when the sender
//! was cwnd-limited).
//!
//! Without SACK (RFC 6582 NewReno recovery) PRR replaces RFC 6582's window
//! inflation and deflation (§3.2 steps 4 and 5), as in Linux: each
//! duplicate ACK counts one SMSS as delivered above SND.UNA
//! (`Congestion::reno_sacked`, Linux `tcp_add_reno_sack`), which `pipe`
//! leaves out, as it does the lost segment at SND.UNA until it is resent;
//! a partial ACK takes all but one SMSS of what it acknowledges off that
//! count (Linux `tcp_remove_reno_sacks`). DeliveredData is then RFC 6937's
//! estimate: "1 SMSS on duplicate acknowledgements, and on a subsequent
//! partial or full ACK ... the change in snd.una, minus 1 SMSS for each
//! preceding duplicate ACK".

use super::recovery::Congestion;
#[cfg(doc)]
use super::recovery::Recovery;
use super::sack::pipe;
use crate::conn::SendHalf;

/// PRR's state for one recovery episode (RFC 6937 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prr {
    /// `prr_delivered`: bytes delivered to the receiver since recovery
    /// began (Linux `tp->prr_delivered`).
    pub(crate) delivered: u32,
    /// `prr_out`: bytes sent since recovery began (Linux `tp->prr_out`).
    pub(crate) out: u32,
    /// `RecoverFS`: FlightSize when recovery began.
    pub(crate) recover_fs: u32,
}

impl Prr {
    /// No recovery episode.
    pub(crate) const fn new() -> Self {
        Prr {
            delivered: 0,
            out: 0,
            recover_fs: 0,
        }
    }

    /// RFC 6937 §3, at the start of recovery (Linux
    /// `tcp_init_cwnd_reduction`), with FlightSize `flight`.
    pub(crate) const fn start(flight: u32) -> Self {
        Prr {
            delivered: 0,
            out: 0,
            recover_fs: flight,
        }
    }

    /// `prr_delivered`, bytes.
    pub const fn delivered(&self) -> u32 {
        self.delivered
    }

    /// `prr_out`, bytes.
    pub const fn out(&self) -> u32 {
        self.out
    }

    /// `RecoverFS`, bytes.
    pub const fn recover_fs(&self) -> u32 {
        self.recover_fs
    }
}

/// RFC 6937 §3 "On every ACK during recovery" (Linux `tcp_cwnd_reduction`):
/// `delivered` is DeliveredData, the bytes this ACK acknowledged
/// cumulatively or newly SACKed; `una_advanced`: it moved SND.UNA;
/// `newly_lost`: the bytes it showed lost (RACK's marks, `rack.rs`, or
/// NewReno's lost head). Sets cwnd = pipe + sndcnt. Call after the
/// scoreboard took the ACK's blocks and RACK marked its losses.
pub(crate) fn on_ack(
    snd: &mut SendHalf,
    delivered: u32,
    una_advanced: bool,
    newly_lost: u32,
    mss: u32,
) {
    if !snd.cc.recovery.in_cwnd_reduction() {
        return;
    }
    // Linux: "if (newly_acked_sacked <= 0) return" -- except on the ACK
    // that began recovery, which always allows the fast retransmit.
    if delivered == 0 && snd.cc.prr.out != 0 {
        return;
    }
    let pipe = pipe(snd, mss);
    let cc = &mut snd.cc;
    let ssthresh = cc.cc.ssthresh();
    let prr = &mut cc.prr;
    prr.delivered = prr.delivered.saturating_add(delivered);
    let mss = mss.max(1);
    let sndcnt = if pipe > ssthresh {
        // Proportional rate reduction, rounded up to whole segments.
        let fs = u64::from(prr.recover_fs.max(1));
        let target = (u64::from(prr.delivered) * u64::from(ssthresh)).div_ceil(fs);
        let target = target.div_ceil(u64::from(mss)) * u64::from(mss);
        let sndcnt = target.saturating_sub(u64::from(prr.out));
        u32::try_from(sndcnt).unwrap_or(u32::MAX)
    } else {
        // The slow start reduction bound: its extra segment only on an
        // ACK that advanced SND.UNA and showed no new loss (Linux
        // tcp_cwnd_reduction: `if (flag & FLAG_SND_UNA_ADVANCED &&
        // !newly_lost) sndcnt++`; RFC 6937 §3's PRR-SSRB, in the
        // conservative bound, PRR-CRB, otherwise).
        let extra = if una_advanced && newly_lost == 0 {
            mss
        } else {
            0
        };
        let limit = prr
            .delivered
            .saturating_sub(prr.out)
            .max(delivered)
            .saturating_add(extra);
        (ssthresh - pipe).min(limit)
    };
    // Linux: "Force a fast retransmit upon entering fast recovery".
    let sndcnt = if prr.out == 0 {
        sndcnt.max(mss)
    } else {
        sndcnt
    };
    cc.cc.set_cwnd(pipe.saturating_add(sndcnt));
}

/// RFC 6937 §3 "On any data transmission or retransmission": `prr_out +=
/// (data sent)` (Linux `tcp_event_data_sent` / `tcp_retransmit_skb`,
/// `tp->prr_out += pcount`).
pub(crate) fn on_sent(cc: &mut Congestion, bytes: u32) {
    if cc.recovery.in_cwnd_reduction() {
        cc.prr.out = cc.prr.out.saturating_add(bytes);
    }
}
