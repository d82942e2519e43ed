//! Congestion control (RFC 5681 slow start and congestion avoidance, RFC
//! 3465 byte counting, RFC 6928's initial window, RFC 5681 §4.1's restart
//! window) behind one enum, [`Cc`], with two members: CUBIC (RFC 9438,
//! [`Cubic`], `cubic.rs`), the default, and NewReno's window rules
//! ([`NewReno`]), chosen by
//! [`Config::congestion_control`](crate::Config::congestion_control) when
//! the connection starts, both called through the same operations
//! ([`Cc::on_ack`], [`Cc::on_rtt_sample`], [`Cc::on_congestion_event`],
//! [`Cc::on_rto`], [`Cc::restart_after_idle`], [`Cc::on_tx_start`],
//! [`Cc::undo`], [`Cc::cwnd`], [`Cc::ssthresh`]). Both run HyStart++ (RFC
//! 9406, `hystart.rs`) in their first slow start; a reduction shown
//! spurious is undone through [`Cc::undo`] (RFC 3522, RFC 2883,
//! `undo.rs`). Loss recovery, which decides when these are called, is in
//! `recovery.rs`. Also the sender MSS (RFC 9293 §3.7.1).

use super::cubic::Cubic;
use super::hystart::{HyStart, Phase};
use crate::conn::{CongestionControl, SendHalf, Tcb};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 5681 §3.2 / RFC 6675: DupThresh.
pub(crate) const DUP_THRESH: u8 = 3;

/// The congestion-control algorithm and its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// RFC 5681 with RFC 3465 byte counting (the window rules of NewReno).
    NewReno(NewReno),
    /// RFC 9438 CUBIC, as Linux `tcp_cubic.c` (`cubic.rs`).
    Cubic(Cubic),
}

/// RFC 5681 / RFC 3465 state: cwnd, ssthresh and the bytes acknowledged
/// in congestion avoidance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewReno {
    /// cwnd, in bytes.
    cwnd: u32,
    /// ssthresh, in bytes.
    ssthresh: u32,
    /// RFC 3465 §2.1 `bytes_acked`: bytes acknowledged in congestion
    /// avoidance since cwnd last grew (Linux `snd_cwnd_cnt`, in bytes).
    bytes_acked: u32,
    /// HyStart++ (RFC 9406, `hystart.rs`) for the first slow start.
    hystart: HyStart,
}

impl NewReno {
    /// RFC 6928's initial window for a sender MSS of `smss`; ssthresh
    /// arbitrarily high (RFC 5681 §3.1).
    pub fn new(smss: u32) -> Self {
        NewReno {
            cwnd: initial_window(smss),
            ssthresh: u32::MAX,
            bytes_acked: 0,
            hystart: HyStart::new(),
        }
    }

    fn on_ack(&mut self, acked: u32, mss: u32) {
        if self.cwnd < self.ssthresh {
            // Slow start (RFC 5681 §3.1), with RFC 3465's L = 1 SMSS, or
            // in the first one HyStart++'s (RFC 9406 §4.2).
            let inc = if self.ssthresh == u32::MAX {
                self.hystart.increase(acked, mss)
            } else {
                acked.min(mss)
            };
            self.cwnd = self.cwnd.saturating_add(inc);
        } else {
            // Congestion avoidance, RFC 5681 §3.1 with RFC 3465 §2.1
            // (appropriate byte counting): "When bytes_acked becomes
            // greater than or equal to the value of the congestion
            // window, bytes_acked is reduced by the value of cwnd. Next,
            // cwnd is incremented by a full-sized segment (SMSS)." So one
            // SMSS per window of data acknowledged, however many ACKs
            // that took (Linux tcp_cong_avoid_ai).
            self.bytes_acked = self.bytes_acked.saturating_add(acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
    }
}

impl Cc {
    /// The algorithm `algo`, with RFC 6928's initial window for a sender
    /// MSS of `smss`.
    pub fn new(smss: u32, algo: CongestionControl) -> Self {
        match algo {
            CongestionControl::NewReno => Cc::NewReno(NewReno::new(smss)),
            CongestionControl::Cubic => Cc::Cubic(Cubic::new(initial_window(smss))),
        }
    }

    /// Which algorithm this is.
    pub const fn algorithm(&self) -> CongestionControl {
        match self {
            Cc::NewReno(_) => CongestionControl::NewReno,
            Cc::Cubic(_) => CongestionControl::Cubic,
        }
    }

    /// cwnd, in bytes.
    pub const fn cwnd(&self) -> u32 {
        match self {
            Cc::NewReno(r) => r.cwnd,
            Cc::Cubic(c) => c.cwnd,
        }
    }

    /// ssthresh, in bytes.
    pub const fn ssthresh(&self) -> u32 {
        match self {
            Cc::NewReno(r) => r.ssthresh,
            Cc::Cubic(c) => c.ssthresh,
        }
    }

    /// HyStart++'s state (RFC 9406, `hystart.rs`): whether the first slow
    /// start is in CSS. It matters only while ssthresh is at its initial
    /// value.
    pub const fn hystart(&self) -> &HyStart {
        match self {
            Cc::NewReno(r) => &r.hystart,
            Cc::Cubic(c) => &c.hystart,
        }
    }

    /// The sender paces: HyStart++ grows cwnd without RFC 9406's per-ACK
    /// limit `L`.
    pub(crate) fn set_paced(&mut self, on: bool) {
        match self {
            Cc::NewReno(r) => r.hystart.set_paced(on),
            Cc::Cubic(c) => c.hystart.set_paced(on),
        }
    }

    /// `acked` new bytes acknowledged outside fast recovery at `now`: slow
    /// start or congestion avoidance (RFC 5681 §3.1, RFC 3465; RFC 9438
    /// §4.2-4.5).
    pub(crate) fn on_ack(&mut self, acked: u32, mss: u32, now: Instant) {
        match self {
            Cc::NewReno(r) => r.on_ack(acked, mss),
            Cc::Cubic(c) => c.on_ack(acked, mss, now),
        }
    }

    /// A new RTT sample, from an ACK that took SND.UNA to `una` with
    /// SND.NXT at `nxt`: HyStart++'s (RFC 9406 §4.2, `hystart.rs`) in the
    /// first slow start; CUBIC also keeps the least (Linux `delay_min`).
    pub(crate) fn on_rtt_sample(&mut self, rtt: Duration, now: Instant, una: SeqNum, nxt: SeqNum) {
        match self {
            Cc::NewReno(r) => {
                if r.cwnd < r.ssthresh && r.ssthresh == u32::MAX {
                    hystart_sample(&mut r.hystart, &mut r.ssthresh, r.cwnd, rtt, una, nxt);
                }
            }
            Cc::Cubic(c) => c.on_rtt_sample(rtt, now, una, nxt),
        }
    }

    /// A loss was detected (fast retransmit, a loss the tail loss probe
    /// repaired): for NewReno RFC 5681 §3.2 equation (4), ssthresh =
    /// max(FlightSize / 2, 2 SMSS); for CUBIC RFC 9438 §4.6, ssthresh =
    /// max(cwnd · β_cubic, 2 SMSS) with β_cubic = 0.7, and W_max (§4.7).
    /// cwnd is left to the recovery that follows ([`Cc::set_cwnd`]).
    pub(crate) fn on_congestion_event(&mut self, flight: u32, mss: u32) {
        match self {
            Cc::NewReno(r) => {
                r.ssthresh = (flight / 2).max(2 * mss);
                r.bytes_acked = 0;
            }
            Cc::Cubic(c) => c.on_congestion_event(mss),
        }
    }

    /// A retransmission timeout: RFC 5681 §3.1, ssthresh as for any loss
    /// on the first timeout of a series (`first`; later ones keep it, RFC
    /// 5681 equation (4) note), cwnd = the loss window, one segment.
    /// CUBIC also forgets W_max and its epoch (RFC 9438 §4.8, Linux
    /// `bictcp_reset`).
    pub(crate) fn on_rto(&mut self, flight: u32, first: bool, mss: u32) {
        match self {
            Cc::NewReno(r) => {
                if first {
                    r.ssthresh = (flight / 2).max(2 * mss);
                }
                r.cwnd = mss;
                r.bytes_acked = 0;
            }
            Cc::Cubic(c) => c.on_rto(first, mss),
        }
    }

    /// RFC 5681 §4.1: after an idle period longer than the RTO, cwnd is no
    /// more than the restart window `rw`.
    pub(crate) fn restart_after_idle(&mut self, rw: u32) {
        match self {
            Cc::NewReno(r) => r.cwnd = r.cwnd.min(rw),
            Cc::Cubic(c) => c.restart_after_idle(rw),
        }
    }

    /// Data goes out with nothing in flight, `idle` after the last segment
    /// sent: CUBIC moves its epoch by that much (RFC 9438 §5.8, Linux
    /// `CA_EVENT_TX_START`); NewReno has no clock to move.
    pub(crate) fn on_tx_start(&mut self, idle: Duration, now: Instant) {
        match self {
            Cc::NewReno(_) => {}
            Cc::Cubic(c) => c.on_tx_start(idle, now),
        }
    }

    /// Undo of a reduction shown spurious (Linux
    /// `tcp_undo_cwnd_reduction`, `undo.rs`): cwnd = max(cwnd,
    /// `prior_cwnd`) (Linux `tcp_reno_undo_cwnd`, CUBIC's too),
    /// ssthresh = max(ssthresh, `prior_ssthresh`).
    pub(crate) fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let (cwnd, ssthresh) = match self {
            Cc::NewReno(r) => (&mut r.cwnd, &mut r.ssthresh),
            Cc::Cubic(c) => (&mut c.cwnd, &mut c.ssthresh),
        };
        *cwnd = (*cwnd).max(prior_cwnd);
        *ssthresh = (*ssthresh).max(prior_ssthresh);
    }

    /// Sets cwnd, for loss recovery (RFC 6937 PRR, cwnd = ssthresh at its
    /// end) and the loss window after a lost SYN.
    pub(crate) fn set_cwnd(&mut self, cwnd: u32) {
        match self {
            Cc::NewReno(r) => r.cwnd = cwnd,
            Cc::Cubic(c) => c.cwnd = cwnd,
        }
    }
}

/// An RTT sample for HyStart++ (RFC 9406 §4.2) in the first slow start:
/// after CSS_ROUNDS rounds of CSS, congestion avoidance (`ssthresh =
/// cwnd`).
pub(crate) fn hystart_sample(
    hs: &mut HyStart,
    ssthresh: &mut u32,
    cwnd: u32,
    rtt: Duration,
    una: SeqNum,
    nxt: SeqNum,
) {
    if hs.on_rtt(rtt, una, nxt) == Phase::Done {
        *ssthresh = cwnd;
    }
}

/// RFC 6928 §2: the initial window, "min (10*MSS, max (2*MSS, 14600))",
/// MSS being SMSS (RFC 5681: the payload of the largest segment the sender
/// sends, the effective send MSS less options). Linux counts cwnd in
/// segments (`TCP_INIT_CWND`, 10) without the byte cap; the cap only
/// matters above an SMSS of 1460.
pub(crate) fn initial_window(smss: u32) -> u32 {
    let smss = smss.max(1);
    (10 * smss).min((2 * smss).max(14_600))
}

/// SMSS for an effective send MSS of `mss` (RFC 9293 §3.7.1, which counts
/// TCP options): `mss` less the timestamp option when it is on every
/// segment (12 bytes with its padding), at least 1.
pub fn smss_for(mss: u16, timestamps: bool) -> u32 {
    let opts = if timestamps { 12 } else { 0 };
    u32::from(mss).saturating_sub(opts).max(1)
}

/// The largest payload of one segment: the effective send MSS less our
/// options (see [`smss_for`]).
pub fn smss(snd: &SendHalf, tcb: &Tcb) -> u32 {
    smss_for(snd.mss, tcb.ts.is_some())
}
