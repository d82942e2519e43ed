//! CUBIC congestion control (RFC 9438), as Linux `net/ipv4/tcp_cubic.c`
//! does it by default: β_cubic = 0.7 (`beta` 717/1024), C = 0.4
//! (`bic_scale` 41, `cube_rtt_scale` 410/1024), fast convergence on
//! (RFC 9438 §4.7), the Reno-friendly region on (RFC 9438 §4.3,
//! `tcp_friendliness`); the epoch shifted over application-limited pauses
//! (RFC 9438 §5.8, `CA_EVENT_TX_START`). Slow start is HyStart++ (RFC
//! 9406, `hystart.rs`) where Linux has its own HyStart (ACK trains and
//! delay, `hystart_update`).
//!
//! Linux counts cwnd in segments; so does the cubic part here (`W_max`,
//! the origin point, the target, the Reno estimate), while cwnd itself
//! stays in bytes, grown by one SMSS per `cnt` segments' worth of bytes
//! acknowledged (`tcp_cong_avoid_ai`, in bytes). Time is the `now` the
//! caller passes, in microseconds, turned into Linux's `2^-10` s units
//! (`BICTCP_HZ` = 10) for `K` and `t`; as in Linux, the cubic curve is
//! taken at most once per jiffy (4 ms at its default HZ = 250), the
//! Reno-friendly estimate at every ACK. Integer arithmetic only: the cube
//! root is bit by bit (Hacker's Delight `icbrt64`) in place of Linux's
//! table and Newton step, exact for every `u64`; the cube `C·(t-K)^3` is
//! taken in `u128` on a time bounded to 2^32 units (about 48 days), so
//! that nothing overflows for any cwnd, `W_max` or time.
//!
//! | RFC 9438 | Linux `tcp_cubic.c` | here |
//! |----------|---------------------|------|
//! | §4.2 W_cubic(t), K (eq. 1, 2) | `bictcp_update` | [`Cubic::update`], [`k_for`], [`w_cubic`] |
//! | §4.3 Reno-friendly region (W_est) | `tcp_friendliness` part of `bictcp_update` | [`Cubic::update`] |
//! | §4.4, §4.5 concave and convex regions | `cnt` from the target | [`Cubic::on_ack`] |
//! | §4.6 multiplicative decrease, §4.7 fast convergence | `cubictcp_recalc_ssthresh` | [`Cubic::on_congestion_event`] |
//! | §4.8 timeout | `cubictcp_state(TCP_CA_Loss)`: `bictcp_reset` | [`Cubic::on_rto`] |
//! | §5.8 application-limited flows | `cubictcp_cwnd_event(CA_EVENT_TX_START)` | [`Cubic::on_tx_start`] |
//! | RFC 9406 HyStart++ (Linux: its own HyStart) | `hystart_update` | `hystart.rs` |
//! | §5.2 / `delay_min` | `cubictcp_acked` | [`Cubic::on_rtt_sample`] |

use super::cc::hystart_sample;
use super::hystart::HyStart;
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

/// β_cubic in 1/1024 (Linux `beta` = 717, 0.7).
pub(crate) const BETA: u64 = 717;
/// The scale of [`BETA`] (Linux `BICTCP_BETA_SCALE`).
const BETA_SCALE: u64 = 1024;
/// C in 1/1024 (Linux `cube_rtt_scale` = `bic_scale` * 10 = 410, 0.4).
const CUBE_RTT_SCALE: u128 = 410;
/// Linux `cube_factor`: 2^(10 + 3·BICTCP_HZ) / `cube_rtt_scale`, so that
/// `cbrt(cube_factor · (W_max - cwnd))` is K in 2^-10 s.
const CUBE_FACTOR: u64 = (1u64 << 40) / 410;
/// Linux `beta_scale`: 8·(1024 + 717) / 3 / (1024 - 717) = 15, the Reno
/// estimate growing one segment per `cwnd · 15 / 8` segments acknowledged
/// (RFC 9438 §4.3: α_cubic = 3(1 - β)/(1 + β)).
const BETA_RENO_SCALE: u64 = 8 * (BETA_SCALE + BETA) / 3 / (BETA_SCALE - BETA);
/// The longest `t - K` the cube is taken of, in 2^-10 s: beyond it the
/// target is saturated anyway.
const MAX_OFFS: u64 = 1 << 32;
/// Linux recomputes `cnt` at least every HZ/32 (and every RTT when that is
/// shorter) while cwnd stays the same.
const RECALC: Duration = Duration::from_micros(1_000_000 / 32);
/// Linux's jiffy, microseconds: the kernel's default `CONFIG_HZ` = 250
/// (`kernel/Kconfig.hz`). Its CUBIC takes the cubic curve at most once
/// per jiffy (see [`Cubic::update`]).
const JIFFY_US: u64 = 1_000_000 / 250;

/// The jiffy `t` falls in.
fn jiffy(t: Instant) -> u64 {
    t.as_micros() / JIFFY_US
}

/// Floor of the cube root of `a`, exact for every `u64` (Hacker's Delight
/// `icbrt64`, bit by bit; Linux `cubic_root` uses a table and a Newton
/// step to the same end).
pub(crate) fn cbrt(a: u64) -> u64 {
    let mut x = a;
    let mut y: u64 = 0;
    let mut s: i32 = 63;
    while s >= 0 {
        y *= 2;
        // y < 2^22 here, so this cannot overflow.
        let b = 3 * y * (y + 1) + 1;
        if (x >> s) >= b {
            x -= b << s;
            y += 1;
        }
        s -= 3;
    }
    y
}

/// RFC 9438 equation (2) as Linux computes it: K, in 2^-10 s, for an
/// origin `w_max` above `cwnd` (segments): `cbrt((W_max - cwnd) / C)`.
pub(crate) fn k_for(w_max: u32, cwnd: u32) -> u64 {
    let d = u64::from(w_max.saturating_sub(cwnd));
    cbrt(CUBE_FACTOR.saturating_mul(d))
}

/// RFC 9438 equation (1): W_cubic(t) = C·(t - K)^3 + W_max, in segments,
/// with `t` and `k` in 2^-10 s and `origin` the W_max of the epoch
/// (Linux `bic_origin_point`); saturates at 0 and `u32::MAX`.
pub(crate) fn w_cubic(t: u64, k: u64, origin: u32) -> u32 {
    let offs = t.abs_diff(k).min(MAX_OFFS);
    let offs = u128::from(offs);
    // offs^3 < 2^96, times 410 < 2^105: no overflow.
    let delta = (CUBE_RTT_SCALE * offs * offs * offs) >> 40;
    let delta = u32::try_from(delta).unwrap_or(u32::MAX);
    if t < k {
        origin.saturating_sub(delta)
    } else {
        origin.saturating_add(delta)
    }
}

/// Microseconds to Linux's 2^-10 s (`t <<= BICTCP_HZ; do_div(t, HZ)`).
fn to_bictcp(d: Duration) -> u64 {
    let us = u128::from(d.as_micros());
    u64::try_from((us << 10) / 1_000_000).unwrap_or(u64::MAX)
}

/// CUBIC's state (Linux `struct bictcp` with `snd_cwnd`, `snd_ssthresh`
/// and `snd_cwnd_cnt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cubic {
    /// cwnd, in bytes.
    pub(crate) cwnd: u32,
    /// ssthresh, in bytes.
    pub(crate) ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew
    /// (Linux `snd_cwnd_cnt`, in bytes).
    cwnd_cnt: u64,
    /// Segments acknowledged per one segment of cwnd growth (Linux `cnt`).
    cnt: u32,
    /// W_max, in segments (Linux `last_max_cwnd`): cwnd before the last
    /// reduction, less with fast convergence; 0 before any loss.
    w_max: u32,
    /// cwnd, in segments, when `cnt` was last computed (`last_cwnd`).
    last_cwnd: u32,
    /// When `cnt` was last computed (`last_time`).
    last_time: Option<Instant>,
    /// The W_max of this epoch (`bic_origin_point`), in segments.
    origin: u32,
    /// K, in 2^-10 s (`bic_K`).
    k: u64,
    /// The least RTT sample (`delay_min`).
    delay_min: Option<Duration>,
    /// When this congestion-avoidance epoch began (`epoch_start`); `None`
    /// after a reduction, until the next ACK in congestion avoidance.
    epoch: Option<Instant>,
    /// Bytes acknowledged in this epoch not yet counted in `w_est`
    /// (`ack_cnt`, in bytes).
    ack_cnt: u64,
    /// RFC 9438 §4.3 W_est, the Reno-friendly estimate, in segments
    /// (`tcp_cwnd`).
    w_est: u32,
    /// HyStart++ (RFC 9406, `hystart.rs`) for the first slow start.
    pub(crate) hystart: HyStart,
}

impl Cubic {
    /// The initial state: cwnd `iw` bytes, ssthresh arbitrarily high.
    pub(crate) const fn new(iw: u32) -> Self {
        Cubic {
            cwnd: iw,
            ssthresh: u32::MAX,
            cwnd_cnt: 0,
            cnt: 0,
            w_max: 0,
            last_cwnd: 0,
            last_time: None,
            origin: 0,
            k: 0,
            delay_min: None,
            epoch: None,
            ack_cnt: 0,
            w_est: 0,
            hystart: HyStart::new(),
        }
    }

    /// W_max, in segments (0 before any loss).
    pub const fn w_max(&self) -> u32 {
        self.w_max
    }

    /// K of the current epoch, in 2^-10 s.
    pub const fn k(&self) -> u64 {
        self.k
    }

    /// Linux `bictcp_reset`: everything but cwnd and ssthresh forgotten.
    fn reset(&mut self) {
        *self = Cubic {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            ..Cubic::new(0)
        };
    }

    /// `acked` new bytes acknowledged outside recovery at `now`: slow
    /// start up to ssthresh (RFC 5681 §3.1, RFC 3465 with L = 1 SMSS, as
    /// NewReno here), then RFC 9438 §4.2-4.5 growth toward W_cubic
    /// (Linux `cubictcp_cong_avoid`).
    pub(crate) fn on_ack(&mut self, acked: u32, mss: u32, now: Instant) {
        let mss = mss.max(1);
        let mut acked = acked;
        if self.cwnd < self.ssthresh {
            // Linux tcp_slow_start: up to ssthresh, the rest goes to
            // congestion avoidance. RFC 3465 L = 1 SMSS, or in the first
            // slow start HyStart++'s (RFC 9406 §4.2).
            let inc = if self.ssthresh == u32::MAX {
                self.hystart.increase(acked, mss)
            } else {
                acked.min(mss)
            };
            let grown = self.cwnd.saturating_add(inc);
            if grown <= self.ssthresh {
                self.cwnd = grown;
                return;
            }
            acked = grown - self.ssthresh;
            self.cwnd = self.ssthresh;
        }
        let cwnd_seg = (self.cwnd / mss).max(1);
        self.update(cwnd_seg, acked, mss, now);
        // Linux tcp_cong_avoid_ai(tp, cnt, acked), in bytes: one SMSS per
        // `cnt` segments acknowledged.
        let w = u64::from(self.cnt.max(1)) * u64::from(mss);
        if self.cwnd_cnt >= w {
            self.cwnd_cnt = 0;
            self.cwnd = self.cwnd.saturating_add(mss);
        }
        self.cwnd_cnt = self.cwnd_cnt.saturating_add(u64::from(acked));
        if self.cwnd_cnt >= w {
            let n = self.cwnd_cnt / w;
            self.cwnd_cnt -= n * w;
            let inc = n.saturating_mul(u64::from(mss));
            self.cwnd = self
                .cwnd
                .saturating_add(u32::try_from(inc).unwrap_or(u32::MAX));
        }
    }

    /// Linux `bictcp_update`: `cnt`, the segments acknowledged per segment
    /// of growth, from the cubic target one `delay_min` ahead and the
    /// Reno-friendly estimate. `cwnd` is in segments, `acked` in bytes.
    pub(crate) fn update(&mut self, cwnd: u32, acked: u32, mss: u32, now: Instant) {
        self.ack_cnt = self.ack_cnt.saturating_add(u64::from(acked));
        // While cwnd stays the same, `cnt` is recomputed 32 times a second,
        // or once per delay_min when the RTT is shorter: Linux's "tcp_cubic:
        // fix to run bictcp_update() at least once per RTT" (2024). Without
        // it a LAN flow whose losses come more often than every 31 ms never
        // reaches the Reno-friendly region and stays at 2-3 segments.
        let recalc = self.delay_min.map_or(RECALC, |d| d.min(RECALC));
        if self.last_cwnd == cwnd
            && self
                .last_time
                .is_some_and(|t| now.saturating_since(t) <= recalc)
        {
            return;
        }
        // Linux takes the cubic curve at most once per jiffy ("The CUBIC
        // function can update ca->cnt at most once per jiffy": `goto
        // tcp_friendliness` with `ca->cnt` kept); only the Reno-friendly
        // estimate below may lower it meanwhile. Where a round trip is far
        // shorter than a jiffy (4 ms at Linux's default HZ = 250), the
        // `cnt` taken at the start of an epoch -- about cwnd, the target
        // being one segment above cwnd then -- lasts the whole epoch: about
        // one segment per RTT, where W_est alone gives 0.53. Measured
        // against Linux at 1 % loss on a veth (tcp_probe): 0.84 segments
        // per RTT of congestion avoidance, mean cwnd 18.8 segments; with
        // `cnt` taken afresh at every change of cwnd, ours grew 0.45 per
        // RTT, mean cwnd 14.5, and sent 0.91x the kernel's goodput.
        let same_jiffy =
            self.epoch.is_some() && self.last_time.is_some_and(|t| jiffy(t) == jiffy(now));
        if same_jiffy {
            self.friendliness(cwnd, mss, self.cnt);
            return;
        }
        self.last_cwnd = cwnd;
        self.last_time = Some(now);
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                // A new epoch (RFC 9438 §4.2): K and the origin point.
                self.epoch = Some(now);
                self.ack_cnt = u64::from(acked);
                self.w_est = cwnd;
                if self.w_max <= cwnd {
                    self.k = 0;
                    self.origin = cwnd;
                } else {
                    self.k = k_for(self.w_max, cwnd);
                    self.origin = self.w_max;
                }
                now
            }
        };
        // t from the epoch start, one delay_min ahead (Linux: the target
        // is where the window should be an RTT from now).
        let since = now.saturating_since(epoch).as_micros();
        let ahead = self.delay_min.map_or(0, Duration::as_micros);
        let t = to_bictcp(Duration::from_micros(since.saturating_add(ahead)));
        let target = w_cubic(t, self.k, self.origin);
        let mut cnt = if target > cwnd {
            // Concave or convex growth (RFC 9438 §4.4, §4.5): reach the
            // target in one window of ACKs.
            cwnd / (target - cwnd)
        } else {
            // At or above the target: very slow growth.
            cwnd.saturating_mul(100)
        };
        if self.w_max == 0 && cnt > 20 {
            // No loss yet: at least 5% per RTT.
            cnt = 20;
        }
        self.friendliness(cwnd, mss, cnt);
    }

    /// The end of Linux `bictcp_update` (`tcp_friendliness`): RFC 9438
    /// §4.3, the Reno-friendly region. W_est grows one segment per
    /// cwnd·15/8 segments acknowledged; where it is above cwnd, `cnt`
    /// (from the cubic curve) is lowered to grow at least as fast as it;
    /// and at most one segment per two acknowledged (1.5× per RTT).
    fn friendliness(&mut self, cwnd: u32, mss: u32, cnt: u32) {
        let mut cnt = cnt;
        let per = ((u64::from(cwnd) * BETA_RENO_SCALE) >> 3)
            .max(1)
            .saturating_mul(u64::from(mss.max(1)));
        let n = self.ack_cnt / per;
        self.ack_cnt -= n * per;
        self.w_est = self
            .w_est
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        if self.w_est > cwnd {
            let max_cnt = cwnd / (self.w_est - cwnd);
            cnt = cnt.min(max_cnt);
        }
        self.cnt = cnt.max(2);
    }

    /// A loss (RFC 9438 §4.6, §4.7; Linux `cubictcp_recalc_ssthresh`):
    /// the epoch ends, W_max is cwnd (less with fast convergence when
    /// cwnd is below the previous W_max), ssthresh = max(cwnd·β, 2 SMSS).
    pub(crate) fn on_congestion_event(&mut self, mss: u32) {
        let mss = mss.max(1);
        self.epoch = None;
        let cwnd_seg = (self.cwnd / mss).max(1);
        self.w_max = if cwnd_seg < self.w_max {
            // Fast convergence: W_max = cwnd·(1 + β)/2.
            let w = u64::from(cwnd_seg) * (BETA_SCALE + BETA) / (2 * BETA_SCALE);
            u32::try_from(w).unwrap_or(u32::MAX)
        } else {
            cwnd_seg
        };
        let reduced = u64::from(self.cwnd) * BETA / BETA_SCALE;
        let reduced = u32::try_from(reduced).unwrap_or(u32::MAX);
        self.ssthresh = reduced.max(mss.saturating_mul(2));
        self.cwnd_cnt = 0;
    }

    /// A retransmission timeout (RFC 9438 §4.8; Linux `cubictcp_state`
    /// entering `TCP_CA_Loss`: `bictcp_reset`): ssthresh as for any loss
    /// on the first timeout of a series, then W_max, the epoch and
    /// `delay_min` are forgotten, and cwnd is one segment.
    pub(crate) fn on_rto(&mut self, first: bool, mss: u32) {
        if first {
            self.on_congestion_event(mss);
        }
        self.reset();
        self.cwnd = mss;
        self.cwnd_cnt = 0;
    }

    /// RFC 5681 §4.1 restart window: cwnd to at most `rw`, and a new
    /// epoch from the next ACK in congestion avoidance (after an idle
    /// period longer than the RTO; Linux `tcp_cwnd_restart` halves cwnd
    /// per RTO idle instead, and keeps the epoch, shifted by
    /// [`Cubic::on_tx_start`]).
    pub(crate) fn restart_after_idle(&mut self, rw: u32) {
        self.cwnd = self.cwnd.min(rw);
        self.epoch = None;
    }

    /// Data goes out again with nothing in flight, `idle` after the last
    /// segment sent, at `now`: RFC 9438 §5.8, an application-limited
    /// period is not part of the cubic curve's time; as Linux
    /// `cubictcp_cwnd_event(CA_EVENT_TX_START)`, the epoch start moves
    /// forward by the idle time (never past `now`), so that cwnd does not
    /// jump to where the curve has got to meanwhile.
    pub(crate) fn on_tx_start(&mut self, idle: Duration, now: Instant) {
        if let Some(e) = self.epoch {
            self.epoch = Some((e + idle).min(now));
        }
    }

    /// An RTT sample (Linux `cubictcp_acked`): the least one is
    /// `delay_min`; samples in the first second of an epoch are not taken,
    /// as Linux discards them while queues drain after a reduction.
    pub(crate) fn on_rtt_sample(&mut self, rtt: Duration, now: Instant, una: SeqNum, nxt: SeqNum) {
        if self.cwnd < self.ssthresh && self.ssthresh == u32::MAX {
            hystart_sample(
                &mut self.hystart,
                &mut self.ssthresh,
                self.cwnd,
                rtt,
                una,
                nxt,
            );
        }
        if self
            .epoch
            .is_some_and(|e| now.saturating_since(e) < Duration::from_secs(1))
        {
            return;
        }
        let rtt = rtt.max(Duration::from_micros(1));
        if self.delay_min.is_none_or(|d| d > rtt) {
            self.delay_min = Some(rtt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn cbrt_exact_cubes_and_neighbours() {
        assert_eq!(cbrt(0), 0);
        assert_eq!(cbrt(1), 1);
        assert_eq!(cbrt(7), 1);
        assert_eq!(cbrt(8), 2);
        assert_eq!(cbrt(26), 2);
        assert_eq!(cbrt(27), 3);
        let max_root = 2_642_245u64; // floor(cbrt(2^64 - 1))
        assert_eq!(cbrt(u64::MAX), max_root);
        let mut n = 1u64;
        while n <= max_root {
            let c = n * n * n;
            assert_eq!(cbrt(c), n, "cbrt({c})");
            assert_eq!(cbrt(c - 1), n - 1, "cbrt({c} - 1)");
            if n < max_root {
                assert_eq!(cbrt(c + 1), n, "cbrt({c} + 1)");
            }
            n = if n < 5000 { n + 1 } else { n + n / 97 };
        }
        assert_eq!(cbrt(max_root * max_root * max_root), max_root);
    }

    #[test]
    fn k_for_known_w_max() {
        // RFC 9438 eq. (2): W_max 100, cwnd 70 after the reduction:
        // K = cbrt(100 · 0.3 / 0.4) = cbrt(75) = 4.2172 s = 4318.4 / 1024 s.
        let k = k_for(100, 70);
        assert!((4310..=4320).contains(&k), "K = {k}");
        assert_eq!(k_for(70, 70), 0);
        assert_eq!(k_for(10, 70), 0);
        // Huge W_max: no overflow, K = cbrt(2^32 / 0.4) = 2206 s.
        let k = k_for(u32::MAX, 0);
        let s = k / 1024;
        assert!((2200..=2210).contains(&s), "K = {s} s");
    }

    #[test]
    fn w_cubic_at_zero_k_and_beyond() {
        let k = k_for(100, 70);
        // t = 0: W_max less (W_max - cwnd) = the reduced cwnd.
        let w0 = w_cubic(0, k, 100);
        assert!((69..=71).contains(&w0), "W(0) = {w0}");
        // t = K: W_max.
        assert_eq!(w_cubic(k, k, 100), 100);
        // t = K + 2 s: W_max + 0.4 · 8 = 103.2.
        assert_eq!(w_cubic(k + 2048, k, 100), 103);
        // t = K + 10 s: W_max + 400.
        assert_eq!(w_cubic(k + 10 * 1024, k, 100), 500);
        // Huge t saturates, does not wrap.
        assert_eq!(w_cubic(u64::MAX, 0, 100), u32::MAX);
        assert_eq!(w_cubic(0, u64::MAX, 100), 0);
    }

    #[test]
    fn ssthresh_after_loss_is_0_7_cwnd() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(MSS);
        assert_eq!(c.ssthresh, 100 * MSS * 717 / 1024);
        assert_eq!(c.w_max(), 100);
        // Never below 2 SMSS.
        let mut c = Cubic::new(MSS);
        c.on_congestion_event(MSS);
        assert_eq!(c.ssthresh, 2 * MSS);
        // MSS 48, cwnd one segment.
        let mut c = Cubic::new(48);
        c.on_congestion_event(48);
        assert_eq!(c.ssthresh, 96);
        // cwnd near u32::MAX: no overflow.
        let mut c = Cubic::new(u32::MAX);
        c.on_congestion_event(MSS);
        assert_eq!(c.ssthresh, (u64::from(u32::MAX) * 717 / 1024) as u32);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(MSS);
        assert_eq!(c.w_max(), 100);
        // A second loss below the previous W_max: W_max = cwnd·(1+β)/2.
        c.cwnd = 80 * MSS;
        c.on_congestion_event(MSS);
        assert_eq!(c.w_max(), 80 * 1741 / 2048);
        // A loss above it: W_max = cwnd.
        c.cwnd = 120 * MSS;
        c.on_congestion_event(MSS);
        assert_eq!(c.w_max(), 120);
    }

    /// cwnd in segments after each RTT of a cwnd-limited flow, with one
    /// ACK per segment.
    fn run(c: &mut Cubic, rtt_ms: u64, rtts: usize, mss: u32) -> [u32; 400] {
        let mut now = 0u64;
        let mut out = [0; 400];
        c.on_rtt_sample(
            Duration::from_millis(rtt_ms),
            Instant::from_millis(now),
            SeqNum::new(0),
            SeqNum::new(0),
        );
        for slot in out.iter_mut().take(rtts) {
            let segs = (c.cwnd / mss).max(1);
            for i in 0..segs {
                let at = now * 1000 + rtt_ms * 1000 * u64::from(i) / u64::from(segs);
                c.on_ack(mss, mss, Instant::from_micros(at));
            }
            now += rtt_ms;
            *slot = c.cwnd / mss;
        }
        out
    }

    #[test]
    fn concave_then_convex() {
        // W_max 1000 segments, RTT 100 ms: K = cbrt(1000·0.3/0.4) = 9.1 s,
        // about 91 RTTs. Linux's one-RTT look-ahead is left out
        // (delay_min unknown until a second after the epoch begins).
        let mut c = Cubic::new(1000 * MSS);
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        let w = run(&mut c, 100, 200, MSS);
        let grow = |a: usize, b: usize| w[b] - w[a];
        // Concave: fast growth first, slowing toward W_max.
        assert!(grow(0, 20) > grow(40, 60), "{w:?}");
        assert!(grow(40, 60) > grow(75, 95), "{w:?}");
        // The plateau near W_max around K.
        assert!(w[90].abs_diff(1000) <= 15, "{w:?}");
        // Convex: growth speeds up again beyond K.
        assert!(grow(100, 120) < grow(140, 160), "{w:?}");
        assert!(grow(140, 160) < grow(180, 199), "{w:?}");
        assert!(w[199] > 1100, "{w:?}");
    }

    #[test]
    fn reno_friendly_region() {
        // Small W_max and short RTT: the cubic curve is flat next to
        // Reno's line, W_est takes over (RFC 9438 §4.3): about α_cubic =
        // 0.53 segments per RTT, not far below after K.
        let mut c = Cubic::new(10 * MSS);
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        let w = run(&mut c, 1, 400, MSS);
        let per_rtt = f64::from(w[399] - w[0]) / 399.0;
        assert!(per_rtt > 0.4, "{w:?}");
    }

    #[test]
    fn short_rtt_recomputes_every_rtt() {
        // A 100 us RTT (a LAN): after a loss at 10 segments, one ACK per
        // segment every 50 us. Linux (2024, "fix to run bictcp_update() at
        // least once per RTT") recomputes cnt every delay_min, so the
        // Reno-friendly estimate lifts cwnd well within 20 ms; with the
        // 31 ms rule alone cwnd stops at 8 segments for those 31 ms.
        let mut c = Cubic::new(10 * MSS);
        c.on_rtt_sample(
            Duration::from_micros(100),
            Instant::ZERO,
            SeqNum::new(0),
            SeqNum::new(0),
        );
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        for i in 1..=400u64 {
            c.on_ack(MSS, MSS, Instant::from_micros(i * 50));
        }
        assert!(c.cwnd >= 12 * MSS, "{c:?}");
    }

    #[test]
    fn cubic_curve_taken_once_per_jiffy() {
        // A 40 us RTT (a veth) and a loss at 20 segments: the epoch's
        // first `cnt` (cwnd 14, target 15: cnt 14) is kept for the rest of
        // the jiffy (Linux `bictcp_update`, "at most once per jiffy"), so
        // cwnd grows a segment per 14 acknowledged, faster as it grows: 14
        // -> 54 segments in 20 RTTs. Taken afresh at every change of cwnd,
        // the target is reached at once and W_est's 0.53 per RTT is all
        // that is left: 14 -> 24.
        let mut c = Cubic::new(20 * MSS);
        c.on_rtt_sample(
            Duration::from_micros(40),
            Instant::ZERO,
            SeqNum::new(0),
            SeqNum::new(0),
        );
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        let start = c.cwnd / MSS;
        // 20 RTTs of one ACK per segment, all within the first jiffy.
        let mut now = JIFFY_US * 10;
        for _ in 0..20 {
            let segs = c.cwnd / MSS;
            for _ in 0..segs {
                now += 40 / u64::from(segs).max(1);
                c.on_ack(MSS, MSS, Instant::from_micros(now));
            }
        }
        assert!(now < JIFFY_US * 11, "within one jiffy");
        let grown = c.cwnd / MSS - start;
        assert!(grown >= 18, "{start} -> {}", c.cwnd / MSS);
        // The next jiffy takes the curve again: cwnd is above the target
        // now, and growth slows to the Reno-friendly rate.
        let before = c.cwnd / MSS;
        for _ in 0..10 {
            let segs = c.cwnd / MSS;
            for _ in 0..segs {
                now += 40 / u64::from(segs).max(1) + 1;
                c.on_ack(MSS, MSS, Instant::from_micros(now.max(JIFFY_US * 11)));
            }
        }
        assert!(c.cwnd / MSS - before <= 7, "{before} -> {}", c.cwnd / MSS);
    }

    #[test]
    fn first_epoch_without_loss_grows_five_percent() {
        // No loss yet (W_max 0), ssthresh reached: cnt at most 20.
        let mut c = Cubic::new(100 * MSS);
        c.ssthresh = 100 * MSS;
        let w = run(&mut c, 100, 10, MSS);
        assert!(w[9] >= 150, "{w:?}");
    }

    #[test]
    fn rto_resets_the_epoch() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        run(&mut c, 100, 5, MSS);
        let before = c.cwnd;
        assert!(before > c.ssthresh);
        c.on_rto(true, MSS);
        assert_eq!(c.cwnd, MSS);
        assert_eq!(c.w_max(), 0);
        assert_eq!(c.epoch, None);
        assert_eq!(c.delay_min, None);
        // ssthresh from cwnd before the timeout.
        assert_eq!(c.ssthresh, before * 717 / 1024);
        // A second timeout keeps ssthresh.
        let s = c.ssthresh;
        c.on_rto(false, MSS);
        assert_eq!(c.ssthresh, s);
    }

    #[test]
    fn idle_shifts_the_epoch() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(MSS);
        c.cwnd = c.ssthresh;
        c.on_ack(MSS, MSS, Instant::from_millis(1000));
        assert_eq!(c.epoch, Some(Instant::from_millis(1000)));
        c.on_tx_start(Duration::from_millis(300), Instant::from_millis(1500));
        assert_eq!(c.epoch, Some(Instant::from_millis(1300)));
        // Never past now.
        c.on_tx_start(Duration::from_secs(10), Instant::from_millis(2000));
        assert_eq!(c.epoch, Some(Instant::from_millis(2000)));
        // No epoch (slow start, or after a reduction): nothing.
        let mut c = Cubic::new(10 * MSS);
        c.on_tx_start(Duration::from_secs(1), Instant::from_millis(5000));
        assert_eq!(c.epoch, None);
        c.on_tx_start(Duration::MAX, Instant::from_micros(u64::MAX));
    }

    #[test]
    fn no_overflow_at_extremes() {
        for mss in [1u32, 48, 1460, 65_535] {
            let mut c = Cubic::new(u32::MAX - 7);
            c.w_max = u32::MAX;
            c.ssthresh = 1;
            c.delay_min = Some(Duration::MAX);
            c.on_ack(u32::MAX, mss, Instant::ZERO);
            c.on_ack(u32::MAX, mss, Instant::from_micros(u64::MAX));
            c.on_ack(u32::MAX, mss, Instant::ZERO);
            c.on_congestion_event(mss);
            c.on_ack(u32::MAX, mss, Instant::from_micros(u64::MAX / 2));
            c.on_ack(1, mss, Instant::from_micros(u64::MAX));
            c.on_rtt_sample(
                Duration::MAX,
                Instant::from_micros(u64::MAX),
                SeqNum::new(0),
                SeqNum::new(0),
            );
            c.restart_after_idle(u32::MAX);
            c.on_tx_start(Duration::MAX, Instant::from_micros(u64::MAX));
            c.on_rto(true, mss);
            assert!(c.cwnd >= 1);
            // cwnd of one segment, tiny MSS, huge jump in time.
            let mut c = Cubic::new(mss);
            c.ssthresh = mss;
            c.w_max = u32::MAX;
            c.on_ack(mss, mss, Instant::ZERO);
            c.on_ack(mss, mss, Instant::from_micros(u64::MAX));
            assert!(c.cwnd >= mss);
        }
        assert_eq!(to_bictcp(Duration::from_secs(1)), 1024);
        assert!(to_bictcp(Duration::MAX) > 1 << 53);
    }
}
