//! RFC 9293 §3.10.7.4 seventh and eighth: a segment's text and FIN are
//! taken in, in order straight out of the segment, out of order into the
//! reassembly buffer (RFC 5681 §4.2: an immediate ACK for out-of-order data
//! and for data that fills a gap).

use crate::conn::recv::dsack;
use crate::conn::{RecvBuffer, RecvHalf, Transition};
use crate::seq::SeqNum;
use crate::wire::{TcpControl, TcpRepr};

/// How a segment's text and FIN were taken in.
pub(crate) struct TextResult {
    /// The peer's FIN is now in order (RCV.NXT has passed it).
    pub(crate) fin: bool,
    /// The segment was out of order or filled a gap: ACK at once.
    pub(crate) ack_now: bool,
    /// Bytes dropped for lack of buffer space.
    pub(crate) dropped: u32,
}

/// RFC 9293 §3.10.7.4 seventh and eighth: take the segment's text (trimmed
/// to the window) and note its FIN. In-order text is handed out of the
/// segment without copying; out-of-order text goes into `rx`.
#[inline]
pub(crate) fn take_text<'a>(
    rcv: &mut RecvHalf,
    rx: &mut RecvBuffer<'_>,
    sack: bool,
    seg: &TcpRepr<'a>,
    t: &mut Transition<'a>,
) -> TextResult {
    let payload = seg.payload;
    let seq = seg.seq_number;
    let had_gap = rx.has_out_of_order();
    // The window the peer was offered (Linux `tp->rcv_wnd`), for the
    // quick-ACK count.
    let wnd = rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt;
    // RFC 2883: data we already have (below RCV.NXT or held out of order)
    // is reported in a D-SACK block, at once.
    let dup = dsack::note(rcv, sack, rx.ranges(), seq, seq + payload.len() as u32);
    if seg.control == TcpControl::Fin {
        note_fin(rcv, seq + payload.len() as u32);
    }
    let mut res = TextResult {
        fin: false,
        ack_now: false,
        dropped: 0,
    };
    if !payload.is_empty() {
        let before = rcv.nxt;
        // While the application has unread bytes, new ones queue behind
        // them in the buffer; otherwise in-order bytes go out of the segment.
        let copy = rcv.read != rcv.nxt;
        let ins = rx.insert(rcv.read, rcv.nxt, seq, payload, copy);
        res.dropped = ins.dropped;
        if ins.advanced > 0 {
            // In-order: the part of the segment at RCV.NXT goes out directly,
            // then whatever out-of-order data it joined up with.
            let skip = (before - seq) as usize;
            let end = (payload.len()).min(skip + ins.advanced as usize);
            let direct = if copy {
                &[][..]
            } else {
                payload.get(skip..end).unwrap_or(&[])
            };
            t.data = direct;
            t.buffered = ins.advanced - direct.len() as u32;
            rcv.nxt += ins.advanced;
            rcv.unacked = rcv.unacked.saturating_add(ins.advanced);
            // Linux `tcp_event_data_recv`: measure the peer's segment
            // size; quick-ACK mode on the first data.
            rcv.ackq.on_data(seg, wnd);
            // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at once when filling a
            // gap (Linux `tcp_data_queue`: ICSK_ACK_NOW), and a duplicate.
            res.ack_now = had_gap || dup;
        } else {
            // Out of order (or a duplicate): RFC 5681 §4.2 / RFC 2018, ACK at
            // once so the peer learns of the hole; and quick-ACK mode, so
            // that the segments that fill it are acknowledged at once too
            // (Linux `tcp_enter_quickack_mode`, as `tcp_data_queue` does
            // for a duplicate).
            rcv.ackq.enter(wnd);
            res.ack_now = true;
        }
    }
    take_fin(rcv, seg, &mut res);
    res
}

/// The FIN of a segment ending at `fin_seq` is noted (RCV.NXT takes it
/// once everything before it is in); a FIN beyond the window is not seen
/// (its data was trimmed).
#[inline]
fn note_fin(rcv: &mut RecvHalf, fin_seq: SeqNum) {
    let right = rcv.read + rcv.cap;
    if fin_seq.before(right) && fin_seq.after_eq(rcv.nxt) {
        rcv.fin = Some(fin_seq);
    }
}

/// RFC 9293 §3.10.7.4 eighth: the FIN is taken when RCV.NXT reaches it,
/// and acknowledged at once.
#[inline]
fn take_fin(rcv: &mut RecvHalf, seg: &TcpRepr<'_>, res: &mut TextResult) {
    let end = seg.seq_number + seg.payload.len() as u32;
    if rcv.fin == Some(rcv.nxt) {
        res.fin = true;
        rcv.nxt += 1;
        rcv.fin = None;
        res.ack_now = true;
    } else if seg.control == TcpControl::Fin && end.after(rcv.nxt) {
        // A FIN still above RCV.NXT is out of order even without data: it
        // occupies a sequence number past a gap. RFC 5681 §4.2: "A TCP
        // receiver SHOULD send an immediate duplicate ACK when an
        // out-of-order segment arrives" (Linux queues the FIN out of order
        // and __tcp_ack_snd_check ACKs at once while that queue is not
        // empty).
        res.ack_now = true;
    }
}
