//! Real frames captured between two Linux network namespaces (see
//! `data/captures.rs` for how): each is parsed (deconstruct: every field)
//! and built again from its representation (construct: the same bytes).

#[path = "data/captures.rs"]
mod captures;

use core::net::Ipv4Addr;

use tcpcore::wire::{
    emit_arp_frame, emit_tcp_frame, parse_frame, tcp_frame_len, ArpOperation, ArpPacket, ArpRepr,
    ChecksumPolicy, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Frame, IpProtocol,
    Ipv4Packet, Ipv4Repr, SackBlocks, TcpControl, TcpFlags, TcpOptions, TcpPacket, TcpRepr,
    Timestamps,
};
use tcpcore::SeqNum;

const CLIENT_MAC: EthernetAddress = EthernetAddress([0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7]);
const SERVER_MAC: EthernetAddress = EthernetAddress([0x36, 0x4a, 0x4f, 0x3c, 0x04, 0x7b]);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn eth(from_client: bool, ethertype: EtherType) -> EthernetRepr {
    let (src_addr, dst_addr) = if from_client {
        (CLIENT_MAC, SERVER_MAC)
    } else {
        (SERVER_MAC, CLIENT_MAC)
    };
    EthernetRepr {
        src_addr,
        dst_addr,
        ethertype,
    }
}

fn ip(from_client: bool, ident: u16, payload_len: usize) -> Ipv4Repr {
    let (src_addr, dst_addr) = if from_client {
        (CLIENT_IP, SERVER_IP)
    } else {
        (SERVER_IP, CLIENT_IP)
    };
    Ipv4Repr {
        src_addr,
        dst_addr,
        protocol: IpProtocol::Tcp,
        payload_len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    }
}

fn ts(tsval: u32, tsecr: u32) -> Option<Timestamps> {
    Some(Timestamps { tsval, tsecr })
}

fn syn_options(tsval: u32, tsecr: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(10),
        sack_permitted: true,
        sack_blocks: SackBlocks::new(),
        timestamps: ts(tsval, tsecr),
    }
}

fn ts_options(tsval: u32, tsecr: u32) -> TcpOptions {
    TcpOptions {
        timestamps: ts(tsval, tsecr),
        ..TcpOptions::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn tcp<'a>(
    ports: (u16, u16),
    seq: u32,
    ack: Option<u32>,
    control: TcpControl,
    push: bool,
    window_len: u16,
    options: TcpOptions,
    payload: &'a [u8],
) -> TcpRepr<'a> {
    TcpRepr {
        src_port: ports.0,
        dst_port: ports.1,
        seq_number: SeqNum::new(seq),
        ack_number: ack.map(SeqNum::new),
        control,
        push,
        urgent: None,
        ece: false,
        cwr: false,
        window_len,
        options,
        payload,
    }
}

/// Parses `bytes` as a TCP frame, checks it equals the expected reprs,
/// and builds it again byte for byte.
fn check_tcp(bytes: &[u8], want_eth: EthernetRepr, want_ip: Ipv4Repr, want_tcp: TcpRepr<'_>) {
    let frame = parse_frame(bytes, ChecksumPolicy::Verify).expect("captured frame parses");
    let Frame::Tcp { eth, ip, tcp } = frame else {
        panic!("not TCP: {frame:?}");
    };
    assert_eq!(eth, want_eth);
    assert_eq!(ip, want_ip);
    assert_eq!(tcp, want_tcp);

    // Construct: the same bytes, checksums included.
    assert_eq!(tcp_frame_len(&tcp), bytes.len());
    let mut buf = vec![0u8; bytes.len()];
    let n = emit_tcp_frame(&mut buf, &eth, &ip, &tcp).unwrap();
    assert_eq!(n, bytes.len());
    assert_eq!(buf, bytes);
}

#[test]
fn syn() {
    // 198.18.0.2.45782 > 198.18.0.1.5000: Flags [S], cksum 0x6571 (correct),
    // seq 918728658, win 64240, options [mss 1460,sackOK,TS val 3374310751
    // ecr 0,nop,wscale 10], length 0
    let b = &captures::SYN[..];
    // The views, field by field.
    let e = EthernetFrame::new_checked(b).unwrap();
    assert_eq!(e.dst_addr(), SERVER_MAC);
    assert_eq!(e.src_addr(), CLIENT_MAC);
    assert_eq!(e.ethertype(), EtherType::Ipv4);
    let p = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 20);
    assert_eq!((p.dscp(), p.ecn()), (0, 0));
    assert_eq!(p.total_len(), 60);
    assert_eq!(p.ident(), 39548);
    assert!(p.dont_frag());
    assert!(!p.more_frags());
    assert_eq!(p.frag_offset(), 0);
    assert_eq!(p.ttl(), 64);
    assert_eq!(p.protocol(), IpProtocol::Tcp);
    assert_eq!(p.checksum(), 0x1418);
    assert!(p.verify_checksum());
    assert_eq!(p.src_addr(), CLIENT_IP);
    assert_eq!(p.dst_addr(), SERVER_IP);
    assert!(p.options().is_empty());
    let t = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!(t.src_port(), 45782);
    assert_eq!(t.dst_port(), 5000);
    assert_eq!(t.seq_number(), SeqNum::new(918728658));
    assert_eq!(t.ack_number(), SeqNum::new(0));
    assert_eq!(t.header_len(), 40);
    assert_eq!(t.flags(), TcpFlags::SYN);
    assert_eq!(t.flags().to_string(), "S");
    assert_eq!(t.window_len(), 64240);
    assert_eq!(t.checksum(), 0x6571);
    assert_eq!(t.urgent_at(), 0);
    assert_eq!(
        t.options(),
        &[2, 4, 5, 180, 4, 2, 8, 10, 0xc9, 0x1f, 0xe5, 0x5f, 0, 0, 0, 0, 1, 3, 3, 10]
    );
    assert!(t.payload().is_empty());
    assert!(t.verify_checksum(CLIENT_IP, SERVER_IP));

    let want = tcp(
        (45782, 5000),
        918728658,
        None,
        TcpControl::Syn,
        false,
        64240,
        syn_options(3374310751, 0),
        &[],
    );
    assert_eq!(want.segment_len(), 1);
    check_tcp(b, eth(true, EtherType::Ipv4), ip(true, 39548, 40), want);
}

#[test]
fn syn_ack() {
    // 198.18.0.1.5000 > 198.18.0.2.45782: Flags [S.], cksum 0xa987 (correct),
    // seq 1992409139, ack 918728659, win 65160, options [mss 1460,sackOK,TS
    // val 655776309 ecr 3374310751,nop,wscale 10], length 0
    let want = tcp(
        (5000, 45782),
        1992409139,
        Some(918728659),
        TcpControl::Syn,
        false,
        65160,
        syn_options(655776309, 3374310751),
        &[],
    );
    assert_eq!(want.flags().to_string(), "S.");
    check_tcp(
        &captures::SYN_ACK,
        eth(false, EtherType::Ipv4),
        ip(false, 0, 40),
        want,
    );
}

#[test]
fn ack() {
    // 198.18.0.2.45782 > 198.18.0.1.5000: Flags [.], cksum 0xd6a0 (correct),
    // seq 918728659, ack 1992409140, win 63, options [nop,nop,TS val
    // 3374310751 ecr 655776309], length 0
    let want = tcp(
        (45782, 5000),
        918728659,
        Some(1992409140),
        TcpControl::None,
        false,
        63,
        ts_options(3374310751, 655776309),
        &[],
    );
    assert_eq!(want.header_len(), 32);
    assert_eq!(want.segment_len(), 0);
    check_tcp(
        &captures::ACK,
        eth(true, EtherType::Ipv4),
        ip(true, 39549, 32),
        want,
    );
}

#[test]
fn ack_from_server() {
    // 198.18.0.1.5000 > 198.18.0.2.45782: Flags [.], cksum 0xd690 (correct),
    // seq 1992409140, ack 918728674, win 64, options [nop,nop,TS val
    // 655776309 ecr 3374310751], length 0
    let want = tcp(
        (5000, 45782),
        1992409140,
        Some(918728674),
        TcpControl::None,
        false,
        64,
        ts_options(655776309, 3374310751),
        &[],
    );
    check_tcp(
        &captures::ACK_SERVER,
        eth(false, EtherType::Ipv4),
        ip(false, 61107, 32),
        want,
    );
}

#[test]
fn data() {
    // 198.18.0.2.45782 > 198.18.0.1.5000: Flags [P.], cksum 0x2ed2 (correct),
    // seq 918728659:918728674, ack 1992409140, win 63, options [nop,nop,TS
    // val 3374310751 ecr 655776309], length 15
    let want = tcp(
        (45782, 5000),
        918728659,
        Some(1992409140),
        TcpControl::None,
        true,
        63,
        ts_options(3374310751, 655776309),
        b"hello, tcpcore\n",
    );
    assert_eq!(want.flags().to_string(), "P.");
    assert_eq!(want.segment_len(), 15);
    check_tcp(
        &captures::DATA,
        eth(true, EtherType::Ipv4),
        ip(true, 39550, 47),
        want,
    );
}

#[test]
fn full_sized_data() {
    // 198.18.0.2.33376 > 198.18.0.1.5002: Flags [.], cksum 0x29d5 (correct),
    // seq 2326443098:2326444546, ack 878098329, win 63, options [nop,nop,TS
    // val 36762934 ecr 2863573032], length 1448
    // The client sent the output of `seq 100000`.
    let text: String = (1..2000).map(|i| format!("{i}\n")).collect();
    let want = tcp(
        (33376, 5002),
        2326443098,
        Some(878098329),
        TcpControl::None,
        false,
        63,
        ts_options(36762934, 2863573032),
        &text.as_bytes()[..1448],
    );
    check_tcp(
        captures::DATA_1514,
        eth(true, EtherType::Ipv4),
        ip(true, 18432, 1480),
        want,
    );
}

#[test]
fn fin() {
    // 198.18.0.2.45782 > 198.18.0.1.5000: Flags [F.], cksum 0xd690 (correct),
    // seq 918728674, ack 1992409140, win 63, options [nop,nop,TS val
    // 3374310751 ecr 655776309], length 0
    let want = tcp(
        (45782, 5000),
        918728674,
        Some(1992409140),
        TcpControl::Fin,
        false,
        63,
        ts_options(3374310751, 655776309),
        &[],
    );
    assert_eq!(want.flags().to_string(), "F.");
    assert_eq!(want.segment_len(), 1);
    check_tcp(
        &captures::FIN,
        eth(true, EtherType::Ipv4),
        ip(true, 39551, 32),
        want,
    );
}

#[test]
fn rst() {
    // 198.18.0.1.5001 > 198.18.0.2.41592: Flags [R.], cksum 0x878b (correct),
    // seq 0, ack 3473151767, win 0, length 0
    let want = tcp(
        (5001, 41592),
        0,
        Some(3473151767),
        TcpControl::Rst,
        false,
        0,
        TcpOptions::default(),
        &[],
    );
    assert_eq!(want.flags().to_string(), "R.");
    assert_eq!(want.header_len(), 20);
    check_tcp(
        &captures::RST,
        eth(false, EtherType::Ipv4),
        ip(false, 0, 20),
        want,
    );
}

fn check_arp(bytes: &[u8], want_eth: EthernetRepr, want_arp: ArpRepr) {
    let frame = parse_frame(bytes, ChecksumPolicy::Verify).unwrap();
    assert_eq!(
        frame,
        Frame::Arp {
            eth: want_eth,
            arp: want_arp
        }
    );
    // Construct: the captured 42 bytes (veth does not pad), then zero
    // padding up to the 60-byte minimum.
    let mut buf = [0xaau8; 64];
    assert_eq!(emit_arp_frame(&mut buf, &want_eth, &want_arp), Ok(60));
    assert_eq!(&buf[..42], bytes);
    assert_eq!(buf[42..60], [0u8; 18]);
}

#[test]
fn arp_request() {
    // 12:bb:2e:a2:a9:c7 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length
    // 42: Ethernet (len 6), IPv4 (len 4), Request who-has 198.18.0.1 tell
    // 198.18.0.2, length 28
    let b = &captures::ARP_REQUEST[..];
    let e = EthernetFrame::new_checked(b).unwrap();
    assert!(e.dst_addr().is_broadcast());
    let p = ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!(p.hardware_type(), 1);
    assert_eq!(p.protocol_type(), 0x0800);
    assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
    assert_eq!(p.operation(), ArpOperation::Request);
    let want = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: CLIENT_MAC,
        source_protocol_addr: CLIENT_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: SERVER_IP,
    };
    assert_eq!(
        want.to_string(),
        "ARP, Request who-has 198.18.0.1 tell 198.18.0.2"
    );
    let want_eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    check_arp(b, want_eth, want);
}

#[test]
fn arp_reply() {
    // 36:4a:4f:3c:04:7b > 12:bb:2e:a2:a9:c7, ethertype ARP (0x0806), length
    // 42: Ethernet (len 6), IPv4 (len 4), Reply 198.18.0.1 is-at
    // 36:4a:4f:3c:04:7b, length 28
    let want = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: SERVER_MAC,
        source_protocol_addr: SERVER_IP,
        target_hardware_addr: CLIENT_MAC,
        target_protocol_addr: CLIENT_IP,
    };
    assert_eq!(
        want.to_string(),
        "ARP, Reply 198.18.0.1 is-at 36:4a:4f:3c:04:7b"
    );
    check_arp(&captures::ARP_REPLY, eth(false, EtherType::Arp), want);
}

#[test]
fn display_matches_tcpdump() {
    // The TCP line of the capture, from the ports on (tcpdump prints the
    // `nop` it sees; the repr only knows the options themselves).
    let Ok(Frame::Tcp { tcp, .. }) = parse_frame(&captures::SYN_ACK, ChecksumPolicy::Verify) else {
        panic!("SYN-ACK does not parse");
    };
    assert_eq!(
        tcp.to_string(),
        "5000 > 45782: Flags [S.], seq 1992409139, ack 918728659, win 65160, \
         options [mss 1460,sackOK,TS val 655776309 ecr 3374310751,wscale 10], length 0"
    );
    let Ok(Frame::Tcp { tcp, .. }) = parse_frame(&captures::DATA, ChecksumPolicy::Verify) else {
        panic!("DATA does not parse");
    };
    assert_eq!(
        tcp.to_string(),
        "45782 > 5000: Flags [P.], seq 918728659:918728674, ack 1992409140, win 63, \
         options [TS val 3374310751 ecr 655776309], length 15"
    );
}

#[test]
fn every_capture_survives_any_truncation() {
    // Cutting a captured frame anywhere never panics, and cuts inside the
    // IPv4 packet are always rejected.
    for (name, bytes) in captures::ALL {
        let full = parse_frame(bytes, ChecksumPolicy::Verify);
        assert!(full.is_ok(), "{name}: {full:?}");
        for cut in 0..bytes.len() {
            let r = parse_frame(&bytes[..cut], ChecksumPolicy::Verify);
            assert!(r.is_err(), "{name} cut at {cut} parsed: {r:?}");
        }
    }
}

#[test]
fn every_bit_flip_is_caught_or_harmless() {
    // Flipping any one bit of a captured TCP frame either is rejected, or
    // lands in a field the checksums do not cover (Ethernet) or that parse
    // keeps (then the repr differs from the original).
    for (name, bytes) in captures::ALL {
        let orig = parse_frame(bytes, ChecksumPolicy::Verify).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.to_vec();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(f) = parse_frame(&b, ChecksumPolicy::Verify) {
                let in_eth = bit / 8 < 14;
                let is_arp = matches!(orig, Frame::Arp { .. });
                // A flip that the checksum cannot see: NS/reserved bits of
                // TCP are covered, so only Ethernet and ARP remain.
                assert!(in_eth || is_arp, "{name}: bit {bit} flipped unnoticed");
                assert_ne!(f, orig, "{name}: bit {bit}");
            }
        }
    }
}
