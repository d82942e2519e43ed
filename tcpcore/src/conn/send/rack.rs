//! RACK loss detection (RFC 8985 §6), as Linux `tcp_recovery.c` runs it
//! by default (`net.ipv4.tcp_recovery = 1`): with SACK, a segment is lost
//! once a segment sent after it has been delivered (SACKed or cumulatively
//! acknowledged) and it is still not, a reordering window `reo_wnd` later;
//! those not yet past that window arm the reordering timer
//! ([`Timer::RackReorder`], RFC 8985 §6.3 `RACK_detect_loss_and_arm_timer`).
//! Losses found start SACK-based recovery ([`Recovery::SackRecovery`],
//! Linux `tcp_time_to_recover`: "the loss is proven") and are resent
//! (`segment.rs`, Linux `tcp_xmit_retransmit_queue` sends what is marked
//! lost); `pipe` leaves them out until then (Linux
//! `tcp_packets_in_flight`).
//!
//! Without SACK, Linux runs no RACK (`tcp_identify_packet_loss`: Reno
//! takes `tcp_newreno_mark_lost`): RFC 5681's three duplicate ACKs start
//! NewReno recovery as before, and with SACK so do three duplicate ACKs
//! that carry no SACK block at all (RFC 8985 §6.2 keeps DupThresh as a
//! rule of its own; Linux instead waits for the RTO).
//!
//! The reordering window (RFC 8985 §6.2 step 4, Linux `tcp_rack_reo_wnd`):
//! zero while no reordering was seen and the sender is in recovery or at
//! least DupThresh segments are SACKed (the classic rule, as a time rule),
//! else `min(min_RTT / 4 * reo_wnd_mult, SRTT)`; each round trip that
//! brings a DSACK (RFC 2883) widens it by one step, kept for 16
//! recoveries. A DSACK also counts as reordering seen (the original of a
//! retransmission arrived after all), and a retransmission acknowledged
//! sooner than SRTT / 2 after it went is taken for its late original, not
//! for a delivery that could advance RACK (see `update`).
//!
//! # Send times without per-segment storage
//!
//! RACK needs each segment's transmission time. The send buffer is a ring
//! of bytes with no per-segment records, and there is no heap, so this
//! module keeps a partition of `[SND.UNA, SND.MAX)` into at most
//! [`RACK_RUNS`] runs, each with the earliest and the latest time any of
//! its bytes was (last) sent, whether it holds a retransmission, and
//! whether it is marked lost. A send overwrites its range; neighbours sent
//! at the same instant with the same flags are one run; when there are
//! more runs than slots, the two neighbours whose union spans the least
//! time are merged. The bounds keep RACK on the safe side: a delivered
//! run stands for its segment with its earliest time (RACK.xmit_ts no
//! later, RACK.rtt no shorter than exactly), a run awaiting delivery with
//! its latest (sent before RACK.xmit_ts only if all of it was). Bytes never
//! resent that lie below RACK.end_seq were first sent, in sequence order,
//! before the RACK segment, whatever their run's times (RFC 8985's
//! `RACK_sent_after` compares end sequence numbers on equal times); their
//! deadline is the earlier of their run's latest send and RACK.xmit_ts,
//! plus RACK.rtt and the window. A resend counts as sent before only what
//! was sent at a strictly later time: the tie-break by sequence orders
//! first transmissions only (see `detect`). So a merged run's loss may be found a
//! little later than exactly, never earlier, and with up to
//! [`RACK_RUNS`] distinct send times in flight it is exact.
//! Times are kept as the low 32 bits of the microsecond clock (a run is
//! never older than the connection's patience, far below 35 minutes).

use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::TcpRepr;

use super::cc::DUP_THRESH;
use super::recovery::Recovery;
use super::sack::Scoreboard;
use crate::conn::{SendHalf, Tcb, Timer};

/// At most this many runs of send times are kept (see the module docs).
pub const RACK_RUNS: usize = 8;

/// A run's flag: retransmitted (Linux `TCPCB_RETRANS`).
const RTX: u8 = 1;
/// A run's flag: marked lost and not resent since (Linux `TCPCB_LOST`).
const LOST: u8 = 2;

/// How far below SND.UNA `Rack::late_end` is kept: far more than a window,
/// far less than half the sequence space.
const LATE_END_KEPT: u32 = 1 << 30;

/// RFC 8985 §6.2 step 4: after a DSACK, the widened window is kept for
/// this many recoveries (Linux `TCP_RACK_RECOVERY_THRESH`).
const REO_WND_PERSIST: u8 = 16;

/// RACK's state (RFC 8985 §6.1): the send times of what is in flight, the
/// most recently sent segment known delivered, the reordering window's
/// inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rack {
    /// Where each run ends; run `i` begins where run `i - 1` ends (the
    /// first at SND.UNA).
    ends: [SeqNum; RACK_RUNS],
    /// When each run's bytes were sent, earliest and latest (the low 32
    /// bits of the microsecond clock).
    sent: [(u32, u32); RACK_RUNS],
    /// Each run's `RTX` and `LOST` flags.
    flags: [u8; RACK_RUNS],
    /// How many runs there are.
    len: u8,
    /// RACK.xmit_ts and RACK.end_seq: when the most recently sent
    /// delivered segment was sent, and where it ends; and whether it was a
    /// retransmission (none yet: `None`).
    xmit: Option<(u32, SeqNum, bool)>,
    /// RACK.rtt, microseconds: its round-trip time.
    rtt: u32,
    /// The same for the highest first transmission delivered: a lower
    /// bound of its send time, its end, and its round-trip time. First
    /// transmissions go in sequence order, so those below it were sent
    /// before it, whatever the bounds of their runs say.
    orig: Option<(u32, SeqNum, u32)>,
    /// RACK.min_RTT, microseconds (`u32::MAX`: none yet).
    min_rtt: u32,
    /// RACK.fack: the highest sequence number delivered so far.
    fack: SeqNum,
    /// RACK.reo_wnd_mult.
    reo_wnd_mult: u8,
    /// RACK.reo_wnd_persist.
    reo_wnd_persist: u8,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.dsack_round: SND.NXT when the window last widened, while that
    /// round lasts.
    dsack_round: Option<SeqNum>,
    /// The end of the highest resend whose late original `update` found:
    /// a DSACK for it later reports the same reordering again.
    late_end: Option<SeqNum>,
}

/// RFC 8985 §6.2, `RACK_sent_after(t1, seq1, t2, seq2)`: sent later, or at
/// the same time and ending later.
fn sent_after(t1: u32, seq1: SeqNum, t2: u32, seq2: SeqNum) -> bool {
    let d = t1.wrapping_sub(t2) as i32;
    d > 0 || (d == 0 && seq1.after(seq2))
}

/// The low 32 bits of the microsecond clock.
fn stamp(now: Instant) -> u32 {
    now.as_micros() as u32
}

/// Bytes of `[lo, hi)` the scoreboard `board` holds.
fn sacked_in(board: &Scoreboard, lo: SeqNum, hi: SeqNum) -> u32 {
    board
        .as_slice()
        .iter()
        .map(|&(s, e)| {
            let (a, b) = (s.max(lo), e.min(hi));
            if a.before(b) {
                b - a
            } else {
                0
            }
        })
        .sum()
}

/// The highest end of a part of `[lo, hi)` that `board` does not hold.
fn highest_outside(board: &Scoreboard, lo: SeqNum, hi: SeqNum) -> Option<SeqNum> {
    let mut hi = hi;
    for &(s, e) in board.as_slice().iter().rev() {
        if !lo.before(hi) {
            return None;
        }
        if e.after_eq(hi) && s.before(hi) {
            hi = s;
        }
    }
    lo.before(hi).then_some(hi)
}

impl Rack {
    /// Nothing sent yet.
    pub(crate) const fn new() -> Self {
        Rack {
            ends: [SeqNum::new(0); RACK_RUNS],
            sent: [(0, 0); RACK_RUNS],
            flags: [0; RACK_RUNS],
            len: 0,
            xmit: None,
            orig: None,
            rtt: 0,
            min_rtt: u32::MAX,
            fack: SeqNum::new(0),
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            reordering_seen: false,
            dsack_round: None,
            late_end: None,
        }
    }

    /// RACK.reordering_seen: a segment was delivered below one delivered
    /// before it without having been resent, or a DSACK reported a
    /// segment received twice.
    pub const fn reordering_seen(&self) -> bool {
        self.reordering_seen
    }

    /// RACK.reo_wnd_mult: the reordering window in steps of min_RTT / 4.
    pub const fn reo_wnd_mult(&self) -> u8 {
        self.reo_wnd_mult
    }

    /// RACK.min_RTT, if measured.
    pub fn min_rtt(&self) -> Option<crate::time::Duration> {
        (self.min_rtt != u32::MAX).then(|| crate::time::Duration::from_micros(self.min_rtt.into()))
    }

    /// The runs, `(start, end, lost)`, from `una`.
    fn runs(&self, una: SeqNum) -> impl Iterator<Item = (usize, SeqNum, SeqNum)> + '_ {
        let n = usize::from(self.len).min(RACK_RUNS);
        (0..n).map(move |i| {
            let s = if i == 0 { una } else { self.ends[i - 1] };
            (i, s, self.ends[i])
        })
    }

    /// Forgets the runs at or below `una` (acknowledged).
    pub(crate) fn trim(&mut self, una: SeqNum) {
        let n = usize::from(self.len).min(RACK_RUNS);
        let k = self.ends[..n]
            .iter()
            .take_while(|e| e.before_eq(una))
            .count();
        self.ends.copy_within(k..n, 0);
        self.sent.copy_within(k..n, 0);
        self.flags.copy_within(k..n, 0);
        self.len = (n - k) as u8;
    }

    /// `[seq, end)` was sent at `now`, resent if `rtx`: its run takes that
    /// time and is no longer marked lost.
    pub(crate) fn on_sent(
        &mut self,
        una: SeqNum,
        seq: SeqNum,
        end: SeqNum,
        now: Instant,
        rtx: bool,
    ) {
        if seq.before(una) || !seq.before(end) {
            return;
        }
        self.assign(
            una,
            seq,
            end,
            (stamp(now), stamp(now)),
            if rtx { RTX } else { 0 },
        );
    }

    /// A retransmission timeout: everything in flight is marked lost
    /// (Linux `tcp_enter_loss` marks every unSACKed segment), to be resent
    /// from SND.UNA.
    pub(crate) fn on_rto(&mut self, una: SeqNum, max: SeqNum) {
        if una.before(max) {
            let n = usize::from(self.len).min(RACK_RUNS);
            self.sent[0] = (
                self.sent[..n].iter().map(|t| t.0).min().unwrap_or(0),
                self.sent[..n].iter().map(|t| t.1).max().unwrap_or(0),
            );
            self.len = 1;
            self.ends[0] = max;
            self.flags[0] = RTX | LOST;
        } else {
            self.len = 0;
        }
    }

    /// The losses marked are taken back: a timeout shown spurious was
    /// undone (Linux `tcp_undo_cwnd_reduction(sk, true)` clears
    /// `TCPCB_LOST` on every segment), so nothing is resent for it.
    pub(crate) fn unmark_lost(&mut self) {
        let n = usize::from(self.len).min(RACK_RUNS);
        for f in &mut self.flags[..n] {
            *f &= !LOST;
        }
    }

    /// Gives `[seq, end)` the send times `t` (earliest, latest) and flags
    /// `f`, splitting the runs it covers, then merges runs down to
    /// [`RACK_RUNS`].
    fn assign(&mut self, una: SeqNum, seq: SeqNum, end: SeqNum, t: (u32, u32), f: u8) {
        let mut buf = [(SeqNum::new(0), (0u32, 0u32), 0u8); RACK_RUNS + 3];
        let mut n = 0;
        let mut last = una;
        for (i, s, e) in self.runs(una) {
            if s.before(seq) {
                buf[n] = (e.min(seq), self.sent[i], self.flags[i]);
                n += 1;
                last = e.min(seq);
            }
        }
        if last.before(seq) {
            // Bytes never recorded (none should be): as sent now.
            buf[n] = (seq, t, f);
            n += 1;
        }
        buf[n] = (end, t, f);
        n += 1;
        for (i, _, e) in self.runs(una) {
            if e.after(end) {
                buf[n] = (e, self.sent[i], self.flags[i]);
                n += 1;
            }
        }
        // One run for neighbours sent at the same times with the same flags.
        let mut m = 0;
        for k in 0..n {
            if m > 0 && buf[m - 1].1 == buf[k].1 && buf[m - 1].2 == buf[k].2 {
                buf[m - 1].0 = buf[k].0;
            } else {
                buf[m] = buf[k];
                m += 1;
            }
        }
        // Too many: merge the neighbours whose merged run spans the least
        // time (flags that differ cost more than any time).
        let span = |a: (u32, u32), b: (u32, u32)| {
            let first = if (a.0.wrapping_sub(b.0) as i32) < 0 {
                a.0
            } else {
                b.0
            };
            let last = if (a.1.wrapping_sub(b.1) as i32) > 0 {
                a.1
            } else {
                b.1
            };
            (first, last)
        };
        while m > RACK_RUNS {
            let cost = |k: usize| {
                let (a, b) = (buf[k], buf[k + 1]);
                let (first, last) = span(a.1, b.1);
                u64::from(last.wrapping_sub(first)) + if a.2 == b.2 { 0 } else { 1 << 33 }
            };
            let k = (0..m - 1).min_by_key(|&k| cost(k)).unwrap_or(0);
            let (a, b) = (buf[k], buf[k + 1]);
            buf[k] = (
                b.0,
                span(a.1, b.1),
                ((a.2 | b.2) & RTX) | (a.2 & b.2 & LOST),
            );
            buf.copy_within(k + 2..m, k + 1);
            m -= 1;
        }
        for (k, &(e, t, f)) in buf[..m].iter().enumerate() {
            self.ends[k] = e;
            self.sent[k] = t;
            self.flags[k] = f;
        }
        self.len = m as u8;
    }

    /// Bytes below `nxt` marked lost and neither SACKed nor resent since.
    pub(crate) fn lost_below(&self, una: SeqNum, nxt: SeqNum, board: &Scoreboard) -> u32 {
        self.runs(una)
            .filter(|&(i, s, _)| self.flags[i] & LOST != 0 && s.before(nxt))
            .map(|(_, s, e)| {
                let e = e.min(nxt);
                (e - s) - sacked_in(board, s, e)
            })
            .sum()
    }

    /// The first byte marked lost, not SACKed and not resent since, and
    /// the end of its run: the next retransmission (Linux
    /// `tcp_xmit_retransmit_queue` sends what is marked lost, in order).
    pub(crate) fn first_lost(&self, una: SeqNum, board: &Scoreboard) -> Option<(SeqNum, SeqNum)> {
        for (i, s, e) in self.runs(una) {
            if self.flags[i] & LOST == 0 {
                continue;
            }
            let mut at = s;
            for &(bs, be) in board.as_slice() {
                if at.in_window(bs, be) || (at == bs && bs.before(be)) {
                    at = be;
                }
            }
            if at.before(e) {
                return Some((at, e));
            }
        }
        None
    }

    /// An RTT sample of the connection: RACK.min_RTT (Linux `tcp_min_rtt`,
    /// a windowed minimum over 5 minutes; here the least ever seen).
    pub(crate) fn on_rtt_sample(&mut self, us: u64) {
        self.min_rtt = self.min_rtt.min(u32::try_from(us).unwrap_or(u32::MAX));
    }

    /// RFC 8985 §6.2 step 4, on leaving fast or RTO recovery: "RACK.
    /// reo_wnd_persist -= 1; If RACK.reo_wnd_persist <= 0: RACK.reo_wnd_mult
    /// = 1".
    pub(crate) fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 steps 2 and 3, `RACK_update` and
    /// `RACK_detect_reordering`, for the segments this ACK newly delivered:
    /// `[prior_una, una)` cumulatively and what the scoreboard `board` holds
    /// beyond what `prior` did. Returns whether a resend was delivered too
    /// soon to be the resend, or by an ACK that echoes an older TSval: its
    /// original arrived late (reordering, as a DSACK would show). `echo`:
    /// the ACK's TSecr and our TSval offset, with timestamps on.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        prior_una: SeqNum,
        una: SeqNum,
        prior: &Scoreboard,
        board: &Scoreboard,
        now: Instant,
        srtt: u32,
        echo: Option<(u32, u32)>,
    ) -> bool {
        let (now_us, now) = (now.as_micros(), stamp(now));
        let mut late_original = false;
        let n = usize::from(self.len).min(RACK_RUNS);
        for i in 0..n {
            let s = if i == 0 { prior_una } else { self.ends[i - 1] };
            let e = self.ends[i];
            // The highest byte of `[lo, up)` newly delivered, if any.
            let newly = |lo: SeqNum, up: SeqNum| {
                lo.before(up)
                    .then(|| highest_outside(prior, lo, up))
                    .flatten()
            };
            // What the cumulative ACK delivered of this run (the hole at
            // SND.UNA filled: the ACK's TSecr is of the segment that did),
            // then the highest newly delivered byte of the run, if any.
            let cum_hi = newly(s, e.min(una));
            let by_cum = cum_hi.is_some();
            let hi = board
                .as_slice()
                .iter()
                .filter_map(|&(bs, be)| newly(bs.max(s), be.min(e)))
                .fold(cum_hi, |a, h| Some(a.map_or(h, |x| x.max(h))));
            let Some(hi) = hi else { continue };
            let rtx = self.flags[i] & RTX != 0;
            // Step 3: delivered below RACK.fack, never resent: reordering.
            if hi.after(self.fack) {
                self.fack = hi;
            } else if hi.before(self.fack) && !rtx {
                self.reordering_seen = true;
            }
            // Step 2. Linux tcp_rack_advance: a resent segment delivered
            // sooner than min_RTT after the resend is taken for the
            // original's delivery, and gives no sample. Here also sooner
            // than SRTT / 2: min_RTT is the emptiest the path ever was (a
            // few microseconds on a LAN) while a resend waits in the same
            // queue as everything else, so an ACK that quick is the late
            // original's. Taken for the resend, it would make RACK.rtt that
            // short and mark lost all sent before the resend and not yet
            // delivered -- on a reordering path, most of the flight (seen
            // through the relay of `bench-e2e`: thousands of segments sent
            // twice). Skipping a real one costs little: later new data
            // delivered advances RACK as well.
            // The run's earliest send time stands for the segment's: RACK.
            // xmit_ts no later, RACK.rtt (kept with it) no shorter than
            // exactly.
            let first = self.sent[i].0;
            let rtt = now.wrapping_sub(first);
            // RFC 8985 §6.2 step 2: "If ACK.ts_option.echo_reply <
            // Segment.xmit_ts: Return" -- the ACK was sent for an earlier
            // transmission. In milliseconds this tells only a resend a
            // tick or more after its original; a path that stalled for
            // milliseconds (seen on a busy machine: the resend's ACK came
            // 2.9 ms after it, from the original the relay had held, and
            // every segment sent before the resend was taken for lost) is
            // such a case. As Linux (`tcp_skb_spurious_retrans` in
            // `tcp_clean_rtx_queue`), for what the cumulative ACK delivers
            // only: the receiver's TS.Recent moves only with the left edge
            // (RFC 7323 §4.3), so a SACK of a resend above another hole
            // echoes an older TSval however it came.
            let echo_older = rtx
                && by_cum
                && echo.is_some_and(|(tsecr, offset)| {
                    let sent_ms = now_us.saturating_sub(u64::from(rtt)) / 1000;
                    let tsval = (sent_ms as u32).wrapping_add(offset);
                    tsecr != 0 && (tsecr.wrapping_sub(tsval) as i32) < 0
                });
            if rtx && (echo_older || rtt < self.min_rtt.max(srtt / 2)) {
                // Sooner than min_RTT, or ACKed with the original's echo
                // (`echo_older`), the resend cannot have been delivered
                // itself: the original arrived after it was taken for
                // lost, and the path reorders (step 3 cannot see it: the
                // segment was resent). By time as well as by timestamps,
                // which in milliseconds cannot tell on a LAN. Sooner than
                // SRTT / 2 only, it may have been delivered (a queue that
                // drained): nothing is inferred (taking it for reordering
                // cost 15 % of goodput at 1 % random loss).
                if echo_older || rtt < self.min_rtt {
                    late_original = true;
                    self.late_end = Some(self.late_end.map_or(hi, |e| e.max(hi)));
                }
                continue;
            }
            if !rtx {
                self.min_rtt = self.min_rtt.min(rtt);
            }
            // RACK_sent_after, by the times; or, both being first
            // transmissions, by sequence order, which is their send order
            // (RACK.xmit_ts then the later of the two bounds).
            let later = match self.xmit {
                None => Some(first),
                Some((ts, end, xrtx)) => {
                    if sent_after(first, hi, ts, end) {
                        Some(first)
                    } else if !rtx && !xrtx && hi.after(end) {
                        Some(ts)
                    } else {
                        None
                    }
                }
            };
            if let Some(ts) = later {
                self.xmit = Some((ts, hi, rtx));
                self.rtt = now.wrapping_sub(ts);
            }
            if !rtx && self.orig.is_none_or(|(_, end, _)| hi.after(end)) {
                let ts = match self.orig {
                    Some((ts, _, _)) if (ts.wrapping_sub(first) as i32) > 0 => ts,
                    _ => first,
                };
                self.orig = Some((ts, hi, now.wrapping_sub(ts)));
            }
        }
        late_original
    }

    /// RFC 8985 §6.2 step 4, the DSACK part of `RACK_update_reo_wnd`: a
    /// round trip (until SND.UNA passes SND.NXT of then) that brings a
    /// DSACK -- or a resend's late original, which `update` found --
    /// widens the window by one step, kept for 16 recoveries.
    fn update_reo_wnd(&mut self, una: SeqNum, nxt: SeqNum, dsack: bool) {
        if self.dsack_round.is_some_and(|r| una.after_eq(r)) {
            self.dsack_round = None;
        }
        // A DSACK reports a segment received twice: a retransmission whose
        // original arrived after all (or a copy made by the network). That
        // is reordering as much as step 3's, found one round later: the
        // hole step 3 would have seen filled was resent first, at DupThresh
        // SACKs, so step 3 never sees it; then every later displaced segment
        // is resent too. Linux finds these from timestamps
        // (tcp_try_undo_partial -> tcp_check_sack_reordering), which at
        // millisecond ticks cannot tell a resend apart from an original on a
        // LAN; RFC 8985 §6.2 leaves the detection open.
        if dsack {
            self.reordering_seen = true;
        }
        if self.dsack_round.is_none() && dsack {
            self.dsack_round = Some(nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// RFC 8985 §6.2 step 4 (Linux `tcp_rack_reo_wnd`), microseconds.
    fn reo_wnd(&self, recovering: bool, sacked: u32, mss: u32, srtt: Option<u64>) -> u32 {
        if !self.reordering_seen && (recovering || sacked > u32::from(DUP_THRESH - 1) * mss) {
            return 0;
        }
        let srtt = srtt.map_or(0, |s| u32::try_from(s).unwrap_or(u32::MAX));
        let base = if self.min_rtt == u32::MAX {
            srtt
        } else {
            self.min_rtt
        };
        (base / 4)
            .saturating_mul(u32::from(self.reo_wnd_mult))
            .min(srtt)
    }

    /// RFC 8985 §6.2 step 5, `RACK_detect_loss`: marks lost the runs (or
    /// their parts) sent before RACK.xmit_ts that are not delivered
    /// RACK.rtt + `reo_wnd` after they were sent. Returns the bytes newly
    /// marked lost, and how long until the next of the others would be
    /// (0: none waits).
    fn detect(&mut self, una: SeqNum, board: &Scoreboard, reo_wnd: u32, now: u32) -> (u32, u32) {
        let Some((xmit_ts, end_seq, _)) = self.xmit else {
            return (0, 0);
        };
        let mut mark = [(SeqNum::new(0), SeqNum::new(0), (0u32, 0u32), 0u8); RACK_RUNS];
        let mut marks = 0;
        let mut timeout = 0u32;
        let earlier = |a: u32, b: u32| if (a.wrapping_sub(b) as i32) < 0 { a } else { b };
        for (i, s, e) in self.runs(una) {
            if self.flags[i] & LOST != 0 {
                continue;
            }
            let last = self.sent[i].1;
            let original = self.flags[i] & RTX == 0;
            // The parts of the run sent before a delivered segment, each
            // with the time by which it is lost: all of it if its latest
            // send was before RACK.xmit_ts (`RACK_sent_after`), by that
            // send + RACK.rtt + reo_wnd; if never resent, its bytes below
            // RACK.end_seq, and those below the highest first transmission
            // delivered (first sent, in sequence order, before those
            // were), by the earlier of its latest send and that segment's
            // + that segment's RTT + reo_wnd.
            // RACK_sent_after's tie-break by sequence holds between first
            // transmissions only (they go in sequence order). A
            // retransmission may go after new data sent in the same
            // microsecond -- an ACK that opens the window, then one that
            // shows the loss, handled at one `now` -- so it counts as sent
            // before only a segment sent at a strictly later time. Linux
            // stamps each skb from a nanosecond clock (`tcp_clock_ns`),
            // where such ties hardly arise; on a microsecond clock they
            // marked a resend lost the instant the new data sent before it
            // was SACKed, and it went twice (`bench-e2e`, 5 % loss: hundreds
            // of DSACKs per download).
            let before = if original {
                sent_after(xmit_ts, end_seq, last, e)
            } else {
                (xmit_ts.wrapping_sub(last) as i32) > 0
            };
            let by_time = before.then_some((e, last, self.rtt));
            let below_rack = original.then_some((e.min(end_seq), earlier(last, xmit_ts), self.rtt));
            let below_orig = self
                .orig
                .filter(|_| original)
                .map(|(ts, end, rtt)| (e.min(end), earlier(last, ts), rtt));
            let mut lost_to = s;
            let mut wait: Option<u32> = None;
            for (pe, t, rtt) in [by_time, below_rack, below_orig].into_iter().flatten() {
                if !s.before(pe) || sacked_in(board, s, pe) == pe - s {
                    continue;
                }
                let deadline = t.wrapping_add(rtt).wrapping_add(reo_wnd);
                let remaining = deadline.wrapping_sub(now) as i32;
                if remaining <= 0 {
                    lost_to = lost_to.max(pe);
                } else {
                    let r = remaining as u32;
                    wait = Some(wait.map_or(r, |w| w.min(r)));
                }
            }
            if lost_to.after(s) {
                mark[marks] = (s, lost_to, self.sent[i], self.flags[i]);
                marks += 1;
            }
            if let Some(w) = wait {
                timeout = timeout.max(w);
            }
        }
        let mut lost = 0;
        for &(s, e, t, f) in &mark[..marks] {
            lost += (e - s) - sacked_in(board, s, e);
            self.assign(una, s, e, t, f | LOST);
        }
        (lost, timeout)
    }
}

/// RFC 2883 §4: the ACK's first SACK block is a DSACK: at or below the
/// cumulative ACK, or within the second block.
pub(crate) fn has_dsack(seg: &TcpRepr<'_>, ack: SeqNum) -> bool {
    let blocks = seg.options.sack_blocks.as_slice();
    blocks.first().is_some_and(|&(l, r)| {
        r.before_eq(ack)
            || blocks
                .get(1)
                .is_some_and(|&(l2, r2)| l.after_eq(l2) && r.before_eq(r2))
    })
}

/// RACK on an acceptable ACK (RFC 8985 §6.2 steps 1-5, Linux
/// `tcp_rack_mark_lost`), after the scoreboard took its blocks: `prior_una`
/// and `prior` are SND.UNA and the scoreboard before it. Marks losses,
/// arms or stops the reordering timer, and returns the bytes newly marked
/// lost. Only with SACK, and not after a timeout (the loss state resends
/// everything from SND.UNA).
pub(crate) fn on_ack(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    prior_una: SeqNum,
    prior: &Scoreboard,
    now: Instant,
    mss: u32,
) -> u32 {
    let (una, nxt) = (snd.una, snd.nxt);
    let rack = &mut snd.cc.rack;
    if !tcb.sack {
        rack.trim(una);
        return 0;
    }
    let srtt = tcb
        .rtx
        .rtt
        .map_or(0, |(s, _)| u32::try_from(s).unwrap_or(u32::MAX));
    let echo = tcb
        .ts
        .zip(seg.options.timestamps)
        .map(|(ts, o)| (o.tsecr, ts.offset));
    let late = rack.update(prior_una, una, prior, &snd.cc.sacked, now, srtt, echo);
    rack.trim(una);
    // A late original's resend draws its DSACK within a round trip; kept
    // far longer, `late_end` would compare wrongly once the sequence
    // space wraps past it.
    if rack
        .late_end
        .is_some_and(|e| e.before(una) && una - e > LATE_END_KEPT)
    {
        rack.late_end = None;
    }
    // A DSACK for a resend whose late original was already counted
    // (`late_end`) shows nothing new.
    let dsack = has_dsack(seg, seg.ack_number.unwrap_or(una))
        && !seg
            .options
            .sack_blocks
            .as_slice()
            .first()
            .is_some_and(|&(_, r)| rack.late_end.is_some_and(|e| r.before_eq(e)));
    rack.update_reo_wnd(una, nxt, dsack || late);
    if matches!(snd.cc.recovery, Recovery::Loss { .. }) {
        return 0;
    }
    detect_and_arm(snd, tcb, now, mss)
}

/// RFC 8985 §6.3, `RACK_detect_loss_and_arm_timer`: returns the bytes
/// newly marked lost.
fn detect_and_arm(snd: &mut SendHalf, tcb: &mut Tcb, now: Instant, mss: u32) -> u32 {
    let recovering = snd.cc.recovery != Recovery::Open;
    let sacked = snd.cc.sacked_above(snd.una);
    let srtt = tcb.rtx.rtt.map(|(s, _)| s);
    let board = snd.cc.sacked;
    let rack = &mut snd.cc.rack;
    let reo_wnd = rack.reo_wnd(recovering, sacked, mss, srtt);
    let (lost, timeout) = rack.detect(snd.una, &board, reo_wnd, stamp(now));
    if timeout > 0 {
        let at = now + crate::time::Duration::from_micros(timeout.into());
        tcb.timers.set(Timer::RackReorder, at);
    } else {
        tcb.timers.clear(Timer::RackReorder);
    }
    lost
}

/// The reordering timer fired (RFC 8985 §6.3; Linux
/// `tcp_rack_reo_timeout`): losses found now start SACK-based recovery if
/// none is under way (RFC 6937 PRR begins, and allows the first
/// retransmission), and are resent by
/// [`next_segment`](super::next_segment); the timer is armed again for
/// what still waits. Returns the bytes newly marked lost.
pub fn on_reorder_timeout(snd: &mut SendHalf, tcb: &mut Tcb, now: Instant) -> u32 {
    tcb.timers.clear(Timer::RackReorder);
    let mss = super::cc::smss(snd, tcb);
    if !tcb.sack || matches!(snd.cc.recovery, Recovery::Loss { .. }) {
        return 0;
    }
    let lost = detect_and_arm(snd, tcb, now, mss);
    if lost > 0 {
        super::recovery::enter_recovery(snd, tcb, mss);
        super::prr::on_ack(snd, 0, false, lost, mss);
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    fn t(us: u64) -> Instant {
        Instant::from_micros(us)
    }

    #[test]
    fn runs_split_merge_and_stay_bounded() {
        let mut r = Rack::new();
        // Ten sends at ten instants, then one more: runs merge by time.
        for k in 0..10u32 {
            r.on_sent(
                s(0),
                s(k * 100),
                s(k * 100 + 100),
                t(u64::from(k) * 10 + if k >= 5 { 1000 } else { 0 }),
                false,
            );
        }
        assert_eq!(usize::from(r.len), RACK_RUNS);
        assert_eq!(r.ends[RACK_RUNS - 1], s(1000));
        // The first five were sent within 40 us: two of them merged first.
        assert!(r.ends[..RACK_RUNS].windows(2).all(|w| w[0].before(w[1])));
        // A retransmission in the middle splits a run.
        r.on_sent(s(0), s(0), s(100), t(5000), true);
        assert_eq!(r.ends[0], s(100));
        assert_eq!(r.flags[0], RTX);
        r.trim(s(100));
        assert_eq!(r.runs(s(100)).next().map(|(_, a, _)| a), Some(s(100)));
        // Same instant, same flags: one run.
        let mut r = Rack::new();
        r.on_sent(s(0), s(0), s(100), t(7), false);
        r.on_sent(s(0), s(100), s(200), t(7), false);
        assert_eq!(r.len, 1);
    }

    #[test]
    fn highest_outside_skips_held_ranges() {
        let mut b = Scoreboard::new();
        b.insert(0, (s(50), s(100)));
        assert_eq!(highest_outside(&b, s(0), s(100)), Some(s(50)));
        assert_eq!(highest_outside(&b, s(60), s(100)), None);
        assert_eq!(highest_outside(&b, s(0), s(40)), Some(s(40)));
        assert_eq!(sacked_in(&b, s(0), s(70)), 20);
    }
}
