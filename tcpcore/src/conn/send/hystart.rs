//! HyStart++ (RFC 9406): slow start that leaves early when the RTT grows,
//! for both congestion controls (CUBIC, `cubic.rs`, and NewReno, `cc.rs`).
//!
//! RFC 9406 §4.2, as written:
//! - Rounds: a round ends when SND.UNA reaches `windowEnd`, SND.NXT when
//!   it began; at the start of each round `lastRoundMinRTT =
//!   currentRoundMinRTT`, `currentRoundMinRTT = infinity`,
//!   `rttSampleCount = 0`.
//! - In slow start, cwnd grows by `min(N, L·SMSS)` per ACK of N new bytes;
//!   every RTT sample goes to `currentRoundMinRTT`. Once a round has
//!   `N_RTT_SAMPLE` samples, `RttThresh = max(MIN_RTT_THRESH,
//!   min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH))`, and if
//!   `currentRoundMinRTT >= lastRoundMinRTT + RttThresh` the sender enters
//!   Conservative Slow Start (CSS), with `cssBaselineMinRtt =
//!   currentRoundMinRTT`.
//! - In CSS, cwnd grows by `min(N, L·SMSS) / CSS_GROWTH_DIVISOR`. A round
//!   with `N_RTT_SAMPLE` samples whose minimum is below
//!   `cssBaselineMinRtt` shows the exit was spurious: back to slow start.
//!   After `CSS_ROUNDS` rounds (the one CSS began in counting), congestion
//!   avoidance: `ssthresh = cwnd`.
//! - A loss in slow start or CSS ends both as any loss does (ssthresh
//!   from the congestion control, `cc.rs`).
//!
//! Only the first slow start uses it, while ssthresh is still "arbitrarily
//! high" (RFC 9406 §4.2: "An implementation SHOULD use HyStart++ only for
//! the initial slow start ... and fall back to using standard slow start
//! for the remainder of the connection lifetime"); later slow starts (after
//! a timeout) are RFC 5681's, L = 1 SMSS (RFC 3465). This sender does not
//! pace, so L = 8 (§4.3: "L = infinity if paced, L = 8 if non-paced").
//! RTT samples come from every ACK with a timestamp echo (RFC 7323 §4.1);
//! without timestamps there is one sample per RTT (`ack.rs`), fewer than
//! `N_RTT_SAMPLE` per round, and slow start runs as RFC 5681's (with L).
//!
//! Linux differs: its CUBIC has its own HyStart (`tcp_cubic.c`,
//! `hystart_update`): the ACK-train test (ACKs spaced closely for half of
//! `delay_min`) and a delay test like the one here (the least of the first
//! `HYSTART_MIN_SAMPLES` = 8 samples of a round against `delay_min` plus
//! `clamp(delay_min / 8, 4 ms, 16 ms)`), from cwnd 16 up, and either exits
//! to congestion avoidance at once (`ssthresh = cwnd`), without CSS; its
//! Reno has none. The issue asks for RFC 9406's.

use crate::seq::SeqNum;
use crate::time::Duration;

/// RFC 9406 §4.3: "MIN_RTT_THRESH = 4 msec", in microseconds.
const MIN_RTT_THRESH: u32 = 4_000;
/// RFC 9406 §4.3: "MAX_RTT_THRESH = 16 msec", in microseconds.
const MAX_RTT_THRESH: u32 = 16_000;
/// RFC 9406 §4.3: "MIN_RTT_DIVISOR = 8".
const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: "N_RTT_SAMPLE = 8".
const N_RTT_SAMPLE: u8 = 8;
/// RFC 9406 §4.3: "CSS_GROWTH_DIVISOR = 4".
const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 §4.3: "CSS_ROUNDS = 5".
const CSS_ROUNDS: u8 = 5;
/// RFC 9406 §4.3: "L = infinity if paced, L = 8 if non-paced" (segments
/// per ACK, at most; [`Config::pacing`](crate::Config::pacing)).
const L: u32 = 8;
/// An RTT of "infinity", in microseconds.
const INFINITY: u32 = u32::MAX;

/// HyStart++ state (RFC 9406 §4.2), in microseconds for RTTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HyStart {
    /// `windowEnd`: SND.NXT when this round began; `None` before the first.
    window_end: Option<SeqNum>,
    /// `lastRoundMinRTT`.
    last_round_min: u32,
    /// `currentRoundMinRTT`.
    current_round_min: u32,
    /// `cssBaselineMinRtt`: infinity outside CSS.
    css_baseline: u32,
    /// `rttSampleCount`.
    samples: u8,
    /// Rounds in CSS so far, the one it began in counting (0 outside CSS).
    css_rounds: u8,
    /// The sender paces: no `L` (RFC 9406 §4.3).
    paced: bool,
}

/// What an RTT sample did (RFC 9406 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Still in slow start or CSS.
    Going,
    /// CSS_ROUNDS rounds of CSS are over: congestion avoidance,
    /// `ssthresh = cwnd`.
    Done,
}

impl HyStart {
    /// At connection start: everything infinite, no round yet.
    pub(crate) const fn new() -> Self {
        HyStart {
            window_end: None,
            last_round_min: INFINITY,
            current_round_min: INFINITY,
            css_baseline: INFINITY,
            samples: 0,
            css_rounds: 0,
            paced: false,
        }
    }

    /// The sender paces ([`Config::pacing`](crate::Config::pacing)): RFC
    /// 9406 §4.3's `L` is infinite.
    pub(crate) fn set_paced(&mut self, on: bool) {
        self.paced = on;
    }

    /// In Conservative Slow Start.
    pub const fn in_css(&self) -> bool {
        self.css_baseline != INFINITY
    }

    /// The slow-start increase for `acked` new bytes with SMSS `mss`:
    /// `min(N, L·SMSS)`, divided by CSS_GROWTH_DIVISOR in CSS (RFC 9406
    /// §4.2).
    pub(crate) fn increase(&self, acked: u32, mss: u32) -> u32 {
        let inc = if self.paced {
            acked
        } else {
            acked.min(mss.saturating_mul(L))
        };
        if self.in_css() {
            inc / CSS_GROWTH_DIVISOR
        } else {
            inc
        }
    }

    /// An RTT sample `rtt` from an ACK that took SND.UNA to `una`, with
    /// SND.NXT at `nxt`, in HyStart++'s slow start or CSS (RFC 9406 §4.2).
    pub(crate) fn on_rtt(&mut self, rtt: Duration, una: SeqNum, nxt: SeqNum) -> Phase {
        if self.window_end.is_none_or(|end| una.after_eq(end)) {
            // A new round.
            self.window_end = Some(nxt);
            if self.in_css() {
                if self.css_rounds >= CSS_ROUNDS {
                    // "If CSS_ROUNDS rounds are complete, enter congestion
                    // avoidance by setting the ssthresh to the current
                    // cwnd."
                    *self = HyStart {
                        paced: self.paced,
                        ..HyStart::new()
                    };
                    return Phase::Done;
                }
                self.css_rounds += 1;
            }
            self.last_round_min = self.current_round_min;
            self.current_round_min = INFINITY;
            self.samples = 0;
        }
        let rtt = u32::try_from(rtt.as_micros()).unwrap_or(INFINITY - 1);
        self.current_round_min = self.current_round_min.min(rtt);
        self.samples = self.samples.saturating_add(1);
        if self.samples < N_RTT_SAMPLE {
            return Phase::Going;
        }
        if self.in_css() {
            // "if (currentRoundMinRTT < cssBaselineMinRtt) ... resume slow
            // start including HyStart++".
            if self.current_round_min < self.css_baseline {
                self.css_baseline = INFINITY;
                self.css_rounds = 0;
            }
        } else if self.last_round_min != INFINITY {
            let thresh =
                (self.last_round_min / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
            if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                // Enter CSS; this partial round counts.
                self.css_baseline = self.current_round_min;
                self.css_rounds = 1;
            }
        }
        Phase::Going
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// One round of `n` samples of `rtt_ms`, SND.UNA from `una` by one
    /// segment per sample; the round ends at `una + n·MSS`. Returns the
    /// phase after the last sample and the next round's start.
    fn round(h: &mut HyStart, una: u32, n: u32, rtt_ms: u64) -> (Phase, u32) {
        let end = una + n * MSS;
        let mut phase = Phase::Going;
        for k in 1..=n {
            // The first ACK of the round starts it (SND.UNA at the old end).
            let at = una + (k - 1) * MSS;
            let p = h.on_rtt(
                Duration::from_millis(rtt_ms),
                SeqNum::new(at),
                SeqNum::new(end),
            );
            if p == Phase::Done {
                phase = p;
            }
        }
        (phase, end)
    }

    #[test]
    fn increase_is_capped_at_l_and_quartered_in_css() {
        let mut h = HyStart::new();
        assert_eq!(h.increase(500, MSS), 500);
        assert_eq!(h.increase(20 * MSS, MSS), 8 * MSS);
        h.css_baseline = 10_000;
        assert_eq!(h.increase(MSS, MSS), MSS / 4);
        assert_eq!(h.increase(20 * MSS, MSS), 2 * MSS);
        assert_eq!(h.increase(u32::MAX, u32::MAX), u32::MAX / 4);
    }

    /// RFC 9406 §4.3: "L = infinity if paced"; CSS still quarters it, and
    /// the end of CSS keeps the sender paced.
    #[test]
    fn a_paced_sender_has_no_l() {
        let mut h = HyStart::new();
        h.set_paced(true);
        assert_eq!(h.increase(20 * MSS, MSS), 20 * MSS);
        h.css_baseline = 10_000;
        assert_eq!(h.increase(20 * MSS, MSS), 5 * MSS);
        h.css_rounds = CSS_ROUNDS;
        h.window_end = Some(SeqNum::new(0));
        let p = h.on_rtt(Duration::from_millis(20), SeqNum::new(1), SeqNum::new(2));
        assert_eq!(p, Phase::Done);
        assert!(!h.in_css());
        assert_eq!(h.increase(20 * MSS, MSS), 20 * MSS);
    }

    #[test]
    fn rtt_increase_enters_css_then_ca_after_five_rounds() {
        let mut h = HyStart::new();
        // Round 1 sets lastRoundMinRTT = 20 ms at round 2's start.
        let (_, una) = round(&mut h, 0, 8, 20);
        // Round 2: 23 ms < 20 + max(4, 20/8) = 24 ms: no exit.
        let (_, una) = round(&mut h, una, 8, 23);
        assert!(!h.in_css());
        // Round 3: last = 23, threshold 23 + 4 = 27 ms; 27 exits on the
        // eighth sample, not before.
        let end = una + 8 * MSS;
        for k in 0..7 {
            h.on_rtt(
                Duration::from_millis(27),
                SeqNum::new(una + k * MSS),
                SeqNum::new(end),
            );
            assert!(!h.in_css(), "sample {k}");
        }
        h.on_rtt(
            Duration::from_millis(27),
            SeqNum::new(una + 7 * MSS),
            SeqNum::new(end),
        );
        assert!(h.in_css());
        // That round counted; four more, then congestion avoidance at the
        // start of the sixth.
        let mut una = end;
        for r in 2..=5 {
            let (p, next) = round(&mut h, una, 8, 27);
            assert_eq!(p, Phase::Going, "CSS round {r}");
            assert!(h.in_css(), "CSS round {r}");
            una = next;
        }
        let p = h.on_rtt(
            Duration::from_millis(27),
            SeqNum::new(una),
            SeqNum::new(una + 8 * MSS),
        );
        assert_eq!(p, Phase::Done);
    }

    #[test]
    fn rtt_drop_in_css_resumes_slow_start() {
        let mut h = HyStart::new();
        let (_, una) = round(&mut h, 0, 8, 100);
        // 100 + min(100/8, 16) = 112.5 ms.
        let (_, una) = round(&mut h, una, 8, 113);
        assert!(h.in_css());
        // A CSS round whose least RTT is below the baseline (113 ms).
        let (_, una) = round(&mut h, una, 8, 112);
        assert!(!h.in_css(), "back to slow start");
        // And slow start may exit again later.
        let (_, _) = round(&mut h, una, 8, 130);
        assert!(h.in_css());
    }

    #[test]
    fn too_few_samples_never_exit() {
        let mut h = HyStart::new();
        let mut una = 0;
        for r in 0..20u64 {
            let (_, next) = round(&mut h, una, 7, 10 + 10 * r);
            una = next;
        }
        assert!(!h.in_css());
    }

    #[test]
    fn huge_rtts_and_wrapping_sequence_numbers() {
        let mut h = HyStart::new();
        let start = u32::MAX - 4 * MSS;
        let (_, una) = round(&mut h, start, 8, 1);
        let (_, _) = round(&mut h, una, 8, u64::MAX / 2_000);
        assert!(h.in_css());
        let p = h.on_rtt(Duration::MAX, SeqNum::new(0), SeqNum::new(1));
        assert_eq!(p, Phase::Going);
    }
}
