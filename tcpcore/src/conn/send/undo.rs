//! Undo of cwnd reductions that turn out spurious, as Linux does it
//! (`tcp_input.c`: `tcp_init_undo`, `tcp_packet_delayed`,
//! `tcp_check_dsack`, `tcp_try_undo_recovery`, `tcp_try_undo_dsack`,
//! `tcp_try_undo_loss`, `tcp_undo_cwnd_reduction`), with the two signs
//! the RFCs give:
//!
//! - RFC 3522 (the Eifel detection algorithm) with RFC 7323 timestamps:
//!   an ACK whose TSecr is older than the TSval of the first
//!   retransmission acknowledges an original transmission, so the
//!   retransmission was not needed (Linux `tcp_packet_delayed`). Checked
//!   on the ACK that ends fast recovery (`tcp_try_undo_recovery`) and, after
//!   a timeout, on every ACK that advances SND.UNA in the loss state
//!   (`tcp_try_undo_loss`; RFC 4015's response: the data still in flight is
//!   not sent again).
//! - RFC 2883 §4 D-SACK (the sender side of RFC 2883, with RFC 3708's
//!   idea): the first SACK block below the cumulative ACK, or within the
//!   second block, reports data received twice. Each D-SACK for data
//!   retransmitted in this episode takes its segments off the count of
//!   retransmissions (`undo_retrans`); when none is left, every
//!   retransmission was spurious (`tcp_try_undo_dsack`), in recovery or
//!   after it.
//!
//! Entering fast recovery or, on the first timeout, the loss state, the
//! sender records `undo_marker` (SND.UNA), `prior_cwnd` and
//! `prior_ssthresh` (Linux `tcp_current_ssthresh`: at least 3/4 of cwnd);
//! each retransmission in the episode adds to `undo_retrans` and the first
//! one sets `retrans_stamp`. An undo restores cwnd = max(cwnd,
//! prior_cwnd) and ssthresh = max(ssthresh, prior_ssthresh) (for CUBIC as
//! for Reno: Linux's CUBIC has `undo_cwnd = tcp_reno_undo_cwnd`), and
//! recovery goes back to the open state (without SACK, the loss state is
//! kept until `recover` is reached, Linux
//! `tcp_is_non_sack_preventing_reopen`). The undos and the retransmissions
//! shown spurious are counted ([`Undo::undos`], [`Undo::spurious`]; the
//! endpoint sums them in its `Stats`).
//!
//! Linux also undoes on a partial ACK in fast recovery
//! (`tcp_try_undo_partial`) and detects spurious timeouts by F-RTO (RFC
//! 5682); neither is here.

use crate::conn::state::ts_now;
use crate::conn::{SendHalf, State, Tcb};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::TcpRepr;

use super::recovery::Recovery;

/// The record of the last cwnd reduction, for undoing it, and the
/// connection's counts of undos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Undo {
    /// Linux `undo_marker`: SND.UNA when the reduction began; `None` when
    /// there is nothing to undo.
    marker: Option<SeqNum>,
    /// Linux `prior_cwnd`.
    prior_cwnd: u32,
    /// Linux `prior_ssthresh`.
    prior_ssthresh: u32,
    /// Linux `retrans_stamp`: our TSval when the first retransmission of
    /// the episode went; `None` while nothing was retransmitted.
    stamp: Option<u32>,
    /// The end of the highest retransmission of the episode: a D-SACK
    /// above it reports no retransmission of ours.
    high: SeqNum,
    /// Linux `undo_retrans`: segments retransmitted in the episode and not
    /// yet reported received twice.
    retrans: u32,
    /// Reductions undone so far on this connection.
    undos: u32,
    /// Retransmissions shown spurious so far (by D-SACK, or all of an
    /// episode's by an undo).
    spurious: u32,
    /// Retransmission timeouts so far with data unacknowledged (Linux
    /// `TCPTimeouts`).
    pub(crate) timeouts: u32,
}

impl Undo {
    /// The record is dropped: the reduction in progress is not to be
    /// undone (an ECN reduction; Linux tcp_enter_cwr).
    pub(crate) fn forget(&mut self) {
        self.marker = None;
    }

    /// Nothing to undo, nothing counted.
    pub(crate) const fn new() -> Self {
        Undo {
            marker: None,
            prior_cwnd: 0,
            prior_ssthresh: 0,
            stamp: None,
            high: SeqNum::new(0),
            retrans: 0,
            undos: 0,
            spurious: 0,
            timeouts: 0,
        }
    }

    /// The undo marker (SND.UNA when the reduction that may be undone
    /// began), if there is one.
    pub const fn marker(&self) -> Option<SeqNum> {
        self.marker
    }

    /// Retransmissions of the episode not yet shown spurious.
    pub const fn retrans(&self) -> u32 {
        self.retrans
    }

    /// Retransmission timeouts with data unacknowledged on this
    /// connection.
    pub const fn timeouts(&self) -> u32 {
        self.timeouts
    }

    /// cwnd reductions undone on this connection.
    pub const fn undos(&self) -> u32 {
        self.undos
    }

    /// Retransmissions shown spurious on this connection.
    pub const fn spurious(&self) -> u32 {
        self.spurious
    }
}

/// A cwnd reduction begins, fast recovery or the loss state (Linux
/// `tcp_init_undo`, with `prior_cwnd` and `prior_ssthresh` as
/// `tcp_enter_recovery` / `tcp_enter_loss` set them). Call before cwnd
/// and ssthresh change.
pub(crate) fn start(snd: &mut SendHalf) {
    let cwnd = snd.cc.cc.cwnd();
    let ssthresh = snd.cc.cc.ssthresh();
    let u = &mut snd.cc.undo;
    u.marker = Some(snd.una);
    u.prior_cwnd = cwnd;
    // Linux tcp_current_ssthresh: max(ssthresh, 3/4 cwnd).
    u.prior_ssthresh = ssthresh.max((cwnd >> 1) + (cwnd >> 2));
    u.stamp = None;
    u.high = snd.una;
    u.retrans = 0;
}

/// `len` bytes from `seq` went again (Linux `tcp_retransmit_skb`: the
/// first sets `retrans_stamp`, each adds its segments to `undo_retrans`),
/// while recovering.
pub(crate) fn on_retransmit(
    snd: &mut SendHalf,
    tcb: &Tcb,
    seq: SeqNum,
    len: u32,
    mss: u32,
    now: Instant,
) {
    if snd.cc.undo.marker.is_none() || snd.cc.recovery == Recovery::Open || len == 0 {
        return;
    }
    let u = &mut snd.cc.undo;
    if u.stamp.is_none() {
        u.stamp = Some(tcb.ts.map_or(0, |ts| ts_now(&ts, now)));
    }
    u.retrans = u.retrans.saturating_add(len.div_ceil(mss.max(1)));
    if u.high.before(seq + len) {
        u.high = seq + len;
    }
}

/// RFC 2883 §4: whether the ACK's first SACK block is a D-SACK: below the
/// cumulative ACK `ack`, or within the second block (Linux
/// `tcp_check_dsack`).
pub(crate) fn dsack(seg: &TcpRepr<'_>, ack: SeqNum) -> Option<(SeqNum, SeqNum)> {
    let blocks = seg.options.sack_blocks.as_slice();
    let &(l, r) = blocks.first()?;
    let covered = blocks
        .get(1)
        .is_some_and(|&(l1, r1)| l.after_eq(l1) && r.before_eq(r1));
    (l.before(r) && (l.before(ack) || covered)).then_some((l, r))
}

/// An acceptable ACK with SEG.ACK `ack`, before SND.UNA moves: a D-SACK
/// for data retransmitted in this episode (after the marker, up to the
/// highest retransmission) takes its segments off `undo_retrans` (Linux
/// `tcp_check_dsack`, `tcp_sacktag_one` for D-SACKed retransmissions).
/// A block longer than the largest window, or beyond SND.MAX, is
/// dubious and ignored (Linux `tcp_dsack_seen`).
pub(crate) fn on_ack_dsack(
    snd: &mut SendHalf,
    tcb: &Tcb,
    seg: &TcpRepr<'_>,
    ack: SeqNum,
    mss: u32,
) {
    if !tcb.sack {
        return;
    }
    let Some((l, r)) = dsack(seg, ack) else {
        return;
    };
    let u = &mut snd.cc.undo;
    let Some(marker) = u.marker else {
        return;
    };
    if r - l > snd.max_wnd.max(mss) || r.after(snd.max) {
        return;
    }
    if u.retrans > 0 && r.after(marker) && r.before_eq(u.high) {
        let segs = (r - l).div_ceil(mss.max(1)).min(u.retrans);
        u.retrans -= segs;
        u.spurious = u.spurious.saturating_add(segs);
    }
}

/// Linux `tcp_packet_delayed`: nothing was retransmitted, or the ACK
/// echoes a TSval older than the first retransmission's (RFC 3522).
fn packet_delayed(snd: &SendHalf, tcb: &Tcb, seg: &TcpRepr<'_>) -> bool {
    match snd.cc.undo.stamp {
        None => true,
        Some(stamp) => match (tcb.ts, seg.options.timestamps) {
            (Some(_), Some(t)) if t.tsecr != 0 => (t.tsecr.wrapping_sub(stamp) as i32) < 0,
            _ => false,
        },
    }
}

/// Linux `tcp_may_undo`: a record, and every retransmission D-SACKed or
/// the original shown delivered.
fn may_undo(snd: &SendHalf, tcb: &Tcb, seg: &TcpRepr<'_>) -> bool {
    let u = &snd.cc.undo;
    u.marker.is_some() && ((u.stamp.is_some() && u.retrans == 0) || packet_delayed(snd, tcb, seg))
}

/// After an acceptable ACK (its SACK blocks taken, recovery updated):
/// undo the reduction if it was shown spurious. `prior` is the recovery
/// mode and `prior_una` SND.UNA before the ACK.
pub(crate) fn after_ack(
    snd: &mut SendHalf,
    tcb: &Tcb,
    seg: &TcpRepr<'_>,
    prior: Recovery,
    prior_una: SeqNum,
) {
    if snd.cc.undo.marker.is_none() {
        return;
    }
    let now = snd.cc.recovery;
    if !prior.in_fast_recovery() && now.in_fast_recovery() {
        // A new reduction began with this ACK.
        return;
    }
    match prior {
        // Fast recovery ended with this ACK (RFC 6582 / RFC 6675 full
        // ACK): Linux tcp_try_undo_recovery.
        Recovery::FastRecovery { .. } | Recovery::SackRecovery { .. } if now == Recovery::Open => {
            if may_undo(snd, tcb, seg) {
                undo(snd);
            }
        }
        // After a timeout, an ACK of new data: Linux tcp_process_loss ->
        // tcp_try_undo_loss (and tcp_try_undo_recovery once `recover` is
        // reached). The rest of the flight is not sent again (Linux
        // tcp_undo_cwnd_reduction(sk, true) unmarks it lost).
        Recovery::Loss { .. } if snd.una != prior_una => {
            if may_undo(snd, tcb, seg) {
                undo(snd);
                if tcb.sack {
                    snd.cc.recovery = Recovery::Open;
                }
                snd.cc.rtx_una = false;
                snd.cc.rack.unmark_lost();
                if snd.nxt.before(snd.max) {
                    snd.nxt = snd.max;
                }
            }
        }
        // In fast recovery or open: Linux tcp_try_undo_dsack.
        _ => {
            let u = &snd.cc.undo;
            let dsacked = u.stamp.is_some() && u.retrans == 0;
            if dsacked
                && matches!(
                    now,
                    Recovery::Open | Recovery::FastRecovery { .. } | Recovery::SackRecovery { .. }
                )
            {
                undo(snd);
                snd.cc.recovery = Recovery::Open;
                snd.cc.reno_sacked = 0;
            }
        }
    }
}

/// Linux `tcp_undo_cwnd_reduction`: cwnd = max(cwnd, prior_cwnd),
/// ssthresh = max(ssthresh, prior_ssthresh); the record is spent.
fn undo(snd: &mut SendHalf) {
    let u = &mut snd.cc.undo;
    snd.cc.cc.undo(u.prior_cwnd, u.prior_ssthresh);
    u.spurious = u.spurious.saturating_add(u.retrans);
    u.retrans = 0;
    u.undos = u.undos.saturating_add(1);
    u.marker = None;
}

/// The connection's counts: (undos, retransmissions shown spurious,
/// retransmission timeouts).
pub(crate) fn counts(state: &State) -> (u32, u32, u32) {
    let snd = match state {
        State::Established(s) | State::FinWait1(s) => &s.snd,
        State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => &s.snd,
        _ => return (0, 0, 0),
    };
    let u = &snd.cc.undo;
    (u.undos, u.spurious, u.timeouts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{SackBlocks, TcpControl, TcpOptions};

    fn seg_with(blocks: &[(u32, u32)]) -> TcpRepr<'static> {
        let mut b = SackBlocks::new();
        for &(l, r) in blocks {
            b.push(SeqNum::new(l), SeqNum::new(r));
        }
        TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq_number: SeqNum::new(0),
            ack_number: Some(SeqNum::new(5000)),
            control: TcpControl::None,
            push: false,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 100,
            options: TcpOptions {
                sack_blocks: b,
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }

    #[test]
    fn dsack_blocks_per_rfc_2883() {
        let ack = SeqNum::new(5000);
        // Below the cumulative ACK.
        assert!(dsack(&seg_with(&[(1000, 2000)]), ack).is_some());
        // Within the second block, above the ACK.
        assert!(dsack(&seg_with(&[(6000, 7000), (6000, 9000)]), ack).is_some());
        // An ordinary SACK block, or two disjoint ones.
        assert!(dsack(&seg_with(&[(6000, 7000)]), ack).is_none());
        assert!(dsack(&seg_with(&[(6000, 7000), (8000, 9000)]), ack).is_none());
        assert!(dsack(&seg_with(&[]), ack).is_none());
        // Empty or reversed: not one.
        assert!(dsack(&seg_with(&[(1000, 1000)]), ack).is_none());
        // Across the wrap.
        let ack = SeqNum::new(10);
        assert!(dsack(&seg_with(&[(u32::MAX - 100, 5)]), ack).is_some());
    }
}
