//! The IPv6, ICMPv4, ICMPv6 and NDP codecs on packets Linux sent
//! (`data/captures_ip6_icmp.rs`): every field as tcpdump printed it,
//! checksums verified, and what we emit from the parsed values equal to the
//! captured bytes; etherparse agrees on the checksums.

#[path = "data/captures_ip6_icmp.rs"]
mod cap;

use core::net::{Ipv4Addr, Ipv6Addr};

use tcpcore::wire::{
    checksum, ChecksumPolicy, EthernetAddress, Icmpv4Error, Icmpv4Packet, Icmpv4Repr,
    Icmpv4TcpQuote, Icmpv6Error, Icmpv6Packet, Icmpv6Repr, Icmpv6TcpQuote, IpPair, IpProtocol,
    Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, NdpNeighborAdvert, NdpNeighborSolicit, TcpControl,
    TcpPacket, TcpRepr, NEXT_HEADER_ICMPV6,
};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
const MAC_A: EthernetAddress = EthernetAddress([0xa2, 0x0b, 0x20, 0x80, 0x4a, 0x71]);
const MAC_B: EthernetAddress = EthernetAddress([0xb2, 0x47, 0x44, 0xe6, 0x1f, 0x4a]);

/// The IPv6 header, the upper layer's protocol and bytes.
fn ipv6(packet: &[u8]) -> (Ipv6Repr, IpProtocol, &[u8]) {
    let p = Ipv6Packet::new_checked(packet).unwrap();
    let r = Ipv6Repr::parse(&p).unwrap();
    let up = p.upper_layer().unwrap();
    (r, up.protocol, up.payload)
}

/// Parses the ICMPv6 message of `packet` with its checksum verified, checks
/// that etherparse finds the checksum right too, and that emitting the
/// parsed value gives the captured bytes back (when `exact`).
fn icmpv6(packet: &[u8], exact: bool) -> (Ipv6Repr, Result<Icmpv6Repr<'_>, Icmpv6Error>) {
    let (ip, proto, msg) = ipv6(packet);
    assert_eq!(proto, IpProtocol::Unknown(NEXT_HEADER_ICMPV6));
    let s = etherparse::Icmpv6Slice::from_slice(msg).unwrap();
    assert!(s.is_checksum_valid(ip.src_addr.octets(), ip.dst_addr.octets()));
    let p = Icmpv6Packet::new_checked(msg).unwrap();
    assert!(p.verify_checksum(ip.src_addr, ip.dst_addr));
    let r = Icmpv6Repr::parse(&p, ip.src_addr, ip.dst_addr, ChecksumPolicy::Verify);
    if let (Ok(r), true) = (r, exact) {
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(
            &mut Icmpv6Packet::new_unchecked(&mut out[..]),
            ip.src_addr,
            ip.dst_addr,
        )
        .unwrap();
        assert_eq!(out, msg);
        // And the whole packet.
        let mut whole = vec![0u8; ip.buffer_len()];
        ip.emit(&mut Ipv6Packet::new_unchecked(&mut whole[..]))
            .unwrap();
        whole[40..].copy_from_slice(&out);
        assert_eq!(whole, packet);
    }
    (ip, r)
}

#[test]
fn mld_report_behind_hop_by_hop() {
    let p = Ipv6Packet::new_checked(cap::MLD_REPORT_HBH).unwrap();
    let ip = Ipv6Repr::parse(&p).unwrap();
    assert_eq!(ip.next_header, IpProtocol::Unknown(0));
    assert_eq!(ip.hop_limit, 1);
    assert_eq!(ip.payload_len, 56);
    assert_eq!(ip.dst_addr, "ff02::16".parse::<Ipv6Addr>().unwrap());
    // The Hop-by-Hop header's Router Alert (MLD, value 0) is known and
    // skipped; the PadN after it too.
    let up = p.upper_layer().unwrap();
    assert_eq!(up.protocol, IpProtocol::Unknown(58));
    assert_eq!((up.offset, up.next_header_pointer), (48, 40));
    let msg = up.payload;
    assert!(Icmpv6Packet::new_checked(msg)
        .unwrap()
        .verify_checksum(ip.src_addr, ip.dst_addr));
    // Type 143 is not handled.
    assert_eq!(
        Icmpv6Repr::parse(
            &Icmpv6Packet::new_unchecked(msg),
            ip.src_addr,
            ip.dst_addr,
            ChecksumPolicy::Verify
        ),
        Err(Icmpv6Error::UnknownType)
    );
    // etherparse walks to the same place.
    let (_, next, rest) =
        etherparse::Ipv6ExtensionsSlice::from_slice(etherparse::IpNumber(0), p.payload()).unwrap();
    assert_eq!((next.0, rest), (58, msg));
}

#[test]
fn router_solicitation_is_unknown() {
    let (ip, r) = icmpv6(cap::ROUTER_SOLICIT, true);
    assert_eq!(ip.hop_limit, 255);
    assert_eq!(r, Err(Icmpv6Error::UnknownType));
}

#[test]
fn neighbor_solicitation() {
    let (ip, r) = icmpv6(cap::NS_SLLA, true);
    assert_eq!((ip.src_addr, ip.hop_limit), (A, 255));
    assert_eq!(ip.dst_addr, "ff02::1:ff00:2".parse::<Ipv6Addr>().unwrap());
    assert_eq!(
        r,
        Ok(Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
            target_addr: B,
            source_lladdr: Some(MAC_A),
        }))
    );
    assert_eq!(r.unwrap().check_ndp(&ip), Ok(()));
}

#[test]
fn duplicate_address_detection_with_nonce() {
    // From ::, no source link-layer option, a nonce option (type 14) that
    // is skipped: emitting gives 24 bytes, not the captured 32.
    let (ip, r) = icmpv6(cap::NS_DAD_NONCE, false);
    assert_eq!(ip.src_addr, Ipv6Addr::UNSPECIFIED);
    assert_eq!(
        r,
        Ok(Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
            target_addr: "fe80::b047:44ff:fee6:1f4a".parse().unwrap(),
            source_lladdr: None,
        }))
    );
    assert_eq!(r.unwrap().buffer_len(), 24);
    assert_eq!(r.unwrap().check_ndp(&ip), Ok(()));
}

#[test]
fn neighbor_advertisements() {
    let (ip, r) = icmpv6(cap::NA_SO_TLLA, true);
    assert_eq!((ip.src_addr, ip.dst_addr), (B, A));
    assert_eq!(
        r,
        Ok(Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
            router_flag: false,
            solicited_flag: true,
            override_flag: true,
            target_addr: B,
            target_lladdr: Some(MAC_B),
        }))
    );
    assert_eq!(r.unwrap().check_ndp(&ip), Ok(()));
    let (ip, r) = icmpv6(cap::NA_S_NO_OPTION, true);
    assert_eq!(r.unwrap().check_ndp(&ip), Ok(()));
    assert_eq!(
        r,
        Ok(Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
            router_flag: false,
            solicited_flag: true,
            override_flag: false,
            target_addr: A,
            target_lladdr: None,
        }))
    );
}

#[test]
fn echo_over_ipv6() {
    let (ip, r) = icmpv6(cap::ECHO6_REQUEST, true);
    assert_eq!((ip.src_addr, ip.dst_addr, ip.hop_limit), (A, B, 64));
    assert_eq!(ip.flow_label, 0x6b1f3);
    assert_eq!(
        r,
        Ok(Icmpv6Repr::EchoRequest {
            ident: 4660,
            seq_no: 1,
            data: b"aaaaaaaa"
        })
    );
    let (ip, r) = icmpv6(cap::ECHO6_REPLY, true);
    assert_eq!(ip.flow_label, 0xfb182);
    assert_eq!(
        r,
        Ok(Icmpv6Repr::EchoReply {
            ident: 4660,
            seq_no: 1,
            data: b"aaaaaaaa"
        })
    );
}

#[test]
fn icmpv6_port_unreachable_quote() {
    let (_, r) = icmpv6(cap::ICMP6_PORT_UNREACHABLE, true);
    let r = r.unwrap();
    let Icmpv6Repr::DstUnreachable { code, quote } = r else {
        panic!("{r:?}");
    };
    assert_eq!(code, 4);
    assert_eq!(quote.len(), 50);
    // It quotes UDP, not TCP.
    assert_eq!(Icmpv6TcpQuote::parse(quote), Err(Icmpv6Error::QuoteNotTcp));
    // The same bytes read as TCP: ports and the next four bytes.
    let mut as_tcp = quote.to_vec();
    as_tcp[6] = 6;
    let q = Icmpv6TcpQuote::parse(&as_tcp).unwrap();
    assert_eq!((q.src_addr, q.dst_addr), (A, B));
    assert_eq!((q.src_port, q.dst_port), (35834, 9));
    assert_eq!(q.seq_number.get(), 0x000a_4024);
}

#[test]
fn tcp_over_ipv6() {
    for (packet, control, seq) in [
        (cap::TCP6_SYN, TcpControl::Syn, 3852113389u32),
        (cap::TCP6_SYN_ACK, TcpControl::Syn, 519021058),
    ] {
        let (ip, proto, seg) = ipv6(packet);
        assert_eq!(proto, IpProtocol::Tcp);
        let pair = IpPair::V6 {
            src: ip.src_addr,
            dst: ip.dst_addr,
        };
        // Captured on the sending side of a veth with checksum offload:
        // the field holds the folded pseudo-header sum (CHECKSUM_PARTIAL),
        // which is exactly ours.
        let p = TcpPacket::new_checked(seg).unwrap();
        let len = seg.len() as u32;
        assert_eq!(
            p.checksum(),
            checksum::pseudo_header_v6(ip.src_addr, ip.dst_addr, 6, len)
        );
        assert!(!p.verify_checksum_ip(pair));
        // Filled in, it is what etherparse computes.
        let mut fixed = seg.to_vec();
        TcpPacket::new_unchecked(&mut fixed[..]).fill_checksum_ip(pair);
        let (h, data) = etherparse::TcpHeader::from_slice(&fixed).unwrap();
        let theirs = h
            .calc_checksum_ipv6_raw(ip.src_addr.octets(), ip.dst_addr.octets(), data)
            .unwrap();
        let p = TcpPacket::new_checked(&fixed[..]).unwrap();
        assert_eq!(p.checksum(), theirs);
        assert!(p.verify_checksum_ip(pair));
        let r = TcpRepr::parse_ip(&p, pair, ChecksumPolicy::Verify).unwrap();
        assert_eq!((r.control, r.seq_number.get()), (control, seq));
        assert_eq!(r.options.mss, Some(1440));
        let mut out = vec![0u8; r.buffer_len()];
        r.emit_ip(&mut TcpPacket::new_unchecked(&mut out[..]), pair)
            .unwrap();
        assert_eq!(out, fixed);
        // The IPv4 pseudo-header does not fit.
        assert!(!p.verify_checksum(Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)));
    }
}

/// The ICMPv4 message of an IPv4 packet, checked as `icmpv6` does.
fn icmpv4(packet: &[u8]) -> (Ipv4Repr, Icmpv4Repr<'_>) {
    let p = Ipv4Packet::new_checked(packet).unwrap();
    let ip = Ipv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
    assert_eq!(ip.protocol, IpProtocol::Icmp);
    let msg = p.payload();
    let s = etherparse::Icmpv4Slice::from_slice(msg).unwrap();
    assert_eq!(s.icmp_type().calc_checksum(s.payload()), s.checksum());
    let r = Icmpv4Repr::parse(
        &Icmpv4Packet::new_checked(msg).unwrap(),
        ChecksumPolicy::Verify,
    )
    .unwrap();
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
        .unwrap();
    assert_eq!(out, msg);
    (ip, r)
}

#[test]
fn echo_over_ipv4() {
    let (ip, r) = icmpv4(cap::ECHO4_REQUEST);
    assert_eq!(ip.src_addr, Ipv4Addr::new(198, 18, 0, 1));
    assert_eq!(
        r,
        Icmpv4Repr::EchoRequest {
            ident: 4660,
            seq_no: 1,
            data: b"aaaaaaaa"
        }
    );
    let (_, r) = icmpv4(cap::ECHO4_REPLY);
    assert_eq!(
        r,
        Icmpv4Repr::EchoReply {
            ident: 4660,
            seq_no: 1,
            data: b"aaaaaaaa"
        }
    );
}

#[test]
fn icmpv4_port_unreachable_quote() {
    let (ip, r) = icmpv4(cap::ICMP4_PORT_UNREACHABLE);
    assert_eq!(ip.dscp << 2 | ip.ecn, 0xc0);
    let Icmpv4Repr::DstUnreachable {
        code,
        next_hop_mtu,
        quote,
    } = r
    else {
        panic!("{r:?}");
    };
    assert_eq!((code, next_hop_mtu, quote.len()), (3, 0, 30));
    assert_eq!(Icmpv4TcpQuote::parse(quote), Err(Icmpv4Error::QuoteNotTcp));
    let mut as_tcp = quote.to_vec();
    as_tcp[9] = 6;
    let q = Icmpv4TcpQuote::parse(&as_tcp).unwrap();
    assert_eq!(
        (q.src_addr, q.dst_addr),
        (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2))
    );
    assert_eq!((q.src_port, q.dst_port), (0xea6a, 9));
    assert_eq!(q.seq_number.get(), 0x000a_8c43);
}
