//! ICMP (IPv4, RFC 792) and ICMPv6 (RFC 4443, with neighbor discovery,
//! RFC 4861) at the endpoint: what arrives that is not TCP. The ICMPv6
//! side is [`Endpoint::handle_icmpv6`]'s, below; the rules match.
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
//! - Other errors quoting a segment of one of our connections
//!   (destination unreachable, time exceeded, parameter problem)
//!   go to the connection (`conn/icmp_err.rs`): a connection request is
//!   aborted with the error, a half-open passive one dropped when the
//!   error says so, a synchronized one keeps it as its soft error (RFC
//!   5461, RFC 1122 §4.2.3.9, as Linux `tcp_v4_err` / `tcp_v6_err`). One
//!   quoting a sequence number not in flight is
//!   [`DropReason::IcmpOutOfWindow`].
//! - Everything else is counted as [`DropReason::IcmpIgnored`]: errors
//!   for no connection of ours, echo replies, requests over the rate.
//!
//! Only the path that is not TCP reaches this module: a TCP segment's
//! parse is unchanged.

use crate::conn::icmp_err::{IcmpEffect, IcmpSignal};
use crate::conn::pmtu::{PathFamily, TooBig};
use crate::time::{Duration, Instant};
use core::net::{IpAddr, Ipv6Addr};

use crate::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, Icmpv4Packet, Icmpv4Repr,
    Icmpv4TcpQuote, Icmpv6Packet, Icmpv6Repr, Icmpv6TcpQuote, IpProtocol, Ipv4Packet, Ipv4Repr,
    Ipv6Repr, NdpNeighborAdvert,
};

use super::{DropReason, Endpoint, EndpointConfig, Io, Medium};
use crate::isn::FourTuple;

/// Echo replies a second at most (Linux `icmp_msgs_per_sec`).
pub const ICMP_PER_SEC: u32 = 1000;
/// Echo replies at once at most (Linux `icmp_msgs_burst`).
pub const ICMP_BURST: u32 = 50;

/// An ICMPv6 error we answer a discarded packet with
/// ([`Endpoint::icmpv6_error`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum Icmpv6Error {
    /// A Parameter Problem (RFC 4443 §3.4), as the extension-header walk
    /// or an unrecognized Next Header gave it.
    Param(wire::ParamProblem),
    /// Destination Unreachable, port unreachable (RFC 4443 §3.1, code 4).
    PortUnreachable,
}

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
        if ip.dst_addr != self.cfg.addr {
            return self.drop_frame(DropReason::NotForUs);
        }
        if ip.protocol != IpProtocol::Icmp {
            self.unreachable_v4(now, link_src, &ip, packet, io);
            return self.drop_frame(DropReason::OtherProtocol);
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
            Icmpv4Repr::DstUnreachable { code, quote, .. } => {
                match IcmpSignal::v4_unreachable(code) {
                    Some(sig) => self.icmp_error_v4(now, sig, quote, io),
                    None => self.drop_frame(DropReason::IcmpIgnored),
                }
            }
            Icmpv4Repr::TimeExceeded { quote, .. } => {
                self.icmp_error_v4(now, IcmpSignal::v4_time_exceeded(), quote, io)
            }
            Icmpv4Repr::ParamProblem { quote, .. } => {
                self.icmp_error_v4(now, IcmpSignal::v4_param_problem(), quote, io)
            }
            _ => self.drop_frame(DropReason::IcmpIgnored),
        }
    }

    /// An ICMP error other than "fragmentation needed", quoting `quote`.
    fn icmp_error_v4<I: Io>(&mut self, now: Instant, sig: IcmpSignal, quote: &[u8], io: &mut I) {
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
        self.icmp_error(now, &tuple, q.seq_number, sig, io);
    }

    /// An ICMP or ICMPv6 error `sig` quoting a segment of `tuple` with
    /// sequence number `seq`: the connection decides
    /// ([`State::on_icmp_error`](crate::State::on_icmp_error)), and its
    /// transition is carried out as a segment's would be.
    fn icmp_error<I: Io>(
        &mut self,
        now: Instant,
        tuple: &FourTuple,
        seq: crate::seq::SeqNum,
        sig: IcmpSignal,
        io: &mut I,
    ) {
        let Some(i) = self.lookup(tuple) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let Some(conn) = self.slots[i as usize].conn.as_ref() else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let before = conn.state;
        let cfg = *self.conn_cfg(tuple.is_ipv6());
        let (t, effect) = before.on_icmp_error(seq, sig, now, &cfg);
        match effect {
            IcmpEffect::NotInFlight => return self.drop_frame(DropReason::IcmpOutOfWindow),
            IcmpEffect::Ignored => return self.drop_frame(DropReason::IcmpIgnored),
            IcmpEffect::Aborted | IcmpEffect::RequestDropped => self.stats.icmp_aborts += 1,
            IcmpEffect::SoftError { reverted } => {
                self.stats.icmp_rto_reverts += u64::from(reverted);
            }
        }
        self.stats.icmp_errors += 1;
        self.apply(i, before.name(), &t, now, io);
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
        self.too_big(
            now,
            &tuple,
            q.seq_number,
            u32::from(mtu),
            PathFamily::V4,
            io,
        );
    }

    /// A "too big" message (ICMP or ICMPv6) quoting a segment of `tuple`
    /// with sequence number `seq`: the connection's MSS follows `mtu`
    /// (`conn/pmtu.rs`) and what is in flight goes again, cut to it.
    fn too_big<I: Io>(
        &mut self,
        now: Instant,
        tuple: &FourTuple,
        seq: crate::seq::SeqNum,
        mtu: u32,
        family: PathFamily,
        io: &mut I,
    ) {
        let tuple = *tuple;
        let Some(i) = self.lookup(&tuple) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let peer_mac = conn.peer_mac;
        match conn.state.on_packet_too_big(seq, mtu, family) {
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

/// The solicited-node multicast address of `a` (RFC 4291 §2.7.1):
/// ff02::1:ffXX:XXXX with its low 24 bits.
pub(super) fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address of IPv6 multicast address `a` (RFC 2464 §7):
/// 33:33 and its low 32 bits.
pub(super) fn multicast_mac(a: Ipv6Addr) -> EthernetAddress {
    let o = a.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The all-nodes multicast address, ff02::1.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

impl Endpoint<'_> {
    /// An ICMPv6 message (`body`, after the IPv6 extension headers) in the
    /// IPv6 packet `ip` that came in `eth`:
    ///
    /// - a neighbor solicitation for our IPv6 address, in own-address mode
    ///   ([`EndpointConfig::answer_arp`]) on Ethernet, is answered with a
    ///   solicited advertisement (RFC 4861 §7.2.4: S and O set, our MAC in
    ///   the target link-layer address option), once it passed the checks of
    ///   §7.1.1 (hop limit 255, code 0, options, checksum, ...); its source
    ///   link-layer address is learnt. A duplicate address detection probe
    ///   (from ::) for our address is answered to all-nodes, S clear;
    /// - a neighbor advertisement with a target link-layer address teaches
    ///   the neighbour cache (and sends the SYNs waiting for it);
    /// - an echo request for our address, as for IPv4: answered when the
    ///   address is ours alone, within the same rate limit;
    /// - a "packet too big" (RFC 8201) quoting a segment of ours lowers its
    ///   connection's MSS, as "fragmentation needed" does for IPv4;
    /// - a destination unreachable, time exceeded or parameter problem
    ///   quoting a segment of ours goes to its connection, as for IPv4;
    /// - anything else is [`DropReason::IcmpIgnored`].
    pub(super) fn handle_icmpv6<I: Io>(
        &mut self,
        now: Instant,
        eth: &EthernetRepr,
        ip: &Ipv6Repr,
        body: &[u8],
        io: &mut I,
    ) {
        let Some(addr6) = self.cfg.addr6 else {
            return self.drop_frame(DropReason::BadIpv6);
        };
        let for_us = ip.dst_addr == addr6 && eth.dst_addr == self.cfg.mac;
        let to_group = ip.dst_addr == solicited_node(addr6)
            && eth.dst_addr == multicast_mac(solicited_node(addr6));
        // All-nodes: advertisements (answers to duplicate address
        // detection, RFC 4861 §7.2.4, and unsolicited ones).
        let to_all = ip.dst_addr == ALL_NODES && eth.dst_addr == multicast_mac(ALL_NODES);
        if !(for_us || to_group || to_all) {
            return self.drop_frame(DropReason::NotForUs);
        }
        let Ok(packet) = Icmpv6Packet::new_checked(body) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let icmp = Icmpv6Repr::parse(&packet, ip.src_addr, ip.dst_addr, ChecksumPolicy::Verify);
        let Ok(icmp) = icmp.and_then(|m| m.check_ndp(ip).map(|()| m)) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        let ethernet = self.cfg.medium == Medium::Ethernet;
        if !self.addr6_usable() {
            return self.icmpv6_tentative(eth, ip, &icmp, addr6);
        }
        match icmp {
            Icmpv6Repr::NeighborSolicit(ns)
                if ethernet && self.cfg.answer_arp && ns.target_addr == addr6 =>
            {
                let dad = ip.src_addr.is_unspecified();
                if !dad {
                    if let Some(mac) = ns.source_lladdr {
                        self.resolved(IpAddr::V6(ip.src_addr), mac, now, io);
                    }
                }
                // RFC 4861 §7.2.4: to the solicitation's source (at its
                // source link-layer address, else the frame's), or, for a
                // duplicate address detection probe, to all-nodes.
                let (dst, mac) = if dad {
                    (ALL_NODES, multicast_mac(ALL_NODES))
                } else {
                    (ip.src_addr, ns.source_lladdr.unwrap_or(eth.src_addr))
                };
                let na = Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                    router_flag: false,
                    solicited_flag: !dad,
                    override_flag: true,
                    target_addr: addr6,
                    target_lladdr: Some(self.cfg.mac),
                });
                if self.send_icmpv6(mac, dst, 255, &na, io) {
                    self.stats.nd_adverts += 1;
                }
            }
            Icmpv6Repr::NeighborAdvert(na) if ethernet && na.target_addr != addr6 => {
                match na.target_lladdr {
                    Some(mac) => self.resolved(IpAddr::V6(na.target_addr), mac, now, io),
                    None => self.drop_frame(DropReason::IcmpIgnored),
                }
            }
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if for_us && owns_address(&self.cfg) => {
                if !self.icmp_limit.take(now) {
                    return self.drop_frame(DropReason::IcmpIgnored);
                }
                let reply = Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                if self.send_icmpv6(eth.src_addr, ip.src_addr, 64, &reply, io) {
                    self.stats.icmp_sent += 1;
                }
            }
            Icmpv6Repr::PacketTooBig { mtu, quote } if for_us => {
                let Ok(q) = Icmpv6TcpQuote::parse(quote) else {
                    return self.drop_frame(DropReason::IcmpIgnored);
                };
                if q.src_addr != addr6 {
                    return self.drop_frame(DropReason::IcmpIgnored);
                }
                let tuple = FourTuple {
                    local_addr: addr6.into(),
                    local_port: q.src_port,
                    remote_addr: q.dst_addr.into(),
                    remote_port: q.dst_port,
                };
                self.too_big(now, &tuple, q.seq_number, mtu, PathFamily::V6, io);
            }
            Icmpv6Repr::DstUnreachable { code, quote } if for_us => {
                self.icmp_error_v6(now, addr6, IcmpSignal::v6_unreachable(code), quote, io);
            }
            Icmpv6Repr::TimeExceeded { quote, .. } if for_us => {
                self.icmp_error_v6(now, addr6, IcmpSignal::v6_time_exceeded(), quote, io);
            }
            Icmpv6Repr::ParamProblem { quote, .. } if for_us => {
                self.icmp_error_v6(now, addr6, IcmpSignal::v6_param_problem(), quote, io);
            }
            _ => self.drop_frame(DropReason::IcmpIgnored),
        }
    }

    /// An ICMPv6 message while our address is tentative or a duplicate
    /// (RFC 4862 §5.4.3, §5.4.4): an advertisement of the address, or
    /// another node's probe for it (a solicitation from `::`), is a
    /// conflict; everything else is dropped unanswered (a solicitation
    /// from a unicast source included: the address is not ours yet).
    fn icmpv6_tentative(
        &mut self,
        eth: &EthernetRepr,
        ip: &Ipv6Repr,
        icmp: &Icmpv6Repr<'_>,
        addr6: Ipv6Addr,
    ) {
        let tentative = self.dad.state == super::Addr6State::Tentative;
        match icmp {
            Icmpv6Repr::NeighborSolicit(ns)
                if tentative && ns.target_addr == addr6 && ip.src_addr.is_unspecified() =>
            {
                self.dad_conflict(eth.src_addr)
            }
            Icmpv6Repr::NeighborAdvert(na) if tentative && na.target_addr == addr6 => {
                self.dad_conflict(na.target_lladdr.unwrap_or(eth.src_addr))
            }
            _ => self.drop_frame(DropReason::NotForUs),
        }
    }

    /// An ICMPv6 error other than "packet too big", quoting `quote`.
    fn icmp_error_v6<I: Io>(
        &mut self,
        now: Instant,
        addr6: Ipv6Addr,
        sig: IcmpSignal,
        quote: &[u8],
        io: &mut I,
    ) {
        let Ok(q) = Icmpv6TcpQuote::parse(quote) else {
            return self.drop_frame(DropReason::IcmpIgnored);
        };
        if q.src_addr != addr6 {
            return self.drop_frame(DropReason::IcmpIgnored);
        }
        let tuple = FourTuple {
            local_addr: addr6.into(),
            local_port: q.src_port,
            remote_addr: q.dst_addr.into(),
            remote_port: q.dst_port,
        };
        self.icmp_error(now, &tuple, q.seq_number, sig, io);
    }

    /// Answers an IPv4 datagram to our address of a protocol we do not
    /// serve (RFC 1122 §3.2.2.1: "protocol unreachable" when the transport
    /// protocol is not supported, "port unreachable" for UDP, which has no
    /// port open here): in own-address mode only, never for a fragment
    /// (we reassemble none), nor to a source that is not one host (RFC 1122
    /// §3.2.2: broadcast, multicast, 0.0.0.0), within the ICMP rate limit;
    /// quoting as much of the datagram as fits in 576 bytes, as Linux
    /// `icmp_send`.
    fn unreachable_v4<I: Io>(
        &mut self,
        now: Instant,
        link_src: EthernetAddress,
        ip: &Ipv4Repr,
        packet: &[u8],
        io: &mut I,
    ) {
        let src = ip.src_addr;
        if !owns_address(&self.cfg)
            || ip.frag_offset != 0
            || ip.more_frags
            || src.is_unspecified()
            || src.is_broadcast()
            || src.is_multicast()
            || !self.icmp_limit.take(now)
        {
            return;
        }
        let code = if ip.protocol == IpProtocol::Udp { 3 } else { 2 };
        let quote = &packet[..packet.len().min(576 - 28)];
        let msg = Icmpv4Repr::DstUnreachable {
            code,
            next_hop_mtu: 0,
            quote,
        };
        self.send_icmp(link_src, ip, &msg, io);
    }

    /// Answers an IPv6 packet to our address that we discard with the
    /// ICMPv6 error `err` (RFC 4443 §2.4): only in own-address mode (the
    /// kernel answers for a shared address), only for a packet to our
    /// unicast address (never its multicast groups, so a Parameter Problem
    /// "unless multicast" is covered) from a unicast source, once our
    /// address is usable, within the ICMP rate limit; quoting as much of
    /// the packet as fits in the IPv6 minimum MTU (1280 bytes in all).
    pub(super) fn icmpv6_error<I: Io>(
        &mut self,
        now: Instant,
        eth: &EthernetRepr,
        ip: &Ipv6Repr,
        packet: &[u8],
        err: Icmpv6Error,
        io: &mut I,
    ) {
        let Some(addr6) = self.cfg.addr6 else {
            return;
        };
        let send = match err {
            Icmpv6Error::Param(p) => p.send != wire::IcmpSend::Never,
            Icmpv6Error::PortUnreachable => true,
        };
        let src = ip.src_addr;
        if !send
            || !owns_address(&self.cfg)
            || !self.addr6_usable()
            || ip.dst_addr != addr6
            || src.is_unspecified()
            || src.is_multicast()
            || !self.icmp_limit.take(now)
        {
            return;
        }
        // RFC 4443 §2.4 (c): the quote leaves the message within 1280 bytes
        // (40 of IPv6 header, 8 of ICMPv6 header).
        let quote = &packet[..packet.len().min(1280 - 48)];
        let msg = match err {
            Icmpv6Error::Param(p) => Icmpv6Repr::ParamProblem {
                code: u8::from(p.code),
                pointer: p.pointer,
                quote,
            },
            Icmpv6Error::PortUnreachable => Icmpv6Repr::DstUnreachable { code: 4, quote },
        };
        if self.send_icmpv6(eth.src_addr, src, 64, &msg, io) {
            self.stats.icmp_sent += 1;
        }
    }

    /// Sends an ICMPv6 message from our IPv6 address to `dst` (at link
    /// address `link_dst`), with hop limit `hop_limit`. Returns whether it
    /// was written.
    pub(super) fn send_icmpv6<I: Io>(
        &mut self,
        link_dst: EthernetAddress,
        dst: Ipv6Addr,
        hop_limit: u8,
        icmp: &Icmpv6Repr<'_>,
        io: &mut I,
    ) -> bool {
        let Some(src) = self.cfg.addr6 else {
            return false;
        };
        let written = send_icmpv6(&self.cfg, src, link_dst, dst, hop_limit, icmp, io);
        match written {
            Some(true) => self.stats.tx_frames += 1,
            Some(false) => {}
            None => self.drop_frame(DropReason::TxNoRoom),
        }
        written == Some(true)
    }
}

/// Writes an ICMPv6 message from `src` in a frame of `cfg`'s medium:
/// `None` when no buffer was lent, else whether it was written.
pub(super) fn send_icmpv6<I: Io>(
    cfg: &EndpointConfig,
    src: Ipv6Addr,
    link_dst: EthernetAddress,
    dst: Ipv6Addr,
    hop_limit: u8,
    icmp: &Icmpv6Repr<'_>,
    io: &mut I,
) -> Option<bool> {
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::from(wire::NEXT_HEADER_ICMPV6),
        payload_len: icmp.buffer_len(),
        hop_limit,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let link = match cfg.medium {
        Medium::Ethernet => EthernetRepr::HEADER_LEN,
        Medium::Ip => 0,
    };
    let buf = io.tx(link + ip.buffer_len())?;
    let written = super::output::frame_v6(buf, link, cfg.mac, link_dst, &ip).and_then(|body| {
        icmp.emit(&mut Icmpv6Packet::new_unchecked(body), src, dst)
            .ok()
    });
    Some(written.is_some())
}
