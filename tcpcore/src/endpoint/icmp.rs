//! ICMP (IPv4, RFC 792) at the endpoint: what arrives that is not TCP.
//!
//! - An echo request for our address is answered when the address is ours
//!   alone (own-address mode, [`EndpointConfig::answer_arp`], or
//!   [`Medium::Ip`]), at most [`ICMP_PER_SEC`] replies a second with bursts
//!   of [`ICMP_BURST`] (Linux's `icmp_msgs_per_sec` and
//!   `icmp_msgs_burst`).
//! - A "fragmentation needed" (RFC 1191) quoting a segment of one of our
//!   connections lowers its MSS and resends what is in flight
//!   (`conn/pmtu.rs`, validated against the quoted sequence number as RFC
//!   5927 §4.1 asks).
//! - Everything else is counted as [`DropReason::IcmpIgnored`]: other
//!   errors (unreachable ports or hosts are soft errors for an established
//!   connection, RFC 5461 §4 and RFC 1122 §4.2.3.9; they are not acted
//!   on), echo replies, requests over the rate.
//!
//! Only the path that is not TCP reaches this module: a TCP segment's
//! parse is unchanged.

use crate::conn::pmtu::{PathFamily, TooBig};
use crate::time::{Duration, Instant};
use crate::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, Icmpv4Packet, Icmpv4Repr,
    Icmpv4TcpQuote, IpProtocol, Ipv4Packet, Ipv4Repr,
};

use super::{DropReason, Endpoint, EndpointConfig, Io, Medium};
use crate::isn::FourTuple;

/// Echo replies a second at most (Linux `icmp_msgs_per_sec`).
pub const ICMP_PER_SEC: u32 = 1000;
/// Echo replies at once at most (Linux `icmp_msgs_burst`).
pub const ICMP_BURST: u32 = 50;

/// A token bucket for the ICMP messages we send.
#[derive(Clone, Copy, Debug)]
pub(super) struct IcmpLimit {
    tokens: u32,
    last: Option<Instant>,
}

impl IcmpLimit {
    pub(super) const fn new() -> Self {
        IcmpLimit {
            tokens: ICMP_BURST,
            last: None,
        }
    }

    /// Whether one more message may go at `now` (and takes its token).
    fn take(&mut self, now: Instant) -> bool {
        let last = self.last.unwrap_or(now);
        let per = Duration::from_micros(1_000_000 / u64::from(ICMP_PER_SEC));
        let gone = now.saturating_since(last);
        let earned = gone.as_micros() / per.as_micros().max(1);
        if earned > 0 || self.last.is_none() {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(ICMP_BURST);
            self.last = Some(now);
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Whether the address is ours alone, so that we answer for it.
const fn owns_address(cfg: &EndpointConfig) -> bool {
    cfg.answer_arp || matches!(cfg.medium, Medium::Ip)
}

impl Endpoint<'_> {
    /// An IPv4 packet that is not TCP (`frame` as received: with its
    /// Ethernet header unless [`Medium::Ip`]). ICMP is looked at; any other
    /// protocol is [`DropReason::OtherProtocol`].
    pub(super) fn handle_not_tcp<I: Io>(&mut self, now: Instant, frame: &[u8], io: &mut I) {
        let (link_src, packet) = match self.cfg.medium {
            Medium::Ethernet => {
                let src = frame.get(6..12).and_then(|s| <[u8; 6]>::try_from(s).ok());
                match (src, frame.get(EthernetRepr::HEADER_LEN..)) {
                    (Some(src), Some(p)) => (EthernetAddress(src), p),
                    _ => return self.drop_frame(DropReason::BadEthernet),
                }
            }
            Medium::Ip => (super::neighbor::NO_LINK, frame),
        };
        let Ok(ip_packet) = Ipv4Packet::new_checked(packet) else {
            return self.drop_frame(DropReason::BadIpv4);
        };
        let Ok(ip) = Ipv4Repr::parse(&ip_packet, ChecksumPolicy::Verify) else {
            return self.drop_frame(DropReason::BadIpv4);
        };
        if ip.protocol != IpProtocol::Icmp {
            return self.drop_frame(DropReason::OtherProtocol);
        }
        if ip.dst_addr != self.cfg.addr {
            return self.drop_frame(DropReason::NotForUs);
        }
        let payload = ip_packet.payload();
        let Ok(icmp_packet) = Icmpv4Packet::new_checked(payload) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let Ok(icmp) = Icmpv4Repr::parse(&icmp_packet, ChecksumPolicy::Verify) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        match icmp {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if owns_address(&self.cfg) && !ip.is_fragment() => {
                if !self.icmp_limit.take(now) {
                    return self.drop_frame(DropReason::IcmpIgnored);
                }
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                self.send_icmp(link_src, &ip, &reply, io);
            }
            Icmpv4Repr::DstUnreachable {
                code: Icmpv4Repr::CODE_FRAG_NEEDED,
                next_hop_mtu,
                quote,
            } => self.frag_needed(now, next_hop_mtu, quote, io),
            _ => self.drop_frame(DropReason::IcmpIgnored),
        }
    }

    /// RFC 1191: a "fragmentation needed" quoting a segment of ours.
    fn frag_needed<I: Io>(&mut self, now: Instant, mtu: u16, quote: &[u8], io: &mut I) {
        let Ok(q) = Icmpv4TcpQuote::parse(quote) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        if q.src_addr != self.cfg.addr {
            return self.drop_frame(DropReason::IcmpIgnored);
        }
        let tuple = FourTuple {
            local_addr: self.cfg.addr.into(),
            local_port: q.src_port,
            remote_addr: q.dst_addr.into(),
            remote_port: q.dst_port,
        };
        let Some(i) = self.lookup(&tuple) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let peer_mac = conn.peer_mac;
        match conn
            .state
            .on_packet_too_big(q.seq_number, u32::from(mtu), PathFamily::V4)
        {
            TooBig::Lowered(_) => {
                self.stats.pmtu_lowered += 1;
                self.transmit(i, &tuple, peer_mac, now, false, io);
            }
            _ => self.drop_frame(DropReason::IcmpIgnored),
        }
    }

    /// Sends an ICMP message to the source of `to` (its link-layer source
    /// `link_dst`).
    fn send_icmp<I: Io>(
        &mut self,
        link_dst: EthernetAddress,
        to: &Ipv4Repr,
        icmp: &Icmpv4Repr<'_>,
        io: &mut I,
    ) {
        let icmp_len = icmp.buffer_len();
        let ip = Ipv4Repr {
            src_addr: self.cfg.addr,
            dst_addr: to.src_addr,
            protocol: IpProtocol::Icmp,
            payload_len: icmp_len,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: self.ident,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        };
        let link = match self.cfg.medium {
            Medium::Ethernet => EthernetRepr::HEADER_LEN,
            Medium::Ip => 0,
        };
        let len = link + ip.buffer_len();
        let Some(buf) = io.tx(len) else {
            return self.drop_frame(DropReason::TxNoRoom);
        };
        let written = (|| {
            let (head, rest) = buf.split_at_mut(link);
            if link > 0 {
                let eth = EthernetRepr {
                    src_addr: self.cfg.mac,
                    dst_addr: link_dst,
                    ethertype: EtherType::Ipv4,
                };
                eth.emit(&mut wire::EthernetFrame::new_unchecked(&mut *head))
                    .ok()?;
            }
            let mut ip_packet = Ipv4Packet::new_unchecked(&mut *rest);
            ip.emit(&mut ip_packet).ok()?;
            let body = rest.get_mut(Ipv4Repr::HEADER_LEN..)?;
            icmp.emit(&mut Icmpv4Packet::new_unchecked(body)).ok()
        })();
        if written.is_some() {
            self.ident = self.ident.wrapping_add(1);
            self.stats.tx_frames += 1;
            self.stats.icmp_sent += 1;
        }
    }
}

impl Endpoint<'_> {
    /// An ICMPv6 message (`body`, after the IPv6 extension headers) in the
    /// IPv6 packet `ip` that came in `eth`.
    pub(super) fn handle_icmpv6<I: Io>(
        &mut self,
        _now: Instant,
        _eth: &EthernetRepr,
        _ip: &wire::Ipv6Repr,
        _body: &[u8],
        _io: &mut I,
    ) {
        self.drop_frame(DropReason::IcmpIgnored)
    }
}
