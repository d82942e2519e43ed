//! An acceptable ACK on the send half (RFC 9293 §3.10.7.4 fifth): SND.UNA
//! advances, the RTT is sampled, the congestion window grows (RFC 5681,
//! RFC 3465) or recovers (NewReno, RFC 6582; SACK-based, RFC 6675),
//! duplicate ACKs are counted and fast recovery entered (RFC 5681 §3.2,
//! RFC 3042), and the SACK scoreboard updated (RFC 2018).

use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{TcpControl, TcpRepr};

use super::cc::smss;
use super::rto::{backed_off, rtt_update, ts_rtt_fallback};
use super::tlp::{arm_pto, dsack_covers, may_probe, tlp_dupack};
use super::{prr, rack, recovery, undo};
use crate::conn::{ecn, Config, SendHalf, Tcb, Timer};

/// What an acceptable ACK did to the send half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckEffect {
    /// Bytes newly acknowledged (SYN and FIN count one each).
    pub acked: u32,
}

/// Takes an acceptable ACK (`SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.MAX`):
/// advances SND.UNA, samples the RTT, grows or recovers the congestion
/// window, counts duplicate ACKs, and updates the SACK scoreboard.
pub fn on_ack(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    ack: SeqNum,
    now: Instant,
    cfg: &Config,
) -> AckEffect {
    let mss = smss(snd, tcb);
    let wnd = u32::from(seg.window_len) << snd.wscale;
    // RFC 3168 §6.1.2: the end of an ECN reduction, or an ECE that
    // begins one (`ecn.rs`).
    ecn::on_ack(snd, tcb, seg, ack, mss);
    let mut acked = 0;
    let prior_una = snd.una;
    // RFC 6937 DeliveredData: SND.UNA's advance plus the change in the
    // bytes SACKed above it.
    let prior_sacked = snd.cc.sacked_above(snd.una);
    let prior_reno = snd.cc.reno_sacked;
    let prior_recovery = snd.cc.recovery;
    // RFC 2883 D-SACKs of retransmissions, for undo (`undo.rs`).
    undo::on_ack_dsack(snd, tcb, seg, ack, mss);
    let prior_board = snd.cc.sacked;
    if tcb.timers.persist() && ack.after_eq(snd.una) {
        // The peer answered a zero-window probe: it is alive, so the probe
        // count starts again (Linux tcp_ack clears icsk_probes_out on any
        // ACK that is not old).
        tcb.rtx.retries = 0;
    }
    if ack.after(snd.una) {
        acked = on_new_ack(snd, tcb, seg, ack, mss, now, cfg);
    } else if ack == snd.una
        && seg.payload.is_empty()
        && seg.control == TcpControl::None
        && wnd == snd.wnd
        && wnd != 0
        && snd.nxt != snd.una
    {
        on_dup_ack(snd, seg, ack, mss);
    }
    if ack == prior_una
        && snd.nxt == prior_una
        && seg.payload.is_empty()
        && seg.control == TcpControl::None
        && wnd == snd.wnd
    {
        // Nothing in flight: not a duplicate ACK for fast retransmit, but
        // it may still answer a loss probe.
        tlp_dupack(snd, seg, ack);
    }
    take_sack_blocks(snd, tcb, seg);
    // RFC 8985 §6.2: RACK marks what this ACK shows lost.
    let mut newly_lost = rack::on_ack(snd, tcb, seg, prior_una, &prior_board, now, mss);
    recovery::enter_recovery(snd, tcb, mss);
    if snd.una != prior_una {
        // RFC 8985 §7.2: "upon receiving an ACK that cumulatively
        // acknowledges new data", the probe timer starts again.
        arm_pto(snd, tcb, now);
    } else if !may_probe(snd) {
        // SACKed data, or recovery: RACK's timer or the RTO, not a probe.
        tcb.timers.clear(Timer::TailLossProbe);
    }
    if matches!(snd.cc.recovery, recovery::Recovery::FastRecovery { .. })
        && snd.una != prior_una
        && snd.cc.rtx_una
    {
        // NewReno's partial ACK marks the segment at SND.UNA lost (Linux
        // tcp_newreno_mark_lost), for PRR's newly lost count.
        newly_lost = newly_lost.saturating_add(mss);
    }
    // Without SACK (NewReno recovery), RFC 6937: "DeliveredData is
    // estimated to be 1 SMSS on duplicate acknowledgements, and on a
    // subsequent partial or full ACK, DeliveredData is the change in
    // snd.una, minus 1 SMSS for each preceding duplicate ACK".
    let (now_sacked, prior_sacked) = match snd.cc.recovery {
        recovery::Recovery::FastRecovery { .. } => (snd.cc.reno_sacked, prior_reno),
        _ => (snd.cc.sacked_above(snd.una), prior_sacked),
    };
    let delivered = (snd.una - prior_una)
        .saturating_add(now_sacked)
        .saturating_sub(prior_sacked);
    prr::on_ack(snd, delivered, snd.una != prior_una, newly_lost, mss);
    // RFC 3522 / RFC 2883: undo a reduction shown spurious (`undo.rs`).
    undo::after_ack(snd, tcb, seg, prior_recovery, prior_una);
    AckEffect { acked }
}

/// SEG.ACK is above SND.UNA: the new data acknowledged (RFC 9293
/// §3.10.7.4 fifth) -- SND.UNA advances, the RTT is sampled (RFC 6298 §3,
/// RFC 7323 §4.1), cwnd grows or recovers, the RTO restarts (RFC 6298 §5.3),
/// and the tail loss probe is judged (RFC 8985 §7.4.2). Returns the bytes
/// newly acknowledged.
fn on_new_ack(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    ack: SeqNum,
    mss: u32,
    now: Instant,
    cfg: &Config,
) -> u32 {
    let acked = ack - snd.una;
    snd.una = ack;
    if snd.nxt.before(ack) {
        // An ACK for data sent before a go-back (RTO): skip ahead.
        snd.nxt = ack;
    }
    snd.cc.trim_below(ack);
    // RTT (RFC 6298 §3, Karn's rule): from the timed segment, to the
    // microsecond, when this ACK covers it; else from the echoed timestamp
    // (RFC 7323 §4.1), never ambiguous but in whole milliseconds, for the
    // RTO. Linux's tcp_ack_update_rtt also prefers its microsecond sample
    // to TSecr.
    let mut fine = None;
    if let Some((seq, sent)) = snd.cc.rtt_probe {
        if ack.after(seq) {
            fine = Some(now.saturating_since(sent));
            snd.cc.rtt_probe = None;
        }
    }
    let sample = fine.or_else(|| ts_rtt_fallback(tcb, seg, now));
    if let Some(s) = sample {
        rtt_update(&mut tcb.rtx, s, cfg);
        // RACK.min_RTT (Linux tcp_update_rtt_min), HyStart++ (RFC 9406)
        // and CUBIC's delay_min (Linux cubictcp_acked), all in
        // microseconds: a timestamp sample of 0 ms says only "under a
        // millisecond", and is not theirs.
        if fine.is_some() || s >= Duration::from_millis(1) {
            snd.cc.rack.on_rtt_sample(s.as_micros());
            snd.cc.cc.on_rtt_sample(s, now, snd.una, snd.nxt);
        }
    }
    // Forward progress: the give-up count starts again (Linux tcp_ack
    // clears icsk_retransmits when SND.UNA advances). The backoff does
    // not: it goes only with a new RTT sample (RFC 6298 §5, Karn).
    tcb.rtx.retries = 0;
    recovery::on_new_ack(snd, ack, acked, mss, now);
    // RFC 6298 §5.2 / §5.3: restart the timer while data is outstanding,
    // with the RTO as it stands, backoff included (Linux tcp_rearm_rto
    // uses icsk_rto, which keeps the backoff until a new sample).
    // Outstanding is up to SND.MAX: after a go-back SND.NXT may sit at
    // SND.UNA with data still out (and an undone timeout moves it back to
    // SND.MAX without sending anything).
    if snd.max != snd.una {
        tcb.timers
            .set_rto(Timer::Retransmit, now + backed_off(&tcb.rtx, cfg));
    } else {
        tcb.timers.clear_rto();
    }
    tlp_on_ack(snd, seg, ack, mss);
    acked
}

/// RFC 8985 §7.4.2: whether an ACK of new data ends the TLP episode, and
/// with it a loss the probe repaired.
fn tlp_on_ack(snd: &mut SendHalf, seg: &TcpRepr<'_>, ack: SeqNum, mss: u32) {
    if let Some(end) = snd.cc.tlp.filter(|&end| ack.after_eq(end)) {
        // RFC 8985 §7.4.2: the ACK covers the probe. A DSACK for it
        // shows the original arrived too: no loss. An ACK beyond it ends
        // the TLP episode with no such sign: "congestion control MUST
        // react appropriately to that loss as it would any other loss"
        // (Linux tcp_process_tlp_ack: tcp_init_cwnd_reduction, then
        // tcp_end_cwnd_reduction; ssthresh from cwnd, as Linux's Reno
        // and CUBIC do, for FlightSize is all but zero by now). An ACK
        // just up to it waits for a DSACK or a duplicate ACK.
        // A probe of new data repaired nothing (Linux: "TLP of new data
        // has been acknowledged").
        if !snd.cc.tlp_retrans || dsack_covers(seg, ack, end) {
            snd.cc.tlp = None;
        } else if ack.after(end) {
            snd.cc.tlp = None;
            let cc = &mut snd.cc.cc;
            cc.on_congestion_event(cc.cwnd(), mss);
            cc.set_cwnd(cc.ssthresh());
        }
    }
}

/// RFC 5681 §2: a duplicate ACK is counted, and without SACK counted as one
/// SMSS delivered (for PRR in NewReno recovery, `prr.rs`).
fn on_dup_ack(snd: &mut SendHalf, seg: &TcpRepr<'_>, ack: SeqNum, mss: u32) {
    // RFC 5681 §2: a duplicate ACK.
    snd.cc.dupacks = snd.cc.dupacks.saturating_add(1);
    tlp_dupack(snd, seg, ack);
    let flight = snd.nxt - snd.una;
    recovery::on_dup_ack(&mut snd.cc, flight, mss);
}

/// RFC 2018: the SACK blocks within (SND.UNA, SND.MAX] go on the scoreboard.
fn take_sack_blocks(snd: &mut SendHalf, tcb: &Tcb, seg: &TcpRepr<'_>) {
    if tcb.sack {
        for &(l, r) in seg.options.sack_blocks.as_slice() {
            if l.after_eq(snd.una) && r.before_eq(snd.max) && l.before(r) {
                snd.cc.add_sack(l, r);
            }
        }
    }
}
