//! The SACK scoreboard (RFC 2018) and RFC 6675's `pipe`, with RACK's
//! losses (RFC 8985 §6).

use crate::seq::SeqNum;

use super::recovery::{Congestion, Recovery};
use crate::conn::SendHalf;

/// At most this many SACKed ranges are remembered above SND.UNA.
pub const SCOREBOARD: usize = 6;

/// Sorted, disjoint sequence ranges, in a fixed array (so that the state
/// stays `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scoreboard {
    ranges: [(SeqNum, SeqNum); SCOREBOARD],
    len: u8,
}

impl Scoreboard {
    pub(crate) const fn new() -> Self {
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

impl Congestion {
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

/// RFC 6675 `pipe`: the bytes thought to be in the network. SACKed bytes
/// are not, nor are those RACK marked lost (RFC 8985 §6, `rack.rs`)
/// unless resent since (Linux `tcp_packets_in_flight`: packets_out -
/// (sacked_out + lost_out) + retrans_out).
pub(crate) fn pipe(snd: &SendHalf, mss: u32) -> u32 {
    let cc = &snd.cc;
    let flight = snd.nxt - snd.una;
    let lost = cc.rack.lost_below(snd.una, snd.nxt, &cc.sacked);
    if cc.sacked.is_empty() && lost == 0 {
        if matches!(cc.recovery, Recovery::FastRecovery { .. }) {
            // NewReno recovery (Linux tcp_packets_in_flight for Reno):
            // less one SMSS per duplicate ACK, and less the segment at
            // SND.UNA while it is lost and not yet resent.
            let head = if cc.rtx_una { mss.min(flight) } else { 0 };
            return flight.saturating_sub(cc.reno_sacked).saturating_sub(head);
        }
        return flight;
    }
    flight
        .saturating_sub(cc.sacked_above(snd.una))
        .saturating_sub(lost)
}
