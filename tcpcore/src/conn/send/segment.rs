//! Segmentation: what to send next (RFC 9293 §3.7 and §3.8.6.2.1: the
//! effective MSS, Nagle, sender-side silly window avoidance), within the
//! peer's window and the congestion window (RFC 5681 §4.1 restart window,
//! RFC 3042 Limited Transmit), retransmissions first (RFC 6675 NextSeg),
//! then new data, then the FIN (RFC 9293 §3.10.4).

use crate::seq::SeqNum;
use crate::time::Instant;

use super::cc::{initial_window, smss};
use super::ring::ring_room;
use super::rto::{backed_off, sws_override_after};
use super::sack::pipe;
use super::tlp::arm_pto;
use super::{limited, pace, prr, undo};
use crate::conn::{Config, SendHalf, Tcb, Timer};

/// What to send next: `(seq, len, fin)`, or nothing. Retransmissions come
/// first (SND.UNA after a timeout, fast retransmit or partial ACK; then the
/// holes SACK shows, RFC 6675 NextSeg), then new data within
/// `min(cwnd, peer window)`, cut at the peer's MSS (less our options) and
/// at the end of the ring; then the FIN once all data is sent.
pub fn next_segment(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    ring: usize,
    now: Instant,
    cfg: &Config,
) -> Option<(SeqNum, u32, bool)> {
    let prior_max = snd.max;
    let r = pick_segment(snd, tcb, ring, now, cfg);
    if r.is_none() {
        // The end of a round of sending: did the flight fill cwnd (Linux
        // tcp_write_xmit -> tcp_cwnd_validate)?
        let mss = smss(snd, tcb);
        let flight = pipe(snd, mss);
        snd.cc.validate(snd.una, snd.nxt, flight, mss);
    }
    if let Some((seq, len, fin)) = r {
        // RFC 6937: what is sent in recovery counts to `prr_out`.
        prr::on_sent(&mut snd.cc, len + u32::from(fin));
        if seq.before(prior_max) {
            // A retransmission, for undo (`undo.rs`).
            let mss = smss(snd, tcb);
            undo::on_retransmit(snd, tcb, seq, len, mss, now);
        }
        // Pacing (`pace.rs`): the next segment's departure time.
        pace::on_sent(snd, tcb, len, now, cfg);
        // RFC 8985 §6.1: RACK records when each segment was sent.
        let end = seq + len + u32::from(fin);
        let una = snd.una;
        snd.cc
            .rack
            .on_sent(una, seq, end, now, seq.before(prior_max));
    }
    r
}

/// [`next_segment`] before PRR's accounting.
fn pick_segment(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    ring: usize,
    now: Instant,
    cfg: &Config,
) -> Option<(SeqNum, u32, bool)> {
    let mss = smss(snd, tcb);
    let data_end = snd.end;
    let fin_seq = snd.fin.then_some(data_end);
    let cc_rtx = snd.cc.rtx_una;
    // 0. The tail loss probe. RFC 8985 §7.3: "If a previously unsent
    // segment exists AND the receive window allows new data to be sent:
    // Transmit that new segment" -- one segment, beyond cwnd (Linux
    // tcp_send_loss_probe: tcp_write_xmit with push_one = 2, which skips
    // the cwnd test but not tcp_snd_wnd_test); "Otherwise ... retransmit the
    // last segment". Either way TLP.end_seq is SND.NXT after it.
    if core::mem::take(&mut snd.cc.rtx_last) && snd.una != snd.max {
        if let Some(r) = loss_probe(snd, tcb, ring, mss, fin_seq, now, cfg) {
            return Some(r);
        }
    }
    // 1. The segment at SND.UNA, once.
    if cc_rtx && snd.una != snd.max {
        snd.cc.rtx_una = false;
        let seq = snd.una;
        let limit = snd.max.min(snd.end);
        return Some(retransmit(
            snd, tcb, seq, limit, mss, ring, fin_seq, now, cfg,
        ));
    }
    // 2. SACK recovery: the next segment RACK marked lost. Pacing holds
    // resent holes as new data (Linux tcp_xmit_retransmit_queue checks
    // tcp_pacing_check too); the timeouts' single segments above go.
    if let Some((seq, limit)) = next_hole(snd, mss) {
        if pace::holds(snd, tcb, now, cfg) {
            return None;
        }
        let limit = limit.min(snd.max.min(snd.end));
        return Some(retransmit(
            snd, tcb, seq, limit, mss, ring, fin_seq, now, cfg,
        ));
    }
    // 3. New data (or data again after a go-back), skipping SACKed ranges.
    while let Some(e) = snd.cc.sacked_end(snd.nxt) {
        snd.nxt = e;
    }
    if snd.nxt.before(data_end) {
        return new_data(snd, tcb, ring, mss, fin_seq, now, cfg);
    }
    // 4. The FIN, after the last byte (RFC 9293 §3.10.4).
    if fin_seq == Some(snd.nxt) {
        snd.nxt += 1;
        snd.max = snd.max.max(snd.nxt);
        if tcb.timers.rto().is_none() {
            tcb.timers
                .set_rto(Timer::Retransmit, now + backed_off(&tcb.rtx, cfg));
        }
        return Some((data_end, 0, true));
    }
    None
}

/// Step 0 of [`next_segment`], the tail loss probe (RFC 8985 §7.3): a new
/// segment if the peer's window allows one, else the last segment again
/// (its last SMSS of data, with the FIN if the FIN followed it; Linux
/// `tcp_send_loss_probe` cuts the last buffer to one MSS), or the FIN
/// alone when nothing else is unacknowledged.
fn loss_probe(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    ring: usize,
    mss: u32,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> Option<(SeqNum, u32, bool)> {
    let data_end = snd.end;
    let wnd_end = snd.una + snd.wnd;
    if snd.nxt == snd.max && snd.nxt.before(data_end) && wnd_end.after(snd.nxt) {
        let len = (data_end - snd.nxt).min(mss).min(ring_room(snd.nxt, ring));
        if len > 0 && wnd_end - snd.nxt >= len {
            let r = send_new(snd, tcb, len, fin_seq, now, cfg);
            snd.cc.tlp = Some(snd.max);
            snd.cc.tlp_retrans = false;
            return Some(r);
        }
    }
    let data_max = snd.max.min(snd.end);
    let back = (data_max - snd.una).min(mss);
    let fin_out = fin_seq.is_some_and(|f| snd.max.after(f));
    if back > 0 || fin_out {
        let seq = data_max - back;
        let r = retransmit(snd, tcb, seq, data_max, mss, ring, fin_seq, now, cfg);
        snd.cc.tlp_retrans = true;
        return Some(r);
    }
    None
}

/// Step 2 of [`next_segment`], SACK recovery: the first byte RACK marked
/// lost (RFC 8985 §6.2 step 5) that is neither SACKed nor resent, and the
/// end of what was lost with it, while `pipe` is below cwnd (RFC 6675
/// NextSeg's rule 1; Linux `tcp_xmit_retransmit_queue`).
fn next_hole(snd: &SendHalf, mss: u32) -> Option<(SeqNum, SeqNum)> {
    if snd.cc.recovery.in_fast_recovery() && pipe(snd, mss) < snd.cc.cwnd() {
        return snd.cc.rack.first_lost(snd.una, &snd.cc.sacked);
    }
    None
}

/// Step 3 of [`next_segment`], new data (or data again after a go-back):
/// within cwnd (RFC 5681 §4.1 restart window, RFC 3042 Limited Transmit)
/// and the peer's window, cut at the MSS, the end of the ring and the next
/// SACKed range, held back by Nagle (RFC 896) and sender-side silly window
/// avoidance (RFC 9293 §3.8.6.2.1), or arming the persist timer (§3.8.6.1).
fn new_data(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    ring: usize,
    mss: u32,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> Option<(SeqNum, u32, bool)> {
    let data_end = snd.end;
    let wnd_end = snd.una + snd.wnd;
    let cwnd_room = cwnd_room(snd, tcb, mss, now);
    let wnd_room = wnd_end - snd.nxt;
    let avail = data_end - snd.nxt;
    // With segmentation offload, one "segment" may carry many MSS (the
    // transport cuts it); never more than fits one IPv4 packet.
    // While pacing, about a millisecond of its rate (`pace::autosize`).
    let seg_max = if cfg.gso_max > mss {
        let most = cfg.gso_max.min(65_535 - 20 - 60);
        most.min(pace::autosize(snd, tcb, mss, cfg)) / mss * mss
    } else {
        mss
    };
    let other_cut = avail.min(seg_max).min(ring_room(snd.nxt, ring));
    let mut len = other_cut.min(wnd_room).min(cwnd_room);
    if len < other_cut {
        // A burst that the congestion or the peer's window cuts ends on a
        // segment boundary; the rest waits for the next ACK (Linux
        // tcp_mss_split_point: cwnd counts whole packets, and only the end
        // of the queued data makes a short segment, which Nagle judges).
        // Else every ACK-clocked burst ends in a runt: one more packet and
        // one more ACK for the same bytes.
        if len > mss {
            len -= len % mss;
        } else if len < mss && len == cwnd_room && snd.nxt != snd.una {
            // Nor does less than a segment of cwnd room send a runt while
            // an ACK is to come (Linux: no cwnd quota, no packet). Only
            // with data in flight past SND.NXT's go-back point: else
            // nothing would come, and nothing arm the timer.
            return None;
        }
    } else if len > mss && len == avail && cfg.nagle && snd.nxt != snd.una {
        // The end of the queued data: its last piece, less than a
        // segment, goes only as Nagle would let a segment of its size go
        // (Linux tcp_mss_split_point: tcp_nagle_check on the partial
        // tail); until then it waits, and more data may fill it.
        len -= len % mss;
    }
    // Stop before a SACKed range.
    if let Some(&(s, _)) = snd
        .cc
        .sacked
        .as_slice()
        .iter()
        .find(|&&(s, _)| s.after(snd.nxt))
    {
        len = len.min(s - snd.nxt);
    }
    if len == 0 {
        snd.cc.sws_override = false;
        if wnd_room == 0 && snd.nxt == snd.una && tcb.timers.rto().is_none() {
            // RFC 9293 §3.8.6.1: the peer's window is zero and nothing is
            // in flight: the persist timer.
            tcb.rtx.retries = 0;
            tcb.timers.set_rto(Timer::Persist, now + tcb.rtx.rto);
        }
        return None;
    }
    // A segment cut short by the end of the ring is not a small segment:
    // the rest follows at once from the ring's start.
    let ring_cut = len == ring_room(snd.nxt, ring) && len < avail.min(mss);
    if holds_back(snd, tcb, len, avail, wnd_room, ring_cut, mss, now, cfg)
        || pace::holds(snd, tcb, now, cfg)
    {
        return None;
    }
    snd.cc.sws_override = false;
    Some(send_new(snd, tcb, len, fin_seq, now, cfg))
}

/// Whether a new-data segment of `len` bytes waits: Nagle or sender-side
/// silly window avoidance holds it back. `ring_cut`: the segment is cut
/// short by the end of the ring.
#[allow(clippy::too_many_arguments)] // the sizes the decision weighs
fn holds_back(
    snd: &SendHalf,
    tcb: &mut Tcb,
    len: u32,
    avail: u32,
    wnd_room: u32,
    ring_cut: bool,
    mss: u32,
    now: Instant,
    cfg: &Config,
) -> bool {
    let all = len == avail;
    let idle = snd.nxt == snd.una;
    // Nagle (RFC 896, RFC 9293 §3.7.4): with data in flight, hold back a
    // segment smaller than the MSS. Sender-side silly window avoidance
    // (RFC 9293 §3.8.6.2.1, MUST-38): send a full segment, or all that
    // is queued, or at least half the largest window the peer offered
    // (so a peer whose window never reaches one MSS is served), "or if
    // the override timeout occurs". Only the peer's window holds a
    // segment back here: a piece cut by cwnd waits for the ACKs that
    // open cwnd.
    let nagle_holds = cfg.nagle && len < mss && !idle && !ring_cut;
    let wnd_small = len == wnd_room && len < avail;
    let sws_ok = len >= mss
        || all
        || len >= snd.max_wnd / 2
        || ring_cut
        || !wnd_small && idle
        || snd.cc.sws_override;
    if !sws_ok || nagle_holds {
        if !sws_ok && idle && tcb.timers.rto().is_none() {
            // The override timer, with nothing in flight: Linux's probe
            // timer, whose tcp_write_wakeup sends what the window
            // allows (armed by tcp_check_probe_timer when tcp_write_xmit
            // found tcp_snd_wnd_test refusing the segment), one RTO
            // after; here the RTO kept within MUST-38's 0.1-1.0 s.
            tcb.rtx.retries = 0;
            let at = now + sws_override_after(&tcb.rtx);
            tcb.timers.set_rto(Timer::SwsOverride, at);
        }
        return true;
    }
    false
}

/// The room cwnd leaves for new data: after the restart window (RFC 5681
/// §4.1) and with RFC 3042 Limited Transmit, less what is in the network
/// (RFC 6675 `pipe`).
fn cwnd_room(snd: &mut SendHalf, tcb: &Tcb, mss: u32, now: Instant) -> u32 {
    // RFC 5681 §4.1: "a TCP SHOULD set cwnd to no more than RW before
    // beginning transmission if the TCP has not sent data in an
    // interval exceeding the retransmission timeout", RW = min(IW,
    // cwnd) (Linux tcp_cwnd_restart, tcp_slow_start_after_idle = 1;
    // Linux halves cwnd per idle RTO down to RW, the RFC goes to RW).
    let idle_long = snd
        .cc
        .last_sent
        .is_some_and(|t| now.saturating_since(t) > tcb.rtx.rto);
    if snd.una == snd.max && idle_long {
        snd.cc.cc.restart_after_idle(initial_window(mss));
    }
    let flight = pipe(snd, mss);
    // RFC 3042 Limited Transmit, `limited.rs`.
    let limited = limited::allowance(snd, mss);
    snd.cc.cwnd().saturating_add(limited).saturating_sub(flight)
}

/// Sends `len` new bytes from SND.NXT (with the FIN when they are the last
/// and the peer's window has room for it): times the segment for an RTT
/// sample, starts the RTO unless it runs, and arms the loss probe.
pub(crate) fn send_new(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    len: u32,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> (SeqNum, u32, bool) {
    let wnd_end = snd.una + snd.wnd;
    let seq = snd.nxt;
    if let Some(last) = snd.cc.last_sent.filter(|_| snd.una == snd.max) {
        // Nothing in flight: the end of an application-limited pause
        // (RFC 9438 §5.8; Linux tcp_event_data_sent: CA_EVENT_TX_START).
        snd.cc.cc.on_tx_start(now.saturating_since(last), now);
    }
    snd.cc.last_sent = Some(now);
    snd.nxt += len;
    snd.max = snd.max.max(snd.nxt);
    if snd.cc.rtt_probe.is_none() && snd.nxt == snd.max {
        snd.cc.rtt_probe = Some((seq, now));
    }
    if tcb.timers.rto().is_none() || tcb.timers.persist() {
        tcb.timers
            .set_rto(Timer::Retransmit, now + backed_off(&tcb.rtx, cfg));
    }
    arm_pto(snd, tcb, now);
    let fin = fin_seq == Some(snd.nxt) && snd.nxt.after_eq(snd.max) && wnd_end.after(snd.nxt);
    if fin {
        snd.nxt += 1;
        snd.max = snd.max.max(snd.nxt);
    }
    (seq, len, fin)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn retransmit(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seq: SeqNum,
    limit: SeqNum,
    mss: u32,
    ring: usize,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> (SeqNum, u32, bool) {
    let mut len = if seq.before(limit) {
        (limit - seq).min(mss).min(ring_room(seq, ring))
    } else {
        0
    };
    if core::mem::take(&mut snd.cc.probe) {
        // RFC 9293 §3.8.6.1: a zero-window probe carries one byte.
        len = len.min(1);
    }
    if let Some(&(s, _)) = snd
        .cc
        .sacked
        .as_slice()
        .iter()
        .find(|&&(s, _)| s.after(seq))
    {
        len = len.min(s - seq);
    }
    let end = seq + len;
    if len > 0 {
        snd.cc.last_sent = Some(now);
    }
    snd.cc.high_rxt = snd.cc.high_rxt.max(end);
    // Karn: a retransmitted segment gives no RTT sample.
    if snd.cc.rtt_probe.is_some_and(|(s, _)| s.before(end)) {
        snd.cc.rtt_probe = None;
    }
    if snd.nxt.before(end) {
        snd.nxt = end;
    }
    let fin = fin_seq == Some(end) && snd.max.after(end);
    if fin && snd.nxt == end {
        snd.nxt += 1;
    }
    if tcb.timers.rto().is_none() {
        tcb.timers
            .set_rto(Timer::Retransmit, now + backed_off(&tcb.rtx, cfg));
    }
    (seq, len, fin)
}
