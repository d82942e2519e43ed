//! D-SACK (RFC 2883): a segment that repeats data we already have is
//! reported in the first SACK block of the next ACK, once, so that the
//! peer learns that its retransmission was needless (RFC 2883 §4; Linux
//! `tcp_dsack_set`, called from `tcp_data_queue`, `tcp_data_queue_ofo` and
//! `tcp_send_dupack`). One block is kept pending in the receive half
//! (Linux `tp->duplicate_sack[0]`); a newer duplicate replaces it.

use crate::conn::RecvHalf;
use crate::seq::SeqNum;
use crate::wire::SackBlocks;

/// The duplicate part of the segment `[seq, end)`, given RCV.NXT `nxt` and
/// the out-of-order `ranges` held (sorted, all after `nxt`): RFC 2883 §4,
/// "the first SACK block ... should specify the contiguous sequence of
/// data received" twice. Below RCV.NXT, `[seq, min(end, nxt))` (Linux
/// `tcp_data_queue`, `tcp_send_dupack`); otherwise the overlap with the
/// first held range it meets (Linux `tcp_data_queue_ofo`).
pub(crate) fn duplicate(
    nxt: SeqNum,
    ranges: &[(SeqNum, SeqNum)],
    seq: SeqNum,
    end: SeqNum,
) -> Option<(SeqNum, SeqNum)> {
    if !seq.before(end) {
        return None;
    }
    if seq.before(nxt) {
        return Some((seq, end.min(nxt)));
    }
    ranges.iter().find_map(|&(s, e)| {
        let (lo, hi) = (seq.max(s), end.min(e));
        lo.before(hi).then_some((lo, hi))
    })
}

/// Notes the duplicate part of the segment `[seq, end)`, if any, as the
/// pending D-SACK block (only when SACK was negotiated, `sack`). Returns
/// whether it noted one.
pub(crate) fn note(
    rcv: &mut RecvHalf,
    sack: bool,
    ranges: &[(SeqNum, SeqNum)],
    seq: SeqNum,
    end: SeqNum,
) -> bool {
    let dup = duplicate(rcv.nxt, ranges, seq, end).filter(|_| sack);
    if dup.is_some() {
        rcv.dsack = dup;
    }
    dup.is_some()
}

/// The SACK blocks of an ACK: the pending D-SACK block first, taken (it is
/// sent once, RFC 2883 §4), then `blocks` (the out-of-order ranges, RFC
/// 2018 §4), at most `max` in all.
pub(crate) fn with_dsack(
    rcv: &mut RecvHalf,
    blocks: impl Fn(usize) -> SackBlocks,
    max: usize,
) -> SackBlocks {
    let Some((s, e)) = rcv.dsack.take() else {
        return blocks(max);
    };
    let mut out = SackBlocks::new();
    let _ = out.push(s, e);
    for &(s, e) in blocks(max.saturating_sub(1)).as_slice() {
        let _ = out.push(s, e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    #[test]
    fn duplicate_parts() {
        let held = [(s(200), s(300)), (s(400), s(500))];
        // Wholly below RCV.NXT, partly below, in order, out of order.
        assert_eq!(duplicate(s(100), &held, s(50), s(80)), Some((s(50), s(80))));
        assert_eq!(
            duplicate(s(100), &held, s(50), s(150)),
            Some((s(50), s(100)))
        );
        assert_eq!(duplicate(s(100), &held, s(100), s(150)), None);
        assert_eq!(
            duplicate(s(100), &held, s(150), s(250)),
            Some((s(200), s(250)))
        );
        assert_eq!(duplicate(s(100), &held, s(300), s(400)), None);
        assert_eq!(
            duplicate(s(100), &held, s(450), s(600)),
            Some((s(450), s(500)))
        );
        assert_eq!(duplicate(s(100), &held, s(90), s(90)), None);
    }
}
