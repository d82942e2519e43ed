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
