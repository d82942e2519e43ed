//! Demultiplexing: a received frame is parsed, ARP for our address is
//! answered (and teaches the neighbour cache), and a TCP segment is checked
//! for its addresses and handed to its connection (found by its 4-tuple
//! first, whatever its port), to LISTEN when its port has a listener (its
//! own or the any-port one, `endpoint/listeners.rs`), or answered with the
//! reset of a closed port.

use crate::conn::{reset_for, IpEcn, SegmentDrop};
use crate::isn::FourTuple;
use crate::time::Instant;
use crate::wire::{
    self, ArpOperation, ArpRepr, ChecksumPolicy, EtherType, EthernetAddress, EthernetFrame,
    EthernetRepr, Frame, IpPair, IpProtocol, Ipv6ExtError, Ipv6Packet, Ipv6Repr, TcpPacket,
    TcpRepr,
};

use core::net::IpAddr;

use super::icmp::Icmpv6Error;
use super::neighbor::NO_LINK;
use super::output::ETHERTYPE_IPV6;

/// What the TCP path needs of the IP header, of either family.
pub(super) struct IpMeta {
    /// The source address.
    src: IpAddr,
    /// The destination is our address (of the source's family).
    to_us: bool,
    /// The ECN field (IPv4 TOS, IPv6 traffic class).
    ecn: u8,
}
use super::{DropReason, Endpoint, Io, Medium};

impl Endpoint<'_> {
    pub(super) fn drop_frame(&mut self, why: DropReason) {
        self.stats.drops[why as usize] += 1;
    }

    /// One received frame: a whole Ethernet frame, or with
    /// [`Medium::Ip`] a bare IPv4 (or IPv6) packet. `tcp_checksum` says whether to
    /// verify the TCP checksum ([`ChecksumPolicy::Skip`] when the kernel
    /// reports it valid, or not yet filled in on veth and loopback).
    pub fn handle_frame<I: Io>(
        &mut self,
        now: Instant,
        frame: &[u8],
        tcp_checksum: ChecksumPolicy,
        io: &mut I,
    ) {
        self.stats.rx_frames += 1;
        let parsed = match self.cfg.medium {
            Medium::Ethernet => wire::parse_frame(frame, tcp_checksum),
            // A TUN device carries both families: the version nibble says.
            Medium::Ip if frame.first().is_some_and(|b| b >> 4 == 6) => {
                let eth = EthernetRepr {
                    src_addr: NO_LINK,
                    dst_addr: self.cfg.mac,
                    ethertype: EtherType::Unknown(ETHERTYPE_IPV6),
                };
                return self.handle_ipv6(now, &eth, frame, tcp_checksum, io);
            }
            // No link layer: the packet is taken as if it came in a frame
            // from the link's one peer (`NO_LINK`) to us, which is what
            // the address checks and the connections then see.
            Medium::Ip => wire::parse_ip_packet(frame, tcp_checksum).map(|(ip, tcp)| Frame::Tcp {
                eth: EthernetRepr {
                    src_addr: NO_LINK,
                    dst_addr: self.cfg.mac,
                    ethertype: EtherType::Ipv4,
                },
                ip,
                tcp,
            }),
        };
        let parsed = match parsed {
            Ok(f) => f,
            // Not TCP: ICMP is looked at (`endpoint/icmp.rs`), off the
            // TCP path.
            Err(wire::FrameError::UnsupportedProtocol(_)) => {
                return self.handle_not_tcp(now, frame, io);
            }
            // IPv6 (`handle_ipv6`), off the IPv4 path.
            Err(wire::FrameError::UnsupportedEtherType(ETHERTYPE_IPV6)) => {
                let eth = EthernetFrame::new_checked(frame)
                    .ok()
                    .and_then(|f| EthernetRepr::parse(&f).ok());
                let (Some(eth), Some(packet)) = (eth, frame.get(EthernetRepr::HEADER_LEN..)) else {
                    return self.drop_frame(DropReason::BadEthernet);
                };
                return self.handle_ipv6(now, &eth, packet, tcp_checksum, io);
            }
            Err(e) => return self.drop_frame(DropReason::from_frame_error(&e)),
        };
        match parsed {
            Frame::Arp { eth, arp } => self.handle_arp(now, &eth, &arp, io),
            Frame::Tcp { eth, ip, tcp } => {
                let ip = IpMeta {
                    src: IpAddr::V4(ip.src_addr),
                    to_us: ip.dst_addr == self.cfg.addr,
                    ecn: ip.ecn,
                };
                self.handle_tcp(now, &eth, &ip, &tcp, io)
            }
        }
    }

    /// An IPv6 packet (`packet`: from its IPv6 header on) that came in
    /// `eth`: its extension headers are walked (RFC 8200 §4; a fragment is
    /// dropped as IPv4 fragments are, a malformed header is
    /// [`DropReason::BadIpv6`]), then TCP goes to [`Endpoint::handle_tcp`]
    /// with the checksum over the IPv6 pseudo-header, and ICMPv6 to
    /// `endpoint/icmp.rs`.
    fn handle_ipv6<I: Io>(
        &mut self,
        now: Instant,
        eth: &EthernetRepr,
        packet: &[u8],
        tcp_checksum: ChecksumPolicy,
        io: &mut I,
    ) {
        let Some(addr6) = self.cfg.addr6 else {
            return self.drop_frame(DropReason::BadIpv6);
        };
        let Ok(ip_packet) = Ipv6Packet::new_checked(packet) else {
            return self.drop_frame(DropReason::BadIpv6);
        };
        let Ok(ip) = Ipv6Repr::parse(&ip_packet) else {
            return self.drop_frame(DropReason::BadIpv6);
        };
        let upper = match wire::walk_ext_headers(ip.next_header.into(), ip_packet.payload()) {
            Ok(u) => u,
            Err(Ipv6ExtError::Fragment { .. }) => return self.drop_frame(DropReason::Fragment),
            Err(Ipv6ExtError::ParameterProblem(p)) => {
                // RFC 8200 §4.2-§4.4: the packet is discarded, and
                // answered with a Parameter Problem as the error says.
                self.icmpv6_error(now, eth, &ip, packet, Icmpv6Error::Param(p), io);
                return self.drop_frame(DropReason::BadIpv6);
            }
            Err(_) => return self.drop_frame(DropReason::BadIpv6),
        };
        match upper.protocol {
            // A tentative address (`endpoint/dad.rs`) is not ours yet
            // (RFC 4862 §5.4: "not assigned to an interface").
            IpProtocol::Tcp if !self.addr6_usable() => self.drop_frame(DropReason::NotForUs),
            IpProtocol::Tcp => {
                let pair = IpPair::V6 {
                    src: ip.src_addr,
                    dst: ip.dst_addr,
                };
                let tcp = TcpPacket::new_checked(upper.payload)
                    .and_then(|p| TcpRepr::parse_ip(&p, pair, tcp_checksum));
                let tcp = match tcp {
                    Ok(t) => t,
                    Err(e) => {
                        return self
                            .drop_frame(DropReason::from_frame_error(&wire::FrameError::Tcp(e)))
                    }
                };
                let meta = IpMeta {
                    src: IpAddr::V6(ip.src_addr),
                    to_us: ip.dst_addr == addr6,
                    ecn: ip.ecn,
                };
                self.handle_tcp(now, eth, &meta, &tcp, io);
            }
            IpProtocol::Unknown(wire::NEXT_HEADER_ICMPV6) => {
                self.handle_icmpv6(now, eth, &ip, upper.payload, io)
            }
            // RFC 8200 §4.7: nothing follows No Next Header.
            IpProtocol::Unknown(wire::NEXT_HEADER_NONE) => {
                self.drop_frame(DropReason::OtherProtocol)
            }
            // UDP to a port nobody listens on (we serve TCP only): port
            // unreachable (RFC 4443 §3.1 code 4; Linux `udpv6_rcv`).
            IpProtocol::Udp => {
                self.icmpv6_error(now, eth, &ip, packet, Icmpv6Error::PortUnreachable, io);
                self.drop_frame(DropReason::OtherProtocol)
            }
            // RFC 8200 §4: an unrecognized Next Header: Parameter Problem
            // code 1, pointing at the field that names it (Linux
            // `ip6_protocol_deliver_rcu`).
            _ => {
                let p = wire::ParamProblem {
                    code: wire::ParamProblemCode::UnrecognizedNextHeader,
                    pointer: u32::try_from(upper.next_header_pointer).unwrap_or(u32::MAX),
                    send: wire::IcmpSend::Always,
                };
                self.icmpv6_error(now, eth, &ip, packet, Icmpv6Error::Param(p), io);
                self.drop_frame(DropReason::OtherProtocol)
            }
        }
    }

    fn handle_arp<I: Io>(&mut self, now: Instant, eth: &EthernetRepr, arp: &ArpRepr, io: &mut I) {
        // A request or reply addressed to us tells where its sender is (RFC
        // 826: "the sender's ... pair is merged into the table"); connections
        // waiting for that neighbour send their SYN now.
        if arp.target_protocol_addr == self.cfg.addr
            && matches!(arp.operation, ArpOperation::Request | ArpOperation::Reply)
            && arp.source_protocol_addr != self.cfg.addr
        {
            self.resolved(
                arp.source_protocol_addr.into(),
                arp.source_hardware_addr,
                now,
                io,
            );
        }
        if !self.cfg.answer_arp
            || arp.operation != ArpOperation::Request
            || arp.target_protocol_addr != self.cfg.addr
        {
            return self.drop_frame(DropReason::ArpIgnored);
        }
        let reply = ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: self.cfg.mac,
            source_protocol_addr: self.cfg.addr,
            target_hardware_addr: arp.source_hardware_addr,
            target_protocol_addr: arp.source_protocol_addr,
        };
        let eth = EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: eth.src_addr,
            ethertype: EtherType::Arp,
        };
        // ARP frames are padded to the Ethernet minimum of 60 bytes.
        match io.tx(60) {
            Some(buf) => {
                if wire::emit_arp_frame(buf, &eth, &reply).is_ok() {
                    self.stats.tx_frames += 1;
                }
            }
            None => self.drop_frame(DropReason::TxNoRoom),
        }
    }

    /// A TCP segment: checked for its addresses, then handed to its
    /// connection, to LISTEN, or answered as a segment to a closed port.
    fn handle_tcp<I: Io>(
        &mut self,
        now: Instant,
        eth: &EthernetRepr,
        ip: &IpMeta,
        tcp: &TcpRepr<'_>,
        io: &mut I,
    ) {
        let local_addr = match (ip.src, self.cfg.addr6) {
            (IpAddr::V6(_), Some(a)) => IpAddr::V6(a),
            _ => IpAddr::V4(self.cfg.addr),
        };
        let tuple = FourTuple {
            local_addr,
            local_port: tcp.dst_port,
            remote_addr: ip.src,
            remote_port: tcp.src_port,
        };
        // The table first: a connection we opened has a port of its own,
        // not a listening port.
        let found = self.lookup(&tuple);
        // The listeners are looked at only for a segment of no connection.
        let listened = found.is_none() && self.listeners.find(tcp.dst_port).is_some();
        if let Err(why) = self.screen(eth, ip, found.is_some() || listened) {
            return self.drop_frame(why);
        }
        // RFC 3168: the IP header's ECN field goes with the segment.
        let ecn = IpEcn::from_bits(ip.ecn);
        match found {
            Some(i) => self.segment_for_conn(i, now, eth.src_addr, &tuple, tcp, ecn, io),
            None if !listened => self.closed_port(&tuple, eth.src_addr, tcp, io),
            None => self.listen_segment(now, eth.src_addr, &tuple, tcp, ecn, None, io),
        }
    }

    /// Whether a segment is addressed to us and comes from an address that
    /// can be a peer; the reason to drop it if not. `ours`: its port has a
    /// connection or a listener (other ports are ours only in own-address
    /// mode, `reset_other_ports`).
    fn screen(&self, eth: &EthernetRepr, ip: &IpMeta, ours: bool) -> Result<(), DropReason> {
        if eth.dst_addr != self.cfg.mac || !ip.to_us || (!ours && !self.cfg.reset_other_ports) {
            return Err(DropReason::NotForUs);
        }
        // RFC 9293 §3.10.7.2: a SYN from a broadcast or multicast address is
        // ignored; so is any segment from an address that cannot be a peer.
        // RFC 1122 §3.2.1.3 (g): loopback addresses "MUST NOT appear outside
        // a host", and a datagram from one MUST be silently discarded. Our
        // own address as the source is a LAND attack (a SYN-ACK to
        // ourselves): Linux drops that "martian source" in
        // `fib_validate_source`.
        let bad = match ip.src {
            IpAddr::V4(src) => {
                src.is_broadcast()
                    || src.is_multicast()
                    || src.is_unspecified()
                    || src.is_loopback()
                    || src == self.cfg.addr
            }
            // RFC 4291 §2.5.2, §2.5.3, §2.7: the unspecified and loopback
            // addresses and multicast are never a source of TCP.
            IpAddr::V6(src) => {
                src.is_multicast()
                    || src.is_unspecified()
                    || src.is_loopback()
                    || Some(src) == self.cfg.addr6
            }
        };
        if bad || eth.src_addr.is_multicast() {
            return Err(DropReason::BadSource);
        }
        Ok(())
    }

    /// Own-address mode: nothing else listens on this address, so every
    /// other port is CLOSED. RFC 9293 §3.10.7.1: "all data in the incoming
    /// segment is discarded. An incoming segment containing a RST is
    /// discarded. An incoming segment not containing a RST causes a RST to
    /// be sent in response." The reset carries no data or options, so it is
    /// never larger than what it answers; like Linux (`tcp_v4_send_reset`,
    /// which the kernel sends for a closed port without a rate limit), it is
    /// not rate-limited.
    fn closed_port<I: Io>(
        &mut self,
        tuple: &FourTuple,
        mac: EthernetAddress,
        tcp: &TcpRepr<'_>,
        io: &mut I,
    ) {
        self.drop_frame(DropReason::NoConnection);
        if let Some(rst) = reset_for(tcp) {
            self.stats.resets_sent += 1;
            self.emit(tuple, mac, &rst, io);
        }
    }

    /// A segment for the connection in slot `i`: its transition is carried
    /// out, or, for a SYN that opens a new incarnation from TIME-WAIT, the
    /// old one ends and LISTEN takes the SYN. `ecn`: the IP header's ECN
    /// field.
    #[allow(clippy::too_many_arguments)]
    fn segment_for_conn<I: Io>(
        &mut self,
        i: u32,
        now: Instant,
        mac: EthernetAddress,
        tuple: &FourTuple,
        tcp: &TcpRepr<'_>,
        ecn: IpEcn,
        io: &mut I,
    ) {
        if self.accept_overflow(i, tcp) {
            return self.drop_frame(DropReason::AcceptQueueFull);
        }
        let cfg = *self.conn_cfg(tuple.is_ipv6());
        let (conn, mut rx) = self.rx_buf(i);
        let Some(conn) = conn.as_mut() else {
            return;
        };
        // The state changes in place (`State::on_segment_mut`): what the
        // endpoint needs of it before is taken first.
        let from = conn.state.name();
        let rcv_nxt = conn.state.rcv_nxt();
        let (u0, s0, _) = crate::conn::send::undo_counts(&conn.state);
        let t = conn.state.on_segment_mut(tcp, ecn, now, &cfg, &mut rx);
        // Only a segment the connection took (not one dropped as out of
        // window, PAWS-old or with a bad ACK, which anyone who knows
        // the 4-tuple can send) shows that the peer is there and where
        // it is: it alone refreshes the idle timer and the peer's MAC.
        // A keepalive probe (RFC 9293 §3.8.4: SEG.SEQ = RCV.NXT - 1,
        // at most one byte) is dropped as old, yet comes from a live
        // peer.
        let keepalive = t.dropped == Some(SegmentDrop::OutOfWindow)
            && tcp.payload.len() <= 1
            && rcv_nxt.is_some_and(|n| tcp.seq_number == n - 1u32);
        if t.dropped.is_none() && conn.peer_mac != mac {
            // The peer moved, or an active open learns its next hop from
            // the peer's answer: the neighbour cache learns it too.
            conn.peer_mac = mac;
            let hop = super::neighbor::next_hop(&self.cfg, tuple.remote_addr);
            self.neighbors.learn(hop, mac);
        }
        let Some(conn) = self.slots[i as usize].conn.as_mut() else {
            return;
        };
        if t.dropped.is_none() || keepalive {
            conn.last_rx = now;
        }
        if let Some(d) = t.dropped {
            self.drop_frame(DropReason::from_segment_drop(d));
        }
        if let Some(iss) = t.reopen {
            if self.listeners.find(tuple.local_port).is_none() {
                // No listener for its port (one we opened, or one no
                // longer listened on): no new incarnation; TIME-WAIT
                // stays as it was.
                return self.drop_frame(DropReason::NoConnection);
            }
            // A new incarnation from TIME-WAIT (RFC 6191): the old one
            // ends, and the SYN goes to LISTEN.
            self.end_time_wait(i, now, io);
            return self.listen_segment(now, mac, tuple, tcp, ecn, Some(iss), io);
        }
        // Undos and spurious retransmissions the segment showed.
        let Some(conn) = self.slots[i as usize].conn.as_ref() else {
            return;
        };
        let (u1, s1, _) = crate::conn::send::undo_counts(&conn.state);
        self.stats.undos += u64::from(u1.saturating_sub(u0));
        self.stats.spurious_retransmits += u64::from(s1.saturating_sub(s0));
        self.apply_in_place(i, from, &t, now, io);
    }
}
