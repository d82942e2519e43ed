//! When received data is acknowledged at once, as Linux does by default
//! (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2; Linux
//! `net/ipv4/tcp_input.c`):
//!
//! - quick-ACK mode: the first segments of a connection are each
//!   acknowledged at once (so that the peer's slow start is not held back
//!   by delayed ACKs), up to [`MAX_QUICKACKS`] ACKs, fewer with a small
//!   window (Linux `tcp_incr_quickack`, from `tcp_event_data_recv` on the
//!   first data); the mode is entered again whenever the peer must learn
//!   fast: out-of-order data, a duplicate (Linux `tcp_enter_quickack_mode`
//!   in `tcp_data_queue` and `tcp_send_dupack`). Each ACK that acknowledges
//!   new data uses one up (Linux `tcp_dec_quickack_mode`, from
//!   `tcp_event_ack_sent`).
//! - otherwise an ACK once more than one full-sized segment is
//!   unacknowledged (Linux `__tcp_ack_snd_check`: "More than one full frame
//!   received"), where full-sized is what the peer actually sends, measured
//!   as Linux `tcp_measure_rcv_mss` does: with timestamps a peer on a
//!   1500-byte path sends 1448 bytes, and gets an ACK every two segments.
//!   Anything less waits for the delayed-ACK timer (`Config::delayed_ack`).
//!
//! Left out: Linux's interactive ("pingpong") mode, which ends quick-ACK
//! mode when we answer data with data, and the re-entry after an idle time
//! longer than the RTO; our data segments carry the ACK anyway. The ACK a
//! data segment carries does not count down the quick-ACK mode here (only
//! pure ACKs do).

use crate::wire::{TcpControl, TcpRepr};

/// Linux `TCP_MAX_QUICKACKS`: the most ACKs sent at once in quick-ACK mode.
pub(crate) const MAX_QUICKACKS: u8 = 16;
/// Linux `TCP_MSS_DEFAULT` (RFC 9293 §3.7.1's 536).
const MSS_DEFAULT: u32 = 536;
/// Linux `TCP_MIN_MSS`.
const MIN_MSS: u32 = 88;
/// The TCP header without options.
const TCP_HDR: u32 = 20;

/// The receive side's ACK pacing: the measured segment size of the peer
/// and the quick-ACK count (Linux `icsk_ack.rcv_mss`, `.last_seg_size`,
/// `.quick`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuickAck {
    /// The peer's full-sized segment, as measured (Linux `rcv_mss`).
    rcv_mss: u16,
    /// The last segment shorter than `rcv_mss` that looked full-sized
    /// (Linux `last_seg_size`): two in a row of one size lower `rcv_mss`.
    last_seg_size: u16,
    /// The largest payload we let the peer send: our MSS less the
    /// timestamp option (Linux `advmss`, less `TCPOLEN_TSTAMP_ALIGNED`).
    advmss: u16,
    /// The header every segment of the peer carries: 20, or 32 with
    /// timestamps (Linux `tcp_header_len`).
    hdr: u8,
    /// ACKs still to send at once (Linux `icsk_ack.quick`).
    quick: u8,
    /// Data has arrived (Linux: `icsk_ack.ato` is no longer 0).
    started: bool,
}

impl QuickAck {
    /// Before any data: `rcv_mss` guessed as Linux `tcp_initialize_rcv_mss`
    /// does, from our MSS `mss` (less the timestamp option), the peer's
    /// `snd_mss` (payload), half the window `rcv_wnd`, and 536, at least 88.
    pub(crate) fn new(mss: u16, snd_mss: u16, rcv_wnd: u32, ts: bool) -> Self {
        let opts = if ts { 12 } else { 0 };
        let advmss = mss.saturating_sub(opts).max(1);
        let hint = u32::from(advmss)
            .min(u32::from(snd_mss))
            .min(rcv_wnd / 2)
            .clamp(MIN_MSS, MSS_DEFAULT);
        QuickAck {
            rcv_mss: hint as u16,
            last_seg_size: 0,
            advmss,
            hdr: (TCP_HDR + u32::from(opts)) as u8,
            quick: 0,
            started: false,
        }
    }

    /// The peer's full-sized segment, as measured.
    pub(crate) fn rcv_mss(&self) -> u32 {
        u32::from(self.rcv_mss)
    }

    /// In-order data arrived (Linux `tcp_event_data_recv`): measure the
    /// segment; on the first data, quick-ACK mode. `rcv_wnd`: the window.
    pub(crate) fn on_data(&mut self, seg: &TcpRepr<'_>, rcv_wnd: u32) {
        self.measure(seg);
        if !self.started {
            self.started = true;
            self.incr(rcv_wnd, MAX_QUICKACKS);
        }
    }

    /// Linux `tcp_measure_rcv_mss`: a segment at least as large as
    /// `rcv_mss` raises it (up to `advmss`); a smaller one that still looks
    /// full-sized (at least 536 bytes with its header, or at least 88
    /// without PSH, FIN, SYN or URG) lowers it when two in a row have its
    /// size (so that SACK blocks, which vary, do not make it jitter).
    fn measure(&mut self, seg: &TcpRepr<'_>) {
        let lss = self.last_seg_size;
        self.last_seg_size = 0;
        let len = seg.payload.len() as u32;
        if len >= self.rcv_mss() {
            self.rcv_mss = len.min(u32::from(self.advmss)) as u16;
            return;
        }
        let remnant = seg.push || seg.urgent.is_some() || !matches!(seg.control, TcpControl::None);
        let whole = len + seg.header_len() as u32;
        if whole >= MSS_DEFAULT + TCP_HDR || (whole >= MIN_MSS + TCP_HDR && !remnant) {
            let len = whole.saturating_sub(u32::from(self.hdr)).min(0xffff) as u16;
            self.last_seg_size = len;
            if len == lss {
                self.rcv_mss = len.max(1);
            }
        }
    }

    /// Linux `tcp_incr_quickack`: at least as many quick ACKs as half the
    /// window has full-sized segments (2 when it has none), at most `max`.
    fn incr(&mut self, rcv_wnd: u32, max: u8) {
        let mut n = rcv_wnd / (2 * self.rcv_mss()).max(1);
        if n == 0 {
            n = 2;
        }
        let n = n.min(u32::from(max)) as u8;
        self.quick = self.quick.max(n);
    }

    /// Linux `tcp_enter_quickack_mode`: the peer must learn of what arrived
    /// fast (out-of-order data, a duplicate).
    pub(crate) fn enter(&mut self, rcv_wnd: u32) {
        self.incr(rcv_wnd, MAX_QUICKACKS);
    }

    /// Linux `tcp_enter_quickack_mode(sk, max)` with a smaller bound: two
    /// quick ACKs after a CE mark (`conn/ecn.rs`).
    pub(crate) fn enter_at_most(&mut self, rcv_wnd: u32, max: u8) {
        self.incr(rcv_wnd, max);
    }

    /// An ACK of new data went out (Linux `tcp_dec_quickack_mode`).
    pub(crate) fn sent(&mut self) {
        self.quick = self.quick.saturating_sub(1);
    }

    /// Linux `__tcp_ack_snd_check`: ACK now when more than one full-sized
    /// segment is unacknowledged, or in quick-ACK mode.
    pub(crate) fn ack_now(&self, unacked: u32) -> bool {
        unacked > self.rcv_mss() || (unacked > 0 && self.quick > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seq::SeqNum;
    use crate::wire::{TcpOptions, Timestamps};

    fn seg(payload: &[u8], ts: bool, push: bool) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq_number: SeqNum::new(0),
            ack_number: Some(SeqNum::new(0)),
            control: TcpControl::None,
            push,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 100,
            options: TcpOptions {
                timestamps: ts.then_some(Timestamps { tsval: 1, tsecr: 1 }),
                ..TcpOptions::default()
            },
            payload,
        }
    }

    /// Linux `tcp_initialize_rcv_mss`, `tcp_measure_rcv_mss`,
    /// `tcp_incr_quickack`.
    #[test]
    fn measures_and_counts() {
        let mut q = QuickAck::new(1460, 1448, 65536, true);
        assert_eq!(q.rcv_mss(), 536);
        let big = [0u8; 1448];
        q.on_data(&seg(&big, true, false), 65536);
        assert_eq!(q.rcv_mss(), 1448);
        assert_eq!(q.quick, MAX_QUICKACKS);
        assert!(!q.ack_now(0));
        // Smaller full-looking segments: lowered on the second in a row.
        let mid = [0u8; 1388];
        q.measure(&seg(&mid, true, false));
        assert_eq!(q.rcv_mss(), 1448);
        q.measure(&seg(&mid, true, false));
        assert_eq!(q.rcv_mss(), 1388);
        // A short pushed segment says nothing.
        q.measure(&seg(&[0; 40], true, true));
        q.measure(&seg(&[0; 40], true, true));
        assert_eq!(q.rcv_mss(), 1388);
        // A small window: fewer quick ACKs (one per two segments it
        // holds, 2 when it holds fewer than two).
        let mut q = QuickAck::new(1460, 1460, 4000, false);
        assert_eq!(q.rcv_mss(), 536);
        q.on_data(&seg(&[0; 10], false, true), 4000);
        assert_eq!(q.quick, 3);
        let mut q = QuickAck::new(1460, 1460, 1000, false);
        q.on_data(&seg(&[0; 10], false, true), 500);
        assert_eq!(q.quick, 2);
        q.sent();
        q.sent();
        q.sent();
        assert_eq!(q.quick, 0);
        assert!(!q.ack_now(10));
        assert!(q.ack_now(u32::from(q.rcv_mss) + 1));
    }
}
