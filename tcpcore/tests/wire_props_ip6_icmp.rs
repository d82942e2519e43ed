//! Property tests of the IPv6, ICMPv4 and ICMPv6 codecs (in the manner of
//! `wire_props.rs`): emit then parse gives back the same representation for
//! every valid value; any bytes parse without panicking, and what parses,
//! emitted again, parses to the same value; TCP over IPv6 round-trips with
//! the IPv6 pseudo-header.

use core::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use tcpcore::wire::{
    walk_ext_headers, ChecksumPolicy, EthernetAddress, Icmpv4Packet, Icmpv4Repr, Icmpv4TcpQuote,
    Icmpv6Packet, Icmpv6Repr, Icmpv6TcpQuote, IpPair, IpProtocol, Ipv6ExtError, Ipv6Packet,
    Ipv6Repr, NdpNeighborAdvert, NdpNeighborSolicit, TcpControl, TcpOptions, TcpPacket, TcpRepr,
    MAX_EXT_HEADERS,
};
use tcpcore::SeqNum;

// ---- strategies ----------------------------------------------------------

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn unicast_ipv6() -> impl Strategy<Value = Ipv6Addr> {
    ipv6().prop_filter("NDP targets are not multicast", |a| !a.is_multicast())
}

fn ipv6_repr(max_payload: usize) -> impl Strategy<Value = Ipv6Repr> {
    (
        (ipv6(), ipv6(), any::<u8>(), 0..=max_payload, any::<u8>()),
        (0u8..64, 0u8..4, 0u32..(1 << 20)),
    )
        .prop_map(
            |((src, dst, nh, payload_len, hop_limit), (dscp, ecn, flow_label))| Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::from(nh),
                payload_len,
                hop_limit,
                dscp,
                ecn,
                flow_label,
            },
        )
}

fn mac() -> impl Strategy<Value = EthernetAddress> {
    any::<[u8; 6]>().prop_map(EthernetAddress)
}

/// An ICMPv4 message as (kind, code, two words, body); the body is owned.
#[derive(Clone, Debug)]
struct Icmpv4Case {
    kind: u8,
    code: u8,
    a: u16,
    b: u16,
    body: Vec<u8>,
}

impl Icmpv4Case {
    fn repr(&self) -> Icmpv4Repr<'_> {
        match self.kind % 4 {
            0 => Icmpv4Repr::EchoRequest {
                ident: self.a,
                seq_no: self.b,
                data: &self.body,
            },
            1 => Icmpv4Repr::EchoReply {
                ident: self.a,
                seq_no: self.b,
                data: &self.body,
            },
            2 => Icmpv4Repr::DstUnreachable {
                code: self.code,
                next_hop_mtu: self.b,
                quote: &self.body,
            },
            _ => Icmpv4Repr::TimeExceeded {
                code: self.code,
                quote: &self.body,
            },
        }
    }
}

fn icmpv4_case() -> impl Strategy<Value = Icmpv4Case> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(kind, code, a, b, body)| Icmpv4Case {
            kind,
            code,
            a,
            b,
            body,
        })
}

/// An ICMPv6 message, its body owned.
#[derive(Clone, Debug)]
struct Icmpv6Case {
    kind: u8,
    code: u8,
    word: u32,
    body: Vec<u8>,
    target: Ipv6Addr,
    lladdr: Option<EthernetAddress>,
    flags: (bool, bool, bool),
}

impl Icmpv6Case {
    fn repr(&self) -> Icmpv6Repr<'_> {
        let (a, b) = ((self.word >> 16) as u16, self.word as u16);
        match self.kind % 8 {
            0 => Icmpv6Repr::DstUnreachable {
                code: self.code,
                quote: &self.body,
            },
            1 => Icmpv6Repr::PacketTooBig {
                mtu: self.word,
                quote: &self.body,
            },
            2 => Icmpv6Repr::TimeExceeded {
                code: self.code,
                quote: &self.body,
            },
            3 => Icmpv6Repr::ParamProblem {
                code: self.code,
                pointer: self.word,
                quote: &self.body,
            },
            4 => Icmpv6Repr::EchoRequest {
                ident: a,
                seq_no: b,
                data: &self.body,
            },
            5 => Icmpv6Repr::EchoReply {
                ident: a,
                seq_no: b,
                data: &self.body,
            },
            6 => Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                target_addr: self.target,
                source_lladdr: self.lladdr,
            }),
            _ => Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                router_flag: self.flags.0,
                solicited_flag: self.flags.1,
                override_flag: self.flags.2,
                target_addr: self.target,
                target_lladdr: self.lladdr,
            }),
        }
    }
}

fn icmpv6_case() -> impl Strategy<Value = Icmpv6Case> {
    (
        (any::<u8>(), any::<u8>(), any::<u32>()),
        proptest::collection::vec(any::<u8>(), 0..80),
        unicast_ipv6(),
        proptest::option::of(mac()),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(
            |((kind, code, word), body, target, lladdr, flags)| Icmpv6Case {
                kind,
                code,
                word,
                body,
                target,
                lladdr,
                flags,
            },
        )
}

/// A chain of extension headers (kind, length in 8-octet units after the
/// first, body bytes), then an upper-layer protocol and its bytes, laid out
/// as an IPv6 payload: returns (first next header, payload).
fn ext_chain() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (
        proptest::collection::vec(
            (
                prop_oneof![Just(0u8), Just(43), Just(44), Just(60)],
                0u8..3,
                proptest::collection::vec(any::<u8>(), 22),
                any::<bool>(),
            ),
            0..12,
        ),
        prop_oneof![Just(6u8), Just(58), Just(59), Just(17), any::<u8>()],
        proptest::collection::vec(any::<u8>(), 0..16),
        0usize..8,
    )
        .prop_map(|(headers, upper, tail, cut)| {
            let mut out = Vec::new();
            let first = headers.first().map_or(upper, |h| h.0);
            for (i, (kind, len8, body, padded)) in headers.iter().enumerate() {
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
                if *padded && *kind != 44 && *kind != 43 {
                    // Valid options: one PadN over the rest.
                    out[start + 2] = 1;
                    out[start + 3] = (len - 4) as u8;
                } else {
                    let n = (len - 2).min(body.len());
                    out[start + 2..start + 2 + n].copy_from_slice(&body[..n]);
                }
            }
            out.extend_from_slice(&tail);
            // Sometimes cut the chain short.
            let keep = out.len().saturating_sub(cut * 3);
            out.truncate(keep);
            (first, out)
        })
}

// ---- round trips of valid values ----------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn ipv6_round_trip(r in ipv6_repr(65535)) {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&p), Ok(r));
        prop_assert_eq!(p.payload().len(), r.payload_len);
        // The header alone is enough (the payload may follow by a gather
        // write), and writes the same 40 bytes; one byte less is refused.
        let mut head = [0u8; 40];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut head[..])).unwrap();
        prop_assert_eq!(&head[..], &buf[..40]);
        prop_assert!(r.emit(&mut Ipv6Packet::new_unchecked(&mut head[..39])).is_err());
    }

    #[test]
    fn icmpv4_round_trip(case in icmpv4_case()) {
        let r = case.repr();
        let mut buf = vec![0u8; r.buffer_len() + 3];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..])).unwrap();
        let msg = &buf[..r.buffer_len()];
        let p = Icmpv4Packet::new_checked(msg).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(Icmpv4Repr::parse(&p, ChecksumPolicy::Verify), Ok(r));
    }

    #[test]
    fn icmpv6_round_trip(case in icmpv6_case(), src in ipv6(), dst in ipv6()) {
        let r = case.repr();
        let mut buf = vec![0u8; r.buffer_len() + 3];
        r.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst).unwrap();
        let msg = &buf[..r.buffer_len()];
        let p = Icmpv6Packet::new_checked(msg).unwrap();
        prop_assert!(p.verify_checksum(src, dst));
        prop_assert_eq!(Icmpv6Repr::parse(&p, src, dst, ChecksumPolicy::Verify), Ok(r));
        let mut small = vec![0u8; r.buffer_len() - 1];
        prop_assert!(r.emit(&mut Icmpv6Packet::new_unchecked(&mut small[..]), src, dst).is_err());
    }

    #[test]
    fn tcp_over_ipv6_round_trip(
        src in ipv6(), dst in ipv6(), ports in any::<(u16, u16)>(), seq in any::<u32>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let r = TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq_number: SeqNum::new(seq),
            ack_number: Some(SeqNum::new(seq ^ 0x5555)),
            control: TcpControl::None,
            push: true,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 1000,
            options: TcpOptions::default(),
            payload: &payload,
        };
        let ip = IpPair::V6 { src, dst };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit_ip(&mut TcpPacket::new_unchecked(&mut buf[..]), ip).unwrap();
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum_ip(ip));
        prop_assert_eq!(TcpRepr::parse_ip(&p, ip, ChecksumPolicy::Verify), Ok(r));
        // fill_checksum_ip writes the same value.
        let mut again = buf.clone();
        TcpPacket::new_unchecked(&mut again[..]).fill_checksum_ip(ip);
        prop_assert!(TcpPacket::new_unchecked(&again[..]).verify_checksum_ip(ip));
        // The IPv4 wrappers are the V4 case.
        let (a, b) = (Ipv4Addr::from(seq), Ipv4Addr::from(!seq));
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), a, b).unwrap();
        let v4 = IpPair::V4 { src: a, dst: b };
        prop_assert!(TcpPacket::new_unchecked(&buf[..]).verify_checksum_ip(v4));
    }

    #[test]
    fn quotes_round_trip(src in ipv6(), dst in ipv6(), ports in any::<(u16, u16)>(), seq in any::<u32>(), extra in 0usize..20) {
        // IPv6 + TCP.
        let mut q = vec![0u8; 48 + extra];
        q[0] = 0x60;
        q[6] = 6;
        q[8..24].copy_from_slice(&src.octets());
        q[24..40].copy_from_slice(&dst.octets());
        q[40..42].copy_from_slice(&ports.0.to_be_bytes());
        q[42..44].copy_from_slice(&ports.1.to_be_bytes());
        q[44..48].copy_from_slice(&seq.to_be_bytes());
        let t = Icmpv6TcpQuote::parse(&q).unwrap();
        prop_assert_eq!((t.src_addr, t.dst_addr, t.src_port, t.dst_port, t.seq_number.get()),
            (src, dst, ports.0, ports.1, seq));
        // IPv4 + TCP.
        let (s4, d4) = (Ipv4Addr::from(seq), Ipv4Addr::from(seq.rotate_left(7)));
        let mut q4 = vec![0u8; 28 + extra];
        q4[0] = 0x45;
        q4[9] = 6;
        q4[12..16].copy_from_slice(&s4.octets());
        q4[16..20].copy_from_slice(&d4.octets());
        q4[20..22].copy_from_slice(&ports.0.to_be_bytes());
        q4[22..24].copy_from_slice(&ports.1.to_be_bytes());
        q4[24..28].copy_from_slice(&seq.to_be_bytes());
        let t = Icmpv4TcpQuote::parse(&q4).unwrap();
        prop_assert_eq!((t.src_addr, t.dst_addr, t.src_port, t.dst_port, t.seq_number.get()),
            (s4, d4, ports.0, ports.1, seq));
    }
}

// ---- any bytes -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn ipv6_reparse(mut bytes in proptest::collection::vec(any::<u8>(), 0..120), fix in any::<bool>()) {
        if fix && bytes.len() >= 40 {
            bytes[0] = 0x60 | (bytes[0] & 0x0f);
            let pl = (bytes.len() - 40) as u16;
            bytes[4..6].copy_from_slice(&pl.to_be_bytes());
        }
        let p = Ipv6Packet::new_unchecked(&bytes[..]);
        let _ = p.upper_layer();
        if let Ok(c) = Ipv6Packet::new_checked(&bytes[..]) {
            let _ = (c.version(), c.traffic_class(), c.flow_label(), c.payload().len(), c.src_addr(), c.dst_addr());
        }
        if let Ok(r) = Ipv6Repr::parse(&p) {
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&buf[..])), Ok(r));
            prop_assert_eq!(&buf[..40], &bytes[..40]);
        }
    }

    #[test]
    fn ext_walk_is_total((first, payload) in ext_chain()) {
        match walk_ext_headers(first, &payload) {
            Ok(up) => {
                prop_assert!(up.offset >= 40 && up.offset - 40 <= payload.len());
                prop_assert_eq!(up.payload, &payload[up.offset - 40..]);
                prop_assert!(up.next_header_pointer < up.offset);
                let named = if up.next_header_pointer == 6 { first } else { payload[up.next_header_pointer - 40] };
                prop_assert_eq!(IpProtocol::from(named), up.protocol);
                prop_assert!((up.offset - 40) / 8 <= MAX_EXT_HEADERS * 256);
            }
            Err(Ipv6ExtError::ParameterProblem(pp)) => {
                prop_assert!((pp.pointer as usize) < 40 + payload.len());
            }
            Err(Ipv6ExtError::Fragment { offset, .. }) => {
                prop_assert!(offset >= 40 && offset + 8 <= 40 + payload.len());
            }
            Err(_) => {}
        }
    }

    #[test]
    fn icmpv4_reparse(bytes in proptest::collection::vec(any::<u8>(), 0..80), kind in prop_oneof![Just(0u8), Just(3), Just(8), Just(11), any::<u8>()]) {
        let mut bytes = bytes;
        if let Some(b) = bytes.first_mut() {
            *b = kind;
        }
        let _ = Icmpv4TcpQuote::parse(&bytes);
        if let Ok(r) = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&bytes[..]), ChecksumPolicy::Skip) {
            if let Some(q) = r.quote() {
                let _ = Icmpv4TcpQuote::parse(q);
            }
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&buf[..]), ChecksumPolicy::Verify), Ok(r));
        }
    }

    #[test]
    fn icmpv6_reparse(
        bytes in proptest::collection::vec(any::<u8>(), 0..80),
        kind in prop_oneof![Just(1u8), Just(2), Just(3), Just(4), Just(128), Just(129), Just(135), Just(136), any::<u8>()],
        src in ipv6(), dst in ipv6(),
    ) {
        let mut bytes = bytes;
        if bytes.len() >= 2 {
            bytes[0] = kind;
            if kind >= 135 {
                bytes[1] = 0;
            }
        }
        let _ = Icmpv6TcpQuote::parse(&bytes);
        if let Ok(p) = Icmpv6Packet::new_checked(&bytes[..]) {
            let _ = (p.msg_type(), p.mtu(), p.pointer(), p.data().len(), p.verify_checksum(src, dst));
        }
        if let Ok(r) = Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&bytes[..]), src, dst, ChecksumPolicy::Skip) {
            if let Some(q) = r.quote() {
                let _ = Icmpv6TcpQuote::parse(q);
            }
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst).unwrap();
            prop_assert_eq!(Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&buf[..]), src, dst, ChecksumPolicy::Verify), Ok(r));
        }
    }
}
