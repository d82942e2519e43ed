//! The receive buffer: in-order bytes the application has not read yet, and
//! out-of-order segments waiting for a gap to fill (RFC 9293 §3.10.7.4,
//! "seventh, process the segment text"; RFC 2018 for the SACK blocks that
//! describe what it holds).
//!
//! Storage is a ring of `N` bytes (a power of two) lent by the caller and
//! indexed by sequence number modulo `N`, so a byte never moves once written:
//! the byte with sequence number `s` lives at `s mod N`. The buffer covers the
//! sequence space `[read, read + N)`, where `read` is the first byte the
//! application has not consumed; `read + N` is therefore the right edge of the
//! receive window, and it only moves right.
//!
//! The ring's bytes and its bookkeeping ([`RecvRanges`], small, kept with the
//! connection) are separate, so that the bytes can live in one large
//! allocation that the operating system only backs with memory where data
//! actually lands.

use crate::seq::SeqNum;
use crate::wire::SackBlocks;

/// At most this many separate out-of-order ranges are kept; a segment that
/// would need one more is dropped (and still acknowledged).
pub const MAX_RANGES: usize = 32;

/// The bookkeeping of a receive buffer: which out-of-order ranges it holds.
#[derive(Clone, Debug, Default)]
pub struct RecvRanges {
    /// Out-of-order ranges `[start, end)`, sorted, disjoint, non-adjacent,
    /// all strictly after the in-order edge.
    ranges: heapless::Vec<(SeqNum, SeqNum), MAX_RANGES>,
    /// The ranges most recently reported as first SACK block, most recent
    /// first, each named by a sequence number inside it (RFC 2018 §4; Linux
    /// `tp->selective_acks[]`). At most [`SACK_RECENT`].
    recent: heapless::Vec<SeqNum, SACK_RECENT>,
}

/// How many ranges are remembered by recency: the most SACK blocks an
/// option carries (4, without timestamps; Linux `TCP_NUM_SACKS`).
const SACK_RECENT: usize = 4;

impl RecvRanges {
    /// No ranges.
    pub const fn new() -> Self {
        RecvRanges {
            ranges: heapless::Vec::new(),
            recent: heapless::Vec::new(),
        }
    }

    /// Forget everything (the connection is gone or reused).
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.recent.clear();
    }

    /// The held range that contains `seq`.
    fn range_of(&self, seq: SeqNum) -> Option<(SeqNum, SeqNum)> {
        self.ranges
            .iter()
            .copied()
            .find(|&(s, e)| seq.in_window(s, e))
    }

    /// Data just arrived at `seq` (out of order, and held): its range is
    /// the first SACK block from now on, the others move down one place
    /// (Linux `tcp_sack_new_ofo_skb`). Ranges it merged with drop out of
    /// the list, so each range appears once.
    fn note_recent(&mut self, seq: SeqNum) {
        let Some((s, e)) = self.range_of(seq) else {
            return;
        };
        self.recent.retain(|r| !r.in_window(s, e));
        if self.recent.is_full() {
            self.recent.pop();
        }
        // Cannot fail: there is room now.
        let _ = self.recent.insert(0, seq);
    }

    /// Drops the remembered ranges that are no longer held (the in-order
    /// edge swallowed them).
    fn prune_recent(&mut self) {
        let ranges = &self.ranges;
        self.recent
            .retain(|&r| ranges.iter().any(|&(s, e)| r.in_window(s, e)));
    }

    /// SACK blocks describing the held ranges, at most `max` (RFC 2018 §4):
    /// "The first SACK block ... MUST specify the contiguous block of data
    /// containing the segment which triggered this ACK", and the option
    /// "SHOULD be filled out by repeating the most recently reported SACK
    /// blocks", so each range is reported in several successive ACKs. So:
    /// the ranges by how recently they received data, most recent first
    /// (Linux `tcp_sack_new_ofo_skb`); then, if room is left, the others,
    /// highest first.
    pub fn sack_blocks(&self, max: usize) -> SackBlocks {
        let mut blocks = SackBlocks::new();
        if self.ranges.is_empty() {
            return blocks;
        }
        let listed = |b: &SackBlocks, s: SeqNum| b.as_slice().iter().any(|&(l, _)| l == s);
        let recent = self.recent.iter().filter_map(|&r| self.range_of(r));
        for (s, e) in recent.chain(self.ranges.iter().rev().copied()) {
            if blocks.len() >= max {
                break;
            }
            if !listed(&blocks, s) {
                blocks.push(s, e);
            }
        }
        blocks
    }
}

/// A bounded receive buffer: a ring of bytes lent by the caller (its length
/// a power of two, at least 2) and its [`RecvRanges`].
pub struct RecvBuffer<'b> {
    data: &'b mut [u8],
    meta: &'b mut RecvRanges,
}

/// What [`RecvBuffer::insert`] did with a segment's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insert {
    /// The in-order edge moved forward by this many bytes (the caller adds
    /// them to `RCV.NXT`).
    pub advanced: u32,
    /// Bytes of the segment that were not stored: outside the buffer, or no
    /// free range slot.
    pub dropped: u32,
}

/// Whether `n` is a usable receive-buffer size: a power of two from 2 to 2^30.
pub fn valid_size(n: usize) -> bool {
    n.is_power_of_two() && (2..=1 << 30).contains(&n)
}

impl<'b> RecvBuffer<'b> {
    /// A buffer over `data`, whose length must be a power of two (at least
    /// 2, at most 2^30); `None` otherwise.
    pub fn new(meta: &'b mut RecvRanges, data: &'b mut [u8]) -> Option<Self> {
        if !valid_size(data.len()) {
            return None;
        }
        Some(RecvBuffer { data, meta })
    }

    /// As [`RecvBuffer::new`], for a length already checked.
    pub(crate) fn from_checked(meta: &'b mut RecvRanges, data: &'b mut [u8]) -> Self {
        RecvBuffer { data, meta }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Whether any out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        !self.meta.ranges.is_empty()
    }

    /// Bytes held beyond the in-order edge.
    pub fn out_of_order_bytes(&self) -> u32 {
        self.meta.ranges.iter().map(|&(s, e)| e - s).sum()
    }

    /// Stores `payload`, whose first byte has sequence number `seq`, given
    /// that the application has read up to `read` and the in-order edge is
    /// `nxt` (`RCV.NXT`). Bytes before `nxt` or at/after `read + N` are not
    /// stored. Returns how far the in-order edge moved.
    ///
    /// When `copy_in_order` is false, bytes that land exactly at the in-order
    /// edge are not copied (the caller hands them to the application straight
    /// out of the frame); only the ring positions beyond are written.
    pub fn insert(
        &mut self,
        read: SeqNum,
        nxt: SeqNum,
        seq: SeqNum,
        payload: &[u8],
        copy_in_order: bool,
    ) -> Insert {
        let limit = read + self.data.len() as u32;
        let len = payload.len().min(self.data.len() * 2) as u32;
        let end_all = seq + len;
        let start = seq.max(nxt);
        let end = end_all.min(limit);
        let mut dropped = len;
        if !start.before(end) {
            return Insert {
                advanced: 0,
                dropped,
            };
        }
        dropped -= end - start;
        let skip = (start - seq) as usize;
        let n = (end - start) as usize;
        let in_order = start == nxt;
        if copy_in_order || !in_order {
            self.write(start, &payload[skip..skip + n]);
        }
        if in_order {
            // The edge moves to `end`, then swallows every range it now touches.
            let mut edge = end;
            while let Some(&(s, e)) = self.meta.ranges.first() {
                if s.after(edge) {
                    break;
                }
                edge = edge.max(e);
                self.meta.ranges.remove(0);
            }
            self.meta.prune_recent();
            return Insert {
                advanced: edge - nxt,
                dropped,
            };
        }
        if self.add_range(start, end) {
            self.meta.note_recent(start);
        } else {
            dropped += end - start;
        }
        Insert {
            advanced: 0,
            dropped,
        }
    }

    /// Writes in-order bytes the application handed back unread, so that
    /// they can be offered again from the buffer. `bytes` (at most `N`)
    /// start at sequence number `seq`.
    pub fn store(&mut self, seq: SeqNum, bytes: &[u8]) {
        let n = bytes.len().min(self.data.len());
        self.write(seq, &bytes[..n]);
    }

    fn write(&mut self, seq: SeqNum, bytes: &[u8]) {
        let n = self.data.len();
        let at = seq.get() as usize & (n - 1);
        let first = bytes.len().min(n - at);
        self.data[at..at + first].copy_from_slice(&bytes[..first]);
        let rest = bytes.len() - first;
        self.data[..rest].copy_from_slice(&bytes[first..]);
    }

    /// Merges `[start, end)` into the sorted range list. False when it would
    /// need more than [`MAX_RANGES`] ranges.
    fn add_range(&mut self, mut start: SeqNum, mut end: SeqNum) -> bool {
        // Absorb every range that overlaps or touches.
        let mut i = 0;
        let mut insert_at = None;
        while i < self.meta.ranges.len() {
            let (s, e) = self.meta.ranges[i];
            if e.before(start) {
                i += 1;
                continue;
            }
            if end.before(s) {
                insert_at = Some(i);
                break;
            }
            start = start.min(s);
            end = end.max(e);
            self.meta.ranges.remove(i);
        }
        let at = insert_at
            .unwrap_or(self.meta.ranges.len())
            .min(self.meta.ranges.len());
        self.meta.ranges.insert(at, (start, end)).is_ok()
    }

    /// The in-order bytes `[from, to)` as at most two slices (the ring may
    /// wrap). `to - from` must not exceed `N`.
    pub fn slices(&self, from: SeqNum, to: SeqNum) -> (&[u8], &[u8]) {
        let n = self.data.len();
        let len = ((to - from) as usize).min(n);
        let at = from.get() as usize & (n - 1);
        let first = len.min(n - at);
        (&self.data[at..at + first], &self.data[..len - first])
    }

    /// SACK blocks describing the held ranges, most recently received
    /// first, at most `max` (see [`RecvRanges::sack_blocks`]).
    pub fn sack_blocks(&self, max: usize) -> SackBlocks {
        self.meta.sack_blocks(max)
    }

    /// The bookkeeping of the held ranges.
    pub(crate) fn meta(&self) -> &RecvRanges {
        self.meta
    }

    /// The out-of-order ranges held, in sequence order.
    pub fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        &self.meta.ranges
    }
}

#[cfg(test)]
impl RecvRanges {
    fn buffer<'b>(&'b mut self, data: &'b mut [u8]) -> RecvBuffer<'b> {
        RecvBuffer::new(self, data).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    #[test]
    fn in_order_advances_without_copy() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 16];
        let mut b = meta.buffer(&mut mem);
        let r = b.insert(s(100), s(100), s(100), b"abcd", false);
        assert_eq!(
            r,
            Insert {
                advanced: 4,
                dropped: 0
            }
        );
        assert!(!b.has_out_of_order());
    }

    #[test]
    fn fills_holes_and_reports_sack() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 32];
        let mut b = meta.buffer(&mut mem);
        // Two holes: [100,104) missing, [108,112) missing.
        assert_eq!(b.insert(s(100), s(100), s(104), b"efgh", true).advanced, 0);
        assert_eq!(b.insert(s(100), s(100), s(112), b"mnop", true).advanced, 0);
        assert_eq!(b.ranges(), &[(s(104), s(108)), (s(112), s(116))]);
        let sack = b.sack_blocks(4);
        assert_eq!(sack.as_slice()[0], (s(112), s(116)), "most recent first");
        assert_eq!(sack.len(), 2);
        // Filling the first hole advances to the second.
        let r = b.insert(s(100), s(100), s(100), b"abcd", false);
        assert_eq!(r.advanced, 8);
        let r = b.insert(s(100), s(108), s(108), b"ijkl", true);
        assert_eq!(r.advanced, 8);
        let (a, z) = b.slices(s(104), s(116));
        assert_eq!(a, b"efghijklmnop");
        assert!(z.is_empty());
    }

    /// RFC 2018 §4: blocks by recency; a range that merges with another is
    /// listed once; ranges the in-order edge swallows drop out.
    #[test]
    fn sack_blocks_by_recency() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 128];
        let mut b = meta.buffer(&mut mem);
        for at in [50, 40, 30, 20, 10] {
            b.insert(s(0), s(0), s(at), b"xx", true);
        }
        let l = |b: &RecvBuffer<'_>, n| {
            let v: Vec<u32> = b
                .sack_blocks(n)
                .as_slice()
                .iter()
                .map(|r| r.0.get())
                .collect();
            v
        };
        assert_eq!(l(&b, 3), [10, 20, 30]);
        assert_eq!(l(&b, 4), [10, 20, 30, 40]);
        // [22, 30) joins 20 and 30: one range, first. 50, pushed out of the
        // recency list, fills the place left.
        b.insert(s(0), s(0), s(22), b"abcdefgh", true);
        assert_eq!(l(&b, 4), [20, 10, 40, 50]);
        // The edge moves past 10 and [20, 32).
        let r = b.insert(s(0), s(0), s(0), &[0; 20], true);
        assert_eq!(r.advanced, 32);
        assert_eq!(l(&b, 4), [40, 50]);
    }

    #[test]
    fn drops_beyond_capacity_and_before_edge() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 8];
        let mut b = meta.buffer(&mut mem);
        let r = b.insert(s(0), s(4), s(0), b"0123456789ab", true);
        // [0,4) is old, [4,8) stored, [8,12) beyond read+N.
        assert_eq!(
            r,
            Insert {
                advanced: 4,
                dropped: 8
            }
        );
    }

    #[test]
    fn wraps_ring_and_sequence_space() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 8];
        let mut b = meta.buffer(&mut mem);
        let base = s(u32::MAX - 2);
        let r = b.insert(base, base, base + 2, b"cdef", true);
        assert_eq!(r.advanced, 0);
        let r = b.insert(base, base, base, b"ab", true);
        assert_eq!(r.advanced, 6);
        let (x, y) = b.slices(base, base + 6);
        let mut all = [0u8; 6];
        all[..x.len()].copy_from_slice(x);
        all[x.len()..].copy_from_slice(y);
        assert_eq!(&all, b"abcdef");
    }

    #[test]
    fn range_limit_drops_extra() {
        let mut meta = RecvRanges::new();
        let mut mem = [0u8; 1024];
        let mut b = meta.buffer(&mut mem);
        for i in 0..MAX_RANGES as u32 {
            b.insert(s(0), s(0), s(10 + i * 10), b"x", true);
        }
        let r = b.insert(s(0), s(0), s(500), b"y", true);
        assert_eq!(r.dropped, 1);
        assert_eq!(b.ranges().len(), MAX_RANGES);
        // Merging into an existing range still works when full.
        let r = b.insert(s(0), s(0), s(11), b"z", true);
        assert_eq!(r.dropped, 0);
    }
}
