//! Loss recovery as explicit state: [`Recovery`], the mode the sender is
//! in (RFC 5681 §3.2 fast retransmit, RFC 6582 NewReno fast recovery, RFC
//! 6675 SACK-based recovery, and the loss state after a retransmission
//! timeout, RFC 5681 §3.1 / RFC 6582 §4), and [`Congestion`], the send
//! half's congestion-control and recovery state: the algorithm ([`Cc`],
//! `cc.rs`), the mode, the SACK scoreboard (`sack.rs`) and the tail loss
//! probe's episode (`tlp.rs`), PRR's counters (RFC 6937, `prr.rs`),
//! which set cwnd in fast recovery, and the record to undo a reduction
//! shown spurious (`undo.rs`). With SACK, RACK (RFC 8985 §6, `rack.rs`)
//! finds the losses that start and drive SACK-based recovery, as Linux
//! does by default; without SACK, three duplicate ACKs do.

use crate::seq::SeqNum;
use crate::time::Instant;

use super::cc::{Cc, DUP_THRESH};
use super::pace::Pacer;
use super::prr::Prr;
use super::rack::Rack;
use super::sack::Scoreboard;
use super::undo::{self, Undo};
use crate::conn::{CongestionControl, SendHalf, Tcb, Timer};

/// The loss-recovery mode (RFC 5681, RFC 6582, RFC 6675; Linux's
/// `TCP_CA_Open`, `TCP_CA_Recovery`, `TCP_CA_Loss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// No loss being repaired: cwnd grows (slow start or congestion
    /// avoidance) and duplicate ACKs may start fast retransmit.
    Open,
    /// RFC 6582 NewReno fast recovery, until `recover` (SND.NXT when it
    /// began) is acknowledged: the segment at SND.UNA is resent on entry
    /// and on each partial ACK (§3.2 steps 2 and 5); cwnd is RFC 6937
    /// PRR's (`prr.rs`), with `pipe` less one SMSS per duplicate ACK
    /// (Linux `tcp_add_reno_sack`), in place of RFC 6582's inflation
    /// (step 4) and deflation (step 5).
    FastRecovery {
        /// RFC 6582 `recover`.
        recover: SeqNum,
    },
    /// RFC 6675 SACK-based loss recovery, until `recover` (RecoveryPoint)
    /// is acknowledged: `pipe` decides what is sent against a cwnd that
    /// RFC 6937 PRR (`prr.rs`, Linux `tcp_cwnd_reduction`) sets on every
    /// ACK; holes are resent from HighRxt (`Congestion::high_rxt`).
    SackRecovery {
        /// RFC 6675 RecoveryPoint.
        recover: SeqNum,
    },
    /// After a retransmission timeout (RFC 5681 §3.1, go-back-N from
    /// SND.UNA): RFC 6582 §4 `recover` is SND.MAX when the timer fired, and
    /// fast retransmit may start again only once SND.UNA has reached it
    /// (§3.2 step 2), so that duplicate ACKs for data sent before the
    /// timeout start no recovery.
    Loss {
        /// RFC 6582 §4 `recover`.
        recover: SeqNum,
    },
    /// RFC 3168 §6.1.2: the peer echoed congestion (ECE); cwnd comes down
    /// by PRR as in fast recovery, with nothing retransmitted, until
    /// `recover` (SND.NXT then) is passed (Linux `TCP_CA_CWR`; `ecn.rs`).
    Cwr {
        /// Linux `high_seq`.
        recover: SeqNum,
    },
}

impl Recovery {
    /// The recovery point of fast or SACK-based recovery.
    pub const fn fast_recover(&self) -> Option<SeqNum> {
        match *self {
            Recovery::FastRecovery { recover } | Recovery::SackRecovery { recover } => {
                Some(recover)
            }
            Recovery::Open | Recovery::Loss { .. } | Recovery::Cwr { .. } => None,
        }
    }

    /// cwnd is being reduced by PRR: fast recovery or an ECN reduction
    /// (Linux `tcp_in_cwnd_reduction`).
    pub const fn in_cwnd_reduction(&self) -> bool {
        matches!(self, Recovery::Cwr { .. }) || self.in_fast_recovery()
    }

    /// In fast recovery (NewReno or SACK-based).
    pub const fn in_fast_recovery(&self) -> bool {
        self.fast_recover().is_some()
    }
}

/// Congestion control and loss-recovery state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Congestion {
    /// The congestion-control algorithm: cwnd, ssthresh.
    pub(crate) cc: Cc,
    /// The loss-recovery mode.
    pub(crate) recovery: Recovery,
    /// Duplicate ACKs in a row.
    pub(crate) dupacks: u8,
    /// RFC 6675 HighRxt: the highest sequence number retransmitted in this
    /// recovery; the next hole to resend starts at or after it (`pipe`
    /// counts the holes below it as resent, in any mode).
    pub(crate) high_rxt: SeqNum,
    /// A retransmission of the segment at SND.UNA is due (fast retransmit,
    /// a partial ACK, a retransmission timeout, a persist probe).
    pub(crate) rtx_una: bool,
    /// Ranges the peer has SACKed above SND.UNA, sorted and disjoint.
    pub(crate) sacked: Scoreboard,
    /// The segment being timed for an RTT sample (Karn: never a
    /// retransmitted one), and when it was sent.
    pub(crate) rtt_probe: Option<(SeqNum, Instant)>,
    /// The silly-window override timer ([`Timer::SwsOverride`]) fired: the
    /// next new segment goes even if it is smaller than sender SWS
    /// avoidance would allow.
    pub(crate) sws_override: bool,
    /// The next retransmission is a zero-window probe: one byte.
    pub(crate) probe: bool,
    /// A tail loss probe is out (RFC 8985 §7, a TLP episode); its end
    /// (TLP.end_seq: SND.MAX when it was sent).
    pub(crate) tlp: Option<SeqNum>,
    /// The next transmission is the tail loss probe: a new segment if the
    /// peer's window allows, else the last segment again (RFC 8985 §7.3).
    pub(crate) rtx_last: bool,
    /// The loss probe out resent data (RFC 8985 §7.3 TLP.is_retrans; Linux
    /// `tlp_retrans`): only then can its ACK show a loss it repaired.
    pub(crate) tlp_retrans: bool,
    /// RACK's send times and reordering window (RFC 8985 §6, `rack.rs`).
    pub(crate) rack: Rack,
    /// When data was last sent (new or retransmitted), for the restart
    /// window after idle (RFC 5681 §4.1; Linux `lsndtime`).
    pub(crate) last_sent: Option<Instant>,
    /// RFC 6937 PRR's counters for the recovery under way.
    pub(crate) prr: Prr,
    /// Without SACK: bytes thought delivered above SND.UNA, one SMSS per
    /// duplicate ACK (Linux `sacked_out` for Reno, `tcp_add_reno_sack`),
    /// for `pipe` and PRR's DeliveredData in NewReno recovery.
    pub(crate) reno_sacked: u32,
    /// The last cwnd reduction, to undo if it proves spurious (`undo.rs`).
    pub(crate) undo: Undo,
    /// Whether the flight filled cwnd in the current window (Linux
    /// `is_cwnd_limited`, see [`Congestion::validate`]).
    pub(crate) cwnd_limited: bool,
    /// The largest flight of the current window, bytes (Linux
    /// `max_packets_out`).
    pub(crate) max_flight: u32,
    /// Where the current window ends (Linux `cwnd_usage_seq`).
    pub(crate) usage_seq: SeqNum,
    /// The pacing schedule (`pace.rs`).
    pub(crate) pace: Pacer,
}

impl Congestion {
    /// The initial state for a sender MSS of `smss` bytes of payload (the
    /// effective send MSS less our options, [`smss_for`](super::smss_for)),
    /// with RFC 6928's initial window, and the congestion-control
    /// algorithm `algo`.
    pub fn new(smss: u32, algo: CongestionControl) -> Self {
        Congestion {
            cc: Cc::new(smss, algo),
            recovery: Recovery::Open,
            dupacks: 0,
            high_rxt: SeqNum::new(0),
            rtx_una: false,
            sacked: Scoreboard::new(),
            rtt_probe: None,
            sws_override: false,
            probe: false,
            tlp: None,
            rtx_last: false,
            tlp_retrans: false,
            rack: Rack::new(),
            last_sent: None,
            prr: Prr::new(),
            reno_sacked: 0,
            undo: Undo::new(),
            cwnd_limited: false,
            max_flight: 0,
            usage_seq: SeqNum::new(0),
            pace: Pacer::new(),
        }
    }

    /// The same, for a sender that paces or not ([`Config::pacing`](crate::Config::pacing)).
    pub fn paced(mut self, on: bool) -> Self {
        self.cc.set_paced(on);
        self
    }

    /// After a round of sending, with `flight` in flight and SND.NXT at
    /// `nxt` (Linux `tcp_cwnd_validate`, RFC 7661's "cwnd-limited"):
    /// whether the flight filled cwnd -- left less than a segment of `mss`
    /// of it, as Linux, counting cwnd in segments, fills it exactly -- is
    /// kept for the current window (until SND.UNA passes what SND.NXT is
    /// now), once set; else the largest flight of the window.
    pub(crate) fn validate(&mut self, una: SeqNum, nxt: SeqNum, flight: u32, mss: u32) {
        let limited = flight.saturating_add(mss) > self.cwnd();
        if !una.before(self.usage_seq)
            || limited
            || (!self.cwnd_limited && flight > self.max_flight)
        {
            self.cwnd_limited = limited;
            self.max_flight = flight;
            self.usage_seq = nxt;
        }
    }

    /// Whether cwnd may grow on an ACK (Linux `tcp_is_cwnd_limited`): the
    /// flight filled it in the current window, or, in slow start, cwnd is
    /// less than twice the largest flight. A sender the application or the
    /// peer's window holds back does not grow a cwnd it does not use:
    /// else cwnd grows without bound (68 MB seen against a 4 MB flight),
    /// and a loss then lets the whole of it out at once.
    pub(crate) fn may_grow(&self) -> bool {
        self.cwnd_limited || (self.cwnd() < self.cc.ssthresh() && self.cwnd() / 2 < self.max_flight)
    }

    /// cwnd, in bytes.
    pub const fn cwnd(&self) -> u32 {
        self.cc.cwnd()
    }

    /// ssthresh, in bytes.
    pub const fn ssthresh(&self) -> u32 {
        self.cc.ssthresh()
    }

    /// The congestion-control algorithm and its state.
    pub const fn cc(&self) -> &Cc {
        &self.cc
    }

    /// The loss-recovery mode.
    pub const fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// In fast recovery until this sequence number is acknowledged (RFC
    /// 6582 `recover`, RFC 6675 RecoveryPoint).
    pub const fn recover(&self) -> Option<SeqNum> {
        self.recovery.fast_recover()
    }

    /// The end of the tail loss probe that is out, if one is (RFC 8985 §7).
    pub const fn tlp(&self) -> Option<SeqNum> {
        self.tlp
    }

    /// The SACK scoreboard: ranges SACKed above SND.UNA.
    pub const fn sacked(&self) -> &Scoreboard {
        &self.sacked
    }

    /// The record for undoing the last cwnd reduction, and the counts of
    /// undos (`undo.rs`).
    pub const fn undo(&self) -> &Undo {
        &self.undo
    }

    /// RFC 6937 PRR's counters of the last SACK-based recovery.
    pub const fn prr(&self) -> &Prr {
        &self.prr
    }

    /// RACK's state (RFC 8985 §6).
    pub const fn rack(&self) -> &Rack {
        &self.rack
    }
}

/// The recovery side of an ACK of new data (`acked` bytes up to `ack`): a
/// full acknowledgment ends fast recovery (RFC 6582 §3.2 step 3, RFC 6675
/// §5), a partial one goes on with it (RFC 6582 §3.2 step 5); outside fast
/// recovery, congestion control grows cwnd (RFC 5681 §3.1, RFC 3465).
pub(crate) fn on_new_ack(snd: &mut SendHalf, ack: SeqNum, acked: u32, mss: u32, now: Instant) {
    let cc = &mut snd.cc;
    match cc.recovery {
        // A full acknowledgment ends recovery. RFC 6937 §3.1: "At the
        // end of recovery ... set cwnd to ssthresh" (Linux
        // tcp_end_cwnd_reduction: snd_cwnd = snd_ssthresh), whatever PRR
        // made of it, with or without SACK (PRR has kept pipe near
        // ssthresh, so RFC 6582 §3.2 step 3's burst guard, cwnd =
        // min(ssthresh, max(FlightSize, SMSS) + SMSS), is not needed).
        Recovery::FastRecovery { recover } | Recovery::SackRecovery { recover }
            if ack.after_eq(recover) =>
        {
            cc.cc.set_cwnd(cc.cc.ssthresh());
            cc.recovery = Recovery::Open;
            cc.reno_sacked = 0;
            cc.rack.on_recovery_end();
        }
        // A partial acknowledgment in SACK-based recovery: cwnd is PRR's
        // (`prr.rs`, after this ACK's SACK blocks are taken); `pipe`
        // decides what is sent, RACK (`rack.rs`) what is lost: the
        // segment at SND.UNA once the ACK of one sent after it shows it
        // lost (reo_wnd is zero in recovery until reordering is seen).
        Recovery::SackRecovery { .. } => {}
        // A partial acknowledgment without SACK: retransmit the first
        // unacknowledged segment (RFC 6582 §3.2 step 5). cwnd is PRR's;
        // the duplicate ACKs counted as delivered are taken off, all but
        // one SMSS of the ACK (Linux tcp_remove_reno_sacks: "One ACK
        // acked hole. The rest eat duplicate ACKs.").
        Recovery::FastRecovery { .. } => {
            cc.rtx_una = true;
            let eaten = acked.saturating_sub(mss).min(cc.reno_sacked);
            cc.reno_sacked -= eaten;
        }
        Recovery::Open | Recovery::Loss { .. } => {
            cc.reno_sacked = 0;
            if cc.may_grow() {
                cc.cc.on_ack(acked, mss, now);
            }
        }
        // An ECN reduction: PRR's cwnd, no growth (`ecn.rs` ends it).
        Recovery::Cwr { .. } => cc.reno_sacked = 0,
    }
    cc.dupacks = 0;
}

/// A duplicate ACK: without SACK, one more SMSS thought delivered above
/// SND.UNA (Linux `tcp_add_reno_sack`), at most all but one SMSS of the
/// flight (Linux `tcp_limit_reno_sacked`: the hole stays). In NewReno
/// recovery this takes the place of RFC 6582 §3.2 step 4's inflation:
/// PRR sets cwnd from it.
pub(crate) fn on_dup_ack(cc: &mut Congestion, flight: u32, mss: u32) {
    let cap = flight.saturating_sub(mss);
    cc.reno_sacked = cc.reno_sacked.saturating_add(mss).min(cap);
}

/// RFC 5681 §3.2, RFC 8985 §6, RFC 6582 §3.2: enter fast recovery when
/// duplicate ACKs or RACK show a loss.
pub(crate) fn enter_recovery(snd: &mut SendHalf, tcb: &mut Tcb, mss: u32) {
    // RFC 8985 §6 (Linux tcp_time_to_recover: "Trick#1: The loss is
    // proven", lost_out; with RACK on, Linux's default, no other rule):
    // with SACK, recovery begins once RACK marked a segment lost -- at
    // once when DupThresh segments are SACKed above it and no reordering
    // was seen (reo_wnd 0), else a reordering window later. RFC 5681
    // §3.2: without SACK blocks, on the third duplicate ACK. Not while
    // already recovering (RFC 6582 §3.2 step 2: only once SND.UNA has
    // passed the previous `recover`).
    let rack_loss = tcb.sack && snd.cc.rack.lost_below(snd.una, snd.max, &snd.cc.sacked) > 0;
    let dupthresh = snd.cc.dupacks >= DUP_THRESH && snd.cc.sacked.is_empty();
    // RFC 6582 §3.2 step 2 / §4: not for duplicate ACKs of data sent
    // before a retransmission timeout ("If the Cumulative Acknowledgment
    // field covers more than recover ... Otherwise ... do not enter").
    // The loss state's `recover` is one past that highest byte.
    if let Recovery::Loss { recover } = snd.cc.recovery {
        if snd.una.after_eq(recover) {
            snd.cc.recovery = Recovery::Open;
            snd.cc.rack.on_recovery_end();
        }
    }
    let cwr = matches!(snd.cc.recovery, Recovery::Cwr { .. });
    if (snd.cc.recovery == Recovery::Open || cwr) && snd.nxt != snd.una && (dupthresh || rack_loss)
    {
        // Linux tcp_enter_recovery: tcp_init_undo (`undo.rs`).
        undo::start(snd);
        let cc = &mut snd.cc;
        let flight = snd.nxt - snd.una;
        // RFC 6937 §3 (Linux tcp_init_cwnd_reduction): PRR begins; cwnd
        // is left to `prr::on_ack`, for this ACK too. From an ECN
        // reduction the window is not cut again (Linux
        // tcp_enter_recovery: not when tcp_in_cwnd_reduction).
        if !cwr {
            cc.cc.on_congestion_event(flight, mss);
            cc.prr = Prr::start(flight);
        }
        if rack_loss {
            // RACK's lost segments are resent (`segment.rs`).
            cc.reno_sacked = 0;
            cc.recovery = Recovery::SackRecovery { recover: snd.nxt };
        } else {
            cc.recovery = Recovery::FastRecovery { recover: snd.nxt };
            cc.rtx_una = true;
        }
        cc.high_rxt = snd.una;
        cc.rtt_probe = None;
        cc.tlp = None;
        tcb.timers.clear(Timer::TailLossProbe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flight within a segment of cwnd fills it: cwnd in bytes is
    /// seldom a whole number of segments after a reduction, and the
    /// sender sends no runt into the rest (Linux counts cwnd in segments
    /// and fills it exactly).
    #[test]
    fn flight_within_a_segment_of_cwnd_is_cwnd_limited() {
        let mut c = Congestion::new(1000, CongestionControl::NewReno);
        c.cc.set_cwnd(14_300);
        c.validate(SeqNum::new(0), SeqNum::new(14_000), 13_000, 1000);
        assert!(!c.cwnd_limited);
        c.validate(SeqNum::new(0), SeqNum::new(14_000), 14_000, 1000);
        assert!(c.cwnd_limited && c.may_grow());
        // Kept for the window, then a new window without a full flight.
        c.validate(SeqNum::new(1000), SeqNum::new(15_000), 2000, 1000);
        assert!(c.cwnd_limited);
        c.validate(SeqNum::new(14_000), SeqNum::new(16_000), 2000, 1000);
        assert!(!c.cwnd_limited && c.max_flight == 2000);
    }
}
