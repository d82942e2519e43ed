//! The send half's data path: the send buffer, segmentation, the
//! retransmission timer (RFC 6298), congestion control and loss recovery
//! (RFC 5681 slow start, congestion avoidance with RFC 3465 byte counting,
//! the restart window after idle, fast retransmit with RFC 3042 Limited
//! Transmit, NewReno fast recovery of RFC 6582, SACK-based recovery after
//! RFC 6675), tail loss probes (RFC 8985 §7), and the persist timer (RFC
//! 9293 §3.8.6.1).
//!
//! The functions here work on the send half alone and are called by the
//! state machine in `mod.rs`; none of them builds a segment header.

use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{TcpControl, TcpRepr};

use super::{Config, Rtx, SendHalf, Tcb};

/// At most this many SACKed ranges are remembered above SND.UNA.
pub const SCOREBOARD: usize = 6;
/// RFC 5681 §3.2 / RFC 6675: DupThresh.
const DUP_THRESH: u8 = 3;

/// Writes `bytes` into a send ring (its length 0 or a power of two) at
/// sequence number `seq`. The ring holds `[SND.UNA, end)`: the bytes sent
/// and not yet acknowledged, then those not yet sent; byte `s` lives at
/// `s mod len`.
pub fn ring_write(ring: &mut [u8], seq: SeqNum, bytes: &[u8]) {
    let m = ring.len();
    if m == 0 {
        return;
    }
    let n = bytes.len().min(m);
    let at = seq.get() as usize & (m - 1);
    let first = n.min(m - at);
    ring[at..at + first].copy_from_slice(&bytes[..first]);
    ring[..n - first].copy_from_slice(&bytes[first..n]);
}

/// The `len` bytes of a send ring from `seq`; segments never cross the end
/// of the ring (they are cut there, see [`ring_room`]), so this is one
/// slice.
pub fn ring_read(ring: &[u8], seq: SeqNum, len: usize) -> &[u8] {
    let m = ring.len();
    if m == 0 {
        return &[];
    }
    let at = seq.get() as usize & (m - 1);
    let end = (at + len).min(m);
    &ring[at..end]
}

/// Bytes from `seq` to the end of a ring of `m` bytes: a segment is cut
/// there so that its payload is one contiguous slice.
pub fn ring_room(seq: SeqNum, m: usize) -> u32 {
    if m == 0 {
        return 0;
    }
    (m - (seq.get() as usize & (m - 1))) as u32
}

/// Sorted, disjoint sequence ranges, in a fixed array (so that the state
/// stays `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scoreboard {
    ranges: [(SeqNum, SeqNum); SCOREBOARD],
    len: u8,
}

impl Scoreboard {
    const fn new() -> Self {
        Scoreboard {
            ranges: [(SeqNum::new(0), SeqNum::new(0)); SCOREBOARD],
            len: 0,
        }
    }

    /// The ranges, in sequence order.
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.ranges[..usize::from(self.len)]
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn remove(&mut self, i: usize) {
        let n = usize::from(self.len);
        if i < n {
            self.ranges.copy_within(i + 1..n, i);
            self.len -= 1;
        }
    }

    fn insert(&mut self, i: usize, r: (SeqNum, SeqNum)) {
        let n = usize::from(self.len);
        if n == SCOREBOARD || i > n {
            return;
        }
        self.ranges.copy_within(i..n, i + 1);
        self.ranges[i] = r;
        self.len += 1;
    }
}

/// Congestion control and loss-recovery state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Congestion {
    /// cwnd, in bytes.
    pub cwnd: u32,
    /// ssthresh, in bytes.
    pub ssthresh: u32,
    /// RFC 3465 §2.1 `bytes_acked`: bytes acknowledged in congestion
    /// avoidance since cwnd last grew (Linux `snd_cwnd_cnt`, in bytes).
    pub bytes_acked: u32,
    /// Duplicate ACKs in a row.
    pub dupacks: u8,
    /// In fast recovery until this sequence number is acknowledged
    /// (RFC 6582 `recover`).
    pub recover: Option<SeqNum>,
    /// This recovery is SACK-based (RFC 6675: cwnd stays at ssthresh and
    /// `pipe` decides), not NewReno's (RFC 6582: cwnd inflated by
    /// duplicate ACKs, deflated by partial ACKs).
    pub sack_recovery: bool,
    /// RFC 6582 §4 `recover` after a retransmission timeout: SND.MAX when
    /// it fired (one past the highest byte sent). Fast retransmit may start
    /// again only once SND.UNA has reached it (§3.2 step 2), so that
    /// duplicate ACKs for data sent before the timeout start no recovery.
    pub rto_recover: Option<SeqNum>,
    /// RFC 6675 HighRxt: the highest sequence number retransmitted in this
    /// recovery; the next hole to resend starts at or after it.
    pub high_rxt: SeqNum,
    /// A retransmission of the segment at SND.UNA is due (fast retransmit,
    /// a partial ACK, a retransmission timeout, a persist probe).
    pub rtx_una: bool,
    /// Ranges the peer has SACKed above SND.UNA, sorted and disjoint.
    pub sacked: Scoreboard,
    /// The segment being timed for an RTT sample (Karn: never a
    /// retransmitted one), and when it was sent.
    pub rtt_probe: Option<(SeqNum, Instant)>,
    /// The timer running is the persist timer (zero window), not the RTO;
    /// with a non-zero window, the sender's silly-window override timer
    /// (RFC 9293 §3.8.6.2.1).
    pub persist: bool,
    /// The silly-window override timer fired: the next new segment goes
    /// even if it is smaller than sender SWS avoidance would allow.
    pub sws_override: bool,
    /// The next retransmission is a zero-window probe: one byte.
    pub probe: bool,
    /// The tail-loss-probe timer (RFC 8985 §7.2): fires before the RTO
    /// while data is in flight.
    pub pto: Option<Instant>,
    /// A tail loss probe is out; its end (SND.MAX when it was sent).
    pub tlp: Option<SeqNum>,
    /// The next transmission is the tail loss probe: a new segment if the
    /// peer's window allows, else the last segment again (RFC 8985 §7.3).
    pub rtx_last: bool,
    /// When data was last sent (new or retransmitted), for the restart
    /// window after idle (RFC 5681 §4.1; Linux `lsndtime`).
    pub last_sent: Option<Instant>,
}

impl Congestion {
    /// The initial state for a sender MSS of `smss` bytes of payload (the
    /// effective send MSS less our options, [`smss_for`]), with RFC 6928's
    /// initial window.
    pub fn new(smss: u32) -> Self {
        Congestion {
            cwnd: initial_window(smss),
            ssthresh: u32::MAX,
            bytes_acked: 0,
            dupacks: 0,
            recover: None,
            sack_recovery: false,
            rto_recover: None,
            high_rxt: SeqNum::new(0),
            rtx_una: false,
            sacked: Scoreboard::new(),
            rtt_probe: None,
            persist: false,
            sws_override: false,
            probe: false,
            pto: None,
            tlp: None,
            rtx_last: false,
            last_sent: None,
        }
    }

    /// Bytes SACKed at or above `seq`.
    fn sacked_above(&self, seq: SeqNum) -> u32 {
        self.sacked
            .as_slice()
            .iter()
            .map(|&(s, e)| {
                if s.after_eq(seq) {
                    e - s
                } else if e.after(seq) {
                    e - seq
                } else {
                    0
                }
            })
            .sum()
    }

    /// Whether `seq` falls in a SACKed range; if so, where that range ends.
    fn sacked_end(&self, seq: SeqNum) -> Option<SeqNum> {
        self.sacked
            .as_slice()
            .iter()
            .find(|&&(s, e)| seq.in_window(s, e))
            .map(|&(_, e)| e)
    }

    fn highest_sacked(&self) -> Option<SeqNum> {
        self.sacked.as_slice().last().map(|&(_, e)| e)
    }

    /// Adds a SACK block `[l, r)` that lies within `(una, high]`.
    fn add_sack(&mut self, mut l: SeqNum, mut r: SeqNum) {
        let mut i = 0;
        while i < self.sacked.as_slice().len() {
            let (s, e) = self.sacked.as_slice()[i];
            if e.before(l) {
                i += 1;
                continue;
            }
            if r.before(s) {
                break;
            }
            l = l.min(s);
            r = r.max(e);
            self.sacked.remove(i);
        }
        let n = self.sacked.as_slice().len();
        if n == SCOREBOARD {
            // Forget the highest range: the data is simply resent if needed.
            self.sacked.remove(n - 1);
        }
        let n = self.sacked.as_slice().len();
        self.sacked.insert(i.min(n), (l, r));
    }

    fn trim_below(&mut self, una: SeqNum) {
        while let Some(&(s, e)) = self.sacked.as_slice().first() {
            if e.before_eq(una) {
                self.sacked.remove(0);
            } else {
                if s.before(una) {
                    self.sacked.ranges[0].0 = una;
                }
                break;
            }
        }
    }
}

/// RFC 6928 §2: the initial window, "min (10*MSS, max (2*MSS, 14600))",
/// MSS being SMSS (RFC 5681: the payload of the largest segment the sender
/// sends, the effective send MSS less options). Linux counts cwnd in
/// segments (`TCP_INIT_CWND`, 10) without the byte cap; the cap only
/// matters above an SMSS of 1460.
fn initial_window(smss: u32) -> u32 {
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

/// RFC 6675 `pipe`: the bytes thought to be in the network. SACKed bytes are
/// not; bytes below a SACKed range that is at least DupThresh segments
/// above them are thought lost, and are not either unless retransmitted.
fn pipe(snd: &SendHalf, mss: u32) -> u32 {
    let cc = &snd.cc;
    let flight = snd.nxt - snd.una;
    if cc.sacked.is_empty() {
        return flight;
    }
    let mut lost = 0u32;
    let mut at = snd.una;
    for &(s, e) in cc.sacked.as_slice().iter() {
        if at.before(s) && cc.sacked_above(s) >= u32::from(DUP_THRESH) * mss {
            // The hole [at, s) is lost; the part below HighRxt was resent.
            let resent_to = cc.high_rxt.max(at).min(s);
            lost += s - resent_to;
        }
        at = at.max(e);
    }
    flight
        .saturating_sub(cc.sacked_above(snd.una))
        .saturating_sub(lost)
}

/// RFC 8985 §7.2: TLP.max_ack_delay, what the probe timeout of a lone
/// segment allows for the peer's delayed ACK ("implementation specific"):
/// Linux's, TCP_RTO_MIN, 200 ms (tcp_schedule_loss_probe).
const TLP_MAX_ACK_DELAY: u64 = 200_000;
/// RFC 8985 §7.2: "when there is no SRTT estimate available, the PTO
/// SHOULD be 1 second" (Linux: TCP_TIMEOUT_INIT).
const PTO_NO_SRTT: u64 = 1_000_000;

/// RFC 8985 §7.2, TLP_calc_PTO: "If SRTT is available: PTO = 2 * SRTT. If
/// FlightSize is one segment: PTO += TLP.max_ack_delay. Else: PTO = 1 sec.
/// If Now() + PTO > TCP_RTO_expiration(): PTO = TCP_RTO_expiration() -
/// Now()": the probe is never later than the RTO, and goes in its place.
/// At least 10 ms, as Linux's tcp_schedule_loss_probe.
fn pto_after(snd: &SendHalf, tcb: &Tcb, now: Instant) -> Option<Instant> {
    let pto = match tcb.rtx.rtt {
        Some((srtt, _)) => {
            let mut pto = (2 * srtt).max(10_000);
            if snd.max - snd.una <= smss(snd, tcb) {
                pto += TLP_MAX_ACK_DELAY;
            }
            pto
        }
        None => PTO_NO_SRTT,
    };
    let at = now + Duration::from_micros(pto);
    Some(match tcb.rtx.deadline {
        Some(rto) if rto < at => rto,
        _ => at,
    })
}

/// Data (not only our FIN) is in flight: a loss probe would have
/// something to resend.
fn data_in_flight(snd: &SendHalf) -> bool {
    snd.una.before(snd.max.min(snd.end))
}

/// Arms (or re-arms) the tail-loss-probe timer while data is in flight and
/// no probe is out; stops it otherwise. The RTO deadline must be set first.
/// With only the FIN in flight the RTO alone resends it.
fn arm_pto(snd: &mut SendHalf, tcb: &Tcb, now: Instant) {
    snd.cc.pto = if data_in_flight(snd) && snd.cc.tlp.is_none() && snd.cc.recover.is_none() {
        pto_after(snd, tcb, now)
    } else {
        None
    };
}

/// The tail-loss-probe timer fired (RFC 8985 §7.3): a new segment, or the
/// last segment again, is sent (by [`next_segment`]), so that a lost tail
/// draws a SACK (and recovery) instead of waiting for the RTO. "After attempting to send a loss probe, regardless
/// of whether a loss probe was sent, the sender MUST re-arm the RTO timer,
/// not the PTO timer, if FlightSize is not empty" (Linux
/// tcp_send_loss_probe -> tcp_rearm_rto). `arm_pto` schedules no probe
/// without data to resend, so one that finds none (only the FIN in flight)
/// leaves the RTO as it was.
pub fn on_pto(snd: &mut SendHalf, tcb: &mut Tcb, now: Instant, cfg: &Config) {
    snd.cc.pto = None;
    if data_in_flight(snd) && snd.cc.tlp.is_none() && snd.cc.recover.is_none() {
        snd.cc.tlp = Some(snd.max);
        snd.cc.rtx_last = true;
        tcb.rtx.deadline = Some(now + backed_off(&tcb.rtx, cfg));
    }
}

/// What an acceptable ACK did to the send half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckEffect {
    /// Bytes newly acknowledged (SYN and FIN count one each).
    pub acked: u32,
}

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
    let mut acked = 0;
    let prior_una = snd.una;
    if snd.cc.persist && ack.after_eq(snd.una) {
        // The peer answered a zero-window probe: it is alive, so the probe
        // count starts again (Linux tcp_ack clears icsk_probes_out on any
        // ACK that is not old).
        tcb.rtx.retries = 0;
    }
    if ack.after(snd.una) {
        acked = ack - snd.una;
        snd.una = ack;
        if snd.nxt.before(ack) {
            // An ACK for data sent before a go-back (RTO): skip ahead.
            snd.nxt = ack;
        }
        snd.cc.trim_below(ack);
        snd.cc.persist = false;
        // RTT (RFC 6298 §3, Karn's rule): from the timed segment, or from the
        // echoed timestamp (RFC 7323 §4.1), which is never ambiguous.
        if let Some(s) = ts_rtt_sample(tcb, seg, now) {
            rtt_update(&mut tcb.rtx, s, cfg);
            snd.cc.rtt_probe = None;
        } else if let Some((seq, sent)) = snd.cc.rtt_probe {
            if ack.after(seq) {
                rtt_update(&mut tcb.rtx, now.saturating_since(sent), cfg);
                snd.cc.rtt_probe = None;
            }
        }
        // Forward progress: the give-up count starts again (Linux tcp_ack
        // clears icsk_retransmits when SND.UNA advances). The backoff does
        // not: it goes only with a new RTT sample (RFC 6298 §5, Karn).
        tcb.rtx.retries = 0;
        let cc = &mut snd.cc;
        match cc.recover {
            // A full acknowledgment ends recovery. RFC 6675 §5: cwnd stays
            // at ssthresh (Linux tcp_end_cwnd_reduction: cwnd = ssthresh).
            // RFC 6582 §3.2 step 3 (NewReno): cwnd = min(ssthresh,
            // max(FlightSize, SMSS) + SMSS), to avoid a burst.
            Some(rec) if ack.after_eq(rec) => {
                cc.recover = None;
                if !cc.sack_recovery {
                    let flight = snd.nxt - snd.una;
                    cc.cwnd = cc.ssthresh.min(flight.max(mss) + mss);
                }
            }
            // A partial acknowledgment in SACK-based recovery: RFC 6675 §5
            // sets cwnd = ssthresh on entry and changes it no more; `pipe`
            // decides what is sent. With nothing SACKed above the new
            // SND.UNA, no hole is known: the segment there is resent.
            Some(_) if cc.sack_recovery => {
                if cc.sacked.is_empty() {
                    cc.rtx_una = true;
                }
            }
            // A partial acknowledgment without SACK: retransmit the first
            // unacknowledged segment, and (RFC 6582 §3.2 step 5) "deflate
            // the congestion window by the amount of new data acknowledged
            // ... If the partial ACK acknowledges at least one SMSS of new
            // data, then add back SMSS bytes to the congestion window."
            Some(_) => {
                cc.rtx_una = true;
                let back = if acked >= mss { mss } else { 0 };
                cc.cwnd = cc.cwnd.saturating_sub(acked).saturating_add(back).max(mss);
            }
            None if cc.cwnd < cc.ssthresh => {
                // Slow start (RFC 5681 §3.1), with RFC 3465's L = 1 SMSS.
                cc.cwnd = cc.cwnd.saturating_add(acked.min(mss));
            }
            None => {
                // Congestion avoidance, RFC 5681 §3.1 with RFC 3465 §2.1
                // (appropriate byte counting): "When bytes_acked becomes
                // greater than or equal to the value of the congestion
                // window, bytes_acked is reduced by the value of cwnd. Next,
                // cwnd is incremented by a full-sized segment (SMSS)." So one
                // SMSS per window of data acknowledged, however many ACKs
                // that took (Linux tcp_cong_avoid_ai).
                cc.bytes_acked = cc.bytes_acked.saturating_add(acked);
                if cc.bytes_acked >= cc.cwnd {
                    cc.bytes_acked -= cc.cwnd;
                    cc.cwnd = cc.cwnd.saturating_add(mss);
                }
            }
        }
        cc.dupacks = 0;
        // RFC 6298 §5.2 / §5.3: restart the timer while data is outstanding,
        // with the RTO as it stands, backoff included (Linux tcp_rearm_rto
        // uses icsk_rto, which keeps the backoff until a new sample).
        tcb.rtx.deadline = if snd.nxt != snd.una {
            Some(now + backed_off(&tcb.rtx, cfg))
        } else {
            None
        };
        if let Some(end) = snd.cc.tlp.filter(|&end| ack.after_eq(end)) {
            // RFC 8985 §7.4.2: the ACK covers the probe. A DSACK for it
            // shows the original arrived too: no loss. An ACK beyond it ends
            // the TLP episode with no such sign: "congestion control MUST
            // react appropriately to that loss as it would any other loss"
            // (Linux tcp_process_tlp_ack: tcp_init_cwnd_reduction, then
            // tcp_end_cwnd_reduction; ssthresh from cwnd, as Linux's Reno
            // and CUBIC do, for FlightSize is all but zero by now). An ACK
            // just up to it waits for a DSACK or a duplicate ACK.
            if dsack_covers(seg, ack, end) {
                snd.cc.tlp = None;
            } else if ack.after(end) {
                snd.cc.tlp = None;
                let cc = &mut snd.cc;
                cc.ssthresh = (cc.cwnd / 2).max(2 * mss);
                cc.cwnd = cc.ssthresh;
                cc.bytes_acked = 0;
            }
        }
        arm_pto(snd, tcb, now);
    } else if ack == snd.una
        && seg.payload.is_empty()
        && seg.control == TcpControl::None
        && wnd == snd.wnd
        && wnd != 0
        && snd.nxt != snd.una
    {
        // RFC 5681 §2: a duplicate ACK.
        snd.cc.dupacks = snd.cc.dupacks.saturating_add(1);
        tlp_dupack(snd, seg, ack);
        if snd.cc.recover.is_some() && !snd.cc.sack_recovery {
            // NewReno: each further duplicate ACK inflates cwnd (RFC 6582
            // §3.2 step 4).
            snd.cc.cwnd = snd.cc.cwnd.saturating_add(mss);
        }
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
    // SACK blocks (RFC 2018) within (SND.UNA, SND.MAX].
    if tcb.sack {
        for &(l, r) in seg.options.sack_blocks.as_slice() {
            if l.after_eq(snd.una) && r.before_eq(snd.max) && l.before(r) {
                snd.cc.add_sack(l, r);
            }
        }
    }
    // RFC 5681 §3.2 / RFC 6675 §5: enter fast recovery on the third
    // duplicate ACK, or when SACKs show more than (DupThresh - 1) segments
    // above SND.UNA, unless already recovering (RFC 6582 §3.2 step 2:
    // only if SND.UNA has passed the previous `recover`).
    let sack_loss = snd.cc.sacked_above(snd.una) > u32::from(DUP_THRESH - 1) * mss
        // RFC 8985: a SACK for the tail loss probe, with holes below it sent
        // earlier, shows those holes lost (the probe was sent a PTO after
        // them, longer than any reordering window).
        || snd.cc.tlp.is_some_and(|end| snd.cc.highest_sacked() == Some(end));
    // RFC 6582 §3.2 step 2 / §4: not for duplicate ACKs of data sent
    // before a retransmission timeout ("If the Cumulative Acknowledgment
    // field covers more than recover ... Otherwise ... do not enter").
    // `rto_recover` is one past that highest byte, as `recover` is.
    if snd.cc.rto_recover.is_some_and(|r| snd.una.after_eq(r)) {
        snd.cc.rto_recover = None;
    }
    if snd.cc.recover.is_none()
        && snd.cc.rto_recover.is_none()
        && snd.nxt != snd.una
        && (snd.cc.dupacks >= DUP_THRESH || sack_loss)
    {
        let cc = &mut snd.cc;
        let flight = snd.nxt - snd.una;
        cc.ssthresh = (flight / 2).max(2 * mss);
        cc.cwnd = if cc.sacked.is_empty() {
            cc.ssthresh + u32::from(DUP_THRESH) * mss
        } else {
            cc.ssthresh
        };
        cc.recover = Some(snd.nxt);
        cc.bytes_acked = 0;
        cc.sack_recovery = !cc.sacked.is_empty();
        cc.high_rxt = snd.una;
        cc.rtx_una = true;
        cc.rtt_probe = None;
        cc.tlp = None;
        cc.pto = None;
    }
    AckEffect { acked }
}

/// RFC 2883 §4: the ACK's first SACK block lies at or below its cumulative
/// ACK (a DSACK) and reports the segment that ends at `end` (the loss
/// probe) as received twice.
fn dsack_covers(seg: &TcpRepr<'_>, ack: SeqNum, end: SeqNum) -> bool {
    seg.options
        .sack_blocks
        .as_slice()
        .first()
        .is_some_and(|&(l, r)| r.before_eq(ack) && l.before(end) && r.after_eq(end))
}

/// RFC 8985 §7.4.2: a duplicate ACK at or beyond the loss probe's end, with
/// a DSACK for it or with no SACK option at all, shows that both the
/// original and the probe arrived: the probe repaired nothing.
fn tlp_dupack(snd: &mut SendHalf, seg: &TcpRepr<'_>, ack: SeqNum) {
    if let Some(end) = snd.cc.tlp.filter(|&end| ack.after_eq(end)) {
        if seg.options.sack_blocks.as_slice().is_empty() || dsack_covers(seg, ack, end) {
            snd.cc.tlp = None;
        }
    }
}

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
        let wnd_end = snd.una + snd.wnd;
        if snd.nxt == snd.max && snd.nxt.before(data_end) && wnd_end.after(snd.nxt) {
            let len = (data_end - snd.nxt).min(mss).min(ring_room(snd.nxt, ring));
            if len > 0 && wnd_end - snd.nxt >= len {
                let r = send_new(snd, tcb, len, fin_seq, now, cfg);
                snd.cc.tlp = Some(snd.max);
                return Some(r);
            }
        }
        let data_max = snd.max.min(snd.end);
        let back = (data_max - snd.una).min(mss);
        if back > 0 {
            let seq = data_max - back;
            let r = retransmit(snd, tcb, seq, mss, ring, fin_seq, now, cfg);
            return Some(r);
        }
    }
    // 1. The segment at SND.UNA, once.
    if cc_rtx && snd.una != snd.max {
        snd.cc.rtx_una = false;
        let seq = snd.una;
        return Some(retransmit(snd, tcb, seq, mss, ring, fin_seq, now, cfg));
    }
    // 2. SACK recovery: the next hole below the highest SACKed byte.
    if snd.cc.recover.is_some() && !snd.cc.sacked.is_empty() && pipe(snd, mss) < snd.cc.cwnd {
        let high = snd.cc.highest_sacked().unwrap_or(snd.una);
        let mut seq = snd.cc.high_rxt.max(snd.una);
        for _ in 0..=SCOREBOARD {
            match snd.cc.sacked_end(seq) {
                Some(e) => seq = e,
                None => break,
            }
        }
        if seq.before(high) {
            return Some(retransmit(snd, tcb, seq, mss, ring, fin_seq, now, cfg));
        }
    }
    // 3. New data (or data again after a go-back), skipping SACKed ranges.
    while let Some(e) = snd.cc.sacked_end(snd.nxt) {
        snd.nxt = e;
    }
    let wnd_end = snd.una + snd.wnd;
    if snd.nxt.before(data_end) {
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
            snd.cc.cwnd = snd.cc.cwnd.min(initial_window(mss));
        }
        let flight = pipe(snd, mss);
        // RFC 5681 §3.2 / RFC 3042 (Limited Transmit): on the first and
        // second duplicate ACKs, a segment of new data each, "provided
        // that ... the total FlightSize would remain less than or equal to
        // cwnd plus 2*SMSS"; cwnd itself is not changed. With SACK blocks
        // `pipe` already leaves the SACKed segments out (RFC 6675 §5 (1)).
        // Not after a timeout: only previously unsent data, and not for
        // duplicate ACKs of data sent before it (Linux: not in CA_Loss).
        let limited = if snd.cc.recover.is_none()
            && snd.cc.rto_recover.is_none()
            && snd.cc.sacked.is_empty()
            && snd.nxt == snd.max
        {
            u32::from(snd.cc.dupacks.min(DUP_THRESH - 1)) * mss
        } else {
            0
        };
        let cwnd_room = snd.cc.cwnd.saturating_add(limited).saturating_sub(flight);
        let wnd_room = wnd_end - snd.nxt;
        let avail = data_end - snd.nxt;
        // With segmentation offload, one "segment" may carry many MSS (the
        // transport cuts it); never more than fits one IPv4 packet.
        let seg_max = if cfg.gso_max > mss {
            cfg.gso_max.min(65_535 - 20 - 60) / mss * mss
        } else {
            mss
        };
        let mut len = avail
            .min(seg_max)
            .min(wnd_room)
            .min(cwnd_room)
            .min(ring_room(snd.nxt, ring));
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
            if wnd_room == 0 && snd.nxt == snd.una && tcb.rtx.deadline.is_none() {
                // RFC 9293 §3.8.6.1: the peer's window is zero and nothing is
                // in flight: the persist timer.
                snd.cc.persist = true;
                tcb.rtx.retries = 0;
                tcb.rtx.deadline = Some(now + tcb.rtx.rto);
            }
            return None;
        }
        let all = len == avail;
        let idle = snd.nxt == snd.una;
        // A segment cut short by the end of the ring is not a small segment:
        // the rest follows at once from the ring's start.
        let ring_cut = len == ring_room(snd.nxt, ring) && len < avail.min(mss);
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
            if !sws_ok && idle && (tcb.rtx.deadline.is_none() || snd.cc.persist) {
                // The override timer, with nothing in flight: Linux's probe
                // timer, whose tcp_write_wakeup sends what the window
                // allows (armed by tcp_check_probe_timer when tcp_write_xmit
                // found tcp_snd_wnd_test refusing the segment), one RTO
                // after; here the RTO kept within MUST-38's 0.1-1.0 s.
                if !snd.cc.persist || tcb.rtx.deadline.is_none() {
                    snd.cc.persist = true;
                    tcb.rtx.retries = 0;
                    tcb.rtx.deadline = Some(now + sws_override_after(&tcb.rtx));
                }
            }
            return None;
        }
        snd.cc.sws_override = false;
        return Some(send_new(snd, tcb, len, fin_seq, now, cfg));
    }
    // 4. The FIN, after the last byte (RFC 9293 §3.10.4).
    if fin_seq == Some(snd.nxt) {
        snd.nxt += 1;
        snd.max = snd.max.max(snd.nxt);
        if tcb.rtx.deadline.is_none() {
            tcb.rtx.deadline = Some(now + backed_off(&tcb.rtx, cfg));
        }
        return Some((data_end, 0, true));
    }
    None
}

/// Sends `len` new bytes from SND.NXT (with the FIN when they are the last
/// and the peer's window has room for it): times the segment for an RTT
/// sample, starts the RTO unless it runs, and arms the loss probe.
fn send_new(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    len: u32,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> (SeqNum, u32, bool) {
    let wnd_end = snd.una + snd.wnd;
    let seq = snd.nxt;
    snd.cc.last_sent = Some(now);
    snd.nxt += len;
    snd.max = snd.max.max(snd.nxt);
    if snd.cc.rtt_probe.is_none() && snd.nxt == snd.max {
        snd.cc.rtt_probe = Some((seq, now));
    }
    if tcb.rtx.deadline.is_none() || snd.cc.persist {
        snd.cc.persist = false;
        tcb.rtx.deadline = Some(now + backed_off(&tcb.rtx, cfg));
    }
    arm_pto(snd, tcb, now);
    let fin = fin_seq == Some(snd.nxt) && snd.nxt.after_eq(snd.max) && wnd_end.after(snd.nxt);
    if fin {
        snd.nxt += 1;
        snd.max = snd.max.max(snd.nxt);
    }
    (seq, len, fin)
}

/// RFC 9293 §3.8.6.2.1: the sender's silly-window override timeout, "in
/// the range 0.1 - 1.0 seconds": the RTO (Linux's probe timer interval,
/// `tcp_probe0_base`), kept within that range.
fn sws_override_after(rtx: &Rtx) -> Duration {
    rtx.rto
        .max(Duration::from_millis(100))
        .min(Duration::from_secs(1))
}

#[allow(clippy::too_many_arguments)]
fn retransmit(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seq: SeqNum,
    mss: u32,
    ring: usize,
    fin_seq: Option<SeqNum>,
    now: Instant,
    cfg: &Config,
) -> (SeqNum, u32, bool) {
    let limit = snd.max.min(snd.end);
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
    if tcb.rtx.deadline.is_none() {
        tcb.rtx.deadline = Some(now + backed_off(&tcb.rtx, cfg));
    }
    (seq, len, fin)
}

/// The retransmission (or persist) timer fired. Returns false when the
/// retry limit is reached and the connection must be reset.
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
pub fn on_rto(snd: &mut SendHalf, tcb: &mut Tcb, now: Instant, cfg: &Config) -> bool {
    let mss = smss(snd, tcb);
    let probing = snd.wnd == 0;
    if snd.cc.persist && !probing && snd.una == snd.max {
        // RFC 9293 §3.8.6.2.1: the silly-window override timer (armed by
        // `next_segment` with nothing in flight and a small window): the
        // next new segment goes, as small as the window is. No backoff,
        // no retry: nothing was lost.
        snd.cc.persist = false;
        snd.cc.sws_override = true;
        tcb.rtx.deadline = None;
        return true;
    }
    if tcb.rtx.retries >= cfg.max_retries {
        return false;
    }
    tcb.rtx.retries = tcb.rtx.retries.saturating_add(1);
    // RFC 6298 §5.5: "back off the timer".
    tcb.rtx.backoff = tcb.rtx.backoff.saturating_add(1);
    tcb.rtx.deadline = Some(now + backed_off(&tcb.rtx, cfg));
    if probing {
        // One byte beyond the closed window (or the FIN) goes out as a probe.
        snd.cc.rtx_una = snd.una != snd.max;
        snd.cc.probe = true;
        snd.cc.persist = true;
        if snd.una == snd.max && snd.una.before(snd.end) {
            snd.nxt = snd.una;
            snd.max = snd.una + 1;
            snd.cc.rtx_una = true;
        }
        return true;
    }
    let cc = &mut snd.cc;
    if tcb.rtx.retries == 1 {
        let flight = snd.max - snd.una;
        cc.ssthresh = (flight / 2).max(2 * mss);
    }
    cc.cwnd = mss;
    cc.bytes_acked = 0;
    // RFC 6582 §4: "After a retransmission timeout, record the highest
    // sequence number transmitted in the variable recover, and exit the
    // fast recovery procedure if applicable." (RFC 6675 §5.1 likewise sets
    // RecoveryPoint to HighData.)
    cc.recover = None;
    cc.rto_recover = Some(snd.max);
    cc.dupacks = 0;
    cc.sacked.clear();
    cc.high_rxt = snd.una;
    cc.rtt_probe = None;
    cc.rtx_una = true;
    cc.tlp = None;
    cc.pto = None;
    snd.nxt = snd.una;
    true
}
