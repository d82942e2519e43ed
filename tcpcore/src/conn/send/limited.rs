//! Limited Transmit (RFC 3042; RFC 5681 §3.2): "On the first and second
//! duplicate ACKs received at a sender, a TCP SHOULD send a segment of
//! previously unsent data ... provided that the receiver's advertised
//! window allows, the total FlightSize would remain less than or equal to
//! cwnd plus 2*SMSS, and that new data is available", cwnd itself
//! unchanged.
//!
//! Linux has no separate rule for it: `tcp_add_reno_sack` counts each
//! duplicate ACK as a SACKed segment (`sacked_out`), so
//! `tcp_packets_in_flight` falls by one per duplicate ACK and
//! `tcp_cwnd_test` lets a new segment go (with SACK, the real `sacked_out`
//! does the same). Here, without SACK blocks, FlightSize may exceed cwnd
//! by one SMSS per duplicate ACK, at most two (RFC 3042's rule; Linux goes
//! on past the second); with SACK blocks RFC 6675 `pipe` already leaves
//! the SACKed segments out and no allowance is added.

use super::cc::DUP_THRESH;
use super::recovery::Recovery;
use crate::conn::SendHalf;

/// The bytes by which FlightSize may exceed cwnd for new data now: one
/// SMSS for each of the first two duplicate ACKs, in the open state only
/// (not in recovery, not after a timeout: RFC 3042 sends "previously
/// unsent data", and Linux sends none of this in `TCP_CA_Loss`), only
/// when no SACK blocks are known and SND.NXT is at SND.MAX.
pub(crate) fn allowance(snd: &SendHalf, mss: u32) -> u32 {
    let cc = &snd.cc;
    if cc.recovery == Recovery::Open && cc.sacked.is_empty() && snd.nxt == snd.max {
        u32::from(cc.dupacks.min(DUP_THRESH - 1)).saturating_mul(mss)
    } else {
        0
    }
}
