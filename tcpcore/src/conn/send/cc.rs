//! Congestion control state (RFC 5681 slow start and congestion avoidance,
//! RFC 3465 byte counting, RFC 6928's initial window), the SACK scoreboard
//! (RFC 2018, RFC 6675 `pipe`) and the sender MSS (RFC 9293 §3.7.1).

use crate::seq::SeqNum;
use crate::time::Instant;

use crate::conn::{SendHalf, Tcb};

/// At most this many SACKed ranges are remembered above SND.UNA.
pub const SCOREBOARD: usize = 6;
/// RFC 5681 §3.2 / RFC 6675: DupThresh.
pub(crate) const DUP_THRESH: u8 = 3;

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

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn remove(&mut self, i: usize) {
        let n = usize::from(self.len);
        if i < n {
            self.ranges.copy_within(i + 1..n, i);
            self.len -= 1;
        }
    }

    pub(crate) fn insert(&mut self, i: usize, r: (SeqNum, SeqNum)) {
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
    /// The silly-window override timer ([`Timer::SwsOverride`](crate::conn::Timer)) fired: the next new segment goes
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
            sws_override: false,
            probe: false,
            pto: None,
            tlp: None,
            rtx_last: false,
            last_sent: None,
        }
    }

    /// Bytes SACKed at or above `seq`.
    pub(crate) fn sacked_above(&self, seq: SeqNum) -> u32 {
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
    pub(crate) fn sacked_end(&self, seq: SeqNum) -> Option<SeqNum> {
        self.sacked
            .as_slice()
            .iter()
            .find(|&&(s, e)| seq.in_window(s, e))
            .map(|&(_, e)| e)
    }

    pub(crate) fn highest_sacked(&self) -> Option<SeqNum> {
        self.sacked.as_slice().last().map(|&(_, e)| e)
    }

    /// Adds a SACK block `[l, r)` that lies within `(una, high]`.
    pub(crate) fn add_sack(&mut self, mut l: SeqNum, mut r: SeqNum) {
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

    pub(crate) fn trim_below(&mut self, una: SeqNum) {
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

/// RFC 6675 `pipe`: the bytes thought to be in the network. SACKed bytes are
/// not; bytes below a SACKed range that is at least DupThresh segments
/// above them are thought lost, and are not either unless retransmitted.
pub(crate) fn pipe(snd: &SendHalf, mss: u32) -> u32 {
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
