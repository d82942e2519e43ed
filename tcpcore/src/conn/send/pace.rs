//! Pacing: new data and SACK retransmissions leave at a rate, spread over
//! the round trip, instead of in bursts as fast as ACKs open the windows
//! ([`Config::pacing`], off by default).
//!
//! No RFC specifies TCP pacing; this is Linux's, as a Linux sender paces
//! when it can (`sch_fq`, or internal pacing for BBR): the rate is
//! `tcp_update_pacing_rate`'s, 200 % of cwnd per round trip in slow start
//! (cwnd below half ssthresh) and 120 % otherwise, over the larger of cwnd
//! and what is in flight, the round trip being the least RTT seen where
//! Linux takes SRTT (see `rate`); each segment moves the earliest
//! departure time of the next by its length at that rate (the EDT model of
//! `tcp_update_skb_after_send`: a sender that fell behind its schedule
//! gets up to half of a segment's time back); the first ten segments of
//! a connection go unpaced (sch_fq's initial quantum); and a segment of
//! segmentation offload carries about a millisecond of the rate
//! (`tcp_tso_autosize`).
//!
//! Why a sender the peer's window holds back should still spread its
//! flight: a Linux receiver grows its receive buffer (dynamic right-sizing,
//! `tcp_rcv_space_adjust`) from what the application read in the last
//! round trip less what still waits unread. A whole window that lands at
//! once is still queued when the reader's first read of it ends the
//! measuring round, so its buffer does not grow, its window stays where it
//! began (70-80 KB), and the flight stays one burst: measured on the
//! +10 ms path of `bench-e2e`, where a fifth of unpaced downloads sat at
//! an 80 KB window for 150-1,270 ms.

use crate::time::Instant;

use super::cc::smss;
use super::sack::pipe;
use crate::conn::{Config, SendHalf, Tcb, Timer};

/// How far ahead of its schedule a sender may run when it comes by anyway
/// (an ACK, another segment): 50 µs, Linux's default timer slack
/// (`timer_slack_ns`), about what one pass of a polling loop takes. Below
/// it, gaps of a few microseconds (a small cwnd over a veth's RTT) would
/// cost a pass of the caller's loop and a send call per segment: at 5 %
/// loss on the veth, paced without it, goodput had a median of 1,057
/// Mbit/s against 1,381 unpaced and 1,444 with it (6 alternating rounds
/// each); a held segment still waits for its own departure time, to the
/// microsecond.
pub(crate) const SLACK_NS: u64 = 50_000;

/// Segments of a connection sent before pacing starts (sch_fq's initial
/// quantum, `tcp_update_skb_after_send`'s `data_segs_out >= 10`).
pub(crate) const UNPACED_SEGMENTS: u32 = 10;

/// A connection's pacing schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pacer {
    /// The earliest departure time of the next paced segment, in
    /// nanoseconds on the connection's clock (Linux `tcp_wstamp_ns`):
    /// nanoseconds, so that gaps below a microsecond add up.
    next_ns: u64,
    /// Segments sent so far, up to [`UNPACED_SEGMENTS`].
    sent: u32,
}

impl Pacer {
    /// Nothing sent yet.
    pub(crate) const fn new() -> Self {
        Pacer {
            next_ns: 0,
            sent: 0,
        }
    }

    /// When the next paced segment may leave, if pacing holds it now.
    pub(crate) fn next_departure(&self) -> Instant {
        Instant::from_micros(self.next_ns.div_ceil(1000))
    }
}

/// The pacing rate, bytes per second, or `None` while nothing paces (pacing
/// off, no SRTT yet, or still within the first segments).
/// Linux `tcp_update_pacing_rate`.
fn rate(snd: &SendHalf, tcb: &Tcb, cfg: &Config) -> Option<u64> {
    if !cfg.pacing || snd.cc.pace.sent < UNPACED_SEGMENTS {
        return None;
    }
    // Linux divides by SRTT. Here SRTT also takes timestamp samples in
    // whole milliseconds when no segment is timed (Karn's rule leaves
    // none through a recovery), so on a path of tens of microseconds it
    // sits near a millisecond after each loss, and a rate from it held a
    // 10 Gbit/s sender at 1 % loss to a third of its goodput (bench-e2e,
    // 2026-12-06); the least RTT seen (RACK.min_RTT, microseconds) paces
    // no slower than cwnd allows. SRTT until there is one.
    let rtt = snd
        .cc
        .rack
        .min_rtt()
        .map(|d| d.as_micros())
        .or(tcb.rtx.rtt.map(|(srtt, _)| srtt))?;
    let cwnd = u64::from(snd.cc.cwnd());
    let flight = u64::from(pipe(snd, smss(snd, tcb)));
    // Percent of cwnd per SRTT: Linux's tcp_pacing_ss_ratio (200) while
    // cwnd is below half ssthresh, else tcp_pacing_ca_ratio (120).
    let ratio = if cwnd < u64::from(snd.cc.ssthresh()) / 2 {
        200
    } else {
        120
    };
    let per_rtt = cwnd.max(flight).saturating_mul(ratio) / 100;
    Some(per_rtt.saturating_mul(1_000_000) / rtt.max(1))
}

/// Whether pacing holds the next segment back at `now` (its departure more
/// than [`SLACK_NS`] away); if so, the pacing timer ([`Timer::Pace`]) is
/// armed for its departure time. Linux `tcp_pacing_check`.
pub(crate) fn holds(snd: &SendHalf, tcb: &mut Tcb, now: Instant, cfg: &Config) -> bool {
    // The schedule first: the rate (a walk over the SACK scoreboard) only
    // when the next departure is ahead.
    let now_ns = now.as_micros().saturating_mul(1000);
    if snd.cc.pace.next_ns <= now_ns.saturating_add(SLACK_NS) || rate(snd, tcb, cfg).is_none() {
        tcb.timers.clear(Timer::Pace);
        return false;
    }
    tcb.timers.set(Timer::Pace, snd.cc.pace.next_departure());
    true
}

/// `len` bytes left at `now`: the next departure moves on by their time at
/// the pacing rate (Linux `tcp_update_skb_after_send`).
pub(crate) fn on_sent(snd: &mut SendHalf, tcb: &Tcb, len: u32, now: Instant, cfg: &Config) {
    let mss = smss(snd, tcb).max(1);
    let rate = rate(snd, tcb, cfg);
    let p = &mut snd.cc.pace;
    p.sent = p
        .sent
        .saturating_add(len.div_ceil(mss).max(1))
        .min(UNPACED_SEGMENTS);
    let now_ns = now.as_micros().saturating_mul(1000);
    let prior = p.next_ns;
    p.next_ns = p.next_ns.max(now_ns);
    let Some(rate) = rate.filter(|&r| r > 0) else {
        return;
    };
    let len_ns = u64::from(len).saturating_mul(1_000_000_000) / rate;
    // "take into account OS jitter": a sender late on its schedule gets
    // back up to half of this segment's time.
    let credit = p.next_ns - prior;
    p.next_ns = p.next_ns.saturating_add(len_ns - (len_ns / 2).min(credit));
}

/// The most bytes one segmentation-offload segment carries while pacing:
/// about a millisecond of the rate (plus, on short paths, more of
/// `gso_max`), at least two segments (Linux `tcp_tso_autosize`: the rate
/// shifted by `sk_pacing_shift` 10, plus `gso_max_size` shifted by
/// `min_rtt >> tcp_tso_rtt_log` 9). `u32::MAX` when nothing paces.
pub(crate) fn autosize(snd: &SendHalf, tcb: &Tcb, mss: u32, cfg: &Config) -> u32 {
    let Some(rate) = rate(snd, tcb, cfg) else {
        return u32::MAX;
    };
    let rtt_us = snd.cc.rack.min_rtt().map_or(u64::MAX, |d| d.as_micros());
    let shift = rtt_us >> 9;
    let extra = if shift < 32 {
        u64::from(cfg.gso_max) >> shift
    } else {
        0
    };
    let bytes = (rate >> 10).saturating_add(extra);
    let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
    bytes.max(2 * mss)
}
