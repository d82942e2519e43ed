//! Property tests of the wire codecs: emit then parse gives back the same
//! representation for every valid value; any bytes that parse, emitted
//! again, parse to the same value; the fast checksum equals the naive one.

#[path = "data/captures.rs"]
mod captures;

use core::net::Ipv4Addr;

use proptest::prelude::*;
use tcpcore::wire::{
    checksum, emit_arp_frame, emit_tcp_frame, parse_frame, tcp_frame_len, ArpOperation, ArpPacket,
    ArpRepr, ChecksumPolicy, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Frame,
    IpProtocol, Ipv4Packet, Ipv4Repr, SackBlocks, TcpControl, TcpOptions, TcpPacket, TcpRepr,
    Timestamps,
};
use tcpcore::SeqNum;

// ---- strategies ----------------------------------------------------------

fn mac() -> impl Strategy<Value = EthernetAddress> {
    any::<[u8; 6]>().prop_map(EthernetAddress)
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ethernet_repr() -> impl Strategy<Value = EthernetRepr> {
    (
        mac(),
        mac(),
        any::<u16>().prop_filter("VLAN tags are rejected", |t| *t != 0x8100 && *t != 0x88a8),
    )
        .prop_map(|(src_addr, dst_addr, t)| EthernetRepr {
            src_addr,
            dst_addr,
            ethertype: EtherType::from(t),
        })
}

fn arp_repr() -> impl Strategy<Value = ArpRepr> {
    (any::<u16>(), mac(), ipv4(), mac(), ipv4()).prop_map(|(op, sha, spa, tha, tpa)| ArpRepr {
        operation: ArpOperation::from(op),
        source_hardware_addr: sha,
        source_protocol_addr: spa,
        target_hardware_addr: tha,
        target_protocol_addr: tpa,
    })
}

fn ipv4_repr(max_payload: usize) -> impl Strategy<Value = Ipv4Repr> {
    (
        (ipv4(), ipv4(), any::<u8>(), 0..=max_payload, any::<u8>()),
        (
            0u8..64,
            0u8..4,
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
            0u16..8192,
        ),
    )
        .prop_map(
            |((src, dst, proto, payload_len, ttl), (dscp, ecn, ident, df, mf, off))| Ipv4Repr {
                src_addr: src,
                dst_addr: dst,
                protocol: IpProtocol::from(proto),
                payload_len,
                ttl,
                dscp,
                ecn,
                ident,
                dont_frag: df,
                more_frags: mf,
                frag_offset: off * 8,
            },
        )
}

fn seq() -> impl Strategy<Value = SeqNum> {
    any::<u32>().prop_map(SeqNum::new)
}

fn tcp_options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::collection::vec((seq(), seq()), 0..=4),
        proptest::option::of((any::<u32>(), any::<u32>())),
    )
        .prop_map(|(mss, ws, sp, blocks, ts)| {
            let mut sack_blocks = SackBlocks::new();
            for (l, r) in blocks {
                assert!(sack_blocks.push(l, r));
            }
            TcpOptions {
                mss,
                window_scale: ws,
                sack_permitted: sp,
                sack_blocks,
                timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            }
        })
}

fn control() -> impl Strategy<Value = TcpControl> {
    prop_oneof![
        Just(TcpControl::None),
        Just(TcpControl::Syn),
        Just(TcpControl::Fin),
        Just(TcpControl::Rst)
    ]
}

/// A TcpRepr without its payload (which is borrowed), and the payload.
#[derive(Clone, Debug)]
struct TcpCase {
    ports: (u16, u16),
    seq: SeqNum,
    ack: Option<SeqNum>,
    control: TcpControl,
    flags: (bool, bool, bool),
    urgent: Option<u16>,
    window_len: u16,
    options: TcpOptions,
    payload: Vec<u8>,
}

impl TcpCase {
    fn repr(&self) -> TcpRepr<'_> {
        TcpRepr {
            src_port: self.ports.0,
            dst_port: self.ports.1,
            seq_number: self.seq,
            ack_number: self.ack,
            control: self.control,
            push: self.flags.0,
            urgent: self.urgent,
            ece: self.flags.1,
            cwr: self.flags.2,
            window_len: self.window_len,
            options: self.options,
            payload: &self.payload,
        }
    }
}

fn tcp_case() -> impl Strategy<Value = TcpCase> {
    (
        (
            any::<(u16, u16)>(),
            seq(),
            proptest::option::of(seq()),
            control(),
        ),
        (
            any::<(bool, bool, bool)>(),
            proptest::option::of(any::<u16>()),
            any::<u16>(),
            tcp_options(),
            proptest::collection::vec(any::<u8>(), 0..200),
        ),
    )
        .prop_map(
            |((ports, seq, ack, control), (flags, urgent, window_len, options, payload))| TcpCase {
                ports,
                seq,
                ack,
                control,
                flags,
                urgent,
                window_len,
                options,
                payload,
            },
        )
}

/// Size of the options with no NOP padding (the least any layout takes).
fn packed_len(o: &TcpOptions, sack: usize) -> usize {
    let mut n = 0;
    n += if o.mss.is_some() { 4 } else { 0 };
    n += if o.window_scale.is_some() { 3 } else { 0 };
    n += if o.sack_permitted { 2 } else { 0 };
    n += if o.timestamps.is_some() { 10 } else { 0 };
    n += if sack > 0 { 2 + 8 * sack } else { 0 };
    n
}

fn naive_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for pair in bytes.chunks(2) {
        let hi = u64::from(pair[0]) << 8;
        let lo = pair.get(1).map_or(0, |&b| u64::from(b));
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

// ---- emit, then parse ----------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn ethernet_round_trip(r in ethernet_repr(), payload in proptest::collection::vec(any::<u8>(), 0..20)) {
        let mut buf = vec![0u8; r.buffer_len() + payload.len()];
        buf[14..].copy_from_slice(&payload);
        r.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&f), Ok(r));
        prop_assert_eq!(f.payload(), &payload[..]);
    }

    #[test]
    fn arp_round_trip(r in arp_repr()) {
        let mut buf = [0u8; 28];
        prop_assert_eq!(r.buffer_len(), 28);
        r.emit(&mut ArpPacket::new_unchecked(&mut buf[..])).unwrap();
        prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()), Ok(r));
        // And as a whole frame, padded.
        let eth = EthernetRepr { src_addr: r.source_hardware_addr, dst_addr: EthernetAddress::BROADCAST, ethertype: EtherType::Arp };
        let mut frame = [0u8; 60];
        prop_assert_eq!(emit_arp_frame(&mut frame, &eth, &r), Ok(60));
        prop_assert_eq!(parse_frame(&frame, ChecksumPolicy::Verify), Ok(Frame::Arp { eth, arp: r }));
    }

    #[test]
    fn ipv4_round_trip(r in ipv4_repr(65515)) {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])).unwrap();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(p.payload().len(), r.payload_len);
        prop_assert_eq!(Ipv4Repr::parse(&p, ChecksumPolicy::Verify), Ok(r));
        prop_assert_eq!(r.is_fragment(), r.more_frags || r.frag_offset != 0);
    }

    #[test]
    fn tcp_round_trip(case in tcp_case(), src in ipv4(), dst in ipv4()) {
        let r = case.repr();
        let hl = r.header_len();
        prop_assert!(hl % 4 == 0 && (20..=60).contains(&hl));
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst).unwrap();
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum(src, dst));
        prop_assert_eq!(usize::from(p.header_len()), hl);
        prop_assert_eq!(p.flags(), r.flags());
        let back = TcpRepr::parse(&p, src, dst, ChecksumPolicy::Verify).unwrap();
        // SACK blocks that do not fit in 40 bytes are dropped from the end;
        // only as many as needed.
        let sent = r.options.sack_blocks.as_slice();
        let got = back.options.sack_blocks.as_slice();
        prop_assert_eq!(got, &sent[..got.len()]);
        if got.len() < sent.len() {
            prop_assert!(packed_len(&r.options, got.len() + 1) > 40);
        }
        let mut want = r;
        want.options.sack_blocks.truncate(got.len());
        prop_assert_eq!(back, want);
        prop_assert_eq!(back.segment_len(), r.payload.len() + usize::from(matches!(r.control, TcpControl::Syn | TcpControl::Fin)));
    }

    #[test]
    fn linux_option_order(ts in proptest::option::of(any::<(u32, u32)>()), blocks in 0usize..=4) {
        // A non-SYN segment with timestamps and SACK: nop,nop,TS then
        // nop,nop,sack, at most 3 blocks with TS.
        let mut o = TcpOptions { timestamps: ts.map(|(v, e)| Timestamps { tsval: v, tsecr: e }), ..TcpOptions::default() };
        for i in 0..blocks as u32 {
            o.sack_blocks.push(SeqNum::new(i), SeqNum::new(i + 1));
        }
        let mut buf = [0u8; 40];
        let n = o.emit_into(&mut buf).unwrap();
        let mut at = 0;
        if ts.is_some() {
            prop_assert_eq!(&buf[..4], &[1, 1, 8, 10]);
            at = 12;
        }
        let fit = if ts.is_some() { blocks.min(3) } else { blocks };
        if fit > 0 {
            prop_assert_eq!(&buf[at..at + 4], &[1, 1, 5, (2 + 8 * fit) as u8]);
        }
        prop_assert_eq!(n, at + if fit > 0 { 4 + 8 * fit } else { 0 });
    }

    #[test]
    fn frame_round_trip(eth in ethernet_repr(), ip in ipv4_repr(0), case in tcp_case()) {
        let tcp = case.repr();
        let len = tcp_frame_len(&tcp);
        let mut buf = vec![0u8; len];
        prop_assert_eq!(emit_tcp_frame(&mut buf, &eth, &ip, &tcp), Ok(len));
        let parsed = parse_frame(&buf, ChecksumPolicy::Verify);
        if ip.is_fragment() {
            prop_assert_eq!(parsed, Err(tcpcore::wire::FrameError::Fragment));
        } else {
            let Ok(Frame::Tcp { eth: e2, ip: ip2, tcp: t2 }) = parsed else {
                return Err(TestCaseError::fail(format!("{parsed:?}")));
            };
            prop_assert_eq!(e2, EthernetRepr { ethertype: EtherType::Ipv4, ..eth });
            prop_assert_eq!(ip2, Ipv4Repr { protocol: IpProtocol::Tcp, payload_len: tcp.buffer_len(), ..ip });
            prop_assert_eq!(t2.payload, tcp.payload);
            prop_assert_eq!(t2.seq_number, tcp.seq_number);
        }
        // A buffer one byte short is refused, not written past.
        prop_assert!(emit_tcp_frame(&mut buf[..len - 1], &eth, &ip, &tcp).is_err());
    }
}

// ---- parse, then emit ----------------------------------------------------

/// One TCP option as bytes: valid ones, unknown kinds and junk.
fn option_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![1]),
        Just(vec![0]),
        any::<u16>().prop_map(|m| {
            let b = m.to_be_bytes();
            vec![2, 4, b[0], b[1]]
        }),
        any::<u8>().prop_map(|s| vec![3, 3, s]),
        Just(vec![4, 2]),
        (1usize..=4, any::<[u8; 32]>()).prop_map(|(n, b)| {
            let mut v = vec![5, (2 + 8 * n) as u8];
            v.extend_from_slice(&b[..8 * n]);
            v
        }),
        any::<[u8; 8]>().prop_map(|b| {
            let mut v = vec![8, 10];
            v.extend_from_slice(&b);
            v
        }),
        (9u8..=254, 2u8..8).prop_map(|(k, l)| {
            let mut v = vec![k, l];
            v.resize(usize::from(l), 0xab);
            v
        }),
        proptest::collection::vec(any::<u8>(), 1..4),
    ]
}

fn tcp_segment_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 20]>(),
        proptest::collection::vec(option_bytes(), 0..8),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(mut header, opts, payload)| {
            let mut o: Vec<u8> = opts.concat();
            o.truncate(40);
            while o.len() % 4 != 0 {
                o.push(0);
            }
            header[12] = (((20 + o.len()) / 4) as u8) << 4 | (header[12] & 0x0f);
            let mut seg = header.to_vec();
            seg.extend_from_slice(&o);
            seg.extend_from_slice(&payload);
            seg
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn ethernet_reparse(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(r) = EthernetRepr::parse(&EthernetFrame::new_unchecked(&bytes[..])) {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut EthernetFrame::new_unchecked(&mut out[..])).unwrap();
            prop_assert_eq!(&out[..], &bytes[..14]);
            prop_assert_eq!(EthernetRepr::parse(&EthernetFrame::new_unchecked(&out[..])), Ok(r));
        }
    }

    #[test]
    fn arp_reparse(mut bytes in proptest::collection::vec(any::<u8>(), 0..40), valid in any::<bool>()) {
        if valid && bytes.len() >= 6 {
            bytes[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        }
        if let Ok(r) = ArpRepr::parse(&ArpPacket::new_unchecked(&bytes[..])) {
            prop_assert!(valid || bytes[..6] == [0, 1, 8, 0, 6, 4]);
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut ArpPacket::new_unchecked(&mut out[..])).unwrap();
            prop_assert_eq!(&out[..], &bytes[..28]);
        }
    }

    #[test]
    fn ipv4_reparse(mut bytes in proptest::collection::vec(any::<u8>(), 20..100), ihl in 5u8..16, fix in any::<bool>()) {
        if fix {
            bytes[0] = 0x40 | ihl;
            let len = bytes.len() as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok(r) = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&bytes[..]), ChecksumPolicy::Skip) {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..])).unwrap();
            let p = Ipv4Packet::new_checked(&out[..]).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&p, ChecksumPolicy::Verify), Ok(r));
        }
    }

    #[test]
    fn tcp_reparse(bytes in tcp_segment_bytes(), src in ipv4(), dst in ipv4()) {
        if let Ok(r) = TcpRepr::parse(&TcpPacket::new_unchecked(&bytes[..]), src, dst, ChecksumPolicy::Skip) {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut TcpPacket::new_unchecked(&mut out[..]), src, dst).unwrap();
            let p = TcpPacket::new_checked(&out[..]).unwrap();
            prop_assert_eq!(TcpRepr::parse(&p, src, dst, ChecksumPolicy::Verify), Ok(r));
        }
    }

    #[test]
    fn frame_reparse(which in 0..captures::ALL.len(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4)) {
        let mut bytes = captures::ALL[which].1.to_vec();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        match parse_frame(&bytes, ChecksumPolicy::Skip) {
            Ok(Frame::Tcp { eth, ip, tcp }) => {
                let mut out = vec![0u8; tcp_frame_len(&tcp)];
                emit_tcp_frame(&mut out, &eth, &ip, &tcp).unwrap();
                // The IP payload length follows the TCP segment as emitted:
                // options that parsed to nothing (junk after EOL, unknown
                // kinds) are not written again.
                let ip = Ipv4Repr { payload_len: tcp.buffer_len(), ..ip };
                prop_assert_eq!(parse_frame(&out, ChecksumPolicy::Verify), Ok(Frame::Tcp { eth, ip, tcp }));
            }
            Ok(Frame::Arp { eth, arp }) => {
                let mut out = [0u8; 60];
                emit_arp_frame(&mut out, &eth, &arp).unwrap();
                prop_assert_eq!(parse_frame(&out, ChecksumPolicy::Verify), Ok(Frame::Arp { eth, arp }));
            }
            Err(_) => {}
        }
    }

    #[test]
    fn options_parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
        // Never panics; what parses re-emits within 40 bytes and reparses.
        if let Ok(o) = TcpOptions::parse(&bytes) {
            let mut out = [0u8; 40];
            let n = o.emit_into(&mut out).unwrap();
            prop_assert_eq!(n, o.buffer_len());
            if bytes.len() <= 40 {
                prop_assert_eq!(TcpOptions::parse(&out[..n]), Ok(o));
            }
        }
    }
}

// ---- checksum ------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn checksum_matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..2048), off in 0usize..16) {
        let off = off.min(bytes.len());
        prop_assert_eq!(checksum::data(&bytes[off..]), naive_checksum(&bytes[off..]));
    }

    #[test]
    fn checksum_combine_is_concatenation(a in proptest::collection::vec(any::<u8>(), 0..300), b in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Sums of even-length pieces combine into the sum of the whole.
        let a = &a[..a.len() & !1];
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        prop_assert_eq!(checksum::combine(&[checksum::data(a), checksum::data(&b)]), checksum::data(&whole));
    }
}

#[test]
fn checksum_every_length_and_alignment() {
    let buf: Vec<u8> = (0..2100u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for off in 0..16 {
        for len in 0..2000 {
            let s = &buf[off..off + len];
            assert_eq!(checksum::data(s), naive_checksum(s), "off {off} len {len}");
        }
    }
}
