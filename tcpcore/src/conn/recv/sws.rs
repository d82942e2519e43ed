//! Receiver-side silly window syndrome avoidance on every ACK (RFC 9293
//! §3.8.6.2.2, MUST-39: "keep RCV.NXT+RCV.WND fixed until the reduction
//! satisfies RCV.BUFF - RCV.USER - RCV.WND >= min(Fr * RCV.BUFF,
//! Eff.snd.MSS)"), as Linux `__tcp_select_window` does it: while the free
//! space is below half the buffer, and below one full-sized segment of
//! the peer (its measured `rcv_mss`, `quickack.rs`) or a sixteenth of the
//! buffer, no new space is offered -- Linux returns 0 there, and
//! `tcp_select_window`, which never shrinks the window, then keeps the
//! right edge where it was. Otherwise all free space is offered.
//!
//! Left out: Linux's rounding of an unscaled window to a multiple of the
//! MSS, and its `rcv_ssthresh` window growth.

use crate::conn::RecvHalf;

/// The window to offer from RCV.NXT, in bytes (before scaling): the free
/// space of the buffer, or, in the silly-window zone, only what was
/// offered before (the right edge stays).
#[inline]
pub(crate) fn window(rcv: &RecvHalf) -> u32 {
    let free = (rcv.read + rcv.cap) - rcv.nxt;
    if silly(free, rcv.cap, rcv.ackq.rcv_mss()) {
        // The right edge advertised before, not left of RCV.NXT.
        let cur = if rcv.adv_right.after(rcv.nxt) {
            rcv.adv_right - rcv.nxt
        } else {
            0
        };
        return cur.min(free);
    }
    free
}

/// Linux `__tcp_select_window`: free space below half the buffer and
/// below `mss` (at most the buffer) or a sixteenth of the buffer is too
/// small to offer.
#[inline]
fn silly(free: u32, cap: u32, mss: u32) -> bool {
    free < cap / 2 && (free < cap / 16 || free < mss.min(cap))
}

#[cfg(test)]
mod tests {
    use super::silly;

    #[test]
    fn silly_zone() {
        // 64 KiB buffer, 1448-byte segments.
        assert!(silly(0, 65536, 1448));
        assert!(silly(1000, 65536, 1448));
        assert!(silly(4000, 65536, 1448), "below 1/16 of the buffer");
        assert!(!silly(4096, 65536, 1448));
        assert!(!silly(32768, 65536, 1448));
        // A buffer smaller than two segments: half of it is enough.
        assert!(silly(400, 1024, 1448));
        assert!(!silly(512, 1024, 1448));
    }
}
