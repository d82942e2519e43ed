//! Differential tests of the IPv6, ICMPv4 and ICMPv6 codecs against
//! etherparse (in the manner of `wire_etherparse.rs`).
//!
//! Where the two differ by design:
//!
//! - etherparse's IPv6 header slice checks only the version and the 40
//!   bytes, not the payload length against the buffer; tcpcore also checks
//!   the payload length (`BadPayloadLen`).
//! - etherparse walks extension headers through Fragment headers and does
//!   not look at options, at Segments Left, or at how many headers there
//!   are; tcpcore stops at a Fragment header, judges options and Segments
//!   Left (RFC 8200 §4.2, §4.4) and walks at most `MAX_EXT_HEADERS`. Only
//!   where tcpcore reaches the upper layer, or stops because a header runs
//!   past the payload, must the two agree.
//! - etherparse 0.16 does not parse NDP (types 135 and 136 are `Unknown`):
//!   for them only the checksum and the raw header bytes are compared.
//! - etherparse does not verify the ICMPv4 checksum: it is recomputed
//!   with its `Icmpv4Type::calc_checksum`.

use core::net::Ipv6Addr;

use etherparse::icmpv4::DestUnreachableHeader;
use etherparse::{
    IcmpEchoHeader, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, IpNumber,
    Ipv6ExtensionsSlice, Ipv6HeaderSlice,
};
use proptest::prelude::*;
use tcpcore::wire::{
    walk_ext_headers, ChecksumPolicy, EthernetAddress, Icmpv4Packet, Icmpv4Repr, Icmpv6Packet,
    Icmpv6Repr, IpProtocol, Ipv6Error, Ipv6ExtError, Ipv6Packet, Ipv6Repr, NdpNeighborSolicit,
    ParamProblemCode,
};

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// An IPv6 payload of extension headers with valid options (PadN only)
/// or random bytes, as in `wire_props_ip6_icmp.rs`.
fn ext_chain() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (
        proptest::collection::vec(
            (
                prop_oneof![Just(0u8), Just(43), Just(44), Just(60)],
                0u8..3,
                proptest::collection::vec(any::<u8>(), 22),
                any::<bool>(),
            ),
            0..10,
        ),
        prop_oneof![Just(6u8), Just(58), Just(59), Just(17)],
        proptest::collection::vec(any::<u8>(), 0..16),
        0usize..8,
    )
        .prop_map(|(headers, upper, tail, cut)| {
            let mut out = Vec::new();
            let first = headers.first().map_or(upper, |h| h.0);
            for (i, (kind, len8, body, valid)) in headers.iter().enumerate() {
                let next = headers.get(i + 1).map_or(upper, |h| h.0);
                let len = if *kind == 44 {
                    8
                } else {
                    (usize::from(*len8) + 1) * 8
                };
                let start = out.len();
                out.resize(start + len, 0);
                out[start] = next;
                if *kind != 44 {
                    out[start + 1] = *len8;
                }
                if *valid && *kind != 44 {
                    if *kind == 43 {
                        // Routing type from the body, Segments Left 0.
                        out[start + 2] = body[0];
                    } else {
                        out[start + 2] = 1;
                        out[start + 3] = (len - 4) as u8;
                    }
                } else {
                    let n = (len - 2).min(body.len());
                    out[start + 2..start + 2 + n].copy_from_slice(&body[..n]);
                }
            }
            out.extend_from_slice(&tail);
            let keep = out.len().saturating_sub(cut * 3);
            out.truncate(keep);
            (first, out)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn ipv6_header_agrees(mut bytes in proptest::collection::vec(any::<u8>(), 0..80), v6 in any::<bool>(), fix in any::<bool>()) {
        if v6 && !bytes.is_empty() {
            bytes[0] = 0x60 | (bytes[0] & 0x0f);
        }
        if fix && bytes.len() >= 40 {
            let pl = (bytes.len() - 40) as u16;
            bytes[4..6].copy_from_slice(&pl.to_be_bytes());
        }
        let ours = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&bytes[..]));
        match Ipv6HeaderSlice::from_slice(&bytes) {
            Err(_) => prop_assert!(matches!(ours, Err(Ipv6Error::Truncated | Ipv6Error::BadVersion))),
            Ok(h) => {
                let too_long = 40 + usize::from(h.payload_length()) > bytes.len();
                if too_long {
                    prop_assert_eq!(ours, Err(Ipv6Error::BadPayloadLen));
                } else {
                    let r = ours.unwrap();
                    prop_assert_eq!((r.dscp << 2) | r.ecn, h.traffic_class());
                    prop_assert_eq!(r.flow_label, h.flow_label().value());
                    prop_assert_eq!(r.payload_len, usize::from(h.payload_length()));
                    prop_assert_eq!(u8::from(r.next_header), h.next_header().0);
                    prop_assert_eq!(r.hop_limit, h.hop_limit());
                    prop_assert_eq!(r.src_addr, h.source_addr());
                    prop_assert_eq!(r.dst_addr, h.destination_addr());
                }
            }
        }
    }

    #[test]
    fn ext_walk_agrees((first, payload) in ext_chain()) {
        let ours = walk_ext_headers(first, &payload);
        let theirs = Ipv6ExtensionsSlice::from_slice(IpNumber(first), &payload);
        match ours {
            Ok(up) => {
                let (_, next, rest) = theirs.expect("etherparse accepts what tcpcore walks");
                prop_assert_eq!(u8::from(up.protocol), next.0);
                prop_assert_eq!(up.payload, rest);
            }
            Err(Ipv6ExtError::Truncated) => {
                // Cut in a header: etherparse fails too, or (when the cut is
                // after a Fragment header that tcpcore stops at) it also
                // runs out later. It never reaches the upper layer past a
                // cut header unless tcpcore stopped first.
                prop_assert!(theirs.is_err());
            }
            Err(Ipv6ExtError::ParameterProblem(pp)) if pp.code == ParamProblemCode::UnrecognizedNextHeader => {
                // A Hop-by-Hop header not first: etherparse rejects it too.
                prop_assert!(theirs.is_err());
            }
            Err(_) => {}
        }
    }

    #[test]
    fn icmpv4_agrees(
        kind in prop_oneof![Just(0u8), Just(3), Just(8), Just(11)],
        code in any::<u8>(),
        a in any::<u16>(), b in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..60),
        corrupt in any::<bool>(),
    ) {
        let r = match kind {
            0 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &body },
            8 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &body },
            // etherparse rebuilds the header from its fields, and keeps the
            // next-hop MTU only with code 4: other codes carry zero there.
            3 => Icmpv4Repr::DstUnreachable { code, next_hop_mtu: if code == 4 { b } else { 0 }, quote: &body },
            _ => Icmpv4Repr::TimeExceeded { code, quote: &body },
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..])).unwrap();
        if corrupt {
            buf[1] ^= 0x10;
        }
        let s = Icmpv4Slice::from_slice(&buf).unwrap();
        let valid = s.icmp_type().calc_checksum(s.payload()) == s.checksum();
        let ours = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&buf[..]), ChecksumPolicy::Verify);
        prop_assert_eq!(ours.is_ok(), valid);
        prop_assert_eq!(s.payload(), &body[..]);
        if corrupt {
            return Ok(());
        }
        match (s.icmp_type(), r) {
            (Icmpv4Type::EchoReply(IcmpEchoHeader { id, seq }), Icmpv4Repr::EchoReply { .. })
            | (Icmpv4Type::EchoRequest(IcmpEchoHeader { id, seq }), Icmpv4Repr::EchoRequest { .. }) => {
                prop_assert_eq!((id, seq), (a, b));
            }
            (Icmpv4Type::DestinationUnreachable(h), Icmpv4Repr::DstUnreachable { .. }) => {
                prop_assert_eq!(h.code_u8(), code);
                if let DestUnreachableHeader::FragmentationNeeded { next_hop_mtu } = h {
                    prop_assert_eq!(next_hop_mtu, b);
                }
            }
            (Icmpv4Type::TimeExceeded(c), Icmpv4Repr::TimeExceeded { .. }) => {
                prop_assert_eq!(c.code_u8(), code);
            }
            (Icmpv4Type::Unknown { type_u8, code_u8, .. }, _) => {
                // etherparse knows only codes 0 and 1 of time exceeded and
                // 0..=15 of unreachable.
                prop_assert_eq!((type_u8, code_u8), (kind, code));
            }
            (t, r) => prop_assert!(false, "etherparse {:?} vs {:?}", t, r),
        }
    }

    #[test]
    fn icmpv6_agrees(
        kind in 0u8..8,
        code in any::<u8>(),
        word in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 0..60),
        src in ipv6(), dst in ipv6(),
        corrupt in any::<bool>(),
    ) {
        let (a, b) = ((word >> 16) as u16, word as u16);
        let target = Ipv6Addr::from(u128::from(word));
        let r = match kind {
            0 => Icmpv6Repr::DstUnreachable { code, quote: &body },
            1 => Icmpv6Repr::PacketTooBig { mtu: word, quote: &body },
            2 => Icmpv6Repr::TimeExceeded { code, quote: &body },
            3 => Icmpv6Repr::ParamProblem { code, pointer: word, quote: &body },
            4 => Icmpv6Repr::EchoRequest { ident: a, seq_no: b, data: &body },
            5 => Icmpv6Repr::EchoReply { ident: a, seq_no: b, data: &body },
            6 => Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                target_addr: target,
                source_lladdr: Some(EthernetAddress([2, 0, 0, 0, 0, code])),
            }),
            _ => Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit { target_addr: target, source_lladdr: None }),
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst).unwrap();
        if corrupt {
            let i = usize::from(code) % buf.len();
            buf[i] ^= 0x01;
        }
        let s = Icmpv6Slice::from_slice(&buf).unwrap();
        let valid = s.is_checksum_valid(src.octets(), dst.octets());
        prop_assert_eq!(Icmpv6Packet::new_unchecked(&buf[..]).verify_checksum(src, dst), valid);
        prop_assert_eq!(s.type_u8(), buf[0]);
        if corrupt {
            return Ok(());
        }
        prop_assert!(valid);
        prop_assert_eq!(
            Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&buf[..]), src, dst, ChecksumPolicy::Verify),
            Ok(r)
        );
        match (s.icmp_type(), r) {
            (Icmpv6Type::EchoRequest(h), Icmpv6Repr::EchoRequest { .. })
            | (Icmpv6Type::EchoReply(h), Icmpv6Repr::EchoReply { .. }) => {
                prop_assert_eq!((h.id, h.seq), (a, b));
                prop_assert_eq!(s.payload(), &body[..]);
            }
            (Icmpv6Type::PacketTooBig { mtu }, Icmpv6Repr::PacketTooBig { .. }) => {
                prop_assert_eq!(mtu, word);
                prop_assert_eq!(s.payload(), &body[..]);
            }
            (Icmpv6Type::DestinationUnreachable(c), Icmpv6Repr::DstUnreachable { .. }) => {
                prop_assert_eq!(c.code_u8(), code);
                prop_assert_eq!(s.payload(), &body[..]);
            }
            (Icmpv6Type::TimeExceeded(c), Icmpv6Repr::TimeExceeded { .. }) => {
                prop_assert_eq!(c.code_u8(), code);
            }
            (Icmpv6Type::ParameterProblem(h), Icmpv6Repr::ParamProblem { .. }) => {
                prop_assert_eq!((h.code.code_u8(), h.pointer), (code, word));
            }
            (Icmpv6Type::Unknown { type_u8, code_u8, bytes5to8 }, _) => {
                // Codes etherparse does not know, and NDP.
                prop_assert_eq!(type_u8, buf[0]);
                prop_assert_eq!(code_u8, buf[1]);
                prop_assert_eq!(&bytes5to8[..], &buf[4..8]);
            }
            (t, r) => prop_assert!(false, "etherparse {:?} vs {:?}", t, r),
        }
    }
}

/// A whole ICMPv6 echo request in an IPv6 packet, checked by etherparse's
/// `SlicedPacket` from the IP layer down.
#[test]
fn echo_in_ipv6_sliced() {
    let src: Ipv6Addr = "2001:2::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:2::2".parse().unwrap();
    let icmp = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 9,
        data: b"0123456789abcdef",
    };
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Unknown(58),
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
        dscp: 0,
        ecn: 0,
        flow_label: 0x12345,
    };
    let mut buf = vec![0u8; ip.buffer_len()];
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]))
        .unwrap();
    icmp.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[40..]), src, dst)
        .unwrap();
    let sliced = etherparse::SlicedPacket::from_ip(&buf).unwrap();
    match sliced.transport {
        Some(etherparse::TransportSlice::Icmpv6(s)) => {
            assert!(s.is_checksum_valid(src.octets(), dst.octets()));
            assert_eq!(
                s.icmp_type(),
                Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 9 })
            );
        }
        other => panic!("not ICMPv6: {other:?}"),
    }
    let up = Ipv6Packet::new_checked(&buf[..])
        .unwrap()
        .upper_layer()
        .unwrap();
    assert_eq!(up.offset, 40);
    assert_eq!(up.payload.len(), 24);
}
