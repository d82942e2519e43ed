//! The send buffer: a ring indexed by sequence number, lent by the caller
//! (RFC 9293 §3.3.1: the bytes in `[SND.UNA, end)`, sent and not yet
//! acknowledged, then those not yet sent).

use crate::seq::SeqNum;

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

/// How many write ends [`WriteEnds`] keeps.
pub const WRITE_ENDS: usize = 4;

/// Where the application's latest writes end, for the PSH flag (RFC 9293
/// §3.9.1 SEND's PUSH; Linux `tcp_push` marks the last buffer of each
/// write with `TCPHDR_PSH`): the segment that carries the end of a write
/// is pushed. Bounded memory: the last [`WRITE_ENDS`] ends, in sequence
/// order; those the peer has acknowledged are forgotten at the next write,
/// and when all slots hold unacknowledged ends the oldest (the one most
/// likely sent already) makes room. A forgotten end costs at most one PSH
/// (on a retransmission, or amid many small writes queued at once); the
/// segment that empties the send buffer is pushed regardless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteEnds {
    ends: [SeqNum; WRITE_ENDS],
    len: u8,
}

impl WriteEnds {
    /// None yet (`at`: any sequence number, fills the unused slots).
    pub(crate) const fn new(at: SeqNum) -> WriteEnds {
        WriteEnds {
            ends: [at; WRITE_ENDS],
            len: 0,
        }
    }

    /// The ends kept, oldest first.
    pub fn as_slice(&self) -> &[SeqNum] {
        &self.ends[..usize::from(self.len).min(WRITE_ENDS)]
    }

    /// A write ended at `end`; `una` is SND.UNA (ends at or before it are
    /// acknowledged and dropped).
    pub(crate) fn record(&mut self, end: SeqNum, una: SeqNum) {
        let n = usize::from(self.len).min(WRITE_ENDS);
        let acked = self.ends[..n].iter().take_while(|e| !e.after(una)).count();
        self.ends.copy_within(acked..n, 0);
        let mut n = n - acked;
        if n > 0 && !end.after(self.ends[n - 1]) {
            // Not beyond the last end (an empty write): nothing new.
            self.len = n as u8;
            return;
        }
        if n == WRITE_ENDS {
            self.ends.copy_within(1.., 0);
            n -= 1;
        }
        self.ends[n] = end;
        self.len = (n + 1) as u8;
    }

    /// Whether the segment `[seq, seq + len)` carries the end of a write.
    pub fn pushes(&self, seq: SeqNum, len: u32) -> bool {
        let end = seq + len;
        len > 0
            && self
                .as_slice()
                .iter()
                .any(|&e| e.after(seq) && !e.after(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_ends_are_bounded_and_forget_acked_ones() {
        let s = |n: u32| SeqNum::new(n);
        let mut w = WriteEnds::new(s(0));
        assert!(!w.pushes(s(0), 100));
        w.record(s(100), s(0));
        w.record(s(100), s(0)); // an empty write adds nothing
        assert_eq!(w.as_slice(), &[s(100)]);
        assert!(w.pushes(s(0), 100) && w.pushes(s(50), 60));
        assert!(!w.pushes(s(0), 99) && !w.pushes(s(100), 10) && !w.pushes(s(50), 0));
        for e in [200, 300, 400, 500] {
            w.record(s(e), s(0));
        }
        // Full: the oldest made room.
        assert_eq!(w.as_slice(), &[s(200), s(300), s(400), s(500)]);
        // SND.UNA at 300: 200 and 300 are acknowledged and dropped.
        w.record(s(600), s(300));
        assert_eq!(w.as_slice(), &[s(400), s(500), s(600)]);
        // Across the wrap of the sequence space.
        let mut w = WriteEnds::new(s(u32::MAX - 10));
        w.record(s(5), s(u32::MAX - 10));
        assert!(w.pushes(s(u32::MAX - 10), 16) && !w.pushes(s(u32::MAX - 10), 15));
    }
}
