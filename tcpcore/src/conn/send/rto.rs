//! The retransmission timer (RFC 6298): RTT samples (with RFC 7323 §4.1
//! timestamps), the RTO and its back-off, and what a timeout does to the
//! send half (go-back-N, RFC 5681 §3.1 loss window, RFC 6582 §4), the
//! persist timer (RFC 9293 §3.8.6.1) and the sender's silly-window override
//! timer (RFC 9293 §3.8.6.2.1).

use crate::time::{Duration, Instant};
use crate::wire::TcpRepr;

use super::cc::smss;
use super::recovery::Recovery;
use super::undo;
use crate::conn::{Config, Rtx, SendHalf, Tcb, Timer, TimerTable};

/// RFC 7323 §4.1: the RTT measured from the TSecr of an acceptable ACK
/// (our clock now less the echoed TSval), when timestamps are in use and the
/// segment echoes one; samples over a minute are taken for bogus echoes.
pub fn ts_rtt_sample(tcb: &Tcb, seg: &TcpRepr<'_>, now: Instant) -> Option<Duration> {
    match (tcb.ts, seg.options.timestamps) {
        (Some(ts), Some(t)) if t.tsecr != 0 => {
            let our_now = (now.as_millis() as u32).wrapping_add(ts.offset);
            let ms = our_now.wrapping_sub(t.tsecr);
            (ms < 60_000).then(|| Duration::from_millis(u64::from(ms)))
        }
        _ => None,
    }
}

/// [`ts_rtt_sample`] where no sample in microseconds can be had (Linux
/// `tcp_ack_update_rtt`: TSecr only when the segment's own send time is
/// ambiguous): a sample of 0 ms says only "under a millisecond", so it
/// counts as 1 ms while there is no SRTT yet (Linux: "if (!delta) delta =
/// 1") and not at all once there is one -- taken as the 1 µs it was, SRTT
/// sank toward it on a LAN, and with it RACK's reordering window, which
/// SRTT caps (thousands of resends per download on the reordering path
/// of `bench-e2e`).
pub(crate) fn ts_rtt_fallback(tcb: &Tcb, seg: &TcpRepr<'_>, now: Instant) -> Option<Duration> {
    let s = ts_rtt_sample(tcb, seg, now)?;
    if s >= Duration::from_millis(1) {
        Some(s)
    } else {
        tcb.rtx.rtt.is_none().then_some(Duration::from_millis(1))
    }
}

/// RFC 6298 §2: a new RTT sample updates SRTT, RTTVAR and the RTO.
pub fn rtt_update(rtx: &mut Rtx, sample: Duration, cfg: &Config) {
    let r = sample.as_micros().max(1);
    let (srtt, rttvar) = match rtx.rtt {
        None => (r, r / 2),
        Some((srtt, rttvar)) => {
            let delta = srtt.abs_diff(r);
            ((7 * srtt + r) / 8, (3 * rttvar + delta) / 4)
        }
    };
    rtx.rtt = Some((srtt, rttvar));
    // Clock granularity G: 1 ms.
    let rto = Duration::from_micros(srtt + (4 * rttvar).max(1000));
    rtx.rto = rto.max(cfg.rto_min).min(cfg.rto_max);
    // RFC 6298 §5 (the note after rule 5.7): "once a new RTT measurement
    // is obtained ... the computation of RTO ... may result in
    // 'collapsing' RTO back down after it has been subject to exponential
    // back off". Only a valid sample does that (Karn; Linux
    // tcp_ack_update_rtt: "RFC6298: only reset backoff on valid RTT
    // measurement").
    rtx.backoff = 0;
}

/// The RTO after `backoff` doublings (RFC 6298 §5.5), bounded by `rto_max`.
pub fn backed_off(rtx: &Rtx, cfg: &Config) -> Duration {
    let shift = u32::from(rtx.backoff).min(16);
    rtx.rto.saturating_mul(1 << shift).min(cfg.rto_max)
}

/// RFC 9293 §3.8.6.2.1: the sender's silly-window override timeout, "in
/// the range 0.1 - 1.0 seconds": the RTO (Linux's probe timer interval,
/// `tcp_probe0_base`), kept within that range.
pub(crate) fn sws_override_after(rtx: &Rtx) -> Duration {
    rtx.rto
        .max(Duration::from_millis(100))
        .min(Duration::from_secs(1))
}

/// The timer in the retransmission slot fired: `fired` is
/// [`Timer::Retransmit`], [`Timer::Persist`] or [`Timer::SwsOverride`].
/// Returns false when the retry limit is reached and the connection must
/// be reset.
///
/// RFC 6298 §5.4-5.6: retransmit the earliest unacknowledged segment, back
/// the timer off. RFC 5681 §3.1: ssthresh = max(FlightSize / 2, 2 SMSS) and
/// cwnd = one segment (the loss window). Everything not acknowledged is sent
/// again from SND.UNA (go-back-N), since the SACK information may be stale.
/// A zero-window probe (RFC 9293 §3.8.6.1) is backed off the same way and
/// counts towards the same limit, but any acceptable ACK (the peer's answer
/// to a probe) starts the count again, so the connection never gives up
/// while the peer answers (Linux tcp_probe_timer: unanswered probes,
/// icsk_probes_out, against tcp_retries2). A peer that closed its window
/// and vanished no longer holds the connection for ever.
/// With [`Config::user_timeout`], data (or zero-window probes) unanswered
/// for that long end the connection at the next timeout, before the retry
/// limit (RFC 5482; Linux `retransmits_timed_out`).
pub fn on_rto(snd: &mut SendHalf, tcb: &mut Tcb, fired: Timer, now: Instant, cfg: &Config) -> bool {
    let mss = smss(snd, tcb);
    let probing = snd.wnd == 0;
    if fired != Timer::Retransmit && !probing && snd.una == snd.max {
        // RFC 9293 §3.8.6.2.1: the silly-window override timer (armed by
        // `next_segment` with nothing in flight and a small window): the
        // next new segment goes, as small as the window is. No backoff,
        // no retry: nothing was lost.
        snd.cc.sws_override = true;
        tcb.timers.clear_rto();
        return true;
    }
    if tcb.rtx.retries == 0 {
        // The first timeout without progress: the user timeout counts from
        // when the oldest data went out (the RTO that ran out ago), or
        // from this first zero-window probe (Linux `retrans_stamp`,
        // `icsk_probes_tstamp`).
        tcb.rtx.stall = if probing {
            now
        } else {
            Instant::from_micros(
                now.as_micros()
                    .saturating_sub(backed_off(&tcb.rtx, cfg).as_micros()),
            )
        };
    }
    if tcb.rtx.retries >= cfg.max_retries {
        return false;
    }
    // RFC 5482 / Linux TCP_USER_TIMEOUT (`retransmits_timed_out`, which
    // never ends the connection at the first timeout): data or probes
    // unanswered for longer than the user timeout end it now.
    if let Some(u) = tcb.opts.user_timeout() {
        if tcb.rtx.retries > 0 && now.saturating_since(tcb.rtx.stall) >= u {
            return false;
        }
    }
    tcb.rtx.retries = tcb.rtx.retries.saturating_add(1);
    // RFC 6298 §5.5: "back off the timer".
    tcb.rtx.backoff = tcb.rtx.backoff.saturating_add(1);
    let at = now + backed_off(&tcb.rtx, cfg);
    // The timer that fired runs again (a persist timer stays one).
    tcb.timers.set_rto(fired, at);
    if probing {
        // One byte beyond the closed window (or the FIN) goes out as a probe.
        snd.cc.rtx_una = snd.una != snd.max;
        snd.cc.probe = true;
        tcb.timers.set_rto(Timer::Persist, at);
        if snd.una == snd.max && snd.una.before(snd.end) {
            snd.nxt = snd.una;
            snd.max = snd.una + 1;
            snd.cc.rtx_una = true;
        }
        return true;
    }
    if tcb.rtx.retries == 1 && !snd.cc.recovery.in_fast_recovery() {
        // Linux tcp_enter_loss: tcp_init_undo on the first timeout (in
        // fast recovery the record from its start stays).
        undo::start(snd);
    }
    snd.cc.undo.timeouts = snd.cc.undo.timeouts.saturating_add(1);
    let cc = &mut snd.cc;
    cc.cc.on_rto(snd.max - snd.una, tcb.rtx.retries == 1, mss);
    // RFC 6582 §4: "After a retransmission timeout, record the highest
    // sequence number transmitted in the variable recover, and exit the
    // fast recovery procedure if applicable." (RFC 6675 §5.1 likewise sets
    // RecoveryPoint to HighData.)
    cc.recovery = Recovery::Loss { recover: snd.max };
    cc.dupacks = 0;
    cc.sacked.clear();
    cc.high_rxt = snd.una;
    cc.rtt_probe = None;
    cc.rtx_una = true;
    cc.tlp = None;
    tcb.timers.clear(Timer::TailLossProbe);
    // Linux tcp_enter_loss: everything in flight is marked lost (RACK's
    // record, `rack.rs`), and RACK's timer stops.
    if tcb.sack {
        cc.rack.on_rto(snd.una, snd.max);
    }
    tcb.timers.clear(Timer::RackReorder);
    snd.nxt = snd.una;
    true
}

/// RFC 6298 §2: a new RTT sample, from `rtx.sent_at` to `now`.
pub(crate) fn rtt_sample(rtx: &mut Rtx, now: Instant, cfg: &Config) {
    let sample = now.saturating_since(rtx.sent_at);
    rtt_update(rtx, sample, cfg);
}

pub(crate) fn arm(rtx: &mut Rtx, timers: &mut TimerTable, now: Instant, cfg: &Config) {
    rtx.sent_at = now;
    rtx.retries = 0;
    rtx.backoff = 0;
    timers.set(Timer::Retransmit, now + rtx.rto.min(cfg.rto_max));
}
