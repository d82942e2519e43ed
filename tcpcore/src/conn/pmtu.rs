//! Path MTU for a connection: an ICMP "fragmentation needed" (RFC 1191)
//! or ICMPv6 "packet too big" (RFC 8201) lowers its MSS, once the quoted
//! sequence number shows the message is about data in flight (RFC 5927
//! §4.1); and the black-hole fallback (RFC 4821's idea): after repeated
//! timeouts of full-sized segments, smaller ones are tried.
//!
//! What Linux does, followed here:
//!
//! - `tcp_v4_err` / `tcp_v6_err`: an ICMP error whose quoted sequence number
//!   is not in `[SND.UNA, SND.NXT)` is dropped (RFC 5927 §4.1's check);
//! - `tcp_v4_mtu_reduced`: an MTU below the route's minimum is raised to
//!   it (`ip_rt_min_pmtu`, 552; IPv6's minimum link MTU is 1280), one no
//!   lower than what is in use is ignored, else the MSS follows it
//!   (`tcp_sync_mss`);
//! - `tcp_simple_retransmit`: what is in flight and larger than the new
//!   MSS is lost, and is sent again at once, cut to the new size, without
//!   a congestion response (the network did not drop it for congestion);
//!   here SND.NXT goes back to SND.UNA, as after a timeout but with cwnd
//!   and ssthresh as they were;
//! - `tcp_mtu_probing` (when `net.ipv4.tcp_mtu_probing` is on; Linux's
//!   default is off, the issue asks for it on): at the timeout that makes
//!   `tcp_retries1` (3) in a row, the MSS is halved, but not below
//!   [`BLACKHOLE_FLOOR`] (Linux goes to half of `tcp_base_mss`, 1024).

use crate::seq::SeqNum;

use super::{send, HalfClosed, Open, SendHalf, State, Tcb};

/// The smallest MTU an ICMPv4 message may set (Linux `ip_rt_min_pmtu`).
pub const MIN_PMTU_V4: u32 = 552;
/// The smallest MTU of an IPv6 link (RFC 8200 §5).
pub const MIN_PMTU_V6: u32 = 1280;
/// Timeouts in a row after which the black-hole fallback halves the MSS
/// (Linux `tcp_retries1`).
pub const BLACKHOLE_RTOS: u8 = 3;
/// The black-hole fallback goes no lower than this MSS: the size every
/// IPv4 host takes (RFC 9293 §3.7.1, 576-byte datagrams).
pub const BLACKHOLE_FLOOR: u16 = 536;

/// The address family of a path, for its minimum MTU and its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathFamily {
    /// IPv4: 20-byte header (without options), minimum MTU 552 as Linux.
    V4,
    /// IPv6: 40-byte header, minimum MTU 1280.
    V6,
}

impl PathFamily {
    /// The IP and TCP header bytes (without options) a segment adds to
    /// its payload.
    const fn headers(self) -> u32 {
        match self {
            PathFamily::V4 => 20 + 20,
            PathFamily::V6 => 40 + 20,
        }
    }

    /// The lowest MTU a message may set.
    const fn min_mtu(self) -> u32 {
        match self {
            PathFamily::V4 => MIN_PMTU_V4,
            PathFamily::V6 => MIN_PMTU_V6,
        }
    }
}

/// What an ICMP "too big" message did to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooBig {
    /// The MSS went down to this; what was in flight goes again, cut to it.
    Lowered(u16),
    /// The quoted sequence number is not of data in flight (RFC 5927
    /// §4.1): ignored.
    NotInFlight,
    /// The MTU allows the MSS in use already: nothing to do.
    NoChange,
    /// The connection sends no data in this state (before ESTABLISHED, or
    /// after our FIN was acknowledged): ignored.
    NoSendHalf,
}

fn send_half(state: &mut State) -> Option<(&mut Tcb, &mut SendHalf)> {
    match state {
        State::Established(Open { tcb, snd, .. }) | State::FinWait1(Open { tcb, snd, .. }) => {
            Some((tcb, snd))
        }
        State::CloseWait(HalfClosed { tcb, snd, .. })
        | State::Closing(HalfClosed { tcb, snd, .. })
        | State::LastAck(HalfClosed { tcb, snd, .. }) => Some((tcb, snd)),
        _ => None,
    }
}

/// The MSS an MTU allows on `family`: the MTU less the IP and TCP headers
/// (our TCP options are taken off later, by `send::smss`).
fn mss_for(mtu: u32, family: PathFamily) -> u16 {
    let mtu = mtu.max(family.min_mtu());
    u16::try_from(mtu.saturating_sub(family.headers())).unwrap_or(u16::MAX)
}

/// Sends again from SND.UNA what is in flight, cut to the new MSS, with no
/// congestion response (Linux `tcp_simple_retransmit`).
fn resend_smaller(snd: &mut SendHalf) {
    if snd.una != snd.max {
        snd.nxt = snd.una;
        // Karn: the timed segment goes again.
        snd.cc.rtt_probe = None;
    }
}

impl State {
    /// An ICMP "fragmentation needed" (RFC 1191) or ICMPv6 "packet too big"
    /// (RFC 8201) for this connection: a packet of ours that began with
    /// sequence number `seq` did not fit a link of `mtu` bytes. Validated
    /// against the data in flight (RFC 5927 §4.1); the MSS is lowered and
    /// what is in flight goes again, cut to it, at the next
    /// [`State::poll_transmit`] (Linux `tcp_v4_mtu_reduced`,
    /// `tcp_simple_retransmit`).
    pub fn on_packet_too_big(&mut self, seq: SeqNum, mtu: u32, family: PathFamily) -> TooBig {
        let Some((_tcb, snd)) = send_half(self) else {
            return TooBig::NoSendHalf;
        };
        // RFC 5927 §4.1 (Linux tcp_v4_err: `between(seq, snd_una,
        // snd_nxt)`), with SND.MAX: after a go-back, what went before is
        // still in flight.
        if !(seq.after_eq(snd.una) && seq.before(snd.max)) {
            return TooBig::NotInFlight;
        }
        let mss = mss_for(mtu, family);
        if mss >= snd.mss {
            return TooBig::NoChange;
        }
        snd.mss = mss;
        resend_smaller(snd);
        TooBig::Lowered(mss)
    }
}

/// The black-hole fallback, at a retransmission timeout (after
/// `send::on_rto` counted it): at the [`BLACKHOLE_RTOS`]th in a row, with
/// full-sized segments in flight, the MSS is halved, down to
/// [`BLACKHOLE_FLOOR`] (RFC 4821 §7.7's idea; Linux `tcp_mtu_probing`).
/// Returns the new MSS if it changed.
pub(crate) fn on_rto(tcb: &Tcb, snd: &mut SendHalf) -> Option<u16> {
    if tcb.rtx.retries != BLACKHOLE_RTOS || snd.mss <= BLACKHOLE_FLOOR {
        return None;
    }
    // Only when what timed out was a full-sized segment: a lone small
    // one fits any path.
    if snd.max - snd.una < send::smss(snd, tcb) {
        return None;
    }
    let mss = (snd.mss / 2).max(BLACKHOLE_FLOOR);
    snd.mss = mss;
    Some(mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mss_from_mtu_per_family() {
        assert_eq!(mss_for(1500, PathFamily::V4), 1460);
        assert_eq!(mss_for(1280, PathFamily::V6), 1220);
        // Below the minimum: the minimum (Linux ip_rt_min_pmtu).
        assert_eq!(mss_for(68, PathFamily::V4), 512);
        assert_eq!(mss_for(0, PathFamily::V4), 512);
        assert_eq!(mss_for(576, PathFamily::V6), 1220);
        // Far above: capped at what a u16 holds.
        assert_eq!(mss_for(u32::MAX, PathFamily::V4), u16::MAX);
    }
}
